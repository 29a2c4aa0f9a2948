"""Whole models on CPU at their real input sizes: forward (inference: eval mode, no gradient)
and forward+backward (training mode) per sample, ours against the same network from a peer in
the same process.

* PLIFNet ``plifnet_dvsgesture`` (DVS128 Gesture, T=16 frames of 2x128x128, batch 4 by default;
  SpikingJelly's DVS Gesture recipe trains with batch 16, which needs ~4x the memory and time
  on this machine) against SpikingJelly 2.0's ``parametric_lif_net.DVSGestureNet`` built from
  its own neurons (``LIFNode``, ``surrogate.ATan()``, ``detach_reset=True``, multi-step mode),
  the same weights loaded into both. Loss: SpikingJelly's recipe, MSE between the firing rate
  and the one-hot label.
* RecurrentSNN ``rsnn_pokerdvs`` at the Norse POKER-DVS notebook's sizes (batch 32, 2x35x35
  1 ms frames, 100 hidden, 4 classes; T=50 steps, the golden file's length: padded batches are
  as long as their longest recording) against Norse's equations as a plain torch loop (the
  input projected per step, a SuperSpike autograd function, autograd for the backward) and
  against Norse 1.1 itself (the notebook's ``SNN`` of ``LIFRecurrentCell`` + ``Linear`` +
  ``LICell``) when it imports. Loss: the notebook's ``nll_loss`` of the max-over-time decoding.
* Event2Vec (``event2vec_asldvs``, ``event2vec_dvsgesture``, ``event2vec_v1_asldvs``), 255
  tokens, batch 128, cross-entropy: our figures only (the reference implementations need
  flash-linear-attention or the original repository, neither installed here).

Every backward gets the gradient of a real loss against random labels, never ``.sum()``.
Candidates run in interleaved rounds (best kept), so a burst of load on a shared machine slows
one round rather than one candidate. A model not registered yet is skipped with a printed line.

    python -m benchmarks.models [--only plif rsnn e2v] [--gesture-batch 4] [--rounds 2]

Peers: ``pip install --no-deps spikingjelly==2.0.0`` (plus ``loguru``), and for Norse
``pip install --no-deps norse==1.1.0 nirtorch`` (norse is found on ``PYTHONPATH`` too).
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from spikestream import models
from spikestream.snn.surrogate import SuperSpike

from .common import Row, best_time, print_table

Phase = Callable[[], None]


@dataclass
class Case:
    """One model at one input size: our phases, each peer's, and the samples per call."""

    name: str
    samples: int
    ours: dict[str, Phase]
    peers: dict[str, dict[str, Phase]] = field(default_factory=dict)
    note: str = ""


def _model(name: str, **overrides) -> nn.Module | None:
    if name not in models.list_models():
        print(f"({name} is not registered yet: skipped)")
        return None
    return models.create(name, **overrides)


def _phases(net: nn.Module, run: Callable[[], torch.Tensor], loss_of) -> dict[str, Phase]:
    """Forward in eval mode without gradient; forward+backward of ``loss_of(output)`` in
    training mode."""

    def forward() -> None:
        net.eval()
        with torch.no_grad():
            run()

    def forward_backward() -> None:
        net.train()
        net.zero_grad(set_to_none=True)
        loss_of(run()).backward()

    return {"forward": forward, "forward+backward": forward_backward}


# -- PLIFNet vs SpikingJelly ------------------------------------------------------------------


def _sj_dvsgesture():
    for name in ("torchvision", "torchvision.transforms", "torchaudio"):  # unused by the net
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate
        from spikingjelly.activation_based.model.parametric_lif_net import DVSGestureNet
    except Exception as exc:
        print(f"(spikingjelly not loadable: {exc})")
        return None, None
    net = DVSGestureNet(
        channels=128,
        spiking_neuron=neuron.LIFNode,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
    )
    functional.set_step_mode(net, "m")
    return net, functional.reset_net


