"""Representations and augmentations on edge cases, with values asserted."""

from __future__ import annotations

import numpy as np
import pytest

import spikestream as ss
from spikestream import transforms as T
from spikestream.events import make_events
from spikestream.transforms import augment
from spikestream.transforms.functional import (
    EmptyFrameError,
    denoise_mask,
    refractory_mask,
    to_frames,
    to_time_surface,
    to_voxel_grid,
    tonic_frames,
)

EMPTY = make_events([], [], [], [])
ONE = make_events([5], [2], [1], [1])


def test_no_events():
    assert to_frames(EMPTY, (4, 3), n_frames=3).shape == (3, 2, 3, 4)
    assert to_frames(EMPTY, (4, 3), n_frames=3).sum() == 0
    assert to_frames(EMPTY, (4, 3), n_frames=2, split_by="time").sum() == 0
    with pytest.raises(EmptyFrameError):
        to_frames(EMPTY, (4, 3), n_frames=2, split_by="time", allow_empty=False)
    assert tonic_frames(EMPTY, (4, 3), time_window=10).shape == (0, 2, 3, 4)
    assert tonic_frames(EMPTY, (4, 3), n_time_bins=3).sum() == 0
    assert to_voxel_grid(EMPTY, (4, 3), 2).sum() == 0
    assert to_time_surface(EMPTY, (4, 3), 10, 5.0).shape == (0, 2, 3, 4)
    assert denoise_mask(EMPTY, 10).shape == (0,) and refractory_mask(EMPTY, 10).shape == (0,)


def test_one_event_and_t_larger_than_count():
    frames = to_frames(ONE, (4, 3), n_frames=5)  # N < T: everything in the last frame
    assert frames[:4].sum() == 0 and frames[4, 1, 1, 2] == 1
    assert to_frames(ONE, (4, 3), n_frames=2, split_by="time").sum() == 1
    with pytest.raises(EmptyFrameError):
        to_frames(ONE, (4, 3), n_frames=2, split_by="time", allow_empty=False)
    assert to_frames(ONE, (4, 3), duration=10).shape == (1, 2, 3, 4)
    with pytest.raises(ss.ValidationError, match="one timestamp"):
        to_voxel_grid(ONE, (4, 3), 3)


def test_all_events_at_one_timestamp():
    ev = make_events([7] * 6, [0, 1, 2, 3, 0, 1], [0, 0, 1, 1, 2, 2], [0, 1] * 3)
    by_number = to_frames(ev, (4, 3), n_frames=3)
    assert by_number.sum(axis=(1, 2, 3)).tolist() == [2, 2, 2]
    one = to_frames(ev, (4, 3), duration=100)
    assert one.shape[0] == 1 and one.sum() == 6
    with pytest.raises(EmptyFrameError):
        to_frames(ev, (4, 3), duration=100, allow_empty=False)
    assert tonic_frames(ev, (4, 3), event_count=4, include_incomplete=True).sum() == 6


def test_bins_with_no_events_and_border_pixels():
    ev = make_events([0, 1, 100, 101], [0, 3, 3, 0], [0, 2, 0, 2], [1, 0, 1, 0])
    frames = to_frames(ev, (4, 3), duration=25)  # ceil(101 / 25) = 5 frames, 3 of them empty
    assert frames.sum(axis=(1, 2, 3)).tolist() == [2, 0, 0, 0, 2]
    assert frames[0, 1, 0, 0] == 1 and frames[0, 0, 2, 3] == 1  # corners, [p, y, x]
    assert frames[4, 1, 0, 3] == 1 and frames[4, 0, 2, 0] == 1
    with pytest.raises(ss.ValidationError, match="outside the 3x3 frame"):
        to_frames(ev, (3, 3), n_frames=1)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.float64])
def test_field_arrays_negative_coordinates(dtype):
    # a dict of arrays takes the field kernel: a negative signed coordinate is out of range,
    # a float one is truncated toward zero first (SpikingJelly's astype(int))
    t = np.array([0, 1, 2], np.int64)
    y = np.array([0, 1, 2], dtype)
    p = np.array([0, 1, 1], np.uint8)
    x = np.array([1, 2, -1], dtype)
    with pytest.raises(ss.ValidationError, match=r"event 2 at \(x=-1"):
        to_frames({"t": t, "x": x, "y": y, "p": p}, (3, 3), n_frames=1)
    if dtype is np.float64:
        x = np.array([1.9, 2.5, -0.5])  # -> 1, 2, 0
        frames = to_frames({"t": t, "x": x, "y": y, "p": p}, (3, 3), n_frames=1)
        assert frames.sum() == 3
        assert frames[0, 0, 0, 1] == 1 and frames[0, 1, 1, 2] == 1 and frames[0, 1, 2, 0] == 1


