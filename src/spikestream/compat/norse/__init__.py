"""Norse 1.1 compatible API: ``norse.torch`` (the LIF, LSNN, adaptive exponential LIF,
Izhikevich and leaky-integrator cells, recurrent cells and layers, their parameters, states
and Izhikevich presets, ``SequentialState``)::

    # from norse.torch import LIFParameters, LIFState, LICell, LIState
    # from norse.torch.module.lif import LIFCell, LIFRecurrentCell
    from spikestream.compat.norse.torch import LIFParameters, LIFState, LICell, LIState
    from spikestream.compat.norse.torch.module.lif import LIFCell, LIFRecurrentCell
"""

from . import torch

__all__ = ["torch"]
