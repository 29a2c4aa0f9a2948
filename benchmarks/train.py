"""One DVS128 Gesture training step on CPU: ``plifnet_dvsgesture`` against SpikingJelly 2.0's
``DVSGestureNet`` (its own ``LIFNode``, ``surrogate.ATan()``, ``detach_reset=True``,
multi-step mode, torch backend), the same weights, each in its own process.

The step: T=16 frames of 2x128x128, batch 4, forward, the tutorial's loss (MSE between the
output's firing rate and the one-hot label), backward, Adam (lr 1e-3). Dropout is off in both
(p=0: its masks come from each library's own random draws, which would make the two steps
differ; it costs nothing at these sizes). Each process reports the cold first step, the warm
step (median of ``--steps`` after ``--warmup`` steps), its CPU seconds (all threads, user +
system: steadier than wall time on a shared machine), its peak RSS (``ru_maxrss``) and the RSS
after building the model and input, and writes the first step's loss, a few gradients and
updated weights to a file: the parent compares them between the peers (and between fp32 and
bf16-mixed, the accuracy effect of bf16).

``--allocator``: ``glibc`` (the default malloc), ``arena2`` (``MALLOC_ARENA_MAX=2``),
``tuned`` (``glibc.malloc.hugetlb=1``: glibc asks for transparent huge pages on the blocks it
mmaps, 2 MiB page faults instead of 4 KiB ones), ``heap`` (``glibc.malloc.mmap_max=0`` and a
high trim threshold: big tensors stay in the heap instead of being mmapped and faulted in at
every step), ``jemalloc`` (``LD_PRELOAD`` of Debian's
``libjemalloc2``), or ``spikestream`` (what `spikestream.train.allocator.tune` sets up). Both
peers run under the same one. Rounds interleave the candidates; the best round is kept.

    python -m benchmarks.train [--allocator glibc tuned jemalloc] [--rounds 2] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
BATCH, STEPS_T, CLASSES = 4, 16, 11


def allocator_env(name: str) -> dict[str, str]:
    """The environment of one allocator set-up (added to the current one)."""
    if name == "glibc":
        return {}
    if name == "arena2":
        return {"MALLOC_ARENA_MAX": "2"}
    if name == "tuned":  # glibc madvises its mmapped blocks for transparent huge pages
        return {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    if name == "heap":  # glibc keeps every block in its heap: no mmap, no trimming
        return {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"}
    if name == "jemalloc":
        if not Path(JEMALLOC).exists():
            raise SystemExit(f"{JEMALLOC} missing: apt-get install -y libjemalloc2")
        return {"LD_PRELOAD": JEMALLOC}
    if name == "spikestream":
        return {"SPIKESTREAM_BENCH_TUNE": "1"}
    raise SystemExit(f"unknown allocator {name!r}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _sj_net():
    for name in ("torchvision", "torchvision.transforms", "torchaudio"):  # unused by the net
        sys.modules.setdefault(name, types.ModuleType(name))
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model.parametric_lif_net import DVSGestureNet

    net = DVSGestureNet(channels=128, spiking_neuron=neuron.LIFNode,
                        surrogate_function=surrogate.ATan(), detach_reset=True)  # fmt: skip
    functional.set_step_mode(net, "m")
    for m in net.modules():
        if type(m).__name__ == "Dropout":
            m.p = 0.0

    def run(x):  # x: [N, T, ...] -> rate [N, classes]
        out = net(x.transpose(0, 1).contiguous()).mean(0)
        return out

    return net, run, lambda: functional.reset_net(net)


def _our_net():
    from spikestream import models

    net = models.create("plifnet_dvsgesture", dropout=0.0)
    return net, net, lambda: None


def worker(args: argparse.Namespace) -> None:
    """One peer's steps in this process; prints one JSON line."""
    import torch

    if os.environ.get("SPIKESTREAM_BENCH_TUNE"):
        from spikestream.train.allocator import tune

        tune()
    torch.set_num_threads(args.threads)
    net, run, reset = _sj_net() if args.peer == "sj" else _our_net()
    net.load_state_dict(torch.load(args.weights))
    net.train()
    data = torch.load(args.data)
    x, onehot = data["x"], data["onehot"]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    bf16 = args.dtype == ["bf16"]  # the worker gets one
    base = _current_rss_mb()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            rate = run(x)
            loss = torch.nn.functional.mse_loss(rate.float(), onehot)
        loss.backward()
        reset()
        return loss

    start = time.perf_counter()
    loss = step()
    cold = time.perf_counter() - start
    names = ["conv_fc.0.weight", "conv_fc.1.weight", "conv_fc.12.weight", "conv_fc.22.weight"]
    params = dict(net.named_parameters())
    result = {"loss": float(loss)}
    result.update({f"grad/{n}": params[n].grad.clone() for n in names})
    opt.step()
    result.update({f"after/{n}": params[n].detach().clone() for n in names})
    torch.save(result, args.result)
    for _ in range(args.warmup):
        step()
        opt.step()
    times, cpu = [], []
    for _ in range(args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        opt.step()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    times.sort()
    cpu.sort()
    print(json.dumps({"cold": cold / BATCH, "warm": times[len(times) // 2] / BATCH,
                      "cpu": cpu[len(cpu) // 2] / BATCH,
                      "peak_mb": _rss_mb(), "base_mb": base}))  # fmt: skip


def _launch(peer: str, dtype: str, alloc: str, files: dict[str, str], args) -> dict:
    env = {**os.environ, **allocator_env(alloc), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-m", "benchmarks.train", "--worker", peer, "--dtype", dtype,
           "--weights", files["weights"], "--data", files["data"], "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads),
           "--result", files[f"{peer}-{dtype}-{alloc}"]]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{peer} {dtype} {alloc} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _max_rel_diff(a: dict, b: dict) -> dict[str, float]:
    out = {"loss": abs(a["loss"] - b["loss"]) / abs(b["loss"])}
    for k in a:
        if k != "loss":
            scale = float(b[k].abs().max()) or 1.0
            out[k] = float((a[k].float() - b[k].float()).abs().max()) / scale
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    allocators = ["glibc", "arena2", "tuned", "heap", "jemalloc", "spikestream"]
    parser.add_argument("--allocator", nargs="+", default=["glibc", "tuned", "jemalloc"],
                        choices=allocators)  # fmt: skip
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--peers", nargs="+", default=["ours", "sj"], choices=["ours", "sj"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2, help="timed warm steps per process")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["ours", "sj"], help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.peer = args.worker
        worker(args)
        return

    import torch

    from spikestream import models

    tmp = Path(tempfile.mkdtemp(prefix="spikestream-bench-train-"))
    files = {"weights": str(tmp / "weights.pt"), "data": str(tmp / "data.pt")}
    torch.manual_seed(0)
    torch.save(models.create("plifnet_dvsgesture").state_dict(), files["weights"])
    x = torch.poisson(torch.full((BATCH, STEPS_T, 2, 128, 128), 0.05))
    onehot = torch.nn.functional.one_hot(torch.randint(0, CLASSES, (BATCH,)), CLASSES).float()
    torch.save({"x": x, "onehot": onehot}, files["data"])
    configs = [(p, d, a) for a in args.allocator for d in args.dtype for p in args.peers]
    for p, d, a in configs:
        files[f"{p}-{d}-{a}"] = str(tmp / f"{p}-{d}-{a}.pt")
    best: dict[tuple[str, str, str], dict] = {}
    for r in range(args.rounds):
        for cfg in configs:
            res = _launch(*cfg, files, args)
            print(f"round {r} {cfg}: {res}", flush=True)
            old = best.get(cfg)
            if old is None:
                best[cfg] = res
            else:
                best[cfg] = {k: min(old[k], res[k]) for k in res}

    print(f"\n### DVS128 Gesture training step, T={STEPS_T} N={BATCH} 2x128x128, CPU, "
          f"{args.threads} threads, torch {torch.__version__}; best of {args.rounds} "
          "interleaved rounds, each peer in its own process\n")  # fmt: skip
    print("| allocator | precision | ours warm s/sample | SJ warm s/sample | speed ratio | "
          "ours CPU s/sample | SJ CPU s/sample | CPU ratio | ours cold | SJ cold | "
          "ours peak RSS MB | SJ peak RSS MB | memory ratio |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for a in args.allocator:
        for d in args.dtype:
            o, s = best.get(("ours", d, a)), best.get(("sj", d, a))
            if o is None or s is None:
                continue
            print(f"| {a} | {d} | {o['warm']:.3f} | {s['warm']:.3f} | "
                  f"{s['warm'] / o['warm']:.2f}x | {o['cpu']:.3f} | {s['cpu']:.3f} | "
                  f"{s['cpu'] / o['cpu']:.2f}x | {o['cold']:.3f} | {s['cold']:.3f} | "
                  f"{o['peak_mb']:,.0f} (+{o['peak_mb'] - o['base_mb']:,.0f}) | "
                  f"{s['peak_mb']:,.0f} (+{s['peak_mb'] - s['base_mb']:,.0f}) | "
                  f"{o['peak_mb'] / s['peak_mb']:.2f}x |")  # fmt: skip
    print("\nResults (first step, max difference relative to the reference tensor's largest "
          "magnitude):")  # fmt: skip
    load = lambda key: torch.load(files[key])  # noqa: E731
    for a in args.allocator:
        if "ours" in args.peers and "sj" in args.peers and "fp32" in args.dtype:
            diff = _max_rel_diff(load(f"ours-fp32-{a}"), load(f"sj-fp32-{a}"))
            print(f"- {a}, ours vs SJ fp32: " + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))
        if "fp32" in args.dtype and "bf16" in args.dtype:
            for p in args.peers:
                diff = _max_rel_diff(load(f"{p}-bf16-{a}"), load(f"{p}-fp32-{a}"))
                print(f"- {a}, {p} bf16-mixed vs fp32: "
                      + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))  # fmt: skip


if __name__ == "__main__":
    main()
