"""Placeholder: this subcommand is being built (its owner replaces this module)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError


def configure(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise ConfigError("this command is not built yet")
