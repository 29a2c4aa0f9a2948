"""Event counts per frame: one compiled pass that scatters each event of each (start, stop)
slice into ``out[k, channel, y, x]``. Channel 0 is OFF (p == 0), channel 1 any other polarity
(SpikingJelly's rule; for 0/1 polarities it is also Tonic's ``int(p)``)."""

from __future__ import annotations

import types
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numba
import numpy as np

from ..._numba import launch_lock
from ...errors import ConfigError, ValidationError
from ...events import is_canonical, limits
from . import slicing

# Slices are independent (they write distinct frames), so they run in parallel threads;
# each thread reports the first out-of-range event of its slice in ``bad``.


def _accumulate_fields_py(x, y, p, starts, stops, out, bad):  # pragma: no cover - compiled
    # Indices are unsigned (see _accumulate_records_py); integer coordinates only: a negative
    # one turns into a huge unsigned value, which the range check catches.
    height, width = out.shape[2], out.shape[3]
    plane = height * width
    u_width, u_height, u_plane = np.uint64(width), np.uint64(height), np.uint64(plane)
    spare = np.uint64(2 * plane)
    for k in numba.prange(len(starts)):
        counts = np.zeros(2 * plane + 1, dtype=np.int32)
        outside_any = False
        for i in range(np.uint64(starts[k]), np.uint64(stops[k])):
            xi = np.uint64(x[i])
            yi = np.uint64(y[i])
            c = np.uint64(p[i] != 0)
            outside = bool((xi >= u_width) | (yi >= u_height))
            outside_any |= outside
            counts[spare if outside else c * u_plane + yi * u_width + xi] += 1
        if outside_any:
            for i in range(starts[k], stops[k]):
                if x[i] < 0 or x[i] >= width or y[i] < 0 or y[i] >= height:
                    bad[k] = i
                    break
        frame = out[k].reshape(-1)
        for q in range(2 * plane):  # each frame is written once: out need not be zeroed
            frame[q] = counts[q]


def _accumulate_records_py(words, starts, stops, flat, height, width, bad):  # pragma: no cover
    # Canonical events as uint64 pairs: word 1 holds x | y << 16 | p << 32. One load per event
    # instead of three strided field loads; counting in an int32 scratch frame (integer adds,
    # cache-resident) and adding it to the output once per frame. No branch leaves the loop:
    # an out-of-range event is counted in a spare slot and flagged, and only then is the slice
    # searched for it (an early exit in the hot loop made it 2.5x slower). Loop and table
    # indices are unsigned: numba wraps a signed index that may be negative, a compare and
    # select per access (removing them halved the time of the field loop).
    plane = height * width
    u_width, u_height, u_plane = np.uint64(width), np.uint64(height), np.uint64(plane)
    spare = np.uint64(2 * plane)
    for k in numba.prange(len(starts)):
        counts = np.zeros(2 * plane + 1, dtype=np.int32)
        outside_any = False
        for i in range(np.uint64(starts[k]), np.uint64(stops[k])):
            word = words[np.uint64(2) * i + np.uint64(1)]
            xi = word & np.uint64(0xFFFF)
            yi = (word >> np.uint64(16)) & np.uint64(0xFFFF)
            c = np.uint64((word >> np.uint64(32)) & np.uint64(0xFF) != 0)
            outside = bool((xi >= u_width) | (yi >= u_height))
            outside_any |= outside
            counts[spare if outside else c * u_plane + yi * u_width + xi] += 1
        if outside_any:
            for i in range(starts[k], stops[k]):
                word = words[2 * i + 1]
                if (word & np.uint64(0xFFFF)) >= width or (
                    (word >> np.uint64(16)) & np.uint64(0xFFFF)
                ) >= height:
                    bad[k] = i
                    break
        base = k * 2 * plane
        for q in range(2 * plane):  # each frame is written once: out need not be zeroed
            flat[base + q] = counts[q]


