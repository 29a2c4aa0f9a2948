"""Shared by the Norse modules: parameter tuples hold 0-d tensors (plain numbers given by the
user become float32 tensors so every cell computes in float32, as Norse's defaults do), and
the one time loop of the sequence layers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .....errors import ConfigError

P = TypeVar("P", bound=tuple)

_METHODS = ("super",)


def tensor_fields(p: P, numeric: tuple[str, ...]) -> P:
    """``p`` with each field in ``numeric`` a tensor (numbers become float32 0-d tensors)."""
    values: dict[str, Any] = {}
    for name in numeric:
        value = getattr(p, name)
        if not isinstance(value, torch.Tensor):
            try:
                value = torch.as_tensor(float(value))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{type(p).__name__}.{name} must be a number or a tensor, "
                                  f"got {value!r}") from exc  # fmt: skip
        values[name] = value
    method = getattr(p, "method", None)
    if method is not None and method not in _METHODS:
        raise ConfigError(
            f"surrogate method {method!r} is not available; spikestream has Norse's 'super' "
            "(SuperSpike, which ignores alpha as Norse 1.1 does)"
        )
    return p._replace(**values)  # type: ignore[attr-defined]


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
