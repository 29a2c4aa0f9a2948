"""Helpers over whole networks."""

from __future__ import annotations

from torch import nn


def reset_net(net: nn.Module) -> None:
    """Reset the state of every stateful module in ``net`` (call between samples)."""
    for module in net.modules():
        reset = getattr(module, "reset", None)
        if callable(reset):
            reset()
