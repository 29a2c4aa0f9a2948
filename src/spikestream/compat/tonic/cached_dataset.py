"""Tonic 1.7's ``tonic.DiskCachedDataset`` and ``tonic.MemoryCachedDataset``: each sample of a
dataset computed once (its deterministic transforms included), then read back; the cache's own
``transform`` / ``target_transform`` / ``transforms`` (augmentations) run after every read.

``DiskCachedDataset`` writes ``<cache_path>/<index>_<copy>.npz`` (Tonic writes HDF5; numpy's
format needs no h5py), each file whole under a temporary name then renamed, so an interrupted
run leaves no half file. ``num_copies`` keeps that many differently-augmented versions of each
sample and picks one at random per read. Samples are arrays (or torch tensors) with scalar or
array targets."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, DatasetError
from ...files import atomic_file
from ._apply import apply_transforms


def _array(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise ConfigError(
            f"DiskCachedDataset stores arrays; the {what} is a {type(value).__name__} "
            "(convert it to an array in the dataset's transform)"
        )
    return array


class DiskCachedDataset:
    def __init__(self, dataset: Any, cache_path: str | os.PathLike, reset_cache: bool = False,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 transforms: Callable | None = None, num_copies: int = 1,
                 compress: bool = True) -> None:  # fmt: skip
        if int(num_copies) < 1:
            raise ConfigError(f"num_copies must be >= 1, got {num_copies}")
        self.dataset, self.cache_path = dataset, Path(cache_path)
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms
        self.num_copies, self.compress = int(num_copies), compress
        if reset_cache and self.cache_path.is_dir():
            shutil.rmtree(self.cache_path)
        self.cache_path.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int) -> tuple[Any, Any]:
        if not -len(self) <= item < len(self):
            raise IndexError(f"index {item} out of range for {len(self)} samples")
        item %= len(self)
        copy = random.randint(0, self.num_copies - 1)
        file = self.cache_path / f"{item}_{copy}.npz"
        if file.is_file():
            try:
                with np.load(file, allow_pickle=False) as z:
                    data, target = z["data"], z["target"]
            except (OSError, ValueError, KeyError) as exc:
                raise DatasetError(f"{file}: damaged cache file ({exc}); delete it") from exc
        else:  # what is written is what a later read gives back (Tonic writes, then reads)
            sample, label = self.dataset[item]
            data, target = _array(sample, "sample"), _array(label, "target")
            save = np.savez_compressed if self.compress else np.savez
            with atomic_file(file) as out:
                save(out, data=data, target=target)
        target = target.item() if target.ndim == 0 else target
        return apply_transforms(self, data, target)


class MemoryCachedDataset:
    """Each sample kept in memory after its first load."""

    def __init__(self, dataset: Any, device: Any = None, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:  # fmt: skip
        self.dataset, self.device = dataset, device
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms
        self.samples_dict: dict[int, tuple[Any, Any]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int) -> tuple[Any, Any]:
        if item not in self.samples_dict:
            data, target = self.dataset[item]
            if self.device is not None and hasattr(data, "to"):
                data = data.to(self.device)
            self.samples_dict[item] = (data, target)
        data, target = self.samples_dict[item]
        return apply_transforms(self, data, target)


__all__ = ["DiskCachedDataset", "MemoryCachedDataset"]
