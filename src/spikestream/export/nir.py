"""NIR export and import of spiking networks (`export_nir`, `save_nir`, `import_nir`).

A NIR graph describes **one time step** of a network. `export_nir` walks the model's modules in
registration order (``nn.Sequential`` and `SeqToANNContainer` in their order; any other
container through its children in the order they were assigned) and maps each known layer to
NIR nodes. A model whose forward applies its layers in another order than it registers them, or
pools through a functional call, states its order with a ``nir_layers()`` method returning
``[(path, module), ...]`` in the order one step applies them, which the walk then takes instead
(`CSNN` lists its convolutions, norms and neurons in forward order, with ``nn.MaxPool2d``
stand-ins for its functional max pooling). The export then **checks** the graph: the graph is
imported back (`import_nir`) and run beside the model, both in float64, on random inputs; an
export whose network does not reproduce the model's ``forward`` raises `ConfigError`, so a
forward that does something the walk cannot see is refused, never exported as another
function. Models take ``[N, T, *input_shape]``. What is exported is the model in eval mode
(batch-norm running statistics, dropout off).

What each layer becomes, and what is preserved
----------------------------------------------

* ``Conv2d`` -> ``nir.Conv2d``; ``Linear`` -> ``nir.Affine`` (``nir.Linear`` without bias).
  A ``Linear`` (or recurrent cell) fed a multi-dimensional map gets a ``nir.Flatten`` first
  (the model flattens in its forward; the check confirms it).
* ``BatchNorm2d`` right after a ``Conv2d`` is folded into the convolution's weight and bias
  with its running statistics (eval semantics): exact in real arithmetic; in float32 the
  convolution output moves by rounding only (~1e-7 relative), so a membrane within about 1e-6
  of threshold can flip. A batch norm anywhere else is refused (NIR has no batch-norm node).
* Dropout and ``Identity`` are dropped (the identity in eval mode; NIR has no dropout node).
* ``AvgPool2d`` -> ``nir.AvgPool2d`` (no padding, ``ceil_mode`` or ``divisor_override``).
* ``MaxPool2d``: NIR has no max pooling, so it is **refused** unless ``max_pool="spikes"``: on
  binary spikes max = OR = ``nir.SumPool2d`` followed by ``nir.Threshold(0)`` (strict ``>``),
  exact; allowed only where the pool's input comes straight from a spiking neuron (no padding,
  dilation or ``ceil_mode``). Only some consumers import ``Threshold`` (Spyx, spikestream).
* ``VotingLayer(v)`` -> ``nir.Linear`` with the fixed averaging matrix (entries float32(1/v));
  spikestream's importer recognises the matrix and rebuilds the voting layer exactly, other
  consumers compute the same average up to float rounding.
* SpikingJelly-style ``LIFNode`` / ``ParametricLIFNode`` (hard reset) -> ``nir.LIF`` with
  ``tau = tau_sj * dt``, ``r = 1`` (``decay_input=True``) or ``r = tau_sj`` (``False``),
  ``v_leak = v_reset``: NIR's forward-Euler step with step ``dt`` is then SpikingJelly's charge
  equation (PLIF: ``tau_sj = 1 / sigmoid(w)``). ``IFNode`` -> ``nir.IF`` with ``r = 1 / dt``.
  **Spike condition:** SpikingJelly fires on ``h >= v_th``, NIR on ``v > v_threshold``; the
  export writes ``v_threshold = nextafter(v_th, -inf)`` in float32, so a consumer computing in
  float32 fires exactly when SpikingJelly does (and the importer inverts it).
  **Soft reset** (``v_reset=None``) is **refused**: NIR resets only to ``v_reset``.
  ``detach_reset`` and the surrogate act on gradients only and are not exported.
* Norse-semantics cells (`spikestream.snn.norse`): ``LIFCell`` -> ``nir.CubaLIF``,
  ``LICell`` -> ``nir.CubaLI`` (its output is the voltage), ``LIFRecurrentCell`` ->
  ``Linear(W_in) -> CubaLIF`` with a ``Linear(W_rec)`` edge from the neuron back to itself
  (a cycle: the previous step's spikes). Parameters: ``tau_mem = dt / (dt_cell * tau_mem_inv)``,
  ``tau_syn`` likewise, ``r = 1``, ``w_in = tau_syn / dt`` (Norse adds its input to the current
  unscaled each step, which NIR's Euler step ``I += dt / tau_syn * (w_in S - I)`` does with this
  ``w_in``; the current is updated before the voltage). Norse's strict ``v > v_th`` is NIR's.

The readout over time (the model's ``[N, classes]`` from its per-step outputs: ``mean``,
``sum``, ``max``, ``last``, ``log_softmax_max``) is outside NIR; it is found by the check (or
given) and written to the graph's metadata (``readout``) with ``dt`` (seconds, the unit of every
``tau``); `import_nir` applies it. Node metadata ``spikestream`` holds each neuron's exact
spikestream parameters (``tau``, PLIF's ``w``, Norse's inverse time constants); `import_nir`
uses them only when they agree with the NIR parameters, so a spikestream -> NIR -> spikestream
round trip is bit-exact and an edited graph is imported from its NIR parameters. Every neuron
starts from ``v_reset`` (SpikingJelly) or ``v_leak`` (Norse) with zero current.

`import_nir` reads graphs with these node types and parameterisations (from this exporter or
another with the same semantics: SpikingJelly 2.0's LIF and IF mapping, Norse's CubaLIF with
``w_in = tau_syn / dt``); anything else is a `ConfigError` naming the node.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from ..snn.layer import MultiStepDropout, VotingLayer
from ..snn.neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode
from ..snn.norse import (
    LICell,
    LIFCell,
    LIFParameters,
    LIFRecurrentCell,
    LIFRecurrentState,
    LIFState,
    LIParameters,
    LIState,
    li_step,
    lif_step,
)

INSTALL_HINT = "pip install 'spikestream[export]'"
READOUTS = ("mean", "sum", "max", "last", "log_softmax_max", "none")
MAX_POOL_OPTIONS = ("refuse", "spikes")
DEFAULT_DT = 1e-4  # seconds: SpikingJelly's and snnTorch's NIR default


def _nir() -> Any:
    try:
        import nir
    except ImportError:
        raise ConfigError(f"NIR export needs the nir package: {INSTALL_HINT}") from None
    return nir


# ------------------------------------------------------------------------------ float helpers


def _f32(value: float) -> float:
    return float(np.float32(value))


def _ge_to_gt(threshold: float) -> float:
    """The float32 threshold for ``v > t`` that fires exactly where ``h >= threshold`` does."""
    return float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))


def _gt_to_ge(threshold: float) -> float:
    return float(np.nextafter(np.float32(threshold), np.float32(np.inf)))


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-30)


def _full(shape: Sequence[int], value: float, dtype: Any = np.float64) -> np.ndarray:
    return np.full(tuple(shape), value, dtype=dtype)


def _uniform(node_name: str, field: str, values: Any) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ConfigError(f"NIR node {node_name!r}: {field} is empty")
    first = float(arr.reshape(-1)[0])
    if not np.all(arr == first):
        raise ConfigError(
            f"NIR node {node_name!r}: {field} differs between neurons; spikestream's neurons "
            "take one value per layer (re-export with uniform parameters)"
        )
    return first


def _pair(value: Any) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return (int(arr[0]), int(arr[-1])) if arr.size <= 2 else (int(arr[0]), int(arr[1]))


# ------------------------------------------------------------------------------ the walk

_SKIPPED = (nn.Dropout, MultiStepDropout, nn.Identity)
_LEAVES = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.Linear,
    nn.Flatten,
    VotingLayer,
    BaseNode,
    LIFRecurrentCell,
    LIFCell,
    LICell,
    *_SKIPPED,
)


def _model_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's layers in the order one step applies them: its ``nir_layers()`` when it
    declares them (forward order differs from registration order), else the module walk."""
    declared = getattr(model, "nir_layers", None)
    if not callable(declared):
        return _walk(model)
    out: list[tuple[str, nn.Module]] = []
    for path, module in declared():
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"{type(model).__name__}.nir_layers() gives {type(module).__name__} at "
                f"{path!r}; it must give (path, nn.Module) pairs"
            )
        out.extend(_walk(module, path))
    return out


