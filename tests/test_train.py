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
from spikestream.train.cli import (
    CONFIG_DIR,
    find_run_checkpoint,
    packaged_configs,
    prepare_argv,
    run_cli,
)

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
        # two training steps and nothing else: no validation loop, no checkpoint, no compile
        # (the data module still checks a validation and a training sample against the model)
        argv = ["--config", name, f"--data.root={root}", "--data.batch_size=2",
                "--data.num_workers=0", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0",
                "--trainer.enable_checkpointing=false", "--model.compile=false",
                "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.logger=false",
                "--trainer.precision=32", *QUIET]  # fmt: skip
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

    # the frame record: mean events per frame of the training samples (split by number)
    dm = first["datamodule"]
    train_split = dm.splits["train"]
    counts = np.diff(train_split.base.store.offsets)[train_split.indices]
    assert inp["events_per_frame"] == pytest.approx(counts.mean() / 4)

    # a fresh fit into the folder of a run refuses (instead of writing config.resume.yaml)
    with pytest.raises(ConfigError, match=r"holds a run already.*--ckpt_path last"):
        train.fit(config, **{"trainer.logger.init_args.version": 0})
    # a second fit of a run being trained (its lock held) refuses
    from filelock import FileLock

    with FileLock(str(run / "run.lock")), pytest.raises(ConfigError, match="another process"):
        train.fit(config, ckpt_path="last", **{"trainer.max_epochs": 2})

    # --ckpt_path last|best: the configured version's run, best from last.ckpt's state
    decoy = tmp_path / "runs" / "tiny" / "version_7" / "checkpoints"
    decoy.mkdir(parents=True)
    (decoy / "last.ckpt").write_bytes(last.read_bytes())
    (run / "checkpoints" / "zzz-epoch9.ckpt").write_bytes(b"")  # sorts after the best by name
    base = tmp_path / "runs" / "tiny"
    assert find_run_checkpoint(base, "last") == decoy / "last.ckpt"  # the newest run
    assert find_run_checkpoint(base, "last", 0) == last
    assert (
        find_run_checkpoint(base, "best", 0).resolve() == Path(first["best_model_path"]).resolve()
    )
    # one rule: the checkpoint's model arguments win over the command line, last or a file
    for ckpt in ("last", str(last)):
        res = train.validate(config, ckpt_path=ckpt, model={"lr": 0.5},
                             **{"trainer.logger.init_args.version": 0})  # fmt: skip
        assert res["model"].hparams.lr == 1e-3, ckpt
    (decoy / "last.ckpt").unlink()

    # resume through --resume RUN_DIR from another working directory: the same run continues
    # (version folder, epoch, global step, optimizer and scheduler state, TensorBoard run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    second = run_cli("fit", ["--resume", str(run), "--trainer.max_epochs=2", *QUIET])
    trainer = second.trainer
    assert Path(trainer.log_dir).resolve() == run.resolve()
    assert not (elsewhere / "runs").exists()
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0", "version_7"]
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * steps
    opt = trainer.optimizers[0]
    assert {int(s["step"]) for s in opt.state.values()} == {2 * steps}
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 2
    # every session logs into the one run: the fit, the two validates, the resume
    assert len(list(run.glob("events.out.tfevents.*"))) == 4
    assert (run / "config.yaml").read_text() == config_before  # never clobbered
    assert (run / "config.resume.yaml").is_file()
    assert torch.load(last, weights_only=True)["epoch"] == 2  # written after epoch 2
    # a resume shorter than the epochs already done: Lightning's refusal as one ConfigError
    with pytest.raises(ConfigError, match="max_epochs"):
        run_cli("fit", ["--resume", str(run), "--trainer.max_epochs=1", *QUIET])


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
        (["--lr_scheduler=torch.optim.lr_scheduler.StepLR", "--lr_scheduler.step_size=1"],
         ConfigError, ["--lr_scheduler needs an --optimizer group", "--model.scheduler"]),
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
                               val_repeats=2, val_split="test", crop=[0, 0, 200, 180],
                               pool=2)  # fmt: skip
    dm.setup()
    assert len(dm.splits["train"]) == 24 * 4 and len(dm.splits["val"]) == 24 * 2
    batch = next(iter(dm.val_dataloader()))
    x = batch["x"]
    assert x["t"].shape == (4, 255) and x["valid_mask"].all()
    assert float(x["t"][:, 0].abs().max()) == 0 and float(x["t"].max()) < 150_000 / 521217
    assert float(x["x"].max()) < 100 and float(x["y"].max()) < 90  # cropped, pooled by 2
    rec = dm.input_record()
    assert rec["num_events"] == 255 and rec["t_scale"] == 521217
    # the raw sensor, the crop and pool, and the mean window the tokens come from
    assert rec["sensor_size"] == [240, 180] and rec["crop"] == [0, 0, 200, 180]
    assert rec["pool"] == 2
    store = dm.splits["train"].base.store
    t, off, idx = store.events["t"], store.offsets, dm.splits["train"].indices
    spans = (t[off[idx + 1] - 1] - t[off[idx]]).astype(np.float64)
    assert rec["window_us"] == pytest.approx(spans.mean())


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
                               batch_size=8, val_split="test")  # fmt: skip
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


