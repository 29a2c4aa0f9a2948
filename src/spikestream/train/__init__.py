"""Training: networks from `spikestream.models` on `spikestream.datasets`, through Lightning.

* `ClassificationModule` (LightningModule): any registered model (``model`` name +
  ``model_args``), losses ``mse_rate`` / ``cross_entropy`` / ``nll_max``, top-1 and per-class
  accuracy, checkpoints that `spikestream.models.checkpoint.load_model` reads without Lightning.
* `EventDataModule` (LightningDataModule): any registered dataset as frames or event tokens,
  training-only augmentation, validation split, workers that reopen the packed stores.
* The CLI, ``spikestream fit | validate | test | predict --config NAME_OR_FILE`` (see
  `spikestream.train.cli`), and the same from Python::

      from spikestream import train
      result = train.fit("quickstart", trainer={"max_epochs": 3}, data={"batch_size": 64})
      result["metrics"]["val_acc"], result["best_model_path"], result["log_dir"]
      scores = train.test("quickstart", ckpt_path=result["best_model_path"])["metrics"]

  ``config``: a packaged recipe's name, a YAML file, or a dict shaped like one (``trainer:``,
  ``model:``, ``data:``, ...). Overrides are per group dicts (``model={"lr": 3e-3}``) or dotted
  keys (``**{"trainer.max_epochs": 3}``); they go through Lightning's parser, so every check
  of the command line applies. Each call returns ``{"trainer", "model", "datamodule",
  "metrics" (floats), "best_model_path", "last_model_path", "log_dir"}``.

``quickstart`` is the main job on the embedded NDigits data (``spikestream demo``).
Lightning is imported only when these names are used (``spikestream.train.quickstart`` and the
live path do not need it).
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = [
    "ClassificationModule",
    "EventDataModule",
    "fit",
    "predict",
    "test",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name == "ClassificationModule":
        from .module import ClassificationModule

        return ClassificationModule
    if name == "EventDataModule":
        from .data import EventDataModule

        return EventDataModule
    raise AttributeError(f"module 'spikestream.train' has no attribute {name!r}")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    # group dicts become dotted keys, except the values that are dicts themselves
    # (model_args): those go whole, as JSON
    if isinstance(value, dict) and prefix in ("trainer", "model", "data", "optimizer",
                                              "lr_scheduler"):  # fmt: skip
        for k, v in value.items():
            out[f"{prefix}.{k}"] = v
    else:
        out[prefix] = value


def _plain_paths(value: Any) -> Any:
    """``value`` with every path (`os.PathLike`) as its string, inside lists and dicts too."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {k: _plain_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_paths(v) for v in value]
    return value


def to_argv(config: str | os.PathLike | dict[str, Any] | None, **overrides: Any) -> list[str]:
    """Lightning CLI arguments for ``config`` and ``overrides`` (see the module docstring)."""
    argv: list[str] = []
    if isinstance(config, dict):
        argv += ["--config", json.dumps(config)]
    elif config is not None:
        argv += ["--config", os.fspath(config) if isinstance(config, os.PathLike) else str(config)]
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        _flatten(key, value, flat)
    for key, value in flat.items():
        value = _plain_paths(value)
        text = value if isinstance(value, str) else json.dumps(value)
        argv.append(f"--{key}={text}")
    return argv


def _run(verb: str, config: Any, ckpt_path: str | None, overrides: dict[str, Any]) -> dict:
    from .cli import run_cli

    if ckpt_path is not None:
        overrides = {**overrides, "ckpt_path": str(ckpt_path)}
    cli = run_cli(verb, to_argv(config, **overrides))
    trainer = cli.trainer
    ckpt = trainer.checkpoint_callback
    return {
        "trainer": trainer,
        "model": cli.model,
        "datamodule": cli.datamodule,
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1},
        "best_model_path": getattr(ckpt, "best_model_path", None) or None,
        "last_model_path": getattr(ckpt, "last_model_path", None) or None,
        "log_dir": trainer.log_dir,
    }


def fit(config: Any = None, ckpt_path: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Train (``spikestream fit``); ``ckpt_path='last'`` resumes the newest run."""
    return _run("fit", config, ckpt_path, overrides)


def validate(config: Any = None, ckpt_path: str | None = None, **overrides: Any) -> dict:
    """Score a checkpoint on the validation split (``spikestream validate``)."""
    return _run("validate", config, ckpt_path, overrides)


def test(config: Any = None, ckpt_path: str | None = None, **overrides: Any) -> dict:
    """Score a checkpoint on the test split (``spikestream test``)."""
    return _run("test", config, ckpt_path, overrides)


test.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported


def predict(config: Any = None, ckpt_path: str | None = None, **overrides: Any) -> dict:
    """Predictions (``spikestream predict``); ``predict_out=FILE`` writes the JSON lines."""
    return _run("predict", config, ckpt_path, overrides)
