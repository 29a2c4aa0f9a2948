"""RecurrentSNN (``rsnn_pokerdvs``): Norse 1.1's POKER-DVS tutorial network (golden file H),
its hand-written backward against autograd, and the step API against the multi-step run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestream.errors import ConfigError
from spikestream.models import create, list_models
from spikestream.models.rsnn import RecurrentSNN, RSNNState
from spikestream.snn.surrogate import SuperSpike

from .conftest import load_golden

NAMES = ("l1.input_weights", "l1.recurrent_weights", "fc_out.weight")


def _golden_model(g) -> RecurrentSNN:
    model = create("rsnn_pokerdvs")
    model.load_state_dict({k: torch.from_numpy(g[f"sd/{k}"]) for k in NAMES})
    return model


def test_registered_with_norse_keys():
    assert "rsnn_pokerdvs" in list_models()
    model = create("rsnn_pokerdvs")
    assert list(model.state_dict()) == list(NAMES)
    assert model.l1.input_weights.shape == (100, 2450)
    assert sum(p.numel() for p in model.parameters()) == 100 * 2450 + 100 * 100 + 4 * 100
    assert torch.all(model.l1.recurrent_weights.diagonal() == 0)


def test_golden_state_dict_names_and_init():
    g = load_golden("H_norse_rsnn.npz")
    assert list(g["state_dict_names"]) == list(NAMES)
    # Norse's construction order and scaling: the same seed draws the same weights
    torch.manual_seed(8001)
    model = create("rsnn_pokerdvs")
    for k in NAMES:
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), g[f"sd/{k}"])


def test_golden_states_outputs_and_gradients():
    g = load_golden("H_norse_rsnn.npz")
    model = _golden_model(g)
    x = torch.from_numpy(g["x"]).transpose(0, 1).contiguous().requires_grad_(True)  # [N, T, ...]
    trace, final = model.trace(x)
    log_p = model(x)
    loss = torch.nn.functional.nll_loss(log_p, torch.from_numpy(g["label"]))
    loss.backward()

    def seq(t):  # ours [N, T, .] -> the golden's [T, N, .]
        return t.detach().transpose(0, 1).numpy()

    np.testing.assert_array_equal(seq(trace.z), g["hidden_z"])  # spikes exact
    # Hidden states reach |i| = 23 where a float32 step is 1.9e-6: the matrix products round
    # differently across machines (Norse 1.1 itself, run on this one with torch 2.13 or 2.14,
    # differs from this file by 3.8e-6), so 1e-5 absolute (~5 steps of rounding) rather than
    # the README's 1e-6.
    np.testing.assert_allclose(seq(trace.v), g["hidden_v"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(seq(trace.i), g["hidden_i"], rtol=0, atol=1e-5)
    for ours, key in ((trace.v_out, "readout_v"), (trace.i_out, "readout_i")):
        np.testing.assert_allclose(seq(ours), g[key], rtol=0, atol=1e-6)
    np.testing.assert_allclose(seq(trace.v_out), g["voltages"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(final.v_max.detach().numpy(), g["max_voltage"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(log_p.detach().numpy(), g["log_p_y"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(loss.item(), float(g["loss"]), rtol=0, atol=1e-6)
    # gradients: abs 1e-5 or rel 1e-4 (the README's tolerance), every element
    params = dict(model.named_parameters())
    grads = {k: params[k].grad.numpy() for k in NAMES}
    grads["x"] = seq(x.grad)
    for k, ours in grads.items():
        ref = g["grad_x" if k == "x" else f"grad/{k}"]
        bad = np.abs(ours - ref) > np.maximum(1e-5, 1e-4 * np.abs(ref))
        assert not bad.any(), f"{k}: {bad.sum()} elements off, max {np.abs(ours - ref).max()}"
        assert np.abs(ref).max() > 1e-3  # a real gradient, not zeros matching zeros
    assert np.all(np.diag(grads["l1.recurrent_weights"]) == 0)  # no autapses


# Norse's 'super' surrogate: strict Heaviside forward, 1 / (|x| + 1)^2 backward
_SUPER = SuperSpike(alpha=1.0, strict=True)


def _reference(model: RecurrentSNN, x: torch.Tensor, state: RSNNState):
    """Norse 1.1's equations as a plain autograd loop, one step at a time, the input projected
    per step (the notebook's code path): the trajectory and the final readout membrane."""
    w_in, w_rec = model.l1.input_weights, model.l1.recurrent_weights * model._rec_mask
    a, b, a_o, b_o = model._k.a, model._k.b, model._k.a_o, model._k.b_o  # float32 0.1, -0.2
    z, v, i, vo, io = state.z, state.v, state.i, state.v_out, state.i_out
    zs, vos = [], []
    for t in range(x.shape[1]):
        j = i + x[:, t].flatten(1) @ w_in.t() + z @ w_rec.t()
        d = v + a * ((0 - v) + j)
        i = j + b * j
        z = _SUPER(d - model._k.v_th)
        v = (1 - z.detach()) * d
        jo = io + z @ model.fc_out.weight.t()
        vo = vo + a_o * ((0 - vo) + jo)
        io = jo + b_o * jo
        zs.append(z)
        vos.append(vo)
    return torch.stack(zs, 1), torch.stack(vos, 1), (z, v, i, vo, io)


def _tiny(dtype=torch.float64, **kw) -> RecurrentSNN:
    torch.manual_seed(3)
    cfg = dict(input_shape=(2, 3, 3), hidden=12, classes=3, **kw)
    return create("rsnn_pokerdvs", **cfg).to(dtype)


def _frames(n: int, t: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((n, t, 2, 3, 3), 0.6), generator=gen).to(dtype)


@pytest.mark.parametrize("with_state", [False, True])
def test_hand_backward_equals_autograd(with_state):
    """The fused recurrence's backward against autograd through the plain equations (float64),
    including the gradients into a given initial state (a live engine carrying state)."""
    model = _tiny()
    x = _frames(4, 9).requires_grad_(True)
    start = model.init_state(4)
    if with_state:
        gen = torch.Generator().manual_seed(1)
        z0 = (torch.rand(4, 12, generator=gen, dtype=torch.float64) < 0.3).double()
        rest = [torch.randn(s.shape, generator=gen, dtype=torch.float64) for s in start[1:5]]
        start = RSNNState(z0, *(r.requires_grad_(True) for r in rest), torch.full((4, 3), -9.0))
    trace, final = model.trace(x, start)
    z_ref, vo_ref, last = _reference(model, x, start)
    torch.testing.assert_close(trace.z, z_ref.detach(), rtol=0, atol=0)
    assert 0.1 < trace.z.mean() < 0.9  # spikes and silences both exercised
    torch.testing.assert_close(trace.v_out, vo_ref, rtol=1e-12, atol=1e-12)
    # a loss that reads every state, so every carry path of the backward is exercised
    gen = torch.Generator().manual_seed(2)
    weights = [torch.randn(s.shape, generator=gen, dtype=torch.float64) for s in last]
    targets = []
    for ours in ((trace.v_out, final.v, final.i, final.v_out, final.i_out), None):
        grads_of = [x, *model.parameters(), *(s for s in start[1:5] if s.requires_grad)]
        if ours is None:
            outs = (vo_ref, *last[1:])
            loss = (vo_ref * torch.linspace(-1, 1, 9).view(1, 9, 1)).sum()
        else:
            outs = ours
            loss = (ours[0] * torch.linspace(-1, 1, 9).view(1, 9, 1)).sum()
        loss = loss + sum((o * w).sum() for o, w in zip(outs[1:], weights[1:], strict=True))
        targets.append(torch.autograd.grad(loss, grads_of))
    for ours, ref in zip(*targets, strict=True):
        assert ref.abs().max() > 0
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch", [1, 5])
def test_step_equals_run(batch):
    model = _tiny(torch.float32)
    x = _frames(batch, 12, torch.float32, seed=batch)
    log_p_seq, final = model.run(x)
    trace, _ = model.trace(x)
    assert trace.z.sum() > 0
    state = model.init_state(batch)
    outs, zs = [], []
    for t in range(x.shape[1]):
        out, state = model.step(x[:, t], state)
        outs.append(out)
        zs.append(state.z)
    torch.testing.assert_close(torch.stack(zs, 1), trace.z, rtol=0, atol=0)
    torch.testing.assert_close(torch.stack(outs, 1), log_p_seq, rtol=1e-6, atol=1e-6)
    for ours, ref in zip(state, final, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    # the last decision is the forward's output; each decision is the forward of the prefix
    torch.testing.assert_close(log_p_seq[:, -1], model(x), rtol=0, atol=0)
    torch.testing.assert_close(log_p_seq[:, 4], model(x[:, :5]), rtol=1e-6, atol=1e-6)
    assert torch.allclose(log_p_seq.exp().sum(-1), torch.ones(batch, 12))


def test_run_continues_from_state_and_batches_are_independent():
    model = _tiny(torch.float32)
    x = _frames(3, 10, torch.float32, seed=7)
    full, final = model.run(x)
    first, mid = model.run(x[:, :4])
    second, end = model.run(x[:, 4:], mid)
    torch.testing.assert_close(torch.cat([first, second], 1), full, rtol=1e-6, atol=1e-6)
    for ours, ref in zip(end, final, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    alone = torch.cat([model(x[k : k + 1]) for k in range(3)])
    torch.testing.assert_close(alone, model(x), rtol=1e-6, atol=1e-6)


def test_flat_and_integer_frames():
    model = _tiny(torch.float32)
    x = _frames(2, 6, torch.float32)
    ref = model(x)
    torch.testing.assert_close(model(x.flatten(2)), ref, rtol=0, atol=0)
    torch.testing.assert_close(model(x.to(torch.int16)), ref, rtol=0, atol=0)
    torch.testing.assert_close(model(x.double()), ref, rtol=0, atol=0)


def test_autapses_option():
    torch.manual_seed(0)
    with_self = create("rsnn_pokerdvs", input_shape=(2, 3, 3), hidden=6, autapses=True)
    assert torch.all(with_self.l1.recurrent_weights.diagonal() != 0)
    x = _frames(2, 8, torch.float32)
    torch.nn.functional.nll_loss(with_self(x), torch.tensor([0, 1])).backward()
    assert torch.any(with_self.l1.recurrent_weights.grad.diagonal() != 0)


@pytest.mark.parametrize(
    ("overrides", "word"),
    [
        ({"hidden": 0}, "hidden"),
        ({"input_shape": (2, 0, 3)}, "input_shape"),
        ({"dt": 0.0}, "dt"),
        ({"tau_mem_inv": -1.0}, "tau_mem_inv"),
        ({"method": "triangle"}, "triangle"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_bad_config_raises(overrides, word):
    with pytest.raises(ConfigError, match=word):
        create("rsnn_pokerdvs", **overrides)


@pytest.mark.parametrize(
    ("shape", "word"),
    [((2, 5, 2, 34, 35), "input_shape"), ((2, 2450), r"\[N, T"), ((2, 0, 2450), "time step")],
)
def test_bad_input_raises(shape, word):
    model = create("rsnn_pokerdvs")
    with pytest.raises(ConfigError, match=word):
        model(torch.zeros(shape))


def test_state_of_another_batch_raises():
    model = _tiny(torch.float32)
    x = _frames(3, 2, torch.float32)
    with pytest.raises(ConfigError, match=r"init_state\(3\)"):
        model.step(x[:, 0], model.init_state(1))
    with pytest.raises(ConfigError, match="RSNNState"):
        model.run(x, [torch.zeros(3, 12)] * 6)
    plain = tuple(model.init_state(3))  # any 6-tuple of the right shapes will do
    torch.testing.assert_close(model.run(x, plain)[0], model.run(x)[0], rtol=0, atol=0)


def test_torch_compile_full_graph():
    """Dynamo captures forward and the custom backward in one graph (``aot_eager``: the
    tracing, without inductor's code generation, which alone takes ~30 s here)."""
    model = _tiny(torch.float32)
    x = _frames(2, 5, torch.float32)
    label = torch.tensor([0, 2])
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    torch.nn.functional.nll_loss(out, label).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = model(x)
    torch.nn.functional.nll_loss(ref, label).backward()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    for ours, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(ours, p.grad, rtol=1e-5, atol=1e-7)
