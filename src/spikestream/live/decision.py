"""The decision layer: per-bin network outputs -> a smoothed class or "none".

Each bin's scores are turned into class probabilities by what the model outputs
(`output_kind`): a spiking classifier's firing rates (PLIFNet's voting layer) by their share of
the spikes, log-probabilities (the Norse RSNN) by ``exp``, anything else (logits) by softmax.
The decision is the class whose probability, averaged over the last ``window`` bins, is the
highest, if that average reaches ``threshold``; otherwise ``None`` (the "none" state). The
average is over the whole window: bins not seen yet (after a reset) count as no evidence, so
two weak bins after a reset cannot reach confidence 1.0 (a decision needs
``threshold * window`` bins' worth of probability). For rate outputs, bins whose output neurons
fired ``min_rate`` or less in total (the sum of the voting layer's rates; ``--min-rate``)
count as no evidence too: probability zero for every class, so a quiet scene decays to "none".
Log-probabilities of an RSNN's running maximum never fall by themselves: the engine's quiet
reset (`spikestream.live.engine`) or ``--reset idle:MS`` brings such a model back to "none".
`reset` forgets the history (the engine calls it when the network's state is reset).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:  # only for the annotation: the decision layer itself needs no torch
    from torch import nn

__all__ = ["Decider", "Decision", "output_kind", "probabilities"]


def output_kind(model: nn.Module) -> str:
    """``'rates'``, ``'log_probs'`` or ``'logits'``: what ``model.step`` returns per step."""
    from ..models.plif import PLIFNet
    from ..models.rsnn import RecurrentSNN

    kind = getattr(model, "output_kind", None)  # a model may declare it
    if isinstance(kind, str):
        return kind
    if isinstance(model, PLIFNet):
        return "rates"
    if isinstance(model, RecurrentSNN):
        return "log_probs"
    return "logits"


def probabilities(scores: np.ndarray, kind: str, min_rate: float = 0.0) -> np.ndarray:
    """Per-class probabilities of one bin's (or a batch's, last axis) ``scores``."""
    s = np.asarray(scores, dtype=np.float64)
    if kind == "rates":
        total = s.sum(axis=-1, keepdims=True)
        ok = total > max(min_rate, 0.0)
        return np.where(ok, s / np.where(ok, total, 1.0), 0.0)
    if kind == "log_probs":
        s = s - s.max(axis=-1, keepdims=True)  # renormalise (a running max may not sum to 1)
    elif kind != "logits":
        raise ConfigError(f"output kind must be 'rates', 'log_probs' or 'logits', got {kind!r}")
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Decision:
    """The class index and name (None, None: the "none" state) and its averaged probability."""

    index: int | None
    label: str | None
    confidence: float


class Decider:
    """Moving average of per-bin probabilities over ``window`` bins, with a confidence
    ``threshold`` in [0, 1] and a "none" state."""

    def __init__(
        self,
        classes: list[str],
        kind: str,
        *,
        window: int = 5,
        threshold: float = 0.5,
        min_rate: float = 0.0,
    ) -> None:
        if window < 1:
            raise ConfigError(f"the decision window must be >= 1 bins, got {window}")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"the confidence threshold must be in [0, 1], got {threshold}")
        if kind not in ("rates", "log_probs", "logits"):
            raise ConfigError(f"output kind must be 'rates', 'log_probs' or 'logits', got {kind!r}")
        self.classes = list(classes)
        self.kind = kind
        self.threshold = float(threshold)
        self.min_rate = float(min_rate)
        self._window = int(window)
        self._history: deque[np.ndarray] = deque(maxlen=self._window)

    def reset(self) -> None:
        self._history.clear()

    def update(self, scores: np.ndarray) -> Decision:
        """Add one bin's scores; the decision after it."""
        self._history.append(probabilities(scores, self.kind, self.min_rate))
        avg = np.sum(self._history, axis=0) / self._window
        i = int(np.argmax(avg))
        conf = float(avg[i])
        if conf < self.threshold or conf <= 0.0:
            return Decision(None, None, conf)
        label = self.classes[i] if i < len(self.classes) else str(i)
        return Decision(i, label, conf)
