"""The three seed tutorials (../shared/seeds) run with only their imports changed.

Each tutorial's code is read from the seed file at test time and executed block by block in one
namespace, as a reader (or Jupyter) would. The only edits are:

* the import rewrite: ``spikingjelly`` / ``tonic`` / ``norse`` -> ``spikestream.compat.<name>``
  (``import tonic`` -> ``import spikestream.compat.tonic as tonic``);
* dataset roots pointed at the miniature data the fixtures build;
* the listed SUBSTITUTIONS, each the smallest change that lets a block run here, with its
  reason (every one is checked to match the seed, so a changed seed fails loudly).

The SpikingJelly datasets tutorial in ../shared/seeds has lost its line breaks: every run of
whitespace is one space, so Python's indentation cannot be recovered mechanically (which
statements a ``for`` body holds, where a comment ends). `DATASETS_LAYOUT` therefore carries the
line breaks and indentation of its code blocks, and the test asserts that each one equals the
seed's block character for character once whitespace is collapsed: the code that runs is the
seed's code. Printed outputs are compared with the tutorial's printed outputs the same way.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from .conftest import SHARED, load_golden, require

SEEDS = SHARED / "seeds"
PEERS = ("spikingjelly", "tonic", "norse")


# ----------------------------------------------------------------------------- extraction


def collapse(text: str) -> str:
    return " ".join(text.split())


def rst_blocks(text: str, language: str) -> list[str]:
    """The ``.. code:: <language>`` blocks of a reStructuredText file, dedented."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == f".. code:: {language}":
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i][:1] in " \t"):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
        else:
            i += 1
    return blocks


def md_blocks(text: str) -> list[str]:
    """The fenced ```python blocks of a (jupytext) markdown notebook."""
    return [m.group(1) for m in re.finditer(r"```python[^\n]*\n(.*?)```", text, re.DOTALL)]


def rewrite_imports(code: str) -> str:
    """``spikingjelly`` / ``tonic`` / ``norse`` imports -> ``spikestream.compat``."""
    names = "|".join(PEERS)
    code = re.sub(rf"^(\s*)import ({names})\s*$", r"\1import spikestream.compat.\2 as \2", code,
                  flags=re.MULTILINE)  # fmt: skip
    code = re.sub(rf"^(\s*)from ({names})\b", r"\1from spikestream.compat.\2", code,
                  flags=re.MULTILINE)  # fmt: skip
    for line in code.splitlines():  # nothing may still reach for a peer library
        assert not re.match(rf"\s*(from|import) ({names})\b", line), line
    return code


def substitute(code: str, edits: list[tuple[str, str, str]]) -> str:
    for old, new, reason in edits:
        assert old in code, f"the seed no longer contains {old!r} ({reason})"
        code = code.replace(old, new)
    return code


def run(code: str, ns: dict[str, Any], name: str) -> tuple[str, Any]:
    """Execute ``code`` in ``ns``; returns (stdout, value of a final bare expression), as a
    notebook cell shows it."""
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    value = None
    with contextlib.redirect_stdout(out):
        exec(compile(tree, name, "exec"), ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), name, "eval"), ns)
    return out.getvalue(), value


# ------------------------------------------------------------------------ miniature data


def _write_npz(path: Path, t, x, y, p) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, t=np.asarray(t, np.int64), x=np.asarray(x, np.int64),
             y=np.asarray(y, np.int64), p=np.asarray(p, np.int64))  # fmt: skip


def _edges(output: str, field: str) -> tuple[list[int], list[int]]:
    """The first and last three values the tutorial printed for ``field``."""
    m = re.search(rf"\b{field} \[([\d ]+) \.\.\. ([\d ]+)\]", output)
    assert m, f"the tutorial's printed sample has no {field} line"
    return [int(v) for v in m.group(1).split()], [int(v) for v in m.group(2).split()]


