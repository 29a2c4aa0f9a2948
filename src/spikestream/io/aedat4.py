"""AEDAT 4.0 (DV): ``#!AER-DAT4.0\\r\\n``, a uint32 length and an IOHeader flatbuffer
(compression, file data table position, XML stream description), then packets
``int32 stream id, int32 size, size bytes`` up to the data table (or the end of the file).

Each packet is one LZ4 or Zstd frame (or raw bytes) holding a size-prefixed flatbuffer whose file
identifier names its type: ``EVTS`` (events), ``FRME`` (frames), ``IMUS``, ``TRIG``. An ``EVTS``
packet is a vector of 16-byte structs ``{int64 t, int16 x, int16 y, bool on}`` - the same layout
as the canonical event dtype, so decoding a packet is one copy. Other streams are counted in the
metadata and skipped.

Against decompression bombs nothing a header claims is allocated untested: a packet's declared
size must fit what its compressed bytes can expand to (`max_expansion`) and ``max_packet_bytes``,
must equal what really comes out, and the output of `read` grows with what is really decoded.
"""

from __future__ import annotations

import mmap
import os
import struct
import xml.etree.ElementTree as ET
import xml.sax.saxutils
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lz4.frame
import numpy as np
import zstandard

from ..errors import ConfigError, FormatError
from ..events import EVENT_DTYPE, Recording
from ..events.dtype import copy_events
from . import flatbuf
from .base import (
    EventFormat,
    EventWriter,
    PathLike,
    compact,
    resolve_sensor_size,
    warn_truncated,
)

