"""The training step's compact ops (`spikestream.snn.kernels`): the 2x2 max pool that keeps one
byte per output for the backward, and the neuron + pool op, equal to torch's ``max_pool2d`` and
to the two ops apart in values and gradients (random upstream gradients), and the bytes they
save for the backward, counted with ``saved_tensors_hooks``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestream import models
from spikestream.compat.spikingjelly import neuron as sj_neuron
from spikestream.compat.spikingjelly import surrogate as sj_surrogate
from spikestream.compat.spikingjelly.model import parametric_lif_net
from spikestream.snn import functional, kernels
from spikestream.snn.neuron import LIFNode, ParametricLIFNode
from spikestream.snn.surrogate import ATan, Sigmoid


def saved_bytes(fn) -> tuple[object, int]:
    """(fn(), bytes of the distinct storages autograd saved for the backward)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(storages.values())


def special_values(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Random values with ties, -inf windows and NaNs (torch's pool takes a NaN, the last one
    of a window; an all -inf window its first position)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 3, shape, generator=g).float()  # many ties
    x[..., 0:2, 0:2] = -float("inf")
    x.view(-1)[torch.randperm(x.numel(), generator=g)[:7]] = float("nan")
    return x


@pytest.mark.parametrize("shape", [(3, 4, 8, 8), (2, 3, 7, 9), (5, 6, 6), (2, 2, 3, 4, 4)])
@pytest.mark.parametrize("spikes", [True, False])
def test_max_pool2x2_equals_torch_s_values_and_gradient(shape, spikes):
    g = torch.Generator().manual_seed(len(shape))
    x = (torch.rand(shape, generator=g) < 0.3).float() if spikes else special_values(shape, 1)
    out_shape = (*shape[:-2], shape[-2] // 2, shape[-1] // 2)
    upstream = torch.randn(out_shape, generator=g)
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    ours = kernels.max_pool2x2(a)
    ref = nn.functional.max_pool2d(b.flatten(0, -3), 2, 2).reshape(out_shape)
    (ours * upstream).sum().backward()
    (ref * upstream).sum().backward()
    assert torch.equal(ours.isnan(), ref.isnan())
    assert torch.equal(ours.nan_to_num(), ref.nan_to_num())
    assert torch.equal(a.grad, b.grad)  # every gradient routed to torch's position
    assert a.grad.count_nonzero() == upstream.count_nonzero()


def test_max_pool2x2_keeps_one_byte_per_output():
    x = (torch.rand(4, 8, 16, 16) < 0.3).float().requires_grad_(True)
    _, ours = saved_bytes(lambda: kernels.max_pool2x2(x))
    _, torch_s = saved_bytes(lambda: nn.functional.max_pool2d(x, 2, 2))
    assert ours == 4 * 8 * 8 * 8  # uint8 winner codes
    assert torch_s == x.numel() * 4 + 4 * 8 * 8 * 8 * 8  # its input and int64 indices
    y = torch.rand(2, 3, 4, 4, dtype=torch.float64)  # other dtypes: torch's pool
    assert torch.equal(kernels.max_pool2x2(y), nn.functional.max_pool2d(y, 2, 2))


@pytest.mark.parametrize(
    ("node", "v_reset"),
    [
        (lambda: LIFNode(tau=2.0, surrogate_function=ATan(), detach_reset=True), 0.0),
        (lambda: LIFNode(tau=3.0, surrogate_function=Sigmoid(), v_reset=None), None),
        (lambda: ParametricLIFNode(init_tau=2.5, surrogate_function=ATan()), 0.0),
    ],
)
def test_neuron_pool_op_equals_the_two_ops(node, v_reset):
    """`multistep_pool2x2` on the fused kernel equals the fused neuron followed by torch's
    pool bit for bit (the same kernels), and the torch loop within the kernel tests'
    tolerance; gradients for the input, the initial potential and PLIF's w, random upstream
    gradients on the pooled spikes and the last potential."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 2, 3, 8, 10, generator=g) * 1.5
    v0 = torch.randn(2, 3, 8, 10, generator=g) * 0.3
    g_out = torch.randn(6, 2, 3, 4, 5, generator=g)
    g_v = torch.randn(2, 3, 8, 10, generator=g)
    results = []
    for how in ("fused", "cpu", "torch"):
        n = node()
        xi, vi = x.clone().requires_grad_(True), v0.clone().requires_grad_(True)
        if how == "fused":
            out, v_last = kernels.multistep_pool2x2(n.spec(), xi, vi, n.decay(), "cpu")
        else:
            s, _, v_last = kernels.multistep(n.spec(), xi, vi, n.decay(), how, False)
            out = nn.functional.max_pool2d(s.flatten(0, 1), 2, 2).unflatten(0, (6, 2))
        ((out * g_out).sum() + (v_last * g_v).sum()).backward()
        gw = n.w.grad.clone() if isinstance(n, ParametricLIFNode) else torch.zeros(())
        results.append((out.detach(), v_last.detach(), xi.grad, vi.grad, gw))
    fused, cpu, ref = results
    assert 0 < fused[0].mean() < 1
    for a, b in zip(fused, cpu, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(fused[0], ref[0]) and torch.equal(fused[1], ref[1])
    for a, b in zip(fused[2:], ref[2:], strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-5)


def test_neuron_pool_op_saves_its_input_and_one_byte_per_output():
    n = LIFNode(surrogate_function=ATan(), detach_reset=True)
    x = torch.randn(4, 2, 8, 16, 16, requires_grad=True)
    v0 = torch.zeros(2, 8, 16, 16)
    _, fused = saved_bytes(lambda: kernels.multistep_pool2x2(n.spec(), x, v0, n.decay(), "cpu"))

    def two_ops():
        s, _, _ = kernels.multistep(n.spec(), x, v0, n.decay(), "cpu", False)
        return nn.functional.max_pool2d(s.flatten(0, 1), 2, 2)

    _, apart = saved_bytes(two_ops)
    elements = x.numel()
    assert fused == 4 * elements + 4 * v0.numel() + elements // 4
    # the two ops keep the spikes (float32) and int64 indices besides the neuron's input
    assert apart == 4 * elements + 4 * v0.numel() + 4 * elements + 8 * elements // 4


def spikingjelly_s_way(channels: int) -> nn.Module:
    net = parametric_lif_net.DVSGestureNet(
        channels=channels, spiking_neuron=sj_neuron.LIFNode,
        surrogate_function=sj_surrogate.ATan(), detach_reset=True,
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    return net


def test_plifnet_training_step_equals_spikingjelly_s_layer_by_layer_run():
    """A training step of ``plifnet_dvsgesture`` (fused neuron + pool, compact pools) against
    the same network run SpikingJelly's way (the drop-in: module by module, torch's pools):
    equal loss and gradients, with less than half the bytes saved for the backward."""
    torch.manual_seed(0)
    ours = models.create("plifnet_dvsgesture", channels=8, dropout=0.0)
    ref = spikingjelly_s_way(8)
    ref.load_state_dict(ours.state_dict())
    for m in ref.modules():
        if hasattr(m, "p"):
            m.p = 0.0  # dropout off: its masks are random draws
    ours.train()
    ref.train()
    x = (torch.rand(2, 6, 2, 128, 128) < 0.2).float()  # [N, T, ...]
    onehot = nn.functional.one_hot(torch.tensor([3, 7]), 11).float()
    for p in ours.parameters():  # drive every layer to fire
        if p.dim() == 4:
            p.data *= 3.0
    ref.load_state_dict(ours.state_dict())

    def loss_of(rate: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(rate, onehot)

    loss_ours, ours_bytes = saved_bytes(lambda: loss_of(ours(x)))
    loss_ref, ref_bytes = saved_bytes(lambda: loss_of(ref(x.transpose(0, 1)).mean(0)))
    loss_ours.backward()
    loss_ref.backward()
    functional.reset_net(ref)
    assert loss_ours.item() == loss_ref.item() > 0
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert torch.equal(p.grad, grads[name].grad), name
    assert ours.conv_fc[0].weight.grad.abs().sum() > 0
    assert ours_bytes < 0.7 * ref_bytes


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_max_pool2x2_other_dtypes_on_five_axes(dtype):
    """Other dtypes run torch's pool (the NIR export's float64 check runs PLIFNet's [T, N, C,
    H, W] spikes through it): more than 4 axes are folded into its batch axis and back."""
    g = torch.Generator().manual_seed(3)
    x = (torch.rand((3, 2, 4, 6, 8), generator=g) < 0.3).to(dtype)
    out = kernels.max_pool2x2(x)
    ref = nn.functional.max_pool2d(x.flatten(0, 1).float(), 2, 2).reshape(3, 2, 4, 3, 4)
    assert out.shape == (3, 2, 4, 3, 4) and out.dtype == dtype
    assert torch.equal(out.float(), ref)