def plif_case(batch: int, steps: int) -> Case | None:
    ours = _model("plifnet_dvsgesture")
    if ours is None:
        return None
    torch.manual_seed(0)
    x = torch.poisson(torch.full((batch, steps, 2, 128, 128), 0.05))  # [N, T, 2, H, W]
    labels = torch.randint(0, 11, (batch,))
    onehot = nn.functional.one_hot(labels, 11).float()

    def mse(rate: torch.Tensor) -> torch.Tensor:  # SpikingJelly's DVS Gesture recipe
        return nn.functional.mse_loss(rate, onehot)

    case = Case(
        f"PLIFNet DVS Gesture, N={batch} T={steps} 2x128x128",
        batch,
        _phases(ours, lambda: ours(x), mse),
    )
    sj, reset_net = _sj_dvsgesture()
    if sj is not None:
        ours.load_state_dict(sj.state_dict())  # the same weights: the same spikes
        x_tn = x.transpose(0, 1).contiguous()  # SpikingJelly's multi-step layout [T, N, ...]

        def sj_run() -> torch.Tensor:
            rate = sj(x_tn).mean(0)
            reset_net(sj)
            return rate

        case.peers["SpikingJelly 2.0 DVSGestureNet"] = _phases(sj, sj_run, mse)
        sj.eval()
        ours.eval()
        with torch.no_grad():
            small = x[:1, :2]
            theirs = sj(small.transpose(0, 1).contiguous()).mean(0)
            reset_net(sj)
            diff = (ours(small) - theirs).abs().max()
        case.note = f"same weights, outputs differ by {float(diff):.1g}"
    return case


# -- RecurrentSNN vs a plain loop and Norse ---------------------------------------------------


# Norse's 'super' surrogate: strict Heaviside forward, 1 / (|x| + 1)^2 backward
_SUPER = SuperSpike(alpha=1.0, strict=True)


class PlainRSNN(nn.Module):
    """The POKER-DVS network as a user writes it with Norse's equations in plain torch: one
    step at a time, the input projected per step, autograd for the backward."""

    def __init__(self, ref: nn.Module):
        super().__init__()
        self.w_in = nn.Parameter(ref.l1.input_weights.detach().clone())
        self.w_rec = nn.Parameter(ref.l1.recurrent_weights.detach().clone())
        self.w_out = nn.Parameter(ref.fc_out.weight.detach().clone())
        self.w_rec.register_hook(lambda g: g.clone().fill_diagonal_(0.0))  # no autapses

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T, N, 2, 35, 35]
        steps, batch = x.shape[:2]
        hidden, classes = self.w_rec.shape[0], self.w_out.shape[0]
        z = v = i = x.new_zeros(batch, hidden)
        vo = io = x.new_zeros(batch, classes)
        voltages = []
        for t in range(steps):
            j = i + x[t].flatten(1) @ self.w_in.t() + z @ self.w_rec.t()
            d = v + 0.1 * ((0 - v) + j)
            i = j - 0.1 * j
            z = _SUPER(d - 0.3)
            v = (1 - z.detach()) * d
            jo = io + z @ self.w_out.t()
            vo = vo + 0.1 * ((0 - vo) + jo)
            io = jo - 0.2 * jo
            voltages.append(vo)
        return torch.log_softmax(torch.max(torch.stack(voltages), 0).values, dim=1)


def _norse_rsnn(ref: nn.Module):
    try:
        import norse.torch as norse
        from norse.torch.module.lif import LIFRecurrentCell
    except Exception as exc:
        print(f"(norse not loadable: {exc}; pip install --no-deps norse==1.1.0 nirtorch)")
        return None

    class NorseSNN(nn.Module):  # the notebook's SNN and decoder
        def __init__(self):
            super().__init__()
            p = norse.LIFParameters(
                alpha=100,
                v_th=torch.as_tensor(0.3),
                tau_syn_inv=torch.as_tensor(100.0),
                tau_mem_inv=torch.as_tensor(100.0),
            )
            self.l1 = LIFRecurrentCell(2450, 100, p=p, dt=1e-3)
            self.fc_out = nn.Linear(100, 4, bias=False)
            self.out = norse.LICell(dt=1e-3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T, N, 2, 35, 35]
            s1 = so = None
            voltages = []
            for t in range(x.shape[0]):
                z, s1 = self.l1(x[t].reshape(-1, 2450), s1)
                vo, so = self.out(self.fc_out(z), so)
                voltages.append(vo)
            return torch.log_softmax(torch.max(torch.stack(voltages), 0).values, dim=1)

    net = NorseSNN()
    net.load_state_dict(ref.state_dict())
    return net


