"""Online learning on a labelled live stream (``spikestream live --learn --labels FILE``).

Labels come from a file of time ranges (`LabelFile`: CSV lines ``t_start_us,t_end_us,label``
in recording time; ``label`` a class index or a class name; a header line and ``#`` comments
are allowed) or from keys typed at the console (`KeyLabels`: a line ``3`` (or a class name)
labels the stream from now until the next line, ``-`` means no label).

`OnlineLearner` sits beside the engine:

- ``observe(result)`` (the engine's inference thread, cheap): consecutive bins with one label
  are cut into windows of ``window`` bins; every ``holdout_every``-th labelled range (a line of
  the labels file, a typed key's stretch) is held back whole for the accuracy report (windows
  of one range are too alike to test on one another), the others go into a replay buffer. Both
  are bounded in windows and in bytes (``buffer_mb``, ``holdout_mb``; the oldest leave first);
  windows are kept as uint16 event counts (float32 when a value is not a count below 65536);
- a thread of its own trains a copy of the model on random batches of the buffer: BPTT over
  each window from rest (the model's ``forward`` on ``[N, window, C, H, W]``, as in training),
  the loss of the model's output kind (firing rates: MSE to one-hot, as SpikingJelly's
  tutorials; log-probabilities: NLL; logits: cross-entropy), Adam, a small learning rate.
  BatchNorm layers keep their running statistics (eval mode): a few windows are too few to
  re-estimate them;
- after each step the new weights are published; the engine takes them between two bins
  (``swap_into``: a copy into the inference model, never waiting for the learner);
- checkpoints are written every ``save_every_s`` and at the end (`save_model`, atomic, the same
  contract as training's), once a step was taken: with fewer than ``min_windows`` training
  windows there is no step and no checkpoint (`format_report` says so);
- ``report()``: accuracy on the held-back windows of the weights before and after learning.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, StreamError
from ..models.checkpoint import ModelRecord, save_model
from .decision import output_kind

__all__ = ["KeyLabels", "LabelFile", "LearnConfig", "OnlineLearner"]

#: A labels file larger than this is refused (time ranges, not data).
MAX_LABEL_LINES = 1_000_000


def _label_index(text: str, classes: Sequence[str], where: str) -> int:
    text = text.strip()
    if text in classes:
        return list(classes).index(text)
    try:
        index = int(text)
    except ValueError:
        raise ConfigError(
            f"{where}: label {text!r} is neither a class index nor one of {list(classes)}"
        ) from None
    if not 0 <= index < max(len(classes), 1):
        raise ConfigError(f"{where}: label {index} outside 0..{len(classes) - 1}")
    return index


class LabelFile:
    """Time ranges ``[t_start_us, t_end_us)`` with a label each, from a CSV file."""

    def __init__(self, path: str | os.PathLike[str], classes: Sequence[str]) -> None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{path}: no such labels file (CSV lines t_start_us,t_end_us,label)")
        starts, ends, labels = [], [], []
        with open(p, newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f), 1):
                if n > MAX_LABEL_LINES:
                    raise ConfigError(f"{path}: more than {MAX_LABEL_LINES} lines")
                if not row or row[0].lstrip().startswith("#"):
                    continue
                where = f"{path} line {n}"
                if len(row) != 3:
                    raise ConfigError(f"{where}: expected t_start_us,t_end_us,label, got {row}")
                try:
                    t0, t1 = int(row[0]), int(row[1])
                except ValueError:
                    if n == 1:  # a header
                        continue
                    raise ConfigError(f"{where}: times must be whole µs, got {row[:2]}") from None
                if t1 <= t0:
                    raise ConfigError(f"{where}: t_end_us {t1} is not after t_start_us {t0}")
                starts.append(t0)
                ends.append(t1)
                labels.append(_label_index(row[2], classes, where))
        order = np.argsort(starts, kind="stable")
        self.starts = np.asarray(starts, dtype=np.int64)[order]
        self.ends = np.asarray(ends, dtype=np.int64)[order]
        self.labels = np.asarray(labels, dtype=np.int64)[order]
        if len(self.starts) > 1 and bool((self.starts[1:] < self.ends[:-1]).any()):
            raise ConfigError(f"{path}: label ranges overlap; give each moment one label")

    def __len__(self) -> int:
        return len(self.starts)

    def label(self, t_start_us: int, t_end_us: int) -> int | None:
        """The label of the range holding all of ``[t_start_us, t_end_us)``, or None."""
        i = self.segment(t_start_us, t_end_us)
        return None if i is None else int(self.labels[i])

    def segment(self, t_start_us: int, t_end_us: int) -> int | None:
        """Which range (its line, in time order) holds all of ``[t_start_us, t_end_us)``."""
        i = int(np.searchsorted(self.starts, t_start_us, side="right")) - 1
        if i >= 0 and t_end_us <= self.ends[i]:
            return i
        return None

    def note_time(self, t_us: int) -> None:
        """(The key reader's hook; a file needs no clock.)"""


class KeyLabels:
    """Labels typed at the console: each line (a class index or name, ``-`` for none) labels
    the stream from the latest bin seen until the next line. Reads ``stream`` (default stdin)
    in a daemon thread."""

    def __init__(
        self, classes: Sequence[str], stream: TextIO | None = None, echo: bool = True
    ) -> None:
        self.classes = list(classes)
        self._stream = stream if stream is not None else sys.stdin
        self._echo = echo
        self._lock = threading.Lock()
        self._switches: deque[tuple[int, int | None]] = deque(maxlen=4096)
        self._now = -(1 << 62)
        self.thread = threading.Thread(target=self._read, name="live-keys", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self._stream:
            text = line.strip()
            if not text:
                continue
            try:
                label = None if text == "-" else _label_index(text, self.classes, "key")
            except ConfigError as exc:
                if self._echo:
                    print(f"spikestream: {exc}", file=sys.stderr)
                continue
            self.set(label)

    def set(self, label: int | None) -> None:
        """Label the stream from the latest bin seen on (None: unlabelled)."""
        with self._lock:
            self._switches.append((self._now, label))
        if self._echo:
            name = "none" if label is None else self.classes[label]
            print(f"label: {name} from t={self._now / 1e6:.3f} s", file=sys.stderr)

    def note_time(self, t_us: int) -> None:
        with self._lock:
            self._now = max(self._now, int(t_us))

    def label(self, t_start_us: int, t_end_us: int) -> int | None:
        found = self._find(t_start_us, t_end_us)
        return None if found is None else found[1]

    def segment(self, t_start_us: int, t_end_us: int) -> int | None:
        """The stretch (the time its key was typed) holding ``[t_start_us, t_end_us)``."""
        found = self._find(t_start_us, t_end_us)
        return None if found is None else found[0]

    def _find(self, t_start_us: int, t_end_us: int) -> tuple[int, int] | None:
        with self._lock:
            current: tuple[int, int | None] | None = None
            for t_from, lab in self._switches:
                if t_from <= t_start_us:
                    current = (t_from, lab)
                elif t_from < t_end_us:
                    return None  # the label changed inside the bin
            if current is None or current[1] is None:
                return None
            return current[0], current[1]


@dataclass(frozen=True)
class LearnConfig:
    """Windows of ``window`` bins; a replay buffer of ``buffer`` windows and ``buffer_mb``
    MiB; ``batch`` windows per Adam step at ``lr``; every ``holdout_every``-th labelled range
    held back (at most ``max_holdout`` windows, ``holdout_mb`` MiB); training starts with
    ``min_windows`` in the buffer; checkpoints every ``save_every_s``; ``max_steps`` bounds the
    steps (None: until stopped)."""

    window: int = 10
    buffer: int = 512
    buffer_mb: float = 256.0
    holdout_mb: float = 64.0
    batch: int = 16
    lr: float = 1e-4
    holdout_every: int = 5
    max_holdout: int = 1024
    min_windows: int = 4
    save_every_s: float = 30.0
    max_steps: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("window", "buffer", "batch", "holdout_every", "max_holdout", "min_windows"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"learning {name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr < 1:
            raise ConfigError(f"learning rate must be in (0, 1), got {self.lr}")
        if not self.save_every_s > 0:
            raise ConfigError(f"save_every_s must be > 0, got {self.save_every_s}")
        for name in ("buffer_mb", "holdout_mb"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"learning {name} must be > 0, got {getattr(self, name)}")


class _Windows:
    """Labelled windows, oldest first, bounded in count and bytes."""

    def __init__(self, count: int, mb: float) -> None:
        self.items: deque[tuple[np.ndarray, int]] = deque()
        self.count, self.limit, self.nbytes = int(count), int(mb * (1 << 20)), 0

    def add(self, window: np.ndarray, label: int) -> None:
        self.items.append((window, label))
        self.nbytes += window.nbytes
        while len(self.items) > 1 and (len(self.items) > self.count or self.nbytes > self.limit):
            self.nbytes -= self.items.popleft()[0].nbytes

    def __len__(self) -> int:
        return len(self.items)


def _compact(window: np.ndarray) -> np.ndarray:
    """Event counts as uint16 (half the bytes), other values kept as float32."""
    if window.size and window.min() >= 0 and window.max() < 65536:
        small = window.astype(np.uint16)
        if np.array_equal(small, window):
            return small
    return window.astype(np.float32, copy=False)


def _stack(items: Sequence[tuple[np.ndarray, int]]) -> torch.Tensor:
    return torch.from_numpy(np.stack([w for w, _ in items]).astype(np.float32, copy=False))


def _loss(out: torch.Tensor, y: torch.Tensor, kind: str, classes: int) -> torch.Tensor:
    if kind == "rates":
        return nn.functional.mse_loss(out, nn.functional.one_hot(y, classes).to(out.dtype))
    if kind == "log_probs":
        return nn.functional.nll_loss(out, y)
    return nn.functional.cross_entropy(out, y)


class OnlineLearner:
    """Fine-tunes a copy of ``model`` on labelled windows of the live stream (module
    docstring). ``labels``: a `LabelFile` or `KeyLabels`; ``out``: the checkpoint to write."""

    def __init__(
        self,
        model: nn.Module,
        record: ModelRecord,
        labels: LabelFile | KeyLabels,
        out: str | os.PathLike[str],
        config: LearnConfig | None = None,
    ) -> None:
        self.config = config or LearnConfig()
        self.record = record
        self.labels = labels
        self.out = Path(out)
        self.kind = output_kind(model)
        self.classes = max(len(record.classes), 1)
        self.initial = copy.deepcopy(model).eval()
        self.model = copy.deepcopy(model)
        self._set_modes()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        self._rng = np.random.default_rng(self.config.seed)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._buffer = _Windows(self.config.buffer, self.config.buffer_mb)
        self._holdout = _Windows(self.config.max_holdout, self.config.holdout_mb)
        self._run: list[np.ndarray] = []
        self._run_label: int | None = None
        self._run_next = -1
        self._segment: Any = None  # the labelled range the current run belongs to
        self._segments = 0
        self._held = False  # the current range is held back
        self._published: dict[str, torch.Tensor] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.stats: dict[str, Any] = {
            "windows": 0, "held_back": 0, "steps": 0, "bins_seen": 0, "labelled_bins": 0,
            "swaps": 0, "checkpoints": 0, "last_loss": None, "bins_at_step": [],
        }  # fmt: skip

    def _set_modes(self) -> None:
        self.model.train()
        for m in self.model.modules():  # keep BatchNorm's running statistics
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    # -- the engine's side (inference thread) --------------------------------------------------

    def observe(self, result: Any) -> None:
        """Add one bin's model input (cheap: no training here)."""
        self.stats["bins_seen"] += 1
        self.labels.note_time(result.t_end_us)
        segment = self.labels.segment(result.t_start_us, result.t_end_us)
        label = None if segment is None else self.labels.label(result.t_start_us, result.t_end_us)
        if label is None or label != self._run_label or result.index != self._run_next:
            self._run, self._run_label = [], label
        self._run_next = result.index + 1
        if label is None:
            return
        if segment != self._segment:  # a new labelled range: held back whole, or not at all
            self._segment = segment
            self._segments += 1
            self._held = self._segments % self.config.holdout_every == 0
        self.stats["labelled_bins"] += 1
        self._run.append(result.input)
        if len(self._run) == self.config.window:
            window = _compact(np.stack(self._run))
            self._run = []
            with self._cond:
                if self._held:
                    self._holdout.add(window, label)
                    self.stats["held_back"] += 1
                else:
                    self._buffer.add(window, label)
                    self.stats["windows"] += 1
                self._cond.notify_all()

    def swap_into(self, model: nn.Module) -> bool:
        """Copy the latest published weights into ``model`` (True when there were new ones)."""
        with self._lock:
            weights, self._published = self._published, None
        if weights is None:
            return False
        with torch.no_grad():
            model.load_state_dict(weights, strict=True)
        self.stats["swaps"] += 1
        return True

    # -- the learner's thread ------------------------------------------------------------------

    def start(self) -> OnlineLearner:
        self._thread = threading.Thread(target=self._loop, name="live-learner", daemon=True)
        self._thread.start()
        return self

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        with self._cond:
            if len(self._buffer) < self.config.min_windows:
                if not self._stop.is_set():
                    self._cond.wait(0.1)
                return None
            picks = self._rng.integers(
                0, len(self._buffer), min(self.config.batch, len(self._buffer))
            )
            items = [self._buffer.items[int(i)] for i in picks]
        x = _stack(items)
        y = torch.as_tensor([lab for _, lab in items], dtype=torch.int64)
        return x, y

    def _loop(self) -> None:
        last_save = time.monotonic()
        try:
            while not self._stop.is_set():
                if (
                    self.config.max_steps is not None
                    and self.stats["steps"] >= self.config.max_steps
                ):
                    break
                batch = self._batch()
                if batch is None:
                    continue
                self._train_step(*batch)
                if time.monotonic() - last_save >= self.config.save_every_s:
                    self.save()
                    last_save = time.monotonic()
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        device = next(self.model.parameters()).device
        out = self.model(x.to(device))
        loss = _loss(out, y.to(device), self.kind, self.classes)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        with self._lock:
            self._published = weights
        self.stats["steps"] += 1
        self.stats["last_loss"] = float(loss.detach())
        self.stats["bins_at_step"].append(self.stats["bins_seen"])
        del self.stats["bins_at_step"][:-1000]

    def save(self) -> Path:
        """Write the learner's current weights to ``out`` (atomically)."""
        save_model(self.out, self.model, self.record)
        self.stats["checkpoints"] += 1
        return self.out

    def stop(self, timeout_s: float = 30.0, min_steps: int = 0) -> dict[str, Any]:
        """Stop the thread, take steps in the caller's thread until ``min_steps`` were taken
        (when the buffer holds ``min_windows``: a short stream still gives a learned
        checkpoint), write the final checkpoint; `report`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise StreamError(f"the learner's step did not end within {timeout_s:g} s")
        if self._error is not None:
            raise self._error
        while self.stats["steps"] < min_steps:
            batch = self._batch()
            if batch is None:
                break
            self._train_step(*batch)
        if self.stats["steps"]:
            self.save()
        return self.report()

    # -- the report ----------------------------------------------------------------------------

    def _accuracy(self, model: nn.Module, items: list[tuple[np.ndarray, int]]) -> float | None:
        if not items:
            return None
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        correct = 0
        with torch.inference_mode():
            for lo in range(0, len(items), 64):
                part = items[lo : lo + 64]
                x = _stack(part).to(device)
                pred = model(x).argmax(-1).cpu().numpy()
                correct += int((pred == np.array([lab for _, lab in part])).sum())
        model.train(was_training)
        if was_training:
            self._set_modes()
        return correct / len(items)

    def report(self) -> dict[str, Any]:
        """Accuracy on the held-back windows before and after learning, and the counters."""
        with self._lock:
            held = list(self._holdout.items)
        return {
            "held_back_windows": len(held),
            "accuracy_before": self._accuracy(self.initial, held),
            "accuracy_after": self._accuracy(self.model, held),
            "steps": self.stats["steps"],
            "train_windows": self.stats["windows"],
            "labelled_bins": self.stats["labelled_bins"],
            "checkpoints": self.stats["checkpoints"],
            "checkpoint": str(self.out) if self.stats["checkpoints"] else None,
            "last_loss": self.stats["last_loss"],
        }

    def format_report(self, report: dict[str, Any] | None = None) -> str:
        """One line of ``report`` (computed when not given: it runs the held-back windows)."""
        r = self.report() if report is None else report

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.1f} %"

        buf = io.StringIO()
        buf.write(
            f"learning: {r['steps']} steps on {r['train_windows']} windows; held-back "
            f"accuracy {pct(r['accuracy_before'])} before -> {pct(r['accuracy_after'])} after "
            f"({r['held_back_windows']} windows)"
        )
        if r["checkpoint"]:
            buf.write(f"; checkpoint {r['checkpoint']}")
        elif not r["steps"]:  # stop() writes one only after a step: say why there was none
            need = self.config.min_windows
            buf.write(f"; no checkpoint written: no step (it needs {need} windows)")
        return buf.getvalue()
