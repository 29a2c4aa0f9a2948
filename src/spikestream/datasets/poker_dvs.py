"""POKER-DVS (Serrano-Gotarredona & Linares-Barranco 2015): card symbols (clubs, hearts,
diamonds, spades) flicked past a DVS, 35x35 crops, as Tonic distributes them (one ``.npy`` of
``t, x, y, p`` rows per sample, in a folder per symbol)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..events import make_events
from .base import EventDataset, Resource, labelled_by_folder
from .store import Sample

BASE = "https://www.neuromorphic-vision.com/public/downloads/"


class POKERDVS(EventDataset):
    name = "POKERDVS"
    sensor_size = (35, 35)
    classes = ("cl", "he", "di", "sp")
    resources = (
        Resource(
            "pips_train.tar.gz", BASE + "pips_train.tar.gz", "412bcfb96826e4fcb290558e8c150aae"
        ),
        Resource("pips_test.tar.gz", BASE + "pips_test.tar.gz", "eef2bf7d0d3defae89a6fa98b07c17af"),
    )
    homepage = "http://www2.imse-cnm.csic.es/caviar/POKERDVS.html"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, int]]:
        files = (extracted / f"pips_{split}").rglob("*.npy")
        return labelled_by_folder(files, cls.classes, lambda folder: folder[-2:])

    @classmethod
    def load(cls, source: tuple[Path, int]) -> list[Sample]:
        path, label = source
        try:
            rows = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable .npy array ({exc})") from exc
        if rows.ndim != 2 or rows.shape[1] != 4:
            raise DatasetError(f"{path}: expected rows of (t, x, y, p), got shape {rows.shape}")
        events = make_events(t=rows[:, 0], x=rows[:, 1], y=rows[:, 2], p=rows[:, 3])
        return [(f"{path.parent.name}_{path.stem}", label, events)]
