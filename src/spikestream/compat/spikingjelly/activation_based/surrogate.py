"""``spikingjelly.activation_based.surrogate``: see
`spikestream.compat.spikingjelly.surrogate`."""

from ..surrogate import *  # noqa: F403 - the module's public names, listed in its __all__
from ..surrogate import __all__ as __all__
from ..surrogate import __getattr__ as __getattr__
