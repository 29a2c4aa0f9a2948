"""Voxel grids and time surfaces with Tonic 1.7's semantics."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ...errors import ConfigError, ValidationError
from . import slicing
from .frames import _fields


@numba.njit(cache=True, nogil=True)
def _voxel(t, x, y, w, n_bins, out):  # pragma: no cover - compiled
    t0 = np.float64(t[0])
    span = np.float64(t[len(t) - 1]) - t0
    height, width = out.shape[2], out.shape[3]
    for i in range(len(t)):
        if x[i] < 0 or x[i] >= width or y[i] < 0 or y[i] >= height:
            return i
    # Tonic adds all left-bin contributions, then all right-bin ones (two scatter-adds):
    # keeping that order keeps the float sums bit-identical.
    for i in range(len(t)):
        ts = n_bins * (np.float64(t[i]) - t0) / span
        b = int(ts)
        if b < n_bins:
            out[b, 0, y[i], x[i]] += w[i] * (1.0 - (ts - b))
    for i in range(len(t)):
        ts = n_bins * (np.float64(t[i]) - t0) / span
        b = int(ts)
        if b + 1 < n_bins:
            out[b + 1, 0, y[i], x[i]] += w[i] * (ts - b)
    return -1


def polarity_weights(p: np.ndarray, *, tonic_dtype_quirks: bool = False) -> np.ndarray:
    """+1 for ON, -1 for OFF. With ``tonic_dtype_quirks`` the weight is computed as Tonic does,
    inside the polarity field's own dtype: a bool field turns -1 into True (every event +1), an
    unsigned field cannot hold -1 (Tonic raises OverflowError; here `ConfigError`)."""
    if tonic_dtype_quirks:
        if p.dtype == np.bool_:
            return np.ones(len(p), dtype=np.float64)
        if p.dtype.kind == "u":
            raise ConfigError(
                f"Tonic's ToVoxelGrid cannot weight an unsigned polarity field ({p.dtype}): it "
                "raises OverflowError writing -1; use a signed or bool field"
            )
        return np.where(p == 0, -1, p).astype(np.float64)
    return np.where(p != 0, 1.0, -1.0)


def to_voxel_grid(
    events: Any,
    sensor_size: tuple[int, int],
    n_time_bins: int,
    *,
    tonic_dtype_quirks: bool = False,
) -> np.ndarray:
    """Tonic's ``ToVoxelGrid``: float64 ``[n, 1, H, W]``. Each event, at normalised time
    ``ts = n (t - t0) / (t_last - t0)``, adds ``w (1 - frac)`` to bin ``floor(ts)`` and ``w frac``
    to the next bin (each only inside ``[0, n)``; so the last event adds nothing). ``w`` is +1 ON /
    -1 OFF (see `polarity_weights` for Tonic's dtype quirks)."""
    t, x, y, p = _fields(events)
    if n_time_bins <= 0:
        raise ConfigError(f"n_time_bins must be > 0, got {n_time_bins}")
    width, height = sensor_size
    out = np.zeros((n_time_bins, 1, height, width), dtype=np.float64)
    if len(t) == 0:
        return out
    if int(t[-1]) == int(t[0]):
        raise ValidationError("all events share one timestamp: the voxel grid's time axis is empty")
    w = polarity_weights(np.asarray(p), tonic_dtype_quirks=tonic_dtype_quirks)
    bad = _voxel(t, x, y, w, n_time_bins, out)
    if bad >= 0:
        raise ValidationError(f"event {bad} is outside the {width}x{height} sensor", index=int(bad))
    return out


@numba.njit(cache=True, nogil=True)
def _time_surface(t, x, y, p, starts, stops, ref_times, tau, memory, out):  # pragma: no cover
    # writes the exponent; the caller applies exp
    channels, height, width = memory.shape
    for k in range(len(starts)):
        for i in range(starts[k], stops[k]):
            c = np.int64(p[i]) if p[i] >= 0 else channels + np.int64(p[i])
            if x[i] < 0 or x[i] >= width or y[i] < 0 or y[i] >= height or c >= channels:
                return i
            memory[c, y[i], x[i]] = t[i]
        ref = ref_times[k]
        for c in range(channels):
            for r in range(height):
                for q in range(width):
                    out[k, c, r, q] = -(ref - memory[c, r, q]) / tau
    return -1


def to_time_surface(
    events: Any, sensor_size: tuple[int, int], dt: int, tau: float, n_polarities: int = 2
) -> np.ndarray:
    """Tonic's ``ToTimesurface``: windows of ``dt`` (Tonic's time-window slicing, no overlap,
    incomplete windows dropped); after window i, the surface is
    ``exp(-((i + 1) dt + t0 - last_t[p, y, x]) / tau)`` (0 where a pixel never fired).
    Float64 ``[n_windows, P, H, W]``."""
    t, x, y, p = _fields(events)
    width, height = sensor_size
    if len(t) == 0:
        return np.zeros((0, n_polarities, height, width))
    starts, stops = slicing.tonic_time_window(t, dt, 0, False)
    ref_times = (np.arange(1, len(starts) + 1, dtype=np.int64) * dt + int(t[0])).astype(np.float64)
    memory = np.full((n_polarities, height, width), -np.inf)
    out = np.empty((len(starts), n_polarities, height, width), dtype=np.float64)
    bad = _time_surface(t, x, y, p, starts, stops, ref_times, float(tau), memory, out)
    if bad >= 0:
        raise ValidationError(
            f"event {bad} is outside the sensor or polarity range", index=int(bad)
        )
    # numpy's exp, not the compiled one: the two differ in the last bit for some arguments
    return np.exp(out, out=out)
