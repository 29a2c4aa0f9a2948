"""Classification losses over a model's output, and the one adapter that turns every model
family's output into ``[N, classes]`` scores.

Outputs: ``[N, classes]`` (every registered model's ``forward``: PLIFNet's time-averaged voting
rates, RecurrentSNN's log-probabilities, Event2Vec's logits) or ``[T, N, classes]`` (per-step
outputs, time first as ``forward_steps`` gives them and as SpikingJelly-style ``nn.Sequential``
networks return spikes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError

#: Loss names and what each reproduces.
LOSSES = {
    "mse_rate": "MSE of the mean firing rate against one-hot (SpikingJelly's DVS Gesture tutorial)",
    "cross_entropy": "cross-entropy of the scores as logits, optional label smoothing (Event2Vec)",
    "nll_max": "NLL of log-softmax of the maximum over time (the Norse POKER-DVS notebook)",
}


def check_loss(name: str) -> None:
    if name not in LOSSES:
        raise ConfigError(f"--model.loss {name!r} is not known; use one of {sorted(LOSSES)}")


def scores(out: torch.Tensor, loss: str) -> torch.Tensor:
    """``[N, classes]`` scores of a model output: ``[T, N, C]`` becomes its mean over time (the
    firing rate), or for ``nll_max`` its maximum over time."""
    if out.dim() == 3:
        return out.amax(0) if loss == "nll_max" else out.mean(0)
    if out.dim() != 2:
        raise ConfigError(
            f"the model returned shape {tuple(out.shape)}; a classifier returns [N, classes] or "
            "[T, N, classes]"
        )
    return out


def loss_value(
    s: torch.Tensor, target: torch.Tensor, loss: str, label_smoothing: float = 0.0
) -> torch.Tensor:
    """The loss of ``[N, C]`` scores (from `scores`) against int64 labels ``[N]``."""
    s = s.float()  # the loss in float32 under AMP
    if loss == "mse_rate":
        return F.mse_loss(s, F.one_hot(target, s.shape[1]).to(s.dtype))
    if loss == "cross_entropy":
        return F.cross_entropy(s, target, label_smoothing=label_smoothing)
    # log_softmax is idempotent, so a model that already returns log-probabilities of the
    # maximum (RecurrentSNN) gets exactly the notebook's nll_loss
    return F.nll_loss(F.log_softmax(s, dim=1), target)
