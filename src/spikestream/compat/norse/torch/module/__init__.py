"""``norse.torch.module``: ``lif``, ``leaky_integrator``, ``lsnn``, ``lif_adex``,
``izhikevich`` and ``sequential``."""

from . import izhikevich, leaky_integrator, lif, lif_adex, lsnn, sequential
from .izhikevich import (
    Izhikevich,
    IzhikevichCell,
    IzhikevichRecurrent,
    IzhikevichRecurrentCell,
)
from .leaky_integrator import LI, LICell, LIParameters, LIState
from .lif import (
    LIF,
    LIFCell,
    LIFFeedForwardState,
    LIFParameters,
    LIFRecurrent,
    LIFRecurrentCell,
    LIFState,
)
from .lif_adex import (
    LIFAdEx,
    LIFAdExCell,
    LIFAdExFeedForwardState,
    LIFAdExParameters,
    LIFAdExRecurrent,
    LIFAdExRecurrentCell,
    LIFAdExState,
)
from .lsnn import (
    LSNN,
    LSNNCell,
    LSNNFeedForwardState,
    LSNNParameters,
    LSNNRecurrent,
    LSNNRecurrentCell,
    LSNNState,
)
from .sequential import SequentialState

__all__ = [
    "LI",
    "LIF",
    "LSNN",
    "Izhikevich",
    "IzhikevichCell",
    "IzhikevichRecurrent",
    "IzhikevichRecurrentCell",
    "LICell",
    "LIFAdEx",
    "LIFAdExCell",
    "LIFAdExFeedForwardState",
    "LIFAdExParameters",
    "LIFAdExRecurrent",
    "LIFAdExRecurrentCell",
    "LIFAdExState",
    "LIFCell",
    "LIFFeedForwardState",
    "LIFParameters",
    "LIFRecurrent",
    "LIFRecurrentCell",
    "LIFState",
    "LIParameters",
    "LIState",
    "LSNNCell",
    "LSNNFeedForwardState",
    "LSNNParameters",
    "LSNNRecurrent",
    "LSNNRecurrentCell",
    "LSNNState",
    "SequentialState",
    "izhikevich",
    "leaky_integrator",
    "lif",
    "lif_adex",
    "lsnn",
    "sequential",
]
