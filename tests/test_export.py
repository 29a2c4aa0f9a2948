"""NIR and ONNX export (`spikestream.export`, `spikestream export`).

NIR: small hand-built networks of the models' layer types and every registered spiking model
round-trip (export -> import) to a network with equal outputs; the mapped parameters follow NIR's
equations (checked by a NumPy simulation of NIR's forward-Euler step); what NIR cannot express is
refused with a clear error; golden E (SpikingJelly's DVSGestureNet) and H (Norse's RSNN) are
reproduced through a NIR file. Peer consumers (SpikingJelly 2.0, snnTorch) run the exported graph
where they and nirtorch are installed. ONNX: onnxruntime against torch at several batch and
sequence sizes.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from spikestream import models
from spikestream.cli import main
from spikestream.errors import ConfigError
from spikestream.export import export_nir, import_nir, save_nir
from spikestream.export.nir import READOUTS, voting_matrix
from spikestream.snn.layer import MultiStepDropout, SeqToANNContainer, VotingLayer
from spikestream.snn.neuron import IFNode, LIFNode, ParametricLIFNode
from spikestream.snn.norse import LICell, LIFParameters, LIFRecurrentCell

from .conftest import load_golden

nir = pytest.importorskip("nir", reason="nir not installed: pip install 'spikestream[export]'")


# -- small networks of the models' structure --------------------------------------------------


class TinyConvNet(nn.Module):
    """{conv-BN-neuron-pool}x2, flatten, dropout, FC-neuron, FC-neuron, voting; mean over time
    (PLIFNet's structure at 8x8)."""

    def __init__(self, neuron: str = "lif", pool: str = "avg", c: int = 4, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        kw = dict(v_threshold=0.5, detach_reset=True, step_mode="m")
        make = {
            "lif": lambda: LIFNode(tau=2.0, **kw),
            "plif": lambda: ParametricLIFNode(init_tau=2.0, **kw),
            "if": lambda: IFNode(**kw),
        }[neuron]
        pooling = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        layers: list[nn.Module] = []
        c_in = 2
        for _ in range(2):
            conv = nn.Conv2d(c_in, c, 3, padding=1, bias=False)
            layers += [SeqToANNContainer(conv, nn.BatchNorm2d(c)), make(),
                       SeqToANNContainer(pooling(2, 2))]  # fmt: skip
            c_in = c
        layers += [SeqToANNContainer(nn.Flatten()), MultiStepDropout(0.5),
                   SeqToANNContainer(nn.Linear(c * 4, 16)), make(), MultiStepDropout(0.5),
                   SeqToANNContainer(nn.Linear(16, 30)), make(), VotingLayer(10)]  # fmt: skip
        self.conv_fc = nn.Sequential(*layers)
        with torch.no_grad():  # active enough to spike on random input
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.1, 0.3)
                elif isinstance(m, nn.Conv2d):
                    m.weight.mul_(6)
                elif isinstance(m, nn.Linear):
                    m.weight.mul_(8)
                    m.bias.add_(0.6)
                elif isinstance(m, ParametricLIFNode):
                    m.w.fill_(0.3)  # tau = 1 / sigmoid(0.3), not a round number
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, T, 2, 8, 8] -> [N, 3]
        for m in self.modules():
            if isinstance(m, (LIFNode, ParametricLIFNode, IFNode)):
                m.reset()
        return self.conv_fc(x.transpose(0, 1)).mean(0)


