"""Tonic 1.7's ``tonic.datasets.POKERDVS``, ``NMNIST`` and ``DVSGesture``: ``save_to=``, Tonic's
sample types (structured arrays with Tonic's ``dtype`` per dataset, ``sensor_size`` as
``(W, H, P)``, ``ordering``, ``classes``) and ``transform`` / ``target_transform`` /
``transforms``::

    # import tonic; trainset = tonic.datasets.POKERDVS(save_to="./data", train=True)
    from spikestream.compat import tonic
    trainset = tonic.datasets.POKERDVS(save_to="./data", train=True)

Files already in Tonic's layout under ``<save_to>/<Name>/`` (``pips_train/<symbol>/*.npy``,
``Train/<digit>/*.bin``, ``ibmGestureTrain/<trial>/<label>.npy``) are read in place, one file per
sample, as Tonic does. Otherwise the dataset is fetched and converted by `spikestream.datasets`
into ``<save_to>/<Name>/`` (``download/``, ``extract/``, ``packed/``) and served with Tonic's
dtypes. What differs on purpose: files are listed in sorted order (Tonic follows the file
system's order for folders), Tonic's archive file need not be present next to its extracted
folder, and DVS128 Gesture from IBM's original archive (Tonic's preprocessed copy is not
fetched) keeps microsecond timestamps where Tonic's copy has milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ... import datasets as _datasets
from ...errors import DatasetError
from ...io import read
from .. import _unsupported
from ._apply import apply_transforms


def _structured(columns: dict[str, np.ndarray], dtype: np.dtype) -> np.ndarray:
    out = np.empty(len(next(iter(columns.values()))), dtype=dtype)
    for name in dtype.names or ():
        out[name] = columns[name]
    return out


class _TonicDataset:
    """Tonic's ``Dataset``: ``events, target = ds[i]`` with the transforms applied."""

    sensor_size: ClassVar[tuple[int, int, int]]
    dtype: ClassVar[np.dtype]
    ordering: ClassVar[tuple[str, ...] | None]
    classes: ClassVar[list[str]]
    folders: ClassVar[tuple[str, str]]  # Tonic's (train, test) folder names
    pattern: ClassVar[str]
    core: ClassVar[type[_datasets.EventDataset]]

    def __init__(self, save_to: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:  # fmt: skip
        self.location_on_system = os.path.join(save_to, type(self).__name__)
        self.train = train
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms
        self.folder_name = self.folders[0 if train else 1]
        folder = Path(self.location_on_system) / self.folder_name
        self.data: list[Path] = sorted(folder.rglob(self.pattern)) if folder.is_dir() else []
        self._store: Any = None
        if self.data:
            self.targets = [self.target_of(path) for path in self.data]
        else:  # not in Tonic's layout: fetch and convert with spikestream
            self._store = self.core(self.location_on_system, train=train, download=True)
            self.targets = [int(v) for v in self._store.targets]

    def target_of(self, path: Path) -> int:
        raise NotImplementedError

    def read(self, path: Path) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if self._store is not None:
            stored = self._store.store[index][0]
            events = _structured({k: stored[k] for k in "txyp"}, self.dtype)
        else:
            events = self.read(self.data[index])
        return apply_transforms(self, events, self.targets[index])

    def __repr__(self) -> str:
        return "Dataset " + type(self).__name__


def _rows(path: Path, columns: int) -> np.ndarray:
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy array ({exc})") from exc
    if rows.ndim != 2 or rows.shape[1] != columns:
        raise DatasetError(f"{path}: expected {columns} columns per event, got {rows.shape}")
    return rows


class POKERDVS(_TonicDataset):
    """POKER-DVS: 35x35, 4 card symbols; events ``(t, x, y, p)`` int64."""

    sensor_size = (35, 35, 2)
    dtype = np.dtype([("t", np.int64), ("x", np.int64), ("y", np.int64), ("p", np.int64)])
    ordering = dtype.names
    classes = ["cl", "he", "di", "sp"]
    int_classes = dict(zip(classes, range(4), strict=True))
    folders = ("pips_train", "pips_test")
    pattern = "*.npy"
    core = _datasets.POKERDVS

    def target_of(self, path: Path) -> int:
        symbol = path.parent.name[-2:]
        if symbol not in self.int_classes:
            raise DatasetError(
                f"{path}: folder {path.parent.name!r} names no class of {self.classes}"
            )
        return self.int_classes[symbol]

    def read(self, path: Path) -> np.ndarray:
        rows = _rows(path, 4)
        return _structured({k: rows[:, c] for c, k in enumerate("txyp")}, self.dtype)


_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class NMNIST(_TonicDataset):
    """N-MNIST: 34x34, 10 digits; events ``(x, y, t, p)`` int64. ``first_saccade_only`` keeps
    the events before 100 ms."""

    sensor_size = (34, 34, 2)
    dtype = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
    ordering = dtype.names
    classes = [f"{d} - {name}" for d, name in enumerate(_DIGITS)]
    folders = ("Train", "Test")
    pattern = "*.bin"
    core = _datasets.NMNIST

    def __init__(self, save_to: str | os.PathLike, train: bool = True,
                 first_saccade_only: bool = False, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:  # fmt: skip
        self.first_saccade_only = first_saccade_only
        super().__init__(save_to, train, transform, target_transform, transforms)

    def target_of(self, path: Path) -> int:
        try:
            return int(path.parent.name)
        except ValueError:
            raise DatasetError(f"{path}: folder {path.parent.name!r} is not a digit") from None

    def read(self, path: Path) -> np.ndarray:
        ev = read(path, format="nmnist", sensor_size=(34, 34)).events
        return _structured({k: ev[k] for k in "txyp"}, self.dtype)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not self.first_saccade_only:
            return super().__getitem__(index)
        transform, self.transform = self.transform, None
        try:
            events, target = super().__getitem__(index)
        finally:
            self.transform = transform
        events = events[events["t"] < 100_000]  # before the transforms, as Tonic does
        return events if transform is None else transform(events), target


class DVSGesture(_TonicDataset):
    """DVS128 Gesture: 128x128, 11 gestures; events ``(x, y, p, t)`` with int16 x/y, bool p
    and int64 t in µs. Tonic's preprocessed files (``<trial>/<label>.npy``, columns
    x, y, p, t in ms) are read in place."""

    sensor_size = (128, 128, 2)
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    ordering = dtype.names
    classes = list(_datasets.DVS128Gesture.classes)
    folders = ("ibmGestureTrain", "ibmGestureTest")
    pattern = "*.npy"
    core = _datasets.DVS128Gesture

    def target_of(self, path: Path) -> int:
        try:
            return int(path.stem)
        except ValueError:
            raise DatasetError(f"{path}: the file name is not a class number") from None

    def read(self, path: Path) -> np.ndarray:
        rows = _rows(path, 4)
        t = (rows[:, 3] * 1000).astype(np.int64)  # ms -> µs, cast (truncated) as Tonic does
        return _structured({"x": rows[:, 0], "y": rows[:, 1], "p": rows[:, 2], "t": t}, self.dtype)


__all__ = ["NMNIST", "POKERDVS", "DVSGesture"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        **{
            name: f"spikestream.datasets.{name}, or spikestream.compat.spikingjelly.datasets"
            for name in ("CIFAR10DVS", "NCALTECH101", "ASLDVS", "NCARS")
        },
        **{
            name: "no spikestream dataset yet; read the files with spikestream.io"
            for name in (
                "DAVISDATA",
                "DSEC",
                "EBSSA",
                "MVSEC",
                "NavGesture",
                "NTIDIGITS",
                "NTIDIGITS18",
                "SMNIST",
                "TUMVIE",
                "VPR",
                "DVSLip",
                "POKERDVS131",
                "ThreeET_Eyetracking",
                "UZHFPV",
            )
        },
        "SHD": "no spikestream dataset (audio spikes)",
        "SSC": "no spikestream dataset (audio spikes)",
    },
)
