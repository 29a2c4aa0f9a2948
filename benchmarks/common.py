"""The benchmark runner convention: time ours and the peer's on the same input in one process,
print one Markdown table with both figures and the ratio."""

from __future__ import annotations

import gc
import importlib.util
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def best_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` calls (after ``warmup`` untimed calls), in seconds."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_traced_bytes(fn: Callable[[], Any]) -> int:
    """Peak Python/numpy heap allocation during one call (numpy reports to tracemalloc;
    memory-mapped input is not counted, as it is not allocated)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass
class Row:
    case: str
    ours: float | None  # a rate: higher is better
    peer_name: str
    peer: float | None
    unit: str
    note: str = ""

    @property
    def ratio(self) -> str:
        if self.ours is None or self.peer is None or self.peer == 0:
            return "n/a"
        return f"{self.ours / self.peer:.2f}x"


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.1f}"


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n### {title}\n")
    print(
        f"Machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; best of several runs in one process.\n"
    )
    print("| case | spikestream | peer | peer figure | ratio | unit | note |")
    print("|---|---:|---|---:|---:|---|---|")
    for r in rows:
        print(
            f"| {r.case} | {_fmt(r.ours)} | {r.peer_name} | {_fmt(r.peer)} | {r.ratio} | "
            f"{r.unit} | {r.note} |"
        )
