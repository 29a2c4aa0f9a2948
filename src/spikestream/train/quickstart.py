"""The whole path in one function: the embedded NDigits recordings -> frames -> a two-layer LIF
network trained with surrogate gradients -> test accuracy. What ``spikestream demo`` runs; a
starting point to copy, not a training framework (that is the Lightning CLI's job)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..snn.functional import reset_net
from ..snn.layer import SeqToANNContainer
from ..snn.neuron import LIFNode
from ..snn.surrogate import ATan


def ndigits_network(frames_shape: tuple[int, int, int] = (2, 34, 34), hidden: int = 128):
    """Flatten -> Linear -> LIF -> Linear -> LIF over ``[T, N, 2, H, W]`` frames."""
    inputs = int(np.prod(frames_shape))
    return nn.Sequential(
        SeqToANNContainer(nn.Flatten(), nn.Linear(inputs, hidden)),
        LIFNode(tau=2.0, surrogate_function=ATan(), step_mode="m", detach_reset=True),
        SeqToANNContainer(nn.Linear(hidden, 10)),
        LIFNode(tau=2.0, surrogate_function=ATan(), step_mode="m", detach_reset=True),
    )


def _batches(dataset, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    frames = np.stack([dataset[int(i)][0] for i in indices])  # [N, T, 2, H, W]
    labels = torch.as_tensor(dataset.targets[indices])
    return torch.from_numpy(frames).transpose(0, 1).contiguous(), labels


def train_on_ndigits(
    root: str | os.PathLike | None = None,
    epochs: int = 3,
    frames: int = 8,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the network on NDigits' training split and measure it on the test split. Returns
    the test accuracy, the per-epoch training loss and the seconds taken. Deterministic for a
    seed on one machine."""
    from ..datasets.ndigits import NDigits

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train, test = (
        NDigits(root, train=split, data_type="frame", frames_number=frames, split_by="number")
        for split in (True, False)
    )
    net = ndigits_network()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(train))
        total = 0.0
        for lo in range(0, len(order), batch_size):
            x, y = _batches(train, order[lo : lo + batch_size])
            reset_net(net)
            rates = net(x).mean(0)  # firing rate of each class neuron
            loss = nn.functional.mse_loss(rates, nn.functional.one_hot(y, 10).float())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(y)
        losses.append(total / len(train))
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(test), 256):
            x, y = _batches(test, np.arange(lo, min(lo + 256, len(test))))
            reset_net(net)
            correct += int((net(x).mean(0).argmax(1) == y).sum())
    return {
        "accuracy": correct / len(test),
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "train_samples": len(train),
        "test_samples": len(test),
    }
