"""The canonical event dtype."""

from __future__ import annotations

import numpy as np

#: One event: ``t`` in microseconds (int64), pixel ``x``/``y`` (uint16, origin top-left),
#: polarity ``p`` (uint8, 0 = OFF, 1 = ON). Aligned to 16 bytes so that ``t`` is 8-byte aligned
#: for compiled loops (the same record size as expelliarmus and OpenEB's EventCD).
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")], align=True)

#: Tonic's default event dtype (``tonic.io.events_struct``), offered for conversions back.
TONIC_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])

FIELDS = ("t", "x", "y", "p")


def empty_events(n: int = 0) -> np.ndarray:
    """An uninitialised canonical event array of ``n`` events."""
    return np.empty(n, dtype=EVENT_DTYPE)


def is_canonical(events: np.ndarray) -> bool:
    """True when ``events`` is a 1-D array of exactly `EVENT_DTYPE`."""
    return isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE and events.ndim == 1


def copy_events(records: np.ndarray) -> np.ndarray:
    """A writable canonical copy of 16-byte event records (`EVENT_DTYPE` or a record type of
    the same layout, e.g. a read-only view of decoded wire bytes), copied as bytes: numpy
    copies padded records field by field, about 100x slower."""
    return np.ascontiguousarray(records).view(np.uint8).copy().view(EVENT_DTYPE)
