"""SpikingJelly 2.0's ``spikingjelly.activation_based.model.parametric_lif_net``: the PLIF
paper's networks with SpikingJelly's constructors, execution and **state_dict key names**, so a
checkpoint trained with SpikingJelly loads unchanged (``strict=True``)::

    # from spikingjelly.activation_based import functional, neuron, surrogate
    # from spikingjelly.activation_based.model import parametric_lif_net
    from spikestream.compat.spikingjelly import neuron, surrogate
    from spikestream.snn import functional  # reset_net, set_step_mode
    from spikestream.compat.spikingjelly.model import parametric_lif_net

    net = parametric_lif_net.DVSGestureNet(channels=128, spiking_neuron=neuron.LIFNode,
                                           surrogate_function=surrogate.ATan(), detach_reset=True)
    net.load_state_dict(torch.load("checkpoint.pth")["net"])
    functional.set_step_mode(net, "m")
    functional.reset_net(net)
    out = net(x_seq)  # [T, N, 2, 128, 128] -> [T, N, 11]; classes: out.mean(0)

As in SpikingJelly, ``spiking_neuron(*args, **kwargs)`` builds every neuron, the network starts
in single-step mode (``[N, C, H, W]`` per call) until ``functional.set_step_mode(net, 'm')``
(``[T, N, C, H, W]``), neurons and dropout masks keep their state between calls until
``functional.reset_net(net)``, and the output is the voting layer's, per step. The same weights
run without hidden state, one step at a time or whole, as `spikestream.models.PLIFNet`:
``models.create("plifnet_dvsgesture").load_state_dict(net.state_dict())`` (other channel counts
or PLIF neurons: ``create("plifnet_dvsgesture", channels=..., neuron="plif")``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ....errors import ConfigError
from ....models.plif import build_conv_fc
from ....snn.layer import VotingLayer

__all__ = [
    "CIFAR10DVSNet",
    "CIFAR10Net",
    "DVSGestureNet",
    "FashionMNISTNet",
    "MNISTNet",
    "NMNISTNet",
]


class _ParametricLIFNet(nn.Module):
    """``conv_fc`` run SpikingJelly's way: stateless layers time-distributed in multi-step
    mode, neurons and dropout stateful."""

    # (in_channels, input_size, n_conv, n_down, hidden, out_features); set by each subclass
    layout: tuple[int, tuple[int, int], int, int, tuple[int, ...], int]

    def __init__(self, channels: int, spiking_neuron: Any = None, *args: Any, **kwargs: Any):
        super().__init__()
        if spiking_neuron is None or not callable(spiking_neuron):
            raise ConfigError(
                f"{type(self).__name__}: spiking_neuron must be a neuron class such as "
                f"neuron.LIFNode (its other arguments go in **kwargs), got {spiking_neuron!r}"
            )
        if int(channels) < 1:
            raise ConfigError(f"{type(self).__name__}: channels must be >= 1, got {channels}")
        in_channels, size, n_conv, n_down, hidden, out = self.layout
        self.step_mode = "s"  # SpikingJelly's layers start single-step
        self.conv_fc = build_conv_fc(
            in_channels, size, int(channels), n_conv, n_down, hidden, out, 10,
            lambda: spiking_neuron(*args, **kwargs), 0.5, dropout_step_mode="s",
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode != "m":
            return self.conv_fc(x)
        steps, batch = x.shape[:2]
        for layer in self.conv_fc:
            if hasattr(layer, "step_mode") or isinstance(layer, VotingLayer):
                x = layer(x)  # neurons and dropout handle [T, N, ...] themselves
            else:
                x = layer(x.flatten(0, 1)).unflatten(0, (steps, batch))
        return x


class MNISTNet(_ParametricLIFNet):
    """{c-BN-SN-MPk2s2}*2-DP-FC2048-SN-DP-FC100-SN-APk10s10 on 1x28x28."""

    layout = (1, (28, 28), 1, 2, (2048,), 100)

    def __init__(self, channels: int = 128, spiking_neuron: Any = None, *args: Any, **kwargs: Any):
        super().__init__(channels, spiking_neuron, *args, **kwargs)


class FashionMNISTNet(MNISTNet):
    pass


class NMNISTNet(MNISTNet):
    """MNISTNet on 2x34x34 (N-MNIST)."""

    layout = (2, (34, 34), 1, 2, (2048,), 100)


class CIFAR10Net(_ParametricLIFNet):
    """{{c-BN-SN}*3-MPk2s2}*2-DP-FC2048-SN-DP-FC100-SN-APk10s10 on 3x32x32."""

    layout = (3, (32, 32), 3, 2, (2048,), 100)

    def __init__(self, channels: int = 256, spiking_neuron: Any = None, *args: Any, **kwargs: Any):
        super().__init__(channels, spiking_neuron, *args, **kwargs)


class CIFAR10DVSNet(_ParametricLIFNet):
    """{c-BN-SN-MPk2s2}*4-DP-FC512-SN-DP-FC100-SN-APk10s10 on 2x128x128."""

    layout = (2, (128, 128), 1, 4, (512,), 100)

    def __init__(self, channels: int = 128, spiking_neuron: Any = None, *args: Any, **kwargs: Any):
        super().__init__(channels, spiking_neuron, *args, **kwargs)


class DVSGestureNet(_ParametricLIFNet):
    """{c-BN-SN-MPk2s2}*5-DP-FC512-SN-DP-FC110-SN-APk10s10 on 2x128x128 (DVS128 Gesture)."""

    layout = (2, (128, 128), 1, 5, (512,), 110)

    def __init__(self, channels: int = 128, spiking_neuron: Any = None, *args: Any, **kwargs: Any):
        super().__init__(channels, spiking_neuron, *args, **kwargs)
