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

What matches Norse 1.1.0 exactly: the forward pass (spikes and every state value, bit for bit)
with tensor-valued parameters, and for the LSNN and LIFAdEx cells also with rates (``tau_*``)
given as Python numbers, whose ``dt * tau`` is then a double product as in Norse.
Gradients agree to about 1e-6 relative (the surrogate's ``1 / (|x| + 1)^2`` is one float
rounding away from Norse's division), not bit for bit. ``v_leak`` / ``v_th`` / ``v_reset`` may
be per-neuron tensors (shape [features]); the initial state broadcasts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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


def surrogate_for(p: Any) -> Surrogate:
    """Norse's threshold ``p.method`` as a spikestream surrogate (a strict step; ``'super'``
    ignores alpha, as Norse 1.1 does). Shared by every cell here."""
    if p.method == "super":
        return SuperSpike(alpha=1.0, strict=True)
    raise ConfigError(f"surrogate method {p.method!r} is not available (known: 'super')")


def _dt_times(dt: float, rate: Any) -> Any:
    """``dt * rate`` rounded as Norse rounds it: a float32 product for a tensor rate, a Python
    (double) product for a number (then cast once to float32 when it meets a tensor)."""
    if isinstance(rate, torch.Tensor):
        return torch.as_tensor(dt, dtype=torch.float32) * rate
    return dt * rate


def _scalars(p: Any, dt: float) -> tuple[Any, Any]:
    """The Euler factors ``dt * tau_mem_inv`` and ``(-dt) * tau_syn_inv``."""
    return _dt_times(dt, p.tau_mem_inv), _dt_times(-dt, p.tau_syn_inv)


def _filled(x: torch.Tensor, shape: tuple[int, ...], value: Any, name: str) -> torch.Tensor:
    """A state tensor of ``shape`` holding ``value`` (a number, or a tensor broadcast to it:
    per-neuron parameters), in x's dtype and device, outside the autograd graph."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to(dtype=x.dtype, device=x.device)
    else:
        value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
    try:
        out = zeros + value
    except RuntimeError:
        out = None
    if out is None or tuple(out.shape) != tuple(shape):
        raise ConfigError(
            f"{name} of shape {list(value.shape)} does not fit the neuron state of shape "
            f"{list(shape)}: give one number, or one value per neuron (shape [{shape[-1]}])"
        )
    return out


def lif_step(x, state: LIFState, p: LIFParameters, dt: float = 1e-3, detach_reset: bool = False):
    """One Euler step; returns (z, new state)."""
    return _lif_integrate(state.i + x, state.v, p, dt, detach_reset)


def _lif_integrate(i_jump, v, p: LIFParameters, dt: float, detach_reset: bool):
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


def _init_weights(cell: nn.Module, input_size: int, hidden_size: int, autapses: bool,
                  input_weights: torch.Tensor | None,
                  recurrent_weights: torch.Tensor | None) -> None:  # fmt: skip
    """Norse's ``input_weights`` [hidden, input] and ``recurrent_weights`` [hidden, hidden] on
    ``cell`` (random normal times sqrt(2 / hidden) unless given, drawn in that order);
    ``autapses=False`` zeroes the recurrent diagonal and its gradient."""
    for name, given, shape in (("input_weights", input_weights, (hidden_size, input_size)),
                               ("recurrent_weights", recurrent_weights,
                                (hidden_size, hidden_size))):  # fmt: skip
        if given is not None and tuple(given.shape) != shape:
            raise ConfigError(f"{name} must have shape [hidden_size, "
                              f"{'input_size' if name == 'input_weights' else 'hidden_size'}]"
                              f" = {list(shape)}, got {list(given.shape)}")  # fmt: skip
    # Norse's scale, computed as Norse does (a Python float power is one rounding step off)
    scale = torch.sqrt(2.0 / torch.as_tensor(hidden_size))
    w_in = input_weights if input_weights is not None else (
        torch.randn(hidden_size, input_size) * scale)  # fmt: skip
    w_rec = recurrent_weights if recurrent_weights is not None else (
        torch.randn(hidden_size, hidden_size) * scale)  # fmt: skip
    cell.input_weights = w_in if isinstance(w_in, nn.Parameter) else nn.Parameter(w_in)
    cell.recurrent_weights = w_rec if isinstance(w_rec, nn.Parameter) else nn.Parameter(w_rec)
    if not autapses:
        w = cell.recurrent_weights
        with torch.no_grad():
            w.fill_diagonal_(0.0)
        # a frozen tensor takes no hook: Norse makes it trainable first, and so do we
        w.requires_grad_(True)
        # no autapses: the diagonal's gradient is cleared (on the gradient's own device)
        w.register_hook(lambda g: g.clone().fill_diagonal_(0.0))


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

    input_weights: nn.Parameter  # set by _init_weights
    recurrent_weights: nn.Parameter

    def __init__(self, input_size: int, hidden_size: int, p: LIFParameters | None = None,
                 dt: float = 1e-3, autapses: bool = False,
                 input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None):  # fmt: skip
        super().__init__()
        self.p = p or LIFParameters()
        self.dt = dt
        self.hidden_size = hidden_size
        _init_weights(self, input_size, hidden_size, autapses, input_weights, recurrent_weights)

    def initial_state(self, x: torch.Tensor) -> LIFRecurrentState:
        shape = (*x.shape[:-1], self.hidden_size)
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        v = _filled(x, shape, self.p.v_leak, "v_leak")
        return LIFRecurrentState(zeros, v, zeros.clone())

    def forward(self, x: torch.Tensor, state: LIFRecurrentState | None = None):
        s = state or self.initial_state(x)
        # (i + W_in x) + W_rec z, in Norse's order (float sums are not associative)
        i_jump = s.i + nn.functional.linear(x, self.input_weights)
        i_jump = i_jump + nn.functional.linear(s.z, self.recurrent_weights)
        z, new = _lif_integrate(i_jump, s.v, self.p, self.dt, detach_reset=True)
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


# --- Norse 1.1's adaptive cells: LSNN, LIFAdEx, Izhikevich ---------------------------------
#
# Each step is written once for the feed-forward and the recurrent cell: the recurrent cell's
# input current is ``(W_in x) + W_rec z_prev`` (Norse's order of the float sums), the
# feed-forward cell's is ``x``. The update order is Norse 1.1's own, which differs per model:
#
# LSNN (threshold adaptation, Bellec et al. 2018); v, i, b advance with the OLD values, then
# the input jumps into i (it reaches v one step later)::
#
#     v_dec = v + (dt * tau_mem_inv) * ((v_leak - v) + i)
#     i_dec = i + ((-dt) * tau_syn_inv) * i
#     b_dec = b + (dt * tau_adapt_inv) * (v_th - b)        (b is the threshold, rests at v_th)
#     z     = surrogate(v_dec - b_dec)
#     v_new = (1 - z) v_dec + z v_reset;  b_new = b_dec + z beta;  i_new = i_dec + input
#     (the recurrent cell detaches z in the reset and in b, as Norse does)
#
# LIFAdEx (adaptive exponential LIF); the input jumps into i FIRST, as Norse 1.1's LIF::
#
#     i_jump = i + input
#     v_dec  = v + (dt * tau_mem_inv) * ((v_leak - v) + delta_T exp((v - v_th)/delta_T)
#                                        + i_jump - a)
#     i_new  = i_jump + ((-dt) * tau_syn_inv) * i_jump
#     a_dec  = a + (dt * tau_ada_inv) * (adaptation_current (v - v_leak) - a)   (old v)
#     z      = surrogate(v_dec - v_th)
#     v_new  = (1 - z) v_dec + z v_reset;  a_new = a_dec + z adaptation_spike
#
# Izhikevich (no synaptic current: the input adds to dv/dt directly)::
#
#     v_ = v + (tau_inv * dt) * (sq v^2 + mn v + bias - u + input)
#     u_ = u + (tau_inv * dt * a) * (b v - u)                                   (old v, u)
#     z  = surrogate(v_ - v_th)
#     v_new = (1 - z) v_ + z c;   u_new = (1 - z) u_ + z (u_ + d)


class LSNNParameters(NamedTuple):
    """LSNN neuron (Norse's names and defaults): a LIF whose threshold ``b`` jumps by ``beta``
    at each spike and relaxes to ``v_th`` at rate ``tau_adapt_inv`` (1/s)."""

    tau_syn_inv: torch.Tensor = torch.as_tensor(1.0 / 5e-3)
    tau_mem_inv: torch.Tensor = torch.as_tensor(1.0 / 1e-2)
    tau_adapt_inv: torch.Tensor = torch.as_tensor(1.0 / 800)
    v_leak: torch.Tensor = torch.as_tensor(0.0)
    v_th: torch.Tensor = torch.as_tensor(1.0)
    v_reset: torch.Tensor = torch.as_tensor(0.0)
    beta: torch.Tensor = torch.as_tensor(1.8)
    method: str = "super"
    alpha: float = 100.0


class LSNNState(NamedTuple):
    """Recurrent LSNN state: last spikes, membrane, synaptic current, threshold."""

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    b: torch.Tensor


class LSNNFeedForwardState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor
    b: torch.Tensor


def _lsnn_integrate(v, i, b, p: LSNNParameters, dt: float, detach_jumps: bool):
    """The LSNN step before the input jump: (z, v_new, i_decayed, b_new)."""
    mem, syn = _scalars(p, dt)
    v_dec = v + mem * ((p.v_leak - v) + i)
    i_dec = i + syn * i
    b_dec = b + _dt_times(dt, p.tau_adapt_inv) * (p.v_th - b)
    z = surrogate_for(p)(v_dec - b_dec)
    z_j = z.detach() if detach_jumps else z
    v_new = (1 - z_j) * v_dec + z_j * p.v_reset
    return z, v_new, i_dec, b_dec + z_j * p.beta


def lsnn_feed_forward_step(x, state: LSNNFeedForwardState, p: LSNNParameters, dt: float = 1e-3):
    """One feed-forward LSNN step (input is a current); returns (z, new state)."""
    z, v, i, b = _lsnn_integrate(state.v, state.i, state.b, p, dt, detach_jumps=False)
    return z, LSNNFeedForwardState(v, i + x, b)


def lsnn_step(x, state: LSNNState, input_weights, recurrent_weights, p: LSNNParameters,
              dt: float = 1e-3):  # fmt: skip
    """One recurrent LSNN step; the reset and threshold jump are detached (Norse's choice)."""
    z, v, i, b = _lsnn_integrate(state.v, state.i, state.b, p, dt, detach_jumps=True)
    i = i + nn.functional.linear(x, input_weights)
    i = i + nn.functional.linear(state.z, recurrent_weights)
    return z, LSNNState(z, v, i, b)


class LIFAdExParameters(NamedTuple):
    """Adaptive exponential LIF (Norse's names and defaults): ``adaptation_current`` couples
    ``a`` to ``v - v_leak``, ``adaptation_spike`` is a's jump per spike, ``delta_T`` the
    sharpness of the exponential, ``tau_ada_inv`` a's rate (1/s)."""

    adaptation_current: torch.Tensor = torch.as_tensor(4.0)
    adaptation_spike: torch.Tensor = torch.as_tensor(0.02)
    delta_T: torch.Tensor = torch.as_tensor(0.5)
    tau_ada_inv: torch.Tensor = torch.as_tensor(2.0)
    tau_syn_inv: torch.Tensor = torch.as_tensor(1.0 / 5e-3)
    tau_mem_inv: torch.Tensor = torch.as_tensor(1.0 / 1e-2)
    v_leak: torch.Tensor = torch.as_tensor(0.0)
    v_th: torch.Tensor = torch.as_tensor(1.0)
    v_reset: torch.Tensor = torch.as_tensor(0.0)
    method: str = "super"
    alpha: float = 100.0


class LIFAdExState(NamedTuple):
    """Recurrent AdEx state: last spikes, membrane, synaptic current, adaptation current."""

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    a: torch.Tensor


class LIFAdExFeedForwardState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor
    a: torch.Tensor


def _lif_adex_integrate(i_jump, v, a, p: LIFAdExParameters, dt: float):
    """The AdEx step after the synaptic jump: (z, v_new, i_new, a_new)."""
    mem, syn = _scalars(p, dt)
    dv_exp = p.delta_T * torch.exp((v - p.v_th) / p.delta_T)
    v_dec = v + mem * ((p.v_leak - v) + dv_exp + i_jump - a)
    i_new = i_jump + syn * i_jump
    a_dec = a + _dt_times(dt, p.tau_ada_inv) * (p.adaptation_current * (v - p.v_leak) - a)
    z = surrogate_for(p)(v_dec - p.v_th)
    v_new = (1 - z) * v_dec + z * p.v_reset
    return z, v_new, i_new, a_dec + z * p.adaptation_spike


def lif_adex_feed_forward_step(x, state: LIFAdExFeedForwardState, p: LIFAdExParameters,
                               dt: float = 1e-3):  # fmt: skip
    """One feed-forward AdEx step (input is a current); returns (z, new state)."""
    z, v, i, a = _lif_adex_integrate(state.i + x, state.v, state.a, p, dt)
    return z, LIFAdExFeedForwardState(v, i, a)


def lif_adex_step(x, state: LIFAdExState, input_weights, recurrent_weights,
                  p: LIFAdExParameters, dt: float = 1e-3):  # fmt: skip
    """One recurrent AdEx step (no detached reset: Norse's lif_adex_step keeps it)."""
    i_jump = state.i + nn.functional.linear(x, input_weights)
    i_jump = i_jump + nn.functional.linear(state.z, recurrent_weights)
    z, v, i, a = _lif_adex_integrate(i_jump, state.v, state.a, p, dt)
    return z, LIFAdExState(z, v, i, a)


class IzhikevichParameters(NamedTuple):
    """Izhikevich neuron (Norse's names and defaults; v in mV, the time constants in 1/ms
    scaled by ``tau_inv``): a recovery rate, b recovery sensitivity, c reset v, d u's jump."""

    a: float
    b: float
    c: float
    d: float
    sq: float = 0.04
    mn: float = 5
    bias: float = 140
    v_th: float = 30
    tau_inv: float = 250
    method: str = "super"
    alpha: float = 100.0


class IzhikevichState(NamedTuple):
    v: torch.Tensor
    u: torch.Tensor


class IzhikevichRecurrentState(NamedTuple):
    z: torch.Tensor
    v: torch.Tensor
    u: torch.Tensor


class IzhikevichSpikingBehavior(NamedTuple):
    """A preset: parameters and the resting state (0-d ``v``, ``u``) cells start from."""

    p: IzhikevichParameters
    s: IzhikevichState


def _izhikevich_integrate(currents: tuple, v, u, p: IzhikevichParameters, dt: float):
    """One Izhikevich step; ``currents`` are added to dv/dt in order: (z, v_new, u_new)."""
    drive = p.sq * v**2 + p.mn * v + p.bias - u
    for current in currents:  # (x,) or (W_in x, W_rec z): Norse's order of the float sums
        drive = drive + current
    # tau_inv * dt (* a) first, in Python floats when the parameters are numbers, as Norse
    v_ = v + p.tau_inv * dt * drive
    u_ = u + p.tau_inv * dt * p.a * (p.b * v - u)
    z = surrogate_for(p)(v_ - p.v_th)
    return z, (1 - z) * v_ + z * p.c, (1 - z) * u_ + z * (u_ + p.d)


def izhikevich_feed_forward_step(x, state: IzhikevichState, p: IzhikevichParameters,
                                 dt: float = 1e-3):  # fmt: skip
    """One feed-forward Izhikevich step (input is a current); returns (z, new state)."""
    z, v, u = _izhikevich_integrate((x,), state.v, state.u, p, dt)
    return z, IzhikevichState(v, u)


def izhikevich_recurrent_step(x, state: IzhikevichRecurrentState, input_weights,
                              recurrent_weights, p: IzhikevichParameters,
                              dt: float = 1e-3):  # fmt: skip
    """One recurrent Izhikevich step; returns (z, new state)."""
    currents = (nn.functional.linear(x, input_weights),
                nn.functional.linear(state.z, recurrent_weights))  # fmt: skip
    z, v, u = _izhikevich_integrate(currents, state.v, state.u, p, dt)
    return z, IzhikevichRecurrentState(z, v, u)


# --- their cells: ``z, state = cell(x, state)``; the step function chooses the model --------


class _Cell(nn.Module):
    """A feed-forward cell: ``step(x, state, p, dt)`` with the state from ``initial_state``."""

    step: Callable[..., tuple[torch.Tensor, Any]]  # set by each subclass

    def __init__(self, p, dt: float = 1e-3):
        super().__init__()
        self.p = p
        self.dt = dt

    def initial_state(self, x: torch.Tensor):
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state=None):
        return self.step(x, self.initial_state(x) if state is None else state, self.p, self.dt)


class _RecurrentCell(nn.Module):
    """A recurrent cell with Norse's ``input_weights`` [hidden, input] and
    ``recurrent_weights`` [hidden, hidden] (random normal times sqrt(2 / hidden) unless given;
    ``autapses=False`` zeroes the recurrent diagonal and its gradient)."""

    step: Callable[..., tuple[torch.Tensor, Any]]  # set by each subclass
    input_weights: nn.Parameter  # set by _init_weights
    recurrent_weights: nn.Parameter

    def __init__(self, input_size: int, hidden_size: int, p, dt: float = 1e-3,
                 autapses: bool = False, input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None):  # fmt: skip
        super().__init__()
        self.p = p
        self.dt = dt
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.autapses = autapses
        _init_weights(self, input_size, hidden_size, autapses, input_weights, recurrent_weights)

    def initial_state(self, x: torch.Tensor):
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state=None):
        s = self.initial_state(x) if state is None else state
        return self.step(x, s, self.input_weights, self.recurrent_weights, self.p, self.dt)


class LSNNCell(_Cell):
    """Feed-forward LSNN cell: ``z, LSNNFeedForwardState(v, i, b) = cell(x, state)``."""

    step = staticmethod(lsnn_feed_forward_step)

    def __init__(self, p: LSNNParameters | None = None, dt: float = 1e-3):
        super().__init__(p or LSNNParameters(), dt)

    def initial_state(self, x: torch.Tensor) -> LSNNFeedForwardState:
        shape = tuple(x.shape)
        return LSNNFeedForwardState(_filled(x, shape, self.p.v_leak, "v_leak"),
                                    torch.zeros_like(x),
                                    _filled(x, shape, self.p.v_th, "v_th"))  # fmt: skip


class LSNNRecurrentCell(_RecurrentCell):
    """Recurrent LSNN cell: ``z, LSNNState(z, v, i, b) = cell(x, state)``."""

    step = staticmethod(lsnn_step)

    def initial_state(self, x: torch.Tensor) -> LSNNState:
        shape = (*x.shape[:-1], self.hidden_size)
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        return LSNNState(zeros, _filled(x, shape, self.p.v_leak, "v_leak"), zeros.clone(),
                         _filled(x, shape, self.p.v_th, "v_th"))  # fmt: skip


class LIFAdExCell(_Cell):
    """Feed-forward AdEx cell: ``z, LIFAdExFeedForwardState(v, i, a) = cell(x, state)``."""

    step = staticmethod(lif_adex_feed_forward_step)

    def __init__(self, p: LIFAdExParameters | None = None, dt: float = 1e-3):
        super().__init__(p or LIFAdExParameters(), dt)

    def initial_state(self, x: torch.Tensor) -> LIFAdExFeedForwardState:
        return LIFAdExFeedForwardState(_filled(x, tuple(x.shape), self.p.v_leak, "v_leak"),
                                       torch.zeros_like(x), torch.zeros_like(x))  # fmt: skip


class LIFAdExRecurrentCell(_RecurrentCell):
    """Recurrent AdEx cell: ``z, LIFAdExState(z, v, i, a) = cell(x, state)``."""

    step = staticmethod(lif_adex_step)

    def initial_state(self, x: torch.Tensor) -> LIFAdExState:
        shape = (*x.shape[:-1], self.hidden_size)
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        v = _filled(x, shape, self.p.v_leak, "v_leak")
        return LIFAdExState(zeros, v, zeros.clone(), zeros.clone())


class IzhikevichCell(_Cell):
    """Feed-forward Izhikevich cell from a preset: ``z, IzhikevichState(v, u) = cell(x, s)``;
    the state starts at the preset's ``s`` (broadcast to x's shape)."""

    step = staticmethod(izhikevich_feed_forward_step)

    def __init__(self, spiking_method: IzhikevichSpikingBehavior, dt: float = 1e-3):
        super().__init__(spiking_method.p, dt)
        self.spiking_method = spiking_method

    def initial_state(self, x: torch.Tensor) -> IzhikevichState:
        s, shape = self.spiking_method.s, tuple(x.shape)
        return IzhikevichState(_filled(x, shape, s.v, "v"), _filled(x, shape, s.u, "u"))


class IzhikevichRecurrentCell(_RecurrentCell):
    """Recurrent Izhikevich cell: ``z, IzhikevichRecurrentState(z, v, u) = cell(x, s)``."""

    step = staticmethod(izhikevich_recurrent_step)

    def __init__(self, input_size: int, hidden_size: int,
                 spiking_method: IzhikevichSpikingBehavior, dt: float = 1e-3,
                 autapses: bool = False, input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None):  # fmt: skip
        super().__init__(input_size, hidden_size, spiking_method.p, dt, autapses,
                         input_weights, recurrent_weights)  # fmt: skip
        self.spiking_method = spiking_method

    def initial_state(self, x: torch.Tensor) -> IzhikevichRecurrentState:
        s, shape = self.spiking_method.s, (*x.shape[:-1], self.hidden_size)
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        return IzhikevichRecurrentState(zeros, _filled(x, shape, s.v, "v"),
                                        _filled(x, shape, s.u, "u"))  # fmt: skip
