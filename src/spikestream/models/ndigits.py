"""The quick start's network: a small convolutional SNN for the embedded NDigits data (2x34x34
event frames, 10 classes), sized to train to >= 95 % test accuracy in well under a minute on two
CPU cores (``spikestream demo``, ``configs/quickstart.yaml``).

Structure (``csnn_ndigits``)::

    APk2s2 - {c{C}k3s1-BN-LIF-MPk2s2}*len(channels) - FC{classes}, mean over time

* the input's 2x2 average pooling halves the resolution first: the digits are scikit-learn's
  8x8 images upscaled 3x, so 17x17 keeps their detail at a quarter of the convolutions' cost;
* the readout is not spiking: the linear layer's output at every step, averaged over the T
  steps, is the score (trained with cross-entropy). A spiking readout with rate coding
  measured lower accuracy for the same training time (see the README's recipe table).

Layouts as `spikestream.models.plif`: ``forward(x)`` takes ``[N, T, C, H, W]`` and returns
``[N, classes]``; ``forward_steps(x_seq, state)`` takes time-first ``[T, N, C, H, W]`` and returns
the per-step scores ``[T, N, classes]`` and the final state; ``init_state(batch)`` /
``step(x_t, state)`` run one frame at a time (the live engine), equal to ``forward_steps`` step
for step. BatchNorm normalises with batch statistics in training mode (``T x N`` frames in
``forward``, ``N`` in ``step``), so stepping equals the multi-step run in eval mode, which is how a
trained network runs live. The model keeps no hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..snn.neuron import BaseNode, LIFNode, ParametricLIFNode
from ..snn.surrogate import ATan
from .registry import family_config, register_model

__all__ = ["CSNN", "CSNNConfig", "csnn_ndigits"]


@dataclass(frozen=True)
class CSNNConfig:
    """One `CSNN`. ``channels``: the output channels of each convolution block (each block
    halves the resolution); ``pool``: the input's average-pooling factor (1: none); ``neuron``:
    ``'lif'`` (time constant ``tau``) or ``'plif'`` (learnable, initial ``tau``);
    ``neuron_kwargs`` go to the neuron class (``v_threshold``, ``detach_reset``, ...)."""

    in_channels: int = 2
    input_size: tuple[int, int] = (34, 34)
    pool: int = 2
    channels: tuple[int, ...] = (24, 48)
    classes: int = 10
    neuron: str = "lif"
    tau: float = 2.0
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        for name in ("in_channels", "pool", "classes"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"CSNN {name} must be >= 1, got {getattr(self, name)}")
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"CSNN channels must be one or more sizes >= 1, got {self.channels}")
        h, w = self.input_size
        if min(h, w) < 1:
            raise ConfigError(f"CSNN input_size must be (H, W) >= 1, got {self.input_size}")
        if (h // self.pool) >> len(self.channels) < 1 or (w // self.pool) >> len(self.channels) < 1:
            raise ConfigError(
                f"CSNN input_size {self.input_size} is too small for pool={self.pool} and "
                f"{len(self.channels)} 2x2 poolings; use fewer channels entries or pool=1"
            )
        if self.neuron not in ("lif", "plif"):
            raise ConfigError(f"CSNN neuron must be 'lif' or 'plif', got {self.neuron!r}")
        if "step_mode" in self.neuron_kwargs:
            raise ConfigError("CSNN neuron_kwargs: step_mode is set by the model; drop it")

    def make_neuron(self) -> BaseNode:
        kwargs: dict[str, Any] = {"surrogate_function": ATan(), "detach_reset": True}
        kwargs.update(self.neuron_kwargs)
        if self.neuron == "lif":
            return LIFNode(tau=self.tau, step_mode="m", **kwargs)
        return ParametricLIFNode(init_tau=self.tau, step_mode="m", **kwargs)


class CSNN(nn.Module):
    """A small convolutional SNN with a non-spiking readout (see the module docstring)."""

    def __init__(self, config: CSNNConfig | None = None, **overrides: Any):
        super().__init__()
        cfg = family_config("CSNN", CSNNConfig, config, overrides)
        channels = (cfg.channels,) if isinstance(cfg.channels, int) else tuple(cfg.channels)
        cfg = replace(cfg, channels=channels)
        cfg.check()
        self.config = cfg
        self.pool = nn.AvgPool2d(cfg.pool) if cfg.pool > 1 else nn.Identity()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        try:
            self.neurons = nn.ModuleList(cfg.make_neuron() for _ in cfg.channels)
        except TypeError as exc:  # a neuron_kwargs entry the neuron class does not take
            raise ConfigError(f"CSNN neuron_kwargs {cfg.neuron_kwargs}: {exc}") from None
        self._state_shapes: list[tuple[int, ...]] = []
        c = cfg.in_channels
        h, w = cfg.input_size[0] // cfg.pool, cfg.input_size[1] // cfg.pool
        for out in cfg.channels:
            self.convs.append(nn.Conv2d(c, out, 3, padding=1, bias=False))
            self.norms.append(nn.BatchNorm2d(out))
            self._state_shapes.append((out, h, w))
            c, h, w = out, h // 2, w // 2
        self.fc = nn.Linear(c * h * w, cfg.classes)

    @property
    def nodes(self) -> list[BaseNode]:
        """The neuron layers, in order (each holds its neuron's parameters)."""
        return [m for m in self.neurons if isinstance(m, BaseNode)]

    def nir_layers(self) -> list[tuple[str, nn.Module]]:
        """The layers in the order one step of `forward_steps` applies them, for
        `spikestream.export.export_nir` (its module walk follows registration order, and this
        model registers all convolutions, then all norms). The functional 2x2 max pooling is
        listed as an equal ``nn.MaxPool2d(2)``, made here and not registered (no weights)."""
        layers: list[tuple[str, nn.Module]] = [("pool", self.pool)]
        for i, (conv, norm, node) in enumerate(
            zip(self.convs, self.norms, self.nodes, strict=True)
        ):
            layers += [(f"convs.{i}", conv), (f"norms.{i}", norm), (f"neurons.{i}", node),
                       (f"max_pool.{i}", nn.MaxPool2d(2))]  # fmt: skip
        layers.append(("fc", self.fc))
        return layers

    def init_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        """The resting membrane potential of every neuron layer for ``batch`` samples."""
        if batch < 1:
            raise ConfigError(f"batch must be >= 1, got {batch}")
        ref = self.fc.weight
        return tuple(
            torch.full(
                (batch, *shape),
                0.0 if node.v_reset is None else node.v_reset,
                device=ref.device,
                dtype=ref.dtype,
            )
            for node, shape in zip(self.nodes, self._state_shapes, strict=True)
        )

    def _check_input(self, x_seq: torch.Tensor, layout: str) -> None:
        want = (self.config.in_channels, *self.config.input_size)
        if x_seq.dim() != 5 or tuple(x_seq.shape[2:]) != want:
            raise ConfigError(
                f"CSNN: expected {want[0]}x{want[1]}x{want[2]} frames as [{layout}, "
                f"{want[0]}, {want[1]}, {want[2]}], got shape {tuple(x_seq.shape)}"
            )

    def forward_steps(
        self, x_seq: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Per-step scores ``[T, N, classes]`` for time-first frames ``[T, N, C, H, W]`` from
        ``state`` (default: resting), and the final state."""
        self._check_input(x_seq, "T, N")
        steps, batch = x_seq.shape[:2]
        state = self.init_state(batch) if state is None else state
        if len(state) != len(self.neurons) or state[0].shape[0] != batch:
            raise ConfigError(
                f"CSNN state is for {state[0].shape[0]} samples and {len(state)} neuron layers, "
                f"input has {batch} samples; make it with init_state({batch})"
            )
        # stateless layers see [T*N, ...]; each neuron layer runs its fused multi-step kernel
        h = self.pool(x_seq.flatten(0, 1))
        v_out = []
        for conv, norm, node, v in zip(self.convs, self.norms, self.nodes, state, strict=True):
            h = norm(conv(h)).unflatten(0, (steps, batch))
            h, _, v = node.run_steps(h, v)
            v_out.append(v)
            h = nn.functional.max_pool2d(h.flatten(0, 1), 2)
        return self.fc(h.flatten(1)).unflatten(0, (steps, batch)), tuple(v_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, classes]`` for frames ``[N, T, C, H, W]``: the readout averaged over
        time, from the resting state."""
        self._check_input(x, "N, T")
        return self.forward_steps(x.transpose(0, 1))[0].mean(0)

    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One time step: frame ``[N, C, H, W]`` -> (this step's scores ``[N, classes]``, next
        state). The running mean of the step scores is ``forward``'s output."""
        out, state = self.forward_steps(x_t.unsqueeze(0), state)
        return out[0], state


@register_model
def csnn_ndigits(**overrides: Any) -> CSNN:
    """NDigits (2x34x34, 10 classes), the quick start's network: APk2s2-{c24,c48}k3s1-BN-LIF-MPk2s2-FC10, mean readout over time."""  # noqa: E501
    return CSNN(CSNNConfig(), **overrides)
