"""Every environment variable spikestream reads, in one place. Each is read when used (not at
import), so a test or a launcher can set it at any time.

- ``SPIKESTREAM_DATA``: root folder of the datasets (default ``~/.cache/spikestream``).
- ``SPIKESTREAM_SNN_BACKEND``: neuron kernel, ``auto`` (default), ``torch``, ``cpu`` or
  ``triton``.
- ``SPIKESTREAM_KERNEL_POOL_MB``: memory the fused CPU kernel may keep for reusing output
  buffers (default 64; 0 turns reuse off).
- ``SPIKESTREAM_ALLOCATOR``: ``auto`` (default) or ``off``: whether training puts torch's large
  blocks on transparent huge pages (`spikestream.train.allocator`).
- ``SPIKESTREAM_REAL_DATA``: folder of sample recordings for the decoding demo (no default).
- ``NUMBA_THREADING_LAYER`` (numba's own): when set, spikestream keeps the user's layer instead
  of choosing a fork- and thread-safe one (`spikestream._numba`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError


def _get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def data_root() -> Path:
    """Root folder of the datasets (``$SPIKESTREAM_DATA``)."""
    return Path(_get("SPIKESTREAM_DATA") or Path.home() / ".cache" / "spikestream")


def snn_backend() -> str:
    """The neuron kernel asked for by ``$SPIKESTREAM_SNN_BACKEND`` (``auto`` when unset)."""
    return _get("SPIKESTREAM_SNN_BACKEND") or "auto"


def kernel_pool_bytes() -> int:
    """Bytes the fused CPU kernel may keep in recycled output buffers
    (``$SPIKESTREAM_KERNEL_POOL_MB``; 0 turns recycling off)."""
    raw = _get("SPIKESTREAM_KERNEL_POOL_MB") or "64"
    try:
        mb = float(raw)
    except ValueError:
        raise ConfigError(
            f"SPIKESTREAM_KERNEL_POOL_MB={raw!r} is not a number of megabytes (e.g. 64, or 0)"
        ) from None
    if mb < 0:
        raise ConfigError(f"SPIKESTREAM_KERNEL_POOL_MB={raw!r} must be >= 0")
    return int(mb * (1 << 20))


def real_data_dir() -> Path | None:
    """Folder of sample recordings (``$SPIKESTREAM_REAL_DATA``), or None."""
    value = _get("SPIKESTREAM_REAL_DATA")
    return Path(value) if value else None


def numba_threading_layer() -> str | None:
    """numba's threading layer as the user set it (``$NUMBA_THREADING_LAYER``), or None."""
    return _get("NUMBA_THREADING_LAYER")


def allocator_mode() -> str:
    """``$SPIKESTREAM_ALLOCATOR``: ``auto`` (default: `spikestream.train.allocator.tune` puts
    torch's large blocks on transparent huge pages before training) or ``off``."""
    raw = (_get("SPIKESTREAM_ALLOCATOR") or "auto").lower()
    if raw not in ("auto", "off"):
        raise ConfigError(f"SPIKESTREAM_ALLOCATOR={raw!r}: use 'auto' (default) or 'off'")
    return raw
