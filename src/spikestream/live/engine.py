"""The streaming engine: event chunks -> fixed time bins -> one network step per bin, state
carried across bins -> smoothed decisions, with latency metrics and bounded memory.

::

    source ──► receive thread ────────────────► bounded queue ──► inference (caller's thread)
    (file,     chunk ─► Binner: fixed bins of     of bins; when      Runner: reset policy,
     TCP,       the bin width, counted on the      full, the OLDEST   model.step(bin, state)
     UDP,       sensor (transforms' accumulate)    bin is dropped     under inference_mode ─►
     camera)   (─► --record writer)                (counted)          Decider ─► observers

- Bins: `spikestream.live.binning` (fixed width from the checkpoint's ``input.step_us``, or
  given; the same counting kernel as training), then `spikestream.live.geometry` (crop and
  integer pooling to the model's input, checked against training's).
- Network: one ``model.step(x, state)`` per bin, state carried across bins, reset by a
  `ResetPolicy`: ``idle:MS`` (state reset when no event came for MS ms: the empty bins of the
  gap are skipped, not run), ``every:K`` (reset before every bin whose index is a multiple of
  K), ``window:K`` (each bin's output is the model run from rest over the last K bins, i.e.
  ``model(frames)`` on that clip, as in training) or ``none``. Empty bins are stepped with
  zero input (a quiet moment is part of the signal) up to ``max_empty_steps`` in a row (by
  default 300 ms of bins; ``idle:MS`` stops at MS ms): the next one resets the state and gives
  a "none" result, the rest of the quiet stretch is skipped (a stream that pauses for an hour
  costs nothing, and an RSNN's running maximum, which never falls by itself, is cleared). A
  bin after a hole the queue left (bins dropped) starts from rest.
- The clock: for a live source (or a paced replay) a second thread maps the wall clock to
  recording time (from the arrivals, at the source's ``speed``) and closes a bin once its end
  was due ``grace_ms`` ago, with the empty bins after it, so decisions go on (and fall to
  "none") when events stop coming. Latency is measured from the bin's due time. Without a
  speed (``speed=None``, replay as fast as possible) bins close when a later event arrives.
- Decisions: `spikestream.live.decision` (moving average, threshold, "none").
- Observers: callables receiving each `BinResult` in the inference thread (keep them short:
  the live viewer, the JSON-lines writer and the progress line are observers).
- Back-pressure: ``overflow='drop'`` (live sources) keeps at most ``queue_bins`` bins (by
  default as many as cover ``backlog_ms``, 100 ms: the wait a bin can add to the latency) and
  drops the oldest; ``'block'`` makes the receive thread wait instead (file replay, replay tests:
  nothing is lost). The queue also holds at most ``queue_mb`` (256 MiB) of bin images
  (uint16 counts on the sensor: 3.7 MB a bin at 1280x720).

`run_offline` runs the same `Binner` and `Runner` over events in memory with no threads: what
the engine must reproduce bin for bin from any source (tests/test_live_replay.py).
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, StreamError
from ..models.checkpoint import ModelRecord, load_model
from .binning import Bin, Binner
from .decision import Decider, output_kind
from .geometry import Geometry, resolve_geometry
from .metrics import Metrics

__all__ = [
    "BinResult",
    "BinningWarning",
    "Engine",
    "EngineConfig",
    "ResetPolicy",
    "Runner",
    "bin_width_us",
    "binning_mismatch",
    "run_offline",
    "warm_up",
]


@dataclass(frozen=True)
class ResetPolicy:
    """When the network's state goes back to rest: ``kind`` ``'none'``, ``'idle'`` (``value``
    ms without events), ``'every'`` (``value`` bins) or ``'window'`` (sliding ``value`` bins)."""

    kind: str = "none"
    value: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "idle", "every", "window"):
            raise ConfigError(
                f"reset policy must be none, idle:MS, every:K or window:K, got {self.kind!r}"
            )
        if self.kind != "none" and int(self.value) < 1:
            raise ConfigError(f"reset {self.kind}:{self.value}: the number must be >= 1")

    @classmethod
    def parse(cls, text: str) -> ResetPolicy:
        """``'none'``, ``'idle:200'``, ``'every:20'`` or ``'window:8'``."""
        kind, _, value = text.strip().partition(":")
        if kind == "none" and not value:
            return cls()
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(
                f"--reset {text!r}: expected none, idle:MS, every:K or window:K (whole numbers)"
            ) from None
        return cls(kind, number)

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class EngineConfig:
    """How the engine bins, resets, queues and decides (see the module docstring).

    ``threads``: torch's intra-op threads for inference (process-wide: set by `Engine.run`
    and restored after it; None leaves torch's setting). One step of batch 1 gains little from
    more threads, and on shared cores torch's spinning threads lose far more: 1 is the CLI's
    default. ``max_empty_steps``: empty bins in a row stepped with zero input before the state
    is reset and the rest of the quiet stretch skipped (None: as many as cover
    ``quiet_ms``, 300 ms). ``speed``: how fast the stream's recording time runs on the wall
    clock, for closing bins on time: ``'source'`` (the source's ``speed`` attribute; a source
    without one, a camera or a network stream, runs in real time: 1.0), a number, or None (no
    clock: bins close only when a later event arrives, as in `run_offline`). ``grace_ms``:
    how long past its due time the clock waits for a bin's last events. ``queue_mb``: the
    bytes of bin images the queue holds at most (besides ``queue_bins``/``backlog_ms``)."""

    bin_us: int
    reset: ResetPolicy = ResetPolicy()
    queue_bins: int | None = None
    backlog_ms: float = 100.0
    queue_mb: float = 256.0
    overflow: str = "drop"
    max_empty_steps: int | None = None
    quiet_ms: float = 300.0
    decision_window: int = 5
    threshold: float = 0.5
    min_rate: float = 0.0
    keep_images: bool = True
    origin_us: int | None = None
    threads: int | None = None
    speed: float | str | None = "source"
    grace_ms: float = 10.0

    def __post_init__(self) -> None:
        if int(self.bin_us) < 1:
            raise ConfigError(f"the bin width must be >= 1 µs, got {self.bin_us}")
        if self.queue_bins is not None and int(self.queue_bins) < 1:
            raise ConfigError(f"queue_bins must be >= 1, got {self.queue_bins}")
        for name in ("backlog_ms", "queue_mb", "quiet_ms"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.grace_ms >= 0:
            raise ConfigError(f"grace_ms must be >= 0, got {self.grace_ms}")
        if self.overflow not in ("drop", "block"):
            raise ConfigError(f"overflow must be 'drop' or 'block', got {self.overflow!r}")
        if self.max_empty_steps is not None and int(self.max_empty_steps) < 0:
            raise ConfigError(f"max_empty_steps must be >= 0, got {self.max_empty_steps}")
        if self.threads is not None and int(self.threads) < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.speed != "source" and self.speed is not None:
            if not (isinstance(self.speed, (int, float)) and 0 < self.speed < float("inf")):
                raise ConfigError(f"speed must be 'source', a number > 0 or None, got "
                                  f"{self.speed!r}")  # fmt: skip

    @property
    def queue_limit(self) -> int:
        """Bins the queue holds at most: ``queue_bins``, else those covering ``backlog_ms``
        (at least 2)."""
        if self.queue_bins is not None:
            return int(self.queue_bins)
        return max(2, math.ceil(self.backlog_ms * 1000 / self.bin_us))

    @property
    def queue_bytes(self) -> int:
        return int(self.queue_mb * (1 << 20))

    @property
    def empty_limit(self) -> int:
        """Empty bins in a row stepped before the quiet reset (the idle policy's, when
        shorter)."""
        limit = (
            int(self.max_empty_steps)
            if self.max_empty_steps is not None
            else max(1, math.ceil(self.quiet_ms * 1000 / self.bin_us))
        )
        if self.reset.kind == "idle":  # the bin that completes MS ms of silence resets
            limit = min(limit, max(0, math.ceil(self.reset.value * 1000 / self.bin_us) - 1))
        return limit


@dataclass
class BinResult:
    """One bin's outcome, as observers receive it.

    ``t_start_us``/``t_end_us``: the bin in recording time; ``image``: its event counts on the
    sensor ``[2, H, W]`` (channel 0 OFF; None when images are not kept); ``input``: what the
    model got ``[C, h, w]``; ``scores``: the model's output for this step (PLIFNet: voting-layer
    firing rates; RSNN: log-probabilities of the running maximum; window policy: the clip's
    output; zeros for the bin that ends a quiet stretch, not run); ``decision``/
    ``decision_index``/``confidence``: the decision layer's; ``latency_ms``: from when the bin
    was complete (its end due on the wall clock for a live or paced source, else the arrival
    of the chunk that completed it, whichever came first) to this decision;
    ``dropped_bins``/``dropped_events``: bins (and their events) the queue dropped just before
    this one (the state was reset here: a hole in the input); ``reset``: the state was reset
    before this bin; ``stage_ms``: queue, bin, infer, decide times."""

    index: int
    t_start_us: int
    t_end_us: int
    n_events: int
    image: np.ndarray | None
    input: np.ndarray
    scores: np.ndarray
    decision: str | None
    decision_index: int | None
    confidence: float
    latency_ms: float
    dropped_events: int = 0
    dropped_bins: int = 0
    reset: bool = False
    stage_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines record (no images)."""
        return {
            "index": self.index,
            "t_start_us": self.t_start_us,
            "t_end_us": self.t_end_us,
            "n_events": self.n_events,
            "scores": [float(v) for v in self.scores],
            "decision": self.decision,
            "confidence": round(self.confidence, 6),
            "latency_ms": round(self.latency_ms, 3),
            "dropped_events": self.dropped_events,
            "dropped_bins": self.dropped_bins,
            "reset": self.reset,
        }


