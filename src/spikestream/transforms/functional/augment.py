"""Augmentations on canonical events: pure functions; randomness comes from an explicit
``numpy.random.Generator`` so a seed reproduces a sample."""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import first_outside, require_sorted

#: The largest float64 below 2^63 (2^63 - 1024): float times clipped to it fit in int64.
T_MAX_FLOAT = float(np.nextafter(2.0**63, 0))


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def drop_events(
    events: np.ndarray, p: float, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Drop ``int(p * N + 0.5)`` events chosen without replacement (Tonic's ``DropEvent`` rule);
    the rest keep their order."""
    if not 0 <= p <= 1:
        raise ConfigError(f"drop probability must be in [0, 1], got {p}")
    n_drop = int(p * len(events) + 0.5)
    keep = np.ones(len(events), dtype=bool)
    keep[_rng(rng).choice(len(events), n_drop, replace=False)] = False
    return events[keep]


def drop_time(
    events: np.ndarray, fraction: float, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Remove the events of one random time interval lasting ``fraction`` of the recording."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"fraction must be in [0, 1), got {fraction}")
    if len(events) < 2:
        return events
    require_sorted(events["t"], "drop_time")  # the first and last events bound the recording
    t0, t1 = int(events["t"][0]), int(events["t"][-1])
    width = fraction * (t1 - t0)
    start = t0 + _rng(rng).uniform(0, (t1 - t0) - width)
    t = events["t"]
    return events[(t < start) | (t >= start + width)]


def drop_area(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    fraction: float,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Remove the events inside one random box covering ``fraction`` of each sensor side."""
    if not 0 <= fraction <= 1:
        raise ConfigError(f"fraction must be in [0, 1], got {fraction}")
    w, h = sensor_size
    bw, bh = round(fraction * w), round(fraction * h)
    g = _rng(rng)
    x0, y0 = int(g.integers(0, w - bw + 1)), int(g.integers(0, h - bh + 1))
    x, y = events["x"], events["y"]
    inside = (x >= x0) & (x < x0 + bw) & (y >= y0) & (y < y0 + bh)
    return events[~inside]


def _inside(values: np.ndarray, limit: int, name: str) -> None:
    """A coordinate at or past the sensor edge would wrap around in uint16 when mirrored."""
    i = first_outside(values, None, limit, None)
    if i is not None:
        raise ValidationError(
            f"event {i}: {name} = {values[i]} is outside the sensor's {limit} pixels",
            index=i,
            field=name,
        )


def flip_lr(events: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Mirror left-right: x -> W - 1 - x (a copy)."""
    _inside(events["x"], sensor_size[0], "x")
    out = events.copy()
    out["x"] = sensor_size[0] - 1 - events["x"]
    return out


def flip_ud(events: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Mirror top-bottom: y -> H - 1 - y (a copy)."""
    _inside(events["y"], sensor_size[1], "y")
    out = events.copy()
    out["y"] = sensor_size[1] - 1 - events["y"]
    return out


def flip_polarity(events: np.ndarray) -> np.ndarray:
    out = events.copy()
    out["p"] = 1 - events["p"]
    return out


def merge_polarities(events: np.ndarray) -> np.ndarray:
    """Every event becomes channel 0 (a single-channel representation follows)."""
    out = events.copy()
    out["p"] = 0
    return out


def crop(events: np.ndarray, origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Events inside the box at ``origin`` (x, y) of ``size`` (W, H), shifted to the box."""
    x0, y0 = origin
    w, h = size
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    keep = (x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)
    out = events[keep]
    out["x"] -= x0
    out["y"] -= y0
    return out


def center_crop(
    events: np.ndarray, sensor_size: tuple[int, int], size: tuple[int, int]
) -> np.ndarray:
    """Crop to ``size`` around the sensor centre (e.g. a model's input size)."""
    w, h = sensor_size
    cw, ch = size
    if cw > w or ch > h:
        raise ConfigError(f"crop {size} larger than the sensor {sensor_size}")
    return crop(events, ((w - cw) // 2, (h - ch) // 2), size)


def random_crop(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    size: tuple[int, int],
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    w, h = sensor_size
    cw, ch = size
    if cw > w or ch > h:
        raise ConfigError(f"crop {size} larger than the sensor {sensor_size}")
    g = _rng(rng)
    return crop(events, (int(g.integers(0, w - cw + 1)), int(g.integers(0, h - ch + 1))), size)


def downsample(events: np.ndarray, factor: float | tuple[float, float]) -> np.ndarray:
    """Spatial downsampling: x -> floor(x * fx), y -> floor(y * fy) (a copy)."""
    pair = (factor, factor) if isinstance(factor, (int, float, np.number)) else factor
    fx, fy = float(pair[0]), float(pair[1])
    if not (0 < fx < np.inf and 0 < fy < np.inf):
        raise ConfigError(f"downsampling factors must be finite and > 0, got {factor}")
    x, y = np.floor(events["x"] * fx), np.floor(events["y"] * fy)
    if len(x) and max(x.max(), y.max()) > 65535:  # would wrap around in uint16
        raise ConfigError(f"factor {factor} moves coordinates past 65535, the largest pixel")
    out = events.copy()
    out["x"], out["y"] = x, y
    return out


def spatial_jitter(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    sigma: float,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Add rounded Gaussian noise of std ``sigma`` pixels to x and y; events pushed off the sensor
    are dropped."""
    g = _rng(rng)
    x = events["x"] + np.rint(g.normal(0, sigma, len(events)))
    y = events["y"] + np.rint(g.normal(0, sigma, len(events)))
    keep = (x >= 0) & (x < sensor_size[0]) & (y >= 0) & (y < sensor_size[1])
    out = events[keep].copy()
    out["x"], out["y"] = x[keep], y[keep]
    return out


def temporal_jitter(
    events: np.ndarray, sigma: float, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Add rounded Gaussian noise of std ``sigma`` µs (finite, >= 0) to t, clip to
    [0, `T_MAX_FLOAT`] µs and re-sort (stable). The sum is taken in float64, so the upper clip
    is the largest float64 below 2^63: a huge ``sigma`` saturates instead of wrapping to
    -2^63."""
    if not 0 <= sigma < float("inf"):
        raise ConfigError(f"time jitter sigma must be a finite number of µs >= 0, got {sigma}")
    t = events["t"] + np.rint(_rng(rng).normal(0, sigma, len(events)))
    out = events.copy()
    out["t"] = np.clip(t, 0, T_MAX_FLOAT).astype(np.int64)
    return out[np.argsort(out["t"], kind="stable")]


def translate(
    events: np.ndarray, sensor_size: tuple[int, int], shift: tuple[int, int]
) -> np.ndarray:
    """Move every event by ``shift = (dx, dy)`` whole pixels; events moved off the sensor are
    dropped (a copy)."""
    w, h = sensor_size
    dx, dy = (int(v) for v in shift)
    x = events["x"].astype(np.int64) + dx
    y = events["y"].astype(np.int64) + dy
    keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    out = events[keep]
    out["x"], out["y"] = x[keep], y[keep]
    return out


def random_translate(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    max_shift: int | tuple[int, int],
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """`translate` by one shift per call, each of dx, dy drawn uniformly from the integers in
    ``[-max_shift, max_shift]`` (``(max_dx, max_dy)`` for two limits): the whole recording moves,
    as when the object sits elsewhere in the field of view."""
    pair = (max_shift, max_shift) if isinstance(max_shift, (int, np.integer)) else max_shift
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(
            isinstance(v, (int, np.integer)) and 0 <= v < side
            for v, side in zip(pair, sensor_size, strict=True)
        )
    ):
        raise ConfigError(
            f"max_shift must be whole pixels >= 0 and below the sensor's {tuple(sensor_size)} "
            f"sides (one int or (max_dx, max_dy)), got {max_shift!r}"
        )
    g = _rng(rng)
    shift = (int(g.integers(-pair[0], pair[0] + 1)), int(g.integers(-pair[1], pair[1] + 1)))
    return translate(events, sensor_size, shift)


__all__ = [
    "center_crop",
    "crop",
    "downsample",
    "drop_area",
    "drop_events",
    "drop_time",
    "flip_lr",
    "flip_polarity",
    "flip_ud",
    "merge_polarities",
    "random_crop",
    "random_translate",
    "spatial_jitter",
    "temporal_jitter",
    "translate",
]
