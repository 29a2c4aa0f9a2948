"""SPIF / aestream UDP events: 32-bit words in datagrams of at most 512 bytes.

One word per event, little-endian: bit 31 the "no timestamp" flag (1: no timestamp follows),
bits 30-16 ``x`` (15 bits), bit 15 the polarity (1 = ON), bits 14-0 ``y``. With the flag clear
the next word is the event's timestamp in µs, truncated to 32 bits (it wraps every 71.6 min).
This is what SpiNNaker's SPIF and aestream's ``dvs_to_udp`` send (aestream's own ``UDPInput``
drops the polarity and the flag; this receiver honours both).

`SpifSource` listens (``udp://[HOST]:PORT``) and yields one chunk per burst of datagrams.
Event times: a timestamp word, unwrapped past its 32-bit wrap, when the sender sends them;
otherwise the arrival time in µs on the monotonic clock since the source opened. The first
decoded event fixes which (one time base per stream): a datagram with events of the other kind
is skipped and counted in ``stats["bad_packets"]`` and ``stats["mixed_time_base"]``. A datagram
that does not decode (length not a multiple of 4, a timestamped event missing its timestamp
word, a coordinate off ``sensor_size``) is skipped whole and counted in ``stats["bad_packets"]``:
UDP garbage never stops the stream. `send_events` is the sender (``spikestream serve
--protocol spif-udp``); it sends times relative to the first event so they fit 32 bits.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import numba
import numpy as np

from ..errors import ConfigError, StreamError, StreamTimeout
from ..events import EVENT_DTYPE, limits
from ..events.dtype import copy_events
from .sources import BaseSource, EventChunk

NO_TIMESTAMP = np.uint32(1 << 31)
#: Largest datagram the sender writes (SPIF's and aestream's size).
DATAGRAM_BYTES = 512
_MAX_DATAGRAM = 65536
_BURST = 256  # datagrams drained into one chunk at most
_POLL_S = 0.1


def encode_words(events: np.ndarray, t0: int = 0, *, timestamps: bool = True) -> np.ndarray:
    """Canonical events as SPIF words (``uint32``): with ``timestamps``, each event word is
    followed by ``(t - t0)`` truncated to 32 bits."""
    if len(events) and (int(events["x"].max()) >= 1 << 15 or int(events["y"].max()) >= 1 << 15):
        raise ConfigError("SPIF words hold x and y below 32768; this sensor is larger")
    word = (
        (events["x"].astype(np.uint32) << 16)
        | (events["p"].astype(np.uint32) & 1) << 15
        | events["y"].astype(np.uint32)
    )
    if not timestamps:
        return word | NO_TIMESTAMP
    out = np.empty((len(events), 2), dtype=np.uint32)
    out[:, 0] = word
    out[:, 1] = (events["t"] - t0).astype(np.uint64) & np.uint64(0xFFFFFFFF)
    return out.reshape(-1)


def datagrams(words: np.ndarray) -> Iterator[bytes]:
    """``words`` cut into datagrams of at most `DATAGRAM_BYTES` (an even number of words, so
    timestamp pairs stay whole)."""
    per = DATAGRAM_BYTES // 4
    data = words.astype("<u4", copy=False)
    for start in range(0, len(data), per):  # one step per datagram
        yield data[start : start + per].tobytes()


def send_events(
    sock: socket.socket,
    address: tuple[str, int],
    events: np.ndarray,
    t0: int = 0,
    *,
    timestamps: bool = True,
) -> int:
    """Send events as SPIF datagrams to ``address``; returns the number of datagrams."""
    n = 0
    for datagram in datagrams(encode_words(events, t0, timestamps=timestamps)):
        sock.sendto(datagram, address)
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _decode(words, w, h, t, x, y, p, start, mode):  # pragma: no cover - compiled
    """Decode one datagram's words into the field arrays from index ``start``; timestamps
    as raw 32-bit values, -1 where the event has none. Returns the events written, -1 when
    the datagram is malformed, -2 when an event's kind (1 timestamped, 0 not) differs from
    ``mode`` (-1: the first event's kind); nothing written counts then."""
    k = start
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        stamped = 0 if word & 0x80000000 else 1
        if mode < 0:
            mode = stamped
        elif stamped != mode:
            return -2
        ex = (word >> 16) & 0x7FFF
        ey = word & 0x7FFF
        if ex >= w or ey >= h or k >= len(t):
            return -1
        x[k] = ex
        y[k] = ey
        p[k] = (word >> 15) & 1
        if word & 0x80000000:
            t[k] = -1
            i += 1
        else:
            if i + 1 >= n:
                return -1
            t[k] = words[i + 1]
            i += 2
        k += 1
    return k - start


class SpifSource(BaseSource):
    """UDP listener for SPIF words on ``host:port`` (port 0: any free port, see ``.port``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3333,
        *,
        sensor_size: tuple[int, int],
        timeout_s: float | None = None,
        receive_buffer_bytes: int = 8 << 20,
    ) -> None:
        size = limits.sensor_dims(sensor_size)
        if size[0] > 1 << 15 or size[1] > 1 << 15:
            raise ConfigError(f"SPIF words hold x and y below 32768; sensor size {size} is larger")
        super().__init__(size)
        self.timeout_s = timeout_s
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # the kernel caps this at net.core.rmem_max; a bigger buffer rides out bursts
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise StreamError(
                f"udp://{host}:{port}: cannot listen ({exc.strerror or exc})"
            ) from None
        sock.setblocking(False)
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.address = f"udp://{self.host}:{self.port}"
        self.stats.update(datagrams=0, timestamp_wraps=0, mixed_time_base=0)
        self._mode = -1  # 1: timestamped events, 0: arrival times; -1: not known yet
        self._t_last = -1  # last raw 32-bit timestamp, for the unwrap
        self._t_high = 0
        self._start_ns = time.monotonic_ns()
        cap = _BURST * (_MAX_DATAGRAM // 4)
        self._out = np.empty(cap, dtype=EVENT_DTYPE)
        self._raw_t = np.empty(cap, dtype=np.int64)
        self._reading = False
        # Compile (or load from numba's cache) the decoder now, with a real call's argument
        # types: on the first datagram it would stall the reader while the burst overflows.
        out = self._out
        _decode(np.frombuffer(NO_TIMESTAMP.tobytes(), "<u4"), 1, 1, self._raw_t, out["x"],
                out["y"], out["p"], 0, -1)  # fmt: skip

    def _release(self) -> None:
        if not self._reading:
            self._sock.close()

    def _burst(self) -> tuple[int, int]:
        """Drain up to `_BURST` waiting datagrams into the output; (events, datagrams)."""
        out, k, got = self._out, 0, 0
        w, h = self.sensor_size  # type: ignore[misc]
        t, x, y, p = self._raw_t, out["x"], out["y"], out["p"]
        while got < _BURST:
            try:
                data = self._sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            got += 1
            self.stats["bytes"] += len(data)
            if len(data) % 4 or not data:
                self.stats["bad_packets"] += 1
                continue
            n = _decode(np.frombuffer(data, dtype="<u4"), w, h, t, x, y, p, k, self._mode)
            if n < 0:
                self.stats["bad_packets"] += 1
                self.stats["mixed_time_base"] += n == -2
                continue
            if n and self._mode < 0:
                self._mode = int(t[k] >= 0)
            k += n
        self.stats["datagrams"] += got
        return k, got

    def _times(self, n: int, arrival_ns: int) -> np.ndarray:
        raw = self._raw_t[:n]
        out = np.empty(n, dtype=np.int64)
        has = raw >= 0
        out[~has] = (arrival_ns - self._start_ns) // 1000
        if has.any():
            stamped = raw[has]
            prev = np.concatenate(([self._t_last if self._t_last >= 0 else stamped[0]], stamped))
            wraps = np.cumsum(np.diff(prev) < -(1 << 31))
            out[has] = stamped + ((self._t_high + wraps) << 32)
            self._t_high += int(wraps[-1])
            self.stats["timestamp_wraps"] = self._t_high
            self._t_last = int(stamped[-1])
        return out

    def __iter__(self) -> Iterator[EventChunk]:
        self._reading = True
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self._sock], [], [], _POLL_S)
                if not ready:
                    if (
                        self.timeout_s is not None
                        and time.monotonic() - idle_since > self.timeout_s
                    ):
                        raise StreamTimeout(f"{self.address}: no data for {self.timeout_s} s")
                    continue
                arrival = time.monotonic_ns()
                n, got = self._burst()
                if got:
                    idle_since = time.monotonic()
                if n:
                    events = copy_events(self._out[:n])
                    events["t"] = self._times(n, arrival)
                    yield self._chunk(events, arrival)
        finally:
            self._reading = False
            self._sock.close()


__all__ = ["DATAGRAM_BYTES", "SpifSource", "datagrams", "encode_words", "send_events"]