def _walk(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    if isinstance(module, _LEAVES):
        return [(prefix or type(module).__name__.lower(), module)]
    children = list(module.named_children())
    if not children:
        raise ConfigError(
            f"cannot export {type(module).__name__} at {prefix or 'the model'!r} to NIR: no NIR "
            "node expresses it (exportable: Conv2d, BatchNorm2d after a Conv2d, AvgPool2d, "
            "MaxPool2d with max_pool='spikes', Linear, Flatten, Dropout, VotingLayer, IF/LIF/"
            "PLIF neurons with hard reset, Norse LIFCell/LIFRecurrentCell/LICell)"
        )
    out: list[tuple[str, nn.Module]] = []
    for name, child in children:
        out.extend(_walk(child, f"{prefix}.{name}" if prefix else name))
    return out


def _node_name(path: str, taken: set[str]) -> str:
    # node names double as module names in some importers (nirtorch): no dots
    base = path.replace(".", "_") or "node"
    name, k = base, 1
    while name in taken or name in ("input", "output"):
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _is_spiking(module: nn.Module) -> bool:
    return isinstance(module, (BaseNode, LIFCell, LIFRecurrentCell))


class _Builder:
    """Accumulates NIR nodes and edges along the chain, tracking the per-sample shape."""

    def __init__(self, nir: Any, input_shape: tuple[int, ...], dt: float, max_pool: str):
        self.nir = nir
        self.dt = dt
        self.max_pool = max_pool
        self.nodes: dict[str, Any] = {
            "input": nir.Input(input_type={"input": np.array(input_shape)})
        }
        self.edges: list[tuple[str, str]] = []
        self.taken: set[str] = set()
        self.last = "input"
        self.shape = tuple(input_shape)
        self.last_spiking = False  # the chain's value is binary spikes

    def add(self, path: str, node: Any, shape: tuple[int, ...], spiking: bool = False) -> str:
        name = _node_name(path, self.taken)
        self.nodes[name] = node
        self.edges.append((self.last, name))
        self.last, self.shape, self.last_spiking = name, shape, spiking
        return name

    def flatten_to_vector(self, path: str) -> None:
        if len(self.shape) > 1:
            n = int(np.prod(self.shape))
            node = self.nir.Flatten(
                input_type={"input": np.array(self.shape)}, start_dim=0, end_dim=-1
            )
            self.add(f"{path}.flatten", node, (n,))

    def neuron_metadata(self, **values: Any) -> dict[str, Any]:
        return {"spikestream": {k: v for k, v in values.items() if v is not None}}


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d, path: str) -> tuple[np.ndarray, np.ndarray]:
    if bn.num_features != conv.out_channels:
        # registration order paired them, but the forward does not (norms registered apart
        # from their convolutions): the model must declare its order
        raise ConfigError(
            f"the BatchNorm2d after Conv2d {path!r} has {bn.num_features} features, the "
            f"convolution gives {conv.out_channels}: the model registers its layers in another "
            "order than its forward applies them; give it a nir_layers() method listing them "
            "in forward order (see spikestream.export.nir)"
        )
    if not bn.track_running_stats or bn.running_mean is None or bn.running_var is None:
        raise ConfigError(
            f"BatchNorm2d at {path!r} keeps no running statistics (track_running_stats=False): "
            "it normalises by batch statistics, which a NIR graph cannot express"
        )
    w = conv.weight.detach().cpu().double()
    b = (
        conv.bias.detach().cpu().double()
        if conv.bias is not None
        else torch.zeros(w.shape[0]).double()
    )
    mean, var = bn.running_mean.cpu().double(), bn.running_var.cpu().double()
    gamma = bn.weight.detach().cpu().double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().cpu().double() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    weight = (w * scale[:, None, None, None]).float().numpy()
    bias = ((b - mean) * scale + beta).float().numpy()
    return weight, bias


