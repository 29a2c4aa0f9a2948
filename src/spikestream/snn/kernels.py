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
parallel over neurons, zero-copy on float32 tensors' memory, float16/bfloat16 ones computed in
float32 with outputs in the input's dtype, as Triton's; the forward stores nothing beyond its
outputs: the backward recomputes the charged potentials from the saved input, chunk by chunk
in cache, which moves less memory than writing and re-reading them). A fused kernel may only
skip work, never change the maths: tests compare it with the reference.
``SPIKESTREAM_SNN_BACKEND`` overrides the choice.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass

import numba
import numpy as np
import torch

from .._numba import launch_lock
from ..errors import ConfigError
from ..settings import kernel_pool_bytes, snn_backend
from .surrogate import KERNEL_IDS, Surrogate


def _eager_only(fn):
    """``torch.compiler.disable(fn)``, applied at the first call rather than at import: the
    decorator imports ``torch._dynamo`` (0.7-3 s), which every process importing the neurons
    would otherwise pay, compiled or not. Dynamo cannot trace numba, so under ``torch.compile``
    these ops run eagerly between graph pieces."""
    disabled = None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal disabled
        if disabled is None:
            disabled = torch.compiler.disable(fn)
        return disabled(*args, **kwargs)

    return wrapper


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
    _known_kind(spec)
    return v + (x - (v - vr)) * decay if spec.decay_input else v - (v - vr) * decay + x


def _known_kind(spec: NeuronSpec) -> None:
    # neurons with their own loop (snn.neuron_more) have kinds these kernels would run as PLIF
    if spec.kind not in (IF, LIF, PLIF):
        raise ConfigError(f"the neuron kernels know IF, LIF and PLIF only, got kind {spec.kind}")


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


# Neurons are split into chunks run in parallel; inside a chunk the time loop is outside and
# the neuron loop inside, over one-dimensional row views, so every access is contiguous and the
# inner loops vectorise. What keeps them vectorisable: no branch on the neuron's configuration
# inside a loop (LLVM does not unswitch them; the variants are computed branch-free with
# selects on loop-invariant flags, each expression in the reference's operation order so the
# result is bit-identical), no conditional stores, surrogate derivatives in a loop of their
# own per surrogate, and error_model="numpy" (no ZeroDivisionError check per division; tau and
# k are never 0).
CHUNKS = 64


@numba.njit(inline="always", error_model="numpy")
def _charge(kind, decay_input, v, x, decay, vr):  # pragma: no cover - compiled, float32
    # IF: v + x; LIF: v + (x - (v - vr)) / tau or v - (v - vr) / tau + x; PLIF: * k for / tau
    num = x - (v - vr) if decay_input else v - vr
    q = num / decay if kind == 1 else num * decay
    h_leaky = v + q if decay_input else v - q + x
    return v + x if kind == 0 else h_leaky


@numba.njit(inline="always", error_model="numpy")
def _reset(hard, h, s, vr, vth):  # pragma: no cover - compiled, float32
    hard_v = s * vr + (np.float32(1.0) - s) * h
    soft_v = h - s * vth
    return hard_v if hard else soft_v


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
        scratch = np.empty(hi - lo, dtype=np.float32)  # where v goes when it is not kept
        for t in range(steps):
            x_row = x[t, lo:hi]
            s_row = s_out[t, lo:hi]
            v_row = v_out[t, lo:hi] if store_v else scratch
            for j in range(hi - lo):
                h = _charge(kind, decay_input, v[j], x_row[j], decay, vr)
                st = one if h >= vth else zero
                vj = _reset(hard, h, st, vr, vth)
                s_row[j] = st
                v_row[j] = vj
                v[j] = vj
        v_last[lo:hi] = v


# exp in float32 as two vectorisable loops (libm's expf is a call per element that LLVM does
# not vectorise without Intel's SVML): Cody-Waite reduction x = k ln2 + r, a degree-6
# polynomial for e^r (Cephes' expf coefficients, about 1 ulp), and 2^k built from its bits.
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_P = tuple(
    np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                            1.6666665459e-1, 5.0000001201e-1)
)  # fmt: skip


