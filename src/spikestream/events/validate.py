"""Checks that canonical events are well formed."""

from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from .dtype import EVENT_DTYPE


def first_unsorted_index(t: np.ndarray) -> int | None:
    """Index of the first event whose time is earlier than its predecessor's, or None."""
    if len(t) < 2:
        return None
    back = t[1:] < t[:-1]
    i = int(np.argmax(back))
    return i + 1 if back[i] else None


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
        i = first_unsorted_index(events["t"])
        if i is not None:
            raise ValidationError(
                f"events not sorted by time: t[{i}] = {events['t'][i]} < t[{i - 1}] = "
                f"{events['t'][i - 1]}",
                index=i,
                field="t",
            )
    checks: list[tuple[str, int]] = []
    if sensor_size is not None:
        width, height = sensor_size
        checks = [("x", width), ("y", height)]
    checks.append(("p", 2))
    for name, limit in checks:
        bad = events[name] >= limit
        if bad.any():
            i = int(np.argmax(bad))
            what = (
                f"outside the sensor width {limit}"
                if name == "x"
                else (f"outside the sensor height {limit}" if name == "y" else "not 0 or 1")
            )
            raise ValidationError(
                f"event {i}: {name} = {events[name][i]} is {what}", index=i, field=name
            )
    return events