def _conv_node(nir: Any, conv: nn.Conv2d, shape: tuple[int, ...], path: str,
               bn: nn.BatchNorm2d | None) -> Any:  # fmt: skip
    if conv.padding_mode != "zeros":
        raise ConfigError(f"Conv2d at {path!r}: padding_mode {conv.padding_mode!r} has no NIR form")
    if bn is not None:
        weight, bias = _fold_bn(conv, bn, path)
    else:
        weight = conv.weight.detach().cpu().float().numpy().copy()
        bias = (
            conv.bias.detach().cpu().float().numpy().copy()
            if conv.bias is not None
            else np.zeros(weight.shape[0], np.float32)
        )
    padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
    return nir.Conv2d(
        input_shape=tuple(int(s) for s in shape[1:]),
        weight=weight,
        stride=_pair(conv.stride),
        padding=padding,
        dilation=_pair(conv.dilation),
        groups=int(conv.groups),
        bias=bias,
    )


def _out_shape(module: nn.Module, shape: tuple[int, ...], path: str) -> tuple[int, ...]:
    param = next(module.parameters(), None)
    device = param.device if param is not None else None
    try:
        with torch.no_grad():
            return tuple(module(torch.zeros((1, *shape), device=device)).shape[1:])
    except RuntimeError as exc:  # the walk's order is not the forward's, or a wrong input_shape
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"{type(module).__name__} at {path!r} does not take the previous layer's output "
            f"{shape} ({reason}): check input_shape, or, if the model applies its layers in "
            "another order than it registers them, give it a nir_layers() method"
        ) from None


def _neuron_nodes(b: _Builder, path: str, node: BaseNode) -> None:
    nir = b.nir
    if not isinstance(node, (IFNode, LIFNode, ParametricLIFNode)):
        raise ConfigError(f"cannot export neuron {type(node).__name__} at {path!r} to NIR")
    if node.v_reset is None:
        raise ConfigError(
            f"{type(node).__name__} at {path!r} uses a soft (subtractive) reset, which NIR cannot "
            "express (it resets to v_reset only); use v_reset=0.0 (hard reset) to export"
        )
    shape, dt = b.shape, b.dt
    vr, vth = float(node.v_reset), _ge_to_gt(node.v_threshold)
    if isinstance(node, IFNode):
        nir_node = nir.IF(
            r=_full(shape, 1.0 / dt),
            v_threshold=_full(shape, vth),
            v_reset=_full(shape, vr),
            metadata=b.neuron_metadata(neuron="IFNode"),
        )
    else:
        if isinstance(node, ParametricLIFNode):
            w = float(node.w.detach().reshape(-1)[0])
            if node.w.numel() != 1:
                raise ConfigError(f"ParametricLIFNode at {path!r}: w must be one value")
            tau = 1.0 / (1.0 / (1.0 + np.exp(-w)))
            meta = b.neuron_metadata(neuron="ParametricLIFNode", w=w)
        else:
            assert isinstance(node, LIFNode)
            tau = float(node.tau)
            meta = b.neuron_metadata(neuron="LIFNode", tau=tau)
        nir_node = nir.LIF(
            tau=_full(shape, tau * dt),
            r=_full(shape, 1.0 if node.decay_input else tau),
            v_leak=_full(shape, vr),
            v_threshold=_full(shape, vth),
            v_reset=_full(shape, vr),
            metadata=meta,
        )
    b.add(path, nir_node, shape, spiking=True)


def _norse_taus(b: _Builder, p: Any, cell_dt: float) -> tuple[float, float]:
    # keep the discrete decays dt_cell * tau_inv of the cell whatever the graph's dt
    a_mem = float(cell_dt) * float(p.tau_mem_inv)
    a_syn = float(cell_dt) * float(p.tau_syn_inv)
    return b.dt / a_mem, b.dt / a_syn


def _norse_nodes(b: _Builder, path: str, cell: Any) -> None:
    nir = b.nir
    p = cell.p
    tau_mem, tau_syn = _norse_taus(b, p, cell.dt)
    meta = b.neuron_metadata(
        neuron=type(cell).__name__,
        tau_mem_inv=float(p.tau_mem_inv),
        tau_syn_inv=float(p.tau_syn_inv),
        dt=float(cell.dt),
    )
    if isinstance(cell, LIFRecurrentCell):
        b.flatten_to_vector(path)
        w_in = cell.input_weights.detach().cpu().float().numpy().copy()
        if w_in.shape[1] != b.shape[0]:
            raise ConfigError(
                f"LIFRecurrentCell at {path!r} takes {w_in.shape[1]} inputs, gets {b.shape[0]}"
            )
        b.add(f"{path}.input_weights", nir.Linear(weight=w_in), (w_in.shape[0],))
    shape = b.shape
    common = dict(
        tau_syn=_full(shape, tau_syn),
        tau_mem=_full(shape, tau_mem),
        r=_full(shape, 1.0),
        v_leak=_full(shape, float(p.v_leak)),
        w_in=_full(shape, tau_syn / b.dt),
        metadata=meta,
    )
    if isinstance(cell, LICell):
        b.add(path, nir.CubaLI(**common), shape)
        return
    if p.method != "super":
        raise ConfigError(f"{type(cell).__name__} at {path!r}: unknown method {p.method!r}")
    node = nir.CubaLIF(
        v_threshold=_full(shape, float(p.v_th)), v_reset=_full(shape, float(p.v_reset)), **common
    )
    name = b.add(path, node, shape, spiking=True)
    if isinstance(cell, LIFRecurrentCell):
        w_rec = cell.recurrent_weights.detach().cpu().float().numpy().copy()
        rec = _node_name(f"{path}.recurrent_weights", b.taken)
        b.nodes[rec] = nir.Linear(weight=w_rec)
        b.edges += [(name, rec), (rec, name)]


