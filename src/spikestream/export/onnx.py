"""ONNX export of the event-token models (`export_onnx`) and its check against onnxruntime
(`check_onnx`).

Inputs are the model's positional arguments (tensors, or tuples of tensors such as Event2Vec
v1's ``((x, y, t, p), valid_mask)``); they become flat ONNX inputs named ``input_0``,
``input_1``, ... in order (or ``input_names``). Axis 0 of every input is the dynamic ``batch``
and axis 1 (where there is one) the dynamic ``seq``, so one file serves every batch size and
token count. Give example inputs with batch >= 2 and seq >= 2: exporters fix an axis whose
example size is 0 or 1. A boolean padding mask stays a bool input (pass a bool array to
onnxruntime).

The exporter is torch's dynamo one (``torch.onnx.export(..., dynamo=True)``) when ``onnxscript``
is installed, else the TorchScript one; either way PyTorch's fused "fast path" of
``nn.TransformerEncoder`` (not exportable) is switched off while exporting, the file is
self-contained (no ``.onnx.data``), and the export is then **checked** with onnxruntime against
the model's own outputs (default 1e-5) on the example inputs, on their first sample alone
(batch 1) and on all but their last position (a shorter sequence), so a size the exporter fixed
by mistake is an error, not a silently wrong file.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils import _pytree as pytree

from ..errors import ConfigError

INSTALL_HINT = "pip install 'spikestream[export]'"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"ONNX export needs the {module} package: {INSTALL_HINT}") from None


def _has_onnxscript() -> bool:
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _no_fastpath() -> Iterator[None]:
    # aten::_transformer_encoder_layer_fwd has no ONNX form; the standard path computes the same
    mha = getattr(torch.backends, "mha", None)
    if mha is None or not hasattr(mha, "set_fastpath_enabled"):
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


class _Flat(nn.Module):
    """The model with its (possibly nested) positional inputs as flat tensors."""

    def __init__(self, model: nn.Module, spec: Any):
        super().__init__()
        self.model = model
        self.spec = spec

    def forward(self, *flat: torch.Tensor) -> Any:
        args = pytree.tree_unflatten(list(flat), self.spec)
        return self.model(*args)


def _flatten_inputs(example_inputs: Any) -> tuple[list[torch.Tensor], Any]:
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)):
        raise ConfigError(
            "example_inputs must be a tensor or a tuple of the model's positional inputs"
        )
    flat, spec = pytree.tree_flatten(tuple(example_inputs))
    if not flat or not all(isinstance(t, torch.Tensor) for t in flat):
        raise ConfigError("example_inputs must hold tensors only (nested tuples allowed)")
    return flat, spec


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    example_inputs: Any,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] = ("output",),
    dynamic: bool = True,
    opset: int = 18,
    check: bool = True,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> str:
    """Write ``model`` (in eval mode) as ONNX to ``path``; returns the path.

    ``example_inputs``: the model's positional inputs (a tensor or a tuple; nested tuples of
    tensors are flattened into ONNX inputs in order). ``dynamic``: batch (axis 0) and sequence
    (axis 1) sizes free. ``check``: compare onnxruntime with torch (see the module doc) and
    raise `ConfigError` if they differ by more than ``rtol``/``atol``.
    """
    _require("onnx")
    flat, spec = _flatten_inputs(example_inputs)
    names = (
        list(input_names)
        if input_names is not None
        else _default_names(model, flat, example_inputs)
    )
    if len(names) != len(flat):
        raise ConfigError(f"{len(names)} input_names for {len(flat)} input tensors")
    if dynamic:
        small = [n for n, t in zip(names, flat, strict=True) if any(s < 2 for s in t.shape[:2])]
        if small:
            raise ConfigError(
                f"example inputs {small} have a batch or sequence size below 2; exporters fix such "
                "an axis: give examples with batch >= 2 and seq >= 2"
            )
    was_training = model.training
    model.eval()
    wrapped = _Flat(model, spec)
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.partial"
    try:
        with _no_fastpath(), torch.no_grad():
            _export(wrapped, tuple(flat), tmp, names, list(output_names), dynamic, opset)
        if check:
            try:
                check_onnx(tmp, model, _variants(example_inputs, flat, spec, dynamic),
                           rtol=rtol, atol=atol)  # fmt: skip
            except ConfigError as exc:
                if _has_onnxscript():
                    raise
                raise ConfigError(
                    f"{exc}; this export used torch's TorchScript exporter, which fixes some "
                    "sizes (transformer reshapes): install onnxscript for the dynamo exporter "
                    f"({INSTALL_HINT})"
                ) from None
        os.replace(tmp, path)
    finally:
        model.train(was_training)
        for leftover in (tmp, f"{tmp}.data"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return path


def _default_names(model: nn.Module, flat: list[torch.Tensor], args: Any) -> list[str]:
    # the forward's own argument names when the inputs are its flat positional arguments
    import inspect

    try:
        params = [
            p.name for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]  # fmt: skip
    except (TypeError, ValueError):
        params = []
    top = args if isinstance(args, (tuple, list)) else (args,)
    if len(top) == len(flat) and len(flat) <= len(params):
        return params[: len(flat)]
    return [f"input_{i}" for i in range(len(flat))]


def _export(wrapped: nn.Module, flat: tuple[torch.Tensor, ...], path: str, names: list[str],
            outputs: list[str], dynamic: bool, opset: int) -> None:  # fmt: skip
    if _has_onnxscript():
        dynamic_shapes = None
        if dynamic:
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
            # one entry: the wrapper's *flat argument
            dynamic_shapes = (
                tuple(
                    {0: batch, 1: seq} if t.ndim >= 2 else ({0: batch} if t.ndim == 1 else {})
                    for t in flat
                ),
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # axis-renaming notes of the exporter
            program = torch.onnx.export(
                wrapped, flat, input_names=names, output_names=outputs, opset_version=opset,
                dynamo=True, dynamic_shapes=dynamic_shapes, external_data=False, verbose=False,
            )  # fmt: skip
        if program is None:  # pragma: no cover - torch versions that write directly
            raise ConfigError("torch.onnx.export returned no program")
        program.save(path)
        return
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {
            n: ({0: "batch", 1: "seq"} if t.ndim >= 2 else {0: "batch"})
            for n, t in zip(names, flat, strict=True) if t.ndim >= 1
        }  # fmt: skip
        dynamic_axes.update({n: {0: "batch"} for n in outputs})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapped, flat, path, input_names=names, output_names=outputs, opset_version=opset,
            dynamic_axes=dynamic_axes, dynamo=False, verbose=False,
        )  # fmt: skip


def _variants(example_inputs: Any, flat: list[torch.Tensor], spec: Any, dynamic: bool) -> list[Any]:
    out = [example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)]
    if not dynamic:
        return out
    out.append(tuple(pytree.tree_unflatten([t[:1] for t in flat], spec)))
    lengths = {t.shape[1] for t in flat if t.ndim >= 2}
    if len(lengths) == 1 and lengths.pop() > 2:
        shorter = [t[:, :-1] if t.ndim >= 2 else t for t in flat]
        out.append(tuple(pytree.tree_unflatten(shorter, spec)))
    return out


def check_onnx(
    path: str | os.PathLike[str],
    model: nn.Module,
    inputs: Sequence[Any],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> float:
    """Run the ONNX file in onnxruntime (CPU, one thread) and ``model`` in torch on each entry of
    ``inputs`` (a tuple of the model's positional inputs); raise `ConfigError` if any output
    differs beyond ``rtol``/``atol``. Returns the largest absolute difference."""
    onnx = _require("onnx")
    ort = _require("onnxruntime")
    onnx.checker.check_model(os.fspath(path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    feed_names = [i.name for i in session.get_inputs()]
    worst = 0.0
    was_training = model.training
    model.eval()
    try:
        for args in inputs:
            args = args if isinstance(args, tuple) else (args,)
            flat, _ = _flatten_inputs(args)
            if len(flat) != len(feed_names):
                raise ConfigError(f"{len(flat)} input tensors for ONNX inputs {feed_names}")
            with _no_fastpath(), torch.no_grad():
                want = pytree.tree_flatten(model(*args))[0]
            feed = {n: t.detach().cpu().numpy() for n, t in zip(feed_names, flat, strict=True)}
            try:
                got = session.run(None, feed)
            except Exception as exc:  # onnxruntime's own error types: a shape fixed at export
                raise ConfigError(
                    f"onnxruntime cannot run the export at input shapes "
                    f"{[tuple(t.shape) for t in flat]}: {' '.join(str(exc).split())[:300]}"
                ) from None
            if len(got) != len(want):
                raise ConfigError(f"the ONNX model gives {len(got)} outputs, torch {len(want)}")
            for g, w in zip(got, want, strict=True):
                w_np = w.detach().cpu().numpy()
                if g.shape != w_np.shape:
                    raise ConfigError(
                        f"ONNX output of shape {g.shape} where torch gives {w_np.shape} (input "
                        f"shapes {[tuple(t.shape) for t in flat]}): an axis was fixed at export"
                    )
                if not np.allclose(g, w_np, rtol=rtol, atol=atol, equal_nan=True):
                    diff = float(np.nanmax(np.abs(g.astype(np.float64) - w_np)))
                    raise ConfigError(
                        f"onnxruntime differs from torch by {diff:.3g} (rtol {rtol}, atol {atol}) "
                        f"at input shapes {[tuple(t.shape) for t in flat]}"
                    )
                if g.size:
                    worst = max(worst, float(np.nanmax(np.abs(g.astype(np.float64) - w_np))))
    finally:
        model.train(was_training)
    return worst


def example_tokens(model: nn.Module, batch: int = 2, length: int = 16, seed: int = 0) -> tuple:
    """Example inputs ``(x, y, t, p, valid_mask)`` ``[batch, length]`` for an event-token model
    (``forward(x, y, t, p, valid_mask)``, the Event2Vec models): coordinates within the model's
    ``sensor_size`` (W, H), sorted times in [0, 1), polarities 0/1, and the second sample's last
    quarter padded. Coordinates are float32 if the model takes them, else int64 indices."""
    sensor = getattr(model, "sensor_size", None)
    cfg = getattr(model, "cfg", None) or getattr(model, "config", None)
    if sensor is None and cfg is not None:
        sensor = getattr(cfg, "sensor_size", None)
    if sensor is None:
        raise ConfigError(
            f"{type(model).__name__} has no sensor_size: example event tokens need (W, H)"
        )
    w, h = (int(s) for s in sensor)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, w, (batch, length), generator=g)
    y = torch.randint(0, h, (batch, length), generator=g)
    t = torch.sort(torch.rand(batch, length, generator=g), dim=1).values
    p = torch.randint(0, 2, (batch, length), generator=g)
    valid = torch.ones(batch, length, dtype=torch.bool)
    if batch > 1:
        valid[1, length - max(1, length // 4) :] = False
    floats = (x.float(), y.float(), t, p.float(), valid)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            try:
                model(*floats)
                return floats
            except (ConfigError, TypeError, RuntimeError, IndexError):
                ints = (x, y, t, p, valid)
                model(*ints)  # an error here is the model's own message
                return ints
    finally:
        model.train(was_training)


__all__ = ["check_onnx", "example_tokens", "export_onnx"]
