"""PLIFNet (`spikestream.models.plif`): parameter counts of every entry from the layer sizes,
layouts, per-step outputs, ``step`` equal to the multi-step forward (outputs and final state,
eval and training mode), dropout masks, configuration errors and torch.compile."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestream import models
from spikestream.errors import ConfigError
from spikestream.models.plif import PLIFNet, PLIFState


def conv(c_in: int, c_out: int) -> int:
    return c_in * c_out * 9  # 3x3, no bias


def bn(c: int) -> int:
    return 2 * c  # weight and bias


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# counted by hand from the entries' descriptions; PLIF neurons add one parameter (w) each
EXPECTED_PARAMETERS = {
    # {c128k3s1-BN-LIF-MPk2s2}*5 on 128x128 -> 128x4x4, FC512, FC110; LIF has no parameter
    "plifnet_dvsgesture": conv(2, 128) + 4 * conv(128, 128) + 5 * bn(128)
    + fc(128 * 4 * 4, 512) + fc(512, 110),
    # {c128-BN-PLIF-MP}*2 on 34x34 -> 128x8x8, FC2048, FC100; 4 PLIF layers
    "plifnet_nmnist": conv(2, 128) + conv(128, 128) + 2 * bn(128) + fc(128 * 8 * 8, 2048)
    + fc(2048, 100) + 4,
    # {c128-BN-PLIF-MP}*4 on 128x128 -> 128x8x8, FC512, FC100; 6 PLIF layers
    "plifnet_cifar10dvs": conv(2, 128) + 3 * conv(128, 128) + 4 * bn(128)
    + fc(128 * 8 * 8, 512) + fc(512, 100) + 6,
    # {c16-BN-PLIF-MP}*2 on 34x34 -> 16x8x8, FC128, FC100; 4 PLIF layers
    "plifnet_ndigits": conv(2, 16) + conv(16, 16) + 2 * bn(16) + fc(16 * 8 * 8, 128)
    + fc(128, 100) + 4,
}  # fmt: skip


def test_entries_are_registered():
    assert models.list_models("plifnet_*") == sorted(EXPECTED_PARAMETERS)
    assert "LIF" in models.describe("plifnet_dvsgesture")


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_parameter_count(name):
    net = models.create(name)
    assert sum(p.numel() for p in net.parameters()) == EXPECTED_PARAMETERS[name]


# each entry, shrunk (fewer channels and hidden units) but with its real input size
SMALL = {"channels": 4, "hidden": (8,)}
INPUT = {
    "plifnet_dvsgesture": ((2, 128, 128), 11),
    "plifnet_nmnist": ((2, 34, 34), 10),
    "plifnet_cifar10dvs": ((2, 128, 128), 10),
    "plifnet_ndigits": ((2, 34, 34), 10),
}


def excite(net: nn.Module) -> None:
    """Make a freshly initialised net fire (at rest it is nearly silent)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(3)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.6 + 0.3)
            elif isinstance(m, nn.Linear):
                m.weight.mul_(8)


def frames(batch: int, steps: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, steps, *shape, generator=gen) < 0.3).float()


@pytest.mark.parametrize("name", sorted(INPUT))
def test_forward_and_backward_of_every_entry(name):
    torch.manual_seed(0)
    net = models.create(name, **SMALL)
    excite(net)
    shape, classes = INPUT[name]
    x = frames(2, 2, shape).requires_grad_(True)
    out = net(x)
    assert out.shape == (2, classes)
    # scores are firing rates of the voting groups: multiples of 1 / (T * voting)
    assert 0 < out.sum() and out.max() <= 1
    assert torch.allclose(out * 20, (out * 20).round(), atol=1e-5)
    out.sum().backward()
    first = net.conv_fc[0].weight.grad
    assert first is not None and first.abs().sum() > 0  # the surrogate carries it to the input
    assert x.grad is not None and x.grad.abs().sum() > 0


def small_net(neuron: str, seed: int = 0, **overrides) -> PLIFNet:
    torch.manual_seed(seed)
    net = models.create("plifnet_ndigits", channels=6, hidden=(24,), neuron=neuron, **overrides)
    excite(net)
    return net


@pytest.mark.parametrize("neuron", ["lif", "plif"])
@pytest.mark.parametrize("batch", [1, 3])
def test_step_equals_forward_in_eval_mode(neuron, batch):
    net = small_net(neuron).eval()
    x = frames(batch, 6, (2, 34, 34), seed=1)
    with torch.no_grad():
        per_step, final = net.forward_steps(x.transpose(0, 1))
        state = net.init_state(batch)
        outs = []
        for t in range(6):
            out_t, state = net.step(x[:, t], state)
            outs.append(out_t)
        scores = net(x)
    assert per_step.shape == (6, batch, 10)
    assert 0 < per_step.mean() < 0.5  # spikes, not a silent or saturated net
    assert torch.equal(torch.stack(outs), per_step)
    assert len(state.v) == len(final.v) == 4  # every neuron layer's potential
    for v_step, v_multi in zip(state.v, final.v, strict=True):
        # the linear layers' matmul on N rows instead of T x N may round the last bit
        # differently (its blocking depends on the row count); spikes and outputs are exact
        assert torch.allclose(v_step, v_multi, rtol=0, atol=1e-5)
    assert state.masks == (None, None)  # no dropout in eval mode
    assert torch.equal(scores, per_step.mean(0))  # forward = per-step scores averaged over T


