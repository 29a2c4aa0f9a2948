"""Prophesee DAT (v1/v2): ``%`` header lines, two bytes (event type, event size = 8), then
8-byte little-endian records ``uint32 t, uint32 data``.

Version 2: x = data[13:0], y = data[27:14], p = data[31:28]. Version 1 (old ATIS files):
x = data[8:0], y = data[16:9], p = data[20:17]. The 32-bit time wraps after about 71.6 minutes;
a backward jump of more than 2^31 µs is counted as a wrap.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numba
import numpy as np

from ..errors import FormatError
from . import prophesee
from .base import (
    MAX_X,
    MAX_Y,
    STATE_BASE,
    EventWriter,
    Header,
    KernelFormat,
    PathLike,
    time_range_error,
)

_LAST, _WRAP = STATE_BASE, STATE_BASE + 1
_BLOCK = 2048  # records per wrap scan: 16 KB, still in L1 for the decoding pass

# Event types: 0x00 Event2D (N-CARS era), 0x0C EventCD. 0x0E is external triggers.
_CD_TYPES = {0x00: "Event2D", 0x0C: "EventCD"}


@numba.njit(cache=True, inline="always")
def _xyp(record, x_mask, y_shift, y_mask, p_shift):  # pragma: no cover - compiled
    """Word 1 of a canonical event (x | y << 16 | p << 32) from a 64-bit DAT record."""
    return (
        ((record >> np.uint64(32)) & x_mask)
        | (((record >> y_shift) & y_mask) << np.uint64(16))
        | (np.uint64(((record >> p_shift) & np.uint64(0xF)) != np.uint64(0)) << np.uint64(32))
    )


@numba.njit(cache=True, nogil=True)
def _decode(records, state, out, version):  # pragma: no cover - compiled
    # records: the payload as little-endian uint64, t in the low and data in the high 32 bits.
    # Blocks without a time wrap (all but one in ~72 minutes) take a loop with no carried
    # state, which LLVM vectorises; the block is first scanned for the largest backward step.
    # Indices are unsigned: numba wraps a signed index that may be negative, a compare and
    # select per access that kept the loops scalar.
    cap = len(out) // 2
    last = state[_LAST]
    wrap = state[_WRAP]
    # field layout as masks and shifts (of the 64-bit record), so the loop has no version branch
    x_mask, y_shift, y_mask, p_shift = (
        (np.uint64(0x3FFF), np.uint64(46), np.uint64(0x3FFF), np.uint64(60))
        if version >= 2
        else (np.uint64(0x1FF), np.uint64(41), np.uint64(0xFF), np.uint64(49))
    )
    low = np.uint64(0xFFFFFFFF)
    half_range = np.int64(1) << 31
    one, two = np.uint64(1), np.uint64(2)
    x_shift = np.uint64(32)
    mx = np.uint64(state[MAX_X])  # largest x and y: max reductions, vectorised with the loop
    my = np.uint64(state[MAX_Y])
    n_rec = np.uint64(min(len(records), cap))
    start = np.uint64(0)
    while start < n_rec:
        stop = min(start + np.uint64(_BLOCK), n_rec)
        largest_fall = last - np.int64(records[start] & low)
        for i in range(start + one, stop):
            fall = np.int64(records[i - one] & low) - np.int64(records[i] & low)
            largest_fall = max(largest_fall, fall)
        if largest_fall > half_range:  # a wrap in this block: carry it record by record
            for i in range(start, stop):
                ts = np.int64(records[i] & low)
                if last - ts > half_range:
                    wrap += np.int64(1) << 32
                last = ts
                out[two * i] = wrap + ts
                out[two * i + one] = _xyp(records[i], x_mask, y_shift, y_mask, p_shift)
                mx = max(mx, (records[i] >> x_shift) & x_mask)
                my = max(my, (records[i] >> y_shift) & y_mask)
        else:
            for i in range(start, stop):
                out[two * i] = wrap + np.int64(records[i] & low)
                out[two * i + one] = _xyp(records[i], x_mask, y_shift, y_mask, p_shift)
                mx = max(mx, (records[i] >> x_shift) & x_mask)
                my = max(my, (records[i] >> y_shift) & y_mask)
        last = np.int64(records[stop - one] & low)
        start = stop
    state[_LAST] = last
    state[_WRAP] = wrap
    state[MAX_X] = np.int64(mx)
    state[MAX_Y] = np.int64(my)
    return 8 * np.int64(n_rec), np.int64(n_rec)


class DatFormat(KernelFormat):
    format_id = "dat"
    extensions = (".dat",)
    description = "Prophesee DAT v1/v2 (CD events)"
    record_size = 8
    state_size = STATE_BASE + 2
    read_options = {"sensor_size": None, "version": None}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"% Data file containing")

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        meta, offset = prophesee.parse_header(f, path)
        f.seek(offset)
        type_size = f.read(2)
        if len(type_size) < 2:
            raise FormatError(
                "missing the event type/size bytes after the header", path=path, offset=offset
            )
        ev_type, ev_size = type_size[0], type_size[1]
        if ev_type not in _CD_TYPES:
            raise FormatError(
                f"event type 0x{ev_type:02x} is not a CD event type (0x00 or 0x0c)",
                path=path,
                offset=offset,
            )
        if ev_size != 8:
            raise FormatError(f"event size {ev_size}, expected 8", path=path, offset=offset + 1)
        version = options["version"]
        if version is None:
            version = int(meta["Version"]) if meta.get("Version", "").isdecimal() else 2
        size, _ = prophesee.geometry(meta)
        metadata = prophesee.header_metadata(meta)
        metadata.update(event_type=_CD_TYPES[ev_type], version=version)
        return Header(offset + 2, size, metadata, {"version": version})

    def count(self, payload, header):
        return len(payload) // 8

    def decode(self, buf, state, out, header):
        records = buf[: len(buf) // 8 * 8].view("<u8")  # a view, aligned or not
        return _decode(records, state, out, header.params["version"])


class DatWriter(EventWriter):
    def _begin(self):
        w, h = self.sensor_size
        self.file.write(
            prophesee.format_header(
                [
                    ("Data", "file containing CD events."),
                    ("Version", "2"),
                    ("Width", str(w)),
                    ("Height", str(h)),
                ]
            )
        )
        self.file.write(bytes([0x0C, 8]))

    def _encode(self, events):
        t = events["t"]
        if t[0] < 0 or (self.count == 0 and t[0] >= 1 << 32):
            raise time_range_error(
                "DAT",
                self.path,
                "stores 32-bit times: the first event must be in [0, 2^32) µs",
                int(t[0]),
            )
        # Readers count a 32-bit wrap where the time falls by more than 2^31: a step of 2^31 µs
        # or more between two events (from the previous chunk too) would read back wrong.
        steps = np.diff(t, prepend=t[:1] if self._last_t is None else self._last_t)
        if len(steps) and steps.max() >= 1 << 31:
            i = int(np.argmax(steps >= 1 << 31))
            raise time_range_error(
                "DAT",
                self.path,
                "stores 32-bit times that wrap: two events 2^31 µs (36 min) or more apart "
                "cannot be told from a wrap",
                int(t[i]),
            )
        rec = np.empty((len(events), 2), dtype="<u4")
        rec[:, 0] = t & 0xFFFFFFFF
        rec[:, 1] = (
            events["x"].astype(np.uint32)
            | (events["y"].astype(np.uint32) << 14)
            | (events["p"].astype(np.uint32) << 28)
        )
        rec.tofile(self.file)


DatFormat.writer = DatWriter
