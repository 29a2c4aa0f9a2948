"""``spikingjelly.activation_based.model``: see `spikestream.compat.spikingjelly.model`."""

from ...model import __all__ as __all__
from ...model import __getattr__ as __getattr__
from . import parametric_lif_net as parametric_lif_net
