"""Layers for multi-step ``[T, N, ...]`` tensors: a time-distributed wrapper for stateless
modules, dropout with one mask per sequence, batch norm over T x N, and the voting layer."""

from __future__ import annotations

import torch
from torch import nn


class SeqToANNContainer(nn.Sequential):
    """Run stateless modules on ``[T, N, ...]`` by merging T into the batch (SpikingJelly's
    ``SeqToANNContainer``): ``[T, N, ...] -> [T*N, ...] -> modules -> [T, N, ...]``."""

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        y = super().forward(x_seq.flatten(0, 1))
        return y.unflatten(0, x_seq.shape[:2])


class MultiStepDropout(nn.Module):
    """Dropout whose mask is drawn once per sequence and reused at every step (until ``reset``
    when used single-step)."""

    def __init__(self, p: float = 0.5, step_mode: str = "m"):
        super().__init__()
        self.p = p
        self.step_mode = step_mode
        self.mask: torch.Tensor | None = None

    def reset(self) -> None:
        self.mask = None

    def _mask(self, like: torch.Tensor) -> torch.Tensor:
        if self.mask is None or self.mask.shape != like.shape:
            self.mask = torch.bernoulli(torch.full_like(like, 1 - self.p)) / (1 - self.p)
        return self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.step_mode == "m":
            return x * self._mask(x[0])
        return x * self._mask(x)


class MultiStepBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d on ``[T, N, C, H, W]`` with statistics pooled over T x N."""

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return super().forward(x_seq.flatten(0, 1)).unflatten(0, x_seq.shape[:2])


class VotingLayer(nn.Module):
    """Average groups of ``voting_size`` neighbouring outputs: ``[..., C * v] -> [..., C]``
    (SpikingJelly's voting layer, an average pool over the last axis)."""

    def __init__(self, voting_size: int = 10):
        super().__init__()
        self.voting_size = voting_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (-1, self.voting_size)).mean(-1)
