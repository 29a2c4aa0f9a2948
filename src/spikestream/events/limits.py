"""Bounds on what a call may allocate, checked before allocating.

Transforms size outputs, per-pixel memories and window tables from their arguments and from the
events. An absurd request (a 100000x100000 sensor, ``n_frames=10**9``, a 1 µs window over an
hour, a filter memory for x = y = 65535) is nearly always a unit or argument mistake and would
end in MemoryError or swapping, so it raises `ConfigError` up front, naming the limit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError

#: The most bytes one array a transform allocates may take: 8 GiB (2**31 float32 frame
#: elements, 2**30 float64 or int64 ones). Set ``spikestream.events.limits.MAX_BYTES`` higher on
#: a machine with the memory for more.
MAX_BYTES = 8 * 2**30


def check_size(shape: tuple[int, ...], dtype: Any, what: str, fix: str) -> None:
    """Raise `ConfigError` when an array of ``shape`` and ``dtype`` would exceed `MAX_BYTES`;
    ``what`` names the array and ``fix`` says which argument to change."""
    shape = tuple(int(s) for s in shape)
    dt = np.dtype(dtype)
    size = math.prod(max(0, s) for s in shape) * dt.itemsize
    if size > MAX_BYTES:
        kind = f"{dt.itemsize}-byte record" if dt.names else str(dt)  # not a structured repr
        raise ConfigError(
            f"{what} would be a {kind} array of shape {shape}, {size / 2**30:,.1f} GiB, "
            f"more than the limit of {MAX_BYTES / 2**30:g} GiB "
            f"(spikestream.events.limits.MAX_BYTES); {fix}"
        )


def max_count(item_shape: tuple[int, ...], dtype: Any) -> int:
    """How many items of ``item_shape`` and ``dtype`` fit under `MAX_BYTES`."""
    item = math.prod(int(s) for s in item_shape) * np.dtype(dtype).itemsize
    return MAX_BYTES // max(1, item)


#: Largest sensor side: x and y are uint16 (0..65535), so at most 65536 pixels a side. The one
#: sensor-size rule (readers, writers, transforms, the simulator and the CLI all use
#: `sensor_dims`).
MAX_SIDE = 1 << 16
#: What `sensor_dims` accepts, for messages.
SENSOR_RULE = f"(W, H) with 1 <= W, H <= {MAX_SIDE} (x and y are 16-bit)"


def sensor_dims(sensor_size: Any, what: str = "sensor_size") -> tuple[int, int]:
    """``(W, H)`` as ints with ``1 <= W, H <=`` `MAX_SIDE`, else a `ConfigError` naming
    ``what`` (the argument or thing whose size it is) and the rule."""
    try:
        if isinstance(sensor_size, str | bytes):  # "34" would unpack as (3, 4)
            raise TypeError
        width, height = (int(v) for v in sensor_size)
        ok = 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{what} must be {SENSOR_RULE}, got {sensor_size!r}")
    return width, height