def test_tonic_slicing_rules():
    ev = make_events(np.arange(0, 100, 10), np.zeros(10), np.zeros(10), np.ones(10))
    # span 90, windows of 30: floor((90-30)/30)+1 = 3 windows; the last event (t=90) dropped
    assert tonic_frames(ev, (1, 1), time_window=30).sum(axis=(1, 2, 3)).tolist() == [3, 3, 3]
    assert tonic_frames(ev, (1, 1), event_count=4).sum(axis=(1, 2, 3)).tolist() == [4, 4]
    inc = tonic_frames(ev, (1, 1), event_count=4, include_incomplete=True)
    assert inc.sum(axis=(1, 2, 3)).tolist() == [4, 4, 2]
    assert tonic_frames(ev, (1, 1), n_event_bins=3).sum(axis=(1, 2, 3)).tolist() == [3, 3, 3]
    overlap = tonic_frames(ev, (1, 1), event_count=4, overlap=2)
    assert overlap.sum(axis=(1, 2, 3)).tolist() == [4, 4, 4, 4]


def test_voxel_grid_values():
    ev = make_events([0, 5, 10], [0, 1, 1], [0, 0, 0], [1, 0, 1])
    grid = to_voxel_grid(ev, (2, 1), 2)  # ts = 0, 1, 2 -> bins 0, 1, (none)
    assert grid.shape == (2, 1, 1, 2)
    assert grid[0, 0, 0].tolist() == [1.0, 0.0] and grid[1, 0, 0].tolist() == [0.0, -1.0]


def _tonic_voxel_reference(ev, size, n):
    # Tonic 1.7's algorithm in numpy: all left-bin shares scatter-added in event order, then all
    # right-bin shares
    t = ev["t"].astype(np.float64)
    ts = n * (t - t[0]) / (t[-1] - t[0])
    b = ts.astype(np.int64)
    w = np.where(ev["p"] != 0, 1.0, -1.0)
    x, y = ev["x"].astype(np.int64), ev["y"].astype(np.int64)
    grid = np.zeros((n, 1, size[1], size[0]))
    left, right = b < n, b + 1 < n
    np.add.at(grid, (b[left], 0, y[left], x[left]), (w * (1.0 - (ts - b)))[left])
    np.add.at(grid, (b[right] + 1, 0, y[right], x[right]), (w * (ts - b))[right])
    return grid


