"""DVS128 Gesture (IBM, Amir et al. CVPR 2017): 11 gestures by 29 people under 3 lightings,
recorded as AEDAT 3.1 trials and cut into gestures by each trial's labels CSV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..io import read
from .base import EventDataset, Resource
from .store import Sample

URL = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"


class DVS128Gesture(EventDataset):
    """Samples are cut as SpikingJelly does: for each row of ``<trial>_labels.csv``
    (``class, startTime_usec, endTime_usec``), the events with ``start <= t < end``, label
    ``class - 1``, named ``<trial>_<k>`` (k counts repeats of that label in the trial). Trials
    come from ``trials_to_train.txt`` (users 01-23, 1176 samples) and ``trials_to_test.txt``
    (users 24-29, 288 samples). SpikingJelly's labels (``label_order='spikingjelly'``) follow
    its folder names '0'..'10' sorted as strings, so 'other gestures' is 2 there."""

    name = "DVS128Gesture"
    sensor_size = (128, 128)
    classes = (
        "hand_clapping",
        "right_hand_wave",
        "left_hand_wave",
        "right_arm_clockwise",
        "right_arm_counter_clockwise",
        "left_arm_clockwise",
        "left_arm_counter_clockwise",
        "arm_roll",
        "air_drums",
        "air_guitar",
        "other_gestures",
    )
    sj_folders = tuple(str(i) for i in range(11))
    resources = (Resource("DvsGesture.tar.gz", None, "8a5c71fb11e24e5ca5b11866ca6c00a1"),)
    homepage = URL
    manual = f"from IBM's Box folder {URL} (a login is needed)"

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[tuple[Path, Path]]:
        lists = sorted(extracted.rglob(f"trials_to_{split}.txt"))
        if not lists:
            raise DatasetError(f"trials_to_{split}.txt not found under {extracted}")
        folder = lists[0].parent
        trials = [line.strip() for line in lists[0].read_text().splitlines() if line.strip()]
        out = []
        for trial in trials:
            aedat = folder / trial
            labels = folder / (Path(trial).stem + "_labels.csv")
            if not aedat.is_file() or not labels.is_file():
                raise DatasetError(f"{split} trial {trial}: {aedat.name} or {labels.name} missing")
            out.append((aedat, labels))
        return out

    @classmethod
    def load(cls, source: tuple[Path, Path]) -> Iterator[Sample]:
        aedat, labels_csv = source
        events = read(aedat, format="aedat3").events
        try:
            rows = np.loadtxt(labels_csv, dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as exc:
            raise DatasetError(f"{labels_csv}: not a 'class,start,end' table ({exc})") from exc
        t = events["t"]
        ordered = bool(np.all(t[1:] >= t[:-1]))
        repeats: dict[int, int] = {}
        for cls_id, start, end in rows:
            label = int(cls_id) - 1
            if not 0 <= label < len(cls.classes):
                raise DatasetError(f"{labels_csv}: class {cls_id} outside 1..{len(cls.classes)}")
            if ordered:
                lo, hi = np.searchsorted(t, [start, end], side="left")
                cut = events[lo:hi]
            else:  # keep every event in the window, in time order
                cut = events[(t >= start) & (t < end)]
                cut = cut[np.argsort(cut["t"], kind="stable")]
            k = repeats.get(label, 0)
            repeats[label] = k + 1
            yield f"{aedat.stem}_{k}", label, cut
