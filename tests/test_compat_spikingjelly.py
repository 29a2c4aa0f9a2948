"""``spikestream.compat.spikingjelly``: SpikingJelly's module layout (``activation_based``,
``clock_driven``, ``datasets``), step modes, backends, datasets read from an ``events_np`` tree,
``split_to_train_test_set``, and unsupported names, by value. (Neurons, surrogates, frames and
DVSGestureNet against SpikingJelly's outputs: test_snn.py, test_transforms_golden.py,
test_snn_dvsgesturenet.py.)"""

# ruff: noqa: NPY002 - split_to_train_test_set shuffles with numpy's global generator, as SJ does

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikestream.compat.spikingjelly import datasets as sjds
from spikestream.compat.spikingjelly.activation_based import functional, layer, neuron, surrogate
from spikestream.compat.spikingjelly.activation_based.model import parametric_lif_net
from spikestream.compat.spikingjelly.clock_driven import layer as old_layer
from spikestream.compat.spikingjelly.clock_driven import neuron as old_neuron
from spikestream.errors import ConfigError

from .conftest import load_golden


def test_step_mode_layers_merge_time_into_batch():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 6, 6)  # [T, N, C, H, W]
    for make in (lambda m: layer.Conv2d(4, 5, 3, padding=1, step_mode=m),
                 lambda m: layer.BatchNorm2d(4, step_mode=m),
                 lambda m: layer.MaxPool2d(2, 2, step_mode=m)):  # fmt: skip
        single, multi = make("s"), make("m")
        multi.load_state_dict(single.state_dict())
        expected = single(x.flatten(0, 1)).unflatten(0, (3, 2))  # stats over T x N, as SJ
        assert torch.allclose(multi(x), expected, atol=1e-6)
    assert layer.Flatten(step_mode="m")(x).shape == (3, 2, 144)
    assert layer.Flatten()(x[0]).shape == (2, 144)
    lin = layer.Linear(144, 7, bias=False, step_mode="m")
    assert list(lin.state_dict()) == ["weight"]  # torch's keys: SJ checkpoints load as they are
    assert lin(layer.Flatten(step_mode="m")(x)).shape == (3, 2, 7)
    assert "step_mode=m" in repr(lin)
    with pytest.raises(ConfigError, match="step_mode"):
        layer.Linear(2, 2, step_mode="x")


def test_dropout_masks_and_set_step_mode():
    torch.manual_seed(1)
    drop = layer.Dropout(0.5)  # single-step by default: one mask until reset
    ones = torch.ones(4, 8)
    first, second = drop(ones), drop(ones)
    assert torch.equal(first, second) and set(first.unique().tolist()) == {0.0, 2.0}
    functional.reset_net(drop)
    assert not torch.equal(drop(ones), first)
    multi = old_layer.MultiStepDropout(0.5)(torch.ones(5, 4, 8))  # one mask for all T steps
    assert all(torch.equal(multi[t], multi[0]) for t in range(5))
    assert torch.equal(drop.eval()(ones), ones)

    net = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4)),
        neuron.LIFNode(),
        layer.Flatten(),
        layer.Dropout(0.5),
    )
    functional.set_step_mode(net, "m")
    assert [getattr(m, "step_mode", None) for m in net] == [None, "m", "m", "m"]
    assert net(torch.rand(3, 2, 2, 5, 5)).shape == (3, 2, 36)
    # as in SpikingJelly 2.0: only StepModeContainer's (absent here) children keep their mode;
    # a container's step-mode children are switched too
    inner = layer.SeqToANNContainer(layer.Conv2d(2, 4, 3), layer.BatchNorm2d(4))
    stepwise = layer.MultiStepContainer(neuron.LIFNode())
    functional.set_step_mode(nn.Sequential(inner, stepwise), "m")
    assert inner[0].step_mode == inner[1].step_mode == stepwise[0].step_mode == "m"
    with pytest.raises(ConfigError, match="step_mode"):
        functional.set_step_mode(net, "x")


def test_backends_map_to_spikestream_dispatch():
    net = nn.Sequential(neuron.LIFNode(step_mode="m"), old_neuron.MultiStepLIFNode())
    functional.set_backend(net, "cupy")
    assert [m.backend for m in net] == [None, None]  # the fused kernel for the device
    functional.set_backend(net, "torch", instance=old_neuron.MultiStepLIFNode)
    assert [m.backend for m in net] == [None, "torch"]
    assert old_neuron.MultiStepLIFNode(backend="cupy").backend is None
    with pytest.raises(ConfigError, match="lava"):
        old_neuron.MultiStepLIFNode(backend="lava")