class BinningWarning(UserWarning):
    """The live bins are not the bins the model was trained on."""


def binning_mismatch(input_spec: dict[str, Any], bin_ms: float | None = None) -> str | None:
    """Why the live engine's fixed time bins differ from training's, or None. A model trained
    on ``split_by`` 'number' or 'time' (a fixed count of frames per recording: each frame a
    share of the events or of the recording's span) gets bins of the mean training width
    (``input.step_us``): the same input only on average. This is a warning, not an error: the
    quick start's count-binned models run live on it (their ``input`` records ``split_by``
    'number' and the mean ``step_us``)."""
    split = input_spec.get("split_by")
    if split not in ("number", "time"):
        return None
    frames = input_spec.get("frames_number") or input_spec.get("steps")
    width = f"{bin_ms:g} ms (--bin-ms)" if bin_ms is not None else (
        f"{float(input_spec.get('step_us') or 0) / 1000:g} ms, the mean training frame"
    )  # fmt: skip
    return (
        f"the model was trained on {frames} frames per recording split by {split} "
        f"(split_by={split!r}), the live engine bins by fixed time: bins of {width}; its "
        f"inputs match training's only on average (give --bin-ms to choose the width)"
    )


def bin_width_us(
    input_spec: dict[str, Any], bin_ms: float | None = None, *, warn: bool = True
) -> int:
    """The bin width: ``bin_ms`` when given, else training's ``step_us`` (or ``duration_us``).
    ``warn``: a `BinningWarning` when training did not bin by fixed time
    (`binning_mismatch`)."""
    if bin_ms is not None:
        if not 0 < bin_ms < float("inf"):
            raise ConfigError(f"--bin-ms must be > 0, got {bin_ms}")
        width = max(1, round(bin_ms * 1000))
    else:
        width = 0
        for key in ("step_us", "duration_us"):
            value = input_spec.get(key)
            if value:
                width = max(1, round(float(value)))
                break
        if not width:
            raise ConfigError(
                "the checkpoint does not say how long a training bin was (input.step_us is "
                "null); give the bin width with --bin-ms N"
            )
    message = binning_mismatch(input_spec, bin_ms) if warn else None
    if message:
        warnings.warn(message, BinningWarning, stacklevel=2)
    return width


