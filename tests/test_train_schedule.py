"""The module's warm-up + cosine schedule (Event2Vec's current recipe): the LR of every epoch and
step against the closed form, exact resume from a checkpoint, the batch scaling of the LR, and
bad schedule settings refused with the key and the fix."""

from __future__ import annotations

import math
import re
from pathlib import Path
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


def test_resume_with_another_batch_reports_the_lr_that_trains(ndigits, tmp_path, monkeypatch,
                                                              lrs, capsys):  # fmt: skip
    """A batch-16 run (lr 0.02 x 16 / 32 = 0.01) resumed with --data.batch_size 8: the
    checkpoint's optimizer and schedule carry on at 0.01; the print says so and a warning names
    this run's 0.005. The same checkpoint with its pre-warm-up hyperparameters (no
    warmup_epochs key) resumed under --model.warmup_epochs 1: a ConfigError naming the fix, not
    the KeyError of loading a CosineAnnealingLR state into the warm-up's LambdaLR."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    run = {**FAST, "trainer.max_epochs": 2, "model.lr": 0.02, "model.lr_scale_batch": 32,
           "model.min_lr": 1e-4}  # fmt: skip
    first = train.fit(config, **run, **{"trainer.max_steps": STEPS_PER_EPOCH})
    last = Path(first["last_model_path"])
    ckpt = torch.load(last, weights_only=False)
    assert list(ckpt["lr_schedulers"][0]) and "lr_lambdas" not in ckpt["lr_schedulers"][0]
    for key in ("warmup_epochs", "warmup_start_factor", "min_lr", "lr_scale_batch"):
        del ckpt["hyper_parameters"][key]
    old = last.with_name("old.ckpt")
    torch.save(ckpt, old)
    assert lrs == [0.01] * STEPS_PER_EPOCH
    lrs.clear()
    capsys.readouterr()

    with pytest.warns(UserWarning, match=r"the learning rate 0.01 trains \(the checkpoint's "
                      r"optimizer and schedule\), not this run's 0.005 = --model.lr 0.02 x "
                      r"batch 8 .*--data.batch_size") as caught:  # fmt: skip
        resumed = train.fit(config, ckpt_path=last, **run,
                            **{"trainer.max_steps": -1, "data.batch_size": 8})  # fmt: skip
    assert len([w for w in caught if "trains (the checkpoint's" in str(w.message)]) == 1
    assert (
        "spikestream: learning rate 0.01 (the checkpoint's; this run's would be 0.005 = "
        "--model.lr 0.02 x batch 8 x 1 processes" in capsys.readouterr().err
    )
    # epoch 1 of the checkpoint's 2-epoch cosine from 0.01: its midpoint, for 4 batches of 8
    assert lrs == pytest.approx([1e-4 + (0.01 - 1e-4) / 2] * 4, rel=1e-12)
    assert resumed["trainer"].global_step == STEPS_PER_EPOCH + 4

    with pytest.raises(ConfigError) as info:
        train.fit(config, ckpt_path=old, **{**run, "model.warmup_epochs": 1})
    assert "plain cosine (CosineAnnealingLR" in str(info.value)
    assert "resume it with --model.warmup_epochs 0" in str(info.value)


@pytest.mark.parametrize(
    "warmup, saved, fragment",
    [
        (0, {"lr_lambdas": [{"warmup": 4, "total": 64}], "last_epoch": 3},
         "has a warm-up (4 epochs), this run's has none"),
        (0, {"lr_lambdas": [None]}, "has a warm-up (None epochs)"),
        (2, {"T_max": 8, "eta_min": 0.0}, "resume it with --model.warmup_epochs 0"),
    ],
)  # fmt: skip
def test_a_checkpoint_of_the_other_schedule_is_refused(warmup, saved, fragment):
    """Warm-up or not must match the checkpoint's scheduler state while fitting; other stages
    (test, predict) and checkpoints without a scheduler state are left alone."""
    from lightning.pytorch.trainer.states import TrainerFn

    module = ClassificationModule("plifnet_ndigits", {"channels": 4, "hidden": [16]},
                                  scheduler="cosine", warmup_epochs=warmup)  # fmt: skip
    trainer = _bare_trainer(module, max_epochs=8)
    for checkpoint in ({}, {"lr_schedulers": []}, {"lr_schedulers": [saved]}):
        module.on_load_checkpoint(checkpoint)  # not fitting: nothing to restore
    trainer.state.fn = TrainerFn.FITTING
    module.on_load_checkpoint({"lr_schedulers": []})
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        module.on_load_checkpoint({"lr_schedulers": [saved]})


def _bare_trainer(module: ClassificationModule, **kwargs: Any) -> Any:
    import lightning.pytorch as pl

    module.trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu",
                                enable_progress_bar=False, enable_model_summary=False,
                                **kwargs)  # fmt: skip
    return module.trainer


@pytest.mark.parametrize("warmup, past", [(2, "stays at --model.min_lr"),
                                          (0, r"rises again \(CosineAnnealingLR\)")])  # fmt: skip
def test_resume_into_a_run_of_another_length_warns(warmup, past):
    """The checkpoint's schedule (4 epochs) restored into a run of 8: said, not silently bent;
    past its end the warm-up's LambdaLR holds min_lr, a plain CosineAnnealingLR rises again."""
    from lightning.pytorch.utilities.types import LRSchedulerConfig

    module = ClassificationModule("plifnet_ndigits", {"channels": 4, "hidden": [16]},
                                  scheduler="cosine", warmup_epochs=warmup)  # fmt: skip
    trainer = _bare_trainer(module, max_epochs=8)
    conf = module.configure_optimizers()
    sched = conf["lr_scheduler"]["scheduler"]
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    if warmup:
        assert sched.lr_lambdas[0].total == 8
        old: Any = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(2, 4, 0.01, 0.0))
    else:
        assert sched.T_max == 8
        old = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    sched.load_state_dict(old.state_dict())  # what resuming from the checkpoint does
    trainer.strategy.optimizers = [conf["optimizer"]]
    trainer.strategy.lr_scheduler_configs = [LRSchedulerConfig(sched)]
    with pytest.warns(UserWarning, match=rf"spans 4 epochs, this run 8: .* {past} past its end"):
        module.on_train_start()


