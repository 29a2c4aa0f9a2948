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


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _hats(t, x, y, key, order, starts, stops, radius, window, tau, linear, out, counts):
    # pragma: no cover - compiled. order: event indices grouped by key = cell * P + p, each
    # group in time order; starts/stops: group bounds in ``order``.
    size = 2 * radius + 1
    for g in range(len(starts)):
        lo = starts[g]
        for a in range(starts[g], stops[g]):
            i = order[a]
            while t[i] - t[order[lo]] > window:
                lo += 1
            k = key[i]
            out_k = out[k]
            out_k[radius, radius] += 1.0  # the event itself
            for b in range(lo, a):
                j = order[b]
                dx = np.int64(x[j]) - np.int64(x[i])
                dy = np.int64(y[j]) - np.int64(y[i])
                if -radius <= dx <= radius and -radius <= dy <= radius:
                    dt = np.float64(t[i] - t[j])
                    w = 1.0 - dt / (3.0 * tau) if linear else np.exp(-dt / tau)
                    out_k[dy + radius, dx + radius] += w
            counts[k] += 1
    for k in range(len(counts)):
        if counts[k]:
            for r in range(size):
                for q in range(size):
                    out[k, r, q] /= counts[k]


def to_averaged_time_surface(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    surface_size: int = 5,
    cell_size: int = 10,
    time_window: float = 1e3,
    tau: float = 100.0,
    decay: str = "exp",
    n_polarities: int = 2,
) -> np.ndarray:
    """HATS (averaged time surfaces, Tonic's ``ToAveragedTimesurface`` parameters): the sensor is
    tiled into ``cell_size`` cells (partial cells at the right/bottom edges included); each event
    gets a ``surface_size`` patch summing ``exp(-(t_i - t_j) / tau)`` (``decay='lin'``:
    ``1 - (t_i - t_j) / (3 tau)``) over earlier events j of the same cell and polarity within
    ``time_window`` µs and the patch radius, plus 1 at its centre; a cell's histogram is the
    mean over its events. float32 ``[n_cells, P, s, s]``, one compiled pass per cell."""
    if surface_size < 1 or surface_size % 2 == 0 or cell_size < 1:
        raise ConfigError("surface_size must be odd and >= 1, cell_size >= 1")
    if decay not in ("exp", "lin") or tau <= 0 or time_window < 0:
        raise ConfigError("decay must be 'exp' or 'lin', tau > 0, time_window >= 0")
    t, x, y, p = _fields(events)
    width, height = sensor_size
    cols, rows = -(-width // cell_size), -(-height // cell_size)
    n_cells = cols * rows
    out = np.zeros((n_cells * n_polarities, surface_size, surface_size), dtype=np.float64)
    if len(t):
        xs, ys, ps = np.asarray(x, np.int64), np.asarray(y, np.int64), np.asarray(p, np.int64)
        if xs.max() >= width or ys.max() >= height or ps.max() >= n_polarities or ps.min() < 0:
            raise ValidationError("events outside the sensor or polarity range")
        key = ((ys // cell_size) * cols + xs // cell_size) * n_polarities + ps
        order = np.argsort(key, kind="stable")  # grouped by cell and polarity, time order kept
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        starts = np.concatenate([[0], bounds]).astype(np.int64)
        stops = np.concatenate([bounds, [len(order)]]).astype(np.int64)
        counts = np.zeros(len(out), dtype=np.int64)
        _hats(np.asarray(t, np.int64), xs, ys, key, order, starts, stops, surface_size // 2,
              float(time_window), float(tau), decay == "lin", out, counts)  # fmt: skip
    return out.reshape(n_cells, n_polarities, surface_size, surface_size).astype(np.float32)
