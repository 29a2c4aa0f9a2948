"""``spikestream fit | validate | test | predict``: Lightning's CLI over `ClassificationModule`
and `EventDataModule`, with spikestream's defaults.

What this adds to ``LightningCLI``:

* ``--config NAME`` also takes a packaged recipe's name (``quickstart`` ->
  ``spikestream/configs/quickstart.yaml``); ``spikestream fit --help`` lists them.
* Runs live in ``runs/<config name>/version_N/`` (TensorBoard logs, ``config.yaml``,
  ``checkpoints/last.ckpt`` and the best one by ``val_acc``).
* ``--ckpt_path last`` (or ``best``, or a checkpoint file inside a run) continues **that** run:
  the same ``version_N`` folder for TensorBoard and checkpoints, epoch, optimizer and scheduler
  restored. ``last``/``best`` are looked up in the configured logger version's folder
  (``--trainer.logger.init_args.version``), else in the newest ``version_N``; ``best`` is the
  file ``last.ckpt``'s ModelCheckpoint state names. ``--resume RUN_DIR`` is the same with the
  run's own ``config.yaml``, from any working directory. A second config of the same run is
  saved as ``config.<verb>.yaml`` (``config.resume.yaml``), never over the first.
* One rule for a checkpoint's settings: with ``--ckpt_path`` (``last``, ``best`` or a file) the
  model's arguments (``--model.*``: network, loss, optimiser settings) are the checkpoint's,
  whatever the config or the command line say (Lightning's CLI parses them over the config);
  data, trainer, optimizer and lr_scheduler groups come from the config and command line.
  ``--model.init_from CKPT`` (a new run from a checkpoint's weights) beside ``--ckpt_path`` is a
  `ConfigError`, unless it is the checkpoint's own (a resume of a run that began from it).
* A fresh ``fit`` (no ``--ckpt_path``) into a run folder that already holds a run (a configured
  logger version) is a `ConfigError`; a ``fit`` holds ``RUN/run.lock`` while it trains, so a
  second ``fit`` of the same run (two resumes) is refused, not interleaved.
* ``--trainer.precision 16-mixed`` on a CPU becomes ``bf16-mixed`` (fp16 AMP is CUDA-only).
* ``predict`` writes one JSON line per sample (``name``, ``label``, ``index``, ``scores``) to
  ``--predict_out FILE`` (per rank ``FILE.rankN`` under DDP) or to stdout.
* Every bad option ends as a `ConfigError`/`DatasetError` naming the key, before training.

Multi-node: the run folder (``runs/``) must be on a filesystem every node shares; each node's
processes decide alone whether ``config.yaml`` exists (no broadcast), and checkpoints are written
by global rank 0.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpikestreamError

#: The training verbs and their one-line help (``spikestream --help`` lists them from here).
VERB_HELP = {
    "fit": "train a model from a YAML config (Lightning CLI)",
    "validate": "score a checkpoint on the validation split",
    "test": "score a checkpoint on the test split",
    "predict": "one JSON line per sample: name, label, index, scores",
}
VERBS = tuple(VERB_HELP)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
RUNS = "runs"


def packaged_configs() -> list[str]:
    """Names of the recipes shipped in ``spikestream/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config(value: str) -> str:
    """A config path as given, or a packaged recipe's file for its bare name (a file of that
    name wins; a folder does not)."""
    if Path(value).is_file() or value.lstrip().startswith("{"):
        return value
    name = value[:-5] if value.endswith(".yaml") else value
    if "/" not in name and (CONFIG_DIR / f"{name}.yaml").is_file():
        return str(CONFIG_DIR / f"{name}.yaml")
    raise ConfigError(
        f"--config {value}: no such file, and not a packaged recipe "
        f"({', '.join(packaged_configs())})"
    )


def _take_option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """``argv`` without ``--name VALUE`` / ``--name=VALUE``, and that value (the last one)."""
    out, value, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == name:
            if i + 1 >= len(argv):
                raise ConfigError(f"{name} needs a value")
            value, i = argv[i + 1], i + 2
            continue
        if arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
        else:
            out.append(arg)
        i += 1
    return out, value


