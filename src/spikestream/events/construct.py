"""Building canonical events from separate arrays, SpikingJelly dicts and Tonic-style arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ValidationError
from .dtype import EVENT_DTYPE, is_canonical

# Field names other tools use for the same quantity (aedat: "on", DSEC: "polarity", ...).
_ALIASES: dict[str, tuple[str, ...]] = {
    "t": ("t", "ts", "timestamp", "timestamps"),
    "x": ("x",),
    "y": ("y",),
    "p": ("p", "on", "pol", "polarity"),
}


def polarity_to_uint8(p: Any) -> np.ndarray:
    """Normalise a polarity array given as bool, 0/1 or -1/+1 to uint8 0 = OFF, 1 = ON.

    The encoding is inferred from the values: any ``-1`` means the -1/+1 encoding (then 0 is
    invalid); otherwise values must be 0 or 1. Raises `ValidationError` naming the first bad index.
    """
    p = np.asarray(p)
    if p.dtype == np.bool_:
        return p.view(np.uint8) if p.flags.c_contiguous else p.astype(np.uint8)
    if p.dtype.kind not in "iuf":
        raise ValidationError(f"polarity must be bool or numeric, got dtype {p.dtype}", field="p")
    if p.size == 0:
        return np.zeros(0, dtype=np.uint8)
    if p.dtype.kind in "if" and (p < 0).any():
        bad = ~((p == -1) | (p == 1))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(
                f"polarity at index {i} is {p[i]!r}; the -1/+1 encoding allows only -1 and +1",
                index=i,
                field="p",
            )
        return (p > 0).view(np.uint8)
    bad = ~((p == 0) | (p == 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(
            f"polarity at index {i} is {p[i]!r}; expected 0/1, -1/+1 or bool", index=i, field="p"
        )
    return p.astype(np.uint8, copy=False)


def _integral(name: str, a: Any, *, lo: int, hi: int, dtype: np.dtype) -> np.ndarray:
    """Check that ``a`` holds integers in [lo, hi] and cast it to ``dtype``."""
    a = np.asarray(a)
    if a.dtype.kind not in "iuf" and a.dtype != np.bool_:
        raise ValidationError(f"field {name!r} must be numeric, got dtype {a.dtype}", field=name)
    if a.size == 0:
        return np.zeros(0, dtype=dtype)
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(
                f"field {name!r} at index {i} is {a[i]!r}, not an integer "
                f"(scale times to microseconds first, e.g. t_scale=1e6 for seconds)",
                index=i,
                field=name,
            )
    bad = (a < lo) | (a > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(
            f"field {name!r} at index {i} is {a[i]!r}, outside [{lo}, {hi}]", index=i, field=name
        )
    return a.astype(dtype, copy=False)


def make_events(
    t: Any, x: Any, y: Any, p: Any, *, t_scale: float | None = None, sort: bool = False
) -> np.ndarray:
    """Canonical events from four equal-length arrays.

    ``t`` is in microseconds unless ``t_scale`` is given (``t_scale=1e6`` for seconds, ``1e3`` for
    milliseconds); ``p`` may be bool, 0/1 or -1/+1. Times are kept in the given order: every
    function that needs sorted times (time slicing, time-based frames, voxel grid, surfaces,
    filters) raises `ValidationError` naming the first unsorted index; ``sort=True`` stably
    sorts here. Raises `ValidationError` naming the first bad index.

    Example:
        >>> ev = make_events([0, 5], [1, 2], [3, 4], [-1, 1])
        >>> ev["p"].tolist()
        [0, 1]
    """
    arrays = [np.asarray(a) for a in (t, x, y, p)]
    for name, a in zip("txyp", arrays, strict=True):
        if a.ndim != 1:
            raise ValidationError(f"field {name!r} must be 1-D, got shape {a.shape}", field=name)
    n = len(arrays[0])
    for name, a in zip("xyp", arrays[1:], strict=True):
        if len(a) != n:
            raise ValidationError(f"field {name!r} has {len(a)} values but 't' has {n}", field=name)
    t_arr = arrays[0]
    if t_scale is not None:
        t_arr = np.round(t_arr.astype(np.float64) * t_scale)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = _integral("t", t_arr, lo=-(2**63), hi=2**63 - 1, dtype=np.dtype(np.int64))
    events["x"] = _integral("x", arrays[1], lo=0, hi=65535, dtype=np.dtype(np.uint16))
    events["y"] = _integral("y", arrays[2], lo=0, hi=65535, dtype=np.dtype(np.uint16))
    events["p"] = polarity_to_uint8(arrays[3])
    if sort:
        events = sort_events(events)
    return events


def _lookup(container: Any, names: tuple[str, ...], key: str) -> Any:
    available = list(container.dtype.names) if hasattr(container, "dtype") else list(container)
    for name in names:
        if name in available:
            return container[name]
    raise ValidationError(f"no field {key!r} (or alias {names}) among {available}", field=key)


def from_dict(d: Mapping[str, Any], **kwargs: Any) -> np.ndarray:
    """Canonical events from a SpikingJelly-style dict ``{'t', 'x', 'y', 'p'}`` of arrays."""
    return make_events(*(_lookup(d, _ALIASES[k], k) for k in "txyp"), **kwargs)


def from_structured(array: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Canonical events from a structured array with fields in any order and dtype (Tonic style).

    Already-canonical input is returned as is (no copy) unless ``sort``/``t_scale`` ask for work.
    """
    if array.dtype.names is None:
        raise ValidationError(f"expected a structured array with named fields, got {array.dtype}")
    if is_canonical(array) and not kwargs.get("sort") and kwargs.get("t_scale") is None:
        return array
    return make_events(*(_lookup(array, _ALIASES[k], k) for k in "txyp"), **kwargs)


def as_events(obj: Any, **kwargs: Any) -> np.ndarray:
    """Canonical events from whatever holds them: a canonical or Tonic-style structured array, a
    dict of arrays, a `Recording`, or an ``[N, 4]`` array with columns (t, x, y, p)."""
    if hasattr(obj, "events") and hasattr(obj, "sensor_size"):
        obj = obj.events
    if isinstance(obj, Mapping):
        return from_dict(obj, **kwargs)
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor, without importing torch
        obj = obj.detach().cpu().numpy()
    arr = np.asarray(obj)
    if arr.dtype.names is not None:
        return from_structured(arr, **kwargs)
    if arr.ndim == 2 and arr.shape[1] == 4:
        return make_events(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], **kwargs)
    raise ValidationError(
        f"cannot interpret an array of dtype {arr.dtype} and shape {arr.shape} as events; "
        "expected a structured array, a dict of 't','x','y','p' or an [N, 4] (t, x, y, p) array"
    )


def sort_events(events: np.ndarray) -> np.ndarray:
    """A copy of ``events`` stably sorted by time (a no-op view when already sorted)."""
    t = events["t"]
    if len(t) < 2 or bool((t[1:] >= t[:-1]).all()):
        return events
    return events[np.argsort(t, kind="stable")]
