"""Multi-step IF / LIF / PLIF: one forward and backward for a whole sequence.

The maths (SpikingJelly 2.0, float32, in this operation order): with ``vr = v_reset`` (0 for a
soft reset),

* charge: IF ``h = v + x``; LIF ``h = v + (x - (v - vr)) / tau`` (``decay_input``) or
  ``h = v - (v - vr) / tau + x``; PLIF the same with ``* k`` (``k = sigmoid(w)``) for ``/ tau``;
* fire: ``s = h >= v_th``;
* reset: hard ``v = s vr + (1 - s) h``, soft ``v = h - s v_th``.

Backward, from the last step, with ``sg = surrogate'(h - v_th)`` and ``R = dv/dh``
(hard: ``(1 - s) + (vr - h) sg``, soft: ``1 - v_th sg``; ``detach_reset`` drops the sg terms):
``gh = gs sg + (gv + carry) R``, ``gx = gh dh/dx``, ``carry = gh dh/dv`` (computed as
``gh - gh / tau`` or ``gh - gh k``), and PLIF's ``gw = sigmoid'(w) sum gh c`` with
``c = x - (v_prev - vr)`` (decay_input) or ``-(v_prev - vr)``.

Three implementations behind one dispatch point: ``torch`` (a plain loop, autograd does the
backward; the reference), ``triton`` (CUDA tensors, `triton_kernels`) and ``cpu`` (numba,
parallel over neurons, zero-copy on the tensors'
memory; the forward stores nothing beyond its outputs: the backward recomputes the charged
potentials from the saved input, chunk by chunk in cache, which moves less memory than writing
and re-reading them). A fused kernel may only skip work, never change the
maths: tests compare it with the reference. ``SPIKESTREAM_SNN_BACKEND`` overrides the choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numba
import numpy as np
import torch

from ..errors import ConfigError
from .surrogate import KERNEL_IDS, Surrogate

IF, LIF, PLIF = 0, 1, 2


@dataclass(frozen=True)
class NeuronSpec:
    kind: int  # IF, LIF or PLIF
    v_threshold: float
    v_reset: float | None
    decay_input: bool
    detach_reset: bool
    surrogate: Surrogate


def charge(spec: NeuronSpec, v: torch.Tensor, x: torch.Tensor, decay) -> torch.Tensor:
    """One charge step in torch (``decay`` is tau for LIF, k for PLIF)."""
    vr = 0.0 if spec.v_reset is None else spec.v_reset
    if spec.kind == IF:
        return v + x
    if spec.kind == LIF:
        return v + (x - (v - vr)) / decay if spec.decay_input else v - (v - vr) / decay + x
    return v + (x - (v - vr)) * decay if spec.decay_input else v - (v - vr) * decay + x


def reset(spec: NeuronSpec, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    s_r = s.detach() if spec.detach_reset else s
    if spec.v_reset is None:
        return h - s_r * spec.v_threshold
    return s_r * spec.v_reset + (1 - s_r) * h


def torch_multistep(
    spec: NeuronSpec, x_seq: torch.Tensor, v: torch.Tensor, decay, store_v_seq: bool = True
):
    """Reference: a plain loop of charge / fire / reset. Returns (spikes, v after each step or
    None, last v). ``decay``: tau for LIF, the parameter w for PLIF (k = sigmoid(w))."""
    if spec.kind == PLIF:
        decay = torch.sigmoid(decay)
    spikes, vs = [], []
    for t in range(x_seq.shape[0]):
        h = charge(spec, v, x_seq[t], decay)
        s = spec.surrogate(h - spec.v_threshold)
        v = reset(spec, h, s)
        spikes.append(s)
        vs.append(v)
    return torch.stack(spikes), torch.stack(vs) if store_v_seq else None, v


# ---------------------------------------------------------------------------- compiled kernels


@numba.njit(inline="always", error_model="numpy")
def _sg(kind, alpha, x):  # pragma: no cover - compiled; float32 in, float32 out
    one = np.float32(1.0)
    if kind == 0:
        z = np.float32(np.pi / 2) * alpha * x
        return alpha / np.float32(2.0) / (one + z * z)
    if kind == 1:
        s = one / (one + np.exp(-alpha * x))
        return (one - s) * s * alpha
    if kind == 2:
        ax = abs(x)
        return alpha - alpha * alpha * ax if ax <= one / alpha else np.float32(0.0)
    d = alpha * abs(x) + one
    return one / (d * d)


# Neurons are split into chunks run in parallel; inside a chunk the time loop is outside and
# the neuron loop inside, so every access is contiguous and the inner loop vectorises (about 7x
# faster than one neuron's whole time loop at a time, which strides through memory).
# error_model="numpy": no ZeroDivisionError check on each division (tau and k are never 0),
# which is what keeps the loops vectorisable (2x); the arithmetic itself is unchanged.
CHUNKS = 64


@numba.njit(inline="always", error_model="numpy")
def _charge(kind, decay_input, v, x, decay, vr):  # pragma: no cover - compiled, float32
    if kind == 0:
        return v + x
    if kind == 1:
        return v + (x - (v - vr)) / decay if decay_input else v - (v - vr) / decay + x
    return v + (x - (v - vr)) * decay if decay_input else v - (v - vr) * decay + x


@numba.njit(inline="always", error_model="numpy")
def _reset(hard, h, s, vr, vth):  # pragma: no cover - compiled, float32
    return s * vr + (np.float32(1.0) - s) * h if hard else h - s * vth


@numba.njit(inline="always")
def _chunk(c, n):  # pragma: no cover - compiled
    """[lo, hi) of neuron chunk ``c`` of `CHUNKS`."""
    size = (n + CHUNKS - 1) // CHUNKS
    return c * size, min(n, (c + 1) * size)


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _forward(x, v0, kind, decay, vth, vr, hard, decay_input, s_out, v_out, v_last, store_v):
    # pragma: no cover - compiled. x, s_out, v_out: [T, N] float32; v0, v_last: [N]
    steps, n = x.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for c in numba.prange(CHUNKS):
        lo, hi = _chunk(c, n)
        if lo >= hi:
            continue
        v = v0[lo:hi].copy()
        for t in range(steps):
            for j in range(hi - lo):
                h = _charge(kind, decay_input, v[j], x[t, lo + j], decay, vr)
                st = one if h >= vth else zero
                vj = _reset(hard, h, st, vr, vth)
                s_out[t, lo + j] = st
                if store_v:
                    v_out[t, lo + j] = vj
                v[j] = vj
        for j in range(hi - lo):
            v_last[lo + j] = v[j]


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _backward(
    gs, gv, gv_last, x, v0, kind, decay, vth, vr, hard, decay_input, detach, sg_kind, alpha,
    has_gv, has_gv_last, gx, gv0, gw_parts,
):  # fmt: skip  # pragma: no cover - compiled
    # Nothing was stored by the forward: each chunk first recomputes its charged potentials h
    # (a chunk's [T, chunk] block stays in cache), then runs the chain rule backwards in time.
    steps, n = x.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for c in numba.prange(CHUNKS):
        lo, hi = _chunk(c, n)
        if lo >= hi:
            continue
        m = hi - lo
        hbuf = np.empty((steps, m), dtype=np.float32)
        v = v0[lo:hi].copy()
        for t in range(steps):
            for j in range(m):
                h = _charge(kind, decay_input, v[j], x[t, lo + j], decay, vr)
                hbuf[t, j] = h
                v[j] = _reset(hard, h, one if h >= vth else zero, vr, vth)
        carry = np.zeros(m, dtype=np.float32)
        if has_gv_last:  # the gradient on the final potential enters as the last step's carry
            for j in range(m):
                carry[j] = gv_last[lo + j]
        acc = np.zeros(m, dtype=np.float64)
        for t in range(steps - 1, -1, -1):
            for j in range(m):
                ht = hbuf[t, j]
                st = one if ht >= vth else zero
                sg = _sg(sg_kind, alpha, ht - vth)
                if hard:
                    r = (one - st) if detach else (one - st) + (vr - ht) * sg
                else:
                    r = one if detach else one - vth * sg
                g_v = gv[t, lo + j] + carry[j] if has_gv else carry[j]
                gh = gs[t, lo + j] * sg + g_v * r
                if kind == 0:
                    gx[t, lo + j] = gh
                    carry[j] = gh
                elif kind == 1:
                    gx[t, lo + j] = gh / decay if decay_input else gh
                    carry[j] = gh - gh / decay
                else:
                    gx[t, lo + j] = gh * decay if decay_input else gh
                    carry[j] = gh - gh * decay
                    if t > 0:
                        hp = hbuf[t - 1, j]
                        v_prev = _reset(hard, hp, one if hp >= vth else zero, vr, vth)
                    else:
                        v_prev = v0[lo + j]
                    cc = x[t, lo + j] - (v_prev - vr) if decay_input else -(v_prev - vr)
                    acc[j] += gh * cc
        for j in range(m):
            gv0[lo + j] = carry[j]
            gw_parts[lo + j] = acc[j]


def _empty(shape) -> torch.Tensor:
    """An uninitialised float32 tensor in numpy-allocated memory: numpy asks the kernel for huge
    pages on large arrays, which makes the first touch of tens of MB several times cheaper than
    torch's allocator (page faults dominated the fused forward otherwise). The pages are touched
    here, in one thread: faulting them from the kernel's threads contends and costs more."""
    array = np.empty(shape, dtype=np.float32)
    array.reshape(-1)[::1024] = 0
    return torch.from_numpy(array)


