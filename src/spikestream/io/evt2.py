"""Prophesee EVT 2.0 RAW: 32-bit little-endian words, type in bits 31-28.

CD_OFF/CD_ON (0x0/0x1): bits 27-22 t[5:0], 21-11 x, 10-0 y. EVT_TIME_HIGH (0x8): bits 27-0 are
t[33:6]. Other types (triggers, monitoring) are skipped. As in OpenEB, CD words before the first
TIME_HIGH are dropped; a TIME_HIGH that falls by more than half its range is a 34-bit wrap.
"""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar

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
    emit,
    time_range_error,
)

_TH, _HAVE_TH, _LOOP = STATE_BASE, STATE_BASE + 1, STATE_BASE + 2


@numba.njit(cache=True, nogil=True)
def time_high(th, have, loop, new):  # pragma: no cover - compiled
    """EVT 2.x state (th, have, loop) after a TIME_HIGH word carrying t[33:6] = ``new``; a fall
    of more than half the 28-bit range is a wrap (+2^34 µs)."""
    if have and th - new > (1 << 27):
        loop += np.int64(1) << 34
    return new, 1, loop


def time_high_words(th: np.ndarray, previous: int) -> tuple[np.ndarray, np.ndarray]:
    """Where EVT 2.x needs a TIME_HIGH word: (mask of events starting a new t[33:6], slot of every
    event in the word stream, the TIME_HIGH of event i going to slot - 1)."""
    new_th = np.empty(len(th), dtype=bool)
    new_th[:1] = th[:1] != previous
    new_th[1:] = th[1:] != th[:-1]
    return new_th, np.arange(len(th)) + np.cumsum(new_th)


@numba.njit(cache=True, nogil=True)
def _decode(words, state, out):  # pragma: no cover - compiled
    # words: the payload as little-endian uint32
    n_words = np.uint64(len(words))
    cap = len(out) // 2
    th = state[_TH]
    have = state[_HAVE_TH]
    loop = state[_LOOP]
    n = 0
    i = np.uint64(0)  # unsigned: no negative-index wraparound per load
    while i < n_words:
        w = words[i]
        kind = w >> 28
        if kind <= 1:
            if have:
                if n >= cap:
                    break
                emit(
                    out,
                    n,
                    loop + (th << 6) + ((w >> 22) & 0x3F),
                    (w >> 11) & 0x7FF,
                    w & 0x7FF,
                    kind,
                )
                n += 1
        elif kind == 8:
            th, have, loop = time_high(th, have, loop, np.int64(w & 0x0FFFFFFF))
        i += np.uint64(1)
    state[_TH] = th
    state[_HAVE_TH] = have
    state[_LOOP] = loop
    return 4 * np.int64(i), n


@numba.njit(cache=True, nogil=True)
def _bounds(words, state):  # pragma: no cover - compiled
    """Raise ``state[MAX_X]``/``[MAX_Y]`` to the largest x and y of the CD words (an upper bound
    on the decoded events: CD words before the first TIME_HIGH are counted too). A separate,
    vectorised pass: about 0.07 ns a word, where tracking it in the decoder cost 25 %."""
    mx = np.uint32(state[MAX_X])
    my = np.uint32(state[MAX_Y])
    for j in range(len(words)):
        w = words[j]
        cd = w if w < np.uint32(0x20000000) else np.uint32(0)  # types 0 and 1, else nothing
        mx = max(mx, (cd >> np.uint32(11)) & np.uint32(0x7FF))
        my = max(my, cd & np.uint32(0x7FF))
    state[MAX_X] = mx
    state[MAX_Y] = my


