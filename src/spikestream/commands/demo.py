"""``spikestream demo``: the main job on embedded data.

Every real recording in ``../shared/data/real`` is decoded, summarised, re-encoded in another
format and read back, with the time each step took; then the embedded NDigits dataset is built
(first run) or loaded and summarised, and a small LIF network is trained on it
(`train.quickstart`) and scored on its test split.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..io import read, write

# Where each kind of recording goes for the re-encode check (a different format each time).
_REENCODE = {"aedat4": "evt3", "evt2": "aedat4", "evt3": "dat", "dat": "evt2", "nmnist": "aedat3"}


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = "Example: spikestream demo --data ../shared/data/real"
    p.add_argument("--data", help="folder of recordings (default: ../shared/data/real)")
    p.add_argument("--skip-ndigits", action="store_true", help="do not build/load NDigits")
    p.add_argument("--epochs", type=int, default=5, help="training epochs on NDigits (0: none)")


def find_real_data(explicit: str | None = None) -> Path:
    candidates = (
        [explicit]
        if explicit
        else [
            os.environ.get("SPIKESTREAM_REAL_DATA"),
            Path.cwd().parent / "shared" / "data" / "real",
            Path(__file__).resolve().parents[4] / "shared" / "data" / "real",
        ]
    )
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    raise DatasetError(
        "no recordings found: pass --data FOLDER or set SPIKESTREAM_REAL_DATA "
        "(expected ../shared/data/real beside the repository)"
    )


def run(args: argparse.Namespace) -> int:
    root = find_real_data(args.data)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")
    print(f"spikestream demo: {len(files)} real recordings under {root}\n")
    header = (
        f"| {'file':38} | {'format':6} | {'sensor':9} | {'events':>9} | {'duration s':>10} "
        f"| {'ON %':>5} | {'decode Mev/s':>12} | re-encode |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            read(path)  # the first read of a format loads its compiled decoder from the cache
            start = time.perf_counter()
            rec = read(path)
            seconds = time.perf_counter() - start
            s = rec.summary()
            target = _REENCODE.get(rec.source_format, "npz")
            out = Path(tmp) / f"{path.stem}.{target}"
            write(out, rec, format=target)
            same = np.array_equal(read(out, format=target).events, rec.events)
            name = str(path.relative_to(root))
            print(
                f"| {name:38} | {rec.source_format:6} | {rec.width:>4}x{rec.height:<4} "
                f"| {s.count:>9,} | {s.duration_us / 1e6:>10.4f} "
                f"| {100 * s.on_count / max(s.count, 1):>5.1f} "
                f"| {s.count / seconds / 1e6:>12.1f} | {target:6} {'ok' if same else 'DIFF'} |"
            )
            if not same:
                raise DatasetError(f"re-encoding {name} as {target} changed the events")
    print("\nEvery recording decoded, and survived a write/read round trip in another format.")
    if not args.skip_ndigits:
        from ..datasets import ndigits

        stats = ndigits.statistics()
        train, test = stats["train"], stats["test"]
        print(
            f"\nNDigits (embedded, simulated saccades, 34x34): {train['samples']} train / "
            f"{test['samples']} test samples, {train['events_mean']:.0f} events per sample, "
            f"{train['duration_us_mean'] / 1e3:.0f} ms each "
            f"(ready in {stats['load_seconds']:.1f} s)"
        )
        if args.epochs > 0:
            from ..train.quickstart import train_on_ndigits

            result = train_on_ndigits(epochs=args.epochs)
            print(
                f"Trained a two-layer LIF network on its frames (T=8, surrogate gradients, "
                f"{args.epochs} epochs): test accuracy {100 * result['accuracy']:.1f} % "
                f"in {result['seconds']:.1f} s"
            )
    return 0
