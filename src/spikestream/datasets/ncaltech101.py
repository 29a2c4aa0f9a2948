"""N-Caltech101 (Orchard et al. 2015): Caltech101 images shown to an ATIS sensor, 40-bit
``.bin`` files in one folder per category; no official split."""

from __future__ import annotations

from pathlib import Path

from ..io import read
from .base import EventDataset, Resource
from .store import Sample


def _category_root(extracted: Path) -> Path:
    # the archive's own Caltech101/ folder lies inside the one it is extracted into
    hits = [h for h in extracted.rglob("Caltech101") if h.is_dir()]
    return max(hits, key=lambda h: len(h.parts)) if hits else extracted / "Caltech101"


class NCaltech101(EventDataset):
    """Classes are the category folders sorted as strings (SpikingJelly's order, so both label
    orders agree); ``train=None``, then `split_per_class`. Sensor 240x180 (the ATIS's area)."""

    name = "NCaltech101"
    sensor_size = (240, 180)
    classes = ()
    splits = ("all",)
    resources = (Resource("Caltech101.zip", None, "66201824eabb0239c7ab992480b50ba3"),)
    homepage = "https://www.garrickorchard.com/datasets/n-caltech101"

    @classmethod
    def discover_classes(cls, extracted: Path) -> list[str]:
        root = _category_root(extracted)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        root = _category_root(extracted)
        out = []
        for label, name in enumerate(cls.discover_classes(extracted)):
            out += [(p, label) for p in sorted((root / name).glob("*.bin"))]
        return out

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        name = f"{path.parent.name}_{path.stem}"
        return [(name, label, read(path, format="nmnist", sensor_size=cls.sensor_size).events)]
