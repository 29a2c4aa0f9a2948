"""SpikingJelly 2.0's ``spikingjelly.datasets``: the dataset classes with SpikingJelly's
constructors, labels and sample types, ``split_to_train_test_set``, and (from `.utils`) the
event-to-frame and collate functions and ``play_frame``::

    # from spikingjelly.datasets import DVS128Gesture, split_to_train_test_set
    from spikestream.compat.spikingjelly.datasets import DVS128Gesture, split_to_train_test_set

A root that holds SpikingJelly's own ``events_np/`` tree (``<split>/<class folder>/*.npz``) is
read as it is: no archive is needed, as in SpikingJelly. It is packed once into
``<root>/packed/`` (memory-mapped after that); otherwise the archives in ``<root>/download/``
are converted, as `spikestream.datasets` does. What differs on purpose: frames are computed on
the fly (SpikingJelly writes every sample's frames to ``<root>/frames_number_*`` first; a
custom integration function's frames are kept in ``<root>/<its name>/``); samples are ordered by
the dataset's own class order (SpikingJelly's order follows its folder names sorted as
strings; the labels are SpikingJelly's either way).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data

from .... import datasets as _datasets
from ....errors import ConfigError
from ....events import to_dict
from ....files import build_lock
from ... import _unsupported
from . import utils
from .utils import (
    cal_fixed_frames_number_segment_index,
    integrate_events_by_fixed_duration,
    integrate_events_by_fixed_frames_number,
    integrate_events_segment_to_frame,
    load_npz_frames,
    pad_sequence_collate,
    padded_sequence_mask,
    play_frame,
)

# SpikingJelly's own answers to downloadable() (its classes, not spikestream's: spikestream
# fetches N-MNIST itself, SpikingJelly does not)
_DOWNLOADABLE = {
    "DVS128Gesture": False,
    "NMNIST": False,
    "CIFAR10DVS": True,
    "NCaltech101": False,
    "ASLDVS": False,
}
_GESTURE_URL = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"
# SpikingJelly lists the four files of IBM's folder, not only the archive spikestream reads
_RESOURCES = {
    "DVS128Gesture": [
        ("DvsGesture.tar.gz", _GESTURE_URL, "8a5c71fb11e24e5ca5b11866ca6c00a1"),
        ("gesture_mapping.csv", _GESTURE_URL, "109b2ae64a0e1f3ef535b18ad7367fd1"),
        ("LICENSE.txt", _GESTURE_URL, "065e10099753156f18f51941e6e44b66"),
        ("README.txt", _GESTURE_URL, "a0663d3b1d8307c329a43d949ee32d19"),
    ],
}


def _sj_dataset(base: type[_datasets.EventDataset]) -> type[_datasets.EventDataset]:
    """``base`` with SpikingJelly 2.0's constructor (``root, train, data_type, frames_number,
    split_by, duration, custom_integrate_function, custom_integrated_frames_dir_name,
    transform, target_transform``), its label order, float32 frames and events as a dict of
    arrays."""

    class Dataset(base):  # type: ignore[valid-type,misc]
        def __init__(self, root, train=None, data_type="event", frames_number=None,
                     split_by=None, duration=None, custom_integrate_function=None,
                     custom_integrated_frames_dir_name=None, transform=None,
                     target_transform=None):  # fmt: skip
            cache = integrate = None
            if custom_integrate_function is not None:
                name = custom_integrated_frames_dir_name or custom_integrate_function.__name__
                cache = os.path.join(root, name)
                integrate = _dict_events(custom_integrate_function)
            events_np = Path(root) / "events_np"
            if events_np.is_dir() and not base.is_converted(root):
                with build_lock(Path(root) / "packed"):  # every rank of a job packs it once
                    if not base.is_converted(root):
                        base.import_events_np(events_np, root)  # SpikingJelly's tree, as it is
            super().__init__(root, train=train, data_type=data_type,
                             frames_number=frames_number, split_by=split_by, duration=duration,
                             custom_integrate_function=integrate,
                             frame_cache=cache, label_order="spikingjelly")  # fmt: skip
            # applied here, after the conversion to SpikingJelly's sample types (the base
            # class would hand the transform a structured array); the base's stay None
            self.sj_transform, self.sj_target_transform = transform, target_transform

        def __getitem__(self, i):
            sample, label = super().__getitem__(i)
            if self.data_type == "event":
                sample = to_dict(sample)
            else:  # SpikingJelly loads its saved frames as float32
                sample = np.asarray(sample, dtype=np.float32)
            if self.sj_transform is not None:
                sample = self.sj_transform(sample)
            if self.sj_target_transform is not None:
                label = self.sj_target_transform(label)
            return sample, label

        @classmethod
        def downloadable(cls) -> bool:
            return _DOWNLOADABLE.get(base.name, all(r.url for r in base.resources))

        @classmethod
        def resource_url_md5(cls) -> list[tuple[str, str, str | None]]:
            if base.name in _RESOURCES:
                return list(_RESOURCES[base.name])
            return [(r.filename, r.url or base.homepage, r.md5) for r in base.resources]

        @staticmethod
        def get_H_W() -> tuple[int, int]:
            w, h = base.sensor_size
            return h, w

    Dataset.__name__ = Dataset.__qualname__ = base.__name__
    Dataset.__module__ = __name__
    Dataset.__doc__ = f"SpikingJelly-compatible {base.__name__}.\n\n{base.__doc__ or ''}"
    return Dataset


def _dict_events(fn: Callable[..., Any]) -> Callable[..., Any]:
    """SpikingJelly hands a custom integration function the events as a dict of arrays."""

    def integrate(events: np.ndarray, H: int, W: int) -> Any:
        return fn(to_dict(events), H, W)

    integrate.__name__ = fn.__name__
    return integrate


DVS128Gesture = _sj_dataset(_datasets.DVS128Gesture)
NMNIST = _sj_dataset(_datasets.NMNIST)
CIFAR10DVS = _sj_dataset(_datasets.CIFAR10DVS)
NCaltech101 = _sj_dataset(_datasets.NCaltech101)
ASLDVS = _sj_dataset(_datasets.ASLDVS)


def split_to_train_test_set(
    train_ratio: float, origin_dataset: Any, num_classes: int, random_split: bool = False
) -> tuple[torch.utils.data.Subset, torch.utils.data.Subset]:
    """SpikingJelly's rule: per class, the first ``ceil(n_c * train_ratio)`` samples (in index
    order, or shuffled by numpy's global generator with ``random_split``) go to the train set,
    the rest to the test set; indices are listed class by class. Labels come from the
    dataset's ``targets`` when it has them (no sample is loaded), else from every sample."""
    if not 0 < train_ratio < 1:
        raise ConfigError(f"train_ratio must lie in (0, 1), got {train_ratio}")
    targets = getattr(origin_dataset, "targets", None)
    if targets is None:
        targets = [origin_dataset[i][1] for i in range(len(origin_dataset))]
    labels = np.array([int(np.asarray(y).item()) for y in targets], dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ConfigError(
            f"labels run from {labels.min()} to {labels.max()}, outside num_classes="
            f"{num_classes}; pass the dataset's class count"
        )
    per_class: list[np.ndarray] = [np.flatnonzero(labels == c) for c in range(num_classes)]
    if random_split:
        # SpikingJelly shuffles with numpy's global generator (np.random.seed reproduces it)
        per_class = [np.random.permutation(idx) for idx in per_class]  # noqa: NPY002
    train_idx: list[int] = []
    test_idx: list[int] = []
    for idx in per_class:
        k = math.ceil(len(idx) * train_ratio)
        train_idx.extend(int(i) for i in idx[:k])
        test_idx.extend(int(i) for i in idx[k:])
    return (
        torch.utils.data.Subset(origin_dataset, train_idx),
        torch.utils.data.Subset(origin_dataset, test_idx),
    )


__all__ = [
    "ASLDVS",
    "CIFAR10DVS",
    "NMNIST",
    "DVS128Gesture",
    "NCaltech101",
    "cal_fixed_frames_number_segment_index",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "load_npz_frames",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "play_frame",
    "split_to_train_test_set",
    "utils",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "NAVGestureWalk": "no spikestream dataset yet; read the files with spikestream.io",
        "NAVGestureSit": "no spikestream dataset yet; read the files with spikestream.io",
        "ESImageNet": "no spikestream dataset yet",
        "SpikingHeidelbergDigits": "no spikestream dataset yet (audio spikes, not a camera)",
        "SpikingSpeechCommands": "no spikestream dataset yet (audio spikes, not a camera)",
        "HARDVS": "no spikestream dataset yet",
        "DVSLip": "no spikestream dataset yet",
        "Bullying10kClassification": "no spikestream dataset yet",
        "CIFAR10DVSTEBNSplit": "CIFAR10DVS(root) and split_to_train_test_set (or "
        "spikestream.datasets.split_per_class)",
        "fast_split_to_train_test_set": "split_to_train_test_set (it reads the labels without "
        "loading samples)",
        "RandomTemporalDelete": "not provided; index the frames yourself",
    },
)
