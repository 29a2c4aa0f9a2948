"""`Recording`: events plus the sensor size, source format and metadata they came with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, ValidationError
from . import limits
from .construct import as_events
from .slicing import slice_count, slice_time
from .stats import EventSummary, summarize
from .validate import require_sorted, validate_events


@dataclass(frozen=True)
class Recording:
    """Canonical events with their sensor size ``(W, H)``, the format they were read from and
    free-form metadata (header fields, camera serial, ...).

    Example:
        >>> rec = Recording(make_events([0, 10], [1, 2], [0, 1], [1, 0]), (4, 3))
        >>> len(rec.time_window(0, 5))
        1
    """

    events: np.ndarray
    sensor_size: tuple[int, int]
    source_format: str = "memory"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # set once the times were found sorted (checked lazily, once per instance): every later
    # window is then an O(log N) search. Reordering ``events`` in place afterwards is not seen.
    _time_sorted: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:  # the one sensor-size rule, kept a ValidationError here
            size = limits.sensor_dims(self.sensor_size)
        except ConfigError as exc:
            raise ValidationError(str(exc)) from None
        object.__setattr__(self, "sensor_size", size)
        object.__setattr__(self, "events", as_events(self.events))

    def __len__(self) -> int:
        return len(self.events)

    @property
    def width(self) -> int:
        return self.sensor_size[0]

    @property
    def height(self) -> int:
        return self.sensor_size[1]

    @property
    def duration_us(self) -> int:
        return int(self.events["t"][-1] - self.events["t"][0]) if len(self.events) else 0

    def validate(self) -> Recording:
        """Check sorting, coordinates against the sensor size and polarity; returns self."""
        validate_events(self.events, self.sensor_size)
        return self

    def time_window(self, t_start: int | None = None, t_end: int | None = None) -> Recording:
        """The recording restricted to ``t_start <= t < t_end`` (events are a view). The first
        call checks that the times are sorted (`ValidationError` naming the first unsorted
        index); later calls, and windows of the result, only search (O(log N))."""
        if not self._time_sorted:
            require_sorted(self.events["t"], "Recording.time_window")
            object.__setattr__(self, "_time_sorted", True)
        out = replace(self, events=slice_time(self.events, t_start, t_end, assume_sorted=True))
        object.__setattr__(out, "_time_sorted", True)  # a window of sorted times is sorted
        return out

    def count_window(self, start: int, count: int) -> Recording:
        """The recording restricted to ``count`` events from index ``start`` (a view)."""
        return replace(self, events=slice_count(self.events, start, count))

    def summary(self) -> EventSummary:
        return summarize(self.events)

    def __repr__(self) -> str:
        return (
            f"Recording({len(self.events)} events, sensor_size={self.sensor_size}, "
            f"source_format={self.source_format!r}, duration_us={self.duration_us})"
        )
