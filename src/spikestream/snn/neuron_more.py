"""SpikingJelly 2.0's QIF, EIF, Izhikevich and KLIF neurons, with its arguments, defaults and
equations (``activation_based.neuron`` / ``functional.qif_step``, ``eif_step``,
``izhikevich_step``, ``klif_step``). ``H`` is the charged potential, ``V`` the potential after
the reset, ``S = surrogate(H - v_threshold)`` the spike (``H >= v_threshold`` forward):

* `QIFNode`: ``H = V + (X + a0 (V - v_rest)(V - v_c)) / tau``
* `EIFNode`: ``H = V + (X + v_rest - V + delta_T exp((V - theta_rh) / delta_T)) / tau``
* `IzhikevichNode`: ``H = V + (X + a0 (V - v_rest)(V - v_c) - W) / tau``; then
  ``W = W + (a (H - v_rest) - W) / tau_w + b S`` (a second state, reset to ``w_rest``)
* `KLIFNode`: ``F = relu(k (V + (X - (V - V_r)) / tau))`` (``V_r`` = 0 for a soft reset;
  ``decay_input=False``: ``V - (V - V_r) / tau + X``) with a learnable scalar ``k`` (starts at
  1); ``S = surrogate(F - v_threshold)``; the reset acts on ``F`` (``F / k`` and
  ``v_threshold / k`` with ``scale_reset=True``).

Reset: hard ``V = S_d V_r + (1 - S_d) H``, soft ``V = H - S_d v_threshold`` (``S_d`` is ``S``
detached with ``detach_reset``). Izhikevich's hard reset keeps ``S`` (not ``S_d``) on the
``V_r`` term, and its ``b S`` is never detached, as SpikingJelly's.

Unlike IF/LIF/PLIF (`spikestream.snn.neuron`) these have no fused kernel: every mode runs a plain
torch loop over the steps (SpikingJelly 2.0 also runs them as a torch reference on the CPU).
They live in this module so `spikestream.snn.neuron` keeps only the neurons the kernels know.
They are `BaseNode` subclasses, so ``reset()`` / `reset_net`, ``step_mode``, ``store_v_seq`` and
``step_observer`` work as for the others; the observer is handed `NeuronSteps` whose
``spec.kind`` is one of this module's kinds (`KIND_NAMES`) and whose ``h`` holds the charged
potential (the kernels' ``charge`` does not know these equations; for KLIF the scaled ``F``
the threshold is applied to). An Izhikevich observer is not handed ``w``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from . import kernels
from .neuron import BaseNode, NeuronSteps
from .surrogate import Surrogate

# NeuronSpec kinds of these neurons (the kernels' own are 0-2: IF, LIF, PLIF)
QIF, EIF, IZHIKEVICH, KLIF = 10, 11, 12, 13
KIND_NAMES = {QIF: "QIF", EIF: "EIF", IZHIKEVICH: "Izhikevich", KLIF: "KLIF"}


def _number(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return out


def _backend(cls: str, backend: str | None) -> None:
    # one implementation: the torch loop (the compat modules map 'cupy' etc. to None)
    if backend not in (None, "torch", "auto", "torch_or_fused"):
        raise ConfigError(
            f"{cls} runs a plain torch loop (no fused kernel); backend must be None, 'torch', "
            f"'auto' or 'torch_or_fused' (the spikingjelly compat names also take 'cupy'), got "
            f"{backend!r}"
        )


def _check_reset(cls: str, v_threshold: Any, v_reset: Any, v_rest: float) -> None:
    v_threshold = _number("v_threshold", v_threshold)
    v_reset = None if v_reset is None else _number("v_reset", v_reset)
    if v_reset is not None and not v_threshold > v_reset:
        raise ConfigError(f"{cls}: v_threshold ({v_threshold}) must be > v_reset ({v_reset})")
    if v_reset is not None and not v_rest >= v_reset:
        raise ConfigError(f"{cls}: v_rest ({v_rest}) must be >= v_reset ({v_reset})")


class _LoopNode(BaseNode):
    """A `BaseNode` run by a torch loop of ``_charge`` / fire / ``_reset`` (one state ``v``)."""

    kind = QIF

    def __init__(self, v_threshold: Any, v_reset: Any, surrogate_function: Surrogate | None,
                 detach_reset: bool, step_mode: str, backend: str | None, store_v_seq: bool,
                 decay_input: bool = True):  # fmt: skip
        _backend(type(self).__name__, backend)
        v_threshold = _number("v_threshold", v_threshold)
        v_reset = None if v_reset is None else _number("v_reset", v_reset)
        super().__init__(v_threshold, v_reset, surrogate_function, bool(detach_reset),
                         step_mode, None, bool(store_v_seq), bool(decay_input))  # fmt: skip

    def decay(self):
        return self.tau

    def _charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _reset(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return kernels.reset(self.spec(), h, s)  # the IF/LIF/PLIF rule: hard or soft

    def _initial_v(self, like: torch.Tensor) -> torch.Tensor:
        # SpikingJelly's rule: a state of another shape, dtype or device restarts at rest
        v = self.v
        if isinstance(v, torch.Tensor) and (v.shape, v.dtype, v.device) == (
            like.shape, like.dtype, like.device
        ):  # fmt: skip
            return v
        return torch.full_like(like, 0.0 if self.v_reset is None else self.v_reset)

    def _loop(self, x_seq: torch.Tensor, v: torch.Tensor, keep: bool):
        """(spikes, v after each step or None, last v, h of each step or None)."""
        spikes, vs, hs = [], [], []
        for t in range(x_seq.shape[0]):
            h = self._charge(v, x_seq[t])
            s = self.surrogate_function(h - self.v_threshold)
            v = self._reset(h, s)
            spikes.append(s)
            if keep:
                vs.append(v)
                hs.append(h)
        v_seq = torch.stack(vs) if keep else None
        return torch.stack(spikes), v_seq, v, torch.stack(hs) if keep else None

    def _notify(self, x_seq, v0, spikes, v_seq, h_seq) -> None:
        observer = self.step_observer
        if observer is not None and not torch.jit.is_tracing():
            observer(self, NeuronSteps(self.spec(), x_seq, v0, self.decay(), spikes, v_seq, h_seq))

    def run_steps(
        self, x_seq: torch.Tensor, v0: torch.Tensor, store_v_seq: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(spikes, v after each step or None, last v) over ``x_seq [T, N, ...]`` from ``v0``
        (the torch loop), without touching ``self.v``; calls ``step_observer`` when set."""
        observed = self.step_observer is not None
        spikes, v_seq, v_last, h_seq = self._loop(x_seq, v0, store_v_seq or observed)
        if observed:
            self._notify(x_seq, v0, spikes, v_seq, h_seq)
        return spikes, v_seq if store_v_seq else None, v_last

    def run_steps_pool2x2(
        self, x_seq: torch.Tensor, v0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, _, v_last = self.run_steps(x_seq, v0)
        return kernels.max_pool2x2(spikes), v_last


class QIFNode(_LoopNode):
    """Quadratic integrate-and-fire: ``H = V + (X + a0 (V - v_rest)(V - v_c)) / tau``."""

    kind = QIF

    def __init__(self, tau: float = 2.0, v_c: float = 0.8, a0: float = 1.0,
                 v_threshold: float = 1.0, v_rest: float = 0.0, v_reset: float | None = -0.1,
                 surrogate_function: Surrogate | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        self.tau, self.v_c = _number("tau", tau), _number("v_c", v_c)
        self.a0, self.v_rest = _number("a0", a0), _number("v_rest", v_rest)
        if not self.tau > 1:
            raise ConfigError(f"tau must be > 1, got {tau}")
        if not self.a0 > 0:
            raise ConfigError(f"a0 must be > 0, got {a0}")
        _check_reset("QIFNode", v_threshold, v_reset, self.v_rest)
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq)  # fmt: skip

    def _charge(self, v, x):
        return v + (x + self.a0 * (v - self.v_rest) * (v - self.v_c)) / self.tau

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, v_c={self.v_c}, a0={self.a0}, "
            f"v_rest={self.v_rest}"
        )


