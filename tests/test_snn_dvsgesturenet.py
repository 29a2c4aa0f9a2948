"""The SpikingJelly drop-in ``compat.spikingjelly.model.parametric_lif_net.DVSGestureNet`` and
``models.plifnet_dvsgesture`` loaded with the golden state_dict (../shared/data/golden,
section E): the key names are SpikingJelly's, every LIF layer's spikes and the voted output equal
SpikingJelly's bit for bit, the gradients agree to 1e-5 of their largest magnitude."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestream import models
from spikestream.compat.spikingjelly import neuron, surrogate
from spikestream.compat.spikingjelly.model import parametric_lif_net
from spikestream.errors import ConfigError
from spikestream.snn import functional

from .conftest import load_golden
from .test_models_plif import excite

LIF_INDICES = (2, 6, 10, 14, 18, 23, 26)


@pytest.fixture(scope="module")
def golden():
    return load_golden("E_sj_dvsgesturenet.npz")


def golden_state_dict(golden) -> dict[str, torch.Tensor]:
    return {k[3:]: torch.from_numpy(np.asarray(golden[k])) for k in golden.files
            if k.startswith("sd/")}  # fmt: skip


def dropin(channels: int = 128) -> parametric_lif_net.DVSGestureNet:
    # the constructor call of the golden file (and of SpikingJelly's classify_dvsg example)
    return parametric_lif_net.DVSGestureNet(
        channels=channels, spiking_neuron=neuron.LIFNode,
        surrogate_function=surrogate.ATan(), detach_reset=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def dropin_run(golden):
    """One multi-step forward and backward of the drop-in on the golden input (the expensive
    part, shared by the tests below): output, per-layer spikes, loss and gradients."""
    net = dropin()
    net.load_state_dict(golden_state_dict(golden), strict=True)
    net.eval()
    functional.set_step_mode(net, "m")
    functional.reset_net(net)
    spikes: dict[int, torch.Tensor] = {}
    for i in LIF_INDICES:
        net.conv_fc[i].register_forward_hook(
            lambda _m, _inp, out, i=i: spikes.__setitem__(i, out.detach())
        )
    x = torch.from_numpy(golden["x"]).requires_grad_(True)
    out = net(x)
    loss = (out * torch.from_numpy(golden["G_out"])).sum()
    loss.backward()
    return {
        "out": out.detach().numpy(),
        "spikes": spikes,
        "loss": float(loss.detach()),
        "grad_x": x.grad.numpy(),
        "grad_conv0_weight": net.conv_fc[0].weight.grad.numpy(),
        "grad_fc_last_weight": net.conv_fc[25].weight.grad.numpy(),
    }


def test_state_dict_keys_are_spikingjelly_s(golden):
    sd = dropin().state_dict()
    assert list(sd) == [str(k) for k in golden["state_dict_names"]]
    assert all(tuple(sd[k].shape) == golden[f"sd/{k}"].shape for k in sd)
    assert "conv_fc.1.num_batches_tracked" in sd and "conv_fc.25.bias" in sd


def test_every_layer_s_spikes_and_the_output_equal_spikingjelly_s(golden, dropin_run):
    for i in LIF_INDICES:
        spikes = dropin_run["spikes"][i].numpy()
        assert spikes.any(), i  # the golden file makes every layer fire
        assert np.array_equal(spikes.astype(bool), golden[f"lif_spikes_conv_fc{i}"]), i
    assert dropin_run["out"].shape == (4, 2, 11)  # [T, N, classes], as SpikingJelly's
    assert np.array_equal(dropin_run["out"], golden["out"])
    assert dropin_run["loss"] == pytest.approx(float(golden["loss"]), rel=1e-6)


@pytest.mark.parametrize("name", ["grad_x", "grad_conv0_weight", "grad_fc_last_weight"])
def test_gradients_equal_spikingjelly_s_within_1e_5(golden, dropin_run, name):
    ours, ref = dropin_run[name], golden[name]
    # Relative to the tensor's largest magnitude: SpikingJelly 2.0.0 itself, rerun on another
    # torch build or CPU, differs from its golden file by up to 6e-6 of it (its convolutions'
    # and matmuls' backward sum in another order; the spikes are the same), while on the same
    # machine the drop-in's gradients equal SpikingJelly's bit for bit. Element by element,
    # sums that cancel to near zero carry that rounding at 1e-3 of their own size.
    scale = np.abs(ref).max()
    assert scale > 0
    assert np.abs(ours - ref).max() <= 1e-5 * scale
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-5 * scale)


def test_plifnet_dvsgesture_loads_the_same_checkpoint(golden):
    net = models.create("plifnet_dvsgesture")
    net.load_state_dict(golden_state_dict(golden), strict=True)
    net.eval()
    x_seq = torch.from_numpy(golden["x"])  # [T, N, 2, 128, 128]
    with torch.no_grad():
        per_step, state = net.forward_steps(x_seq)
        scores = net(x_seq.transpose(0, 1))  # [N, T, ...] -> [N, classes]
    assert np.array_equal(per_step.numpy(), golden["out"])
    assert torch.equal(scores, torch.from_numpy(golden["out"]).mean(0))
    assert [tuple(v.shape) for v in state.v][-2:] == [(2, 512), (2, 110)]


def test_single_step_mode_equals_multi_step_mode():
    torch.manual_seed(7)
    net = dropin(channels=4).eval()
    excite(net)
    x = (torch.rand(5, 2, 2, 128, 128) < 0.3).float()
    functional.set_step_mode(net, "m")
    functional.reset_net(net)
    with torch.no_grad():
        multi = net(x)
        functional.set_step_mode(net, "s")  # SpikingJelly's default: one [N, C, H, W] per call
        functional.reset_net(net)
        single = torch.stack([net(x[t]) for t in range(5)])
    assert 0 < multi.mean() < 0.5
    assert torch.equal(single, multi)


def test_neuron_class_is_required():
    with pytest.raises(ConfigError, match="spiking_neuron"):
        parametric_lif_net.DVSGestureNet(channels=8)
    with pytest.raises(ConfigError, match="channels"):
        parametric_lif_net.DVSGestureNet(channels=0, spiking_neuron=neuron.LIFNode)


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        ("MNISTNet", {"conv_fc.10.weight": (2048, 4 * 7 * 7), "conv_fc.13.weight": (100, 2048)}),
        ("NMNISTNet", {"conv_fc.0.weight": (4, 2, 3, 3), "conv_fc.10.weight": (2048, 4 * 8 * 8)}),
        ("CIFAR10Net", {"conv_fc.0.weight": (4, 3, 3, 3), "conv_fc.22.weight": (2048, 4 * 8 * 8)}),
        ("CIFAR10DVSNet", {"conv_fc.18.weight": (512, 4 * 8 * 8), "conv_fc.21.weight": (100, 512)}),
    ],
)
def test_other_paper_networks_have_spikingjelly_s_layout(cls, keys):
    net = getattr(parametric_lif_net, cls)(4, neuron.ParametricLIFNode)
    sd = net.state_dict()
    assert {k: tuple(sd[k].shape) for k in keys} == keys
    assert "conv_fc.2.w" in sd  # PLIF's learnable parameter, SpikingJelly's name
