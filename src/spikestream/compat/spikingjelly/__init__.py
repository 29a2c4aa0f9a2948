"""SpikingJelly 2.0 compatible API (see `spikestream.compat.spikingjelly.datasets`)."""

from . import datasets
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
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "pad_sequence_collate",
    "padded_sequence_mask",
]