def test_onecycle_scheduler_sized_from_the_trainer(ndigits, tmp_path, monkeypatch):
    """``--model.scheduler onecycle``: OneCycleLR over every batch of the run, however many
    epochs (a fixed total_steps stepped per epoch crashed past it)."""
    monkeypatch.chdir(tmp_path)
    argv = ["--config", str(tiny_config(tmp_path, ndigits)), "--trainer.logger=false",
            "--trainer.enable_checkpointing=false", "--trainer.limit_val_batches=0",
            "--trainer.num_sanity_val_steps=0", "--model.scheduler=onecycle",
            "--model.lr=0.01", "--trainer.max_epochs=3"]  # fmt: skip
    cli = run_cli("fit", argv)
    sched = cli.trainer.lr_scheduler_configs[0]
    assert sched.interval == "step" and sched.scheduler.total_steps == 6  # 3 epochs x 2 batches
    assert sched.scheduler.last_epoch == 6 and cli.trainer.global_step == 6


def test_val_split_and_paths_from_the_command_line(ndigits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tmp_path, ndigits)
    cli = run_cli("fit", ["--config", str(config), "--data.val_split=0.25"], run=False)
    assert cli.datamodule.hparams.val_split == 0.25
    # the Python API's values: a number and a Path (json would refuse a Path)
    argv = train.to_argv(config, data={"val_split": 0.1, "root": ndigits})
    cli = run_cli("fit", argv, run=False)
    assert cli.datamodule.hparams.val_split == 0.1 and cli.datamodule.root == str(ndigits)
    with pytest.raises(ConfigError, match=r"--data\.val_split"):
        run_cli("fit", ["--config", str(config), "--data.val_split=1.5"], run=False)


def test_config_names_and_run_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()  # a folder named like a recipe does not shadow it
    args, opts = prepare_argv("fit", ["--config", "quickstart"])
    assert args == ["--config", str(CONFIG_DIR / "quickstart.yaml")]
    assert opts["config_name"] == "quickstart"
    args, _ = prepare_argv("fit", ["-c=nmnist_plif"])
    assert args == ["--config", str(CONFIG_DIR / "nmnist_plif.yaml")]
    # a dict config's runs are named after its model, not all runs/default
    _, opts = prepare_argv("fit", ["--config", '{"model": {"model": "rsnn_pokerdvs"}}'])
    assert opts["config_name"] == "rsnn_pokerdvs"


class Upscale:
    """A size-changing augmentation: coordinates doubled (outside the sensor)."""

    def __call__(self, events):
        out = events.copy()
        out["x"] = out["x"] * 2 + 1
        return out


def test_augmentations_are_checked_before_training(ndigits):
    dm = train.EventDataModule("ndigits", root=str(ndigits), frames_number=4, limit_samples=4,
                               augment=["tests.test_train.Upscale"])  # fmt: skip
    module = train.ClassificationModule("plifnet_ndigits", model_args=TINY["model"]["model_args"])
    with pytest.raises(ConfigError, match=r"--data\.augment.*training pipeline fails"):
        dm.attach(module)


class MeanOverTime(torch.nn.Module):
    """A model with neither ``run`` nor ``forward_steps``: the mean frame's first 10 pixels."""

    def forward(self, x):
        return x.flatten(2)[:, :, :10].mean(1)


