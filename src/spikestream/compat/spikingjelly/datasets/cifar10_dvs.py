"""SpikingJelly's ``spikingjelly.datasets.cifar10_dvs``: ``CIFAR10DVS`` (see the package)."""

from . import CIFAR10DVS

__all__ = ["CIFAR10DVS"]
