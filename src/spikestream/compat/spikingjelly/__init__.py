"""SpikingJelly compatible API, laid out as SpikingJelly is, so that replacing the package name
in the imports is the only change::

    # from spikingjelly.activation_based import layer, neuron
    from spikestream.compat.spikingjelly.activation_based import layer, neuron
    # from spikingjelly.clock_driven import layer, neuron  (0.0.0.0.14)
    from spikestream.compat.spikingjelly.clock_driven import layer, neuron
    # from spikingjelly.datasets.utils import play_frame
    from spikestream.compat.spikingjelly.datasets.utils import play_frame

``neuron``, ``surrogate``, ``layer``, ``functional`` and ``model`` are also importable from here
directly. Names spikestream does not cover raise AttributeError saying what to use instead.
"""

from .. import _unsupported
from . import activation_based, clock_driven, datasets, functional, layer, model, neuron, surrogate
from .datasets import (
    cal_fixed_frames_number_segment_index,
    integrate_events_by_fixed_duration,
    integrate_events_by_fixed_frames_number,
    integrate_events_segment_to_frame,
    pad_sequence_collate,
    padded_sequence_mask,
)

__all__ = [
    "activation_based",
    "cal_fixed_frames_number_segment_index",
    "clock_driven",
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

__getattr__ = _unsupported.module_getattr(
    __name__,
    {
        "visualizing": "spikestream.viz (or spikestream show) for events and frames",
        "configure": "spikestream.settings (environment variables)",
        "timing_based": "not provided",
        "event_driven": "not provided",
    },
)
