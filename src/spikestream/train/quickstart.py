"""The quick start in one function: the embedded NDigits recordings -> event frames -> the
``csnn_ndigits`` convolutional SNN trained with surrogate gradients -> test accuracy -> a
checkpoint. What ``spikestream demo`` runs; a plain training loop to read and copy. The same
recipe runs through the Lightning layer as ``spikestream fit --config quickstart``.

The recipe (`RECIPE`, measured in the README's quick-start table) is the packaged
``configs/quickstart.yaml``, read here (`recipe_from_config`): one recipe for this loop and for
``spikestream fit --config quickstart``. T=8 frames of equal event counts, input pooled to
17x17, two conv-BN-LIF blocks, a mean readout trained with cross-entropy (label smoothing 0.1),
whole-sample translations of up to 2 pixels as augmentation (the digits sit at slightly
different places in the field of view), AdamW with a one-cycle learning-rate schedule stepped
per batch.

`classify_from_checkpoint` is the other half: a saved checkpoint classifies recordings with no
training code involved, binning them as the checkpoint's ``input`` record says.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..models import create
from ..models.checkpoint import (
    ModelRecord,
    frames_input,
    load_model,
    recording_stats,
    save_model,
)
from ..transforms.functional import to_frames

#: The quick start's recipe, shared with ``spikestream fit --config quickstart``.
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the quick start's result (besides the seed); the values are
    the config's (`recipe_from_config`), each field's key named beside it."""

    model: str  # model.model
    model_args: dict[str, Any]  # model.model_args
    frames: int  # data.frames_number: T, frames of equal event counts (split_by "number")
    epochs: int  # trainer.max_epochs
    batch_size: int  # data.batch_size
    lr: float  # model.lr: the one-cycle schedule's peak
    weight_decay: float  # model.weight_decay
    warmup: float  # model.pct_start: fraction of the steps spent raising the learning rate
    max_shift: int  # data.augment RandomTranslate max_shift, pixels per axis
    label_smoothing: float  # model.label_smoothing

    def check(self) -> None:
        for name in ("frames", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"quick start {name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"quick start lr must be a finite number > 0, got {self.lr}")
        if not 0 < self.warmup < 1:
            raise ConfigError(f"quick start warmup must be in (0, 1), got {self.warmup}")
        if not 0 <= self.max_shift < 17:
            raise ConfigError(f"quick start max_shift must be 0..16 pixels, got {self.max_shift}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(
                f"quick start label_smoothing must be in [0, 1), got {self.label_smoothing}"
            )


def recipe_from_config(path: str | os.PathLike = CONFIG) -> Recipe:
    """The `Recipe` of a quick-start config (the packaged one by default). The loop here
    implements one recipe family (NDigits frames split by number, cross-entropy, AdamW with the
    'onecycle' scheduler, RandomTranslate as the only augmentation); a config asking for
    anything else is a `ConfigError` naming the key, not silently a different recipe."""
    try:
        import yaml
    except ImportError:
        raise ConfigError("the quick start reads its recipe (configs/quickstart.yaml) with "
                          "PyYAML: pip install 'spikestream[train]'") from None  # fmt: skip
    try:
        cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the quick-start recipe: {exc}") from None
    model, data, trainer = (cfg.get(k) or {} for k in ("model", "data", "trainer"))
    expected = {
        "model.loss": (model.get("loss", "cross_entropy"), "cross_entropy"),
        "model.optimizer": (model.get("optimizer", "adam"), "adamw"),
        "model.scheduler": (model.get("scheduler"), "onecycle"),
        "data.dataset": (data.get("dataset"), "ndigits"),
        "data.representation": (data.get("representation", "frames"), "frames"),
        "data.split_by": (data.get("split_by", "number"), "number"),
        "optimizer/lr_scheduler groups": (bool(cfg.get("optimizer") or cfg.get("lr_scheduler")),
                                          False),
    }  # fmt: skip
    for key, (got, want) in expected.items():
        if got != want:
            raise ConfigError(f"{path}: the quick start's loop implements {key} {want!r}, the "
                              f"config gives {got!r}")  # fmt: skip
    shift = 0
    for spec in data.get("augment") or []:
        name = str(spec.get("class_path", "") if isinstance(spec, dict) else spec)
        if name.rsplit(".", 1)[-1] != "RandomTranslate":
            raise ConfigError(f"{path}: the quick start's loop implements data.augment "
                              f"RandomTranslate only, the config gives {name!r}")  # fmt: skip
        args = (spec.get("init_args") or {}) if isinstance(spec, dict) else {}
        shift = int(args.get("max_shift", 2))  # RandomTranslate's default
    try:
        return Recipe(
            model=str(model["model"]),
            model_args=dict(model.get("model_args") or {}),
            frames=int(data["frames_number"]),
            epochs=int(trainer["max_epochs"]),
            batch_size=int(data.get("batch_size", 16)),
            lr=float(model.get("lr", 1e-3)),
            weight_decay=float(model.get("weight_decay", 0.0)),
            warmup=float(model.get("pct_start", 0.3)),
            max_shift=shift,
            label_smoothing=float(model.get("label_smoothing", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: the quick-start recipe lacks or mistypes {exc}") from None


RECIPE = recipe_from_config()


class Decision(NamedTuple):
    """One recording's classification: the class index, its name and every class's score."""

    label: int
    name: str
    scores: list[float]


def load_frames(
    root: str | os.PathLike | None, train: bool, frames: int
) -> tuple[torch.Tensor, torch.Tensor, tuple[float | None, float | None]]:
    """One NDigits split as frames ``[N, T, 2, 34, 34]`` (float32 event counts), the labels and
    the recordings' mean duration (µs) and event count (`recording_stats`, as the training
    layer records them); the dataset is generated on first use."""
    from ..datasets.ndigits import NDigits

    ds = NDigits(root, train=train)
    out = np.empty((len(ds), frames, 2, *ds.sensor_size[::-1]), dtype=np.float32)
    for i in range(len(ds)):  # one compiled binning call per recording
        events, _ = ds[i]
        out[i] = to_frames(events, ds.sensor_size, n_frames=frames, split_by="number")
    stats = recording_stats(ds.store.events["t"], ds.store.offsets, np.arange(len(ds)))
    return torch.from_numpy(out), torch.as_tensor(ds.targets), stats


def translate_frames(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Move each sample of ``x [N, T, C, H, W]`` by its own random whole-pixel shift of up to
    ``max_shift`` per axis, the same at every step, zeros moving in: on frames, what
    `transforms.RandomTranslate` does on events (equal where no event leaves the sensor)."""
    if max_shift == 0:
        return x
    n, _, _, h, w = x.shape
    padded = nn.functional.pad(x, (max_shift,) * 4)
    oy = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), generator=gen)
    ox = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), generator=gen)
    rows = oy + torch.arange(h).view(1, h, 1)
    cols = ox + torch.arange(w).view(1, 1, w)
    # advanced indices around the sliced T, C dims put N, H, W first: [N, H, W, T, C]
    out = padded[torch.arange(n).view(n, 1, 1), :, :, rows, cols]
    return out.permute(0, 3, 4, 1, 2).contiguous()


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(x), batch):
            correct += int((net(x[lo : lo + batch]).argmax(1) == y[lo : lo + batch]).sum())
    net.train()
    return correct / len(x)


def train_on_ndigits(
    root: str | os.PathLike | None = None,
    epochs: int | None = None,
    seed: int = 0,
    *,
    recipe: Recipe = RECIPE,
    train_limit: int | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Train ``recipe``'s network on NDigits' training split (the first ``train_limit``
    samples of a seeded shuffle, if given) for ``epochs`` (default: the recipe's), measure it on
    the test split and save it to ``checkpoint`` (a `spikestream.models.checkpoint` file) if
    given. Returns the test accuracy, the per-epoch training loss, the training seconds (wall
    and process CPU; data loading and testing excluded), the model and its record.
    Deterministic for a seed on one machine."""
    if epochs is not None:
        recipe = replace(recipe, epochs=epochs)
    recipe.check()
    if train_limit is not None and train_limit < 1:
        raise ConfigError(f"train_limit must be >= 1 sample, got {train_limit}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train, stats = load_frames(root, True, recipe.frames)
    x_test, y_test, _ = load_frames(root, False, recipe.frames)
    if train_limit is not None:
        keep = torch.randperm(len(x_train), generator=gen)[:train_limit]
        x_train, y_train = x_train[keep], y_train[keep]
    net = create(recipe.model, **recipe.model_args)
    optimiser = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = math.ceil(len(x_train) / recipe.batch_size) * recipe.epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.lr, total_steps=steps, pct_start=recipe.warmup
    )
    net.train()
    losses = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(recipe.epochs):
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for lo in range(0, len(order), recipe.batch_size):
            idx = order[lo : lo + recipe.batch_size]
            x = translate_frames(x_train[idx], recipe.max_shift, gen)
            loss = nn.functional.cross_entropy(
                net(x), y_train[idx], label_smoothing=recipe.label_smoothing
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(x_train))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    accuracy = _accuracy(net, x_test, y_test)
    net.eval()
    record = ndigits_record(recipe, *stats)
    if checkpoint is not None:
        save_model(checkpoint, net, record)
    return {
        "accuracy": accuracy,
        "losses": losses,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "model": net,
        "record": record,
        "recipe": asdict(recipe),
    }


def ndigits_record(
    recipe: Recipe, mean_duration_us: float | None, mean_events: float | None
) -> ModelRecord:
    """The checkpoint record of a quick-start model: frames of the whole 34x34 sensor, with the
    training recordings' mean duration and event count (`frames_input`)."""
    from ..datasets.ndigits import CLASSES, SENSOR_SIZE

    inp = frames_input(
        SENSOR_SIZE,
        frames_number=recipe.frames,
        split_by="number",
        mean_duration_us=mean_duration_us,
        mean_events=mean_events,
    )
    return ModelRecord(recipe.model, dict(recipe.model_args), list(CLASSES), inp)


def classify_from_checkpoint(
    checkpoint: str | os.PathLike, recordings: Sequence[np.ndarray]
) -> list[Decision]:
    """Classify each recording (canonical events) with the checkpoint's model, binned into
    frames as its ``input`` record says (equal-count or equal-time frames of the whole
    sensor). No training code is involved: this is how a saved quick-start model is used."""
    model, record = load_model(Path(checkpoint))
    inp = record.input
    if inp.get("kind") != "frames" or inp.get("split_by") not in ("number", "time"):
        raise ConfigError(
            f"{checkpoint}: classify_from_checkpoint bins a fixed number of frames per "
            f"recording (input split_by 'number' or 'time'); this checkpoint's input is {inp}"
        )
    if inp.get("crop") is not None or inp.get("pool", 1) != 1:
        raise ConfigError(
            f"{checkpoint}: input crop {inp.get('crop')} / pool {inp.get('pool')}: "
            f"classify_from_checkpoint bins the whole sensor, unpooled"
        )
    sensor = (int(inp["sensor_size"][0]), int(inp["sensor_size"][1]))
    decisions: list[Decision] = []
    if not recordings:
        return decisions
    frames = np.stack(
        [
            to_frames(ev, sensor, n_frames=int(inp["frames_number"]), split_by=inp["split_by"])
            for ev in recordings
        ]
    )
    with torch.no_grad():
        scores = model(torch.from_numpy(frames))
    for row in scores:
        label = int(row.argmax())
        name = record.classes[label] if label < len(record.classes) else str(label)
        decisions.append(Decision(label, name, [float(v) for v in row]))
    return decisions
