"""PLIFNet: the convolutional spiking networks of the PLIF paper (Fang et al. 2021,
"Incorporating Learnable Membrane Time Constant to Enhance Learning of Spiking Neural Networks",
arXiv 2007.05785), built from `spikestream.snn` neurons with their fused multi-step kernels.

Structure, in the paper's notation::

    {{c{C}k3s1-BN-{LIF|PLIF}}*n_conv-MPk2s2}*n_down-{DP-FC{h}-{LIF|PLIF}}*-DP-FC{classes*v}-{LIF|PLIF}-APk{v}s{v}

Layout:

* input ``[N, T, C, H, W]`` frames (batch first, as `pad_sequence_collate` gives);
* ``forward(x)`` returns ``[N, classes]`` scores: the voting layer's output averaged over the T
  steps (for spiking outputs, each class's firing rate over its ``voting`` neurons and T);
* ``forward_steps(x_seq)`` returns the per-step scores ``[T, N, classes]`` for a **time-first**
  ``[T, N, C, H, W]`` input, plus the final state;
* ``init_state(batch)`` / ``step(x_t, state)`` run one ``[N, C, H, W]`` frame at a time with
  explicit state (`PLIFState`: every neuron layer's membrane potential and, in training mode,
  the dropout masks), equal to ``forward_steps`` step for step.

The modules live in ``conv_fc``, an ``nn.Sequential`` laid out as SpikingJelly's
``parametric_lif_net`` models, so the state_dict keys are SpikingJelly's
(``conv_fc.0.weight``, ``conv_fc.1.running_mean``, ... ``conv_fc.25.bias``): a checkpoint of
SpikingJelly's ``DVSGestureNet`` loads into ``plifnet_dvsgesture`` unchanged, and
`spikestream.compat.spikingjelly.model.parametric_lif_net` builds its drop-ins from the same
builder (`build_conv_fc`).

Differences from SpikingJelly's stateful execution, on purpose: the model keeps no hidden
state (no ``reset_net`` needed between samples), and its dropout mask lives in the state, drawn
once per sequence (``torch.bernoulli``) and reused at every step, as SpikingJelly's multi-step
``Dropout`` does.

BatchNorm in training mode normalises with the statistics of the batch it sees: ``T x N``
frames in ``forward``, ``N`` in ``step``. So ``step`` equals ``forward`` in eval mode (running
statistics, which is how a trained network runs live), and in training mode only with the
BatchNorm layers in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import torch
from torch import nn

from ..errors import ConfigError
from ..snn import kernels
from ..snn.layer import MultiStepDropout, VotingLayer
from ..snn.neuron import BaseNode, LIFNode, ParametricLIFNode
from ..snn.surrogate import ATan
from .registry import family_config, register_model

__all__ = [
    "PLIFConfig",
    "PLIFNet",
    "PLIFState",
    "build_conv_fc",
    "plifnet_cifar10dvs",
    "plifnet_dvsgesture",
    "plifnet_ndigits",
    "plifnet_nmnist",
]

NeuronFactory = Callable[[], nn.Module]


@dataclass(frozen=True)
class PLIFConfig:
    """One PLIFNet. ``hidden``: the sizes of the fully connected spiking layers before the
    output layer (``FC512`` -> ``(512,)``); the output layer has ``classes * voting`` neurons,
    averaged in groups of ``voting`` (no voting layer when ``voting == 1``). ``neuron``:
    ``'lif'`` (tau ``tau``) or ``'plif'`` (learnable, initial tau ``tau``); ``neuron_kwargs``
    go to the neuron class (``v_threshold``, ``v_reset``, ``decay_input``, ``detach_reset``,
    ``surrogate_function``, ``backend``)."""

    in_channels: int = 2
    input_size: tuple[int, int] = (128, 128)
    channels: int = 128
    n_conv: int = 1
    n_down: int = 5
    hidden: tuple[int, ...] = (512,)
    classes: int = 11
    voting: int = 10
    neuron: str = "lif"
    tau: float = 2.0
    dropout: float = 0.5
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        for name in ("in_channels", "channels", "n_conv", "classes", "voting"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"PLIFNet {name} must be >= 1, got {getattr(self, name)}")
        if self.n_down < 0:
            raise ConfigError(f"PLIFNet n_down must be >= 0, got {self.n_down}")
        if min(self.input_size) < 1:
            raise ConfigError(f"PLIFNet input_size must be (H, W) >= 1, got {self.input_size}")
        h, w = self.input_size
        if h >> self.n_down < 1 or w >> self.n_down < 1:
            raise ConfigError(
                f"PLIFNet input_size {self.input_size} is too small for n_down={self.n_down} "
                f"2x2 poolings; use a larger input or fewer down-sampling blocks"
            )
        if any(int(h_) < 1 for h_ in self.hidden):
            raise ConfigError(f"PLIFNet hidden sizes must be >= 1, got {self.hidden}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"PLIFNet dropout must be in [0, 1), got {self.dropout}")
        if self.neuron not in ("lif", "plif"):
            raise ConfigError(f"PLIFNet neuron must be 'lif' or 'plif', got {self.neuron!r}")
        if "step_mode" in self.neuron_kwargs:
            raise ConfigError("PLIFNet neuron_kwargs: step_mode is set by the model; drop it")

    def neuron_factory(self) -> NeuronFactory:
        # the PLIF paper's settings (and SpikingJelly's classify_dvsg): ATan, detached reset
        kwargs: dict[str, Any] = {"surrogate_function": ATan(), "detach_reset": True}
        kwargs.update(self.neuron_kwargs)
        if self.neuron == "lif":
            return lambda: LIFNode(tau=self.tau, step_mode="m", **kwargs)
        return lambda: ParametricLIFNode(init_tau=self.tau, step_mode="m", **kwargs)


def build_conv_fc(
    in_channels: int,
    input_size: tuple[int, int],
    channels: int,
    n_conv: int,
    n_down: int,
    hidden: Sequence[int],
    out_features: int,
    voting: int,
    neuron: NeuronFactory,
    dropout: float = 0.5,
    dropout_step_mode: str = "m",
) -> nn.Sequential:
    """SpikingJelly's ``conv_fc`` layout: ``n_down`` blocks of ``n_conv`` x (Conv2d 3x3 no bias,
    BatchNorm2d, neuron) and a 2x2 max pool; Flatten; per hidden size Dropout, Linear, neuron;
    Dropout, Linear(``out_features``), neuron; VotingLayer(``voting``) when ``voting > 1``.
    Indices, hence state_dict keys, are SpikingJelly's."""
    layers: list[nn.Module] = []
    c = in_channels
    h, w = input_size
    for _ in range(n_down):
        for _ in range(n_conv):
            layers += [nn.Conv2d(c, channels, 3, padding=1, bias=False),
                       nn.BatchNorm2d(channels), neuron()]  # fmt: skip
            c = channels
        layers.append(nn.MaxPool2d(2, 2))
        h, w = h // 2, w // 2
    layers.append(nn.Flatten())
    features = c * h * w
    for size in (*hidden, out_features):
        layers += [MultiStepDropout(dropout, step_mode=dropout_step_mode),
                   nn.Linear(features, size), neuron()]  # fmt: skip
        features = size
    if voting > 1:
        layers.append(VotingLayer(voting))
    return nn.Sequential(*layers)


