"""Representations and augmentations.

Pure functions live in `spikestream.transforms.functional`; the classes here are frozen
dataclasses of parameters whose ``__call__`` forwards to one function, keeping no per-sample
state.

Random transforms draw from one ``numpy.random.Generator`` each, made from ``seed`` when the
transform is built (fresh OS entropy when ``seed`` is None). The seed fixes the *sequence* of
draws, not one draw: successive calls differ, and two transforms built with the same seed give
the same sequence of results. A pickled or copied transform carries its generator's state, so
the copy continues the same sequence. Inside a PyTorch ``DataLoader`` worker each worker would
hold a copy of one generator and repeat the others' draws, so on its first call in a worker a
transform reseeds from the worker's seed (``torch.utils.data.get_worker_info().seed``, which
differs per worker and per epoch and follows ``torch.manual_seed``) mixed with ``seed``: workers
draw independent streams, reproducible run to run under ``torch.manual_seed`` (an unseeded
transform takes fresh OS entropy in each worker instead).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import functional
from .collate import pad_sequence_collate, pad_tensors, padded_sequence_mask
from .functional import augment
from .functional.tokens import pad_tokens


@dataclass(frozen=True)
class ToFrames:
    """Frames ``[T, 2, H, W]`` with SpikingJelly 2.0's semantics.

    Example:
        >>> ToFrames((128, 128), n_frames=16, split_by="time")(events).shape
        (16, 2, 128, 128)
    """

    sensor_size: tuple[int, int]
    n_frames: int | None = None
    split_by: str = "number"
    duration: int | None = None
    allow_empty: bool = True
    dtype: Any = np.float32

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.to_frames(
            events,
            self.sensor_size,
            n_frames=self.n_frames,
            split_by=self.split_by,
            duration=self.duration,
            allow_empty=self.allow_empty,
            dtype=self.dtype,
        )


@dataclass(frozen=True)
class ToVoxelGrid:
    """Tonic's voxel grid, float64 ``[n, 1, H, W]``, signed polarity weights."""

    sensor_size: tuple[int, int]
    n_time_bins: int

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.to_voxel_grid(events, self.sensor_size, self.n_time_bins)


@dataclass(frozen=True)
class ToTimeSurface:
    """Tonic's time surface, float64 ``[n_windows, 2, H, W]``."""

    sensor_size: tuple[int, int]
    dt: int
    tau: float

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.to_time_surface(events, self.sensor_size, self.dt, self.tau)


@dataclass(frozen=True)
class ToAveragedTimeSurface:
    """HATS: per-cell averaged local time surfaces, float32 ``[n_cells, 2, s, s]``."""

    sensor_size: tuple[int, int]
    surface_size: int = 5
    cell_size: int = 10
    time_window: float = 1e3
    tau: float = 100.0
    decay: str = "exp"

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.to_averaged_time_surface(
            events,
            self.sensor_size,
            surface_size=self.surface_size,
            cell_size=self.cell_size,
            time_window=self.time_window,
            tau=self.tau,
            decay=self.decay,
        )


@dataclass(frozen=True)
class Denoise:
    """Keep events with a neighbour that fired within ``filter_time`` µs (Tonic semantics)."""

    filter_time: int = 10_000
    neighbourhood: int = 4
    sensor_size: tuple[int, int] | None = None  # given: events outside it raise

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.denoise(
            events, self.filter_time, neighbourhood=self.neighbourhood, sensor_size=self.sensor_size
        )


@dataclass(frozen=True)
class RefractoryPeriod:
    """Drop events closer than ``delta`` µs to their pixel's previous event (Tonic semantics)."""

    delta: int
    sensor_size: tuple[int, int] | None = None  # given: events outside it raise

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return functional.refractory_period(events, self.delta, sensor_size=self.sensor_size)


def _worker_seed() -> int | None:
    """The seed of the PyTorch DataLoader worker this process is, or None outside one (torch
    is not imported for this: a process that never imported it is not a worker)."""
    data = sys.modules.get("torch.utils.data")
    info = data.get_worker_info() if data is not None else None
    return None if info is None else int(info.seed)


