"""Voxel grids and time surfaces with Tonic 1.7's semantics."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import first_outside, limits, require_sorted
from . import slicing
from .frames import (
    PARALLEL_MIN_EVENTS,
    _fields,
    _launch,
    _serial_and_parallel,
    frames_shape,
    max_frames,
)


@numba.njit(inline="always")
def _voxel_time(ti, t0, span, n_bins):  # pragma: no cover - compiled
    """Tonic's normalised time ``n (t - t0) / span``; its integer part is the event's bin."""
    return n_bins * (np.float64(ti) - t0) / span


@numba.njit(cache=True, nogil=True)
def _voxel_check(t, x, y, n_bins, height, width, bin_starts):  # pragma: no cover - compiled
    """-1 and ``bin_starts`` filled (first event of each bin 0..n+1, bins being monotone in
    sorted t), or the first event outside the sensor. The range check is a branch-free pass; an
    outside event is searched for only when one is flagged. ``t`` is sorted (checked before)."""
    u_width, u_height = np.uint64(width), np.uint64(height)
    bad = False
    for i in range(np.uint64(len(t))):
        bad |= bool((np.uint64(x[i]) >= u_width) | (np.uint64(y[i]) >= u_height))
    if bad:
        for i in range(len(t)):
            if x[i] < 0 or x[i] >= width or y[i] < 0 or y[i] >= height:
                return i
    t0 = np.float64(t[0])
    span = np.float64(t[len(t) - 1]) - t0
    for b in range(n_bins + 2):
        lo, hi = 0, len(t)
        while lo < hi:
            mid = (lo + hi) >> 1
            if int(_voxel_time(t[mid], t0, span, n_bins)) < b:
                lo = mid + 1
            else:
                hi = mid
        bin_starts[b] = lo
    return -1


def _voxel_planes_py(t, x, y, p, rule, n_bins, bin_starts, out):  # pragma: no cover - compiled
    # Plane b receives Tonic's two scatter-adds in their order: first the left-bin shares of the
    # events in bin b, then the right-bin shares of those in bin b - 1 (all earlier in time), so
    # the float sums are bit-identical and the planes independent (one thread each).
    t0 = np.float64(t[0])
    span = np.float64(t[len(t) - 1]) - t0
    width = np.uint64(out.shape[3])
    for b in numba.prange(n_bins):
        plane = out[b, 0].reshape(-1)
        for i in range(np.uint64(bin_starts[b]), np.uint64(bin_starts[b + 1])):
            share = 1.0 - (_voxel_time(t[i], t0, span, n_bins) - b)
            plane[np.uint64(y[i]) * width + np.uint64(x[i])] += _polarity_weight(p[i], rule) * share
        if b > 0:
            for i in range(np.uint64(bin_starts[b - 1]), np.uint64(bin_starts[b])):
                share = _voxel_time(t[i], t0, span, n_bins) - (b - 1)
                plane[np.uint64(y[i]) * width + np.uint64(x[i])] += (
                    _polarity_weight(p[i], rule) * share
                )


_voxel_planes, _voxel_planes_parallel = _serial_and_parallel(_voxel_planes_py)


_NATIVE_WEIGHTS, _TONIC_SIGNED_WEIGHTS, _TONIC_BOOL_WEIGHTS = 0, 1, 2


@numba.njit(inline="always")
def _polarity_weight(p, rule):  # pragma: no cover - compiled
    """One event's weight under a rule chosen by `_weight_rule`."""
    if rule == _TONIC_BOOL_WEIGHTS:
        return 1.0
    if p == 0:
        return -1.0
    return np.float64(p) if rule == _TONIC_SIGNED_WEIGHTS else 1.0


@numba.njit(cache=True, nogil=True)
def _polarity_weights(p, rule, out):  # pragma: no cover - compiled
    for i in range(np.uint64(len(p))):
        out[i] = _polarity_weight(p[i], rule)


def _weight_rule(dtype: np.dtype, tonic_dtype_quirks: bool) -> int:
    if not tonic_dtype_quirks:
        return _NATIVE_WEIGHTS
    if dtype == np.bool_:
        return _TONIC_BOOL_WEIGHTS
    if dtype.kind == "u":
        raise ConfigError(
            f"Tonic's ToVoxelGrid cannot weight an unsigned polarity field ({dtype}): it "
            "raises OverflowError writing -1; use a signed or bool field"
        )
    return _TONIC_SIGNED_WEIGHTS


