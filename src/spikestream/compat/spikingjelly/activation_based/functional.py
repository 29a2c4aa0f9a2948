"""``spikingjelly.activation_based.functional``: see
`spikestream.compat.spikingjelly.functional`."""

from ..functional import *  # noqa: F403 - the module's public names, listed in its __all__
from ..functional import __all__ as __all__
from ..functional import __getattr__ as __getattr__