def test_step_equals_forward_in_training_mode_with_the_same_dropout_masks():
    # BatchNorm in training mode normalises by the batch it sees (T x N frames in forward, N
    # in step), so it stays in eval mode here; dropout and the surrogate path train.
    net = small_net("plif", dropout=0.5).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    x = frames(2, 5, (2, 34, 34), seed=2).requires_grad_(True)
    torch.manual_seed(11)
    per_step, final = net.forward_steps(x.transpose(0, 1))
    torch.manual_seed(11)  # the masks are drawn in the same order: layer by layer at step 0
    state = net.init_state(2)
    outs = []
    for t in range(5):
        out_t, state = net.step(x[:, t], state)
        if t == 0:
            first_masks = state.masks
        outs.append(out_t)
    assert torch.equal(torch.stack(outs), per_step)
    for v_step, v_multi in zip(state.v, final.v, strict=True):
        assert torch.allclose(v_step, v_multi, rtol=0, atol=1e-5)
    # one mask per dropout layer for the whole sequence: drawn at step 0, then reused
    assert all(a is b for a, b in zip(first_masks, state.masks, strict=True))
    for mask, mask_multi, width in zip(state.masks, final.masks, (6 * 8 * 8, 24), strict=True):
        assert mask is not None and mask.shape == (2, width)
        assert set(mask.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled 1/(1-p)
        assert torch.equal(mask, mask_multi)
    # gradients of both runs agree (w of PLIF included)
    g_multi = torch.autograd.grad(per_step.sum(), [x, net.conv_fc[2].w])
    g_step = torch.autograd.grad(torch.stack(outs).sum(), [x, net.conv_fc[2].w])
    for a, b in zip(g_step, g_multi, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
        assert a.abs().sum() > 0


def test_state_carries_over_between_calls():
    """Two halves of a sequence, the second from the first's final state, equal the whole."""
    net = small_net("lif").eval()
    x_seq = frames(2, 6, (2, 34, 34), seed=3).transpose(0, 1)
    with torch.no_grad():
        whole, _ = net.forward_steps(x_seq)
        first, state = net.forward_steps(x_seq[:3])
        second, _ = net.forward_steps(x_seq[3:], state)
    assert torch.equal(torch.cat([first, second]), whole)


def test_init_state_shapes_and_resting_potential():
    net = models.create("plifnet_ndigits", neuron_kwargs={"v_reset": -0.25})
    state = net.init_state(5)
    assert isinstance(state, PLIFState)
    assert [tuple(v.shape) for v in state.v] == [(5, 16, 34, 34), (5, 16, 17, 17), (5, 128),
                                                 (5, 100)]  # fmt: skip
    assert all(bool((v == -0.25).all()) for v in state.v)


def test_layout_follows_the_overrides():
    net = models.create("plifnet_ndigits", n_conv=2, voting=1, hidden=(32, 16), neuron="lif")
    kinds = [type(m).__name__ for m in net.conv_fc]
    assert kinds == (["Conv2d", "BatchNorm2d", "LIFNode"] * 2 + ["MaxPool2d"]) * 2 + [
        "Flatten", "MultiStepDropout", "Linear", "LIFNode", "MultiStepDropout", "Linear",
        "LIFNode", "MultiStepDropout", "Linear", "LIFNode"]  # fmt: skip
    assert net.conv_fc[16].in_features == 16 * 8 * 8
    assert net(frames(1, 2, (2, 34, 34))).shape == (1, 10)  # no voting: one neuron per class


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"neuron": "izhikevich"}, "neuron must be 'lif' or 'plif'"),
        ({"n_down": 6}, "too small for n_down=6"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"channels": 0}, "channels must be >= 1"),
        ({"neuron_kwargs": {"step_mode": "s"}}, "step_mode"),
        ({"neuron_kwargs": {"v_rest": 0.0}}, "neuron_kwargs.*v_rest"),
        ({"tau": 1.0}, "tau must be > 1"),
        ({"depth": 3}, r"unknown option\(s\) \['depth'\]"),
        ({"input_size": (34, 34, 2)}, r"input_size must be \(H, W\)"),
    ],
)
def test_bad_config_is_a_config_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        models.create("plifnet_ndigits", **overrides)


def test_bad_input_and_state_are_config_errors():
    net = models.create("plifnet_ndigits", channels=2, hidden=(4,))
    with pytest.raises(ConfigError, match=r"2x34x34 frames as \[N, T, 2, 34, 34\]"):
        net(torch.zeros(1, 3, 2, 32, 32))
    with pytest.raises(ConfigError, match=r"\[T, N, 2, 34, 34\]"):
        net.forward_steps(torch.zeros(3, 2, 34, 34))
    with pytest.raises(ConfigError, match=r"init_state\(3\)"):
        net.step(torch.zeros(3, 2, 34, 34), net.init_state(2))
    with pytest.raises(ConfigError, match="batch"):
        net.init_state(0)


def test_torch_compile():
    torch.manual_seed(0)
    net = models.create("plifnet_ndigits", channels=6, hidden=(24,))
    excite(net)
    net.eval()  # no random dropout masks: the two runs must see the same network
    x = frames(2, 3, (2, 34, 34), seed=4)
    compiled = torch.compile(net)
    out = compiled(x)
    ref = net(x)
    assert ref.sum() > 0
    assert torch.allclose(out, ref, atol=1e-6)
    out.sum().backward()
    assert net.conv_fc[0].weight.grad is not None
    assert net.conv_fc[0].weight.grad.abs().sum() > 0
