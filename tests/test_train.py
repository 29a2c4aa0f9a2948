"""The training layer: every packaged config trains two steps on miniature data, checkpoints
follow the contract (load_model gives the LightningModule's outputs), resume continues the run,
bad configs fail before training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("lightning")

from spikestream import train
from spikestream.datasets import ASLDVS, NMNIST, POKERDVS, DVS128Gesture, NDigits, store
from spikestream.errors import ConfigError, DatasetError
from spikestream.events import make_events
from spikestream.models.checkpoint import load_model
from spikestream.train.cli import CONFIG_DIR, packaged_configs, run_cli

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]

#: The tests' own config (the packaged quick start is helper T-recipe's recipe and changes): a
#: small PLIF network on 32 NDigits samples per split, 4 frames, two steps of 16 per epoch.
TINY = {
    "seed_everything": 0,
    "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 1, "log_every_n_steps": 1,
                "enable_progress_bar": False, "enable_model_summary": False},
    "model": {"model": "plifnet_ndigits", "loss": "mse_rate", "scheduler": "cosine",
              "model_args": {"channels": 4, "hidden": [16], "voting": 2}},
    "data": {"dataset": "ndigits", "frames_number": 4, "batch_size": 16, "limit_samples": 32},
}  # fmt: skip


def tiny_config(folder: Path, root: Path, **data) -> Path:
    """``folder/tiny.yaml`` (runs go to runs/tiny/) reading NDigits from ``root``."""
    import yaml

    cfg = {**TINY, "data": {**TINY["data"], "root": str(root), **data}}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _fake_store(root: Path, cls, split: str, per_class: int, seed: int) -> None:
    """A packed store of ``per_class`` random recordings per class (300-600 events over
    50-150 ms) in ``root/packed/split``, as the dataset's conversion would leave it."""
    rng = np.random.default_rng(seed)
    w, h = cls.sensor_size
    samples = []
    for label in range(len(cls.classes)):
        for k in range(per_class):
            n = int(rng.integers(300, 600))
            t = np.sort(rng.integers(0, int(rng.integers(50_000, 150_000)), n))
            ev = make_events(t, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n))
            samples.append((f"{cls.classes[label]}_{k:03d}", label, ev))
    meta = {"dataset": cls.name, "split": split, "sensor_size": list(cls.sensor_size),
            "classes": list(cls.classes)}  # fmt: skip
    store.build(root / "packed" / split, samples, lambda s: [s], meta, workers=1, progress=False)


@pytest.fixture(scope="session")
def fake_roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fake_datasets")
    roots = {}
    for cls, per_class in ((DVS128Gesture, 1), (NMNIST, 1), (POKERDVS, 2), (ASLDVS, 5)):
        root = base / cls.name
        for i, split in enumerate(cls.splits):
            _fake_store(root, cls, split, per_class, seed=i)
        roots[cls.name.lower()] = root
    return roots


@pytest.fixture(scope="session")
def ndigits(ndigits_root) -> Path:
    NDigits.prepare(ndigits_root, progress=False)
    return ndigits_root


def _config_data(name: str) -> str:
    import yaml

    return yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())["data"]["dataset"]


