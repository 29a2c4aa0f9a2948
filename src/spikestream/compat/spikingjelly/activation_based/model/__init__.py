"""``spikingjelly.activation_based.model``: ``parametric_lif_net``."""

from . import parametric_lif_net

__all__ = ["parametric_lif_net"]