def warm_up(model: nn.Module, input_shape: Sequence[int], window: bool = False) -> None:
    """One step on zeros from rest (discarded), and the binning kernel once: what the first
    bin would otherwise pay (kernel loading, primitive set-up). Call it before connecting to a
    live source: a server starts sending when the client connects."""
    from ..events import EVENT_DTYPE
    from ..transforms.functional import accumulate

    one = np.zeros(1, dtype=EVENT_DTYPE)
    accumulate(one, np.array([0]), np.array([1]), (1, 1))
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    with torch.inference_mode():
        x = torch.zeros((1, *input_shape), device=device)
        if window:
            model(x[None])
        else:
            model.step(x, model.init_state(1))  # type: ignore[operator]


def _check_model(model: nn.Module, record: ModelRecord | None, policy: ResetPolicy) -> None:
    kind = (record.input.get("kind") if record is not None else None) or "frames"
    if kind != "frames":
        raise ConfigError(
            f"model {getattr(record, 'name', '?')!r} eats {kind}, not frames; the live engine "
            "runs frame models (plifnet_*, rsnn_*)"
        )
    if policy.kind != "window" and not (hasattr(model, "init_state") and hasattr(model, "step")):
        raise ConfigError(
            f"{type(model).__name__} cannot run one step at a time (no init_state/step); "
            "use --reset window:K"
        )


