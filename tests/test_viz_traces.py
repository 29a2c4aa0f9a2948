"""spikestream.viz.traces: neuron traces against hand-computed trajectories and the models' own
outputs (SpikingJelly-style nodes through their ``step_observer``, PLIFNet and CSNN's fused
loops, Norse cells, RecurrentSNN), the model left as it was, other models and threads untouched,
and the traces' figure."""

from __future__ import annotations

import threading

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from spikestream import ConfigError


def test_lif_trace_is_the_hand_computed_trajectory():
    from spikestream.snn import LIFNode
    from spikestream.viz import record_neurons

    node = LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, step_mode="m")
    x = torch.tensor([1.5, 1.5, 1.5, 0.4, 0.0, 2.0]).reshape(6, 1, 1).repeat(1, 2, 3)
    with record_neurons(node) as rec:
        spikes = node(x)
    trace = rec["LIFNode"]
    # h = v + (x - v) / 2; spike when h >= 1, then v = 0
    h = [0.75, 1.125, 0.75, 0.575, 0.2875, 1.14375]
    v = [0.75, 0.0, 0.75, 0.575, 0.2875, 0.0]
    s = [0, 1, 0, 0, 0, 1]
    np.testing.assert_allclose(trace.h[:, 0], h, rtol=0, atol=1e-7)
    np.testing.assert_allclose(trace.v[:, 0], v, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(trace.spikes[:, 0], s)
    np.testing.assert_array_equal(trace.spikes, spikes[:, 0].reshape(6, -1).numpy())
    assert ((trace.h >= 1.0) == (trace.spikes > 0)).all()  # spikes exactly where h crosses
    assert trace.x.shape == (6, 3) and trace.v_threshold == 1.0 and trace.kind == "LIF"
    # everything restored on exit: no observer left on the node, no v_seq stored for it
    assert "step_observer" not in vars(node) and node.step_observer is None
    assert node.v_seq is None


def test_a_refused_layer_leaves_the_model_unpatched():
    from spikestream.snn import LIFNode
    from spikestream.snn.norse import LIFCell, LIFParameters
    from spikestream.viz import record_neurons
    from spikestream.viz import traces as traces_module

    bad = LIFCell(LIFParameters(v_th=torch.tensor(float("nan"))))
    model = torch.nn.Sequential(LIFNode(step_mode="m"), bad)
    with pytest.raises(ConfigError, match="v_th"):
        with record_neurons(model):
            pass
    assert "step_observer" not in vars(model[0]) and len(model[1]._forward_hooks) == 0
    assert traces_module._recording == set()
    # a threshold per neuron (a tensor): recorded, the dashed line at the largest
    cell = LIFCell(LIFParameters(v_th=torch.tensor([0.5, 0.75, 2.0])))
    with record_neurons(cell) as rec:
        cell(torch.full((1, 3), 3.0))
    assert rec["LIFCell"].v_threshold == 2.0 and rec["LIFCell"].steps == 1


def test_nested_recording_of_one_model_is_refused():
    from spikestream.snn import LIFNode
    from spikestream.viz import record_neurons

    node = LIFNode(tau=2.0, step_mode="m")
    with record_neurons(node) as outer:
        with pytest.raises(ConfigError, match="already being recorded"):
            with record_neurons(node):
                pass
        node(torch.full((2, 1, 1), 1.5))  # the outer block still records
    assert outer["LIFNode"].spikes[:, 0].tolist() == [0, 1]
    assert "step_observer" not in vars(node)
    with record_neurons(node) as again:  # and the node can be recorded again afterwards
        node(torch.full((1, 1, 1), 1.5))
    assert again["LIFNode"].steps == 1


def test_other_models_and_threads_are_untouched():
    """Only the recorded model's nodes get an observer: another node run during the block, in
    this thread or another, is neither recorded nor changed."""
    from spikestream.snn import LIFNode
    from spikestream.viz import record_neurons

    recorded, other = LIFNode(tau=2.0, step_mode="m"), LIFNode(tau=2.0, step_mode="m")
    x = torch.full((3, 1, 2), 1.5)
    want = other(x)
    other.reset()
    got: dict[str, torch.Tensor] = {}

    def run_other() -> None:
        got["spikes"] = other(x)

    with record_neurons(recorded) as rec:
        thread = threading.Thread(target=run_other, daemon=True)
        thread.start()
        recorded(x[:2])
        thread.join(timeout=60)
        assert other.step_observer is None and recorded.step_observer is not None
    assert not thread.is_alive()
    assert want[:, 0, 0].tolist() == [0, 1, 0] and torch.equal(got["spikes"], want)
    assert list(rec.traces) == ["LIFNode"] and rec["LIFNode"].steps == 2


def test_step_observer_sees_the_fused_runs_full_spikes_and_blocks_recording():
    """The hook the recorder sets: PLIFNet's first neuron runs fused with the pool after it;
    observed, its observer gets the full-size spikes (those of `PLIFNet.spikes`), the output is
    unchanged, and `record_neurons` refuses a node that has an observer of its own."""
    from spikestream import models
    from spikestream.snn.neuron import NeuronSteps
    from spikestream.viz import record_neurons

    torch.manual_seed(0)
    net = models.create("plifnet_ndigits").eval()
    x = torch.rand(2, 3, 2, 34, 34) * 4
    with torch.no_grad():
        expected = net.spikes(x)
        want = net(x)
    first = net.neurons[0]
    seen: list[tuple[object, NeuronSteps]] = []
    first.step_observer = lambda node, run: seen.append((node, run))
    with torch.no_grad():
        torch.testing.assert_close(net(x), want, rtol=0, atol=0)
    assert len(seen) == 1 and seen[0][0] is first
    run = seen[0][1]
    assert run.spec == first.spec() and run.spikes.sum() > 0
    np.testing.assert_array_equal(run.spikes.numpy(), expected[0].numpy())
    assert run.x_seq.shape == run.v_seq.shape == expected[0].shape == (3, 2, 16, 34, 34)
    observer = first.step_observer
    with pytest.raises(ConfigError, match="already has a step_observer"):
        with record_neurons(net):
            pass
    assert first.step_observer is observer  # kept, and no other node left observed
    assert all("step_observer" not in vars(n) for n in net.neurons[1:])


def test_recording_a_training_step_keeps_its_gradients():
    """Recorded, PLIFNet's fused neuron+pool runs as the two ops: the same values and
    gradients."""
    from spikestream import models
    from spikestream.viz import record_neurons

    torch.manual_seed(1)
    net = models.create("plifnet_ndigits", channels=6, hidden=(24,)).eval()
    x = torch.rand(2, 4, 2, 34, 34) * 4
    upstream = torch.linspace(-1, 1, 10)

    def grads() -> list[torch.Tensor]:
        net.zero_grad()
        (net(x) * upstream).sum().backward()
        return [p.grad.clone() for p in net.parameters() if p.grad is not None]

    want = grads()
    with record_neurons(net) as rec:
        got = grads()
    assert len(got) == len(want) and want[0].abs().sum() > 0
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=0)  # the same kernel: bit for bit
    assert len(rec) == len(net.neurons) and all(t.steps == 4 for t in rec)


