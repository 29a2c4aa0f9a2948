"""SpikingJelly 2.0's ``spikingjelly.activation_based.model`` (the PLIF paper's networks)::

# from spikingjelly.activation_based.model import parametric_lif_net
from spikestream.compat.spikingjelly.model import parametric_lif_net
"""

from . import parametric_lif_net

__all__ = ["parametric_lif_net"]
