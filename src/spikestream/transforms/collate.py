"""Batching variable-length samples: SpikingJelly's ``pad_sequence_collate`` /
``padded_sequence_mask`` and Tonic's ``PadTensors``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError


def _tensor(x: Any):
    import torch

    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def pad_sequence_collate(batch: list[tuple[Any, Any]]):
    """SpikingJelly: ``(x_padded [N, T_max, ...], labels int64 [N], lengths int64 [N])``, each
    sample zero-padded after its last frame (batch-first)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    if not batch:
        raise ConfigError("cannot collate an empty batch")
    xs = [_tensor(x) for x, _ in batch]
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.int64)
    labels = torch.as_tensor([int(y) for _, y in batch], dtype=torch.int64)
    return pad_sequence(xs, batch_first=True), labels, lengths


def padded_sequence_mask(sequence_len: Any, T: int | None = None):
    """SpikingJelly: bool mask, **time-first** ``[T, N]``, ``mask[t, n] = t < len[n]``; ``T``
    defaults to the longest length (larger adds False rows, smaller truncates)."""
    import torch

    lengths = _tensor(sequence_len).to(torch.int64)
    steps = int(lengths.max()) if T is None else int(T)
    return torch.arange(steps).unsqueeze(1) < lengths.unsqueeze(0)


def pad_tensors(batch: list[tuple[Any, Any]], *, batch_first: bool = True):
    """Tonic's ``PadTensors``: zero-pad each sample along dim 0 to the longest, stack on dim 0
    (``batch_first``) or dim 1; targets stacked (scalars become a tensor)."""
    import torch

    if not batch:
        raise ConfigError("cannot collate an empty batch")
    xs = [_tensor(x) for x, _ in batch]
    longest = max(x.shape[0] for x in xs)
    padded = [
        torch.cat([x, x.new_zeros((longest - x.shape[0], *x.shape[1:]))])
        if x.shape[0] < longest
        else x
        for x in xs
    ]
    data = torch.stack(padded, dim=0 if batch_first else 1)
    targets = [y for _, y in batch]
    if all(isinstance(y, torch.Tensor) for y in targets):
        return data, torch.stack(targets)
    return data, torch.as_tensor(targets)
