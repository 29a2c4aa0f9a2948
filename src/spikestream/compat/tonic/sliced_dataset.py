"""Tonic 1.7's ``tonic.SlicedDataset``: every recording cut into slices by a slicer, each slice
one sample. The slices' event indices are computed once (loading every recording once) and,
with ``metadata_path``, kept in ``<metadata_path>/slice_metadata.npz`` for the next run (Tonic
keeps an HDF5 file there; spikestream a numpy one, so h5py is not needed)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DatasetError
from ...files import atomic_file
from ._apply import apply_transforms


class SlicedDataset:
    def __init__(self, dataset: Any, slicer: Any, metadata_path: str | os.PathLike | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:  # fmt: skip
        self.dataset, self.slicer = dataset, slicer
        self.metadata_path = metadata_path
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms
        self.metadata = self._metadata()
        self.slice_dataset_map = [
            (sample, k) for sample, slices in enumerate(self.metadata) for k in range(len(slices))
        ]

    def _metadata(self) -> list[np.ndarray]:
        file = Path(self.metadata_path) / "slice_metadata.npz" if self.metadata_path else None
        if file is not None and file.is_file():
            with np.load(file, allow_pickle=False) as z:
                edges, counts = z["edges"], z["counts"]
            if counts.sum() != len(edges) or len(counts) != len(self.dataset):
                raise DatasetError(f"{file}: made for another dataset; delete it to rebuild")
            return np.split(edges, np.cumsum(counts)[:-1])
        metadata = []
        for i in range(len(self.dataset)):
            data, targets = self.dataset[i]
            edges = self.slicer.get_slice_metadata(data, targets)
            metadata.append(np.asarray(edges, dtype=np.int64).reshape(-1, 2))
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(file) as out:
                np.savez(out, edges=np.concatenate(metadata) if metadata else
                         np.zeros((0, 2), np.int64),
                         counts=np.array([len(m) for m in metadata], np.int64))  # fmt: skip
        return metadata

    def __len__(self) -> int:
        return len(self.slice_dataset_map)

    def __getitem__(self, item: int) -> tuple[Any, Any]:
        sample, k = self.slice_dataset_map[item]
        data, targets = self.dataset[sample]
        start, stop = (int(v) for v in self.metadata[sample][k])
        slices, targets = self.slicer.slice_with_metadata(data, targets, [(start, stop)])
        return apply_transforms(self, slices[0], targets)


__all__ = ["SlicedDataset"]
