"""`ClassificationModule`: one LightningModule for every registered classifier."""

from __future__ import annotations

import math
import sys
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from .. import models
from ..errors import ConfigError, SpikestreamError
from ..models.checkpoint import ModelRecord
from ..models.rsnn import RecurrentSNN
from ..snn.functional import reset_net
from .losses import check_loss, loss_value, scores

STAGES = ("train", "val", "test")
SCHEDULERS = (None, "cosine", "onecycle")


class WarmupCosine:
    """The LR factor after ``n`` scheduler steps (epochs or batches): linear from ``start`` to 1
    over ``warmup`` steps, then a cosine from 1 down to ``floor`` (``min_lr / lr``) at
    ``total``, held at ``floor`` past it. In closed form, Event2Vec's
    ``SequentialLR([LinearLR(start_factor=start, total_iters=warmup),
    CosineAnnealingLR(T_max=total - warmup, eta_min=min_lr)], milestones=[warmup])``. A run that
    ends inside its warm-up (``total <= warmup``, a smoke run) only ever sees the linear part.

    A callable object rather than a closure: ``LambdaLR.state_dict`` saves its attributes, so a
    resumed run continues the checkpoint's schedule exactly.
    """

    def __init__(self, warmup: int, total: int, start: float, floor: float) -> None:
        self.warmup, self.total, self.start, self.floor = warmup, total, start, floor

    def __call__(self, n: int) -> float:
        if n < self.warmup:
            return self.start + (1.0 - self.start) * n / self.warmup
        # total == warmup: Lightning still steps once after the last epoch (0 / 0 otherwise)
        span = max(1, self.total - self.warmup)
        k = min(n - self.warmup, span)
        return self.floor + (1.0 - self.floor) * (1.0 + math.cos(math.pi * k / span)) / 2.0