class EIFNode(_LoopNode):
    """Exponential integrate-and-fire:
    ``H = V + (X + v_rest - V + delta_T exp((V - theta_rh) / delta_T)) / tau``."""

    kind = EIF

    def __init__(self, tau: float = 2.0, delta_T: float = 1.0, theta_rh: float = 0.8,
                 v_threshold: float = 1.0, v_rest: float = 0.0, v_reset: float | None = -0.1,
                 surrogate_function: Surrogate | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        self.tau, self.delta_T = _number("tau", tau), _number("delta_T", delta_T)
        self.theta_rh, self.v_rest = _number("theta_rh", theta_rh), _number("v_rest", v_rest)
        if not self.tau > 1:
            raise ConfigError(f"tau must be > 1, got {tau}")
        if not self.delta_T > 0:
            raise ConfigError(f"delta_T must be > 0, got {delta_T}")
        _check_reset("EIFNode", v_threshold, v_reset, self.v_rest)
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq)  # fmt: skip

    def _charge(self, v, x):
        return (
            v
            + (x + self.v_rest - v + self.delta_T * torch.exp((v - self.theta_rh) / self.delta_T))
            / self.tau
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, delta_T={self.delta_T}, "
            f"theta_rh={self.theta_rh}, v_rest={self.v_rest}"
        )