def test_csnn_traces_end_at_its_final_state():
    from spikestream import models
    from spikestream.viz import record_neurons

    torch.manual_seed(2)
    net = models.create("csnn_ndigits").eval()
    x = torch.rand(3, 4, 2, 34, 34) * 3
    with torch.no_grad():
        _, state = net.forward_steps(x.transpose(0, 1))
        with record_neurons(net, sample=2, max_neurons=40) as rec:
            net(x)
    names = [n for n, m in net.named_modules() if any(m is node for node in net.nodes)]
    assert list(rec.traces) == names and len(names) == 2
    assert rec[names[0]].spikes.sum() > 0
    for name, v in zip(names, state, strict=True):
        trace = rec[name]
        assert trace.steps == 4 and np.abs(trace.v).sum() > 0
        np.testing.assert_array_equal(trace.v[-1], v[2].reshape(-1)[trace.indices].numpy())


def test_a_compiled_model_is_recorded_as_the_eager_one():
    """Under torch.compile the observer runs eagerly, as the kernel does (first call compiled)."""
    from spikestream.snn import LIFNode, functional, layer
    from spikestream.viz import record_neurons

    torch.manual_seed(3)
    net = torch.nn.Sequential(
        layer.SeqToANNContainer(torch.nn.Linear(8, 8)), LIFNode(tau=2.0, step_mode="m")
    )
    x = 3 * torch.randn(5, 2, 8)
    with torch.no_grad():
        with record_neurons(net) as compiled_rec:
            got = torch.compile(net, backend="aot_eager")(x)
        functional.reset_net(net)
        with record_neurons(net) as eager_rec:
            want = net(x)
    assert torch.equal(got, want) and want.sum() > 0
    for field in ("x", "h", "v", "spikes"):
        np.testing.assert_array_equal(getattr(compiled_rec["1"], field),
                                      getattr(eager_rec["1"], field))  # fmt: skip
    assert compiled_rec["1"].steps == 5 and "step_observer" not in vars(net[1])