def test_clock_driven_neurons_match_spikingjelly_golden():
    """The DVS128 Gesture tutorial's neurons: ``MultiStepLIFNode(tau=2, ATan, detach_reset,
    backend='cupy')`` and the single-step ``LIFNode`` called per step give SpikingJelly's
    spikes, membranes and gradients (golden C)."""
    z = load_golden("C_sj_neurons.npz")
    key = "lif_di1_vr0_det1_atan"
    kwargs = dict(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)
    x = torch.from_numpy(z["x"]).clone().requires_grad_(True)
    multi = old_neuron.MultiStepLIFNode(**kwargs, backend="cupy")
    spikes = multi(x)
    (spikes * torch.from_numpy(z["G"])).sum().backward()
    assert np.array_equal(spikes.detach().numpy(), z[f"{key}__m__spike"])
    np.testing.assert_allclose(x.grad.numpy(), z[f"{key}__m__grad_x"], atol=1e-6)
    single = old_neuron.LIFNode(**kwargs)
    steps, vs = [], []
    for t in range(x.shape[0]):
        steps.append(single(x[t].detach()))
        vs.append(single.v)
    assert np.array_equal(torch.stack(steps).numpy(), z[f"{key}__s__spike"])
    assert np.array_equal(torch.stack(vs).numpy(), z[f"{key}__s__v"])


def test_clock_driven_containers_keep_their_module_keys():
    seq = old_layer.SeqToANNContainer(nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3))
    assert list(seq.state_dict())[:2] == ["module.0.weight", "module.1.weight"]
    assert seq(torch.rand(4, 2, 2, 6, 6)).shape == (4, 2, 3, 4, 4)
    one = old_layer.SeqToANNContainer(nn.Linear(5, 2))
    assert list(one.state_dict()) == ["module.weight", "module.bias"]
    stepwise = old_layer.MultiStepContainer(old_neuron.LIFNode())
    x = torch.rand(6, 3) * 3
    assert torch.equal(stepwise(x), old_neuron.MultiStepLIFNode()(x))
    # the 2.0 containers underneath: what treats those (set_step_mode) treats these
    assert isinstance(seq, layer.SeqToANNContainer) and isinstance(one, layer.SeqToANNContainer)
    assert isinstance(stepwise, layer.MultiStepContainer)
    assert [name for name, _ in stepwise.named_children()] == ["module"]
    assert parametric_lif_net.DVSGestureNet.__name__ == "DVSGestureNet"


def _events_np(root, layout):
    rng = np.random.default_rng(0)
    for split, folders in layout.items():
        for folder, count in folders.items():
            for k in range(count):
                path = root / "events_np" / split / folder / f"s{k}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                t = np.sort(rng.integers(0, 100_000, 30))
                np.savez(path, t=t, x=rng.integers(0, 128, 30), y=rng.integers(0, 128, 30),
                         p=rng.integers(0, 2, 30))  # fmt: skip


def test_datasets_read_an_events_np_tree_in_place(tmp_path):
    root = tmp_path / "DVS128Gesture"
    _events_np(root, {"train": {"0": 2, "10": 1, "3": 1}, "test": {"5": 1}})
    train = sjds.DVS128Gesture(str(root), train=True)  # no archive anywhere
    assert not (root / "download").exists() and (root / "packed" / "train").is_dir()
    labels = [train[i][1] for i in range(len(train))]
    assert labels == [0, 0, 4, 2]  # SpikingJelly's labels: folders sorted as strings
    events, _ = train[0]
    with np.load(root / "events_np" / "train" / "0" / "s0.npz") as z:
        assert list(events) == ["t", "x", "y", "p"] and np.array_equal(events["t"], z["t"])
    frames, _ = sjds.DVS128Gesture(str(root), train=False, data_type="frame", frames_number=4,
                                   split_by="number")[0]  # fmt: skip
    assert frames.dtype == np.float32 and frames.shape == (4, 2, 128, 128) and frames.sum() == 30
    # transforms see SpikingJelly's sample types: the events dict, float32 frames
    seen = sjds.DVS128Gesture(str(root), train=True, transform=lambda e: sorted(e),
                              target_transform=lambda y: y + 100)[2]  # fmt: skip
    assert seen == (["p", "t", "x", "y"], 104)
    dtype, _ = sjds.DVS128Gesture(str(root), train=False, data_type="frame", frames_number=4,
                                  split_by="number", transform=lambda f: f.dtype)[0]  # fmt: skip
    assert dtype == np.float32
    assert sjds.DVS128Gesture.get_H_W() == (128, 128) and sjds.NCaltech101.get_H_W() == (180, 240)
    assert not sjds.DVS128Gesture.downloadable() and sjds.CIFAR10DVS.downloadable()
    assert [r[0] for r in sjds.DVS128Gesture.resource_url_md5()] == [
        "DvsGesture.tar.gz", "gesture_mapping.csv", "LICENSE.txt", "README.txt"]  # fmt: skip
    from spikestream.compat.spikingjelly.datasets.dvs128_gesture import DVS128Gesture

    assert DVS128Gesture is sjds.DVS128Gesture