def _is_pool2x2(layer: nn.Module) -> bool:
    """A plain ``MaxPool2d(2, 2)`` (what `build_conv_fc` makes)."""
    if not isinstance(layer, nn.MaxPool2d) or layer.return_indices or layer.ceil_mode:
        return False
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    return (pair(layer.kernel_size) == (2, 2) and pair(layer.stride or 2) == (2, 2)
            and pair(layer.padding) == (0, 0) and pair(layer.dilation) == (1, 1))  # fmt: skip


class PLIFState(NamedTuple):
    """One time step's state: the membrane potential of every neuron layer (``v``, in layer
    order, each ``[N, ...]``) and the dropout masks of the sequence (``masks``: one per dropout
    layer, drawn at the first training step; ``None`` in eval mode or before the first step)."""

    v: tuple[torch.Tensor, ...]
    masks: tuple[torch.Tensor | None, ...]


class PLIFNet(nn.Module):
    """The PLIF paper's convolutional SNN (see the module docstring for layouts and state)."""

    def __init__(self, config: PLIFConfig | None = None, **overrides: Any):
        super().__init__()
        cfg = family_config("PLIFNet", PLIFConfig, config, overrides)
        cfg = replace(cfg, hidden=tuple(cfg.hidden))
        cfg.check()
        self.config = cfg
        try:
            self.conv_fc = build_conv_fc(
                cfg.in_channels, cfg.input_size, cfg.channels, cfg.n_conv, cfg.n_down,
                cfg.hidden, cfg.classes * cfg.voting, cfg.voting, cfg.neuron_factory(),
                cfg.dropout,
            )  # fmt: skip
        except TypeError as exc:  # a neuron_kwargs entry the neuron class does not take
            raise ConfigError(f"PLIFNet neuron_kwargs {cfg.neuron_kwargs}: {exc}") from None
        self._state_shapes = self._neuron_shapes()

    def _neuron_shapes(self) -> list[tuple[int, ...]]:
        """Each neuron layer's per-sample shape (its membrane potential's)."""
        cfg = self.config
        shapes: list[tuple[int, ...]] = []
        h, w = cfg.input_size
        for _ in range(cfg.n_down):
            shapes += [(cfg.channels, h, w)] * cfg.n_conv
            h, w = h // 2, w // 2
        shapes += [(size,) for size in (*cfg.hidden, cfg.classes * cfg.voting)]
        return shapes

    @property
    def neurons(self) -> list[BaseNode]:
        return [m for m in self.conv_fc if isinstance(m, BaseNode)]

    def init_state(self, batch: int) -> PLIFState:
        """The resting state for ``batch`` samples (on the parameters' device)."""
        if batch < 1:
            raise ConfigError(f"batch must be >= 1, got {batch}")
        ref = next(self.parameters())
        v = tuple(
            torch.full(
                (batch, *shape),
                0.0 if node.v_reset is None else node.v_reset,
                device=ref.device,
                dtype=ref.dtype,
            )
            for node, shape in zip(self.neurons, self._state_shapes, strict=True)
        )
        n_dropout = sum(isinstance(m, MultiStepDropout) for m in self.conv_fc)
        return PLIFState(v, (None,) * n_dropout)

    def _check_input(self, x_seq: torch.Tensor, what: str) -> None:
        cfg = self.config
        want = (cfg.in_channels, *cfg.input_size)
        if x_seq.dim() != 5 or tuple(x_seq.shape[2:]) != want:
            raise ConfigError(
                f"PLIFNet {what}: expected {want[0]}x{want[1]}x{want[2]} frames as "
                f"[{'N, T' if what == 'forward' else 'T, N'}, {want[0]}, {want[1]}, {want[2]}], "
                f"got shape {tuple(x_seq.shape)}"
            )

    def _run(
        self, x_seq: torch.Tensor, state: PLIFState, keep_spikes: bool = False
    ) -> tuple[torch.Tensor, PLIFState, list[torch.Tensor]]:
        """The network over a time-first ``[T, N, ...]`` sequence from ``state``: per-step
        outputs, the final state and (``keep_spikes``) every neuron layer's spikes, which
        otherwise are freed as soon as the next layer has read them. Stateless layers see
        ``[T*N, ...]``; each neuron layer runs its fused multi-step kernel from its potential."""
        steps, batch = x_seq.shape[:2]
        if len(state.v) != len(self._state_shapes) or state.v[0].shape[0] != batch:
            raise ConfigError(
                f"PLIFNet state is for {state.v[0].shape[0]} samples and {len(state.v)} neuron "
                f"layers, input has {batch} samples; make it with init_state({batch})"
            )
        v = list(state.v)
        masks = list(state.masks)
        spikes: list[torch.Tensor] = []
        h = x_seq
        i_neuron = i_drop = 0
        layers = list(self.conv_fc)
        pooled = False  # the previous neuron layer did this pool too
        for i, layer in enumerate(layers):
            if isinstance(layer, BaseNode):
                nxt = layers[i + 1] if i + 1 < len(layers) else None
                if not keep_spikes and nxt is not None and _is_pool2x2(nxt):
                    # neuron and pool in one op: no full-size spikes kept (`run_steps_pool2x2`)
                    h, v[i_neuron] = layer.run_steps_pool2x2(h, v[i_neuron])
                    pooled = True
                else:
                    h, _, v[i_neuron] = layer.run_steps(h, v[i_neuron])
                    if keep_spikes:
                        spikes.append(h)
                i_neuron += 1
            elif pooled:
                pooled = False  # done with the neuron before it
            elif isinstance(layer, MultiStepDropout):
                if self.training and layer.p > 0:
                    mask = masks[i_drop]
                    if mask is None or mask.shape != h.shape[1:]:
                        # one mask per sequence, as SpikingJelly's multi-step Dropout
                        mask = torch.bernoulli(torch.full_like(h[0], 1 - layer.p)) / (1 - layer.p)
                        masks[i_drop] = mask
                    h = h * mask
                i_drop += 1
            elif isinstance(layer, VotingLayer):
                h = layer(h)
            elif _is_pool2x2(layer):
                h = kernels.max_pool2x2(h)  # keeps 1 byte per output for the backward
            else:
                h = layer(h.flatten(0, 1)).unflatten(0, (steps, batch))
        return h, PLIFState(tuple(v), tuple(masks)), spikes

    def forward_steps(
        self, x_seq: torch.Tensor, state: PLIFState | None = None
    ) -> tuple[torch.Tensor, PLIFState]:
        """Per-step scores ``[T, N, classes]`` for time-first frames ``[T, N, C, H, W]``, from
        ``state`` (default: the resting state), and the final state."""
        self._check_input(x_seq, "forward_steps")
        state = self.init_state(x_seq.shape[1]) if state is None else state
        out, state, _ = self._run(x_seq, state)
        return out, state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, classes]`` for frames ``[N, T, C, H, W]``: the voting layer's output
        averaged over time, from the resting state."""
        self._check_input(x, "forward")
        x_seq = x.transpose(0, 1)
        out, _, _ = self._run(x_seq, self.init_state(x.shape[0]))
        return out.mean(0)

    def step(self, x_t: torch.Tensor, state: PLIFState) -> tuple[torch.Tensor, PLIFState]:
        """One time step: frame ``[N, C, H, W]`` -> (scores ``[N, classes]``, next state)."""
        out, state = self.forward_steps(x_t.unsqueeze(0), state)
        return out[0], state

    def spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every neuron layer's spikes ``[T, N, ...]`` for frames ``[N, T, C, H, W]``."""
        self._check_input(x, "forward")
        return self._run(x.transpose(0, 1), self.init_state(x.shape[0]), keep_spikes=True)[2]


