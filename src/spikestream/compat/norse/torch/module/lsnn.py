"""``norse.torch.module.lsnn``: LSNN cells and layers (a LIF whose threshold ``b`` jumps by
``beta`` at each spike and relaxes to ``v_th``), with Norse 1.1's equations, defaults, state
types and state_dict keys, built on `spikestream.snn.norse` (the equations are there).

* ``LSNNCell(p, dt)``: ``z, LSNNFeedForwardState(v, i, b) = cell(x, state)``; the input is a
  current that reaches ``v`` one step later, as in Norse.
* ``LSNNRecurrentCell(input_size, hidden_size, p, input_weights=, recurrent_weights=,
  autapses=False, dt=)``: ``z, LSNNState(z, v, i, b) = cell(x, state)``; the reset and the
  threshold jump are detached, as in Norse.
* ``LSNN`` / ``LSNNRecurrent``: the same over ``[T, ...]``: ``(z_seq, final state)``.

``adjoint=True`` (Norse's adjoint solver) raises ConfigError.

Spikes and states equal Norse 1.1.0's bit for bit (forward pass; parameters as tensors or,
for the rates, Python numbers); gradients agree to ~1e-6 relative, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch

from .....snn import norse as _norse
from ._params import (
    check_dt,
    check_kwargs,
    check_sizes,
    refuse_adjoint,
    run_sequence,
    tensor_fields,
)

LSNNParameters = _norse.LSNNParameters
LSNNState = _norse.LSNNState
LSNNFeedForwardState = _norse.LSNNFeedForwardState

_NUMERIC = ("tau_syn_inv", "tau_mem_inv", "tau_adapt_inv", "v_leak", "v_th", "v_reset", "beta")
# rates given as numbers stay numbers: dt * rate is then a double product, as in Norse
_RATES = ("tau_syn_inv", "tau_mem_inv", "tau_adapt_inv")


class LSNNCell(_norse.LSNNCell):
    def __init__(self, p: LSNNParameters | None = None, adjoint: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        check_kwargs("LSNNCell", kwargs)
        refuse_adjoint("LSNNCell", adjoint)
        p = tensor_fields(p or LSNNParameters(), _NUMERIC, _RATES, cell="LSNNCell",
                          expected=LSNNParameters)  # fmt: skip
        super().__init__(p, check_dt("LSNNCell", dt))


class LSNNRecurrentCell(_norse.LSNNRecurrentCell):
    def __init__(self, input_size: int, hidden_size: int, p: LSNNParameters | None = None,
                 adjoint: bool = False, input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None, autapses: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        name = type(self).__name__
        check_kwargs(name, kwargs)
        refuse_adjoint(name, adjoint)
        n_in, n_hidden = check_sizes(name, input_size=input_size, hidden_size=hidden_size)
        p = tensor_fields(p or LSNNParameters(), _NUMERIC, _RATES, cell=name,
                          expected=LSNNParameters)  # fmt: skip
        super().__init__(n_in, n_hidden, p, check_dt(name, dt), autapses, input_weights,
                         recurrent_weights)  # fmt: skip


class LSNN(torch.nn.Module):
    """``LSNNCell`` over a ``[T, ...]`` sequence: ``z_seq, LSNNFeedForwardState = lsnn(x)``."""

    def __init__(self, p: LSNNParameters | None = None, adjoint: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        super().__init__()
        check_kwargs("LSNN", kwargs)
        refuse_adjoint("LSNN", adjoint)
        self.cell = LSNNCell(p, dt=dt)
        self.p, self.dt = self.cell.p, self.cell.dt

    def forward(self, input_tensor: torch.Tensor, state: LSNNFeedForwardState | None = None):
        return run_sequence(self.cell, input_tensor, state)


class LSNNRecurrent(LSNNRecurrentCell):
    """``LSNNRecurrentCell`` over a ``[T, N, input_size]`` sequence:
    ``z_seq, LSNNState = layer(x_seq)`` (same weights and state_dict keys as the cell)."""

    def forward(self, input_tensor: torch.Tensor, state: Any = None):
        return run_sequence(super().forward, input_tensor, state)


__all__ = [
    "LSNN",
    "LSNNCell",
    "LSNNFeedForwardState",
    "LSNNParameters",
    "LSNNRecurrent",
    "LSNNRecurrentCell",
    "LSNNState",
]
