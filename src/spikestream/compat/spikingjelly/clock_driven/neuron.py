"""``spikingjelly.clock_driven.neuron``: the single-step ``IFNode`` / ``LIFNode`` /
``ParametricLIFNode`` (one ``[N, ...]`` input per call) and the multi-step ``MultiStep*`` nodes
(``[T, N, ...]``) with their ``backend=`` argument: ``'cupy'`` (and the default) run
spikestream's fused kernel for the tensor's device, ``'torch'`` the reference loop. The
equations are SpikingJelly's (see `spikestream.snn.neuron`)."""

from __future__ import annotations

from typing import Any

from ....snn.neuron import BaseNode
from ....snn.neuron import IFNode as _IFNode
from ....snn.neuron import LIFNode as _LIFNode
from ....snn.neuron import ParametricLIFNode as _ParametricLIFNode
from ... import _unsupported
from ..neuron import backend_name


class IFNode(_IFNode):
    def __init__(self, v_threshold=1.0, v_reset=0.0, surrogate_function=None, detach_reset=False,
                 cupy_fp32_inference: Any = False):  # fmt: skip
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, "s")


class LIFNode(_LIFNode):
    def __init__(self, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False,
                 cupy_fp32_inference: Any = False):  # fmt: skip
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, "s")  # fmt: skip


class ParametricLIFNode(_ParametricLIFNode):
    def __init__(self, init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False):  # fmt: skip
        super().__init__(init_tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, "s")  # fmt: skip


class MultiStepIFNode(_IFNode):
    def __init__(self, v_threshold=1.0, v_reset=0.0, surrogate_function=None, detach_reset=False,
                 backend=None, lava_s_cale: Any = None):  # fmt: skip
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, "m",
                         backend_name(backend))  # fmt: skip


class MultiStepLIFNode(_LIFNode):
    def __init__(self, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, backend=None,
                 lava_s_cale: Any = None):  # fmt: skip
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, "m", backend_name(backend))  # fmt: skip


class MultiStepParametricLIFNode(_ParametricLIFNode):
    def __init__(self, init_tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                 surrogate_function=None, detach_reset=False, backend=None):  # fmt: skip
        super().__init__(init_tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, "m", backend_name(backend))  # fmt: skip


__all__ = [
    "BaseNode",
    "IFNode",
    "LIFNode",
    "MultiStepIFNode",
    "MultiStepLIFNode",
    "MultiStepParametricLIFNode",
    "ParametricLIFNode",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "QIFNode": "not provided; LIFNode",
        "EIFNode": "not provided; LIFNode",
        "MultiStepEIFNode": "not provided; MultiStepLIFNode",
        "GeneralNode": "not provided; LIFNode",
        "LIAFNode": "not provided; LIFNode",
    },
)
