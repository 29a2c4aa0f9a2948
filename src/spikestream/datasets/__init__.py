"""Neuromorphic datasets: registry, download + checksums, safe extraction, conversion to packed
memory-mapped stores, and torch Datasets with SpikingJelly-compatible arguments.

    >>> from spikestream.datasets import DVS128Gesture
    >>> train = DVS128Gesture("data/DVS128Gesture", train=True, data_type="frame",
    ...                       frames_number=16, split_by="number")
"""

from .archive import check_md5, extract, fetch, md5sum
from .asl_dvs import ASLDVS
from .base import EventDataset, Resource, default_root, split_per_class
from .cifar10dvs import CIFAR10DVS
from .dvs128_gesture import DVS128Gesture
from .events_np import export_events_np, import_events_np
from .ncaltech101 import NCaltech101
from .ncars import NCARS
from .ndigits import NDigits
from .nmnist import NMNIST
from .poker_dvs import POKERDVS
from .registry import DATASETS, get
from .store import PackedStore

__all__ = [
    "ASLDVS",
    "CIFAR10DVS",
    "DATASETS",
    "NCARS",
    "NMNIST",
    "POKERDVS",
    "DVS128Gesture",
    "EventDataset",
    "NCaltech101",
    "NDigits",
    "PackedStore",
    "Resource",
    "check_md5",
    "default_root",
    "export_events_np",
    "extract",
    "fetch",
    "get",
    "import_events_np",
    "md5sum",
    "split_per_class",
]
