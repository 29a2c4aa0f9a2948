"""Multi-step IF / LIF / PLIF fused over time on the GPU (Triton).

The same maths as `kernels` (float32 arithmetic in the same order, divisions by tau IEEE
round-to-nearest and no fused multiply-adds, so the forward matches the torch loop on the CPU bit
for bit; torch on CUDA itself multiplies by a rounded 1/tau), one program per block of neurons
looping over time. Inputs may be float32, float16 or bfloat16; the arithmetic is float32 and the
outputs take the input's dtype. The forward keeps the charged potentials ``h`` (float32) only
when a gradient is needed; the backward walks them in reverse. PLIF's weight gradient is summed
per block and then over blocks in a fixed order, so it is deterministic.

Imported lazily by `kernels.multistep` for CUDA tensors (Triton is not a dependency of the
package). With ``TRITON_INTERPRET=1`` set before import, the kernels also run on CPU tensors in
Triton's interpreter, which is how they are tested on machines without a GPU.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from . import kernels
from .kernels import IF, LIF, PLIF, NeuronSpec
from .surrogate import KERNEL_IDS

BLOCK = 512  # neurons per program: 4 per thread with 4 warps, 16-byte loads on float32
WARPS = 4


@triton.jit
def _charge(kind: tl.constexpr, decay_input: tl.constexpr, v, x, decay, vr):
    if kind == 0:
        h = v + x
    elif kind == 1:
        if decay_input:
            h = v + tl.div_rn(x - (v - vr), decay)
        else:
            h = v - tl.div_rn(v - vr, decay) + x
    else:
        if decay_input:
            h = v + (x - (v - vr)) * decay
        else:
            h = v - (v - vr) * decay + x
    return h


@triton.jit
def _reset(hard: tl.constexpr, h, s, vr, vth):
    if hard:
        v = s * vr + (1.0 - s) * h
    else:
        v = h - s * vth
    return v


@triton.jit
def _surrogate_grad(sg_kind: tl.constexpr, alpha, x):
    if sg_kind == 0:  # ATan
        z = 1.5707963267948966 * alpha * x
        g = alpha * 0.5 / (1.0 + z * z)
    elif sg_kind == 1:  # Sigmoid
        s = 1.0 / (1.0 + tl.exp(-alpha * x))
        g = (1.0 - s) * s * alpha
    elif sg_kind == 2:  # PiecewiseQuadratic
        ax = tl.abs(x)
        g = tl.where(ax <= 1.0 / alpha, alpha - alpha * alpha * ax, 0.0)
    else:  # SuperSpike
        d = alpha * tl.abs(x) + 1.0
        g = 1.0 / (d * d)
    return g


@triton.jit
def _forward_kernel(
    x_ptr, v0_ptr, s_ptr, vseq_ptr, vlast_ptr, h_ptr, steps, n, decay, vth, vr,
    KIND: tl.constexpr, HARD: tl.constexpr, DECAY_INPUT: tl.constexpr,
    STORE_V: tl.constexpr, STORE_H: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = offs < n
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    row = offs.to(tl.int64)
    for _ in range(steps):
        x = tl.load(x_ptr + row, mask=mask, other=0.0).to(tl.float32)
        h = _charge(KIND, DECAY_INPUT, v, x, decay, vr)
        s = tl.where(h >= vth, 1.0, 0.0)
        v = _reset(HARD, h, s, vr, vth)
        tl.store(s_ptr + row, s.to(s_ptr.dtype.element_ty), mask=mask)
        if STORE_V:
            tl.store(vseq_ptr + row, v.to(vseq_ptr.dtype.element_ty), mask=mask)
        if STORE_H:
            tl.store(h_ptr + row, h, mask=mask)
        row += n
    tl.store(vlast_ptr + offs, v.to(vlast_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _backward_kernel(
    gs_ptr, gv_ptr, gvl_ptr, h_ptr, x_ptr, v0_ptr, gx_ptr, gv0_ptr, gw_ptr,
    steps, n, decay, vth, vr, alpha,
    KIND: tl.constexpr, HARD: tl.constexpr, DECAY_INPUT: tl.constexpr, DETACH: tl.constexpr,
    SG_KIND: tl.constexpr, HAS_GS: tl.constexpr, HAS_GV: tl.constexpr, HAS_GV_LAST: tl.constexpr,
    BLOCK_N: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = offs < n
    if HAS_GV_LAST:  # the gradient on the final potential enters as the last step's carry
        carry = tl.load(gvl_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        carry = tl.zeros([BLOCK_N], dtype=tl.float32)
    acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    row = offs.to(tl.int64) + (steps - 1).to(tl.int64) * n
    for i in range(steps):
        t = steps - 1 - i
        h = tl.load(h_ptr + row, mask=mask, other=0.0)
        s = tl.where(h >= vth, 1.0, 0.0)
        sg = _surrogate_grad(SG_KIND, alpha, h - vth)
        if HARD:
            if DETACH:
                r = 1.0 - s
            else:
                r = (1.0 - s) + (vr - h) * sg
        else:
            if DETACH:
                r = tl.full([BLOCK_N], 1.0, tl.float32)
            else:
                r = 1.0 - vth * sg
        g_v = carry
        if HAS_GV:
            g_v = tl.load(gv_ptr + row, mask=mask, other=0.0).to(tl.float32) + carry
        if HAS_GS:
            gh = tl.load(gs_ptr + row, mask=mask, other=0.0).to(tl.float32) * sg + g_v * r
        else:
            gh = g_v * r
        if KIND == 0:
            gx = gh
            carry = gh
        elif KIND == 1:
            if DECAY_INPUT:
                gx = tl.div_rn(gh, decay)
            else:
                gx = gh
            carry = gh - tl.div_rn(gh, decay)
        else:
            if DECAY_INPUT:
                gx = gh * decay
            else:
                gx = gh
            carry = gh - gh * decay
            if t > 0:
                hp = tl.load(h_ptr + row - n, mask=mask, other=0.0)
                v_prev = _reset(HARD, hp, tl.where(hp >= vth, 1.0, 0.0), vr, vth)
            else:
                v_prev = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            if DECAY_INPUT:
                x = tl.load(x_ptr + row, mask=mask, other=0.0).to(tl.float32)
                acc += tl.where(mask, gh * (x - (v_prev - vr)), 0.0)
            else:
                acc += tl.where(mask, -gh * (v_prev - vr), 0.0)
        tl.store(gx_ptr + row, gx.to(gx_ptr.dtype.element_ty), mask=mask)
        row -= n
    tl.store(gv0_ptr + offs, carry.to(gv0_ptr.dtype.element_ty), mask=mask)
    if KIND == 2:
        tl.store(gw_ptr + tl.program_id(0), tl.sum(acc, axis=0))


def _grid(n: int) -> tuple[int]:
    return (max(1, math.ceil(n / BLOCK)),)


class _TritonMultiStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, v0, w, spec: NeuronSpec, tau: float, store_v: bool):
        ctx.set_materialize_grads(False)
        steps = x_seq.shape[0]
        x2 = x_seq.detach().reshape(steps, -1).contiguous()
        v2 = v0.detach().reshape(-1).contiguous()
        n = x2.shape[1]
        if spec.kind == PLIF:
            decay = float(torch.sigmoid(w.detach().float()).item())
        else:
            decay = tau if spec.kind == LIF else 1.0
        needs_grad = any(ctx.needs_input_grad)
        s = torch.empty_like(x2)
        v_seq = torch.empty_like(x2) if store_v else s
        v_last = torch.empty(n, dtype=x2.dtype, device=x2.device)
        h = torch.empty(x2.shape, dtype=torch.float32, device=x2.device) if needs_grad else s
        vr = 0.0 if spec.v_reset is None else float(spec.v_reset)
        _forward_kernel[_grid(n)](
            x2, v2, s, v_seq, v_last, h, steps, n, decay, float(spec.v_threshold), vr,
            KIND=spec.kind, HARD=spec.v_reset is not None, DECAY_INPUT=spec.decay_input,
            STORE_V=store_v, STORE_H=needs_grad, BLOCK_N=BLOCK, num_warps=WARPS,
            enable_fp_fusion=False,
        )  # fmt: skip
        if needs_grad:
            ctx.save_for_backward(x2 if spec.kind == PLIF else None, v2, w, h)
            ctx.spec, ctx.decay, ctx.shape = spec, decay, x_seq.shape
        v_out = v_seq.reshape(x_seq.shape) if store_v else None
        return s.reshape(x_seq.shape), v_out, v_last.reshape(x_seq.shape[1:])

    @staticmethod
    def backward(ctx, gs, gv, gv_last):
        x2, v2, w, h = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        steps, n = h.shape
        gx = torch.empty(h.shape, dtype=v2.dtype, device=h.device)
        gv0 = torch.empty(n, dtype=v2.dtype, device=h.device)
        grid = _grid(n)
        gw_parts = torch.empty(grid[0], dtype=torch.float32, device=h.device)
        sg = spec.surrogate

        def flat(g, shape):  # expanded gradients (of a sum) become contiguous here
            return None if g is None else g.reshape(shape).contiguous()

        gs2, gv2, gvl = flat(gs, (steps, n)), flat(gv, (steps, n)), flat(gv_last, (n,))
        vr = 0.0 if spec.v_reset is None else float(spec.v_reset)
        _backward_kernel[grid](
            h if gs2 is None else gs2, h if gv2 is None else gv2, v2 if gvl is None else gvl,
            h, h if x2 is None else x2, v2, gx, gv0, gw_parts, steps, n, ctx.decay,
            float(spec.v_threshold), vr, float(sg.alpha),
            KIND=spec.kind, HARD=spec.v_reset is not None, DECAY_INPUT=spec.decay_input,
            DETACH=spec.detach_reset, SG_KIND=KERNEL_IDS[type(sg)], HAS_GS=gs2 is not None,
            HAS_GV=gv2 is not None, HAS_GV_LAST=gvl is not None, BLOCK_N=BLOCK, num_warps=WARPS,
            enable_fp_fusion=False,
        )  # fmt: skip
        gw = None
        if spec.kind == PLIF and w is not None and w.requires_grad:
            k = torch.sigmoid(w.detach().float())
            gw = (k * (1 - k) * gw_parts.double().sum().float()).reshape(w.shape).to(w.dtype)
        shape = ctx.shape
        return gx.reshape(shape), gv0.reshape(shape[1:]), gw, None, None, None


def triton_multistep(
    spec: NeuronSpec, x_seq: torch.Tensor, v: torch.Tensor, decay, store_v_seq: bool = True
):
    """Fused GPU kernel. ``decay``: tau for LIF, the parameter w for PLIF."""
    w = decay if spec.kind == PLIF else None
    tau = float(decay) if spec.kind == LIF else 1.0
    v0 = v.expand(x_seq.shape[1:]) if v.shape != x_seq.shape[1:] else v
    v0 = v0.to(x_seq.dtype)
    s, v_seq, v_last = _TritonMultiStep.apply(x_seq, v0, w, spec, tau, store_v_seq)
    return s, v_seq, v_last


assert IF == 0 and LIF == 1 and PLIF == 2  # the kernels branch on these values
kernels.register_backend("triton", triton_multistep)
