"""SpikingJelly 2.0's ``spikingjelly.activation_based.surrogate``::

# from spikingjelly.activation_based import surrogate
from spikestream.compat.spikingjelly import surrogate
"""

from ...snn.surrogate import ATan, PiecewiseQuadratic, Sigmoid, SuperSpike
from .. import _unsupported

FastSigmoid = SuperSpike

__all__ = ["ATan", "FastSigmoid", "PiecewiseQuadratic", "Sigmoid", "SuperSpike"]

_OTHER = "not provided; surrogate.ATan, Sigmoid, PiecewiseQuadratic or SuperSpike"
__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        name: _OTHER
        for name in (
            "PiecewiseExp",
            "SoftSign",
            "Erf",
            "NonzeroSignLogAbs",
            "PiecewiseLeakyReLU",
            "S2NN",
            "QPseudoSpike",
            "LeakyKReLU",
            "Rect",
            "LogTailedReLU",
            "FakeNumericalGradient",
            "SquarewaveFourierSeries",
            "DeterministicPass",
            "PoissonPass",
            "MultiLevelSpikeCount",
            "SurrogateFunctionBase",
        )
    },
    peer="spikingjelly.activation_based.surrogate",
)
