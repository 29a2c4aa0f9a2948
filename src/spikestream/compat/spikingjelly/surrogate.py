"""SpikingJelly 2.0's ``spikingjelly.activation_based.surrogate``::

# from spikingjelly.activation_based import surrogate
from spikestream.compat.spikingjelly import surrogate
"""

from ...snn.surrogate import ATan, PiecewiseQuadratic, Sigmoid, SuperSpike

FastSigmoid = SuperSpike

__all__ = ["ATan", "FastSigmoid", "PiecewiseQuadratic", "Sigmoid", "SuperSpike"]
