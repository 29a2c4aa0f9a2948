"""From a source's sensor to a model's input: a crop, then integer sum-pooling.

A bin's events are counted on the whole sensor (``[2, H, W]``, channel 0 OFF, pixel ``[y, x]``,
the same `transforms.functional.accumulate` kernel training frames come from); the model's
input is that image cut to the box ``crop = (x0, y0, w, h)`` and summed over ``pool x pool``
blocks (a last partial block is kept: ``ceil(w / pool) x ceil(h / pool)``). That is the count
image of the events ``crop``ped and moved to ``(x - x0) // pool, (y - y0) // pool``: what
training (`spikestream.train.data`) computes when it crops and pools events before binning.
A one-channel model gets the sum of both polarities. Both are
`spikestream.transforms.functional.geometry` (one definition of the box, the ceil and the
checks).

Which box (`resolve_geometry`):

1. ``crop`` / ``pool`` given (``spikestream live --crop X0,Y0,W,H --pool N``): checked, used;
2. the source's sensor is training's (the checkpoint's ``input.sensor_size``): training's
   ``crop`` (the whole sensor when none) and ``pool``;
3. another sensor: the centred box of ``pool x`` the model's input (training's ``pool``), e.g.
   the centre 128x128 of a DAVIS346 for a DVS128 model; a sensor smaller than that box is a
   `ConfigError` naming ``--crop`` and ``--pool``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..events import limits
from ..transforms.functional.geometry import check_box, crop_pool_counts, input_size

__all__ = ["Geometry", "resolve_geometry"]


@dataclass(frozen=True)
class Geometry:
    """Sensor ``(W, H)``, the box ``crop = (x0, y0, w, h)`` in sensor pixels, the pooling factor
    and the model's input channels (2: OFF, ON; 1: both summed)."""

    sensor_size: tuple[int, int]
    crop: tuple[int, int, int, int]
    pool: int = 1
    channels: int = 2

    def __post_init__(self) -> None:
        sensor = limits.sensor_dims(self.sensor_size, what="the source's sensor size")
        try:
            check_box(self.crop, sensor, self.pool)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; give --crop X0,Y0,W,H within it (and --pool N)") from None
        if self.channels not in (1, 2):
            raise ConfigError(f"the model's input channels must be 1 or 2, got {self.channels}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's input per step, ``(C, h, w)``."""
        w, h = input_size(self.sensor_size, self.crop, self.pool)
        return (self.channels, h, w)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """Sensor count images ``[..., 2, H, W]`` -> the model's input ``[..., C, h, w]``
        (float32; a view-free copy, so the result never aliases the image)."""
        return crop_pool_counts(images, self.crop, self.pool, self.channels)


def _box(value: Any, what: str) -> tuple[int, int, int, int]:
    try:
        x0, y0, w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be four integers x0, y0, w, h; got {value!r}") from None
    return (x0, y0, w, h)


def resolve_geometry(
    input_spec: Mapping[str, Any],
    sensor_size: Sequence[int],
    *,
    crop: Sequence[int] | None = None,
    pool: int | None = None,
) -> Geometry:
    """The mapping from a ``sensor_size`` ``(W, H)`` source to the model described by a
    checkpoint's ``input`` dict (``height``, ``width``, ``channels``, ``sensor_size``, ``crop``,
    ``pool``), by the rules in the module docstring. Raises `ConfigError` when no crop and
    integer pooling of this sensor gives the model's input."""
    try:
        height, width = int(input_spec["height"]), int(input_spec["width"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"the checkpoint's input description {dict(input_spec)} has no height/width; "
            "it cannot be run on frames"
        ) from None
    channels = int(input_spec.get("channels") or 2)
    sensor = limits.sensor_dims(tuple(sensor_size), what="the source's sensor size")
    trained_pool = int(input_spec.get("pool") or 1)
    p = trained_pool if pool is None else int(pool)
    if p < 1:
        raise ConfigError(f"--pool must be >= 1, got {p}")
    trained_sensor = input_spec.get("sensor_size")
    if crop is not None:
        box = _box(crop, "--crop")
    elif trained_sensor is not None and tuple(int(v) for v in trained_sensor) == sensor:
        trained_crop = input_spec.get("crop")
        box = (
            _box(trained_crop, "the checkpoint's input crop")
            if trained_crop is not None
            else (0, 0, *sensor)
        )
    else:
        w, h = width * p, height * p
        if w > sensor[0] or h > sensor[1]:
            raise ConfigError(
                f"the model takes {width}x{height} frames (pool {p}: a {w}x{h} box) but the "
                f"source's sensor is {sensor[0]}x{sensor[1]}; give --crop X0,Y0,W,H and --pool N "
                f"with W == {width}*N and H == {height}*N inside the sensor"
            )
        box = ((sensor[0] - w) // 2, (sensor[1] - h) // 2, w, h)
    geometry = Geometry(sensor, box, p, channels)
    if geometry.input_shape[1:] != (height, width):
        _, h_in, w_in = geometry.input_shape
        raise ConfigError(
            f"crop {box} pooled by {p} gives {w_in}x{h_in} frames but the model "
            f"takes {width}x{height}; give --crop X0,Y0,W,H and --pool N with "
            f"W == {width}*N and H == {height}*N"
        )
    return geometry
