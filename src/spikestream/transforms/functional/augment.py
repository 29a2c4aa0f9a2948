"""Augmentations on canonical events: pure functions; randomness comes from an explicit
``numpy.random.Generator`` so a seed reproduces a sample."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import ConfigError, ValidationError
from ...events import first_outside, limits, require_sorted

#: The largest float64 below 2^63 (2^63 - 1024): float times clipped to it fit in int64.
T_MAX_FLOAT = float(np.nextafter(2.0**63, 0))


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def _number(name: str, value: object) -> float:
    """``value`` as a float, else a ConfigError naming the argument (a string such as "1" is
    refused, not parsed; the callers check the range)."""
    if not isinstance(value, str | bytes | bool | np.bool_):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise ConfigError(f"{name} must be a number, got {value!r}")


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


# Tonic 1.7's jitter, noise and pixel-dropping transforms (``tonic.transforms.SpatialJitter``,
# ``TimeJitter``, ``UniformNoise``, ``DropPixel``), vectorised; the random ones draw from an
# explicit generator.


def _to_field(values: np.ndarray, dtype: np.dtype, name: str, fix: str) -> np.ndarray:
    """Float ``values`` written into a field of ``dtype`` as numpy's assignment does (integer
    fields truncate toward zero), refusing what the field cannot hold instead of wrapping."""
    if dtype.kind in "iu":
        values = np.trunc(values)
        info = np.iinfo(dtype)
        # float(info.max) + 1 is exact (a power of two) where float(info.max) may round up
        if len(values) and (values.min() < info.min or values.max() >= float(info.max) + 1):
            raise ConfigError(
                f"{name} values from {values.min():.0f} to {values.max():.0f} do not fit the "
                f"{dtype} field: {fix}"
            )
    return values.astype(dtype)


def _signed_unless(events: np.ndarray, names: str, dropping: bool, option: str) -> None:
    """Without dropping, a value moved below 0 must stay; an unsigned field cannot hold it. The
    check is on the dtype, not on one draw, so that a pipeline fails at once, not now and then."""
    for name in names:
        if not dropping and events.dtype[name].kind == "u":
            raise ConfigError(
                f"{name} is unsigned ({events.dtype[name]}): a value jittered below 0 cannot be "
                f"stored; pass {option}=True to drop such events, or cast {name} to a signed "
                f"dtype (Tonic's events use int16 x, y and int64 t)"
            )


def tonic_spatial_jitter(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    var_x: float = 1.0,
    var_y: float = 1.0,
    sigma_xy: float = 0.0,
    clip_outliers: bool = False,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Tonic 1.7's ``SpatialJitter``: each event's (x, y) plus one draw from the Gaussian of
    covariance ``[[var_x, sigma_xy], [sigma_xy, var_y]]``, written back in the fields' dtypes
    (integer fields truncate toward zero, so -0.7 becomes 0). With ``clip_outliers`` the events
    then outside ``[0, W) x [0, H)`` are dropped; without it they are kept, which needs signed
    x and y fields. Example: ``tonic_spatial_jitter(events, (34, 34), clip_outliers=True)``."""
    width, height = limits.sensor_dims(sensor_size)
    var_x, var_y = _number("var_x", var_x), _number("var_y", var_y)
    sigma_xy = _number("sigma_xy", sigma_xy)
    cov = np.array([var_x, var_y, sigma_xy], dtype=np.float64)
    if not np.isfinite(cov).all() or var_x < 0 or var_y < 0 or sigma_xy**2 > var_x * var_y:
        raise ConfigError(
            "the jitter covariance [[var_x, sigma_xy], [sigma_xy, var_y]] must be finite and "
            f"positive semi-definite (var_x, var_y >= 0, sigma_xy**2 <= var_x * var_y), got "
            f"var_x={var_x}, var_y={var_y}, sigma_xy={sigma_xy}"
        )
    _signed_unless(events, "xy", clip_outliers, "clip_outliers")
    # (dx, dy) = L z with L L^T = cov (its 2x2 Cholesky factor, written out so that a zero
    # variance works too): 5x faster than Generator.multivariate_normal's SVD and matrix product
    sx = float(np.sqrt(var_x))
    lyx = sigma_xy / sx if sx > 0 else 0.0
    ly = float(np.sqrt(max(var_y - lyx * lyx, 0.0)))
    z = _rng(rng).standard_normal((2, len(events)))
    x = events["x"] + sx * z[0]
    y = events["y"] + (lyx * z[0] + ly * z[1])
    if events.dtype["x"].kind in "iu":
        x = np.trunc(x)
    if events.dtype["y"].kind in "iu":
        y = np.trunc(y)
    if clip_outliers:  # on the stored (truncated) values, as Tonic compares them
        keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        out, x, y = events[keep], x[keep], y[keep]
    else:
        out = events.copy()
    fix = "pass clip_outliers=True or use a wider signed field"
    out["x"] = _to_field(x, events.dtype["x"], "jittered x", fix)
    out["y"] = _to_field(y, events.dtype["y"], "jittered y", fix)
    return out