class TinyRSNN(nn.Module):
    """Norse's recurrent LIF layer, a readout into leaky integrators, log_softmax(max_t v)."""

    def __init__(self, hw: int = 5, hidden: int = 12, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        p = LIFParameters(
            tau_syn_inv=torch.as_tensor(100.0), tau_mem_inv=torch.as_tensor(100.0),
            v_th=torch.as_tensor(0.3),
        )  # fmt: skip
        self.l1 = LIFRecurrentCell(2 * hw * hw, hidden, p=p, dt=1e-3)
        self.fc_out = nn.Linear(hidden, 4, bias=False)
        self.out = LICell(dt=1e-3)
        with torch.no_grad():
            self.l1.input_weights.mul_(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, T, 2, hw, hw]
        s1 = so = None
        vs = []
        for t in range(x.shape[1]):
            z, s1 = self.l1(x[:, t].flatten(1), s1)
            v, so = self.out(self.fc_out(z), so)
            vs.append(v)
        return torch.log_softmax(torch.stack(vs).max(0).values, dim=1)


def _spikes(shape: tuple[int, ...], seed: int = 0, rate: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float()


# -- NIR round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("neuron", ["lif", "plif", "if"])
def test_conv_net_round_trip_through_a_file(neuron, tmp_path):
    model = TinyConvNet(neuron)
    graph = export_nir(model, (2, 8, 8))
    assert graph.metadata["readout"] == "mean" and graph.metadata["dt"] == 1e-4
    path = tmp_path / "net.nir"
    save_nir(graph, path)
    net = import_nir(path)  # nir.read with type checking, then spikestream modules
    x = _spikes((3, 5, 2, 8, 8))
    with torch.no_grad():
        want = model(x)
        got = net(x)
    assert want.abs().sum() > 0  # the network spikes: the comparison is not vacuous
    assert torch.equal(got, want)
    kinds = [type(v).__name__ for v in net.layers.values()]
    expect = {"lif": "LIFNode", "plif": "ParametricLIFNode", "if": "IFNode"}[neuron]
    assert kinds.count(expect) == 4 and kinds.count("Conv2d") == 2 and "VotingLayer" in kinds
    assert "BatchNorm2d" not in kinds  # folded into the convolutions


def test_lif_parameters_follow_nir_equations():
    """Simulate NIR's LIF (forward Euler, v > v_threshold, reset to v_reset) in float32 with
    the exported parameters: the spikes are SpikingJelly's, threshold crossings included."""
    model = nn.Sequential(LIFNode(tau=2.0, v_threshold=1.0, step_mode="m"))
    graph = export_nir(model, (6,), readout="none", check=False)
    lif = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    dt = graph.metadata["dt"]
    np.testing.assert_array_equal(lif.tau, np.full(6, 2.0 * dt))
    np.testing.assert_array_equal(lif.r, np.ones(6))
    assert np.float32(lif.v_threshold[0]) == np.nextafter(np.float32(1), np.float32(0))
    # inputs that land exactly on the threshold (x = 2 from rest: h = 1.0), and near it
    x = torch.tensor([[2.0, 1.9999999, 2.0000002, 0.5, 3.0, 1.0]] * 8)
    x[3:] = torch.tensor([0.7, 1.3, 0.0, 2.0, 0.2, 1.0])
    model[0].reset()
    want = model[0](x.unsqueeze(1)).squeeze(1).numpy()
    v = np.zeros(6, np.float32)
    a = np.float32(dt / lif.tau[0])
    got = []
    for xt in x.numpy():
        v = v + a * ((np.float32(lif.v_leak[0]) - v) + np.float32(lif.r[0]) * xt)
        s = v > np.float32(lif.v_threshold[0])
        v = np.where(s, np.float32(lif.v_reset[0]), v)
        got.append(s)
    np.testing.assert_array_equal(np.array(got, np.float32), want)
    assert want[0, 0] == 1 and want[0, 1] == 0  # h == v_th fires (>=), just below does not


def test_norse_cells_follow_nir_cubalif_equations():
    """NIR's CubaLIF under forward Euler (I += dt/tau_syn (w_in S - I), then
    v += dt/tau_mem (v_leak - v + r I), v > v_th, reset), with the exported parameters, is the
    recurrent cell's update step for step."""
    model = TinyRSNN()
    graph = export_nir(model, (2, 5, 5))
    cuba = graph.nodes["l1"]
    dt = graph.metadata["dt"]
    assert dt == 1e-3 and ("l1", "l1_recurrent_weights") in graph.edges
    assert ("l1_recurrent_weights", "l1") in graph.edges  # the recurrence is a cycle
    np.testing.assert_allclose(cuba.tau_mem, 0.01) and np.testing.assert_allclose(cuba.w_in, 10)
    w_in = graph.nodes["l1_input_weights"].weight
    w_rec = graph.nodes["l1_recurrent_weights"].weight
    x = _spikes((3, 30, 50), seed=1)
    i = np.zeros((3, 12))
    v = np.zeros((3, 12))
    z = np.zeros((3, 12))
    s1 = None
    for t in range(30):
        drive = x[:, t].numpy() @ w_in.T + z @ w_rec.T
        i = i + dt / cuba.tau_syn * (cuba.w_in * drive - i)
        v = v + dt / cuba.tau_mem * (cuba.v_leak - v + cuba.r * i)
        z = (v > cuba.v_threshold).astype(np.float64)
        v = np.where(z > 0, cuba.v_reset, v)
        with torch.no_grad():
            want, s1 = model.l1(x[:, t], s1)
        np.testing.assert_array_equal(z, want.numpy())
        np.testing.assert_allclose(v, s1.v.numpy(), atol=1e-5)
    assert z.sum() > 0


def test_rsnn_round_trip_and_step_api():
    model = TinyRSNN()
    graph = export_nir(model, (2, 5, 5))
    assert graph.metadata["readout"] == "log_softmax_max"
    net = import_nir(graph)
    assert isinstance(net.layers["l1"], LIFRecurrentCell)  # the cycle is fused back
    x = _spikes((3, 20, 2, 5, 5), seed=2)
    with torch.no_grad():
        assert torch.equal(net(x), model(x))
        state = net.init_state(3)
        outs = []
        for t in range(20):
            out, state = net.step(x[:, t], state)
            outs.append(out)
        assert torch.equal(torch.stack(outs), net.forward_steps(x))


def test_imported_network_compiles():
    net = import_nir(export_nir(TinyConvNet(), (2, 8, 8)))
    x = _spikes((2, 4, 2, 8, 8), seed=8)
    compiled = torch.compile(net, backend="aot_eager")  # neuron kernels run eagerly inside
    with torch.no_grad():
        assert torch.equal(compiled(x), net(x))


def test_conv_net_step_api_equals_multi_step():
    net = import_nir(export_nir(TinyConvNet("plif"), (2, 8, 8)))
    x = _spikes((2, 6, 2, 8, 8), seed=3)
    with torch.no_grad():
        state = net.init_state(2)
        outs = []
        for t in range(6):
            out, state = net.step(x[:, t], state)
            outs.append(out)
        steps = net.forward_steps(x)
    assert torch.equal(torch.stack(outs), steps) and steps.abs().sum() > 0


def test_max_pooling_is_refused_unless_on_spikes():
    model = TinyConvNet(pool="max")
    with pytest.raises(ConfigError, match=r"NIR has no max pooling.*max_pool=.spikes."):
        export_nir(model, (2, 8, 8))
    graph = export_nir(model, (2, 8, 8), max_pool="spikes")
    assert sum(isinstance(n, nir.SumPool2d) for n in graph.nodes.values()) == 2
    assert sum(isinstance(n, nir.Threshold) for n in graph.nodes.values()) == 2
    x = _spikes((3, 5, 2, 8, 8), seed=4)
    with torch.no_grad():
        assert torch.equal(import_nir(graph)(x), model(x))
    # not on spikes: a max pool straight after a convolution
    bad = nn.Sequential(
        SeqToANNContainer(nn.Conv2d(2, 2, 3), nn.MaxPool2d(2)), LIFNode(step_mode="m")
    )
    with pytest.raises(ConfigError, match="exact only on binary spikes"):
        export_nir(bad, (2, 8, 8), max_pool="spikes", readout="none", check=False)


@pytest.mark.parametrize(
    ("layers", "fragment"),
    [
        ([LIFNode(v_reset=None, step_mode="m")], "soft \\(subtractive\\) reset"),
        ([nn.BatchNorm2d(2), LIFNode(step_mode="m")], "does not follow a Conv2d"),
        ([nn.Conv2d(2, 2, 3), nn.BatchNorm2d(2, track_running_stats=False)], "running statistics"),
        ([nn.Conv2d(2, 2, 3), nn.ReLU()], "cannot export ReLU"),
        ([nn.AvgPool2d(2, ceil_mode=True)], "AvgPool2d"),
    ],
)
def test_what_nir_cannot_express_is_refused(layers, fragment):
    with pytest.raises(ConfigError, match=fragment):
        export_nir(nn.Sequential(*layers), (2, 8, 8), readout="none", check=False)


def test_a_forward_the_walk_cannot_see_is_refused():
    class Scaled(TinyConvNet):
        def forward(self, x):  # a functional step outside any module
            return super().forward(2 * x)

    with pytest.raises(ConfigError, match="does not reproduce the model's forward"):
        export_nir(Scaled(), (2, 8, 8))


def test_import_errors_name_the_node():
    graph = export_nir(TinyConvNet(), (2, 8, 8))
    del graph.metadata["dt"]
    with pytest.raises(ConfigError, match="no dt"):
        import_nir(graph)
    lif = nir.LIF(tau=np.array([2e-4, 3e-4]), r=np.ones(2), v_leak=np.zeros(2),
                  v_threshold=np.ones(2), v_reset=np.zeros(2))  # fmt: skip
    uneven = nir.NIRGraph.from_list(lif)
    uneven.metadata = {"dt": 1e-4}
    with pytest.raises(ConfigError, match="'lif': tau differs between neurons"):
        import_nir(uneven)
    delay = nir.NIRGraph.from_list(nir.Delay(delay=np.ones(3)))
    delay.metadata = {"dt": 1e-4}
    with pytest.raises(ConfigError, match="Delay is not supported"):
        import_nir(delay)
    assert set(READOUTS) >= {"mean", "log_softmax_max"}
    np.testing.assert_array_equal(voting_matrix(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])


def test_export_packages_are_imported_lazily_and_named_when_missing(monkeypatch):
    import importlib.util
    from pathlib import Path

    import spikestream.export

    # a fresh copy of each module, executed with nir/onnx/onnxruntime unimportable: importing
    # them does not need the packages (the real modules stay as they are)
    for pkg in ("nir", "onnx", "onnxruntime"):
        monkeypatch.setitem(sys.modules, pkg, None)
    folder = Path(spikestream.export.__file__).parent
    for stem in ("nir", "onnx"):
        spec = importlib.util.spec_from_file_location(f"spikestream.export._probe_{stem}",
                                                      folder / f"{stem}.py")  # fmt: skip
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    with pytest.raises(ConfigError, match=r"pip install 'spikestream\[export\]'"):
        export_nir(TinyRSNN(), (2, 5, 5))
    from spikestream.export import export_onnx

    with pytest.raises(ConfigError, match=r"needs the onnx package: pip install"):
        export_onnx(TokenPool(), "unused.onnx", _tokens(2, 4, 0))


# -- every registered spiking model ------------------------------------------------------------

#: overrides that keep each entry's structure and make it cheap (the full DVS Gesture network
#: is covered by the golden E test below)
SMALL = {
    "plifnet_dvsgesture": dict(channels=8, input_size=(32, 32), hidden=(32,)),
    "plifnet_cifar10dvs": dict(channels=8, input_size=(16, 16), hidden=(32,)),
    "plifnet_nmnist": dict(channels=8, hidden=(32,)),
}
SPIKING = [n for n in models.list_models() if n.startswith(("plifnet_", "rsnn_"))]


@pytest.mark.parametrize("name", SPIKING)
def test_every_spiking_model_round_trips(name):
    model = models.create(name, **SMALL.get(name, {})).eval()
    assert isinstance(model, models.StepModel)
    has_max_pool = any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    if has_max_pool:
        with pytest.raises(ConfigError, match="NIR has no max pooling"):
            export_nir(model)
    graph = export_nir(model, max_pool="spikes" if has_max_pool else "refuse")
    net = import_nir(graph)
    steps = 20 if name.startswith("rsnn") else 4
    x = _spikes((2, steps, *net.input_shape), seed=5, rate=0.2) * (1 if steps == 20 else 4)
    with torch.no_grad():
        want, got = model(x), net(x)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_golden_e_dvsgesturenet_through_a_nir_file(tmp_path):
    """SpikingJelly's trained-style DVSGestureNet weights -> plifnet_dvsgesture -> NIR file (BN
    folded, max pooling as sum pool + threshold) -> spikestream: golden ``out`` exactly."""
    z = load_golden("E_sj_dvsgesturenet.npz")
    model = models.create("plifnet_dvsgesture").eval()
    keys = [k[3:] for k in z.files if k.startswith("sd/")]
    model.load_state_dict({k: torch.from_numpy(z[f"sd/{k}"]) for k in keys})
    path = tmp_path / "gesture.nir"
    save_nir(model, path, max_pool="spikes", readout="mean", check=False)  # check: see above
    net = import_nir(path)
    with torch.no_grad():
        steps = net.forward_steps(torch.from_numpy(z["x"]).transpose(0, 1))
    assert torch.equal(steps, torch.from_numpy(z["out"]))


def test_golden_h_norse_rsnn_through_nir():
    z = load_golden("H_norse_rsnn.npz")
    model = models.create("rsnn_pokerdvs")
    names = ["l1.input_weights", "l1.recurrent_weights", "fc_out.weight"]
    model.load_state_dict({k: torch.from_numpy(z[f"sd/{k}"]) for k in names})
    net = import_nir(export_nir(model, readout="log_softmax_max", check=False))
    x = torch.from_numpy(z["x"]).transpose(0, 1)
    with torch.no_grad():
        voltages, log_p = net.forward_steps(x), net(x)
    # the cells step one matrix product per step, Norse's order; the golden is Norse's own run
    torch.testing.assert_close(voltages, torch.from_numpy(z["voltages"]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(log_p, torch.from_numpy(z["log_p_y"]), rtol=1e-5, atol=1e-6)


# -- other NIR consumers (optional: skipped where the peer or nirtorch is absent) ---------------


def _peer_steps(net, x: torch.Tensor) -> torch.Tensor:
    state, outs = None, []
    for t in range(x.shape[1]):
        out, state = net(x[:, t], state)
        outs.append(out)
    return torch.stack(outs)


def test_spikingjelly_runs_the_exported_graph():
    pytest.importorskip("nirtorch", reason="nirtorch (SpikingJelly's NIR dependency) not installed")
    sj = pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    graph = export_nir(TinyConvNet(), (2, 8, 8))
    x = _spikes((3, 5, 2, 8, 8), seed=6)
    with torch.no_grad():
        want = import_nir(graph).forward_steps(x)
        got = _peer_steps(sj.import_from_nir(graph, dt=graph.metadata["dt"]), x)
    assert want.abs().sum() > 0
    # the voting layer is a Linear map there: equal up to float rounding of the average
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_snntorch_runs_the_exported_graph(capsys):
    pytest.importorskip("nirtorch", reason="nirtorch (snnTorch's NIR dependency) not installed")
    snn_nir = pytest.importorskip("snntorch.import_nir")
    graph = export_nir(TinyConvNet(), (2, 8, 8))
    x = _spikes((1, 5, 2, 8, 8), seed=7)  # batch 1: snnTorch's Flatten merges the batch axis
    with torch.no_grad():
        want = import_nir(graph).forward_steps(x)
        got = _peer_steps(snn_nir.import_from_nir(graph), x).reshape(want.shape)
    capsys.readouterr()  # snnTorch prints its weight scaling
    assert want.abs().sum() > 0
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


# -- ONNX -------------------------------------------------------------------------------------


class TokenPool(nn.Module):
    """x, y, t, p [N, L] float and a bool valid mask -> [N, 5]: per-token MLP, masked mean."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.LayerNorm(16))
        self.head = nn.Linear(16, 5)

    def forward(self, x, y, t, p, valid_mask):
        h = self.embed(torch.stack((x / 240, y / 180, t, p), -1))
        w = valid_mask.unsqueeze(-1).to(h.dtype)
        return self.head((h * w).sum(1) / w.sum(1).clamp_min(1))


def _tokens(n: int, length: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 240, (n, length), generator=g).float()
    y = torch.randint(0, 180, (n, length), generator=g).float()
    t = torch.sort(torch.rand(n, length, generator=g), 1).values
    p = torch.randint(0, 2, (n, length), generator=g).float()
    valid = torch.ones(n, length, dtype=torch.bool)
    valid[0, length // 2 :] = False
    return x, y, t, p, valid


def test_onnx_export_has_dynamic_batch_and_length(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from spikestream.export import check_onnx, export_onnx

    model = TokenPool()
    path = tmp_path / "tokens.onnx"
    export_onnx(model, path, _tokens(3, 8, 0))  # checked at (3, 8), (1, 8) and (3, 7)
    inputs = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
              for i in onnx.load(path).graph.input]  # fmt: skip
    assert [n for n, _ in inputs] == ["x", "y", "t", "p", "valid_mask"]
    assert all(isinstance(d[0], str) and isinstance(d[1], str) for _, d in inputs)
    worst = check_onnx(path, model, [_tokens(1, 3, 1), _tokens(5, 40, 2)])
    assert worst < 1e-5
    # padded positions do not change the output, in the ONNX model too
    x, y, t, p, valid = _tokens(2, 12, 3)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(*a):
        return sess.run(
            None, dict(zip(["x", "y", "t", "p", "valid_mask"], (v.numpy() for v in a), strict=True))
        )[0]

    moved = x.clone()
    moved[~valid] = 7.0
    np.testing.assert_array_equal(run(x, y, t, p, valid)[0], run(moved, y, t, p, valid)[0])
    with pytest.raises(ConfigError, match="batch or sequence size below 2"):
        export_onnx(model, tmp_path / "x.onnx", _tokens(1, 8, 0))
    assert not list(tmp_path.glob("*.partial*"))


def _has_onnxscript() -> bool:
    from spikestream.export.onnx import _has_onnxscript as has

    return has()


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("event2vec_asldvs", {}),
        ("event2vec_dvsgesture", {}),
        ("event2vec_v1_asldvs", {"d_model": 32, "n_head": 4, "d_feedforward": 64, "n_layers": 1}),
    ],
)
def test_event2vec_onnx_matches_torch(name, overrides, tmp_path):
    """Both exporters (dynamo with onnxscript, else TorchScript) give a file that runs at other
    batch sizes and lengths, padding included."""
    pytest.importorskip("onnxruntime")
    from spikestream.export.onnx import check_onnx, example_tokens, export_onnx

    model = models.create(name, **overrides).eval()
    path = export_onnx(model, tmp_path / "e2v.onnx", example_tokens(model, 2, 16))
    sizes = [(1, 5), (3, 255), (4, 31)]
    worst = check_onnx(path, model, [example_tokens(model, b, n, seed=b) for b, n in sizes])
    assert worst < 1e-5


@pytest.mark.skipif(
    _has_onnxscript(), reason="the TorchScript exporter is used only without onnxscript"
)
def test_a_transformer_the_torchscript_exporter_fixes_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    from spikestream.export import export_onnx

    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

        def forward(self, h, valid):
            return self.encoder(h, src_key_padding_mask=~valid).mean(1)

    example = (torch.randn(3, 6, 8), torch.ones(3, 6, dtype=torch.bool))
    with pytest.raises(ConfigError, match="install onnxscript"):
        export_onnx(Enc(), tmp_path / "enc.onnx", example)
    assert not list(tmp_path.iterdir())  # nothing left that looks complete


# -- the command --------------------------------------------------------------------------------


def test_cli_exports_a_checkpoint(tmp_path, capsys):
    from spikestream.models.checkpoint import ModelRecord, save_model

    model = models.create("rsnn_pokerdvs", hidden=16)
    ckpt = tmp_path / "rsnn.pt"
    save_model(ckpt, model, ModelRecord("rsnn_pokerdvs", {"hidden": 16}))
    out = tmp_path / "rsnn.nir"
    assert main(["export", str(ckpt), "--out", str(out)]) == 0
    assert "readout log_softmax_max" in capsys.readouterr().out
    graph = nir.read(out)
    np.testing.assert_array_equal(
        graph.nodes["l1_input_weights"].weight, model.l1.input_weights.detach().numpy()
    )


def test_cli_exports_onnx(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "e2v.onnx"
    assert main(["export", "event2vec_asldvs", "--out", str(out), "--length", "8"]) == 0
    assert "checked with onnxruntime" in capsys.readouterr().out and out.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["plifnet_ndigits", "--out", "{tmp}/p.nir"], "NIR has no max pooling"),
        (["plifnet_ndigits", "--out", "{tmp}/p.onnx"], "use --format nir"),
        (["no_such_model", "--out", "{tmp}/p.nir"], "neither a checkpoint file nor a registered"),
        (["{tmp}/bad.pt", "--out", "{tmp}/p.nir"], "not a readable torch checkpoint"),
        (["rsnn_pokerdvs", "--out", "{tmp}/p.txt"], "give --format nir or onnx"),
        (["rsnn_pokerdvs", "--out", "{tmp}/p.nir", "--no-check"], "--no-check needs --readout"),
    ],
)
def test_cli_errors_are_one_line(argv, fragment, tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    status = main(["export", *(a.format(tmp=tmp_path) for a in argv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and fragment in err[0], err
    assert not (tmp_path / "p.nir").exists()


def test_imported_network_neurons_are_recorded():
    """An imported network's neurons run through `BaseNode.run_steps`, so the trace recorder
    sees them: the same spikes, layer by layer, as the model that was exported."""
    from spikestream.viz.traces import record_neurons

    model = TinyConvNet("plif")
    net = import_nir(export_nir(model, (2, 8, 8)))
    x = _spikes((2, 5, 2, 8, 8), seed=4)
    with torch.no_grad():
        with record_neurons(model) as want:
            model(x)
        with record_neurons(net) as got:
            net(x)
    assert len(got) == len(want) == 4
    for a, b in zip(want, got, strict=True):
        assert a.spikes is not None and a.spikes.sum() > 0
        np.testing.assert_array_equal(a.spikes, b.spikes)
        np.testing.assert_allclose(a.v, b.v, atol=1e-5)  # BatchNorm folded into the conv


# -- checkpoints of `demo` and `fit`, and the quick start's CSNN ----------------------------------


def _csnn_outputs_equal(model: nn.Module, net: nn.Module, seed: int, every_layer: bool) -> None:
    """The imported network gives the model's spikes, layer by layer, and its scores, on spike
    frames that make the model's first layer (``every_layer``: every layer) fire."""
    from spikestream.viz.traces import record_neurons

    x = _spikes((3, 4, 2, 34, 34), seed=seed, rate=0.3) * (4 if every_layer else 16)
    with torch.no_grad():
        with record_neurons(model) as want_layers:
            want = model(x)
        with record_neurons(net) as got_layers:
            got = net(x)
    fired = [bool(layer.spikes.any()) for layer in want_layers]
    assert len(fired) == 2 and (all(fired) if every_layer else fired[0])  # not vacuous
    for a, b in zip(want_layers, got_layers, strict=True):
        np.testing.assert_array_equal(a.spikes, b.spikes)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_cli_exports_a_demo_checkpoint(ndigits_root, tmp_path, capsys):
    """What `spikestream demo` saves (save_model with the frames record) exports through the one
    checkpoint reader; the NIR input shape is the record's, and the graph computes the model."""
    from spikestream.commands.export import load_model as export_load_model
    from spikestream.models.checkpoint import load_model
    from spikestream.train.quickstart import train_on_ndigits

    ckpt = tmp_path / "csnn_ndigits.ckpt"
    train_on_ndigits(ndigits_root, epochs=1, train_limit=64, checkpoint=ckpt)
    model, _ = load_model(ckpt)
    assert export_load_model(str(ckpt))[1:] == (f"{ckpt} (csnn_ndigits)", (2, 34, 34))

    out = tmp_path / "demo.nir"
    assert main(["export", str(ckpt), "--out", str(out)]) == 2  # max pooling needs the option
    assert "NIR has no max pooling" in capsys.readouterr().err and not out.exists()
    assert main(["export", str(ckpt), "--out", str(out), "--max-pool", "spikes"]) == 0
    assert "csnn_ndigits), 13 nodes, readout mean" in capsys.readouterr().out
    net = import_nir(out)
    assert net.input_shape == (2, 34, 34) and net.readout == "mean"
    _csnn_outputs_equal(model, net, seed=1, every_layer=False)


def test_cli_exports_a_lightning_fit_checkpoint(ndigits_root, tmp_path, monkeypatch, capsys):
    """`spikestream fit`'s Lightning last.ckpt (optimizer and loop state beside the record)."""
    pytest.importorskip("lightning")
    import yaml

    from spikestream import train as training
    from spikestream.datasets import NDigits
    from spikestream.models.checkpoint import load_model

    NDigits.prepare(ndigits_root, progress=False)
    monkeypatch.chdir(tmp_path)
    cfg = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 1,
                    "limit_train_batches": 2, "limit_val_batches": 0, "num_sanity_val_steps": 0,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"model": "csnn_ndigits", "model_args": {"channels": [4, 8]}},
        "data": {"dataset": "ndigits", "root": str(ndigits_root), "frames_number": 4,
                 "batch_size": 8, "limit_samples": 16, "num_workers": 0},
    }  # fmt: skip
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    training.fit(tmp_path / "tiny.yaml")
    ckpt = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    assert "optimizer_states" in torch.load(ckpt, weights_only=True)
    out = tmp_path / "fit.nir"
    argv = ["export", str(ckpt.relative_to(tmp_path)), "--out", "fit.nir", "--max-pool", "spikes"]
    assert main(argv) == 0
    assert "last.ckpt (csnn_ndigits), 13 nodes, readout mean" in capsys.readouterr().out
    model, _ = load_model(ckpt)
    graph = nir.read(out)
    assert graph.nodes["convs_0"].weight.shape == (4, 2, 3, 3)  # the trained model's, not 24
    _csnn_outputs_equal(model, import_nir(graph), seed=2, every_layer=False)


def test_cli_refuses_the_old_checkpoint_dict(tmp_path, capsys):
    """The pre-record dict {'model', 'config', 'state_dict'} is not a checkpoint any command
    writes: one line naming what is, and nothing written."""
    model = models.create("rsnn_pokerdvs", hidden=16)
    ckpt = tmp_path / "old.pt"
    torch.save({"model": "rsnn_pokerdvs", "config": {"hidden": 16},
                "state_dict": model.state_dict()}, ckpt)  # fmt: skip
    assert main(["export", str(ckpt), "--out", str(tmp_path / "o.nir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an old export dict" in err[0] and "save_model" in err[0]
    assert not (tmp_path / "o.nir").exists()


def test_csnn_round_trips_in_forward_order():
    """CSNN registers its convolutions, then its norms; its nir_layers() gives the forward order
    (each norm folded into the convolution feeding it, the functional max pooling as sum pool +
    threshold), so the graph computes the model. Without that order the walk would pair a norm
    with the wrong convolution: refused with a ConfigError, never a crash."""
    torch.manual_seed(3)
    model = models.create("csnn_ndigits", channels=(6, 12)).eval()
    with torch.no_grad():  # distinct batch-norm statistics; weights that make both layers fire
        for conv, norm in zip(model.convs, model.norms, strict=True):
            conv.weight.mul_(4)
            norm.running_mean.uniform_(-0.3, 0.3)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.1, 0.3)
    with pytest.raises(ConfigError, match=r"MaxPool2d at 'max_pool\.0': NIR has no max pool"):
        export_nir(model)  # max pooling needs max_pool="spikes", as for every model
    graph = export_nir(model, max_pool="spikes")
    assert graph.metadata["readout"] == "mean"
    kinds = [
        type(graph.nodes[n]).__name__
        for n in ("pool", "convs_0", "neurons_0", "max_pool_0_sum", "max_pool_0_any", "convs_1")
    ]
    assert kinds == ["AvgPool2d", "Conv2d", "LIF", "SumPool2d", "Threshold", "Conv2d"]
    # the folded weight is convs.1's scaled by norms.1's statistics
    norm = model.norms[1]
    scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()
    np.testing.assert_allclose(
        graph.nodes["convs_1"].weight, (model.convs[1].weight * scale[:, None, None, None])
        .detach().numpy(), rtol=1e-6)  # fmt: skip
    _csnn_outputs_equal(model, import_nir(graph), seed=4, every_layer=True)

    from spikestream.models.ndigits import CSNN

    class RegistrationOrder(CSNN):
        nir_layers = None  # the plain walk: convs.0, convs.1, norms.0, ...

    plain = RegistrationOrder(channels=(6, 12))
    with pytest.raises(ConfigError, match="registers its layers in another order"):
        export_nir(plain, max_pool="spikes")


def test_cli_names_a_layer_that_does_not_fit_the_input_shape(tmp_path, capsys):
    argv = ["export", "csnn_ndigits", "--out", str(tmp_path / "c.nir"), "--input-shape", "3,34,34"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Conv2d at 'convs.0' does not take" in err[0], err
