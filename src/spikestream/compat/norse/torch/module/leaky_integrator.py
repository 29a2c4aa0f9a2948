"""``norse.torch.module.leaky_integrator``: the leaky-integrator readout (no threshold; the
output is the membrane ``v``) with Norse 1.1's equations and defaults."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from .....snn import norse as _norse
from ._params import check_kwargs, tensor_fields

LIParameters = _norse.LIParameters

_NUMERIC = ("tau_syn_inv", "tau_mem_inv", "v_leak")


class LIState(NamedTuple):
    """State of a leaky integrator: membrane, synaptic current."""

    v: torch.Tensor
    i: torch.Tensor


class LICell(_norse.LICell):
    """``v, LIState = cell(x, state)``."""

    def __init__(self, p: LIParameters | None = None, dt: float = 0.001, **kwargs: Any):
        check_kwargs("LICell", kwargs)
        super().__init__(tensor_fields(p or LIParameters(), _NUMERIC), dt)

    def forward(self, input_tensor: torch.Tensor, state: Any = None):
        v, s = super().forward(input_tensor, state)
        return v, LIState(s.v, s.i)


class LI(torch.nn.Module):
    """``LICell`` over a ``[T, ...]`` sequence: ``v_seq, LIState = li(x_seq)``."""

    def __init__(self, p: LIParameters | None = None, dt: float = 0.001, **kwargs: Any):
        super().__init__()
        check_kwargs("LI", kwargs)
        self.cell = LICell(p, dt)
        self.p, self.dt = self.cell.p, dt

    def forward(self, input_tensor: torch.Tensor, state: LIState | None = None):
        outputs = []
        for x in input_tensor:
            v, state = self.cell(x, state)
            outputs.append(v)
        return torch.stack(outputs), state


__all__ = ["LI", "LICell", "LIParameters", "LIState"]