@dataclass(frozen=True)
class _Random:
    seed: int | None = field(default=None, kw_only=True)
    # The generator is the sequence of draws, not per-sample data; set once per process.
    _generator: np.random.Generator = field(init=False, repr=False, compare=False)
    _worker: int | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_generator", np.random.default_rng(self.seed))

    def rng(self) -> np.random.Generator:
        """The transform's generator (reseeded once per DataLoader worker, see the module)."""
        worker = _worker_seed()
        if worker is not None and worker != self._worker:
            # seed None: fresh entropy, so that two unseeded transforms in one worker do not
            # share a stream
            entropy = None if self.seed is None else [worker, self.seed]
            object.__setattr__(self, "_generator", np.random.default_rng(entropy))
            object.__setattr__(self, "_worker", worker)
        return self._generator


@dataclass(frozen=True)
class DropEvent(_Random):
    p: float = 0.1

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.drop_events(events, self.p, rng=self.rng())


@dataclass(frozen=True)
class DropTime(_Random):
    fraction: float = 0.1

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.drop_time(events, self.fraction, rng=self.rng())


@dataclass(frozen=True)
class DropArea(_Random):
    sensor_size: tuple[int, int] = (128, 128)
    fraction: float = 0.2

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.drop_area(events, self.sensor_size, self.fraction, rng=self.rng())


@dataclass(frozen=True)
class RandomFlipLR(_Random):
    sensor_size: tuple[int, int] = (128, 128)
    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        flip = self.rng().random() < self.p
        return augment.flip_lr(events, self.sensor_size) if flip else events


@dataclass(frozen=True)
class ToEventTokens(_Random):
    """Event2Vec tokens: ``n_tokens`` sampled events with coordinates on ``grid`` (W, H) and
    normalised time, as float32 arrays (pad a batch with `pad_tokens`)."""

    sensor_size: tuple[int, int] = (128, 128)
    n_tokens: int = 1024
    sampler: str = "random"
    grid: tuple[int, int] | None = None
    norm_t: str = "sample"
    t_scale: float | None = None

    def __call__(self, events: np.ndarray) -> dict[str, np.ndarray]:
        return functional.event_tokens(
            events,
            self.sensor_size,
            self.n_tokens,
            sampler=self.sampler,
            grid=self.grid,
            norm_t=self.norm_t,
            t_scale=self.t_scale,
            rng=self.rng(),
        )


@dataclass(frozen=True)
class RandomFlipUD(_Random):
    sensor_size: tuple[int, int] = (128, 128)
    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        flip = self.rng().random() < self.p
        return augment.flip_ud(events, self.sensor_size) if flip else events


@dataclass(frozen=True)
class RandomCrop(_Random):
    sensor_size: tuple[int, int] = (128, 128)
    size: tuple[int, int] = (96, 96)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.random_crop(events, self.sensor_size, self.size, rng=self.rng())


@dataclass(frozen=True)
class SpatialJitter(_Random):
    sensor_size: tuple[int, int] = (128, 128)
    sigma: float = 1.0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.spatial_jitter(events, self.sensor_size, self.sigma, rng=self.rng())


@dataclass(frozen=True)
class TimeJitter(_Random):
    sigma: float = 100.0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.temporal_jitter(events, self.sigma, rng=self.rng())


@dataclass(frozen=True)
class CenterCrop:
    sensor_size: tuple[int, int]
    size: tuple[int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.center_crop(events, self.sensor_size, self.size)


@dataclass(frozen=True)
class Downsample:
    factor: float

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.downsample(events, self.factor)


@dataclass(frozen=True)
class MergePolarities:
    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.merge_polarities(events)


@dataclass(frozen=True)
class RandomTranslate(_Random):
    """Move the whole recording by one random whole-pixel shift of up to ``max_shift`` pixels
    per axis; events moved off the sensor are dropped (`augment.random_translate`)."""

    sensor_size: tuple[int, int] = (128, 128)
    max_shift: int | tuple[int, int] = 2

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return augment.random_translate(events, self.sensor_size, self.max_shift, rng=self.rng())


__all__ = [
    "CenterCrop",
    "Denoise",
    "Downsample",
    "DropArea",
    "DropEvent",
    "DropTime",
    "MergePolarities",
    "RandomCrop",
    "RandomFlipLR",
    "RandomFlipUD",
    "RandomTranslate",
    "RefractoryPeriod",
    "SpatialJitter",
    "TimeJitter",
    "ToAveragedTimeSurface",
    "ToEventTokens",
    "ToFrames",
    "ToTimeSurface",
    "ToVoxelGrid",
    "augment",
    "functional",
    "pad_sequence_collate",
    "pad_tensors",
    "pad_tokens",
    "padded_sequence_mask",
]