def prepare_argv(verb: str, argv: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """Spikestream's own options taken out of ``argv`` (``--resume``, ``--predict_out``), packaged
    config names resolved; returns Lightning's argv and the options."""
    args = list(argv)
    args, resume = _take_option(args, "--resume")
    args, predict_out = _take_option(args, "--predict_out")
    opts: dict[str, Any] = {"predict_out": predict_out, "config_name": None}
    if resume is not None:
        run = Path(resume).resolve()
        if not (run / "config.yaml").is_file():
            raise ConfigError(f"--resume {resume}: no config.yaml there; give a run folder "
                              f"such as {RUNS}/quickstart/version_0")  # fmt: skip
        last = run / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise ConfigError(f"--resume {resume}: no checkpoints/last.ckpt in that run")
        # the run's own folder, absolute: its config's save_dir is relative to where it began
        where = ["--trainer.logger.init_args.save_dir", str(run.parent.parent),
                 "--trainer.logger.init_args.name", run.parent.name,
                 "--trainer.logger.init_args.version", run.name]  # fmt: skip
        args = ["--config", str(run / "config.yaml"), *args, *where, "--ckpt_path", str(last)]
        opts["config_name"] = run.parent.name
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        value = None
        if arg in ("-c", "--config") and i + 1 < len(args):
            value, i = args[i + 1], i + 1
        elif arg.startswith(("--config=", "-c=")):
            value = arg.split("=", 1)[1]
        if value is None:
            out.append(arg)
        else:
            path = resolve_config(value)
            out += ["--config", path]
            if opts["config_name"] is None:
                opts["config_name"] = _run_name(path)
        i += 1
    return out, opts


def _run_name(config: str) -> str | None:
    """The runs/<name> folder of a config: the file's stem, or for a JSON config its model's
    name (dict configs from Python would otherwise all share runs/default)."""
    if not config.lstrip().startswith("{"):
        return Path(config).stem
    try:
        model = json.loads(config).get("model") or {}
    except (ValueError, AttributeError):
        return None  # Lightning's parser reports the bad config
    name = model.get("model") if isinstance(model, dict) else None
    if not name and isinstance(model, dict):  # class_path/init_args form
        name = (model.get("init_args") or {}).get("model")
    return str(name) if name else None


def _version_of(ckpt: Path, base: Path) -> int | str | None:
    """The logger version of a checkpoint inside ``base/<version>/checkpoints/``."""
    try:
        rel = ckpt.resolve().relative_to(base.resolve())
    except ValueError:
        return None
    if len(rel.parts) != 3 or rel.parts[1] != "checkpoints":
        return None
    m = re.fullmatch(r"version_(\d+)", rel.parts[0])
    return int(m.group(1)) if m else rel.parts[0]


def _version_dir(version: int | str) -> str:
    # TensorBoardLogger: an int version is "version_N", a string is used verbatim
    return f"version_{version}" if isinstance(version, int) else str(version)


def find_run_checkpoint(base: Path, which: str, version: int | str | None = None) -> Path:
    """``last.ckpt`` (or the best checkpoint) of run ``base/<version>`` when a version is
    configured, else of the newest ``version_N`` under ``base`` that has one. The best one is
    the path ``last.ckpt``'s ModelCheckpoint state holds (file names do not sort by epoch)."""
    if version is not None:
        runs = [base / _version_dir(version)]
        where = str(runs[0] / "checkpoints")
    else:
        runs = sorted(
            (p for p in base.glob("version_*") if re.fullmatch(r"version_\d+", p.name)),
            key=lambda p: int(p.name.split("_")[1]),
            reverse=True,
        )
        where = f"{base}/version_*/checkpoints"
    for run in runs:
        last = run / "checkpoints" / "last.ckpt"
        if not last.is_file():
            continue
        if which == "last":
            return last
        best = _best_of(last)
        if best is not None:
            return best
    raise ConfigError(
        f"--ckpt_path {which}: no {'last.ckpt' if which == 'last' else 'best checkpoint'} in "
        f"{where}; train first (spikestream fit without --ckpt_path), or give the file"
    )


def _best_of(last: Path) -> Path | None:
    """The best checkpoint recorded in ``last.ckpt`` (its ModelCheckpoint callback's state),
    found next to it when the run was moved or began in another working directory."""
    import torch

    try:
        ckpt = torch.load(last, map_location="cpu", weights_only=True)
    except Exception:  # an unreadable last.ckpt: Lightning's own load reports it
        return None
    states = ckpt.get("callbacks", {}) if isinstance(ckpt, dict) else {}
    for key, state in states.items():
        path = state.get("best_model_path") if "ModelCheckpoint" in str(key) else None
        if not path:
            continue
        for candidate in (Path(path), last.parent / Path(path).name):
            if candidate.is_file():
                return candidate
    return None


def _build_cli_class() -> Any:
    import torch
    from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

    from .data import EventDataModule
    from .module import ClassificationModule

    class RunConfigCallback(SaveConfigCallback):
        """Saves ``config.yaml`` in the run folder; a later command on the same run (resume,
        test) saves ``config.<verb>.yaml`` instead of failing."""

        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            log_dir = trainer.log_dir
            if log_dir and (Path(log_dir) / self.config_filename).exists():
                name = str(getattr(stage, "value", stage))  # a TrainerFn or its value
                verb = "resume" if name == "fit" else name
                self.config_filename = f"config.{verb}.yaml"
                self.overwrite = True
            super().setup(trainer, pl_module, stage)

    class SpikestreamCLI(LightningCLI):
        opts: dict[str, Any] = {}

        def add_arguments_to_parser(self, parser: Any) -> None:
            # defaults, not persistent callbacks: a config or the command line may change them
            parser.set_defaults(
                {f"trainer.{k}": v for k, v in trainer_defaults(self.opts["config_name"]).items()}
            )

        def _parse_ckpt_path(self) -> None:
            # last/best become the run's file first, so Lightning's CLI applies the
            # checkpoint's model arguments in every case (one rule, see the module docstring)
            sub = self.config.get("subcommand")
            if sub:
                self._resolve_run(sub, self.config[sub])
            model = self.config[sub].get("model") if sub else None
            given = model.get("init_from") if model is not None else None
            super()._parse_ckpt_path()
            model = self.config[sub].get("model") if sub else None
            # the checkpoint's own init_from (its run began from it) is a resume of that run;
            # another one beside --ckpt_path would be silently replaced: refuse it
            if given and model is not None and model.get("init_from") != given:
                from .module import init_and_resume_message

                raise ConfigError(init_and_resume_message(given))

        def before_instantiate_classes(self) -> None:
            from lightning.fabric.accelerators.cuda import num_cuda_devices

            sub = self.config.get("subcommand")
            cfg = self.config[sub] if sub else self.config  # run=False: no subcommand
            precision = str(cfg.trainer.get("precision"))
            accel = str(cfg.trainer.get("accelerator"))
            # num_cuda_devices, not torch.cuda.is_available: that initialises CUDA, which
            # ddp_fork forbids before the fork
            on_cpu = accel == "cpu" or (accel == "auto" and num_cuda_devices() == 0)
            if precision.startswith("16") and on_cpu:
                warnings.warn(
                    "fp16 AMP (precision 16-mixed) needs CUDA; using bf16-mixed on the CPU",
                    stacklevel=1,
                )
                cfg.trainer.precision = "bf16-mixed"
            if cfg.trainer.get("enable_checkpointing") is False and cfg.trainer.get("callbacks"):
                # the default ModelCheckpoint would contradict it (Lightning refuses both)
                cfg.trainer.callbacks = [
                    c for c in cfg.trainer.callbacks
                    if not str(getattr(c, "class_path", "")).endswith("ModelCheckpoint")
                ]  # fmt: skip
            if cfg.get("lr_scheduler") is not None and cfg.get("optimizer") is None:
                # Lightning's CLI would ignore the scheduler group without a word
                raise ConfigError(
                    "--lr_scheduler needs an --optimizer group beside it (Lightning's CLI "
                    "ignores it alone); or drop it and use --model.scheduler cosine|onecycle"
                )
            if sub == "predict" and self.opts.get("predict_out") in (None, "-"):
                cfg.trainer.enable_progress_bar = False  # stdout carries the JSON lines

        def _resolve_run(self, sub: str, cfg: Any) -> None:
            """``--ckpt_path last|best|FILE`` -> the file, and the logger onto its run."""
            logger = cfg.trainer.get("logger")
            init = getattr(logger, "init_args", None)
            is_tb = str(getattr(logger, "class_path", "")).endswith("TensorBoardLogger")
            base = Path(init.save_dir) / init.name if is_tb and init is not None else None
            ckpt = cfg.get("ckpt_path")
            if not ckpt:
                return
            if ckpt in ("last", "best") and base is not None and init is not None:
                ckpt = str(find_run_checkpoint(base, ckpt, init.get("version")))
                cfg.ckpt_path = ckpt
            if ckpt in ("last", "best", "hpc", "registry"):
                return
            if not Path(ckpt).is_file():
                raise ConfigError(f"--ckpt_path {ckpt}: no such checkpoint file")
            version = _version_of(Path(ckpt), base) if base is not None else None
            if version is not None and init is not None and init.get("version") is None:
                init.version = version  # the same TensorBoard run and checkpoint folder

        @staticmethod
        def configure_optimizers(lightning_module: Any, optimizer: Any,
                                 lr_scheduler: Any = None) -> Any:  # fmt: skip
            """Lightning's, with the scheduler stepped per ``--model.scheduler_interval``
            (``step`` for OneCycleLR-style schedules, default ``epoch``)."""
            if lr_scheduler is None:
                return optimizer
            interval = getattr(lightning_module, "scheduler_interval", "epoch")
            entry = {"scheduler": lr_scheduler, "interval": interval}
            if isinstance(lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                entry["monitor"] = lr_scheduler.monitor  # type: ignore[attr-defined]
            return {"optimizer": optimizer, "lr_scheduler": entry}

        def _check_data(self) -> None:
            # bad data or shapes fail here, before Lightning creates the run's folder
            if self.datamodule is not None and hasattr(self.datamodule, "attach"):
                self.datamodule.attach(self.model)

        before_validate = before_test = before_predict = _check_data

        def before_fit(self) -> None:
            self._check_data()
            self._claim_run()
            self._quiet_own_checkpoint_dir()

        def _quiet_own_checkpoint_dir(self) -> None:
            """A resume writes into its checkpoint's own folder by design: drop Lightning's
            "Checkpoint directory ... exists and is not empty" for that folder only (kept for any
            other, e.g. a fresh fit without a logger into a used ``checkpoints/``). Scoped by
            `_parse_and_run`'s ``catch_warnings``."""
            ckpt = self.config["fit"].get("ckpt_path")
            if not ckpt or not Path(ckpt).is_file():
                return
            folder = Path(ckpt).parent
            for spelling in {str(folder), os.path.abspath(folder), os.path.realpath(folder)}:
                warnings.filterwarnings(
                    "ignore", message=f"Checkpoint directory {re.escape(spelling)} exists"
                )

        def _claim_run(self) -> None:
            """Refuse a fresh fit into a folder holding a run, and a second fit of one run;
            hold ``RUN/run.lock`` while this one trains (released by `run_cli`)."""
            trainer: Any = self.trainer
            logger = trainer.logger
            if logger is None or not trainer.is_global_zero or not getattr(logger, "log_dir", None):
                return
            run = Path(logger.log_dir)
            if (run / "config.yaml").is_file() and not self.config["fit"].get("ckpt_path"):
                raise ConfigError(
                    f"{run} holds a run already (config.yaml): continue it with --ckpt_path "
                    f"last or --resume {run}, or start a new run (leave "
                    "--trainer.logger.init_args.version unset)"
                )
            from filelock import FileLock, Timeout

            run.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(run / "run.lock"), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                raise ConfigError(
                    f"{run} is being trained by another process ({run / 'run.lock'} is held); "
                    "wait for it to end, or start a new run"
                ) from None
            self.opts["lock"] = lock

        def after_fit(self) -> None:
            trainer: Any = self.trainer
            log_dir = trainer.log_dir  # a broadcast: every rank takes part
            if not trainer.is_global_zero:
                return
            ckpt = trainer.checkpoint_callback
            best = getattr(ckpt, "best_model_path", "") or getattr(ckpt, "last_model_path", "")
            acc = trainer.callback_metrics.get("val_acc")
            shown = f", val_acc {float(acc):.4f}" if acc is not None else ""
            print(f"spikestream: run {log_dir}; checkpoint {best or 'none'}{shown}",
                  file=sys.stderr)  # fmt: skip

        def after_instantiate_classes(self) -> None:
            if self.config.get("subcommand") == "predict":
                trainer: Any = self.trainer
                trainer.callbacks.append(JsonLinesWriter(self.opts.get("predict_out")))

    return SpikestreamCLI, RunConfigCallback, ClassificationModule, EventDataModule


def _json_lines_writer() -> Any:
    from lightning.pytorch.callbacks import BasePredictionWriter

    class _Writer(BasePredictionWriter):
        """One JSON line per predicted sample, to a file (per rank under DDP) or stdout."""

        def __init__(self, path: str | None) -> None:
            super().__init__(write_interval="batch")
            self.path = None if path in (None, "-") else path
            self._handle: Any = None

        def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
            if self.path is None:
                self._handle = sys.stdout
                return
            path = (
                self.path if trainer.world_size == 1 else f"{self.path}.rank{trainer.global_rank}"
            )
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "w", encoding="utf-8")  # closed at the end

        def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any,
                               batch_indices: Any, batch: Any, batch_idx: int,
                               dataloader_idx: int = 0) -> None:  # fmt: skip
            for row in prediction:
                self._handle.write(json.dumps(row) + "\n")

        def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
            if self._handle is not None and self._handle is not sys.stdout:
                self._handle.close()
            elif self._handle is not None:
                self._handle.flush()
            self._handle = None

    return _Writer


