"""The dataset base class: what a dataset declares, and the download -> check -> extract ->
convert -> load pipeline every dataset shares.

Layout under ``root`` (one folder per dataset, e.g. ``root/DVS128Gesture``):
``download/`` (the files as published), ``extract/<archive stem>/`` (safely extracted),
``packed/<split>/`` (the packed stores). Each stage is skipped when its output is complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch.utils.data

from .. import settings
from ..errors import ConfigError, DatasetError
from ..files import atomic_file, build_lock
from ..transforms.functional.frames import to_frames, to_frames_custom
from . import archive, store
from .store import PackedStore, Sample


@dataclass(frozen=True)
class Resource:
    filename: str
    url: str | None  # None: no direct link (manual download)
    md5: str | None  # None: the publisher's file changes (no checksum is possible)
    extract: bool = True


def default_root() -> Path:
    """Where datasets live when no root is given (``$SPIKESTREAM_DATA``, see `settings`)."""
    return settings.data_root()


class EventDataset(torch.utils.data.Dataset):
    """A neuromorphic dataset backed by packed stores.

    ``data_type='event'`` returns ``(events, label)`` with events a structured array
    (``t, x, y, p``); ``'frame'`` returns ``[T, 2, H, W]`` float32 frames computed on the fly
    with SpikingJelly's semantics (``frames_number`` + ``split_by``, ``duration``, or
    ``custom_integrate_function(events, H, W)``); ``frame_cache=folder`` keeps each sample's
    frames on disk after the first computation (worth it only for slow custom functions).
    ``label_order='spikingjelly'`` numbers the classes as SpikingJelly does (alphabetical order
    of its folder names) so results compare 1:1. ``verify=False`` accepts archives whose MD5
    differs (re-packed or trimmed by the user).
    """

    name: ClassVar[str]
    sensor_size: ClassVar[tuple[int, int]]  # (W, H)
    classes: ClassVar[Sequence[str]]
    resources: ClassVar[Sequence[Resource]]
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    homepage: ClassVar[str] = ""
    manual: ClassVar[str] = ""  # how to get the files where no direct download exists
    sj_folders: ClassVar[Sequence[str] | None] = None  # SpikingJelly's class folder names

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool | None = True,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        frame_cache: str | os.PathLike | None = None,
        download: bool = False,
        verify: bool = True,
        label_order: str = "dataset",
        workers: int | None = None,
    ) -> None:
        if data_type not in ("event", "frame"):
            raise ConfigError(f"data_type must be 'event' or 'frame', not {data_type!r}")
        ways = sum(v is not None for v in (frames_number, duration, custom_integrate_function))
        if data_type == "frame" and ways != 1:
            raise ConfigError(
                "frames need exactly one of frames_number, duration, custom_integrate_function"
            )
        if frames_number is not None and split_by not in ("number", "time"):
            raise ConfigError("frames_number needs split_by='number' or 'time'")
        if label_order not in ("dataset", "spikingjelly"):
            raise ConfigError("label_order is 'dataset' or 'spikingjelly'")
        split = self.split_name(train)
        self.root = self.folder(root)
        self.prepare(root, download=download, verify=verify, workers=workers)
        self.store = PackedStore(self.root / "packed" / split)
        self.split = split
        self.data_type, self.frames_number = data_type, frames_number
        self.split_by, self.duration = split_by, duration
        self.integrate = custom_integrate_function
        self.frame_cache = Path(frame_cache) / split if frame_cache is not None else None
        self.transform, self.target_transform = transform, target_transform
        self.class_names: list[str] = list(self.store.meta["classes"])
        self.label_map = (
            self.spikingjelly_labels(self.class_names) if label_order == "spikingjelly" else None
        )

    # ------------------------------------------------------------------ declared per dataset

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            from . import registry

            registry.DATASETS[cls.name.lower()] = cls

    @classmethod
    def discover_classes(cls, extracted: Path) -> Sequence[str] | None:
        """Class names found in the extracted files, for datasets that do not fix them."""
        return None

    @classmethod
    def sources(cls, extracted: Path, split: str) -> list[Any]:
        """The raw inputs of ``split`` found in the extracted files."""
        raise NotImplementedError

    @classmethod
    def load(cls, source: Any) -> Iterable[Sample]:
        """Decode one raw input into its samples ``(name, label, events)``."""
        raise NotImplementedError

    # ------------------------------------------------------------------------- the pipeline

    @classmethod
    def split_name(cls, train: bool | None) -> str:
        if train is None:
            if "all" not in cls.splits:
                raise ConfigError(f"{cls.name} has splits {cls.splits}: pass train=True/False")
            return "all"
        if "all" in cls.splits:
            raise ConfigError(
                f"{cls.name} has no train/test split: pass train=None "
                "(and split with spikestream.datasets.split_per_class)"
            )
        return "train" if train else "test"

    @classmethod
    def folder(cls, root: str | os.PathLike | None) -> Path:
        return Path(root) if root is not None else default_root() / cls.name

    @classmethod
    def manual_instructions(cls, download_dir: Path) -> str:
        files = ", ".join(r.filename for r in cls.resources)
        where = cls.manual or f"from {cls.homepage}"
        return (
            f"{cls.name} cannot be downloaded automatically. Get {files} {where} and put "
            f"them in {download_dir}, then run again (or `spikestream dataset convert "
            f"{cls.name.lower()} --root {download_dir.parent}`)."
        )

    @classmethod
    def download(cls, root: str | os.PathLike | None = None, verify: bool = True) -> Path:
        """Fetch every resource that is not yet in ``download/`` (checking MD5s); raise
        `DatasetError` with the manual steps where a file has no direct link."""
        folder = cls.folder(root) / "download"
        for res in cls.resources:
            dest = folder / res.filename
            if dest.is_file():
                continue
            if res.url is None:
                raise DatasetError(cls.manual_instructions(folder))
            with build_lock(dest):
                if not dest.is_file():  # another process may have fetched it meanwhile
                    archive.fetch(res.url, dest, res.md5, verify)
        return folder

    @classmethod
    def is_converted(cls, root: str | os.PathLike | None = None) -> bool:
        packed = cls.folder(root) / "packed"
        return all(store.is_complete(packed / s) for s in cls.splits)

    @classmethod
    def prepare(
        cls,
        root: str | os.PathLike | None = None,
        download: bool = False,
        verify: bool = True,
        workers: int | None = None,
        progress: bool = True,
    ) -> Path:
        """Make sure every split's packed store exists: fetch (when ``download``), check,
        extract and convert what is missing."""
        base = cls.folder(root)
        if cls.is_converted(root):
            return base / "packed"
        download_dir = base / "download"
        missing = [r for r in cls.resources if not (download_dir / r.filename).is_file()]
        if missing:
            if not download:
                has_links = all(r.url for r in missing)
                hint = (
                    f"pass download=True (CLI: spikestream dataset download {cls.name.lower()})"
                    if has_links
                    else cls.manual_instructions(download_dir)
                )
                raise DatasetError(
                    f"{cls.name}: {', '.join(r.filename for r in missing)} not "
                    f"found in {download_dir}; {hint}"
                )
            cls.download(root, verify)
        extracted = base / "extract"
        for res in cls.resources:
            path = download_dir / res.filename
            if res.extract:
                archive.extract(path, extracted / _stem(res.filename), res.md5, verify)
            else:
                archive.check_md5(path, res.md5, verify)
        for split in cls.splits:
            dest = base / "packed" / split
            with build_lock(dest):
                if not store.is_complete(dest):  # another process may have just built it
                    cls.convert_split(extracted, split, dest, workers, progress)
        return base / "packed"

    @classmethod
    def convert_split(cls, extracted: Path, split: str, dest: Path,
                      workers: int | None = None, progress: bool = True) -> Path:  # fmt: skip
        """Convert one split of the extracted raw files into the packed store ``dest``."""
        sources = cls.sources(extracted, split)
        if not sources:
            raise DatasetError(f"{cls.name}: no {split} files found under {extracted}")
        classes = cls.discover_classes(extracted) or cls.classes
        meta = {
            "dataset": cls.name,
            "split": split,
            "sensor_size": list(cls.sensor_size),
            "classes": list(classes),
        }
        return store.build(dest, sources, cls.load, meta, workers, progress)

    @classmethod
    def import_events_np(cls, events_np: str | os.PathLike, root: str | os.PathLike | None = None,
                         workers: int | None = None) -> Path:  # fmt: skip
        """Build the packed stores from a folder SpikingJelly already converted (its
        ``events_np``: ``<split>/<class>/<sample>.npz``, or ``<class>/...`` for unsplit datasets)
        instead of converting the raw files again; labels become this dataset's own."""
        from .events_np import import_events_np

        source = Path(events_np)
        folders = list(cls.sj_folders) if cls.sj_folders is not None else list(cls.classes)
        packed = cls.folder(root) / "packed"
        for split in cls.splits:
            folder = source if split == "all" else source / split
            if not folder.is_dir():
                raise DatasetError(f"{folder}: missing (expected SpikingJelly's events_np tree)")
            import_events_np(folder, packed / split, cls.sensor_size, cls.name, workers,
                             class_folders=folders or None,
                             class_names=list(cls.classes) or None)  # fmt: skip
        return packed

    @classmethod
    def spikingjelly_labels(cls, classes: Sequence[str] | None = None) -> np.ndarray:
        """Our label -> SpikingJelly's label (its classes are its folder names, sorted as
        strings: DVS128 Gesture's '10' sorts before '2'). ``classes``: the class names a
        converted store found, for datasets that discover them."""
        if cls.sj_folders is not None:
            folders = list(cls.sj_folders)
        else:
            folders = list(classes if classes is not None else cls.classes)
        order = sorted(folders)
        return np.array([order.index(f) for f in folders], dtype=np.int64)

    # ------------------------------------------------------------------------- torch access

    def __len__(self) -> int:
        return len(self.store)

    @property
    def targets(self) -> np.ndarray:
        labels = self.store.labels
        return self.label_map[labels] if self.label_map is not None else labels

    def __getitem__(self, i: int) -> tuple[Any, int]:
        events, label = self.store[i]
        if self.label_map is not None:
            label = int(self.label_map[label])
        sample: Any = events
        if self.data_type == "frame":
            sample = self._frames(i, events)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return sample, label

    def _frames(self, i: int, events: np.ndarray) -> np.ndarray:
        """Frames of sample ``i``, computed (fast enough for every epoch) or, with
        ``frame_cache``, read back from the first computation (for slow custom functions)."""
        cached = self.frame_cache / f"{i % len(self)}.npy" if self.frame_cache else None
        if cached is not None and cached.is_file():
            return np.load(cached)
        if self.integrate is not None:
            frames = to_frames_custom(events, self.sensor_size, self.integrate)
        else:
            frames = to_frames(
                events,
                self.sensor_size,
                n_frames=self.frames_number,
                split_by=self.split_by or "number",
                duration=self.duration,
            )
        if cached is not None:  # written whole under a temporary name, then renamed
            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(cached) as out:
                np.save(out, frames)
        return frames


def labelled_by_folder(
    paths: Iterable[Path], classes: Sequence[str], folder_class: Callable[[str], str] = str
) -> list[tuple[Path, int]]:
    """``(path, label)`` for the files whose folder names a class (``folder_class`` maps the
    folder's name to the class name), sorted by path; other files are left out."""
    out = []
    for path in sorted(paths):
        name = folder_class(path.parent.name)
        if name in classes:
            out.append((path, classes.index(name)))
    return out


def _stem(filename: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def split_per_class(
    labels: np.ndarray, train_ratio: float, random_split: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices for a dataset without a split, as SpikingJelly's
    ``split_to_train_test_set``: per class, the first ``ceil(n_c * ratio)`` samples (in index
    order, or shuffled with ``random_split``) go to train."""
    if not 0 < train_ratio < 1:
        raise ConfigError("train_ratio must lie in (0, 1)")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if random_split:
            idx = rng.permutation(idx)
        k = int(np.ceil(len(idx) * train_ratio))
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
