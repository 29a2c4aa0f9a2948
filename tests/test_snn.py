"""Neurons, surrogates and cells against SpikingJelly 2.0 and Norse 1.1 outputs
(../shared/data/golden), and the fused CPU kernel against the torch reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spikestream as ss
from spikestream.compat.spikingjelly import functional, layer, neuron, surrogate
from spikestream.snn import kernels
from spikestream.snn.norse import (
    LICell,
    LIFCell,
    LIFParameters,
    LIFRecurrentCell,
    LIParameters,
)

from .conftest import golden_params, load_golden

SURROGATES = {"atan": surrogate.ATan(2.0), "sigmoid": surrogate.Sigmoid(4.0),
              "pq": surrogate.PiecewiseQuadratic()}  # fmt: skip


def build(case: str, mode: str, backend: str):
    parts = case.split("_")
    kw: dict = {}
    for p in parts[1:-1]:
        if p.startswith("di") and parts[0] != "if":  # IF has no decay
            kw["decay_input"] = p == "di1"
        elif p.startswith("vr"):
            kw["v_reset"] = {"vrNone": None, "vr0": 0.0, "vrm0.3": -0.3}[p]
        elif p.startswith("det"):
            kw["detach_reset"] = p == "det1"
        elif p.startswith("tau"):
            kw["tau"] = float(p[3:])
    cls = {"if": neuron.IFNode, "lif": neuron.LIFNode, "plif": neuron.ParametricLIFNode}[parts[0]]
    return cls(surrogate_function=SURROGATES[parts[-1]], step_mode=mode, store_v_seq=True,
               backend=backend, **kw)  # fmt: skip


def sj_cases():
    return golden_params(
        "C_sj_neurons.npz",
        lambda z: sorted({k.split("__")[0] for k in z.files if "__" in k and k[:2] != "__"}),
    )


@pytest.mark.parametrize("backend", ["torch", "cpu"])
@pytest.mark.parametrize("case", sj_cases())
def test_sj_neurons_match_golden(case, backend):
    z = load_golden("C_sj_neurons.npz")
    G = torch.from_numpy(z["G"])
    for mode in ("m", "s"):
        n = build(case, mode, "torch" if backend == "torch" else None)
        x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
        if mode == "m":
            s, v = n(x), n.v_seq
        else:
            steps = [n(x[t]) for t in range(x.shape[0])]
            s = torch.stack(steps)
        if mode == "s":
            v = None
        (s * G).sum().backward()
        key = f"{case}__{mode}__"
        assert np.array_equal(s.detach().numpy(), z[key + "spike"]), key  # spikes exact
        if v is not None:
            assert np.abs(v.detach().numpy() - z[key + "v"]).max() <= 1e-6
        np.testing.assert_allclose(x.grad.numpy(), z[key + "grad_x"], atol=1e-6, rtol=1e-5)
        if case.startswith("plif"):
            assert float(n.w.detach()) == pytest.approx(float(z[key + "w"]), abs=0)
            np.testing.assert_allclose(float(n.w.grad), float(z[key + "grad_w"]), rtol=1e-5)


def test_surrogates_match_golden():
    z = load_golden("C_sj_surrogates.npz")
    x = torch.from_numpy(z["x"])
    for name, sg in SURROGATES.items():
        xi = x.clone().requires_grad_(True)
        y = sg(xi)
        y.sum().backward()
        assert np.array_equal(y.detach().numpy(), z[f"{name}_forward"])
        np.testing.assert_allclose(xi.grad.numpy(), z[f"{name}_grad"], atol=1e-7)
        smooth = type(sg)(sg.alpha, spiking=False)
        xp = x.clone().requires_grad_(True)
        p = smooth(xp)
        p.sum().backward()
        np.testing.assert_allclose(p.detach().numpy(), z[f"{name}_primitive"], atol=1e-6)
        np.testing.assert_allclose(xp.grad.numpy(), z[f"{name}_primitive_grad"], atol=1e-6)


def test_surrogate_derivative_is_the_primitive_slope():
    """Each surrogate's derivative equals a float64 finite difference of its primitive."""
    x = torch.linspace(-2.5, 2.5, 101, dtype=torch.float64)
    for sg in [*SURROGATES.values(), surrogate.SuperSpike(2.0)]:
        smooth = type(sg)(sg.alpha, spiking=False)
        eps = 1e-6
        fd = (smooth(x + eps) - smooth(x - eps)) / (2 * eps)
        away = (x.abs() - 1 / sg.alpha).abs() > 1e-3  # PiecewiseQuadratic has kinks there
        assert torch.allclose(fd[away], sg.derivative(x)[away], atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["if", "lif", "plif"]),
    v_reset=st.sampled_from([0.0, None, -0.3]),
    detach=st.booleans(),
    decay_input=st.booleans(),
    sg=st.sampled_from(list(SURROGATES)),
    steps=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_fused_kernel_equals_reference(kind, v_reset, detach, decay_input, sg, steps, seed):
    """The fused CPU kernel may skip work, never change the maths: outputs, state and
    gradients equal the torch loop's."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 3, 5, generator=g) * 1.5
    gs = torch.randn(steps, 3, 5, generator=g)
    gv = torch.randn(steps, 3, 5, generator=g)
    outs = []
    for backend in ("torch", "cpu"):
        vr = "None" if v_reset is None else ("0" if v_reset == 0 else "m0.3")
        case = f"{kind}_di{int(decay_input)}_vr{vr}_det{int(detach)}_{sg}"
        n = build(case, "m", backend)
        xi = x.clone().requires_grad_(True)
        s = n(xi)
        ((s * gs).sum() + (n.v_seq * gv).sum()).backward()
        w_grad = n.w.grad.clone() if kind == "plif" else torch.zeros(())
        outs.append((s.detach(), n.v_seq.detach(), xi.grad.clone(), w_grad))
    (s0, v0, gx0, gw0), (s1, v1, gx1, gw1) = outs
    assert torch.equal(s0, s1) and torch.equal(v0, v1)
    assert torch.allclose(gx0, gx1, atol=1e-5, rtol=1e-5)
    assert torch.allclose(gw0, gw1, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3, 7), (5, 1)])
def test_fused_kernel_broadcast_gradient_equals_reference(shape):
    """The gradient of ``.sum()`` reaches the kernel as a stride-0 broadcast (and one neuron
    gives [T, 1] rows): the same values as the torch loop."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3)) * 1.5
    outs = []
    for backend in ("torch", "cpu"):
        n = neuron.LIFNode(step_mode="m", store_v_seq=True, backend=backend)
        xi = x.clone().requires_grad_(True)
        s = n(xi)
        (s.sum() + 0.5 * n.v_seq.sum()).backward()
        outs.append((s.detach(), n.v_seq.detach(), xi.grad))
    (s0, v0, g0), (s1, v1, g1) = outs
    assert torch.equal(s0, s1) and torch.equal(v0, v1)
    assert torch.allclose(g0, g1, atol=1e-5, rtol=1e-5) and g0.abs().sum() > 0