def test_single_step_if_node_records_each_call():
    from spikestream.snn import IFNode
    from spikestream.viz import record_neurons

    node = IFNode(v_threshold=1.0, v_reset=None)  # soft reset, single-step mode
    with record_neurons(node, max_steps=3) as rec:
        for value in (0.6, 0.6, 0.6, 0.6):
            node(torch.full((1, 2), value))
    trace = rec["IFNode"]
    np.testing.assert_allclose(trace.h[:, 0], [0.6, 1.2, 0.8], atol=1e-6)
    np.testing.assert_allclose(trace.v[:, 0], [0.6, 0.2, 0.8], atol=1e-6)
    assert trace.spikes[:, 0].tolist() == [0, 1, 0]
    assert trace.steps == 3 and trace.dropped_steps == 1  # bounded by max_steps


def test_plifnet_traces_match_the_models_spikes():
    from spikestream import models
    from spikestream.viz import record_neurons

    torch.manual_seed(0)
    net = models.create("plifnet_ndigits").eval()
    x = torch.rand(2, 5, 2, 34, 34) * 4
    with torch.no_grad():
        expected = net.spikes(x)
    with record_neurons(net, sample=1, max_neurons=50) as rec:
        out = net(x)
    torch.testing.assert_close(out, net(x))  # recording does not change the output
    names = [n for n, m in net.named_modules() if m in net.neurons]
    assert list(rec.traces) == names
    for name, spikes in zip(names, expected, strict=True):
        trace = rec[name]
        flat = spikes[:, 1].reshape(5, -1)
        if flat.shape[1] > 50:  # an even stride through the layer: every channel sampled
            assert (np.diff(trace.indices) == flat.shape[1] // 50).all()
        want = flat[:, trace.indices].numpy()
        np.testing.assert_array_equal(trace.spikes, want)
        assert trace.kind == "PLIF" and trace.steps == 5
        assert ((trace.h >= trace.v_threshold) == (trace.spikes > 0)).all()


def test_rsnn_and_norse_cell_traces():
    from spikestream import models
    from spikestream.snn.norse import LIFCell
    from spikestream.viz import record_neurons

    torch.manual_seed(0)
    net = models.create("rsnn_pokerdvs")
    x = (torch.rand(2, 12, 2, 35, 35) < 0.05).float()
    with torch.no_grad():
        trace, _ = net.trace(x)
    with record_neurons(net, sample=1) as rec:
        net(x)
    assert list(rec.traces) == ["l1", "out"]
    np.testing.assert_array_equal(rec["l1"].spikes, trace.z[1].numpy())
    np.testing.assert_array_equal(rec["l1"].v, trace.v[1].numpy())
    np.testing.assert_array_equal(rec["l1"].i, trace.i[1].numpy())
    np.testing.assert_array_equal(rec["out"].v, trace.v_out[1].numpy())
    assert rec["out"].spikes is None and "_run" not in vars(net)

    cell = LIFCell()
    state = None
    zs, vs = [], []
    with record_neurons(cell) as rec:
        for _ in range(4):
            z, state = cell(torch.full((1, 3), 3.0), state)
            zs.append(z[0].detach().numpy())
            vs.append(state.v[0].detach().numpy())
    np.testing.assert_array_equal(rec["LIFCell"].spikes, np.stack(zs))
    np.testing.assert_array_equal(rec["LIFCell"].v, np.stack(vs))
    assert len(cell._forward_hooks) == 0


def test_plot_traces_and_bad_arguments(tmp_path):
    from spikestream.snn import LIFNode
    from spikestream.viz import plot_traces, record_neurons

    node = LIFNode(step_mode="m")
    with pytest.raises(ConfigError, match="no neuron layer"):
        with record_neurons(node, layers=["nope"]):
            pass
    with record_neurons(node) as rec:
        with pytest.raises(ConfigError, match="nothing was recorded"):
            plot_traces(rec, tmp_path / "empty.png")
        node(torch.rand(10, 1, 20) * 3)
    image = iio.imread(plot_traces(rec, tmp_path / "t.png", neurons=3))
    assert image.shape[0] > 200 and image.shape[1] > 600


def test_traces_figure_draws_the_recorded_values():
    from spikestream.snn import LIFNode
    from spikestream.viz.traces import record_neurons, traces_figure

    node = LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, step_mode="m")
    x = torch.tensor([1.5, 3.0, 0.2]).repeat(6, 1, 1)  # [T=6, N=1, 3 neurons]
    with record_neurons(node) as rec:
        node(x)
    fig = traces_figure(rec, neurons=2, title="demo")
    membrane, raster = fig.axes[:2]
    # the busiest first: neuron 1 (input 3.0: h = 1.5 every step, 6 spikes), then neuron 0
    # (h = 0.75, 1.125, 0.75, ...: spikes at steps 1, 3, 5); neuron 2 never fires: not drawn
    h1 = [1.5] * 6
    h0 = [0.75, 1.125] * 3
    lines = {ln.get_label(): ln for ln in membrane.get_lines() if ln.get_label()[0] != "_"}
    assert sorted(lines) == ["neuron 0", "neuron 1", "threshold"]
    np.testing.assert_allclose(lines["neuron 1"].get_ydata(), h1)
    np.testing.assert_allclose(lines["neuron 0"].get_ydata(), h0)
    assert list(lines["neuron 0"].get_xdata()) == list(range(6))
    assert list(lines["threshold"].get_ydata()) == [1.0, 1.0]
    markers = [ln for ln in membrane.get_lines() if ln.get_marker() == "o"]
    assert [list(ln.get_xdata()) for ln in markers] == [list(range(6)), [1, 3, 5]]
    np.testing.assert_allclose(markers[1].get_ydata(), [1.125] * 3)
    assert len(membrane.get_lines()) == 5  # two membranes, their spike marks, the threshold
    # the raster: a mark at (step, neuron) for every spike of every recorded neuron
    points = raster.collections[0].get_offsets()
    want = {(t, 1) for t in range(6)} | {(t, 0) for t in (1, 3, 5)}
    assert {(int(a), int(b)) for a, b in points} == want and len(points) == 9
    assert raster.get_title() == "LIFNode: spikes (9)"
    assert fig._suptitle.get_text() == "demo"


