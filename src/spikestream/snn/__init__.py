"""Spiking neurons, surrogate gradients, layers and fused multi-step kernels (torch only: this
package knows nothing of events)."""

from . import functional, kernels, layer, norse, surrogate
from .neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode

__all__ = [
    "BaseNode",
    "IFNode",
    "LIFNode",
    "ParametricLIFNode",
    "functional",
    "kernels",
    "layer",
    "norse",
    "surrogate",
]
