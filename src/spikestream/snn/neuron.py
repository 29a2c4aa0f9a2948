"""IF, LIF and parametric LIF neurons with SpikingJelly 2.0's equations and arguments,
single-step (``step_mode='s'``, one ``[N, ...]`` input per call, state kept in ``self.v``) and
multi-step (``'m'``, a ``[T, N, ...]`` sequence in one fused call). ``reset()`` (or
`spikestream.snn.functional.reset_net`) clears the state between samples.

Every run of a neuron's kernel (its own forward, or a model running it fused, as PLIFNet and
CSNN do, through `BaseNode.run_steps` / `run_steps_pool2x2`) can be watched: set
``node.step_observer = fn`` and ``fn(node, steps)`` is called after each run with its
`NeuronSteps` (a trace recorder, for instance). Unset (the default, None) it costs one
attribute check per run. An observer watches one instance: copies (``copy.deepcopy``,
pickling) start unobserved."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn

from ..errors import ConfigError
from . import kernels
from .surrogate import Sigmoid, Surrogate


class NeuronSteps(NamedTuple):
    """What a step observer is handed for one run of a neuron layer over ``T`` steps."""

    spec: kernels.NeuronSpec
    x_seq: torch.Tensor  # [T, N, ...] input
    v0: torch.Tensor  # potential before the first step (may broadcast to x_seq[0])
    decay: float | torch.Tensor  # the kernel's decay: 1, tau (LIF) or the parameter w (PLIF)
    spikes: torch.Tensor  # [T, N, ...]
    v_seq: torch.Tensor  # [T, N, ...] potential after each step's reset
    # [T, N, ...] charged potential before firing, where the neuron hands it over (the
    # plain-loop neurons of `snn.neuron_more`); None: `kernels.charge` recomputes it
    h: torch.Tensor | None = None


StepObserver = Callable[["BaseNode", NeuronSteps], None]


class BaseNode(nn.Module):
    kind: int = kernels.IF
    # called after each kernel run when set (see the module docstring); a class default, so
    # an unobserved node holds nothing and costs one attribute check per run
    step_observer: StepObserver | None = None

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: Surrogate | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str | None = None,
        store_v_seq: bool = False,
        decay_input: bool = True,
    ):
        super().__init__()
        if step_mode not in ("s", "m"):
            raise ConfigError(f"step_mode must be 's' or 'm', got {step_mode!r}")
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        # SpikingJelly 2.0's default surrogate
        self.surrogate_function = surrogate_function or Sigmoid()
        self.detach_reset = detach_reset
        self.step_mode = step_mode
        self.backend = None if backend in (None, "torch_or_fused") else backend
        self.store_v_seq = store_v_seq
        self.decay_input = decay_input
        self.v: torch.Tensor | float = 0.0
        self.v_seq: torch.Tensor | None = None
        self.reset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "step_observer":
            # a plain attribute even when the observer is a Module: not a submodule, parameter
            # or state_dict entry of the neuron
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("step_observer", None)  # an observer watches one instance, not its copies
        return state

    def spec(self) -> kernels.NeuronSpec:
        return kernels.NeuronSpec(
            self.kind,
            self.v_threshold,
            self.v_reset,
            self.decay_input,
            self.detach_reset,
            self.surrogate_function,
        )

    def decay(self):
        return 1.0

    def reset(self) -> None:
        """Back to the resting potential (``v_reset``, or 0 for a soft reset)."""
        self.v = 0.0 if self.v_reset is None else self.v_reset
        self.v_seq = None

    def _initial_v(self, like: torch.Tensor) -> torch.Tensor:
        if isinstance(self.v, torch.Tensor) and self.v.shape == like.shape:
            return self.v
        # no state yet, or a batch of another shape: start from the resting potential
        return torch.full_like(like, 0.0 if self.v_reset is None else self.v_reset)

    def run_steps(
        self, x_seq: torch.Tensor, v0: torch.Tensor, store_v_seq: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(spikes, v after each step or None, last v) of this neuron over ``x_seq [T, N,
        ...]`` from the potential ``v0``, in its fused multi-step kernel (`kernels.multistep`)
        without touching ``self.v``: what the forward and the models' fused loops run."""
        if self.step_observer is None:
            return kernels.multistep(
                self.spec(), x_seq, v0, self.decay(), self.backend, store_v_seq
            )
        spikes, v_seq, v_last = _observed(self, x_seq, v0)
        return spikes, v_seq if store_v_seq else None, v_last

    def run_steps_pool2x2(
        self, x_seq: torch.Tensor, v0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the spikes max-pooled 2x2 over the last two axes, last v): `run_steps` and the
        pool after it in one op (`kernels.multistep_pool2x2`); observed, the two run apart
        (the same values) so the observer sees the full-size spikes."""
        if self.step_observer is None:
            return kernels.multistep_pool2x2(self.spec(), x_seq, v0, self.decay(), self.backend)
        spikes, _, v_last = _observed(self, x_seq, v0)
        return kernels.max_pool2x2(spikes), v_last

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        spikes, v_seq, self.v = self.run_steps(x_seq, self._initial_v(x_seq[0]), self.store_v_seq)
        if self.store_v_seq:
            self.v_seq = v_seq
        return spikes

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multi_step_forward(x.unsqueeze(0))[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "m":
            return self.multi_step_forward(x)
        return self.single_step_forward(x)

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode}, "
            f"surrogate_function={self.surrogate_function}"
        )


@kernels._eager_only  # under torch.compile the observer runs eagerly, as the kernel does
def _observed(
    node: BaseNode, x_seq: torch.Tensor, v0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`BaseNode.run_steps` keeping every potential, then its observer called (not while
    ``torch.jit`` traces: an observer is no part of a traced graph)."""
    spec, decay = node.spec(), node.decay()
    spikes, v_seq, v_last = kernels.multistep(spec, x_seq, v0, decay, node.backend, True)
    observer = node.step_observer
    if observer is not None and not torch.jit.is_tracing():
        observer(node, NeuronSteps(spec, x_seq, v0, decay, spikes, v_seq))
    return spikes, v_seq, v_last


class IFNode(BaseNode):
    """Integrate-and-fire: ``h = v + x``."""

    kind = kernels.IF


class LIFNode(BaseNode):
    """Leaky integrate-and-fire with time constant ``tau`` (IEEE division by tau, as
    SpikingJelly, so spikes match it bit for bit)."""

    kind = kernels.LIF

    def __init__(self, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate_function: Surrogate | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        if tau <= 1:
            raise ConfigError(f"tau must be > 1, got {tau}")
        self.tau = float(tau)
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq, decay_input)  # fmt: skip

    def decay(self):
        return self.tau


class ParametricLIFNode(BaseNode):
    """LIF with a learnable time constant: ``1/tau = sigmoid(w)``, ``w`` initialised to
    ``-ln(init_tau - 1)``."""

    kind = kernels.PLIF

    def __init__(self, init_tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate_function: Surrogate | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str | None = None,
                 store_v_seq: bool = False):  # fmt: skip
        if init_tau <= 1:
            raise ConfigError(f"init_tau must be > 1, got {init_tau}")
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend, store_v_seq, decay_input)  # fmt: skip
        self.w = nn.Parameter(torch.as_tensor(-math.log(init_tau - 1.0)))

    def decay(self):
        return self.w
