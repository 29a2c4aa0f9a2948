"""Training curves from a run's TensorBoard event files (``events.out.tfevents.*``, as
Lightning's TensorBoardLogger writes them), read with tensorboard's ``EventAccumulator`` (the
``train`` extra) and drawn to a PNG: one panel per metric, the stages of a metric together
(``train_loss_step``, ``train_loss_epoch``, ``val_loss`` -> panel "loss"). Breakdowns logged
under a slash (``val_acc_class/3``, one series per class) are left out unless asked for by
name."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FormatError

#: Scalars that are bookkeeping, not curves.
SKIPPED_TAGS = ("epoch", "hp_metric")
_STAGE = re.compile(r"^(train|val|valid|validation|test)[_/]|[_/](train|val|test)$")
_REDUCTION = re.compile(r"_(step|epoch)$")
#: Panels per row of a curves figure.
COLUMNS = 3


def find_runs(path: str | os.PathLike[str]) -> list[Path]:
    """The folders at or under ``path`` that hold TensorBoard event files, oldest first by
    their newest file."""
    root = Path(path)
    if not root.exists():
        raise ConfigError(f"{root}: no such file or folder")
    if root.is_file():
        if "tfevents" not in root.name:
            raise ConfigError(f"{root} is not a TensorBoard event file (events.out.tfevents.*)")
        return [root.parent]
    folders = {f.parent for f in root.rglob("events.out.tfevents.*") if f.is_file()}
    if not folders:
        raise ConfigError(
            f"no TensorBoard event files (events.out.tfevents.*) under {root}; give a run "
            "folder written by `spikestream fit` (e.g. runs/NAME/version_0)"
        )
    return sorted(folders, key=lambda d: max(f.stat().st_mtime for f in d.glob("*tfevents*")))


def read_scalars(path: str | os.PathLike[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series of one run folder (or event file): ``tag -> (steps, values)``,
    steps increasing. A folder with several runs under it gives the newest."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise ConfigError("reading TensorBoard logs needs tensorboard: pip install "
                          "'spikestream[train]'") from None  # fmt: skip
    run = Path(path) if Path(path).is_file() else find_runs(path)[-1]
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})  # 0: keep every point
    try:
        acc.Reload()
    except Exception as exc:  # a damaged event file: tensorboard raises several kinds
        raise FormatError(f"cannot read TensorBoard events: {exc}", path=run) from None
    out = {}
    for tag in acc.Tags().get("scalars", []):
        events = acc.Scalars(tag)
        steps = np.array([e.step for e in events], dtype=np.int64)
        values = np.array([e.value for e in events], dtype=np.float64)
        order = np.argsort(steps, kind="stable")
        out[tag] = (steps[order], values[order])
    return out


def metric_of(tag: str) -> str:
    """The panel a tag goes to: the tag without its stage and Lightning's ``_step`` /
    ``_epoch`` suffix (``val_acc`` -> ``acc``, ``train_loss_step`` -> ``loss``,
    ``loss/train`` -> ``loss``)."""
    return _STAGE.sub("", _REDUCTION.sub("", tag)) or tag


def plot_curves(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tags: list[str] | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Draw the scalars of the run at ``path`` (see `read_scalars`) to ``out``; ``tags``
    chooses the series (default: all but `SKIPPED_TAGS`).

    Example:
        >>> plot_curves("runs/ndigits/version_0", "curves.png")
    """
    from .plots import save_figure

    series = read_scalars(path)
    if not series:
        raise ConfigError(f"the run at {path} logged no scalars to plot")
    return save_figure(curves_figure(series, tags=tags, title=title), out, dpi)


def curves_figure(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    tags: list[str] | None = None,
    title: str | None = None,
) -> Any:
    """The matplotlib figure of `plot_curves`: one panel per metric (`metric_of`), each tag of
    ``series`` (``tag -> (steps, values)``) one line."""
    from .plots import figure

    if tags is not None:
        if missing := [t for t in tags if t not in series]:
            raise ConfigError(f"no scalar {missing} in the run; it has {sorted(series)}")
        chosen = list(tags)
    else:
        chosen = [t for t in series if t not in SKIPPED_TAGS and "/" not in t]
    if not chosen:
        raise ConfigError(f"no scalars to plot among {sorted(series)}")
    panels: dict[str, list[str]] = {}
    for tag in sorted(chosen):
        panels.setdefault(metric_of(tag), []).append(tag)
    columns = min(COLUMNS, len(panels))
    rows = -(-len(panels) // columns)
    fig = figure(4.2 * columns, 3.2 * rows)
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax, (metric, members) in zip(axes, panels.items(), strict=False):
        for tag in members:
            steps, values = series[tag]
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, ms=3, label=tag)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
