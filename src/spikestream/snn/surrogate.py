"""Surrogate gradients: a Heaviside step forward, a smooth derivative backward.

Formulas and defaults follow SpikingJelly 2.0 (``ATan(alpha=2)``, ``Sigmoid(alpha=4)``,
``PiecewiseQuadratic(alpha=1)``) and Norse (``SuperSpike``: ``1 / (alpha |x| + 1)^2``; Norse's
``'super'`` method ignores alpha, i.e. ``alpha=1``). SpikingJelly's step is non-strict
(``x >= 0`` spikes); Norse's is strict (``x > 0``): ``strict=`` chooses.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return surrogate.heaviside(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class: ``surrogate(x)`` is the spike (a step) with this derivative for gradients;
    ``spiking=False`` makes ``surrogate(x)`` the smooth primitive instead."""

    def __init__(self, alpha: float, spiking: bool = True, strict: bool = False):
        if alpha <= 0:
            raise ConfigError(f"alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)
        self.spiking = spiking
        self.strict = strict

    def heaviside(self, x: torch.Tensor) -> torch.Tensor:
        return ((x > 0) if self.strict else (x >= 0)).to(x.dtype)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _Spike.apply(x, self) if self.spiking else self.primitive(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, spiking={self.spiking})"


class ATan(Surrogate):
    """``sg(x) = (alpha / 2) / (1 + (pi/2 alpha x)^2)``;
    primitive ``atan(pi/2 alpha x) / pi + 1/2``."""

    def __init__(self, alpha: float = 2.0, spiking: bool = True, strict: bool = False):
        super().__init__(alpha, spiking, strict)

    def derivative(self, x):
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x).pow(2))

    def primitive(self, x):
        return (math.pi / 2 * self.alpha * x).atan() / math.pi + 0.5


class Sigmoid(Surrogate):
    """``sg(x) = alpha sigma(alpha x)(1 - sigma(alpha x))``, primitive ``sigma(alpha x)``."""

    def __init__(self, alpha: float = 4.0, spiking: bool = True, strict: bool = False):
        super().__init__(alpha, spiking, strict)

    def derivative(self, x):
        s = torch.sigmoid(self.alpha * x)
        return (1 - s) * s * self.alpha

    def primitive(self, x):
        return torch.sigmoid(self.alpha * x)


class PiecewiseQuadratic(Surrogate):
    """``sg(x) = alpha - alpha^2 |x|`` for ``|x| <= 1/alpha``, else 0."""

    def __init__(self, alpha: float = 1.0, spiking: bool = True, strict: bool = False):
        super().__init__(alpha, spiking, strict)

    def derivative(self, x):
        a = self.alpha
        return (-(a**2) * x.abs() + a).masked_fill(x.abs() > 1 / a, 0)

    def primitive(self, x):
        a = self.alpha
        mid = -(a**2) / 2 * x * x.abs() + a * x + 0.5
        return torch.where(x > 1 / a, torch.ones_like(x), torch.where(x < -1 / a, 0 * x, mid))


class SuperSpike(Surrogate):
    """Fast sigmoid / SuperSpike: ``sg(x) = 1 / (alpha |x| + 1)^2``. Norse's ``'super'`` is
    ``SuperSpike(alpha=1, strict=True)`` (Norse 1.1 ignores its alpha argument)."""

    def __init__(self, alpha: float = 1.0, spiking: bool = True, strict: bool = False):
        super().__init__(alpha, spiking, strict)

    def derivative(self, x):
        return 1 / (self.alpha * x.abs() + 1).pow(2)

    def primitive(self, x):
        return self.alpha * x / (1 + self.alpha * x.abs()) / 2 + 0.5


FastSigmoid = SuperSpike

#: Ids the fused kernels understand, by class.
KERNEL_IDS = {ATan: 0, Sigmoid: 1, PiecewiseQuadratic: 2, SuperSpike: 3}
