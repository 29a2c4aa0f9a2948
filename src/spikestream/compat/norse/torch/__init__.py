"""Norse 1.1's ``norse.torch`` names spikestream covers (see `spikestream.compat.norse`)."""

from ... import _unsupported
from . import module
from .module import (
    LI,
    LIF,
    LICell,
    LIFCell,
    LIFFeedForwardState,
    LIFParameters,
    LIFRecurrent,
    LIFRecurrentCell,
    LIFState,
    LIParameters,
    LIState,
    SequentialState,
)

__all__ = [
    "LI",
    "LIF",
    "LICell",
    "LIFCell",
    "LIFFeedForwardState",
    "LIFParameters",
    "LIFRecurrent",
    "LIFRecurrentCell",
    "LIFState",
    "LIParameters",
    "LIState",
    "SequentialState",
    "module",
]

_NEURON = "not provided; LIFCell / LIFRecurrentCell (current-based LIF) or LICell"
__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        **{
            name: _NEURON
            for name in (
                "LIFAdEx",
                "LIFAdExCell",
                "LIFAdExRecurrentCell",
                "LIFAdExParameters",
                "LIFEx",
                "LIFExCell",
                "LIFExParameters",
                "LIFCorrelation",
                "LIFMCRecurrentCell",
                "LIFRefracCell",
                "LIFRefracRecurrentCell",
                "LIFRefracParameters",
                "IzhikevichCell",
                "Izhikevich",
                "IzhikevichRecurrentCell",
                "LSNNCell",
                "LSNN",
                "LSNNRecurrentCell",
                "LSNNParameters",
                "CobaLIFCell",
                "CobaLIFParameters",
                "LIFBoxCell",
                "LIFBox",
                "LIBoxCell",
                "IAFCell",
                "IAF",
            )
        },
        "LILinearCell": "torch.nn.Linear followed by LICell",
        "ConstantCurrentLIFEncoder": "not provided; repeat the input over T and use LIF",
        "PoissonEncoder": "not provided; torch.rand_like(x) < x * dt per step",
        "SpikeLatencyEncoder": "not provided",
        "SpikeLatencyLIFEncoder": "not provided",
        "Lift": "not provided; loop over time or layer.SeqToANNContainer from "
        "spikestream.compat.spikingjelly",
        "RegularizationCell": "not provided",
        "SpikeTime": "not provided",
        "functional": "spikestream.snn.norse (lif_step, li_step) for the functional form",
    },
)
