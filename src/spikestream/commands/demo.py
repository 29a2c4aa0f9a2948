"""``spikestream demo``: the main job on embedded data only (nothing outside the package).

The embedded NDigits dataset is generated (first run, a few seconds) or opened and summarised,
then a small LIF network is trained on its frames (`train.quickstart`) and scored on its test
split, with the time each step took. Decoding sample recordings is `spikestream decode-samples`.
"""

from __future__ import annotations

import argparse
import time

from . import positive_int


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Example: spikestream demo --epochs 5\n"
        "The dataset is built once under $SPIKESTREAM_DATA/NDigits-v1 (default\n"
        "~/.cache/spikestream); --root puts it elsewhere. Sample recordings: see\n"
        "`spikestream decode-samples --help`."
    )
    p.add_argument("--root", help="NDigits' folder (default: $SPIKESTREAM_DATA/NDigits-v1)")
    p.add_argument("--epochs", type=positive_int, default=5, help="training epochs (default 5)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..datasets import ndigits
    from ..train.quickstart import train_on_ndigits

    start = time.perf_counter()
    stats = ndigits.statistics(args.root)
    train, test = stats["train"], stats["test"]
    print(
        f"NDigits (embedded: scikit-learn's digits seen through simulated saccades, 34x34): "
        f"{train['samples']} train / {test['samples']} test samples, "
        f"{train['events_mean']:.0f} events per sample, "
        f"{train['duration_us_mean'] / 1e3:.0f} ms each (ready in {stats['load_seconds']:.1f} s)"
    )
    result = train_on_ndigits(args.root, epochs=args.epochs, seed=args.seed)
    losses = ", ".join(f"{v:.4f}" for v in result["losses"])
    print(
        f"Trained a two-layer LIF network on its frames (T=8, surrogate gradients, "
        f"{args.epochs} epochs, training loss {losses}) in {result['seconds']:.1f} s"
    )
    print(
        f"Test accuracy: {100 * result['accuracy']:.1f} % on {result['test_samples']} samples "
        f"(chance 10 %); whole demo {time.perf_counter() - start:.1f} s"
    )
    return 0