@pytest.mark.parametrize(
    "model, args, loss",
    [
        ("rsnn_pokerdvs", {"input_shape": [2, 34, 34], "hidden": 8}, "nll_max"),  # run()
        ("csnn_ndigits", {}, "cross_entropy"),  # forward_steps
        ("other", {}, "cross_entropy"),  # neither: one call per length
    ],
)
def test_padded_frames_do_not_change_scores(model, args, loss):
    """Validation/test/predict score each sample over its own frames: the same scores alone
    as in a zero-padded batch with longer samples."""
    torch.manual_seed(0)
    name = "csnn_ndigits" if model == "other" else model
    module = train.ClassificationModule(name, model_args=args, loss=loss).eval()
    if model == "other":
        module.model = MeanOverTime()
        module._run["net"] = module.model
    lengths = torch.tensor([6, 4, 2])
    x = 30 * (torch.rand(3, 6, 2, 34, 34) < 0.3).float()  # dense enough to spike
    for i, n in enumerate(lengths.tolist()):
        x[i, n:] = 0
    batch = {"x": x, "lengths": lengths, "y": torch.zeros(3, dtype=torch.int64)}
    with torch.no_grad():
        together = module._batch_scores(batch, "val")
        alone = torch.cat([module(x[i : i + 1, :n]) for i, n in enumerate(lengths.tolist())])
        padded = module(x)  # without lengths: the padding counts (training's batches)
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(padded[1:], alone[1:], atol=1e-6)


def test_ranks_draw_differently(fake_roots):
    """Under DDP every rank draws its own augmentations and token samples."""

    def first_tokens(rank: int) -> np.ndarray:
        dm = train.EventDataModule(
            "asldvs",
            root=str(fake_roots["asldvs"]),
            representation="tokens",
            num_events=32,
            seed=5,
            augment=[{"class_path": "DropEvent", "init_args": {"p": 0.5}}],
        )
        dm.setup()
        dm.use_rank(rank)
        return dm.splits["train"][0][0]["t"]

    rank0, rank1, again = first_tokens(0), first_tokens(1), first_tokens(0)
    assert np.array_equal(rank0, again)  # seeded
    assert not np.array_equal(rank0, rank1)


def test_numba_threads_follow_torch(ndigits):
    import numba

    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        torch.set_num_threads(1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        dm = train.EventDataModule("ndigits", root=str(ndigits), frames_number=4, limit_samples=4)
        dm.setup()
        assert numba.get_num_threads() == 1  # a DDP rank's share, as torch's
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def test_train_loss_synced_over_ranks_only_per_epoch():
    module = train.ClassificationModule("plifnet_ndigits", model_args=TINY["model"]["model_args"])
    module.attach_data([str(d) for d in range(10)], {})
    logged = {}
    module.log = lambda name, value, **kw: logged.setdefault(name, kw)  # type: ignore[method-assign]
    batch = {"x": torch.zeros(2, 2, 2, 34, 34), "y": torch.tensor([1, 2])}
    module._step(batch, "train")
    step, epoch = logged["train_loss_step"], logged["train_loss"]
    assert step["on_step"] and not step["on_epoch"] and not step.get("sync_dist", False)
    assert epoch["on_epoch"] and not epoch["on_step"] and epoch["sync_dist"]


def test_quickstart_is_one_recipe_and_trains_past_its_epochs(ndigits, tmp_path, monkeypatch):
    """The demo's loop reads the packaged config (one recipe), whose one-cycle schedule is
    sized from the run: more epochs than the recipe's 30 train to the end (a fixed
    total_steps of 30 stepped per epoch crashed at epoch 31)."""
    import yaml

    from spikestream.train.quickstart import RECIPE, recipe_from_config

    cfg = yaml.safe_load((CONFIG_DIR / "quickstart.yaml").read_text())
    assert recipe_from_config() == RECIPE
    assert (RECIPE.epochs, RECIPE.frames, RECIPE.lr, RECIPE.warmup, RECIPE.max_shift) == (
        cfg["trainer"]["max_epochs"], cfg["data"]["frames_number"], cfg["model"]["lr"],
        cfg["model"]["pct_start"], cfg["data"]["augment"][0]["init_args"]["max_shift"],
    )  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**cfg, "model": {**cfg["model"], "scheduler": "cosine"}}))
    with pytest.raises(ConfigError, match=r"model\.scheduler"):
        recipe_from_config(bad)

    monkeypatch.chdir(tmp_path)
    argv = ["--config", "quickstart", f"--data.root={ndigits}", "--data.limit_samples=2",
            "--data.batch_size=2", "--trainer.max_epochs=32", "--trainer.limit_val_batches=0",
            "--trainer.num_sanity_val_steps=0", "--trainer.enable_checkpointing=false",
            "--trainer.logger=false", *QUIET]  # fmt: skip
    cli = run_cli("fit", argv)
    sched = cli.trainer.lr_scheduler_configs[0]
    assert cli.trainer.current_epoch == 32 and sched.scheduler.total_steps == 32
    assert sched.interval == "step" and sched.scheduler.last_epoch == 32
