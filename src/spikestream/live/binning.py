"""Fixed time bins over a stream of event chunks, whatever the chunking.

Bin ``k`` is ``[origin + k * width, origin + (k + 1) * width)`` in recording time (µs), with
``origin`` the first event's time unless given. A bin is complete when an event at or after its
end arrives, when the stream ends (the last, partial bin is flushed), or when the caller's clock
says its time has passed (`Binner.advance`: the engine maps the wall clock to recording time for
live sources, so a bin closes on time even when no later event comes). `push` and `flush` emit
only bins that hold events; each carries ``empty_before``, the number of empty bins between it
and the bin emitted before it, so a long quiet stretch costs nothing here and the engine decides
what to do with it (step through them, or reset: see `spikestream.live.engine`). `advance` also
emits the empty bins whose time has passed, one by one, up to ``max_empty`` in a row.

Counts are ``uint16`` (``int32`` for a bin of 65536 events or more, which could overflow a
pixel): half the bytes of float32 images in the engine's queue.

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
    ``[2, H, W]`` (uint16 or int32 counts, sensor coordinates; None for an empty bin closed by
    the clock), how many events it holds, how many empty bins came before it, whether the grid
    restarted at it, and when the chunk (or the clock tick) that completed it arrived
    (``time.monotonic_ns``). The engine adds ``due_ns`` (when the bin's end was due on the
    wall clock, 0 when unknown) and, when its queue dropped bins before this one,
    ``dropped_bins``/``dropped_events``."""

    index: int
    t_start_us: int
    t_end_us: int
    image: np.ndarray | None
    n_events: int
    empty_before: int
    arrival_ns: int
    restart: bool = False
    binned_ns: int = 0
    due_ns: int = 0
    dropped_bins: int = 0
    dropped_events: int = 0

    @property
    def nbytes(self) -> int:
        return 0 if self.image is None else int(self.image.nbytes)


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
        self._empties = 0  # empty bins `advance` emitted since the last bin with events
        self._restart = False
        self.late_events = 0
        self.unsorted_chunks = 0
        self.restarts = 0
        self.events = 0

    # -- helpers ---------------------------------------------------------------------------

    def _count(self, events: np.ndarray, dtype: type = np.int32) -> np.ndarray:
        w, h = self.sensor_size
        if len(events) == 0:
            return np.zeros((2, h, w), dtype=dtype)
        counts = accumulate(
            events, np.array([0]), np.array([len(events)]), self.sensor_size, dtype=dtype
        )
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
        total = n + self._folded
        # no pixel can pass 65535 in a bin of fewer events
        image = self._count(events, np.uint16 if total < 65536 else np.int32)
        if self._image is not None:
            image = self._image + image
            n = total
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
        self._empties = 0
        self._pending, self._pending_n, self._image, self._folded = [], 0, None, 0
        return b

    def _add(self, events: np.ndarray) -> None:
        self._pending.append(events)
        self._pending_n += len(events)
        if self._pending_n >= self.fold_events:  # bound what the open bin holds
            folded = self._count(_concatenate(self._pending), np.int32)
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
            self._empties = 0
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

    def next_end_us(self, max_empty: int) -> int | None:
        """The recording time at which the next bin (the open one, or the next empty one) ends;
        None before the first event, or when ``max_empty`` empty bins in a row were emitted
        and no event came since (nothing to do until one does)."""
        if self.origin is None or (self._pending_n == 0 and self._image is None
                                   and self._empties >= max_empty):  # fmt: skip
            return None
        return self.origin + (self._open_k + 1) * self.width

    def advance(self, t_us: int, arrival_ns: int, max_empty: int) -> list[Bin]:
        """The bins whose end is at or before ``t_us`` (the clock's recording time): the open
        bin when it holds events, then the empty bins after it, at most ``max_empty`` empty
        bins in a row (later ones are left to ``empty_before``). Events older than the new
        open bin that arrive later are counted in it (``late_events``)."""
        if self.origin is None:
            return []
        k_due = (int(t_us) - self.origin) // self.width  # bins before k_due have ended
        if k_due <= self._open_k:
            return []
        out: list[Bin] = []
        closed = self._close(arrival_ns)
        if closed is not None:
            out.append(closed)
        first = max(self._last_emitted + 1, self._open_k if closed is None else self._open_k + 1)
        n = max(0, min(k_due - first, max_empty - self._empties))
        for k in range(first, first + n):
            start = self.origin + k * self.width
            out.append(Bin(k, start, start + self.width, None, 0,
                           k - self._last_emitted - 1 if self._last_emitted >= 0 else 0,
                           arrival_ns, restart=self._restart))  # fmt: skip
            self._restart = False
            self._last_emitted = k
        self._empties += n
        self._open_k = k_due
        return out

    def flush(self, arrival_ns: int = 0) -> list[Bin]:
        """The open bin, when it holds events (the end of the stream)."""
        closed = self._close(arrival_ns)
        return [] if closed is None else [closed]