@pytest.mark.parametrize("n_events", [2_000, 600_000])  # serial and parallel kernels
def test_voxel_grid_equals_tonic_order_bit_for_bit(n_events):
    rng = np.random.default_rng(3)
    t = np.sort(rng.integers(0, 10 * n_events, n_events))
    t[n_events // 3 : n_events // 3 + 500] = t[n_events // 3]  # a burst at one timestamp
    ev = make_events(t, rng.integers(0, 20, n_events), rng.integers(0, 10, n_events), t % 2)
    for n in (1, 7, 10):
        assert np.array_equal(
            to_voxel_grid(ev, (20, 10), n), _tonic_voxel_reference(ev, (20, 10), n)
        )


def test_voxel_grid_needs_sorted_times():
    ev = make_events([0, 5, 10], [0, 1, 1], [0, 0, 0], [1, 0, 1])
    with pytest.raises(ss.ValidationError, match="sorted by time"):
        to_voxel_grid(ev[[1, 0, 2]], (2, 1), 2)
    with pytest.raises(ss.ValidationError, match="event 1 is outside"):
        to_voxel_grid(make_events([0, 5, 10], [0, 2, 1], [0, 0, 0], [1, 0, 1]), (2, 1), 2)


def test_time_surface_values():
    ev = make_events([0, 4, 12], [0, 1, 0], [0, 0, 0], [1, 1, 0])
    s = to_time_surface(ev, (2, 1), 10, 5.0)  # one complete window [0, 10)
    assert s.shape == (1, 2, 1, 2)
    assert s[0, 1, 0].tolist() == pytest.approx([np.exp(-10 / 5), np.exp(-6 / 5)])
    assert s[0, 0].sum() == 0


def test_time_surface_polarity_and_range():
    # a -1 polarity counts from the end as numpy indexing does (Tonic's memory[p, y, x]);
    # a polarity or coordinate outside the surface raises, naming the event
    t = np.array([0, 4, 12], np.int64)
    x, y = np.array([0, 1, 0], np.int16), np.zeros(3, np.int16)
    signed = np.zeros(3, [("x", "<i2"), ("y", "<i2"), ("p", "<i8"), ("t", "<i8")])
    signed["t"], signed["x"], signed["y"], signed["p"] = t, x, y, [1, -1, 0]
    s = to_time_surface(signed, (2, 1), 10, 5.0)
    assert s[0, 1, 0].tolist() == pytest.approx([np.exp(-10 / 5), np.exp(-6 / 5)])
    for p, xs in (([1, -3, 0], x), ([1, 2, 0], x), ([1, 1, 0], np.array([0, -1, 0]))):
        signed["p"], signed["x"] = p, xs
        with pytest.raises(ss.ValidationError, match="event 1 is outside"):
            to_time_surface(signed, (2, 1), 10, 5.0)


def test_filters_semantics():
    # pixel (1, 1) fires, then (1, 2) 3 µs later: a 4-neighbour; (2, 2) is only diagonal to (1, 1)
    ev = make_events([100, 103, 200, 203], [1, 1, 5, 6], [1, 2, 5, 6], [1, 1, 1, 1])
    assert denoise_mask(ev, 10).tolist() == [False, True, False, False]
    assert denoise_mask(ev, 10, neighbourhood=8).tolist() == [False, True, False, True]
    assert denoise_mask(ev, 150).tolist()[0]  # t < filter_time is always kept (Tonic quirk)
    same_pixel = make_events([0, 5, 20, 22, 40], [0] * 5, [0] * 5, [1] * 5)
    assert refractory_mask(same_pixel, 10).tolist() == [False, False, True, False, True]
    assert len(T.RefractoryPeriod(10)(same_pixel)) == 2 and len(T.Denoise(10)(ev)) == 1


def test_augmentations_values():
    ev = make_events([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 2], [0, 1, 0, 1])
    assert augment.flip_lr(ev, (4, 3))["x"].tolist() == [3, 2, 1, 0]
    assert augment.flip_ud(ev, (4, 3))["y"].tolist() == [2, 1, 0, 0]
    assert augment.flip_polarity(ev)["p"].tolist() == [1, 0, 1, 0]
    assert augment.merge_polarities(ev)["p"].tolist() == [0, 0, 0, 0]
    c = augment.crop(ev, (1, 1), (2, 2))
    assert c["x"].tolist() == [0, 1] and c["y"].tolist() == [0, 1] and c["t"].tolist() == [1, 2]
    cc = augment.center_crop(ev, (4, 3), (2, 1))  # origin (1, 1)
    assert cc["t"].tolist() == [1]
    assert augment.downsample(ev, 0.5)["x"].tolist() == [0, 0, 1, 1]
    rng = np.random.default_rng(0)
    dropped = augment.drop_events(ev, 0.5, rng=rng)
    assert len(dropped) == 2 and np.all(np.diff(dropped["t"]) >= 0)
    assert len(augment.drop_events(ev, 0.0)) == 4 and len(augment.drop_events(ev, 1.0)) == 0
    with pytest.raises(ss.ConfigError):
        augment.drop_events(ev, 1.5)
    long = make_events(np.arange(1000), np.zeros(1000), np.zeros(1000), np.zeros(1000))
    kept = augment.drop_time(long, 0.2, rng=np.random.default_rng(1))
    assert 799 <= len(kept) <= 801
    gap = np.diff(kept["t"]).max()
    assert 199 <= gap <= 201
    area = augment.drop_area(ev, (4, 3), 0.5, rng=np.random.default_rng(2))
    assert 2 <= len(area) <= 4
    # coordinates that would wrap around in uint16 raise instead
    with pytest.raises(ss.ValidationError, match="event 3: x = 3 is outside the sensor's 3"):
        augment.flip_lr(ev, (3, 3))
    with pytest.raises(ss.ValidationError, match="y = 2 is outside"):
        augment.flip_ud(ev, (4, 2))
    with pytest.raises(ss.ConfigError, match="past 65535"):
        augment.downsample(make_events([0], [40_000], [0], [0]), 2.0)
    with pytest.raises(ss.ConfigError, match="> 0"):
        augment.downsample(ev, -0.5)
    assert augment.downsample(ev, (2.0, 1.0))["x"].tolist() == [0, 2, 4, 6]
    with pytest.raises(ss.ConfigError, match="fraction"):
        augment.drop_area(ev, (4, 3), 1.5)
    jit = augment.spatial_jitter(long, (1, 1), 0.0, rng=np.random.default_rng(3))
    assert np.array_equal(jit, long)
    tj = augment.temporal_jitter(long, 5.0, rng=np.random.default_rng(4))
    assert np.all(np.diff(tj["t"]) >= 0) and len(tj) == 1000 and tj["t"].min() >= 0


def test_frozen_transforms_are_reusable_and_seeded():
    ev = make_events(np.arange(100), np.arange(100) % 8, np.zeros(100), np.ones(100))
    drop = T.DropEvent(p=0.3, seed=7)
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        drop.p = 0.5  # type: ignore[misc]
    assert drop == T.DropEvent(p=0.3, seed=7) and "DropEvent(seed=7, p=0.3)" == repr(drop)
    frames = T.ToFrames((8, 1), n_frames=4)(ev)
    assert frames.sum(axis=(1, 2, 3)).tolist() == [25, 25, 25, 25]


def test_a_seed_fixes_the_sequence_not_the_draw():
    ev = make_events(np.arange(50), np.arange(50) % 8, np.zeros(50), np.ones(50))
    flip = T.RandomFlipLR((8, 1), seed=0)
    firsts = [int(flip(ev)["x"][0]) for _ in range(20)]
    assert set(firsts) == {0, 7}  # flipped (x 0 -> 7) on some calls, not on others
    again = T.RandomFlipLR((8, 1), seed=0)
    assert [int(again(ev)["x"][0]) for _ in range(20)] == firsts  # same seed, same sequence
    drop = T.DropEvent(p=0.2, seed=3)
    kept = [tuple(drop(ev)["t"].tolist()) for _ in range(5)]
    assert all(len(k) == 40 for k in kept) and len(set(kept)) == 5  # different events each call
    other = T.DropEvent(p=0.2, seed=3)
    assert [tuple(other(ev)["t"].tolist()) for _ in range(5)] == kept
    assert tuple(T.DropEvent(p=0.2, seed=4)(ev)["t"].tolist()) != kept[0]
    for cls, kw in ((T.DropTime, {"fraction": 0.3}), (T.RandomCrop, {"sensor_size": (8, 1),
                    "size": (4, 1)}), (T.SpatialJitter, {"sensor_size": (8, 1), "sigma": 2.0}),
                    (T.TimeJitter, {"sigma": 5.0}), (T.DropArea, {"sensor_size": (8, 2),
                    "fraction": 0.5})):  # fmt: skip
        a, b = cls(seed=11, **kw), cls(seed=11, **kw)
        seq = [tuple(a(ev)["t"].tolist()) for _ in range(6)]
        assert len(set(seq)) > 1, cls  # successive calls differ
        assert [tuple(b(ev)["t"].tolist()) for _ in range(6)] == seq, cls
    tokens = T.ToEventTokens((8, 1), n_tokens=5, seed=2)
    first, second = tokens(ev)["t"], tokens(ev)["t"]
    assert not np.array_equal(first, second)
    assert np.array_equal(T.ToEventTokens((8, 1), n_tokens=5, seed=2)(ev)["t"], first)


def test_random_transform_copies_and_dataloader_workers(monkeypatch):
    import pickle
    import types

    import torch.utils.data

    ev = make_events(np.arange(50), np.arange(50) % 8, np.zeros(50), np.ones(50))
    drop = T.DropEvent(p=0.2, seed=5)
    drop(ev)
    copy = pickle.loads(pickle.dumps(drop))  # carries the generator's state: continues it
    assert [tuple(copy(ev)["t"]) for _ in range(3)] == [tuple(drop(ev)["t"]) for _ in range(3)]

    def in_worker(seed, transform):
        info = types.SimpleNamespace(id=seed % 2, seed=seed, num_workers=2)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: info)
        return [tuple(transform(ev)["t"].tolist()) for _ in range(4)]

    # each worker gets a copy of one transform: without a reseed all would draw alike
    parent = T.DropEvent(p=0.2, seed=5)
    w0 = in_worker(1000, pickle.loads(pickle.dumps(parent)))
    w1 = in_worker(1001, pickle.loads(pickle.dumps(parent)))
    assert not set(w0) & set(w1)  # independent streams
    assert in_worker(1000, pickle.loads(pickle.dumps(parent))) == w0  # reproducible
    assert in_worker(1000, T.DropEvent(p=0.2, seed=6)) != w0  # the seed still matters
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: None)
    fresh = T.DropEvent(p=0.2, seed=5)  # outside a worker: the seed's own sequence
    assert [tuple(parent(ev)["t"]) for _ in range(4)] == [tuple(fresh(ev)["t"]) for _ in range(4)]


