"""Reading and writing event files.

`read` detects the format from the header and extension and decodes the whole file; `write`
encodes; `iter_chunks` streams a file of any size in bounded memory, by event count or time span,
carrying decoder state across chunk boundaries; `open_writer` encodes a stream of chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ConfigError, FormatError
from ..events import Recording, as_events, time_index
from .aedat2 import Aedat2Format
from .aedat3 import Aedat3Format
from .aedat4 import Aedat4Format
from .arrays import Hdf5Format, MatFormat, NpzFormat, TextFormat
from .base import EventFormat, EventWriter, PathLike
from .dat import DatFormat
from .evt2 import Evt2Format
from .evt3 import Evt3Format
from .evt21 import Evt21Format
from .nmnist import NmnistFormat
from .registry import (
    detect_format,
    format_for_writing,
    get_format,
    list_formats,
    register_format,
    require_file,
)

# Sniffing order: the header checks are mutually exclusive, so order only matters for speed.
for _fmt in (
    Aedat4Format(),
    Aedat3Format(),
    Aedat2Format(),
    Evt3Format(),
    Evt2Format(),
    Evt21Format(),
    DatFormat(),
    NmnistFormat(),
    NpzFormat(),
    Hdf5Format(),
    MatFormat(),
    TextFormat(),
):
    register_format(_fmt)


def _resolve(path: PathLike, format: str | None) -> EventFormat:
    if format is not None:
        fmt = get_format(format)
        require_file(path)
        return fmt
    return detect_format(path)


def read(path: PathLike, *, format: str | None = None, **options: Any) -> Recording:
    """Decode a whole event file into a `Recording`.

    ``format`` overrides detection (ids: see `list_formats`); other keyword options are
    format-specific (e.g. ``sensor_size=(W, H)``, ``layout='cifar10dvs'`` for AEDAT 2.0,
    ``spikingjelly=True`` for AEDAT 3.1) and unknown ones raise `ConfigError`.

    Example:
        >>> rec = read("recording.raw")
        >>> rec.sensor_size, len(rec)
    """
    return _resolve(path, format).read(path, **options)


def write(
    path: PathLike,
    events: Any,
    sensor_size: tuple[int, int] | None = None,
    *,
    format: str | None = None,
    **options: Any,
) -> None:
    """Encode events (or a `Recording`) to ``path``; the format comes from ``format`` or the
    extension (``.raw`` -> EVT 3.0, ``.aedat`` -> AEDAT 3.1). Written atomically."""
    if isinstance(events, Recording):
        sensor_size = sensor_size or events.sensor_size
    if sensor_size is None:
        raise ConfigError("write needs sensor_size=(W, H) (or a Recording that carries one)")
    format_for_writing(path, format).write(path, as_events(events), sensor_size, **options)


def open_writer(
    path: PathLike, sensor_size: tuple[int, int], *, format: str | None = None, **options: Any
) -> EventWriter:
    """A streaming writer: call ``write(chunk)`` in time order, then ``close()`` (or use
    ``with``). The file appears at ``path`` only when closed cleanly."""
    return format_for_writing(path, format).open_writer(path, sensor_size, **options)


def iter_chunks(
    path: PathLike,
    *,
    n_events: int | None = None,
    duration: int | None = None,
    format: str | None = None,
    block_bytes: int = 1 << 22,
    max_empty_windows: int | None = 100_000,
    **options: Any,
) -> Iterator[Recording]:
    """Stream a file in bounded memory as consecutive `Recording` chunks.

    ``n_events``: chunks of exactly that many events (the last may be shorter). ``duration``
    (µs): half-open windows ``[t0 + k*duration, t0 + (k+1)*duration)`` from the first event,
    empty windows included so the chunks tick regularly. A time jump that would yield more than
    ``max_empty_windows`` empty windows in a row (one corrupt timestamp can mean billions: a
    hang) raises `FormatError` naming the jump; ``None`` yields them all. Neither: blocks as
    decoded. The concatenation of all chunks equals `read` of the same file.
    """
    if n_events is not None and duration is not None:
        raise ConfigError("give n_events or duration, not both")
    if (n_events is not None and n_events <= 0) or (duration is not None and duration <= 0):
        raise ConfigError("n_events and duration must be > 0")
    if max_empty_windows is not None and max_empty_windows < 0:
        raise ConfigError(f"max_empty_windows must be >= 0 or None, got {max_empty_windows}")
    fmt = _resolve(path, format)
    blocks = fmt.iter_blocks(path, block_bytes=block_bytes, **options)
    if n_events is not None:
        return _by_count(blocks, n_events)
    if duration is not None:
        return _by_duration(blocks, duration, max_empty_windows, path)
    return blocks


def _joined(template: Recording, parts: list[np.ndarray]) -> Recording:
    events = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return Recording(events, template.sensor_size, template.source_format, template.metadata)


def _by_count(blocks: Iterator[Recording], n: int) -> Iterator[Recording]:
    parts: list[np.ndarray] = []
    have = 0
    last: Recording | None = None
    for rec in blocks:
        last = rec
        ev = rec.events
        while len(ev):
            take = min(n - have, len(ev))
            parts.append(ev[:take])
            have += take
            ev = ev[take:]
            if have == n:
                yield _joined(rec, parts)
                parts, have = [], 0
    if parts and last is not None:
        yield _joined(last, parts)


def _by_duration(
    blocks: Iterator[Recording], duration: int, max_empty: int | None, path: PathLike
) -> Iterator[Recording]:
    parts: list[np.ndarray] = []
    end: int | None = None
    last: Recording | None = None
    for rec in blocks:
        last = rec
        ev = rec.events
        if end is None:
            if not len(ev):
                continue
            end = int(ev["t"][0]) + duration
        while len(ev):
            cut = int(time_index(ev, end)[0])
            if cut == len(ev):
                parts.append(ev)
                break
            parts.append(ev[:cut])
            yield _joined(rec, parts)
            parts = []
            ev = ev[cut:]
            end += duration
            empty = (int(ev["t"][0]) - end) // duration + 1  # windows before the next event
            if max_empty is not None and empty > max_empty:
                raise FormatError(
                    f"time jumps from t <= {end - duration} to t = {int(ev['t'][0])} µs: "
                    f"{empty} empty {duration} µs windows (a corrupt timestamp?); pass "
                    "max_empty_windows=None to yield them all, or iterate with n_events=",
                    path=path,
                )
    if last is not None and end is not None:
        yield _joined(last, parts or [last.events[:0]])


__all__ = [
    "EventFormat",
    "EventWriter",
    "detect_format",
    "get_format",
    "iter_chunks",
    "list_formats",
    "open_writer",
    "read",
    "register_format",
    "write",
]
