"""Summary statistics of an event array (what ``spikestream info`` prints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numba
import numpy as np

from .validate import first_unsorted_index


@numba.njit(cache=True, nogil=True)
def _peak_count_per_bin(t: np.ndarray, bin_us: int) -> int:
    # t is sorted: count events per aligned bin in one pass, keep the largest count.
    best = 0
    count = 0
    current = t[0] // bin_us if len(t) else 0
    for i in range(len(t)):
        b = t[i] // bin_us
        if b != current:
            current = b
            count = 0
        count += 1
        if count > best:
            best = count
    return best


@dataclass(frozen=True)
class EventSummary:
    """Counts, time span and rates of an event array."""

    count: int
    t_min: int | None
    t_max: int | None
    duration_us: int
    on_count: int
    off_count: int
    mean_rate_hz: float
    peak_rate_hz: float
    peak_bin_us: int

    def as_dict(self) -> dict[str, int | float | None]:
        return asdict(self)


def summarize(events: np.ndarray, *, peak_bin_us: int = 1000) -> EventSummary:
    """Count, time span, mean rate, peak rate over ``peak_bin_us`` bins, ON/OFF balance."""
    n = len(events)
    if n == 0:
        return EventSummary(0, None, None, 0, 0, 0, 0.0, 0.0, peak_bin_us)
    t = events["t"]
    if first_unsorted_index(t) is not None:
        t = np.sort(t)
    t_min, t_max = int(t[0]), int(t[-1])
    duration = t_max - t_min
    on = int(np.count_nonzero(events["p"]))
    mean_rate = n / (duration * 1e-6) if duration > 0 else float("inf")
    peak = _peak_count_per_bin(t, peak_bin_us) / (peak_bin_us * 1e-6)
    return EventSummary(n, t_min, t_max, duration, on, n - on, mean_rate, peak, peak_bin_us)