class _FlipDataset:
    """Four copies of one recording through a seeded random flip: the first x tells the draw."""

    def __init__(self):
        self.ev = make_events(np.arange(4), [0, 1, 2, 3], np.zeros(4), np.ones(4))
        self.flip = T.RandomFlipLR((8, 1), seed=0)

    def __len__(self):
        return 64

    def __getitem__(self, i):
        return int(self.flip(self.ev)["x"][0])


def test_dataloader_workers_draw_independently():
    import torch
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    loader = DataLoader(_FlipDataset(), batch_size=8, num_workers=2,  # type: ignore[arg-type]
                        multiprocessing_context="fork")  # fmt: skip
    batches = [b.tolist() for b in loader]  # batches alternate between the two workers
    assert batches[0::2] != batches[1::2]  # without the reseed, both workers drew alike
    torch.manual_seed(0)
    assert [b.tolist() for b in loader] == batches  # reproducible under torch.manual_seed


def test_event_tokens():
    from spikestream.transforms.functional import (
        event_tokens,
        normalize_time,
        pad_tokens,
        rescale_coordinates,
        sample_indices,
    )

    rng = np.random.default_rng(0)
    idx = sample_indices(1000, 255, "random", rng=rng)
    assert len(idx) == 255 and len(set(idx.tolist())) == 255 and np.all(np.diff(idx) > 0)
    assert sample_indices(10, 255).tolist() == list(range(10))
    chunk = sample_indices(100, 10, "chunk", rng=rng)
    assert np.all(np.diff(chunk) == 1)
    assert sample_indices(9, 3, "deterministic_uniform").tolist() == [0, 4, 8]
    xs, ys = rescale_coordinates(
        np.array([0, 239, 120]), np.array([0, 179, 90]), (240, 180), (48, 36)
    )
    assert xs.tolist() == [0, 47, 24] and ys.tolist() == [0, 35, 18]
    t = np.array([100, 150, 300])
    assert normalize_time(t, "sample").tolist() == [0.0, 0.25, 1.0]
    assert normalize_time(t, "dataset", 400).tolist() == [0.0, 0.125, 0.5]
    assert normalize_time(t, "none").tolist() == [0, 50, 200]
    with pytest.raises(ss.ConfigError):
        normalize_time(t, "dataset")
    ev = make_events(np.arange(0, 50, 10), [0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [0, 1, 0, 1, 0])
    tok = event_tokens(ev, (5, 5), 3, sampler="deterministic_uniform", norm_t="sample")
    assert tok["t"].tolist() == [0.0, 0.5, 1.0] and tok["x"].tolist() == [0.0, 2.0, 4.0]
    assert tok["t"].dtype == np.float32
    short = event_tokens(ev[:2], (5, 5), 3)
    batch, mask = pad_tokens([tok, short])
    assert batch["x"].shape == (2, 3) and mask.tolist() == [[True] * 3, [True, True, False]]
    assert batch["p"][1, 2] == -1.0
    same, mask2 = pad_tokens([tok, tok])
    assert mask2.all() and np.array_equal(same["t"][0], tok["t"])
    seeded = T.ToEventTokens((5, 5), n_tokens=2, seed=3)
    assert np.array_equal(seeded(ev)["t"], seeded(ev)["t"])


def test_time_jitter_saturates_instead_of_wrapping():
    ev = make_events([0, 10, 2**62], [0, 1, 2], [0, 0, 0], [0, 1, 1])
    big = augment.temporal_jitter(ev, 1e30, rng=np.random.default_rng(0))
    assert big["t"].min() >= 0 and big["t"].max() <= 2**63 - 1024  # was -2^63 after a wrap
    assert set(big["t"].tolist()) <= {0, 2**63 - 1024}
    assert np.all(np.diff(big["t"]) >= 0) and sorted(big["x"].tolist()) == [0, 1, 2]
    for sigma in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ss.ConfigError, match="sigma"):
            augment.temporal_jitter(ev, sigma)


