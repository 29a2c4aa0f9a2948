"""N-CARS (Sironi et al. CVPR 2018): 100 ms ATIS clips of cars and background, Prophesee DAT
files in ``n-cars_train`` / ``n-cars_test``, each with ``cars`` and ``background`` folders."""

from __future__ import annotations

from pathlib import Path

from ..io import read
from . import archive
from .base import EventDataset, Resource
from .store import Sample


class NCARS(EventDataset):
    """Labels as Tonic's: background 0, cars 1. The archive (from Prophesee's site, behind a
    form) may hold the two splits as zips of their own; they are extracted safely in turn. The
    clips are crops of at most 120x100 pixels."""

    name = "NCARS"
    sensor_size = (120, 100)
    classes = ("background", "cars")
    resources = (Resource("Prophesee_Dataset_n_cars.zip", None, None),)
    homepage = "https://www.prophesee.ai/2018/03/13/dataset-n-cars/"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        for inner in sorted(extracted.rglob(f"*{split}*.zip")):
            archive.extract(inner, inner.with_suffix(""))
        out = []
        for folder in sorted(p for p in extracted.rglob(f"n-cars_{split}") if p.is_dir()):
            for label, name in enumerate(cls.classes):
                out += [(p, label) for p in sorted((folder / name).glob("*.dat"))]
        return out

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        events = read(path, format="dat", sensor_size=cls.sensor_size).events
        return [(f"{path.parent.name}_{path.stem}", label, events)]
