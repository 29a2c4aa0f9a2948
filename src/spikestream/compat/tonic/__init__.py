"""Tonic 1.7 compatible API: ``transforms`` (``Compose``, ``ToFrame`` and the transforms users
reach for first), ``datasets`` (``POKERDVS``, ``NMNIST``, ``DVSGesture`` with ``save_to=``),
``collation.PadTensors``, ``slicers``, ``DiskCachedDataset`` / ``MemoryCachedDataset`` /
``SlicedDataset`` and ``utils.plot_event_grid`` (imported when first used: it needs
matplotlib)::

    # import tonic
    from spikestream.compat import tonic
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .. import _unsupported
from . import collation, datasets, slicers, transforms
from .cached_dataset import DiskCachedDataset, MemoryCachedDataset
from .sliced_dataset import SlicedDataset

__all__ = [
    "DiskCachedDataset",
    "MemoryCachedDataset",
    "SlicedDataset",
    "collation",
    "datasets",
    "slicers",
    "transforms",
    "utils",
]

_missing = _unsupported.module_getattr(
    __name__,
    {
        "CachedDataset": "DiskCachedDataset",
        "Dataset": "spikestream.datasets.EventDataset (or any torch Dataset)",
        "io": "spikestream.io.read(path).events (then spikestream.events.to_tonic for Tonic's "
        "dtype)",
        "audio_transforms": "not provided (spikestream covers event cameras)",
        "audio_augmentations": "not provided (spikestream covers event cameras)",
        "functional": "spikestream.transforms.functional",
        "prototype": "not provided",
    },
)


def __getattr__(name: str) -> ModuleType | Any:
    if name == "utils":  # matplotlib only when plotting
        return importlib.import_module(f"{__name__}.utils")
    return _missing(name)