class Labelled:
    def __init__(self, labels, with_targets=True):
        self.labels = labels
        if with_targets:
            self.targets = list(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return None, torch.tensor(self.labels[i])


def test_split_to_train_test_set_follows_spikingjelly():
    labels = [1, 0, 1, 1, 0, 2, 1, 0, 2]
    train, test = sjds.split_to_train_test_set(0.5, Labelled(labels), 3)
    # per class, the first ceil(n_c * 0.5) indices, listed class by class
    assert train.indices == [1, 4, 0, 2, 5] and test.indices == [7, 3, 6, 8]
    same = sjds.split_to_train_test_set(0.5, Labelled(labels, with_targets=False), 3)
    assert same[0].indices == train.indices  # labels read from the samples
    np.random.seed(4)
    a = sjds.split_to_train_test_set(0.5, Labelled(labels), 3, random_split=True)[0].indices
    np.random.seed(4)
    b = sjds.split_to_train_test_set(0.5, Labelled(labels), 3, random_split=True)[0].indices
    assert a == b and sorted(labels[i] for i in a) == [0, 0, 1, 1, 2]  # ceil per class
    with pytest.raises(ConfigError, match="num_classes"):
        sjds.split_to_train_test_set(0.5, Labelled(labels), 2)


def test_unsupported_names_say_what_to_use():
    with pytest.raises(AttributeError, match=r"neuron\.LIFNode"):
        neuron.LIAFNode  # noqa: B018
    with pytest.raises(AttributeError, match=r"activation_based\.neuron\.PSN"):
        neuron.PSN  # noqa: B018
    with pytest.raises(AttributeError, match="SeqToANNContainer"):
        functional.seq_to_ann_forward  # noqa: B018
    with pytest.raises(AttributeError, match=r"surrogate\.ATan"):
        surrogate.Erf  # noqa: B018
    with pytest.raises(AttributeError, match="Drop-in compatibility"):
        layer.NoSuchLayer  # noqa: B018
    with pytest.raises(AttributeError, match=r"clock_driven\.neuron\.LIAFNode"):
        old_neuron.LIAFNode  # noqa: B018
    # a from-import keeps the advice (Python would replace an AttributeError by its own text)
    with pytest.raises(ImportError, match=r"datasets\.HARDVS is not covered"):
        from spikestream.compat.spikingjelly.datasets import HARDVS  # noqa: F401
    with pytest.raises(ImportError, match="forward hooks"):
        from spikestream.compat.spikingjelly.activation_based import monitor  # noqa: F401
    with pytest.raises(ImportError, match="build it from layer and neuron"):
        from spikestream.compat.spikingjelly.activation_based.model import sew_resnet  # noqa: F401
    with pytest.raises(ImportError, match="fused kernel"):
        from spikestream.compat.spikingjelly.clock_driven import cu_kernel_opt  # noqa: F401
    with pytest.raises(ImportError, match=r"spikestream\.viz"):
        from spikestream.compat.spikingjelly import visualizing  # noqa: F401
    with pytest.raises(ImportError, match=r"ToFrame then \(frames > 0\)"):
        from spikestream.compat.tonic.transforms import Compose, ToBinaRep  # noqa: F401
    with pytest.raises(ImportError, match="DiskCachedDataset"):  # through tonic's own __getattr__
        from spikestream.compat.tonic import CachedDataset  # noqa: F401
    with pytest.raises(ImportError, match="LIFCell / LIFRecurrentCell"):
        from spikestream.compat.norse.torch import LIFRefracCell  # noqa: F401
    import spikestream.compat.spikingjelly.activation_based as ab

    assert not hasattr(ab, "monitor") and not hasattr(neuron, "PSN")
    with pytest.raises(AttributeError, match="forward hooks"):
        ab.monitor  # noqa: B018
