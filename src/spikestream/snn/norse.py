"""Norse 1.1-style current-based LIF, recurrent LIF and leaky-integrator cells.

Euler step of length ``dt`` in float32, in this order (Norse 1.1)::

    i_jump = i + input                  (recurrent cell: (i + W_in input) + W_rec z_prev)
    v_dec  = v + (dt * tau_mem_inv) * ((v_leak - v) + i_jump)
    i_new  = i_jump + ((-dt) * tau_syn_inv) * i_jump
    z      = surrogate(v_dec - v_th)                        (strict: v_dec > v_th spikes)
    v_new  = (1 - z) * v_dec + z * v_reset

The feed-forward cell lets the gradient pass through the reset; the recurrent cell detaches it
(Norse's own difference, kept). The leaky integrator (`LICell`) has no threshold and outputs v.
Cells are ``out, state = cell(x, state)`` with explicit state, so a live engine can carry it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..errors import ConfigError
from .surrogate import SuperSpike, Surrogate


class LIFParameters(NamedTuple):
    """Parameters of a current-based LIF neuron (Norse's names and defaults)."""

    tau_syn_inv: torch.Tensor = torch.as_tensor(1.0 / 5e-3)  # 1/s
    tau_mem_inv: torch.Tensor = torch.as_tensor(1.0 / 1e-2)  # 1/s
    v_leak: torch.Tensor = torch.as_tensor(0.0)
    v_th: torch.Tensor = torch.as_tensor(1.0)
    v_reset: torch.Tensor = torch.as_tensor(0.0)
    method: str = "super"
    alpha: float = 100.0


class LIParameters(NamedTuple):
    tau_syn_inv: torch.Tensor = torch.as_tensor(1.0 / 5e-3)
    tau_mem_inv: torch.Tensor = torch.as_tensor(1.0 / 1e-2)
    v_leak: torch.Tensor = torch.as_tensor(0.0)


class LIFState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor


class LIFRecurrentState(NamedTuple):
    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor


class LIState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor


def surrogate_for(p: LIFParameters) -> Surrogate:
    """Norse's methods as spikestream surrogates. ``'super'`` ignores alpha, as Norse 1.1 does."""
    if p.method == "super":
        return SuperSpike(alpha=1.0, strict=True)
    raise ConfigError(f"surrogate method {p.method!r} is not available (known: 'super')")


def _scalars(p, dt: float):
    dt_t = torch.as_tensor(dt, dtype=torch.float32)
    return dt_t * p.tau_mem_inv, (-dt_t) * p.tau_syn_inv


def lif_step(x, state: LIFState, p: LIFParameters, dt: float = 1e-3, detach_reset: bool = False):
    """One Euler step; returns (z, new state)."""
    return lif_integrate(state.i + x, state.v, p, dt, detach_reset)


def lif_integrate(i_jump, v, p: LIFParameters, dt: float, detach_reset: bool):
    """The step after the synaptic jump ``i_jump`` (shared by the feed-forward and recurrent
    cells, which form the jump differently)."""
    state = LIFState(v, i_jump)
    mem, syn = _scalars(p, dt)
    v_dec = state.v + mem * ((p.v_leak - state.v) + i_jump)
    i_new = i_jump + syn * i_jump
    z = surrogate_for(p)(v_dec - p.v_th)
    z_r = z.detach() if detach_reset else z
    v_new = (1 - z_r) * v_dec + z_r * p.v_reset
    return z, LIFState(v_new, i_new)


def li_step(x, state: LIState, p: LIParameters, dt: float = 1e-3):
    """One leaky-integrator step; returns (v, new state)."""
    mem, syn = _scalars(p, dt)
    i_jump = state.i + x
    v_new = state.v + mem * ((p.v_leak - state.v) + i_jump)
    i_new = i_jump + syn * i_jump
    return v_new, LIState(v_new, i_new)


class LIFCell(nn.Module):
    """Feed-forward LIF cell: ``z, state = cell(x, state)``."""

    def __init__(self, p: LIFParameters | None = None, dt: float = 1e-3):
        super().__init__()
        self.p = p or LIFParameters()
        self.dt = dt

    def initial_state(self, x: torch.Tensor) -> LIFState:
        return LIFState(self.p.v_leak.detach().clone(), torch.zeros_like(x))

    def forward(self, x: torch.Tensor, state: LIFState | None = None):
        return lif_step(x, state or self.initial_state(x), self.p, self.dt)


class LIFRecurrentCell(nn.Module):
    """LIF cell with input and recurrent weights; ``autapses=False`` zeroes the recurrent
    diagonal (weights and their gradient), as Norse does. The reset is detached."""

    def __init__(self, input_size: int, hidden_size: int, p: LIFParameters | None = None,
                 dt: float = 1e-3, autapses: bool = False,
                 input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None):  # fmt: skip
        super().__init__()
        self.p = p or LIFParameters()
        self.dt = dt
        self.hidden_size = hidden_size
        # Norse's scale, computed as Norse does (a Python float power is one rounding step off)
        scale = torch.sqrt(2.0 / torch.as_tensor(hidden_size))
        w_in = (
            input_weights
            if input_weights is not None
            else (torch.randn(hidden_size, input_size) * scale)
        )
        w_rec = (
            recurrent_weights
            if recurrent_weights is not None
            else (torch.randn(hidden_size, hidden_size) * scale)
        )
        self.input_weights = w_in if isinstance(w_in, nn.Parameter) else nn.Parameter(w_in)
        self.recurrent_weights = w_rec if isinstance(w_rec, nn.Parameter) else nn.Parameter(w_rec)
        if not autapses:
            with torch.no_grad():
                self.recurrent_weights.fill_diagonal_(0.0)
            # no autapses: the diagonal's gradient is cleared (on the gradient's own device)
            self.recurrent_weights.register_hook(lambda g: g.clone().fill_diagonal_(0.0))

    def initial_state(self, x: torch.Tensor) -> LIFRecurrentState:
        shape = (*x.shape[:-1], self.hidden_size)
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        v = torch.full(shape, float(self.p.v_leak), dtype=x.dtype, device=x.device)
        return LIFRecurrentState(zeros, v, zeros.clone())

    def forward(self, x: torch.Tensor, state: LIFRecurrentState | None = None):
        s = state or self.initial_state(x)
        # (i + W_in x) + W_rec z, in Norse's order (float sums are not associative)
        i_jump = s.i + nn.functional.linear(x, self.input_weights)
        i_jump = i_jump + nn.functional.linear(s.z, self.recurrent_weights)
        z, new = lif_integrate(i_jump, s.v, self.p, self.dt, detach_reset=True)
        return z, LIFRecurrentState(z, new.v, new.i)


class LICell(nn.Module):
    """Leaky integrator readout: ``v, state = cell(x, state)``."""

    def __init__(self, p: LIParameters | None = None, dt: float = 1e-3):
        super().__init__()
        self.p = p or LIParameters()
        self.dt = dt

    def initial_state(self, x: torch.Tensor) -> LIState:
        return LIState(self.p.v_leak.detach().clone(), torch.zeros_like(x))

    def forward(self, x: torch.Tensor, state: LIState | None = None):
        return li_step(x, state or self.initial_state(x), self.p, self.dt)
