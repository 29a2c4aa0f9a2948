"""Networks built from `spikestream.snn` (and plain torch for the event-token models), behind a
timm-style registry: ``create(name, **overrides)``, ``list_models()``.

Layouts: frame models take ``[N, T, C, H, W]`` and return ``[N, classes]`` scores; Event2Vec
models take event tokens. Spiking models also run one step at a time for the live engine
(`StepModel`: ``init_state(batch)``, ``step(x_t, state)``).
"""

from . import event2vec, event2vec_v1, ndigits, plif, rsnn
from .registry import StepModel, create, describe, list_models, register_model

__all__ = [
    "StepModel",
    "create",
    "describe",
    "event2vec",
    "event2vec_v1",
    "list_models",
    "ndigits",
    "plif",
    "register_model",
    "rsnn",
]
