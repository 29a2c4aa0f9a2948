"""The module's warm-up + cosine schedule (Event2Vec's current recipe): the LR of every epoch and
step against the closed form, exact resume from a checkpoint, the batch scaling of the LR, and
bad schedule settings refused with the key and the fix."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

pytest.importorskip("lightning")

from spikestream import train
from spikestream.datasets import ASLDVS
from spikestream.errors import ConfigError
from spikestream.train.cli import run_cli
from spikestream.train.module import ClassificationModule, WarmupCosine

from . import test_train
from .test_train import QUIET, _fake_store, tiny_config

ndigits = test_train.ndigits  # the session fixture: NDigits prepared once

#: The tiny config's run: 32 NDigits training samples, batch 16 -> 2 steps per epoch.
STEPS_PER_EPOCH = 2
FAST = {"trainer.limit_val_batches": 0, "trainer.num_sanity_val_steps": 0}


def event2vec_lr(n: int, lr: float, warmup: int, total: int, min_lr: float,
                 start: float = 0.01) -> float:  # fmt: skip
    """Event2Vec's LR after ``n`` scheduler steps (research/event2vec.md, B4): LinearLR from
    ``start`` to 1 over ``warmup`` steps, then CosineAnnealingLR(T_max=total - warmup,
    eta_min=min_lr)."""
    if n < warmup:
        return lr * (start + (1 - start) * n / warmup)
    k = n - warmup
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * k / (total - warmup))) / 2


@pytest.fixture
def lrs(monkeypatch) -> list[float]:
    """The optimizer's LR at every training batch of every fit in the test."""
    seen: list[float] = []

    def record(self, batch, batch_idx):
        seen.append(float(self.trainer.optimizers[0].param_groups[0]["lr"]))

    monkeypatch.setattr(ClassificationModule, "on_train_batch_start", record, raising=False)
    return seen


def test_closed_form_is_event2vecs_sequential_lr_and_round_trips():
    """The published recipe (64 epochs, 4 warm-up from 1 %, lr 1.75e-3, min 1e-6): our LambdaLR
    gives the closed form and what torch's SequentialLR(LinearLR, CosineAnnealingLR), as the
    original builds it, gives; its state_dict carries the schedule into a fresh scheduler."""
    lr, warmup, total, min_lr = 1.75e-3, 4, 64, 1e-6

    def ours(shape: WarmupCosine) -> tuple[torch.optim.Optimizer, Any]:
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, shape)

    opt, sched = ours(WarmupCosine(warmup, total, 0.01, min_lr / lr))
    peer_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    peer = torch.optim.lr_scheduler.SequentialLR(
        peer_opt,
        [torch.optim.lr_scheduler.LinearLR(peer_opt, 0.01, 1.0, total_iters=warmup),
         torch.optim.lr_scheduler.CosineAnnealingLR(peer_opt, T_max=total - warmup,
                                                    eta_min=min_lr)],
        milestones=[warmup],
    )  # fmt: skip
    got, theirs, saved = [], [], None
    for epoch in range(total):
        got.append(opt.param_groups[0]["lr"])
        theirs.append(peer_opt.param_groups[0]["lr"])
        opt.step(), peer_opt.step()
        sched.step(), peer.step()
        if epoch == 9:
            saved = (opt.state_dict(), sched.state_dict())
    want = [event2vec_lr(e, lr, warmup, total, min_lr) for e in range(total)]
    assert got[:5] == pytest.approx([lr * f for f in (0.01, 0.2575, 0.505, 0.7525, 1.0)])
    assert got == pytest.approx(want, rel=1e-12, abs=0)
    assert theirs == pytest.approx(want, rel=1e-9, abs=0)
    assert got[-1] == pytest.approx(min_lr + (lr - min_lr) * (1 + math.cos(math.pi * 59 / 60)) / 2)

    # resume: a scheduler built with other numbers takes the checkpoint's schedule
    assert saved is not None and saved[1]["lr_lambdas"][0]["total"] == total
    opt2, sched2 = ours(WarmupCosine(1, 2, 0.5, 0.0))
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    again = []
    for _ in range(10, total):
        again.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    assert again == got[10:]


