"""``spikestream demo``: the main job on embedded data only (nothing outside the package).

The embedded NDigits dataset is generated (first run, a few seconds) or opened and summarised;
the quick-start recipe (`train.quickstart`) trains the ``csnn_ndigits`` spiking network on its
frames and scores it on the test split; the model is saved as a checkpoint, loaded back and
plays a few test recordings, one after the other, through the live path over loopback: the
replay server of `spikestream serve` sends them as a DV network stream on 127.0.0.1 and the
engine of `spikestream live` runs the checkpoint on the stream bin by bin. Decoding sample
recordings is `spikestream decode-samples`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import non_negative_int, output_file, positive_int

DEFAULT_OUT = Path("runs") / "demo" / "csnn_ndigits.ckpt"


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
        help="test recordings replayed live from the saved checkpoint (default 5; 0: none)",
    )


def run(args: argparse.Namespace) -> int:
    from ..datasets import ndigits
    from ..train.quickstart import train_on_ndigits

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
        _replay_live(out, ndigits.NDigits(args.root, train=False), args.show)
    print(f"Whole demo {time.perf_counter() - start:.1f} s")
    return 0


GAP_US = 200_000  # silence between two replayed digits: the engine's idle reset (100 ms) fires


def _replay_live(checkpoint: Path, test: Any, count: int) -> None:
    """Serve ``count`` test recordings spread over the test split as one DV TCP stream on
    127.0.0.1 and run the checkpoint on it with the live engine; print each digit's decision
    (the class its bins chose most often) and the engine's latency."""
    from ..events import Recording
    from ..live.engine import EngineConfig, ResetPolicy, bin_width_us
    from ..live.loopback import replay_over_loopback, segment_decisions
    from ..models.checkpoint import read_record

    picks = sorted({round(i * (len(test) - 1) / max(count - 1, 1)) for i in range(count)})
    parts, segments, labels, start = [], [], [], 0
    for i in picks:
        events, label = test[i]
        events = events.copy()
        events["t"] += start - events["t"][0]
        parts.append(events)
        segments.append((int(events["t"][0]), int(events["t"][-1]) + 1))
        labels.append(test.class_names[label])
        start = int(events["t"][-1]) + GAP_US
    stream = Recording(np.concatenate(parts), test.sensor_size)
    record = read_record(checkpoint)
    # trained on 8 equal-count frames per recording; live bins are fixed, of the mean width
    config = EngineConfig(
        bin_us=bin_width_us(record.input, warn=False),
        reset=ResetPolicy.parse("idle:100"),
        threshold=0.0,
        overflow="block",
        speed=None,
    )
    results, summary = replay_over_loopback(checkpoint, stream, config=config)
    decisions = segment_decisions(results, segments)
    print(
        f"Live: {len(picks)} test recordings served one after another as a DV network stream on "
        f"127.0.0.1 (spikestream serve) into the live engine (spikestream live: "
        f"{config.bin_us / 1000:.1f} ms bins, state carried from bin to bin, reset after "
        f"100 ms without events):"
    )
    for i, label, decision in zip(picks, labels, decisions, strict=True):
        mark = "right" if decision == label else "WRONG"
        print(f"  test sample {i:3d}: digit {label} -> {decision or 'none'} ({mark})")
    total = summary["latency_ms"]["total"]
    right = sum(d == label for d, label in zip(decisions, labels, strict=True))
    print(
        f"  {right}/{len(picks)} right; {summary['bins']} bins, latency per bin p50 "
        f"{total['p50']:.1f} ms, p99 {total['p99']:.1f} ms"
    )