def test_normalize_time_needs_sorted_times_and_tokens_take_dicts():
    from spikestream.transforms.functional import event_tokens, normalize_time

    with pytest.raises(ss.ValidationError, match=r"normalize_time: .*t\[1\] = 50") as err:
        normalize_time(np.array([100, 50, 300]), "sample")  # gave 1.25 (> 1) and -0.25
    assert err.value.index == 1
    assert normalize_time(np.array([], dtype=np.int64)).tolist() == []
    ev = make_events(np.arange(0, 50, 10), [0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [0, 1, 0, 1, 0])
    d = {k: ev[k] for k in "txyp"}
    tok = event_tokens(d, (5, 5), 3, sampler="deterministic_uniform", grid=(5, 5))
    want = event_tokens(ev, (5, 5), 3, sampler="deterministic_uniform", grid=(5, 5))
    assert {k: v.tolist() for k, v in tok.items()} == {k: v.tolist() for k, v in want.items()}
    assert tok["t"].tolist() == [0.0, 0.5, 1.0] and tok["y"].tolist() == [4.0, 2.0, 0.0]
    assert T.ToEventTokens((5, 5), n_tokens=5)(d)["p"].tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ss.ValidationError, match="one value per event"):
        event_tokens({**d, "x": d["x"][:2]}, (5, 5), 3)