def _build(model: nn.Module, input_shape: tuple[int, ...], dt: float, max_pool: str) -> _Builder:
    b = _Builder(_nir(), input_shape, dt, max_pool)
    nir = b.nir
    layers = _model_layers(model)
    i = 0
    while i < len(layers):
        path, m = layers[i]
        i += 1
        if isinstance(m, _SKIPPED):
            continue  # eval-mode identity; spikes stay binary through it
        if isinstance(m, nn.Conv2d):
            if len(b.shape) != 3:
                raise ConfigError(f"Conv2d at {path!r} needs a [C, H, W] input, gets {b.shape}")
            bn = None
            follower = layers[i][1] if i < len(layers) else None
            if isinstance(follower, nn.BatchNorm2d):
                bn = follower
                i += 1
            b.add(path, _conv_node(nir, m, b.shape, path, bn), _out_shape(m, b.shape, path))
        elif isinstance(m, nn.BatchNorm2d):
            raise ConfigError(
                f"BatchNorm2d at {path!r} does not follow a Conv2d: NIR has no batch-norm node, "
                "and only a batch norm right after a convolution folds into it exactly"
            )
        elif isinstance(m, nn.Linear):
            b.flatten_to_vector(path)
            weight = m.weight.detach().cpu().float().numpy().copy()
            if m.bias is None:
                node = nir.Linear(weight=weight)
            else:
                node = nir.Affine(weight=weight, bias=m.bias.detach().cpu().float().numpy().copy())
            b.add(path, node, (weight.shape[0],))
        elif isinstance(m, nn.Flatten):
            start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
            end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
            if m.start_dim == 0 or m.end_dim == 0:
                raise ConfigError(f"Flatten at {path!r} flattens the batch axis")
            node = nir.Flatten(
                input_type={"input": np.array(b.shape)}, start_dim=start, end_dim=end
            )
            b.add(path, node, _out_shape(m, b.shape, path))
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or m.divisor_override is not None or _pair(m.padding) != (0, 0):
                raise ConfigError(
                    f"AvgPool2d at {path!r}: NIR's AvgPool2d has no ceil_mode, divisor_override "
                    "or padding; use AvgPool2d without them"
                )
            k, s = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
            node = nir.AvgPool2d(
                kernel_size=np.array(k), stride=np.array(s), padding=np.zeros(2, int)
            )
            b.add(path, node, _out_shape(m, b.shape, path))
        elif isinstance(m, nn.MaxPool2d):
            _max_pool(b, path, m)
        elif isinstance(m, VotingLayer):
            if len(b.shape) != 1 or b.shape[0] % m.voting_size:
                raise ConfigError(
                    f"VotingLayer at {path!r} needs a vector whose size is a multiple of "
                    f"{m.voting_size}, gets {b.shape}"
                )
            b.add(path, nir.Linear(weight=voting_matrix(b.shape[0], m.voting_size)),
                  (b.shape[0] // m.voting_size,))  # fmt: skip
        elif isinstance(m, BaseNode):
            _neuron_nodes(b, path, m)
        elif isinstance(m, (LIFCell, LIFRecurrentCell, LICell)):
            _norse_nodes(b, path, m)
        else:  # pragma: no cover - _walk only yields the types above
            raise ConfigError(f"cannot export {type(m).__name__} at {path!r}")
    return b


def _max_pool(b: _Builder, path: str, m: nn.MaxPool2d) -> None:
    if b.max_pool != "spikes":
        raise ConfigError(
            f"MaxPool2d at {path!r}: NIR has no max pooling. On binary spikes max pooling equals "
            "a sum pool followed by a threshold at 0, exported with max_pool='spikes' "
            "(CLI --max-pool spikes); only consumers that read nir.Threshold run it"
        )
    if not b.last_spiking:
        raise ConfigError(
            f"MaxPool2d at {path!r} does not pool spikes straight from a neuron: "
            "max_pool='spikes' is exact only on binary spikes"
        )
    if m.ceil_mode or _pair(m.padding) != (0, 0) or _pair(m.dilation) != (1, 1):
        raise ConfigError(f"MaxPool2d at {path!r}: padding, dilation or ceil_mode has no NIR form")
    k, s = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
    shape = _out_shape(m, b.shape, path)
    pool = b.nir.SumPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.zeros(2, int))
    b.add(f"{path}.sum", pool, shape)
    b.add(f"{path}.any", b.nir.Threshold(threshold=_full(shape, 0.0)), shape, spiking=True)


def voting_matrix(n_in: int, voting_size: int) -> np.ndarray:
    """The fixed map of `VotingLayer`: averages of consecutive groups of ``voting_size``."""
    groups = n_in // voting_size
    block = np.full((1, voting_size), np.float32(1.0 / voting_size), np.float32)
    return np.kron(np.eye(groups, dtype=np.float32), block)


# ------------------------------------------------------------------------------ export


def export_nir(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    dt: float | None = None,
    max_pool: str = "refuse",
    readout: str | None = None,
    check: bool = True,
) -> Any:
    """The NIR graph (`nir.NIRGraph`) of one time step of ``model``.

    ``input_shape``: one sample at one step, e.g. ``(2, 128, 128)`` (default: the model's
    ``input_shape`` attribute). ``dt``: the step in seconds that NIR's continuous time
    constants refer to (default: the Norse cells' own ``dt``, else 1e-4 as SpikingJelly and
    snnTorch). ``max_pool``: ``"refuse"`` (default) or ``"spikes"`` (see the module doc).
    ``readout``: how the model turns per-step outputs into its output (``mean``, ``sum``,
    ``max``, ``last``, ``log_softmax_max``, ``none``); default: the model's ``readout``
    attribute, else identified by the check. ``check=True`` (default) imports the graph back
    and compares it with the model in float64 on random inputs, raising `ConfigError` if they
    differ; ``check=False`` needs an explicit ``readout``.
    """
    nir = _nir()
    shape = _input_shape(model, input_shape)
    if max_pool not in MAX_POOL_OPTIONS:
        raise ConfigError(f"max_pool must be one of {MAX_POOL_OPTIONS}, got {max_pool!r}")
    readout = readout if readout is not None else _declared_readout(model)
    if readout is not None and readout not in READOUTS:
        raise ConfigError(f"readout must be one of {READOUTS}, got {readout!r}")
    step = _resolve_dt(model, dt)
    b = _build(model, shape, step, max_pool)
    b.nodes["output"] = nir.Output(output_type={"output": np.array(b.shape)})
    b.edges.append((b.last, "output"))
    from .. import __version__

    metadata: dict[str, Any] = {
        "dt": step,
        "time_unit": "s",
        "exporter": f"spikestream {__version__}",
        "input_layout": "[N, T, *input_shape]",
    }
    if readout is None and not check:
        raise ConfigError("check=False needs an explicit readout= (the check identifies it)")
    metadata["readout"] = readout or "none"
    graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=metadata, type_check=True)
    if check:
        metadata["readout"] = _check(model, graph, shape, readout, max_pool)
    return graph