def _serial_and_parallel(fn):
    """Two compiled versions of ``fn``: threads pay off only on large inputs (launching them
    costs ~0.1 ms). numba's on-disk cache keys a function by its qualified name and line, not
    by its compile flags, so the parallel one is compiled from a renamed copy: with the same
    key, one version silently loaded the other's cached machine code."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel")
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    return (
        numba.njit(cache=True, nogil=True)(fn),
        numba.njit(cache=True, nogil=True, parallel=True)(twin),
    )


_accumulate_fields, _accumulate_fields_parallel = _serial_and_parallel(_accumulate_fields_py)
_accumulate_records, _accumulate_records_parallel = _serial_and_parallel(_accumulate_records_py)
PARALLEL_MIN_EVENTS = 500_000


def _launch(parallel: bool) -> AbstractContextManager[Any]:
    """Around a kernel launch: `launch_lock` for a parallel one (numba's workqueue layer, used
    where TBB is missing, aborts on concurrent launches), nothing for a serial one."""
    return launch_lock() if parallel else nullcontext()


def _fields(events: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, x, y, p) from canonical events, a structured array or a dict, without copies.

    The compiled kernels index every field by event, so fields of a dict must be 1-D numeric
    arrays of one length (a short ``x`` beside a long ``t`` would be read out of bounds)."""
    try:
        fields = tuple(np.asarray(events[k]) for k in "txyp")
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise ValidationError(f"events need fields t, x, y, p: {exc}") from None
    for name, a in zip("txyp", fields, strict=True):
        if a.ndim != 1 or (a.dtype.kind not in "iuf" and a.dtype != np.bool_):
            raise ValidationError(
                f"field {name!r} must be a 1-D numeric array, got shape {a.shape} dtype {a.dtype}",
                field=name,
            )
    # compiled code reads native byte order only: a big-endian field (some HDF5 or MATLAB
    # files) is converted, a copy in that rare case
    fields = tuple(a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("=")) for a in fields)
    lengths = [len(a) for a in fields]
    if len(set(lengths)) > 1:
        name = "xyp"[next(i for i, n in enumerate(lengths[1:]) if n != lengths[0])]
        raise ValidationError(
            "fields must have one value per event, got lengths "
            + ", ".join(f"{k}={n}" for k, n in zip("txyp", lengths, strict=True)),
            field=name,
        )
    return fields  # type: ignore[return-value]


def frames_shape(
    n_frames: int, sensor_size: Any, channels: int = 2, dtype: Any = np.float32
) -> tuple[int, int, int, int]:
    """``(T, P, H, W)`` after checking the sensor size and the `limits.MAX_BYTES` bound."""
    width, height = limits.sensor_dims(sensor_size)
    shape = (int(n_frames), channels, height, width)
    limits.check_size(shape, dtype, "the frames", "use fewer frames or a smaller sensor size")
    return shape


def max_frames(sensor_size: Any, channels: int = 2, dtype: Any = np.float32) -> int:
    """How many ``[P, H, W]`` frames of ``dtype`` fit under `limits.MAX_BYTES`."""
    width, height = limits.sensor_dims(sensor_size)
    return limits.max_count((channels, height, width), dtype)


def _integer_coordinates(a: Any) -> np.ndarray:
    """Float coordinates truncated as SpikingJelly's ``astype(int)`` does; integers as they are."""
    a = np.asarray(a)
    return a.astype(np.int64) if a.dtype.kind == "f" else a


def accumulate(
    events: Any,
    starts: np.ndarray,
    stops: np.ndarray,
    sensor_size: tuple[int, int],
    dtype: Any = np.float32,
) -> np.ndarray:
    """``[K, 2, H, W]`` counts of the events in each ``[starts[k], stops[k])`` slice."""
    return _accumulate(events, _fields(events), starts, stops, sensor_size, dtype)


def _accumulate(
    events: Any,
    fields: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    starts: np.ndarray,
    stops: np.ndarray,
    sensor_size: tuple[int, int],
    dtype: Any,
) -> np.ndarray:
    """`accumulate` with the ``_fields(events)`` the caller already checked (one pass)."""
    _, x, y, p = fields
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    if starts.ndim != 1 or starts.shape != stops.shape:
        raise ConfigError(f"starts and stops must be 1-D of one length, got {starts.shape}, "
                          f"{stops.shape}")  # fmt: skip
    # the kernels read events [start, stop) unchecked: bounds outside the events would crash
    outside = (starts < 0) | (stops > len(x))
    if outside.any():
        k = int(np.argmax(outside))
        raise ConfigError(f"slice {k} [{starts[k]}, {stops[k]}) is outside the {len(x)} events")
    _, _, height, width = frames_shape(len(starts), sensor_size, 2, dtype)
    out = np.empty((len(starts), 2, height, width), dtype=dtype)  # every frame is written
    bad = np.full(len(starts), -1, dtype=np.int64)
    parallel = len(starts) > 1 and len(x) >= PARALLEL_MIN_EVENTS
    if is_canonical(events) and events.flags.c_contiguous:
        records = _accumulate_records_parallel if parallel else _accumulate_records
        with _launch(parallel):
            records(events.view(np.uint64), starts, stops, out.reshape(-1), height, width, bad)
    else:
        x, y = _integer_coordinates(x), _integer_coordinates(y)
        kernel = _accumulate_fields_parallel if parallel else _accumulate_fields
        with _launch(parallel):
            kernel(x, y, p, starts, stops, out, bad)
    if (bad >= 0).any():
        i = int(bad[bad >= 0].min())
        raise ValidationError(
            f"event {i} at (x={x[i]}, y={y[i]}) is outside the {width}x{height} frame", index=i
        )
    return out


