"""Checks that canonical events are well formed."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ..errors import ValidationError
from .dtype import EVENT_DTYPE

SORT_HINT = "sort with spikestream.events.sort_events(events) or make_events(..., sort=True)"


@numba.njit(cache=True, nogil=True)
def _first_unsorted(t):  # pragma: no cover - compiled
    # One pass over a (possibly strided) t, no temporary array; unsigned indices (numba guards a
    # signed index against negative values on every access). Sorted input, the common case,
    # never takes the branch.
    if len(t) < 2:
        return -1
    prev = t[0]
    for i in range(np.uint64(1), np.uint64(len(t))):
        ti = t[i]
        if ti < prev:
            return np.int64(i)
        prev = ti
    return -1


def first_unsorted_index(t: Any) -> int | None:
    """Index of the first event whose time is earlier than its predecessor's, or None."""
    t = np.asarray(t)
    if len(t) < 2:
        return None
    if not t.dtype.isnative:  # compiled code reads native byte order only
        t = t.astype(t.dtype.newbyteorder("="))
    i = int(_first_unsorted(t))
    return None if i < 0 else i


def require_sorted(t: Any, what: str) -> None:
    """Raise `ValidationError` naming the first unsorted index when ``t`` is not sorted;
    ``what`` names the operation that needs sorted times."""
    t = np.asarray(t)
    i = first_unsorted_index(t)
    if i is not None:
        raise ValidationError(
            f"{what}: events not sorted by time, t[{i}] = {t[i]} < t[{i - 1}] = {t[i - 1]}; "
            + SORT_HINT,
            index=i,
            field="t",
        )


def _outside_mask(v: Any, limit: int | None) -> np.ndarray | None:
    """Where ``v`` lies outside ``[0, limit)`` (no upper bound when ``limit`` is None); None
    when nothing does, found by min/max first so that clean input allocates no mask."""
    v = np.asarray(v)
    low = v.dtype.kind in "if" and bool(v.min() < 0)  # unsigned values are never negative
    high = limit is not None and bool(v.max() >= limit)
    if not (low or high):
        return None
    return (v < 0) | (v >= limit) if limit is not None else v < 0


def first_outside(x: Any, y: Any, width: int | None, height: int | None) -> int | None:
    """Index of the first event whose ``x`` is outside ``[0, width)`` or ``y`` outside
    ``[0, height)``, or None. A None array or bound is not checked (``first_outside(x, None,
    width, None)`` checks x only; a None ``width`` checks x >= 0 only). The one "outside the
    sensor" test: every caller keeps its own error type and message."""
    masks = [
        m
        for v, limit in ((x, width), (y, height))
        if v is not None and len(v) and (m := _outside_mask(v, limit)) is not None
    ]
    if not masks:
        return None
    bad = masks[0] if len(masks) == 1 else masks[0] | masks[1]
    return int(np.argmax(bad))


def validate_events(
    events: np.ndarray,
    sensor_size: tuple[int, int] | None = None,
    *,
    require_sorted: bool = True,
) -> np.ndarray:
    """Raise `ValidationError` naming the first bad index if ``events`` is not canonical, not
    sorted by time, has a coordinate outside ``sensor_size`` = (W, H), or a polarity other than
    0/1. Returns ``events`` unchanged."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        got = getattr(events, "dtype", type(events).__name__)
        raise ValidationError(
            f"expected a canonical event array ({EVENT_DTYPE}), got {got}; "
            "use spikestream.events.as_events() to convert"
        )
    if events.ndim != 1:
        raise ValidationError(f"events must be 1-D, got shape {events.shape}")
    if require_sorted:
        _require_sorted(events["t"], "validate_events")
    if sensor_size is not None:
        width, height = sensor_size
        i = first_outside(events["x"], events["y"], width, height)
        if i is not None:
            name, limit, side = (
                ("x", width, "width") if events["x"][i] >= width else ("y", height, "height")
            )
            raise ValidationError(
                f"event {i}: {name} = {events[name][i]} is outside the sensor {side} {limit}",
                index=i,
                field=name,
            )
    bad = events["p"] >= 2
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"event {i}: p = {events['p'][i]} is not 0 or 1", index=i, field="p")
    return events


_require_sorted = require_sorted  # validate_events' keyword shadows the function's name