def test_frames_read_the_fields_once_and_parallel_launches_take_the_lock(monkeypatch):
    import contextlib

    from spikestream.transforms.functional import frames as fr
    from spikestream.transforms.functional import representations as rep

    reads, locks = [], []
    real_fields = fr._fields

    def counting_fields(events):
        reads.append(1)
        return real_fields(events)

    @contextlib.contextmanager
    def counting_lock():
        locks.append(1)
        yield

    monkeypatch.setattr(fr, "_fields", counting_fields)
    ev = make_events(np.arange(100), np.arange(100) % 8, np.zeros(100), np.arange(100) % 2)
    assert to_frames(ev, (8, 1), n_frames=4).sum() == 100 and len(reads) == 1  # was 2
    assert tonic_frames(ev, (8, 1), n_time_bins=4).sum() == 96 and len(reads) == 2
    monkeypatch.setattr(fr, "launch_lock", counting_lock)
    to_frames(ev, (8, 1), n_frames=4)
    assert locks == []  # serial below PARALLEL_MIN_EVENTS: no lock
    monkeypatch.setattr(fr, "PARALLEL_MIN_EVENTS", 1)
    monkeypatch.setattr(rep, "PARALLEL_MIN_EVENTS", 1)
    assert to_frames(ev, (8, 1), n_frames=4).sum() == 100 and locks == [1]
    assert to_voxel_grid(ev, (8, 1), 3).shape == (3, 1, 1, 8) and locks == [1, 1]


def test_averaged_time_surface_values():
    from spikestream.transforms.functional import to_averaged_time_surface

    # two ON events in cell 0, the second 100 µs later and one pixel to the right
    ev = make_events([0, 50, 100], [1, 15, 2], [1, 1, 1], [1, 0, 1])
    hats = to_averaged_time_surface(ev, (20, 10), surface_size=3, cell_size=10, time_window=1000,
                                    tau=100.0)  # fmt: skip
    assert hats.shape == (2, 2, 3, 3) and hats.dtype == np.float32
    on = hats[0, 1]
    # event 1: centre 1; event 2: centre 1 + exp(-1) at dx = -1; mean over 2 events
    assert on[1, 1] == pytest.approx(1.0) and on[1, 0] == pytest.approx(np.exp(-1) / 2)
    assert on.sum() == pytest.approx((2 + np.exp(-1)) / 2)
    assert hats[1, 0, 1, 1] == pytest.approx(1.0) and hats[0, 0].sum() == 0  # OFF event in cell 1
    lin = to_averaged_time_surface(ev, (20, 10), surface_size=3, cell_size=10, decay="lin",
                                   time_window=1000, tau=100.0)  # fmt: skip
    assert lin[0, 1, 1, 0] == pytest.approx((1 - 100 / 300) / 2)
    outside = to_averaged_time_surface(ev, (20, 10), surface_size=3, time_window=50, tau=100.0)
    assert outside[0, 1, 1, 0] == 0  # 100 µs apart: outside a 50 µs window
    with pytest.raises(ss.ConfigError):
        to_averaged_time_surface(ev, (20, 10), surface_size=4)


def test_random_transform_classes():
    ev = make_events(np.arange(200), np.arange(200) % 16, np.arange(200) % 12, np.arange(200) % 2)
    crop = T.RandomCrop((16, 12), (8, 6), seed=1)(ev)
    assert crop["x"].max() < 8 and crop["y"].max() < 6 and 0 < len(crop) < 200
    assert np.array_equal(T.RandomFlipUD((16, 12), p=1.0)(ev)["y"], 11 - ev["y"])
    assert np.array_equal(T.RandomFlipUD((16, 12), p=0.0)(ev), ev)
    jit = T.SpatialJitter((16, 12), sigma=0.0, seed=2)(ev)
    assert np.array_equal(jit, ev)
    tj = T.TimeJitter(sigma=3.0, seed=3)(ev)
    assert len(tj) == 200 and np.all(np.diff(tj["t"]) >= 0)
    assert sorted(tj["x"].tolist()) == sorted(ev["x"].tolist())


def _every_field_consumer(events):
    """Every public function that takes field arrays, called on ``events``."""
    from spikestream.compat.spikingjelly import datasets as sj
    from spikestream.transforms.functional import accumulate, to_averaged_time_surface

    return {
        "to_frames": lambda: to_frames(events, (4, 4), n_frames=2),
        "tonic_frames": lambda: tonic_frames(events, (4, 4), event_count=1),
        "to_voxel_grid": lambda: to_voxel_grid(events, (4, 4), 2),
        "to_time_surface": lambda: to_time_surface(events, (4, 4), 10, 5.0),
        "hats": lambda: to_averaged_time_surface(events, (4, 4)),
        "denoise": lambda: denoise_mask(events, 10),
        "refractory": lambda: refractory_mask(events, 10),
        "accumulate": lambda: accumulate(events, np.array([0]), np.array([1]), (4, 4)),
        "sj": lambda: sj.integrate_events_by_fixed_frames_number(events, "number", 2, 4, 4),
        "sj_segment": lambda: sj.integrate_events_segment_to_frame(
            events["x"], events["y"], events["p"], 4, 4
        ),
    }


