"""Prophesee text headers (RAW and DAT): ``% key value`` lines, and the sensor geometry they
imply (explicit geometry, then the ``format`` string, then Width/Height, then the plugin name)."""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from .base import PathLike, read_header_lines

# Substrings of OpenEB plugin names / generations and the sensor each names (most specific first).
_PLUGIN_GEOMETRY: tuple[tuple[str, tuple[int, int]], ...] = (
    ("imx636", (1280, 720)),
    ("imx646", (1280, 720)),
    ("gen41", (1280, 720)),
    ("gen4", (1280, 720)),
    ("genx320", (320, 320)),
    ("imx8", (320, 320)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
    ("gen1", (304, 240)),
    ("atis", (304, 240)),
)


def parse_header(
    f: BinaryIO, path: PathLike, where: dict[str, int] | None = None
) -> tuple[dict[str, str], int]:
    """The ``% key value`` lines as a dict (later keys win) and the payload offset; ``where``,
    when given, receives the byte offset of each key's line."""
    offsets: list[int] = []
    lines, offset = read_header_lines(f, path, b"%", end="end", offsets=offsets)
    meta: dict[str, str] = {}
    for line, at in zip(lines, offsets, strict=True):
        key, _, value = line.strip().partition(" ")
        if key and key != "end":
            meta[key] = value.strip()
            if where is not None:
                where[key] = at
    return meta, offset


#: The header key each `geometry` source reads (to name its line in errors).
SOURCE_KEY = {
    "geometry": "geometry",
    "format": "format",
    "Width/Height": "Width",
    "plugin_name": "plugin_name",
}


def format_fields(meta: dict[str, str]) -> dict[str, str]:
    """``% format EVT3;height=720;width=1280`` as ``{'name': 'EVT3', 'height': '720', ...}``."""
    parts = meta.get("format", "").split(";")
    fields = {"name": parts[0].strip()} if parts and parts[0] else {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        fields[key.strip().lower()] = value.strip()
    return fields


def evt_version(meta: dict[str, str]) -> str | None:
    """'2.0', '2.1' or '3.0' from ``% evt`` or ``% format EVTn``, else None."""
    if "evt" in meta:
        return meta["evt"]
    name = format_fields(meta).get("name", "").upper()
    return {"EVT2": "2.0", "EVT21": "2.1", "EVT3": "3.0"}.get(name)


def geometry(meta: dict[str, str]) -> tuple[tuple[int, int] | None, str]:
    """(width, height) and where it came from, or (None, 'unknown')."""
    if m := re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", meta.get("geometry", "")):
        return (int(m[1]), int(m[2])), "geometry"
    fields = format_fields(meta)
    if fields.get("width", "").isdecimal() and fields.get("height", "").isdecimal():
        return (int(fields["width"]), int(fields["height"])), "format"
    if meta.get("Width", "").isdecimal() and meta.get("Height", "").isdecimal():
        return (int(meta["Width"]), int(meta["Height"])), "Width/Height"
    name = (meta.get("plugin_name", "") + " " + meta.get("generation", "")).lower()
    for key, size in _PLUGIN_GEOMETRY:
        if key in name:
            return size, "plugin_name"
    return None, "unknown"


def header_metadata(meta: dict[str, str]) -> dict[str, Any]:
    size, source = geometry(meta)
    return {"header": dict(meta), "geometry_source": source if size else "data"}


def format_header(entries: list[tuple[str, str]]) -> bytes:
    """``% key value`` lines closed by ``% end`` (which lets readers stop without guessing)."""
    return b"".join(f"% {k} {v}\n".encode() for k, v in entries) + b"% end\n"