def test_copies_made_inside_a_block_are_not_observed():
    """An observer watches one instance: a deepcopy or pickle made while recording (as the NIR
    export and live learning copy models) starts unobserved and adds nothing to the traces."""
    import copy
    import io

    from spikestream.snn import LIFNode
    from spikestream.viz import record_neurons

    node = LIFNode(tau=2.0, step_mode="m")
    x = 2 * torch.rand(3, 2, 5)
    with torch.no_grad(), record_neurons(node) as rec:
        node(x)
        twin = copy.deepcopy(node)
        torch.save(node, io.BytesIO())  # the recorder's closure is not pickled
        twin(x)
        twin(x)
        assert node.step_observer is not None and twin.step_observer is None
    assert list(rec.traces) == ["LIFNode"] and rec["LIFNode"].steps == 3  # the node's run only
    assert node.step_observer is None


def test_a_module_as_observer_is_called_and_not_a_submodule():
    from spikestream.snn import IFNode

    class Count(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.steps = 0

        def forward(self, node, run) -> None:
            self.steps += run.spikes.shape[0]

    node = IFNode(step_mode="m")
    node.step_observer = Count()
    node(torch.ones(4, 1, 3))
    assert node.step_observer.steps == 4
    assert list(node.children()) == [] and "step_observer" not in node.state_dict()


def test_one_model_run_from_two_threads_keeps_whole_runs():
    """Both threads' runs go to the one recorder, each run's rows kept together."""
    from spikestream.snn import LIFNode
    from spikestream.viz import record_neurons

    node = LIFNode(tau=2.0, step_mode="m")
    runs = 20
    with torch.no_grad(), record_neurons(node, max_steps=10_000) as rec:

        def work(value: float) -> None:
            for _ in range(runs):
                node.run_steps(torch.full((3, 1, 4), value), torch.zeros(1, 4))

        threads = [threading.Thread(target=work, args=(v,)) for v in (0.5, 2.0)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    trace = next(iter(rec))
    assert trace.steps == 2 * runs * 3
    # every 3-step run holds one thread's input only
    x = trace.x.reshape(2 * runs, 3, -1)
    assert all(np.unique(run).size == 1 for run in x)
    assert sorted(np.unique(x).tolist()) == [0.5, 2.0]


def test_plain_loop_neurons_are_recorded_with_their_own_charge():
    """QIF/EIF/Izhikevich/KLIF run their own loop: the recorder names their kind and takes the
    charged potential they hand over (h crosses the threshold exactly where they spike)."""
    from spikestream.snn import IzhikevichNode, QIFNode
    from spikestream.viz import record_neurons

    torch.manual_seed(5)
    x = 3 * torch.rand(20, 2, 6)
    for node, kind in ((QIFNode(step_mode="m"), "QIF"),
                       (IzhikevichNode(step_mode="m"), "Izhikevich")):  # fmt: skip
        with torch.no_grad(), record_neurons(node) as rec:
            spikes = node(x)
        trace = next(iter(rec))
        assert trace.kind == kind and trace.steps == 20 and spikes.sum() > 0
        np.testing.assert_array_equal(trace.spikes, spikes[:, 0].numpy())
        np.testing.assert_array_equal(trace.h >= node.v_threshold, trace.spikes > 0)