def test_every_packaged_config_trains_two_steps(fake_roots, ndigits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = packaged_configs()
    assert {"quickstart", "dvs_gesture_plif", "asl_dvs_event2vec_v1", "asl_dvs_event2vec",
            "poker_dvs_rsnn", "nmnist_plif"} <= set(names)  # fmt: skip
    for name in names:
        dataset = _config_data(name)
        root = ndigits if dataset == "ndigits" else fake_roots[dataset]
        argv = ["--config", name, f"--data.root={root}", "--data.batch_size=2",
                "--data.num_workers=0", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=2", "--trainer.accelerator=cpu",
                "--trainer.devices=1", "--trainer.logger=false", "--trainer.precision=32",
                *QUIET]  # fmt: skip
        if dataset in ("dvs128gesture", "nmnist", "ndigits"):
            argv.append("--data.frames_number=2")  # miniature: 2 frames instead of 10-16
        if dataset == "asldvs":
            argv.append("--data.num_events=64")  # the attention costs seconds per 1024 tokens
        cli = run_cli("fit", argv, run=False)
        before = {k: v.clone() for k, v in cli.model.model.state_dict().items()}
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        loss = float(cli.trainer.callback_metrics["train_loss"])
        assert math.isfinite(loss), name
        assert cli.trainer.global_step == 2, name
        after = cli.model.model.state_dict()
        changed = [k for k, v in before.items() if v.is_floating_point()
                   and not torch.equal(v, after[k])]  # fmt: skip
        assert changed, f"{name}: no weight changed in two steps"


def test_checkpoint_contract_and_resume(ndigits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    first = train.fit(config)
    run = tmp_path / "runs" / "tiny" / "version_0"
    assert Path(first["log_dir"]).resolve() == run.resolve()
    last = run / "checkpoints" / "last.ckpt"
    assert last.is_file() and Path(first["best_model_path"]).is_file()
    steps = first["trainer"].global_step
    assert steps == 2  # 32 samples, batch 16

    # the contract: load_model rebuilds the network without Lightning, same outputs
    net, record = load_model(last)
    assert record.name == "plifnet_ndigits" and record.classes == [str(d) for d in range(10)]
    inp = record.input
    assert (inp["kind"], inp["height"], inp["width"], inp["steps"]) == ("frames", 34, 34, 4)
    assert inp["split_by"] == "number" and inp["step_us"] > 0
    module = first["model"].eval()
    batch = next(iter(first["datamodule"].val_dataloader()))
    with torch.no_grad():
        assert torch.equal(net(batch["x"]), module(batch["x"]))
    assert (run / "config.yaml").is_file()
    config_before = (run / "config.yaml").read_text()

    # resume: same version folder, epoch, global step, optimizer and scheduler continue
    second = train.fit(config, ckpt_path="last", **{"trainer.max_epochs": 2})
    trainer = second["trainer"]
    assert Path(second["log_dir"]).resolve() == run.resolve()
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * steps
    opt = trainer.optimizers[0]
    assert {int(s["step"]) for s in opt.state.values()} == {2 * steps}
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 2
    assert len(list(run.glob("events.out.tfevents.*"))) == 2  # both sessions log into one run
    assert (run / "config.yaml").read_text() == config_before  # never clobbered
    assert (run / "config.resume.yaml").is_file()
    assert torch.load(last, weights_only=True)["epoch"] == 2  # written after epoch 2

    # the same run through --resume RUN_DIR (its own config.yaml), one more epoch
    third = run_cli("fit", ["--resume", str(run), "--trainer.max_epochs=3", *QUIET])
    assert third.trainer.global_step == 3 * steps
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]


@pytest.mark.parametrize(
    "argv, error, fragments",
    [
        (["--model.model=nope"], ConfigError, ["--model.model", "no model named 'nope'"]),
        (["--data.dataset=nope"], DatasetError, ["--data.dataset", "unknown dataset 'nope'"]),
        (["--model.model=plifnet_dvsgesture"], ConfigError,
         ["does not fit model 'plifnet_dvsgesture'", "--model.model_args", "2x34x34"]),
        (['--model.model_args={"voting": 1.5}'], ConfigError, ["--model.model_args"]),
        (['--model.model_args={"classes": 7, "channels": 4, "hidden": [16]}'], ConfigError,
         ["gives 7 scores", "10 classes", "--model.model_args"]),
        (["--data.frames_number=0"], ConfigError, ["--data.frames_number"]),
        (["--model.nope=1"], ConfigError, ["nope"]),
        (["--data.representation=voxels"], ConfigError, ["--data.representation"]),
    ],
)  # fmt: skip
def test_bad_configs_fail_before_training(ndigits, tmp_path, monkeypatch, argv, error, fragments):
    monkeypatch.chdir(tmp_path)
    base = ["--config", str(tiny_config(tmp_path, ndigits))]
    with pytest.raises(error) as info:
        run_cli("fit", [*base, *argv])
    for fragment in fragments:
        assert fragment in str(info.value)
    assert not (tmp_path / "runs").exists()  # nothing written: no run folder, no checkpoint


def test_missing_data_folder_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--config", "nmnist_plif", f"--data.root={tmp_path / 'nowhere'}", *QUIET]
    with pytest.raises(DatasetError) as info:
        run_cli("fit", argv)
    message = str(info.value)
    assert "--data.root" in message and "not found" in message and "download" in message
    assert not (tmp_path / "runs").exists()


def test_tokens_batches_and_record(fake_roots):
    """The Event2Vec v1 pipeline: 255 sorted random events, time / 521217, -1 padding."""
    dm = train.EventDataModule("asldvs", root=str(fake_roots["asldvs"]), representation="tokens",
                               num_events=255, norm_t="dataset", t_scale=521217, batch_size=4,
                               val_repeats=2)  # fmt: skip
    dm.setup()
    assert len(dm.splits["train"]) == 24 * 4 and len(dm.splits["val"]) == 24 * 2
    batch = next(iter(dm.val_dataloader()))
    x = batch["x"]
    assert x["t"].shape == (4, 255) and x["valid_mask"].all()
    assert float(x["t"][:, 0].abs().max()) == 0 and float(x["t"].max()) < 150_000 / 521217
    assert dm.input_record()["num_events"] == 255 and dm.input_record()["t_scale"] == 521217


def test_augment_crop_pool_and_variable_frames(fake_roots):
    root = str(fake_roots["dvs128gesture"])
    aug = [{"class_path": "RandomFlipLR", "init_args": {"p": 1.0}}]
    dm = train.EventDataModule("dvs128gesture", root=root, frames_number=4, crop=[0, 0, 64, 64],
                               pool=4, augment=aug, batch_size=3)  # fmt: skip
    dm.setup()
    x = next(iter(dm.train_dataloader()))["x"]
    assert x.shape == (3, 4, 2, 16, 16)
    assert dm.input_record()["crop"] == [0, 0, 64, 64] and dm.input_record()["pool"] == 4
    with pytest.raises(ConfigError, match=r"--data\.augment\[0\]"):
        train.EventDataModule("dvs128gesture", root=root, frames_number=4, augment=["Nope"])
    dm = train.EventDataModule("pokerdvs", root=str(fake_roots["pokerdvs"]), duration_us=20_000,
                               batch_size=8)  # fmt: skip
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    lengths = batch["lengths"]
    assert batch["x"].shape[1] == int(lengths.max()) and len(set(lengths.tolist())) > 1
    for i, n in enumerate(lengths.tolist()):  # zero-padded after each sample's last frame
        assert float(batch["x"][i, n:].abs().sum()) == 0
    assert dm.input_record()["split_by"] == "duration" and dm.input_record()["step_us"] == 20_000


def test_workers_and_pickled_pipeline_give_the_same_batches(ndigits):
    """Spawned workers get the split pickled (the store by its path, the pipeline as plain
    objects); forked workers share it. Both give the in-process batches."""
    import pickle

    dm = train.EventDataModule("ndigits", root=str(ndigits), frames_number=4, batch_size=8,
                               limit_samples=16, num_workers=2)  # fmt: skip
    dm.setup()
    split = dm.splits["val"]
    copy = pickle.loads(pickle.dumps(split))
    assert np.array_equal(copy[3][0], split[3][0]) and copy[3][1:] == split[3][1:]
    with_workers = [b["x"] for b in dm.val_dataloader()]
    dm.hparams.num_workers = 0
    in_process = [b["x"] for b in dm.val_dataloader()]
    assert len(with_workers) == 2
    assert all(torch.equal(a, b) for a, b in zip(with_workers, in_process, strict=True))


def test_config_scheduler_steps_per_batch(ndigits, tmp_path, monkeypatch):
    """The CLI's lr_scheduler group with --model.scheduler_interval step (OneCycleLR)."""
    monkeypatch.chdir(tmp_path)
    argv = ["--config", str(tiny_config(tmp_path, ndigits)), "--trainer.logger=false",
            "--model.scheduler_interval=step", "--optimizer=torch.optim.AdamW",
            "--lr_scheduler=torch.optim.lr_scheduler.OneCycleLR",
            "--lr_scheduler.max_lr=0.01", "--lr_scheduler.total_steps=2"]  # fmt: skip
    cli = run_cli("fit", argv)
    sched = cli.trainer.lr_scheduler_configs[0]
    assert sched.interval == "step" and sched.scheduler.last_epoch == 2  # two batches
    assert isinstance(cli.trainer.optimizers[0], torch.optim.AdamW)


def test_validation_fraction_of_train(fake_roots):
    """``val_split=0.25``: a seeded quarter of the training split, disjoint from the rest."""
    root = str(fake_roots["asldvs"])
    splits = []
    for _ in range(2):
        dm = train.EventDataModule("asldvs", root=root, representation="tokens", num_events=8,
                                   val_split=0.25, seed=3)  # fmt: skip
        dm.setup()
        splits.append({k: set(v.indices.tolist()) for k, v in dm.splits.items()})
    first, again = splits
    assert first == again  # seeded
    assert len(first["val"]) == 24 and len(first["train"]) == 72  # 96 training samples
    assert not first["val"] & first["train"] and not first["test"] & (first["train"] | first["val"])
