"""``NDigits``: the 1,797 handwritten digits shipped inside scikit-learn, turned into 34x34 event
recordings by N-MNIST-style saccades. Nothing is downloaded; generation is deterministic (sample
i is simulated with seed i), takes seconds, and is kept as packed stores like every dataset's
(``<root>/packed/train`` and ``test``)."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.base import EventDataset, default_root
from ..datasets.store import PackedStore, Sample
from ..errors import DatasetError
from .camera import CameraConfig
from .saccades import saccade_events

SENSOR_SIZE = (34, 34)
CLASSES = tuple(str(d) for d in range(10))
VERSION = 1
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
TRAIN_FRACTION = 0.8
STEP_US = 2_000  # frame spacing of the rendered saccades; events are interpolated in between


@functools.cache
def _images() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DatasetError("NDigits needs scikit-learn (pip install scikit-learn)") from exc
    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def _upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """8x8 -> 24x24 by bilinear interpolation on pixel centres."""
    from scipy import ndimage

    return np.clip(ndimage.zoom(image, factor, order=1), 0.0, 1.0)


def split_of(labels: np.ndarray) -> np.ndarray:
    """True for training samples: the first 80 % of each class, in scikit-learn's order."""
    train = np.zeros(len(labels), dtype=bool)
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(labels == c)
        train[idx[: round(TRAIN_FRACTION * len(idx))]] = True
    return train


class NDigits(EventDataset):
    """Torch dataset of the generated recordings, with every `EventDataset` option
    (``transform``, ``data_type='frame'``, ...).

    Example:
        >>> ds = NDigits(train=True, transform=ToFrames((34, 34), n_frames=10))
        >>> frames, label = ds[0]
    """

    name = "NDigits"
    sensor_size = SENSOR_SIZE
    classes = CLASSES
    resources = ()  # generated, nothing to fetch
    homepage = "generated from scikit-learn's handwritten digits"

    @classmethod
    def folder(cls, root: str | os.PathLike | None) -> Path:
        # the generator's version in the default folder: a new simulator makes a new dataset
        return Path(root) if root is not None else default_root() / f"NDigits-v{VERSION}"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[int]:
        train = split_of(_images()[1])
        return np.flatnonzero(train if split == "train" else ~train).tolist()

    @classmethod
    def load(cls, source: int) -> list[Sample]:
        images, labels = _images()
        image = _upscale(images[source])
        events = saccade_events(image, SENSOR_SIZE, CAMERA, step_us=STEP_US, seed=source)
        return [(f"{source:04d}", int(labels[source]), events)]


def statistics(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Per split `PackedStore.summary`, generating the dataset on first use (what the demo
    prints); an empty sample means a damaged dataset."""
    start = time.perf_counter()
    packed = NDigits.prepare(root)
    out: dict[str, Any] = {"name": "ndigits", "sensor_size": SENSOR_SIZE, "classes": len(CLASSES)}
    for split in NDigits.splits:
        out[split] = PackedStore(packed / split).summary()
        if out[split]["empty_samples"] or not out[split]["samples"]:
            raise DatasetError(f"{packed / split}: an empty NDigits sample; delete it to rebuild")
    out["load_seconds"] = time.perf_counter() - start
    return out
