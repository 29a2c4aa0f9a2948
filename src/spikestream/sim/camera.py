"""An event-camera simulator: intensity frames in, events out.

Each pixel keeps a reference log intensity. Between two frames the log intensity is taken to
change linearly in time; every time it moves one contrast threshold away from the reference, the
pixel emits an event (ON upwards, OFF downwards) at the interpolated crossing time and the
reference moves by one threshold. Thresholds can vary per pixel (``mismatch``, a relative
Gaussian spread, as in real sensors); a pixel that fired stays blind for ``refractory_us`` (its
crossings are not emitted, its reference still follows the signal). Noise: shot noise (events of
random polarity at random times, ``shot_noise_hz`` per pixel) and leak events (ON events at
``leak_hz`` per pixel, from the reference slowly leaking down).

Absurd configurations are refused up front with a `ConfigError` naming the limit instead of
running out of memory or time: the sensor-size rule (`spikestream.events.limits.sensor_dims`)
and the one allocation bound (`spikestream.events.limits.check_size`, ``MAX_BYTES``) for the
float64 frames and for the events (their count bounded before any is computed), plus
`MAX_RATE_HZ` for the noise rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from ..errors import ConfigError, ValidationError
from ..events import EVENT_DTYPE, limits

#: Highest noise rate per pixel: event times are whole microseconds
MAX_RATE_HZ = 1e6


@dataclass(frozen=True)
class CameraConfig:
    """Sensor parameters. Thresholds are in log-intensity units."""

    threshold_on: float = 0.2
    threshold_off: float = 0.2
    mismatch: float = 0.0  # relative std of the per-pixel thresholds
    refractory_us: int = 0
    shot_noise_hz: float = 0.0  # per pixel
    leak_hz: float = 0.0  # per pixel
    log_eps: float = 1e-3  # log(I + eps), so black pixels stay finite

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not math.isfinite(value):  # NaN passes every comparison below
                raise ConfigError(f"CameraConfig.{name} = {value} must be a finite number")
        if self.threshold_on <= 0 or self.threshold_off <= 0:
            raise ConfigError("contrast thresholds must be > 0")
        if min(self.mismatch, self.refractory_us, self.shot_noise_hz, self.leak_hz) < 0:
            raise ConfigError("mismatch, refractory, noise and leak rates must be >= 0")
        for name in ("shot_noise_hz", "leak_hz"):
            if getattr(self, name) > MAX_RATE_HZ:
                raise ConfigError(
                    f"CameraConfig.{name} = {getattr(self, name):g} Hz per pixel is above the "
                    f"limit of {MAX_RATE_HZ:g} Hz (one event per pixel per microsecond, the "
                    "time resolution)"
                )
        if self.refractory_us > 1 << 62:  # an int64 of microseconds inside the kernel
            raise ConfigError(f"refractory_us = {self.refractory_us:g} is above 2^62 µs")
        if self.log_eps <= 0:
            raise ConfigError("log_eps must be > 0")


@numba.njit(cache=True, nogil=True)
def _count_or_emit(log_frames, times, th_on, th_off, refractory, emit, out_t, out_x, out_y, out_p):
    # pragma: no cover - compiled. First call (emit=False) counts, second fills.
    n_frames, height, width = log_frames.shape
    n = 0
    for yy in range(height):
        for xx in range(width):
            ref = log_frames[0, yy, xx]
            last = np.int64(-(1 << 62))
            c_on = th_on[yy, xx]
            c_off = th_off[yy, xx]
            for f in range(1, n_frames):
                a = log_frames[f - 1, yy, xx]
                b = log_frames[f, yy, xx]
                t0 = times[f - 1]
                dt = times[f] - t0
                while True:
                    if b - ref >= c_on:
                        level = ref + c_on
                        pol = 1
                    elif ref - b >= c_off:
                        level = ref - c_off
                        pol = 0
                    else:
                        break
                    frac = (level - a) / (b - a) if b != a else 1.0
                    t = t0 + np.int64(np.floor(frac * dt))
                    ref = level
                    if t - last < refractory:
                        continue
                    last = t
                    if emit:
                        out_t[n] = t
                        out_x[n] = xx
                        out_y[n] = yy
                        out_p[n] = pol
                    n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _crossing_bound(log_frames, th_on, th_off):  # pragma: no cover - compiled
    # An upper bound on the crossings `_count_or_emit` visits: between frames a and b the
    # reference starts less than one threshold from a, so at most ceil(|b - a| / c) crossings.
    n_frames, height, width = log_frames.shape
    total = 0.0
    for yy in range(height):
        for xx in range(width):
            c = min(th_on[yy, xx], th_off[yy, xx])
            for f in range(1, n_frames):
                total += np.ceil(abs(log_frames[f, yy, xx] - log_frames[f - 1, yy, xx]) / c)
    return total


def _thresholds(config: CameraConfig, shape: tuple[int, int], rng: np.random.Generator):
    on = np.full(shape, config.threshold_on)
    off = np.full(shape, config.threshold_off)
    if config.mismatch > 0:
        on = on * (1 + config.mismatch * rng.standard_normal(shape))
        off = off * (1 + config.mismatch * rng.standard_normal(shape))
    floor = 0.01 * min(config.threshold_on, config.threshold_off)
    return np.maximum(on, floor), np.maximum(off, floor)


def _noise(config, shape, t_start, t_end, rng) -> np.ndarray:
    """Shot (random polarity) and leak (ON) events as independent Poisson processes."""
    height, width = shape
    duration_s = (t_end - t_start) * 1e-6
    parts = []
    for rate, polarity in ((config.shot_noise_hz, None), (config.leak_hz, 1)):
        if rate <= 0 or duration_s <= 0:
            continue
        n = rng.poisson(rate * height * width * duration_s)
        ev = np.empty(n, dtype=EVENT_DTYPE)
        ev["t"] = rng.integers(t_start, t_end, n)
        ev["x"] = rng.integers(0, width, n)
        ev["y"] = rng.integers(0, height, n)
        ev["p"] = rng.integers(0, 2, n) if polarity is None else polarity
        parts.append(ev)
    return np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)


def simulate(
    frames: np.ndarray,
    times_us: np.ndarray,
    config: CameraConfig | None = None,
    *,
    seed: int | None = 0,
) -> np.ndarray:
    """Events from intensity ``frames`` ``[N, H, W]`` (linear intensity, any non-negative scale;
    uint8 is fine) taken at increasing ``times_us``. Same seed, same events.

    Example:
        >>> ev = simulate(video, np.arange(len(video)) * 1000, CameraConfig(threshold_on=0.15))
    """
    config = config or CameraConfig()
    frames = np.asarray(frames)
    raw_times = np.asarray(times_us)
    if raw_times.dtype.kind == "f" and not np.isfinite(raw_times).all():
        raise ValidationError("frame times must be finite microseconds")  # NaN casts to -2^63
    times = raw_times.astype(np.int64)
    if frames.ndim != 3 or len(frames) < 1:
        raise ValidationError(f"frames must be [N, H, W] with N >= 1, got shape {frames.shape}")
    check_size(frames.shape)  # before anything reads the frames
    if len(times) != len(frames):
        raise ValidationError(f"{len(frames)} frames but {len(times)} timestamps")
    if (np.diff(times) <= 0).any():
        raise ValidationError("frame times must increase strictly")
    if frames.size and (frames.min() < 0 or not np.isfinite(frames).all()):
        raise ValidationError("intensities must be finite and >= 0")
    height, width = frames.shape[1:]
    noise_rate = (config.shot_noise_hz + config.leak_hz) * height * width
    expected_noise = noise_rate * max(int(times[-1]) - int(times[0]), 0) * 1e-6
    limits.check_size(
        (math.ceil(expected_noise),),
        EVENT_DTYPE,
        f"shot noise and leak at {config.shot_noise_hz + config.leak_hz:g} Hz per pixel on "
        f"{width}x{height} pixels for {(times[-1] - times[0]) * 1e-6:g} s give about "
        f"{expected_noise:.3g} events, which",
        "lower the rates or simulate shorter clips",
    )
    rng = np.random.default_rng(seed)
    log_frames = np.log(frames.astype(np.float64) + config.log_eps)
    th_on, th_off = _thresholds(config, frames.shape[1:], rng)
    crossings = _crossing_bound(log_frames, th_on, th_off)
    limits.check_size(
        (math.ceil(crossings + expected_noise),),
        EVENT_DTYPE,
        f"contrast thresholds {config.threshold_on:g}/{config.threshold_off:g} on these "
        f"{len(frames)} frames allow up to {crossings:.3g} threshold crossings, whose events",
        "raise the thresholds or simulate shorter clips",
    )
    args = (log_frames, times, th_on, th_off, np.int64(config.refractory_us))
    # the kernel writes straight into the record fields (strided views): no temporaries
    none = np.zeros(0, dtype=EVENT_DTYPE)
    n = _count_or_emit(*args, False, none["t"], none["x"], none["y"], none["p"])
    out = np.empty(n, dtype=EVENT_DTYPE)
    _count_or_emit(*args, True, out["t"], out["x"], out["y"], out["p"])
    noise = _noise(config, frames.shape[1:], int(times[0]), int(times[-1]), rng)
    events = np.concatenate([out, noise]) if len(noise) else out
    return events[np.argsort(events["t"], kind="stable")]


def check_size(shape: tuple[int, ...]) -> None:
    """Raise `ConfigError` when frames of ``shape`` ``[N, H, W]`` are more than one simulation
    takes: a side outside 1..65536 (`limits.sensor_dims`) or a float64 copy over
    `limits.MAX_BYTES` (`limits.check_size`; the simulation works on one)."""
    n, height, width = (int(v) for v in shape)
    limits.sensor_dims((width, height), what=f"the frames' sensor size {width}x{height}")
    limits.check_size(
        (n, height, width),
        np.float64,
        f"the float64 copy of {n} frames of {width}x{height} pixels",
        "simulate shorter clips or smaller frames",
    )