class KLIFNode(_LoopNode):
    """K-based LIF (KLIF): LIF's charge, then ``F = relu(k H)`` with a learnable scalar ``k``
    (starts at 1); fires on ``F``; resets ``F`` (or ``F / k`` against ``v_threshold / k``
    with ``scale_reset``)."""

    kind = KLIF

    def __init__(self, scale_reset: bool = False, tau: float = 2.0, decay_input: bool = True,
                 v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Surrogate | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        self.tau = _number("tau", tau)
        if not self.tau > 1:
            raise ConfigError(f"tau must be > 1, got {tau}")
        self.scale_reset = bool(scale_reset)
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq, decay_input)  # fmt: skip
        self.k = nn.Parameter(torch.as_tensor(1.0))

    def _charge(self, v, x):
        vr = 0.0 if self.v_reset is None else self.v_reset
        h = v + (x - (v - vr)) / self.tau if self.decay_input else v - (v - vr) / self.tau + x
        return torch.relu(self.k * h)

    def _reset(self, h, s):
        if not self.scale_reset:
            return super()._reset(h, s)
        s_d = s.detach() if self.detach_reset else s
        v = h / self.k
        if self.v_reset is None:
            return v - s_d * (self.v_threshold / self.k)
        return s_d * self.v_reset + (1.0 - s_d) * v

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, decay_input={self.decay_input}, "
            f"scale_reset={self.scale_reset}"
        )


