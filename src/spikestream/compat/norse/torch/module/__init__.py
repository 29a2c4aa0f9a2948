"""``norse.torch.module``: ``lif``, ``leaky_integrator`` and ``sequential``."""

from . import leaky_integrator, lif, sequential
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
from .sequential import SequentialState

__all__ = [
    "LI",
    "LIF",
    "LICell",
    "LIFCell",
    "LIFFeedForwardState",
    "LIFParameters",
    "LIFRecurrent",
    "LIFRecurrentCell",
    "LIFState",
    "LIParameters",
    "LIState",
    "SequentialState",
    "leaky_integrator",
    "lif",
    "sequential",
]
