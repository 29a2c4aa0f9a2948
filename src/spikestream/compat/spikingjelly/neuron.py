"""SpikingJelly 2.0's ``spikingjelly.activation_based.neuron`` (IF, LIF, parametric LIF)::

    # from spikingjelly.activation_based import neuron
    from spikestream.compat.spikingjelly import neuron

SpikingJelly 2.0 has no ``backend`` argument and picks its implementation itself; so does this
module (the fused kernel for the tensor's device: Triton on CUDA, numba on the CPU). The older
``backend=`` is still accepted: ``'torch'`` forces the reference loop, ``'cupy'`` (and
``'triton'``, ``'cpu'``, ``'cuda'``) the fused kernel for the device.
"""

from __future__ import annotations

from ...errors import ConfigError
from ...snn.neuron import BaseNode as _BaseNode
from ...snn.neuron import IFNode as _IFNode
from ...snn.neuron import LIFNode as _LIFNode
from ...snn.neuron import ParametricLIFNode as _ParametricLIFNode
from .. import _unsupported

#: SpikingJelly's backend names -> spikestream's dispatch (None: the fused kernel for the device)
BACKENDS = {"torch": "torch", "cupy": None, "triton": None, "cuda": None, "cpu": None,
            "auto": None}  # fmt: skip


def backend_name(backend: str | None) -> str | None:
    """spikestream's backend for a SpikingJelly ``backend=`` value."""
    if backend is None:
        return None
    if backend not in BACKENDS:
        raise ConfigError(f"unknown neuron backend {backend!r}; known: {sorted(BACKENDS)}")
    return BACKENDS[backend]


class IFNode(_IFNode):
    def __init__(self, v_threshold=1.0, v_reset=0.0, surrogate_function=None, detach_reset=False,
                 step_mode="s", backend=None, store_v_seq=False):  # fmt: skip
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         backend_name(backend), store_v_seq)  # fmt: skip


class LIFNode(_LIFNode):
    def __init__(self, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, step_mode="s", backend=None,
                 store_v_seq=False):  # fmt: skip
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, backend_name(backend), store_v_seq)  # fmt: skip


class ParametricLIFNode(_ParametricLIFNode):
    def __init__(self, init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, step_mode="s", backend=None,
                 store_v_seq=False):  # fmt: skip
        super().__init__(init_tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, backend_name(backend), store_v_seq)  # fmt: skip


BaseNode = _BaseNode

__all__ = ["BaseNode", "IFNode", "LIFNode", "ParametricLIFNode"]

_OTHER_NEURON = "not provided; neuron.LIFNode, neuron.ParametricLIFNode or neuron.IFNode"
__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        **{
            name: _OTHER_NEURON
            for name in (
                "QIFNode",
                "EIFNode",
                "IzhikevichNode",
                "LIAFNode",
                "KLIFNode",
                "PSN",
                "MaskedPSN",
                "SlidingPSN",
                "GatedLIFNode",
                "CLIFNode",
                "ILCIFNode",
                "ILCLIFNode",
                "ILCPLIFNode",
                "NonSpikingLIFNode",
                "CUBALIFNode",
                "DSRIFNode",
                "DSRLIFNode",
                "OTTTLIFNode",
                "SLTTLIFNode",
                "AdaptBaseNode",
                "SimpleBaseNode",
                "SimpleIFNode",
                "SimpleLIFNode",
            )
        },
        "MultiStepIFNode": "neuron.IFNode(step_mode='m') (or clock_driven.neuron.MultiStepIFNode)",
        "MultiStepLIFNode": "neuron.LIFNode(step_mode='m') (or clock_driven.neuron."
        "MultiStepLIFNode)",
        "MultiStepParametricLIFNode": "neuron.ParametricLIFNode(step_mode='m')",
        "LIFNodeSpikeCount": "not provided; spikes.sum(0) of neuron.LIFNode(step_mode='m')",
    },
    peer="spikingjelly.activation_based.neuron",
)
