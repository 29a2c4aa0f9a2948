"""Neuron traces: record what a model's spiking neurons do, step by step, and plot it.

``with record_neurons(model) as rec: model(x)`` records, for one sample of the batch and at most
``max_neurons`` neurons per layer (`neuron_indices`: an even stride through the layer's
flattened features, so a convolutional layer is sampled across its channels and positions;
every neuron when the layer has no more than ``max_neurons``):

* SpikingJelly-style neurons (`spikestream.snn.IFNode`, `LIFNode`, `ParametricLIFNode`, and the
  same neurons run fused inside `spikestream.models.PLIFNet`): the input ``x``, the charged
  potential ``h`` (before firing: it crosses ``v_threshold`` where a spike is fired), the
  potential ``v`` after the reset (SpikingJelly's ``v_seq``) and the ``spikes``;
* Norse-style cells (`spikestream.snn.norse.LIFCell`, `LIFRecurrentCell`, `LICell`) and the
  fused recurrent layer of `spikestream.models.RecurrentSNN` (``l1`` and its readout ``out``):
  the membrane ``v`` (after the reset), the synaptic current ``i`` and the spikes ``z`` (none
  for a leaky integrator).

How: every run of a SpikingJelly-style neuron's kernel (its forward, or a model's fused loop:
PLIFNet, CSNN) goes through `BaseNode.run_steps` / `run_steps_pool2x2`, which call the node's
``step_observer`` when it is set; the recorder sets it on the model's neuron layers while the
block runs (other models, in this thread or another, are untouched; a neuron fused with the
pool after it runs as the two ops while observed, the same values). The charged potential is
recomputed from the recorded input and previous potential with the kernels' own `charge` (one
equation in one place), or handed over by the plain-loop neurons of `snn.neuron_more`. Norse
cells are hooked with forward hooks, and RecurrentSNN's fused run is wrapped on the instance.
Nothing is changed once the block exits, or when setting up fails part-way; one model is
recorded by one block at a time (a nested block on it, or a node with a ``step_observer`` of
its own, is a `ConfigError`). Memory is bounded: ``max_steps`` steps per layer are kept, later
steps are counted in `NeuronTrace.dropped_steps`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..snn import kernels
from ..snn.neuron import BaseNode, NeuronSteps, StepObserver
from ..snn.neuron_more import KIND_NAMES
from ..snn.norse import LICell, LIFCell, LIFRecurrentCell

FIELDS = ("x", "h", "v", "i", "spikes")


def neuron_indices(n: int, most: int) -> np.ndarray:
    """Which of a layer's ``n`` neurons (flattened, per sample) are recorded: all when
    ``n <= most``, else ``most`` at an even stride ``n // most`` from neuron 0."""
    stride = max(1, n // most)
    return np.arange(min(n, most), dtype=np.int64) * stride


@dataclass
class NeuronTrace:
    """One neuron layer's recorded steps: each field ``[T, K]`` float32 for the recorded sample
    and ``K`` of its ``n_neurons`` neurons (column ``j`` is neuron ``indices[j]`` of the
    flattened layer), or None where the neuron has no such quantity."""

    name: str
    kind: str
    v_threshold: float | None
    n_neurons: int = 0
    dropped_steps: int = 0
    _max_neurons: int = 128
    _parts: dict[str, list[np.ndarray]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    _steps: int = 0

    def _add(self, max_steps: int, **parts: torch.Tensor | None) -> None:
        given = {k: v for k, v in parts.items() if v is not None}
        steps = next(iter(given.values())).shape[0]
        keep = max(0, min(steps, max_steps - self._steps))
        self.dropped_steps += steps - keep
        if keep == 0:
            return
        for k, v in given.items():
            self._parts[k].append(v[:keep].detach().to("cpu", torch.float32).numpy().copy())
        self._steps += keep

    def _get(self, name: str) -> np.ndarray | None:
        parts = self._parts[name]
        return np.concatenate(parts) if parts else None

    @property
    def steps(self) -> int:
        return self._steps

    @property
    def indices(self) -> np.ndarray:
        """The recorded neurons' indices in the flattened layer (`neuron_indices`)."""
        return neuron_indices(self.n_neurons, self._max_neurons)

    @property
    def x(self) -> np.ndarray | None:
        """Input per step (SpikingJelly-style neurons)."""
        return self._get("x")

    @property
    def h(self) -> np.ndarray | None:
        """Charged potential before firing (SpikingJelly-style neurons)."""
        return self._get("h")

    @property
    def v(self) -> np.ndarray | None:
        """Membrane potential after the reset."""
        return self._get("v")

    @property
    def i(self) -> np.ndarray | None:
        """Synaptic current (Norse-style cells)."""
        return self._get("i")

    @property
    def spikes(self) -> np.ndarray | None:
        """Spikes (0/1); None for a leaky integrator."""
        return self._get("spikes")

    @property
    def membrane(self) -> np.ndarray:
        """What a membrane plot shows: ``h`` where recorded (it crosses the threshold at each
        spike), else ``v``."""
        h = self.h
        out = h if h is not None else self.v
        if out is None:
            raise ConfigError(f"layer {self.name} recorded no steps")
        return out


class NeuronRecorder:
    """The traces of one `record_neurons` block, by layer name (model order)."""

    def __init__(self, sample: int, max_neurons: int, max_steps: int):
        self.sample = sample
        self.max_neurons = max_neurons
        self.max_steps = max_steps
        self.traces: dict[str, NeuronTrace] = {}
        # runs of the recorded model from several threads all land here: one step batch at a time
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> NeuronTrace:
        return self.traces[name]

    def __iter__(self) -> Iterator[NeuronTrace]:
        return iter(self.traces.values())

    def __len__(self) -> int:
        return len(self.traces)

    def _pick(self, seq: torch.Tensor, batch_dim: int = 1) -> torch.Tensor:
        """``[T, K]`` of a ``[T, N, ...]`` (or ``[N, T, ...]`` with batch_dim 0) sequence."""
        if seq.dim() < 2:
            raise ConfigError(f"expected a [T, N, ...] sequence, got shape {tuple(seq.shape)}")
        if self.sample >= seq.shape[batch_dim]:
            raise ConfigError(
                f"sample {self.sample} is not in a batch of {seq.shape[batch_dim]}; record "
                f"sample=0..{seq.shape[batch_dim] - 1}"
            )
        one = seq.select(batch_dim, self.sample)  # [T, ...]
        flat = one.reshape(one.shape[0], -1)
        return flat[:, torch.as_tensor(neuron_indices(flat.shape[1], self.max_neurons),
                                       device=flat.device)]  # fmt: skip

    def _add(self, name: str, kind: str, v_threshold: float | None, n: int,
             **parts: torch.Tensor | None) -> None:  # fmt: skip
        """Append one run's ``[T, K]`` parts to layer ``name``'s trace (made on first use)."""
        with self._lock:
            if name not in self.traces:
                self.traces[name] = NeuronTrace(name, kind, v_threshold, n_neurons=n,
                                                _max_neurons=self.max_neurons)  # fmt: skip
            self.traces[name]._add(self.max_steps, **parts)


# -- SpikingJelly-style neurons: the nodes' step observer ----------------------------------------

_lock = threading.Lock()
# modules some record_neurons block is recording now (nesting is refused: one observer a node)
_recording: set[int] = set()


_KIND_NAMES = {kernels.IF: "IF", kernels.LIF: "LIF", kernels.PLIF: "PLIF", **KIND_NAMES}


def _kind(spec: kernels.NeuronSpec) -> str:
    return _KIND_NAMES.get(spec.kind, "?")


def _node_observer(recorder: NeuronRecorder, name: str) -> StepObserver:
    def observe(node: BaseNode, run: NeuronSteps) -> None:
        spec, x_seq, v_seq = run.spec, run.x_seq, run.v_seq
        with torch.no_grad():
            h = run.h  # the plain-loop neurons (snn.neuron_more) hand it over
            if h is None:
                k = run.decay
                if spec.kind == kernels.PLIF:
                    k = torch.sigmoid(torch.as_tensor(k))
                v_prev = torch.cat([run.v0.expand_as(x_seq[0]).unsqueeze(0), v_seq[:-1]])
                h = kernels.charge(spec, v_prev, x_seq, k)  # the charged potential, before firing
            recorder._add(name, _kind(spec), spec.v_threshold, x_seq[0, 0].numel(),
                          x=recorder._pick(x_seq), h=recorder._pick(h),
                          v=recorder._pick(v_seq), spikes=recorder._pick(run.spikes))  # fmt: skip

    return observe


def _observe(node: BaseNode, label: str, observer: StepObserver) -> None:
    if node.step_observer is not None:
        raise ConfigError(
            f"layer {label} already has a step_observer ({node.step_observer!r}); set it to "
            "None before recording its traces"
        )
    node.step_observer = observer


def _unobserve(node: BaseNode) -> None:
    vars(node).pop("step_observer", None)  # back to the class default (None)


def _threshold(value: Any, where: str) -> float:
    """A threshold for the plot's dashed line: a number, or the largest of a tensor's."""
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"{where}: v_th {value!r} is not a number or tensor") from None
    if t.numel() == 0 or not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{where}: v_th {value!r} must hold finite numbers")
    return float(t.max())


# -- Norse cells and RecurrentSNN --------------------------------------------------------------


def _norse_hook(recorder: NeuronRecorder, name: str, module: Any) -> Any:
    spiking = isinstance(module, (LIFCell, LIFRecurrentCell))
    v_th = _threshold(module.p.v_th, name) if spiking else None

    def hook(mod: nn.Module, args: Any, output: Any) -> None:
        out, state = output
        with torch.no_grad():
            # one step of [N, ...]: as a [1, N, ...] sequence
            recorder._add(name, type(mod).__name__, v_th, out[0].numel(),
                          v=recorder._pick(state.v.unsqueeze(0)),
                          i=recorder._pick(state.i.unsqueeze(0)),
                          spikes=recorder._pick(out.unsqueeze(0)) if spiking else None)  # fmt: skip

    return hook


def _rsnn_run(recorder: NeuronRecorder, prefix: str, model: Any) -> Any:
    run = type(model)._run
    v_th = _threshold(model.p.v_th, prefix or type(model).__name__)

    def wrapped(x: torch.Tensor, state: Any) -> Any:
        seqs, final = run(model, x, state)
        z, v, i, v_out, i_out = seqs  # [T, N, .]
        with torch.no_grad():
            recorder._add(
                f"{prefix}l1",
                "LIFRecurrent",
                v_th,
                z.shape[-1],
                v=recorder._pick(v),
                i=recorder._pick(i),
                spikes=recorder._pick(z),
            )
            recorder._add(
                f"{prefix}out",
                "LI",
                None,
                v_out.shape[-1],
                v=recorder._pick(v_out),
                i=recorder._pick(i_out),
            )
        return seqs, final

    return wrapped


@contextlib.contextmanager
def record_neurons(
    model: nn.Module,
    *,
    sample: int = 0,
    max_neurons: int = 128,
    max_steps: int = 10_000,
    layers: list[str] | None = None,
) -> Iterator[NeuronRecorder]:
    """Record the spiking neurons of ``model`` while the block runs (see the module docstring).

    ``sample``: which sample of the batch; ``max_neurons``: neurons kept per layer (see
    `neuron_indices`); ``max_steps``: steps kept per layer; ``layers``: names (as in
    ``model.named_modules()``) to record, default all.

    Example:
        >>> with record_neurons(net) as rec:
        ...     net(frames)
        >>> rec["conv_fc.2"].spikes.shape   # [T, 128]
    """
    from ..models.rsnn import RecurrentSNN

    if sample < 0 or max_neurons < 1 or max_steps < 1:
        raise ConfigError(
            f"record_neurons needs sample >= 0, max_neurons >= 1, max_steps >= 1; got "
            f"{sample}, {max_neurons}, {max_steps}"
        )
    recorder = NeuronRecorder(int(sample), int(max_neurons), int(max_steps))
    named = list(model.named_modules())
    if layers is not None:
        known = {n for n, m in named if isinstance(m, (BaseNode, LIFCell, LIFRecurrentCell,
                                                       LICell, RecurrentSNN))}  # fmt: skip
        if unknown := sorted(set(layers) - known):
            raise ConfigError(f"no neuron layer named {unknown}; neuron layers: {sorted(known)}")
    wanted = (lambda n: True) if layers is None else (lambda n: n in set(layers))
    with contextlib.ExitStack() as stack:
        # each hook is undone by the stack as soon as it is made: an error part-way through
        # (a layer refused below) leaves the model as it was
        for name, module in named:
            if not wanted(name) or not isinstance(
                module, (BaseNode, RecurrentSNN, LIFCell, LIFRecurrentCell, LICell)
            ):
                continue
            label = name or type(module).__name__  # the model itself may be a neuron
            _claim_module(module, label)
            stack.callback(_release_module, module)
            if isinstance(module, BaseNode):
                _observe(module, label, _node_observer(recorder, label))
                stack.callback(_unobserve, module)
            elif isinstance(module, RecurrentSNN):
                module._run = _rsnn_run(recorder, f"{name}." if name else "", module)  # type: ignore[method-assign]
                stack.callback(delattr, module, "_run")
            else:
                handle = module.register_forward_hook(_norse_hook(recorder, label, module))
                stack.callback(handle.remove)
        yield recorder


def _claim_module(module: nn.Module, label: str) -> None:
    with _lock:
        if id(module) in _recording:
            raise ConfigError(
                f"layer {label} is already being recorded by another record_neurons block; "
                "record a model with one block at a time (pass layers=[...] to choose layers)"
            )
        _recording.add(id(module))


def _release_module(module: nn.Module) -> None:
    with _lock:
        _recording.discard(id(module))


# -- plotting ------------------------------------------------------------------------------------


def plot_traces(
    recorder: NeuronRecorder,
    path: str | os.PathLike[str],
    *,
    layers: list[str] | None = None,
    neurons: int = 4,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """One row per layer: the membrane of the ``neurons`` busiest neurons (most spikes, then
    highest potential) with the threshold dashed and spikes marked, the current where the layer
    has one, and a spike raster of every recorded neuron."""
    from .plots import save_figure

    fig = traces_figure(recorder, layers=layers, neurons=neurons, title=title)
    return save_figure(fig, path, dpi)


def traces_figure(
    recorder: NeuronRecorder,
    *,
    layers: list[str] | None = None,
    neurons: int = 4,
    title: str | None = None,
) -> Any:
    """The `plot_traces` figure (a matplotlib `Figure`), not saved."""
    from .plots import figure
    from .render import ON

    names = list(recorder.traces) if layers is None else list(layers)
    if unknown := [n for n in names if n not in recorder.traces]:
        raise ConfigError(f"no trace for {unknown}; recorded: {list(recorder.traces)}")
    traces = [recorder[n] for n in names if recorder[n].steps > 0]
    if not traces:
        raise ConfigError("nothing was recorded: run the model inside the record_neurons block")
    has_current = any(t.i is not None for t in traces)
    cols = 3 if has_current else 2
    fig = figure(4.2 * cols, 2.4 * len(traces) + 0.4)
    axes = fig.subplots(len(traces), cols, squeeze=False)
    colors = [
        (0, 114, 178),
        (213, 94, 0),
        (0, 158, 115),
        (204, 121, 167),
        (230, 159, 0),
        (86, 180, 233),
        (240, 228, 66),
        (0, 0, 0),
    ]  # fmt: skip  (Okabe-Ito)
    for row, trace in zip(axes, traces, strict=True):
        mem = trace.membrane
        spk = trace.spikes
        steps = np.arange(mem.shape[0])
        count = spk.sum(0) if spk is not None else np.zeros(mem.shape[1])
        order = np.lexsort((-mem.max(0), -count))[:neurons]
        ax = row[0]
        for j, n in enumerate(order):
            c = tuple(v / 255 for v in colors[j % len(colors)])
            ax.plot(steps, mem[:, n], color=c, lw=1.2, label=f"neuron {trace.indices[n]}")
            if spk is not None:
                fired = spk[:, n] > 0
                ax.plot(steps[fired], mem[fired, n], "o", color=c, ms=3)
        if trace.v_threshold is not None:
            ax.axhline(trace.v_threshold, color="0.4", ls="--", lw=0.8, label="threshold")
        which = "h (before reset)" if trace.h is not None else "v"
        ax.set_title(f"{trace.name} ({trace.kind}): membrane {which}", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=6, loc="upper right")
        if has_current:
            ax = row[1]
            if trace.i is not None:
                for j, n in enumerate(order):
                    c = tuple(v / 255 for v in colors[j % len(colors)])
                    ax.plot(steps, trace.i[:, n], color=c, lw=1.2)
                ax.set_title(f"{trace.name}: current i", fontsize=9)
            else:
                ax.axis("off")
            ax.set_xlabel("step")
        ax = row[-1]
        if spk is not None:
            t_idx, n_idx = np.nonzero(spk > 0)
            ax.scatter(t_idx, n_idx, s=4, marker="|", color=tuple(v / 255 for v in ON))
            ax.set_xlim(-0.5, mem.shape[0] - 0.5)
            ax.set_ylim(-0.5, mem.shape[1] - 0.5)
            ax.set_title(f"{trace.name}: spikes ({int(spk.sum())})", fontsize=9)
            stride = trace.n_neurons // mem.shape[1]
            ax.set_ylabel(f"neuron (1 in {stride})" if stride > 1 else "neuron")
        else:
            im = ax.imshow(mem.T, aspect="auto", interpolation="nearest", cmap="cividis")
            fig.colorbar(im, ax=ax)
            ax.set_title(f"{trace.name}: membrane, every neuron", fontsize=9)
        ax.set_xlabel("step")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
