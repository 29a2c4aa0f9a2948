"""Just enough FlatBuffers to read and write AEDAT 4.0: tables, scalar fields, strings and
vectors of structs, with every offset bounds-checked (a hostile file raises `FormatError`)."""

from __future__ import annotations

import os
import struct

from ..errors import FormatError


class FlatTable:
    """A table inside ``buf`` at ``pos``. ``where`` names the buffer in error messages, which
    name the file ``path`` and the byte offset ``base_offset`` + position in ``buf``."""

    def __init__(
        self,
        buf: bytes | bytearray | memoryview,
        pos: int,
        where: str,
        base_offset: int = 0,
        path: str | os.PathLike[str] | None = None,
    ):
        self.buf = buf
        self.pos = pos
        self.where = where
        self.base_offset = base_offset  # file offset of buf[0], for error messages
        self.path = path
        vt = pos - self._i32(pos)
        self.vtable = vt
        self.vt_size = self._u16(vt)
        if self.vt_size < 4 or self.vt_size % 2:
            self._fail(f"bad vtable size {self.vt_size}", vt)
        self._check(vt, self.vt_size)

    @classmethod
    def root(
        cls,
        buf: bytes | bytearray | memoryview,
        start: int,
        where: str,
        base_offset: int = 0,
        path: str | os.PathLike[str] | None = None,
    ) -> FlatTable:
        """The root table of a flatbuffer starting at ``start`` in ``buf``."""
        if len(buf) < start + 8:
            raise FormatError(
                f"{where}: flatbuffer shorter than 8 bytes", path=path, offset=base_offset
            )
        (root,) = struct.unpack_from("<I", buf, start)
        return cls(buf, start + root, where, base_offset, path)

    def _fail(self, message: str, pos: int) -> None:
        raise FormatError(f"{self.where}: {message}", path=self.path, offset=self.base_offset + pos)

    def _check(self, pos: int, size: int) -> None:
        if pos < 0 or size < 0 or pos + size > len(self.buf):
            self._fail(f"offset {pos} (+{size} bytes) outside the {len(self.buf)}-byte buffer", pos)

    def _i32(self, pos: int) -> int:
        self._check(pos, 4)
        return struct.unpack_from("<i", self.buf, pos)[0]

    def _u16(self, pos: int) -> int:
        self._check(pos, 2)
        return struct.unpack_from("<H", self.buf, pos)[0]

    def field_pos(self, index: int) -> int | None:
        """Absolute position of field ``index``, or None when the field is absent."""
        slot = 4 + 2 * index
        if slot + 2 > self.vt_size:
            return None
        off = self._u16(self.vtable + slot)
        return self.pos + off if off else None

    def scalar(self, index: int, fmt: str, default: int) -> int:
        pos = self.field_pos(index)
        if pos is None:
            return default
        self._check(pos, struct.calcsize(fmt))
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def _indirect(self, index: int) -> int | None:
        pos = self.field_pos(index)
        if pos is None:
            return None
        self._check(pos, 4)
        return pos + struct.unpack_from("<I", self.buf, pos)[0]

    def string(self, index: int) -> str | None:
        pos = self._indirect(index)
        if pos is None:
            return None
        (length,) = struct.unpack_from("<I", self.buf, pos) if pos + 4 <= len(self.buf) else (-1,)
        self._check(pos + 4, length)
        return bytes(self.buf[pos + 4 : pos + 4 + length]).decode("utf-8", errors="replace")

    def vector(self, index: int, element_size: int) -> tuple[int, int]:
        """(position of the first element, element count) of a vector field; (0, 0) if absent."""
        pos = self._indirect(index)
        if pos is None:
            return 0, 0
        self._check(pos, 4)
        (count,) = struct.unpack_from("<I", self.buf, pos)
        self._check(pos + 4, count * element_size)
        return pos + 4, count


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * (-len(buf) % align))


def build_ioheader(compression: int, file_data_position: int, description: str) -> bytes:
    """AEDAT 4.0 IOHeader: root table {compression: int32, file_data_position: int64,
    description: string} with file identifier ``IOHE`` (not size-prefixed)."""
    buf = bytearray(struct.pack("<I4s", 0, b"IOHE"))
    vt_pos = len(buf)
    buf += struct.pack("<5H", 10, 20, 4, 8, 16)
    _pad(buf, 8)
    table = len(buf)
    buf += struct.pack("<iiqI", table - vt_pos, compression, file_data_position, 0)
    text = description.encode()
    string_pos = len(buf)
    buf += struct.pack("<I", len(text)) + text + b"\0"
    _pad(buf, 4)
    struct.pack_into("<I", buf, table + 16, string_pos - (table + 16))
    struct.pack_into("<I", buf, 0, table)
    return bytes(buf)


def build_struct_vector_packet(identifier: bytes, elements: bytes, count: int) -> bytes:
    """A size-prefixed flatbuffer whose root table has one field: a vector of 16-byte structs
    (``elements``, ``count`` of them). The struct data is 8-aligned within the whole buffer."""
    buf = bytearray(struct.pack("<II4s", 0, 0, identifier))
    vt_pos = len(buf)
    buf += struct.pack("<3H", 6, 8, 4)
    _pad(buf, 4)
    table = len(buf)
    buf += struct.pack("<iI", table - vt_pos, 0)
    while (len(buf) + 4) % 8:
        buf += b"\0"
    vec = len(buf)
    buf += struct.pack("<I", count)
    struct.pack_into("<I", buf, table + 4, vec - (table + 4))
    struct.pack_into("<I", buf, 4, table - 4)  # root offset is relative to the prefix's end
    struct.pack_into("<I", buf, 0, len(buf) + len(elements) - 4)
    return bytes(buf) + elements
