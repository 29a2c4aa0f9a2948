"""AEDAT 2.0 (jAER): ``#`` text header lines (CRLF), then big-endian (int32 address, int32
timestamp) records.

Address layouts:

* ``dvs128``: bit 0 polarity (1 = ON), bits 7-1 x, bits 14-8 y, bit 15 external event (skipped).
* ``davis`` (DAVIS240/346/640): bit 31 set marks APS/IMU words (skipped); for DVS events
  y = bits 30-22, x = bits 21-12, p = bit 11, bit 10 an external event (skipped).
* ``cifar10dvs``: SpikingJelly's CIFAR10-DVS decoding, reproduced exactly: x_raw = bits 7-1,
  y_raw = bits 14-8, p_raw = bit 0, nothing filtered, then x = 127 - y_raw, y = 127 - x_raw,
  p = 1 - p_raw, and the timestamp as an unsigned 32-bit value.

jAER puts y = 0 at the bottom; ``flip_y=True`` (the default) converts to the top-left origin
(y -> H - 1 - y). The 32-bit timestamp wraps after about 71.6 minutes; a backward jump of more
than 2^31 µs is counted as a wrap (not in ``cifar10dvs`` mode). A file may end inside a record
(a recording cut short); the complete records are returned with a warning.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

import numba
import numpy as np

from ..errors import ConfigError, FormatError
from .base import (
    MAX_X,
    MAX_Y,
    STATE_BASE,
    EventWriter,
    Header,
    KernelFormat,
    PathLike,
    emit,
    read_header_lines,
    sensor_size_value,
    time_range_error,
)

_LAST, _WRAP = STATE_BASE, STATE_BASE + 1
LAYOUTS = {"dvs128": 0, "davis": 1, "cifar10dvs": 2}
_CAMERAS = (
    ("davis346", (346, 260)),
    ("davis640", (640, 480)),
    ("davis240", (240, 180)),
    ("dvs128", (128, 128)),
)


@numba.njit(cache=True, nogil=True)
def _decode(buf, state, out, layout):  # pragma: no cover - compiled
    cap = len(out) // 2
    last = state[_LAST]
    wrap = state[_WRAP]
    mx = state[MAX_X]
    my = state[MAX_Y]
    n = 0
    i = 0
    while i < len(buf) // 8:
        b = 8 * i
        a = (
            (np.int64(buf[b]) << 24)
            | (np.int64(buf[b + 1]) << 16)
            | (np.int64(buf[b + 2]) << 8)
            | np.int64(buf[b + 3])
        )
        ts = (
            (np.int64(buf[b + 4]) << 24)
            | (np.int64(buf[b + 5]) << 16)
            | (np.int64(buf[b + 6]) << 8)
            | np.int64(buf[b + 7])
        )
        if layout == 2:
            if n >= cap:
                break
            emit(out, n, ts, 127 - ((a >> 8) & 0x7F), 127 - ((a >> 1) & 0x7F), 1 - (a & 1))
            mx = max(mx, 127 - ((a >> 8) & 0x7F))
            my = max(my, 127 - ((a >> 1) & 0x7F))
            n += 1
            i += 1
            continue
        if last - ts > (np.int64(1) << 31):
            wrap += np.int64(1) << 32
        last = ts
        if layout == 0:
            keep = (a >> 15) & 1 == 0
        else:
            keep = (a >> 31) & 1 == 0 and (a >> 10) & 1 == 0
        if keep:
            if n >= cap:
                break
            if layout == 0:
                x, y, p = (a >> 1) & 0x7F, (a >> 8) & 0x7F, a & 1
            else:
                x, y, p = (a >> 12) & 0x3FF, (a >> 22) & 0x1FF, (a >> 11) & 1
            emit(out, n, wrap + ts, x, y, p)
            mx = max(mx, x)
            my = max(my, y)
            n += 1
        i += 1
    state[_LAST] = last
    state[_WRAP] = wrap
    state[MAX_X] = mx
    state[MAX_Y] = my
    return 8 * i, n


class Aedat2Format(KernelFormat):
    format_id = "aedat2"
    extensions = (".aedat", ".dat")
    description = "AEDAT 2.0 (jAER): DVS128, DAVIS240/346/640, CIFAR10-DVS"
    record_size = 8
    state_size = STATE_BASE + 2
    read_options = {"sensor_size": None, "layout": None, "flip_y": True}
    write_options = {"layout": "dvs128", "flip_y": True}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"#!AER-DAT2.0")

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        offsets: list[int] = []
        lines, offset = read_header_lines(f, path, b"#", offsets=offsets)
        if not lines or not lines[0].startswith("!AER-DAT2"):
            raise FormatError("not an AEDAT 2.0 file (no #!AER-DAT2.0 line)", path=path, offset=0)
        # The chip comes from the AEChip / HardwareInterface lines only: jAER also stores its
        # preferences (XML naming any camera the user ever had) in the header.
        chip_lines = [
            value.strip()
            for key, _, value in (ln.strip().partition(":") for ln in lines)
            if key.strip().lower() in ("aechip", "hardwareinterface")
        ]
        text = " ".join(chip_lines).lower().replace(" ", "")
        camera = next((name for name, _ in _CAMERAS if name in text), None)
        layout = options["layout"]
        if layout is None:
            if camera is not None:
                layout = "dvs128" if camera == "dvs128" else "davis"
            else:
                layout = _guess_layout(f, offset)
        if layout not in LAYOUTS:
            raise ConfigError(
                f"unknown AEDAT 2.0 layout {layout!r}; expected one of {list(LAYOUTS)}"
            )
        if layout == "cifar10dvs":
            size: tuple[int, int] | None = (128, 128)
        elif camera is not None and (camera == "dvs128") == (layout == "dvs128"):
            size = dict(_CAMERAS)[camera]
        else:
            size = (128, 128) if layout == "dvs128" else (240, 180)
        # jAER headers carry no sensor size; spikestream's writer records it in a comment.
        size_at = 0
        for line, at in zip(lines, offsets, strict=True):
            if m := re.fullmatch(r"\s*sensor_size:\s*(\d+)x(\d+)\s*", line):
                size, size_at = (int(m[1]), int(m[2])), at
        size = sensor_size_value(size, path=path, offset=size_at)
        if options["sensor_size"] is not None:
            size = sensor_size_value(options["sensor_size"], given=True)
        flip = bool(options["flip_y"]) and layout != "cifar10dvs"
        metadata = {"header": lines, "layout": layout, "camera": camera, "y_flipped": flip}
        params = {"layout": LAYOUTS[layout], "flip": flip}
        return Header(offset, size, metadata, params, size_offset=size_at)

    def decode(self, buf, state, out, header):
        return _decode(buf, state, out, header.params["layout"])

    def finish(self, events, header):
        # y < height here: the sensor check runs before `finish`.
        if header.params["flip"] and header.sensor_size is not None:
            events["y"] = header.sensor_size[1] - 1 - events["y"]
        return events


class Aedat2Writer(EventWriter):
    def _begin(self):
        layout = self.options["layout"]
        w, h = self.sensor_size
        if layout not in ("dvs128", "davis"):
            raise ConfigError("AEDAT 2.0 is written with layout 'dvs128' or 'davis'")
        if layout == "dvs128" and (w > 128 or h > 128):
            raise ConfigError("the DVS128 layout holds at most a 128x128 sensor")
        camera = "DVS128" if layout == "dvs128" else f"DAVIS{w}"
        self.file.write(b"#!AER-DAT2.0\r\n# This is a raw AE data file created by spikestream\r\n")
        self.file.write(f"# HardwareInterface: {camera}\r\n# sensor_size: {w}x{h}\r\n".encode())

    def _encode(self, events):
        t = events["t"]
        if t[0] < 0 or t[-1] >= 1 << 32:
            bad = int(t[0]) if t[0] < 0 else int(t[-1])
            raise time_range_error("AEDAT 2.0", self.path, "stores times in [0, 2^32) µs", bad)
        y = events["y"].astype(np.uint32)
        if self.options["flip_y"]:
            y = self.sensor_size[1] - 1 - y
        x = events["x"].astype(np.uint32)
        p = events["p"].astype(np.uint32)
        if self.options["layout"] == "dvs128":
            addr = p | (x << 1) | (y << 8)
        else:
            addr = (p << 11) | (x << 12) | (y << 22)
        rec = np.empty((len(t), 2), dtype=">u4")
        rec[:, 0] = addr
        rec[:, 1] = t
        rec.tofile(self.file)


Aedat2Format.writer = Aedat2Writer


def _guess_layout(f: BinaryIO, offset: int) -> str:
    """No camera named in the header: DAVIS addresses use bits above 15, DVS128 ones never do."""
    f.seek(offset)
    data = f.read(8 * 4096)
    head = np.frombuffer(data[: len(data) // 8 * 8], dtype=">u4")
    addr = head[: len(head) // 2 * 2 : 2]
    return "davis" if (addr >> 16).any() else "dvs128"
