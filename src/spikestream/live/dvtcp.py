"""The DV network stream (iniVation DV's TCP server output, dv-processing's ``NetworkWriter`` /
``NetworkReader``): the wire format as checked against dv-processing 2.0.4; our server's stream
is readable by its ``NetworkReader`` (tested event for event), not a byte copy of its writer's.

Per connection the server sends, little-endian:

1. ``u32 n`` and an ``n``-byte IOHeader flatbuffer (identifier ``IOHE``; no ``#!AER-DAT4.0``
   line): the compression (0 none, 1 LZ4, 2 LZ4 high, 3 Zstd, 4 Zstd high) and an XML stream
   description whose ``outInfo`` node names each stream id, its type (``EVTS``) and its sensor
   size (``sizeX``/``sizeY``).
2. Packets: ``i32 stream id``, ``i32 size``, ``size`` bytes: one LZ4/Zstd frame (or raw bytes)
   of a size-prefixed ``EVTS`` flatbuffer, a vector of 16-byte ``{i64 t, i16 x, i16 y, u8 on}``.

No end marker (the server closes the socket) and the client sends nothing. Packets are the
AEDAT4 file's packets, so the codec is `spikestream.io.aedat4`'s.

The client (`DvTcpSource`) refuses a header over ``MAX_HEADER_BYTES`` and a packet whose size
field is negative or over ``max_packet_bytes`` (default `MAX_WIRE_PACKET_BYTES`) before
allocating anything: the framing can no longer be trusted, so that is a `StreamError`; a packet
that decompresses past ``max_packet_bytes`` is skipped as bad (the limit bounds both sizes). The
header must arrive within ``header_timeout_s`` of connecting, and a message (packet header or
payload) whose first byte arrived must complete within ``message_timeout_s`` plus one second per
`MIN_RATE_BYTES_S` of its size: a server that trickles bytes is a `StreamError`, not a hang. The
declared sensor size must be 1..`spikestream.events.limits.MAX_SIDE` per side (or overridden
with ``sensor_size``). A packet
that is framed correctly but does not decode (corrupt frame, wrong identifier, coordinates off
the sensor) is skipped and counted in ``stats["bad_packets"]``; packets of other stream ids in
``stats["other_packets"]``. When the server closes the connection the client reconnects (up to
``reconnects`` failed attempts in a row, with doubling back-off; successes counted in
``stats["reconnects"]``), then ends the stream.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Iterator

import numba
import numpy as np

from ..errors import ConfigError, FormatError, StreamError, StreamTimeout
from ..events import EVENT_DTYPE, limits
from ..events.dtype import copy_events
from ..io import aedat4, flatbuf
from .sources import BaseSource, EventChunk

#: Largest IOHeader a client accepts (bytes), as for files.
MAX_HEADER_BYTES = aedat4.MAX_HEADER_BYTES
#: Default largest packet (compressed bytes on the wire) a client accepts: 64 MiB, about four
#: million uncompressed events; dv-processing sends one packet per internal shard (about 1-2 MB).
MAX_WIRE_PACKET_BYTES = 1 << 26
#: Slowest transfer a started message may take (bytes/s) on top of ``message_timeout_s``.
MIN_RATE_BYTES_S = 1 << 20
_POLL_S = 0.1  # how often a blocked read looks at close() and the timeout
_BUFFER_BYTES = 1 << 20


def ioheader(compression: int, sensor_size: tuple[int, int], source: str = "spikestream") -> bytes:
    """The bytes a server sends first on each connection: ``u32 n`` + IOHeader (stream id 0)."""
    name = {v: k for k, v in aedat4.COMPRESSION.items()}[compression]
    xml = aedat4.description_xml(name, sensor_size, source or "spikestream")
    header = flatbuf.build_ioheader(compression, -1, xml)
    return struct.pack("<I", len(header)) + header


def event_packets(events: np.ndarray, compression: int, per: int = 1 << 17) -> list[bytes]:
    """Canonical events as framed packets of stream 0 (header + payload), at most ``per``
    events each; no events gives one empty packet."""
    return [
        struct.pack("<ii", 0, len(p)) + p
        for p in aedat4.encode_event_packets(events, compression, per)
    ]


@numba.njit(cache=True, nogil=True)
def _first_bad(x, y, p, w, h):  # pragma: no cover - compiled
    """Index of the first event off the ``w`` x ``h`` sensor or with polarity > 1; -1 if none
    (one pass instead of a numpy reduction per field)."""
    for i in range(len(x)):
        if x[i] >= w or y[i] >= h or p[i] > 1:
            return i
    return -1


class DvTcpSource(BaseSource):
    """Client of a DV network event stream (``tcp://HOST:PORT``); one chunk per packet, the
    sensor size from the stream description (or ``sensor_size``).

    ``timeout_s``: longest wait for the next packet before `StreamError`; None waits until
    `close`. Connecting must succeed within ``connect_timeout_s``, the stream header arrive
    within ``header_timeout_s`` and each started message complete within ``message_timeout_s``
    (plus its size over `MIN_RATE_BYTES_S`), whatever ``timeout_s`` says.
    ``max_packet_bytes`` bounds a packet's wire size and its decompressed size.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float | None = None,
        sensor_size: tuple[int, int] | None = None,
        connect_timeout_s: float = 5.0,
        header_timeout_s: float = 10.0,
        message_timeout_s: float = 10.0,
        reconnects: int = 3,
        backoff_s: float = 0.1,
        max_packet_bytes: int = MAX_WIRE_PACKET_BYTES,
    ) -> None:
        super().__init__(sensor_size)
        self.host, self.port = host, port
        self.address = f"tcp://{host}:{port}"
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.header_timeout_s = header_timeout_s
        self.message_timeout_s = message_timeout_s
        self.reconnects = reconnects
        self.backoff_s = backoff_s
        self.max_packet_bytes = max_packet_bytes
        self._user_size = sensor_size
        self.stats.update(reconnects=0, other_packets=0, truncated_packets=0, ended=None)
        self._sock: socket.socket | None = None
        self._buf = bytearray(_BUFFER_BYTES)  # received bytes: [_lo, _hi) not yet consumed
        self._lo = self._hi = 0
        # Compile (or load from numba's cache) the event check now, not on the first packet,
        # with the argument types of a real call (strided record fields, int sizes).
        warm = np.zeros(1, dtype=EVENT_DTYPE)
        _first_bad(warm["x"], warm["y"], warm["p"], 1, 1)
        self._connect()  # fail here, not at the first iteration, when nothing listens

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except OSError as exc:
            raise StreamError(
                f"{self.address}: cannot connect ({exc.strerror or exc}); is the server "
                "running (e.g. `spikestream serve REC --protocol dv-tcp`)?"
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._sock = sock
        self._lo = self._hi = 0
        try:
            self._read_header()
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _release(self) -> None:
        # The reading thread polls the stop event every _POLL_S and closes the socket itself;
        # closing it here could hand its descriptor number to another socket mid-read.
        if self._sock is not None and not getattr(self, "_reading", False):
            self._drop()

    def _fill(
        self, n: int, *, deadline: float | None = None, budget_s: float | None = None
    ) -> bool:
        """Buffer at least ``n`` bytes; False when the peer closed first (or we were closed).
        `StreamError` past the monotonic ``deadline``, or ``budget_s`` after the message's
        first byte (pending bytes count as started now), or ``timeout_s`` without data."""
        if self._hi - self._lo >= n:
            return True
        if len(self._buf) - self._lo < n:  # make room: pending bytes to the front
            pending = self._buf[self._lo : self._hi]
            if len(self._buf) < n:  # n is bounded by max_packet_bytes, checked before
                self._buf = bytearray(max(n, min(2 * len(self._buf), self.max_packet_bytes + 8)))
            self._buf[: len(pending)] = pending
            self._lo, self._hi = 0, len(pending)
        idle_since = time.monotonic()
        if budget_s is not None and self._hi > self._lo:
            deadline = idle_since + budget_s
        with memoryview(self._buf) as view:
            while self._hi - self._lo < n:
                if self._stop.is_set() or self._sock is None:
                    return False
                if deadline is not None and time.monotonic() > deadline:
                    raise StreamError(
                        f"{self.address}: a {n}-byte message was still incomplete at its "
                        f"deadline ({self._hi - self._lo} bytes arrived): the server sends too "
                        "slowly (raise header_timeout_s / message_timeout_s for a slow link)"
                    )
                try:
                    got = self._sock.recv_into(view[self._hi :])
                except (BlockingIOError, InterruptedError):
                    ready, _, _ = select.select([self._sock], [], [], _POLL_S)
                    if not ready and self.timeout_s is not None and deadline is None:
                        if time.monotonic() - idle_since > self.timeout_s:
                            raise StreamTimeout(
                                f"{self.address}: no data for {self.timeout_s} s (read timeout)"
                            ) from None
                    continue
                except OSError:  # reset by the peer: the same as a close
                    return False
                if not got:
                    return False
                self.stats["bytes"] += got
                self._hi += got
                idle_since = time.monotonic()
                if budget_s is not None and deadline is None:  # the message has started
                    deadline = idle_since + budget_s
        return True

    def _take(self, n: int) -> bytearray:
        """The next ``n`` buffered bytes (a copy), consumed."""
        out = self._buf[self._lo : self._lo + n]
        self._lo += n
        if self._lo == self._hi:
            self._lo = self._hi = 0
        return out

    def _read_header(self) -> None:
        deadline = time.monotonic() + self.header_timeout_s
        if not self._fill(4, deadline=deadline):
            raise StreamError(f"{self.address}: connection closed before the stream header")
        (n,) = struct.unpack_from("<I", self._buf, self._lo)
        if not 8 <= n <= MAX_HEADER_BYTES:
            raise StreamError(
                f"{self.address}: not a DV network stream (header length {n}, first bytes "
                f"{bytes(self._buf[self._lo : self._lo + 16]).hex()}); expected an IOHeader "
                f"under {MAX_HEADER_BYTES} bytes"
            )
        if not self._fill(4 + n, deadline=deadline):
            raise StreamError(f"{self.address}: connection closed inside the stream header")
        header = bytes(self._take(4 + n)[4:])
        if header[4:8] != b"IOHE":
            raise StreamError(
                f"{self.address}: not a DV network stream (no IOHE identifier; first bytes "
                f"{header[:16].hex()})"
            )
        try:
            compression, _, streams = aedat4.parse_ioheader(header, self.address, 4)
        except FormatError as exc:
            raise StreamError(f"bad stream header: {exc}") from None
        events = [s for s in streams.values() if s.type_id == "EVTS"]
        if not events:
            raise StreamError(
                f"{self.address}: the stream declares no event (EVTS) stream: "
                f"{[(s.stream_id, s.type_id) for s in streams.values()]}"
            )
        self.compression = compression
        self.stream_id = events[0].stream_id
        self.source_name = events[0].source
        if self._user_size is None and events[0].size is not None:
            try:
                self.sensor_size = limits.sensor_dims(events[0].size, "the declared sensor size")
            except ConfigError as exc:
                raise StreamError(
                    f"{self.address}: {exc}; pass sensor_size=(W, H) (--sensor-size WxH) to "
                    "override what the stream declares"
                ) from None

    def _reconnect(self) -> bool:
        """After the server closed: connect again (bounded attempts); False when it stays gone."""
        self._drop()
        delay = self.backoff_s
        for _ in range(self.reconnects):
            if self._stop.wait(delay):
                return False
            try:
                self._connect()
            except StreamError:
                delay = min(2 * delay, 2.0)
                continue
            self.stats["reconnects"] += 1
            return True
        return False

    # -- packets ----------------------------------------------------------------------------

    def _decode(self, payload: bytearray | memoryview, offset: int) -> np.ndarray | None:
        """The packet's events as canonical events (a view of the decompressed bytes, whose
        record layout is the canonical one), or None when it does not decode or holds an
        event off the sensor (a negative int16 coordinate reads as >= 32768)."""
        try:
            records = aedat4.decode_event_packet(
                payload, self.compression, self.max_packet_bytes, self.address, offset
            )
        except FormatError:
            return None
        # decompress() hands out fresh writable bytes (its one copy): a view of them
        events = records.view(EVENT_DTYPE) if records.flags.writeable else copy_events(records)
        w, h = self.sensor_size or (1 << 15, 1 << 15)
        if len(events) and _first_bad(events["x"], events["y"], events["p"], w, h) >= 0:
            return None
        return events

    def __iter__(self) -> Iterator[EventChunk]:
        self._reading = True
        offset = 0  # bytes of packets read on this connection, for error messages
        try:
            while not self._stop.is_set():
                ok = self._sock is not None and self._fill(8, budget_s=self.message_timeout_s)
                if ok:
                    sid, size = struct.unpack_from("<ii", self._buf, self._lo)
                    if size < 0 or size > self.max_packet_bytes:
                        raise StreamError(
                            f"{self.address}: packet at stream byte {offset} claims {size} "
                            f"bytes (refused: negative or over the {self.max_packet_bytes}-byte "
                            "limit; raise max_packet_bytes if the server really sends such "
                            "packets)"
                        )
                    budget = self.message_timeout_s + size / MIN_RATE_BYTES_S
                    ok = self._fill(8 + size, budget_s=budget)
                if not ok:  # the server closed (mid-packet: counted), or we were closed
                    if self._hi > self._lo:
                        self.stats["truncated_packets"] += 1
                    if self._stop.is_set() or not self._reconnect():
                        self.stats["ended"] = "closed" if self._stop.is_set() else "server gone"
                        return
                    offset = 0
                    continue
                arrival = time.monotonic_ns()
                self._lo += 8
                # read in place: decompress() copies (NONE) or decodes into fresh bytes
                payload = memoryview(self._buf)[self._lo : self._lo + size]
                self._lo += size
                if self._lo == self._hi:
                    self._lo = self._hi = 0
                offset += 8 + size
                if sid != self.stream_id:
                    self.stats["other_packets"] += 1
                    continue
                events = self._decode(payload, offset - size)
                payload.release()  # the buffer may grow (resize) only with no view open
                if events is None:
                    self.stats["bad_packets"] += 1
                    continue
                yield self._chunk(events, arrival)
        finally:
            self._reading = False
            self._drop()


__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_WIRE_PACKET_BYTES",
    "MIN_RATE_BYTES_S",
    "DvTcpSource",
    "event_packets",
    "ioheader",
]
