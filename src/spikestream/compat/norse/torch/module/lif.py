"""``norse.torch.module.lif``: current-based LIF cells (one step per call) and layers (a
``[T, ...]`` sequence per call) with Norse 1.1's equations, defaults, state types and
state_dict keys (``input_weights``, ``recurrent_weights``), built on `spikestream.snn.norse`.

* ``LIFCell(p, dt)``: ``z, LIFFeedForwardState(v, i) = cell(x, state)``; the gradient flows
  through the reset, as in Norse.
* ``LIFRecurrentCell(input_size, hidden_size, p, input_weights=, recurrent_weights=,
  autapses=False, dt=)``: ``z, LIFState(z, v, i) = cell(x, state)``; the reset is detached and
  without autapses the recurrent diagonal is zeroed (weights and gradient), as in Norse.
* ``LIF`` / ``LIFRecurrent``: the same over ``[T, ...]``: ``(z_seq, final state)``.

Spikes are strict (``v - v_th > 0``) with Norse's ``'super'`` surrogate
``1 / (|x| + 1)^2`` (``alpha`` unused, as in Norse 1.1).
"""

from __future__ import annotations

from typing import Any

import torch

from .....snn import norse as _norse
from ._params import check_kwargs, run_sequence, tensor_fields

LIFParameters = _norse.LIFParameters

_NUMERIC = ("tau_syn_inv", "tau_mem_inv", "v_leak", "v_th", "v_reset")


# Norse's state types are spikestream's own (the same fields, in Norse's order): a state
# moves between these cells and `spikestream.snn.norse`'s (a live engine's) unchanged. Their
# class names are the core's: a feed-forward state prints as LIFState(v=..., i=...).
LIFState = _norse.LIFRecurrentState  # z, v, i
LIFFeedForwardState = _norse.LIFState  # v, i


class LIFCell(_norse.LIFCell):
    def __init__(self, p: LIFParameters | None = None, dt: float = 0.001, **kwargs: Any):
        check_kwargs("LIFCell", kwargs)
        p = tensor_fields(p or LIFParameters(), _NUMERIC, cell="LIFCell", expected=LIFParameters)
        super().__init__(p, dt)


class LIFRecurrentCell(_norse.LIFRecurrentCell):
    def __init__(self, input_size: int, hidden_size: int, p: LIFParameters | None = None,
                 input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None, autapses: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        check_kwargs("LIFRecurrentCell", kwargs)
        p = tensor_fields(p or LIFParameters(), _NUMERIC, cell="LIFRecurrentCell",
                          expected=LIFParameters)  # fmt: skip
        super().__init__(int(input_size), int(hidden_size), p, dt, autapses, input_weights,
                         recurrent_weights)  # fmt: skip
        self.input_size = int(input_size)


class LIF(torch.nn.Module):
    """``LIFCell`` over a ``[T, ...]`` sequence: ``z_seq, LIFFeedForwardState = lif(x_seq)``."""

    def __init__(self, p: LIFParameters | None = None, dt: float = 0.001, **kwargs: Any):
        super().__init__()
        check_kwargs("LIF", kwargs)
        self.cell = LIFCell(p, dt)
        self.p, self.dt = self.cell.p, dt

    def forward(self, input_tensor: torch.Tensor, state: LIFFeedForwardState | None = None):
        return run_sequence(self.cell, input_tensor, state)


class LIFRecurrent(LIFRecurrentCell):
    """``LIFRecurrentCell`` over a ``[T, N, input_size]`` sequence:
    ``z_seq, LIFState = layer(x_seq)`` (same weights and state_dict keys as the cell)."""

    def forward(self, input_tensor: torch.Tensor, state: Any = None):
        return run_sequence(super().forward, input_tensor, state)


__all__ = [
    "LIF",
    "LIFCell",
    "LIFFeedForwardState",
    "LIFParameters",
    "LIFRecurrent",
    "LIFRecurrentCell",
    "LIFState",
]
