"""``spikestream fit | validate | test | predict``: Lightning's CLI over the training layer
(`spikestream.train.cli`). The verb's arguments go to Lightning's parser untouched
(``spikestream.cli`` hands them over raw), so ``--help``, ``--print_config``,
``--config FILE.yaml`` and ``--model.x`` / ``--data.y`` / ``--trainer.z`` work as in any
LightningCLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

#: the verbs this module serves (registered in spikestream.cli.COMMANDS)
VERBS = ("fit", "validate", "test", "predict")


def configure(p: argparse.ArgumentParser) -> None:
    # shown by `spikestream --help`; the verb's own --help is Lightning's
    p.epilog = (
        "Example: spikestream fit --config quickstart --trainer.max_epochs 3\n"
        "         spikestream fit --config quickstart --ckpt_path last   (resume the last run)\n"
        "         spikestream predict --config quickstart --ckpt_path best --predict_out p.jsonl\n"
        "Every option after the verb is Lightning's CLI (`spikestream fit --help`)."
    )
    p.add_argument("args", nargs=argparse.REMAINDER, help="Lightning CLI arguments")


def run_raw(verb: str, argv: Sequence[str]) -> int:
    """Run ``verb`` with its raw arguments (what spikestream.cli calls)."""
    from ..train.cli import main

    return main(verb, list(argv))


def run(args: argparse.Namespace) -> int:
    return run_raw(args.command, list(args.args or []))
