"""Live event sources: one interface for file replay, the DV TCP network stream, SPIF UDP and
cameras.

A source is an iterable of `EventChunk` (canonical events, times in recording µs, plus the
monotonic time the chunk arrived) that ends when the stream ends. ``close()`` is idempotent, may
be called from another thread and unblocks an iterator waiting for data; every source is also a
context manager. ``stats`` counts what passed (chunks, events, bytes) and what went wrong
(bad packets, reconnects, ...). `open_source` turns a spec string into a source:

- ``file:PATH`` or a plain path: any readable format, replayed at recorded speed (``speed=1``),
  N times faster (``speed=N``) or as fast as it decodes (``speed=None``); ``loop=True`` repeats
  it, each pass shifted in time to follow the previous one so times keep increasing.
- ``tcp://HOST:PORT``: a DV network stream (dv-processing's ``NetworkWriter``, DV's TCP server
  output, ``spikestream serve --protocol dv-tcp``); see `spikestream.live.dvtcp`.
- ``udp://[HOST]:PORT``: a SPIF/aestream UDP listener (bound to 127.0.0.1 when HOST is empty);
  needs ``sensor_size``; see `spikestream.live.spif`.
- ``dv:[CAMERA]`` / ``metavision:[SERIAL]``: a camera through dv-processing or OpenEB; see
  `spikestream.live.cameras`.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError
from ..events import EVENT_DTYPE, Recording, limits
from ..events.dtype import copy_events

#: Recorded time one replayed chunk covers (µs): the pacing granularity of file replay.
DEFAULT_CHUNK_US = 1000
#: Most events file replay holds back for one window: a longer window is released in parts.
MAX_PENDING_EVENTS = 1 << 22


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@dataclass(frozen=True)
class EventChunk:
    """Events as they arrived: canonical events (times in recording µs) and the
    ``time.monotonic_ns()`` at which the chunk was received (or, in replay, released)."""

    events: np.ndarray
    arrival_ns: int


@runtime_checkable
class EventSource(Protocol):
    """An iterable of `EventChunk` that ends when the stream ends."""

    sensor_size: tuple[int, int] | None
    stats: dict[str, Any]

    def __iter__(self) -> Iterator[EventChunk]: ...

    def close(self) -> None: ...


class BaseSource:
    """Shared plumbing: the stop event that `close` sets (waits use it, so closing from another
    thread wakes them), the stats dict and the context manager."""

    def __init__(self, sensor_size: tuple[int, int] | None = None) -> None:
        self.sensor_size = sensor_size
        self.stats: dict[str, Any] = {"chunks": 0, "events": 0, "bytes": 0, "bad_packets": 0}
        self._stop = threading.Event()

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._release()

    def _release(self) -> None:
        """Free the source's resources (runs once, on the first `close`)."""

    def _chunk(self, events: np.ndarray, arrival_ns: int | None = None) -> EventChunk:
        self.stats["chunks"] += 1
        self.stats["events"] += len(events)
        return EventChunk(events, time.monotonic_ns() if arrival_ns is None else arrival_ns)

    def __iter__(self) -> Iterator[EventChunk]:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def split_by_time(events: np.ndarray, t0: int, span_us: int) -> list[np.ndarray]:
    """``events`` (time-sorted) cut into the non-empty windows ``[t0 + k*span, t0 + (k+1)*span)``;
    vectorised, and empty windows cost nothing (a time jump never loops)."""
    if not len(events):
        return []
    k = (events["t"] - t0) // span_us
    cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
    return np.split(events, cuts) if len(cuts) else [events]


