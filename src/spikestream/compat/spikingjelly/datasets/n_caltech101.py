"""SpikingJelly's ``spikingjelly.datasets.n_caltech101``: ``NCaltech101`` (see the package)."""

from . import NCaltech101

__all__ = ["NCaltech101"]
