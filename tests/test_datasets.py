"""Datasets end to end on miniature archives in each dataset's true raw format (written with
spikestream's own writers): fetch from a local file, checksum, safe extraction, conversion to the
packed store, loading, splits, labels and cut boundaries; hostile input leaves nothing behind."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import spikestream as ss
from spikestream.datasets import (
    ASLDVS,
    CIFAR10DVS,
    NCARS,
    NMNIST,
    POKERDVS,
    DVS128Gesture,
    NCaltech101,
    PackedStore,
    Resource,
    archive,
    export_events_np,
    get,
    import_events_np,
    md5sum,
    split_per_class,
)
from spikestream.errors import ChecksumError, ConfigError, DatasetError, UnsafeArchiveError
from spikestream.events import from_dict
from spikestream.transforms.functional.frames import to_frames


def random_events(rng, n, size, t_max):
    t = np.sort(rng.integers(0, t_max, n))
    return ss.make_events(
        t=t, x=rng.integers(0, size[0], n), y=rng.integers(0, size[1], n), p=rng.integers(0, 2, n)
    )


def tar_folder(folder: Path, out: Path, arcname: str) -> Path:
    with tarfile.open(out, "w:gz") as tf:
        tf.add(folder, arcname=arcname)
    return out


def zip_folder(folder: Path, out: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    return out


# ---------------------------------------------------------------------------- DVS128 Gesture

TRIALS = {
    "train": {
        "user01_fluorescent": [
            (1, 0, 2_000_000),
            (8, 2_000_000, 3_500_000),
            (8, 3_600_000, 5_000_000),
            (11, 5_000_000, 6_000_000),
        ],
        "user02_led": [(3, 100_000, 900_000), (5, 900_000, 2_000_000)],
    },
    "test": {"user24_lab": [(2, 500_000, 1_500_000), (11, 1_500_001, 2_600_000)]},
}


@pytest.fixture(scope="module")
def gesture_archive(tmp_path_factory):
    """A DvsGesture.tar.gz with AEDAT 3.1 trials, labels CSVs and the two trial lists."""
    base = tmp_path_factory.mktemp("gesture")
    folder = base / "DvsGesture"
    folder.mkdir()
    rng = np.random.default_rng(0)
    trials = {}
    for split, entries in TRIALS.items():
        (folder / f"trials_to_{split}.txt").write_text(
            "".join(f"{name}.aedat\n" for name in entries)
        )
        for name, rows in entries.items():
            events = random_events(rng, 20_000, (128, 128), 6_500_000)
            ss.write(folder / f"{name}.aedat", events, (128, 128), format="aedat3")
            lines = ["class,startTime_usec,endTime_usec"] + [f"{c},{s},{e}" for c, s, e in rows]
            (folder / f"{name}_labels.csv").write_text("\n".join(lines) + "\n")
            trials[name] = events
    tar = tar_folder(folder, base / "DvsGesture.tar.gz", "DvsGesture")
    return tar, trials


@pytest.fixture
def gesture_root(gesture_archive, tmp_path, monkeypatch):
    tar, trials = gesture_archive
    monkeypatch.setattr(
        DVS128Gesture, "resources", (Resource("DvsGesture.tar.gz", None, md5sum(tar)),)
    )
    root = tmp_path / "DVS128Gesture"
    (root / "download").mkdir(parents=True)
    (root / "download" / "DvsGesture.tar.gz").write_bytes(tar.read_bytes())
    return root, trials


def test_gesture_cut_labels_names_and_splits(gesture_root):
    root, trials = gesture_root
    train = DVS128Gesture(root, train=True, workers=2)
    test = DVS128Gesture(root, train=False)
    assert (len(train), len(test)) == (6, 2)
    expected = []
    for split, entries in TRIALS.items():
        for name, rows in entries.items():
            seen: dict[int, int] = {}
            for c, start, end in rows:
                k = seen.get(c - 1, 0)
                seen[c - 1] = k + 1
                ev = trials[name]
                cut = ev[(ev["t"] >= start) & (ev["t"] < end)]  # start <= t < end
                expected.append((split, f"{name}_{k}", c - 1, cut))
    got = [("train", *train.store[i]) for i in range(6)] + [
        ("test", *test.store[i]) for i in range(2)
    ]
    names = list(train.store.names) + list(test.store.names)
    for (_split, name, label, cut), (_, events, lab), stored_name in zip(
        expected, got, names, strict=True
    ):
        assert stored_name == name and lab == label
        assert np.array_equal(events, cut)
    # the boundary event: t == end is out, t == start is in
    assert train.store.names[1] == "user01_fluorescent_0" and train.store.names[2].endswith("_1")
    events, label = train[0]
    assert events.dtype == ss.EVENT_DTYPE and label == 0
    assert type(events) is np.ndarray and not events.flags.writeable  # a view of the map


def test_gesture_spikingjelly_labels_and_frames(gesture_root):
    root, _ = gesture_root
    sj = DVS128Gesture(
        root,
        train=True,
        label_order="spikingjelly",
        data_type="frame",
        frames_number=4,
        split_by="number",
    )
    ours = DVS128Gesture(root, train=True)
    # SpikingJelly sorts the folders '0'..'10' as strings: class 11 ('10') gets label 2
    assert list(DVS128Gesture.spikingjelly_labels()) == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 2]
    assert [sj[i][1] for i in range(len(sj))] == [0, 8, 8, 2, 3, 5]
    assert [ours[i][1] for i in range(len(ours))] == [0, 7, 7, 10, 2, 4]
    frames, _ = sj[0]
    assert frames.shape == (4, 2, 128, 128) and frames.dtype == np.float32
    assert np.array_equal(frames, to_frames(ours[0][0], (128, 128), n_frames=4))
    assert frames.sum() == len(ours[0][0])


def test_gesture_second_run_reuses_the_store(gesture_root, monkeypatch):
    root, _ = gesture_root
    first = DVS128Gesture(root, train=True)
    mtime = (root / "packed" / "train" / "events.bin").stat().st_mtime_ns

    def boom(source):
        raise AssertionError("converted again")

    monkeypatch.setattr(DVS128Gesture, "load", classmethod(lambda cls, s: boom(s)))
    again = DVS128Gesture(root, train=True)
    assert len(again) == len(first)
    assert (root / "packed" / "train" / "events.bin").stat().st_mtime_ns == mtime
    assert again.store.verify()["samples"] == 6


def test_interrupted_conversion_leaves_nothing_half_built(gesture_root, monkeypatch):
    root, _ = gesture_root
    original = DVS128Gesture.load.__func__
    calls = []

    def failing(cls, source):
        calls.append(source)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user stops the run in the middle
        return original(cls, source)

    monkeypatch.setattr(DVS128Gesture, "load", classmethod(failing))
    with pytest.raises(KeyboardInterrupt):
        DVS128Gesture(root, train=True, workers=1)
    packed = root / "packed"
    assert not (packed / "train").exists()
    assert not list(packed.glob("*.partial"))
    monkeypatch.setattr(DVS128Gesture, "load", classmethod(original))
    assert len(DVS128Gesture(root, train=True)) == 6


def test_checksum_mismatch_is_an_error_unless_opted_out(gesture_archive, tmp_path):
    tar, _ = gesture_archive  # the real resources keep the published MD5
    root = tmp_path / "g"
    (root / "download").mkdir(parents=True)
    (root / "download" / "DvsGesture.tar.gz").write_bytes(tar.read_bytes())
    with pytest.raises(ChecksumError, match="8a5c71fb11e24e5ca5b11866ca6c00a1"):
        DVS128Gesture(root, train=True)
    left = [p.name for p in (root / "extract").iterdir() if p.suffix != ".lock"]
    assert not left and not (root / "packed").exists()
    with pytest.warns(UserWarning, match="not verified"):
        ds = DVS128Gesture(root, train=False, verify=False)
    assert len(ds) == 2


def test_missing_manual_download_names_url_files_and_folder(tmp_path):
    with pytest.raises(DatasetError) as err:
        DVS128Gesture(tmp_path / "nothing", train=True)
    text = str(err.value)
    assert "DvsGesture.tar.gz" in text and "ibm.ent.box.com" in text
    assert str(tmp_path / "nothing" / "download") in text
    with pytest.raises(DatasetError, match="cannot be downloaded automatically"):
        DVS128Gesture(tmp_path / "nothing", train=True, download=True)


def test_bad_arguments(gesture_root):
    root, _ = gesture_root
    with pytest.raises(ConfigError):
        DVS128Gesture(root, data_type="frame")  # neither frames_number nor duration
    with pytest.raises(ConfigError):
        DVS128Gesture(root, data_type="frame", frames_number=4, split_by="bogus")
    with pytest.raises(ConfigError):
        DVS128Gesture(root, train=None)  # it has a train/test split


def test_events_np_export_and_import(gesture_root, tmp_path):
    root, _ = gesture_root
    ds = DVS128Gesture(root, train=True)
    assert (
        export_events_np(ds.store, tmp_path / "events_np" / "train", DVS128Gesture.sj_folders) == 6
    )
    assert (tmp_path / "events_np" / "train" / "10" / "user01_fluorescent_0.npz").is_file()
    back = import_events_np(tmp_path / "events_np" / "train", tmp_path / "imported", (128, 128))
    assert len(back) == 6
    sj = DVS128Gesture.spikingjelly_labels()
    # names are unique within a class folder, as in SpikingJelly
    by_key = {(back.names[i], back[i][1]): back[i][0] for i in range(6)}
    for i in range(6):
        events, label = ds.store[i]
        assert np.array_equal(by_key[(ds.store.names[i], sj[label])], events)


# ----------------------------------------------------------------------------------- N-MNIST


def test_nmnist_download_from_local_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    written = {}
    for split, n in (("Train", 3), ("Test", 2)):
        folder = tmp_path / "raw" / split
        for digit in (0, 7):
            for k in range(n):
                events = random_events(rng, 500 + k, (34, 34), 300_000)
                path = folder / str(digit) / f"{k:05d}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                ss.write(path, events, (34, 34), format="nmnist")
                written[(split, digit, k)] = events
        zip_folder(folder, tmp_path / f"{split}.zip", prefix=f"{split}/")
    monkeypatch.setattr(
        NMNIST,
        "resources",
        tuple(
            Resource(f"{s}.zip", (tmp_path / f"{s}.zip").as_uri(), md5sum(tmp_path / f"{s}.zip"))
            for s in ("Train", "Test")
        ),
    )
    root = tmp_path / "NMNIST"
    with pytest.raises(DatasetError, match="download=True"):
        NMNIST(root)
    train = NMNIST(root, train=True, download=True)
    test = NMNIST(root, train=False)
    assert (root / "download" / "Train.zip").is_file()
    assert (len(train), len(test)) == (6, 4)
    assert list(train.targets) == [0, 0, 0, 7, 7, 7]
    for i, (digit, k) in enumerate([(0, 0), (0, 1), (0, 2), (7, 0), (7, 1), (7, 2)]):
        events, label = train[i]
        assert label == digit and np.array_equal(events, written[("Train", digit, k)])


def test_fetch_checks_the_md5_and_leaves_no_partial_file(tmp_path):
    src = tmp_path / "file.bin"
    src.write_bytes(b"spikes" * 100)
    with pytest.raises(ChecksumError):
        archive.fetch(str(src), tmp_path / "dl" / "file.bin", md5="0" * 32)
    assert not list((tmp_path / "dl").iterdir())
    out = archive.fetch(str(src), tmp_path / "dl" / "file.bin", md5=md5sum(src))
    assert out.read_bytes() == src.read_bytes()
    with pytest.raises(DatasetError, match="no such file"):
        archive.fetch(str(tmp_path / "absent"), tmp_path / "dl" / "x")


# ------------------------------------------------------------------- unsplit datasets


def test_cifar10dvs_coordinates_as_spikingjelly(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    wanted = {}
    for cls in ("airplane", "truck"):
        folder = tmp_path / "raw" / cls
        folder.mkdir(parents=True)
        for k in range(2):
            events = random_events(rng, 300, (128, 128), 1_000_000)
            # the raw file stores x_raw = 127 - y, y_raw = 127 - x, p_raw = 1 - p
            raw = ss.make_events(
                t=events["t"],
                x=127 - events["y"].astype(int),
                y=127 - events["x"].astype(int),
                p=1 - events["p"],
            )
            ss.write(
                folder / f"cifar10_{cls}_{k}.aedat",
                raw,
                (128, 128),
                format="aedat2",
                layout="dvs128",
                flip_y=False,
            )
            wanted[(cls, k)] = events
        zip_folder(folder, tmp_path / f"{cls}.zip", prefix=f"{cls}/")
    monkeypatch.setattr(
        CIFAR10DVS,
        "resources",
        tuple(
            Resource(f"{c}.zip", None, md5sum(tmp_path / f"{c}.zip")) for c in ("airplane", "truck")
        ),
    )
    root = tmp_path / "C"
    (root / "download").mkdir(parents=True)
    for c in ("airplane", "truck"):
        (root / "download" / f"{c}.zip").write_bytes((tmp_path / f"{c}.zip").read_bytes())
    ds = CIFAR10DVS(root, train=None)
    assert list(ds.targets) == [0, 0, 9, 9]
    for i, key in enumerate([("airplane", 0), ("airplane", 1), ("truck", 0), ("truck", 1)]):
        assert np.array_equal(ds[i][0], wanted[key])
    train_idx, test_idx = split_per_class(ds.targets, 0.5)
    assert list(train_idx) == [0, 2] and list(test_idx) == [1, 3]


def test_asl_dvs_nested_zips_and_rotation(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    outer = tmp_path / "outer"
    outer.mkdir()
    wanted = {}
    for letter in ("a", "y"):
        folder = tmp_path / "letters" / letter
        folder.mkdir(parents=True)
        ev = random_events(rng, 200, (240, 180), 100_000)
        scipy.io.savemat(
            folder / f"{letter}_0001.mat",
            {
                "ts": ev["t"].astype(np.float64)[:, None],
                "x": ev["x"].astype(np.float64)[:, None],
                "y": ev["y"].astype(np.float64)[:, None],
                "pol": ev["p"].astype(np.float64)[:, None],
            },
        )
        zip_folder(folder, outer / f"{letter}.zip", prefix=f"{letter}/")
        wanted[letter] = ev
    zip_folder(outer, tmp_path / "ICCV2019_DVS_dataset.zip")
    root = tmp_path / "ASL"
    (root / "download").mkdir(parents=True)
    (root / "download" / "ICCV2019_DVS_dataset.zip").write_bytes(
        (tmp_path / "ICCV2019_DVS_dataset.zip").read_bytes()
    )
    ds = ASLDVS(root, train=None)
    assert list(ds.targets) == [0, 23]
    for i, letter in enumerate(("a", "y")):
        got, ev = ds[i][0], wanted[letter]
        assert np.array_equal(got["x"], 239 - ev["x"]) and np.array_equal(got["y"], 179 - ev["y"])
        assert np.array_equal(got["t"], ev["t"]) and np.array_equal(got["p"], ev["p"])


def test_poker_dvs_and_ncaltech101(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    for split in ("train", "test"):
        for sym in ("cl", "sp"):
            folder = tmp_path / f"pips_{split}" / f"pips_{split}_{sym}"
            folder.mkdir(parents=True)
            ev = random_events(rng, 50, (35, 35), 10_000)
            rows = np.stack([ev["t"], ev["x"], ev["y"], ev["p"]], axis=1).astype(np.int64)
            np.save(folder / "0.npy", rows)
        tar_folder(tmp_path / f"pips_{split}", tmp_path / f"pips_{split}.tar.gz", f"pips_{split}")
    monkeypatch.setattr(
        POKERDVS,
        "resources",
        tuple(
            Resource(
                f"pips_{s}.tar.gz",
                (tmp_path / f"pips_{s}.tar.gz").as_uri(),
                md5sum(tmp_path / f"pips_{s}.tar.gz"),
            )
            for s in ("train", "test")
        ),
    )
    poker = POKERDVS(tmp_path / "P", train=False, download=True)
    assert list(poker.targets) == [0, 3] and len(poker[0][0]) == 50

    cal = tmp_path / "cal" / "Caltech101"
    for cat in ("accordion", "BACKGROUND_Google", "yin_yang"):
        (cal / cat).mkdir(parents=True)
        ss.write(
            cal / cat / "image_0001.bin",
            random_events(rng, 80, (240, 180), 10_000),
            (240, 180),
            format="nmnist",
        )
    zip_folder(tmp_path / "cal", tmp_path / "Caltech101.zip")
    monkeypatch.setattr(
        NCaltech101,
        "resources",
        (Resource("Caltech101.zip", None, md5sum(tmp_path / "Caltech101.zip")),),
    )
    root = tmp_path / "NC"
    (root / "download").mkdir(parents=True)
    (root / "download" / "Caltech101.zip").write_bytes((tmp_path / "Caltech101.zip").read_bytes())
    ds = NCaltech101(root, train=None)
    # string order, as SpikingJelly: upper case first
    assert ds.class_names == ["BACKGROUND_Google", "accordion", "yin_yang"]
    assert list(ds.targets) == [0, 1, 2] and ds.store.names[1] == "accordion_image_0001"
    sj = NCaltech101(root, train=None, label_order="spikingjelly")  # the same order here
    assert list(sj.targets) == [0, 1, 2] and sj[2][1] == 2


def test_registry():
    assert get("dvs128-gesture") is DVS128Gesture and get("nmnist") is NMNIST
    with pytest.raises(DatasetError, match="unknown dataset"):
        get("imagenet")


# --------------------------------------------------------------------------- hostile input


def _zip_with(tmp_path: Path, name: str, mode: int | None = None) -> Path:
    out = tmp_path / "evil.zip"
    with zipfile.ZipFile(out, "w") as zf:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, b"x")
    return out


def _tar_with(tmp_path: Path, kind: bytes, name: str = "link") -> Path:
    out = tmp_path / "evil.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd"
        tf.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda p: _zip_with(p, "../escape.txt"),
        lambda p: _zip_with(p, "/abs/path.txt"),
        lambda p: _zip_with(p, "C:/windows.txt"),
        lambda p: _zip_with(p, "link", mode=0o120777),  # a symbolic link
        lambda p: _tar_with(p, tarfile.SYMTYPE),
        lambda p: _tar_with(p, tarfile.LNKTYPE),
        lambda p: _tar_with(p, tarfile.CHRTYPE),
        lambda p: _tar_with(p, tarfile.REGTYPE, "a/../../escape"),
    ],
)
def test_hostile_archives_are_refused_before_writing(tmp_path, make):
    bad = make(tmp_path)
    with pytest.raises(UnsafeArchiveError):
        archive.extract(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    assert not (tmp_path.parent / "escape.txt").exists()


def test_truncated_archive_and_no_disk_space(gesture_archive, tmp_path, monkeypatch):
    tar, _ = gesture_archive
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        archive.extract(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    monkeypatch.setattr(archive.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(DatasetError, match="GB free"):
        archive.extract(tar, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_store_verify_finds_damage(gesture_root):
    root, _ = gesture_root
    folder = DVS128Gesture(root, train=True).store.folder
    data = bytearray((folder / "events.bin").read_bytes())
    data[100] ^= 0xFF
    (folder / "events.bin").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="CRC-32") as err:
        PackedStore(folder).verify()
    assert f"elete the folder {folder} and run again to rebuild" in str(err.value)


# ------------------------------------------------------------------------ damaged stores

STORE_EVENTS = [
    ss.make_events(t=np.arange(n) * 10, x=np.arange(n) % 7, y=np.arange(n) % 5, p=np.arange(n) % 2)
    for n in (3, 4, 5)
]


@pytest.fixture
def small_store(tmp_path) -> Path:
    """Three samples of 3, 4 and 5 events, labels 0, 1, 2 of three classes."""
    from spikestream.datasets import store

    meta = {"dataset": "Toy", "split": "train", "sensor_size": [7, 5], "classes": ["a", "b", "c"]}
    sources = [(f"s{i}", i, ev) for i, ev in enumerate(STORE_EVENTS)]
    return store.build(tmp_path / "train", sources, lambda s: [s], meta, progress=False)


def _index(folder: Path, **changes) -> None:
    with np.load(folder / "index.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(folder / "index.npz", **{k: v for k, v in arrays.items() if v is not None})


def _meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps(dict(meta, **changes)))


STORE_DAMAGES = {
    "events.bin missing": (lambda f: (f / "events.bin").unlink(), "events.bin is missing"),
    "events.bin truncated": (
        lambda f: (f / "events.bin").write_bytes((f / "events.bin").read_bytes()[:-16]),
        "holds 176 bytes, the index describes 12 events",
    ),
    "events.bin a folder": (
        lambda f: ((f / "events.bin").unlink(), (f / "events.bin").mkdir()),
        "events.bin is missing or not a file",
    ),
    "index.npz missing": (lambda f: (f / "index.npz").unlink(), "index.npz is not a readable"),
    "index.npz not a zip": (
        lambda f: (f / "index.npz").write_bytes(b"not a zip file at all"),
        "index.npz is not a readable",
    ),
    "index.npz a broken zip": (
        lambda f: (f / "index.npz").write_bytes((f / "index.npz").read_bytes()[:200]),
        "index.npz is not a readable",
    ),
    "index.npz without labels": (lambda f: _index(f, labels=None), "no 'labels' array"),
    "float offsets": (
        lambda f: _index(f, offsets=np.array([0.0, 3, 7, 12])),
        "offsets is float64 of shape",
    ),
    "float labels": (lambda f: _index(f, labels=np.array([0.5, 1, 2])), "labels is float64"),
    "offsets of the wrong length": (
        lambda f: _index(f, offsets=np.array([0, 3, 12])),
        r"array of 4 \(meta.json: 3 samples\)",
    ),
    "names of the wrong length": (lambda f: _index(f, names=np.array(["a"])), "names is <U1"),
    "offsets going back": (
        lambda f: _index(f, offsets=np.array([0, 7, 3, 12])),
        "do not increase from 0 .at offset 2",
    ),
    "offsets not from 0": (
        lambda f: _index(f, offsets=np.array([1, 3, 7, 12])),
        "do not increase from 0 .at offset 0",
    ),
    "label outside the classes": (
        lambda f: _index(f, labels=np.array([0, 3, 2])),
        "label 3 of sample 1 outside 0..2",
    ),
    "meta.json not JSON": (
        lambda f: (f / "meta.json").write_text("{not json"),
        "meta.json is not readable JSON",
    ),
    "meta.json a list": (
        lambda f: (f / "meta.json").write_text("[1, 2]"),
        "does not hold a JSON object",
    ),
    "meta.json without sensor_size": (
        lambda f: _meta(f, sensor_size=None),
        "sensor_size None is not",
    ),
    "meta.json with a string CRC": (lambda f: _meta(f, events_crc32="12"), "events_crc32 '12'"),
    "meta.json counting other events": (lambda f: _meta(f, n_events=11), "meta.json counts 11"),
    "wrong version": (lambda f: _meta(f, version=99), "store version 99"),
}


@pytest.mark.parametrize("damage", list(STORE_DAMAGES))
def test_every_store_damage_is_a_dataset_error_naming_folder_and_fix(small_store, damage):
    assert [len(PackedStore(small_store)[i][0]) for i in range(3)] == [3, 4, 5]  # intact first
    change, what = STORE_DAMAGES[damage]
    change(small_store)
    with pytest.raises(DatasetError, match=what) as err:
        PackedStore(small_store)
    assert str(err.value).startswith(str(small_store))
    assert f"elete the folder {small_store}" in str(err.value)  # how to fix it


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"classes": None}, "classes None is not a list"),
        ({"sensor_size": [7]}, r"sensor_size \[7\] is not"),
        ({"sensor_size": [0, 5]}, "is not .width, height"),
        ({"sensor_size": "7x5"}, "is not .width, height"),
        ({"classes": ["a", "b", "c"], "extra": object()}, "is not JSON"),
    ],
)
def test_build_refuses_meta_its_reader_refuses(tmp_path, change, what):
    from spikestream.datasets import store

    meta = dict({"sensor_size": (7, 5), "classes": ["a", "b", "c"]}, **change)
    meta = {k: v for k, v in meta.items() if v is not None}
    sources = [("s0", 0, STORE_EVENTS[0])]
    with pytest.raises(ConfigError, match=what):
        store.build(tmp_path / "train", sources, lambda s: [s], meta, progress=False)
    assert not (tmp_path / "train").exists() and not (tmp_path / "train.partial").exists()


def test_build_refuses_a_label_outside_the_classes(tmp_path):
    from spikestream.datasets import store

    meta = {"sensor_size": (7, 5), "classes": ["a", "b"]}  # a tuple size is fine (JSON list)
    with pytest.raises(ConfigError, match="sample 's1' has label 2, outside the 2 classes"):
        store.build(tmp_path / "train", [("s0", 1, STORE_EVENTS[0]), ("s1", 2, STORE_EVENTS[1])],
                    lambda s: [s], meta, progress=False)  # fmt: skip
    assert not (tmp_path / "train").exists() and not (tmp_path / "train.partial").exists()
    built = store.build(tmp_path / "ok", [("s0", 1, STORE_EVENTS[0])], lambda s: [s], meta,
                        progress=False)  # fmt: skip
    assert PackedStore(built).sensor_size == (7, 5) and PackedStore(built)[0][1] == 1


def test_concurrent_imports_into_one_folder_do_not_break_each_other(tmp_path, monkeypatch):
    """`import_events_np` calls `store.build` without a lock of its own: two imports of one
    split at once shared (and deleted) one ``.partial`` folder."""
    import threading
    import time as _time

    from spikestream.datasets import events_np

    tree = tmp_path / "events_np"
    for c, ev in zip("ab", STORE_EVENTS, strict=False):
        (tree / c).mkdir(parents=True)
        for k in range(3):
            np.savez(tree / c / f"{c}{k}.npz", t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
    original = events_np._load_npz

    def slow(source):
        _time.sleep(0.02)
        return original(source)

    monkeypatch.setattr(events_np, "_load_npz", slow)
    results, errors = [], []

    def run():
        try:
            store = events_np.import_events_np(tree, tmp_path / "packed", (7, 5), workers=1)
            results.append([len(store[i][0]) for i in range(len(store))])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [[3, 3, 3, 4, 4, 4]] * 2
    assert PackedStore(tmp_path / "packed").verify()["samples"] == 6
    assert not (tmp_path / "packed.partial").exists()


def test_store_index_out_of_range_and_iteration(small_store):
    from spikestream.datasets.store import StoreIndexError

    store = PackedStore(small_store)
    with pytest.raises(DatasetError, match=r"sample 3 outside the store's 3 samples") as err:
        store[3]
    assert isinstance(err.value, StoreIndexError) and isinstance(err.value, IndexError)
    with pytest.raises(DatasetError, match="sample -4"):
        store[-4]
    with pytest.raises(ConfigError, match="integer, not str"):
        store["0"]  # type: ignore[index]
    assert np.array_equal(store[np.int64(-1)][0], STORE_EVENTS[2])
    assert [label for _, label in store] == [0, 1, 2]  # iteration stops at the end


def test_missing_meta_json_is_an_incomplete_store(small_store):
    (small_store / "meta.json").unlink()
    with pytest.raises(DatasetError, match="not a complete packed store"):
        PackedStore(small_store)


# ------------------------------------------------------------------------ archive damage


def _gzip_tar(tmp_path: Path, payload: bytes) -> tuple[Path, bytes]:
    """A tar.gz of ``data/a.bin`` whose gzip stream goes on after the tar's end blocks (as a
    tar padded to its record size does), stored uncompressed so its bytes can be found."""
    import gzip

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("data/a.bin")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    raw = gzip.compress(buf.getvalue() + bytes(64 << 10), compresslevel=0)
    out = tmp_path / "a.tar.gz"
    out.write_bytes(raw)
    return out, raw


@pytest.mark.parametrize("where", ["content", "crc", "length"])
def test_corrupt_gzip_stream_is_refused(tmp_path, where):
    payload = np.random.default_rng(3).bytes(5000)
    good, raw = _gzip_tar(tmp_path, payload)
    assert archive.extract(good, tmp_path / "good") == tmp_path / "good"
    assert (tmp_path / "good" / "data" / "a.bin").read_bytes() == payload
    data = bytearray(raw)
    position = {"content": raw.index(payload) + 1000, "crc": len(raw) - 8, "length": len(raw) - 2}
    data[position[where]] ^= 0x01
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"bad\.tar\.gz: corrupt or truncated archive") as err:
        archive.extract(bad, tmp_path / "out")
    assert ("CRC" in str(err.value)) == (where != "length")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def _patch_zip(path: Path, local: int, central: int, value: int, size: int = 2) -> None:
    """Set a field of the (one) member's local and central headers."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = data.index(signature) + offset
        data[at : at + size] = value.to_bytes(size, "little")
    path.write_bytes(bytes(data))


