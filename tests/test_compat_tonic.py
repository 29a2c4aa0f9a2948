# ruff: noqa: NPY002 - Tonic's random transforms draw from numpy's global generator
"""``spikestream.compat.tonic``: Tonic 1.7's transforms, datasets (Tonic's on-disk layouts and
sample types), collation, slicing and caching, by value. (ToFrame, ToVoxelGrid, ToTimesurface,
Denoise and RefractoryPeriod against Tonic's own outputs: tests/test_transforms_golden.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import spikestream as ss
from spikestream.compat import tonic
from spikestream.compat.tonic import transforms as T
from spikestream.errors import ConfigError, DatasetError, ValidationError
from spikestream.events import make_events

NMNIST_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])


def tonic_events(n=500, w=40, h=30, seed=0, dtype=NMNIST_DTYPE):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype)
    ev["t"] = np.sort(rng.integers(0, 100_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    return ev


def test_compose_toframe_sensor_sizes_and_polarities():
    ev = tonic_events()
    frames = T.ToFrame(sensor_size=(40, 30, 2), n_event_bins=5)(ev)
    assert frames.shape == (5, 2, 30, 40) and frames.dtype == np.int16 and frames.sum() == 500
    x, y, p = ev["x"][0], ev["y"][0], ev["p"][0]
    assert frames[0, p, y, x] >= 1  # indexed [slice, p, y, x]: (W, H, P) reversed
    merged = T.Compose([T.MergePolarities(), T.ToFrame((40, 30, 1), n_event_bins=5)])(ev)
    assert merged.shape == (5, 1, 30, 40) and np.array_equal(merged[:, 0], frames.sum(1))
    before = ev.copy()
    one = T.ToFrame((40, 30, 1), n_event_bins=5)(ev)  # Tonic: every event counted in channel 0
    assert one.dtype == np.int16 and np.array_equal(one, merged)
    assert np.array_equal(ev, before)  # the input keeps its polarities
    ones = ev.copy()
    ones["p"] = 1  # a 1-polarity recording with p = 1, sensor measured: P = 1, all counted
    sized = T.ToFrame(sensor_size=None, n_event_bins=5)(ones)
    assert sized.shape == merged.shape and np.array_equal(sized, merged)
    measured = T.ToFrame(sensor_size=None, n_event_bins=2)(ev)  # sized from the events
    assert measured.shape == (2, 2, int(ev["y"].max()) + 1, int(ev["x"].max()) + 1)
    with pytest.raises(ConfigError, match=r"\(W, H, P\)"):
        T.ToFrame(sensor_size=(40, 30), n_event_bins=2)(ev)
    assert "ToFrame" in repr(T.Compose([T.ToFrame((40, 30, 2), time_window=1000)]))


def test_geometry_transforms():
    ev = tonic_events()
    down = T.Downsample(time_factor=0.001, spatial_factor=0.25)(ev)
    assert down.dtype == ev.dtype and len(down) == len(ev)  # drops nothing
    assert np.array_equal(down["x"], ev["x"] // 4) and np.array_equal(down["t"], ev["t"] // 1000)
    crop = T.CenterCrop(sensor_size=(40, 30, 2), size=(20, 10))(ev)
    keep = (ev["x"] >= 10) & (ev["x"] < 30) & (ev["y"] >= 10) & (ev["y"] < 20)
    assert np.array_equal(crop["x"], ev["x"][keep] - 10) and np.array_equal(
        crop["t"], ev["t"][keep]
    )
    padded = T.CenterCrop(sensor_size=(40, 30, 2), size=50)(ev)  # larger: shifted, not cut
    assert len(padded) == len(ev) and np.array_equal(padded["x"], ev["x"] + 5)
    assert np.array_equal(padded["y"], ev["y"] + 10)
    flipped = T.RandomFlipLR(sensor_size=(40, 30, 2), p=1.0)(ev)
    assert np.array_equal(flipped["x"], 39 - ev["x"]) and np.array_equal(flipped["y"], ev["y"])
    flipped = T.RandomFlipUD(sensor_size=(40, 30, 2), p=1.0)(ev)
    assert np.array_equal(flipped["y"], 29 - ev["y"])
    with pytest.raises(ValidationError, match="outside the sensor"):
        T.RandomFlipLR(sensor_size=(20, 30, 2), p=1.0)(ev)  # would wrap, not mirror
    np.random.seed(3)
    crop = T.RandomCrop(sensor_size=(40, 30, 2), target_size=(8, 6))(ev)
    assert crop["x"].max() < 8 and crop["y"].max() < 6 and 0 < len(crop) < len(ev)
    assert np.array_equal(T.CropTime(min=1000, max=5000)(ev)["t"],
                          ev["t"][(ev["t"] >= 1000) & (ev["t"] <= 5000)])  # fmt: skip
    aligned = T.TimeAlignment()(ev[10:])
    assert aligned["t"][0] == 0 and np.array_equal(np.diff(aligned["t"]), np.diff(ev["t"][10:]))
    table = T.NumpyAsType(int)(ev)
    assert table.shape == (500, 4) and np.array_equal(table[:, 2], ev["t"])  # field order x,y,t,p
    with pytest.raises(ConfigError, match="factor"):
        T.Downsample(spatial_factor=-1)(ev)
    pair = T.Downsample(spatial_factor=(0.5, 0.25))(ev)  # Tonic 1.7: (fx, fy)
    assert np.array_equal(pair["x"], ev["x"] // 2) and np.array_equal(pair["y"], ev["y"] // 4)
    sized = T.Downsample(sensor_size=(40, 30, 2), target_size=(20, 10))(ev)  # factors 1/2, 1/3
    assert np.array_equal(sized["x"], ev["x"] // 2) and np.array_equal(sized["y"], ev["y"] // 3)
    assert np.array_equal(sized["t"], ev["t"])
    with pytest.raises(ConfigError, match="sensor_size"):
        T.Downsample(target_size=(20, 10))(ev)
    with pytest.raises(ConfigError, match=r"\(fx, fy\)"):
        T.Downsample(spatial_factor=(1, 2, 3))(ev)


def test_random_drops_follow_tonic_rules_and_numpy_seed():
    ev = tonic_events(n=2000)
    np.random.seed(1)
    a = T.DropEventByTime(duration_ratio=0.3)(ev)
    np.random.seed(1)
    assert np.array_equal(T.DropEventByTime(duration_ratio=0.3)(ev), a)  # np.random.seed rules
    gone = np.setdiff1d(ev["t"], a["t"])
    # one interval of 0.3 * t_max (Tonic measures from t = 0), every event inside it dropped
    assert gone.max() - gone.min() <= 0.3 * ev["t"].max()
    inside = (ev["t"] >= gone.min()) & (ev["t"] <= gone.max())
    assert len(a) == len(ev) - inside.sum()
    np.random.seed(2)
    b = T.DropEventByArea(sensor_size=(40, 30, 2), area_ratio=0.25)(ev)
    removed = ev[~np.isin(np.arange(len(ev)), np.flatnonzero(np.isin(ev, b)))]
    assert (
        removed["x"].max() - removed["x"].min() < 10 and removed["y"].max() - removed["y"].min() < 7
    )
    assert len(T.DropEvent(p=0.25)(ev)) == 1500
    np.random.seed(5)  # the core drop_events, on a generator seeded from numpy's global one
    dropped = T.DropEvent(p=0.25)(ev)
    np.random.seed(5)
    rng = np.random.default_rng(np.random.randint(2**32, dtype=np.uint64))
    assert np.array_equal(dropped, ss.transforms.functional.augment.drop_events(ev, 0.25, rng=rng))
    np.random.seed(5)
    assert np.array_equal(T.DropEvent(p=0.25)(ev), dropped)
    ints = np.array([0, 1, -1, 1], np.int8)  # Tonic's swap: 0 -> 1, non-zero -> 0
    signed = np.zeros(4, [("t", "<i8"), ("p", "i1")])
    signed["t"], signed["p"] = np.arange(4), ints
    assert T.RandomFlipPolarity(p=1.0)(signed)["p"].tolist() == [1, 0, 0, 0]
    assert T.RandomTimeReversal(p=1.0)(signed)["p"].tolist() == [0, 0, 0, 1]
    with pytest.raises(ConfigError, match="duration_ratio"):
        T.DropEventByTime(duration_ratio=1.5)(ev)
    kept = T.RefractoryPeriod(delta=(100, 101))(ev)  # a (min, max) pair draws delta
    assert np.array_equal(kept, T.RefractoryPeriod(delta=100)(ev))


def test_pad_tensors_promotes_like_tonic():
    frames = [(np.ones((3, 2, 4, 4), np.int16), 1), (np.ones((5, 2, 4, 4), np.int16), 3)]
    data, targets = tonic.collation.PadTensors(batch_first=False)(frames)
    assert data.dtype == torch.float32 and data.shape == (5, 2, 2, 4, 4)
    assert data[3:, 0].sum() == 0 and data[:, 1].sum() == 160 and targets.tolist() == [1, 3]
    data, _ = tonic.collation.PadTensors()([(np.ones((2, 1)), 0)])
    assert data.dtype == torch.float64  # float64 stays float64


def _poker_layout(save_to, per_class=2):
    rng = np.random.default_rng(5)
    for split in ("pips_train", "pips_test"):
        for symbol in ("cl", "he", "di", "sp"):
            folder = save_to / "POKERDVS" / split / symbol
            folder.mkdir(parents=True)
            for k in range(per_class):
                t = np.sort(rng.integers(0, 3000, 50))
                np.save(folder / f"{symbol}{k}.npy",
                        np.stack([t, rng.integers(0, 35, 50), rng.integers(0, 35, 50),
                                  rng.integers(0, 2, 50)], 1).astype(np.int64))  # fmt: skip


def test_pokerdvs_in_tonic_layout(tmp_path):
    _poker_layout(tmp_path)
    ds = tonic.datasets.POKERDVS(save_to=str(tmp_path), train=True)
    assert len(ds) == 8 and ds.targets == [0, 0, 2, 2, 1, 1, 3, 3]  # folders in sorted order
    events, target = ds[0]
    rows = np.load(tmp_path / "POKERDVS" / "pips_train" / "cl" / "cl0.npy")
    assert events.dtype == tonic.datasets.POKERDVS.dtype and target == 0
    assert np.array_equal(events["t"], rows[:, 0]) and np.array_equal(events["p"], rows[:, 3])
    assert tonic.datasets.POKERDVS.sensor_size == (35, 35, 2)
    assert tonic.datasets.POKERDVS.ordering == ("t", "x", "y", "p")
    assert tonic.datasets.POKERDVS.classes == ["cl", "he", "di", "sp"]
    test = tonic.datasets.POKERDVS(str(tmp_path), train=False,
                                   transform=T.ToFrame((35, 35, 2), n_event_bins=2),
                                   target_transform=lambda y: y + 10)  # fmt: skip
    frames, target = test[1]
    assert frames.shape == (2, 2, 35, 35) and frames.sum() == 50 and target == 10
    both = tonic.datasets.POKERDVS(str(tmp_path), transforms=lambda e, y: (len(e), -y))
    assert both[7] == (50, -3)


def test_pokerdvs_from_the_archives_through_spikestream(tmp_path, monkeypatch):
    """Without Tonic's extracted folders the archives are converted by spikestream.datasets
    (under ``<save_to>/POKERDVS/``) and served with Tonic's dtype."""
    import tarfile

    from spikestream.datasets import POKERDVS, Resource, md5sum

    raw = tmp_path / "raw"
    _poker_layout(raw)
    download = tmp_path / "data" / "POKERDVS" / "download"
    download.mkdir(parents=True)
    resources = []
    for split in ("pips_train", "pips_test"):
        archive = download / f"{split}.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(raw / "POKERDVS" / split, arcname=split)
        resources.append(Resource(archive.name, None, md5sum(archive)))
    monkeypatch.setattr(POKERDVS, "resources", tuple(resources))
    ds = tonic.datasets.POKERDVS(save_to=str(tmp_path / "data"), train=False)
    assert len(ds) == 8 and sorted(ds.targets) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert (tmp_path / "data" / "POKERDVS" / "packed" / "test").is_dir()
    events, target = ds[0]
    rows = np.load(
        raw / "POKERDVS" / "pips_test" / ds.classes[target] / f"{ds.classes[target]}0.npy"
    )
    assert events.dtype == tonic.datasets.POKERDVS.dtype
    assert np.array_equal(events["t"], rows[:, 0]) and np.array_equal(events["x"], rows[:, 1])


