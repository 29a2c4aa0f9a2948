"""Shared by the Norse modules: parameter tuples hold tensors (plain numbers given by the user
become float32 0-d tensors so every cell computes in float32, as Norse's defaults do; the LSNN
and LIFAdEx rates stay Python floats, see `tensor_fields`), and the one time loop of the
sequence layers."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .....errors import ConfigError

P = TypeVar("P", bound=tuple)

_METHODS = ("super",)


def _check_type(cell: str, p: Any, expected: type) -> None:
    # another cell's parameters (LIFParameters for an LSNNCell) lack fields: refuse by type
    if not isinstance(p, expected):
        raise ConfigError(f"{cell} takes {expected.__name__}, got {type(p).__name__}")


def tensor_fields(p: P, numeric: tuple[str, ...], numbers: tuple[str, ...] = (), *,
                  cell: str, expected: type) -> P:  # fmt: skip
    """``p`` (which must be an ``expected``, the parameters ``cell`` takes) with each field in
    ``numeric`` a tensor (numbers become float32 0-d tensors), except the fields in
    ``numbers``, which stay Python floats when given as numbers (rates whose ``dt * rate``
    Norse forms in double precision). Bools are refused."""
    _check_type(cell, p, expected)
    values: dict[str, Any] = {}
    for name in numeric:
        value = getattr(p, name)
        is_bool = isinstance(value, bool) or (
            isinstance(value, torch.Tensor) and value.dtype == torch.bool
        )
        if is_bool:
            raise ConfigError(f"{type(p).__name__}.{name} must be a number or a float tensor, "
                              f"got the bool {value!r}")  # fmt: skip
        if not isinstance(value, torch.Tensor):
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{type(p).__name__}.{name} must be a number or a tensor, "
                                  f"got {value!r}") from exc  # fmt: skip
            if name not in numbers:
                value = torch.as_tensor(value)
        values[name] = value
    _check_method(p)
    return p._replace(**values)  # type: ignore[attr-defined]


def _check_method(p: Any) -> None:
    method = getattr(p, "method", None)
    if method is not None and method not in _METHODS:
        raise ConfigError(
            f"surrogate method {method!r} is not available; spikestream has Norse's 'super' "
            "(SuperSpike, which ignores alpha as Norse 1.1 does)"
        )


def number_fields(p: P, numeric: tuple[str, ...], *, cell: str, expected: type) -> P:
    """``p`` checked, unchanged: an ``expected`` with each field in ``numeric`` a number or a
    tensor (Izhikevich's parameters stay Python floats, as Norse keeps them, so
    ``tau_inv * dt`` rounds as there)."""
    _check_type(cell, p, expected)
    for name in numeric:
        value = getattr(p, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
            raise ConfigError(f"{type(p).__name__}.{name} must be a number or a tensor, "
                              f"got {value!r}")  # fmt: skip
    _check_method(p)
    return p


def check_dt(cls: str, dt: Any) -> float:
    """``dt`` as a float: a finite number > 0 (seconds)."""
    try:
        value = float(dt)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls}: dt must be a number of seconds > 0, got {dt!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{cls}: dt must be a finite number of seconds > 0, got {dt!r}")
    return value


def check_sizes(cls: str, **sizes: Any) -> tuple[int, ...]:
    """Layer sizes as ints >= 1 (any integer type: int, numpy or 0-d tensor)."""
    out = []
    for name, value in sizes.items():
        try:
            size = operator.index(value) if not isinstance(value, bool) else 0
        except TypeError:
            size = 0
        if size < 1:
            raise ConfigError(f"{cls}: {name} must be an int >= 1, got {value!r}")
        out.append(size)
    return tuple(out)


def refuse_adjoint(cls: str, adjoint: bool) -> None:
    if adjoint:
        raise ConfigError(
            f"{cls}: adjoint=True (Norse's adjoint solver) is not provided; leave "
            "adjoint=False (ordinary backpropagation through time)"
        )


def check_kwargs(cls: str, kwargs: dict[str, Any]) -> None:
    """Norse's cells take more keyword arguments than spikestream models; refuse them by name
    rather than ignore them."""
    if kwargs:
        raise ConfigError(
            f"{cls}: argument(s) {sorted(kwargs)} are not supported by spikestream's Norse "
            "layer (it takes p, dt and, for recurrent cells, input_weights, recurrent_weights, "
            "autapses)"
        )


def run_sequence(
    step: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]], inputs: torch.Tensor, state: Any
) -> tuple[torch.Tensor, Any]:
    """``out, state = step(x, state)`` for each ``x`` along dim 0 of ``inputs``:
    ``(outputs stacked on dim 0, final state)``."""
    outputs = []
    for x in inputs:
        out, state = step(x, state)
        outputs.append(out)
    return torch.stack(outputs), state
