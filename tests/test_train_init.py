"""``--model.init_from CKPT``: a new run from a checkpoint's weights (fresh optimizer, schedule,
epoch count and run folder); refused beside ``--ckpt_path`` and for another architecture; a
resume of the new run continues its own weights, never the init checkpoint's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("lightning")

from spikestream import train
from spikestream.errors import ConfigError
from spikestream.models.checkpoint import load_model, save_model
from spikestream.train.cli import run_cli
from spikestream.train.module import ClassificationModule

from . import test_train
from .test_train import QUIET, TINY, tiny_config

ndigits = test_train.ndigits  # the session fixture: NDigits prepared once

FAST = {"trainer.limit_val_batches": 0, "trainer.num_sanity_val_steps": 0}


@pytest.fixture
def first_batch(monkeypatch) -> list[dict[str, Any]]:
    """What each fit of the test holds at its first training batch, before its first step."""
    seen: list[dict[str, Any]] = []

    def record(self, batch, batch_idx):
        if batch_idx == 0:  # each epoch's first; a test reads the fit's first after clear()
            opt = self.trainer.optimizers[0]
            seen.append({
                "weights": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer_state": dict(opt.state),
                "epoch": self.current_epoch,
                "step": self.trainer.global_step,
            })  # fmt: skip

    monkeypatch.setattr(ClassificationModule, "on_train_batch_start", record, raising=False)
    return seen


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return dict(load_model(path)[0].state_dict())


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_init_from_starts_a_new_run_and_its_resume_keeps_its_own_weights(
    ndigits, tmp_path, monkeypatch, first_batch
):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    base = tmp_path / "runs" / "tiny"
    a = train.fit(config, **FAST)  # one epoch, two steps, cosine over 1 epoch
    a_last = base / "version_0" / "checkpoints" / "last.ckpt"
    a_weights = _weights(a_last)
    assert a["trainer"].global_step == 2 and not _equal(a_weights, first_batch[0]["weights"])
    first_batch.clear()

    # a new run from A's weights: a fresh optimizer, epoch 0, step 0, its own folder
    b = train.fit(config, **FAST, **{"model.init_from": str(a_last), "trainer.max_epochs": 2})
    start = first_batch[0]
    assert _equal(start["weights"], a_weights)
    assert start["optimizer_state"] == {} and start["epoch"] == 0 and start["step"] == 0
    assert Path(b["log_dir"]).resolve() == (base / "version_1").resolve()
    assert b["trainer"].global_step == 4 and b["trainer"].current_epoch == 2
    saved = (base / "version_1" / "config.yaml").read_text()
    assert f"init_from: {a_last}" in saved
    b_last = base / "version_1" / "checkpoints" / "last.ckpt"
    b_weights = _weights(b_last)
    assert not _equal(b_weights, a_weights)  # B trained on from A
    first_batch.clear()

    # resume B for one more epoch (its config.yaml names init_from): B's weights, B's step
    # count, and A's file is not even read (gone)
    a_last.rename(a_last.with_suffix(".moved"))
    with pytest.warns(UserWarning, match="cosine schedule spans 2 epochs, this run 3"):
        resumed = run_cli("fit", ["--resume", b["log_dir"], *QUIET, "--trainer.max_epochs=3"])
    start = first_batch[0]
    assert _equal(start["weights"], b_weights)
    assert start["step"] == 4 and start["epoch"] == 2 and start["optimizer_state"] != {}
    assert resumed.trainer.global_step == 6
    assert Path(resumed.trainer.log_dir).resolve() == (base / "version_1").resolve()
    a_last.with_suffix(".moved").rename(a_last)

    # test/validate score init_from's weights when no checkpoint is given; a save_model file
    # (no Lightning entries) works as well: A's test accuracy
    plain = tmp_path / "a_weights.pt"
    save_model(plain, *load_model(a_last))
    by_init = train.test(config, **{"model.init_from": str(plain)})
    by_ckpt = train.test(config, ckpt_path=str(a_last))
    acc = [float(r["trainer"].callback_metrics["test_acc"]) for r in (by_init, by_ckpt)]
    assert acc[0] == acc[1]


def test_init_from_refused_beside_ckpt_path_and_for_another_architecture(
    ndigits, tmp_path, monkeypatch, first_batch
):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    train.fit(config, **FAST, **{"trainer.max_steps": 1})
    a_last = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    first_batch.clear()

    # both flags: one or the other (the checkpoint's run began without init_from)
    with pytest.raises(ConfigError, match=r"--model.init_from .* with --ckpt_path: one or the"):
        train.fit(config, ckpt_path="last", **FAST, **{"model.init_from": str(a_last)})
    # a checkpoint saved before init_from existed (no such hyperparameter): the module refuses
    module = ClassificationModule(TINY["model"]["model"], TINY["model"]["model_args"],
                                  init_from=str(a_last))  # fmt: skip
    with pytest.raises(ConfigError, match="one or the other"):
        module.on_load_checkpoint({"hyper_parameters": {"model": "plifnet_ndigits"}})

    # another architecture: both models named, the fix given, before any step
    wider = {**TINY["model"]["model_args"], "hidden": [8]}
    with pytest.raises(ConfigError) as info:
        train.fit(config, **FAST, **{"model.init_from": str(a_last), "model.model_args": wider})
    text = str(info.value)
    assert "the checkpoint's model 'plifnet_ndigits' (model_args {" in text
    assert "'hidden': [16]" in text and "'hidden': [8]" in text
    assert "differ in name or shape" in text and "--model.model plifnet_ndigits" in text
    # a missing file names the key
    with pytest.raises(ConfigError, match=r"--model.init_from: .*nothere.ckpt: no such file"):
        train.fit(config, **FAST, **{"model.init_from": str(tmp_path / "nothere.ckpt")})
    assert first_batch == []
