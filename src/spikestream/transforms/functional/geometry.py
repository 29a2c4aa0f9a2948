"""Crop and integer sum-pooling from a sensor to a model's input: the one definition training
(`spikestream.train.data`, on events before binning) and the live engine
(`spikestream.live.geometry`, on count images after binning) share.

The box ``crop = (x0, y0, w, h)`` in sensor pixels (None: the whole sensor), then ``pool x pool``
blocks summed, a last partial block kept: the input is ``ceil(w / pool) x ceil(h / pool)``.
On events that is "keep the events inside the box, move them to ``((x - x0) // pool,
(y - y0) // pool)``"; on count images ``[..., 2, H, W]`` it is "slice the box, sum the blocks";
counting the moved events gives the pooled image exactly (tests/test_live_engine.py).

    >>> input_size((34, 34), None, 2)
    (17, 17)
    >>> input_size((346, 260), (45, 2, 256, 256), 2)
    (128, 128)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ConfigError
from .augment import crop as crop_events

__all__ = ["check_box", "crop_pool_counts", "crop_pool_events", "input_size"]


def check_box(
    crop: Sequence[int] | None, sensor_size: Sequence[int], pool: int = 1, *, what: str = "crop"
) -> tuple[int, int, int, int]:
    """``crop`` as ``(x0, y0, w, h)`` (the whole ``sensor_size`` ``(W, H)`` when None), checked
    to lie inside the sensor, and ``pool >= 1``; `ConfigError` naming ``what`` otherwise."""
    w_s, h_s = (int(v) for v in sensor_size)
    if int(pool) < 1:
        raise ConfigError(f"pool must be an integer >= 1, got {pool}")
    if crop is None:
        return (0, 0, w_s, h_s)
    try:
        x0, y0, w, h = (int(v) for v in crop)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be four integers x0, y0, w, h; got {crop!r}") from None
    if x0 < 0 or y0 < 0 or w < 1 or h < 1 or x0 + w > w_s or y0 + h > h_s:
        raise ConfigError(
            f"{what} {[x0, y0, w, h]} (x0, y0, w, h) is not inside the {w_s}x{h_s} sensor"
        )
    return (x0, y0, w, h)


def input_size(
    sensor_size: Sequence[int], crop: Sequence[int] | None = None, pool: int = 1
) -> tuple[int, int]:
    """The model's input ``(w, h)``: the crop (or sensor) pooled by ``pool``, rounded up."""
    _, _, w, h = check_box(crop, sensor_size, pool)
    p = int(pool)
    return -(-w // p), -(-h // p)


def crop_pool_events(
    events: np.ndarray, crop: Sequence[int] | None = None, pool: int = 1
) -> np.ndarray:
    """The events inside ``crop`` (None: all), moved to the box and pooled: ``x -> (x - x0) //
    pool``. Unchecked against a sensor (call `check_box` once for the configuration); a copy
    when anything changes, else ``events`` itself."""
    if crop is not None:
        x0, y0, w, h = (int(v) for v in crop)
        events = crop_events(events, (x0, y0), (w, h))
    if int(pool) > 1:
        events = events.copy() if crop is None else events  # crop already copied
        events["x"] //= int(pool)
        events["y"] //= int(pool)
    return events


def crop_pool_counts(
    images: np.ndarray, crop: Sequence[int], pool: int = 1, channels: int = 2
) -> np.ndarray:
    """Count images ``[..., 2, H, W]`` -> ``[..., channels, ceil(h/pool), ceil(w/pool)]``
    float32 (a new array, never a view): the box, summed over ``pool x pool`` blocks (the last
    partial block zero-padded), both polarities summed when ``channels`` is 1."""
    x0, y0, w, h = (int(v) for v in crop)
    box: Any = images[..., y0 : y0 + h, x0 : x0 + w]
    p = int(pool)
    if p > 1:
        hp, wp = -(-h // p), -(-w // p)
        if (hp * p, wp * p) != (h, w):  # a partial last block: pad it with zeros
            pad = [(0, 0)] * (box.ndim - 2) + [(0, hp * p - h), (0, wp * p - w)]
            box = np.pad(box, pad)
        lead = box.shape[:-2]
        box = box.reshape(*lead, hp, p, wp, p).sum(axis=(-3, -1))
    if channels == 1:
        box = box.sum(axis=-3, keepdims=True)
    return np.array(box, dtype=np.float32, copy=True)
