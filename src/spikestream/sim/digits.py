"""Handwritten digits as event recordings: scikit-learn's 8x8 digit images (shipped inside the
package, nothing downloaded), upscaled and moved through N-MNIST-style saccades in front of a
simulated 34x34 sensor. The dataset layer turns these recordings into ``NDigits``."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ConfigError
from .camera import CameraConfig
from .saccades import saccade_events

SENSOR_SIZE = (34, 34)
#: The sensor of the generated recordings: thresholds and noise chosen so a sample has a few
#: thousand events over 300 ms, like N-MNIST.
CAMERA = CameraConfig(
    threshold_on=0.25,
    threshold_off=0.25,
    mismatch=0.05,
    refractory_us=1_000,
    shot_noise_hz=0.5,
    log_eps=0.1,
)
STEP_US = 2_000  # frame spacing of the rendered saccades; events are interpolated in between


@functools.cache
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digit images scaled to [0, 1] (``[n, 8, 8]``) and their labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("digit recordings need scikit-learn: pip install scikit-learn") from exc
    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def _upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """8x8 -> 24x24 by bilinear interpolation on pixel centres."""
    from scipy import ndimage

    return np.clip(ndimage.zoom(image, factor, order=1), 0.0, 1.0)


def digit_events(index: int) -> np.ndarray:
    """The recording of digit image ``index`` (deterministic: simulated with seed ``index``)."""
    images, _ = digit_images()
    if not 0 <= index < len(images):
        raise ConfigError(f"digit index {index} outside 0..{len(images) - 1}")
    image = _upscale(images[index])
    return saccade_events(image, SENSOR_SIZE, CAMERA, step_us=STEP_US, seed=index)