def test_state_carries_across_calls_and_resets():
    n = neuron.LIFNode(step_mode="m")
    x = torch.full((4, 1, 2), 0.6)
    whole = n(x).clone()
    functional.reset_net(n)
    halves = torch.cat(
        [n(x[:2]), n(x[2:])]
    )  # stateful: the second call starts where the first ended
    assert torch.equal(whole, halves)
    functional.reset_net(n)
    assert n.v == 0.0
    with torch.no_grad():  # no gradient: nothing stored for a backward
        assert torch.equal(n(x), whole)


def test_bad_arguments():
    with pytest.raises(ss.ConfigError):
        neuron.LIFNode(tau=0.5)
    with pytest.raises(ss.ConfigError):
        neuron.IFNode(step_mode="x")
    with pytest.raises(ss.ConfigError, match="unknown SNN backend"):
        kernels.multistep(neuron.IFNode().spec(), torch.zeros(1, 1), torch.zeros(1), 1.0, "x")


def _f(v):
    return torch.as_tensor(v, dtype=torch.float32)


NORSE_SETS = {
    "default": (LIFParameters(_f(200), _f(100), _f(0), _f(1), _f(0), "super", 100.0),
                LIParameters(_f(200), _f(100), _f(0))),
    "custom": (LIFParameters(_f(250), _f(125), _f(-0.1), _f(0.6), _f(-0.2), "super", 50.0),
               LIParameters(_f(250), _f(125), _f(-0.1))),
}  # fmt: skip