def polarity_weights(p: np.ndarray, *, tonic_dtype_quirks: bool = False) -> np.ndarray:
    """+1 for ON, -1 for OFF. With ``tonic_dtype_quirks`` the weight is computed as Tonic does,
    inside the polarity field's own dtype: OFF (0) is -1 and any other value weighs itself; a
    bool field turns -1 into True (every event +1), an unsigned field cannot hold -1 (Tonic
    raises OverflowError; here `ConfigError`)."""
    p = np.asarray(p)
    out = np.empty(len(p), dtype=np.float64)
    _polarity_weights(p, _weight_rule(p.dtype, tonic_dtype_quirks), out)
    return out


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
    -1 OFF (see `polarity_weights` for Tonic's dtype quirks). Events must be sorted by time
    (`ValidationError` otherwise); bit-identical to Tonic's two scatter-adds."""
    t, x, y, p = _fields(events)
    if n_time_bins <= 0:
        raise ConfigError(f"n_time_bins must be > 0, got {n_time_bins}")
    _, _, height, width = frames_shape(n_time_bins, sensor_size, 1, np.float64)
    out = np.zeros((n_time_bins, 1, height, width), dtype=np.float64)
    if len(t) == 0:
        return out
    require_sorted(t, "the voxel grid")
    if int(t[-1]) == int(t[0]):
        raise ValidationError("all events share one timestamp: the voxel grid's time axis is empty")
    bin_starts = np.empty(n_time_bins + 2, dtype=np.int64)
    bad = _voxel_check(t, x, y, n_time_bins, height, width, bin_starts)
    if bad >= 0:
        raise ValidationError(f"event {bad} is outside the {width}x{height} sensor", index=int(bad))
    rule = _weight_rule(np.asarray(p).dtype, tonic_dtype_quirks)
    parallel = len(t) >= PARALLEL_MIN_EVENTS
    planes = _voxel_planes_parallel if parallel else _voxel_planes
    with _launch(parallel):
        planes(t, x, y, p, rule, n_time_bins, bin_starts, out)
    return out


@numba.njit(inline="always")
def _channel(p, channels):  # pragma: no cover - compiled
    """A polarity's surface channel: a negative one counts from the end, as numpy indexing does."""
    c = np.int64(p)
    return c if c >= 0 else channels + c


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _time_surface(t, x, y, p, starts, stops, ref_times, tau, memory, out):  # pragma: no cover
    # Writes the exponent; the caller applies exp. ``memory``: the last time of each
    # [channel, y, x] cell, flat, plus a spare last slot that takes out-of-range events so the
    # loop has no exit (the event is searched for once one is flagged); indices are unsigned
    # (numba guards signed ones against negative values on every access).
    channels, height, width = out.shape[1], out.shape[2], out.shape[3]
    u_channels, u_height, u_width = np.uint64(channels), np.uint64(height), np.uint64(width)
    cells = channels * height * width
    spare = np.uint64(cells)
    for k in range(len(starts)):
        outside_any = False
        for i in range(np.uint64(starts[k]), np.uint64(stops[k])):
            c = _channel(p[i], channels)
            xi, yi, ci = np.uint64(x[i]), np.uint64(y[i]), np.uint64(c)
            outside = bool((xi >= u_width) | (yi >= u_height) | (ci >= u_channels))
            outside_any |= outside
            memory[spare if outside else (ci * u_height + yi) * u_width + xi] = t[i]
        if outside_any:
            for i in range(starts[k], stops[k]):
                c = _channel(p[i], channels)
                if x[i] < 0 or x[i] >= width or y[i] < 0 or y[i] >= height or not 0 <= c < channels:
                    return i
        ref = ref_times[k]
        surface = out[k].reshape(-1)
        for q in range(cells):
            surface[q] = -(ref - memory[q]) / tau
    return -1


def to_time_surface(
    events: Any, sensor_size: tuple[int, int], dt: int, tau: float, n_polarities: int = 2
) -> np.ndarray:
    """Tonic's ``ToTimesurface``: windows of ``dt`` (Tonic's time-window slicing, no overlap,
    incomplete windows dropped); after window i, the surface is
    ``exp(-((i + 1) dt + t0 - last_t[p, y, x]) / tau)`` (0 where a pixel never fired).
    Float64 ``[n_windows, P, H, W]``."""
    t, x, y, p = _fields(events)
    if n_polarities <= 0:
        raise ConfigError(f"n_polarities must be > 0, got {n_polarities}")
    _, _, height, width = frames_shape(1, sensor_size, n_polarities, np.float64)
    if len(t) == 0:
        return np.zeros((0, n_polarities, height, width))
    starts, stops = slicing.tonic_time_window(
        t, dt, 0, False, max_windows=max_frames(sensor_size, n_polarities, np.float64)
    )
    ref_times = (np.arange(1, len(starts) + 1, dtype=np.int64) * dt + int(t[0])).astype(np.float64)
    memory = np.full(n_polarities * height * width + 1, -np.inf)  # flat, plus a spare slot
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
    if n_polarities <= 0:
        raise ConfigError(f"n_polarities must be > 0, got {n_polarities}")
    t, x, y, p = _fields(events)
    width, height = limits.sensor_dims(sensor_size)
    cols, rows = -(-width // cell_size), -(-height // cell_size)
    n_cells = cols * rows
    shape = (n_cells * n_polarities, surface_size, surface_size)
    limits.check_size(
        shape, np.float64, "the averaged time surfaces", "use larger cells or smaller surfaces"
    )
    out = np.zeros(shape, dtype=np.float64)
    if len(t):
        require_sorted(t, "the averaged time surface")
        xs, ys, ps = np.asarray(x, np.int64), np.asarray(y, np.int64), np.asarray(p, np.int64)
        # the first event outside the sensor or the polarities (`first_outside` twice: p is
        # checked as a one-row "coordinate" in [0, n_polarities))
        found = [first_outside(xs, ys, width, height), first_outside(ps, None, n_polarities, None)]
        if any(i is not None for i in found):
            i = min(i for i in found if i is not None)
            raise ValidationError(
                f"event {i} (x={xs[i]}, y={ys[i]}, p={ps[i]}) is outside the {width}x{height} "
                f"sensor or the {n_polarities} polarities",
                index=i,
            )
        key = ((ys // cell_size) * cols + xs // cell_size) * n_polarities + ps
        order = np.argsort(key, kind="stable")  # grouped by cell and polarity, time order kept
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        starts = np.concatenate([[0], bounds]).astype(np.int64)
        stops = np.concatenate([bounds, [len(order)]]).astype(np.int64)
        counts = np.zeros(len(out), dtype=np.int64)
        _hats(np.asarray(t, np.int64), xs, ys, key, order, starts, stops, surface_size // 2,
              float(time_window), float(tau), decay == "lin", out, counts)  # fmt: skip
    return out.reshape(n_cells, n_polarities, surface_size, surface_size).astype(np.float32)
