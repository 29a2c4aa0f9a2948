"""Spiking neurons, surrogate gradients, layers and fused multi-step kernels (torch only: this
package knows nothing of events)."""

from . import functional, kernels, layer, norse, surrogate
from .neuron import BaseNode, IFNode, LIFNode, NeuronSteps, ParametricLIFNode, StepObserver

__all__ = [
    "BaseNode",
    "IFNode",
    "LIFNode",
    "NeuronSteps",
    "ParametricLIFNode",
    "StepObserver",
    "functional",
    "kernels",
    "layer",
    "norse",
    "surrogate",
]