def _run(cell, x):
    state, outs, states = None, [], []
    for t in range(x.shape[0]):
        out, state = cell(x[t], state)
        outs.append(out)
        states.append(state)
    return torch.stack(outs), states


@pytest.mark.parametrize("name", ["default", "custom"])
def test_norse_cells_match_golden(name):
    z = load_golden("D_norse.npz")
    p, p_li = NORSE_SETS[name]
    for loss in ("z", "v"):
        x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
        zs, states = _run(LIFCell(p, 1e-3), x)
        v = torch.stack([s.v for s in states])
        i = torch.stack([s.i for s in states])
        assert np.array_equal(zs.detach().numpy(), z[f"lifcell_{name}_z"])
        assert np.array_equal(v.detach().numpy(), z[f"lifcell_{name}_v"])  # same op order: exact
        assert np.array_equal(i.detach().numpy(), z[f"lifcell_{name}_i"])
        target = zs if loss == "z" else v
        (target * torch.from_numpy(z[f"G{loss}_in"])).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), z[f"lifcell_{name}_gradx_{loss}"], atol=1e-6)

        x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
        w_in = torch.nn.Parameter(torch.from_numpy(z["W_in_given"]).clone())
        w_rec = torch.nn.Parameter(torch.from_numpy(z["W_rec_given"]).clone())
        cell = LIFRecurrentCell(16, 8, p, 1e-3, input_weights=w_in, recurrent_weights=w_rec)
        assert np.array_equal(
            cell.recurrent_weights.detach().numpy(), z[f"lifrec_{name}_W_rec_used"]
        )
        zs, states = _run(cell, x)
        v = torch.stack([s.v for s in states])
        assert np.array_equal(zs.detach().numpy(), z[f"lifrec_{name}_z"])
        # matrix products may sum in another order than Norse's: float tolerance
        np.testing.assert_allclose(v.detach().numpy(), z[f"lifrec_{name}_v"], atol=1e-5)
        target = zs if loss == "z" else v
        (target * torch.from_numpy(z[f"G{loss}_h"])).sum().backward()
        for mine, key in ((x.grad, "gradx"), (cell.input_weights.grad, "gradWin"),
                          (cell.recurrent_weights.grad, "gradWrec")):  # fmt: skip
            np.testing.assert_allclose(
                mine.numpy(), z[f"lifrec_{name}_{key}_{loss}"], atol=1e-5, rtol=1e-5
            )
        assert np.all(np.diag(cell.recurrent_weights.grad.numpy()) == 0)

    x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
    vs, states = _run(LICell(p_li, 1e-3), x)
    assert np.array_equal(vs.detach().numpy(), z[f"licell_{name}_v"])
    assert np.array_equal(
        torch.stack([s.i for s in states]).detach().numpy(), z[f"licell_{name}_i"]
    )
    (vs * torch.from_numpy(z["Gv_in"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), z[f"licell_{name}_gradx_v"], atol=1e-6)


def test_layers():
    torch.manual_seed(0)
    seq = layer.SeqToANNContainer(torch.nn.Linear(4, 2))
    x = torch.randn(3, 5, 4)
    assert torch.allclose(seq(x), seq[0](x.reshape(15, 4)).reshape(3, 5, 2))
    drop = layer.MultiStepDropout(0.5).train()
    y = drop(torch.ones(6, 2, 50))
    assert torch.equal(y[0], y[5]) and set(y.unique().tolist()) <= {
        0.0,
        2.0,
    }  # one mask per sequence
    assert torch.equal(drop.eval()(x), x)
    bn = layer.MultiStepBatchNorm2d(3).train()
    out = bn(torch.randn(4, 2, 3, 5, 5) * 3 + 1)
    assert out.shape == (4, 2, 3, 5, 5)
    assert torch.allclose(out.mean(dim=(0, 1, 3, 4)), torch.zeros(3), atol=1e-5)
    vote = layer.VotingLayer(5)
    assert vote(torch.arange(20.0).reshape(2, 10)).tolist() == [[2.0, 7.0], [12.0, 17.0]]


def test_evaluation_resets_state_per_sample():
    from spikestream.snn.functional import evaluate, forward_sample, set_step_mode

    class Readout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.node = neuron.IFNode(
                v_threshold=1.0, step_mode="m", surrogate_function=surrogate.ATan()
            )

        def forward(self, x):
            return self.node(x)

    net = Readout()
    x = torch.full((3, 1, 2), 0.4)  # needs 3 steps to reach the threshold once
    first = forward_sample(net, x)
    second = forward_sample(net, x)  # same result: the state does not carry over
    assert torch.equal(first, second) and first[:, 0, 0].tolist() == [0.0, 0.0, 1.0]
    labels = torch.tensor([1])
    batches = [
        (torch.tensor([[[0.0, 0.6]] * 3]), labels),
        (torch.tensor([[[0.6, 0.0]] * 3]), labels),
    ]
    assert evaluate(net, batches) == 0.5
    set_step_mode(net, "s")
    assert net.node.step_mode == "s"
    with pytest.raises(ss.ConfigError):
        set_step_mode(net, "q")


def test_new_batch_shape_starts_from_rest():
    n = neuron.LIFNode(v_reset=-0.3, step_mode="m")
    n(torch.full((2, 3, 4), 0.9))
    fresh = neuron.LIFNode(v_reset=-0.3, step_mode="m")
    x = torch.full((2, 5, 4), 0.9)
    assert torch.equal(n(x), fresh(x)) and torch.equal(n.v, fresh.v)


def test_recycled_output_memory_never_changes_a_live_tensor():
    """The fused kernel reuses output buffers only once no tensor refers to them."""
    x = torch.randn(4, 3, 2000)
    n = neuron.LIFNode(step_mode="m", store_v_seq=True)
    first = n(x)
    keep_first, keep_view = first.clone(), n.v_seq[1].clone()
    view = n.v_seq[1]  # a view keeps its buffer alive too
    del n
    for _ in range(3):
        other = neuron.LIFNode(step_mode="m", store_v_seq=True)
        other(torch.randn(4, 3, 2000) * 3)
    assert torch.equal(first, keep_first) and torch.equal(view, keep_view)
    del first
    known = {b.ctypes.data for b, _ in kernels._POOL.entries}
    again = neuron.LIFNode(step_mode="m")(x)  # a freed buffer is handed out again
    assert again.data_ptr() in known and torch.equal(again, keep_first)


def test_buffer_pool_never_holds_more_than_its_bound(monkeypatch):
    """$SPIKESTREAM_KERNEL_POOL_MB bounds every buffer the pool tracks, in use or idle;
    outputs beyond it are fresh memory, and freed ones are reused within it."""
    bound = 100_000
    monkeypatch.setenv("SPIKESTREAM_KERNEL_POOL_MB", str(bound / (1 << 20)))
    pool = kernels._BufferPool()
    live = []
    for i in range(8):  # 40 KB each: two fit, the third must wait for a free one
        out = pool.take((10, 1000))
        out[:] = i
        live.append(out)
        assert pool.held_bytes() <= bound
    assert len(pool.entries) == 2
    assert [float(a[0, 0]) for a in live] == list(range(8))  # nothing handed out twice
    first = live[0].ctypes.data
    del live[0]
    again = pool.take((1000, 10))  # a freed buffer of the same size comes back
    assert again.ctypes.data == first and pool.held_bytes() <= bound
    big = pool.take((300, 100))  # 120 KB: larger than the bound, never kept
    assert pool.held_bytes() <= bound and all(b.size != big.size for b, _ in pool.entries)
    monkeypatch.setenv("SPIKESTREAM_KERNEL_POOL_MB", str(50_000 / (1 << 20)))
    del live[:]  # lowered bound: idle buffers leave on the next take
    pool.take((10,))
    assert pool.held_bytes() <= 50_000


def test_buffer_pool_off_with_zero(monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_KERNEL_POOL_MB", "0")
    pool = kernels._BufferPool()
    monkeypatch.setattr(kernels, "_POOL", pool)
    x = torch.randn(4, 3, 200)
    n = neuron.LIFNode(step_mode="m")
    first = n(x).clone()
    functional.reset_net(n)
    assert torch.equal(n(x), first) and pool.entries == []


def test_triton_backend_without_triton_is_a_config_error(monkeypatch):
    import sys

    monkeypatch.delitem(kernels._BACKENDS, "triton", raising=False)
    monkeypatch.setitem(sys.modules, "spikestream.snn.triton_kernels", None)  # import fails
    with pytest.raises(ss.ConfigError, match="needs Triton"):
        ss.snn.LIFNode(step_mode="m", backend="triton")(torch.ones(2, 3))
    assert not kernels.supports_triton(neuron.LIFNode().spec(), torch.ones(2))


def test_neurons_run_under_torch_compile():
    """dynamo cannot trace the fused kernel (numba inside an autograd.Function): the op runs
    eagerly inside a compiled module and gives the eager result, gradients included."""
    torch.manual_seed(0)
    x = 4 * torch.randn(6, 3, 40)
    net = torch.nn.Sequential(
        layer.SeqToANNContainer(torch.nn.Linear(40, 40)),
        neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), step_mode="m"),
    )
    want = net(x.clone().requires_grad_(True))
    functional.reset_net(net)
    xc = x.clone().requires_grad_(True)
    got = torch.compile(net)(xc)
    assert torch.equal(got, want) and got.sum() > 0
    (got * torch.linspace(-1, 1, 40)).sum().backward()
    assert xc.grad is not None and xc.grad.abs().sum() > 0


