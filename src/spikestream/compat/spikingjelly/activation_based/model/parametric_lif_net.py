"""``spikingjelly.activation_based.model.parametric_lif_net``: see
`spikestream.compat.spikingjelly.model.parametric_lif_net`."""

from ...model.parametric_lif_net import *  # noqa: F403 - the networks, listed in its __all__
from ...model.parametric_lif_net import __all__ as __all__
