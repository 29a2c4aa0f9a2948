"""The ``spikestream`` command (also ``python -m spikestream``). Each subcommand is a thin layer
over the Python API.

Subcommands are registered in `COMMANDS` as (module, help); each module defines
``configure(parser)`` and ``run(args) -> int``; modules are imported when the parser is built,
so they keep heavy imports inside ``run``.

Every failure a user can cause (bad arguments, a missing or unreadable file, a bad recording, an
unwritable output) ends as one line on stderr, ``spikestream: error: ...``, and exit status 2;
a reader that closes the pipe early (``spikestream info --json | head``) ends it quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .errors import ConfigError, SpikestreamError
from .train.cli import VERB_HELP as TRAIN_VERB_HELP

#: name -> (module implementing configure/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "spikestream.commands.demo",
        "the main job on embedded data: NDigits -> a spiking network -> test accuracy",
    ),
    "info": ("spikestream.commands.info", "summarise event files: format, size, counts, rates"),
    "convert": ("spikestream.commands.convert", "convert an event file to another format"),
    "formats": ("spikestream.commands.formats", "list the readable and writable formats"),
    "simulate": ("spikestream.commands.simulate", "images or a video to events (simulated camera)"),
    "dataset": (
        "spikestream.commands.dataset",
        "datasets: list, download, convert, import, verify, info",
    ),
    "decode-samples": (
        "spikestream.commands.samples",
        "decode, summarise and re-encode a folder of sample recordings",
    ),
    "export": ("spikestream.commands.export", "a model to NIR (spiking) or ONNX (event tokens)"),
    # fit, validate, test, predict: Lightning's CLI (one list, in spikestream.train.cli)
    **{verb: ("spikestream.commands.train", text) for verb, text in TRAIN_VERB_HELP.items()},
    "serve": ("spikestream.commands.serve", "replay a recording onto the wire (DV TCP, SPIF UDP)"),
    "live": ("spikestream.commands.live", "run a trained model on a live event stream"),
    "show": ("spikestream.commands.show", "GIF / MP4 / PNG of a recording, or a model's traces"),
}

#: Verbs whose arguments go, unparsed, to Lightning's CLI (spikestream.commands.train).
TRAIN_VERBS = tuple(TRAIN_VERB_HELP)

#: Exit status of every reported error (argparse's own for usage errors).
ERROR_STATUS = 2


class UsageError(ConfigError):
    """A command line argparse rejected (raised instead of argparse's usage text and exit)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: the problem and where to find the usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, SpikestreamError) and exc.strerror:
        # "[Errno 13] Permission denied: 'x'" -> "x: Permission denied" (plus the rename target)
        where = " -> ".join(
            str(p) for p in (exc.filename, getattr(exc, "filename2", None)) if p is not None
        )
        return f"{where}: {exc.strerror}" if where else exc.strerror
    return str(exc) or type(exc).__name__


def _silence_stdout() -> None:
    # The reader went away: point stdout at /dev/null so the interpreter's final flush of what is
    # still buffered does not fail again ("Exception ignored ... BrokenPipeError").
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured output): nothing will be flushed at exit


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    # one line, without the source line Python would print (a truncated recording, ...)
    print(f"spikestream: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        raw = list(sys.argv[1:] if argv is None else argv)
        if raw and raw[0] in TRAIN_VERBS:
            # Lightning's CLI parses these verbs' arguments itself (argparse would take their
            # --help and reject --model.x)
            from .commands.train import run_raw

            status = int(run_raw(raw[0], raw[1:]) or 0)
            sys.stdout.flush()
            return status
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        status = int(importlib.import_module(args._module).run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        print("spikestream: interrupted", file=sys.stderr)
        return 130
    except (SpikestreamError, OSError) as exc:
        message = " ".join(_describe(exc).split())  # one line, whatever the message holds
        print(f"spikestream: error: {message}", file=sys.stderr)
        return ERROR_STATUS


if __name__ == "__main__":
    sys.exit(main())
