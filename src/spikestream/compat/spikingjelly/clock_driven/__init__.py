"""SpikingJelly 0.0.0.0.14's ``spikingjelly.clock_driven`` spelling (the DVS128 Gesture
tutorial's): ``neuron`` (single-step ``LIFNode``, ``MultiStepLIFNode(..., backend='cupy')``),
``layer`` (``Dropout``, ``MultiStepDropout``, ``SeqToANNContainer``), ``functional`` and
``surrogate``::

    # from spikingjelly.clock_driven import functional, layer, neuron, surrogate
    from spikestream.compat.spikingjelly.clock_driven import functional, layer, neuron, surrogate

``backend='cupy'`` runs spikestream's fused kernel for the tensor's device (Triton on CUDA, numba
on the CPU); no CuPy is needed.
"""

from ... import _unsupported
from . import functional, layer, neuron, surrogate

__all__ = ["functional", "layer", "neuron", "surrogate"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "cu_kernel_opt": "not needed: backend='cupy' runs spikestream's fused kernel",
        "neuron_kernel": "not needed: backend='cupy' runs spikestream's fused kernel",
        "accelerating": "not needed: backend='cupy' runs spikestream's fused kernel",
        "monitor": "not provided; register torch forward hooks on the neurons",
        "encoding": "not provided; encode in the dataset transform",
        "ann2snn": "not provided",
        "model": "spikestream.compat.spikingjelly.activation_based.model (parametric_lif_net)",
        "rnn": "not provided; spikestream.models has recurrent SNNs",
        "stdp": "not provided (no STDP); train with surrogate gradients",
        "spike_op": "not provided",
        "lava_exchange": "not provided",
        "examples": "../shared/seeds tutorials run with the compat imports",
    },
    peer="spikingjelly.clock_driven",
)
