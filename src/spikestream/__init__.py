"""spikestream: event-camera data from any file, dataset or live stream to a trained spiking
network, and live inference."""

from importlib import metadata as _metadata

from . import _numba
from .errors import (
    ChecksumError,
    ConfigError,
    DatasetError,
    FormatError,
    MissingFileError,
    SpikestreamError,
    StreamError,
    StreamTimeout,
    TruncatedRecordingWarning,
    UnknownFormatError,
    UnsafeArchiveError,
    ValidationError,
)
from .events import EVENT_DTYPE, Recording, as_events, make_events
from .io import iter_chunks, open_writer, read, write

# before any parallel kernel compiles (imports above compile nothing): fork- and thread-safe
_numba.configure()

try:
    __version__ = _metadata.version("spikestream")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "EVENT_DTYPE",
    "ChecksumError",
    "ConfigError",
    "DatasetError",
    "FormatError",
    "MissingFileError",
    "Recording",
    "SpikestreamError",
    "StreamError",
    "StreamTimeout",
    "TruncatedRecordingWarning",
    "UnknownFormatError",
    "UnsafeArchiveError",
    "ValidationError",
    "__version__",
    "as_events",
    "iter_chunks",
    "make_events",
    "open_writer",
    "read",
    "write",
]