def test_field_lengths_are_checked_before_compiled_loops():
    # a long t beside one-value x, y, p was read out of bounds (a segfault for to_frames)
    n = 3_000_000
    one = np.zeros(1, np.int64)
    d = {"t": np.arange(n), "x": one, "y": one, "p": one}
    with pytest.raises(ss.ValidationError, match="t=3000000, x=1, y=1, p=1") as err:
        to_frames(d, (128, 128), n_frames=4)
    assert err.value.field == "x"
    short = {"t": np.arange(1000), "x": np.zeros(1000), "y": np.zeros(3), "p": np.zeros(1000)}
    for name, call in _every_field_consumer(short).items():
        with pytest.raises(ss.ValidationError, match="y=3") as err:
            call()
        assert err.value.field == "y", name
    flat = {"t": np.arange(4), "x": np.zeros((2, 2)), "y": np.zeros(4), "p": np.zeros(4)}
    with pytest.raises(ss.ValidationError, match="'x' must be a 1-D numeric array"):
        to_frames(flat, (4, 4), n_frames=1)
    texts = {"t": np.arange(2), "x": np.array(["a", "b"]), "y": np.zeros(2), "p": np.zeros(2)}
    with pytest.raises(ss.ValidationError, match="'x' must be a 1-D numeric"):
        to_voxel_grid(texts, (4, 4), 2)
    from spikestream.transforms.functional import accumulate, pad_tokens, rescale_coordinates

    with pytest.raises(ss.ValidationError, match=r"shapes \(3,\) and \(1,\)"):
        rescale_coordinates(np.arange(3), np.zeros(1), (4, 4), (2, 2))
    good = {"x": np.zeros(2), "y": np.zeros(2), "t": np.zeros(2), "p": np.zeros(2)}
    with pytest.raises(ss.ValidationError, match="sample 1: token fields") as err:
        pad_tokens([good, {**good, "p": np.zeros(3)}])
    assert err.value.index == 1

    ev = make_events(np.arange(10), np.zeros(10), np.zeros(10), np.ones(10))
    with pytest.raises(ss.ConfigError, match=r"slice 1 \[5, 11\) is outside the 10 events"):
        accumulate(ev, np.array([0, 5]), np.array([5, 11]), (1, 1))
    assert accumulate(ev, np.array([0, 5]), np.array([5, 10]), (1, 1))[:, 1].ravel().tolist() == [
        5,
        5,
    ]


def test_absurd_sizes_are_refused_before_allocating(monkeypatch):
    from spikestream.events import limits, window_bounds_by_time
    from spikestream.transforms.functional import to_averaged_time_surface

    ev = make_events([0, 10**12], [1, 2], [1, 2], [0, 1])  # a 12-day span
    for call in (
        lambda: to_frames(ev, (100_000, 100_000), n_frames=1),
        lambda: to_averaged_time_surface(ev, (100_000, 100_000), cell_size=1),
    ):  # the one sensor-size rule (uint16 coordinates) refuses these first
        with pytest.raises(ss.ConfigError, match=r"1 <= W, H <= 65536"):
            call()
    for call in (
        lambda: to_frames(ev, (65_536, 65_536), n_frames=1),
        lambda: to_averaged_time_surface(ev, (65_536, 65_536), cell_size=1),
        lambda: to_frames(ev, (128, 128), n_frames=10**9),
        lambda: to_frames(ev, (128, 128), duration=1),
        lambda: tonic_frames(ev, (128, 128), n_time_bins=10**9),
        lambda: tonic_frames(ev, (128, 128), time_window=1.0),
        lambda: to_voxel_grid(ev, (128, 128), 10**9),
        lambda: to_time_surface(ev, (128, 128), 1, 5.0),
        lambda: window_bounds_by_time(ev, 1),
    ):
        with pytest.raises(ss.ConfigError, match=r"limit of 8 GiB \(spikestream.events.limits"):
            call()
    corner = make_events([0, 1], [0, 65535], [0, 65535], [1, 1])  # a 65536^2 filter memory
    with pytest.raises(ss.ConfigError, match="per-pixel memory"):
        denoise_mask(corner, 10)
    with pytest.raises(ss.ConfigError, match="per-pixel memory"):
        refractory_mask(corner, 10)
    with pytest.raises(ss.ValidationError, match=r"event 1 \(x=65535, y=65535\) is outside the "
                       r"128x128 sensor") as err:  # fmt: skip
        T.Denoise(10, sensor_size=(128, 128))(corner)
    assert err.value.index == 1
    with pytest.raises(ss.ValidationError, match="outside the 128x128"):
        T.RefractoryPeriod(10, sensor_size=(128, 128))(corner)
    with pytest.raises(ss.ConfigError, match=r"1 <= W, H <= 65536 .* got \(0, 4\)"):
        to_frames(ev, (0, 4), n_frames=1)
    # the bound is exact: two 3x4 float32 frames are 192 bytes
    monkeypatch.setattr(limits, "MAX_BYTES", 2 * 2 * 3 * 4 * 4)
    small = make_events([0, 1], [1, 2], [1, 2], [0, 1])
    assert to_frames(small, (4, 3), n_frames=2).sum() == 2
    with pytest.raises(ss.ConfigError, match=r"shape \(3, 2, 3, 4\)"):
        to_frames(small, (4, 3), n_frames=3)
    assert to_frames(small, (4, 3), n_frames=1, dtype=np.float64).sum() == 2
    with pytest.raises(ss.ConfigError, match="float64"):
        to_frames(small, (4, 3), n_frames=2, dtype=np.float64)


