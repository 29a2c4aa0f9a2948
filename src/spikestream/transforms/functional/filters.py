"""Event filters with Tonic 1.7's exact semantics, as boolean keep-masks (one compiled pass)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import first_outside, limits, require_sorted
from .frames import _fields


def _memory_shape(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, sensor_size: Any, what: str
) -> tuple[int, int]:
    """The per-pixel memory, sized as Tonic sizes it: from the events (max + 1), which changes
    which neighbours exist at the border. It is bounded: coordinates must lie inside
    ``sensor_size`` when given, and the memory under `limits.MAX_BYTES`."""
    require_sorted(t, what)  # the filters compare each event with earlier ones
    if not len(x):
        return (1, 1)
    width, height = limits.sensor_dims(sensor_size) if sensor_size is not None else (None, None)
    i = first_outside(x, y, width, height)
    if i is not None:
        where = f"the {width}x{height} sensor" if width is not None else "the sensor (x, y >= 0)"
        raise ValidationError(f"event {i} (x={x[i]}, y={y[i]}) is outside {where}", index=i)
    shape = (int(x.max()) + 1, int(y.max()) + 1)
    limits.check_size(
        shape,
        np.int64,
        f"{what}'s per-pixel memory (up to the largest x and y)",
        "coordinates this large are likely wrong; pass sensor_size=(W, H) to check them",
    )
    return shape


@numba.njit(cache=True, nogil=True)
def _denoise(t, x, y, filter_time, eight, memory, keep):  # pragma: no cover - compiled
    nx, ny = memory.shape
    for i in range(len(t)):
        xi, yi, ti = np.int64(x[i]), np.int64(y[i]), np.int64(t[i])
        memory[xi, yi] = ti + filter_time
        ok = False
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                if dx == 0 and dy == 0:
                    continue
                if not eight and dx != 0 and dy != 0:
                    continue
                u, v = xi + dx, yi + dy
                if 0 <= u < nx and 0 <= v < ny and memory[u, v] > ti:
                    ok = True
        keep[i] = ok


def denoise_mask(
    events: Any,
    filter_time: int,
    *,
    neighbourhood: int = 4,
    sensor_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Tonic's ``Denoise``: keep an event when a neighbour pixel (4-neighbourhood; 8 as an option)
    fired less than ``filter_time`` µs before it. As in Tonic the memory starts at
    ``filter_time``, so every event with ``t < filter_time`` is kept. Events must be sorted by
    time; with ``sensor_size`` an event outside it raises `ValidationError`."""
    if neighbourhood not in (4, 8):
        raise ConfigError(f"neighbourhood must be 4 or 8, got {neighbourhood}")
    t, x, y, _ = _fields(events)
    shape = _memory_shape(t, x, y, sensor_size, "Denoise")
    memory = np.full(shape, filter_time, dtype=np.int64)
    keep = np.zeros(len(t), dtype=np.bool_)
    _denoise(t, x, y, int(filter_time), neighbourhood == 8, memory, keep)
    return keep


@numba.njit(cache=True, nogil=True)
def _refractory(t, x, y, delta, memory, keep):  # pragma: no cover - compiled
    for i in range(len(t)):
        xi, yi, ti = np.int64(x[i]), np.int64(y[i]), np.int64(t[i])
        keep[i] = ti - memory[xi, yi] > delta
        memory[xi, yi] = ti


def refractory_mask(
    events: Any, delta: int, *, sensor_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Tonic's ``RefractoryPeriod``: keep an event when its pixel's previous event (kept or not)
    is more than ``delta`` µs older. The memory starts at ``-delta``, so an event at t = 0 is
    dropped, as in Tonic. Events must be sorted by time; with ``sensor_size`` an event outside
    it raises `ValidationError`."""
    t, x, y, _ = _fields(events)
    shape = _memory_shape(t, x, y, sensor_size, "RefractoryPeriod")
    memory = np.full(shape, -int(delta), dtype=np.int64)
    keep = np.zeros(len(t), dtype=np.bool_)
    _refractory(t, x, y, int(delta), memory, keep)
    return keep


def denoise(
    events: np.ndarray,
    filter_time: int,
    *,
    neighbourhood: int = 4,
    sensor_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The events `denoise_mask` keeps."""
    keep = denoise_mask(events, filter_time, neighbourhood=neighbourhood, sensor_size=sensor_size)
    return events[keep]


def refractory_period(
    events: np.ndarray, delta: int, *, sensor_size: tuple[int, int] | None = None
) -> np.ndarray:
    """The events `refractory_mask` keeps."""
    return events[refractory_mask(events, delta, sensor_size=sensor_size)]
