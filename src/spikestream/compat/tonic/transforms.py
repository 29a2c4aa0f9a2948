"""Tonic 1.7's ``tonic.transforms`` classes with the same arguments and results::

    # import tonic.transforms as transforms
    from spikestream.compat.tonic import transforms

Inputs are structured arrays with fields x, y, t, p (any order and dtype), as in Tonic;
``sensor_size`` is ``(W, H, P)``. Random transforms draw from numpy's global generator, as
Tonic's do (``np.random.seed`` reproduces a run); their random streams are spikestream's own, so
the same seed picks other events than Tonic would. The deterministic ones (frames, image, sparse
tensor, voxel grid, time surface, Denoise, RefractoryPeriod, DropPixel, crops, flips, Downsample)
give Tonic's results exactly. Values a transform would move out of their field (a jittered x below
0 in an unsigned field, say) raise `ConfigError` instead of wrapping around.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib import recfunctions

from ...errors import ConfigError
from ...transforms import functional as F
from .. import _unsupported


class Compose:
    """Apply ``transforms`` in order (torchvision's ``Compose``, as Tonic's)."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, events: Any) -> Any:
        for t in self.transforms:
            events = t(events)
        return events

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


def _sensor(sensor_size: Sequence[int] | None, events: np.ndarray) -> tuple[int, int, int]:
    """Tonic's ``(W, H, P)``; when None, measured on the events as Tonic does."""
    if sensor_size is None:
        if len(events) == 0:
            raise ConfigError("sensor_size=None needs at least one event to measure the sensor")
        return (int(events["x"].max()) + 1, int(events["y"].max()) + 1,
                len(np.unique(events["p"])))  # fmt: skip
    if len(sensor_size) != 3:
        raise ConfigError(f"sensor_size is Tonic's (W, H, P), got {tuple(sensor_size)}")
    w, h, p = (int(v) for v in sensor_size)
    if p not in (1, 2):
        raise ConfigError(f"sensor_size polarities must be 1 or 2, got {p}")
    return w, h, p


def _one_polarity(frames: np.ndarray, p: int) -> np.ndarray:
    """A 1-polarity sensor counts every event in channel 0, whatever its p (Tonic sets p to 0
    when ``sensor_size[2] == 1``; the input is left unchanged here)."""
    if p == 2:
        return frames
    return frames.sum(axis=1, keepdims=True, dtype=frames.dtype)


def _global_rng() -> np.random.Generator:
    """A generator seeded from numpy's global one, so that ``np.random.seed`` reproduces a run
    (Tonic's behaviour) while the draws use spikestream's vectorised functions."""
    return np.random.default_rng(np.random.randint(2**32, dtype=np.uint64))  # noqa: NPY002


def _ratio(value: float | tuple[float, float], name: str) -> float:
    """A ratio in [0, 1), or one drawn uniformly from a (min, max) pair."""
    low, high = value if isinstance(value, tuple) else (value, value)
    if not (0 <= low <= high < 1):
        raise ConfigError(f"{name} must lie in [0, 1) (or a (min, max) pair there), got {value}")
    return float(np.random.uniform(low, high)) if high > low else float(low)  # noqa: NPY002


@dataclass(frozen=True)
class ToFrame:
    """Frames int16 ``[T, P, H, W]`` with Tonic's four slicing modes (see
    `spikestream.transforms.functional.slicing` for each mode's window rule)."""

    sensor_size: tuple[int, int, int] | None
    time_window: float | None = None
    event_count: int | None = None
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0
    include_incomplete: bool = False

    def __call__(self, events: np.ndarray) -> np.ndarray:
        w, h, p = _sensor(self.sensor_size, events)
        frames = F.tonic_frames(
            events,
            (w, h),
            time_window=self.time_window,
            event_count=self.event_count,
            n_time_bins=self.n_time_bins,
            n_event_bins=self.n_event_bins,
            overlap=self.overlap,
            include_incomplete=self.include_incomplete,
        )
        return _one_polarity(frames, p)