def rsnn_case(batch: int, steps: int) -> Case | None:
    ours = _model("rsnn_pokerdvs")
    if ours is None:
        return None
    torch.manual_seed(0)
    counts = torch.poisson(torch.full((batch, steps, 2, 35, 35), 0.02)).clamp(max=3)
    x_tn = counts.transpose(0, 1).contiguous()  # the notebook's loader: [T, N, ...]
    labels = torch.randint(0, 4, (batch,))

    def nll(log_p: torch.Tensor) -> torch.Tensor:
        return nn.functional.nll_loss(log_p, labels)

    case = Case(
        f"RecurrentSNN POKER-DVS, N={batch} T={steps} 2x35x35",
        batch,
        _phases(ours, lambda: ours(counts), nll),
    )
    plain = PlainRSNN(ours)
    case.peers["plain torch loop"] = _phases(plain, lambda: plain(x_tn), nll)
    norse_net = _norse_rsnn(ours)
    if norse_net is not None:
        case.peers["Norse 1.1 (notebook SNN)"] = _phases(norse_net, lambda: norse_net(x_tn), nll)
        with torch.no_grad():
            diff = (ours(counts) - norse_net(x_tn)).abs().max()
        case.note = f"same weights, log-probs differ from Norse by {float(diff):.1g}"
    return case


# -- Event2Vec (our figures) ------------------------------------------------------------------


def e2v_cases(batch: int, length: int) -> list[Case]:
    cases = []
    for name in ("event2vec_asldvs", "event2vec_dvsgesture", "event2vec_v1_asldvs"):
        model = _model(name)
        if model is None:
            continue
        torch.manual_seed(0)
        if hasattr(model, "sensor_size"):
            w, h = model.sensor_size
        else:
            w, h = model.cfg.sensor_size
        x = torch.randint(0, w, (batch, length)).float()
        y = torch.randint(0, h, (batch, length)).float()
        t = torch.rand(batch, length).sort(dim=1).values
        p = torch.randint(0, 2, (batch, length)).float()
        valid = torch.ones(batch, length, dtype=torch.bool)
        valid[batch // 2 :, length - length // 4 :] = False  # half the batch padded by a quarter
        with torch.no_grad():
            classes = model(x, y, t, p, valid).shape[1]
        labels = torch.randint(0, classes, (batch,))

        def ce(logits: torch.Tensor, labels=labels) -> torch.Tensor:
            return nn.functional.cross_entropy(logits, labels)

        def run(model=model, x=x, y=y, t=t, p=p, valid=valid) -> torch.Tensor:
            return model(x, y, t, p, valid)

        params = sum(q.numel() for q in model.parameters())
        cases.append(
            Case(
                f"{name}, N={batch} L={length} tokens",
                batch,
                _phases(model, run, ce),
                note=f"{params:,} parameters",
            )
        )
    return cases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=["plif", "rsnn", "e2v"],
                        default=["plif", "rsnn", "e2v"])  # fmt: skip
    parser.add_argument("--gesture-batch", type=int, default=4)
    parser.add_argument("--gesture-steps", type=int, default=16)
    parser.add_argument("--rsnn-batch", type=int, default=32)
    parser.add_argument("--rsnn-steps", type=int, default=50)
    parser.add_argument("--e2v-batch", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=255)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved passes, best kept")
    args = parser.parse_args(argv)

    cases: list[Case] = []
    if "rsnn" in args.only:
        cases += [c for c in [rsnn_case(args.rsnn_batch, args.rsnn_steps)] if c]
    if "e2v" in args.only:
        cases += e2v_cases(args.e2v_batch, args.tokens)
    if "plif" in args.only:
        cases += [c for c in [plif_case(args.gesture_batch, args.gesture_steps)] if c]

    # best samples/s per (case, candidate, phase), rounds interleaving the candidates
    best: dict[tuple[str, str, str], float] = {}
    for _ in range(args.rounds):
        for case in cases:
            for cand, phases in [("ours", case.ours), *case.peers.items()]:
                for phase, fn in phases.items():
                    key = (case.name, cand, phase)
                    if key in best and best[key] == 0.0:
                        continue  # failed before
                    try:
                        rate = case.samples / best_time(fn, args.repeat, warmup=1)
                    except Exception as exc:  # a peer that breaks here is left out
                        print(f"({cand} {phase} on {case.name} failed: {exc})")
                        rate = 0.0
                    best[key] = max(best.get(key, 0.0), rate)

    def ms(rate: float | None) -> str:
        return "n/a" if not rate else f"{1e3 / rate:,.3g} ms"

    rows = []
    for case in cases:
        for phase in ("forward", "forward+backward"):
            ours = best.get((case.name, "ours", phase)) or None
            peers = list(case.peers) or ["none in this run"]
            for peer in peers:
                theirs = best.get((case.name, peer, phase)) or None
                note = f"per sample: ours {ms(ours)}, peer {ms(theirs)}"
                if case.note:
                    note += f"; {case.note}"
                rows.append(Row(f"{case.name} {phase}", ours, peer, theirs, "samples/s", note))
    print_table(
        f"Models on CPU (torch {torch.__version__}, {torch.get_num_threads()} threads)", rows
    )


if __name__ == "__main__":
    main()
