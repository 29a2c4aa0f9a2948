"""``spikestream.compat.norse.torch``'s LSNN, LIFAdEx and Izhikevich cells: Norse 1.1's
equations checked step by step against a float64 numpy re-implementation of the documented
equations, a short run of each cell against literal values Norse 1.1.0 itself produced (bit
for bit), hand-worked steps, the behaviours the models are for (adaptation lengthens the
inter-spike interval; tonic spiking is periodic), dt scaling, gradients under a real upstream
gradient, state and weight shapes (frozen and per-neuron parameters too), and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikestream.compat.norse import torch as norse
from spikestream.compat.norse.torch.module.izhikevich import IzhikevichCell
from spikestream.compat.norse.torch.module.lif_adex import LIFAdExCell, LIFAdExRecurrentCell
from spikestream.compat.norse.torch.module.lsnn import LSNNCell, LSNNRecurrentCell
from spikestream.errors import ConfigError

# --- the documented equations in float64 numpy (Norse 1.1's update order) ------------------


def _f(p, name):
    return float(getattr(p, name))


def np_lsnn(x_current, s, p, dt):
    """LSNN: v, i, b advance on the old values; the input current jumps into i afterwards."""
    v, i, b = s
    v_dec = v + dt * _f(p, "tau_mem_inv") * ((_f(p, "v_leak") - v) + i)
    i_dec = i - dt * _f(p, "tau_syn_inv") * i
    b_dec = b + dt * _f(p, "tau_adapt_inv") * (_f(p, "v_th") - b)
    z = (v_dec - b_dec > 0).astype(np.float64)
    v_new = (1 - z) * v_dec + z * _f(p, "v_reset")
    return z, (v_new, i_dec + x_current, b_dec + z * _f(p, "beta")), v_dec - b_dec


def np_adex(x_current, s, p, dt):
    """AdEx: the input jumps into i first; a follows the old v."""
    v, i, a = s
    i_jump = i + x_current
    dv_exp = _f(p, "delta_T") * np.exp((v - _f(p, "v_th")) / _f(p, "delta_T"))
    v_dec = v + dt * _f(p, "tau_mem_inv") * ((_f(p, "v_leak") - v) + dv_exp + i_jump - a)
    i_new = i_jump - dt * _f(p, "tau_syn_inv") * i_jump
    a_dec = a + dt * _f(p, "tau_ada_inv") * (
        _f(p, "adaptation_current") * (v - _f(p, "v_leak")) - a
    )
    z = (v_dec - _f(p, "v_th") > 0).astype(np.float64)
    v_new = (1 - z) * v_dec + z * _f(p, "v_reset")
    return z, (v_new, i_new, a_dec + z * _f(p, "adaptation_spike")), v_dec - _f(p, "v_th")


def np_izhikevich(current, s, p, dt):
    v, u = s
    k = p.tau_inv * dt
    v_ = v + k * (p.sq * v**2 + p.mn * v + p.bias - u + current)
    u_ = u + k * p.a * (p.b * v - u)
    z = (v_ - p.v_th > 0).astype(np.float64)
    return z, ((1 - z) * v_ + z * p.c, (1 - z) * u_ + z * (u_ + p.d)), v_ - p.v_th


def _np(t):
    return t.detach().double().numpy()


def _teacher_forced(cell, np_step, xs, state_fields, weights=None, rtol=2e-5):
    """Runs ``cell`` over ``xs``; at every step the numpy step starts from the cell's previous
    state (so float32 rounding cannot accumulate) and must give the cell's spikes (wherever the
    membrane is not within 1e-3 of the threshold) and new state. Returns the spike count."""
    state, spikes, checked, total = None, 0, 0, 0
    for x in xs:
        prev = cell.initial_state(x) if state is None else state
        z, state = cell(x, prev)
        current = _np(x)
        if weights is not None:
            w_in, w_rec = (_np(w) for w in weights)
            current = current @ w_in.T + _np(prev.z) @ w_rec.T
        s_prev = tuple(_np(getattr(prev, f)) for f in state_fields)
        z_ref, s_ref, margin = np_step(current, s_prev, cell.p, cell.dt)
        clear = np.abs(margin) > 1e-3
        assert np.array_equal(_np(z)[clear], z_ref[clear])
        same = _np(z) == z_ref  # a float32 / float64 split at the threshold is excluded
        for name, ref in zip(state_fields, s_ref, strict=True):
            got = _np(getattr(state, name))
            scale = max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(got[same], ref[same], rtol=rtol, atol=rtol * scale)
        spikes += int(z.sum())
        checked += int(same.sum())
        total += z.numel()
    assert checked > 0.99 * total
    return spikes


def test_lsnn_steps_match_the_equations():
    torch.manual_seed(0)
    xs = torch.rand(60, 3, 5) * 60
    p = norse.LSNNParameters(tau_adapt_inv=50.0, beta=0.5, v_reset=-0.1)
    assert _teacher_forced(LSNNCell(p), np_lsnn, xs, ("v", "i", "b")) > 20
    cell = LSNNRecurrentCell(5, 4, p, autapses=True)
    xs = torch.rand(60, 3, 5) * 10
    weights = (cell.input_weights, cell.recurrent_weights)
    assert _teacher_forced(cell, np_lsnn, xs, ("v", "i", "b"), weights) > 10


def test_lif_adex_steps_match_the_equations():
    torch.manual_seed(1)
    p = norse.LIFAdExParameters(adaptation_current=2.0, tau_ada_inv=20.0, v_leak=-0.2)
    xs = torch.rand(60, 3, 5) * 3
    assert _teacher_forced(LIFAdExCell(p), np_adex, xs, ("v", "i", "a")) > 20
    cell = LIFAdExRecurrentCell(5, 4, p)
    weights = (cell.input_weights, cell.recurrent_weights)
    assert _teacher_forced(cell, np_adex, xs, ("v", "i", "a"), weights) > 10


@pytest.mark.parametrize("preset", ["tonic_spiking", "class_1_exc", "dap", "accomodation"])
def test_izhikevich_steps_match_the_equations(preset):
    torch.manual_seed(2)
    behaviour = getattr(norse, preset)
    xs = torch.rand(400, 2, 3) * 20
    assert _teacher_forced(IzhikevichCell(behaviour), np_izhikevich, xs, ("v", "u")) > 2
    cell = norse.IzhikevichRecurrentCell(3, 4, behaviour)
    weights = (cell.input_weights, cell.recurrent_weights)
    assert _teacher_forced(cell, np_izhikevich, xs, ("v", "u"), weights) >= 1


# --- Norse 1.1.0's own numbers ---------------------------------------------------------------
#
# The literals below come from Norse 1.1.0 itself (norse-1.1.0 wheel, torch 2.13 CPU): each cell
# of norse.torch built with the parameters and weights here, run over _X from its own initial
# state, spikes of every step and the final state printed with .tolist(). Ours must give the
# same float32 values bit for bit (the forward pass). Some rates are Python numbers here, whose
# ``dt * tau`` Norse forms in double: with them made float32 tensors, the recurrent LSNN's v and
# the feed-forward AdEx's a come out one ulp off.

_X = torch.tensor([[12.0, 3.5, 20.0], [0.0, 8.25, 15.0], [6.0, 0.0, 30.0], [2.5, 11.0, 0.0],
                   [0.0, 4.0, 9.75], [7.5, 1.25, 0.5]])  # fmt: skip
_W_IN = torch.tensor([[0.5, -0.25, 1.0], [0.75, 0.5, -0.5]])
_W_REC = torch.tensor([[0.0, -1.5], [2.0, 0.0]])

_NORSE_1_1_0 = {
    "LSNNCell": (
        [[0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
        {"v": [0.0, 0.0, 0.0],
         "i": [16.10416030883789, 16.01607894897461, 36.35759735107422],
         "b": [2.1794543266296387, 2.275101661682129, 2.9545559883117676]},
    ),
    "LSNNRecurrentCell": (
        [[0, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0]],
        {"v": [0.0, -1.1351972818374634], "i": [40.40565872192383, 7.811359882354736],
         "b": [2.9545559883117676, 1.0]},
    ),
    "LIFAdExCell": (
        [[0, 0, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 1], [0, 0, 0]],
        {"v": [0.542259156703949, 0.34134501218795776, 0.7588130831718445],
         "i": [3.220832109451294, 3.2032158374786377, 7.271519660949707],
         "a": [0.6237693428993225, 0.6450724005699158, 1.5375579595565796]},
    ),
    "LIFAdExRecurrentCell": (
        [[0, 0], [1, 0], [1, 0], [1, 0], [0, 0], [1, 0]],
        {"v": [0.0, 0.9224327802658081], "i": [8.081131935119629, 3.504671812057495],
         "a": [2.038388252258301, 0.04171524941921234]},
    ),
    "IzhikevichCell": (
        [[0, 0, 0], [0, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0]],
        {"v": [-20.161113739013672, -40.496829986572266, -8.402985572814941],
         "u": [-7.910698413848877, -7.871973514556885, -2.052262306213379]},
    ),
    "IzhikevichRecurrentCell": (
        [[1, 0], [0, 0], [1, 0], [0, 0], [0, 0], [0, 0]],
        {"v": [-9.69687271118164, -29.875934600830078],
         "u": [-2.131484270095825, -14.036909103393555]},
    ),
}  # fmt: skip


def _norse_case(name):
    """The cell and input scale the literals above were produced with (in Norse 1.1.0)."""
    weights = {"input_weights": _W_IN.clone(), "recurrent_weights": _W_REC.clone(),
               "autapses": True}  # fmt: skip
    lsnn = norse.LSNNParameters(tau_adapt_inv=123.4, tau_mem_inv=123.4, beta=0.5)
    adex = norse.LIFAdExParameters(tau_ada_inv=20.0, adaptation_spike=torch.as_tensor(0.5))
    return {
        "LSNNCell": (lambda: LSNNCell(lsnn), 1.0),
        "LSNNRecurrentCell": (lambda: LSNNRecurrentCell(3, 2, lsnn, **weights), 1.0),
        "LIFAdExCell": (lambda: LIFAdExCell(adex), 0.25),
        "LIFAdExRecurrentCell": (lambda: LIFAdExRecurrentCell(3, 2, adex, **weights), 0.25),
        "IzhikevichCell": (lambda: IzhikevichCell(norse.tonic_spiking), 20.0),
        "IzhikevichRecurrentCell": (
            lambda: norse.IzhikevichRecurrentCell(3, 2, norse.tonic_spiking, **weights),
            20.0,
        ),
    }[name]


@pytest.mark.parametrize("name", sorted(_NORSE_1_1_0))
def test_steps_equal_norse_1_1_0_bit_for_bit(name):
    make, scale = _norse_case(name)
    cell, state, spikes = make(), None, []
    for x in _X * scale:
        z, state = cell(x, state)
        spikes.append(z)
    want_z, want_state = _NORSE_1_1_0[name]
    assert torch.stack(spikes).to(torch.int64).tolist() == want_z
    for field, want in want_state.items():
        assert torch.equal(getattr(state, field).detach(), torch.tensor(want)), field


# --- hand-worked steps, dt scaling and the models' behaviours --------------------------------


@pytest.mark.parametrize("dt", [1e-3, 2e-3])
def test_lsnn_input_reaches_v_one_step_later_and_scales_with_dt(dt):
    """From rest with x = 1: step 1 leaves v = 0 (i becomes 1), step 2 gives
    v = dt * tau_mem_inv * i = 100 dt; b stays at v_th while nothing spikes."""
    cell = LSNNCell(dt=dt)
    z, s = cell(torch.ones(2))
    assert float(s.v[0]) == 0.0 and float(s.i[0]) == 1.0 and float(s.b[0]) == 1.0
    z, s = cell(torch.zeros(2), s)
    assert float(s.v[0]) == pytest.approx(100 * dt, rel=1e-6)
    assert float(s.i[0]) == pytest.approx(1 - 200 * dt, rel=1e-6)
    assert float(s.b[0]) == 1.0 and not z.any()


def test_lsnn_threshold_jumps_by_beta_and_intervals_lengthen():
    s = norse.LSNNFeedForwardState(torch.tensor([1.5]), torch.tensor([0.0]), torch.tensor([1.0]))
    z, s = LSNNCell()(torch.zeros(1), s)
    # v_dec = 1.5 + 0.1 * (0 - 1.5) = 1.35 > b = 1 -> spike, reset to 0, b = 1 + 1.8
    assert float(z) == 1.0 and float(s.v) == 0.0
    assert float(s.b) == pytest.approx(2.8, rel=1e-6)
    z, _ = norse.LSNN()(torch.full((300, 1), 5.0))
    intervals = np.diff(np.flatnonzero(z[:, 0].numpy()))
    assert len(intervals) >= 8 and np.all(np.diff(intervals) >= 0)
    assert intervals[-1] >= 3 * intervals[0]


def test_lif_adex_adaptation_lengthens_the_interspike_interval():
    z, s = norse.LIFAdEx()(torch.full((2000, 1), 1.5))
    intervals = np.diff(np.flatnonzero(z[:, 0].numpy()))
    assert np.all(np.diff(intervals) >= 0)  # never shorter
    assert intervals[0] == 2 and intervals[-1] == 4
    assert float(s.a[0]) > 0  # the adaptation current built up


def test_lif_adex_one_step_by_hand():
    # v = 0.5, i = 0, a = 0.1, x = 2: i_jump = 2;
    # v_dec = 0.5 + 0.1 * (-0.5 + 0.5 exp(-1) + 2 - 0.1); a = 0.1 + 0.002 (4 * 0.5 - 0.1)
    s = norse.LIFAdExFeedForwardState(torch.tensor(0.5), torch.tensor(0.0), torch.tensor(0.1))
    z, s = LIFAdExCell()(torch.tensor(2.0), s)
    assert float(z) == 0.0
    assert float(s.v) == pytest.approx(0.5 + 0.1 * (1.4 + 0.5 * math.exp(-1)), rel=1e-6)
    assert float(s.i) == pytest.approx(2 * 0.8, rel=1e-6)
    assert float(s.a) == pytest.approx(0.1 + 0.002 * 1.9, rel=1e-6)


@pytest.mark.parametrize("dt", [1e-3, 2e-3])
def test_izhikevich_rest_is_fixed_and_a_current_moves_v_by_tau_inv_dt(dt):
    """tonic_spiking rests at v = -70, u = -14: 0.04*4900 - 350 + 140 + 14 = 0. A current of
    4 moves v by tau_inv * dt * 4 (1 mV at dt = 1 ms / 250, 2 mV at twice that)."""
    cell = IzhikevichCell(norse.tonic_spiking, dt=dt)
    _, s = cell(torch.zeros(3))
    assert torch.equal(s.v, torch.full((3,), -70.0)) and torch.equal(s.u, torch.full((3,), -14.0))
    _, s = cell(torch.full((3,), 4.0))
    assert torch.allclose(s.v, torch.full((3,), -70.0 + 1000 * dt))
    assert torch.equal(s.u, torch.full((3,), -14.0))


def test_izhikevich_tonic_spiking_fires_periodically():
    z, _ = norse.Izhikevich(norse.tonic_spiking)(torch.full((2000, 1), 10.0))
    times = np.flatnonzero(z[:, 0].numpy())
    intervals = np.diff(times)
    assert len(times) >= 10
    steady = intervals[3:]
    assert steady.max() - steady.min() <= 1  # a fixed period, to the step
    assert 150 <= np.median(steady) <= 160  # ~39 ms at 0.25 ms a step
    # the reset: v = c and u jumped by d at each spike
    above = norse.IzhikevichState(torch.tensor([40.0]), torch.tensor([-10.0]))
    z1, s1 = IzhikevichCell(norse.tonic_spiking)(torch.tensor([0.0]), above)
    assert float(z1) == 1.0 and float(s1.v) == -65.0
    u_ = -10.0 + 0.25 * 0.02 * (0.2 * 40.0 + 10.0)
    assert float(s1.u) == pytest.approx(u_ + 6, rel=1e-6)


# --- gradients (a real upstream gradient, not a sum) ---------------------------------------


def _sg(x):
    return 1.0 / (x.abs() + 1.0) ** 2  # Norse's 'super' surrogate


def test_izhikevich_input_gradient_is_the_surrogate_times_tau_inv_dt():
    x = torch.tensor([0.0, 4.0, 500.0], requires_grad=True)
    g = torch.tensor([0.3, -1.2, 2.0])
    cell = IzhikevichCell(norse.tonic_spiking)
    z, _ = cell(x)
    (gx,) = torch.autograd.grad(z, x, grad_outputs=g)
    v_ = -70.0 + 0.25 * x.detach()
    assert z.tolist() == [0.0, 0.0, 1.0]
    assert torch.allclose(gx, g * _sg(v_ - 30.0) * 0.25)


@pytest.mark.parametrize("recurrent", [False, True])
def test_lsnn_reset_gradient_detached_only_in_the_recurrent_cell(recurrent):
    """d v_new / d v = (1 - z)(1 - k) with k = dt tau_mem_inv; the feed-forward cell adds the
    reset's surrogate path (v_reset - v_dec) sg(v_dec - b_dec) (1 - k), and its threshold
    gets beta sg(v_dec - b_dec) (1 - k), as Norse."""
    v = torch.tensor([[0.5, 2.0]], requires_grad=True)
    g = torch.tensor([[0.7, -1.3]])
    b = torch.ones(1, 2)
    if recurrent:
        cell = LSNNRecurrentCell(2, 2, input_weights=torch.zeros(2, 2),
                                 recurrent_weights=torch.zeros(2, 2))  # fmt: skip
        state = norse.LSNNState(torch.zeros(1, 2), v, torch.zeros(1, 2), b)
    else:
        cell = LSNNCell()
        state = norse.LSNNFeedForwardState(v, torch.zeros(1, 2), b)
    z, s = cell(torch.zeros(1, 2), state)
    (gv,) = torch.autograd.grad(s.v, v, grad_outputs=g, retain_graph=True)
    k = 0.1
    v_dec = v.detach() * (1 - k)
    assert z.tolist() == [[0.0, 1.0]]
    expected = g * (1 - z) * (1 - k)
    if not recurrent:
        expected = expected + g * (0.0 - v_dec) * _sg(v_dec - 1.0) * (1 - k)
    assert torch.allclose(gv, expected)
    # the threshold jump beta z: detached in the recurrent cell too
    gb = torch.autograd.grad(s.b, v, grad_outputs=g)[0] if s.b.requires_grad else None
    if recurrent:
        assert gb is None
    else:
        assert torch.allclose(gb, g * 1.8 * _sg(v_dec - 1.0) * (1 - k))


@pytest.mark.parametrize("recurrent", [False, True])
def test_lif_adex_gradient_flows_through_the_reset_in_both_cells(recurrent):
    """x enters v_dec with weight k = dt tau_mem_inv, so d v_new / d x =
    (1 - z) k + (v_reset - v_dec) sg(v_dec - v_th) k (Norse detaches neither reset)."""
    v = torch.tensor([[0.2, 1.5]])
    x = torch.tensor([[0.4, 0.4]], requires_grad=True)
    g = torch.tensor([[1.1, -0.6]])
    zeros = torch.zeros(1, 2)
    if recurrent:
        cell = LIFAdExRecurrentCell(2, 2, input_weights=torch.eye(2),
                                    recurrent_weights=torch.zeros(2, 2))  # fmt: skip
        state = norse.LIFAdExState(zeros, v, zeros, zeros)
    else:
        cell, state = LIFAdExCell(), norse.LIFAdExFeedForwardState(v, zeros, zeros)
    z, s = cell(x, state)
    (gx,) = torch.autograd.grad(s.v, x, grad_outputs=g)
    k = 0.1
    v_dec = v + k * (-v + 0.5 * torch.exp((v - 1.0) / 0.5) + x.detach())
    assert z.tolist() == [[0.0, 1.0]]
    expected = g * ((1 - z) * k + (0.0 - v_dec) * _sg(v_dec - 1.0) * k)
    assert torch.allclose(gx, expected)


@pytest.mark.parametrize("layer", ["LSNNRecurrent", "LIFAdExRecurrent", "IzhikevichRecurrent"])
def test_recurrent_layers_train_their_weights(layer):
    torch.manual_seed(3)
    args = (6, 5, norse.tonic_spiking) if layer == "IzhikevichRecurrent" else (6, 5)
    net = getattr(norse, layer)(*args)
    scale = 20.0 if layer == "IzhikevichRecurrent" else 3.0
    x = (torch.rand(40, 2, 6) * scale).requires_grad_(True)
    z, _ = net(x)
    upstream = torch.randn_like(z)
    z.backward(upstream)
    for w in (net.input_weights.grad, net.recurrent_weights.grad, x.grad):
        assert w is not None and torch.isfinite(w).all() and w.abs().sum() > 0
    assert torch.all(torch.diagonal(net.recurrent_weights.grad) == 0)  # no autapses


# --- shapes, weights, state carried across calls --------------------------------------------


def test_state_types_and_shapes():
    x = torch.zeros(7, 3, 4)
    for layer, fields in ((norse.LSNN(), ("v", "i", "b")), (norse.LIFAdEx(), ("v", "i", "a")),
                          (norse.Izhikevich(norse.tonic_spiking), ("v", "u"))):  # fmt: skip
        z, s = layer(x)
        assert z.shape == (7, 3, 4) and s._fields == fields
        assert all(getattr(s, f).shape == (3, 4) for f in fields)
    for layer, fields in ((norse.LSNNRecurrent(4, 6), ("z", "v", "i", "b")),
                          (norse.LIFAdExRecurrent(4, 6), ("z", "v", "i", "a")),
                          (norse.IzhikevichRecurrent(4, 6, norse.tonic_spiking),
                           ("z", "v", "u"))):  # fmt: skip
        z, s = layer(x)
        assert z.shape == (7, 3, 6) and s._fields == fields
        assert all(getattr(s, f).shape == (3, 6) for f in fields)
        assert torch.equal(s.z, z[-1])
    assert isinstance(norse.LSNN()(x)[1], norse.LSNNFeedForwardState)
    assert isinstance(norse.LSNNRecurrent(4, 2)(x)[1], norse.LSNNState)
    assert isinstance(norse.LIFAdEx()(x)[1], norse.LIFAdExFeedForwardState)
    assert isinstance(norse.LIFAdExRecurrent(4, 2)(x)[1], norse.LIFAdExState)
    assert isinstance(norse.IzhikevichRecurrent(4, 2, norse.dap)(x)[1],
                      norse.IzhikevichRecurrentState)  # fmt: skip


@pytest.mark.parametrize("layer", ["LSNNRecurrent", "LIFAdExRecurrent", "IzhikevichRecurrent"])
def test_chunked_run_with_carried_state_equals_one_run(layer):
    """What a live engine does: the state returned by one chunk continues the next."""
    torch.manual_seed(4)
    args = (3, 5, norse.tonic_spiking) if layer == "IzhikevichRecurrent" else (3, 5)
    net = getattr(norse, layer)(*args)
    x = torch.rand(30, 2, 3) * (30.0 if layer == "IzhikevichRecurrent" else 4.0)
    z_all, s_all = net(x)
    z1, s1 = net(x[:13])
    z2, s2 = net(x[13:], s1)
    assert torch.equal(torch.cat([z1, z2]), z_all) and z_all.sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(s2, s_all, strict=True))


@pytest.mark.parametrize("cls", ["LSNNRecurrentCell", "LIFAdExRecurrentCell"])
def test_recurrent_weights_as_norse(cls):
    torch.manual_seed(5)
    cell = getattr(norse, cls)(3, 4)
    torch.manual_seed(5)
    w_in = torch.randn(4, 3) * torch.sqrt(2.0 / torch.as_tensor(4))
    w_rec = torch.randn(4, 4) * torch.sqrt(2.0 / torch.as_tensor(4))
    w_rec.fill_diagonal_(0.0)
    assert sorted(cell.state_dict()) == ["input_weights", "recurrent_weights"]
    assert torch.equal(cell.input_weights.detach(), w_in)
    assert torch.equal(cell.recurrent_weights.detach(), w_rec)
    given = torch.ones(4, 4)
    cell = getattr(norse, cls)(3, 4, recurrent_weights=given.clone(), autapses=True)
    assert torch.equal(cell.recurrent_weights.detach(), given)
    cell = getattr(norse, cls)(3, 4, recurrent_weights=given.clone())
    assert torch.equal(torch.diagonal(cell.recurrent_weights.detach()), torch.zeros(4))


def test_presets_and_custom_behaviours():
    assert len([n for n in norse.__all__ if n[0].islower() and n != "module"]) == 21
    t = norse.tonic_spiking
    assert (t.p.a, t.p.b, t.p.c, t.p.d, t.p.tau_inv) == (0.02, 0.2, -65, 6, 250)
    assert float(t.s.v) == -70.0 and float(t.s.u) == pytest.approx(-14.0)
    assert (norse.class_1_exc.p.mn, norse.class_1_exc.p.bias) == (4.1, 108)
    assert float(norse.accomodation.s.u) == -16.0 and norse.phasic_bursting.p.tau_inv == 200
    custom = norse.create_izhikevich_spiking_behavior(0.02, 0.2, -65, 6, v_rest=-70, u_rest=-70)
    assert custom.p == t.p and float(custom.s.u) == pytest.approx(-14.0)
    p = norse.LSNNParameters()
    assert float(p.tau_adapt_inv) == pytest.approx(1 / 800) and p.method == "super"
    assert float(p.beta) == pytest.approx(1.8) and float(p.v_th) == 1.0
    q = norse.LIFAdExCell().p  # plain numbers become float32 tensors, as for LIFCell
    assert q.delta_T.dtype == torch.float32 and float(q.tau_ada_inv) == 2.0
    assert norse.LIFAdExCell(norse.LIFAdExParameters(delta_T=0.25)).p.delta_T.dtype == torch.float32


@pytest.mark.parametrize("cls", ["LIFRecurrentCell", "LSNNRecurrentCell", "LIFAdExRecurrentCell"])
def test_frozen_recurrent_weights_without_autapses(cls):
    """A frozen (requires_grad=False) recurrent matrix: Norse makes it trainable before hooking
    the autapse gradient; so do we (it used to raise in register_hook)."""
    frozen = torch.nn.Parameter(torch.full((3, 3), 0.5), requires_grad=False)
    cell = getattr(norse, cls)(2, 3, recurrent_weights=frozen, input_weights=torch.ones(3, 2))
    w = cell.recurrent_weights
    assert w.requires_grad and torch.equal(torch.diagonal(w.detach()), torch.zeros(3))
    x = torch.full((4, 2), 2.0)
    state = None
    outputs = []
    for _ in range(6):  # spikes at step k feed the recurrent current at step k + 1
        z, state = cell(x, state)
        outputs.append(z)
    torch.stack(outputs).backward(torch.linspace(-1.0, 1.0, 6 * 4 * 3).reshape(6, 4, 3))
    assert w.grad is not None and w.grad.abs().sum() > 0
    assert torch.equal(torch.diagonal(w.grad), torch.zeros(3))


def test_per_neuron_v_leak_and_v_th():
    """[features] tensors for v_leak / v_th, as Norse's and our LIFCell accept: the initial
    state holds them per neuron; a shape that does not fit is a ConfigError naming the fix."""
    v_leak, v_th = torch.tensor([0.0, -0.5, 0.25]), torch.tensor([1.0, 2.0, 0.5])
    z, s = LSNNCell(norse.LSNNParameters(v_leak=v_leak, v_th=v_th))(torch.zeros(2, 3))
    assert torch.equal(s.b, v_th.expand(2, 3)) and not z.any()
    # v decays towards its own v_leak from v_leak: it stays there
    assert torch.equal(s.v, v_leak.expand(2, 3))
    adex = LIFAdExCell(norse.LIFAdExParameters(v_leak=v_leak))
    assert torch.equal(adex.initial_state(torch.zeros(2, 3)).v, v_leak.expand(2, 3))
    _, s = adex(torch.zeros(2, 3))  # from v_leak only the exponential term moves v
    assert torch.allclose(s.v, v_leak + 0.1 * 0.5 * torch.exp((v_leak - 1.0) / 0.5))
    for cell in (LSNNRecurrentCell(2, 3, norse.LSNNParameters(v_leak=v_leak, v_th=v_th)),
                 LIFAdExRecurrentCell(2, 3, norse.LIFAdExParameters(v_leak=v_leak)),
                 norse.LIFRecurrentCell(2, 3, norse.LIFParameters(v_leak=v_leak))):  # fmt: skip
        state = cell.initial_state(torch.zeros(4, 2))
        assert torch.equal(state.v, v_leak.expand(4, 3)), type(cell).__name__
        if hasattr(state, "b"):
            assert torch.equal(state.b, v_th.expand(4, 3))
        z, _ = cell(torch.zeros(4, 2))
        assert z.shape == (4, 3)
    wrong = LSNNRecurrentCell(2, 4, norse.LSNNParameters(v_leak=v_leak))
    with pytest.raises(ConfigError, match=r"v_leak of shape \[3\].*shape \[4\]"):
        wrong(torch.zeros(1, 2))
    with pytest.raises(ConfigError, match="v_th"):
        LSNNCell(norse.LSNNParameters(v_th=v_th))(torch.zeros(2, 5))


# --- refusals --------------------------------------------------------------------------------


def test_bad_arguments_raise_config_error():
    cases = [
        (lambda: LSNNCell(adjoint=True), "adjoint"),
        (lambda: norse.LSNNRecurrent(2, 3, adjoint=True), "adjoint"),
        (lambda: LSNNCell(record_states=True), "record_states"),
        (lambda: LIFAdExCell(dt=0), "dt"),
        (lambda: norse.LIFAdEx(dt=-1e-3), "dt"),
        (lambda: LSNNCell(dt="fast"), "dt"),
        (lambda: IzhikevichCell(norse.tonic_spiking, dt=float("nan")), "dt"),
        (lambda: LIFAdExRecurrentCell(0, 3), "input_size"),
        (lambda: LSNNRecurrentCell(2, 2.5), "hidden_size"),
        (lambda: LSNNRecurrentCell(2, 3, input_weights=torch.zeros(2, 3)), r"\[3, 2\]"),
        (lambda: LIFAdExRecurrentCell(2, 3, recurrent_weights=torch.zeros(3, 2)), r"\[3, 3\]"),
        (lambda: LSNNCell(norse.LSNNParameters(method="tanh")), "'tanh'"),
        (lambda: LIFAdExCell(norse.LIFAdExParameters(delta_T="sharp")), "delta_T"),
        (lambda: LIFAdExCell(norse.LIFAdExParameters(delta_T=0.0)), "delta_T must be > 0"),
        (
            lambda: LIFAdExRecurrentCell(2, 3, norse.LIFAdExParameters(delta_T=torch.tensor(-1.0))),
            "delta_T must be > 0",
        ),
        (lambda: LSNNCell(norse.LSNNParameters(beta=True)), "beta.*bool"),
        (lambda: LIFAdExCell(norse.LIFAdExParameters(v_th=torch.tensor(True))), "v_th.*bool"),
        (lambda: norse.LIFCell(norse.LIFParameters(tau_mem_inv=False)), "tau_mem_inv.*bool"),
        (lambda: IzhikevichCell(norse.IzhikevichParameters(0.02, 0.2, -65, 6)), "preset"),
        (
            lambda: norse.Izhikevich(
                norse.tonic_spiking._replace(p=norse.tonic_spiking.p._replace(method="triangle"))
            ),
            "'triangle'",
        ),
        (lambda: norse.create_izhikevich_spiking_behavior("a", 0.2, -65, 6, -70, -70), "a must"),
        (
            lambda: norse.IzhikevichRecurrentCell(2, 3, norse.tonic_spiking, autapse=True),
            "autapse",
        ),
    ]
    for make, match in cases:
        with pytest.raises(ConfigError, match=match):
            make()


def test_another_cells_parameters_are_refused_by_type():
    # a LIFParameters lacks LSNN's fields (and an LSNNParameters AdEx's): named, not AttributeError
    cases = [
        (lambda: LSNNCell(p=norse.LIFParameters()), "LSNNCell", "LSNNParameters", "LIFParameters"),
        (lambda: LIFAdExCell(p=norse.LSNNParameters()), "LIFAdExCell", "LIFAdExParameters",
         "LSNNParameters"),
        (lambda: LSNNRecurrentCell(2, 3, p=norse.LIFParameters()), "LSNNRecurrentCell",
         "LSNNParameters", "LIFParameters"),
        (lambda: norse.LIFCell(norse.LSNNParameters()), "LIFCell", "LIFParameters",
         "LSNNParameters"),
    ]  # fmt: skip
    for make, cell, expected, got in cases:
        with pytest.raises(ConfigError) as info:
            make()
        assert str(info.value) == f"{cell} takes {expected}, got {got}"
    with pytest.raises(ConfigError, match="IzhikevichSpikingBehavior"):
        IzhikevichCell(norse.tonic_spiking._replace(p=norse.LIFParameters()))


def test_the_cells_are_no_longer_listed_missing():
    for name in ("LSNNCell", "LSNN", "LSNNRecurrentCell", "LSNNParameters", "LIFAdExCell",
                 "LIFAdEx", "LIFAdExRecurrentCell", "LIFAdExParameters", "IzhikevichCell",
                 "Izhikevich", "IzhikevichRecurrentCell", "IzhikevichParameters",
                 "IzhikevichSpikingBehavior"):  # fmt: skip
        assert hasattr(norse, name) and name in norse.__all__, name
    from spikestream.compat.norse.torch import LSNNCell as imported  # noqa: F401

    with pytest.raises(AttributeError, match="LIFAdExCell"):
        norse.LIFExCell  # noqa: B018
    with pytest.raises(ImportError, match="LSNNCell"):
        from spikestream.compat.norse.torch import LIFRefracCell  # noqa: F401
