"""The Triton kernel against SpikingJelly's golden outputs and the torch reference loop.

Runs on a CUDA GPU; without one, on CPU tensors in Triton's interpreter when Triton is installed
and ``TRITON_INTERPRET=1`` is set (the interpreter must be chosen before Triton is imported);
otherwise skipped.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from spikestream.compat.spikingjelly import neuron
from spikestream.snn import kernels

from .conftest import load_golden
from .test_snn import build, sj_cases

pytest.importorskip("triton")
if torch.cuda.is_available():
    DEVICE = "cuda"
elif os.environ.get("TRITON_INTERPRET") == "1":
    DEVICE = "cpu"
else:
    pytest.skip("needs a CUDA GPU or TRITON_INTERPRET=1", allow_module_level=True)


@pytest.mark.parametrize("case", sj_cases())
def test_triton_matches_golden(case):
    z = load_golden("C_sj_neurons.npz")
    G = torch.from_numpy(z["G"]).to(DEVICE)
    n = build(case, "m", "triton").to(DEVICE)
    x = torch.from_numpy(z["x"]).to(DEVICE).requires_grad_(True)
    s = n(x)
    (s * G).sum().backward()
    key = f"{case}__m__"
    assert np.array_equal(s.detach().cpu().numpy(), z[key + "spike"])
    assert np.abs(n.v_seq.detach().cpu().numpy() - z[key + "v"]).max() <= 1e-6
    np.testing.assert_allclose(x.grad.cpu().numpy(), z[key + "grad_x"], atol=1e-6, rtol=1e-5)
    if case.startswith("plif"):
        np.testing.assert_allclose(float(n.w.grad), float(z[key + "grad_w"]), rtol=1e-5)


CONFIGS = [
    (kind, v_reset, detach, decay_input, sg)
    for kind in ("if", "lif", "plif")
    for v_reset in ("0", "None", "m0.3")
    for detach in (0, 1)
    for decay_input in (0, 1)
    for sg in ("atan", "sigmoid", "pq")
    if (detach + decay_input + len(sg) + len(v_reset)) % 3 == 0 or sg == "atan"
]


@pytest.mark.parametrize("config", CONFIGS)
def test_triton_equals_reference(config):
    """Outputs, carried state and all gradients (spikes, potentials, final potential, PLIF
    weight) equal the torch loop's, run on the CPU (torch on CUDA multiplies by a rounded 1/tau,
    the CPU divides), over two calls that carry state."""
    kind, vr, detach, decay_input, sg = config
    case = f"{kind}_di{decay_input}_vr{vr}_det{detach}_{sg}"
    g = torch.Generator().manual_seed(len(case))
    x = torch.randn(2, 7, 3, 1000, generator=g) * 1.5
    gs, gv = torch.randn(2, 7, 3, 1000, generator=g), torch.randn(2, 7, 3, 1000, generator=g)
    results = []
    for backend, device in (("torch", "cpu"), ("triton", DEVICE)):
        n = build(case, "m", backend).to(device)
        xi = x.to(device).clone().requires_grad_(True)
        gs, gv = gs.to(device), gv.to(device)
        s1 = n(xi[0])
        v_mid = n.v
        s2 = n(xi[1])
        loss = (s1 * gs[0]).sum() + (s2 * gs[1]).sum() + (n.v_seq * gv[1]).sum()
        (loss + 0.3 * v_mid.sum()).backward()
        w_grad = n.w.grad if kind == "plif" else torch.zeros(())
        outputs = (torch.stack([s1, s2]), n.v_seq, n.v, xi.grad, w_grad)
        results.append([t.detach().cpu().clone() for t in outputs])
    (s0, v0, l0, gx0, gw0), (s1, v1, l1, gx1, gw1) = results
    assert torch.equal(s0, s1) and torch.equal(v0, v1) and torch.equal(l0, l1)
    # within 1e-5 of the gradient's scale: the GPU's exp (Sigmoid surrogate) is the hardware
    # approximation, a few units in the last place, which the chain through time carries
    torch.testing.assert_close(gx1, gx0, atol=1e-5 * float(gx0.abs().max()), rtol=1e-5)
    torch.testing.assert_close(gw1, gw0, atol=1e-5, rtol=1e-5)


def test_no_grad_path_and_dispatch():
    x = torch.randn(5, 4, 300)
    ref = neuron.LIFNode(tau=3.0, step_mode="m", backend="torch", store_v_seq=True)
    ours = neuron.LIFNode(tau=3.0, step_mode="m", backend="triton")
    with torch.no_grad():
        assert torch.equal(ours(x.to(DEVICE)).cpu(), ref(x))
    assert torch.equal(ours.v.cpu(), ref.v)
    assert ours.v_seq is None  # store_v_seq=False keeps only the last potential
    spec = ours.spec()
    assert kernels.supports_triton(spec, x.to(DEVICE)) == (DEVICE == "cuda")


@pytest.mark.skipif(DEVICE != "cuda", reason="half precision on the GPU")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_float32_arithmetic(dtype):
    """Half inputs are computed in float32: the result equals the float32 kernel run on the
    same (rounded) inputs, up to the final rounding of the outputs (one unit in the last place:
    the two compilations may order float32 operations differently)."""
    x = (torch.randn(8, 16, 4096, device=DEVICE) * 1.5).to(dtype)
    half = neuron.LIFNode(step_mode="m", backend="triton", store_v_seq=True)
    full = neuron.LIFNode(step_mode="m", backend="triton", store_v_seq=True)
    xh = x.clone().requires_grad_(True)
    xf = x.float().requires_grad_(True)
    sh, sf = half(xh), full(xf)
    assert sh.dtype == dtype
    sh.sum().backward()
    sf.sum().backward()
    assert torch.equal(sh.float(), sf)
    ulp = torch.finfo(dtype).eps
    torch.testing.assert_close(half.v_seq.float(), full.v_seq, rtol=ulp, atol=1e-6)
    torch.testing.assert_close(xh.grad.float(), xf.grad, rtol=ulp, atol=1e-6)
