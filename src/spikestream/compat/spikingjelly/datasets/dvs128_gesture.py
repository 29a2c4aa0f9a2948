"""SpikingJelly's ``spikingjelly.datasets.dvs128_gesture``: ``DVS128Gesture`` (see the package)."""

from . import DVS128Gesture

__all__ = ["DVS128Gesture"]