def JsonLinesWriter(path: str | None) -> Any:  # a class, built lazily
    return _json_lines_writer()(path)


def trainer_defaults(config_name: str | None) -> dict[str, Any]:
    """Logger and callbacks every command starts from (a config or the command line replaces
    them)."""
    return {
        "logger": {
            "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
            # absolute: the run's config.yaml and checkpoints name the same folder whatever
            # the working directory of a later --resume (Lightning compares the paths)
            "init_args": {"save_dir": str(Path.cwd() / RUNS), "name": config_name or "default"},
        },
        "callbacks": [
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {
                    "monitor": "val_acc",
                    "mode": "max",
                    "save_last": True,
                    "save_top_k": 1,
                    "filename": "best-epoch{epoch}-acc{val_acc:.4f}",
                    "auto_insert_metric_name": False,
                },
            },
        ],
    }


def run_cli(verb: str, argv: Sequence[str], *, run: bool = True) -> Any:
    """Parse and run one verb; returns the ``LightningCLI`` object (its ``trainer``, ``model``,
    ``datamodule``). Errors a user can cause raise `SpikestreamError`."""
    if verb not in VERBS:
        raise ConfigError(f"unknown training command {verb!r}; use one of {VERBS}")
    args, opts = prepare_argv(verb, argv)
    try:
        from . import allocator

        allocator.tune()  # torch's huge-page allocation, set before its first allocation
    except ImportError:
        pass
    cli_cls, save_cb, module_cls, data_cls = _build_cli_class()
    _quiet_tips()
    cli_cls.opts = opts
    no_exit = {"exit_on_error": False}
    try:
        return _parse_and_run(cli_cls, save_cb, module_cls, data_cls, verb, args, run, no_exit)
    finally:
        lock = opts.pop("lock", None)
        if lock is not None:
            lock.release()


