"""N-MNIST (Orchard et al. 2015): MNIST digits shown to an ATIS sensor on a moving platform,
34x34, 60,000 training and 10,000 test recordings in the 40-bit ATIS ``.bin`` format."""

from __future__ import annotations

from pathlib import Path

from ..io import read
from .base import EventDataset, Resource, labelled_by_folder
from .store import Sample

BASE = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"


class NMNIST(EventDataset):
    name = "NMNIST"
    sensor_size = (34, 34)
    classes = tuple(str(d) for d in range(10))
    resources = (
        Resource(
            "Train.zip",
            BASE + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
            "20959b8e626244a1b502305a9e6e2031",
        ),
        Resource(
            "Test.zip",
            BASE + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
            "69ca8762b2fe404d9b9bad1103e97832",
        ),
    )
    homepage = "https://www.garrickorchard.com/datasets/n-mnist"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        return labelled_by_folder((extracted / split.capitalize()).rglob("*.bin"), cls.classes)

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        return [(path.stem, label, read(path, format="nmnist", sensor_size=cls.sensor_size).events)]