@dataclass(frozen=True)
class ToImage:
    """All events counted into one int16 image ``[P, H, W]`` (Tonic's ``ToFrame`` with
    ``event_count=len(events)``, its frame axis squeezed); an empty input gives zeros."""

    sensor_size: tuple[int, int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        w, h, p = _sensor(self.sensor_size, events)
        whole = (np.zeros(1, dtype=np.int64), np.full(1, len(events), dtype=np.int64))
        frame = F.accumulate(events, *whole, (w, h), dtype=np.int16)
        return _one_polarity(frame, p)[0]


@dataclass(frozen=True)
class ToSparseTensor(ToFrame):
    """`ToFrame`'s frames as a coalesced sparse COO torch tensor (int16, dense shape
    ``[T, P, H, W]``; ``.to_dense()`` gives the frames back), as Tonic builds it."""

    def __call__(self, events: np.ndarray) -> Any:
        import torch  # only here: the transforms module stays importable without loading torch

        return torch.from_numpy(super().__call__(events)).to_sparse()


@dataclass(frozen=True)
class ToVoxelGrid:
    """Tonic's voxel grid, float64 ``[n, 1, H, W]`` (bool polarities weigh +1, as in Tonic)."""

    sensor_size: tuple[int, int, int]
    n_time_bins: int

    def __call__(self, events: np.ndarray) -> np.ndarray:
        size = (self.sensor_size[0], self.sensor_size[1])
        return F.to_voxel_grid(events, size, self.n_time_bins, tonic_dtype_quirks=True)


@dataclass(frozen=True)
class ToTimesurface:
    sensor_size: tuple[int, int, int]
    dt: float
    tau: float

    def __call__(self, events: np.ndarray) -> np.ndarray:
        w, h, p = self.sensor_size
        return F.to_time_surface(events, (w, h), int(self.dt), self.tau, n_polarities=p)


@dataclass(frozen=True)
class ToAveragedTimesurface:
    """HATS (Sironi et al. 2018), float32 ``[n_cells, P, s, s]``."""

    sensor_size: tuple[int, int, int]
    surface_size: int = 5
    cell_size: int = 10
    time_window: float = 1e3
    tau: float = 100
    decay: str = "exp"

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.to_averaged_time_surface(
            events, (self.sensor_size[0], self.sensor_size[1]), surface_size=self.surface_size,
            cell_size=self.cell_size, time_window=self.time_window, tau=self.tau,
            decay=self.decay,
        )  # fmt: skip


@dataclass(frozen=True)
class Denoise:
    filter_time: float = 10000

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return events[F.denoise_mask(events, int(self.filter_time))]


@dataclass(frozen=True)
class RefractoryPeriod:
    """``delta`` in µs, or a ``(min, max)`` pair to draw it from."""

    delta: float | tuple[float, float]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        delta = self.delta
        if isinstance(delta, tuple):
            delta = (delta[1] - delta[0]) * np.random.random_sample() + delta[0]  # noqa: NPY002
        return events[F.refractory_mask(events, int(delta))]


@dataclass(frozen=True)
class DropEvent:
    """Drop ``int(p * N + 0.5)`` events chosen without replacement
    (`spikestream.transforms.functional.augment.drop_events`); ``p`` may be a ``(min, max)``
    pair to draw it from. ``np.random.seed`` reproduces the choice."""

    p: float | tuple[float, float] = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        p = self.p
        if isinstance(p, tuple):
            p = (p[1] - p[0]) * np.random.random_sample() + p[0]  # noqa: NPY002
        return F.augment.drop_events(events, p, rng=_global_rng())


@dataclass(frozen=True)
class DropPixel:
    """Drop every event of the given (x, y) ``coordinates``, or of the *hot* pixels firing above
    ``hot_pixel_frequency`` Hz over the recording (see `augment.hot_pixels`). Frames
    ``[P, H, W]`` / ``[T, P, H, W]`` are accepted too: those pixels are zeroed, and
    ``hot_pixel_frequency`` is then a count over all frames, as in Tonic. Give exactly one of
    the two."""

    coordinates: Sequence[tuple[int, int]] | None = None
    hot_pixel_frequency: float | None = None

    def __post_init__(self) -> None:
        if (self.coordinates is None) == (self.hot_pixel_frequency is None):
            raise ConfigError(
                "DropPixel needs exactly one of coordinates=[(x, y), ...] or "
                f"hot_pixel_frequency=<Hz>, got coordinates={self.coordinates!r}, "
                f"hot_pixel_frequency={self.hot_pixel_frequency!r}"
            )

    def __call__(self, events: np.ndarray) -> np.ndarray:
        frames = events.dtype.names is None
        coordinates: Any = self.coordinates
        if self.hot_pixel_frequency is not None:
            find = F.augment.hot_pixels_in_frames if frames else F.augment.hot_pixels
            coordinates = find(events, self.hot_pixel_frequency)
        drop = F.augment.drop_pixels_in_frames if frames else F.augment.drop_pixels
        return drop(events, coordinates)


@dataclass(frozen=True)
class SpatialJitter:
    """x, y plus Gaussian noise of covariance ``[[var_x, sigma_xy], [sigma_xy, var_y]]``
    (integer fields truncate toward zero); ``clip_outliers`` drops the events then off the
    sensor (see `augment.tonic_spatial_jitter`)."""

    sensor_size: tuple[int, int, int]
    var_x: float = 1
    var_y: float = 1
    sigma_xy: float = 0
    clip_outliers: bool = False

    def __call__(self, events: np.ndarray) -> np.ndarray:
        size = (self.sensor_size[0], self.sensor_size[1])
        return F.augment.tonic_spatial_jitter(
            events, size, self.var_x, self.var_y, self.sigma_xy, self.clip_outliers,
            rng=_global_rng(),
        )  # fmt: skip


@dataclass(frozen=True)
class TimeJitter:
    """t plus Gaussian noise of ``std``; ``clip_negative`` drops the events then before 0,
    ``sort_timestamps`` re-sorts (see `augment.tonic_time_jitter`)."""

    std: float
    clip_negative: bool = True
    sort_timestamps: bool = False

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.augment.tonic_time_jitter(
            events, self.std, self.clip_negative, self.sort_timestamps, rng=_global_rng()
        )


@dataclass(frozen=True)
class UniformNoise:
    """Add ``n`` noise events uniform over the sensor and the recording's time range, then sort
    by t; ``n`` may be a ``(min, max)`` pair to draw it from, as Tonic does. An empty input is
    returned as it is (see `augment.uniform_noise`)."""

    sensor_size: tuple[int, int, int]
    n: int | tuple[int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        n = self.n
        if isinstance(n, tuple | list):
            if len(n) != 2 or not 0 <= n[0] <= n[1]:
                raise ConfigError(f"n is a count or a (min, max) pair with 0 <= min <= max, "
                                  f"got {n!r}")  # fmt: skip
        if len(events) == 0:  # before any draw, as in Tonic
            return events.copy()
        if isinstance(n, tuple | list):
            n = int((n[1] - n[0]) * np.random.random_sample() + n[0])  # noqa: NPY002
        return F.augment.uniform_noise(events, self.sensor_size, n, rng=_global_rng())


@dataclass(frozen=True)
class DropEventByTime:
    """Drop the events of one random interval lasting ``duration_ratio`` of ``[0, t_max]``
    (Tonic measures the recording from t = 0, not from its first event), both ends included."""

    duration_ratio: float | tuple[float, float] = 0.2

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ratio = _ratio(self.duration_ratio, "duration_ratio")
        if len(events) == 0:
            return events
        t_end = float(events["t"].max())
        width = t_end * ratio
        start = np.random.uniform(0.0, t_end - width)  # noqa: NPY002
        t = events["t"]
        return events[~((t >= start) & (t <= start + width))]


@dataclass(frozen=True)
class DropEventByArea:
    """Drop the events inside one random box of ``int(W * ratio) x int(H * ratio)`` pixels."""

    sensor_size: tuple[int, int, int] | None
    area_ratio: float | tuple[float, float] = 0.2

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ratio = _ratio(self.area_ratio, "area_ratio")
        if len(events) == 0:
            return events
        w, h, _ = _sensor(self.sensor_size, events)
        cut_w, cut_h = int(w * ratio), int(h * ratio)
        x0 = np.random.randint(0, max(w - cut_w, 1))  # noqa: NPY002
        y0 = np.random.randint(0, max(h - cut_h, 1))  # noqa: NPY002
        x, y = events["x"], events["y"]
        inside = (x >= x0) & (x < x0 + cut_w) & (y >= y0) & (y < y0 + cut_h)
        return events[~inside]


def _shift(values: np.ndarray, offset: int) -> np.ndarray:
    """``values - offset`` in the field's dtype, refusing what would wrap around."""
    out = values.astype(np.int64) - offset
    info = np.iinfo(values.dtype) if values.dtype.kind in "iu" else None
    if info is not None and len(out) and (out.min() < info.min or out.max() > info.max):
        raise ConfigError(f"the crop moves coordinates outside the {values.dtype} field")
    return out.astype(values.dtype)


@dataclass(frozen=True)
class CenterCrop:
    """Keep the central ``size`` (an int for a square) of the sensor and shift it to the origin;
    a size larger than the sensor pads (coordinates move right/down), as in Tonic."""

    sensor_size: tuple[int, int, int]
    size: int | tuple[int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        cw, ch = (self.size, self.size) if isinstance(self.size, int) else self.size
        ox, oy = (self.sensor_size[0] - cw) // 2, (self.sensor_size[1] - ch) // 2
        kx, ky = max(ox, 0), max(oy, 0)
        x, y = events["x"], events["y"]
        out = events[(x >= kx) & (x < kx + cw) & (y >= ky) & (y < ky + ch)]
        out["x"] = _shift(out["x"], ox)
        out["y"] = _shift(out["y"], oy)
        return out


@dataclass(frozen=True)
class RandomCrop:
    """Keep a random ``target_size`` (W, H) window of the sensor, shifted to the origin."""

    sensor_size: tuple[int, int, int]
    target_size: tuple[int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        w, h = self.sensor_size[0], self.sensor_size[1]
        tw, th = self.target_size
        if tw > w or th > h:
            raise ConfigError(f"target_size {self.target_size} is larger than the sensor {(w, h)}")
        x0 = np.random.randint(0, w - tw + 1)  # noqa: NPY002
        y0 = np.random.randint(0, h - th + 1)  # noqa: NPY002
        return F.augment.crop(events, (x0, y0), (tw, th))


@dataclass(frozen=True)
class CropTime:
    """Keep ``min <= t <= max`` (``max`` None: the last event's time)."""

    min: float = 0
    max: float | None = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        t = events["t"]
        high = t.max() if self.max is None and len(t) else self.max
        keep = t >= self.min if high is None else (t >= self.min) & (t <= high)
        return events[keep]


def _flip(events: np.ndarray, sensor_size: tuple[int, int, int], axis: str, p: float):
    """Mirror with probability ``p`` (Tonic's draw: ``rand() <= p``); coordinates outside the
    sensor raise instead of wrapping around."""
    if not 0 <= p <= 1:
        raise ConfigError(f"flip probability must be in [0, 1], got {p}")
    if np.random.rand() > p:  # noqa: NPY002
        return events.copy()
    size = (sensor_size[0], sensor_size[1])
    return F.augment.flip_lr(events, size) if axis == "x" else F.augment.flip_ud(events, size)


@dataclass(frozen=True)
class RandomFlipLR:
    """``x -> W - 1 - x`` with probability ``p``."""

    sensor_size: tuple[int, int, int]
    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return _flip(events, self.sensor_size, "x", self.p)


@dataclass(frozen=True)
class RandomFlipUD:
    """``y -> H - 1 - y`` with probability ``p``."""

    sensor_size: tuple[int, int, int]
    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return _flip(events, self.sensor_size, "y", self.p)


def _inverted(p: np.ndarray) -> np.ndarray:
    """Tonic's polarity swap: 0 -> 1 and any non-zero (-1 too) -> 0, in the field's dtype."""
    return np.invert(p.astype(bool)).astype(p.dtype)


@dataclass(frozen=True)
class RandomFlipPolarity:
    """Swap ON and OFF (``p -> not p``) with probability ``p``."""

    p: float = 0.5

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        if np.random.rand() <= self.p:  # noqa: NPY002
            out["p"] = _inverted(events["p"])
        return out


@dataclass(frozen=True)
class RandomTimeReversal:
    """With probability ``p``: ``t -> max(t) - t``, the order reversed, and (by default) the
    polarities swapped."""

    p: float = 0.5
    flip_polarities: bool = True

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        if np.random.rand() < self.p and len(out):  # noqa: NPY002
            out["t"] = events["t"].max() - events["t"]
            if self.flip_polarities:
                out["p"] = _inverted(events["p"])
            out = out[::-1]
        return out


@dataclass(frozen=True)
class MergePolarities:
    """Every polarity becomes 0 (use a sensor size with P = 1 afterwards)."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.augment.merge_polarities(events)


@dataclass(frozen=True)
class Downsample:
    """``t * time_factor``, ``x * fx`` and ``y * fy``, written back into the fields' own dtypes
    (integer fields truncate toward zero, as Tonic's assignment does). Drops nothing.
    ``spatial_factor`` is one factor or an ``(fx, fy)`` pair; with ``target_size`` (W, H) and
    ``sensor_size`` (W, H, P) the factors are ``target / sensor`` (and override it), as in
    Tonic 1.7."""

    time_factor: float = 1
    spatial_factor: float | tuple[float, float] = 1
    sensor_size: tuple[int, int, int] | None = None
    target_size: tuple[int, int] | None = None

    def _factors(self) -> tuple[float, float]:
        if self.target_size is not None:
            if self.sensor_size is None or len(self.sensor_size) != 3:
                raise ConfigError(
                    f"Downsample(target_size=...) needs sensor_size=(W, H, P), got "
                    f"{self.sensor_size}"
                )
            if len(self.target_size) != 2:
                raise ConfigError(f"target_size is (W, H), got {tuple(self.target_size)}")
            if min(self.sensor_size[:2]) <= 0:
                raise ConfigError(f"sensor_size must be positive, got {tuple(self.sensor_size)}")
            return (self.target_size[0] / self.sensor_size[0],
                    self.target_size[1] / self.sensor_size[1])  # fmt: skip
        factor = self.spatial_factor
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2:
                raise ConfigError(f"spatial_factor is a number or (fx, fy), got {factor}")
            return float(factor[0]), float(factor[1])
        return float(factor), float(factor)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        fx, fy = self._factors()
        out = events.copy()
        for name, factor in (("t", self.time_factor), ("x", fx), ("y", fy)):
            if name in (events.dtype.names or ()):
                out[name] = _scaled(events[name], factor, name)
        return out


def _scaled(values: np.ndarray, factor: float, name: str) -> np.ndarray:
    if not np.isfinite(factor) or factor < 0:
        raise ConfigError(f"{name} factor must be a finite number >= 0, got {factor}")
    scaled = values * factor
    if values.dtype.kind in "iu":
        scaled = np.trunc(scaled)
        info = np.iinfo(values.dtype)
        if len(scaled) and (scaled.min() < info.min or scaled.max() > info.max):
            raise ConfigError(f"factor {factor} moves {name} outside the {values.dtype} field")
    return scaled.astype(values.dtype)


@dataclass(frozen=True)
class TimeSkew:
    """``t * coefficient + offset`` (in the field's dtype)."""

    coefficient: float
    offset: float = 0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        out["t"] = _scaled(events["t"], self.coefficient, "t") + np.asarray(self.offset).astype(
            events.dtype["t"]
        )
        return out


@dataclass
class TimeAlignment:
    """Subtract the first time so the recording starts at 0."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        if len(out):
            out["t"] -= events["t"].min()
        return out


@dataclass(frozen=True)
class NumpyAsType:
    """A structured array becomes an unstructured ``[N, fields]`` array of ``dtype`` (fields in
    the array's order); an unstructured one is cast."""

    dtype: Any

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if np.dtype(self.dtype).names is not None:
            raise ConfigError("NumpyAsType converts to a plain dtype such as int or float")
        if events.dtype.names is not None:
            return recfunctions.structured_to_unstructured(events, dtype=self.dtype)
        return events.astype(self.dtype)


__all__ = [
    "CenterCrop",
    "Compose",
    "CropTime",
    "Denoise",
    "Downsample",
    "DropEvent",
    "DropEventByArea",
    "DropEventByTime",
    "DropPixel",
    "MergePolarities",
    "NumpyAsType",
    "RandomCrop",
    "RandomFlipLR",
    "RandomFlipPolarity",
    "RandomFlipUD",
    "RandomTimeReversal",
    "RefractoryPeriod",
    "SpatialJitter",
    "TimeAlignment",
    "TimeJitter",
    "TimeSkew",
    "ToAveragedTimesurface",
    "ToFrame",
    "ToImage",
    "ToSparseTensor",
    "ToTimesurface",
    "ToVoxelGrid",
    "UniformNoise",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "ToBinaRep": "not provided; ToFrame then (frames > 0)",
        "ToTimesurfaces": "ToTimesurface",
        "Decimation": "not provided",
        "RandomDropPixel": "DropPixel(coordinates=...) with the (x, y) pairs you draw",
        "DropEventByArea2": "DropEventByArea",
        "EventDrop": "DropEvent, DropEventByTime or DropEventByArea",
        "Repeat": "not provided",
        "ToRandomTimesurface": "ToTimesurface",
    },
)