class FileSource(BaseSource):
    """Replay of an event file in bounded memory (`spikestream.io.iter_chunks`; or of an
    in-memory `Recording`), in chunks of ``chunk_us`` recorded µs, each released when its last
    event's time has elapsed on the monotonic clock (scaled by ``speed``; ``None``: no waiting)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | Recording,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        sensor_size: tuple[int, int] | None = None,
        chunk_us: int = DEFAULT_CHUNK_US,
        **read_options: Any,
    ) -> None:
        from ..io import iter_chunks

        if speed is not None and not (0 < speed < float("inf")):
            raise ConfigError(
                f"speed must be a number > 0 (or None: as fast as possible), got {speed}"
            )
        if chunk_us <= 0:
            raise ConfigError(f"chunk_us must be > 0, got {chunk_us}")
        opts = dict(read_options)
        if sensor_size is not None:
            opts["sensor_size"] = limits.sensor_dims(sensor_size)
        if isinstance(path, Recording):
            rec = path
            self._open: Callable[[], Iterator[Recording]] = lambda: iter([rec])
            self.path = None
        else:
            if not Path(path).is_file():
                raise ConfigError(f"{path}: no such file to replay")
            self._open = lambda: iter_chunks(path, **opts)
            self.path = Path(path)
        self.speed = speed
        self.loop = loop
        self.chunk_us = int(chunk_us)
        # The first block now: the sensor size is known before iterating, and a broken file
        # fails at open rather than mid-stream.
        self._blocks = self._open()
        self._first = next(self._blocks, None)
        size = sensor_size or (self._first.sensor_size if self._first is not None else None)
        super().__init__(size)
        self.stats.update(passes=0, late_chunks=0)
        self._iterating = False

    def _release(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None and not self._iterating:
            close()  # a running generator closes itself when the iterator sees the stop

    def _passes(self) -> Iterator[np.ndarray]:
        """Time-sorted event blocks of every pass, later passes shifted to follow on."""
        shift = 0
        blocks: Iterator[Any] = itertools.chain([self._first] if self._first else [], self._blocks)
        while True:
            t_first = t_last = None
            for rec in blocks:
                ev = rec.events
                if not len(ev):
                    continue
                if t_first is None:
                    t_first = int(ev["t"][0])
                t_last = int(ev["t"][-1])
                if shift:
                    ev = copy_events(ev)
                    ev["t"] += shift
                yield ev
                if self._stop.is_set():
                    return
            self.stats["passes"] += 1
            if not self.loop or t_first is None or t_last is None or self._stop.is_set():
                return
            # next pass starts one chunk after this one ended
            shift += t_last - t_first + self.chunk_us
            self._blocks = blocks = self._open()

    def __iter__(self) -> Iterator[EventChunk]:
        self._iterating = True
        start_ns = None
        t0 = None
        # Pieces of the window that may go on in the next decoded block, joined once when it
        # completes (or when it holds `MAX_PENDING_EVENTS`: a huge window is then released in
        # parts, each when its last event is due, so memory stays bounded).
        pending: list[np.ndarray] = []
        pending_n = 0
        try:
            for ev in self._passes():
                if t0 is None:
                    t0 = int(ev["t"][0])
                    start_ns = time.monotonic_ns()
                pieces = []
                if pending:  # complete its window from the new block's head
                    last = int(pending[-1]["t"][-1])
                    end = t0 + ((last - t0) // self.chunk_us + 1) * self.chunk_us
                    cut = int(np.searchsorted(ev["t"], end))
                    if cut:
                        pending.append(ev[:cut])
                        pending_n += cut
                        ev = ev[cut:]
                    if not len(ev) and pending_n < MAX_PENDING_EVENTS:
                        continue
                    pieces.append(_join(pending))
                    pending, pending_n = [], 0
                if len(ev):
                    pieces += split_by_time(ev, t0, self.chunk_us)
                    tail = pieces.pop()  # its window may go on in the next block
                    pending, pending_n = [tail], len(tail)
                for piece in pieces:
                    chunk = self._pace(piece, t0, start_ns)
                    if chunk is None:
                        return
                    yield chunk
            if pending and not self._stop.is_set():
                chunk = self._pace(_join(pending), t0, start_ns)
                if chunk is not None:
                    yield chunk
        finally:
            self._iterating = False
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()

    def _pace(self, events: np.ndarray, t0: Any, start_ns: Any) -> EventChunk | None:
        """Wait until the chunk's last event is due; None when closed meanwhile."""
        if self.speed is not None:
            due_ns = start_ns + int((int(events["t"][-1]) - t0) * 1000 / self.speed)
            wait = (due_ns - time.monotonic_ns()) / 1e9
            if wait > 0:
                if self._stop.wait(wait):
                    return None
            elif wait < -0.01:
                self.stats["late_chunks"] += 1  # the consumer (or the decoder) fell behind
        if self._stop.is_set():
            return None
        self.stats["bytes"] += events.nbytes
        return self._chunk(np.ascontiguousarray(events, dtype=EVENT_DTYPE))


def _host_port(spec: str, scheme: str, *, default_host: str | None) -> tuple[str, int]:
    rest = spec[len(scheme) :]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{spec!r}: expected {scheme}HOST:PORT with a port 0..65535")
    host = host.strip("[]")
    if not host:
        if default_host is None:
            raise ConfigError(f"{spec!r}: give a host, e.g. {scheme}127.0.0.1:{port}")
        host = default_host
    return host, int(port)


def open_source(
    spec: str | os.PathLike[str],
    *,
    speed: float | None = 1.0,
    loop: bool = False,
    sensor_size: tuple[int, int] | None = None,
    timeout_s: float | None = None,
) -> EventSource:
    """The source a spec names (see the module docstring).

    ``speed`` and ``loop`` apply to file replay; ``sensor_size`` overrides what the source
    declares (and is required for UDP, which declares none); ``timeout_s`` bounds how long a
    network source waits for data before raising `StreamError` (None: wait until closed).

    Example:
        >>> with open_source("tcp://127.0.0.1:7777", timeout_s=5) as src:
        ...     for chunk in src:
        ...         print(len(chunk.events), chunk.arrival_ns)
    """
    text = os.fspath(spec)
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(f"timeout_s must be > 0 (or None), got {timeout_s}")
    if sensor_size is not None:
        sensor_size = limits.sensor_dims(sensor_size)
    if text.startswith("tcp://"):
        from .dvtcp import DvTcpSource

        host, port = _host_port(text, "tcp://", default_host=None)
        return DvTcpSource(host, port, timeout_s=timeout_s, sensor_size=sensor_size)
    if text.startswith("udp://"):
        from .spif import SpifSource

        host, port = _host_port(text, "udp://", default_host="127.0.0.1")
        if sensor_size is None:
            raise ConfigError(
                f"{text}: a UDP (SPIF) stream declares no sensor size; pass sensor_size=(W, H) "
                "(--sensor-size WxH)"
            )
        return SpifSource(host, port, sensor_size=sensor_size, timeout_s=timeout_s)
    if text.startswith(("dv:", "metavision:")):
        from .cameras import open_camera

        return open_camera(text, sensor_size=sensor_size, timeout_s=timeout_s)
    if text.startswith("file:"):
        text = text[len("file:") :]
    elif "://" in text:
        raise ConfigError(
            f"{text!r}: unknown source; use file:PATH, tcp://HOST:PORT, udp://[HOST]:PORT, "
            "dv:[CAMERA] or metavision:[SERIAL]"
        )
    return FileSource(text, speed=speed, loop=loop, sensor_size=sensor_size)


__all__ = [
    "BaseSource",
    "EventChunk",
    "EventSource",
    "FileSource",
    "open_source",
    "split_by_time",
]
