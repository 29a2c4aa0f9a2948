"""``norse.torch.module.lif_adex``: adaptive exponential LIF cells and layers with Norse 1.1's
equations, defaults, state types and state_dict keys, built on `spikestream.snn.norse` (the
equations are there).

* ``LIFAdExCell(p, dt)``: ``z, LIFAdExFeedForwardState(v, i, a) = cell(x, state)``.
* ``LIFAdExRecurrentCell(input_size, hidden_size, p, input_weights=, recurrent_weights=,
  autapses=False, dt=)``: ``z, LIFAdExState(z, v, i, a) = cell(x, state)``.
* ``LIFAdEx`` / ``LIFAdExRecurrent``: the same over ``[T, ...]``: ``(z_seq, final state)``.

The gradient flows through the reset in both cells, as in Norse.

Spikes and states equal Norse 1.1.0's bit for bit (forward pass; parameters as tensors or,
for the rates, Python numbers); gradients agree to ~1e-6 relative, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch

from .....errors import ConfigError
from .....snn import norse as _norse
from ._params import check_dt, check_kwargs, check_sizes, run_sequence, tensor_fields

LIFAdExParameters = _norse.LIFAdExParameters
LIFAdExState = _norse.LIFAdExState
LIFAdExFeedForwardState = _norse.LIFAdExFeedForwardState

_NUMERIC = ("adaptation_current", "adaptation_spike", "delta_T", "tau_ada_inv", "tau_syn_inv",
            "tau_mem_inv", "v_leak", "v_th", "v_reset")  # fmt: skip
# rates given as numbers stay numbers: dt * rate is then a double product, as in Norse
_RATES = ("tau_ada_inv", "tau_syn_inv", "tau_mem_inv")


def _adex_parameters(cls: str, p: LIFAdExParameters | None) -> LIFAdExParameters:
    """``p`` checked: numbers or tensors, and ``delta_T > 0`` (it divides; Norse does not
    check and returns inf / nan)."""
    p = tensor_fields(p or LIFAdExParameters(), _NUMERIC, _RATES, cell=cls,
                      expected=LIFAdExParameters)  # fmt: skip
    if not bool((torch.as_tensor(p.delta_T) > 0).all()):
        raise ConfigError(f"{cls}: LIFAdExParameters.delta_T must be > 0 (the sharpness of the "
                          f"exponential, 0.5 by default), got {p.delta_T!r}")  # fmt: skip
    return p


class LIFAdExCell(_norse.LIFAdExCell):
    def __init__(self, p: LIFAdExParameters | None = None, dt: float = 0.001, **kwargs: Any):
        check_kwargs("LIFAdExCell", kwargs)
        super().__init__(_adex_parameters("LIFAdExCell", p), check_dt("LIFAdExCell", dt))


class LIFAdExRecurrentCell(_norse.LIFAdExRecurrentCell):
    def __init__(self, input_size: int, hidden_size: int, p: LIFAdExParameters | None = None,
                 input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None, autapses: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        name = type(self).__name__
        check_kwargs(name, kwargs)
        n_in, n_hidden = check_sizes(name, input_size=input_size, hidden_size=hidden_size)
        p = _adex_parameters(name, p)
        super().__init__(n_in, n_hidden, p, check_dt(name, dt), autapses, input_weights,
                         recurrent_weights)  # fmt: skip


class LIFAdEx(torch.nn.Module):
    """``LIFAdExCell`` over a ``[T, ...]`` sequence:
    ``z_seq, LIFAdExFeedForwardState = layer(x_seq)``."""

    def __init__(self, p: LIFAdExParameters | None = None, dt: float = 0.001, **kwargs: Any):
        super().__init__()
        check_kwargs("LIFAdEx", kwargs)
        self.cell = LIFAdExCell(p, dt)
        self.p, self.dt = self.cell.p, self.cell.dt

    def forward(self, input_tensor: torch.Tensor, state: LIFAdExFeedForwardState | None = None):
        return run_sequence(self.cell, input_tensor, state)


class LIFAdExRecurrent(LIFAdExRecurrentCell):
    """``LIFAdExRecurrentCell`` over a ``[T, N, input_size]`` sequence:
    ``z_seq, LIFAdExState = layer(x_seq)`` (same weights and state_dict keys as the cell)."""

    def forward(self, input_tensor: torch.Tensor, state: Any = None):
        return run_sequence(super().forward, input_tensor, state)


__all__ = [
    "LIFAdEx",
    "LIFAdExCell",
    "LIFAdExFeedForwardState",
    "LIFAdExParameters",
    "LIFAdExRecurrent",
    "LIFAdExRecurrentCell",
    "LIFAdExState",
]
