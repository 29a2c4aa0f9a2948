"""The packed store: one split of a dataset as one memory-mapped event array plus an index.

A store is a folder holding

* ``events.bin``: every sample's events back to back, as raw `EVENT_DTYPE` records;
* ``index.npz``: ``offsets`` (int64, n + 1: sample i is ``events[offsets[i]:offsets[i + 1]]``),
  ``labels`` (int64) and ``names`` (str);
* ``meta.json``: format version, dataset, split, sensor size, classes, counts and the CRC-32 of
  ``events.bin`` (checked by `PackedStore.verify`).

It is built under ``<folder>.partial`` (`spikestream.files.atomic_dir`) and renamed when
complete, so a folder with the final name is a finished store; loading a sample is a slice of the
memory map, not a file open. Opening checks, cheaply, everything a load relies on (the files,
their dtypes and shapes, monotone offsets ending at the size of ``events.bin``, labels within
the classes); `PackedStore.verify` checks the events themselves. Every damage is a
`DatasetError` naming the folder and what is wrong.
"""

from __future__ import annotations

import json
import operator
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..errors import ConfigError, DatasetError
from ..events import EVENT_DTYPE, as_events, first_outside
from ..files import atomic_dir, build_lock

STORE_VERSION = 1
# one raw file may hold several samples (DVS128 Gesture trials are cut into gestures)
Sample = tuple[str, int, np.ndarray]  # (name, label, events)


def is_complete(folder: Path) -> bool:
    return (Path(folder) / "meta.json").is_file()


def build(
    folder: Path,
    sources: Sequence[Any],
    load: Callable[[Any], Iterable[Sample]],
    meta: dict[str, Any],
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Convert ``sources`` (e.g. raw file paths) with ``load`` (one source -> its samples) into
    the store ``folder``. Sources are decoded in parallel threads (the decoders release the
    GIL) and written in order; the folder appears only once everything is written.

    ``meta`` (``sensor_size``, ``classes``, plus anything JSON can hold) is checked first with
    the rules `PackedStore` opens a store by, and every label against the classes, so a build
    never writes a store its reader refuses (`ConfigError`). Builds of one ``folder`` hold its
    `build_lock` (they share the ``<folder>.partial`` folder): concurrent builds run one after
    the other, and the last one's store stays."""
    folder = Path(folder)
    n_classes = _check_meta_for_build(meta)
    offsets, labels, names = [0], [], []
    crc = 0
    workers = workers or min(8, os.cpu_count() or 1)
    from tqdm import tqdm

    with build_lock(folder), atomic_dir(folder) as partial:
        with (
            ThreadPoolExecutor(workers) as pool,
            open(partial / "events.bin", "wb") as out,
            tqdm(
                total=len(sources),
                desc=f"{meta.get('dataset', '')} {meta.get('split', '')}",
                unit="file",
                disable=None if progress else True,
            ) as bar,
        ):
            for samples in pool.map(lambda s: list(load(s)), sources):
                for name, label, events in samples:
                    if not 0 <= int(label) < n_classes:
                        raise ConfigError(
                            f"{folder}: sample {name!r} has label {label}, outside the "
                            f"{n_classes} classes (0..{n_classes - 1}) of meta['classes']"
                        )
                    ev = np.ascontiguousarray(as_events(events))
                    data = ev.view(np.uint8).data  # the raw records, no copy
                    out.write(data)
                    crc = zlib.crc32(data, crc)
                    offsets.append(offsets[-1] + len(ev))
                    labels.append(int(label))
                    names.append(name)
                bar.update(1)
        np.savez(
            partial / "index.npz",
            offsets=np.asarray(offsets, dtype=np.int64),
            labels=np.asarray(labels, dtype=np.int64),
            names=np.asarray(names, dtype=str),
        )
        full = dict(
            meta,
            version=STORE_VERSION,
            n_samples=len(labels),
            n_events=offsets[-1],
            events_crc32=crc,
        )
        (partial / "meta.json").write_text(json.dumps(full, indent=1))
    return folder


def meta_problem(meta: Any) -> str | None:
    """What makes ``meta`` (a store's meta.json, as read back) unusable, or None: the one set
    of rules `PackedStore` opens a store by and `build` checks before writing one."""
    if not isinstance(meta, dict):
        return "meta.json does not hold a JSON object"
    sensor, classes = meta.get("sensor_size"), meta.get("classes")
    if not (
        isinstance(sensor, list)
        and len(sensor) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sensor)
    ):
        return f"meta.json: sensor_size {sensor!r} is not [width, height]"
    if not isinstance(classes, list):
        return f"meta.json: classes {classes!r} is not a list"
    for key in ("events_crc32", "n_samples", "n_events"):
        if not isinstance(meta.get(key), int) or isinstance(meta.get(key), bool):
            return f"meta.json: {key} {meta.get(key)!r} is not an integer"
    return None