class _FusedMultiStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, v0, w, spec: NeuronSpec, tau: float, store_v: bool):
        ctx.set_materialize_grads(False)  # unused outputs get no zero-filled gradient
        steps = x_seq.shape[0]
        x2 = x_seq.detach().reshape(steps, -1).contiguous()
        v2 = v0.detach().reshape(-1).contiguous()
        if spec.kind == PLIF:
            decay = np.float32(torch.sigmoid(w.detach()).item())
        elif spec.kind == LIF:
            decay = np.float32(tau)
        else:
            decay = np.float32(1.0)
        none = torch.empty((0, 0))
        s = _empty(x2.shape)
        v_seq = _empty(x2.shape) if store_v else none
        v_last = _empty(v2.shape)
        vr = np.float32(0.0 if spec.v_reset is None else spec.v_reset)
        _forward(x2.numpy(), v2.numpy(), spec.kind, decay, np.float32(spec.v_threshold), vr,
                 spec.v_reset is not None, spec.decay_input, s.numpy(), v_seq.numpy(),
                 v_last.numpy(), store_v)  # fmt: skip
        if any(ctx.needs_input_grad):
            # only the inputs are kept (autograd checks they are not modified in place); the
            # backward recomputes the charged potentials from them
            ctx.save_for_backward(x_seq, v0, w)
            ctx.spec, ctx.decay = spec, decay
        v_seq = v_seq.reshape(x_seq.shape) if store_v else v_seq
        return s.reshape(x_seq.shape), v_seq, v_last.reshape(x_seq.shape[1:])

    @staticmethod
    def backward(ctx, gs, gv, gv_last):
        x_seq, v0, w = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        steps = x_seq.shape[0]
        x2 = x_seq.detach().reshape(steps, -1).contiguous()
        v2 = v0.detach().reshape(-1).contiguous()
        none = np.zeros((0, 0), dtype=np.float32)
        # views where possible: the gradient of a sum is an expanded (stride-0) tensor
        gs2 = (gs.reshape(steps, -1).float().numpy() if gs is not None
               else np.zeros(x2.shape, dtype=np.float32))  # fmt: skip
        gv2 = gv.reshape(steps, -1).float().numpy() if gv is not None else none
        gvl = gv_last.reshape(-1).float().numpy() if gv_last is not None else none.reshape(0)
        gx = _empty(x2.shape)
        gv0 = _empty(v2.shape)
        parts = np.empty(x2.shape[1], dtype=np.float64)
        sg = spec.surrogate
        vr = np.float32(0.0 if spec.v_reset is None else spec.v_reset)
        _backward(gs2, gv2, gvl, x2.numpy(), v2.numpy(), spec.kind, ctx.decay,
                  np.float32(spec.v_threshold), vr, spec.v_reset is not None, spec.decay_input,
                  spec.detach_reset, KERNEL_IDS[type(sg)], np.float32(sg.alpha), gv is not None,
                  gv_last is not None, gx.numpy(), gv0.numpy(), parts)  # fmt: skip
        gw = None
        if spec.kind == PLIF and w is not None and w.requires_grad:
            k = torch.sigmoid(w.detach())
            gw = (k * (1 - k) * float(parts.sum())).reshape(w.shape).to(w.dtype)
        return gx.reshape(x_seq.shape), gv0.reshape(x_seq.shape[1:]), gw, None, None, None


