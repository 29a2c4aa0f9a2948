"""Tonic 1.7's ``tonic.utils.plot_event_grid``, drawn with spikestream's Tonic-exact frames.

Differences, on purpose: a recording with one polarity only is drawn (Tonic sizes its frames by
the number of distinct polarities and then fails indexing the second), and a one-column
``axis_array`` such as ``(3, 1)`` is laid out as asked (Tonic reshapes it to one row and fails).
Needs matplotlib (``pip install 'spikestream[viz]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConfigError
from ...transforms.functional import tonic_frames


def plot_event_grid(
    events: np.ndarray,
    axis_array: tuple[int, int] = (1, 3),
    plot_frame_number: bool = False,
) -> None:
    """Tonic's ``plot_event_grid``: the events cut into ``rows * columns`` frames of equal time
    (ToFrame's ``n_time_bins``) on a sensor sized by the largest x and y, each shown as
    ON minus OFF counts in a ``rows x columns`` grid (titled with its index when
    ``plot_frame_number``), then ``plt.show()``. Events without a ``y`` field (audio, as
    Tonic's SHD) are drawn as one image of channels over ``2 * channels`` time bins.

    Example:
        >>> plot_event_grid(events, axis_array=(2, 5), plot_frame_number=True)
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(
            "plot_event_grid needs matplotlib: pip install 'spikestream[viz]'"
        ) from None
    names = events.dtype.names or ()
    if len(events) == 0:
        raise ConfigError("plot_event_grid: no events to plot")
    if "y" in names:
        rows, columns = (int(v) for v in axis_array)
        if rows < 1 or columns < 1:
            raise ConfigError(f"axis_array must be two whole numbers >= 1, got {axis_array}")
        size = (int(events["x"].max()) + 1, int(events["y"].max()) + 1)
        frames = tonic_frames(events, size, n_time_bins=rows * columns)
        _, axes = plt.subplots(rows, columns)
        axes = np.asarray(axes).reshape(rows, columns)
        for i in range(rows):
            for j in range(columns):
                k = i * columns + j
                ax: Any = axes[i, j]
                ax.imshow(frames[k, 1] - frames[k, 0])
                ax.axis("off")
                if plot_frame_number:
                    ax.title.set_text(str(k))
        plt.tight_layout()
        plt.show()
        return
    channels = int(events["x"].max()) + 1
    flat = np.zeros(len(events), dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    flat["t"], flat["x"] = events["t"], events["x"]  # one polarity: Tonic's (channels, 1, 1)
    frames = tonic_frames(flat, (channels, 1), n_time_bins=channels * 2)
    plt.imshow(frames.sum(axis=1).squeeze().T)
    plt.xlabel("Time")
    plt.ylabel("Channels")