def test_nmnist_and_dvsgesture_in_tonic_layout(tmp_path):
    rng = np.random.default_rng(6)
    for digit in (3, 7):
        t = np.sort(rng.integers(0, 300_000, 80))
        ev = make_events(
            t, rng.integers(0, 34, 80), rng.integers(0, 34, 80), rng.integers(0, 2, 80)
        )
        folder = tmp_path / "NMNIST" / "Train" / str(digit)
        folder.mkdir(parents=True)
        ss.write(folder / "00001.bin", ev, (34, 34), format="nmnist")
    ds = tonic.datasets.NMNIST(str(tmp_path), train=True)
    events, target = ds[1]
    assert events.dtype == NMNIST_DTYPE and target == 7 and len(events) == 80
    assert np.array_equal(events["t"], ev["t"]) and np.array_equal(events["x"], ev["x"])
    first = tonic.datasets.NMNIST(str(tmp_path), first_saccade_only=True, transform=len)[1][0]
    assert first == int((ev["t"] < 100_000).sum())

    folder = tmp_path / "DVSGesture" / "ibmGestureTest" / "user24_led"
    folder.mkdir(parents=True)
    rows = np.array([[3, 4, 1, 0.5], [5, 6, 0, 1.25], [7, 8, 1, 2.0]])  # x, y, p, t in ms
    np.save(folder / "9.npy", rows)
    events, target = tonic.datasets.DVSGesture(str(tmp_path), train=False)[0]
    assert events.dtype == np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    assert events["t"].tolist() == [500, 1250, 2000] and events["p"].tolist() == [True, False, True]
    assert target == 9 and tonic.datasets.DVSGesture.sensor_size == (128, 128, 2)
    np.save(folder / "10.npy", np.ones((3, 3)))
    with pytest.raises(DatasetError, match="4 columns"):
        tonic.datasets.DVSGesture(str(tmp_path), train=False)[0]  # '10.npy' sorts first


