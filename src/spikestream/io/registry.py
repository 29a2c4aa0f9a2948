"""The format registry: format id -> `EventFormat`, detection by header bytes then extension."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MissingFileError, UnknownFormatError
from .base import EventFormat, PathLike

_FORMATS: dict[str, EventFormat] = {}

#: When several formats share an extension and no header decides, the one a file most likely is
#: (reading) and the one written by default. ``.raw`` without a header version is refused.
_READ_DEFAULT = {".dat": "dat", ".aedat": "aedat2"}
_WRITE_DEFAULT = {".raw": "evt3", ".dat": "dat", ".aedat": "aedat3"}
SNIFF_BYTES = 4096


def register_format(fmt: EventFormat) -> EventFormat:
    """Add a format (plugins call this); a later registration under the same id replaces it."""
    _FORMATS[fmt.format_id] = fmt
    return fmt


def get_format(format_id: str) -> EventFormat:
    try:
        return _FORMATS[format_id.lower()]
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {format_id!r}; known: {', '.join(sorted(_FORMATS))}"
        ) from None


def list_formats() -> list[EventFormat]:
    return list(_FORMATS.values())


def require_file(path: PathLike) -> None:
    """`MissingFileError` (also a `FileNotFoundError`) when ``path`` does not exist."""
    if not os.path.exists(path):
        raise MissingFileError(path)


#: How to name a format when detection fails, in the API and on the command line.
READ_HINT = "format=ID (spikestream convert: --from ID; spikestream info: --format ID)"


def detect_format(path: PathLike) -> EventFormat:
    """The format of an existing file: its header bytes first, then its extension."""
    require_file(path)
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise UnknownFormatError(f"cannot open: {exc}", path=path) from exc
    for fmt in _FORMATS.values():
        if fmt.sniff(head):
            return fmt
    suffix = Path(path).suffix.lower()
    if suffix in _READ_DEFAULT:
        return _FORMATS[_READ_DEFAULT[suffix]]
    candidates = [f for f in _FORMATS.values() if suffix in f.extensions]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        ids = ", ".join(f.format_id for f in candidates)
        raise UnknownFormatError(
            f"the header does not say which of {ids} this {suffix} file is; pass {READ_HINT}",
            path=path,
        )
    raise UnknownFormatError(
        f"unrecognised header and extension {suffix or '(none)'}; pass {READ_HINT} "
        f"(known: {', '.join(sorted(_FORMATS))})",
        path=path,
    )


def format_for_writing(path: PathLike, format_id: str | None) -> EventFormat:
    """The writable format named by ``format_id``, else implied by the extension of ``path``."""
    if format_id is not None:
        fmt = get_format(format_id)
    else:
        suffix = Path(os.fspath(path)).suffix.lower()
        if suffix in _WRITE_DEFAULT:
            fmt = _FORMATS[_WRITE_DEFAULT[suffix]]
        else:
            writable = [f for f in _FORMATS.values() if f.can_write and suffix in f.extensions]
            if not writable:
                raise UnknownFormatError(
                    f"no writer for extension {suffix or '(none)'}; pass format=ID (spikestream "
                    "convert: --to ID; writable: "
                    f"{', '.join(sorted(f.format_id for f in _FORMATS.values() if f.can_write))})",
                    path=path,
                )
            fmt = writable[0]
    if not fmt.can_write:
        raise UnknownFormatError(f"format {fmt.format_id!r} can be read but not written")
    return fmt