def _input_shape(model: nn.Module, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    cfg: Any = getattr(model, "config", None)
    if shape is None and hasattr(cfg, "in_channels") and hasattr(cfg, "input_size"):
        shape = (cfg.in_channels, *cfg.input_size)  # PLIFNet's config
    if shape is None:
        raise ConfigError(
            "export needs the input shape of one sample at one step, e.g. input_shape=(2, 128, "
            "128) (CLI --input-shape 2,128,128)"
        )
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"input_shape must be a sequence of ints, got {shape!r}") from None
    if not out or min(out) < 1:
        raise ConfigError(f"input_shape must be positive sizes, got {out}")
    return out


def _declared_readout(model: nn.Module) -> str | None:
    value = getattr(model, "readout", None)
    return value if isinstance(value, str) and value in READOUTS else None


def _resolve_dt(model: nn.Module, dt: float | None) -> float:
    if dt is not None:
        if not (dt > 0 and np.isfinite(dt)):
            raise ConfigError(f"dt must be a positive number of seconds, got {dt}")
        return float(dt)
    cell_dts = {
        float(m.dt) for m in model.modules() if isinstance(m, (LIFCell, LICell, LIFRecurrentCell))
    }
    if len(cell_dts) == 1:
        return cell_dts.pop()
    return DEFAULT_DT


def save_nir(graph_or_model: Any, path: str | os.PathLike[str], **export_options: Any) -> Any:
    """Write a NIR graph (or the export of a model, with `export_nir`'s options) to ``path``
    (HDF5, usually ``.nir``), atomically; returns the graph."""
    nir = _nir()
    graph = graph_or_model
    if isinstance(graph_or_model, nn.Module):
        graph = export_nir(graph_or_model, **export_options)
    elif export_options:
        raise ConfigError("export options apply to a model, not to a graph")
    from ..files import atomic_file

    with atomic_file(path, "w+b") as tmp:  # h5py reads back what it writes
        nir.write(tmp, graph)
    return graph


# ------------------------------------------------------------------------------ readouts


def apply_readout(readout: str, steps: torch.Tensor) -> torch.Tensor:
    """``[T, N, ...]`` per-step outputs -> the model's output under ``readout``."""
    if readout == "mean":
        return steps.mean(0)
    if readout == "sum":
        return steps.sum(0)
    if readout == "max":
        return steps.max(0).values
    if readout == "last":
        return steps[-1]
    if readout == "log_softmax_max":
        return F.log_softmax(steps.max(0).values, dim=1)
    if readout == "none":
        return steps.transpose(0, 1)
    raise ConfigError(f"unknown readout {readout!r}; known: {READOUTS}")


def _check(model: nn.Module, graph: Any, shape: tuple[int, ...], readout: str | None,
           max_pool: str) -> str:  # fmt: skip
    """Run the model and the imported graph side by side in float64; return the readout."""
    found = _compare(model, graph, shape, readout)
    if found is not None:
        return found
    # Silent on every check input (an untrained network with fresh batch-norm statistics, say):
    # the walk and the mapping do not depend on parameter values, so check a copy whose
    # SpikingJelly-style neurons fire at 1 % of their threshold; equal outputs there prove the
    # same structure and identify the readout.
    active = copy.deepcopy(model)
    lowered = False
    for m in active.modules():
        if isinstance(m, BaseNode) and m.v_reset is not None and m.v_threshold > m.v_reset:
            m.v_threshold = m.v_reset + 0.01 * (m.v_threshold - m.v_reset)
            lowered = True
    if lowered:
        b = _build(active, shape, float(graph.metadata["dt"]), max_pool)
        nir = b.nir
        b.nodes["output"] = nir.Output(output_type={"output": np.array(b.shape)})
        b.edges.append((b.last, "output"))
        twin = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=dict(graph.metadata))
        found = _compare(active, twin, shape, readout)
        if found is not None:
            return found
    if readout:
        return readout
    raise ConfigError(
        "the network stayed silent on the check inputs, so its readout over time cannot be "
        "identified; pass readout=... (CLI --readout)"
    )


def _compare(
    model: nn.Module, graph: Any, shape: tuple[int, ...], readout: str | None
) -> str | None:
    """The readout under which the graph reproduces the model (None: silent, undecided)."""
    ref = copy.deepcopy(model).cpu().double().eval()
    net = import_nir(graph).double()
    gen = torch.Generator().manual_seed(1234)
    candidates = [readout] if readout else ["mean", "log_softmax_max", "sum", "max", "last", "none"]
    seen_signal = False
    for amplitude in (1.0, 4.0, 16.0):
        x = (torch.rand((1, 3, *shape), generator=gen) < 0.3).double() * amplitude
        with torch.no_grad():
            _reset(ref)
            want = ref(x)
            steps = net.forward_steps(x)
        if not isinstance(want, torch.Tensor):
            raise ConfigError(
                "the model's forward does not return one tensor; export needs [N, ...] scores"
            )
        kept = []
        for name in candidates:
            got = apply_readout(name, steps)
            if got.shape == want.shape and torch.allclose(got, want, rtol=1e-9, atol=1e-12):
                kept.append(name)
        if not kept:
            raise ConfigError(
                "the exported NIR graph does not reproduce the model's forward "
                f"(readout {readout or 'any of ' + ', '.join(candidates)}; output "
                f"{tuple(want.shape)}, graph per-step {tuple(steps.shape)}): the forward does "
                "something the module walk cannot see (layers applied out of registration order, "
                "functional calls, another readout); nothing was exported"
            )
        candidates = kept
        seen_signal = seen_signal or bool(torch.count_nonzero(steps))
        if seen_signal and len(candidates) == 1:
            return candidates[0]
    return None


def _reset(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (BaseNode, MultiStepDropout)):
            m.reset()


