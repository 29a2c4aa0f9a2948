"""SpikingJelly 2.0's ``spikingjelly.datasets`` event-to-frame and collate functions, with the
same signatures and results (verified against SpikingJelly's own outputs)::

    # from spikingjelly.datasets import integrate_events_by_fixed_frames_number
    from spikestream.compat.spikingjelly.datasets import integrate_events_by_fixed_frames_number

Frames are float64 ``[T, 2, H, W]`` as in SpikingJelly; where SpikingJelly raises IndexError
(an empty time window, all events at one timestamp) `EmptyFrameError` (an IndexError) is raised.
"""

from __future__ import annotations

import os

import numpy as np

from ... import datasets as _datasets
from ...events import to_dict
from ...transforms.collate import pad_sequence_collate, padded_sequence_mask
from ...transforms.functional import accumulate, slicing


def cal_fixed_frames_number_segment_index(
    events_t: np.ndarray, split_by: str, frames_num: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(j_l, j_r)``: frame i holds the events with index in ``[j_l[i], j_r[i])``."""
    if split_by == "number":
        return slicing.sj_split_by_number(len(events_t), frames_num)
    if split_by == "time":
        return slicing.sj_split_by_time(np.asarray(events_t), frames_num)
    raise NotImplementedError(split_by)


def integrate_events_segment_to_frame(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    H: int,
    W: int,
    j_l: int = 0,
    j_r: int | None = None,
) -> np.ndarray:
    """float64 ``[2, H, W]`` counts of events ``[j_l, j_r)`` (Python slice rules)."""
    x = np.asarray(x)
    start, stop, _ = slice(j_l, j_r).indices(len(x))
    # no times here: a zero-stride stand-in of the right length (the field check compares lengths)
    events = {"t": np.broadcast_to(np.int64(0), len(x)), "x": x, "y": y, "p": p}
    frame = accumulate(events, np.array([start]), np.array([max(start, stop)]), (W, H), np.float64)
    return frame[0]


def integrate_events_by_fixed_frames_number(
    events: dict[str, np.ndarray], split_by: str, frames_num: int, H: int, W: int
) -> np.ndarray:
    """float64 ``[frames_num, 2, H, W]``."""
    j_l, j_r = cal_fixed_frames_number_segment_index(events["t"], split_by, frames_num)
    return accumulate(events, j_l, j_r, (W, H), np.float64)


def integrate_events_by_fixed_duration(
    events: dict[str, np.ndarray], duration: int, H: int, W: int
) -> np.ndarray:
    """float64 ``[ceil(span / duration), 2, H, W]``."""
    starts, stops = slicing.sj_split_by_duration(np.asarray(events["t"]), duration)
    return accumulate(events, starts, stops, (W, H), np.float64)


__all__ = [
    "cal_fixed_frames_number_segment_index",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "pad_sequence_collate",
    "padded_sequence_mask",
]


# ------------------------------------------------------------------- dataset classes


def _sj_dataset(base: type) -> type:
    """``base`` with SpikingJelly 2.0's constructor (``root, train, data_type, frames_number,
    split_by, duration, custom_integrate_function, custom_integrated_frames_dir_name,
    transform, target_transform``), its label order, and events as a dict of arrays."""

    class Dataset(base):
        def __init__(self, root, train=None, data_type="event", frames_number=None,
                     split_by=None, duration=None, custom_integrate_function=None,
                     custom_integrated_frames_dir_name=None, transform=None,
                     target_transform=None):  # fmt: skip
            cache = None
            if custom_integrate_function is not None:
                name = custom_integrated_frames_dir_name or custom_integrate_function.__name__
                cache = os.path.join(root, name)
            super().__init__(root, train=train, data_type=data_type,
                             frames_number=frames_number, split_by=split_by, duration=duration,
                             custom_integrate_function=custom_integrate_function,
                             transform=transform, target_transform=target_transform,
                             frame_cache=cache, label_order="spikingjelly")  # fmt: skip

        def __getitem__(self, i):
            sample, label = super().__getitem__(i)
            if self.data_type == "event" and self.transform is None:
                sample = to_dict(sample)
            return sample, label

    Dataset.__name__ = Dataset.__qualname__ = base.__name__
    Dataset.__doc__ = f"SpikingJelly-compatible {base.__name__}.\n\n{base.__doc__ or ''}"
    return Dataset


DVS128Gesture = _sj_dataset(_datasets.DVS128Gesture)
NMNIST = _sj_dataset(_datasets.NMNIST)
CIFAR10DVS = _sj_dataset(_datasets.CIFAR10DVS)
NCaltech101 = _sj_dataset(_datasets.NCaltech101)
ASLDVS = _sj_dataset(_datasets.ASLDVS)
