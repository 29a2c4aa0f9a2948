"""Prophesee EVT 3.0 RAW: 16-bit little-endian words, type in bits 15-12, stateful decoding.

ADDR_Y (0x0) sets y and marks CD context; 0x1 (a Y address of another event class) clears it;
ADDR_X (0x2) emits one event; VECT_BASE_X (0x3) sets base x and polarity; VECT_12 / VECT_8
(0x4/0x5) emit one event per set mask bit at base + k and advance base by 12 / 8; TIME_LOW
(0x6) and TIME_HIGH (0x8) set t[11:0] and t[23:12]. As in OpenEB's reference decoder, TIME_LOW may
go backwards under one TIME_HIGH (that is not a wrap; expelliarmus adds 4096 µs there and drifts),
a TIME_HIGH at least 2048 below the previous one is a 24-bit wrap (+2^24 µs), TIME_LOW restarts at
0 when TIME_HIGH changes, and events before the first TIME_HIGH are dropped.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numba
import numpy as np

from .base import ERR, ERR_POS, MAX_X, MAX_Y, STATE_BASE, Header, KernelFormat, PathLike, emit
from .evt2 import RawWriter, add_t0, prophesee_version, raw_header

_HIGH, _LOW, _HAVE, _LOOP, _Y, _BASE, _VPOL, _CD = range(STATE_BASE, STATE_BASE + 8)
_MAX_BASE = 0xFFFF - 12  # base + 11 still fits x's 16 bits
E_VECTOR_RUN = 1


@numba.njit(cache=True, nogil=True)
def _count(buf):  # pragma: no cover - compiled
    """Upper bound on the events in ``buf``: ADDR_X words plus set vector bits."""
    n = 0
    for i in range(len(buf) // 2):
        w = np.uint16(buf[2 * i]) | (np.uint16(buf[2 * i + 1]) << 8)
        kind = w >> 12
        if kind == 2:
            n += 1
        elif kind == 4 or kind == 5:
            m = w & (0xFFF if kind == 4 else 0xFF)
            while m:
                m &= m - 1
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _decode(buf, state, out):  # pragma: no cover - compiled
    cap = len(out) // 2
    high = state[_HIGH]
    low = state[_LOW]
    have = state[_HAVE]
    loop = state[_LOOP]
    cy = state[_Y]
    base = state[_BASE]
    vpol = state[_VPOL]
    cd = state[_CD]
    mx = state[MAX_X]  # vectors only: `_bounds` covers ADDR_X and ADDR_Y
    n = 0
    i = 0
    n_words = len(buf) // 2
    while i < n_words:
        w = np.int64(buf[2 * i]) | (np.int64(buf[2 * i + 1]) << 8)
        kind = w >> 12
        if kind == 0:
            cy = w & 0x7FF
            cd = 1
        elif kind == 1:
            cd = 0
        elif kind == 2:
            if cd and have:
                if n >= cap:
                    break
                emit(out, n, (loop << 24) + (high << 12) + low, w & 0x7FF, cy, (w >> 11) & 1)
                n += 1
        elif kind == 3:
            base = w & 0x7FF
            vpol = (w >> 11) & 1
        elif kind == 4 or kind == 5:
            width = 12 if kind == 4 else 8
            mask = w & ((1 << width) - 1)
            if cd and have and mask:
                k = 0
                m = mask
                while m:
                    m &= m - 1
                    k += 1
                if n + k > cap:
                    break
                tt = (loop << 24) + (high << 12) + low
                last = base
                for b in range(width):
                    if (mask >> b) & 1:
                        last = base + b
                        emit(out, n, tt, last, cy, vpol)
                        n += 1
                mx = max(mx, last)
            # A long run of vectors must not carry x past 16 bits into y: the stream is
            # corrupt, so stop with E_VECTOR_RUN (a FormatError at this word's offset).
            base += width
            if base > _MAX_BASE:  # x would pass 16 bits and bleed into y: a corrupt stream
                state[ERR] = E_VECTOR_RUN
                state[ERR_POS] = 2 * i
                break
        elif kind == 6:
            low = w & 0xFFF
        elif kind == 8:
            new = w & 0xFFF
            if have and high >= new + 2048:
                loop += 1
            if not have or new != high:
                low = 0
            high = new
            have = 1
        i += 1
    state[_HIGH] = high
    state[_LOW] = low
    state[_HAVE] = have
    state[_LOOP] = loop
    state[_Y] = cy
    state[_BASE] = base
    state[_VPOL] = vpol
    state[_CD] = cd
    state[MAX_X] = mx
    return 2 * i, n


@numba.njit(cache=True, nogil=True)
def _bounds(words, state):  # pragma: no cover - compiled
    """Raise ``state[MAX_X]``/``[MAX_Y]`` to the largest ADDR_X x and ADDR_Y y (upper bounds on
    the decoded events; vector x is tracked by the decoder). A separate vectorised pass over the
    words: tracking every event in the decoder cost it 13 %."""
    mx = np.uint16(state[MAX_X] if state[MAX_X] < 0xFFFF else 0xFFFF)
    my = np.uint16(state[MAX_Y] if state[MAX_Y] < 0xFFFF else 0xFFFF)
    for j in range(len(words)):
        w = words[j]
        kind = w >> np.uint16(12)
        v = w & np.uint16(0x7FF)
        mx = max(mx, v if kind == np.uint16(2) else np.uint16(0))
        my = max(my, v if kind == np.uint16(0) else np.uint16(0))
    state[MAX_X] = max(state[MAX_X], np.int64(mx))
    state[MAX_Y] = max(state[MAX_Y], np.int64(my))


class Evt3Format(KernelFormat):
    format_id = "evt3"
    extensions = (".raw",)
    description = "Prophesee EVT 3.0 RAW"
    record_size = 2
    exact_bounds = False  # `_bounds` counts words the decoder drops
    max_events_per_record = 12
    state_size = STATE_BASE + 8
    error_messages = {
        E_VECTOR_RUN: "a run of vector words carries x past 65535 (EVT 3.0 addresses 11 bits): "
        "corrupt stream"
    }

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"%") and prophesee_version(head) == "3.0"

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        return raw_header(f, path, "3.0")

    def count(self, payload, header):
        return int(_count(payload))

    def decode(self, buf, state, out, header):
        consumed, n = _decode(buf, state, out)
        _bounds(buf[: consumed // 2 * 2].view("<u2"), state)
        return consumed, n

    def finish(self, events, header):
        return add_t0(events, header)


class Evt3Writer(RawWriter):
    evt = "3.0"
    period_bits = 24

    def _begin(self) -> None:
        super()._begin()
        self._prev: tuple[int, int, int] | None = None  # (t >> 12, t, y) of the last event

    def _encode_words(self, t: np.ndarray, events: np.ndarray) -> None:
        encode_evt3(t, events["x"], events["y"], events["p"], self._prev).tofile(self.file)
        self._prev = (int(t[-1] >> 12), int(t[-1]), int(events["y"][-1]))


Evt3Format.writer = Evt3Writer


def encode_evt3(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    prev: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """EVT 3.0 words for sorted events: TIME_HIGH when t[23:12] changes (and, so that a reader can
    count 24-bit wraps, at least every 2047 steps of it), TIME_LOW when t changes, ADDR_Y when y
    changes, then one ADDR_X per event. ``prev`` is (t >> 12, t, y) of the event before this
    chunk. Vectorised: each event owns up to four word slots plus gap padding."""
    n = len(t)
    hi = t >> 12
    # A file starts as if the previous TIME_HIGH were 0, so times past 2^24 µs keep their wraps.
    before_hi, before_t, before_y = prev if prev is not None else (0, -1, -1)
    hi_prev = np.concatenate([[before_hi], hi[:-1]])
    new_high = hi != hi_prev
    if prev is None:
        new_high[:1] = True
    new_low = t != np.concatenate([[before_t], t[:-1]])
    new_y = y.astype(np.int64) != np.concatenate([[before_y], y[:-1]])
    # Long silent gaps: pad with intermediate TIME_HIGH words so each step is < 2048.
    gaps = np.maximum((hi - hi_prev - 1) // 2047, 0)
    per_event = new_high.astype(np.int64) + new_low + new_y + 1 + gaps
    end = np.cumsum(per_event)
    words = np.empty(int(end[-1]) if n else 0, dtype="<u2")
    slot = end - per_event
    if gaps.any():
        # k-th padding word of event i: TIME_HIGH hi_prev[i] + 2047 * (k + 1), at slot[i] + k
        owner = np.repeat(np.arange(n), gaps)
        k = np.arange(len(owner)) - np.repeat(np.cumsum(gaps) - gaps, gaps)
        words[slot[owner] + k] = (0x8000 | ((hi_prev[owner] + 2047 * (k + 1)) & 0xFFF)).astype(
            np.uint16
        )
    slot = slot + gaps
    words[slot[new_high]] = (0x8000 | (hi[new_high] & 0xFFF)).astype(np.uint16)
    slot = slot + new_high
    words[slot[new_low]] = (0x6000 | (t[new_low] & 0xFFF)).astype(np.uint16)
    slot = slot + new_low
    words[slot[new_y]] = y[new_y].astype(np.uint16)
    slot = slot + new_y
    words[slot] = (0x2000 | (p.astype(np.uint16) << 11) | x.astype(np.uint16)).astype(np.uint16)
    return words
