"""Spiking neurons, surrogate gradients, layers and fused multi-step kernels (torch only: this
package knows nothing of events)."""

from . import functional, kernels, layer, norse, surrogate
from .neuron import BaseNode, IFNode, LIFNode, NeuronSteps, ParametricLIFNode, StepObserver
from .neuron_more import EIFNode, IzhikevichNode, KLIFNode, QIFNode

__all__ = [
    "BaseNode",
    "EIFNode",
    "IFNode",
    "IzhikevichNode",
    "KLIFNode",
    "LIFNode",
    "NeuronSteps",
    "ParametricLIFNode",
    "QIFNode",
    "StepObserver",
    "functional",
    "kernels",
    "layer",
    "norse",
    "surrogate",
]
