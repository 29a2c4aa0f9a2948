"""``spikestream formats``: the readable and writable formats."""

from __future__ import annotations

import argparse

from ..io import list_formats


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = "Example: spikestream formats"


def run(args: argparse.Namespace) -> int:
    print(f"{'id':8} {'write':5} {'extensions':18} description")
    for f in sorted(list_formats(), key=lambda f: f.format_id):
        print(
            f"{f.format_id:8} {'yes' if f.can_write else '-':5} {' '.join(f.extensions):18} "
            f"{f.description}"
        )
    return 0