@numba.njit(inline="always", error_model="numpy")
def _exp_row(values, scale):  # pragma: no cover - compiled; values: float32 in/out
    lo, hi = np.float32(-87.0), np.float32(88.0)  # 2^k stays a normal float
    p0, p1, p2, p3, p4, p5 = _EXP_P
    one = np.float32(1.0)
    for j in range(len(values)):
        x = min(max(values[j], lo), hi)
        k = np.floor(x * _LOG2E + np.float32(0.5))
        r = x - k * _LN2_HI - k * _LN2_LO
        p = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r + one
        values[j] = p
        scale[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
    factor = scale.view(np.float32)
    for j in range(len(values)):
        values[j] *= factor[j]


@numba.njit(inline="always", error_model="numpy")
def _sg_row(kind, alpha, h_row, vth, out, scale):  # pragma: no cover - compiled, float32
    # one loop per surrogate: a branch on the kind inside the loop would stop vectorisation
    one = np.float32(1.0)
    if kind == 0:
        c = np.float32(np.pi / 2) * alpha
        for j in range(len(out)):
            z = c * (h_row[j] - vth)
            out[j] = alpha / np.float32(2.0) / (one + z * z)
    elif kind == 1:
        for j in range(len(out)):
            out[j] = -alpha * (h_row[j] - vth)
        _exp_row(out, scale)
        for j in range(len(out)):
            s = one / (one + out[j])
            out[j] = (one - s) * s * alpha
    elif kind == 2:
        for j in range(len(out)):
            ax = abs(h_row[j] - vth)
            out[j] = alpha - alpha * alpha * ax if ax <= one / alpha else np.float32(0.0)
    else:
        for j in range(len(out)):
            d = alpha * abs(h_row[j] - vth) + one
            out[j] = one / (d * d)


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _backward(
    gs, has_gs, gv, has_gv, gv_last, x, v0, kind, decay, vth, vr, hard,
    decay_input, detach, sg_kind, alpha, has_gv_last, gx, gv0, gw_parts,
):  # fmt: skip  # pragma: no cover - compiled
    # gs, gv (gradients on spikes and potentials): contiguous [T, N] arrays, or absent (the
    # has_ flags false: a row of zeros stands in)
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
            x_row = x[t, lo:hi]
            h_row = hbuf[t]
            for j in range(m):
                h = _charge(kind, decay_input, v[j], x_row[j], decay, vr)
                h_row[j] = h
                v[j] = _reset(hard, h, one if h >= vth else zero, vr, vth)
        carry = np.zeros(m, dtype=np.float32)
        if has_gv_last:  # the gradient on the final potential enters as the last step's carry
            carry[:] = gv_last[lo:hi]
        zeros = np.zeros(m, dtype=np.float32)
        sg_buf = np.empty(m, dtype=np.float32)
        exp_scale = np.empty(m, dtype=np.int32)
        gh_buf = np.empty(m, dtype=np.float32)
        acc = np.zeros(m, dtype=np.float64)
        for t in range(steps - 1, -1, -1):
            h_row = hbuf[t]
            gs_row = gs[t, lo:hi] if has_gs else zeros
            gv_row = gv[t, lo:hi] if has_gv else zeros
            gx_row = gx[t, lo:hi]
            _sg_row(sg_kind, alpha, h_row, vth, sg_buf, exp_scale)
            for j in range(m):
                ht = h_row[j]
                sg = sg_buf[j]
                st = one if ht >= vth else zero
                r_hard = (one - st) if detach else (one - st) + (vr - ht) * sg
                r_soft = one if detach else one - vth * sg
                r = r_hard if hard else r_soft
                gh = gs_row[j] * sg + (gv_row[j] + carry[j]) * r
                scaled = gh / decay if kind == 1 else gh * decay
                gx_row[j] = scaled if (kind != 0 and decay_input) else gh
                carry[j] = gh - scaled if kind != 0 else gh
                gh_buf[j] = gh
            if kind == 2:  # PLIF: the weight's gradient needs the potential before this step
                x_row = x[t, lo:hi]
                for j in range(m):
                    if t > 0:
                        hp = hbuf[t - 1, j]
                        v_prev = _reset(hard, hp, one if hp >= vth else zero, vr, vth)
                    else:
                        v_prev = v0[lo + j]
                    cc = x_row[j] - (v_prev - vr) if decay_input else -(v_prev - vr)
                    acc[j] += gh_buf[j] * cc
        gv0[lo:hi] = carry
        gw_parts[lo:hi] = acc


class _BufferPool:
    """Reuses the memory of output tensors that nobody holds any more. Fresh memory costs a page
    fault and the kernel zeroing every page on first touch (about 2 ms for the 33 MB output of
    a [16, 16, 32768] step, as long as the fused kernel itself); a buffer whose tensors are all
    gone is handed out again instead. Bounded: the buffers it tracks (in use or idle) never
    exceed `settings.kernel_pool_bytes` (``$SPIKESTREAM_KERNEL_POOL_MB``, 0 turns reuse off);
    an output that does not fit is plain fresh memory. Least recently used idle buffers leave
    first.

    A buffer is idle once the view handed out for it is gone: torch's tensor (and every view
    of it) holds that numpy view, so a weak reference to it tells exactly when the memory is
    free (reference counts would depend on the interpreter's version)."""

    def __init__(self) -> None:
        self.entries: list[tuple[np.ndarray, weakref.ref]] = []  # least recently used first
        self.lock = threading.Lock()

    def held_bytes(self) -> int:
        return sum(buf.nbytes for buf, _ in self.entries)

    def _evict_idle(self, room: int, bound: int) -> None:
        """Drop idle buffers, oldest first, until ``room`` more bytes fit under ``bound``."""
        held = self.held_bytes()
        i = 0
        while held + room > bound and i < len(self.entries):
            buf, handed = self.entries[i]
            if handed() is None:
                held -= buf.nbytes
                del self.entries[i]
            else:
                i += 1

    def take(self, shape) -> np.ndarray:
        n = int(np.prod(shape))
        bound = kernel_pool_bytes()
        with self.lock:
            self._evict_idle(0, bound)  # the bound may have been lowered since
            for i, (buf, handed) in enumerate(self.entries):
                if buf.size == n and handed() is None:
                    del self.entries[i]
                    out = buf.reshape(shape)  # a new view object, watched below
                    self.entries.append((buf, weakref.ref(out)))
                    return out
            buf = np.empty(n, dtype=np.float32)
            # touched here, in one thread: faulting pages from the kernel's threads contends
            buf[::1024] = 0
            out = buf.reshape(shape)
            self._evict_idle(buf.nbytes, bound)
            if self.held_bytes() + buf.nbytes <= bound:
                self.entries.append((buf, weakref.ref(out)))
            return out


_POOL = _BufferPool()


def _empty(shape) -> torch.Tensor:
    """An uninitialised float32 tensor, in numpy-allocated memory (numpy asks the kernel for
    huge pages on large arrays, several times cheaper to fault than torch's allocation) that is
    recycled once no tensor uses it (`_BufferPool`)."""
    return torch.from_numpy(_POOL.take(shape))


def _grad_rows(g: torch.Tensor | None, shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """(contiguous rows [T, N], present) for the kernel. One path for every gradient: a
    broadcast one (the gradient of ``.sum()``) is written out as rows too, since no training
    loss gives one."""
    if g is None or shape[1] == 0:
        return np.zeros((0, 0), dtype=np.float32), False
    return g.reshape(shape).float().contiguous().numpy(), True


def _decay_of(spec: NeuronSpec, w: torch.Tensor | None, tau: float) -> np.float32:
    if spec.kind == PLIF:
        return np.float32(torch.sigmoid(w.detach()).item())  # type: ignore[union-attr]
    return np.float32(tau if spec.kind == LIF else 1.0)


def _launch_forward(spec: NeuronSpec, x2: torch.Tensor, v2: torch.Tensor, decay, s, v_seq, v_last,
                    store_v: bool) -> None:  # fmt: skip
    vr = np.float32(0.0 if spec.v_reset is None else spec.v_reset)
    with launch_lock():
        _forward(x2.numpy(), v2.numpy(), spec.kind, decay, np.float32(spec.v_threshold), vr,
                 spec.v_reset is not None, spec.decay_input, s.numpy(), v_seq.numpy(),
                 v_last.numpy(), store_v)  # fmt: skip


def _launch_backward(ctx, gs2: np.ndarray, has_gs: bool, gv, gv_last, gx: torch.Tensor):
    """The neuron's backward from ``ctx`` (saved x_seq, v0, w; spec, decay) into ``gx``
    (rows [T, N]; it may be ``gs2``'s memory: each element is read before it is written).
    Returns (gv0, gw)."""
    x_seq, v0, w = ctx.saved_tensors[:3]
    spec: NeuronSpec = ctx.spec
    steps = x_seq.shape[0]
    x2 = x_seq.detach().reshape(steps, -1).float().contiguous()
    v2 = v0.detach().reshape(-1).float().contiguous()
    gv2, has_gv = _grad_rows(gv, x2.shape)
    gvl = (gv_last.reshape(-1).float().contiguous().numpy() if gv_last is not None
           else np.zeros(0, dtype=np.float32))  # fmt: skip
    gv0 = _empty(v2.shape)
    parts = np.empty(x2.shape[1], dtype=np.float64)
    sg = spec.surrogate
    vr = np.float32(0.0 if spec.v_reset is None else spec.v_reset)
    with launch_lock():
        _backward(gs2, has_gs, gv2, has_gv, gvl, x2.numpy(), v2.numpy(), spec.kind,
                  ctx.decay, np.float32(spec.v_threshold), vr, spec.v_reset is not None,
                  spec.decay_input, spec.detach_reset, KERNEL_IDS[type(sg)],
                  np.float32(sg.alpha), gv_last is not None, gx.numpy(), gv0.numpy(),
                  parts)  # fmt: skip
    gw = None
    if spec.kind == PLIF and w is not None and w.requires_grad:
        k = torch.sigmoid(w.detach())
        gw = (k * (1 - k) * float(parts.sum())).reshape(w.shape).to(w.dtype)
    return gv0.reshape(x_seq.shape[1:]).to(v0.dtype), gw


class _FusedMultiStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, v0, w, spec: NeuronSpec, tau: float, store_v: bool):
        ctx.set_materialize_grads(False)  # unused outputs get no zero-filled gradient
        steps, dtype = x_seq.shape[0], x_seq.dtype
        # half inputs are computed in float32, outputs take the input's dtype (as Triton's)
        x2 = x_seq.detach().reshape(steps, -1).float().contiguous()
        v2 = v0.detach().reshape(-1).float().contiguous()
        decay = _decay_of(spec, w, tau)
        s = _empty(x2.shape)
        v_seq = _empty(x2.shape) if store_v else torch.empty((0, 0))
        v_last = _empty(v2.shape)
        _launch_forward(spec, x2, v2, decay, s, v_seq, v_last, store_v)
        if any(ctx.needs_input_grad):
            # only the inputs are kept (autograd checks they are not modified in place); the
            # backward recomputes the charged potentials from them
            ctx.save_for_backward(x_seq, v0, w)
            ctx.spec, ctx.decay = spec, decay
        v_seq = v_seq.reshape(x_seq.shape).to(dtype) if store_v else v_seq
        return s.reshape(x_seq.shape).to(dtype), v_seq, v_last.reshape(x_seq.shape[1:]).to(dtype)

    @staticmethod
    def backward(ctx, gs, gv, gv_last):
        shape = ctx.saved_tensors[0].shape
        rows = (shape[0], int(np.prod(shape[1:])))
        gs2, has_gs = _grad_rows(gs, rows)
        gx = _empty(rows)
        gv0, gw = _launch_backward(ctx, gs2, has_gs, gv, gv_last, gx)
        dtype = ctx.saved_tensors[0].dtype
        return gx.reshape(shape).to(dtype), gv0, gw, None, None, None


class _FusedMultiStepPool(torch.autograd.Function):
    """The neuron followed by a 2x2 max pool of its spikes, as one op: the full-resolution
    spikes live only inside the forward, the backward routes the pooled gradient to them
    (`_pool_backward`) and runs the neuron's backward in that same buffer. The same kernels as
    the two ops apart, hence the same numbers; one full-resolution tensor less at any time."""

    @staticmethod
    def forward(ctx, x_seq, v0, w, spec: NeuronSpec, tau: float):
        ctx.set_materialize_grads(False)
        steps, dtype = x_seq.shape[0], x_seq.dtype
        x2 = x_seq.detach().reshape(steps, -1).float().contiguous()
        v2 = v0.detach().reshape(-1).float().contiguous()
        decay = _decay_of(spec, w, tau)
        s = _empty(x2.shape)
        v_last = _empty(v2.shape)
        _launch_forward(spec, x2, v2, decay, s, torch.empty((0, 0)), v_last, False)
        h, w_ = x_seq.shape[-2:]
        s3 = s.reshape(-1, h, w_)
        out = torch.empty((s3.shape[0], h // 2, w_ // 2), dtype=torch.float32)
        code = torch.empty(out.shape, dtype=torch.uint8)
        with launch_lock():
            _pool_forward(s3.numpy(), out.numpy(), code.numpy())
        del s, s3
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x_seq, v0, w, code)
            ctx.spec, ctx.decay = spec, decay
        out = out.reshape(*x_seq.shape[:-2], h // 2, w_ // 2).to(dtype)
        return out, v_last.reshape(x_seq.shape[1:]).to(dtype)

    @staticmethod
    def backward(ctx, g, gv_last):
        x_seq = ctx.saved_tensors[0]
        code = ctx.saved_tensors[3]
        steps = x_seq.shape[0]
        gx = _empty((steps, x_seq[0].numel()))
        if g is not None:
            g3 = g.reshape(code.shape).float().contiguous()
            with launch_lock():
                _pool_backward(g3.numpy(), code.numpy(), gx.numpy().reshape(-1, *x_seq.shape[-2:]))
        gv0, gw = _launch_backward(ctx, gx.numpy(), g is not None, None, gv_last, gx)
        return gx.reshape(x_seq.shape).to(x_seq.dtype), gv0, gw, None, None


def cpu_multistep(
    spec: NeuronSpec, x_seq: torch.Tensor, v: torch.Tensor, decay, store_v_seq: bool = True
):
    """Fused CPU kernel (numba). ``decay``: tau for LIF, the parameter w for PLIF."""
    w = decay if spec.kind == PLIF else None
    tau = float(decay) if spec.kind == LIF else 1.0
    v0 = v.expand(x_seq.shape[1:]) if v.shape != x_seq.shape[1:] else v
    v0 = v0.to(x_seq.dtype)  # the state takes the input's dtype (as the Triton kernel's)
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
    """Whether the fused CPU kernel covers this call: float32/16/bf16 CPU tensors (half ones
    computed in float32), known surrogate."""
    return x.device.type == "cpu" and x.dtype in _FLOAT_DTYPES and _surrogate_fusable(spec)


def supports_triton(spec: NeuronSpec, x: torch.Tensor) -> bool:
    """Whether the Triton kernel covers this call: float32/16/bf16 CUDA tensors, known
    surrogate, Triton importable (it registers the ``triton`` backend on import)."""
    if x.device.type != "cuda" or x.dtype not in _FLOAT_DTYPES or not _surrogate_fusable(spec):
        return False
    return _triton_available()


def _triton_available() -> bool:
    """Whether the ``triton`` backend is registered (importing it registers it)."""
    if "triton" not in _BACKENDS:
        try:
            from . import triton_kernels  # noqa: F401
        except ImportError:
            return False
    return True


_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


# The fused kernels are numba (CPU) or Triton calls inside an autograd.Function, which dynamo
# cannot trace (it fails inside numba's dispatcher): under torch.compile the neuron op runs
# eagerly (one graph break per neuron layer) and the layers between neurons are compiled.
def _resolve(spec: NeuronSpec, x_seq: torch.Tensor, backend: str | None) -> str:
    """The backend that runs this call: ``backend``, else ``$SPIKESTREAM_SNN_BACKEND``, else
    the fused kernel where it applies."""
    _known_kind(spec)
    name = backend or snn_backend()
    if name == "auto":
        if supports_fused(spec, x_seq):
            name = "cpu"
        elif supports_triton(spec, x_seq):
            name = "triton"
        else:
            name = "torch"
    elif name == "triton" and not _triton_available():
        raise ConfigError("the triton backend needs Triton (it comes with a CUDA build of torch)")
    if name not in _BACKENDS:
        raise ConfigError(f"unknown SNN backend {name!r}; known: {sorted(_BACKENDS)}")
    if name == "cpu" and not supports_fused(spec, x_seq):
        name = "torch"  # the fused kernel covers float CPU tensors with the known surrogates
    return name


@_eager_only
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
    name = _resolve(spec, x_seq, backend)
    return _BACKENDS[name](spec, x_seq, v, decay, store_v_seq)


@_eager_only
def multistep_pool2x2(
    spec: NeuronSpec, x_seq: torch.Tensor, v: torch.Tensor, decay, backend: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(``max_pool2d(spikes, 2, 2)`` over the last two axes, last v): `multistep` followed by
    a 2x2 max pool, in one op on the fused CPU kernel (`_FusedMultiStepPool`), else the two
    ops."""
    name = _resolve(spec, x_seq, backend)
    if name == "cpu" and x_seq.dim() >= 3:
        w = decay if spec.kind == PLIF else None
        tau = float(decay) if spec.kind == LIF else 1.0
        v0 = v.expand(x_seq.shape[1:]) if v.shape != x_seq.shape[1:] else v
        return _FusedMultiStepPool.apply(x_seq, v0.to(x_seq.dtype), w, spec, tau)
    s, _, v_last = _BACKENDS[name](spec, x_seq, v, decay, False)
    return max_pool2x2(s), v_last


# ------------------------------------------------------------------ 2x2 max pooling, compact


# torch's max_pool2d keeps its whole input and int64 indices for the backward (12 bytes per
# input element after a spiking layer, the largest tensors of a training step); the backward
# only needs which of the 4 window positions won, one byte per output. The winner is torch's
# exactly (its CPU kernel's rule, as its backward routes the gradient): scan the window row by
# row, take a value if it is greater than the best so far or NaN; an all -inf window picks
# its first position.
@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _pool_forward(x, out, code):  # pragma: no cover - compiled; x [P, H, W], out/code [P, h, w]
    planes, oh, ow = out.shape
    for p in numba.prange(planes):
        for i in range(oh):
            r0 = x[p, 2 * i]
            r1 = x[p, 2 * i + 1]
            o_row = out[p, i]
            c_row = code[p, i]
            for j in range(ow):
                best = r0[2 * j]
                k = 0  # (an all -inf window keeps its first position, as torch's)
                v = r0[2 * j + 1]
                if v > best or np.isnan(v):
                    best, k = v, 1
                v = r1[2 * j]
                if v > best or np.isnan(v):
                    best, k = v, 2
                v = r1[2 * j + 1]
                if v > best or np.isnan(v):
                    best, k = v, 3
                o_row[j] = best
                c_row[j] = k


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _pool_backward(g, code, gx):  # pragma: no cover - compiled; gx [P, H, W] fully written
    planes, oh, ow = g.shape
    zero = np.float32(0.0)
    for p in numba.prange(planes):
        gx[p] = zero  # rows/columns beyond the last whole window get nothing
        for i in range(oh):
            r0 = gx[p, 2 * i]
            r1 = gx[p, 2 * i + 1]
            g_row = g[p, i]
            c_row = code[p, i]
            for j in range(ow):
                k = c_row[j]
                gv = g_row[j]
                r0[2 * j] = gv if k == 0 else zero
                r0[2 * j + 1] = gv if k == 1 else zero
                r1[2 * j] = gv if k == 2 else zero
                r1[2 * j + 1] = gv if k == 3 else zero


class _MaxPool2x2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        lead, (h, w) = x.shape[:-2], x.shape[-2:]
        x3 = x.detach().reshape(-1, h, w).contiguous()
        out = torch.empty((x3.shape[0], h // 2, w // 2), dtype=torch.float32)
        code = torch.empty(out.shape, dtype=torch.uint8)
        with launch_lock():
            _pool_forward(x3.numpy(), out.numpy(), code.numpy())
        ctx.save_for_backward(code)
        ctx.in_shape = x.shape
        return out.reshape(*lead, h // 2, w // 2)

    @staticmethod
    def backward(ctx, g):
        (code,) = ctx.saved_tensors
        h, w = ctx.in_shape[-2:]
        g3 = g.reshape(code.shape).float().contiguous()
        gx = torch.empty((code.shape[0], h, w), dtype=torch.float32)
        with launch_lock():
            _pool_backward(g3.numpy(), code.numpy(), gx.numpy())
        return gx.reshape(ctx.in_shape)


@_eager_only  # a numba call: dynamo cannot trace it (as `multistep`)
def max_pool2x2(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(x, 2, 2)`` over the last two axes, equal to torch's in value and gradient
    routing; float32 CPU tensors run a kernel that keeps one byte per output for the backward
    instead of the input and int64 indices (other tensors run torch's)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() < 3:
        if x.dim() <= 4:
            return torch.nn.functional.max_pool2d(x, 2, 2)
        # torch's pool takes at most 4 axes: the leading ones ([T, N, ...]) as one batch axis
        out = torch.nn.functional.max_pool2d(x.flatten(0, -4), 2, 2)
        return out.reshape(*x.shape[:-2], *out.shape[-2:])
    return _MaxPool2x2.apply(x)
