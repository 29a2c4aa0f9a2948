"""SpikingJelly's ``spikingjelly.datasets.n_mnist``: ``NMNIST`` (see the package)."""

from . import NMNIST

__all__ = ["NMNIST"]
