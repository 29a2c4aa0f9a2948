"""``spikingjelly.clock_driven.neuron``: the single-step ``IFNode`` / ``LIFNode`` /
``ParametricLIFNode`` (one ``[N, ...]`` input per call) and the multi-step ``MultiStep*`` nodes
(``[T, N, ...]``) with their ``backend=`` argument: ``'cupy'`` (and the default) run
spikestream's fused kernel for the tensor's device, ``'torch'`` the reference loop. The
equations are SpikingJelly's (see `spikestream.snn.neuron`). ``QIFNode`` / ``EIFNode`` (one
step a call) and ``MultiStepEIFNode`` run the torch loop of `spikestream.snn.neuron_more`
whatever the backend."""

from __future__ import annotations

from typing import Any

from ....snn.neuron import BaseNode
from ....snn.neuron import IFNode as _IFNode
from ....snn.neuron import LIFNode as _LIFNode
from ....snn.neuron import ParametricLIFNode as _ParametricLIFNode
from ....snn.neuron_more import EIFNode as _EIFNode
from ....snn.neuron_more import QIFNode as _QIFNode
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


class QIFNode(_QIFNode):
    def __init__(self, tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_rest=0.0, v_reset=-0.1,
                 surrogate_function=None, detach_reset=False):  # fmt: skip
        super().__init__(tau, v_c, a0, v_threshold, v_rest, v_reset, surrogate_function,
                         detach_reset, "s")  # fmt: skip


class EIFNode(_EIFNode):
    def __init__(self, tau=2.0, delta_T=1.0, theta_rh=0.8, v_threshold=1.0, v_rest=0.0,
                 v_reset=-0.1, surrogate_function=None, detach_reset=False):  # fmt: skip
        super().__init__(tau, delta_T, theta_rh, v_threshold, v_rest, v_reset,
                         surrogate_function, detach_reset, "s")  # fmt: skip


class MultiStepEIFNode(_EIFNode):
    def __init__(self, tau=2.0, delta_T=1.0, theta_rh=0.8, v_threshold=1.0, v_rest=0.0,
                 v_reset=-0.1, surrogate_function=None, detach_reset=False,
                 backend="torch"):  # fmt: skip
        super().__init__(tau, delta_T, theta_rh, v_threshold, v_rest, v_reset,
                         surrogate_function, detach_reset, "m", backend_name(backend))  # fmt: skip


__all__ = [
    "BaseNode",
    "EIFNode",
    "IFNode",
    "LIFNode",
    "MultiStepEIFNode",
    "MultiStepIFNode",
    "MultiStepLIFNode",
    "MultiStepParametricLIFNode",
    "ParametricLIFNode",
    "QIFNode",
]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "GeneralNode": "not provided; LIFNode",
        "LIAFNode": "not provided; LIFNode",
    },
)
