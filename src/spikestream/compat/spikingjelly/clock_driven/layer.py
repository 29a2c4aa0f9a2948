"""``spikingjelly.clock_driven.layer``: ``Dropout`` (single-step, one mask until
``functional.reset_net``), ``MultiStepDropout`` (``[T, N, ...]``, one mask per sequence) and the
containers ``SeqToANNContainer`` / ``MultiStepContainer``, which keep their modules under
``.module`` as SpikingJelly 0.0.0.0.14 did (so its checkpoints' keys, ``conv.0.module.0.weight``,
load unchanged)."""

from __future__ import annotations

from torch import nn

from ... import _unsupported
from .. import layer as _layer
from ..layer import Dropout as _Dropout


class Dropout(_Dropout):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p, "s")


class MultiStepDropout(_Dropout):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p, "m")


def _wrap(modules: tuple[nn.Module, ...]) -> nn.Module:
    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)


# The 2.0 containers (nn.Sequential subclasses) run their children in order; holding a single
# child named ``module`` makes them run it, so only the construction differs.


class SeqToANNContainer(_layer.SeqToANNContainer):
    """Stateless modules on ``[T, N, ...]``: time merged into the batch, then split again."""

    def __init__(self, *args: nn.Module) -> None:
        nn.Module.__init__(self)
        self.module = _wrap(args)


class MultiStepContainer(_layer.MultiStepContainer):
    """Single-step modules run over ``[T, N, ...]`` one step at a time."""

    def __init__(self, *args: nn.Module) -> None:
        nn.Module.__init__(self)
        self.module = _wrap(args)


__all__ = ["Dropout", "MultiStepContainer", "MultiStepDropout", "SeqToANNContainer"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "Dropout2d": "Dropout / MultiStepDropout",
        "MultiStepDropout2d": "MultiStepDropout",
        "SynapseFilter": "not provided; spikestream.compat.norse.torch.LICell",
        "ChannelsPool": "not provided",
        "DropConnectLinear": "not provided; torch.nn.Linear with Dropout",
        "PrintShapeModule": "not provided",
        "ConvBatchNorm2d": "torch.nn.Conv2d and torch.nn.BatchNorm2d in a SeqToANNContainer",
    },
)