def test_lr_per_step(ndigits, tmp_path, monkeypatch, lrs):
    """scheduler_interval='step': the warm-up is 1 epoch's worth of steps (2 of the 4)."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    train.fit(config, **FAST, **{
        "trainer.logger": False, "trainer.enable_checkpointing": False,
        "trainer.max_epochs": 2, "model.lr": 0.01, "model.scheduler_interval": "step",
        "model.warmup_epochs": 1, "model.warmup_start_factor": 0.1})  # fmt: skip
    want = [event2vec_lr(s, 0.01, 2, 4, 0.0, start=0.1) for s in range(4)]
    assert lrs == pytest.approx(want, rel=1e-12, abs=1e-18)
    assert lrs[0] == pytest.approx(0.001) and lrs[2] == pytest.approx(0.01)


def test_lr_per_epoch_and_exact_resume(ndigits, tmp_path, monkeypatch, lrs, capsys, recwarn):
    """Per epoch, 2 warm-up epochs then the cosine to min_lr, with the LR scaled by batch 16 /
    lr_scale_batch 32 (reported at the start). A run stopped after 1 of its 4 epochs (inside the
    warm-up) and resumed from last.ckpt gives the uninterrupted run's LRs, value for value."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    run = {**FAST, "trainer.max_epochs": 4, "model.lr": 0.02, "model.lr_scale_batch": 32,
           "model.warmup_epochs": 2, "model.min_lr": 1e-4}  # fmt: skip
    whole = train.fit(config, **run)
    lr = 0.02 * 16 / 32
    want = [event2vec_lr(e, lr, 2, 4, 1e-4) for e in range(4) for _ in range(STEPS_PER_EPOCH)]
    assert lrs == pytest.approx(want, rel=1e-12, abs=0)
    assert whole["model"].effective_lr() == lr
    uninterrupted = list(lrs)
    lrs.clear()

    first = train.fit(config, **run, **{"trainer.max_steps": STEPS_PER_EPOCH})
    assert first["trainer"].current_epoch == 1
    # as a user resumes: the run's own config.yaml, without the step limit
    cli = run_cli("fit", ["--resume", first["log_dir"], "--trainer.max_steps=-1", *QUIET])
    assert cli.trainer.log_dir == first["log_dir"] != whole["log_dir"]
    assert lrs == uninterrupted  # exact: the same closed form at the same counts
    resumed, straight = (t.lr_scheduler_configs[0].scheduler
                         for t in (cli.trainer, whole["trainer"]))  # fmt: skip
    assert resumed.state_dict() == straight.state_dict()
    assert resumed.state_dict()["lr_lambdas"][0] == {"warmup": 2, "total": 4, "start": 0.01,
                                                     "floor": 1e-4 / lr}  # fmt: skip
    err = capsys.readouterr().err
    note = ("spikestream: learning rate 0.01 = --model.lr 0.02 x batch 16 x 1 processes x 1 "
            "accumulated / --model.lr_scale_batch 32")  # fmt: skip
    assert err.count(note) == 3  # once per fit: the whole run, the first part, the resume
    assert not [w for w in recwarn if "schedule spans" in str(w.message)]  # same length


def test_resume_into_a_run_of_another_length_warns():
    """The checkpoint's schedule (4 epochs) restored into a run of 8: said, not silently bent."""
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.types import LRSchedulerConfig

    module = ClassificationModule("plifnet_ndigits", {"channels": 4, "hidden": [16]},
                                  scheduler="cosine", warmup_epochs=2)  # fmt: skip
    module.trainer = pl.Trainer(max_epochs=8, logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    conf = module.configure_optimizers()
    sched = conf["lr_scheduler"]["scheduler"]
    assert sched.lr_lambdas[0].total == 8
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    old = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(2, 4, 0.01, 0.0))
    sched.load_state_dict(old.state_dict())  # what resuming from the checkpoint does
    module.trainer.strategy.lr_scheduler_configs = [LRSchedulerConfig(sched)]
    with pytest.warns(UserWarning, match=r"spans 4 epochs, this run 8: .* stays at --model.min_lr"):
        module.on_train_start()


