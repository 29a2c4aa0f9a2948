"""The packed store: one split of a dataset as one memory-mapped event array plus an index.

A store is a folder holding

* ``events.bin``: every sample's events back to back, as raw `EVENT_DTYPE` records;
* ``index.npz``: ``offsets`` (int64, n + 1: sample i is ``events[offsets[i]:offsets[i + 1]]``),
  ``labels`` (int64) and ``names`` (str);
* ``meta.json``: format version, dataset, split, sensor size, classes, counts and the CRC-32 of
  ``events.bin`` (checked by `PackedStore.verify`).

It is built under ``<folder>.partial`` and renamed when complete, so a folder with the final
name is a finished store; loading a sample is a slice of the memory map, not a file open.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..events import EVENT_DTYPE, as_events

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
    GIL) and written in order; the folder appears only once everything is written."""
    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    offsets, labels, names = [0], [], []
    crc = 0
    workers = workers or min(8, os.cpu_count() or 1)
    try:
        from tqdm import tqdm

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
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


class PackedStore:
    """Read access to a packed store: ``store[i] -> (events, label)``, events being a read-only
    view of the memory map (copy it before changing it)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if not is_complete(self.folder):
            raise DatasetError(f"{self.folder}: not a complete packed store (no meta.json)")
        try:
            self.meta = json.loads((self.folder / "meta.json").read_text())
            with np.load(self.folder / "index.npz") as index:
                self.offsets = index["offsets"]
                self.labels = index["labels"]
                self.names = index["names"]
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(f"{self.folder}: unreadable store index ({exc})") from exc
        if self.meta.get("version") != STORE_VERSION:
            raise DatasetError(
                f"{self.folder}: store version {self.meta.get('version')}, "
                f"this spikestream reads {STORE_VERSION}; convert again"
            )
        n_events = int(self.offsets[-1])
        path = self.folder / "events.bin"
        size = path.stat().st_size
        if size != n_events * EVENT_DTYPE.itemsize or len(self.offsets) != len(self.labels) + 1:
            raise DatasetError(
                f"{self.folder}: events.bin holds {size} bytes, the index "
                f"describes {n_events} events; convert again"
            )
        self.events = (
            np.memmap(path, dtype=EVENT_DTYPE, mode="r")
            if n_events
            else np.empty(0, dtype=EVENT_DTYPE)
        )

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
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} of {len(self)}")
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
            raise DatasetError(f"{self.folder}: events.bin does not match its recorded CRC-32")
        if np.any(np.diff(self.offsets) < 0) or self.offsets[0] != 0:
            raise DatasetError(f"{self.folder}: sample offsets are not increasing")
        n_classes = len(self.meta["classes"])
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= n_classes):
            raise DatasetError(f"{self.folder}: labels outside 0..{n_classes - 1}")
        w, h = self.sensor_size
        ev = self.events
        if len(ev):
            bad = (ev["x"] >= w) | (ev["y"] >= h) | (ev["p"] > 1)
            if bad.any():
                i = int(np.argmax(bad))
                raise DatasetError(
                    f"{self.folder}: event {i} lies outside the {w}x{h} sensor "
                    "or has a polarity other than 0/1"
                )
            backwards = np.flatnonzero(np.diff(ev["t"]) < 0) + 1
            inside = np.setdiff1d(backwards, self.offsets[1:-1])  # not at a sample's start
            if len(inside):
                raise DatasetError(f"{self.folder}: timestamps go back at event {inside[0]}")
        return {
            "folder": str(self.folder),
            "samples": len(self),
            "events": len(ev),
            "classes": n_classes,
        }
