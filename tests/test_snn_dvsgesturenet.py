"""SpikingJelly's DVSGestureNet rebuilt from spikestream's neurons and layers, loaded with the
golden state_dict (../shared/data/golden, section E): every LIF layer's spikes, the voted output
and the gradients equal SpikingJelly's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikestream.snn import LIFNode, functional
from spikestream.snn.layer import VotingLayer
from spikestream.snn.surrogate import ATan

from .conftest import load_golden

LIF_INDICES = (2, 6, 10, 14, 18, 23, 26)


def build() -> nn.Sequential:
    """The conv_fc stack with SpikingJelly's indices, so the state_dict loads as is."""

    def lif() -> LIFNode:
        return LIFNode(tau=2.0, detach_reset=True, surrogate_function=ATan(), step_mode="m")

    layers: list[nn.Module] = []
    channels = 2
    for _ in range(5):
        layers += [nn.Conv2d(channels, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), lif(),
                   nn.MaxPool2d(2, 2)]  # fmt: skip
        channels = 128
    layers += [nn.Flatten(), nn.Dropout(0.5), nn.Linear(2048, 512), lif(), nn.Dropout(0.5),
               nn.Linear(512, 110), lif(), VotingLayer(10)]  # fmt: skip
    return nn.Sequential(*layers)


def run(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Multi-step forward: stateless layers on [T*N, ...], neurons over T."""
    steps, batch = x.shape[:2]
    spikes = {}
    for i, layer in enumerate(net):
        if isinstance(layer, LIFNode):
            x = layer(x)
            spikes[i] = x
        elif isinstance(layer, VotingLayer):
            x = layer(x)
        else:
            x = layer(x.flatten(0, 1)).unflatten(0, (steps, batch))
    return x, spikes


@pytest.fixture(scope="module")
def golden():
    return load_golden("E_sj_dvsgesturenet.npz")


def test_dvsgesturenet_matches_spikingjelly(golden):
    net = build()
    state = {k[3:]: torch.from_numpy(np.asarray(golden[k])) for k in golden.files
             if k.startswith("sd/")}  # fmt: skip
    net.load_state_dict({k.removeprefix("conv_fc."): v for k, v in state.items()})
    net.eval()
    functional.reset_net(net)
    x = torch.from_numpy(golden["x"]).requires_grad_(True)
    out, spikes = run(net, x)
    for i in LIF_INDICES:  # every layer's spikes, exactly
        assert np.array_equal(spikes[i].detach().numpy().astype(bool),
                              golden[f"lif_spikes_conv_fc{i}"]), i  # fmt: skip
    assert np.array_equal(out.detach().numpy(), golden["out"])
    loss = (out * torch.from_numpy(golden["G_out"])).sum()
    assert float(loss.detach()) == pytest.approx(float(golden["loss"]), abs=1e-5)
    loss.backward()
    # the convolutions' backward sums in another order than SpikingJelly's run: 1e-4 relative
    np.testing.assert_allclose(net[0].weight.grad.numpy(), golden["grad_conv0_weight"],
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(net[25].weight.grad.numpy(), golden["grad_fc_last_weight"],
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(x.grad.numpy(), golden["grad_x"], rtol=1e-4, atol=1e-7)
