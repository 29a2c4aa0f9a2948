"""QIF, EIF, Izhikevich and KLIF neurons (`spikestream.snn.neuron_more`) against a numpy
re-implementation of SpikingJelly 2.0's documented equations, forward and BPTT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestream.errors import ConfigError
from spikestream.snn import EIFNode, IzhikevichNode, KLIFNode, QIFNode, kernels
from spikestream.snn.functional import reset_net
from spikestream.snn.neuron import NeuronSteps
from spikestream.snn.neuron_more import EIF, QIF

T, N = 12, 40
ALPHA = 4.0  # the default surrogate, Sigmoid(alpha=4)


def _inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.45, 0.6, size=(T, N)).astype(dtype)


# -- the documented equations, in numpy ----------------------------------------------------


def _qif_charge(v, x, p):
    return v + (x + p["a0"] * (v - p["v_rest"]) * (v - p["v_c"])) / p["tau"]


def _qif_dh_dv(v, p):
    return 1 + p["a0"] * ((v - p["v_c"]) + (v - p["v_rest"])) / p["tau"]


def _eif_charge(v, x, p):
    d = p["delta_T"]
    return v + (x + p["v_rest"] - v + d * np.exp((v - p["theta_rh"]) / d)) / p["tau"]


def _eif_dh_dv(v, p):
    return 1 + (-1 + np.exp((v - p["theta_rh"]) / p["delta_T"])) / p["tau"]


QIF_P = dict(tau=2.5, v_c=0.6, a0=0.7, v_rest=-0.05, v_threshold=1.0)
EIF_P = dict(tau=2.5, delta_T=0.7, theta_rh=0.5, v_rest=-0.05, v_threshold=1.0)
CASES = {
    "qif": (QIFNode, QIF_P, _qif_charge, _qif_dh_dv),
    "eif": (EIFNode, EIF_P, _eif_charge, _eif_dh_dv),
}


def _reference(charge, xs, p, v_reset, v0):
    """(spikes, v after each step, h of each step) of the one-state loop."""
    vth = p["v_threshold"]
    v, spikes, vs, hs = v0, [], [], []
    for x in xs:
        h = charge(v, x, p)
        s = (h >= vth).astype(xs.dtype)
        v = h - s * vth if v_reset is None else s * v_reset + (1 - s) * h
        spikes.append(s)
        vs.append(v)
        hs.append(h)
    return np.stack(spikes), np.stack(vs), np.stack(hs)


def _sg(u):
    s = 1 / (1 + np.exp(-ALPHA * u))
    return ALPHA * s * (1 - s)


def _reference_grad(charge, dh_dv, xs, p, v_reset, v0, g_spikes, detach):
    """d(sum(g_spikes * spikes))/dx by hand-written BPTT through the surrogate."""
    vth = p["v_threshold"]
    v, prev, hs, ss = v0, [], [], []
    for x in xs:
        h = charge(v, x, p)
        s = (h >= vth).astype(xs.dtype)
        prev.append(v)
        hs.append(h)
        ss.append(s)
        v = h - s * vth if v_reset is None else s * v_reset + (1 - s) * h
    gx = np.zeros_like(xs)
    gv = np.zeros_like(v0)
    for t in reversed(range(len(xs))):
        sg = _sg(hs[t] - vth)
        if v_reset is None:
            dv_dh = 1 + (0 if detach else -vth * sg)
        else:
            dv_dh = (1 - ss[t]) + (0 if detach else (v_reset - hs[t]) * sg)
        gh = g_spikes[t] * sg + gv * dv_dh
        gx[t] = gh / p["tau"]
        gv = gh * dh_dv(prev[t], p)
    return gx


def _node(case, v_reset, **kw):
    cls, p, _, _ = CASES[case]
    return cls(v_reset=v_reset, **p, **kw)


# -- forward: numpy equality, single vs multi step, hard and soft reset -------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("v_reset", [-0.1, None])
@pytest.mark.parametrize("case", sorted(CASES))
def test_one_state_neurons_follow_the_equations(case, v_reset, dtype):
    _, p, charge, _ = CASES[case]
    xs = _inputs(dtype)
    v0 = np.full(N, 0.0 if v_reset is None else v_reset, dtype)
    spikes, vs, hs = _reference(charge, xs, p, v_reset, v0)
    assert np.abs(hs - p["v_threshold"]).min() > 1e-5  # no spike decided by rounding
    assert 0 < spikes.mean() < 0.9  # the inputs exercise firing and resetting

    node = _node(case, v_reset, step_mode="m", store_v_seq=True)
    out = node(torch.from_numpy(xs))
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(out.numpy(), spikes)
    np.testing.assert_allclose(node.v_seq.numpy(), vs, rtol=tol, atol=tol)
    np.testing.assert_allclose(node.v.numpy(), vs[-1], rtol=tol, atol=tol)
    assert out.dtype == torch.from_numpy(xs).dtype

    single = _node(case, v_reset)  # one step a call, the state carried in .v
    steps = [single(torch.from_numpy(x)) for x in xs]
    np.testing.assert_array_equal(torch.stack(steps).numpy(), out.numpy())
    np.testing.assert_array_equal(single.v.numpy(), node.v.numpy())


def test_state_carries_over_calls_until_reset():
    xs = torch.from_numpy(_inputs(np.float64))
    whole = QIFNode(step_mode="m")
    expected = whole(xs)
    parts = QIFNode(step_mode="m")
    got = torch.cat([parts(xs[:5]), parts(xs[5:])])
    assert torch.equal(got, expected)
    reset_net(torch.nn.Sequential(parts))
    assert parts.v == -0.1 and parts.v_seq is None  # QIF rests at its v_reset
    assert torch.equal(parts(xs), expected)


# -- gradients: hand-written BPTT, detach_reset ---------------------------------------------


@pytest.mark.parametrize("v_reset", [-0.1, None])
@pytest.mark.parametrize("case", sorted(CASES))
def test_surrogate_gradients_match_bptt_and_detach_reset_changes_them(case, v_reset):
    _, p, charge, dh_dv = CASES[case]
    xs = _inputs(np.float64, seed=1)
    g = np.random.default_rng(2).normal(size=(T, N))  # a real upstream gradient
    v0 = np.full(N, 0.0 if v_reset is None else v_reset)
    grads = {}
    for detach in (False, True):
        x = torch.from_numpy(xs).requires_grad_()
        out = _node(case, v_reset, step_mode="m", detach_reset=detach)(x)
        out.backward(torch.from_numpy(g))
        expected = _reference_grad(charge, dh_dv, xs, p, v_reset, v0, g, detach)
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-9, atol=1e-12)
        grads[detach] = x.grad.numpy()
    assert np.abs(grads[True] - grads[False]).max() > 1e-3  # detaching the reset matters


# -- Izhikevich: the second state w -------------------------------------------------------

IZ_P = dict(tau=2.5, v_c=0.6, a0=0.7, v_rest=-0.05, w_rest=0.02, tau_w=3.0, a=0.4, b=0.3)


def _izhikevich(xs, v_reset, vth=1.0):
    p = IZ_P
    v = np.full(xs.shape[1:], 0.0 if v_reset is None else v_reset, xs.dtype)
    w = np.full(xs.shape[1:], p["w_rest"], xs.dtype)
    spikes, vs, ws, hs = [], [], [], []
    for x in xs:
        h = v + (x + p["a0"] * (v - p["v_rest"]) * (v - p["v_c"]) - w) / p["tau"]
        w = w + (p["a"] * (h - p["v_rest"]) - w) / p["tau_w"]
        s = (h >= vth).astype(xs.dtype)
        v = h - s * vth if v_reset is None else (1 - s) * h + s * v_reset
        w = w + p["b"] * s
        spikes.append(s)
        vs.append(v)
        ws.append(w)
        hs.append(h)
    return np.stack(spikes), np.stack(vs), w, np.stack(hs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_izhikevich_follows_the_equations(v_reset, dtype):
    xs = _inputs(dtype, seed=3) + dtype(0.3)
    spikes, vs, w_last, hs = _izhikevich(xs, v_reset)
    assert np.abs(hs - 1.0).min() > 1e-5 and 0 < spikes.mean() < 0.9
    node = IzhikevichNode(v_reset=v_reset, step_mode="m", store_v_seq=True, **IZ_P)
    out = node(torch.from_numpy(xs))
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(out.numpy(), spikes)
    np.testing.assert_allclose(node.v_seq.numpy(), vs, rtol=tol, atol=tol)
    np.testing.assert_allclose(node.w.numpy(), w_last, rtol=tol, atol=tol)

    single = IzhikevichNode(v_reset=v_reset, **IZ_P)
    steps = torch.stack([single(torch.from_numpy(x)) for x in xs])
    np.testing.assert_array_equal(steps.numpy(), spikes)
    np.testing.assert_array_equal(single.w.numpy(), node.w.numpy())
    single.reset()
    assert single.w == IZ_P["w_rest"] and single.v == (0.0 if v_reset is None else v_reset)


def test_izhikevich_gradients_single_equals_multi_step():
    xs = _inputs(np.float64, seed=4) + 0.3
    g = torch.from_numpy(np.random.default_rng(5).normal(size=(T, N)))
    grads = []
    for mode in ("m", "s"):
        x = torch.from_numpy(xs).requires_grad_()
        node = IzhikevichNode(step_mode=mode, **IZ_P)
        out = node(x) if mode == "m" else torch.stack([node(x[t]) for t in range(T)])
        out.backward(g)
        grads.append(x.grad)
    assert torch.equal(grads[0], grads[1]) and grads[0].abs().max() > 1e-3
    with pytest.raises(ConfigError, match="second state w"):
        IzhikevichNode().run_steps(torch.zeros(2, 3), torch.zeros(3))


# -- KLIF: the learnable k ----------------------------------------------------------------


def _klif(xs, k, v_reset, scale_reset, decay_input=True, tau=2.0, vth=1.0):
    vr = 0.0 if v_reset is None else v_reset
    v = np.full(xs.shape[1:], vr, xs.dtype)
    spikes, vs = [], []
    for x in xs:
        h = v + (x - (v - vr)) / tau if decay_input else v - (v - vr) / tau + x
        f = np.maximum(k * h, 0)
        s = (f >= vth).astype(xs.dtype)
        if scale_reset:
            # v_threshold / k is a float / float32-parameter division: float32 in torch (and
            # in SpikingJelly, whose k is the same float32 parameter), whatever the input dtype
            f, th = f / k, xs.dtype.type(np.float32(vth) / np.float32(k))
        else:
            th = vth
        v = f - s * th if v_reset is None else s * v_reset + (1 - s) * f
        spikes.append(s)
        vs.append(v)
    return np.stack(spikes), np.stack(vs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale_reset", [False, True])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_klif_follows_the_equations(v_reset, scale_reset, dtype):
    xs = _inputs(dtype, seed=6)
    node = KLIFNode(scale_reset, v_reset=v_reset, step_mode="m", store_v_seq=True)
    with torch.no_grad():
        node.k.fill_(1.3)
    k = node.k.detach().numpy().astype(dtype)  # k's float32 value, in the input's dtype
    spikes, vs = _klif(xs, k, v_reset, scale_reset)
    assert 0 < spikes.mean() < 0.9
    out = node(torch.from_numpy(xs))
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(out.detach().numpy(), spikes)
    np.testing.assert_allclose(node.v_seq.detach().numpy(), vs, rtol=tol, atol=tol)
    decay_off = KLIFNode(scale_reset, decay_input=False, v_reset=v_reset, step_mode="m")
    expected_off, _ = _klif(xs, np.float32(1.0).astype(dtype), v_reset, scale_reset, False)
    np.testing.assert_array_equal(decay_off(torch.from_numpy(xs)).detach().numpy(), expected_off)


def test_klif_k_learns():
    xs = torch.from_numpy(_inputs(np.float32, seed=7))
    g = torch.from_numpy(np.random.default_rng(8).normal(size=(T, N)).astype(np.float32))
    grads = []
    for mode in ("m", "s"):
        node = KLIFNode(step_mode=mode)
        out = node(xs) if mode == "m" else torch.stack([node(xs[t]) for t in range(T)])
        out.backward(g)
        grads.append(node.k.grad.clone())
    assert torch.isfinite(grads[0]) and grads[0].abs() > 1e-4
    torch.testing.assert_close(grads[0], grads[1])
    node = KLIFNode(step_mode="m")
    opt = torch.optim.SGD(node.parameters(), lr=0.1)
    node(xs).backward(g)
    opt.step()
    assert abs(node.k.item() - (1.0 - 0.1 * grads[0].item())) < 1e-6


# -- observer, arguments, compat ----------------------------------------------------------


def test_step_observer_sees_the_charged_potential():
    xs = _inputs(np.float64)
    _, _, hs = _reference(_eif_charge, xs, EIF_P, -0.1, np.full(N, -0.1))
    seen = []
    node = _node("eif", -0.1, step_mode="m")
    node.step_observer = lambda n, steps: seen.append(steps)
    node(torch.from_numpy(xs))
    (steps,) = seen
    assert isinstance(steps, NeuronSteps) and steps.spec.kind == EIF
    np.testing.assert_allclose(steps.h.numpy(), hs, rtol=1e-12)
    assert steps.v_seq.shape == (T, N) and steps.spikes.shape == (T, N)
    assert QIFNode().spec().kind == QIF
    # the kernels refuse a kind they would otherwise run as PLIF
    with pytest.raises(ConfigError, match="IF, LIF and PLIF only"):
        kernels.multistep(QIFNode().spec(), torch.ones(2, 1, 3), torch.zeros(1, 3), 0.5)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: QIFNode(tau=1.0), "tau"),
        (lambda: QIFNode(a0=0.0), "a0"),
        (lambda: QIFNode(v_threshold=-0.2), "v_threshold"),
        (lambda: QIFNode(v_rest=-0.5), "v_rest"),
        (lambda: EIFNode(delta_T=0.0), "delta_T"),
        (lambda: EIFNode(theta_rh="x"), "theta_rh"),
        (lambda: IzhikevichNode(tau_w=0.0), "tau_w"),
        (lambda: IzhikevichNode(a=float("nan")), "finite"),
        (lambda: KLIFNode(tau=0.5), "tau"),
        (lambda: KLIFNode(step_mode="x"), "step_mode"),
        (lambda: QIFNode(backend="cupy"), "torch loop"),
    ],
)
def test_bad_arguments_raise_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_compat_names_are_the_new_neurons():
    from spikestream.compat.spikingjelly.activation_based import neuron
    from spikestream.compat.spikingjelly.clock_driven import neuron as old

    for name, cls in [("QIFNode", QIFNode), ("EIFNode", EIFNode),
                      ("IzhikevichNode", IzhikevichNode), ("KLIFNode", KLIFNode)]:  # fmt: skip
        assert issubclass(getattr(neuron, name), cls) and name in neuron.__all__
    # SpikingJelly's defaults and the old 'cupy' backend spelling
    q = neuron.QIFNode(backend="cupy", step_mode="m")
    assert (q.tau, q.v_c, q.a0, q.v_rest, q.v_reset) == (2.0, 0.8, 1.0, 0.0, -0.1)
    iz = neuron.IzhikevichNode()
    assert (iz.v_reset, iz.v_rest, iz.w_rest, iz.tau_w, iz.a, iz.b) == (0.0, -0.1, 0, 2, 0, 0)
    k = neuron.KLIFNode(True)
    assert k.scale_reset and k.k.item() == 1.0 and k.v_reset == 0.0
    assert issubclass(old.QIFNode, QIFNode) and old.QIFNode().step_mode == "s"
    assert old.MultiStepEIFNode(backend="cupy").step_mode == "m"
    with pytest.raises(AttributeError, match=r"neuron\.QIFNode"):
        neuron.LIAFNode  # noqa: B018 - still not provided; the advice names the new ones


def test_nir_export_refuses_them_by_name():
    """Whatever their reset: a soft-reset QIF is not told to switch to a hard reset."""
    pytest.importorskip("nir")
    from spikestream.export import export_nir

    for node in (QIFNode(step_mode="m"), QIFNode(v_reset=None, step_mode="m"), KLIFNode()):
        net = torch.nn.Sequential(torch.nn.Flatten(2), node)
        with pytest.raises(ConfigError, match=f"cannot export neuron {type(node).__name__}"):
            export_nir(net, (2, 4))
