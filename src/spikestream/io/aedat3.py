"""AEDAT 3.1 (cAER / libcaer, DVS128 Gesture): ``#`` header lines up to ``#!END-HEADER``, then
little-endian packets, each a 28-byte header (int16 type, int16 source, int32 event size,
int32 timestamp offset, int32 timestamp overflow, int32 capacity, int32 number, int32 valid) and
``capacity * size`` bytes of events.

Polarity packets (type 1, 8-byte events ``uint32 data, int32 timestamp``): bit 0 valid, bit 1
polarity, bits 16-2 y, bits 31-17 x; t = overflow << 31 | timestamp. Other packet types are
skipped. By the spec only the first ``number`` events with the valid bit set are events;
``spikingjelly=True`` reproduces SpikingJelly's decoder, which reads every slot up to
``capacity`` and ignores the valid bit.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, BinaryIO

import numba
import numpy as np

from ..errors import ConfigError, FormatError
from .base import (
    ERR,
    ERR_POS,
    MAX_X,
    MAX_Y,
    STATE_BASE,
    EventWriter,
    Header,
    KernelFormat,
    PathLike,
    emit,
    read_header_lines,
    time_range_error,
)

_LEFT, _SKIP, _SIZE, _OVERFLOW, _TRAIL = range(STATE_BASE, STATE_BASE + 5)
PACKET_HEADER = 28
POLARITY = 1
MAX_EVENT_SIZE = 1 << 16
E_SIZE, E_COUNTS, E_POLARITY = 1, 2, 3

_SOURCES = (
    ("davis346", (346, 260)),
    ("davis240", (240, 180)),
    ("dvs128", (128, 128)),
    ("dvxplorer", (640, 480)),
)


@numba.njit(cache=True, nogil=True)
def _i32(buf, b):  # pragma: no cover - compiled
    v = (
        np.int64(buf[b])
        | (np.int64(buf[b + 1]) << 8)
        | (np.int64(buf[b + 2]) << 16)
        | (np.int64(buf[b + 3]) << 24)
    )
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@numba.njit(cache=True, nogil=True)
def _decode(buf, state, out, all_slots):  # pragma: no cover - compiled
    cap = len(out) // 2
    left = state[_LEFT]  # polarity events still to read in this packet
    skip = state[_SKIP]  # bytes still to skip (other packet types, unused slots)
    size = state[_SIZE]
    overflow = state[_OVERFLOW]
    trail = state[_TRAIL]  # bytes of unused slots after the events of this packet
    mx = state[MAX_X]
    my = state[MAX_Y]
    pos = 0
    n = 0
    end = len(buf)
    while True:
        if skip > 0:
            step = min(skip, end - pos)
            pos += step
            skip -= step
            if skip > 0:
                break
            continue
        if left > 0:
            if end - pos < size:
                break
            if n >= cap:
                break
            data = _i32(buf, pos) & 0xFFFFFFFF
            if all_slots or data & 1:
                t = (overflow << 31) | (_i32(buf, pos + 4) & 0x7FFFFFFF)
                x, y = (data >> 17) & 0x7FFF, (data >> 2) & 0x7FFF
                emit(out, n, t, x, y, (data >> 1) & 1)
                mx = max(mx, x)
                my = max(my, y)
                n += 1
            pos += size
            left -= 1
            if left == 0:
                skip = trail
            continue
        if end - pos < PACKET_HEADER:
            break
        kind = _i32(buf, pos) & 0xFFFF
        ev_size = _i32(buf, pos + 4)
        ts_offset = _i32(buf, pos + 8)
        ts_overflow = _i32(buf, pos + 12)
        capacity = _i32(buf, pos + 16)
        number = _i32(buf, pos + 20)
        if ev_size <= 0 or ev_size > MAX_EVENT_SIZE:
            state[ERR] = E_SIZE
            state[ERR_POS] = pos
            break
        if capacity < 0 or number < 0 or number > capacity or ts_overflow < 0:
            state[ERR] = E_COUNTS
            state[ERR_POS] = pos
            break
        pos += PACKET_HEADER
        if kind == POLARITY:
            if ev_size < 8 or ts_offset != 4:
                state[ERR] = E_POLARITY
                state[ERR_POS] = pos - PACKET_HEADER
                break
            size = ev_size
            overflow = ts_overflow
            left = capacity if all_slots else number
            trail = (capacity - left) * ev_size
            if left == 0:
                skip = trail
        else:
            skip = capacity * ev_size
    state[_LEFT] = left
    state[_SKIP] = skip
    state[_SIZE] = size
    state[_OVERFLOW] = overflow
    state[_TRAIL] = trail
    state[MAX_X] = mx
    state[MAX_Y] = my
    return pos, n


class Aedat3Format(KernelFormat):
    format_id = "aedat3"
    extensions = (".aedat",)
    description = "AEDAT 3.1 (cAER), polarity packets"
    record_size = 8
    state_size = STATE_BASE + 5
    error_messages = {
        E_SIZE: f"packet header with an event size outside 1..{MAX_EVENT_SIZE}",
        E_COUNTS: "packet header with negative or inconsistent capacity/number/overflow",
        E_POLARITY: "polarity packet whose events are not 8-byte (data, timestamp) records",
    }
    read_options = {"sensor_size": None, "spikingjelly": False}
    write_options = {"packet_events": 4096}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"#!AER-DAT3")

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        offsets: list[int] = []
        lines, offset = read_header_lines(f, path, b"#", end="!END-HEADER", offsets=offsets)
        if not lines or not lines[0].startswith("!AER-DAT3"):
            raise FormatError("not an AEDAT 3.x file (no #!AER-DAT3.1 line)", path=path, offset=0)
        if lines[-1].strip() != "!END-HEADER":
            raise FormatError("header has no #!END-HEADER line", path=path, offset=offset)
        sources = []
        size: tuple[int, int] | None = None
        size_at = 0
        for line, at in zip(lines, offsets, strict=True):
            if not line.startswith("Source"):
                continue
            _, colon, value = line.partition(":")
            if not colon:
                raise FormatError(
                    f"header line '#{line}' has no ':' (expected '#Source N: NAME')",
                    path=path,
                    offset=at,
                )
            sources.append(value.strip())
            text = value.lower()
            if found := next((s for name, s in _SOURCES if name in text), None):
                size, size_at = found, at
            if m := re.search(r"(\d+)x(\d+)", text):
                size, size_at = (int(m[1]), int(m[2])), at
        metadata = {"header": lines, "sources": sources}
        params = {"all_slots": bool(options["spikingjelly"])}
        return Header(offset, size, metadata, params, size_offset=size_at)

    def count(self, payload, header):
        return len(payload) // 8

    def decode(self, buf, state, out, header):
        return _decode(buf, state, out, header.params["all_slots"])

    def incomplete_at_eof(self, state):
        return bool(state[_LEFT] > 0 or state[_SKIP] > 0)


class Aedat3Writer(EventWriter):
    def _begin(self):
        if int(self.options["packet_events"]) <= 0:
            raise ConfigError("packet_events must be > 0")
        w, h = self.sensor_size
        source = "DVS128" if (w, h) == (128, 128) else f"spikestream {w}x{h}"
        self.file.write(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
        self.file.write(f"#Source 1: {source}\r\n#!END-HEADER\r\n".encode())

    def _encode(self, events):
        t = events["t"]
        if t[0] < 0:
            raise time_range_error("AEDAT 3.1", self.path, "cannot store negative times", int(t[0]))
        data = (
            (events["x"].astype(np.uint32) << 17)
            | (events["y"].astype(np.uint32) << 2)
            | (events["p"].astype(np.uint32) << 1)
            | np.uint32(1)
        )
        # A packet shares one timestamp overflow: cut where t >> 31 changes and every N events.
        overflow = t >> 31
        cuts = np.flatnonzero(np.diff(overflow)) + 1
        bounds = np.union1d(cuts, np.arange(0, len(t), int(self.options["packet_events"])))
        bounds = np.append(bounds, len(t)).astype(np.int64)
        for start, stop in itertools.pairwise(bounds):  # one step per packet
            n = int(stop - start)
            head = np.array([POLARITY | (1 << 16), 8, 4, int(overflow[start]), n, n, n], "<i4")
            rec = np.empty((n, 2), dtype="<u4")
            rec[:, 0] = data[start:stop]
            rec[:, 1] = t[start:stop] & 0x7FFFFFFF
            self.file.write(head.tobytes())
            rec.tofile(self.file)


Aedat3Format.writer = Aedat3Writer
