"""``spikingjelly.clock_driven.functional``: ``reset_net`` (and the 2.0 ``set_step_mode`` /
``set_backend``)."""

from ..functional import __getattr__ as __getattr__
from ..functional import reset_net, set_backend, set_step_mode

__all__ = ["reset_net", "set_backend", "set_step_mode"]
