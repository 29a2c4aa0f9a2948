"""The recurrent SNN of the Norse/Tonic POKER-DVS tutorial (`RecurrentSNN`, ``rsnn_pokerdvs``).

One recurrent layer of current-based LIF neurons (Norse 1.1's ``LIFRecurrentCell``: strict
threshold, SuperSpike surrogate, detached reset, no autapses), a bias-free linear readout into
leaky integrators (``LICell``), and the notebook's decoding: ``log_softmax`` of the maximum over
time of the readout voltages. Per step, in Norse's float32 operation order::

    i_jump = (i + W_in x_t) + W_rec z_prev
    v_dec  = v + a ((v_leak - v) + i_jump)        a = dt tau_mem_inv, b = (-dt) tau_syn_inv
    i      = i_jump + b i_jump
    z      = v_dec - v_th > 0
    v      = (1 - z) v_dec + z v_reset
    j      = i_o + W_out z;  v_o = v_o + a_o ((v_leak_o - v_o) + j);  i_o = j + b_o j

Given the same weights it reproduces Norse 1.1 (golden file ``H_norse_rsnn.npz``): spikes
exactly, states and log-probabilities to float32 rounding, every gradient. The state_dict keys
are Norse's (``l1.input_weights``, ``l1.recurrent_weights``, ``fc_out.weight``), so the
notebook's ``SNN`` weights load unchanged; built after ``torch.manual_seed(s)`` it draws the same
initial weights as the notebook's ``SNN`` after the same seed.

Speed: the input and readout projections run as one matrix product over all steps, and the
recurrence is one autograd node with a hand-written backward (the surrogate gradient and the
detached reset worked out by hand), instead of a graph of ~15 nodes per step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from ..errors import ConfigError
from ..snn.norse import LICell, LIFParameters, LIFRecurrentCell, LIParameters
from .registry import register_model

__all__ = ["RSNNState", "RSNNTrace", "RecurrentSNN", "rsnn_pokerdvs"]


class RSNNState(NamedTuple):
    """State after a step: hidden spikes ``z``, membrane ``v`` and current ``i`` ``[N, hidden]``;
    readout membrane ``v_out`` and current ``i_out`` ``[N, classes]``; ``v_max``, the running
    maximum of the readout membrane (``-inf`` before the first step) that the decoding reads."""

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    v_out: torch.Tensor
    i_out: torch.Tensor
    v_max: torch.Tensor


class RSNNTrace(NamedTuple):
    """Every step's state, ``[N, T, ...]``: hidden ``z``, ``v`` (after reset), ``i``; readout
    ``v_out`` (the notebook's ``voltages``) and ``i_out``."""

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    v_out: torch.Tensor
    i_out: torch.Tensor


class _Consts(NamedTuple):
    """Euler constants as 0-d float32 tensors formed as Norse forms them (``dt * tau_inv`` in
    float32), so products round as Norse's do; 0-d tensors also dispatch faster than Python
    floats (no scalar wrapping per op), and a CPU 0-d tensor combines with any device."""

    a: torch.Tensor
    b: torch.Tensor
    v_leak: torch.Tensor
    v_th: torch.Tensor
    v_reset: torch.Tensor
    a_o: torch.Tensor
    b_o: torch.Tensor
    v_leak_o: torch.Tensor
    one: torch.Tensor
    reset_to_zero: bool


def _recurrence_fwd(xin, w_rec, w_out, z0, v0, i0, vo0, io0, k: _Consts):
    """Forward of the recurrence without autograd bookkeeping; returns the five sequences and
    the pre-reset potentials the backward needs."""
    steps = xin.shape[0]
    w_rec_t = w_rec.t()
    z, v, i = z0, v0, i0
    zs, vs, is_, ds = [], [], [], []
    for t in range(steps):
        j = i + xin[t]  # Norse's order: (i + W_in x) + W_rec z (float sums do not associate)
        j = j + torch.mm(z, w_rec_t)
        d = v + k.a * ((k.v_leak - v) + j)
        i = j + k.b * j
        # strict threshold: sign(d - v_th) is 1 exactly where d > v_th, clamped to {0, 1}
        z = (d - k.v_th).sign_().clamp_(min=0)
        # (1 - z) d + z v_reset, Norse's reset; with v_reset 0 its second term adds nothing
        v = d * (k.one - z) if k.reset_to_zero else (k.one - z) * d + z * k.v_reset
        zs.append(z)
        vs.append(v)
        is_.append(i)
        ds.append(d)
    z_seq = torch.stack(zs)
    u = torch.matmul(z_seq, w_out.t())  # every step's readout input in one product
    vo, io = vo0, io0
    vos, ios = [], []
    for t in range(steps):
        j = io + u[t]
        vo = vo + k.a_o * ((k.v_leak_o - vo) + j)
        io = j + k.b_o * j
        vos.append(vo)
        ios.append(io)
    seqs = (z_seq, torch.stack(vs), torch.stack(is_), torch.stack(vos), torch.stack(ios))
    return seqs, torch.stack(ds)


def _plus(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    return b if a is None else a + b


def _recurrence_bwd(g_z, g_v, g_i, g_vo, g_io, d_seq, z_seq, z0, w_rec, w_out, k: _Consts):
    """Backward of `_recurrence_fwd` by hand: the readout integrators from the last step, then
    the hidden layer (surrogate ``1 / (|v_dec - v_th| + 1)^2``, the reset detached). An
    upstream gradient may be None (an output the loss does not read). Returns the gradients of
    ``xin, w_rec, w_out, z0, v0, i0, vo0, io0``."""
    steps, batch, hidden = d_seq.shape
    zeros_o = d_seq.new_zeros(batch, w_out.shape[0])
    gvo_c, gio_c = zeros_o, zeros_o
    # d v_o / d v_o(prev) and d i_o / d j, formed in float64 (exact for float64 models too)
    keep_o, jump_o = 1 - k.a_o.double(), 1 + k.b_o.double()
    g_u = []
    for t in range(steps - 1, -1, -1):
        gvo = gvo_c if g_vo is None else g_vo[t] + gvo_c
        gio = gio_c if g_io is None else g_io[t] + gio_c
        gj = gvo * k.a_o + gio * jump_o
        g_u.append(gj)
        gvo_c = gvo * keep_o
        gio_c = gj
    g_u_seq = torch.stack(g_u[::-1])  # [T, N, C]
    g_w_out = g_u_seq.flatten(0, 1).t().mm(z_seq.flatten(0, 1))
    g_z = _plus(g_z, torch.matmul(g_u_seq, w_out))
    sg = ((d_seq - k.v_th).abs_() + 1).pow_(2).reciprocal_()
    keep = k.one - z_seq  # d v / d v_dec (the reset detached)
    keep_v, jump = 1 - k.a.double(), 1 + k.b.double()
    zeros = d_seq.new_zeros(batch, hidden)
    gz_c, gv_c, gi_c = zeros, zeros, zeros
    g_j = []
    for t in range(steps - 1, -1, -1):
        gv = gv_c if g_v is None else g_v[t] + gv_c
        gi = gi_c if g_i is None else g_i[t] + gi_c
        gd = (g_z[t] + gz_c) * sg[t] + gv * keep[t]
        gj = gd * k.a + gi * jump
        g_j.append(gj)
        gz_c = torch.mm(gj, w_rec)
        gv_c = gd * keep_v
        gi_c = gj
    g_xin = torch.stack(g_j[::-1])  # [T, N, H]
    z_prev = torch.cat([z0.unsqueeze(0), z_seq[:-1]])
    g_w_rec = g_xin.flatten(0, 1).t().mm(z_prev.flatten(0, 1))
    return g_xin, g_w_rec, g_w_out, gz_c, gv_c, gi_c, gvo_c, gio_c


class _Recurrence(torch.autograd.Function):
    """The hidden recurrence and the readout integrators over ``T`` steps as one autograd node
    (inputs: ``xin = W_in x`` ``[T, N, H]``, ``w_rec``, ``w_out``, the initial state; outputs:
    the five state sequences ``[T, N, .]``)."""

    @staticmethod
    def forward(ctx: Any, xin, w_rec, w_out, z0, v0, i0, vo0, io0, k: _Consts):
        seqs, d_seq = _recurrence_fwd(xin, w_rec, w_out, z0, v0, i0, vo0, io0, k)
        ctx.save_for_backward(d_seq, seqs[0], z0, w_rec, w_out)
        ctx.k = k
        ctx.set_materialize_grads(False)  # outputs the loss never reads cost nothing
        return seqs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_z, g_v, g_i, g_vo, g_io):
        d_seq, z_seq, z0, w_rec, w_out = ctx.saved_tensors
        grads = _recurrence_bwd(g_z, g_v, g_i, g_vo, g_io, d_seq, z_seq, z0, w_rec, w_out, ctx.k)
        return (*grads, None)


def _as_f32(value: float | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float32)


def _euler(
    dt: float, tau_mem_inv: torch.Tensor, tau_syn_inv: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``dt * tau_mem_inv`` and ``(-dt) * tau_syn_inv`` as Norse forms them: float32 products."""
    dt_t = _as_f32(dt)
    return dt_t * tau_mem_inv, (-dt_t) * tau_syn_inv


class RecurrentSNN(nn.Module):
    """Norse's recurrent LIF layer, a linear readout into leaky integrators, and max-over-time
    decoding (the POKER-DVS tutorial network).

    Input ``x``: ``[N, T, *input_shape]`` (``[N, T, 2, 35, 35]`` 1 ms frames for POKER-DVS) or
    ``[N, T, prod(input_shape)]``, batch first (the notebook's loader gives ``[T, N, ...]``:
    transpose it); flattened per step in ``(p, y, x)`` order as the notebook does. Output of
    ``forward``: ``[N, classes]`` log-probabilities, ``log_softmax(max_t v_out)`` (train with
    ``nll_loss``). ``run`` gives the decision after every step, ``trace`` every step's state,
    and ``init_state``/``step`` run one step at a time (equal to ``run`` step for step).

    Modules as the notebook's ``SNN``: ``l1`` (`spikestream.snn.norse.LIFRecurrentCell`, which
    holds ``input_weights``, ``recurrent_weights``, ``p`` and ``dt``), ``fc_out``
    (``Linear(hidden, classes, bias=False)``) and ``out`` (`spikestream.snn.norse.LICell`); the
    forward runs their equations fused rather than calling them step by step.

    ``autapses=False`` (Norse's default) keeps the recurrent diagonal at zero: the forward
    multiplies the weights by a zero-diagonal mask, so its gradient is zero there, as Norse's hook
    makes it (Norse itself would use a non-zero diagonal loaded from a checkpoint; this does not).
    ``method='super'`` is the only surrogate (Norse 1.1 ignores ``alpha`` with it).
    """

    _rec_mask: torch.Tensor

    def __init__(
        self,
        input_shape: int | tuple[int, ...] = (2, 35, 35),
        hidden: int = 100,
        classes: int = 4,
        v_th: float = 0.3,
        tau_syn_inv: float = 100.0,
        tau_mem_inv: float = 100.0,
        v_leak: float = 0.0,
        v_reset: float = 0.0,
        readout_tau_syn_inv: float = 200.0,
        readout_tau_mem_inv: float = 100.0,
        readout_v_leak: float = 0.0,
        dt: float = 1e-3,
        autapses: bool = False,
        method: str = "super",
        alpha: float = 100.0,
    ):
        super().__init__()
        shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        if not shape or any(not isinstance(s, int) or s < 1 for s in shape):
            raise ConfigError(
                f"input_shape must be positive ints (e.g. (2, 35, 35)), got {input_shape!r}"
            )
        for name, value in (("hidden", hidden), ("classes", classes)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        for name, rate in (
            ("dt", dt),
            ("tau_syn_inv", tau_syn_inv),
            ("tau_mem_inv", tau_mem_inv),
            ("readout_tau_syn_inv", readout_tau_syn_inv),
            ("readout_tau_mem_inv", readout_tau_mem_inv),
        ):
            if not rate > 0:
                raise ConfigError(f"{name} must be > 0, got {rate!r}")
        if method != "super":
            raise ConfigError(f"surrogate method {method!r} is not available (known: 'super')")
        self.input_shape = shape
        self.input_size = int(torch.tensor(shape).prod())
        self.hidden = hidden
        self.classes = classes
        self.dt = float(dt)
        self.autapses = autapses
        self.p = LIFParameters(
            _as_f32(tau_syn_inv), _as_f32(tau_mem_inv), _as_f32(v_leak), _as_f32(v_th),
            _as_f32(v_reset), method, alpha,
        )  # fmt: skip
        self.p_out = LIParameters(
            _as_f32(readout_tau_syn_inv), _as_f32(readout_tau_mem_inv), _as_f32(readout_v_leak)
        )
        self._rest = (float(v_leak), float(readout_v_leak))  # floats: no .item() when compiled
        a, b = _euler(dt, self.p.tau_mem_inv, self.p.tau_syn_inv)
        a_o, b_o = _euler(dt, self.p_out.tau_mem_inv, self.p_out.tau_syn_inv)
        self._k = _Consts(
            a, b, self.p.v_leak, self.p.v_th, self.p.v_reset, a_o, b_o, self.p_out.v_leak,
            _as_f32(1.0), float(self.p.v_reset) == 0.0,
        )  # fmt: skip
        # The notebook's modules (l1, fc_out, out: the state_dict keys and the structure an
        # exporter walks), built in its order, so the same seed draws the same weights.
        # autapses=True for the cell: this model keeps the diagonal out itself (a mask in the
        # forward), which moves with the model and survives copies, where a gradient hook would not.
        # The cell draws Norse's initial weights itself (randn * sqrt(2 / hidden), Norse's order).
        self.l1 = LIFRecurrentCell(self.input_size, hidden, p=self.p, dt=self.dt, autapses=True)
        if not autapses:
            with torch.no_grad():
                self.l1.recurrent_weights.fill_diagonal_(0.0)
        self.fc_out = nn.Linear(hidden, classes, bias=False)
        self.out = LICell(self.p_out, dt=self.dt)
        # not in the state_dict: the keys stay Norse's
        self.register_buffer("_rec_mask", 1 - torch.eye(hidden), persistent=False)

    def extra_repr(self) -> str:
        return (
            f"input_shape={self.input_shape}, hidden={self.hidden}, classes={self.classes}, "
            f"v_th={float(self.p.v_th):g}, tau_syn_inv={float(self.p.tau_syn_inv):g}, "
            f"tau_mem_inv={float(self.p.tau_mem_inv):g}, dt={self.dt:g}, autapses={self.autapses}"
        )

    # -- state ---------------------------------------------------------------------------------

    def init_state(
        self,
        batch: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> RSNNState:
        """The state before the first step (Norse's: zeros, membranes at ``v_leak``)."""
        w = self.fc_out.weight
        kw: dict[str, Any] = {"device": device or w.device, "dtype": dtype or w.dtype}
        hid, out = (batch, self.hidden), (batch, self.classes)
        return RSNNState(
            torch.zeros(hid, **kw),
            torch.full(hid, self._rest[0], **kw),
            torch.zeros(hid, **kw),
            torch.full(out, self._rest[1], **kw),
            torch.zeros(out, **kw),
            torch.full(out, float("-inf"), **kw),
        )

    # -- running -------------------------------------------------------------------------------

    def _sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``[N, T, input_size]`` (a view where possible), checked."""
        if x.ndim < 3:
            raise ConfigError(
                f"RecurrentSNN takes [N, T, {', '.join(map(str, self.input_shape))}] frames "
                f"(or [N, T, {self.input_size}]), got shape {tuple(x.shape)}"
            )
        if x.shape[1] < 1:
            raise ConfigError("RecurrentSNN needs at least one time step (x.shape[1] >= 1)")
        feat = tuple(x.shape[2:])
        if feat != self.input_shape and feat != (self.input_size,):
            raise ConfigError(
                f"RecurrentSNN built for input_shape={self.input_shape} got frames of shape "
                f"{feat} per step; pass input_shape={feat} to create() or resize the frames"
            )
        if x.dtype != self.fc_out.weight.dtype:  # event counts as integers, float64 frames
            x = x.to(self.fc_out.weight.dtype)
        return x.reshape(x.shape[0], x.shape[1], self.input_size)

    def _run(
        self, x: torch.Tensor, state: RSNNState | None
    ) -> tuple[tuple[torch.Tensor, ...], RSNNState]:
        """The five state sequences ``[T, N, .]`` and the final state."""
        seq = self._sequence(x)
        if state is None:
            s = self.init_state(seq.shape[0], seq.device, seq.dtype)
        else:
            want = (seq.shape[0], self.hidden)
            ok = isinstance(state, tuple) and len(state) == 6
            if not ok or tuple(state[0].shape) != want:
                got = f"z of shape {tuple(state[0].shape)}" if ok else repr(type(state).__name__)
                raise ConfigError(
                    f"RecurrentSNN state must be an RSNNState for {want[0]} samples and "
                    f"{want[1]} hidden neurons (z of shape {want}), got {got}; make it with "
                    f"init_state({want[0]})"
                )
            s = RSNNState(*state)
        # one product for every step; [T, N, hidden] for the loop
        xin = nn.functional.linear(seq, self.l1.input_weights).transpose(0, 1).contiguous()
        w_rec: torch.Tensor = self.l1.recurrent_weights
        if not self.autapses:
            w_rec = w_rec * self._rec_mask
        seqs = _Recurrence.apply(
            xin, w_rec, self.fc_out.weight, s.z, s.v, s.i, s.v_out, s.i_out, self._k
        )
        v_max = torch.maximum(s.v_max, torch.max(seqs[3], 0).values)
        final = RSNNState(seqs[0][-1], seqs[1][-1], seqs[2][-1], seqs[3][-1], seqs[4][-1], v_max)
        return seqs, final

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, T, ...]`` frames -> ``[N, classes]`` log-probabilities (a fresh state)."""
        seqs, _ = self._run(x, None)
        # torch.max over time, as the notebook: its gradient goes to one step even on ties
        return torch.log_softmax(torch.max(seqs[3], 0).values, dim=1)

    def run(
        self, x: torch.Tensor, state: RSNNState | None = None
    ) -> tuple[torch.Tensor, RSNNState]:
        """The decision after every step, ``[N, T, classes]`` log-probabilities of the running
        maximum (continuing ``state`` if given), and the final state."""
        seqs, final = self._run(x, state)
        v_max = torch.cummax(seqs[3], 0).values
        if state is not None:
            v_max = torch.maximum(v_max, state[5])  # v_max (any 6-tuple is accepted)
        return torch.log_softmax(v_max, dim=2).transpose(0, 1), final

    def trace(self, x: torch.Tensor, state: RSNNState | None = None) -> tuple[RSNNTrace, RSNNState]:
        """Every step's state ``[N, T, ...]`` (hidden z, v after reset, i; readout v, i) and the
        final state."""
        seqs, final = self._run(x, state)
        return RSNNTrace(*(s.transpose(0, 1) for s in seqs)), final

    def step(self, x_t: torch.Tensor, state: RSNNState) -> tuple[torch.Tensor, RSNNState]:
        """One time step: ``x_t`` ``[N, *input_shape]`` -> the decision so far ``[N, classes]``
        (log-probabilities of the running maximum) and the new state."""
        _, final = self._run(x_t.unsqueeze(1), state)
        return torch.log_softmax(final.v_max, dim=1), final


def _cfg(**overrides: Any) -> dict[str, Any]:
    """The tutorial's configuration, with ``overrides``."""
    cfg: dict[str, Any] = dict(
        input_shape=(2, 35, 35), hidden=100, classes=4, v_th=0.3, tau_syn_inv=100.0,
        tau_mem_inv=100.0, dt=1e-3,
    )  # fmt: skip
    cfg.update(overrides)
    return cfg


def _create_rsnn(**cfg: Any) -> RecurrentSNN:
    return RecurrentSNN(**cfg)


@register_model
def rsnn_pokerdvs(**overrides: Any) -> RecurrentSNN:
    """Norse/Tonic POKER-DVS RSNN: [N, T, 2, 35, 35] 1 ms frames -> [N, 4] log-probabilities.

    Recurrent LIF 2450-100 (v_th 0.3, tau_syn_inv = tau_mem_inv = 100, dt 1 ms), linear readout
    into leaky integrators, log_softmax of the maximum over time; matches Norse 1.1 (golden H)."""
    return _create_rsnn(**_cfg(**overrides))