@pytest.fixture(scope="module")
def gesture_root(tmp_path_factory):
    """A DVS128 Gesture root holding only SpikingJelly's ``events_np`` tree (no archive):
    train sample 0 carries the first and last values the datasets tutorial prints, samples 0-4
    last as long as the tutorial's fixed-duration output says (6, 6, 5, 5, 7 frames of 1 s),
    and 501 train samples in all, so that ``train_set[500]`` exists."""
    text = require(SEEDS / "spikingjelly_neuromorphic_datasets_tutorial.rst").read_text()
    printed = text[text.index("t [80048267") : text.index("label 0") + 7]
    durations = [int(v) for v in re.findall(r"x\[\d\]\.shape=\[T, C, H, W\]=\((\d+),", text)]
    assert len(durations) == 5
    root = tmp_path_factory.mktemp("sj") / "DVS128Gesture"
    rng = np.random.default_rng(17)
    train = root / "events_np" / "train"
    n = 2000  # > 1000: numpy prints the first and last three values
    fields = {}
    for field in "txyp":
        head, tail = _edges(printed, field)
        middle = (np.linspace(head[-1], tail[0], n - 6).astype(np.int64) if field == "t"
                  else rng.integers(0, 2 if field == "p" else 128, n - 6))  # fmt: skip
        fields[field] = np.concatenate([head, middle, tail])
    span = int(fields["t"][-1] - fields["t"][0])
    assert -(-span // 1_000_000) == durations[0]  # the printed sample lasts its printed frames
    _write_npz(train / "0" / "user01_fluorescent_0.npz", *(fields[k] for k in "txyp"))
    for k, frames in enumerate(durations[1:], start=1):
        t = np.sort(rng.integers(0, int((frames - 0.5) * 1e6), 60))
        t[0], t[-1] = 0, int((frames - 0.5) * 1e6)
        _write_npz(train / "0" / f"user01_fluorescent_{k}.npz", t, rng.integers(0, 128, 60),
                   rng.integers(0, 128, 60), rng.integers(0, 2, 60))  # fmt: skip
    for k in range(496):  # tiny samples in the other ten classes
        t = np.sort(rng.integers(0, 400_000, 12))
        _write_npz(train / str(1 + k % 10) / f"user{2 + k // 10:02d}_led_{k}.npz", t,
                   rng.integers(0, 128, 12), rng.integers(0, 128, 12),
                   rng.integers(0, 2, 12))  # fmt: skip
    _write_npz(root / "events_np" / "test" / "0" / "user24_lab_0.npz", [0, 5, 9], [1, 2, 3],
               [4, 5, 6], [0, 1, 1])  # fmt: skip
    return root


@pytest.fixture
def dvsg_root(tmp_path):
    """A DVS128 Gesture ``events_np`` tree of two train samples (the two training steps) and
    one test sample; skips naming the DVS Gesture tutorial's own seed when it is missing."""
    require(SEEDS / "spikingjelly_classify_dvs128_gesture_tutorial.rst")
    root = tmp_path / "DVS128Gesture"
    rng = np.random.default_rng(19)
    for split, label, k in (("train", 0, 0), ("train", 3, 1), ("test", 0, 2)):
        n = 2000
        _write_npz(root / "events_np" / split / str(label) / f"user01_led_{k}.npz",
                   np.sort(rng.integers(0, 2_000_000, n)), rng.integers(0, 128, n),
                   rng.integers(0, 128, n), rng.integers(0, 2, n))  # fmt: skip
    return root


@pytest.fixture(scope="module")
def poker_root(tmp_path_factory):
    """POKER-DVS in Tonic's layout (``POKERDVS/pips_{train,test}/<symbol>/*.npy``, rows
    ``t, x, y, p``): each symbol's events in its own quadrant, about 5 ms per recording."""
    save_to = tmp_path_factory.mktemp("tonic") / "data"
    rng = np.random.default_rng(23)
    for split, count in (("pips_train", 2), ("pips_test", 1)):
        for label, symbol in enumerate(("cl", "he", "di", "sp")):
            for k in range(count):
                n = 400
                t = np.sort(rng.integers(0, 5_000, n))
                x = rng.integers(0, 17, n) + 18 * (label % 2)
                y = rng.integers(0, 17, n) + 18 * (label // 2)
                rows = np.stack([t, x, y, rng.integers(0, 2, n)], axis=1).astype(np.int64)
                folder = save_to / "POKERDVS" / split / symbol
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{symbol}{k}.npy", rows)
    return save_to


# ------------------------------------------------- SpikingJelly: neuromorphic datasets

#: The datasets tutorial's code blocks with their line breaks and indentation (the seed file
#: lost them); each is checked against the seed at test time.
DATASETS_LAYOUT = [
    """\
from spikingjelly.datasets import CIFAR10DVS
from spikingjelly.datasets import DVS128Gesture
print('CIFAR10-DVS downloadable', CIFAR10DVS.downloadable())
print('resource, url, md5/n', CIFAR10DVS.resource_url_md5())
print('DVS128Gesture downloadable', DVS128Gesture.downloadable())
print('resource, url, md5/n', DVS128Gesture.resource_url_md5())""",
    """\
from spikingjelly.datasets import DVS128Gesture
root_dir = 'D:/datasets/DVS128Gesture'
train_set = DVS128Gesture(root_dir, train=True, data_type='event')""",
    """\
event, label = train_set[0]
for k in event.keys():
    print(k, event[k])
print('label', label)""",
    """\
train_set = DVS128Gesture(root_dir, train=True, data_type='frame', frames_number=20,
                          split_by='number')""",
    """\
frame, label = train_set[0]
print(frame.shape)""",
    """\
from spikingjelly.datasets.utils import play_frame
frame, label = train_set[500]
play_frame(frame)""",
    r"""
import torch
from torch.utils.data import DataLoader
from spikingjelly.datasets.utils import pad_sequence_collate, padded_sequence_mask
from spikingjelly.datasets import DVS128Gesture
root='D:/datasets/DVS128Gesture'
train_set = DVS128Gesture(root, data_type='frame', duration=1000000, train=True)
for i in range(5):
    x, y = train_set[i]
    print(f'x[{i}].shape=[T, C, H, W]={x.shape}')
train_data_loader = DataLoader(train_set, collate_fn=pad_sequence_collate, batch_size=5)
for x, y, x_len in train_data_loader:
    print(f'x.shape=[N, T, C, H, W]={tuple(x.shape)}')
    print(f'x_len={x_len}')
    mask = padded_sequence_mask(x_len)  # mask.shape = [T, N]
    print(f'mask=\n{mask.t().int()}')
    break""",
    """\
from spikingjelly.datasets.utils import integrate_events_segment_to_frame
def integrate_events_to_2_frames_randomly(events: Dict, H: int, W: int):
    index_split = np.random.randint(low=0, high=len(events['t']))
    frames = np.zeros([2, 2, H, W])
    t, x, y, p = (events[key] for key in ('t', 'x', 'y', 'p'))
    frames[0] = integrate_events_segment_to_frame(x, y, p, H, W, 0, index_split)
    frames[1] = integrate_events_segment_to_frame(x, y, p, H, W, index_split,
                                                  len(events['t']))
    return frames""",
    """\
train_set = DVS128Gesture(root_dir, train=True, data_type='frame',
                          custom_integrate_function=integrate_events_to_2_frames_randomly)""",
    """\
from spikingjelly.datasets.utils import play_frame
frame, label = train_set[500]
play_frame(frame)""",
]

#: The datasets tutorial's blocks 7 uses numpy and typing.Dict without importing them.
DATASETS_PREAMBLE = "import numpy as np\nfrom typing import Dict\n"


def _bracketed(text: str, start: int) -> str:
    """The balanced ``[...]`` literal that starts at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError("unbalanced brackets")


def _resource_lists(text: str) -> list[Any]:
    return [ast.literal_eval(_bracketed(text, m.end())) for m in
            re.finditer(r"resource, url, md5(?:/n)? (?=\[)", text)]  # fmt: skip


def test_spikingjelly_neuromorphic_datasets_tutorial(gesture_root, tmp_path):
    Image = pytest.importorskip(
        "PIL.Image", reason="Pillow (comes with the viz extra): pip install -e '.[viz]'"
    )
    seed = require(SEEDS / "spikingjelly_neuromorphic_datasets_tutorial.rst").read_text()
    parts = seed.split(".. code:: python")[1:]
    assert len(parts) == len(DATASETS_LAYOUT)
    outputs = []
    for layout, part in zip(DATASETS_LAYOUT, parts, strict=True):
        assert collapse(part).startswith(collapse(layout) + " "), layout  # the seed's code
        after = part.split(".. code:: bash", 1)
        outputs.append(collapse(after[1]) if len(after) == 2 else "")
    root = str(gesture_root)
    gifs = [tmp_path / "dvsg.gif", tmp_path / "dvsg2.gif"]
    substitutions = {
        5: [("play_frame(frame)", f"play_frame(frame, save_gif_to={str(gifs[0])!r})",
             "play_frame without save_gif_to shows the frames in a window until it is closed "
             "(SpikingJelly loops forever too): a test saves the GIF instead")],
        9: [("play_frame(frame)", f"play_frame(frame, save_gif_to={str(gifs[1])!r})",
             "as block 5")],
    }  # fmt: skip
    ns: dict[str, Any] = {}
    run(DATASETS_PREAMBLE, ns, "preamble")
    printed = []
    for k, layout in enumerate(DATASETS_LAYOUT):
        code = rewrite_imports(layout).replace("'D:/datasets/DVS128Gesture'", repr(root))
        stdout, _ = run(substitute(code, substitutions.get(k, [])), ns, f"<datasets tutorial {k}>")
        printed.append(collapse(stdout))

    # block 0: SpikingJelly's download facts, as the tutorial prints them
    assert (
        "CIFAR10-DVS downloadable True" in printed[0]
        and "CIFAR10-DVS downloadable True" in (outputs[0])
    )
    assert "DVS128Gesture downloadable False" in printed[0]
    assert "DVS128Gesture downloadable False" in outputs[0]
    ours, theirs = _resource_lists(printed[0]), _resource_lists(outputs[0])
    assert [[tuple(r) for r in lst] for lst in ours] == theirs and len(theirs[0]) == 10
    # block 2: the event sample and its label, printed exactly as in the tutorial
    assert outputs[2].startswith(printed[2]) and printed[2].endswith("label 0")
    assert list(ns["event"].keys()) == ["t", "x", "y", "p"]
    # block 4: frames by number
    assert printed[4] == outputs[4].split(" Let us")[0] == "(20, 2, 128, 128)"
    assert ns["frame"].dtype == np.float32
    # block 5: play_frame wrote the 20 frames of sample 500
    with Image.open(gifs[0]) as gif:
        assert gif.n_frames == 20 and gif.size == (128, 128)
    # block 6: fixed-duration frames, padding and mask, printed exactly as in the tutorial
    expected = outputs[6][outputs[6].index("x[0].shape") :]
    assert expected.startswith(printed[6]) and printed[6].endswith("dtype=torch.int32)")
    # blocks 7-9: the custom integration, its frames kept under the function's name
    assert ns["frame"].shape == (2, 2, 128, 128) and ns["frame"].sum() == 12
    assert (gesture_root / "integrate_events_to_2_frames_randomly").is_dir()
    with Image.open(gifs[1]) as gif:
        assert gif.n_frames == 2


# ------------------------------------------------- SpikingJelly: classify DVS128 Gesture

#: The imports of the complete script the tutorial links to
#: (``spikingjelly.clock_driven.examples.classify_dvsg``), which its blocks leave out.
DVSG_PREAMBLE = """\
import argparse
import os
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.cuda import amp
from spikingjelly.clock_driven import functional, surrogate, layer, neuron
"""

DVSG_SUBSTITUTIONS = {
    3: [("import cupy\n", "", "CuPy is not needed: backend='cupy' runs spikestream's fused "
         "kernel (numba on the CPU, Triton on CUDA)")],
}  # fmt: skip


def _train_steps(ns: dict[str, Any], block: str, net: torch.nn.Module) -> torch.Tensor:
    ns["net"] = net
    ns["optimizer"] = torch.optim.Adam(net.parameters(), lr=ns["args"].lr)
    before = [p.detach().clone() for p in net.parameters()]
    run(block, ns, "<dvsg training loop>")
    changed = [not torch.equal(a, p) for a, p in zip(before, net.parameters(), strict=True)]
    # the gradient reaches the first conv; only the output layer may stay put (on 2 tiny
    # samples the spikes feeding it can all be 0, and so its gradient)
    assert changed[0] and sum(changed) >= len(changed) - 1
    return ns["out_fr"]


def test_spikingjelly_classify_dvsg_tutorial(dvsg_root, tmp_path):
    from torch.utils.data import DataLoader, Subset

    from spikestream.compat.spikingjelly.datasets import DVS128Gesture

    seed = require(SEEDS / "spikingjelly_classify_dvs128_gesture_tutorial.rst").read_text()
    blocks = [rewrite_imports(substitute(b, DVSG_SUBSTITUTIONS.get(k, [])))
              for k, b in enumerate(rst_blocks(seed, "python"))]  # fmt: skip
    assert len(blocks) == 8
    ns: dict[str, Any] = {}
    run(rewrite_imports(DVSG_PREAMBLE), ns, "<dvsg imports>")
    run(blocks[5], ns, "<dvsg arguments>")
    # the tutorial's own knobs, small: T=2, batch 1, 8 channels (the input stays 128x128)
    ns["args"] = ns["parser"].parse_args(
        ["-T", "2", "-device", "cpu", "-b", "1", "-epochs", "1", "-channels", "8",
         "-data_dir", str(dvsg_root), "-out_dir", str(tmp_path), "-opt", "Adam"]
    )  # fmt: skip
    args = ns["args"]
    train_set = DVS128Gesture(args.data_dir, train=True, data_type="frame",
                              frames_number=args.T, split_by="number")  # fmt: skip
    torch.manual_seed(0)
    ns["train_data_loader"] = DataLoader(Subset(train_set, range(2)), batch_size=args.b,
                                         shuffle=True)  # two steps  # fmt: skip

    # the step-by-step network: its forward is shown apart from the class
    run(blocks[0], ns, "<dvsg PythonNet>")
    run(blocks[1], ns, "<dvsg PythonNet.forward>")
    ns["PythonNet"].forward = ns["forward"]
    python_net = ns["PythonNet"](args.channels)
    out = _train_steps(ns, blocks[2], python_net)
    assert out.shape == (1, 11) and torch.isfinite(ns["loss"]) and 0 <= ns["loss"].item() <= 1
    # firing rates: votes of 10 neurons averaged over T=2 steps, multiples of 0.05
    assert torch.equal((out * 20).round(), out * 20) and ((out >= 0) & (out <= 1)).all()
    assert all(n.v == 0.0 for n in python_net.modules() if hasattr(n, "v_threshold"))  # reset

    # the AMP block (args.amp is False on a CPU: its full-precision branch), one more step
    run(blocks[6], ns, "<dvsg amp>")
    assert torch.isfinite(ns["loss"])

    # the layer-by-layer network with MultiStepLIFNode(backend='cupy')
    run(blocks[3], ns, "<dvsg CextNet>")
    run(blocks[4], ns, "<dvsg CextNet.forward>")
    ns["CextNet"].forward = ns["forward"]
    cext_net = ns["CextNet"](args.channels)
    out = _train_steps(ns, blocks[2], cext_net)
    assert out.shape == (1, 11) and torch.isfinite(ns["loss"])
    # the tutorial's point: both nets are one model; with the same weights (the containers
    # only rename the keys) they give the same output
    keys = cext_net.state_dict().keys()
    cext_net.load_state_dict(dict(zip(keys, python_net.state_dict().values(), strict=True)))
    python_net.eval()
    cext_net.eval()
    # dense counts (golden E's input statistics): the sparse tiny samples leave a fresh net
    # silent in eval mode
    counts = np.random.default_rng(502).poisson(0.6, (1, args.T, 2, 128, 128))
    x = torch.from_numpy(np.minimum(counts, 7).astype(np.float32))
    first: dict[str, list[torch.Tensor]] = {"python": [], "cext": []}
    python_net.conv[2].register_forward_hook(lambda m, i, o: first["python"].append(o))
    cext_net.conv[1].register_forward_hook(lambda m, i, o: first["cext"].append(o))
    with torch.no_grad():
        ns["functional"].reset_net(python_net)
        ns["functional"].reset_net(cext_net)
        a, b = python_net(x), cext_net(x)
    spikes_a, spikes_b = torch.stack(first["python"]), first["cext"][0]
    assert spikes_a.shape == spikes_b.shape == (args.T, 1, args.channels, 128, 128)
    assert spikes_a.sum() > 100  # the first LIF layer fires
    # a conv summed in another order (batch N vs T*N) may flip a near-threshold spike
    assert (spikes_a != spikes_b).float().mean() < 1e-3
    assert torch.allclose(a, b, atol=0.051)

    # checkpoint and resume
    ns.update(net=python_net, start_epoch=0, max_test_acc=0.25, out_dir=args.out_dir,
              optimizer=torch.optim.Adam(python_net.parameters(), lr=args.lr))  # fmt: skip
    ns["lr_scheduler"] = torch.optim.lr_scheduler.CosineAnnealingLR(ns["optimizer"], args.T_max)
    run(blocks[7], ns, "<dvsg checkpoint>")
    saved = torch.load(tmp_path / "checkpoint_latest.pth", map_location="cpu")
    assert set(saved) == {"net", "optimizer", "lr_scheduler", "epoch", "max_test_acc"}
    assert saved["epoch"] == 0 and saved["max_test_acc"] == 0.25
    args.resume = str(tmp_path / "checkpoint_latest.pth")
    fresh = ns["PythonNet"](args.channels)
    ns.update(net=fresh, optimizer=torch.optim.Adam(fresh.parameters(), lr=args.lr))
    ns["lr_scheduler"] = torch.optim.lr_scheduler.CosineAnnealingLR(ns["optimizer"], args.T_max)
    run(blocks[7], ns, "<dvsg resume>")
    assert ns["start_epoch"] == 1 and ns["max_test_acc"] == 0.25
    for k, v in python_net.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


# ---------------------------------------------------------- Norse + Tonic: POKER-DVS

NOTEBOOK_SUBSTITUTIONS = {
    1: [("import torchvision\n", "", "torchvision is not installed here (it would pull another "
         "torch build) and the notebook never uses it")],
    7: [("np.product(", "np.prod(", "np.product was removed in NumPy 2.0")],
    12: [("np.product(", "np.prod(", "np.product was removed in NumPy 2.0")],
    13: [("from tqdm.notebook import", "from tqdm import", "tqdm's notebook widgets need "
          "Jupyter and ipywidgets")],
    15: [("EPOCHS = 10", "EPOCHS = 2", "ten epochs under the notebook's autograd anomaly "
          "detection take about 15 s here; two show the same loop and the loss falling")],
    16: [('.to("cuda")', ".to(DEVICE)", "no CUDA here: the device the notebook chose")],
}  # fmt: skip


def test_norse_tonic_pokerdvs_notebook(poker_root, tmp_path, monkeypatch):
    matplotlib = pytest.importorskip(
        "matplotlib", reason="matplotlib (the viz extra): pip install -e '.[viz]'"
    )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved: list[Path] = []

    def show(*args, **kwargs):  # every plot the notebook shows is written to a file
        path = tmp_path / f"plot_{len(saved)}.png"
        plt.gcf().savefig(path)
        plt.close("all")
        saved.append(path)

    monkeypatch.setattr(plt, "show", show)
    seed = require(SEEDS / "norse_tonic_pokerdvs_notebook.md").read_text()
    cells = [c for c in md_blocks(seed) if c.strip() and not c.lstrip().startswith("!")]
    assert len(cells) == 17  # the two `!pip install` cells are shell commands, not Python
    golden = load_golden("H_norse_rsnn.npz")
    ns: dict[str, Any] = {}
    shown: dict[int, Any] = {}
    torch.manual_seed(0)
    try:
        for k, cell in enumerate(cells):
            code = substitute(cell, NOTEBOOK_SUBSTITUTIONS.get(k, []))
            code = rewrite_imports(code).replace('"./data"', repr(str(poker_root)))
            stdout, shown[k] = run(code, ns, f"<pokerdvs notebook cell {k}>")
            shown[f"out{k}"] = stdout
            if k == 11:  # the notebook's SNN and decoder against Norse 1.1 itself (golden H)
                _check_snn_against_norse(ns, golden)
    finally:
        torch.autograd.set_detect_anomaly(False)  # the notebook switches it on globally

    tonic = ns["tonic"]
    events = shown[2]
    assert events.dtype == tonic.datasets.POKERDVS.dtype and events.dtype.names == tuple("txyp")
    assert ns["sensor_size"] == (35, 35, 2) and len(events) == 400
    assert shown[4] == 0  # the first training sample's target ('cl')
    longest = max(len(ns["trainset"][i][0]) for i in range(len(ns["trainset"])))
    assert tuple(shown[7]) == (longest, 1, 2, 35, 35) and longest >= 4
    assert isinstance(shown[12], ns["Model"]) and "LIFRecurrentCell" in repr(shown[12])
    assert len(ns["mean_losses"]) == 2 and len(ns["accuracies"]) == 2
    assert ns["mean_losses"][-1] < ns["mean_losses"][0]  # it learns the four quadrants
    accuracy = ns["accuracies"][-1]
    assert shown["out15"].strip() == f"final accuracy: {accuracy}" and 25 <= accuracy <= 100
    # plot_event_grid, the example voltages, v and i, the trained voltages: five figures
    assert len(saved) == 5 and all(p.stat().st_size > 1000 for p in saved)


def _check_snn_against_norse(ns: dict[str, Any], golden: Any) -> None:
    """The notebook's ``SNN`` class, built from the compat names with golden H's weights, gives
    Norse 1.1's per-step spikes, readout voltages and (with its ``decode``) log-probabilities
    and loss on golden H's input."""
    snn = ns["SNN"](2450, 100, 4, tau_syn_inv=torch.tensor(1 / 1e-2),
                    tau_mem_inv=torch.tensor(1 / 1e-2), record=True, dt=1e-3)  # fmt: skip
    snn.load_state_dict({k: torch.from_numpy(golden[f"sd/{k}"]) for k in snn.state_dict()})
    with torch.no_grad():
        voltages = snn(torch.from_numpy(golden["x"]))
    assert torch.equal(snn.recording.lif0.z, torch.from_numpy(golden["hidden_z"]))
    np.testing.assert_allclose(voltages.detach().numpy(), golden["voltages"], atol=1e-6)
    np.testing.assert_allclose(snn.recording.readout.v.numpy(), golden["readout_v"], atol=1e-6)
    log_p_y = ns["decode"](voltages)
    np.testing.assert_allclose(log_p_y.detach().numpy(), golden["log_p_y"], atol=1e-6)
    loss = torch.nn.functional.nll_loss(log_p_y, torch.from_numpy(golden["label"]))
    assert abs(loss.item() - float(golden["loss"])) < 1e-6
