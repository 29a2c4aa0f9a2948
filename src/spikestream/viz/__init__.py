"""Seeing the data: frames to GIF / MP4 / PNG, event grids and x-y-t scatters, neuron traces,
training curves and the live viewer page.

Optional: needs the ``viz`` extra (``pip install 'spikestream[viz]'``: matplotlib, which brings
Pillow, and PyAV for MP4); training curves need tensorboard (the ``train`` extra). Importing
this package imports none of them: each name below loads its module on first use.

Palette (`spikestream.viz.render`): ON blue ``(0, 114, 178)``, OFF vermillion
``(213, 94, 0)``, both equally ``(204, 121, 167)``, on white (Okabe and Ito's colour-blind-safe
colours). A pixel takes the colour of the polarity with more events; counts do not shade it.

Example:
    >>> from spikestream import viz
    >>> frames = viz.event_frames(rec.events, rec.sensor_size, n_frames=30)
    >>> viz.save_frames("clip.gif", frames, fps=10, scale=4)
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "render": ("ON", "OFF", "BOTH", "BACKGROUND", "Palette", "event_frames", "render_frames"),
    "media": ("save_frames", "save_gif", "save_mp4", "save_png", "grid_image", "play_frame"),
    "plots": ("event_grid", "xyt_scatter"),
    "traces": ("record_neurons", "plot_traces", "NeuronRecorder", "NeuronTrace"),
    "curves": ("read_scalars", "plot_curves"),
    "viewer": ("start_viewer",),
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spikestream.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
