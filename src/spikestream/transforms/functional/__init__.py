"""Pure functions on event arrays; the callable classes in `spikestream.transforms` wrap them."""

from . import augment, slicing
from .filters import denoise, denoise_mask, refractory_mask, refractory_period
from .frames import accumulate, frame_windows, to_frames, to_frames_custom, tonic_frames
from .representations import (
    polarity_weights,
    to_averaged_time_surface,
    to_time_surface,
    to_voxel_grid,
)
from .slicing import EmptyFrameError
from .tokens import event_tokens, normalize_time, pad_tokens, rescale_coordinates, sample_indices

__all__ = [
    "EmptyFrameError",
    "accumulate",
    "augment",
    "denoise",
    "denoise_mask",
    "event_tokens",
    "frame_windows",
    "normalize_time",
    "pad_tokens",
    "polarity_weights",
    "refractory_mask",
    "refractory_period",
    "rescale_coordinates",
    "sample_indices",
    "slicing",
    "to_averaged_time_surface",
    "to_frames",
    "to_frames_custom",
    "to_time_surface",
    "to_voxel_grid",
    "tonic_frames",
]
