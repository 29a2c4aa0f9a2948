"""Prophesee EVT 2.1 RAW: 64-bit little-endian words, type in bits 63-60.

CD (0x0 OFF / 0x1 ON): bits 59-54 t[5:0], 53-43 x base (32-aligned), 42-32 y, 31-0 a mask with one
event at x + k per set bit k. TIME_HIGH (0x8): bits 59-32 are t[33:6]. Other types are skipped.
``% format EVT21;endianness=legacy`` (IMX636 EVKs) swaps the two 32-bit halves of every word.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numba
import numpy as np

from ..errors import ValidationError
from .base import MAX_X, MAX_Y, STATE_BASE, Header, KernelFormat, PathLike, emit
from .evt2 import add_t0, prophesee_version, raw_header, time_high, time_high_words

_TH, _HAVE_TH, _LOOP = STATE_BASE, STATE_BASE + 1, STATE_BASE + 2


@numba.njit(cache=True, nogil=True)
def _u32(buf, b):  # pragma: no cover - compiled
    return (
        np.uint64(buf[b])
        | (np.uint64(buf[b + 1]) << np.uint64(8))
        | (np.uint64(buf[b + 2]) << np.uint64(16))
        | (np.uint64(buf[b + 3]) << np.uint64(24))
    )


@numba.njit(cache=True, nogil=True)
def _count(buf, legacy):  # pragma: no cover - compiled
    n = 0
    for i in range(len(buf) // 8):
        lo, hi = _u32(buf, 8 * i), _u32(buf, 8 * i + 4)
        if legacy:
            lo, hi = hi, lo
        if (hi >> np.uint64(28)) <= np.uint64(1):
            m = lo
            while m:
                m &= m - np.uint64(1)
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _decode(buf, state, out, legacy):  # pragma: no cover - compiled
    cap = len(out) // 2
    th = state[_TH]
    have = state[_HAVE_TH]
    loop = state[_LOOP]
    mx = state[MAX_X]
    my = state[MAX_Y]
    n = 0
    i = 0
    while i < len(buf) // 8:
        lo, hi = _u32(buf, 8 * i), _u32(buf, 8 * i + 4)
        if legacy:
            lo, hi = hi, lo
        kind = np.int64(hi >> np.uint64(28))
        if kind <= 1:
            if have and lo:
                k = 0
                m = lo
                while m:
                    m &= m - np.uint64(1)
                    k += 1
                if n + k > cap:
                    break
                tt = loop + (th << 6) + np.int64((hi >> np.uint64(22)) & np.uint64(0x3F))
                bx = np.int64((hi >> np.uint64(11)) & np.uint64(0x7FF))
                by = np.int64(hi & np.uint64(0x7FF))
                last = bx
                for b in range(32):
                    if (lo >> np.uint64(b)) & np.uint64(1):
                        last = bx + b
                        emit(out, n, tt, last, by, kind)
                        n += 1
                mx = max(mx, last)
                my = max(my, by)
        elif kind == 8:
            th, have, loop = time_high(th, have, loop, np.int64(hi & np.uint64(0x0FFFFFFF)))
        i += 1
    state[_TH] = th
    state[_HAVE_TH] = have
    state[_LOOP] = loop
    state[MAX_X] = mx
    state[MAX_Y] = my
    return 8 * i, n


class Evt21Format(KernelFormat):
    format_id = "evt21"
    extensions = (".raw",)
    description = "Prophesee EVT 2.1 RAW (standard and legacy word order)"
    record_size = 8
    max_events_per_record = 32
    state_size = STATE_BASE + 3
    read_options = {"sensor_size": None, "legacy": None}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"%") and prophesee_version(head) == "2.1"

    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        header = raw_header(f, path, "2.1")
        if options["legacy"] is not None:
            header.params["legacy"] = bool(options["legacy"])
        return header

    def count(self, payload, header):
        return int(_count(payload, header.params["legacy"]))

    def decode(self, buf, state, out, header):
        return _decode(buf, state, out, header.params["legacy"])

    def finish(self, events, header):
        return add_t0(events, header)


def encode_evt21(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, *, legacy: bool = False
) -> np.ndarray:
    """EVT 2.1 words, one CD word per event (mask bit x % 32) and a TIME_HIGH when t[33:6]
    changes. Used by tests to build inputs; EVT 2.1 is read-only for users."""
    if len(t) and t[0] < 0:  # the caller's times: a ValidationError naming the value
        raise ValidationError(
            f"EVT 2.1 cannot store negative timestamps: event 0 has t = {t[0]} µs; shift the "
            "times first",
            index=0,
            field="t",
        )
    th = t >> 6
    new_th, pos = time_high_words(th, -1)
    hi = np.empty(len(t) + int(new_th.sum()), dtype=np.uint64)
    lo = np.zeros_like(hi)
    hi[pos[new_th] - 1] = (np.uint64(8) << np.uint64(28)) | (th[new_th] & 0x0FFFFFFF).astype(
        np.uint64
    )
    x = x.astype(np.uint64)
    hi[pos] = (
        (p.astype(np.uint64) << np.uint64(28))
        | ((t & 0x3F).astype(np.uint64) << np.uint64(22))
        | ((x & np.uint64(~31 & 0x7FF)) << np.uint64(11))
        | y.astype(np.uint64)
    )
    lo[pos] = np.uint64(1) << (x & np.uint64(31))
    words = (hi << np.uint64(32)) | lo if not legacy else (lo << np.uint64(32)) | hi
    return words.astype("<u8")
