"""Event frames to RGB images: the palette and the one rendering rule every picture uses.

A frame ``[2, H, W]`` (channel 0 OFF, channel 1 ON, as `spikestream.transforms` makes them)
becomes an ``[H, W, 3]`` uint8 image: a pixel with more ON than OFF events takes `ON`, more OFF
than ON `OFF`, as many of each (and at least one) `BOTH`, none `BACKGROUND`. Counts do not
shade the colour, so every event shows, whatever the frame's busiest pixel holds.

The palette is Okabe and Ito's colour-blind-safe pair (blue and vermillion stay distinct under
protanopia, deuteranopia and tritanopia) on white; `Palette` takes any other colours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..events import limits

RGB = tuple[int, int, int]

#: Okabe-Ito blue: pixels where ON events outnumber OFF.
ON: RGB = (0, 114, 178)
#: Okabe-Ito vermillion: pixels where OFF events outnumber ON.
OFF: RGB = (213, 94, 0)
#: Okabe-Ito reddish purple: pixels with as many ON as OFF events.
BOTH: RGB = (204, 121, 167)
#: Pixels without events.
BACKGROUND: RGB = (255, 255, 255)
#: Lines between the tiles of a grid.
GRID_LINE: RGB = (160, 160, 160)

#: Largest integer upscale (a 1280x720 sensor at 16x is already 20480x11520).
MAX_SCALE = 64
#: Frames binned at once when a clip is written frame by frame (`iter_event_frames`), and the
#: bytes of int32 counts such a chunk may take.
CHUNK_FRAMES = 64
CHUNK_BYTES = 32 << 20


@dataclass(frozen=True)
class Palette:
    """The four colours of a rendered frame (RGB, 0..255)."""

    on: RGB = ON
    off: RGB = OFF
    both: RGB = BOTH
    background: RGB = BACKGROUND

    def table(self) -> np.ndarray:
        """``[4, 3]`` uint8 rows in index order: background, OFF, ON, both."""
        rows = (self.background, self.off, self.on, self.both)
        table = np.array(rows, dtype=np.int64)
        if table.shape != (4, 3) or table.min() < 0 or table.max() > 255:
            raise ConfigError(f"palette colours must be (R, G, B) in 0..255, got {rows}")
        return table.astype(np.uint8)


DEFAULT_PALETTE = Palette()


def check_scale(scale: int) -> int:
    """``scale`` as an integer in 1..`MAX_SCALE` (a `ConfigError` otherwise)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)):
        raise ConfigError(f"scale must be a whole number in 1..{MAX_SCALE}, got {scale!r}")
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"scale must be in 1..{MAX_SCALE}, got {scale}")
    return int(scale)


def as_frames(frames: Any) -> np.ndarray:
    """``frames`` (numpy or torch, ``[T, 2, H, W]`` or one ``[2, H, W]``) as a numpy
    ``[T, 2, H, W]`` array."""
    if hasattr(frames, "detach"):  # a torch tensor, without importing torch here
        frames = frames.detach().cpu().numpy()
    a = np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[1] != 2:
        raise ConfigError(
            f"frames must be [T, 2, H, W] (channel 0 OFF, 1 ON) or one [2, H, W], "
            f"got shape {a.shape}"
        )
    if a.shape[0] < 1 or a.shape[2] < 1 or a.shape[3] < 1:
        raise ConfigError(f"frames must have at least one frame of one pixel, got {a.shape}")
    return a


def palette_indices(frames: Any) -> np.ndarray:
    """``[T, H, W]`` uint8 palette indices (0 background, 1 OFF, 2 ON, 3 both) of ``frames``."""
    a = as_frames(frames)
    off, on = a[:, 0], a[:, 1]
    index = np.where(on > off, 2, np.where(off > on, 1, 0)).astype(np.uint8)
    index[(on == off) & (on > 0)] = 3
    return index


def upscale(images: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour integer upscale of channel-last images ``[..., H, W, C]``: each pixel
    becomes a ``scale x scale`` block."""
    scale = check_scale(scale)
    if scale == 1:
        return images
    return images.repeat(scale, axis=-3).repeat(scale, axis=-2)


def render_frames(frames: Any, scale: int = 1, palette: Palette = DEFAULT_PALETTE) -> np.ndarray:
    """``[T, H * scale, W * scale, 3]`` uint8 RGB images of ``frames`` (see the module rule).

    Example:
        >>> rgb = render_frames(to_frames(ev, (34, 34), n_frames=10), scale=4)
    """
    index = palette_indices(frames)
    scale = check_scale(scale)
    t, h, w = index.shape
    limits.check_size((t, h * scale, w * scale, 3), np.uint8, "the rendered frames",
                      "use a smaller scale or fewer frames")  # fmt: skip
    rgb = palette.table()[index]  # [T, H, W, 3]
    return upscale(rgb, scale)


def event_frames(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    n_frames: int | None = None,
    duration: int | None = None,
    split_by: str = "time",
) -> np.ndarray:
    """Frames ``[T, 2, H, W]`` of ``events`` for pictures: `transforms.functional.to_frames`
    (``n_frames`` split by ``'time'`` or ``'number'``, or a fixed ``duration`` in µs)."""
    from ..transforms.functional import to_frames

    if n_frames is None and duration is None:
        raise ConfigError("give n_frames or duration (µs) to cut the events into frames")
    if len(events) == 0:
        raise ConfigError("no events to show")
    if duration is not None:
        return to_frames(events, sensor_size, duration=duration, dtype=np.int32)
    return to_frames(events, sensor_size, n_frames=n_frames, split_by=split_by, dtype=np.int32)


def frame_windows(
    t: np.ndarray,
    *,
    n_frames: int | None = None,
    duration: int | None = None,
    split_by: str = "time",
) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's ``[start, stop)`` event indices, as `event_frames` cuts ``t`` (sorted µs):
    `transforms.functional.to_frames`' windows (``n_frames`` split by ``'time'`` or
    ``'number'``, or a fixed ``duration``)."""
    from ..transforms.functional.frames import frame_windows as windows

    if (n_frames is None) == (duration is None):
        raise ConfigError("give n_frames or duration (µs) to cut the events into frames")
    if len(t) == 0:
        raise ConfigError("no events to show")
    return windows(t, n_frames=n_frames, duration=duration, split_by=split_by)


def iter_event_frames(
    events: Any,
    sensor_size: tuple[int, int],
    starts: np.ndarray,
    stops: np.ndarray,
    chunk_frames: int = CHUNK_FRAMES,
) -> Iterator[np.ndarray]:
    """The frames of the windows ``[starts[k], stops[k])`` (`frame_windows`) in chunks of at
    most ``chunk_frames`` (fewer where a chunk's int32 counts would pass `CHUNK_BYTES`), so a
    long clip is binned and written without holding every frame."""
    from ..transforms.functional import accumulate

    w, h = limits.sensor_dims(tuple(sensor_size), what="sensor_size")
    step = max(1, min(int(chunk_frames), CHUNK_BYTES // (2 * h * w * 4)))
    for k in range(0, len(starts), step):
        yield accumulate(events, starts[k : k + step], stops[k : k + step], (w, h), np.int32)