def frame_windows(
    t: np.ndarray,
    *,
    n_frames: int | None = None,
    split_by: str = "number",
    duration: int | None = None,
    allow_empty: bool = True,
    max_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's ``[start, stop)`` event indices as `to_frames` cuts the times ``t``: the one
    place that picks SpikingJelly's split rule (``n_frames`` by ``'number'`` or ``'time'``, or a
    fixed ``duration`` in µs); ``max_frames`` bounds a duration split's frame count."""
    if (n_frames is None) == (duration is None):
        raise ConfigError("give exactly one of n_frames or duration")
    if duration is not None:
        return slicing.sj_split_by_duration(
            t, int(duration), allow_empty_recording=allow_empty, max_frames=max_frames
        )
    if split_by == "number":
        return slicing.sj_split_by_number(len(t), int(n_frames))  # type: ignore[arg-type]
    if split_by == "time":
        return slicing.sj_split_by_time(t, int(n_frames), allow_empty=allow_empty)  # type: ignore[arg-type]
    raise ConfigError(f"split_by must be 'number' or 'time', got {split_by!r}")


def to_frames(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    n_frames: int | None = None,
    split_by: str = "number",
    duration: int | None = None,
    allow_empty: bool = True,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Frames ``[T, 2, H, W]`` with SpikingJelly 2.0's semantics.

    ``n_frames`` with ``split_by='number'`` (equal event counts, remainder in the last frame) or
    ``'time'`` (equal floor durations, last frame to the end); or ``duration`` (µs, fixed grid
    from the first event, last frame takes the rest). SpikingJelly raises on an empty time window;
    here that is ``allow_empty=False`` (the default allows empty frames).

    Example:
        >>> frames = to_frames(events, (128, 128), n_frames=16, split_by="number")
    """
    fields = _fields(events)
    if n_frames is not None and duration is None:
        frames_shape(int(n_frames), sensor_size, 2, dtype)  # before any table
    starts, stops = frame_windows(
        fields[0],
        n_frames=n_frames,
        split_by=split_by,
        duration=duration,
        allow_empty=allow_empty,
        max_frames=max_frames(sensor_size, 2, dtype),
    )
    return _accumulate(events, fields, starts, stops, sensor_size, dtype)


def to_frames_custom(
    events: Any,
    sensor_size: tuple[int, int],
    integrate: Callable[[Any, int, int], np.ndarray],
) -> np.ndarray:
    """SpikingJelly's ``custom_integrate_function``: ``integrate(events, H, W)`` builds the
    frames; its result is returned as an array."""
    width, height = sensor_size
    return np.asarray(integrate(events, height, width))


_TONIC_MODES = ("time_window", "event_count", "n_time_bins", "n_event_bins")


def tonic_frames(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool = False,
    dtype: Any = np.int16,
) -> np.ndarray:
    """Frames with Tonic 1.7's ``ToFrame`` semantics (int16 counts ``[T, 2, H, W]``), one of the
    four slicing modes; see `slicing` for each mode's exact window rule."""
    given = {
        "time_window": time_window,
        "event_count": event_count,
        "n_time_bins": n_time_bins,
        "n_event_bins": n_event_bins,
    }
    chosen = [k for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise ConfigError(f"give exactly one of {', '.join(_TONIC_MODES)}; got {chosen}")
    fields = _fields(events)
    t = fields[0]
    if n_time_bins is not None or n_event_bins is not None:
        frames_shape(int(n_time_bins or n_event_bins), sensor_size, 2, dtype)  # type: ignore[arg-type]
    if time_window is not None:
        starts, stops = slicing.tonic_time_window(
            t,
            time_window,
            overlap,
            include_incomplete,
            max_windows=max_frames(sensor_size, 2, dtype),
        )
    elif event_count is not None:
        starts, stops = slicing.tonic_event_count(
            len(t), event_count, int(overlap), include_incomplete
        )
    elif n_time_bins is not None:
        starts, stops = slicing.tonic_n_time_bins(t, n_time_bins, overlap)
    else:
        starts, stops = slicing.tonic_n_event_bins(len(t), int(n_event_bins), overlap)  # type: ignore[arg-type]
    return _accumulate(events, fields, starts, stops, sensor_size, dtype)
