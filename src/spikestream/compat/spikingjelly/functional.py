"""SpikingJelly 2.0's ``spikingjelly.activation_based.functional`` (``reset_net``)."""

from ...snn.functional import reset_net

__all__ = ["reset_net"]
