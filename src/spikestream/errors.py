"""The error hierarchy. Every error spikestream raises on bad input is a `SpikestreamError`.

Each subclass also derives from the builtin a caller would naturally catch (``ValueError``,
``OSError``), so code written against plain Python exceptions keeps working.
"""

from __future__ import annotations

import errno
import os


class SpikestreamError(Exception):
    """Root of every error raised by spikestream on bad input or bad configuration."""


class ValidationError(SpikestreamError, ValueError):
    """Event data breaks an invariant (unsorted time, coordinate outside the sensor, bad polarity).

    ``index`` is the first offending event (or None when the problem is not per-event) and
    ``field`` the offending field name.
    """

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None):
        super().__init__(message)
        self.index = index
        self.field = field


class FormatError(SpikestreamError, ValueError):
    """A file or byte stream does not follow its format. Names the file and the byte offset."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
    ):
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        where = []
        if self.path is not None:
            where.append(self.path)
        if offset is not None:
            where.append(f"byte {offset}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.reason = message


class UnknownFormatError(FormatError):
    """No reader or writer is registered under the requested format id, or detection failed."""


class MissingFileError(UnknownFormatError, FileNotFoundError):
    """The input file does not exist. Also a `FileNotFoundError`, so ``except OSError`` and
    ``except FileNotFoundError`` keep working."""

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__(
            "no such file (check the path and the working directory)", path=path, offset=None
        )
        self.errno = errno.ENOENT
        self.filename = self.path

    def __str__(self) -> str:  # OSError's "[Errno 2] ..." form would hide the message
        return str(self.args[0])


class DatasetError(SpikestreamError):
    """A dataset is missing, incomplete, or cannot be downloaded or converted."""


class ChecksumError(DatasetError, ValueError):
    """A downloaded or local archive does not match its recorded checksum."""


class UnsafeArchiveError(DatasetError, ValueError):
    """An archive member would escape the target folder (absolute path, '..', link, device)."""


class ConfigError(SpikestreamError, ValueError):
    """An argument or configuration value is invalid."""


class StreamError(SpikestreamError, OSError):
    """A live source or network stream failed or sent a malformed packet."""


class StreamTimeout(StreamError):
    """A live source's ``timeout_s`` passed with no data (for UDP, which has no end-of-stream
    message, also the normal end once data came)."""


class TruncatedRecordingWarning(UserWarning):
    """A recording ends in the middle of a record; the complete records were returned."""


__all__ = [
    "ChecksumError",
    "ConfigError",
    "DatasetError",
    "FormatError",
    "MissingFileError",
    "SpikestreamError",
    "StreamError",
    "StreamTimeout",
    "TruncatedRecordingWarning",
    "UnknownFormatError",
    "UnsafeArchiveError",
    "ValidationError",
]
