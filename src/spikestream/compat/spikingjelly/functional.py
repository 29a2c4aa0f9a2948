"""SpikingJelly 2.0's ``spikingjelly.activation_based.functional`` (``reset_net``,
``set_step_mode``)."""

from ...snn.functional import reset_net, set_step_mode

__all__ = ["reset_net", "set_step_mode"]
