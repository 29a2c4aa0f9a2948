"""``spikestream demo``: the main job on embedded data only (nothing outside the package).

The embedded NDigits dataset is generated (first run, a few seconds) or opened and summarised;
the quick-start recipe (`train.quickstart`) trains the ``csnn_ndigits`` spiking network on its
frames and scores it on the test split; the model is saved as a checkpoint, loaded back and
classifies a few test recordings, as a deployed model would. Decoding sample recordings is
`spikestream decode-samples`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import output_file, positive_int

DEFAULT_OUT = Path("runs") / "demo" / "csnn_ndigits.ckpt"


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Example: spikestream demo --epochs 10 --out model.ckpt\n"
        "The dataset is built once under $SPIKESTREAM_DATA/NDigits-v1 (default\n"
        "~/.cache/spikestream); --root puts it elsewhere. The same recipe through the\n"
        "Lightning layer: spikestream fit --config quickstart. Sample recordings: see\n"
        "`spikestream decode-samples --help`."
    )
    p.add_argument("--root", help="NDigits' folder (default: $SPIKESTREAM_DATA/NDigits-v1)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="training epochs (default: the recipe's, 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument(
        "--out", default=str(DEFAULT_OUT), help=f"checkpoint file to write (default {DEFAULT_OUT})"
    )
    p.add_argument(
        "--show",
        type=non_negative_int,
        default=5,
        help="test recordings classified from the saved checkpoint (default 5)",
    )


def run(args: argparse.Namespace) -> int:
    from ..datasets import ndigits
    from ..train.quickstart import classify_from_checkpoint, train_on_ndigits

    start = time.perf_counter()
    if args.out == str(DEFAULT_OUT):
        DEFAULT_OUT.parent.mkdir(parents=True, exist_ok=True)
    out = output_file(args.out)  # checked before the training, not after
    stats = ndigits.statistics(args.root)
    train, test = stats["train"], stats["test"]
    print(
        f"NDigits (embedded: scikit-learn's digits seen through simulated saccades, 34x34): "
        f"{train['samples']} train / {test['samples']} test samples, "
        f"{train['events_mean']:.0f} events per sample, "
        f"{train['duration_us_mean'] / 1e3:.0f} ms each (ready in {stats['load_seconds']:.1f} s)"
    )
    result = train_on_ndigits(args.root, epochs=args.epochs, seed=args.seed, checkpoint=out)
    recipe = result["recipe"]
    print(
        f"Trained {recipe['model']} (convolutional LIF network, T={recipe['frames']} frames, "
        f"{len(result['losses'])} epochs, final training loss {result['losses'][-1]:.4f}) in "
        f"{result['seconds']:.1f} s ({result['cpu_seconds']:.1f} s of CPU time)"
    )
    print(
        f"Test accuracy: {100 * result['accuracy']:.1f} % on {result['test_samples']} samples "
        f"(chance 10 %); checkpoint {out}"
    )
    if args.show:
        held_out = ndigits.NDigits(args.root, train=False)
        picks = [round(i * (len(held_out) - 1) / max(args.show - 1, 1)) for i in range(args.show)]
        picks = sorted(set(picks))
        recordings = [held_out[i] for i in picks]
        decisions = classify_from_checkpoint(out, [events for events, _ in recordings])
        print(f"From the checkpoint, {len(picks)} test recordings:")
        for i, (_, label), d in zip(picks, recordings, decisions, strict=True):
            mark = "right" if d.label == label else "WRONG"
            print(f"  test sample {i:3d}: digit {label} -> {d.name} ({mark})")
    print(f"Whole demo {time.perf_counter() - start:.1f} s")
    return 0