def test_a_run_inside_its_warm_up_holds_at_the_end():
    """warm-up == run: Lightning's step after the last epoch reaches the cosine's first value
    (1), not 0 / 0; a run shorter than its warm-up stays on the line."""
    shape = WarmupCosine(2, 2, 0.01, 0.001)
    assert [shape(n) for n in range(4)] == pytest.approx([0.01, 0.505, 1.0, 0.001])
    assert [WarmupCosine(4, 1, 0.01, 0.0)(n) for n in range(3)] == pytest.approx(
        [0.01, 0.2575, 0.505]
    )


@pytest.mark.parametrize(
    "overrides, warm, per, fragment",
    [
        ({"trainer.max_epochs": 2}, 2, STEPS_PER_EPOCH,
         "--model.warmup_epochs 2 (2 epochs), the run 2 epochs"),
        ({"model.scheduler_interval": "step", "trainer.max_epochs": 3, "trainer.max_steps": 2},
         2 * STEPS_PER_EPOCH, 1, "--model.warmup_epochs 2 (4 steps), the run 2 steps"),
    ],
)  # fmt: skip
def test_a_run_that_ends_inside_its_warm_up_trains_and_warns(ndigits, tmp_path, monkeypatch, lrs,
                                                             overrides, warm, per,
                                                             fragment):  # fmt: skip
    """A smoke run of a recipe (fewer epochs or steps than its warm-up) trains the warm-up's
    first LRs, as torch's SequentialLR would, with a warning instead of a ConfigError."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    with pytest.warns(UserWarning, match="the run ends inside the warm-up") as caught:
        out = train.fit(config, **FAST, **{"trainer.logger": False, "model.lr": 0.01,
                                           "model.warmup_epochs": 2}, **overrides)  # fmt: skip
    assert any(fragment in str(w.message) for w in caught)
    # 2 scheduler steps of a warm-up of `warm`, each held for `per` batches
    want = [event2vec_lr(n, 0.01, warm, warm, 0.0) for n in range(2) for _ in range(per)]
    assert lrs == pytest.approx(want, rel=1e-12, abs=0)
    assert lrs[0] == pytest.approx(1e-4)
    assert out["trainer"].global_step == 2 * per


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
        ({"model.lr_scale_batch": 256, "model.lr": 1e-3, "model.min_lr": 1e-4},
         ["--model.min_lr 0.0001 is above the scaled learning rate 6.25e-05"]),
        ({"model.warmup_epochs": 1, "trainer.max_epochs": 3,
          "optimizer": "torch.optim.SGD", "optimizer.lr": 0.1},
         ["--model.warmup_epochs", "optimizer:/lr_scheduler: groups", "drop those groups",
          "--model.warmup_epochs 0 --model.min_lr 0 --model.lr_scale_batch null"]),
        ({"trainer.max_epochs": -1},
         ["anneals over the run's epochs", "set --trainer.max_epochs or --trainer.max_steps"]),
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


def test_per_epoch_cosine_spans_the_epochs_of_max_steps(ndigits, tmp_path, monkeypatch, lrs):
    """max_epochs -1 with max_steps 6 (2 steps per epoch): the per-epoch schedule spans the 3
    epochs those steps take, 1 of warm-up and 2 of cosine (1, then the midpoint 0.5)."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    out = train.fit(config, **FAST, **{
        "trainer.logger": False, "trainer.enable_checkpointing": False,
        "trainer.max_epochs": -1, "trainer.max_steps": 6, "model.lr": 0.01,
        "model.warmup_epochs": 1})  # fmt: skip
    assert lrs == pytest.approx([0.01 * f for f in (0.01, 0.01, 1, 1, 0.5, 0.5)], rel=1e-12)
    assert out["trainer"].lr_scheduler_configs[0].scheduler.lr_lambdas[0].total == 3


