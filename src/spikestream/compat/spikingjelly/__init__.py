"""SpikingJelly 2.0 compatible API: ``datasets`` (event-to-frame, collate), ``neuron``,
``surrogate``, ``layer``, ``functional`` and ``model`` (the PLIF-paper networks)."""

from . import datasets, functional, layer, model, neuron, surrogate
from .datasets import (
    cal_fixed_frames_number_segment_index,
    integrate_events_by_fixed_duration,
    integrate_events_by_fixed_frames_number,
    integrate_events_segment_to_frame,
    pad_sequence_collate,
    padded_sequence_mask,
)

__all__ = [
    "cal_fixed_frames_number_segment_index",
    "datasets",
    "functional",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "layer",
    "model",
    "neuron",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "surrogate",
]
