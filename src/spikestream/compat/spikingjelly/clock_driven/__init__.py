"""SpikingJelly 0.0.0.0.14's ``spikingjelly.clock_driven`` spelling (the DVS128 Gesture
tutorial's): ``neuron`` (single-step ``LIFNode``, ``MultiStepLIFNode(..., backend='cupy')``),
``layer`` (``Dropout``, ``MultiStepDropout``, ``SeqToANNContainer``), ``functional`` and
``surrogate``::

    # from spikingjelly.clock_driven import functional, layer, neuron, surrogate
    from spikestream.compat.spikingjelly.clock_driven import functional, layer, neuron, surrogate

``backend='cupy'`` runs spikestream's fused kernel for the tensor's device (Triton on CUDA, numba
on the CPU); no CuPy is needed.
"""

from . import functional, layer, neuron, surrogate

__all__ = ["functional", "layer", "neuron", "surrogate"]
