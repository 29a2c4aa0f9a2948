"""``NDigits``: the 1,797 handwritten digits shipped inside scikit-learn, turned into 34x34 event
recordings by N-MNIST-style saccades. Nothing is downloaded; generation is deterministic for a
seed, takes seconds, and is cached (one packed file: all events, per-sample offsets, labels)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..events import EVENT_DTYPE
from .camera import CameraConfig
from .saccades import saccade_events

SENSOR_SIZE = (34, 34)
CLASSES = tuple(str(d) for d in range(10))
VERSION = 1
#: The sensor of the generated recordings: thresholds and noise chosen so a sample has a few
#: thousand events over 300 ms, like N-MNIST.
CAMERA = CameraConfig(
    threshold_on=0.25,
    threshold_off=0.25,
    mismatch=0.05,
    refractory_us=1_000,
    shot_noise_hz=0.5,
    log_eps=0.1,
)
TRAIN_FRACTION = 0.8
STEP_US = 2_000  # frame spacing of the rendered saccades; events are interpolated in between


def default_root() -> Path:
    return Path(os.environ.get("SPIKESTREAM_DATA", Path.home() / ".cache" / "spikestream"))


def _images() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DatasetError("NDigits needs scikit-learn (pip install scikit-learn)") from exc
    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def _upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """8x8 -> 24x24 by bilinear interpolation on pixel centres."""
    from scipy import ndimage

    return np.clip(ndimage.zoom(image, factor, order=1), 0.0, 1.0)


def generate(seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """All samples: ``events`` (concatenated), ``offsets`` [N+1], ``labels`` [N], ``train`` [N]
    (a fixed split: the first 80 % of each class, in the scikit-learn order, train)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    images, labels = _images()

    def one(i: int) -> np.ndarray:
        image = _upscale(images[i])
        return saccade_events(image, SENSOR_SIZE, CAMERA, step_us=STEP_US, seed=seed * 100_003 + i)

    # the compiled kernels release the GIL, so threads use every core
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        parts = list(
            tqdm(
                pool.map(one, range(len(images))),
                total=len(images),
                disable=not progress,
                desc="ndigits",
                unit="sample",
            )
        )
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    rank = np.zeros(len(labels), dtype=np.int64)
    train = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        rank[idx] = np.arange(len(idx))
        train[idx] = rank[idx] < round(TRAIN_FRACTION * len(idx))
    return {"events": np.concatenate(parts), "offsets": offsets, "labels": labels, "train": train}


def load(root: str | os.PathLike[str] | None = None, seed: int = 0, progress: bool = False):
    """The cached packed arrays, generating (atomically) on first use."""
    root = Path(root) if root is not None else default_root()
    path = root / f"ndigits-v{VERSION}-seed{seed}.npz"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        data = generate(seed, progress)
        tmp = path.with_name(path.name + f".partial-{os.getpid()}")
        with open(tmp, "wb") as f:
            np.savez(f, **data)
        os.replace(tmp, path)
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in ("events", "offsets", "labels", "train")}
    except Exception as exc:
        raise DatasetError(
            f"{path}: unreadable NDigits cache ({exc}); delete it to rebuild"
        ) from exc
    if data["events"].dtype != EVENT_DTYPE:
        raise DatasetError(f"{path}: unexpected event dtype; delete it to rebuild")
    return data


class NDigits:
    """Torch-style dataset: ``(events, label)`` per sample, or ``transform(events)``.

    Example:
        >>> ds = NDigits(train=True, transform=ToFrames((34, 34), n_frames=10))
        >>> frames, label = ds[0]
    """

    sensor_size = SENSOR_SIZE
    classes = CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[np.ndarray], Any] | None = None,
        seed: int = 0,
    ):
        data = load(root, seed)
        self._events = data["events"]
        keep = np.flatnonzero(data["train"] == train)
        self._starts = data["offsets"][keep]
        self._stops = data["offsets"][keep + 1]
        self.targets = data["labels"][keep]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        events = self._events[self._starts[index] : self._stops[index]]
        if self.transform is not None:
            events = self.transform(events)
        return events, int(self.targets[index])


def statistics(root=None, seed: int = 0) -> dict[str, Any]:
    """Samples, events per sample and duration, per split (what ``dataset info`` prints)."""
    start = time.perf_counter()
    data = load(root, seed)
    seconds = time.perf_counter() - start
    counts = np.diff(data["offsets"])
    ev = data["events"]
    first = ev["t"][data["offsets"][:-1]]
    last = ev["t"][data["offsets"][1:] - 1]
    out: dict[str, Any] = {
        "name": "ndigits",
        "sensor_size": SENSOR_SIZE,
        "classes": len(CLASSES),
        "load_seconds": seconds,
    }
    for split, mask in (("train", data["train"]), ("test", ~data["train"])):
        out[split] = {
            "samples": int(mask.sum()),
            "events_mean": float(counts[mask].mean()),
            "events_min": int(counts[mask].min()),
            "events_max": int(counts[mask].max()),
            "duration_us_mean": float((last - first)[mask].mean()),
        }
    return out
