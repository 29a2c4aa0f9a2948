"""``spikestream live``: run a trained checkpoint on a live event stream, bin by bin."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError, StreamError, StreamTimeout
from . import (
    ctrl_c_stops,
    input_path,
    output_file,
    port_number,
    positive_float,
    positive_int,
    sensor_size,
)


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream serve digits.aedat4 --port 7777 &\n"
        "  spikestream live --checkpoint model.ckpt --source tcp://127.0.0.1:7777\n"
        "  spikestream live --checkpoint model.ckpt --source file:rec.aedat4 --speed 2 \\\n"
        "      --reset idle:200 --jsonl bins.jsonl --record got.aedat4\n"
        "  spikestream live --checkpoint model.ckpt --source udp://:3333 --sensor-size 128x128 \\\n"
        "      --timeout 2\n"
        "  spikestream live --checkpoint model.ckpt --source rec.aedat4 --learn --labels l.csv\n"
        "\n"
        "Prints each decision when it changes (recording time, class, confidence), a progress\n"
        "line on a terminal, and a latency summary at the end. Ctrl-C stops cleanly: the\n"
        "summary is printed, the --record and --jsonl files are complete, exit status 0 (a\n"
        "second Ctrl-C aborts at once: status 130). Labels file: CSV lines\n"
        "t_start_us,t_end_us,label (recording time, label = class index or name); --labels -\n"
        "reads typed lines instead (a class, or - for none, from now on). UDP has no end of\n"
        "stream: --timeout S ends a udp:// run after S seconds without a datagram (exit 0 once\n"
        "events came, an error when none did)."
    )
    p.add_argument(
        "--checkpoint", required=True, help="model checkpoint (spikestream fit / save_model)"
    )
    p.add_argument(
        "--view",
        action="store_true",
        help="serve a live page (events, scores, decision, latency) on http://127.0.0.1:PORT/",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=8050,
        help="--view's port (default 8050; 0: any free one)",
    )
    p.add_argument(
        "--source",
        required=True,
        help="file:PATH (or a path), tcp://HOST:PORT (DV network stream), udp://[HOST]:PORT "
        "(SPIF), dv:[CAMERA], metavision:[SERIAL]",
    )
    p.add_argument(
        "--speed", type=positive_float, default=1.0, help="file replay speed (default 1)"
    )
    p.add_argument("--fast", action="store_true", help="file replay as fast as possible")
    p.add_argument("--loop", action="store_true", help="replay the file forever")
    p.add_argument(
        "--sensor-size",
        type=sensor_size,
        default=None,
        metavar="WxH",
        help="the source's sensor (needed for udp://)",
    )
    p.add_argument(
        "--bin-ms",
        type=positive_float,
        default=None,
        help="bin width (default: the checkpoint's training bin, input.step_us)",
    )
    p.add_argument(
        "--reset",
        default="none",
        metavar="POLICY",
        help="none (default), idle:MS, every:K or window:K",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="P",
        help="confidence (0..1) a decision needs; below it: none (default 0.5)",
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=5,
        metavar="N",
        help="bins the decision averages over (default 5)",
    )
    p.add_argument(
        "--min-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="rate models: a bin whose output rates sum to R or less is no evidence (default 0)",
    )
    p.add_argument(
        "--crop",
        default=None,
        metavar="X0,Y0,W,H",
        help="sensor box fed to the model (default: training's, or the centre)",
    )
    p.add_argument(
        "--pool",
        type=positive_int,
        default=None,
        metavar="N",
        help="integer sum-pooling after the crop (default: training's)",
    )
    p.add_argument(
        "--queue",
        type=positive_int,
        default=None,
        metavar="N",
        help="bins waiting for inference at most; when full the oldest is dropped (default: "
        "as many as cover 100 ms, at least 2)",
    )
    p.add_argument(
        "--queue-mb",
        type=positive_float,
        default=256.0,
        metavar="MB",
        help="bytes of bin images waiting for inference at most (default 256 MiB; bins hold "
        "uint16 counts of the whole sensor: 3.7 MB at 1280x720)",
    )
    p.add_argument(
        "--no-drop",
        action="store_true",
        help="never drop bins: the receiver waits for inference (default for --fast)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="torch threads for inference (default 1: one core stays free for receiving)",
    )
    p.add_argument(
        "--duration", type=positive_float, default=None, metavar="S", help="stop after S seconds"
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="S",
        help="network sources: stop after S seconds without data (udp://: the normal end once "
        "events came, exit 0; otherwise, and for tcp://, an error)",
    )
    p.add_argument("--jsonl", default=None, metavar="OUT", help="one JSON line per bin")
    p.add_argument("--record", default=None, metavar="OUT.aedat4", help="keep what arrived")
    p.add_argument(
        "--quiet", action="store_true", help="no decisions or progress, the summary only"
    )
    learn = p.add_argument_group("online learning")
    learn.add_argument("--learn", action="store_true", help="fine-tune the model on the stream")
    learn.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="labels CSV (t_start_us,t_end_us,label), or - for typed keys",
    )
    learn.add_argument(
        "--learn-out",
        default=None,
        metavar="CKPT",
        help="checkpoint the learner writes once it took a step (default: CHECKPOINT-live.ckpt)",
    )
    learn.add_argument(
        "--learn-window",
        type=positive_int,
        default=None,
        metavar="K",
        help="bins per training window (default: training's steps, or 10); the first step "
        "needs 4 labelled windows (every 5th labelled range is held back)",
    )
    learn.add_argument("--lr", type=positive_float, default=1e-4, help="learning rate (1e-4)")
    learn.add_argument(
        "--save-every",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="seconds between checkpoints (default 30)",
    )


def _crop(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        x0, y0, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--crop must be X0,Y0,W,H (whole numbers), got {text!r}") from None
    return (x0, y0, w, h)


class _Recorder:
    """The ``--record`` chunk hook: writes what arrived, in time order. A chunk that goes back
    in time by less than ``rewind_us`` (a late chunk) is cut to its newer events (counted in
    ``skipped``); a jump back by more (a restarted stream, a server that came back: the
    engine starts a new bin grid there too) is kept whole, its times shifted to continue 1 µs
    after the last recorded event, so the file stays time-sorted and holds everything that
    arrived (each shift is listed in ``shifts`` as ``(recorded_t_us, offset_us)``).
    `close` closes the writer under the hook's lock: a chunk the receive thread still hands
    over afterwards is not written (counted in ``after_close``)."""

    def __init__(self, writer: Any, rewind_us: int = 1_000_000) -> None:
        self.writer = writer
        self.rewind_us = int(rewind_us)
        self.last_t: int | None = None
        self.offset = 0
        self.skipped = 0
        self.after_close = 0
        self.shifts: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, events: np.ndarray) -> None:
        if not len(events):
            return
        with self._lock:
            if self._closed:
                self.after_close += len(events)
                return
            t = events["t"]
            if len(t) > 1 and bool((t[1:] < t[:-1]).any()):
                events = events[np.argsort(t, kind="stable")]
            first = int(events["t"][0]) + self.offset
            if self.last_t is not None and first < self.last_t - self.rewind_us:
                self.offset += self.last_t + 1 - first  # a restart: continue after it
                self.shifts.append((self.last_t + 1, self.offset))
            if self.offset:
                events = events.copy()
                events["t"] += self.offset
            if self.last_t is not None and events["t"][0] < self.last_t:
                keep = events["t"] >= self.last_t
                self.skipped += int(len(events) - keep.sum())
                events = events[keep]
                if not len(events):
                    return
            self.writer.write(events)
            self.last_t = int(events["t"][-1])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.writer.close()


class _Printer:
    """Decisions when they change, and a progress line on a terminal (stderr)."""

    def __init__(self, engine: Any, quiet: bool) -> None:
        self.engine = engine
        self.quiet = quiet
        self.last: Any = object()
        self.t0: int | None = None
        self.next_progress = time.monotonic() + 1.0
        self.tty = sys.stderr.isatty()

    def __call__(self, r: Any) -> None:
        if self.t0 is None:
            self.t0 = r.t_start_us
        if self.quiet:
            return
        if r.decision != self.last:
            self.last = r.decision
            what = "none" if r.decision is None else f"{r.decision} ({r.confidence:.2f})"
            t = (r.t_end_us - self.t0) / 1e6
            print(f"{t:9.3f} s  {what}", flush=True)
        if self.tty and time.monotonic() >= self.next_progress:
            self.next_progress = time.monotonic() + 1.0
            s = self.engine.metrics.summary()
            p = s["latency_ms"]["total"]
            print(
                f"\r{s['bins']} bins, {s['events_per_s'] / 1e6:.2f} Mev/s, latency p50 "
                f"{p['p50']:.1f} ms p99 {p['p99']:.1f} ms, dropped {s['dropped_bins']}, "
                f"backlog {s['backlog']}   ",
                end="",
                file=sys.stderr,
                flush=True,
            )


def run(args: argparse.Namespace) -> int:
    from .. import open_writer
    from ..live.engine import (
        Engine,
        EngineConfig,
        ResetPolicy,
        bin_width_us,
        binning_mismatch,
        warm_up,
    )
    from ..live.sources import open_source
    from ..models.checkpoint import load_model

    # every argument checked before any socket opens or file is written
    input_path(args.checkpoint)
    policy = ResetPolicy.parse(args.reset)
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be in [0, 1], got {args.threshold}")
    if not 0.0 <= args.min_rate < float("inf"):
        raise ConfigError(f"--min-rate must be >= 0, got {args.min_rate}")
    crop = _crop(args.crop)
    for out in (args.jsonl, args.record):
        if out is not None:
            output_file(out)
    if args.learn and args.labels is None:
        raise ConfigError(
            "--learn needs --labels FILE (CSV t_start_us,t_end_us,label) or --labels -"
        )
    if args.labels is not None and not args.learn:
        raise ConfigError("--labels is for --learn; add --learn")
    if args.labels not in (None, "-"):
        input_path(args.labels)
    model, record = load_model(args.checkpoint)
    fast = args.fast
    config = EngineConfig(
        bin_us=bin_width_us(record.input, args.bin_ms, warn=False),
        reset=policy,
        queue_bins=args.queue,
        queue_mb=args.queue_mb,
        min_rate=args.min_rate,
        overflow="block" if (args.no_drop or fast) else "drop",
        decision_window=args.window,
        threshold=args.threshold,
        threads=args.threads,
    )

    mismatch = binning_mismatch(record.input, args.bin_ms)
    if mismatch:
        print(f"spikestream: warning: {mismatch}", file=sys.stderr, flush=True)

    # before connecting: a server starts sending as soon as we connect
    shape = record.frame_shape()
    if shape is not None:
        warm_up(model, shape, policy.kind == "window")
    learner = None
    if args.learn:
        learner = _learner(args, model, record)

    source = open_source(
        args.source,
        speed=None if fast else args.speed,
        loop=args.loop,
        sensor_size=args.sensor_size,
        timeout_s=args.timeout,
    )
    writer = jsonl = recorder = None
    stop_viewer: Callable[[], None] | None = None
    report = None
    learn_error: BaseException | None = None
    try:
        engine = Engine(
            model,
            record,
            source,
            config=config,
            sensor_size=args.sensor_size,
            crop=crop,
            pool=args.pool,
            learner=learner,
        )
        g = engine.geometry
        if args.record is not None:
            writer = open_writer(args.record, g.sensor_size, format="aedat4")
            recorder = _Recorder(writer, rewind_us=max(1_000_000, 10 * config.bin_us))
            engine.chunk_hooks.append(recorder)
        if args.jsonl is not None:
            jsonl = open(args.jsonl, "w", encoding="utf-8", buffering=1)
            out = jsonl
            engine.observers.append(lambda r: out.write(json.dumps(r.to_json()) + "\n"))
        printer = _Printer(engine, args.quiet)
        engine.observers.append(printer)
        if args.view:
            from ..viz.viewer import start_viewer

            url, viewer, stop_viewer = start_viewer(args.port, classes=record.classes)
            engine.observers.append(viewer)
            print(f"viewer: {url}", flush=True)
        classes = ", ".join(record.classes[:12]) + (" ..." if len(record.classes) > 12 else "")
        print(
            f"live: {record.name} [{classes}] on {args.source} ({g.sensor_size[0]}x"
            f"{g.sensor_size[1]}; crop {g.crop}, pool {g.pool} -> {g.input_shape[2]}x"
            f"{g.input_shape[1]}), bins of {config.bin_us / 1000:g} ms, reset {policy}; "
            "Ctrl-C stops",
            flush=True,
        )
        if learner is not None:
            learner.start()
        try:
            try:
                summary = _run_until_interrupted(engine, args.duration)
            except StreamError as exc:
                ended = _udp_idle_end(source, exc)
                if ended is None:
                    raise
                print(ended, flush=True)
                summary = engine.metrics.summary()
        finally:
            if printer.tty and not args.quiet:
                print(file=sys.stderr)
            print(engine.metrics.format(), flush=True)  # also when the source failed
    finally:
        if learner is not None:  # its thread ends, also when the stream failed
            try:
                report = learner.stop(min_steps=1)  # a short stream still learns once
            except BaseException as exc:  # raised below unless the stream's error is
                learn_error = exc
        source.close()
        if stop_viewer is not None:
            stop_viewer()
        if jsonl is not None:
            jsonl.close()
        if recorder is not None:
            recorder.close()  # what arrived is valid events: a complete file, even after an error
        elif writer is not None:
            writer.close()
    if learn_error is not None:
        raise learn_error
    if summary.get("interrupted"):
        print("interrupted: stopped cleanly")
    if writer is not None and recorder is not None:
        late = f" ({recorder.skipped} out-of-order events left out)" if recorder.skipped else ""
        shifts = "".join(
            f"; the stream restarted: times from {t / 1e6:.6f} s on shifted by {o} µs"
            for t, o in recorder.shifts
        )
        print(f"recorded {writer.count:,} events to {args.record}{late}{shifts}")
    if report is not None and learner is not None:
        print(learner.format_report(report))
        if not report["steps"]:
            why = _why_nothing_learned(report, learner, printer.t0)
            print(f"spikestream: warning: {why}", file=sys.stderr, flush=True)
    return 0


def _udp_idle_end(source: Any, exc: StreamError) -> str | None:
    """UDP is connectionless, so no sender can say "the end": once events came, the
    ``--timeout`` of silence is the stream's normal end (a line saying so, instead of the
    error). None: ``exc`` stays an error (another source or error, or no event ever came)."""
    from ..live.spif import SpifSource

    if not isinstance(source, SpifSource) or source.timeout_s is None:
        return None
    if not isinstance(exc, StreamTimeout):
        return None
    events, datagrams = source.stats["events"], source.stats["datagrams"]
    if not events:
        if datagrams:  # a wrong sender or format: say what came
            raise StreamError(
                f"{exc}; the {datagrams:,} datagrams that came held no valid SPIF event "
                f"({source.stats['bad_packets']:,} did not decode)"
            ) from exc
        return None
    return (
        f"end of stream: no datagram for {source.timeout_s:g} s (--timeout) after "
        f"{events:,} events in {datagrams:,} datagrams"
    )


def _why_nothing_learned(report: dict[str, Any], learner: Any, t0_us: int | None) -> str:
    """Why the learner took no step (and so wrote no checkpoint), with the option to change."""
    config, stats = learner.config, learner.stats
    if not report["labelled_bins"]:
        first = "" if t0_us is None else f"; the stream's first bin starts at {t0_us} µs"
        return (
            f"nothing learned, no checkpoint written: none of the {stats['bins_seen']:,} bins "
            "lay wholly inside a labelled range (label times are recording µs, as --jsonl's "
            f"t_start_us{first})"
        )
    return (
        f"nothing learned, no checkpoint written: {report['train_windows']} training windows "
        f"of {config.window} bins (plus {stats['held_back']} held back), the learner needs "
        f">= {config.min_windows}; lower --learn-window or label a longer stretch of the stream"
    )


def _learner(args: argparse.Namespace, model: Any, record: Any) -> Any:
    from pathlib import Path

    from ..live.learn import KeyLabels, LabelFile, LearnConfig, OnlineLearner

    if args.labels == "-":
        labels: Any = KeyLabels(record.classes)
    else:
        labels = LabelFile(args.labels, record.classes)
    window = args.learn_window or int(record.input.get("steps") or 10)
    out = args.learn_out or str(Path(args.checkpoint).with_suffix("")) + "-live.ckpt"
    output_file(out)
    config = LearnConfig(window=window, lr=args.lr, save_every_s=args.save_every)
    return OnlineLearner(model, record, labels, out, config)


def _run_until_interrupted(engine: Any, duration: float | None) -> dict[str, Any]:
    """``engine.run`` with Ctrl-C turned into a clean stop (the second Ctrl-C aborts)."""
    with ctrl_c_stops(engine.stop) as interrupted:
        summary = engine.run(duration_s=duration)
    summary["interrupted"] = interrupted.is_set()
    return summary