@pytest.mark.parametrize("interval, limits", [("step", {"max_epochs": 2}),
                                              ("epoch", {"max_steps": 4})])  # fmt: skip
def test_training_data_without_length_is_refused_when_epochs_are_counted(monkeypatch, interval,
                                                                         limits):  # fmt: skip
    """Batches per epoch unknown (an iterable dataset): a ConfigError, not ceil(inf)'s
    OverflowError, where the warm-up (per step) or the epochs of max_steps need them."""
    import lightning.pytorch as pl

    module = ClassificationModule("plifnet_ndigits", {"channels": 4, "hidden": [16]},
                                  scheduler="cosine", warmup_epochs=1,
                                  scheduler_interval=interval)  # fmt: skip
    _bare_trainer(module, **limits)
    monkeypatch.setattr(pl.Trainer, "train_dataloader", property(lambda self: object()))
    monkeypatch.setattr(pl.Trainer, "num_training_batches", property(lambda self: math.inf))
    with pytest.raises(ConfigError, match="the training data has no length") as info:
        module.configure_optimizers()
    assert "--trainer.limit_train_batches" in str(info.value)


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


def onecycle_lrs(lr: float, total: int, pct_start: float = 0.3) -> list[float]:
    """torch's OneCycleLR over ``total`` steps, run on its own: the LR before each step."""
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total,
                                                pct_start=pct_start)  # fmt: skip
    out = []
    for _ in range(total):
        out.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return out