# ------------------------------------------------------------------------------ import


class _SumPool2d(nn.Module):
    def __init__(self, kernel_size: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # divisor 1: the sum itself (exact for spike counts)
        return F.avg_pool2d(x, self.kernel_size, self.stride, divisor_override=1)


class _Threshold(nn.Module):
    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)


class _Stage:
    """One node of the imported network: its module, predecessors, and kind of state."""

    def __init__(self, name: str, module: nn.Module | None, inputs: list[str], kind: str):
        self.name, self.module, self.inputs, self.kind = name, module, inputs, kind


class NIRNetwork(nn.Module):
    """A spikestream network imported from a NIR graph: ``forward(x [N, T, ...])`` ->
    the graph's readout (metadata ``readout``) over its per-step outputs;
    ``forward_steps(x)`` -> ``[T, N, ...]``; ``init_state(batch)`` / ``step(x_t, state)`` run
    one step with explicit state, equal to the multi-step forward."""

    def __init__(self, stages: list[_Stage], modules: dict[str, nn.Module], output: str,
                 shapes: dict[str, tuple[int, ...]], readout: str, input_shape: tuple[int, ...],
                 dt: float):  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleDict(modules)
        self._stages = stages
        self._output = output
        self._shapes = shapes
        self.readout = readout
        self.input_shape = input_shape
        self.dt = dt
        # resting potentials (v_reset for SpikingJelly neurons, v_leak for Norse cells), read
        # once here so that init_state makes no .item() call (a graph break under compile)
        self._rest: dict[str, float] = {}
        for name, m in modules.items():
            if isinstance(m, BaseNode):
                self._rest[name] = 0.0 if m.v_reset is None else float(m.v_reset)
            elif isinstance(m, (LIFRecurrentCell, LIFCell, LICell)):
                self._rest[name] = float(m.p.v_leak)

    # -- state
    def init_state(self, batch: int) -> dict[str, Any]:
        """Every stateful node's state at the start of a sample (on the parameters' device)."""
        state: dict[str, Any] = {}
        p = next(self.parameters(), None)
        kw: dict[str, Any] = {
            "dtype": p.dtype if p is not None else torch.float32,
            "device": p.device if p is not None else None,
        }
        for st in self._stages:
            if st.name not in self._rest:
                continue
            shape = (batch, *self._shapes[st.name])
            v = torch.full(shape, self._rest[st.name], **kw)
            m = self.layers[st.name]
            if isinstance(m, BaseNode):
                state[st.name] = v
            elif isinstance(m, LIFRecurrentCell):
                state[st.name] = LIFRecurrentState(torch.zeros(shape, **kw), v,
                                                   torch.zeros(shape, **kw))  # fmt: skip
            elif isinstance(m, LIFCell):
                state[st.name] = LIFState(v, torch.zeros(shape, **kw))
            else:
                state[st.name] = LIState(v, torch.zeros(shape, **kw))
        return state

    def _run(self, x_seq: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        values: dict[str, torch.Tensor] = {}
        new_state: dict[str, Any] = {}
        steps, batch = x_seq.shape[:2]
        for st in self._stages:
            if st.kind == "input":
                values[st.name] = x_seq
                continue
            xs = [values[i] for i in st.inputs]
            x = xs[0]
            for other in xs[1:]:
                x = x + other
            m = self.layers[st.name] if st.name in self.layers else None
            if st.kind == "identity" or m is None:
                y = x
            elif st.kind == "stateless":
                # time merged into the batch, as SeqToANNContainer does
                y = m(x.flatten(0, 1)).unflatten(0, (steps, batch))
            elif isinstance(m, BaseNode):
                y, _, new_state[st.name] = m.run_steps(x, state[st.name])
            else:
                y, new_state[st.name] = self._cell_loop(m, x, state[st.name])
            values[st.name] = y
        return values[self._output], new_state

    @staticmethod
    def _cell_loop(m: Any, x: torch.Tensor, s: Any) -> tuple[torch.Tensor, Any]:
        outs = []
        for t in range(x.shape[0]):
            if isinstance(m, LIFRecurrentCell):
                z, s = m(x[t], s)
            elif isinstance(m, LIFCell):
                z, s = lif_step(x[t], s, m.p, m.dt)
            else:
                z, s = li_step(x[t], s, m.p, m.dt)
            outs.append(z)
        return torch.stack(outs), s

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, T, *input_shape]`` -> per-step outputs ``[T, N, ...]`` from a fresh state."""
        self._check_input(x, 2)
        out, _ = self._run(x.transpose(0, 1), self.init_state(x.shape[0]))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_readout(self.readout, self.forward_steps(x))

    def step(self, x_t: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        """One time step: ``x_t [N, *input_shape]`` -> (per-step output ``[N, ...]``, state)."""
        self._check_input(x_t, 1)
        out, new = self._run(x_t.unsqueeze(0), state)
        return out[0], new

    def _check_input(self, x: torch.Tensor, lead: int) -> None:
        if tuple(x.shape[lead:]) != self.input_shape:
            layout = "[N, T, *input_shape]" if lead == 2 else "[N, *input_shape]"
            raise ConfigError(
                f"input of shape {tuple(x.shape)} does not match {layout} with input_shape "
                f"{self.input_shape}"
            )


def import_nir(
    graph_or_path: Any, *, dt: float | None = None, readout: str | None = None
) -> NIRNetwork:
    """A spikestream network (`NIRNetwork`) computing the NIR graph (a `nir.NIRGraph` or a file
    path). ``dt`` (seconds) defaults to the graph's metadata ``dt`` (required if absent);
    ``readout`` to its metadata ``readout`` (else ``none``: ``[N, T, ...]`` per-step outputs)."""
    nir = _nir()
    graph = graph_or_path
    if isinstance(graph_or_path, (str, os.PathLike)):
        if not os.path.exists(graph_or_path):
            from ..errors import MissingFileError

            raise MissingFileError(graph_or_path)
        graph = nir.read(graph_or_path)
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"import_nir takes a nir.NIRGraph or a path, got {type(graph).__name__}")
    meta = dict(graph.metadata or {})
    step = dt if dt is not None else meta.get("dt")
    if step is None:
        raise ConfigError("the NIR graph carries no dt in its metadata: pass dt= (seconds)")
    step = float(np.asarray(step))
    ro = readout or str(meta.get("readout", "none"))
    if ro not in READOUTS:
        raise ConfigError(f"unknown readout {ro!r}; known: {READOUTS}")
    return _Importer(nir, graph, step).network(ro)


class _Importer:
    def __init__(self, nir: Any, graph: Any, dt: float):
        self.nir, self.graph, self.dt = nir, graph, dt
        self.nodes: dict[str, Any] = dict(graph.nodes)
        self.edges: list[tuple[str, str]] = [(str(a), str(b)) for a, b in graph.edges]

    def preds(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def succs(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

    def network(self, readout: str) -> NIRNetwork:
        nir = self.nir
        inputs = [n for n, v in self.nodes.items() if isinstance(v, nir.Input)]
        outputs = [n for n, v in self.nodes.items() if isinstance(v, nir.Output)]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ConfigError(
                f"import_nir needs one Input and one Output node, got {len(inputs)} and "
                f"{len(outputs)}"
            )
        modules: dict[str, nn.Module] = {}
        recurrent = self._fuse_recurrent(modules)
        order = self._topological(inputs[0])
        stages, shapes = [], {}
        for name in order:
            node = self.nodes[name]
            shapes[name] = tuple(int(s) for s in np.asarray(next(iter(node.output_type.values()))))
            if name == inputs[0]:
                stages.append(_Stage(name, None, [], "input"))
                continue
            kind = "stateful" if name in recurrent else self._module(name, node, modules)
            stages.append(_Stage(name, None, self.preds(name), kind))
        input_shape = tuple(int(s) for s in np.asarray(self.nodes[inputs[0]].input_type["input"]))
        return NIRNetwork(stages, modules, outputs[0], shapes, readout, input_shape, self.dt)

    # -- recurrent cells: CubaLIF <- Linear(W_in) and CubaLIF -> Linear(W_rec) -> CubaLIF
    def _fuse_recurrent(self, modules: dict[str, nn.Module]) -> set[str]:
        fused: set[str] = set()
        for name, node in list(self.nodes.items()):
            if not isinstance(node, self.nir.CubaLIF):
                continue
            loops = [
                p for p in self.preds(name)
                if isinstance(self.nodes[p], self.nir.Linear) and self.preds(p) == [name]
            ]  # fmt: skip
            if not loops:
                continue
            others = [p for p in self.preds(name) if p not in loops]
            if (
                len(loops) != 1
                or len(others) != 1
                or not isinstance(self.nodes[others[0]], self.nir.Linear)
                or len(self.succs(others[0])) != 1
            ):
                raise ConfigError(
                    f"NIR node {name!r}: a recurrent CubaLIF is imported only as input Linear -> "
                    "CubaLIF with one Linear from the neuron back to itself"
                )
            w_in_name, w_rec_name = others[0], loops[0]
            p, dt = self._norse_params(name, node, spiking=True)
            w_in = torch.as_tensor(np.asarray(self.nodes[w_in_name].weight, np.float32))
            w_rec = torch.as_tensor(np.asarray(self.nodes[w_rec_name].weight, np.float32))
            cell = LIFRecurrentCell(
                w_in.shape[1], w_in.shape[0], p=p, dt=dt,
                autapses=bool(torch.any(torch.diagonal(w_rec) != 0)),
                input_weights=nn.Parameter(w_in.clone()),
                recurrent_weights=nn.Parameter(w_rec.clone()),
            )  # fmt: skip
            modules[name] = cell
            # the fused cell takes the input Linear's input; the loop becomes its state
            self.edges = [e for e in self.edges if w_rec_name not in e and e != (w_in_name, name)]
            self.edges = [(a, name) if b == w_in_name else (a, b) for a, b in self.edges]
            del self.nodes[w_in_name], self.nodes[w_rec_name]
            fused.add(name)
        return fused

    def _topological(self, start: str) -> list[str]:
        indeg = {n: 0 for n in self.nodes}
        for _, b in self.edges:
            indeg[b] += 1
        ready = [n for n, d in indeg.items() if d == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s in self.succs(n):
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        if len(order) != len(self.nodes):
            cyc = sorted(n for n in self.nodes if n not in order)
            raise ConfigError(
                f"the NIR graph has a cycle spikestream cannot import (nodes {cyc}): only a "
                "recurrent CubaLIF through one Linear is supported"
            )
        if order[0] != start:
            loose = [n for n in order if indeg.get(n) == 0 and not self.preds(n) and n != start]
            if loose:
                raise ConfigError(f"NIR nodes without input: {loose}")
        return order

    def _module(self, name: str, node: Any, modules: dict[str, nn.Module]) -> str:
        nir = self.nir
        if isinstance(node, (nir.Input, nir.Output)) or type(node).__name__ == "Identity":
            return "identity"
        if isinstance(node, nir.Conv2d):
            modules[name] = self._conv(name, node)
            return "stateless"
        if isinstance(node, (nir.Affine, nir.Linear)):
            modules[name] = self._linear(node)
            return "stateless"
        if isinstance(node, nir.Flatten):
            start = int(node.start_dim)
            end = int(node.end_dim)
            modules[name] = nn.Flatten(
                start + 1 if start >= 0 else start, end + 1 if end >= 0 else end
            )
            return "stateless"
        if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            if _pair(node.padding) != (0, 0):
                raise ConfigError(f"NIR node {name!r}: pooling with padding is not supported")
            k, s = _pair(node.kernel_size), _pair(node.stride)
            modules[name] = (
                nn.AvgPool2d(k, s) if isinstance(node, nir.AvgPool2d) else _SumPool2d(k, s)
            )
            return "stateless"
        if isinstance(node, nir.Threshold):
            modules[name] = _Threshold(_uniform(name, "threshold", node.threshold))
            return "stateless"
        if isinstance(node, (nir.LIF, nir.IF)):
            modules[name] = self._sj_neuron(name, node)
            return "stateful"
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            spiking = isinstance(node, nir.CubaLIF)
            p, dt = self._norse_params(name, node, spiking)
            modules[name] = LIFCell(p, dt) if spiking else LICell(p, dt)
            return "stateful"
        raise ConfigError(
            f"NIR node {name!r} of type {type(node).__name__} is not supported by import_nir "
            "(supported: Input, Output, Conv2d, Affine, Linear, Flatten, AvgPool2d, SumPool2d, "
            "Threshold, IF, LIF, CubaLIF, CubaLI)"
        )

    def _conv(self, name: str, node: Any) -> nn.Conv2d:
        w = torch.as_tensor(np.asarray(node.weight, np.float32))
        padding = node.padding if isinstance(node.padding, str) else _pair(node.padding)
        conv = nn.Conv2d(
            w.shape[1] * int(node.groups), w.shape[0], (int(w.shape[2]), int(w.shape[3])),
            stride=_pair(node.stride), padding=padding, dilation=_pair(node.dilation),
            groups=int(node.groups), bias=node.bias is not None,
        )  # fmt: skip
        with torch.no_grad():
            conv.weight.copy_(w)
            if conv.bias is not None:
                conv.bias.copy_(torch.as_tensor(np.asarray(node.bias, np.float32)))
        return conv

    def _linear(self, node: Any) -> nn.Module:
        w = np.asarray(node.weight, np.float32)
        bias = getattr(node, "bias", None)
        if bias is None and w.ndim == 2 and w.shape[0] and w.shape[1] % w.shape[0] == 0:
            v = w.shape[1] // w.shape[0]
            if np.array_equal(w, voting_matrix(w.shape[1], v)):
                return VotingLayer(v)
        lin = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w))
            if bias is not None:
                lin.bias.copy_(torch.as_tensor(np.asarray(bias, np.float32)))
        return lin

    def _meta(self, node: Any) -> dict[str, Any]:
        meta = (getattr(node, "metadata", None) or {}).get("spikestream", {})
        return {
            k: (v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v)
            for k, v in meta.items()
        }

    def _sj_neuron(self, name: str, node: Any) -> BaseNode:
        dt = self.dt
        vth = _gt_to_ge(_uniform(name, "v_threshold", node.v_threshold))
        vr = _uniform(name, "v_reset", node.v_reset)
        r = _uniform(name, "r", node.r)
        if isinstance(node, self.nir.IF):
            if not _close(r * dt, 1.0):
                raise ConfigError(
                    f"NIR IF {name!r}: r*dt = {r * dt} (spikestream's IF needs r = 1/dt)"
                )
            return IFNode(v_threshold=vth, v_reset=vr, step_mode="m")
        tau = _uniform(name, "tau", node.tau) / dt
        if _uniform(name, "v_leak", node.v_leak) != vr:
            raise ConfigError(
                f"NIR LIF {name!r}: v_leak differs from v_reset (SpikingJelly's LIF has "
                "v_leak = v_reset)"
            )
        if _close(r, 1.0):
            decay_input = True
        elif _close(r, tau):
            decay_input = False
        else:
            raise ConfigError(f"NIR LIF {name!r}: r = {r} is neither 1 nor tau/dt = {tau}")
        meta = self._meta(node)
        kw = dict(decay_input=decay_input, v_threshold=vth, v_reset=vr, step_mode="m")
        if meta.get("neuron") == "ParametricLIFNode" and "w" in meta:
            w = float(meta["w"])
            if _close(1.0 + np.exp(-w), tau):
                plif = ParametricLIFNode(init_tau=2.0, **kw)  # type: ignore[arg-type]
                with torch.no_grad():
                    plif.w.fill_(w)
                return plif
        if meta.get("neuron") == "LIFNode" and _close(float(meta.get("tau", 0.0)), tau):
            tau = float(meta["tau"])  # the exact value (tau*dt/dt may be off by an ulp)
        if tau <= 1:
            raise ConfigError(f"NIR LIF {name!r}: tau/dt = {tau} must be > 1 for a discrete LIF")
        return LIFNode(tau=tau, **kw)  # type: ignore[arg-type]

    def _norse_params(self, name: str, node: Any, spiking: bool) -> tuple[Any, float]:
        dt = self.dt
        tau_mem = _uniform(name, "tau_mem", node.tau_mem)
        tau_syn = _uniform(name, "tau_syn", node.tau_syn)
        r = _uniform(name, "r", node.r)
        w_in = _uniform(name, "w_in", node.w_in)
        if not (_close(r, 1.0) and _close(w_in * dt / tau_syn, 1.0)):
            raise ConfigError(
                f"NIR {type(node).__name__} {name!r}: r = {r}, w_in = {w_in}; spikestream's "
                "current-based cells (Norse semantics) need r = 1 and w_in = tau_syn / dt"
            )
        meta = self._meta(node)
        cell_dt = dt
        mem_inv, syn_inv = 1.0 / tau_mem, 1.0 / tau_syn
        if "tau_mem_inv" in meta and "dt" in meta:
            # exact values when they describe the same discrete decays
            m_dt = float(meta["dt"])
            if _close(m_dt * float(meta["tau_mem_inv"]), dt / tau_mem) and _close(
                m_dt * float(meta["tau_syn_inv"]), dt / tau_syn
            ):
                cell_dt, mem_inv, syn_inv = (
                    m_dt,
                    float(meta["tau_mem_inv"]),
                    float(meta["tau_syn_inv"]),
                )
        v_leak = torch.as_tensor(_uniform(name, "v_leak", node.v_leak), dtype=torch.float32)
        if not spiking:
            return LIParameters(torch.as_tensor(syn_inv), torch.as_tensor(mem_inv), v_leak), cell_dt
        p = LIFParameters(
            tau_syn_inv=torch.as_tensor(syn_inv),
            tau_mem_inv=torch.as_tensor(mem_inv),
            v_leak=v_leak,
            v_th=torch.as_tensor(
                _uniform(name, "v_threshold", node.v_threshold), dtype=torch.float32
            ),
            v_reset=torch.as_tensor(_uniform(name, "v_reset", node.v_reset), dtype=torch.float32),
        )
        return p, cell_dt


__all__ = ["NIRNetwork", "apply_readout", "export_nir", "import_nir", "save_nir", "voting_matrix"]
