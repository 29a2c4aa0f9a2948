"""Event2Vec inputs: a fixed-size token set per sample (sampled events, coarser coordinates,
normalised time) and padding with a validity mask for batches of unequal length."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import require_sorted
from .frames import _fields

SAMPLERS = ("random", "uniform", "chunk", "deterministic_uniform")
#: Time normalisations of `normalize_time` (and of checkpoints' token ``input`` records).
NORM_T = ("sample", "dataset", "none")


def sample_indices(
    n: int, k: int, method: str = "random", *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Sorted indices of ``min(n, k)`` events (all of them when ``n <= k``).

    ``random``: uniformly without replacement (Event2Vec's ``random_sample``); ``uniform``: with
    replacement; ``chunk``: one random run of consecutive events; ``deterministic_uniform``:
    evenly spaced.
    """
    if k <= 0:
        raise ConfigError(f"token count must be > 0, got {k}")
    if method not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {SAMPLERS}, got {method!r}")
    # Event2Vec draws even when n == k (the draw is then every index): consuming it keeps a
    # shared generator's later samples equal to the original's
    if n < k or (n == k and method != "random"):
        return np.arange(n, dtype=np.int64)
    g = rng if rng is not None else np.random.default_rng()
    if method == "random":
        return np.sort(g.choice(n, k, replace=False))
    if method == "uniform":
        return np.sort(g.integers(0, n, k))
    if method == "chunk":
        start = int(g.integers(0, n - k + 1))
        return np.arange(start, start + k, dtype=np.int64)
    return np.linspace(0, n - 1, k).round().astype(np.int64)


def rescale_coordinates(
    x: np.ndarray, y: np.ndarray, sensor_size: tuple[int, int], grid: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Event2Vec's coarser address grid: ``x' = round(x * w / W)``, ``y' = round(y * h / H)``,
    clamped into ``[0, w-1]`` and ``[0, h-1]``. ``grid`` and ``sensor_size`` are (W, H)."""
    (width, height), (w, h) = sensor_size, grid
    if np.shape(x) != np.shape(y):  # numpy would broadcast a one-value y over every x
        raise ValidationError(f"x and y must have one value per event, got shapes "
                              f"{np.shape(x)} and {np.shape(y)}")  # fmt: skip
    xs = np.clip(np.round(x.astype(np.float64) * w / width), 0, w - 1)
    ys = np.clip(np.round(y.astype(np.float64) * h / height), 0, h - 1)
    return xs, ys


def normalize_time(t: np.ndarray, mode: str = "sample", scale: float | None = None) -> np.ndarray:
    """``t - t[0]``, then divided by the sample's last time (``'sample'``: values in [0, 1]), by
    a dataset-wide ``scale`` such as the longest training duration (``'dataset'``), or not
    (``'none'``). ``t`` must be sorted (`ValidationError` naming the first unsorted index, as
    everywhere): on unsorted times ``t[0]`` and ``t[-1]`` are not the ends."""
    t = np.asarray(t)
    require_sorted(t, "normalize_time")
    rel = (t - t[0]).astype(np.float64) if len(t) else np.zeros(0)
    if mode == "none":
        return rel
    if mode == "sample":
        return rel / rel[-1] if len(rel) and rel[-1] > 0 else np.zeros_like(rel)
    if mode == "dataset":
        if not scale or scale <= 0:
            raise ConfigError("dataset-wise time normalisation needs scale > 0")
        # in float32, as Event2Vec divides (float64 differs by an ulp past 2^24 µs)
        return rel.astype(np.float32) / np.float32(scale)
    raise ConfigError(f"time normalisation must be one of {NORM_T}, got {mode!r}")


def event_tokens(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    n_tokens: int,
    *,
    sampler: str = "random",
    grid: tuple[int, int] | None = None,
    norm_t: str = "sample",
    t_scale: float | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """One sample's tokens: float32 ``x, y, t, p`` arrays of ``min(N, n_tokens)`` events in time
    order (sampled, coordinates optionally rescaled to ``grid`` (W, H), time normalised).
    ``events``: canonical or structured events, or a dict of ``t, x, y, p`` arrays."""
    t_all, x_all, y_all, p_all = _fields(events)
    require_sorted(t_all, "event_tokens")  # tokens in time order, t[0] the first event
    idx = sample_indices(len(t_all), n_tokens, sampler, rng=rng)
    ex, ey = x_all[idx], y_all[idx]
    x, y = ex.astype(np.float64), ey.astype(np.float64)
    if grid is not None:
        x, y = rescale_coordinates(ex, ey, sensor_size, grid)
    t = normalize_time(t_all[idx], norm_t, t_scale)
    return {
        "x": x.astype(np.float32),
        "y": y.astype(np.float32),
        "t": t.astype(np.float32),
        "p": p_all[idx].astype(np.float32),
    }


def pad_tokens(
    samples: list[dict[str, Any]], pad_value: float = -1.0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stack token dicts into ``[B, L_max]`` arrays padded with ``pad_value`` and a bool
    ``valid_mask [B, L_max]`` (all True when the lengths are equal)."""
    if not samples:
        raise ConfigError("cannot pad an empty batch")
    for b, sample in enumerate(samples):
        sizes = {key: np.shape(sample[key]) for key in samples[0]}
        if len(set(sizes.values())) > 1 or len(sizes[next(iter(sizes))]) != 1:
            raise ValidationError(
                f"sample {b}: token fields must be 1-D of one length, got shapes {sizes}",
                index=b,
            )
    lengths = np.array([len(s["t"]) for s in samples])
    longest = int(lengths.max())
    mask = np.arange(longest)[None, :] < lengths[:, None]
    out = {}
    for key in samples[0]:
        arr = np.full((len(samples), longest), pad_value, dtype=np.float32)
        arr[mask] = np.concatenate([np.asarray(s[key], np.float32) for s in samples])
        out[key] = arr
    return out, mask