def tonic_time_jitter(
    events: np.ndarray,
    std: float,
    clip_negative: bool = True,
    sort_timestamps: bool = False,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Tonic 1.7's ``TimeJitter``: t plus a draw from N(0, ``std``) per event, summed in float64
    and written back in t's dtype (an integer t truncates toward zero); ``clip_negative`` drops
    the events whose stored t is then below 0, ``sort_timestamps`` re-sorts by t (stable, where
    Tonic's sort is not). Without ``clip_negative`` t must be a signed field."""
    std = _number("std", std)
    if not 0 <= std < float("inf"):
        raise ConfigError(f"time jitter std must be a finite number >= 0, got {std}")
    _signed_unless(events, "t", clip_negative, "clip_negative")
    t = events["t"] + _rng(rng).normal(0.0, std, len(events))
    if events.dtype["t"].kind in "iu":
        t = np.trunc(t)
    if clip_negative:
        keep = t >= 0
        out, t = events[keep], t[keep]
    else:
        out = events.copy()
    fix = "use a smaller std or a wider signed t field"
    out["t"] = _to_field(t, events.dtype["t"], "jittered t", fix)
    return out[np.argsort(out["t"], kind="stable")] if sort_timestamps else out


def uniform_noise(
    events: np.ndarray,
    sensor_size: tuple[int, int, int],
    n: int,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Tonic 1.7's ``UniformNoise``: ``n`` noise events added, x uniform in ``[0, W)``, y in
    ``[0, H)``, t in ``[t_min, t_max)`` of the events (written in the fields' dtypes: integer
    fields truncate) and p a whole number in ``[0, P)``; then all sorted by t (stable: on equal
    times the input events come first). Other fields are 0. An empty input is returned as it
    is (it has no time range), as in Tonic."""
    try:
        size = () if isinstance(sensor_size, str | bytes) else tuple(sensor_size)
    except TypeError:  # a number
        size = ()
    if len(size) != 3:
        raise ConfigError(f"sensor_size is Tonic's (W, H, P), got {sensor_size!r}")
    width, height = limits.sensor_dims(size[:2])
    polarities = _number("sensor_size polarities", size[2])
    if not (polarities >= 1 and polarities.is_integer()):
        raise ConfigError(f"sensor_size polarities must be a whole number >= 1, got "
                          f"{size[2]!r}")  # fmt: skip
    n_pol = int(polarities)
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"the number of noise events n must be a whole number >= 0, got {n!r}")
    if len(events) == 0:
        return events.copy()
    g = _rng(rng)
    noise = np.zeros(int(n), dtype=events.dtype)
    t = events["t"]
    bounds = {"x": (0, width), "y": (0, height), "t": (t.min(), t.max())}
    fix = "the sensor_size does not fit the events' fields"
    for name in events.dtype.names or ():
        if name == "p":
            # a whole polarity: Tonic's uniform float cast to a bool p is True almost always
            noise["p"] = g.integers(0, n_pol, int(n)).astype(events.dtype["p"])
        elif name in bounds:
            low, high = bounds[name]
            values = g.uniform(float(low), float(high), int(n))
            noise[name] = _to_field(values, events.dtype[name], f"noise {name}", fix)
    # the noise sorted first (stable: ties keep their draw order), so that the stable sort of
    # input + noise is a merge of two runs for timsort; take, not fancy indexing, copies the
    # records (20x faster on packed dtypes)
    noise = noise.take(np.argsort(noise["t"], kind="stable"))
    both = _concat(events, noise)
    return both.take(np.argsort(both["t"], kind="stable"))


def _concat(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two record arrays of one dtype end to end, copied as raw bytes: numpy copies a packed
    structured dtype field by field, 20x slower."""
    if first.dtype.hasobject:
        return np.concatenate((first, second))
    raw = np.dtype((np.void, first.dtype.itemsize))
    return np.concatenate((first.view(raw), second.view(raw))).view(first.dtype)


def _pixel_keys(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """One number per (x, y), equal exactly when both coordinates are, and the function taking
    keys back to (x, y): packed into int64 for integer coordinates (sorting those is ~6x
    faster), complex ``x + iy`` otherwise. Either sorts x-major, then y."""
    x, y = np.asarray(x), np.asarray(y)
    if (
        len(x)
        and x.dtype.kind in "iub"
        and y.dtype.kind in "iub"
        and np.can_cast(x.dtype, np.int64)
        and np.can_cast(y.dtype, np.int64)
    ):
        x0, y0 = int(x.min()), int(y.min())
        span = int(y.max()) - y0 + 1
        if (int(x.max()) - x0 + 1) * span < 2**63:
            keys = (x.astype(np.int64) - x0) * span + (y.astype(np.int64) - y0)
            return keys, lambda k: (k // span + x0, k % span + y0)
    return x.astype(np.float64) + 1j * y.astype(np.float64), lambda k: (k.real, k.imag)


def _coordinates(coordinates: object) -> np.ndarray:
    """``[K, 2]`` (x, y) rows from a list of pairs (K may be 0)."""
    try:
        pairs = np.asarray(coordinates)
        if pairs.size == 0:
            return np.zeros((0, 2), dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iuf":
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            f"coordinates must be (x, y) pairs, e.g. [[10, 10], [10, 11]], got {coordinates!r}"
        ) from None
    return pairs


def hot_pixels(events: np.ndarray, hot_pixel_frequency: float) -> np.ndarray:
    """Tonic 1.7's ``identify_hot_pixel``: the ``[K, 2]`` (x, y) of the pixels with more than
    ``hot_pixel_frequency`` (Hz) times the recording's duration (t in µs, first to last
    timestamp) events, x-major. A recording of one timestamp has duration 0: every pixel that fired
    is hot, as in Tonic."""
    hot_pixel_frequency = _number("hot_pixel_frequency", hot_pixel_frequency)
    if not 0 < hot_pixel_frequency < float("inf"):
        raise ConfigError(f"hot_pixel_frequency must be a number of Hz > 0, got "
                          f"{hot_pixel_frequency}")  # fmt: skip
    if len(events) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    t = events["t"]
    # Tonic takes t[-1] - t[0]: the same on sorted events, and not negative on unsorted ones
    max_count = hot_pixel_frequency * (float(t.max()) - float(t.min())) * 1e-6
    x, y = events["x"], events["y"]
    keys, unpack = _pixel_keys(x, y)
    unique, counts = np.unique(keys, return_counts=True)  # return_index would cost 20x more
    hot_x, hot_y = unpack(unique[counts > max_count])
    return np.column_stack((hot_x, hot_y)).astype(np.result_type(x.dtype, y.dtype))


def drop_pixels(events: np.ndarray, coordinates: object) -> np.ndarray:
    """Tonic 1.7's ``drop_pixel_numpy``: the events at none of the (x, y) ``coordinates`` (a
    copy, order kept)."""
    pairs = _coordinates(coordinates)
    if len(pairs) == 0 or len(events) == 0:
        return events.copy()
    x, y = events["x"], events["y"]
    dropped = _dropped_by_table(x, y, pairs)
    if dropped is not None:
        return np.compress(~dropped, events)  # compress copies the records 7x faster than [mask]
    # the events whose x and whose y are each among the coordinates' (a cheap superset), then
    # the exact (x, y) test on those only
    maybe = np.flatnonzero(np.isin(x, pairs[:, 0]) & np.isin(y, pairs[:, 1]))
    keys, _ = _pixel_keys(np.concatenate((x[maybe], pairs[:, 0])),
                          np.concatenate((y[maybe], pairs[:, 1])))  # fmt: skip
    keep = np.ones(len(events), dtype=bool)
    keep[maybe[np.isin(keys[: len(maybe)], keys[len(maybe) :])]] = False
    return np.compress(keep, events)


#: The largest lookup table `drop_pixels` builds (bool cells: 16 MiB, a 4096x4096 sensor).
_TABLE_CELLS = 2**24


def _dropped_by_table(x: np.ndarray, y: np.ndarray, pairs: np.ndarray) -> np.ndarray | None:
    """Which events sit at one of ``pairs``, for integer fields and whole-number coordinates
    >= 0: a bool table over the coordinates' box, bordered by False cells where every event
    off the box is clipped to, read once per event (O(N + K), no sort). None where it does not
    apply (float or negative coordinates, a box over `_TABLE_CELLS`): the caller's general
    test is exact there."""
    if x.dtype.kind not in "iu" or y.dtype.kind not in "iu" or pairs.dtype.kind not in "iu":
        return None
    if pairs.min() < 0:
        return None
    width, height = int(pairs[:, 0].max()) + 1, int(pairs[:, 1].max()) + 1
    if (width + 2) * (height + 2) > _TABLE_CELLS:
        return None
    table = np.zeros((height + 2, width + 2), dtype=bool)
    table[pairs[:, 1].astype(np.intp) + 1, pairs[:, 0].astype(np.intp) + 1] = True
    # uint64 values past 2^63 wrap to negative here and land on the border too
    col = np.clip(x.astype(np.intp), -1, width)
    row = np.clip(y.astype(np.intp), -1, height)
    row += 1
    row *= width + 2
    row += col + 1
    return table.ravel()[row]


def _raster(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ConfigError(f"frames must be [P, H, W] or [T, P, H, W], got shape {frames.shape}")
    return frames


def hot_pixels_in_frames(frames: np.ndarray, max_count: float) -> np.ndarray:
    """Tonic 1.7's ``identify_hot_pixel_raster``: the ``[K, 2]`` (x, y) of the pixels whose
    count summed over polarities (and frames) exceeds ``max_count``, y-major."""
    frames = _raster(frames)
    max_count = _number("max_count", max_count)
    if not max_count < float("inf"):
        raise ConfigError(f"max_count must be a finite number, got {max_count}")
    counts = frames.reshape(-1, *frames.shape[-2:]).sum(axis=0, dtype=np.float64)
    y, x = np.nonzero(counts > max_count)
    return np.column_stack((x, y))


def drop_pixels_in_frames(frames: np.ndarray, coordinates: object) -> np.ndarray:
    """Tonic 1.7's ``drop_pixel_raster`` on a copy: every frame and polarity of each (x, y)
    set to 0. Coordinates outside the frame raise (Tonic's negative ones would wrap)."""
    frames = _raster(frames)
    pairs = _coordinates(coordinates)
    height, width = frames.shape[-2:]
    x, y = pairs[:, 0], pairs[:, 1]
    if len(pairs) and (
        (pairs != np.trunc(pairs)).any() or x.min() < 0 or y.min() < 0
        or x.max() >= width or y.max() >= height
    ):  # fmt: skip
        raise ConfigError(f"coordinates must be whole pixels inside the {width}x{height} frame, "
                          f"got {pairs.tolist()}")  # fmt: skip
    out = frames.copy()
    out[..., y.astype(np.intp), x.astype(np.intp)] = 0
    return out


__all__ = [
    "center_crop",
    "crop",
    "downsample",
    "drop_area",
    "drop_events",
    "drop_pixels",
    "drop_pixels_in_frames",
    "drop_time",
    "flip_lr",
    "flip_polarity",
    "flip_ud",
    "hot_pixels",
    "hot_pixels_in_frames",
    "merge_polarities",
    "random_crop",
    "random_translate",
    "spatial_jitter",
    "temporal_jitter",
    "tonic_spatial_jitter",
    "tonic_time_jitter",
    "translate",
    "uniform_noise",
]