def cpu_multistep(
    spec: NeuronSpec, x_seq: torch.Tensor, v: torch.Tensor, decay, store_v_seq: bool = True
):
    """Fused CPU kernel (numba). ``decay``: tau for LIF, the parameter w for PLIF."""
    w = decay if spec.kind == PLIF else None
    tau = float(decay) if spec.kind == LIF else 1.0
    v0 = v.expand(x_seq.shape[1:]) if v.shape != x_seq.shape[1:] else v
    s, v_seq, v_last = _FusedMultiStep.apply(x_seq, v0, w, spec, tau, store_v_seq)
    return s, v_seq if store_v_seq else None, v_last


# ------------------------------------------------------------------------------- dispatch

_BACKENDS = {"torch": torch_multistep, "cpu": cpu_multistep}


def register_backend(name: str, fn) -> None:
    """Add an implementation of the multi-step op (a Triton one registers itself here)."""
    _BACKENDS[name] = fn


def _surrogate_fusable(spec: NeuronSpec) -> bool:
    sg = spec.surrogate
    return type(sg) in KERNEL_IDS and not sg.strict and sg.spiking


def supports_fused(spec: NeuronSpec, x: torch.Tensor) -> bool:
    """Whether the fused CPU kernel covers this call: float32 CPU tensors, known surrogate."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and _surrogate_fusable(spec)


def supports_triton(spec: NeuronSpec, x: torch.Tensor) -> bool:
    """Whether the Triton kernel covers this call: float32/16/bf16 CUDA tensors, known
    surrogate, Triton importable (it registers the ``triton`` backend on import)."""
    if x.device.type != "cuda" or x.dtype not in _TRITON_DTYPES or not _surrogate_fusable(spec):
        return False
    if "triton" not in _BACKENDS:
        try:
            from . import triton_kernels  # noqa: F401
        except ImportError:
            return False
    return True


_TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def multistep(
    spec: NeuronSpec,
    x_seq: torch.Tensor,
    v: torch.Tensor,
    decay,
    backend: str | None = None,
    store_v_seq: bool = True,
):
    """(spikes, v after each step or None, last v) for ``x_seq [T, ...]`` from ``v``; the
    backend is ``backend``, else ``$SPIKESTREAM_SNN_BACKEND``, else the fused kernel where it
    applies. ``store_v_seq=False`` keeps only the last potential (less memory traffic)."""
    name = backend or os.environ.get("SPIKESTREAM_SNN_BACKEND") or "auto"
    if name == "auto":
        if supports_fused(spec, x_seq):
            name = "cpu"
        elif supports_triton(spec, x_seq):
            name = "triton"
        else:
            name = "torch"
    elif name == "triton" and "triton" not in _BACKENDS:
        from . import triton_kernels  # noqa: F401  # registers itself; ImportError if absent
    if name not in _BACKENDS:
        raise ConfigError(f"unknown SNN backend {name!r}; known: {sorted(_BACKENDS)}")
    if name == "cpu" and not supports_fused(spec, x_seq):
        name = "torch"  # the fused kernel covers float32 CPU tensors with the known surrogates
    return _BACKENDS[name](spec, x_seq, v, decay, store_v_seq)