def test_unsorted_times_raise_everywhere_order_matters():
    from spikestream.compat.spikingjelly import datasets as sj
    from spikestream.events import slice_time, window_bounds_by_time
    from spikestream.transforms.functional import event_tokens, to_averaged_time_surface

    ev = make_events([0, 50, 20, 70, 90], [0, 1, 2, 3, 0], [0, 1, 2, 3, 1], [1, 0, 1, 0, 1])
    d = {k: ev[k] for k in "txyp"}
    calls = {
        "frames by time": lambda: to_frames(ev, (4, 4), n_frames=2, split_by="time"),
        "frames by duration": lambda: to_frames(ev, (4, 4), duration=30),
        "tonic time window": lambda: tonic_frames(ev, (4, 4), time_window=30),
        "tonic n_time_bins": lambda: tonic_frames(ev, (4, 4), n_time_bins=2),
        "voxel": lambda: to_voxel_grid(ev, (4, 4), 2),
        "time surface": lambda: to_time_surface(ev, (4, 4), 30, 5.0),
        "hats": lambda: to_averaged_time_surface(ev, (4, 4), cell_size=2),
        "denoise": lambda: denoise_mask(ev, 10),
        "refractory": lambda: refractory_mask(ev, 10),
        "drop_time": lambda: augment.drop_time(ev, 0.2),
        "tokens": lambda: event_tokens(ev, (4, 4), 3),
        "slice_time": lambda: slice_time(ev, 0, 60),
        "window bounds": lambda: window_bounds_by_time(ev, 30),
        "sj by time": lambda: sj.integrate_events_by_fixed_frames_number(d, "time", 2, 4, 4),
        "sj by duration": lambda: sj.integrate_events_by_fixed_duration(d, 30, 4, 4),
        "greedy": lambda: ss.transforms.functional.slicing.sj_split_by_duration_greedy(ev["t"], 30),
    }
    for name, call in calls.items():
        with pytest.raises(
            ss.ValidationError, match=r"t\[2\] = 20 < t\[1\] = 50; sort with"
        ) as err:
            call()
        assert (err.value.index, err.value.field) == (2, "t"), name
    big_endian = np.zeros(5, [("t", ">i8"), ("x", ">i2"), ("y", ">i2"), ("p", "?")])
    for k in "txyp":
        big_endian[k] = ev[k]
    with pytest.raises(ss.ValidationError, match=r"t\[2\] = 20 < t\[1\] = 50") as err:
        to_frames(big_endian, (4, 4), n_frames=2, split_by="time")
    assert err.value.index == 2
    assert to_frames(np.sort(big_endian, order="t"), (4, 4), n_frames=2, split_by="time").sum() == 5
    # splits by event count follow the index, not time: unsorted input is fine there
    assert to_frames(ev, (4, 4), n_frames=5).sum(axis=(1, 2, 3)).tolist() == [1] * 5
    # sorted, every one of them works
    fixed = ss.events.sort_events(ev)
    assert to_voxel_grid(fixed, (4, 4), 2).shape == (2, 1, 4, 4)
    assert slice_time(fixed, 0, 60)["t"].tolist() == [0, 20, 50]


def test_token_sampling_and_dataset_time_follow_event2vec():
    """Event2Vec draws even when a sample has exactly n_tokens events (the generator moves on),
    and divides dataset-normalised times in float32."""
    from spikestream.transforms.functional.tokens import normalize_time, sample_indices

    g, ref = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(sample_indices(4, 4, rng=g), np.arange(4))
    ref.choice(4, 4, replace=False)  # what the original consumes
    assert np.array_equal(sample_indices(9, 3, rng=g), np.sort(ref.choice(9, 3, replace=False)))
    t = np.array([0, 16_777_217 + 3, 40_000_001], dtype=np.int64)
    got = normalize_time(t, "dataset", 521_217)
    assert got.dtype == np.float32
    assert np.array_equal(got, t.astype(np.float32) / np.float32(521_217))
