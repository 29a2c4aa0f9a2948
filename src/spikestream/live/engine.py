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
  ``model(frames)`` on that clip, as in training) or ``none``. Empty bins between two bins
  that hold events are stepped with zero input (a quiet moment is part of the signal), except
  past ``max_empty_steps`` where the state is reset and they are skipped (a stream that
  pauses for an hour costs nothing).
- Decisions: `spikestream.live.decision` (moving average, threshold, "none").
- Observers: callables receiving each `BinResult` in the inference thread (keep them short:
  the live viewer, the JSON-lines writer and the progress line are observers).
- Back-pressure: ``overflow='drop'`` (live sources) keeps at most ``queue_bins`` bins (by
  default as many as cover ``backlog_ms``, 100 ms: the wait a bin can add to the latency) and
  drops the oldest; ``'block'`` makes the receive thread wait instead (file replay, replay tests:
  nothing is lost).

`run_offline` runs the same `Binner` and `Runner` over events in memory with no threads: what
the engine must reproduce bin for bin from any source (tests/test_live_replay.py).
"""

from __future__ import annotations

import math
import os
import threading
import time
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
    "Engine",
    "EngineConfig",
    "ResetPolicy",
    "Runner",
    "bin_width_us",
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
    default."""

    bin_us: int
    reset: ResetPolicy = ResetPolicy()
    queue_bins: int | None = None
    backlog_ms: float = 100.0
    overflow: str = "drop"
    max_empty_steps: int = 1000
    decision_window: int = 5
    threshold: float = 0.5
    min_rate: float = 0.0
    keep_images: bool = True
    origin_us: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if int(self.bin_us) < 1:
            raise ConfigError(f"the bin width must be >= 1 µs, got {self.bin_us}")
        if self.queue_bins is not None and int(self.queue_bins) < 1:
            raise ConfigError(f"queue_bins must be >= 1, got {self.queue_bins}")
        if not self.backlog_ms > 0:
            raise ConfigError(f"backlog_ms must be > 0, got {self.backlog_ms}")
        if self.overflow not in ("drop", "block"):
            raise ConfigError(f"overflow must be 'drop' or 'block', got {self.overflow!r}")
        if int(self.max_empty_steps) < 0:
            raise ConfigError(f"max_empty_steps must be >= 0, got {self.max_empty_steps}")
        if self.threads is not None and int(self.threads) < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")

    @property
    def queue_limit(self) -> int:
        """Bins the queue holds at most: ``queue_bins``, else those covering ``backlog_ms``
        (at least 2)."""
        if self.queue_bins is not None:
            return int(self.queue_bins)
        return max(2, math.ceil(self.backlog_ms * 1000 / self.bin_us))


@dataclass
class BinResult:
    """One bin's outcome, as observers receive it.

    ``t_start_us``/``t_end_us``: the bin in recording time; ``image``: its event counts on the
    sensor ``[2, H, W]`` (channel 0 OFF; None when images are not kept); ``input``: what the
    model got ``[C, h, w]``; ``scores``: the model's output for this step (PLIFNet: voting-layer
    firing rates; RSNN: log-probabilities of the running maximum; window policy: the clip's
    output); ``decision``/``decision_index``/``confidence``: the decision layer's; ``latency_ms``:
    arrival of the chunk that completed the bin -> this decision; ``dropped_events``: events in
    bins dropped since the previous result; ``reset``: the state was reset before this bin;
    ``stage_ms``: queue, bin, infer, decide times."""

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
            "reset": self.reset,
        }


