"""The format contract and the shared drivers that turn a compiled block decoder into a
whole-file reader and a bounded-memory chunk iterator.

A binary format supplies a header parser and a numba kernel with the signature
``kernel(buf, state, out, *params) -> (bytes_consumed, events_written)``. ``out`` is the output
event array viewed as uint64 pairs (`as_words`), written one whole record at a time with `emit`
(two 8-byte stores per event instead of four narrow field stores: about twice as fast). The kernel
decodes complete records from ``buf``, stops early when the output is full or the next record is
incomplete, and keeps everything it must carry to the next block
(time base, current row, packet position, ...) in the int64 ``state`` array. ``state[ERR]`` holds
an error code and ``state[ERR_POS]`` the byte position of the bad record in ``buf``;
``state[MAX_X]`` and ``state[MAX_Y]`` upper bounds on the x and y emitted so far (a kernel tracks
them in registers, or a vectorised pass over its input words computes them: a second pass over the
16-byte output would cost more), so the sensor check below is free when it passes.

Sensor policy, the same for every reader (`resolve_sensor_size`): decoded events always lie
inside the sensor size a recording reports. When the file (or the ``sensor_size=`` option)
declares a size and an event lies outside it, the read raises `FormatError` naming the first such
event, its byte offset where the format has one, and the ``sensor_size=(W, H)`` override; when
nothing declares a size it is inferred from the data, for chunked reads from the whole file.
"""

from __future__ import annotations

import mmap
import os
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, ClassVar

import numba
import numpy as np

from ..errors import ConfigError, FormatError, TruncatedRecordingWarning, ValidationError
from ..events import (
    EVENT_DTYPE,
    Recording,
    as_events,
    empty_events,
    first_outside,
    limits,
    validate_events,
)
from ..files import atomic_file

PathLike = str | os.PathLike[str]

ERR = 0  # state slot: error code, 0 = fine
ERR_POS = 1  # state slot: byte position in the current buffer of the record that failed
MAX_X = 2  # state slot: an upper bound on the x emitted so far
MAX_Y = 3  # state slot: an upper bound on the y emitted so far
STATE_BASE = 4  # first slot a format may use for itself

#: Events per output block while streaming; bounds memory whatever the file size.
CHUNK_CAPACITY = 1 << 20


assert sys.byteorder == "little", "event records are written as little-endian words"


@numba.njit(cache=True)
def emit(out, n, t, x, y, p):  # pragma: no cover - compiled
    """Write event ``n`` into ``out`` (canonical events viewed as uint64 pairs): word 0 is t,
    word 1 packs x (bits 0-15), y (16-31) and p (32-39) as in `EVENT_DTYPE`."""
    k = np.uint64(2) * np.uint64(n)  # unsigned: no negative-index wraparound per store
    out[k] = t
    out[k + np.uint64(1)] = (
        np.uint64(x) | (np.uint64(y) << np.uint64(16)) | (np.uint64(p) << np.uint64(32))
    )


def as_words(events: np.ndarray) -> np.ndarray:
    """A contiguous canonical event array viewed as uint64 pairs, for compiled decoders."""
    return events.view(np.uint64)


