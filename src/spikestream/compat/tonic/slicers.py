"""Tonic 1.7's ``tonic.slicers``: cut one recording into many by time, by event count or into a
fixed number of bins, with Tonic's window rules (`spikestream.transforms.functional.slicing`).
``get_slice_metadata`` gives each slice's ``(start, stop)`` event indices;
``slice_with_metadata`` cuts with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...transforms.functional import slicing


class _Slicer:
    def _edges(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def get_slice_metadata(self, data: np.ndarray, targets: Any) -> list[tuple[int, int]]:
        starts, stops = self._edges(data)
        return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]

    def slice_with_metadata(
        self, data: np.ndarray, targets: Any, metadata: list[tuple[int, int]]
    ) -> list[tuple[np.ndarray, Any]]:
        return [(data[start:stop], targets) for start, stop in metadata]

    def slice(self, data: np.ndarray, targets: Any) -> list[tuple[np.ndarray, Any]]:
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


__all__ = ["SliceByEventBins", "SliceByEventCount", "SliceByTime", "SliceByTimeBins"]
