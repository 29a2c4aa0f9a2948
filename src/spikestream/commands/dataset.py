"""``spikestream dataset ...``: dataset statistics (more actions arrive with the datasets work)."""

from __future__ import annotations

import argparse
import json

from ..errors import DatasetError

DATASETS = ("ndigits",)


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = "Example: spikestream dataset info ndigits"
    p.add_argument("action", choices=["info"], help="what to do")
    p.add_argument("name", help=f"dataset name ({', '.join(DATASETS)})")
    p.add_argument(
        "--root", help="data folder (default: $SPIKESTREAM_DATA or ~/.cache/spikestream)"
    )
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.name.lower() != "ndigits":
        raise DatasetError(f"unknown dataset {args.name!r}; known: {', '.join(DATASETS)}")
    from ..sim import ndigits

    stats = ndigits.statistics(args.root)
    if args.json:
        print(json.dumps(stats))
        return 0
    w, h = stats["sensor_size"]
    print(
        f"NDigits: scikit-learn's handwritten digits as {w}x{h} saccade recordings, "
        f"{stats['classes']} classes"
    )
    for split in ("train", "test"):
        s = stats[split]
        print(
            f"  {split:5}  {s['samples']:5} samples, events per sample {s['events_mean']:.0f} "
            f"(min {s['events_min']}, max {s['events_max']}), "
            f"mean duration {s['duration_us_mean'] / 1e3:.1f} ms"
        )
    print(f"  loaded in {stats['load_seconds']:.2f} s (generated on first use, then cached)")
    return 0
