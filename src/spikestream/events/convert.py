"""Conversions from canonical events back to other libraries' layouts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ConfigError
from .dtype import FIELDS, TONIC_DTYPE

if TYPE_CHECKING:
    import torch

PolarityEncoding = Literal["01", "bool", "pm1"]


def to_dict(events: np.ndarray, *, contiguous: bool = False) -> dict[str, np.ndarray]:
    """SpikingJelly-style ``{'t', 'x', 'y', 'p'}``.

    Zero-copy: each value is a strided view into ``events`` (so writes show through). Pass
    ``contiguous=True`` for independent, contiguous copies.
    """
    if contiguous:
        return {k: np.ascontiguousarray(events[k]) for k in FIELDS}
    return {k: events[k] for k in FIELDS}


def encode_polarity(p: np.ndarray, encoding: PolarityEncoding) -> np.ndarray:
    """Canonical 0/1 polarity in another encoding: ``'01'`` (as is), ``'bool'`` or ``'pm1'``."""
    if encoding == "01":
        return p
    if encoding == "bool":
        return p.astype(np.bool_)
    if encoding == "pm1":
        return p.astype(np.int8) * 2 - 1
    raise ConfigError(f"unknown polarity encoding {encoding!r}; expected '01', 'bool' or 'pm1'")


def to_structured(
    events: np.ndarray,
    dtype: np.dtype | Any = TONIC_DTYPE,
    *,
    polarity: PolarityEncoding | None = None,
) -> np.ndarray:
    """A copy of ``events`` in another structured dtype (Tonic's by default).

    Fields are matched by name; the polarity encoding follows the target field's dtype (bool for
    a bool field, else 0/1) unless ``polarity`` names one. Values that do not fit the target
    dtype raise `ConfigError`.
    """
    dtype = np.dtype(dtype)
    if dtype.names is None or not set(FIELDS) <= set(dtype.names):
        raise ConfigError(f"target dtype must have fields t, x, y, p; got {dtype}")
    out = np.zeros(len(events), dtype=dtype)
    for name in ("t", "x", "y"):
        src = events[name]
        info = np.iinfo(dtype[name]) if dtype[name].kind in "iu" else None
        if info is not None and len(src) and (src.max() > info.max or src.min() < info.min):
            raise ConfigError(f"field {name!r} does not fit target dtype {dtype[name]}")
        out[name] = src
    enc = polarity or ("bool" if dtype["p"] == np.bool_ else "01")
    out["p"] = encode_polarity(events["p"], enc)
    return out


def to_torch(
    events: np.ndarray, *, dtype: torch.dtype | Literal["native"] | None = None
) -> dict[str, torch.Tensor]:
    """``{'t', 'x', 'y', 'p'}`` as torch tensors that index and compute.

    ``t`` is int64 and shares memory with ``events``. ``x``, ``y``, ``p`` are int64 copies by
    default (``dtype=None``): torch cannot index with uint16 tensors nor do most arithmetic on
    them, and it reads a uint8 index tensor as a mask. Give another ``dtype`` (e.g.
    ``torch.int32``, ``torch.float32``) for copies of that type, or ``dtype="native"`` for
    zero-copy uint16 / uint8 tensors (storage only).
    """
    import torch

    out = {k: torch.from_numpy(events[k]) for k in FIELDS}
    if dtype == "native":
        return out
    if isinstance(dtype, str):
        raise ConfigError(f"dtype must be a torch dtype, None or 'native', got {dtype!r}")
    target = torch.int64 if dtype is None else dtype
    # numpy widens the strided field (torch cannot cast uint16 on every build), torch wraps it
    out.update(
        {
            k: torch.from_numpy(np.ascontiguousarray(events[k], dtype=np.int64)).to(target)
            for k in ("x", "y", "p")
        }
    )
    return out


def to_tensor(events: np.ndarray) -> torch.Tensor:
    """An ``[N, 4]`` int64 tensor with columns (t, x, y, p) (a copy)."""
    import torch

    out = torch.empty((len(events), 4), dtype=torch.int64)
    for i, k in enumerate(FIELDS):
        out[:, i] = torch.from_numpy(events[k])
    return out
