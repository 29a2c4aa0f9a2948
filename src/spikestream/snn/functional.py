"""Helpers over whole networks: state reset, step mode, and evaluation that resets the state
before every sample so one sample's membrane potentials never leak into the next."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..errors import ConfigError


def reset_net(net: nn.Module) -> None:
    """Reset the state of every stateful module in ``net`` (call between samples)."""
    for module in net.modules():
        reset = getattr(module, "reset", None)
        if callable(reset):
            reset()


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` ('s' or 'm') on every module that has one."""
    if step_mode not in ("s", "m"):
        raise ConfigError(f"step_mode must be 's' or 'm', got {step_mode!r}")
    for module in net.modules():
        if hasattr(module, "step_mode"):
            setattr(module, "step_mode", step_mode)  # noqa: B010 - nn.Module typing


def forward_sample(net: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
    """Run a multi-step network on one batch ``[T, N, ...]`` from a fresh state."""
    reset_net(net)
    return net(x_seq)


@torch.no_grad()
def evaluate(
    net: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    batch_first: bool = True,
) -> float:
    """Accuracy of ``net`` over ``(frames, labels)`` batches: each batch runs from a fresh
    state (`forward_sample`), and the class is the argmax of the output averaged over time.
    Frames are ``[N, T, ...]`` (``batch_first``, as `pad_sequence_collate` gives) or
    ``[T, N, ...]``."""
    was_training = net.training
    net.eval()
    correct = total = 0
    try:
        for frames, labels in batches:
            x_seq = frames.transpose(0, 1) if batch_first else frames
            out = forward_sample(net, x_seq.float())
            pred = out.mean(0).argmax(-1)
            correct += int((pred == labels).sum())
            total += len(labels)
    finally:
        net.train(was_training)
        reset_net(net)
    return correct / total if total else 0.0
