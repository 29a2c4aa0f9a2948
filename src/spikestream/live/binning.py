"""Fixed time bins over a stream of event chunks, whatever the chunking.

Bin ``k`` is ``[origin + k * width, origin + (k + 1) * width)`` in recording time (µs), with
``origin`` the first event's time unless given. A bin is complete when an event at or after its
end arrives (or the stream ends: the last, partial bin is flushed). Only bins that hold events
are emitted; each carries ``empty_before``, the number of empty bins between it and the bin
emitted before it, so a long quiet stretch costs nothing here and the engine decides what to do
with it (step through them, or reset: see `spikestream.live.engine`).

The counting is `spikestream.transforms.functional.accumulate` (the kernel every training
frame comes from) over each bin's events on the whole sensor. Splitting the same events into
chunks differently gives the same bins, bit for bit (tests/test_live_engine.py).

Events must be time-sorted within a chunk (an unsorted chunk is sorted, counted); an event
earlier than the open bin (a chunk that arrived late) is counted in the open bin
(``late_events``); a jump back by more than ``rewind_us`` (a recording restarted, a server that
came back) starts a new grid at that event: the next bin has ``restart=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ValidationError
from ..events import EVENT_DTYPE, is_canonical, limits
from ..transforms.functional import accumulate

__all__ = ["Bin", "Binner"]


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    """Canonical events back to back, copied as raw 16-byte records (numpy's structured
    concatenate promotes field by field: several times slower)."""
    words = [np.ascontiguousarray(p).view(np.uint64) for p in parts]
    return np.concatenate(words).view(EVENT_DTYPE)


@dataclass
class Bin:
    """One complete time bin: grid index, bounds in recording time (µs), the event count image
    ``[2, H, W]`` (float32, sensor coordinates), how many events it holds, how many empty bins
    came before it, whether the grid restarted at it, and when the chunk that completed it
    arrived (``time.monotonic_ns``)."""

    index: int
    t_start_us: int
    t_end_us: int
    image: np.ndarray
    n_events: int
    empty_before: int
    arrival_ns: int
    restart: bool = False
    binned_ns: int = 0


class Binner:
    """Cuts a stream of event chunks into fixed bins of ``width_us`` on a ``sensor_size``
    ``(W, H)`` sensor. ``push(events, arrival_ns)`` returns the bins that chunk completed;
    ``flush(arrival_ns)`` the last one. ``fold_events`` bounds the events held for the open bin:
    past it they are counted into the open bin's image early (same counts, bounded memory)."""

    def __init__(
        self,
        width_us: int,
        sensor_size: tuple[int, int],
        *,
        origin_us: int | None = None,
        rewind_us: int | None = None,
        fold_events: int = 1 << 22,
    ) -> None:
        if int(width_us) < 1:
            raise ConfigError(f"the bin width must be >= 1 µs, got {width_us}")
        self.width = int(width_us)
        self.sensor_size = limits.sensor_dims(tuple(sensor_size), what="the sensor size")
        self.origin = None if origin_us is None else int(origin_us)
        self.rewind_us = max(1_000_000, 10 * self.width) if rewind_us is None else int(rewind_us)
        self.fold_events = int(fold_events)
        self._open_k = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._image: np.ndarray | None = None  # counts folded early for the open bin
        self._folded = 0  # events in _image
        self._last_emitted = -1
        self._restart = False
        self.late_events = 0
        self.unsorted_chunks = 0
        self.restarts = 0
        self.events = 0

    # -- helpers ---------------------------------------------------------------------------

    def _count(self, events: np.ndarray) -> np.ndarray:
        w, h = self.sensor_size
        if len(events) == 0:
            return np.zeros((2, h, w), dtype=np.float32)
        counts = accumulate(events, np.array([0]), np.array([len(events)]), self.sensor_size)
        return counts[0]

    def _close(self, arrival_ns: int) -> Bin | None:
        """The open bin as a `Bin` (None when it holds nothing)."""
        n = self._pending_n
        if n == 0 and self._image is None:
            return None
        if not self._pending:
            events = np.empty(0, dtype=EVENT_DTYPE)
        elif len(self._pending) == 1:
            events = self._pending[0]
        else:
            events = _concatenate(self._pending)
        image = self._count(events)
        if self._image is not None:
            image += self._image
            n += self._folded
        k = self._open_k
        assert self.origin is not None  # set by the first push
        start = self.origin + k * self.width
        b = Bin(
            index=k,
            t_start_us=start,
            t_end_us=start + self.width,
            image=image,
            n_events=n,
            empty_before=k - self._last_emitted - 1 if self._last_emitted >= 0 else 0,
            arrival_ns=arrival_ns,
            restart=self._restart,
        )
        self._restart = False
        self._last_emitted = k
        self._pending, self._pending_n, self._image, self._folded = [], 0, None, 0
        return b

    def _add(self, events: np.ndarray) -> None:
        self._pending.append(events)
        self._pending_n += len(events)
        if self._pending_n >= self.fold_events:  # bound what the open bin holds
            folded = self._count(_concatenate(self._pending))
            if self._image is None:
                self._image = folded
            else:
                self._image += folded
            self._folded += self._pending_n
            self._pending, self._pending_n = [], 0

    def _segments(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bin index, start) of each run of events in one bin, for sorted ``t`` whose events
        are all at or after the open bin's start (late ones already moved into it)."""
        origin = self.origin
        assert origin is not None  # set by the first push
        k_first = (int(t[0]) - origin) // self.width
        k_last = (int(t[-1]) - origin) // self.width
        if k_last - k_first <= len(t):
            # few bins: their edges by binary search (no pass over every event)
            ks = np.arange(k_first + 1, k_last + 1, dtype=np.int64)
            edges = np.searchsorted(t, origin + ks * self.width, side="left")
            starts = np.concatenate(([0], edges))
            ids = np.concatenate(([k_first], ks))
            keep = np.concatenate((starts[1:], [len(t)])) > starts  # drop empty bins
            return ids[keep], starts[keep]
        # a long quiet stretch inside the chunk: each event's bin, then where it changes
        k = (t - origin) // self.width
        starts = np.concatenate(([0], np.flatnonzero(np.diff(k)) + 1))
        return k[starts], starts

    # -- API -------------------------------------------------------------------------------

    def push(self, events: np.ndarray, arrival_ns: int = 0) -> list[Bin]:
        """Add one chunk of canonical events; the bins it completed, in order."""
        if not is_canonical(events):
            raise ValidationError(
                f"a live chunk must be canonical events (spikestream.events.EVENT_DTYPE), "
                f"got dtype {getattr(events, 'dtype', type(events))}"
            )
        if len(events) == 0:
            return []
        t = events["t"]
        if len(t) > 1 and bool((t[1:] < t[:-1]).any()):
            self.unsorted_chunks += 1
            events = events[np.argsort(t, kind="stable")]
            t = events["t"]
        self.events += len(events)
        out: list[Bin] = []
        if self.origin is None:
            self.origin = int(t[0])
        open_start = self.origin + self._open_k * self.width
        if int(t[0]) < open_start - self.rewind_us:  # the stream went back in time: new grid
            closed = self._close(arrival_ns)
            if closed is not None:
                out.append(closed)
            self.origin, self._open_k, self._last_emitted = int(t[0]), 0, -1
            self._restart = True
            self.restarts += 1
            open_start = self.origin
        late = int(np.searchsorted(t, open_start, side="left"))
        if late:
            self.late_events += late
            self._add(events[:late])
            events, t = events[late:], t[late:]
            if len(t) == 0:
                return out
        ids, starts = self._segments(t)
        stops = np.concatenate((starts[1:], [len(t)]))
        for k, lo, hi in zip(ids.tolist(), starts.tolist(), stops.tolist(), strict=True):
            if k != self._open_k:
                closed = self._close(arrival_ns)
                if closed is not None:
                    out.append(closed)
                self._open_k = k
            self._add(events[lo:hi])
        return out

    def flush(self, arrival_ns: int = 0) -> list[Bin]:
        """The open bin, when it holds events (the end of the stream)."""
        closed = self._close(arrival_ns)
        return [] if closed is None else [closed]
