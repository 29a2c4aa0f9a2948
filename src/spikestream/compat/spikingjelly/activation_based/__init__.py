"""SpikingJelly 2.0's ``spikingjelly.activation_based`` package: ``neuron``, ``layer``,
``functional``, ``surrogate`` and ``model`` (the same modules as
``spikestream.compat.spikingjelly.<name>``)::

    # from spikingjelly.activation_based import layer, neuron
    from spikestream.compat.spikingjelly.activation_based import layer, neuron
"""

from . import functional, layer, model, neuron, surrogate

__all__ = ["functional", "layer", "model", "neuron", "surrogate"]
