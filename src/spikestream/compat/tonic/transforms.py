"""Tonic 1.7's ``tonic.transforms`` classes with the same arguments and results::

    # import tonic.transforms as transforms
    from spikestream.compat.tonic import transforms

Inputs are structured arrays with fields x, y, t, p (any order and dtype), as in Tonic;
``sensor_size`` is ``(W, H, P)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...transforms import functional as F


@dataclass(frozen=True)
class ToFrame:
    sensor_size: tuple[int, int, int]
    time_window: float | None = None
    event_count: int | None = None
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0
    include_incomplete: bool = False

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.tonic_frames(
            events,
            (self.sensor_size[0], self.sensor_size[1]),
            time_window=self.time_window,
            event_count=self.event_count,
            n_time_bins=self.n_time_bins,
            n_event_bins=self.n_event_bins,
            overlap=self.overlap,
            include_incomplete=self.include_incomplete,
        )


@dataclass(frozen=True)
class ToVoxelGrid:
    sensor_size: tuple[int, int, int]
    n_time_bins: int

    def __call__(self, events: np.ndarray) -> np.ndarray:
        size = (self.sensor_size[0], self.sensor_size[1])
        return F.to_voxel_grid(events, size, self.n_time_bins, tonic_dtype_quirks=True)


@dataclass(frozen=True)
class ToTimesurface:
    sensor_size: tuple[int, int, int]
    dt: float
    tau: float

    def __call__(self, events: np.ndarray) -> np.ndarray:
        w, h, p = self.sensor_size
        return F.to_time_surface(events, (w, h), int(self.dt), self.tau, n_polarities=p)


@dataclass(frozen=True)
class Denoise:
    filter_time: float = 10000

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return events[F.denoise_mask(events, int(self.filter_time))]


@dataclass(frozen=True)
class RefractoryPeriod:
    delta: float

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return events[F.refractory_mask(events, int(self.delta))]


@dataclass(frozen=True)
class DropEvent:
    """Drop ``int(p * N + 0.5)`` events chosen without replacement (Tonic's rule; the random
    stream differs from Tonic's, so the chosen events do too)."""

    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.augment.drop_events(events, self.p)


__all__ = ["Denoise", "DropEvent", "RefractoryPeriod", "ToFrame", "ToTimesurface", "ToVoxelGrid"]