def _one_member_zip(tmp_path: Path, method: int = zipfile.ZIP_STORED) -> Path:
    out = tmp_path / "one.zip"
    info = zipfile.ZipInfo("dir/member.bin")
    info.external_attr = 0o100644 << 16  # a regular file, as zip tools record it
    with zipfile.ZipFile(out, "w", method) as zf:
        zf.writestr(info, np.random.default_rng(4).bytes(4000), compress_type=method)
    return out


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x03\x04") + 30 + len("dir/member.bin") + 20
    data[start : start + 64] = bytes(range(64))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "what"),
    [
        (lambda p: _patch_zip(_one_member_zip(p), 8, 10, 9), "compression method 9"),  # Deflate64
        (lambda p: _patch_zip(_one_member_zip(p), 6, 8, 1), "is encrypted"),
        (
            lambda p: _corrupt_middle(_one_member_zip(p, zipfile.ZIP_LZMA)),
            "'dir/member.bin' is corrupt",
        ),
        (
            lambda p: _corrupt_middle(_one_member_zip(p, zipfile.ZIP_DEFLATED)),
            "'dir/member.bin' is corrupt",
        ),
    ],
)
def test_unreadable_zip_members_are_dataset_errors_naming_the_member(tmp_path, damage, what):
    damage(tmp_path)
    with pytest.raises(DatasetError, match=what) as err:
        archive.extract(tmp_path / "one.zip", tmp_path / "out")
    assert "dir/member.bin" in str(err.value) and str(tmp_path / "one.zip") in str(err.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_zips_written_by_writestr_are_accepted_devices_refused(tmp_path):
    out = tmp_path / "py.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/one.txt", b"one")  # external_attr 0o600 << 16: no file type bits
        zf.writestr(zipfile.ZipInfo("a/two.txt"), b"two")  # external_attr 0
        zf.writestr("a/sub/", b"")
    archive.extract(out, tmp_path / "out")
    assert (tmp_path / "out" / "a" / "one.txt").read_bytes() == b"one"
    assert (tmp_path / "out" / "a" / "two.txt").read_bytes() == b"two"
    assert (tmp_path / "out" / "a" / "sub").is_dir()
    for mode in (0o120777, 0o020666, 0o060666, 0o010666):  # link, char/block device, fifo
        with pytest.raises(UnsafeArchiveError, match="link or device"):
            archive.extract(_zip_with(tmp_path, "x", mode=mode), tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


# ---------------------------------------------------------------------------------- CLI


def test_cli_convert_verify_info_list(gesture_root, capsys, monkeypatch, tmp_path):
    from spikestream.cli import main

    root, _ = gesture_root
    monkeypatch.setenv("SPIKESTREAM_DATA", str(tmp_path / "default"))
    assert main(["dataset", "verify", "dvs128gesture", "--root", str(root)]) == 2
    assert "not converted" in capsys.readouterr().err
    assert main(["dataset", "convert", "dvs128gesture", "--root", str(root)]) == 0
    assert main(["dataset", "verify", "dvs128gesture", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "train: OK, 6 samples" in out and "test: OK, 2 samples" in out
    assert main(["dataset", "info", "dvs128gesture", "--root", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["train"]["samples"] == 6 and info["train"]["per_class"][7] == 2
    assert main(["dataset", "list", "--json"]) == 0
    names = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {
        "dvs128gesture",
        "nmnist",
        "cifar10dvs",
        "ncaltech101",
        "asldvs",
        "pokerdvs",
        "ndigits",
    } <= set(names)
    assert names["dvs128gesture"]["download"] == "manual" and names["nmnist"]["download"] == "auto"
    assert main(["dataset", "download", "dvs128gesture", "--root", str(tmp_path / "x")]) == 2
    assert "ibm.ent.box.com" in capsys.readouterr().err
    events = root / "packed" / "test" / "events.bin"
    events.write_bytes(b"\0" * events.stat().st_size)
    assert main(["dataset", "verify", "dvs128gesture", "--root", str(root)]) == 2
    assert "CRC-32" in capsys.readouterr().err


def test_custom_integration_cache_and_spikingjelly_compat(gesture_root):
    from spikestream.compat.spikingjelly import datasets as sjd

    root, _ = gesture_root
    calls = []

    def two_halves(events, H, W):  # SpikingJelly's custom_integrate_function signature
        calls.append(len(events["t"]))
        half = len(events["t"]) // 2
        first = to_frames(from_dict(events)[:half], (W, H), n_frames=1)
        second = to_frames(from_dict(events)[half:], (W, H), n_frames=1)
        return np.concatenate([first, second])

    ds = sjd.DVS128Gesture(
        str(root), train=True, data_type="frame", custom_integrate_function=two_halves
    )
    frames, label = ds[3]
    assert label == 2 and frames.shape == (2, 2, 128, 128)  # class 11 is SpikingJelly's 2
    assert (root / "two_halves" / "train" / "3.npy").is_file()
    again, _ = ds[3]  # read back from the cache, not computed again
    assert len(calls) == 1 and np.array_equal(again, frames)
    events, label = sjd.DVS128Gesture(str(root), train=True)[0]
    assert set(events) == {"t", "x", "y", "p"} and label == 0
    assert frames.sum() == calls[0]


@pytest.fixture
def http_server(monkeypatch):
    """A local server for one payload; honours ``Range: bytes=N-`` unless told not to."""
    import http.server
    import threading

    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a CI proxy must not see local requests

    state = {"payload": b"", "ranges": True, "requests": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"].append(self.headers.get("Range"))
            if self.path != "/data.bin":
                self.send_error(404)
                return
            body, status = state["payload"], 200
            rng = self.headers.get("Range")
            if rng and state["ranges"]:
                start = int(rng.split("=")[1].rstrip("-"))
                body, status = body[start:], 206
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # a short poll: shutdown() waits up to one poll interval (0.5 s by default) per test
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


@pytest.mark.parametrize("ranges", [True, False])
def test_http_download_resumes_a_partial_file(http_server, tmp_path, ranges):
    url, state = http_server
    payload = np.random.default_rng(5).bytes(300_000)
    state["payload"], state["ranges"] = payload, ranges
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.partial").write_bytes(payload[:123_456])  # an interrupted transfer
    archive.fetch(f"{url}/data.bin", dest, md5=md5sum_bytes(payload))
    assert dest.read_bytes() == payload and not (tmp_path / "data.bin.partial").exists()
    assert state["requests"] == ["bytes=123456-"]
    with pytest.raises(DatasetError, match="HTTP 404"):
        archive.fetch(f"{url}/missing", tmp_path / "missing.bin")


def md5sum_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data).hexdigest()


def test_ncars_from_nested_split_zips_with_a_real_clip(tmp_path, real_dir):
    """The real N-CARS sample (tonic's) decodes inside the dataset exactly as the reference."""
    real = real_dir / "tonic" / "sample_ncars.dat"
    for split in ("train", "test"):
        folder = tmp_path / "raw" / f"n-cars_{split}"
        for cls in ("background", "cars"):
            (folder / cls).mkdir(parents=True)
            (folder / cls / "obj_004396_td.dat").write_bytes(real.read_bytes())
        (tmp_path / "outer").mkdir(exist_ok=True)
        zip_folder(folder, tmp_path / "outer" / f"n-cars_{split}.zip", prefix=f"n-cars_{split}/")
    zip_folder(tmp_path / "outer", tmp_path / "Prophesee_Dataset_n_cars.zip")
    root = tmp_path / "NCARS"
    (root / "download").mkdir(parents=True)
    (root / "download" / "Prophesee_Dataset_n_cars.zip").write_bytes(
        (tmp_path / "Prophesee_Dataset_n_cars.zip").read_bytes()
    )
    train = NCARS(root, train=True)
    assert list(train.targets) == [0, 1] and len(NCARS(root, train=False)) == 2
    events, _ = train[1]
    assert len(events) == 2009 and events["t"][-1] == 99952
    assert tuple(events[0].tolist()) == (0, 25, 8, 0) and tuple(events[-1].tolist()) == (
        99952,
        75,
        28,
        1,
    )
    assert int(events["p"].sum()) == 1350  # ON events, as the README of the real files


def test_dataset_pickles_as_its_folder_for_dataloader_workers(gesture_root):
    import pickle

    import torch.utils.data

    root, _ = gesture_root
    ds = DVS128Gesture(root, train=True, data_type="frame", frames_number=2, split_by="number")
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # the store is reopened, not copied (its events are ~100 KB)
    again = pickle.loads(blob)
    assert np.array_equal(again[3][0], ds[3][0])
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2,
                                         multiprocessing_context="spawn")  # fmt: skip
    frames, labels = next(iter(loader))
    assert frames.shape == (3, 2, 2, 128, 128) and labels.tolist() == [0, 7, 7]


def test_import_a_spikingjelly_events_np_tree(gesture_root, tmp_path, capsys):
    """A dataset SpikingJelly already converted becomes packed stores with our labels."""
    from spikestream.cli import main

    root, _ = gesture_root
    ours = {s: DVS128Gesture(root, train=(s == "train")) for s in ("train", "test")}
    tree = tmp_path / "events_np"
    for split, ds in ours.items():
        export_events_np(ds.store, tree / split, DVS128Gesture.sj_folders)
    new_root = tmp_path / "imported"
    args = ["dataset", "import", "dvs128gesture", "--events-np", str(tree), "--root", str(new_root)]
    assert main(args) == 0
    for split, ds in ours.items():
        again = DVS128Gesture(new_root, train=(split == "train"))
        pairs = sorted((str(again.store.names[i]), again[i][1]) for i in range(len(again)))
        assert pairs == sorted((str(ds.store.names[i]), ds[i][1]) for i in range(len(ds)))
        assert again.class_names == list(DVS128Gesture.classes)
    (tree / "test" / "99").mkdir()
    assert main([*args[:-1], str(tmp_path / "other")]) == 2
    assert "not among" in capsys.readouterr().err


def test_concurrent_preparation_builds_once(gesture_root, monkeypatch):
    """Several processes or ranks preparing one dataset at once: one builds, the others wait
    for it and open the finished store."""
    import threading
    import time as _time

    root, _ = gesture_root
    original = DVS128Gesture.load.__func__
    loads = []

    def slow(cls, source):
        loads.append(source)
        _time.sleep(0.01)
        return original(cls, source)

    monkeypatch.setattr(DVS128Gesture, "load", classmethod(slow))
    results, errors = [], []

    def prepare():
        try:
            results.append(len(DVS128Gesture(root, train=True, workers=1)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [6, 6, 6]
    assert len(loads) == 3  # 2 train trials + 1 test trial, each decoded once
    assert PackedStore(root / "packed" / "train").verify()["samples"] == 6


def test_verify_reports_time_going_back_inside_a_sample(gesture_root):
    root, _ = gesture_root
    folder = DVS128Gesture(root, train=True).store.folder
    events = np.fromfile(folder / "events.bin", dtype=ss.EVENT_DTYPE)
    events["t"][5] = events["t"][4] - 1  # inside the first sample
    events.tofile(folder / "events.bin")
    meta = json.loads((folder / "meta.json").read_text())
    import zlib

    meta["events_crc32"] = zlib.crc32(events.view(np.uint8).data)  # a consistent but bad store
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="timestamps go back at event 5"):
        PackedStore(folder).verify()