def _check_meta_for_build(meta: dict[str, Any]) -> int:
    """`ConfigError` unless ``meta`` makes a store `PackedStore` opens; the class count."""
    try:
        # what the reader will see: JSON turns tuples into lists, and refuses what it cannot hold
        back = json.loads(json.dumps(dict(meta, version=STORE_VERSION, n_samples=0,
                                          n_events=0, events_crc32=0)))  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"store meta {meta!r} is not JSON ({exc})") from None
    problem = meta_problem(back)
    if problem is not None:
        raise ConfigError(
            f"store meta {meta!r} would make a store spikestream cannot open ({problem}); "
            "give sensor_size=[width, height] and classes=[name, ...]"
        )
    return len(back["classes"])


class StoreIndexError(DatasetError, IndexError):
    """A sample index outside the store (an `IndexError` too, so iteration stops there)."""


class PackedStore:
    """Read access to a packed store: ``store[i] -> (events, label)``, events being a read-only
    view of the memory map (copy it before changing it)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if not is_complete(self.folder):
            raise DatasetError(
                f"{self.folder}: not a complete packed store (no meta.json); convert the "
                "dataset (`spikestream dataset convert`), which rebuilds the folder"
            )
        self.meta = self._read_meta()
        self.offsets, self.labels, self.names = self._read_index()
        path = self.folder / "events.bin"
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            self._damaged("events.bin is missing or not a file")
        n_events = int(self.offsets[-1])
        if size != n_events * EVENT_DTYPE.itemsize:
            self._damaged(
                f"events.bin holds {size} bytes, the index describes {n_events} events of "
                f"{EVENT_DTYPE.itemsize} bytes"
            )
        try:
            self.events = (
                np.memmap(path, dtype=EVENT_DTYPE, mode="r")
                if n_events
                else np.empty(0, dtype=EVENT_DTYPE)
            )
        except (OSError, ValueError) as exc:
            self._damaged(f"events.bin cannot be mapped ({exc})")

    def _damaged(self, what: str) -> NoReturn:
        raise DatasetError(
            f"{self.folder}: damaged packed store: {what}. Delete the folder {self.folder} and "
            "run again to rebuild it (or `spikestream dataset convert`)"
        )

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads((self.folder / "meta.json").read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self._damaged(f"meta.json is not readable JSON ({exc})")
        if isinstance(meta, dict) and meta.get("version") != STORE_VERSION:
            raise DatasetError(
                f"{self.folder}: store version {meta.get('version')!r}, this spikestream reads "
                f"{STORE_VERSION}; delete the folder {self.folder} and convert again"
            )
        problem = meta_problem(meta)
        if problem is not None:
            self._damaged(problem)
        return meta

    def _read_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """offsets, labels, names, checked for what every load relies on (O(samples))."""
        arrays = {}
        try:
            with np.load(self.folder / "index.npz", allow_pickle=False) as index:
                for key in ("offsets", "labels", "names"):
                    if key not in index.files:
                        self._damaged(f"index.npz has no {key!r} array")
                    arrays[key] = index[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            self._damaged(f"index.npz is not a readable .npz file ({type(exc).__name__}: {exc})")
        offsets, labels, names = arrays["offsets"], arrays["labels"], arrays["names"]
        n = self.meta["n_samples"]
        for key, arr, kind, length in (
            ("offsets", offsets, "i", n + 1),
            ("labels", labels, "i", n),
            ("names", names, "U", n),
        ):
            if arr.dtype.kind != kind or arr.ndim != 1 or len(arr) != length:
                self._damaged(
                    f"index.npz: {key} is {arr.dtype} of shape {arr.shape}, expected a 1-D "
                    f"{'integer' if kind == 'i' else 'string'} array of {length} "
                    f"(meta.json: {n} samples)"
                )
        offsets = offsets.astype(np.int64, copy=False)
        labels = labels.astype(np.int64, copy=False)
        if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            bad = 0 if offsets[0] != 0 else int(np.argmax(np.diff(offsets) < 0)) + 1
            self._damaged(f"index.npz: sample offsets do not increase from 0 (at offset {bad})")
        if offsets[-1] != self.meta["n_events"]:
            self._damaged(
                f"index.npz ends at event {offsets[-1]}, meta.json counts {self.meta['n_events']}"
            )
        n_classes = len(self.meta["classes"])
        if n and (labels.min() < 0 or labels.max() >= n_classes):
            i = int(np.argmax((labels < 0) | (labels >= n_classes)))
            self._damaged(f"index.npz: label {labels[i]} of sample {i} outside 0..{n_classes - 1}")
        return offsets, labels, names

    def __getstate__(self) -> dict[str, Any]:
        # pickled (DataLoader workers under spawn) as its folder, reopened on the other side:
        # never the events themselves
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc]

    @property
    def sensor_size(self) -> tuple[int, int]:
        w, h = self.meta["sensor_size"]
        return int(w), int(h)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        try:
            i = operator.index(i)
        except TypeError:
            raise ConfigError(
                f"{self.folder}: a sample index is an integer, not {type(i).__name__} {i!r}"
            ) from None
        if not -len(self) <= i < len(self):
            raise StoreIndexError(
                f"{self.folder}: sample {i} outside the store's {len(self)} samples "
                f"(0..{len(self) - 1}, or negative from the end)"
            )
        i = i % len(self)
        # a plain ndarray view (not the memmap subclass) of the mapped records, read-only
        return np.asarray(self.events[self.offsets[i] : self.offsets[i + 1]]), int(self.labels[i])

    def summary(self) -> dict[str, Any]:
        """Samples, events, events per sample (mean, min, max), mean duration of the non-empty
        samples, empty samples and samples per class."""
        counts = np.diff(self.offsets)
        full = np.flatnonzero(counts > 0)
        t = self.events["t"]
        durations = t[self.offsets[full + 1] - 1] - t[self.offsets[full]]
        return {
            "samples": len(self),
            "events": int(self.offsets[-1]),
            "events_mean": float(counts.mean()) if len(counts) else 0.0,
            "events_min": int(counts.min()) if len(counts) else 0,
            "events_max": int(counts.max()) if len(counts) else 0,
            "duration_us_mean": float(durations.mean()) if len(full) else 0.0,
            "empty_samples": int(len(counts) - len(full)),
            "per_class": np.bincount(self.labels, minlength=len(self.meta["classes"])).tolist(),
        }

    def verify(self) -> dict[str, Any]:
        """Check everything the store promises: the events' CRC-32, monotone offsets, labels
        within the classes, and per sample sorted timestamps, coordinates inside the sensor and
        polarities 0/1. Raises `DatasetError` naming the first problem; returns a summary."""
        crc = 0
        raw = self.events.view(np.uint8)
        for start in range(0, len(raw), 64 << 20):
            crc = zlib.crc32(raw[start : start + (64 << 20)].data, crc)
        if crc != self.meta["events_crc32"]:
            self._damaged("events.bin does not match its recorded CRC-32")
        # offsets, labels, dtypes and sizes were checked when the store was opened
        n_classes = len(self.meta["classes"])
        w, h = self.sensor_size
        ev = self.events
        if len(ev):
            found = [first_outside(ev["x"], ev["y"], w, h), first_outside(ev["p"], None, 2, None)]
            if any(i is not None for i in found):
                i = min(i for i in found if i is not None)
                self._damaged(
                    f"event {i} lies outside the {w}x{h} sensor or has a polarity other than 0/1"
                )
            backwards = np.flatnonzero(np.diff(ev["t"]) < 0) + 1
            inside = np.setdiff1d(backwards, self.offsets[1:-1])  # not at a sample's start
            if len(inside):
                self._damaged(f"timestamps go back at event {inside[0]}")
        return {
            "folder": str(self.folder),
            "samples": len(self),
            "events": len(ev),
            "classes": n_classes,
        }
