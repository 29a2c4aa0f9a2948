"""Tonic 1.7's ``tonic.slicers``: cut one recording into many by time, by event count or into a
fixed number of bins, with Tonic's window rules (`spikestream.transforms.functional.slicing`).
``get_slice_metadata`` gives each slice's ``(start, stop)`` event indices;
``slice_with_metadata`` cuts with them. As in Tonic, ``slice`` and ``slice_with_metadata`` return
``(list_of_slices, targets)``: the targets once, not per slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConfigError
from ...transforms.functional import slicing
from .. import _unsupported


class _Slicer:
    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def get_slice_metadata(self, data: np.ndarray, targets: Any) -> list[tuple[int, int]]:
        starts, stops = self._edges(data)
        return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]

    def slice_with_metadata(
        self, data: np.ndarray, targets: Any, metadata: Any
    ) -> tuple[list[np.ndarray], Any]:
        edges = np.asarray(metadata, dtype=np.int64).reshape(-1, 2)
        return [data[start:stop] for start, stop in edges], targets

    def slice(self, data: np.ndarray, targets: Any) -> tuple[list[np.ndarray], Any]:
        return self.slice_with_metadata(data, targets, self.get_slice_metadata(data, targets))


@dataclass(frozen=True)
class SliceByTime(_Slicer):
    time_window: float
    overlap: float = 0.0
    include_incomplete: bool = False

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(data["t"])
        return slicing.tonic_time_window(t, self.time_window, self.overlap,
                                         self.include_incomplete)  # fmt: skip


@dataclass(frozen=True)
class SliceByEventCount(_Slicer):
    event_count: int
    overlap: int = 0
    include_incomplete: bool = False

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return slicing.tonic_event_count(len(data), self.event_count, self.overlap,
                                         self.include_incomplete)  # fmt: skip


@dataclass(frozen=True)
class SliceByTimeBins(_Slicer):
    bin_count: int
    overlap: float = 0.0

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return slicing.tonic_n_time_bins(np.asarray(data["t"]), self.bin_count, self.overlap)


@dataclass(frozen=True)
class SliceByEventBins(_Slicer):
    bin_count: int
    overlap: float = 0.0

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return slicing.tonic_n_event_bins(len(data), self.bin_count, self.overlap)


@dataclass(frozen=True)
class SliceAtIndices(_Slicer):
    """Slices ``data[start:end]`` for each pair of ``start_indices`` / ``end_indices``."""

    start_indices: Any
    end_indices: Any

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _pairs(self.start_indices, self.end_indices, "start_indices", "end_indices")


@dataclass(frozen=True)
class SliceAtTimePoints(_Slicer):
    """Slices of the events with ``start_tw <= t < end_tw`` for each pair (``t`` sorted)."""

    start_tw: Any
    end_tw: Any

    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start, end = _pairs(self.start_tw, self.end_tw, "start_tw", "end_tw", integer=False)
        t = np.asarray(data["t"])
        return np.searchsorted(t, start), np.searchsorted(t, end)


def _pairs(
    start: Any, end: Any, first: str, second: str, integer: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.atleast_1d(np.asarray(start)), np.atleast_1d(np.asarray(end))
    if a.ndim != 1 or a.shape != b.shape:
        raise ConfigError(f"{first} and {second} must be 1-D and of the same length, got "
                          f"shapes {a.shape} and {b.shape}")  # fmt: skip
    if integer and len(a) and (a.dtype.kind not in "iu" or b.dtype.kind not in "iu"):
        raise ConfigError(f"{first} and {second} must be integer event indices")
    return a, b


__all__ = [
    "SliceAtIndices",
    "SliceAtTimePoints",
    "SliceByEventBins",
    "SliceByEventCount",
    "SliceByTime",
    "SliceByTimeBins",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        **{
            name: "the Slice* classes here: Slicer(...).slice(events, None)[0]"
            for name in (
                "slice_events_by_time",
                "slice_events_by_time_bins",
                "slice_events_by_count",
                "slice_events_by_event_bins",
                "slice_events_at_indices",
                "slice_events_at_timepoints",
            )
        },
        "Slicer": "any object with get_slice_metadata / slice_with_metadata (a Protocol in Tonic)",
    },
)