@dataclass
class Header:
    """What a format's header says: where the payload starts, the sensor size if known, metadata
    for the `Recording`, and the decode parameters chosen from header and options."""

    data_offset: int
    sensor_size: tuple[int, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    #: Byte offset of the header line the sensor size came from (for error messages).
    size_offset: int = 0


class EventFormat(ABC):
    """One file format. Subclasses set the class attributes and implement `read` (and `write`
    where ``can_write``); `iter_blocks` defaults to one block holding the whole file."""

    format_id: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    #: Read options and their defaults; anything else passed to `read` is a `ConfigError`.
    read_options: ClassVar[Mapping[str, Any]] = {}
    write_options: ClassVar[Mapping[str, Any]] = {}

    def sniff(self, head: bytes) -> bool:
        """True when ``head`` (the first bytes of a file) is unmistakably this format."""
        return False

    @abstractmethod
    def read(self, path: PathLike, **options: Any) -> Recording: ...

    def iter_blocks(self, path: PathLike, **options: Any) -> Iterator[Recording]:
        """Decoded blocks in file order, each a `Recording` of consecutive events."""
        yield self.read(path, **options)

    #: The `EventWriter` subclass that encodes this format (None: read-only).
    writer: ClassVar[type[EventWriter] | None] = None

    @property
    def can_write(self) -> bool:
        return self.writer is not None

    def open_writer(
        self, path: PathLike, sensor_size: tuple[int, int], **options: Any
    ) -> EventWriter:
        """A streaming writer: ``write`` chunks in time order, then ``close``."""
        if self.writer is None:
            raise ConfigError(f"format {self.format_id!r} can be read but not written")
        return self.writer(path, sensor_size, self._options(options, self.write_options))

    def write(
        self,
        path: PathLike,
        events: np.ndarray,
        sensor_size: tuple[int, int],
        **options: Any,
    ) -> None:
        """Encode ``events`` (sorted, inside ``sensor_size``) to ``path`` in one go."""
        with self.open_writer(path, sensor_size, **options) as w:
            w.write(events)

    def _options(self, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(given) - set(defaults)
        if unknown:
            raise ConfigError(
                f"format {self.format_id!r} takes no option(s) {sorted(unknown)}; "
                f"known: {sorted(defaults)}"
            )
        return {**defaults, **given}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format_id!r}>"


def infer_sensor_size(events: np.ndarray) -> tuple[int, int]:
    """The smallest sensor that holds every event: (max x + 1, max y + 1), at least (1, 1)."""
    if len(events) == 0:
        return (1, 1)
    return int(events["x"].max()) + 1, int(events["y"].max()) + 1


def sensor_size_value(
    size: Any, *, path: PathLike | None = None, offset: int | None = None, given: bool = False
) -> tuple[int, int]:
    """``size`` as ``(W, H)`` by `spikestream.events.limits.sensor_dims` (1..65536 a side): its
    `ConfigError` when the caller ``given`` it, a `FormatError` at ``path``/``offset`` when a
    file declared it."""
    try:
        return limits.sensor_dims(size)
    except ConfigError:
        if given:
            raise
    raise FormatError(
        f"declared sensor size {size!r} is not {limits.SENSOR_RULE}; pass sensor_size=(W, H)",
        path=path,
        offset=offset,
    )


def check_inside(
    events: np.ndarray,
    size: tuple[int, int],
    *,
    path: PathLike | None,
    source: str,
    bound_xy: tuple[int, int] | None = None,
    locate: Callable[[int], int | None] | None = None,
    first_index: int = 0,
) -> None:
    """Raise `FormatError` naming the first event outside ``size`` (``source`` says where the
    size came from; ``locate(i)`` gives the byte offset of event i; ``bound_xy``, upper bounds on
    x and y that a decoder tracked, spares a pass over the events when they fit)."""
    if not len(events):
        return
    w, h = size
    if bound_xy is None:
        bound_xy = int(events["x"].max()), int(events["y"].max())
    if bound_xy[0] < w and bound_xy[1] < h:
        return
    i = first_outside(events["x"], events["y"], w, h)
    if i is None:
        return
    e = events[i]
    raise FormatError(
        f"event {first_index + i} (t={e['t']}, x={e['x']}, y={e['y']}) lies outside the {w}x{h} "
        f"sensor {source}; if the sensor is larger, pass sensor_size=(W, H)",
        path=path,
        offset=locate(i) if locate is not None else None,
    )


def resolve_sensor_size(
    events: np.ndarray,
    declared: tuple[int, int] | None,
    override: tuple[int, int] | None,
    metadata: dict[str, Any],
    *,
    path: PathLike | None = None,
    declared_at: int | None = 0,
    bound_xy: tuple[int, int] | None = None,
    bounds_exact: bool = False,
    locate: Callable[[int], int | None] | None = None,
    first_index: int = 0,
) -> tuple[int, int]:
    """Sensor size from an explicit option, else what the file declares (at byte
    ``declared_at``), else the data (then ``metadata['sensor_size_inferred']`` is set; from
    ``bound_xy`` when ``bounds_exact``). Every reader calls this: events outside a given or
    declared size raise `FormatError` (see `check_inside`), a size outside 1..65536 raises
    `ConfigError` (option) or `FormatError`."""
    if override is not None:
        size = sensor_size_value(override, given=True)
        source = f"given by sensor_size={size}"
    elif declared is not None:
        size = sensor_size_value(declared, path=path, offset=declared_at)
        source = "the file declares"
    else:
        metadata["sensor_size_inferred"] = True
        if bounds_exact and bound_xy is not None and len(events):
            return bound_xy[0] + 1, bound_xy[1] + 1
        return infer_sensor_size(events)
    check_inside(
        events,
        size,
        path=path,
        source=source,
        bound_xy=bound_xy,
        locate=locate,
        first_index=first_index,
    )
    return size


def compact(events: np.ndarray, capacity: int) -> np.ndarray:
    """``events`` is a prefix view of a ``capacity`` buffer: copy it out when the unused tail is
    large enough to matter, so the big buffer can be freed."""
    if capacity - len(events) > max(4096, capacity // 16):
        return events.copy()
    return events


def warn_truncated(path: PathLike, offset: int, nbytes: int, what: str = "record") -> None:
    warnings.warn(
        f"{os.fspath(path)}: ends inside a {what} at byte {offset} ({nbytes} trailing bytes "
        "ignored); returning the complete records",
        TruncatedRecordingWarning,
        stacklevel=3,
    )


def map_payload(path: PathLike, offset: int) -> np.ndarray:
    """The file's bytes from ``offset`` to the end, memory-mapped (read-only), as uint8."""
    size = os.path.getsize(path)
    if offset >= size:
        return np.zeros(0, dtype=np.uint8)
    # MAP_POPULATE (Linux) maps the pages in one go instead of one page fault per 4 KiB.
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
    return np.frombuffer(mapped, dtype=np.uint8, offset=offset)


_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D} | frozenset(range(0xA0, 0x100))


def read_header_lines(
    f: BinaryIO,
    path: PathLike,
    marker: bytes,
    *,
    end: str | None = None,
    max_bytes: int = 1 << 20,
    offsets: list[int] | None = None,
) -> tuple[list[str], int]:
    """Text header lines that start with ``marker`` (``b'%'`` or ``b'#'``).

    Reading stops after the line ``end`` (e.g. ``'end'`` for ``% end``), at the first line that
    does not start with ``marker``, or at a "line" that is not text (a binary payload can begin
    with the marker byte). Returns the lines, marker and line end stripped, and the data offset;
    ``offsets``, when given, receives the byte offset of each line (for error messages).
    """
    lines: list[str] = []
    f.seek(0)
    offset = 0
    while offset <= max_bytes:
        f.seek(offset)
        if f.read(1) != marker:
            return lines, offset
        line = f.readline(max_bytes)
        if not set(line) <= _TEXT_BYTES:
            return lines, offset
        if not line.endswith(b"\n"):
            raise FormatError("file ends inside the text header", path=path, offset=offset)
        if offsets is not None:
            offsets.append(offset)
        offset += 1 + len(line)
        text = line.rstrip(b"\r\n").decode("latin-1")
        lines.append(text)
        if end is not None and text.strip() == end:
            return lines, offset
    raise FormatError(f"text header longer than {max_bytes} bytes", path=path, offset=0)


class KernelFormat(EventFormat):
    """A binary format decoded by a numba block kernel (see the module docstring)."""

    #: Smallest unit of the payload (the kernel never consumes a partial one).
    record_size: ClassVar[int]
    #: Most events one record can produce (vector words produce several).
    max_events_per_record: ClassVar[int] = 1
    state_size: ClassVar[int] = STATE_BASE
    #: True when ``state[MAX_X]``/``[MAX_Y]`` are the exact maxima of the decoded events (not
    #: only upper bounds), so an inferred sensor size needs no pass over the events.
    exact_bounds: ClassVar[bool] = True
    #: Error codes a kernel may set in ``state[ERR]``, with their messages.
    error_messages: ClassVar[Mapping[int, str]] = {}
    read_options: ClassVar[Mapping[str, Any]] = {"sensor_size": None}

    @abstractmethod
    def parse_header(self, f: BinaryIO, path: PathLike, options: dict[str, Any]) -> Header:
        """Parse the header; ``options`` are the merged read options."""

    @abstractmethod
    def decode(
        self, buf: np.ndarray, state: np.ndarray, out: np.ndarray, header: Header
    ) -> tuple[int, int]:
        """Run the kernel on ``buf`` into ``out`` (uint64 words, see `as_words`); returns
        (bytes consumed, events written)."""

    def initial_state(self, header: Header) -> np.ndarray:
        return np.zeros(self.state_size, dtype=np.int64)

    def count(self, payload: np.ndarray, header: Header) -> int:
        """Output capacity that the whole payload cannot exceed (an exact count where cheap)."""
        return (len(payload) // self.record_size) * self.max_events_per_record

    def finish(self, events: np.ndarray, header: Header) -> np.ndarray:
        """Vectorised post-processing of a decoded block, in place (e.g. flipping y)."""
        return events

    def incomplete_at_eof(self, state: np.ndarray) -> bool:
        """True when the decoder state says the stream stopped inside a multi-record unit."""
        return False

    # -- drivers -----------------------------------------------------------------------------

    def _header(self, path: PathLike, options: Mapping[str, Any]) -> tuple[Header, dict]:
        opts = self._options(options, self.read_options)
        with open(path, "rb") as f:
            header = self.parse_header(f, path, opts)
        header.path = os.fspath(path)
        return header, opts

    def _check(self, state: np.ndarray, path: PathLike, base_offset: int) -> None:
        code = int(state[ERR])
        if code:
            message = self.error_messages.get(code, f"decoder error {code}")
            raise FormatError(message, path=path, offset=base_offset + int(state[ERR_POS]))

    def _offset_of(self, buf: np.ndarray, state: np.ndarray, header: Header, i: int) -> int:
        """Bytes of ``buf`` the kernel consumes, from ``state``, before it emits event ``i``:
        it is run with room for ``i`` events and stops at the record of event ``i``. Only on
        the error path, so the hot loop carries no position bookkeeping."""
        consumed, _ = self.decode(buf, state.copy(), as_words(empty_events(i)), header)
        return int(consumed)

    def _recording(
        self,
        events: np.ndarray,
        header: Header,
        opts: Mapping[str, Any],
        state: np.ndarray,
        locate: Callable[[int], int | None],
        first_index: int = 0,
    ) -> Recording:
        # The sensor check runs before `finish`: flipping y needs y inside the sensor.
        size = resolve_sensor_size(
            events,
            header.sensor_size,
            opts.get("sensor_size"),
            header.metadata,
            path=header.path,
            declared_at=header.size_offset,
            bound_xy=(int(state[MAX_X]), int(state[MAX_Y])),
            bounds_exact=self.exact_bounds,
            locate=locate,
            first_index=first_index,
        )
        return Recording(self.finish(events, header), size, self.format_id, dict(header.metadata))

    def read(self, path: PathLike, **options: Any) -> Recording:
        header, opts = self._header(path, options)
        payload = map_payload(path, header.data_offset)
        state = self.initial_state(header)
        start = state.copy()
        capacity = self.count(payload, header)
        out = empty_events(capacity)
        consumed, n = self.decode(payload, state, as_words(out), header)
        self._check(state, path, header.data_offset)
        if consumed < len(payload) or self.incomplete_at_eof(state):
            warn_truncated(path, header.data_offset + consumed, len(payload) - consumed)

        def locate(i: int) -> int:
            return header.data_offset + self._offset_of(payload, start, header, i)

        return self._recording(compact(out[:n], capacity), header, opts, state, locate)

    def _calls(
        self, path: PathLike, header: Header, out: np.ndarray, block_bytes: int, *, warn: bool
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, int]]:
        """Run the kernel over the file in blocks of ``block_bytes``, into ``out``. Yields, per
        call that wrote events: (events written, state after, state before, the buffer it
        decoded, the buffer's file offset)."""
        state = self.initial_state(header)
        words = as_words(out)
        pending = np.zeros(0, dtype=np.uint8)
        file_pos = header.data_offset
        with open(path, "rb") as f:
            f.seek(file_pos)
            while True:
                data = f.read(block_bytes)
                chunk = np.frombuffer(data, dtype=np.uint8)
                buf = np.concatenate([pending, chunk]) if len(pending) else chunk
                pos = 0
                while pos < len(buf):
                    before = state.copy()
                    consumed, n = self.decode(buf[pos:], state, words, header)
                    self._check(state, path, file_pos + pos)
                    if n:
                        yield n, state, before, buf[pos:], file_pos + pos
                    pos += consumed
                    if consumed == 0 and n == 0:
                        break  # an incomplete record: needs the next block
                pending = buf[pos:].copy()
                file_pos += pos
                if not data:
                    if warn and (len(pending) or self.incomplete_at_eof(state)):
                        warn_truncated(path, file_pos, len(pending))
                    return

    def iter_blocks(
        self, path: PathLike, *, block_bytes: int = 1 << 22, **options: Any
    ) -> Iterator[Recording]:
        header, opts = self._header(path, options)
        out = empty_events(CHUNK_CAPACITY)
        if header.sensor_size is None and opts.get("sensor_size") is None:
            # Nothing declares the size: one pass for the largest coordinates, so that every
            # chunk reports the size `read` infers from the whole file.
            w = h = 1
            for n, *_ in self._calls(path, header, out, block_bytes, warn=False):
                w, h = np.maximum((w, h), infer_sensor_size(out[:n]))
            header.sensor_size = (int(w), int(h))
            header.metadata["sensor_size_inferred"] = True
        index = 0
        for n, state, before, buf, at in self._calls(path, header, out, block_bytes, warn=True):

            def locate(i: int, before=before, buf=buf, at=at) -> int:
                return at + self._offset_of(buf, before, header, i)

            events = out[:n].copy()
            yield self._recording(events, header, opts, state, locate, index)
            index += n


def check_writable(events: Any, sensor_size: tuple[int, int]) -> np.ndarray:
    """Canonical, sorted events inside ``sensor_size``, ready for an encoder."""
    events = as_events(events)
    validate_events(events, sensor_size)
    return events


def time_range_error(fmt: str, path: PathLike, what: str, t: int) -> FormatError:
    """The error a writer raises for a time its format cannot store: names the format's range,
    the offending time and the way out (shifting the times)."""
    return FormatError(
        f"{fmt} {what}; got t = {t} µs. Shift the times first: `spikestream convert "
        "--time-shift`, or subtract an offset from events['t'] before writing",
        path=path,
    )


class EventWriter:
    """Streaming encoder for one file: ``write`` sorted chunks in order, then ``close``.

    The file is built under a temporary name (`spikestream.files.atomic_file`) and appears at
    ``path`` only on a clean close; an exception inside a ``with`` block removes it. Subclasses
    implement `_begin` (header), `_encode` (one chunk, carrying encoder state) and optionally
    `_end`.
    """

    def __init__(self, path: PathLike, sensor_size: tuple[int, int], options: dict[str, Any]):
        self.path = path
        self.sensor_size = sensor_size_value(sensor_size, given=True)
        self.options = options
        self.count = 0
        self._last_t: int | None = None
        self._stack = ExitStack()
        self.file: IO[bytes] = self._stack.enter_context(atomic_file(path))
        try:
            self._begin()
        except BaseException:
            self.abort()
            raise

    def _begin(self) -> None:
        pass

    def _encode(self, events: np.ndarray) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        pass

    def write(self, events: Any) -> None:
        events = check_writable(events, self.sensor_size)
        if not len(events):
            return
        if self._last_t is not None and events["t"][0] < self._last_t:
            # the caller's mistake, not the file's: a ValidationError naming the event
            raise ValidationError(
                f"{self.path}: event 0 of this chunk (event {self.count} of the file) has "
                f"t = {events['t'][0]} µs, before the previous chunk's last event "
                f"(t = {self._last_t} µs); write chunks in time order",
                index=0,
                field="t",
            )
        self._encode(events)
        self._last_t = int(events["t"][-1])
        self.count += len(events)

    def close(self) -> None:
        try:
            self._end()
        except BaseException:
            self.abort()
            raise
        self._stack.close()  # renames the temporary file onto ``path``

    def abort(self) -> None:
        """Remove the temporary file (idempotent)."""
        self._stack.__exit__(RuntimeError, RuntimeError("write aborted"), None)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


__all__ = [
    "ERR",
    "ERR_POS",
    "EVENT_DTYPE",
    "MAX_X",
    "MAX_Y",
    "STATE_BASE",
    "EventFormat",
    "EventWriter",
    "Header",
    "KernelFormat",
    "as_words",
    "check_inside",
    "check_writable",
    "compact",
    "emit",
    "infer_sensor_size",
    "map_payload",
    "read_header_lines",
    "resolve_sensor_size",
    "sensor_size_value",
    "time_range_error",
    "warn_truncated",
]
