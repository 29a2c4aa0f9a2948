"""SpikingJelly's ``events_np`` folders (``<split>/<class folder>/<sample>.npz`` with keys
``t, x, y, p``) to and from packed stores, so a dataset converted by either tool serves both."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..events import make_events
from . import store
from .store import PackedStore, Sample


def export_events_np(
    packed: PackedStore, folder: str | os.PathLike, class_folders: Sequence[str] | None = None
) -> int:
    """Write every sample of ``packed`` as ``folder/<class folder>/<name>.npz`` (uncompressed,
    as SpikingJelly reads them; class folders default to the class names). Returns the count."""
    folder = Path(folder)
    names = list(class_folders) if class_folders is not None else packed.meta["classes"]
    for name in names:  # every class has its folder, empty or not, as SpikingJelly's tree
        (folder / name).mkdir(parents=True, exist_ok=True)
    for i in range(len(packed)):
        events, label = packed[i]
        target = folder / names[label] / f"{packed.names[i]}.npz"
        np.savez(target, t=events["t"], x=events["x"], y=events["y"], p=events["p"])
    return len(packed)


def _load_npz(source: tuple[Path, int]) -> list[Sample]:
    path, label = source
    try:
        with np.load(path) as z:
            events = make_events(t=z["t"], x=z["x"], y=z["y"], p=z["p"])
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: not an events_np sample ({exc})") from exc
    return [(path.stem, label, events)]


def import_events_np(
    folder: str | os.PathLike,
    dest: str | os.PathLike,
    sensor_size: tuple[int, int],
    dataset: str = "",
    workers: int | None = None,
    class_folders: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> PackedStore:
    """Pack one split of a SpikingJelly ``events_np`` folder. By default the labels follow
    SpikingJelly: the class folders sorted as strings, numbered from 0. With ``class_folders``
    (the folder of each label, in label order) the labels are a dataset's own, and
    ``class_names`` names them in the store."""
    folder = Path(folder)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not found:
        raise DatasetError(f"{folder}: no class folders (expected <class>/<sample>.npz)")
    order = list(class_folders) if class_folders is not None else found
    unknown = sorted(set(found) - set(order))
    if unknown:
        raise DatasetError(f"{folder}: class folders {unknown} are not among {order}")
    sources = [
        (p, label) for label, c in enumerate(order) for p in sorted((folder / c).glob("*.npz"))
    ]
    meta = {
        "dataset": dataset,
        "split": folder.name,
        "sensor_size": list(sensor_size),
        "classes": list(class_names) if class_names is not None else order,
        "source": "spikingjelly events_np",
    }
    return PackedStore(store.build(Path(dest), sources, _load_npz, meta, workers))
