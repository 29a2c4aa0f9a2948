"""``norse.torch.module.sequential.SequentialState``: a ``Sequential`` that threads each stateful
module's state (a module whose ``forward`` takes a ``state`` argument, or a torch RNN)."""

from __future__ import annotations

import inspect
from typing import Any

import torch


class SequentialState(torch.nn.Sequential):
    """``out, states = seq(x, states=None)``: stateful modules get ``(x, states[k])`` and
    return ``(x, new state)``; the others get ``x``. ``states`` is a list with one entry per
    module (None for the stateless ones)."""

    def __init__(self, *args: torch.nn.Module) -> None:
        super().__init__(*args)
        self.stateful_layers = [
            "state" in inspect.signature(m.forward).parameters or isinstance(m, torch.nn.RNNBase)
            for m in self
        ]

    def forward(self, input_tensor: Any, state: list[Any] | None = None):
        states: list[Any] = [None] * len(self) if state is None else list(state)
        for k, module in enumerate(self):
            if self.stateful_layers[k]:
                input_tensor, states[k] = module(input_tensor, states[k])
            else:
                input_tensor = module(input_tensor)
        return input_tensor, states


__all__ = ["SequentialState"]
