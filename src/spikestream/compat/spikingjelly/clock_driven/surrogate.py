"""``spikingjelly.clock_driven.surrogate``: the same functions as the 2.0 module."""

from ..surrogate import ATan, FastSigmoid, PiecewiseQuadratic, Sigmoid, SuperSpike
from ..surrogate import __getattr__ as __getattr__

__all__ = ["ATan", "FastSigmoid", "PiecewiseQuadratic", "Sigmoid", "SuperSpike"]
