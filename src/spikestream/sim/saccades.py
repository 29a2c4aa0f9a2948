"""Still images to event recordings the way N-MNIST was made: the sensor moves in three
saccades (a triangle, about 100 ms each) in front of a static image, so edges sweep past pixels."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..errors import ConfigError
from .camera import CameraConfig, check_size, simulate

#: N-MNIST's three saccades, as displacement (dx, dy) in units of the amplitude: up-right,
#: down-right... a closed triangle back to the start.
TRIANGLE = np.array([[0.0, 0.0], [0.5, 1.0], [1.0, 0.0], [0.0, 0.0]])


def saccade_frames(
    image: np.ndarray,
    canvas: tuple[int, int],
    *,
    amplitude: float = 3.0,
    saccade_us: int = 100_000,
    step_us: int = 1_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``[N, H, W]`` (canvas (W, H)) of ``image`` moving along `TRIANGLE` scaled by
    ``amplitude`` pixels, one frame every ``step_us``, and their times."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ConfigError(f"the image must be 2-D [H, W] intensities, got shape {img.shape}")
    width, height = (int(v) for v in canvas)
    ih, iw = img.shape
    if not (math.isfinite(amplitude) and amplitude >= 0):
        raise ConfigError(f"amplitude must be a finite number of pixels >= 0, not {amplitude}")
    if step_us < 1 or saccade_us < step_us:
        raise ConfigError(
            f"step_us ({step_us}) must be >= 1 and saccade_us ({saccade_us}) at least step_us"
        )
    if ih + amplitude > height or iw + amplitude > width:
        raise ConfigError(f"a {iw}x{ih} image moving {amplitude} px does not fit {width}x{height}")
    steps = saccade_us // step_us
    # refused before the frames are allocated (3 saccades of `steps` frames, plus the last)
    check_size((3 * steps + 1, height, width))
    base = np.zeros((height, width))
    oy = (height - ih - int(np.ceil(amplitude))) // 2
    ox = (width - iw - int(np.ceil(amplitude))) // 2
    base[oy : oy + ih, ox : ox + iw] = img
    frac = np.arange(steps) / steps
    path = [TRIANGLE[k] + (TRIANGLE[k + 1] - TRIANGLE[k]) * frac[:, None] for k in range(3)]
    offsets = np.concatenate([*path, TRIANGLE[-1:]]) * amplitude
    times = np.arange(len(offsets), dtype=np.int64) * step_us
    frames = np.empty((len(offsets), height, width))
    _shift_bilinear(base, offsets, frames)
    return frames, times


@numba.njit(cache=True, nogil=True)
def _shift_bilinear(base, offsets, out):  # pragma: no cover - compiled
    # out[f, y, x] = base sampled at (y - dy, x - dx), bilinear, zero outside
    height, width = base.shape
    for f in range(len(offsets)):
        dx, dy = offsets[f, 0], offsets[f, 1]
        for y in range(height):
            for x in range(width):
                sy, sx = y - dy, x - dx
                y0, x0 = int(np.floor(sy)), int(np.floor(sx))
                fy, fx = sy - y0, sx - x0
                acc = 0.0
                for qy, wy in ((y0, 1.0 - fy), (y0 + 1, fy)):
                    for qx, wx in ((x0, 1.0 - fx), (x0 + 1, fx)):
                        if 0 <= qy < height and 0 <= qx < width:
                            acc += wy * wx * base[qy, qx]
                out[f, y, x] = acc


def saccade_events(
    image: np.ndarray,
    canvas: tuple[int, int],
    config: CameraConfig | None = None,
    *,
    amplitude: float = 3.0,
    saccade_us: int = 100_000,
    step_us: int = 1_000,
    seed: int | None = 0,
) -> np.ndarray:
    """Events of a still ``image`` (intensities >= 0) seen through three saccades."""
    frames, times = saccade_frames(
        image, canvas, amplitude=amplitude, saccade_us=saccade_us, step_us=step_us
    )
    return simulate(frames, times, config, seed=seed)
