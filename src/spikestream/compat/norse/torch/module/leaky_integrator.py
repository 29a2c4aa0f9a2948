"""``norse.torch.module.leaky_integrator``: the leaky-integrator readout (no threshold; the
output is the membrane ``v``) with Norse 1.1's equations and defaults."""

from __future__ import annotations

from typing import Any

import torch

from .....snn import norse as _norse
from ._params import check_kwargs, run_sequence, tensor_fields

LIParameters = _norse.LIParameters

_NUMERIC = ("tau_syn_inv", "tau_mem_inv", "v_leak")


LIState = _norse.LIState  # v, i: spikestream's own state type (see lif.py)


class LICell(_norse.LICell):
    """``v, LIState = cell(x, state)``."""

    def __init__(self, p: LIParameters | None = None, dt: float = 0.001, **kwargs: Any):
        check_kwargs("LICell", kwargs)
        p = tensor_fields(p or LIParameters(), _NUMERIC, cell="LICell", expected=LIParameters)
        super().__init__(p, dt)


class LI(torch.nn.Module):
    """``LICell`` over a ``[T, ...]`` sequence: ``v_seq, LIState = li(x_seq)``."""

    def __init__(self, p: LIParameters | None = None, dt: float = 0.001, **kwargs: Any):
        super().__init__()
        check_kwargs("LI", kwargs)
        self.cell = LICell(p, dt)
        self.p, self.dt = self.cell.p, dt

    def forward(self, input_tensor: torch.Tensor, state: LIState | None = None):
        return run_sequence(self.cell, input_tensor, state)


__all__ = ["LI", "LICell", "LIParameters", "LIState"]
