"""``spikestream.compat.norse.torch``: Norse 1.1's names, signatures, state types and values
(golden D: the cells; golden H: the POKER-DVS network's seeded weights and run)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestream.compat.norse import torch as norse
from spikestream.compat.norse.torch.module.lif import LIFCell, LIFRecurrentCell
from spikestream.errors import ConfigError
from spikestream.snn import norse as snn_norse

from .conftest import load_golden

CUSTOM = dict(tau_syn_inv=250.0, tau_mem_inv=125.0, v_leak=-0.1, v_th=0.6, v_reset=-0.2,
              method="super", alpha=50)  # fmt: skip


def _params(name: str):
    """Golden D's parameter sets; the custom one given as plain numbers (tensors inside)."""
    if name == "default":
        return norse.LIFParameters(), norse.LIParameters()
    li = {k: CUSTOM[k] for k in ("tau_syn_inv", "tau_mem_inv", "v_leak")}
    return norse.LIFParameters(**CUSTOM), norse.LIParameters(**li)


@pytest.mark.parametrize("name", ["default", "custom"])
def test_sequence_layers_match_norse_golden(name):
    z = load_golden("D_norse.npz")
    p, p_li = _params(name)
    x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
    spikes, state = norse.LIF(p, dt=1e-3)(x)
    assert isinstance(state, norse.LIFFeedForwardState) and state._fields == ("v", "i")
    assert np.array_equal(spikes.detach().numpy(), z[f"lifcell_{name}_z"])
    assert np.array_equal(state.v.detach().numpy(), z[f"lifcell_{name}_v"][-1])
    (spikes * torch.from_numpy(z["Gz_in"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), z[f"lifcell_{name}_gradx_z"], atol=1e-6)

    x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
    w_in, w_rec = (torch.from_numpy(z[k]).clone() for k in ("W_in_given", "W_rec_given"))
    layer = norse.LIFRecurrent(16, 8, p=p, dt=1e-3, input_weights=w_in, recurrent_weights=w_rec)
    assert np.array_equal(layer.recurrent_weights.detach().numpy(), z[f"lifrec_{name}_W_rec_used"])
    spikes, state = layer(x)
    assert isinstance(state, norse.LIFState) and state._fields == ("z", "v", "i")
    assert np.array_equal(spikes.detach().numpy(), z[f"lifrec_{name}_z"])
    assert torch.equal(state.z, spikes[-1])
    np.testing.assert_allclose(state.v.detach().numpy(), z[f"lifrec_{name}_v"][-1], atol=1e-5)
    (spikes * torch.from_numpy(z["Gz_h"])).sum().backward()
    np.testing.assert_allclose(layer.input_weights.grad.numpy(), z[f"lifrec_{name}_gradWin_z"],
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    assert np.all(np.diag(layer.recurrent_weights.grad.numpy()) == 0)  # no autapses

    x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
    v, state = norse.LI(p_li, dt=1e-3)(x)
    assert isinstance(state, norse.LIState) and state._fields == ("v", "i")
    assert np.array_equal(v.detach().numpy(), z[f"licell_{name}_v"])
    assert np.array_equal(state.i.detach().numpy(), z[f"licell_{name}_i"][-1])
    (v * torch.from_numpy(z["Gv_in"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), z[f"licell_{name}_gradx_v"], atol=1e-6)


def test_pokerdvs_network_seeded_like_norse_and_its_run():
    """Golden H: Norse's seeded draws give the same weights, and the notebook's loop over the
    compat cells gives Norse's spikes, readout, loss and gradients."""
    z = load_golden("H_norse_rsnn.npz")
    torch.manual_seed(8001)
    l1 = LIFRecurrentCell(2450, 100, p=norse.LIFParameters(alpha=100, v_th=torch.as_tensor(0.3),
                          tau_syn_inv=torch.as_tensor(100.0), tau_mem_inv=torch.as_tensor(100.0)),
                          dt=1e-3)  # fmt: skip
    fc_out = torch.nn.Linear(100, 4, bias=False)
    out = norse.LICell(dt=1e-3)
    for mine, key in ((l1.input_weights, "l1.input_weights"),
                      (l1.recurrent_weights, "l1.recurrent_weights"),
                      (fc_out.weight, "fc_out.weight")):  # fmt: skip
        assert torch.equal(mine.detach(), torch.from_numpy(z[f"sd/{key}"])), key
    x = torch.from_numpy(z["x"])
    s1 = so = None
    spikes, voltages = [], []
    for t in range(x.shape[0]):
        h, s1 = l1(x[t].reshape(x.shape[1], -1), s1)
        vo, so = out(fc_out(h), so)
        spikes.append(h)
        voltages.append(vo)
    assert torch.equal(torch.stack(spikes), torch.from_numpy(z["hidden_z"]))
    log_p_y = torch.log_softmax(torch.stack(voltages).max(0).values, dim=1)
    np.testing.assert_allclose(log_p_y.detach().numpy(), z["log_p_y"], atol=1e-6)
    loss = torch.nn.functional.nll_loss(log_p_y, torch.from_numpy(z["label"]))
    assert abs(loss.item() - float(z["loss"])) < 1e-6
    loss.backward()
    for mine, key in ((l1.input_weights.grad, "l1.input_weights"),
                      (fc_out.weight.grad, "fc_out.weight")):  # fmt: skip
        np.testing.assert_allclose(mine.numpy(), z[f"grad/{key}"], atol=1e-5, rtol=1e-4)


def test_cells_layers_and_sequential_state():
    torch.manual_seed(0)
    x = torch.rand(6, 2, 5) * 3
    cell = LIFCell(norse.LIFParameters(v_th=0.2), dt=1e-3)
    state, stepped = None, []
    for t in range(6):
        zt, state = cell(x[t], state)
        stepped.append(zt)
    spikes, final = norse.LIF(norse.LIFParameters(v_th=0.2))(x)
    assert torch.equal(spikes, torch.stack(stepped)) and torch.equal(final.v, state.v)
    assert spikes.sum() > 0 and set(spikes.unique().tolist()) <= {0.0, 1.0}

    model = norse.SequentialState(
        torch.nn.Linear(5, 4), LIFRecurrentCell(4, 3, p=norse.LIFParameters(v_th=0.1)),
        torch.nn.Linear(3, 2), norse.LICell(),
    )  # fmt: skip
    assert model.stateful_layers == [False, True, False, True]
    out, states = model(x[0])
    assert out.shape == (2, 2) and states[0] is None and states[2] is None
    assert isinstance(states[1], norse.LIFState) and isinstance(states[3], norse.LIState)
    again, states2 = model(x[1], states)  # the states carry over
    fresh, _ = model(x[1])
    assert not torch.equal(again, fresh) and len(states2) == 4


def test_refusals_and_unsupported_names():
    with pytest.raises(ConfigError, match="activation_sparse"):
        LIFCell(activation_sparse=True)
    with pytest.raises(ConfigError, match="'tanh'"):
        LIFCell(norse.LIFParameters(method="tanh"))
    with pytest.raises(ConfigError, match="v_th"):
        LIFCell(norse.LIFParameters(v_th="high"))
    with pytest.raises(AttributeError, match="LIFCell / LIFRecurrentCell"):
        norse.LIFExCell  # noqa: B018
    with pytest.raises(AttributeError, match="Drop-in compatibility"):
        norse.NoSuchThing  # noqa: B018
    # defaults as Norse's: float32 0-d tensors, the 'super' method with alpha 100
    p = LIFCell().p
    assert p.tau_syn_inv.dtype == torch.float32 and float(p.tau_syn_inv) == 200.0
    assert float(p.v_th) == 1.0 and p.method == "super" and float(p.alpha) == 100.0


def test_states_are_the_core_cells_states():
    """A state moves between the compat cells and spikestream.snn.norse's (a live engine's)."""
    x = torch.linspace(0, 3, 12).reshape(3, 4)
    core = snn_norse.LIFCell(norse.LIFParameters())
    compat = LIFCell()
    _, s_core = core(x)
    assert isinstance(s_core, norse.LIFFeedForwardState)  # Norse's type, Norse's fields
    z_compat, s_compat = compat(x, s_core)
    z_core, s_core = core(x, s_core)
    assert torch.equal(z_compat, z_core) and torch.equal(s_compat.v, s_core.v)
    assert isinstance(snn_norse.LICell()(x)[1], norse.LIState)
    rec = snn_norse.LIFRecurrentCell(4, 2, autapses=True)
    assert isinstance(rec(x)[1], norse.LIFState) and norse.LIFState._fields == ("z", "v", "i")
