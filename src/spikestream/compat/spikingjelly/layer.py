"""SpikingJelly 2.0's ``spikingjelly.activation_based.layer``: torch's stateless layers with a
``step_mode`` (``'s'``: ``[N, ...]`` per call, the default; ``'m'``: ``[T, N, ...]``, time
merged into the batch), dropout whose mask is kept for a whole sequence, the sequence
containers and the voting layer. Parameters and state_dict keys are torch's, so SpikingJelly
checkpoints load unchanged::

    # from spikingjelly.activation_based import layer
    from spikestream.compat.spikingjelly import layer
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError
from ...snn import layer as _layer_impl
from ...snn.layer import MultiStepBatchNorm2d, MultiStepDropout, SeqToANNContainer
from .. import _unsupported


class _StepMode:
    """Mixin: ``step_mode='m'`` runs the torch layer on ``[T * N, ...]``."""

    step_mode: str

    def _set_step_mode(self, step_mode: str) -> None:
        if step_mode not in ("s", "m"):
            raise ConfigError(f"step_mode must be 's' or 'm', got {step_mode!r}")
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return super().forward(x)  # type: ignore[misc]
        if x.dim() < 2:
            raise ConfigError(f"step_mode 'm' needs [T, N, ...] input, got shape {tuple(x.shape)}")
        y = super().forward(x.flatten(0, 1))  # type: ignore[misc]
        return y.unflatten(0, x.shape[:2])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, step_mode={self.step_mode}"  # type: ignore[misc]


def _layer(base: type[nn.Module]) -> type[nn.Module]:
    """``base`` with SpikingJelly's trailing ``step_mode='s'`` keyword."""

    class Layer(_StepMode, base):  # type: ignore[valid-type,misc]
        def __init__(self, *args, step_mode: str = "s", **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._set_step_mode(step_mode)

    Layer.__name__ = Layer.__qualname__ = base.__name__
    Layer.__module__ = __name__
    Layer.__doc__ = f"torch.nn.{base.__name__} with ``step_mode`` ('s' or 'm')."
    return Layer


Linear = _layer(nn.Linear)
Conv1d = _layer(nn.Conv1d)
Conv2d = _layer(nn.Conv2d)
Conv3d = _layer(nn.Conv3d)
BatchNorm1d = _layer(nn.BatchNorm1d)
BatchNorm2d = _layer(nn.BatchNorm2d)
BatchNorm3d = _layer(nn.BatchNorm3d)
GroupNorm = _layer(nn.GroupNorm)
MaxPool1d = _layer(nn.MaxPool1d)
MaxPool2d = _layer(nn.MaxPool2d)
MaxPool3d = _layer(nn.MaxPool3d)
AvgPool1d = _layer(nn.AvgPool1d)
AvgPool2d = _layer(nn.AvgPool2d)
AvgPool3d = _layer(nn.AvgPool3d)
AdaptiveAvgPool1d = _layer(nn.AdaptiveAvgPool1d)
AdaptiveAvgPool2d = _layer(nn.AdaptiveAvgPool2d)
AdaptiveAvgPool3d = _layer(nn.AdaptiveAvgPool3d)
Flatten = _layer(nn.Flatten)
Upsample = _layer(nn.Upsample)


class Dropout(MultiStepDropout):
    """SpikingJelly's dropout: one mask per sequence in both modes (single-step: kept across
    calls until ``reset()`` / ``functional.reset_net``); identity in eval mode."""

    def __init__(self, p: float = 0.5, step_mode: str = "s") -> None:
        if not 0 <= p < 1:
            raise ConfigError(f"dropout p must be in [0, 1), got {p}")
        if step_mode not in ("s", "m"):
            raise ConfigError(f"step_mode must be 's' or 'm', got {step_mode!r}")
        super().__init__(p, step_mode)

    def extra_repr(self) -> str:
        return f"p={self.p}, step_mode={self.step_mode}"


class VotingLayer(_layer_impl.VotingLayer):
    """Average groups of ``voting_size`` neighbouring outputs over the last axis, in either
    step mode (``step_mode`` is kept for SpikingJelly's signature)."""

    def __init__(self, voting_size: int = 10, step_mode: str = "s") -> None:
        if int(voting_size) < 1:
            raise ConfigError(f"voting_size must be >= 1, got {voting_size}")
        super().__init__(int(voting_size))
        self.step_mode = step_mode


class MultiStepContainer(nn.Sequential):
    """Run single-step modules over ``[T, N, ...]`` one step at a time (SpikingJelly's
    ``MultiStepContainer``); the result is stacked back to ``[T, N, ...]``."""

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return torch.stack([super(MultiStepContainer, self).forward(x) for x in x_seq])


__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "Dropout",
    "Flatten",
    "GroupNorm",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MultiStepBatchNorm2d",
    "MultiStepContainer",
    "MultiStepDropout",
    "SeqToANNContainer",
    "Upsample",
    "VotingLayer",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "Dropout2d": "layer.Dropout (one mask per sequence, per element)",
        "SynapseFilter": "not provided; a spikestream.compat.norse.torch.LICell is a synaptic "
        "low-pass filter",
        "PrintShapeModule": "not provided; print x.shape in your forward",
        "ElementWiseRecurrentContainer": "not provided; spikestream.compat.norse.torch."
        "LIFRecurrentCell for recurrent spiking layers",
        "LinearRecurrentContainer": "spikestream.compat.norse.torch.LIFRecurrentCell",
        "TLastMultiStepContainer": "not provided; layer.SeqToANNContainer for stateless layers",
        "TLastSeqToANNContainer": "not provided; layer.SeqToANNContainer on [T, N, ...] input",
        "StepModeContainer": "layer.MultiStepContainer or layer.SeqToANNContainer",
        "ThresholdDependentBatchNorm2d": "not provided; layer.BatchNorm2d",
        "TemporalWiseAttention": "not provided",
        "MultiDimensionalAttention": "not provided",
        "VotingLayer1d": "layer.VotingLayer",
        "WSConv2d": "not provided; layer.Conv2d",
        "WSLinear": "not provided; layer.Linear",
    },
    peer="spikingjelly.activation_based.layer",
)
