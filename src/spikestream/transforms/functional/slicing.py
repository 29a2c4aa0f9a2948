"""Where frames begin and end: (start, stop) index pairs into time-sorted events, for
SpikingJelly's splits (by number, by time, by fixed duration) and Tonic's slicers (time window,
event count, number of time bins, number of event bins). Cheap metadata, computed once; the
integration kernels then cut the events with them.

Every function takes ``t`` (sorted times, any integer dtype, possibly a strided field view) and
returns two int64 arrays ``(starts, stops)``. The time-based ones check that ``t`` is sorted
(`ValidationError` naming the first unsorted index); the count-based ones do not need it. Where
the number of windows follows from the data, it is bounded by ``max_windows`` (default: the
`limits.MAX_BYTES` bound on the window table) and a larger count raises `ConfigError` before any
table is built.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import limits, require_sorted
from ...events.slicing import _search_sorted


def _check_windows(count: int, max_windows: int | None, what: str, fix: str) -> None:
    limit = limits.max_count((2,), np.int64) if max_windows is None else max_windows
    if count > limit:
        raise ConfigError(
            f"{what} makes {count:,} windows; at most {limit:,} fit the output limit of "
            f"{limits.MAX_BYTES / 2**30:g} GiB (spikestream.events.limits.MAX_BYTES); {fix}"
        )


def _search(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Left-sided searchsorted of int64 ``values`` in ``t`` without copying a strided ``t``."""
    if t.dtype != np.int64:
        t = t.astype(np.int64)
    return _search_sorted(t, np.ascontiguousarray(values, dtype=np.int64), False)