def _parse_and_run(cli_cls: Any, save_cb: Any, module_cls: Any, data_cls: Any, verb: str,
                   args: list[str], run: bool, no_exit: dict[str, Any]) -> Any:  # fmt: skip
    import argparse

    try:
        with warnings.catch_warnings():
            # argv is spikestream's, rewritten (config names resolved): not a mistake
            warnings.filterwarnings("ignore", message=".*args parameter is intended.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
            # jsonargparse 4.49+ on Lightning 2.6's calls: not the user's to act on
            warnings.filterwarnings("ignore", message=".*deprecated in v4.*")
            # the config's optimizer: group replacing the module's default is the design
            warnings.filterwarnings(
                "ignore", message=".*configure_optimizers` will be overridden.*"
            )
            return cli_cls(
                module_cls,
                data_cls,
                save_config_callback=save_cb,
                seed_everything_default=0,
                parser_kwargs={
                    **no_exit,
                    "prog": "spikestream",
                    **{v: {**no_exit, "description": verb_help(v)} for v in VERBS},
                },
                args=[verb, *args] if run else args,
                run=run,
            )
    except argparse.ArgumentError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    except SpikestreamError:
        raise
    except Exception as exc:  # a SpikestreamError wrapped by jsonargparse or Lightning
        inner = _spikestream_cause(exc)
        if inner is not None:
            raise inner from None
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        if isinstance(exc, MisconfigurationException):  # Lightning's word for a bad setting
            raise ConfigError(" ".join(str(exc).split())) from None
        raise


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip")


def _quiet_tips() -> None:
    """Drop Lightning's advertisements for its cloud services from every run's output."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in log.filters):
            log.addFilter(_NoTips())


def _spikestream_cause(exc: BaseException) -> SpikestreamError | None:
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SpikestreamError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def main(verb: str, argv: Sequence[str]) -> int:
    """The ``spikestream <verb>`` entry: 0 on success; ``--help`` and ``--print_config`` exit
    through SystemExit(0) as argparse does."""
    try:
        run_cli(verb, argv)
    finally:  # also after a ConfigError raised once DDP had started (every rank raises it)
        _end_process_group()
    return 0


def _end_process_group() -> None:
    """Destroy the DDP process group before the interpreter exits. Lightning leaves it alive;
    left to the exit, gloo's worker threads can be torn down joinable, which aborts the
    process (SIGABRT, "terminate called without an active exception") after a good run.
    PyTorch documents the call as each trainer process's last step."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


#: One example per verb (the verb's --help and `spikestream --help` show them). The test split
#: is scored with the last epoch's weights: "best" is chosen on validation (a fraction of
#: train), and the published figures the recipes compare with are mostly last-epoch ones.
_VERB_EXAMPLE = {
    "fit": "spikestream fit --config quickstart --trainer.max_epochs 3",
    "validate": "spikestream validate --config quickstart --ckpt_path best",
    "test": "spikestream test --config quickstart --ckpt_path last",
    "predict": "spikestream predict --config quickstart --ckpt_path last --predict_out p.jsonl",
}
_PREDICT_OUT = (
    "--predict_out FILE: the JSON lines (default: stdout); under DDP each rank writes "
    "FILE.rankN, and Lightning's distributed sampler pads the split to a multiple of the rank "
    "count, so a few samples appear twice (dedupe by index)."
)


def verb_help(verb: str) -> str:
    extra = f" {_PREDICT_OUT}" if verb == "predict" else ""
    return (
        f"Example: {_VERB_EXAMPLE[verb]} -- {VERB_HELP[verb]} (Lightning's CLI). "
        f"--config takes a file or a packaged recipe ({', '.join(packaged_configs())}); runs go "
        f"to {RUNS}/<config name>/version_N/; --ckpt_path last|best picks that run's checkpoint "
        f"and continues its logs; the model's arguments then come from the checkpoint.{extra}"
    )


def help_text() -> str:
    """The training verbs' summary (``spikestream --help``, ``python -m spikestream.train.cli``)."""
    names = ", ".join(packaged_configs()) or "(none)"
    examples = "\n".join(f"  {_VERB_EXAMPLE[v]}" for v in VERBS)
    return (
        f"Examples:\n{examples}\n"
        "  spikestream fit --config NAME --ckpt_path last   (resume; or --resume RUN_DIR)\n"
        f"Packaged configs (--config NAME): {names}.\n"
        f"Runs: {RUNS}/<config name>/version_N/ (TensorBoard, config.yaml, checkpoints/).\n"
        "Every option after the verb is Lightning's CLI (`spikestream fit --help`)."
    )


if __name__ == "__main__":  # python -m spikestream.train.cli fit --config ...
    if len(sys.argv) < 2:
        print(help_text())
        sys.exit(0)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
