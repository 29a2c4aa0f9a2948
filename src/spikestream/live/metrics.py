"""Live metrics: per-stage latency percentiles over a bounded history, counters, rates.

Stages of one bin (milliseconds):

- ``bin``: the chunk that completed the bin arrived -> the bin counted (receive thread), plus
  mapping it to the model's input;
- ``queue``: the bin counted -> inference took it (the wait in the queue);
- ``infer``: the network's step for the bin;
- ``decide``: the decision layer;
- ``total``: arrival of the chunk that completed the bin -> decision made (event arrival to
  decision; observers run after it).

Latencies keep the last ``history`` values each (a ring: memory does not grow with run time).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

__all__ = ["STAGES", "Metrics"]

STAGES = ("queue", "bin", "infer", "decide", "total")


class _Ring:
    def __init__(self, size: int) -> None:
        self.values = np.zeros(size, dtype=np.float64)
        self.n = 0

    def add(self, value: float) -> None:
        self.values[self.n % len(self.values)] = value
        self.n += 1

    def recent(self) -> np.ndarray:
        return self.values[: min(self.n, len(self.values))]


class Metrics:
    """Thread-safe counters and latency rings (the receive thread and inference both write)."""

    def __init__(self, history: int = 8192) -> None:
        self._lock = threading.Lock()
        self._rings = {s: _Ring(history) for s in STAGES}
        self.counters: dict[str, int] = dict.fromkeys(
            ("events", "bins", "empty_bins", "skipped_bins", "dropped_bins", "dropped_events",
             "late_events", "resets", "restarts", "weight_swaps"), 0)  # fmt: skip
        self.backlog = 0
        self.max_backlog = 0
        self.started_ns = time.monotonic_ns()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + int(n)

    def latency(self, stage: str, ms: float) -> None:
        with self._lock:
            self._rings[stage].add(ms)

    def set_backlog(self, n: int) -> None:
        with self._lock:
            self.backlog = n
            self.max_backlog = max(self.max_backlog, n)

    def percentiles(self, stage: str, qs: tuple[float, ...] = (50, 90, 99)) -> dict[str, float]:
        with self._lock:
            v = self._rings[stage].recent().copy()
        if not len(v):
            return {f"p{q:g}": float("nan") for q in qs} | {"max": float("nan")}
        out = {f"p{q:g}": float(np.percentile(v, q)) for q in qs}
        out["max"] = float(v.max())
        return out

    def summary(self) -> dict[str, Any]:
        """Counters, rates and every stage's p50/p90/p99/max (ms), as plain data."""
        elapsed = (time.monotonic_ns() - self.started_ns) / 1e9
        with self._lock:
            counters = dict(self.counters)
            backlog, max_backlog = self.backlog, self.max_backlog
        return {
            **counters,
            "seconds": elapsed,
            "events_per_s": counters["events"] / elapsed if elapsed > 0 else 0.0,
            "bins_per_s": counters["bins"] / elapsed if elapsed > 0 else 0.0,
            "backlog": backlog,
            "max_backlog": max_backlog,
            "latency_ms": {s: self.percentiles(s) for s in STAGES},
        }

    def format(self) -> str:
        """A few lines for a terminal: counters, then one latency line per stage."""
        s = self.summary()
        lines = [
            f"{s['bins']} bins ({s['empty_bins']} empty, {s['skipped_bins']} skipped idle), "
            f"{s['events']} events in {s['seconds']:.1f} s ({s['events_per_s'] / 1e6:.2f} Mev/s), "
            f"dropped {s['dropped_bins']} bins / {s['dropped_events']} events, "
            f"{s['resets']} resets, max backlog {s['max_backlog']}",
            "latency ms      p50      p90      p99      max",
        ]
        for stage in STAGES:
            p = s["latency_ms"][stage]
            lines.append(
                f"  {stage:<8}" + "".join(f"{p[k]:9.2f}" for k in ("p50", "p90", "p99", "max"))
            )
        return "\n".join(lines)
