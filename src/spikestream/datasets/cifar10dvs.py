"""CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images (1,000 per class) moved on a monitor
in front of a DVS128, as AEDAT 2.0 files; no official split."""

from __future__ import annotations

from pathlib import Path

from ..io import read
from .base import EventDataset, Resource
from .store import Sample

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FILES = (
    "7712788",
    "7712791",
    "7712794",
    "7712812",
    "7712815",
    "7712818",
    "7712842",
    "7712851",
    "7712836",
    "7712839",
)
_MD5 = (
    "0afd5c4bf9ae06af762a77b180354fdd",
    "8438dfeba3bc970c94962d995b1b9bdd",
    "a9c207c91c55b9dc2002dc21c684d785",
    "52c63c677c2b15fa5146a8daf4d56687",
    "b6bf21f6c04d21ba4e23fc3e36c8a4a3",
    "f379ebdf6703d16e0a690782e62639c3",
    "cad6ed91214b1c7388a5f6ee56d08803",
    "e7cbbf77bec584ffbf913f00e682782a",
    "41c7bd7d6b251be82557c6cce9a7d5c9",
    "89f3922fd147d9aeff89e76a2b0b70a7",
)


class CIFAR10DVS(EventDataset):
    """Decoded exactly as SpikingJelly does (``layout='cifar10dvs'``: big-endian records,
    ``x = 127 - y_raw``, ``y = 127 - x_raw``, ``p = 1 - p_raw``). No split: ``train=None``,
    then `split_per_class` (SpikingJelly's rule) for train/test indices."""

    name = "CIFAR10DVS"
    sensor_size = (128, 128)
    classes = CLASSES
    splits = ("all",)
    resources = tuple(
        Resource(f"{c}.zip", f"https://ndownloader.figshare.com/files/{f}", m)
        for c, f, m in zip(CLASSES, _FILES, _MD5, strict=True)
    )
    homepage = "https://figshare.com/s/d03a91081824536f12a8"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        out = []
        for label, name in enumerate(cls.classes):
            out += [(p, label) for p in sorted((extracted / name).rglob("*.aedat"))]
        return out

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        return [(path.stem, label, read(path, format="aedat2", layout="cifar10dvs").events)]
