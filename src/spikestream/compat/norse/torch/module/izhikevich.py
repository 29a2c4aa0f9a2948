"""``norse.torch.module.izhikevich``: Izhikevich cells and layers with Norse 1.1's equations,
parameters, state types and named presets (``tonic_spiking``, ``phasic_bursting``, ...: the
parameters and resting state of Izhikevich 2004's behaviours as Norse gives them), built on
`spikestream.snn.norse` (the equations are there).

* ``IzhikevichCell(spiking_method, dt)``: ``z, IzhikevichState(v, u) = cell(x, state)``.
* ``IzhikevichRecurrentCell(input_size, hidden_size, spiking_method, input_weights=,
  recurrent_weights=, autapses=False, dt=)``: ``z, IzhikevichRecurrentState(z, v, u)``.
* ``Izhikevich`` / ``IzhikevichRecurrent``: the same over ``[T, ...]``: ``(z_seq, state)``.

Units as in Norse: v in mV, ``tau_inv * dt`` scales the per-ms equations (250 * 0.001 = 0.25 ms
per step). The cells start from the preset's resting state broadcast to the input's shape.

Spikes and states equal Norse 1.1.0's bit for bit (forward pass; the parameters stay Python
numbers, as Norse keeps them); gradients agree to ~1e-6 relative, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch

from .....errors import ConfigError
from .....snn import norse as _norse
from ._params import check_dt, check_kwargs, check_sizes, number_fields, run_sequence

IzhikevichParameters = _norse.IzhikevichParameters
IzhikevichState = _norse.IzhikevichState
IzhikevichRecurrentState = _norse.IzhikevichRecurrentState
IzhikevichSpikingBehavior = _norse.IzhikevichSpikingBehavior

_NUMERIC = ("a", "b", "c", "d", "sq", "mn", "bias", "v_th", "tau_inv")


def create_izhikevich_spiking_behavior(a: float, b: float, c: float, d: float, v_rest: float,
                                       u_rest: float, tau_inv: float = 250,
                                       ) -> IzhikevichSpikingBehavior:  # fmt: skip
    """A custom behaviour: parameters (a, b, c, d, tau_inv) and the resting state
    ``v = v_rest``, ``u = u_rest * b`` (Norse's rule)."""
    p = IzhikevichParameters(a=a, b=b, c=c, d=d, tau_inv=tau_inv)
    number_fields(p, _NUMERIC, cell="create_izhikevich_spiking_behavior",
                  expected=IzhikevichParameters)  # fmt: skip
    return IzhikevichSpikingBehavior(
        p, IzhikevichState(torch.tensor(float(v_rest)), torch.tensor(float(u_rest)) * p.b)
    )


def _preset(a: float, b: float, c: float, d: float, v_rest: float, tau_inv: float = 250,
            mn: float = 5, bias: float = 140) -> IzhikevichSpikingBehavior:  # fmt: skip
    p = IzhikevichParameters(a=a, b=b, c=c, d=d, mn=mn, bias=bias, tau_inv=tau_inv)
    v = torch.tensor(float(v_rest))
    return IzhikevichSpikingBehavior(p, IzhikevichState(v, v * b))


# Norse 1.1's presets: (a, b, c, d), the resting v (u = v * b) and tau_inv where not 250
tonic_spiking = _preset(0.02, 0.2, -65, 6, -70)
phasic_spiking = _preset(0.02, 0.25, -65, 6, -64)
tonic_bursting = _preset(0.02, 0.2, -50, 2, -70)
phasic_bursting = _preset(0.02, 0.25, -55, 0.05, -64, tau_inv=200)
mixed_mode = _preset(0.02, 0.2, -55, 4, -70)
spike_frequency_adaptation = _preset(0.01, 0.2, -65, 8, -70)
class_1_exc = _preset(0.02, -0.1, -55, 6, -60, mn=4.1, bias=108)
class_2_exc = _preset(0.2, 0.26, -65, 0, -64)
spike_latency = _preset(0.02, 0.2, -65, 6, -70)
subthreshold_oscillation = _preset(0.05, 0.26, -60, 0, -62)
resonator = _preset(0.1, 0.26, -60, -1, -62)
integrator = _preset(0.02, -0.1, -55, 6, -60, mn=4.1, bias=108)
rebound_spike = _preset(0.03, 0.25, -60, 4, -64, tau_inv=200)
rebound_burst = _preset(0.03, 0.25, -52, 0, -64, tau_inv=200)
threshold_variability = _preset(0.03, 0.25, -60, 4, -64)
bistability = _preset(0.1, 0.26, -60, 0, -61)
dap = _preset(1.0, 0.2, -60, -21, -70, tau_inv=100)
# Norse's one preset whose resting u is not v * b
accomodation = IzhikevichSpikingBehavior(
    IzhikevichParameters(a=0.02, b=1.0, c=-55, d=4, tau_inv=500),
    IzhikevichState(torch.tensor(-65.0), torch.tensor(-16.0)),
)
inhibition_induced_spiking = _preset(-0.02, -1.0, -60, 8, -63.8)
inhibition_induced_bursting = _preset(-0.026, -1.0, -45, -2, -63.8)


def _behavior(cls: str, spiking_method: Any) -> IzhikevichSpikingBehavior:
    """The preset checked: Norse's cells take a behaviour (parameters + resting state)."""
    p, s = getattr(spiking_method, "p", None), getattr(spiking_method, "s", None)
    if not isinstance(p, _norse.IzhikevichParameters) or not isinstance(s, tuple):
        raise ConfigError(
            f"{cls} takes an IzhikevichSpikingBehavior (a preset such as tonic_spiking, or "
            f"create_izhikevich_spiking_behavior(a, b, c, d, v_rest, u_rest)), got "
            f"{type(spiking_method).__name__}"
        )
    number_fields(p, _NUMERIC, cell=cls, expected=IzhikevichParameters)
    rest = []
    for name in ("v", "u"):
        value = getattr(s, name, None)
        if not isinstance(value, (int, float, torch.Tensor)) or torch.as_tensor(value).numel() != 1:
            raise ConfigError(f"{cls}: the behaviour's resting state {name} must be one number, "
                              f"got {value!r}")  # fmt: skip
        rest.append(torch.as_tensor(value))
    return IzhikevichSpikingBehavior(p, IzhikevichState(*rest))


class IzhikevichCell(_norse.IzhikevichCell):
    def __init__(self, spiking_method: IzhikevichSpikingBehavior, dt: float = 0.001,
                 **kwargs: Any):  # fmt: skip
        check_kwargs("IzhikevichCell", kwargs)
        super().__init__(_behavior("IzhikevichCell", spiking_method),
                         check_dt("IzhikevichCell", dt))  # fmt: skip


class IzhikevichRecurrentCell(_norse.IzhikevichRecurrentCell):
    def __init__(self, input_size: int, hidden_size: int,
                 spiking_method: IzhikevichSpikingBehavior,
                 input_weights: torch.Tensor | None = None,
                 recurrent_weights: torch.Tensor | None = None, autapses: bool = False,
                 dt: float = 0.001, **kwargs: Any):  # fmt: skip
        name = type(self).__name__
        check_kwargs(name, kwargs)
        n_in, n_hidden = check_sizes(name, input_size=input_size, hidden_size=hidden_size)
        super().__init__(n_in, n_hidden, _behavior(name, spiking_method), check_dt(name, dt),
                         autapses, input_weights, recurrent_weights)  # fmt: skip


class Izhikevich(torch.nn.Module):
    """``IzhikevichCell`` over a ``[T, ...]`` sequence: ``z_seq, IzhikevichState = layer(x)``."""

    def __init__(self, spiking_method: IzhikevichSpikingBehavior, dt: float = 0.001,
                 **kwargs: Any):  # fmt: skip
        super().__init__()
        check_kwargs("Izhikevich", kwargs)
        self.cell = IzhikevichCell(spiking_method, dt)
        self.spiking_method, self.p, self.dt = self.cell.spiking_method, self.cell.p, self.cell.dt

    def forward(self, input_tensor: torch.Tensor, state: IzhikevichState | None = None):
        return run_sequence(self.cell, input_tensor, state)


class IzhikevichRecurrent(IzhikevichRecurrentCell):
    """``IzhikevichRecurrentCell`` over a ``[T, N, input_size]`` sequence:
    ``z_seq, IzhikevichRecurrentState = layer(x_seq)``."""

    def forward(self, input_tensor: torch.Tensor, state: Any = None):
        return run_sequence(super().forward, input_tensor, state)


__all__ = [
    "Izhikevich",
    "IzhikevichCell",
    "IzhikevichParameters",
    "IzhikevichRecurrent",
    "IzhikevichRecurrentCell",
    "IzhikevichRecurrentState",
    "IzhikevichSpikingBehavior",
    "IzhikevichState",
    "accomodation",
    "bistability",
    "class_1_exc",
    "class_2_exc",
    "create_izhikevich_spiking_behavior",
    "dap",
    "inhibition_induced_bursting",
    "inhibition_induced_spiking",
    "integrator",
    "mixed_mode",
    "phasic_bursting",
    "phasic_spiking",
    "rebound_burst",
    "rebound_spike",
    "resonator",
    "spike_frequency_adaptation",
    "spike_latency",
    "subthreshold_oscillation",
    "threshold_variability",
    "tonic_bursting",
    "tonic_spiking",
]
