"""Memory set-up for training, measured on the DVS Gesture step (`benchmarks.train`).

A training step allocates the same large activations at every step (512 MiB each for the first
layer of ``plifnet_dvsgesture`` at batch 4). glibc's malloc hands blocks this large out as fresh
``mmap`` regions and unmaps them on free, so every step faults their memory back in, 4 KiB at a
time, and the kernel zeroes every page: on this machine about a third of the step's CPU time.
torch can put such allocations on transparent huge pages instead (``THP_MEM_ALLOC_ENABLE=1``:
blocks of 2 MiB and more aligned to 2 MiB and ``madvise(MADV_HUGEPAGE)``), 512 times fewer
faults for the same memory. `tune` turns that on from inside the process, before torch's first
allocation; no re-execution, no change of allocator, and the peak memory stays the same (the
other set-ups measured either cost memory, such as keeping big blocks in the heap, or did not
help, such as jemalloc: see the README's table).

``SPIKESTREAM_ALLOCATOR=off`` (`spikestream.settings.allocator_mode`) leaves everything as it
is; so does a ``THP_MEM_ALLOC_ENABLE`` the user set, a system without transparent huge pages in
``madvise`` mode, or a process where torch has allocated already.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..settings import allocator_mode

__all__ = ["THP_ENV", "thp_mode", "tune"]

THP_ENV = "THP_MEM_ALLOC_ENABLE"
_THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage/enabled")
_HUGE = 2 << 20  # torch's huge-page alignment and threshold
_APPLIED = f"{THP_ENV}=1: torch's blocks of 2 MiB and more on transparent huge pages"
_done: str | None = None  # what an earlier call did


def thp_mode(path: Path = _THP_SYSFS) -> str | None:
    """The kernel's transparent huge page mode (``always``, ``madvise``, ``never``), or None
    where there is none (not Linux, or no such file)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def _anon_huge_kib() -> int:
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


def _torch_takes_huge_pages() -> bool:
    """Whether torch's CPU allocator now puts a large block on huge pages: it reads
    ``THP_MEM_ALLOC_ENABLE`` once, at its first allocation. A 4 MiB probe, touched, must add
    huge pages to the process (in ``madvise`` mode nothing else asks for them)."""
    import torch

    try:
        before = _anon_huge_kib()
        probe = torch.ones(2 * _HUGE, dtype=torch.uint8)
        after = _anon_huge_kib()
    except OSError:
        return False
    del probe
    return after > before


def tune() -> str:
    """Apply the best measured memory set-up to this process, for torch's allocations from now
    on; returns what was done (``"unchanged: <why>"`` when nothing)."""
    global _done
    if _done is not None:
        return _done
    if allocator_mode() == "off":
        return "unchanged: SPIKESTREAM_ALLOCATOR=off"
    if not sys.platform.startswith("linux"):
        return f"unchanged: no transparent huge pages on {sys.platform}"
    if THP_ENV in os.environ:
        return f"unchanged: {THP_ENV}={os.environ[THP_ENV]} set by the user"
    mode = thp_mode()
    if mode != "madvise":
        # 'always': every large block gets huge pages already; 'never' or none: not available
        return f"unchanged: transparent huge pages are {mode or 'unavailable'}"
    os.environ[THP_ENV] = "1"
    if not _torch_takes_huge_pages():
        del os.environ[THP_ENV]
        return (
            f"unchanged: torch allocated before tune() ran; set {THP_ENV}=1 in the environment "
            "to get transparent huge pages for its large blocks"
        )
    _done = _APPLIED
    return _APPLIED
