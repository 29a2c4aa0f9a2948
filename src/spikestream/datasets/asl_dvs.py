"""ASL-DVS (Bi et al. ICCV 2019): 24 American Sign Language letters (no j, z) from a DAVIS240,
100,800 ``.mat`` recordings; no official split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..events import make_events
from ..io import read
from . import archive
from .base import EventDataset, Resource, labelled_by_folder
from .store import Sample

LETTERS = tuple("abcdefghiklmnopqrstuvwxy")


class ASLDVS(EventDataset):
    """Coordinates rotated by 180 degrees as SpikingJelly stores them (``x = 239 - x``,
    ``y = 179 - y``). The publisher's zip changes, so it has no checksum; the archive holds one
    zip per letter, each extracted safely in turn."""

    name = "ASLDVS"
    sensor_size = (240, 180)
    classes = LETTERS
    splits = ("all",)
    resources = (Resource("ICCV2019_DVS_dataset.zip", None, None),)
    homepage = "https://github.com/PIX2NVS/NVS2Graph"
    manual = (
        "from the OpenI mirror (`pip install openi; openi dataset download OpenI/ASLDVS "
        "--local_dir ./ASLDVS`, then unzip ASLDVS.zip); the original Dropbox link is dead"
    )

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        for inner in sorted(extracted.rglob("*.zip")):  # one zip per letter inside the zip
            archive.extract(inner, inner.with_suffix(""))
        return labelled_by_folder(extracted.rglob("*.mat"), cls.classes, str.lower)

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        ev = read(path, format="mat").events
        w, h = cls.sensor_size
        events = make_events(
            t=ev["t"],
            x=(w - 1) - ev["x"].astype(np.int64),
            y=(h - 1) - ev["y"].astype(np.int64),
            p=ev["p"],
        )
        return [(path.stem, label, events)]
