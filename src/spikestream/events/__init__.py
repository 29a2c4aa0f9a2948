"""The canonical event type: a structured array ``(t int64 µs, x uint16, y uint16, p uint8)``.

Construction (`make_events`, `from_dict`, `from_structured`, `as_events`), conversions back
(`to_dict`, `to_structured`, `to_torch`, `to_tensor`), slicing (`slice_time`, `slice_count`,
window bounds), validation and summaries, and the `Recording` type.
"""

from . import limits
from .construct import (
    as_events,
    from_dict,
    from_structured,
    make_events,
    polarity_to_uint8,
    sort_events,
)
from .convert import encode_polarity, to_dict, to_structured, to_tensor, to_torch
from .dtype import EVENT_DTYPE, FIELDS, TONIC_DTYPE, empty_events, is_canonical
from .recording import Recording
from .slicing import (
    cut,
    slice_count,
    slice_time,
    time_index,
    window_bounds_by_count,
    window_bounds_by_time,
)
from .stats import EventSummary, summarize
from .validate import first_outside, first_unsorted_index, require_sorted, validate_events

__all__ = [
    "EVENT_DTYPE",
    "FIELDS",
    "TONIC_DTYPE",
    "EventSummary",
    "Recording",
    "as_events",
    "cut",
    "empty_events",
    "encode_polarity",
    "first_outside",
    "first_unsorted_index",
    "from_dict",
    "from_structured",
    "is_canonical",
    "limits",
    "make_events",
    "polarity_to_uint8",
    "require_sorted",
    "slice_count",
    "slice_time",
    "sort_events",
    "summarize",
    "time_index",
    "to_dict",
    "to_structured",
    "to_tensor",
    "to_torch",
    "validate_events",
    "window_bounds_by_count",
    "window_bounds_by_time",
]
