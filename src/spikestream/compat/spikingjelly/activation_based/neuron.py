"""``spikingjelly.activation_based.neuron``: see
`spikestream.compat.spikingjelly.neuron`."""

from ..neuron import *  # noqa: F403 - the module's public names, listed in its __all__
from ..neuron import __all__ as __all__
from ..neuron import __getattr__ as __getattr__
