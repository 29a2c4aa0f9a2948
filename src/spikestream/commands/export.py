"""``spikestream export CKPT_OR_MODEL --format nir|onnx --out F``: a trained model to a NIR graph
(spiking networks) or an ONNX file (event-token models), through `spikestream.export`.

``CKPT_OR_MODEL`` is a checkpoint file or a registered model name (``spikestream.models.
list_models()``; a name alone exports fresh, untrained weights, which is for trying the
pipeline). A checkpoint is what ``spikestream demo`` and ``spikestream fit`` write (a Lightning
``.ckpt`` too) or `spikestream.models.checkpoint.save_model`: it is read by
`spikestream.models.checkpoint.load_model` (``torch.load(weights_only=True)``, weights loaded
strictly), and a frame model's NIR input shape comes from its ``input`` record unless
``--input-shape`` says otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import output_file, positive_float, positive_int

FORMATS = ("nir", "onnx")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream export runs/demo/csnn_ndigits.ckpt --out demo.nir --max-pool spikes\n"
        "  spikestream export runs/quickstart/version_0/checkpoints/last.ckpt --out fit.nir "
        "--max-pool spikes\n"
        "  spikestream export rsnn_pokerdvs --out rsnn.nir           (untrained weights)\n"
        "  spikestream export e2v.pt --format onnx --out e2v.onnx    (dynamic batch and length)\n"
        "A checkpoint is what demo and fit write (or models.checkpoint.save_model).\n"
        "NIR: every export is imported back and compared with the model before it is written;\n"
        "max pooling needs --max-pool spikes (exact on spikes: sum pool + threshold).\n"
        "Needs the export extra: pip install 'spikestream[export]'."
    )
    p.add_argument(
        "model", metavar="CKPT_OR_MODEL", help="checkpoint file or registered model name"
    )
    p.add_argument("--out", required=True, help="output file (.nir or .onnx)")
    p.add_argument(
        "--format", choices=FORMATS, help="nir or onnx (default: from --out's extension)"
    )
    nir = p.add_argument_group("NIR")
    nir.add_argument(
        "--input-shape",
        type=_shape,
        help="one sample at one step, e.g. 2,128,128 (default: the checkpoint's input record, "
        "else the model's)",
    )
    nir.add_argument("--dt", type=positive_float, help="time step in seconds (default: see docs)")
    nir.add_argument(
        "--max-pool",
        choices=("refuse", "spikes"),
        default="refuse",
        help="max pooling: refuse (default) or spikes (sum pool + threshold, exact on spikes)",
    )
    nir.add_argument(
        "--readout",
        choices=("mean", "sum", "max", "last", "log_softmax_max", "none"),
        help="readout over time (default: identified by the check)",
    )
    nir.add_argument(
        "--no-check", action="store_true", help="skip the comparison (needs --readout)"
    )
    onnx = p.add_argument_group("ONNX")
    onnx.add_argument("--batch", type=positive_int, default=2, help="example batch (>= 2)")
    onnx.add_argument("--length", type=positive_int, default=64, help="example tokens (>= 2)")
    onnx.add_argument("--opset", type=positive_int, default=18, help="ONNX opset (default 18)")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 2,128,128, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 2,128,128, got {text!r}")
    return shape


def load_model(target: str) -> tuple[Any, str, tuple[int, ...] | None]:
    """The model named by ``target`` (a checkpoint file or a registered name) in eval mode, a
    description for messages, and the input shape of one frame that its checkpoint records
    (``(channels, height, width)`` of a frames ``input`` record; None otherwise)."""
    from .. import models
    from ..models.checkpoint import load_model as load_checkpoint

    path = Path(target)
    if not path.exists() and target in models.list_models():
        return models.create(target).eval(), f"{target} (untrained)", None
    if not path.exists() and not path.suffix:
        # a bare word is a mistyped name more often than a missing file
        raise ConfigError(
            f"{target}: neither a checkpoint file nor a registered model "
            f"(registered: {', '.join(models.list_models())})"
        )
    # the one checkpoint reader (demo, fit's Lightning .ckpt, save_model): weights_only, strict
    model, record = load_checkpoint(path)
    return model, f"{target} ({record.name})", record.frame_shape()


def run(args: argparse.Namespace) -> int:
    out = output_file(args.out)
    fmt = args.format or {".nir": "nir", ".onnx": "onnx"}.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{args.out}: give --format nir or onnx (or a .nir / .onnx name)")
    if args.no_check and args.readout is None and fmt == "nir":
        raise ConfigError("--no-check needs --readout (the check identifies it)")
    model, what, recorded_shape = load_model(args.model)
    if fmt == "nir":
        from ..export import save_nir

        graph = save_nir(
            model, out, input_shape=args.input_shape or recorded_shape, dt=args.dt,
            max_pool=args.max_pool, readout=args.readout, check=not args.no_check,
        )  # fmt: skip
        meta = graph.metadata
        print(
            f"wrote {out}: NIR graph of {what}, {len(graph.nodes)} nodes, readout "
            f"{meta['readout']}, dt {float(meta['dt']):g} s"
            + ("" if args.no_check else ", checked against the model")
        )
        return 0
    from ..export.onnx import example_tokens, export_onnx

    if callable(getattr(model, "init_state", None)):
        raise ConfigError(
            f"{what} is a spiking network: use --format nir (ONNX export from the command line "
            "is for the event-token models, forward(x, y, t, p, valid_mask))"
        )

    if args.batch < 2 or args.length < 2:
        raise ConfigError("--batch and --length must be >= 2 (exporters fix an axis of size 1)")
    example = example_tokens(model, args.batch, args.length)
    export_onnx(model, out, example, opset=args.opset)
    print(
        f"wrote {out}: ONNX of {what}, inputs x, y, t, p, valid_mask [batch, seq], "
        "checked with onnxruntime against torch (1e-5)"
    )
    return 0