class ClassificationModule(pl.LightningModule):
    """Trains ``spikestream.models.create(model, **model_args)`` as a classifier.

    Batches are the dicts `spikestream.train.EventDataModule` makes: ``x`` (frames
    ``[N, T, C, H, W]``, or for event tokens a dict ``x, y, t, p, valid_mask`` of ``[N, L]``),
    ``y`` (int64 labels), ``index`` and ``names`` (the samples').

    ``loss``: ``'mse_rate'``, ``'cross_entropy'`` (``label_smoothing``) or ``'nll_max'`` (see
    `spikestream.train.losses`). Without the CLI's ``optimizer:``/``lr_scheduler:`` groups the
    optimiser is ``optimizer`` ('adam' or 'adamw') with ``lr`` and ``weight_decay``;
    ``scheduler='cosine'`` anneals it over ``max_epochs`` (with ``max_epochs`` -1, the epochs
    ``max_steps`` spans; per batch with ``scheduler_interval='step'``),
    ``scheduler='onecycle'`` is OneCycleLR peaking at ``lr`` after ``pct_start`` of the run,
    stepped per batch and sized from the trainer's own step count (so ``--trainer.max_epochs``
    may change freely; a resumed run keeps its checkpoint's cycle, so it may end earlier, and a
    longer one is a ConfigError). ``scheduler_interval`` ('epoch' or
    'step') also sets how often the CLI's ``lr_scheduler:`` group steps. With
    ``scheduler='cosine'``, ``warmup_epochs`` first raises the LR linearly from
    ``warmup_start_factor * lr`` to ``lr`` (per epoch, or per batch over as many epochs' batches
    with ``scheduler_interval='step'``), then the cosine runs over the remaining epochs down to
    ``min_lr`` (Event2Vec's schedule).
    ``lr_scale_batch`` (Event2Vec: 256) scales the LR linearly with the batch per optimizer step:
    ``lr * batch_size * world_size * accumulate_grad_batches / lr_scale_batch``, read from the
    trainer and data module when training starts, and printed once (stderr, rank 0) with the
    LR that trains: on a resume that is the checkpoint's (warned when this run's batch, devices
    or accumulation would give another). ``compile`` runs the
    network through ``torch.compile`` (the weights, hence the checkpoint, stay the plain
    model's).

    ``init_from`` (a checkpoint file: a ``spikestream fit`` ``.ckpt``, a demo or `save_model`
    file) starts this run from that checkpoint's weights, read by
    `spikestream.models.checkpoint.load_model`: a fresh optimizer, schedule and epoch count, a
    new run folder (to train a finished run longer, or fine-tune on other data or another
    recipe). The checkpoint's model must be this run's (the same ``model``, and weights of the
    same names and shapes; other ``model_args`` such as a neuron's threshold may differ);
    loading is strict. The weights are loaded once per process, on every rank, when the first
    fit/validate/test/predict starts (before any step); never over a checkpoint the trainer
    restores (``--ckpt_path``): a resumed run of an initialised run continues its own weights.

    Metrics logged per stage: ``{stage}_loss``, ``{stage}_acc`` (top-1) and, at each epoch's end,
    per-class accuracy ``{stage}_acc_class/<class name>``. Every checkpoint carries the
    `spikestream.models.checkpoint` record (model, args, classes, input binning), so
    ``load_model(ckpt)`` rebuilds the network without Lightning.
    """

    def __init__(
        self,
        model: str,
        model_args: dict[str, Any] | None = None,
        loss: str = "cross_entropy",
        label_smoothing: float = 0.0,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
        scheduler_interval: str = "epoch",
        pct_start: float = 0.3,
        warmup_epochs: int = 0,
        warmup_start_factor: float = 0.01,
        min_lr: float = 0.0,
        lr_scale_batch: int | None = None,
        compile: bool = False,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        check_loss(loss)
        if optimizer not in ("adam", "adamw"):
            raise ConfigError(f"--model.optimizer {optimizer!r}: use 'adam' or 'adamw' (or the "
                              "CLI's --optimizer class_path for anything else)")  # fmt: skip
        if scheduler not in SCHEDULERS:
            raise ConfigError(f"--model.scheduler {scheduler!r}: use null, 'cosine' or "
                              "'onecycle' (or the CLI's --lr_scheduler class_path)")  # fmt: skip
        if not 0 < pct_start < 1:
            raise ConfigError(f"--model.pct_start must be in (0, 1), got {pct_start}")
        if scheduler_interval not in ("epoch", "step"):
            raise ConfigError(f"--model.scheduler_interval {scheduler_interval!r}: 'epoch' or "
                              "'step' (how often the LR scheduler steps)")  # fmt: skip
        self.scheduler_interval = scheduler_interval
        _check_schedule(scheduler, lr, warmup_epochs, warmup_start_factor, min_lr, lr_scale_batch)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"--model.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.save_hyperparameters()
        self.model_name = model
        self.model_args = dict(model_args or {})
        try:
            self.model = models.create(model, **self.model_args)
        except ConfigError as exc:
            raise ConfigError(f"--model.model / --model.model_args: {exc}") from None
        self.loss_name, self.label_smoothing = loss, label_smoothing
        # what the checkpoint records; set from the data module at setup (or a checkpoint)
        self.classes: list[str] = []
        self.input_record: dict[str, Any] = {}
        # torch.compile's wrapper is kept out of the module tree: the state_dict keys stay
        # "model.<name>", which load_model reads
        self._run: dict[str, Any] = {"net": torch.compile(self.model) if compile else self.model}
        self.metrics = nn.ModuleDict()

    # -- data contract ----------------------------------------------------------------------

    def attach_data(self, classes: list[str], input_record: dict[str, Any]) -> None:
        """Record the data's classes and binning; make the accuracy metrics for that many
        classes. Called by the data module's ``setup``."""
        self.classes, self.input_record = list(classes), dict(input_record)
        n = len(self.classes)
        if "train_acc" not in self.metrics or self.metrics["train_acc"].num_classes != n:
            for stage in STAGES:
                self.metrics[f"{stage}_acc"] = MulticlassAccuracy(n, average="micro")
                self.metrics[f"{stage}_acc_class"] = MulticlassAccuracy(n, average="none")
            self.metrics.to(self.device)

    def record(self) -> ModelRecord:
        return ModelRecord(self.model_name, self.model_args, self.classes, self.input_record)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["spikestream"] = self.record().to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._check_init_and_resume(checkpoint)
        # the trainer restores this checkpoint's weights: init_from never loads over them
        self._run["init_done"] = True
        rec = checkpoint.get("spikestream")
        if isinstance(rec, dict) and rec.get("classes"):
            self.attach_data(rec["classes"], rec.get("input") or {})
        self._check_resumed_schedule(checkpoint)

    def _check_init_and_resume(self, checkpoint: dict[str, Any]) -> None:
        """``init_from`` and a checkpoint to restore are one or the other. A run started with
        ``init_from`` records it (hparams), so its own checkpoints carry the same value: that
        is a resume of it, not a second start."""
        mine = self.hparams.get("init_from")
        saved = (checkpoint.get("hyper_parameters") or {}).get("init_from")
        if mine and mine != saved:
            raise ConfigError(init_and_resume_message(mine))

    def _apply_init_from(self) -> None:
        """Load ``init_from``'s weights into the model, once per process (see the class)."""
        path = self.hparams.get("init_from")
        if not path or self._run.get("init_done"):
            return
        from ..models.checkpoint import load_model

        try:
            source, record = load_model(path)
        except SpikestreamError as exc:  # missing, foreign or broken file
            raise ConfigError(f"--model.init_from: {exc}") from None  # exc names the file
        mine = self.model.state_dict()
        theirs = source.state_dict()
        shapes = {k: tuple(v.shape) for k, v in theirs.items()}
        wanted = {k: tuple(v.shape) for k, v in mine.items()}
        if record.name != self.model_name or shapes != wanted:
            differ = sorted(k for k in shapes.keys() | wanted.keys()
                            if shapes.get(k) != wanted.get(k))  # fmt: skip
            what = (f"weights {', '.join(differ[:4])}{' ...' if len(differ) > 4 else ''} "
                    "differ in name or shape" if record.name == self.model_name
                    else "another model")  # fmt: skip
            raise ConfigError(
                f"--model.init_from {path}: the checkpoint's model {record.name!r} (model_args "
                f"{record.model_args}) does not build this run's model {self.model_name!r} "
                f"(model_args {self.model_args}): {what}. Train the checkpoint's model "
                f"(--model.model {record.name} --model.model_args with its arguments, e.g. its "
                "run's config.yaml), or give a checkpoint of this run's model"
            )
        self.model.load_state_dict(theirs, strict=True)  # copies into the existing tensors
        self._run["init_done"] = True
        if self.trainer.is_global_zero:
            print(f"spikestream: model initialised from {path} ({len(theirs)} tensors; a new "
                  "run: fresh optimizer, schedule and epoch count)", file=sys.stderr)  # fmt: skip

    # the first of these in a process applies init_from; restore (on_load_checkpoint) is before
    def on_fit_start(self) -> None:
        self._apply_init_from()

    def on_validation_start(self) -> None:
        self._apply_init_from()

    def on_test_start(self) -> None:
        self._apply_init_from()

    def on_predict_start(self) -> None:
        self._apply_init_from()

    def _check_resumed_schedule(self, checkpoint: dict[str, Any]) -> None:
        """A resumed fit restores the checkpoint's scheduler state into the scheduler this run
        builds: a plain cosine's (CosineAnnealingLR) into the warm-up's LambdaLR fails with a
        bare KeyError, the reverse silently mixes the two; refuse both, naming the fix."""
        from lightning.pytorch.trainer.states import TrainerFn

        hp: Any = self.hparams
        trainer = self._trainer
        own_cosine = hp.get("scheduler") == "cosine" and "configure_optimizers" not in vars(self)
        if trainer is None or trainer.state.fn != TrainerFn.FITTING or not own_cosine:
            return  # not training, or not the module's own cosine
        saved = checkpoint.get("lr_schedulers")
        state = saved[0] if isinstance(saved, list) and saved else None
        if not isinstance(state, dict):
            return
        warmup = int(hp.get("warmup_epochs") or 0)
        if ("lr_lambdas" in state) == bool(warmup):
            return
        if warmup:
            raise ConfigError(f"the checkpoint's schedule is a plain cosine (CosineAnnealingLR, "
                              f"saved without a warm-up), this run's has --model.warmup_epochs "
                              f"{warmup}: resume it with --model.warmup_epochs 0, or start a new "
                              "run (without --ckpt_path) for the warm-up")  # fmt: skip
        lambdas = state.get("lr_lambdas")
        shape = lambdas[0] if isinstance(lambdas, list) and lambdas else None
        was = shape.get("warmup") if isinstance(shape, dict) else None
        raise ConfigError(f"the checkpoint's schedule has a warm-up ({was} "
                          f"{self.scheduler_interval}s), this run's has none (--model."
                          "warmup_epochs 0): resume it with the --model.warmup_epochs it was "
                          "trained with (its run's config.yaml), or start a new run")  # fmt: skip

    # -- the step ---------------------------------------------------------------------------

    def forward(self, x: Any, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``[N, classes]`` scores for a batch's ``x``. With ``lengths`` (frames zero-padded
        after each sample's last valid step) each sample is scored over its own steps only,
        so its scores do not depend on its batch-mates."""
        reset_net(self.model)  # SpikingJelly-style modules keep state between calls
        if lengths is not None and not isinstance(x, dict) and int(lengths.min()) < x.shape[1]:
            return self._scores_by_length(x, lengths)
        net = self._run["net"]
        out = net(**x) if isinstance(x, dict) else net(x)
        return scores(out, self.loss_name)

    def _scores_by_length(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        net: Any = self.model
        lengths = lengths.to(x.device)
        steps = torch.arange(x.shape[1], device=x.device)
        if isinstance(net, RecurrentSNN):
            # the decision after each step (running maximum): take each sample's last valid one
            decisions = net.run(x)[0]  # [N, T, C]
            return decisions[torch.arange(len(x), device=x.device), lengths - 1]
        if hasattr(net, "forward_steps"):
            # causal per-step scores [T, N, C]: padded steps come after, so they are dropped
            out = net.forward_steps(x.transpose(0, 1))[0]
            valid = (steps[:, None] < lengths[None, :]).unsqueeze(-1)  # [T, N, 1]
            if self.loss_name == "nll_max":
                return out.masked_fill(~valid, float("-inf")).amax(0)
            return (out * valid).sum(0) / lengths[:, None].to(out.dtype)
        # any other model: one call per distinct length, on the unpadded steps
        rows: list[torch.Tensor | None] = [None] * len(x)
        for n in lengths.unique().tolist():
            idx = (lengths == n).nonzero().flatten()
            reset_net(net)
            s = scores(net(x[idx, :n]), self.loss_name)
            for k, i in enumerate(idx.tolist()):
                rows[i] = s[k]
        return torch.stack(rows)  # type: ignore[arg-type]

    def _batch_scores(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        # training keeps the padded batch as SpikingJelly and Tonic train; evaluation does not
        lengths = None if stage == "train" else batch.get("lengths")
        return self(batch["x"], lengths)

    def _step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        s = self._batch_scores(batch, stage)
        y = batch["y"]
        loss = loss_value(s, y, self.loss_name, self.label_smoothing)
        n = len(y)
        on_step = stage == "train"
        if on_step:  # the per-step value is this rank's; the epoch value is averaged over ranks
            self.log(f"{stage}_loss_step", loss, prog_bar=True, on_step=True, on_epoch=False,
                     batch_size=n)  # fmt: skip
        self.log(f"{stage}_loss", loss, prog_bar=not on_step, on_step=False, on_epoch=True,
                 batch_size=n, sync_dist=True)  # fmt: skip
        if f"{stage}_acc" in self.metrics:
            pred = s.detach().argmax(1)
            acc: Any = self.metrics[f"{stage}_acc"]
            acc(pred, y)
            per_class: Any = self.metrics[f"{stage}_acc_class"]
            per_class.update(pred, y)
            self.log(f"{stage}_acc", acc, prog_bar=True, on_step=False, on_epoch=True,
                     batch_size=n)  # fmt: skip
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        """One dict per sample: ``name``, ``label``, ``index`` and the ``scores`` list."""
        s = self._batch_scores(batch, "predict").float().cpu()
        return [
            {"name": name, "label": int(y), "index": int(i), "scores": row.tolist()}
            for name, y, i, row in zip(batch["names"], batch["y"], batch["index"], s, strict=True)
        ]

    def _per_class(self, stage: str) -> None:
        key = f"{stage}_acc_class"
        metric: Any = self.metrics[key] if key in self.metrics else None
        if metric is None or not metric.update_called:
            return
        values = metric.compute()
        metric.reset()
        names = self.classes or [str(i) for i in range(len(values))]
        # computed over every rank already (torchmetrics syncs); sync_dist keeps Lightning quiet
        per = {f"{key}/{name}": v for name, v in zip(names, values, strict=True)}
        self.log_dict(per, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        # the learning rate, logged here rather than by LearningRateMonitor, which refuses to
        # run without a logger (--trainer.logger false)
        opt: Any = self.optimizers()
        if hasattr(opt, "param_groups"):
            lr = float(opt.param_groups[0]["lr"])
            self.log("lr", lr, on_step=False, on_epoch=True, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self._per_class("train")

    def on_validation_epoch_end(self) -> None:
        self._per_class("val")

    def on_test_epoch_end(self) -> None:
        self._per_class("test")

    # -- optimisation -----------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        hp: Any = self.hparams
        own = hp.warmup_epochs or hp.min_lr or hp.lr_scale_batch is not None
        # the CLI's optimizer: group replaces configure_optimizers on the instance; these keys
        # would then be ignored without a word
        if stage == "fit" and own and "configure_optimizers" in vars(self):
            raise ConfigError(
                "--model.warmup_epochs, --model.min_lr and --model.lr_scale_batch shape the "
                "module's own optimizer (--model.optimizer, --model.lr, --model.scheduler "
                "cosine), which the config's optimizer:/lr_scheduler: groups replace: drop "
                "those groups, or unset these keys: --model.warmup_epochs 0 --model.min_lr 0 "
                "--model.lr_scale_batch null"
            )

    def effective_lr(self) -> float:
        """``lr``, or with ``lr_scale_batch`` the linearly scaled ``lr * batch_size *
        world_size * accumulate_grad_batches / lr_scale_batch`` (Event2Vec's rule, which has
        no accumulation) of the trainer and data module in use."""
        hp: Any = self.hparams
        if hp.lr_scale_batch is None:
            return float(hp.lr)
        trainer: Any = self.trainer
        dm = getattr(trainer, "datamodule", None)
        batch = getattr(dm, "hparams", {}).get("batch_size") if dm is not None else None
        if not isinstance(batch, int):
            raise ConfigError("--model.lr_scale_batch reads the batch size from the data "
                              "module's --data.batch_size; train with the data module, or "
                              "leave --model.lr_scale_batch unset")  # fmt: skip
        accumulate = int(trainer.accumulate_grad_batches)
        per_step = batch * int(trainer.world_size) * accumulate
        lr = float(hp.lr) * per_step / hp.lr_scale_batch
        self._run["lr_rule"] = (
            f"--model.lr {hp.lr} x batch {batch} x {trainer.world_size} processes x "
            f"{accumulate} accumulated / --model.lr_scale_batch {hp.lr_scale_batch}"
        )
        return lr

    def _optimizer_steps_per_epoch(self) -> int | None:
        """Optimizer steps per training epoch (loads the training data once, as Lightning's
        ``estimated_stepping_batches`` does); None when the data has no length."""
        trainer: Any = self.trainer
        if trainer.train_dataloader is None:
            trainer.fit_loop.setup_data()
        batches = trainer.num_training_batches
        if not math.isfinite(batches):  # before ceil: ceil(inf) raises OverflowError
            return None
        return max(1, math.ceil(batches / trainer.accumulate_grad_batches))

    def _steps_per_epoch(self, what: str) -> int:
        """`_optimizer_steps_per_epoch`, which ``what`` (a setting) needs: a ConfigError when
        the training data has no length."""
        steps = self._optimizer_steps_per_epoch()
        if steps is None:
            raise ConfigError(f"{what} needs the training batches per epoch, and the training "
                              "data has no length (an iterable dataset); set "
                              "--trainer.limit_train_batches N")  # fmt: skip
        return steps

    def _cosine_horizon(self) -> tuple[int, int]:
        """(scheduler steps of the whole run, of the warm-up) for ``scheduler='cosine'``."""
        hp: Any = self.hparams
        trainer: Any = self.trainer
        if self.scheduler_interval == "step":
            total = trainer.estimated_stepping_batches  # loads the training data once
            if not math.isfinite(total):
                raise ConfigError("--model.scheduler cosine: the run has no end to anneal to; "
                                  "set --trainer.max_epochs or --trainer.max_steps")  # fmt: skip
            warmup = (hp.warmup_epochs * self._steps_per_epoch("--model.warmup_epochs")
                      if hp.warmup_epochs else 0)  # fmt: skip
            total, unit = max(1, int(total)), "steps"
        else:
            epochs = trainer.max_epochs
            if (epochs is None or epochs < 1) and trainer.max_steps > 0:
                # the run ends after max_steps: anneal over the epochs those steps span
                per_epoch = self._steps_per_epoch("--model.scheduler cosine with "
                                                  "--trainer.max_steps")  # fmt: skip
                epochs = math.ceil(trainer.max_steps / per_epoch)
            if epochs is None or epochs < 1:
                raise ConfigError("--model.scheduler cosine anneals over the run's epochs: "
                                  "set --trainer.max_epochs or --trainer.max_steps")  # fmt: skip
            total, warmup, unit = int(epochs), hp.warmup_epochs, "epochs"
        if warmup and warmup >= total:
            from lightning.pytorch.utilities import rank_zero_warn

            # a smoke run (fast_dev_run, max_epochs 1) of a recipe: train it, as torch's
            # SequentialLR would, but say the LR never reaches --model.lr's plateau
            rank_zero_warn(f"the run ends inside the warm-up: --model.warmup_epochs "
                           f"{hp.warmup_epochs} ({warmup} {unit}), the run {total} {unit} (see "
                           "--trainer.max_epochs, --trainer.max_steps); the learning rate stays in "
                           "the linear warm-up and the cosine never starts")  # fmt: skip
        return total, warmup

    def configure_optimizers(self) -> Any:
        hp: Any = self.hparams
        lr = self.effective_lr()
        cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
        opt = cls(self.parameters(), lr=lr, weight_decay=hp.weight_decay)
        if hp.scheduler is None:
            return opt
        if hp.scheduler == "onecycle":
            total = self.trainer.estimated_stepping_batches  # loads the training data once
            if not math.isfinite(total):  # int(inf) would raise OverflowError
                raise ConfigError("--model.scheduler onecycle spans the whole run, which has "
                                  "no end: set --trainer.max_epochs or "
                                  "--trainer.max_steps")  # fmt: skip
            steps = max(1, int(total))
            one = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                      pct_start=hp.pct_start)  # fmt: skip
            self._run["horizon"] = steps
            return {"optimizer": opt, "lr_scheduler": {"scheduler": one, "interval": "step"}}
        total, warmup = self._cosine_horizon()
        sched: torch.optim.lr_scheduler.LRScheduler
        if warmup:
            shape = WarmupCosine(warmup, total, hp.warmup_start_factor, hp.min_lr / lr)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, shape)
        else:  # today's schedule: runs saved before warm-up existed resume unchanged
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total,
                                                               eta_min=hp.min_lr)  # fmt: skip
        self._run["horizon"] = total
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "interval": self.scheduler_interval},
        }

    def on_train_start(self) -> None:
        # after Lightning restored a checkpoint's optimizer and scheduler: what trains now
        if "configure_optimizers" in vars(self):
            return  # the CLI's optimizer: group; none of the module's settings apply
        self._check_trained_lr()
        self._check_resumed_horizon()

    def _trained_lr(self) -> float:
        """The LR the run trains with (the peak, before any schedule): the one
        configure_optimizers set, or after a resume the checkpoint's."""
        hp: Any = self.hparams
        group = self.trainer.optimizers[0].param_groups[0]
        if hp.scheduler == "onecycle":
            return float(group["max_lr"])
        configs = self.trainer.lr_scheduler_configs
        if configs:
            return float(configs[0].scheduler.base_lrs[0])
        return float(group["lr"])

    def _check_trained_lr(self) -> None:
        from lightning.pytorch.utilities import rank_zero_warn

        hp: Any = self.hparams
        lr, planned = self._trained_lr(), self.effective_lr()
        same = math.isclose(lr, planned, rel_tol=1e-9)
        rule = self._run.get("lr_rule")
        if hp.min_lr > lr:
            fix = ("lower --model.min_lr or raise --model.lr" if same
                   else "lower --model.min_lr, or start a new run")  # fmt: skip
            raise ConfigError(f"--model.min_lr {hp.min_lr} is above the "
                              f"{'scaled ' if rule else ''}learning rate {lr:.4g}; "
                              f"{fix}")  # fmt: skip
        if rule is not None and self.trainer.is_global_zero:  # once per run, on one rank
            note = (f"= {rule}" if same else f"(the checkpoint's; this run's would be "
                    f"{planned:.6g} = {rule})")  # fmt: skip
            print(f"spikestream: learning rate {lr:.6g} {note}", file=sys.stderr)
        if not same:
            keep = ("--data.batch_size, --trainer.devices, --trainer.num_nodes and "
                    "--trainer.accumulate_grad_batches" if rule else "--model.lr")  # fmt: skip
            rank_zero_warn(f"the learning rate {lr:.6g} trains (the checkpoint's optimizer and "
                           f"schedule), not this run's {planned:.6g}"
                           f"{f' = {rule}' if rule else ''}: a resumed run keeps its "
                           f"checkpoint's learning rate; resume with the run's {keep} to train "
                           "as planned, or start a new run")  # fmt: skip

    def _check_resumed_horizon(self) -> None:
        # a resumed run keeps its checkpoint's schedule (the scheduler's state): say so when
        # the run's length has changed since, rather than bend the curve midway
        configs = self.trainer.lr_scheduler_configs
        if not configs or "horizon" not in self._run:
            return
        sched: Any = configs[0].scheduler
        if isinstance(sched, torch.optim.lr_scheduler.OneCycleLR):
            self._check_resumed_onecycle(int(sched.total_steps), self._run["horizon"])
            return
        shape = getattr(sched, "lr_lambdas", [None])[0]
        saved = shape.total if isinstance(shape, WarmupCosine) else getattr(sched, "T_max", None)
        now = self._run["horizon"]
        if saved is not None and saved != now:
            from lightning.pytorch.utilities import rank_zero_warn

            past = ("stays at --model.min_lr" if isinstance(shape, WarmupCosine)
                    else "rises again (CosineAnnealingLR)")  # fmt: skip
            rank_zero_warn(f"the checkpoint's cosine schedule spans {saved} "
                           f"{self.scheduler_interval}s, this run {now}: the learning rate "
                           f"follows the checkpoint's schedule and {past} past its end; keep "
                           "the run's --trainer.max_epochs to resume it as planned, or start "
                           "a new run")  # fmt: skip

    def _check_resumed_onecycle(self, saved: int, now: int) -> None:
        """OneCycleLR's state (its ``total_steps`` too) is the checkpoint's. A longer run would
        step past its end, where torch raises ValueError mid-run; holding its last LR
        (``lr / 2.5e5``) would train nothing: refuse before the first step, naming the fix. A
        shorter run follows the checkpoint's curve and stops early (warned)."""
        if saved == now:
            return
        trainer: Any = self.trainer
        per_epoch = self._optimizer_steps_per_epoch()
        epochs = saved // per_epoch if per_epoch and saved % per_epoch == 0 else None
        keep = (f"--trainer.max_epochs {epochs} (or --trainer.max_steps {saved})" if epochs
                else f"--trainer.max_steps {saved}")  # fmt: skip
        if now > saved:
            epochs_now = trainer.max_epochs if (trainer.max_epochs or 0) > 0 else None
            longer = (f"--trainer.max_epochs {epochs_now}" if epochs_now
                      else f"--trainer.max_steps {trainer.max_steps}")  # fmt: skip
            from .cli import packaged_configs

            name = getattr(trainer.logger, "name", None)  # runs/<config name>/
            config = name if name in packaged_configs() else "CONFIG"
            new_run = (f"start a new run from its weights (without --ckpt_path): spikestream "
                       f"fit --config {config} --model.init_from {trainer.ckpt_path} "
                       f"{longer}")  # fmt: skip
            fix = (f"The checkpoint has finished its cycle ({trainer.global_step} steps): to "
                   f"train longer, {new_run}" if trainer.global_step >= saved
                   else f"Resume with the run's {keep} to finish it as planned, or "
                   f"{new_run}")  # fmt: skip
            raise ConfigError(f"the checkpoint's one-cycle schedule (--model.scheduler "
                              f"onecycle) spans {saved} steps, this run {now}: OneCycleLR "
                              "cannot step past its end (where its learning rate has decayed "
                              "to ~0), and a resumed run keeps its checkpoint's schedule. "
                              f"{fix}")  # fmt: skip
        from lightning.pytorch.utilities import rank_zero_warn

        rank_zero_warn(f"the checkpoint's one-cycle schedule spans {saved} steps, this run "
                       f"{now}: the learning rate follows the checkpoint's schedule and the "
                       f"run stops before its end; resume with the run's {keep} to finish it "
                       "as planned")  # fmt: skip


def init_and_resume_message(init_from: str) -> str:
    """The ConfigError text for ``--model.init_from`` given with ``--ckpt_path``."""
    return (f"--model.init_from {init_from} with --ckpt_path: one or the other. --ckpt_path "
            "continues a run (its weights, optimizer, schedule, epoch and folder); "
            "--model.init_from starts a new run from a checkpoint's weights (leave out "
            "--ckpt_path)")  # fmt: skip


def _check_schedule(scheduler: str | None, lr: float, warmup_epochs: int, start: float,
                    min_lr: float, lr_scale_batch: int | None) -> None:  # fmt: skip
    """The schedule's keys that are wrong whatever the trainer (ConfigError naming the fix)."""
    if not lr > 0:
        raise ConfigError(f"--model.lr must be > 0, got {lr}")
    if warmup_epochs < 0:
        raise ConfigError(f"--model.warmup_epochs must be >= 0, got {warmup_epochs}")
    if warmup_epochs and scheduler != "cosine":
        fix = ("OneCycleLR warms up by itself: use --model.pct_start, or --model.scheduler "
               "cosine" if scheduler == "onecycle" else "use --model.scheduler cosine")  # fmt: skip
        raise ConfigError(f"--model.warmup_epochs {warmup_epochs} with --model.scheduler "
                          f"{scheduler}: {fix}")  # fmt: skip
    if not 0 < start <= 1:
        raise ConfigError(f"--model.warmup_start_factor must be in (0, 1], got {start}")
    if min_lr < 0:
        raise ConfigError(f"--model.min_lr must be >= 0, got {min_lr}")
    if min_lr and scheduler != "cosine":
        raise ConfigError(f"--model.min_lr {min_lr} is where the cosine ends: use "
                          "--model.scheduler cosine, or leave --model.min_lr at 0")  # fmt: skip
    if min_lr > lr and lr_scale_batch is None:
        raise ConfigError(f"--model.min_lr {min_lr} is above --model.lr {lr}: lower "
                          "--model.min_lr or raise --model.lr")  # fmt: skip
    if lr_scale_batch is not None and lr_scale_batch < 1:
        raise ConfigError(f"--model.lr_scale_batch must be >= 1 (the reference batch, "
                          f"Event2Vec's 256), got {lr_scale_batch}")  # fmt: skip
