"""The ``spikestream`` command. Each subcommand is a thin layer over the Python API.

Subcommands are registered in `COMMANDS` as (module, help); each module defines
``configure(parser)`` and ``run(args) -> int``; modules are imported when the parser is built,
so they keep heavy imports inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import SpikestreamError

#: name -> (module implementing configure/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("spikestream.commands.demo", "decode, summarise and re-encode the real recordings"),
    "info": ("spikestream.commands.info", "summarise event files: format, size, counts, rates"),
    "convert": ("spikestream.commands.convert", "convert an event file to another format"),
    "formats": ("spikestream.commands.formats", "list the readable and writable formats"),
    "simulate": ("spikestream.commands.simulate", "images or a video to events (simulated camera)"),
    "dataset": ("spikestream.commands.dataset", "datasets: list, download, convert, verify, info"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikestream",
        description="Event-camera data to spiking networks: read, convert, train, run live.",
        epilog="Example: spikestream demo",
    )
    parser.add_argument("--version", action="version", version=f"spikestream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(_module=module)
        importlib.import_module(module).configure(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except SpikestreamError as exc:
        print(f"spikestream {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
