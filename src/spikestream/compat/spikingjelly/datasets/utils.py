"""SpikingJelly 2.0's ``spikingjelly.datasets.utils``: event-to-frame and collate functions
with the same signatures and results (verified against SpikingJelly's own outputs), and
``play_frame``::

    # from spikingjelly.datasets.utils import pad_sequence_collate
    from spikestream.compat.spikingjelly.datasets.utils import pad_sequence_collate

Frames are float64 ``[T, 2, H, W]`` as in SpikingJelly; where SpikingJelly raises IndexError
(an empty time window, all events at one timestamp) `EmptyFrameError` (an IndexError) is raised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....transforms.collate import pad_sequence_collate, padded_sequence_mask
from ....transforms.functional import accumulate, slicing


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


def play_frame(x: Any, save_gif_to: str | None = None) -> None:
    """SpikingJelly's ``play_frame``: `spikestream.viz.play_frame` (matplotlib and Pillow are
    imported only when called). Without ``save_gif_to`` it shows the frames in a window over
    and over until the window is closed, as SpikingJelly does."""
    from .... import viz

    viz.play_frame(x, save_gif_to=save_gif_to)


def load_npz_frames(file_name: str) -> np.ndarray:
    """Frames SpikingJelly saved (``np.savez`` key ``frames``), as float32."""
    with np.load(file_name) as z:
        return z["frames"].astype(np.float32)


__all__ = [
    "cal_fixed_frames_number_segment_index",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "load_npz_frames",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "play_frame",
]
