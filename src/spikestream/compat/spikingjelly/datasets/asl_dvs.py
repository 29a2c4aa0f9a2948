"""SpikingJelly's ``spikingjelly.datasets.asl_dvs``: ``ASLDVS`` (see the package)."""

from . import ASLDVS

__all__ = ["ASLDVS"]
