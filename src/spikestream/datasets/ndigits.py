"""``NDigits``: the 1,797 handwritten digits shipped inside scikit-learn, turned into 34x34 event
recordings by N-MNIST-style saccades (`spikestream.sim.digits`). Nothing is downloaded;
generation is deterministic (sample i is simulated with seed i), takes seconds, and is kept as
packed stores like every dataset's (``<root>/packed/train`` and ``test``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..sim.digits import SENSOR_SIZE, digit_events, digit_images
from .base import EventDataset, default_root
from .store import PackedStore, Sample

CLASSES = tuple(str(d) for d in range(10))
VERSION = 1
TRAIN_FRACTION = 0.8


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
        train = split_of(digit_images()[1])
        return np.flatnonzero(train if split == "train" else ~train).tolist()

    @classmethod
    def load(cls, source: int) -> list[Sample]:
        labels = digit_images()[1]
        return [(f"{source:04d}", int(labels[source]), digit_events(source))]


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