MAGIC = b"#!AER-DAT4.0\r\n"
COMPRESSION = {"none": 0, "lz4": 1, "lz4_high": 2, "zstd": 3, "zstd_high": 4}
#: One event record of an ``EVTS`` packet (the canonical layout, x/y signed as DV writes them).
EVENT_PACKET_DTYPE = _DV_EVENT = np.dtype(
    {
        "names": ["t", "x", "y", "p"],
        "formats": ["<i8", "<i2", "<i2", "u1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)
MAX_HEADER_BYTES = 1 << 24
MAX_PACKET_BYTES = 1 << 28


@dataclass(frozen=True)
class Stream:
    """One output stream declared in the XML description."""

    stream_id: int
    type_id: str
    name: str
    size: tuple[int, int] | None
    source: str | None


@dataclass
class _Layout:
    compression: int
    data_start: int
    data_end: int
    streams: dict[int, Stream]


def _parse_description(xml: str, path: PathLike | None, offset: int) -> dict[int, Stream]:
    """The streams of the XML description (in the IOHeader at byte ``offset``)."""
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise FormatError(
            "stream description contains a DOCTYPE/ENTITY (refused)", path=path, offset=offset
        )
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise FormatError(
            f"stream description is not valid XML: {exc}", path=path, offset=offset
        ) from exc
    streams: dict[int, Stream] = {}
    for out in root.iter("node"):
        if out.get("name") != "outInfo":
            continue
        for node in out.findall("node"):
            if not (node.get("name") or "").isdecimal():
                continue
            attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
            info = next((n for n in node.findall("node") if n.get("name") == "info"), None)
            iattrs = (
                {a.get("key"): (a.text or "") for a in info.findall("attr")}
                if info is not None
                else {}
            )
            size = None
            if iattrs.get("sizeX", "").isdecimal() and iattrs.get("sizeY", "").isdecimal():
                size = (int(iattrs["sizeX"]), int(iattrs["sizeY"]))
            sid = int(node.get("name", "0"))
            streams[sid] = Stream(
                sid,
                attrs.get("typeIdentifier", ""),
                attrs.get("originalOutputName", ""),
                size,
                iattrs.get("source"),
            )
    return streams


def _layout(buf: mmap.mmap | bytes, path: PathLike) -> _Layout:
    if len(buf) < len(MAGIC) + 4 or bytes(buf[: len(MAGIC)]) != MAGIC:
        raise FormatError("not an AEDAT 4.0 file (no #!AER-DAT4.0 magic)", path=path, offset=0)
    (length,) = struct.unpack_from("<I", buf, len(MAGIC))
    start = len(MAGIC) + 4
    if length > MAX_HEADER_BYTES or start + length > len(buf):
        raise FormatError(
            f"IOHeader claims {length} bytes, file has {len(buf) - start} after the magic",
            path=path,
            offset=len(MAGIC),
        )
    compression, data_position, streams = parse_ioheader(
        bytes(buf[start : start + length]), path, start
    )
    end = len(buf)
    if 0 < data_position <= len(buf) and data_position >= start + length:
        end = data_position
    return _Layout(compression, start + length, end, streams)


def parse_ioheader(
    header: bytes, path: PathLike | None, offset: int
) -> tuple[int, int, dict[int, Stream]]:
    """(compression id, data table position, streams) of an IOHeader flatbuffer (a file's, or
    the one a DV network stream starts with) found at byte ``offset`` of ``path``."""
    table = flatbuf.FlatTable.root(header, 0, "IOHeader", offset, path=path)
    compression = table.scalar(0, "<i", 0)
    data_position = table.scalar(1, "<q", -1)
    description = table.string(2) or ""
    if compression not in COMPRESSION.values():
        raise FormatError(f"unknown compression id {compression}", path=path, offset=offset)
    return compression, data_position, _parse_description(description, path, offset)


def content_size(data: bytes | bytearray | memoryview, compression: int) -> int | None:
    """The decompressed size a packet's frame header declares (None when it declares none)."""
    try:
        if compression == 0:
            return len(data)
        if compression in (1, 2):
            size = lz4.frame.get_frame_info(data)["content_size"]
        else:
            size = zstandard.frame_content_size(data)
    except (RuntimeError, zstandard.ZstdError, ValueError):
        return None  # decompress() reports the corruption with its offset
    return size if size > 0 else None


def max_expansion(nbytes: int, compression: int) -> int:
    """The most bytes ``nbytes`` of one compressed frame can decode to. LZ4: a match-length byte
    adds at most 255 output bytes; Zstd: a 3-byte block header (an RLE block) at most a
    128 KiB block."""
    if compression == 0:
        return nbytes
    if compression in (1, 2):
        return 255 * nbytes
    return (nbytes // 3 + 1) * (128 << 10)


def decompress(
    data: bytes | bytearray | memoryview,
    compression: int,
    limit: int,
    path: PathLike | None,
    offset: int,
) -> bytes | bytearray:
    """One packet's payload, refusing corrupt frames, a declared size past what the frame can
    expand to or past ``limit``, and a frame that decodes to another size than it declared."""
    bound = min(limit, max_expansion(len(data), compression))
    declared = content_size(data, compression)
    if declared is not None and declared > bound:
        why = (
            f"past the {limit}-byte limit (raise max_packet_bytes to allow)"
            if declared > limit
            else f"more than its {len(data)} compressed bytes can expand to"
        )
        raise FormatError(
            f"packet declares {declared} decompressed bytes, {why}", path=path, offset=offset
        )
    out: bytes | bytearray
    try:
        if compression == 0:
            out = bytearray(data)  # writable: a live source hands out views of it
        elif compression in (1, 2):
            d = lz4.frame.LZ4FrameDecompressor(return_bytearray=True)  # writable, no copy
            out = d.decompress(data, max_length=declared if declared is not None else bound + 1)
            if not d.eof and len(out) <= bound:
                raise FormatError(
                    "corrupt compressed packet: LZ4 frame truncated or larger than declared",
                    path=path,
                    offset=offset,
                )
        else:  # into a writable bytearray, never past bound + 1 bytes (no second copy)
            out = _zstd_read(data, declared, bound)
    except (RuntimeError, zstandard.ZstdError, ValueError) as exc:
        raise FormatError(f"corrupt compressed packet: {exc}", path=path, offset=offset) from exc
    if len(out) > bound:
        raise FormatError(
            f"packet decompresses past {bound} bytes (limit {limit}: raise max_packet_bytes "
            "to allow)",
            path=path,
            offset=offset,
        )
    if declared is not None and len(out) != declared:
        raise FormatError(
            f"packet declares {declared} decompressed bytes but holds {len(out)}",
            path=path,
            offset=offset,
        )
    return out


def _zstd_read(data: bytes | bytearray | memoryview, declared: int | None, bound: int) -> bytearray:
    """One Zstd frame decoded into a bytearray of at most ``bound + 1`` bytes: the declared
    size in one allocation, otherwise grown 1 MiB at a time (a bomb stops at the bound)."""
    with zstandard.ZstdDecompressor().stream_reader(data) as reader:
        if declared is not None:
            out = bytearray(declared + 1)  # one spare byte shows a frame longer than declared
            n = 0
            with memoryview(out) as view:
                while n < len(out) and (got := reader.readinto(view[n:])):
                    n += got
            del out[n:]
            return out
        grown = bytearray()
        while len(grown) <= bound and (part := reader.read(min(1 << 20, bound + 1 - len(grown)))):
            grown += part
        return grown


def decode_event_packet(
    data: bytes | bytearray | memoryview,
    compression: int,
    limit: int,
    path: PathLike | None,
    offset: int,
) -> np.ndarray:
    """The events of one ``EVTS`` packet payload (``data`` at byte ``offset`` of ``path``), as
    a view of `EVENT_PACKET_DTYPE` records into its decompressed bytes."""
    raw = decompress(data, compression, limit, path, offset)
    table = flatbuf.FlatTable.root(raw, 4, "event packet", offset, path=path)
    if raw[8:12] != b"EVTS":
        raise FormatError(
            f"event stream packet has identifier {raw[8:12]!r}, expected EVTS",
            path=path,
            offset=offset,
        )
    start, count = table.vector(0, 16)
    return (
        np.frombuffer(raw, dtype=_DV_EVENT, count=count, offset=start)
        if count
        else (np.zeros(0, dtype=_DV_EVENT))
    )


def encode_event_packets(events: np.ndarray, compression: int, per: int) -> Iterator[bytes]:
    """Canonical events as ``EVTS`` packet payloads of at most ``per`` events each, compressed
    (compression id, see `COMPRESSION`)."""
    # Word 1 of a canonical event is x | y << 16 | p << 32 and three padding bytes, which
    # may hold whatever the memory held: clear them so files never carry stale bytes and
    # one input always gives one file.
    words = np.ascontiguousarray(events).view(np.uint64).reshape(-1, 2).copy()
    words[:, 1] &= np.uint64((1 << 40) - 1)
    records = words.view(_DV_EVENT).reshape(-1)
    for start in range(0, max(len(records), 1), per):  # one step per packet
        part = records[start : start + per]
        packet = flatbuf.build_struct_vector_packet(b"EVTS", part.tobytes(), len(part))
        yield _compress(packet, compression)


def description_xml(compression: str, sensor_size: tuple[int, int], source: str) -> str:
    """The XML stream description of one event stream (id 0), as files and the DV network
    stream carry it in the IOHeader."""
    w, h = sensor_size
    # the source name is free text (a camera or file name): escape & < > for the XML
    return _DESCRIPTION.format(
        compression=compression.upper(), w=w, h=h, source=xml.sax.saxutils.escape(source)
    )


class Aedat4Format(EventFormat):
    format_id = "aedat4"
    extensions = (".aedat4",)
    description = "AEDAT 4.0 (DV): LZ4/Zstd packets, event stream decoded"
    read_options = {"sensor_size": None, "stream": None, "max_packet_bytes": MAX_PACKET_BYTES}
    write_options = {"compression": "lz4", "packet_events": 1 << 15, "source": "spikestream"}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def streams(self, path: PathLike) -> dict[int, Stream]:
        """The streams a file declares (id -> `Stream`)."""
        with open(path, "rb") as f, _mapped(f) as buf:
            return _layout(buf, path).streams

    def _scan(
        self, buf: mmap.mmap | bytes, path: PathLike, opts: dict[str, Any]
    ) -> tuple[_Layout, dict[str, Any], list[tuple[int, int]]]:
        """Walk the packet headers: the layout, file-level facts, and (offset, size) of every
        packet of the wanted event stream. Stops with a warning at a cut-short packet."""
        lay = _layout(buf, path)
        event_ids = [s for s, st in lay.streams.items() if st.type_id == "EVTS"]
        wanted = opts["stream"]
        if wanted is None:
            wanted = event_ids[0] if event_ids else 0
        elif wanted not in lay.streams:
            raise ConfigError(f"no stream {wanted} in {os.fspath(path)}; has {list(lay.streams)}")
        counts: dict[int, int] = {}
        info: dict[str, Any] = {
            "streams": {s: st.__dict__ for s, st in lay.streams.items()},
            "event_stream": wanted,
            "packets": counts,
            "compression": lay.compression,
        }
        packets: list[tuple[int, int]] = []
        pos = lay.data_start
        while pos < lay.data_end:
            if lay.data_end - pos < 8:
                warn_truncated(path, pos, lay.data_end - pos, "packet header")
                break
            sid, size = struct.unpack_from("<ii", buf, pos)
            if size < 0:
                raise FormatError(f"packet with negative size {size}", path=path, offset=pos)
            if pos + 8 + size > lay.data_end:
                warn_truncated(path, pos, lay.data_end - pos, "packet")
                break
            counts[sid] = counts.get(sid, 0) + 1
            if sid == wanted:
                packets.append((pos, size))
            pos += 8 + size
        return lay, info, packets

    def _events(self, data: bytes, lay: _Layout, opts, path, pos) -> np.ndarray:
        """The events of one packet (a view into its decompressed bytes)."""
        return decode_event_packet(data, lay.compression, opts["max_packet_bytes"], path, pos + 8)

    def _recording(
        self, events: np.ndarray, info: dict[str, Any], opts, path, locate, first_index=0
    ) -> Recording:
        stream = info["streams"].get(info["event_stream"], {})
        metadata = {**info, "source": stream.get("source")}
        bound = _check_events(events, path, locate, first_index)
        size = resolve_sensor_size(
            events,
            stream.get("size"),
            opts["sensor_size"],
            metadata,
            path=path,
            declared_at=len(MAGIC) + 4,  # the XML description in the IOHeader
            bound_xy=bound,
            locate=locate,
            first_index=first_index,
        )
        return Recording(events, size, self.format_id, metadata)

    def read(self, path: PathLike, **options: Any) -> Recording:
        opts = self._options(options, self.read_options)
        with open(path, "rb") as f, _mapped(f) as buf:
            lay, info, packets = self._scan(buf, path, opts)
            # Allocate from what the packets can really hold: declared sizes bounded by what
            # their compressed bytes expand to, the first guess capped at 16x the file; the
            # output grows (doubling) only with events really decoded.
            guess = 0
            for p, n in packets:
                declared = content_size(buf[p + 8 : p + 8 + n], lay.compression)
                bound = min(max_expansion(n, lay.compression), opts["max_packet_bytes"])
                guess += min(declared if declared is not None else 4 * n, bound) // 16
            capacity = min(guess, len(buf))  # 16x the file, in 16-byte events
            out = np.empty(capacity, dtype=EVENT_DTYPE)
            starts = np.zeros(len(packets), dtype=np.int64)  # first event of each packet
            k = 0
            for j, (pos, size) in enumerate(packets):
                events = self._events(buf[pos + 8 : pos + 8 + size], lay, opts, path, pos)
                if k + len(events) > capacity:
                    capacity = max(2 * capacity, k + len(events))
                    grown = np.empty(capacity, dtype=EVENT_DTYPE)
                    grown[:k] = out[:k]
                    out = grown
                # one byte copy (numpy copies padded records field by field: 100x slower)
                out[k : k + len(events)].view(np.uint8)[:] = events.view(np.uint8)
                starts[j] = k
                k += len(events)
            out = compact(out[:k], capacity)
        positions = np.array([p for p, _ in packets], dtype=np.int64)

        def locate(i: int) -> int:  # the packet that holds event i
            return int(positions[np.searchsorted(starts, i, side="right") - 1])

        return self._recording(out, info, opts, path, locate)

    def iter_blocks(self, path: PathLike, **options: Any) -> Iterator[Recording]:
        options.pop("block_bytes", None)
        opts = self._options(options, self.read_options)
        with open(path, "rb") as f, _mapped(f) as buf:
            lay, info, packets = self._scan(buf, path, opts)
            stream = info["streams"].get(info["event_stream"], {})
            if stream.get("size") is None and opts["sensor_size"] is None:
                # Nothing declares the size: one pass for the largest coordinates, so that
                # every chunk reports the size `read` infers from the whole file.
                w = h = 1
                for pos, size in packets:
                    ev = self._events(buf[pos + 8 : pos + 8 + size], lay, opts, path, pos)
                    if len(ev):
                        w = max(w, int(ev["x"].view(np.uint16).max()) + 1)
                        h = max(h, int(ev["y"].view(np.uint16).max()) + 1)
                opts = {**opts, "sensor_size": (w, h)}
                info = {**info, "sensor_size_inferred": True}
            index = 0
            for pos, size in packets:
                events = self._events(buf[pos + 8 : pos + 8 + size], lay, opts, path, pos)
                if len(events):
                    # decompress() hands out fresh writable bytes: a view, not a copy
                    block = (
                        events.view(EVENT_DTYPE) if events.flags.writeable else copy_events(events)
                    )
                    yield self._recording(block, info, opts, path, lambda i, p=pos: p, index)
                    index += len(events)


class Aedat4Writer(EventWriter):
    def _begin(self):
        name = self.options["compression"]
        if name not in COMPRESSION:
            raise ConfigError(f"compression must be one of {list(COMPRESSION)}, got {name!r}")
        if int(self.options["packet_events"]) <= 0:
            raise ConfigError("packet_events must be > 0")
        self._compression = COMPRESSION[name]
        xml = description_xml(name, self.sensor_size, self.options["source"])
        header = flatbuf.build_ioheader(self._compression, -1, xml)
        self.file.write(MAGIC + struct.pack("<I", len(header)) + header)

    def _encode(self, events):
        if not len(events):
            return
        per = int(self.options["packet_events"])
        for data in encode_event_packets(events, self._compression, per):
            self.file.write(struct.pack("<ii", 0, len(data)))
            self.file.write(data)


Aedat4Format.writer = Aedat4Writer


def _compress(data: bytes, compression: int) -> bytes:
    if compression == 0:
        return data
    if compression in (1, 2):
        level = 9 if compression == 2 else 0
        return lz4.frame.compress(data, compression_level=level)
    return zstandard.ZstdCompressor(level=19 if compression == 4 else 3).compress(data)


def _check_events(events: np.ndarray, path: PathLike, locate, first_index: int = 0):
    """Refuse negative coordinates and polarity bytes other than 0/1; returns (max x, max y)
    for the sensor check (one pass per field, shared by both checks)."""
    if not len(events):
        return None
    maxima = {k: int(events[k].max()) for k in "xyp"}
    # int16 coordinates in the file: a negative one shows up as >= 32768 after the uint16 view.
    for name in ("x", "y"):
        if maxima[name] >= 1 << 15:
            i = int(np.argmax(events[name] >= 1 << 15))
            raise FormatError(
                f"event {first_index + i} has a negative {name} coordinate",
                path=path,
                offset=locate(i),
            )
    if maxima["p"] > 1:
        i = int(np.argmax(events["p"] > 1))
        raise FormatError(
            f"event {first_index + i} has a polarity byte other than 0/1",
            path=path,
            offset=locate(i),
        )
    return maxima["x"], maxima["y"]


class _mapped:
    """A read-only mmap of an open file (an empty bytes object for an empty file)."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        size = os.fstat(self.f.fileno()).st_size
        self.m = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return self.m

    def __exit__(self, *exc):
        if not isinstance(self.m, bytes):
            self.m.close()


_DESCRIPTION = """<dv version="2.0">
    <node name="outInfo" path="/mainloop/Recorder/outInfo/">
        <node name="0" path="/mainloop/Recorder/outInfo/0/">
            <attr key="compression" type="string">{compression}</attr>
            <attr key="originalModuleName" type="string">spikestream</attr>
            <attr key="originalOutputName" type="string">events</attr>
            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>
            <attr key="typeIdentifier" type="string">EVTS</attr>
            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                <attr key="sizeX" type="int">{w}</attr>
                <attr key="sizeY" type="int">{h}</attr>
                <attr key="source" type="string">{source}</attr>
                <attr key="tsOffset" type="long">0</attr>
            </node>
        </node>
    </node>
</dv>
"""
