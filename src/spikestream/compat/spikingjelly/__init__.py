"""SpikingJelly 2.0 compatible API: ``datasets`` (event-to-frame, collate), ``neuron``,
``surrogate``, ``layer`` and ``functional``."""

from . import datasets, functional, layer, neuron, surrogate
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
    "neuron",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "surrogate",
]