@pytest.mark.parametrize(
    "kwargs, fragments",
    [
        ({"warmup_epochs": -1}, ["--model.warmup_epochs must be >= 0"]),
        ({"warmup_epochs": 4, "scheduler": "onecycle"},
         ["--model.warmup_epochs 4 with --model.scheduler onecycle", "--model.pct_start"]),
        ({"warmup_epochs": 4}, ["--model.scheduler None", "use --model.scheduler cosine"]),
        ({"warmup_epochs": 4, "scheduler": "cosine", "warmup_start_factor": 0.0},
         ["--model.warmup_start_factor must be in (0, 1]"]),
        ({"scheduler": "cosine", "min_lr": 0.01, "lr": 0.001},
         ["--model.min_lr 0.01 is above --model.lr 0.001", "lower --model.min_lr"]),
        ({"scheduler": "cosine", "min_lr": -1.0}, ["--model.min_lr must be >= 0"]),
        ({"min_lr": 1e-6}, ["--model.min_lr", "use --model.scheduler cosine"]),
        ({"lr_scale_batch": 0}, ["--model.lr_scale_batch must be >= 1", "256"]),
        ({"lr": 0.0}, ["--model.lr must be > 0"]),
    ],
)  # fmt: skip
def test_bad_schedules_fail_at_construction(kwargs, fragments):
    with pytest.raises(ConfigError) as info:
        ClassificationModule("plifnet_ndigits", {"channels": 4, "hidden": [16]}, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({"model.warmup_epochs": 2, "trainer.max_epochs": 2},
         ["--model.warmup_epochs 2 (2 epochs) leaves no epochs for the cosine",
          "the run has 2", "--trainer.max_epochs"]),
        ({"model.warmup_epochs": 1, "model.scheduler_interval": "step", "trainer.max_epochs": 3,
          "trainer.max_steps": 2},
         ["--model.warmup_epochs 1 (2 steps) leaves no steps", "--trainer.max_steps"]),
        ({"model.lr_scale_batch": 256, "model.lr": 1e-3, "model.min_lr": 1e-4},
         ["--model.min_lr 0.0001 is above the scaled learning rate 6.25e-05"]),
        ({"model.warmup_epochs": 1, "trainer.max_epochs": 3,
          "optimizer": "torch.optim.SGD", "optimizer.lr": 0.1},
         ["--model.warmup_epochs", "optimizer:/lr_scheduler: groups", "drop those groups"]),
        ({"trainer.max_epochs": -1, "trainer.max_steps": 4}, ["--trainer.max_epochs: set it"]),
    ],
)  # fmt: skip
def test_bad_schedules_for_the_run_fail_before_training(ndigits, tmp_path, monkeypatch, lrs,
                                                        overrides, fragments):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    with pytest.raises(ConfigError) as info:
        train.fit(config, **FAST, **{"trainer.logger": False}, **overrides)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert lrs == []  # not one step


@pytest.fixture(scope="module")
def asl_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("asldvs")
    for i, split in enumerate(ASLDVS.splits):
        _fake_store(root, ASLDVS, split, per_class=2, seed=i)
    return root


def test_packaged_event2vec_recipe_warms_up(asl_root, tmp_path, monkeypatch, lrs):
    """asl_dvs_event2vec: AdamW, lr 1e-3 x batch / 256, 4 warm-up epochs from 1 %, cosine to
    1e-6 over the rest: its first two epochs' LR on miniature data, batch 2, 64 tokens."""
    monkeypatch.chdir(tmp_path)
    argv = ["--config", "asl_dvs_event2vec", f"--data.root={asl_root}", "--data.batch_size=2",
            "--data.num_workers=0", "--data.num_events=64", "--trainer.max_epochs=64",
            "--trainer.max_steps=4", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_checkpointing=false", "--trainer.accelerator=cpu",
            "--trainer.devices=1", "--trainer.logger=false", "--trainer.precision=32",
            *QUIET]  # fmt: skip
    cli = run_cli("fit", argv)
    lr = 1e-3 * 2 / 256
    assert lrs == pytest.approx([event2vec_lr(e, lr, 4, 64, 1e-6) for e in (0, 0, 1, 1)],
                                rel=1e-12, abs=0)  # fmt: skip
    assert isinstance(cli.trainer.optimizers[0], torch.optim.AdamW)
    assert cli.trainer.optimizers[0].param_groups[0]["weight_decay"] == 0.0
    shape = cli.trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0]
    assert (shape.warmup, shape.total, shape.start) == (4, 64, 0.01)
