"""LIF throughput on [T=16, B=16, 32768] float32: forward (no gradient) and forward+backward,
spikestream's fused kernel (numba on CPU, Triton on CUDA) and its torch reference loop vs
SpikingJelly 2.0 (its torch path on CPU, its Triton path on CUDA) and snnTorch 1.0's ``Leaky``,
in one process (M element-steps/s; all use every core).

The backward gets a dense upstream gradient (a fixed random tensor, as any real loss gives):
``.sum().backward()`` would hand every kernel one constant per step, a shortcut no training
run takes.

    python -m benchmarks.snn [--shape 16 16 32768] [--device cuda]

Peers: ``pip install spikingjelly snntorch loguru matplotlib``.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable

import numba
import torch

from spikestream.snn import LIFNode
from spikestream.snn.surrogate import ATan

from .common import Row, best_time, print_table


def sj_lif():
    for name in ("torchvision", "torchvision.transforms", "torchaudio"):  # unused by neurons
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        from spikingjelly.activation_based import neuron, surrogate

        return lambda: neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), step_mode="m")
    except Exception as exc:
        print(f"(spikingjelly not loadable: {exc})")
        return None


def snntorch_lif():
    try:
        import snntorch

        def run(x):
            lif = snntorch.Leaky(beta=0.5).to(x.device)
            mem = lif.init_leaky()
            out = []
            for t in range(x.shape[0]):
                spk, mem = lif(x[t], mem)
                out.append(spk)
            return torch.stack(out)

        return run
    except Exception as exc:
        print(f"(snntorch not loadable: {exc})")
        return None


def compiled_loop():
    """A plain LIF loop (tau 2, hard reset to 0, ATan surrogate through the straight-through
    trick) under ``torch.compile``: what a user gets without a dedicated kernel."""

    def lif(x):
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            h = v + (x[t] - v) / 2.0
            z = h - 1.0
            smooth = torch.atan(torch.pi / 2 * 2.0 * z) / torch.pi + 0.5
            s = (z >= 0).to(x.dtype) + smooth - smooth.detach()
            v = h * (1 - s.detach())
            out.append(s)
        return torch.stack(out)

    try:
        return torch.compile(lif)
    except Exception as exc:
        print(f"(torch.compile not usable: {exc})")
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=[16, 16, 32768])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes, best kept")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile loop")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    x = torch.randn(*args.shape, device=args.device) * 1.5
    cuda = x.device.type == "cuda"
    if cuda:
        args.repeat = max(args.repeat, 20)

    def synced(fn):  # GPU work is asynchronous: a timed call ends when the device is done
        if not cuda:
            return fn

        def run():
            fn()
            torch.cuda.synchronize()

        return run

    elements = x.numel() / 1e6

    def ours(backend):
        # the same surrogate as the SpikingJelly neuron below
        return lambda: LIFNode(tau=2.0, surrogate_function=ATan(), step_mode="m", backend=backend)

    fused = "spikestream fused Triton" if cuda else "spikestream fused CPU"
    candidates = {fused: ours(None), "spikestream torch loop": ours("torch")}
    sj = sj_lif()
    snn = snntorch_lif()

    x_grad = x.clone().requires_grad_(True)  # one leaf for every forward+backward run
    upstream = torch.randn_like(x)  # dense, like the gradient of a real loss

    def phases(apply) -> dict[str, Callable[[], None]]:
        """Both phases of ``apply(input) -> spikes``."""

        def forward():
            with torch.no_grad():
                apply(x)

        def forward_backward():
            x_grad.grad = None
            apply(x_grad).backward(upstream)

        return {"forward": synced(forward), "forward+backward": synced(forward_backward)}

    def module(make):  # a fresh neuron (fresh state) per call
        return lambda inp: make().to(args.device)(inp)

    runs = {name: phases(module(make)) for name, make in candidates.items()}
    peer_runs = {}
    if sj is not None:
        peer_runs["SpikingJelly 2.0"] = phases(module(sj))
    compiled = None if args.no_compile else compiled_loop()
    if compiled is not None:
        peer_runs["torch.compile loop"] = phases(compiled)
    if snn is not None:
        peer_runs["snnTorch 1.0 Leaky"] = phases(snn)
    runs.update(peer_runs)
    # Rounds interleave the candidates, each keeping its best: a burst of load on a shared
    # machine then slows one round, not one candidate (one pass in a row was off by 3x).
    # The first call of the torch.compile loop compiles (tens of seconds): best_time's
    # warm-up call absorbs it.
    rates: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for name, fns in list(runs.items()):
            for phase, fn in fns.items():
                try:
                    rate = elements / best_time(fn, args.repeat)
                except Exception as exc:  # a peer that breaks on this set-up is left out
                    print(f"({name} {phase} failed: {exc})")
                    del runs[name]
                    peer_runs.pop(name, None)
                    rates.pop(name, None)
                    break
                best = rates.setdefault(name, {})
                best[phase] = max(best.get(phase, 0.0), rate)
    peers = {name: rates[name] for name in peer_runs}
    rows = []
    for phase in ("forward", "forward+backward"):
        for peer_name, peer in peers.items():
            for name in candidates:
                rows.append(
                    Row(
                        f"LIF {phase} {'x'.join(map(str, args.shape))} ({name})",
                        rates[name][phase],
                        peer_name,
                        peer[phase],
                        "M el-steps/s",
                    )
                )
        if not peers:
            for name in candidates:
                rows.append(
                    Row(
                        f"LIF {phase} ({name})",
                        rates[name][phase],
                        "none installed",
                        None,
                        "M el-steps/s",
                    )
                )
    where = (
        torch.cuda.get_device_name()
        if cuda
        else f"{torch.get_num_threads()} threads, numba layer {numba.threading_layer()}"
    )
    print_table(f"Spiking neurons (torch {torch.__version__}, {where})", rows)


if __name__ == "__main__":
    main()