def _create_plifnet(cfg: PLIFConfig, **overrides: Any) -> PLIFNet:
    return PLIFNet(cfg, **overrides)


def _cfg(**kwargs: Any) -> PLIFConfig:
    return PLIFConfig(**kwargs)


@register_model
def plifnet_dvsgesture(**overrides: Any) -> PLIFNet:
    """DVS128 Gesture (2x128x128, 11 classes): {c128k3s1-BN-LIF-MPk2s2}*5-DP-FC512-LIF-DP-FC110-LIF-APk10s10 (SpikingJelly's DVSGestureNet; loads its checkpoints)."""  # noqa: E501
    return _create_plifnet(_cfg(), **overrides)


@register_model
def plifnet_nmnist(**overrides: Any) -> PLIFNet:
    """N-MNIST (2x34x34, 10 classes): {c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10 (PLIF paper)."""  # noqa: E501
    cfg = _cfg(input_size=(34, 34), n_down=2, hidden=(2048,), classes=10, neuron="plif")
    return _create_plifnet(cfg, **overrides)


@register_model
def plifnet_cifar10dvs(**overrides: Any) -> PLIFNet:
    """CIFAR10-DVS (2x128x128, 10 classes): {c128k3s1-BN-PLIF-MPk2s2}*4-DP-FC512-PLIF-DP-FC100-PLIF-APk10s10 (PLIF paper)."""  # noqa: E501
    cfg = _cfg(n_down=4, hidden=(512,), classes=10, neuron="plif")
    return _create_plifnet(cfg, **overrides)


@register_model
def plifnet_ndigits(**overrides: Any) -> PLIFNet:
    """NDigits demo data (2x34x34, 10 classes), small for CPU: {c16k3s1-BN-PLIF-MPk2s2}*2-DP-FC128-PLIF-DP-FC100-PLIF-APk10s10."""  # noqa: E501
    cfg = _cfg(input_size=(34, 34), channels=16, n_down=2, hidden=(128,), classes=10,
               neuron="plif")  # fmt: skip
    return _create_plifnet(cfg, **overrides)
