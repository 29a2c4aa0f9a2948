"""``spikingjelly.activation_based.layer``: see
`spikestream.compat.spikingjelly.layer`."""

from ..layer import *  # noqa: F403 - the module's public names, listed in its __all__
from ..layer import __all__ as __all__
from ..layer import __getattr__ as __getattr__