def bin_width_us(input_spec: dict[str, Any], bin_ms: float | None = None) -> int:
    """The bin width: ``bin_ms`` when given, else training's ``step_us`` (or ``duration_us``)."""
    if bin_ms is not None:
        if not 0 < bin_ms < float("inf"):
            raise ConfigError(f"--bin-ms must be > 0, got {bin_ms}")
        return max(1, round(bin_ms * 1000))
    for key in ("step_us", "duration_us"):
        value = input_spec.get(key)
        if value:
            return max(1, round(float(value)))
    raise ConfigError(
        "the checkpoint does not say how long a training bin was (input.step_us is null); "
        "give the bin width with --bin-ms N"
    )


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
    step, the decision. Call `process` under ``torch.inference_mode()``."""

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
        n_classes = len(classes) if classes else None
        self.decider = Decider(
            list(classes) if classes else [],
            self.kind,
            window=config.decision_window,
            threshold=config.threshold,
            min_rate=config.min_rate,
        )
        self._n_classes = n_classes
        self.metrics = metrics or Metrics()
        try:
            self.device = next(model.parameters()).device
        except StopIteration:
            self.device = torch.device("cpu")
        self.state: Any = None
        self._window: deque[torch.Tensor] = deque(maxlen=max(1, self.policy.value))
        c, h, w = geometry.input_shape
        self._zeros_in = np.zeros((c, h, w), dtype=np.float32)
        sw, sh = geometry.sensor_size
        self._zeros_image = np.zeros((2, sh, sw), dtype=np.float32)
        self._zeros_image.flags.writeable = False  # shared by every empty bin's result

    def warm_up(self) -> None:
        """`warm_up` for this model and input."""
        warm_up(self.model, self.geometry.input_shape, self.policy.kind == "window")

    def reset(self) -> None:
        """The network back to rest and the decision history cleared."""
        self.state = None
        self._window.clear()
        self.decider.reset()
        self.metrics.add("resets")

    def _step(self, x: np.ndarray, index: int) -> tuple[np.ndarray, bool]:
        reset = False
        if self.policy.kind == "every" and index % self.policy.value == 0 and index > 0:
            self.reset()
            reset = True
        xt = torch.from_numpy(x).to(self.device)
        if self.policy.kind == "window":
            self._window.append(xt)
            out = self.model(torch.stack(tuple(self._window))[None])[0]
        else:
            if self.state is None:
                self.state = self.model.init_state(1)  # type: ignore[operator]
            out, self.state = self.model.step(xt[None], self.state)  # type: ignore[operator]
            out = out[0]
        return out.detach().float().cpu().numpy(), reset

    def _result(
        self,
        b: Bin,
        index: int,
        x: np.ndarray,
        image: np.ndarray | None,
        n_events: int,
        reset: bool,
        bin_ms: float,
    ) -> BinResult:
        t_in = time.monotonic_ns()
        scores, stepped_reset = self._step(x, index)
        t_inf = time.monotonic_ns()
        decision = self.decider.update(scores)
        t_dec = time.monotonic_ns()
        start = b.t_start_us - (b.index - index) * self.config.bin_us
        result = BinResult(
            index=index,
            t_start_us=start,
            t_end_us=start + self.config.bin_us,
            n_events=n_events,
            image=image if self.config.keep_images else None,
            input=x,
            scores=scores,
            decision=decision.label,
            decision_index=decision.index,
            confidence=decision.confidence,
            latency_ms=(t_dec - b.arrival_ns) / 1e6 if b.arrival_ns else 0.0,
            reset=reset or stepped_reset,
            stage_ms={
                "bin": bin_ms,
                "infer": (t_inf - t_in) / 1e6,
                "decide": (t_dec - t_inf) / 1e6,
            },
        )
        return result

    def process(self, b: Bin) -> list[BinResult]:
        """The results of ``b`` and of the empty bins before it (by the policy: run, or skipped
        after a reset)."""
        out: list[BinResult] = []
        reset = False
        if b.restart and (self.state is not None or self._window):
            self.reset()
            self.metrics.add("restarts")
            reset = True
        gap = b.empty_before
        if gap:
            idle = (
                self.policy.kind == "idle" and gap * self.config.bin_us >= self.policy.value * 1000
            )
            if idle or gap > self.config.max_empty_steps:
                self.reset()
                reset = True
                self.metrics.add("skipped_bins", gap)
            else:
                for j in range(gap):
                    out.append(
                        self._result(
                            b, b.index - gap + j, self._zeros_in, self._zeros_image, 0, False, 0.0
                        )
                    )
                    self.metrics.add("empty_bins")
        t_bin = time.monotonic_ns()
        x = self.geometry.apply(b.image)
        bin_ms = (b.binned_ns - b.arrival_ns) / 1e6 if b.binned_ns else 0.0
        bin_ms += (time.monotonic_ns() - t_bin) / 1e6
        out.append(self._result(b, b.index, x, b.image, b.n_events, reset, bin_ms))
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
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._dropped_events_pending = 0
        self._thread: threading.Thread | None = None
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

    # -- receive thread ----------------------------------------------------------------------

    def _put(self, b: Any) -> None:
        with self._cond:
            if b is not _END:
                while len(self._queue) >= self.config.queue_limit:
                    if self.config.overflow == "drop":
                        old = self._queue.popleft()
                        self.metrics.add("dropped_bins")
                        self.metrics.add("dropped_events", old.n_events)
                        self._dropped_events_pending += old.n_events
                    elif self._stopping.is_set():
                        return
                    else:
                        self._cond.wait(0.1)
            self._queue.append(b)
            if b is not _END:  # the end marker is not a bin (and may pass the bound)
                self.metrics.set_backlog(len(self._queue))
            self._cond.notify_all()

    def _receive(self, binner: Binner) -> None:
        try:
            for chunk in self.source:
                events = chunk.events
                for hook in self.chunk_hooks:  # the chunk in hand is recorded, even at a stop
                    hook(events)
                if self._stopping.is_set():
                    break
                bins = binner.push(events, chunk.arrival_ns)
                now = time.monotonic_ns()
                self.metrics.add("events", len(events))
                for b in bins:
                    b.binned_ns = now
                    self._put(b)
            if not self._stopping.is_set():
                for b in binner.flush(time.monotonic_ns()):
                    b.binned_ns = time.monotonic_ns()
                    self._put(b)
        except BaseException as exc:  # reported by run(), in the caller's thread
            self._error = exc
        finally:
            self.metrics.add("late_events", binner.late_events)
            self._put(_END)

    def _get(self, timeout: float) -> Any:
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            if not self._queue:
                return None
            item = self._queue.popleft()
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
        self._thread = threading.Thread(
            target=self._receive, args=(binner,), name="spikestream-live-receive", daemon=True
        )
        threads_before = torch.get_num_threads()
        deadline = None if duration_s is None else time.monotonic() + float(duration_s)
        try:
            if self.config.threads is not None:
                torch.set_num_threads(int(self.config.threads))
            self.runner.warm_up()
            self.metrics.started_ns = time.monotonic_ns()
            self._thread.start()
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
        with self._cond:
            dropped, self._dropped_events_pending = self._dropped_events_pending, 0
        m = self.metrics
        queue_ms = (t0 - b.binned_ns) / 1e6 if b.binned_ns else 0.0
        for i, r in enumerate(results):
            r.dropped_events = dropped if i == len(results) - 1 else 0
            r.stage_ms["queue"] = queue_ms
            for stage in ("queue", "bin", "infer", "decide"):
                m.latency(stage, r.stage_ms[stage])
            m.latency("total", r.latency_ms)
            for obs in self.observers:
                obs(r)
            if self.learner is not None:
                self.learner.observe(r)