class IzhikevichNode(_LoopNode):
    """Izhikevich-style neuron with an adaptation current ``w`` (a second state):
    ``H = V + (X + a0 (V - v_rest)(V - v_c) - W) / tau``,
    ``W = W + (a (H - v_rest) - W) / tau_w + b S``. ``self.w`` holds it between calls;
    ``reset()`` sets it back to ``w_rest``."""

    kind = IZHIKEVICH

    def __init__(self, tau: float = 2.0, v_c: float = 0.8, a0: float = 1.0,
                 v_threshold: float = 1.0, v_reset: float | None = 0.0, v_rest: float = -0.1,
                 w_rest: float = 0.0, tau_w: float = 2.0, a: float = 0.0, b: float = 0.0,
                 surrogate_function: Surrogate | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        self.tau, self.v_c = _number("tau", tau), _number("v_c", v_c)
        self.a0, self.v_rest = _number("a0", a0), _number("v_rest", v_rest)
        self.w_rest, self.tau_w = _number("w_rest", w_rest), _number("tau_w", tau_w)
        self.a, self.b = _number("a", a), _number("b", b)
        if not self.tau > 1:
            raise ConfigError(f"tau must be > 1, got {tau}")
        if not self.a0 > 0:
            raise ConfigError(f"a0 must be > 0, got {a0}")
        if not self.tau_w > 0:  # SpikingJelly only asks for a float; 0 would divide by zero
            raise ConfigError(f"tau_w must be > 0, got {tau_w}")
        self.w: torch.Tensor | float = self.w_rest
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq)  # fmt: skip

    def reset(self) -> None:
        """``v`` back to ``v_reset`` (0 for a soft reset), ``w`` to ``w_rest``."""
        super().reset()
        self.w = self.w_rest

    def _initial_w(self, like: torch.Tensor) -> torch.Tensor:
        w = self.w
        if isinstance(w, torch.Tensor) and (w.shape, w.dtype, w.device) == (
            like.shape, like.dtype, like.device
        ):  # fmt: skip
            return w
        return torch.full_like(like, self.w_rest)

    def _loop_vw(self, x_seq: torch.Tensor, v: torch.Tensor, w: torch.Tensor, keep: bool):
        spikes, vs, hs = [], [], []
        vth, vr = self.v_threshold, self.v_reset
        for t in range(x_seq.shape[0]):
            h = v + (x_seq[t] + self.a0 * (v - self.v_rest) * (v - self.v_c) - w) / self.tau
            w = w + (self.a * (h - self.v_rest) - w) / self.tau_w
            s = self.surrogate_function(h - vth)
            s_d = s.detach() if self.detach_reset else s
            v = h - s_d * vth if vr is None else (1.0 - s_d) * h + s * vr
            w = w + self.b * s
            spikes.append(s)
            if keep:
                vs.append(v)
                hs.append(h)
        v_seq = torch.stack(vs) if keep else None
        return torch.stack(spikes), v_seq, v, w, torch.stack(hs) if keep else None

    def run_steps_vw(
        self, x_seq: torch.Tensor, v0: torch.Tensor, w0: torch.Tensor, store_v_seq: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """(spikes, v after each step or None, last v, last w) over ``x_seq [T, N, ...]`` from
        ``(v0, w0)``, without touching the node's state; calls ``step_observer`` when set."""
        observed = self.step_observer is not None
        spikes, v_seq, v, w, h_seq = self._loop_vw(x_seq, v0, w0, store_v_seq or observed)
        if observed:
            self._notify(x_seq, v0, spikes, v_seq, h_seq)
        return spikes, v_seq if store_v_seq else None, v, w

    def run_steps(self, x_seq, v0, store_v_seq=False):
        raise ConfigError(
            "IzhikevichNode keeps a second state w: run it through its forward, or "
            "run_steps_vw(x_seq, v0, w0) for both states"
        )

    def run_steps_pool2x2(self, x_seq, v0):
        self.run_steps(x_seq, v0)  # raises: see run_steps
        raise AssertionError("unreachable")  # pragma: no cover

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v0, w0 = self._initial_v(x_seq[0]), self._initial_w(x_seq[0])
        spikes, v_seq, self.v, self.w = self.run_steps_vw(x_seq, v0, w0, self.store_v_seq)
        if self.store_v_seq:
            self.v_seq = v_seq
        return spikes

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, v_c={self.v_c}, a0={self.a0}, "
            f"v_rest={self.v_rest}, w_rest={self.w_rest}, tau_w={self.tau_w}, a={self.a}, "
            f"b={self.b}"
        )


__all__ = ["KIND_NAMES", "EIFNode", "IzhikevichNode", "KLIFNode", "QIFNode"]
