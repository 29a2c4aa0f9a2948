"""``spikestream fit | validate | test | predict``: Lightning's CLI over the training layer
(`spikestream.train.cli`). The verb's arguments go to Lightning's parser untouched
(``spikestream.cli`` hands them over raw), so ``--help``, ``--print_config``,
``--config FILE.yaml`` and ``--model.x`` / ``--data.y`` / ``--trainer.z`` work as in any
LightningCLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..train.cli import VERBS, help_text

__all__ = ["VERBS", "configure", "run", "run_raw"]


def configure(p: argparse.ArgumentParser) -> None:
    # shown by `spikestream <verb> ... --help` through argparse; the verb's own --help is
    # Lightning's
    p.epilog = help_text()
    p.add_argument("args", nargs=argparse.REMAINDER, help="Lightning CLI arguments")


def run_raw(verb: str, argv: Sequence[str]) -> int:
    """Run ``verb`` with its raw arguments (what spikestream.cli calls)."""
    from ..train.cli import main

    return main(verb, list(argv))


def run(args: argparse.Namespace) -> int:
    return run_raw(args.command, list(args.args or []))