class Runner:
    """Per-bin inference shared by the engine and `run_offline`: the reset policy, the model
    step, the decision. Call `process` under ``torch.inference_mode()``.

    Empty bins (a gap before a bin, or empty bins the clock closed) are handled one rule for
    both: the first ``config.empty_limit`` in a row are stepped with zero input; the next one
    resets the state and gives a result with decision None (``reset``, scores zero, not run:
    what observers see when the scene went quiet); the rest of the quiet stretch is skipped.
    A bin after a hole the queue left (``dropped_bins``) starts from rest, its gap skipped.
    ``every:K`` resets before the first bin of each block of K bin indices that is run."""

    def __init__(
        self,
        model: nn.Module,
        geometry: Geometry,
        config: EngineConfig,
        classes: Sequence[str] | None = None,
        kind: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.model = model
        self.geometry = geometry
        self.config = config
        self.policy = config.reset
        self.kind = kind or output_kind(model)
        self.decider = Decider(
            list(classes) if classes else [],
            self.kind,
            window=config.decision_window,
            threshold=config.threshold,
            min_rate=config.min_rate,
        )
        self._n_out = len(classes) if classes else 0
        self.metrics = metrics or Metrics()
        try:
            self.device = next(model.parameters()).device
        except StopIteration:
            self.device = torch.device("cpu")
        self.state: Any = None
        self._window: deque[torch.Tensor] = deque(maxlen=max(1, self.policy.value))
        self._last_index: int | None = None  # the last bin run since the last reset
        self._empty_run = 0  # empty bins in a row
        self._quiet = False  # the quiet reset of this run of empty bins happened
        self._pending_reset = False  # a reset not yet reported in a result
        c, h, w = geometry.input_shape
        self._zeros_in = np.zeros((c, h, w), dtype=np.float32)
        sw, sh = geometry.sensor_size
        self._zeros_image = np.zeros((2, sh, sw), dtype=np.uint16)
        self._zeros_image.flags.writeable = False  # shared by every empty bin's result

    def warm_up(self) -> None:
        """`warm_up` for this model and input."""
        warm_up(self.model, self.geometry.input_shape, self.policy.kind == "window")

    def reset(self) -> None:
        """The network back to rest and the decision history cleared."""
        self.state = None
        self._window.clear()
        self.decider.reset()
        self._last_index = None
        self._pending_reset = True
        self.metrics.add("resets")

    def _step(self, x: np.ndarray, index: int) -> np.ndarray:
        if (
            self.policy.kind == "every"
            and self._last_index is not None
            and index // self.policy.value != self._last_index // self.policy.value
        ):
            self.reset()
        xt = torch.from_numpy(x).to(self.device)
        if self.policy.kind == "window":
            self._window.append(xt)
            out = self.model(torch.stack(tuple(self._window))[None])[0]
        else:
            if self.state is None:
                self.state = self.model.init_state(1)  # type: ignore[operator]
            out, self.state = self.model.step(xt[None], self.state)  # type: ignore[operator]
            out = out[0]
        self._last_index = index
        scores = out.detach().float().cpu().numpy()
        self._n_out = len(scores)
        return scores

    def _result(
        self,
        b: Bin,
        index: int,
        x: np.ndarray,
        image: np.ndarray | None,
        n_events: int,
        bin_ms: float,
        run: bool = True,
    ) -> BinResult:
        t_in = time.monotonic_ns()
        if run:
            scores = self._step(x, index)
            t_inf = time.monotonic_ns()
            decision = self.decider.update(scores)
            label, d_index, confidence = decision.label, decision.index, decision.confidence
        else:  # the quiet reset: nothing run, the decision is "none"
            scores = np.zeros(self._n_out, dtype=np.float32)
            t_inf = t_in
            label, d_index, confidence = None, None, 0.0
        t_dec = time.monotonic_ns()
        start = b.t_start_us - (b.index - index) * self.config.bin_us
        ref = min(b.arrival_ns, b.due_ns) if b.due_ns and b.arrival_ns else b.arrival_ns
        reset, self._pending_reset = self._pending_reset, False
        return BinResult(
            index=index,
            t_start_us=start,
            t_end_us=start + self.config.bin_us,
            n_events=n_events,
            image=image if self.config.keep_images else None,
            input=x,
            scores=scores,
            decision=label,
            decision_index=d_index,
            confidence=confidence,
            latency_ms=(t_dec - ref) / 1e6 if ref else 0.0,
            reset=reset,
            stage_ms={
                "bin": bin_ms,
                "infer": (t_inf - t_in) / 1e6,
                "decide": (t_dec - t_inf) / 1e6,
            },
        )

    def _empties(self, b: Bin, first: int, count: int, out: list[BinResult]) -> None:
        """Empty bins ``first .. first + count - 1`` by the rule in the class docstring."""
        limit = self.config.empty_limit
        n_step = 0 if self._quiet else max(0, min(count, limit - self._empty_run))
        for j in range(n_step):
            out.append(self._result(b, first + j, self._zeros_in, self._zeros_image, 0, 0.0))
            self.metrics.add("empty_bins")
        self._empty_run += n_step
        rest = count - n_step
        if rest and not self._quiet:
            self.reset()
            self._quiet = True
            out.append(self._result(b, first + n_step, self._zeros_in, self._zeros_image, 0,
                                    0.0, run=False))  # fmt: skip
            rest -= 1
        if rest:
            self.metrics.add("skipped_bins", rest)
        self._empty_run += rest

    def process(self, b: Bin) -> list[BinResult]:
        """The results of ``b`` and of the empty bins before it (by the rule in the class
        docstring)."""
        out: list[BinResult] = []
        if b.restart and (self.state is not None or self._window):
            self.reset()
            self.metrics.add("restarts")
        gap = b.empty_before
        if b.dropped_bins:  # a hole in the input: no state carried across it
            if self.state is not None or self._window:
                self.reset()
            self._pending_reset = True
            if gap:
                self.metrics.add("skipped_bins", gap)
            gap = 0
            self._empty_run, self._quiet = 0, False
        if gap:
            self._empties(b, b.index - gap, gap, out)
        if b.n_events == 0 or b.image is None:  # an empty bin the clock closed
            self._empties(b, b.index, 1, out)
        else:
            self._empty_run, self._quiet = 0, False
            t_bin = time.monotonic_ns()
            x = self.geometry.apply(b.image)
            bin_ms = (b.binned_ns - b.arrival_ns) / 1e6 if b.binned_ns else 0.0
            bin_ms += (time.monotonic_ns() - t_bin) / 1e6
            out.append(self._result(b, b.index, x, b.image, b.n_events, bin_ms))
        if out:
            out[-1].dropped_bins = b.dropped_bins
            out[-1].dropped_events = b.dropped_events
        self.metrics.add("bins", len(out))
        return out


def run_offline(
    model: nn.Module,
    events: np.ndarray,
    sensor_size: tuple[int, int],
    config: EngineConfig,
    *,
    record: ModelRecord | None = None,
    geometry: Geometry | None = None,
    chunks: Iterable[np.ndarray] | None = None,
) -> list[BinResult]:
    """Every bin's result for ``events`` (or the given ``chunks``) without threads, pacing or
    drops: the engine's reference. ``geometry`` defaults to `resolve_geometry` of the record."""
    _check_model(model, record, config.reset)
    if geometry is None:
        if record is None:
            raise ConfigError("run_offline needs the model's record or an explicit geometry")
        geometry = resolve_geometry(record.input, sensor_size)
    binner = Binner(config.bin_us, geometry.sensor_size, origin_us=config.origin_us)
    runner = Runner(model, geometry, config, record.classes if record else None)
    results: list[BinResult] = []
    with torch.inference_mode():
        for chunk in [events] if chunks is None else chunks:
            for b in binner.push(chunk):
                results += runner.process(b)
        for b in binner.flush():
            results += runner.process(b)
    return results


_END = object()

#: Seconds `Engine.run` waits for the receive thread after a stop.
JOIN_TIMEOUT_S = 10.0


class Engine:
    """Runs ``model`` on ``source`` bin by bin (see the module docstring).

    ``record``: the checkpoint's `ModelRecord` (classes, input description). ``geometry``:
    defaults to `resolve_geometry` of the record for the source's sensor (``crop``/``pool``
    override training's). ``observers``: callables receiving each `BinResult`.
    ``chunk_hooks``: callables receiving each chunk's events in the receive thread (the
    ``--record`` writer). ``learner``: an object with ``observe(result)`` and
    ``swap_into(model)`` (`spikestream.live.learn.OnlineLearner`); weights are swapped between
    bins only.

    Example:
        >>> from spikestream.live import Engine, open_source
        >>> with open_source("tcp://127.0.0.1:7777") as src:
        ...     engine = Engine.from_checkpoint("model.ckpt", src, observers=[print])
        ...     summary = engine.run(duration_s=10)
    """

    def __init__(
        self,
        model: nn.Module,
        record: ModelRecord | None,
        source: Any,
        *,
        config: EngineConfig | None = None,
        geometry: Geometry | None = None,
        sensor_size: tuple[int, int] | None = None,
        crop: Sequence[int] | None = None,
        pool: int | None = None,
        observers: Sequence[Callable[[BinResult], Any]] = (),
        chunk_hooks: Sequence[Callable[[np.ndarray], Any]] = (),
        learner: Any = None,
    ) -> None:
        self.model = model.eval()
        self.record = record
        self.source = source
        if config is None:
            config = EngineConfig(bin_us=bin_width_us(record.input if record else {}))
        self.config = config
        _check_model(model, record, config.reset)
        size = sensor_size or getattr(source, "sensor_size", None)
        if geometry is None:
            if size is None:
                raise ConfigError(
                    "the source does not declare its sensor size; give it (--sensor-size WxH)"
                )
            if record is None:
                raise ConfigError("the engine needs the model's record or an explicit geometry")
            geometry = resolve_geometry(record.input, size, crop=crop, pool=pool)
        self.geometry = geometry
        self.metrics = Metrics()
        self.runner = Runner(
            model, geometry, config, record.classes if record else None, metrics=self.metrics
        )
        self.observers = list(observers)
        self.chunk_hooks = list(chunk_hooks)
        self.learner = learner
        self._queue: deque[Any] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._clock_thread: threading.Thread | None = None
        # the binner is shared by the receive thread and the clock: one lock, held while
        # their bins are queued (so they queue in order)
        self._bin_lock = threading.Lock()
        self._received = False  # the receive thread queued its last bin (under _bin_lock)
        self._offset_ns: float | None = None  # wall ns = offset + recording µs * 1000 / speed
        self._restarts_seen = 0
        self.join_timeout_s = JOIN_TIMEOUT_S

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        source: Any,
        *,
        bin_ms: float | None = None,
        config: EngineConfig | None = None,
        **kwargs: Any,
    ) -> Engine:
        """An engine for the checkpoint's model (loaded strictly by `load_model`, eval mode).
        ``bin_ms`` overrides training's bin width; other ``kwargs`` go to `Engine`."""
        model, record = load_model(path)
        if config is None:
            config = EngineConfig(bin_us=bin_width_us(record.input, bin_ms))
        return cls(model, record, source, config=config, **kwargs)

    # -- receive thread and clock ------------------------------------------------------------

    def _full(self, b: Bin) -> bool:
        if len(self._queue) >= self.config.queue_limit:
            return True
        return bool(self._queue) and self._queued_bytes + b.nbytes > self.config.queue_bytes

    def _put(self, b: Any) -> None:
        with self._cond:
            if b is not _END:
                while self._full(b):
                    if self.config.overflow == "drop":
                        old = self._queue.popleft()
                        self._queued_bytes -= old.nbytes
                        self.metrics.add("dropped_bins")
                        self.metrics.add("dropped_events", old.n_events)
                        # the next bin carries the hole: the runner resets there
                        nxt = self._queue[0] if self._queue else b
                        nxt.dropped_bins += 1 + old.dropped_bins
                        nxt.dropped_events += old.n_events + old.dropped_events
                        nxt.restart = nxt.restart or old.restart
                    elif self._stopping.is_set():
                        return
                    else:
                        self._cond.wait(0.1)
                self._queued_bytes += b.nbytes
            self._queue.append(b)
            if b is not _END:  # the end marker is not a bin (and may pass the bound)
                self.metrics.set_backlog(len(self._queue))
            self._cond.notify_all()

    def speed(self) -> float | None:
        """The stream's recording-time speed on the wall clock (`EngineConfig.speed`)."""
        if self.config.speed == "source":
            value = getattr(self.source, "speed", 1.0)
            return None if value is None else float(value)
        return None if self.config.speed is None else float(self.config.speed)

    def _due_ns(self, t_us: int, speed: float | None) -> int:
        if speed is None or self._offset_ns is None:
            return 0
        return int(self._offset_ns + t_us * 1000 / speed)

    def _queue_bins(self, bins: list[Bin], speed: float | None) -> None:
        now = time.monotonic_ns()
        for b in bins:
            b.binned_ns = now
            b.due_ns = self._due_ns(b.t_end_us, speed)
            self._put(b)

    def _receive(self, binner: Binner, speed: float | None) -> None:
        try:
            for chunk in self.source:
                events = chunk.events
                for hook in self.chunk_hooks:  # the chunk in hand is recorded, even at a stop
                    hook(events)
                if self._stopping.is_set():
                    break
                with self._bin_lock:
                    bins = binner.push(events, chunk.arrival_ns)
                    if speed is not None and len(events):
                        # the clock: the earliest wall time consistent with every arrival so
                        # far (a chunk arrives once its last event is due); a new grid (the
                        # stream restarted) starts a new mapping
                        offset = chunk.arrival_ns - int(events["t"][-1]) * 1000 / speed
                        if self._offset_ns is None or binner.restarts != self._restarts_seen:
                            self._offset_ns = offset
                            self._restarts_seen = binner.restarts
                        else:
                            self._offset_ns = min(self._offset_ns, offset)
                    self.metrics.add("events", len(events))
                    self._queue_bins(bins, speed)
            if not self._stopping.is_set():
                with self._bin_lock:
                    self._queue_bins(binner.flush(time.monotonic_ns()), speed)
        except BaseException as exc:  # reported by run(), in the caller's thread
            self._error = exc
        finally:
            self.metrics.add("late_events", binner.late_events)
            with self._bin_lock:
                self._received = True
                self._put(_END)

    def _clock(self, binner: Binner, speed: float) -> None:
        """Closes bins whose end was due ``grace_ms`` ago on the wall clock, when no later
        event came to close them (the end of a gesture, a quiet scene)."""
        grace_ns = self.config.grace_ms * 1e6
        cap = self.config.empty_limit + 1  # up to the quiet reset's bin
        try:
            while not self._stopping.is_set():
                with self._bin_lock:
                    if self._received:
                        return
                    end = binner.next_end_us(cap)
                    due = None if end is None else self._due_ns(end, speed)
                    now = time.monotonic_ns()
                    if due and now >= due + grace_ns:
                        t_us = (now - grace_ns - self._offset_ns) * speed / 1000  # type: ignore[operator]
                        self._queue_bins(binner.advance(int(t_us), now, cap), speed)
                        continue
                wait = 0.1 if not due else min(0.1, max(0.0, (due + grace_ns - now) / 1e9))
                self._stopping.wait(wait)
        except BaseException as exc:
            self._error = exc
            self._stopping.set()

    def _get(self, timeout: float) -> Any:
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            if not self._queue:
                return None
            item = self._queue.popleft()
            if item is not _END:
                self._queued_bytes -= item.nbytes
            self.metrics.set_backlog(sum(1 for b in self._queue if b is not _END))
            self._cond.notify_all()
            return item

    # -- API ---------------------------------------------------------------------------------

    def stop(self, drain: bool = False) -> None:
        """End `run` soon (from another thread or a signal handler) by closing the source.
        ``drain=False``: bins still queued and the open bin are abandoned; ``drain=True``: they
        are processed first (the stream ends as if the source had ended)."""
        if not drain:
            self._stopping.set()
        close = getattr(self.source, "close", None)
        if close is not None:
            close()
        with self._cond:
            self._cond.notify_all()

    def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Process the stream until it ends, `stop` is called or ``duration_s`` wall seconds
        passed; the metrics summary. An error of the source is raised after clean-up."""
        binner = Binner(self.config.bin_us, self.geometry.sensor_size,
                        origin_us=self.config.origin_us)  # fmt: skip
        speed = self.speed()
        self._thread = threading.Thread(target=self._receive, args=(binner, speed),
                                        name="spikestream-live-receive", daemon=True)  # fmt: skip
        if speed is not None:
            self._clock_thread = threading.Thread(
                target=self._clock, args=(binner, speed), name="spikestream-live-clock", daemon=True
            )
        threads_before = torch.get_num_threads()
        deadline = None if duration_s is None else time.monotonic() + float(duration_s)
        try:
            if self.config.threads is not None:
                torch.set_num_threads(int(self.config.threads))
            self.runner.warm_up()
            self.metrics.started_ns = time.monotonic_ns()
            self._thread.start()
            if self._clock_thread is not None:
                self._clock_thread.start()
            with torch.inference_mode():
                while True:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    if self._stopping.is_set():  # a hard stop abandons what is queued
                        break
                    item = self._get(0.05)
                    if item is None:  # the receive thread always ends with _END
                        continue
                    if item is _END:
                        break
                    self._process(item)
        finally:
            self.stop()
            if self._thread.ident is not None:  # started
                self._thread.join(timeout=self.join_timeout_s)
            if self._clock_thread is not None and self._clock_thread.ident is not None:
                self._clock_thread.join(timeout=self.join_timeout_s)
            torch.set_num_threads(threads_before)
        if self._thread.is_alive():
            # its chunk hooks (the --record writer) may still run: callers must not assume
            # the stream is over
            raise StreamError(
                f"the receive thread did not end within {self.join_timeout_s:g} s of the stop: "
                f"the source {type(self.source).__name__} does not unblock its iterator on close()"
            )
        if self._error is not None:
            raise self._error
        return self.metrics.summary()

    def _process(self, b: Bin) -> None:
        t0 = time.monotonic_ns()
        if self.learner is not None and self.learner.swap_into(self.model):
            self.metrics.add("weight_swaps")
        results = self.runner.process(b)
        m = self.metrics
        queue_ms = (t0 - b.binned_ns) / 1e6 if b.binned_ns else 0.0
        for r in results:
            r.stage_ms["queue"] = queue_ms
            for stage in ("queue", "bin", "infer", "decide"):
                m.latency(stage, r.stage_ms[stage])
            m.latency("total", r.latency_ms)
            for obs in self.observers:
                obs(r)
            if self.learner is not None:
                self.learner.observe(r)