def _search_float(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Left-sided searchsorted of float ``values`` in integer ``t``: the first t >= v is the first
    t >= ceil(v), so the search stays in integers (exact, as numpy's mixed comparison is)."""
    return _search(t, np.ceil(values).astype(np.int64))


class EmptyFrameError(ValidationError, IndexError):
    """A split produced a window with no events where the semantics require one (SpikingJelly's
    time split and fixed-duration integration raise IndexError there)."""


def sj_split_by_number(n_events: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """SpikingJelly ``split_by='number'``: frame i is ``[i*d, (i+1)*d)`` with ``d = N // T``; the
    last frame is extended to N (it takes the remainder; with N < T only it holds events)."""
    if frames <= 0:
        raise ConfigError(f"frames must be > 0, got {frames}")
    d = n_events // frames
    starts = np.arange(frames, dtype=np.int64) * d
    stops = starts + d
    stops[-1] = n_events
    return starts, stops


def sj_split_by_time(
    t: np.ndarray, frames: int, *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """SpikingJelly ``split_by='time'``: ``dt = (t[-1] - t[0]) // T``; window i is
    ``[t0 + i*dt, t0 + (i+1)*dt)`` and the last frame is extended to the final event. As in
    SpikingJelly, a window without events raises `EmptyFrameError` (checked before the last frame
    is extended) unless ``allow_empty``."""
    if frames <= 0:
        raise ConfigError(f"frames must be > 0, got {frames}")
    n = len(t)
    if n == 0:
        if allow_empty:
            return np.zeros(frames, np.int64), np.zeros(frames, np.int64)
        raise EmptyFrameError("no events to split", field="t")
    require_sorted(t, "splitting by time")
    starts, stops, empty = _sj_time_windows(t, frames)
    if empty >= 0 and not allow_empty:
        t0 = int(t[0])
        dt = (int(t[-1]) - t0) // frames
        raise EmptyFrameError(
            f"time window {empty} [{t0 + empty * dt}, {t0 + (empty + 1) * dt}) has no events "
            "(SpikingJelly raises here; pass allow_empty=True for empty frames)",
            index=empty,
            field="t",
        )
    return starts, stops


@numba.njit(cache=True, nogil=True)
def _sj_time_windows(t, frames):  # pragma: no cover - compiled
    # One compiled call: after a gc.collect() each small numpy call costs ~10 µs cold, which
    # added up to 0.1 ms per split (a tenth of the whole 1M-event integration).
    t0 = np.int64(t[0])
    dt = (np.int64(t[len(t) - 1]) - t0) // frames
    edges = t0 + np.arange(frames + 1) * dt
    idx = _search_sorted(t, edges, False)
    starts, stops = idx[:-1].copy(), idx[1:].copy()
    empty = -1  # the first empty window, checked before the last one is extended
    for i in range(frames):
        if starts[i] == stops[i]:
            empty = i
            break
    stops[frames - 1] = len(t)
    return starts, stops, empty


def sj_split_by_duration(
    t: np.ndarray,
    duration: int,
    *,
    allow_empty_recording: bool = False,
    max_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SpikingJelly 2.0 fixed-duration integration: ``t' = t - t.min()``, ``F = ceil(t'[-1] / d)``
    frames on a fixed grid from the first event, frame i = ``[i*d, (i+1)*d)`` and the last frame
    takes every remaining event (including one at exactly ``F*d``). ``F = 0`` (all events at one
    time) raises `EmptyFrameError` as SpikingJelly does, unless ``allow_empty_recording``, which
    gives one frame holding everything."""
    if duration <= 0:
        raise ConfigError(f"duration must be > 0, got {duration}")
    n = len(t)
    require_sorted(t, "splitting by duration")
    span = int(t[-1]) - int(t[0]) if n else 0  # sorted: t.min() is t[0]
    frames = math.ceil(span / duration)
    _check_windows(frames, max_frames, f"duration {duration} µs over {span} µs",
                   "use a longer duration (in µs)")  # fmt: skip
    if frames == 0:
        if allow_empty_recording and n:
            return np.zeros(1, np.int64), np.full(1, n, np.int64)
        raise EmptyFrameError(
            "all events share one timestamp, so no frame of this duration fits "
            "(SpikingJelly raises IndexError here)",
            field="t",
        )
    t0 = int(t[0])
    edges = t0 + np.arange(frames + 1, dtype=np.int64) * duration
    idx = _search(t, edges)
    starts, stops = idx[:-1].copy(), idx[1:].copy()
    stops[-1] = n
    return starts, stops


def sj_split_by_duration_greedy(t: np.ndarray, duration: int) -> tuple[np.ndarray, np.ndarray]:
    """SpikingJelly 0.0.0.0.14's fixed-duration integration: greedy windows that start at the
    first event not yet taken and include every event with ``t - t_left <= duration``."""
    if duration <= 0:
        raise ConfigError(f"duration must be > 0, got {duration}")
    require_sorted(t, "splitting by duration")
    starts, stops = [], []
    i, n = 0, len(t)
    while i < n:  # one step per frame, each a binary search
        j = int(_search(t, np.array([int(t[i]) + duration + 1]))[0])
        starts.append(i)
        stops.append(j)
        i = j
    return np.asarray(starts, np.int64), np.asarray(stops, np.int64)


def _n_slices(r: float, include_incomplete: bool) -> int:
    return max(1, (math.ceil(r) if include_incomplete else math.floor(r)) + 1)


def tonic_time_window(
    t: np.ndarray,
    time_window: float,
    overlap: float = 0.0,
    include_incomplete: bool = False,
    *,
    max_windows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's ``slice_events_by_time``: stride ``tw - overlap``; ``floor`` (or ``ceil`` with
    include_incomplete) of ``(duration - tw) / stride`` plus one windows, at least one; window k is
    ``[t0 + k*stride, t0 + k*stride + tw)``. An event at or past the last window's end is dropped
    (Tonic drops the final event whenever the windows end at or before it)."""
    if not (0 < time_window < math.inf and 0 <= overlap < time_window):
        raise ConfigError(
            f"need a finite time_window > 0 and 0 <= overlap < time_window, got {time_window}, "
            f"{overlap}"
        )
    if len(t) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    require_sorted(t, "time-window slicing")
    stride = time_window - overlap
    duration = int(t[-1]) - int(t[0])
    n = _n_slices((duration - time_window) / stride, include_incomplete)
    _check_windows(n, max_windows, f"a time window of {time_window} µs over {duration} µs",
                   "use a longer time window (in µs)")  # fmt: skip
    start_times = np.arange(n) * stride + t[0]
    return _edges(t, start_times, start_times + time_window)


def _edges(t: np.ndarray, start_times: np.ndarray, end_times: np.ndarray):
    if start_times.dtype.kind == "f" or end_times.dtype.kind == "f":
        return _search_float(t, start_times), _search_float(t, end_times)
    return _search(t, start_times), _search(t, end_times)


def tonic_event_count(
    n_events: int, event_count: int, overlap: int = 0, include_incomplete: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's ``slice_events_by_count``: stride ``c - overlap``, ``c' = min(c, N)``; ``floor``
    (or ``ceil``) of ``(N - c') / stride`` plus one slices ``[k*stride, k*stride + c')``."""
    if event_count <= 0 or overlap < 0 or overlap >= event_count:
        raise ConfigError("need event_count > 0 and 0 <= overlap < event_count")
    stride = event_count - overlap
    count = min(event_count, n_events)
    n = _n_slices((n_events - count) / stride, include_incomplete)
    starts = np.arange(n, dtype=np.int64) * stride
    return starts, np.minimum(starts + count, n_events)


def tonic_n_time_bins(
    t: np.ndarray, n_time_bins: int, overlap: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's ``slice_events_by_time_bins``: ``tw = ((t[-1] - t[0]) // n) * (1 + overlap)``,
    ``stride = tw * (1 - overlap)``, n windows ``[t0 + k*stride, t0 + k*stride + tw)``; events at or
    past the last window's end (always the final event when overlap is 0) are dropped."""
    if n_time_bins <= 0 or not 0 <= overlap < 1:
        raise ConfigError("need n_time_bins > 0 and 0 <= overlap < 1")
    if len(t) == 0:
        return np.zeros(n_time_bins, np.int64), np.zeros(n_time_bins, np.int64)
    require_sorted(t, "n_time_bins slicing")
    time_window = (int(t[-1]) - int(t[0])) // n_time_bins * (1 + overlap)
    stride = time_window * (1 - overlap)
    start_times = np.arange(n_time_bins) * stride + t[0]
    return _edges(t, start_times, start_times + time_window)


def tonic_n_event_bins(
    n_events: int, n_event_bins: int, overlap: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's ``slice_events_by_event_bins``: ``cnt = int((N // n) * (1 + overlap))``,
    ``stride = int(cnt * (1 - overlap))``, slices ``[k*stride, k*stride + cnt)``; the trailing
    remainder is dropped."""
    if n_event_bins <= 0 or not 0 <= overlap < 1:
        raise ConfigError("need n_event_bins > 0 and 0 <= overlap < 1")
    count = int((n_events // n_event_bins) * (1 + overlap))
    stride = int(count * (1 - overlap))
    starts = np.arange(n_event_bins, dtype=np.int64) * stride
    return starts, np.minimum(starts + count, n_events)
