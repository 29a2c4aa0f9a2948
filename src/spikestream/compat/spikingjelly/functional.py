"""SpikingJelly's ``spikingjelly.activation_based.functional``: ``reset_net``,
``set_step_mode`` and ``set_backend``::

    # from spikingjelly.activation_based import functional
    from spikestream.compat.spikingjelly import functional
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ...snn.functional import reset_net
from ...snn.functional import set_step_mode as _set_step_mode
from ...snn.neuron import BaseNode
from .. import _unsupported
from .neuron import backend_name


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` ('s' or 'm') on every module of ``net`` that has one, as SpikingJelly
    2.0 does: the children of a ``SeqToANNContainer`` / ``MultiStepContainer`` change too
    (SpikingJelly keeps only those of ``StepModeContainer`` and its recurrent containers, which
    spikestream does not provide), so put plain ``torch.nn`` layers in those containers, as
    SpikingJelly's examples do."""
    _set_step_mode(net, step_mode)


def set_backend(net: nn.Module, backend: str, instance: Any = (nn.Module,)) -> None:
    """Choose the neurons' implementation (SpikingJelly 0.0.0.0.14's call; 2.0 removed it):
    ``'cupy'`` / ``'triton'`` run spikestream's fused kernel for the tensor's device (Triton on
    CUDA, numba on the CPU), ``'torch'`` the reference loop. Only neurons that are instances
    of ``instance`` change."""
    chosen = backend_name(backend)
    for module in net.modules():
        if isinstance(module, BaseNode) and isinstance(module, instance):
            module.backend = chosen


__all__ = ["reset_net", "set_backend", "set_step_mode"]

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "detach_net": "not provided; call reset_net between samples (state never carries a "
        "graph across reset)",
        "multi_step_forward": "layer.MultiStepContainer(*modules)(x_seq)",
        "seq_to_ann_forward": "layer.SeqToANNContainer(*modules)(x_seq)",
        "set_threshold_margin": "not provided",
        "redundant_one_hot": "not provided; torch.nn.functional.one_hot(...).repeat_interleave",
        "first_spike_index": "not provided; (spikes.cumsum(0) == 1) & (spikes == 1)",
        "spike_similar_loss": "not provided",
        "kernel_dot_product": "not provided",
        "fused_conv2d_weight_of_convbn2d": "not provided; torch.nn.utils.fusion.fuse_conv_bn_eval",
        "fused_conv2d_bias_of_convbn2d": "not provided; torch.nn.utils.fusion.fuse_conv_bn_eval",
        "fuse_convbn2d": "torch.nn.utils.fusion.fuse_conv_bn_eval",
        "temporal_efficient_training_cross_entropy": "not provided",
        "kaiming_normal_conv_linear_weight": "torch.nn.init.kaiming_normal_",
    },
    peer="spikingjelly.activation_based.functional",
)