def test_onecycle_resume_exact_shorter_warned_longer_refused(ndigits, tmp_path, monkeypatch,
                                                             lrs, recwarn):  # fmt: skip
    """A 3-epoch one-cycle run (6 steps) stopped after its first epoch. Resumed with
    --trainer.max_epochs 4: a ConfigError naming the run's length before any step (OneCycleLR
    would raise ValueError at step 7), last.ckpt untouched. Resumed with 2 epochs: the
    checkpoint's curve, warned. Resumed as configured: the uninterrupted run's LRs, value for
    value. No resume repeats Lightning's "Checkpoint directory ... is not empty"."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    run = {**FAST, "trainer.max_epochs": 3, "model.lr": 0.01, "model.scheduler": "onecycle"}
    whole = train.fit(config, **run)
    uninterrupted = list(lrs)
    assert uninterrupted == pytest.approx(onecycle_lrs(0.01, 6), rel=1e-12, abs=0)
    assert uninterrupted[0] == pytest.approx(0.01 / 25)  # OneCycleLR's div_factor
    lrs.clear()

    end_epoch = ClassificationModule.on_train_epoch_end

    def stop(self) -> None:  # an interrupted run: stopped (and saved) after epoch 0
        end_epoch(self)
        self.trainer.should_stop = True

    monkeypatch.setattr(ClassificationModule, "on_train_epoch_end", stop)
    first = train.fit(config, **run)
    monkeypatch.setattr(ClassificationModule, "on_train_epoch_end", end_epoch)
    assert first["trainer"].global_step == STEPS_PER_EPOCH and lrs == uninterrupted[:2]
    last = Path(first["last_model_path"])
    saved = last.read_bytes()
    assert torch.load(last, weights_only=False)["lr_schedulers"][0]["total_steps"] == 6
    lrs.clear()
    resume = ["--resume", first["log_dir"], *QUIET]

    with pytest.raises(ConfigError) as info:
        run_cli("fit", [*resume, "--trainer.max_epochs=4"])
    assert ("the checkpoint's one-cycle schedule (--model.scheduler onecycle) spans 6 steps, "
            "this run 8" in str(info.value))  # fmt: skip
    assert "Resume with the run's --trainer.max_epochs 3 (or --trainer.max_steps 6)" in str(
        info.value
    )
    assert (
        f"or start a new run from its weights (without --ckpt_path): spikestream fit "
        f"--config CONFIG --model.init_from {last} --trainer.max_epochs 4" in str(info.value)
    )
    assert lrs == [] and last.read_bytes() == saved  # not one step, nothing overwritten

    with pytest.warns(UserWarning, match=r"one-cycle schedule spans 6 steps, this run 4: the "
                      r"learning rate follows the checkpoint's schedule"):  # fmt: skip
        shorter = run_cli("fit", [*resume, "--trainer.max_epochs=2"])
    assert shorter.trainer.global_step == 4 and lrs == uninterrupted[2:4]

    recwarn.clear()
    resumed = run_cli("fit", resume)  # the run's own config.yaml: 3 epochs
    assert resumed.trainer.global_step == 6 and lrs == uninterrupted[2:]
    mine, straight = (t.lr_scheduler_configs[0].scheduler.state_dict()
                      for t in (resumed.trainer, whole["trainer"]))  # fmt: skip
    assert mine == straight
    assert not [w for w in recwarn if "one-cycle" in str(w.message)]
    assert not [w for w in recwarn if "Checkpoint directory" in str(w.message)]

    # the finished run, one epoch longer: nothing left to finish, a new run is the way
    with pytest.raises(ConfigError) as info:
        run_cli("fit", [*resume, "--trainer.max_epochs=4"])
    assert str(info.value).endswith(
        "The checkpoint has finished its cycle (6 steps): to train longer, start a new run "
        "from its weights (without --ckpt_path): spikestream fit --config CONFIG "
        f"--model.init_from {last} --trainer.max_epochs 4"
    )
    assert "Resume with" not in str(info.value) and lrs == uninterrupted[2:]


def test_a_fresh_fit_into_used_checkpoints_still_warns(ndigits, tmp_path, monkeypatch, recwarn):
    """Without a logger every fit writes ./checkpoints: the second one is told it is not empty
    (only a resume into its own checkpoint's folder is quiet)."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    quick = {**FAST, "trainer.logger": False, "trainer.max_steps": 1}
    train.fit(config, **quick)
    assert not [w for w in recwarn if "Checkpoint directory" in str(w.message)]
    train.fit(config, **quick)
    folder = (tmp_path / "checkpoints").resolve()
    assert [str(w.message) for w in recwarn if "Checkpoint directory" in str(w.message)] == [
        f"Checkpoint directory {folder} exists and is not empty."
    ]


def test_onecycle_without_an_end_is_refused(ndigits, tmp_path, monkeypatch, lrs):
    """max_epochs -1 and no max_steps: a ConfigError, not int(inf)'s OverflowError."""
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    with pytest.raises(ConfigError, match="onecycle spans the whole run, which has no end"):
        train.fit(config, **FAST, **{"trainer.logger": False, "trainer.max_epochs": -1,
                                     "model.scheduler": "onecycle"})  # fmt: skip
    assert lrs == []
