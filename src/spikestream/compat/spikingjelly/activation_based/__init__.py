"""SpikingJelly 2.0's ``spikingjelly.activation_based`` package: ``neuron``, ``layer``,
``functional``, ``surrogate`` and ``model`` (the same modules as
``spikestream.compat.spikingjelly.<name>``)::

    # from spikingjelly.activation_based import layer, neuron
    from spikestream.compat.spikingjelly.activation_based import layer, neuron
"""

from ... import _unsupported
from . import functional, layer, model, neuron, surrogate

__all__ = ["functional", "layer", "model", "neuron", "surrogate"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "monitor": "not provided; register torch forward hooks on the neurons (or record "
        "the spikes the network returns)",
        "encoding": "not provided; encode in the dataset transform (e.g. torch.rand_like(x) < x "
        "per step for Poisson)",
        "ann2snn": "not provided",
        "cuda_utils": "not needed: backend='cupy' runs spikestream's fused kernel",
        "auto_cuda": "not needed: backend='cupy' runs spikestream's fused kernel",
        "quantize": "not provided",
        "lava_exchange": "not provided",
        "learning": "not provided (no STDP); train with surrogate gradients",
        "rnn": "not provided; spikestream.models has recurrent SNNs",
        "spike_op": "not provided",
        "tensor_cache": "not provided",
        "base": "torch.nn.Module plus functional.reset_net",
        "examples": "../shared/seeds tutorials run with the compat imports; spikestream.models "
        "for ready networks",
    },
    peer="spikingjelly.activation_based",
)