class Counting:
    def __init__(self, items):
        self.items, self.calls = items, 0

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        self.calls += 1
        return self.items[i]


def test_disk_and_memory_cached_datasets(tmp_path):
    items = [(tonic_events(n=20, seed=i), i % 3) for i in range(4)]
    base = Counting(items)
    cached = tonic.DiskCachedDataset(base, cache_path=tmp_path / "cache", transform=len)
    assert [cached[i] for i in range(4)] == [(20, 0), (20, 1), (20, 2), (20, 0)]
    assert [cached[i] for i in range(4)] == [(20, 0), (20, 1), (20, 2), (20, 0)]
    assert base.calls == 4  # each sample computed once, then read back
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "0_0.npz", "1_0.npz", "2_0.npz", "3_0.npz"]  # fmt: skip
    tensors = Counting([(torch.ones(2, 3), torch.tensor(4))])
    fresh = tonic.DiskCachedDataset(tensors, cache_path=tmp_path / "tensors")
    miss, hit = fresh[0], fresh[0]  # the same types on a miss as on a hit: what was saved
    assert type(miss[0]) is np.ndarray and type(hit[0]) is np.ndarray and tensors.calls == 1
    assert np.array_equal(miss[0], hit[0]) and miss[1] == hit[1] == 4 and type(miss[1]) is int
    raw = tonic.DiskCachedDataset(base, cache_path=tmp_path / "cache")
    assert np.array_equal(raw[2][0], items[2][0]) and raw[2][0].dtype == NMNIST_DTYPE
    again = tonic.DiskCachedDataset(base, cache_path=tmp_path / "cache", reset_cache=True)
    again[0]
    assert base.calls == 5 and len(list((tmp_path / "cache").iterdir())) == 1
    (tmp_path / "cache" / "1_0.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="delete it"):
        again[1]
    with pytest.raises(ConfigError, match="arrays"):
        tonic.DiskCachedDataset(Counting([({"a": 1}, 0)]), tmp_path / "other")[0]
    memory = tonic.MemoryCachedDataset(base, target_transform=str)
    assert memory[3][1] == "0" and memory[3][1] == "0" and base.calls == 6


def test_sliced_dataset_and_slicers(tmp_path):
    items = [(tonic_events(n=100, seed=i), i) for i in range(3)]
    base = Counting(items)
    sliced = tonic.SlicedDataset(base, tonic.slicers.SliceByEventCount(event_count=30),
                                 metadata_path=tmp_path / "meta")  # fmt: skip
    assert len(sliced) == 9 and base.calls == 3  # 3 full slices of 30 per recording
    data, target = sliced[4]
    assert np.array_equal(data, items[1][0][30:60]) and target == 1
    reused = tonic.SlicedDataset(base, tonic.slicers.SliceByEventCount(event_count=30),
                                 metadata_path=tmp_path / "meta")  # fmt: skip
    assert base.calls == 4 and len(reused) == 9  # the metadata file, not a pass over the data
    by_time = tonic.slicers.SliceByTime(time_window=25_000)
    slices, target = by_time.slice(*items[0])  # Tonic's shape: (list of slices, targets)
    edges = by_time.get_slice_metadata(*items[0])
    assert target == 0 and isinstance(slices, list) and len(slices) == len(edges) >= 3
    assert all(np.array_equal(s, items[0][0][a:b]) for s, (a, b) in zip(slices, edges, strict=True))
    assert all(d["t"].max() - d["t"].min() < 25_000 for d in slices if len(d))
    one, target = by_time.slice_with_metadata(items[0][0], 7, [edges[1]])
    assert target == 7 and len(one) == 1 and np.array_equal(one[0], slices[1])
    at, _ = tonic.slicers.SliceAtIndices(np.array([0, 10]), np.array([5, 30])).slice(*items[0])
    assert [len(s) for s in at] == [5, 20] and np.array_equal(at[1], items[0][0][10:30])
    t = items[0][0]["t"]
    points = tonic.slicers.SliceAtTimePoints(np.array([0, 50_000]), np.array([50_000, 100_000]))
    halves, _ = points.slice(*items[0])
    assert np.array_equal(halves[0], items[0][0][t < 50_000]) and sum(map(len, halves)) == 100
    with pytest.raises(ConfigError, match="same length"):
        tonic.slicers.SliceAtIndices([0, 1], [3]).slice(*items[0])
    with pytest.raises(AttributeError, match=r"slice\(events, None\)\[0\]"):
        tonic.slicers.slice_events_by_time  # noqa: B018
    bins = tonic.slicers.SliceByTimeBins(bin_count=4).get_slice_metadata(*items[0])
    assert len(bins) == 4
    assert tonic.slicers.SliceByEventBins(bin_count=4).get_slice_metadata(*items[0])[1] == (25, 50)


def test_unsupported_names_and_lazy_imports():
    with pytest.raises(AttributeError, match=r"ToFrame then \(frames > 0\)"):
        T.ToBinaRep  # noqa: B018
    with pytest.raises(AttributeError, match="Drop-in compatibility"):
        tonic.datasets.NoSuchSet  # noqa: B018
    with pytest.raises(AttributeError, match=r"spikestream\.datasets\.CIFAR10DVS"):
        tonic.datasets.CIFAR10DVS  # noqa: B018
    # no compat module imports matplotlib or the plotting modules at import time (only
    # inside functions): checked on the sources' module-level imports
    root = Path(tonic.__file__).parents[1]
    for path in root.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                module = getattr(node, "module", None) or ""
                text = " ".join([module, *names])
                assert "matplotlib" not in text and "viz" not in text, (path, text)
                assert not (path.parent.name == "tonic" and "utils" in names), path
    assert callable(tonic.utils.plot_event_grid)  # imported on first use