def test_recurrent_cell_state_follows_the_input_and_its_diagonal_stays_untrained():
    torch.manual_seed(1)
    cell = LIFRecurrentCell(5, 4).double()
    x = torch.rand(3, 5, dtype=torch.float64)
    state = cell.initial_state(x)
    assert all(s.dtype == torch.float64 and s.shape == (3, 4) for s in state)
    z, _ = cell(x * 4, state)
    (z.sum() + cell.recurrent_weights.sum()).backward()
    assert torch.count_nonzero(torch.diagonal(cell.recurrent_weights.grad)) == 0
    assert torch.count_nonzero(cell.recurrent_weights.grad) == 12  # every other entry trains


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cpu_kernel_computes_half_inputs_in_float32(dtype):
    """Half inputs (autocast's bfloat16 activations) run the fused CPU kernel in float32, as
    the Triton kernel does: outputs, state and gradients equal the float32 kernel's on the same
    rounded inputs, rounded to the input's dtype."""
    g = torch.Generator().manual_seed(11)
    x = (torch.randn(6, 4, 33, generator=g) * 1.5).to(dtype)
    upstream = torch.randn(6, 4, 33, generator=g).to(dtype).float()  # a half gradient on s
    outs = []
    for xi in (x.clone(), x.float()):
        n = neuron.ParametricLIFNode(step_mode="m", backend="cpu", store_v_seq=True)
        xi.requires_grad_(True)
        s = n(xi)
        (s.float() * upstream).sum().backward()
        outs.append((s, n.v_seq, n.v, xi.grad, n.w.grad))
    (sh, vh, vlh, gh, gwh), (sf, vf, vlf, gf, gwf) = outs
    assert sh.dtype == vh.dtype == vlh.dtype == gh.dtype == dtype
    assert 0 < sf.mean() < 1
    assert torch.equal(sh, sf.to(dtype)) and torch.equal(vh, vf.to(dtype))
    assert torch.equal(vlh, vlf.to(dtype)) and torch.equal(gh, gf.to(dtype))
    assert torch.equal(gwh, gwf)
