"""SpikingJelly 2.0's ``spikingjelly.activation_based.neuron`` (IF, LIF, parametric LIF, and
QIF, EIF, Izhikevich, KLIF)::

    # from spikingjelly.activation_based import neuron
    from spikestream.compat.spikingjelly import neuron

SpikingJelly 2.0 has no ``backend`` argument and picks its implementation itself; so does this
module (the fused kernel for the tensor's device: Triton on CUDA, numba on the CPU). The older
``backend=`` is still accepted: ``'torch'`` forces the reference loop, ``'cupy'`` (and
``'triton'``, ``'cpu'``, ``'cuda'``) the fused kernel for the device. QIF, EIF, Izhikevich
and KLIF have no fused kernel: every backend runs their torch loop (`spikestream.snn.neuron_more`).
"""

from __future__ import annotations

from ...errors import ConfigError
from ...snn.neuron import BaseNode as _BaseNode
from ...snn.neuron import IFNode as _IFNode
from ...snn.neuron import LIFNode as _LIFNode
from ...snn.neuron import ParametricLIFNode as _ParametricLIFNode
from ...snn.neuron_more import EIFNode as _EIFNode
from ...snn.neuron_more import IzhikevichNode as _IzhikevichNode
from ...snn.neuron_more import KLIFNode as _KLIFNode
from ...snn.neuron_more import QIFNode as _QIFNode
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


class QIFNode(_QIFNode):
    def __init__(self, tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_rest=0.0, v_reset=-0.1,
                 surrogate_function=None, detach_reset=False, step_mode="s", backend="torch",
                 store_v_seq=False):  # fmt: skip
        super().__init__(tau, v_c, a0, v_threshold, v_rest, v_reset, surrogate_function,
                         detach_reset, step_mode, backend_name(backend), store_v_seq)  # fmt: skip


class EIFNode(_EIFNode):
    def __init__(self, tau=2.0, delta_T=1.0, theta_rh=0.8, v_threshold=1.0, v_rest=0.0,
                 v_reset=-0.1, surrogate_function=None, detach_reset=False, step_mode="s",
                 backend="torch", store_v_seq=False):  # fmt: skip
        super().__init__(tau, delta_T, theta_rh, v_threshold, v_rest, v_reset,
                         surrogate_function, detach_reset, step_mode, backend_name(backend),
                         store_v_seq)  # fmt: skip


class IzhikevichNode(_IzhikevichNode):
    def __init__(self, tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_reset=0.0, v_rest=-0.1,
                 w_rest=0.0, tau_w=2.0, a=0.0, b=0.0, surrogate_function=None,
                 detach_reset=False, step_mode="s", backend="torch",
                 store_v_seq=False):  # fmt: skip
        super().__init__(tau, v_c, a0, v_threshold, v_reset, v_rest, w_rest, tau_w, a, b,
                         surrogate_function, detach_reset, step_mode, backend_name(backend),
                         store_v_seq)  # fmt: skip


class KLIFNode(_KLIFNode):
    def __init__(self, scale_reset=False, tau=2.0, decay_input=True, v_threshold=1.0,
                 v_reset=0.0, surrogate_function=None, detach_reset=False, step_mode="s",
                 backend="torch", store_v_seq=False):  # fmt: skip
        super().__init__(scale_reset, tau, decay_input, v_threshold, v_reset,
                         surrogate_function, detach_reset, step_mode, backend_name(backend),
                         store_v_seq)  # fmt: skip


BaseNode = _BaseNode

__all__ = ["BaseNode", "EIFNode", "IFNode", "IzhikevichNode", "KLIFNode", "LIFNode",
           "ParametricLIFNode", "QIFNode"]  # fmt: skip

_OTHER_NEURON = (
    "not provided; neuron.LIFNode, neuron.ParametricLIFNode, neuron.IFNode, "
    "neuron.QIFNode, neuron.EIFNode, neuron.IzhikevichNode or neuron.KLIFNode"
)
__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        **{
            name: _OTHER_NEURON
            for name in (
                "LIAFNode",
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
