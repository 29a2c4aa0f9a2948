"""``spikestream info FILE``: format, sensor size, counts, duration, rates, ON/OFF balance."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..io import detect_format, get_format, read
from . import input_path
from .convert import add_layout_option, read_options


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream info recording.raw --json\n"
        "  spikestream info cifar.aedat --layout cifar10dvs"
    )
    p.add_argument("files", nargs="+", help="event files (any readable format)")
    p.add_argument("--format", help="format id, overriding detection (see `spikestream formats`)")
    add_layout_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per file")


def describe(path: str, format_id: str | None = None, **options: Any) -> dict:
    """The summary ``info`` prints; ``options`` go to the reader (e.g. ``layout=``)."""
    fmt = get_format(format_id) if format_id else detect_format(path)
    rec = read(path, format=fmt.format_id, **options)
    s = rec.summary()
    return {
        "file": path,
        "format": fmt.format_id,
        "format_description": fmt.description,
        "sensor_size": list(rec.sensor_size),
        "sensor_size_inferred": bool(rec.metadata.get("sensor_size_inferred", False)),
        **s.as_dict(),
        "on_fraction": s.on_count / s.count if s.count else None,
    }


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        input_path(path)
    for path in args.files:
        d = describe(path, args.format, **read_options(args.layout))
        if args.json:
            print(json.dumps(d))
            continue
        w, h = d["sensor_size"]
        inferred = " (inferred from the events)" if d["sensor_size_inferred"] else ""
        on = f"{100 * d['on_fraction']:.1f}% ON" if d["count"] else "-"
        print(f"{path}")
        print(f"  format       {d['format']} - {d['format_description']}")
        print(f"  sensor       {w} x {h}{inferred}")
        print(
            f"  events       {d['count']:,} ({d['on_count']:,} ON / {d['off_count']:,} OFF, {on})"
        )
        print(f"  time         {d['t_min']} .. {d['t_max']} µs ({d['duration_us'] / 1e6:.6f} s)")
        print(f"  mean rate    {d['mean_rate_hz'] / 1e6:.3f} Mev/s")
        print(
            f"  peak rate    {d['peak_rate_hz'] / 1e6:.3f} Mev/s (over {d['peak_bin_us']} µs bins)"
        )
    return 0