class Evt2Format(KernelFormat):
    format_id = "evt2"
    extensions = (".raw",)
    description = "Prophesee EVT 2.0 RAW"
    record_size = 4
    exact_bounds = False  # `_bounds` counts words the decoder drops
    state_size = STATE_BASE + 3

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"%") and prophesee_version(head) == "2.0"

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        return raw_header(f, path, "2.0")

    def decode(self, buf, state, out, header):
        words = buf[: len(buf) // 4 * 4].view("<u4")
        consumed, n = _decode(words, state, out)
        _bounds(words[: consumed // 4], state)
        return consumed, n

    def finish(self, events, header):
        return add_t0(events, header)


class RawWriter(EventWriter):
    """A Prophesee RAW writer. The header is written with the first chunk: when the recording
    starts past one period of the format's time counter (absolute Unix times, say), that many
    whole periods go into a ``% t0`` header line (the key faery reads) and the words carry the
    rest, so no wrap has to be replayed from zero."""

    evt: ClassVar[str]
    period_bits: ClassVar[int]

    def _begin(self) -> None:
        self.t0: int | None = None

    def _write_header(self, t0: int) -> None:
        w, h = self.sensor_size
        name = "EVT" + self.evt.replace(".0", "").replace(".", "")
        entries = [
            ("evt", self.evt),
            ("format", f"{name};height={h};width={w}"),
            ("geometry", f"{w}x{h}"),
        ]
        if t0:
            entries.append(("t0", str(t0)))
        self.file.write(prophesee.format_header(entries))

    def _encode(self, events: np.ndarray) -> None:
        t = events["t"]
        if t[0] < 0:
            raise time_range_error(
                f"EVT {self.evt}", self.path, "cannot store negative times", int(t[0])
            )
        if self.t0 is None:
            self.t0 = (int(t[0]) >> self.period_bits) << self.period_bits
            self._write_header(self.t0)
        self._encode_words(t - self.t0, events)

    def _encode_words(self, t: np.ndarray, events: np.ndarray) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        if self.t0 is None:
            self._write_header(0)


class Evt2Writer(RawWriter):
    evt = "2.0"
    period_bits = 34

    def _begin(self) -> None:
        super()._begin()
        self._th = -1

    def _encode_words(self, t: np.ndarray, events: np.ndarray) -> None:
        th = t >> 6
        new_th, pos = time_high_words(th, self._th)
        words = np.empty(len(t) + int(new_th.sum()), dtype="<u4")
        words[pos[new_th] - 1] = (np.uint32(8) << 28) | (th[new_th] & 0x0FFFFFFF).astype(np.uint32)
        words[pos] = (
            (events["p"].astype(np.uint32) << 28)
            | ((t & 0x3F).astype(np.uint32) << 22)
            | (events["x"].astype(np.uint32) << 11)
            | events["y"].astype(np.uint32)
        )
        words.tofile(self.file)
        self._th = int(th[-1])


Evt2Format.writer = Evt2Writer


def prophesee_version(head: bytes) -> str | None:
    """The EVT version named in a RAW header held in ``head`` (None when absent)."""
    import io

    meta, _ = prophesee.parse_header(io.BytesIO(head), "<head>")
    return prophesee.evt_version(meta)


def raw_header(f: BinaryIO, path: PathLike, expected: str) -> Header:
    """Parse a RAW header and check that it names EVT ``expected`` (or names none)."""
    where: dict[str, int] = {}
    meta, offset = prophesee.parse_header(f, path, where)
    version = prophesee.evt_version(meta)
    if version is not None and version != expected:
        raise FormatError(
            f"header says EVT {version}, but the EVT {expected} decoder was asked for",
            path=path,
            offset=0,
        )
    size, source = prophesee.geometry(meta)
    key = "t0" if "t0" in meta else "T0"
    text = meta.get(key, "0")
    if not (text.isascii() and text.isdecimal()):
        # A time origin that is not a whole number would shift every time: refuse it.
        raise FormatError(
            f"header line '% {key} {text}' is not a whole number of microseconds >= 0; "
            "the t0 line is corrupt",
            path=path,
            offset=where[key],
        )
    t0 = int(text)
    if t0 > INT64_MAX:
        raise FormatError(
            f"header line '% {key} {text}' is past the largest time (2^63 - 1 µs)",
            path=path,
            offset=where[key],
        )
    params = {
        "legacy": prophesee.format_fields(meta).get("endianness", "") == "legacy",
        "t0": t0,
        "t0_line": (f"% {key} {text}", where.get(key, 0)),
    }
    size_at = where.get(prophesee.SOURCE_KEY.get(source, ""), 0)
    return Header(offset, size, prophesee.header_metadata(meta), params, size_offset=size_at)


INT64_MAX = (1 << 63) - 1


def add_t0(events: np.ndarray, header: Header) -> np.ndarray:
    """Add the header's ``% t0`` time origin (0 when absent) to decoded times, in place; a
    `FormatError` naming the header line when a time would pass 2^63 - 1 µs."""
    t0 = header.params["t0"]
    if t0 and len(events):
        t = events["t"]
        if t0 > INT64_MAX - int(t.max()):
            line, at = header.params["t0_line"]
            raise FormatError(
                f"header line '{line}' plus the decoded time {int(t.max())} µs passes the "
                "largest time (2^63 - 1 µs); the t0 line is corrupt",
                path=header.path,
                offset=at,
            )
        t += t0
    return events
