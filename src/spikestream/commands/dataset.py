"""``spikestream dataset list | download | convert | verify | info NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import positive_int

#: action -> (one-line help, example); each action is a subcommand with its own --help.
ACTIONS: dict[str, tuple[str, str]] = {
    "list": ("the datasets, their sensors and splits, and which are converted under "
             "$SPIKESTREAM_DATA", "spikestream dataset list --json"),
    "download": ("fetch a dataset's files into <root>/download (MD5-checked)",
                 "spikestream dataset download nmnist --root data/NMNIST"),
    "convert": ("extract and convert downloaded files into packed stores (<root>/packed)",
                "spikestream dataset convert dvs128gesture --root data/DVS128Gesture"),
    "import": ("build the packed stores from SpikingJelly's events_np folder",
               "spikestream dataset import dvs128gesture --root data/DVS128Gesture "
               "--events-np DVS128Gesture/events_np"),
    "verify": ("check every packed sample (offsets, time order, CRC-32)",
               "spikestream dataset verify dvs128gesture --root data/DVS128Gesture"),
    "info": ("samples, events and durations per split (generates NDigits on first use)",
             "spikestream dataset info ndigits --json"),
}  # fmt: skip


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = "Examples:\n" + "\n".join(f"  {ex}" for _, ex in ACTIONS.values())
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (help_text, example) in ACTIONS.items():
        a = sub.add_parser(
            action,
            help=help_text,
            description=help_text,
            epilog=f"Example: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if action != "list":
            a.add_argument("name", help="dataset name (see `spikestream dataset list`)")
            a.add_argument(
                "--root",
                help="the dataset's folder (default: $SPIKESTREAM_DATA/<Name>, "
                "$SPIKESTREAM_DATA defaulting to ~/.cache/spikestream)",
            )
        if action in ("download", "convert"):
            a.add_argument(
                "--no-verify",
                action="store_true",
                help="accept archives whose MD5 differs (re-packed or trimmed by you)",
            )
        if action in ("convert", "import"):
            a.add_argument(
                "--workers", type=positive_int, help="conversion threads (default: up to 8)"
            )
        if action == "import":
            a.add_argument(
                "--events-np",
                required=True,
                help="the folder SpikingJelly converted (its events_np)",
            )
        if action in ("list", "info"):
            a.add_argument("--json", action="store_true", help="machine-readable output")


def _how_obtained(cls: Any) -> str:
    if not cls.resources:
        return "generated"
    return "auto" if all(r.url for r in cls.resources) else "manual"


def _list(args: argparse.Namespace) -> int:
    from ..datasets.registry import DATASETS, get

    get("nmnist")  # imports the catalogue
    rows = []
    for cls in DATASETS.values():
        rows.append(
            {
                "name": cls.name.lower(),
                "sensor": "x".join(map(str, cls.sensor_size)),
                "classes": len(cls.classes) or "per files",
                "splits": "/".join(cls.splits),
                "download": _how_obtained(cls),
                "converted": cls.is_converted(None),  # under the default data folder
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'name':15} {'sensor':8} {'classes':9} {'splits':11} {'download':9} converted")
    for r in rows:
        print(
            f"{r['name']:15} {r['sensor']:8} {r['classes']!s:9} {r['splits']:11} "
            f"{r['download']:9} {'yes' if r['converted'] else '-'}"
        )
    return 0


def _store_summary(cls: Any, root: str | None) -> dict[str, Any]:
    from ..datasets.store import PackedStore

    out: dict[str, Any] = {"name": cls.name, "folder": str(cls.folder(root))}
    for split in cls.splits:
        out[split] = PackedStore(cls.folder(root) / "packed" / split).summary()
    return out


def run(args: argparse.Namespace) -> int:
    from ..datasets.registry import get
    from ..errors import DatasetError

    if args.action == "list":
        return _list(args)
    cls = get(args.name)
    if args.action == "download":
        folder = cls.download(args.root, verify=not args.no_verify)
        print(f"{cls.name}: files in {folder}")
    elif args.action == "convert":
        packed = cls.prepare(
            args.root, download=False, verify=not args.no_verify, workers=args.workers
        )
        print(f"{cls.name}: packed stores in {packed}")
    elif args.action == "import":
        packed = cls.import_events_np(args.events_np, args.root, workers=args.workers)
        print(f"{cls.name}: packed stores in {packed} (from {args.events_np})")
    elif args.action == "verify":
        from ..datasets.store import PackedStore

        if not cls.is_converted(args.root):
            raise DatasetError(
                f"{cls.name}: not converted in {cls.folder(args.root)}; run "
                f"`spikestream dataset convert {cls.name.lower()}` first"
            )
        for split in cls.splits:
            summary = PackedStore(cls.folder(args.root) / "packed" / split).verify()
            print(
                f"{cls.name} {split}: OK, {summary['samples']} samples, {summary['events']} events"
            )
    else:
        if not cls.resources:  # a generated dataset: generate it on first use
            cls.prepare(args.root)
        if not cls.is_converted(args.root):
            files = ", ".join(r.filename for r in cls.resources)
            print(
                f"{cls.name}: {cls.sensor_size[0]}x{cls.sensor_size[1]}, "
                f"{len(cls.classes) or 'per-file'} classes, splits {'/'.join(cls.splits)}; "
                f"not converted in {cls.folder(args.root)} (needs {files}; {cls.homepage})"
            )
            return 0
        summary = _store_summary(cls, args.root)
        if args.json:
            print(json.dumps(summary))
            return 0
        print(f"{cls.name} in {summary['folder']}")
        for split in cls.splits:
            s = summary[split]
            print(
                f"  {split:5} {s['samples']:7} samples, {s['events']:12} events, "
                f"{s['events_mean']:.0f} per sample (min {s['events_min']}, "
                f"max {s['events_max']}), mean duration {s['duration_us_mean'] / 1e3:.1f} ms; "
                f"per class {s['per_class']}"
            )
    sys.stdout.flush()
    return 0
