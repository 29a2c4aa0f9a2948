"""SpikingJelly 2.0's ``spikingjelly.activation_based.neuron`` (IF, LIF, parametric LIF)::

    # from spikingjelly.activation_based import neuron
    from spikestream.compat.spikingjelly import neuron

SpikingJelly 2.0 has no ``backend`` argument and picks its implementation itself; so does this
module (the fused kernel for the tensor's device). The older ``backend=`` is still accepted:
``'torch'`` forces the reference loop, ``'cupy'``/``'triton'`` map to the fused kernel.
"""

from __future__ import annotations

from ...snn.neuron import BaseNode as _BaseNode
from ...snn.neuron import IFNode as _IFNode
from ...snn.neuron import LIFNode as _LIFNode
from ...snn.neuron import ParametricLIFNode as _ParametricLIFNode


def _backend(backend: str | None) -> str | None:
    return "torch" if backend == "torch" else None


class IFNode(_IFNode):
    def __init__(self, v_threshold=1.0, v_reset=0.0, surrogate_function=None, detach_reset=False,
                 step_mode="s", backend=None, store_v_seq=False):  # fmt: skip
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         _backend(backend), store_v_seq)  # fmt: skip


class LIFNode(_LIFNode):
    def __init__(self, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, step_mode="s", backend=None,
                 store_v_seq=False):  # fmt: skip
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, _backend(backend), store_v_seq)  # fmt: skip


class ParametricLIFNode(_ParametricLIFNode):
    def __init__(self, init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, step_mode="s", backend=None,
                 store_v_seq=False):  # fmt: skip
        super().__init__(init_tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, _backend(backend), store_v_seq)  # fmt: skip


BaseNode = _BaseNode

__all__ = ["BaseNode", "IFNode", "LIFNode", "ParametricLIFNode"]
