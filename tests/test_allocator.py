"""`spikestream.train.allocator.tune`: in a fresh process it puts torch's large blocks on
transparent huge pages (where the kernel offers them in ``madvise`` mode: measured in the
process's ``AnonHugePages``), and it changes nothing when turned off, when the user chose, or
when torch has allocated already."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from spikestream.errors import ConfigError
from spikestream.settings import allocator_mode
from spikestream.train import allocator

# tune() in a fresh process, then a touched 64 MiB tensor: what tune said, the variable, and
# how much of the tensor landed on huge pages
PROBE = """
import json, os
from spikestream.train.allocator import _anon_huge_kib, tune
said = tune()
import torch
before = _anon_huge_kib()
x = torch.ones(64 << 20, dtype=torch.uint8)
print(json.dumps({"said": said, "env": os.environ.get("THP_MEM_ALLOC_ENABLE"),
                  "huge_kib": _anon_huge_kib() - before}))
"""


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("THP_MEM_ALLOC_ENABLE", "SPIKESTREAM_ALLOCATOR")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_thp_mode_reads_the_kernel_s_selection(tmp_path):
    f = tmp_path / "enabled"
    f.write_text("always [madvise] never\n")
    assert allocator.thp_mode(f) == "madvise"
    f.write_text("[always] madvise never\n")
    assert allocator.thp_mode(f) == "always"
    assert allocator.thp_mode(tmp_path / "missing") is None


def test_tune_puts_large_blocks_on_huge_pages_in_a_fresh_process():
    out = probe()
    if allocator.thp_mode() != "madvise":  # a machine without it: tune says why, sets nothing
        assert out["said"].startswith("unchanged: transparent huge pages are")
        assert out["env"] is None
        return
    assert out["said"].startswith("THP_MEM_ALLOC_ENABLE=1")
    assert out["env"] == "1"
    assert out["huge_kib"] >= 32 << 10  # most of the 64 MiB tensor


def test_tune_changes_nothing_when_off_chosen_or_late(monkeypatch):
    monkeypatch.setattr(allocator, "_done", None)
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    monkeypatch.setenv("SPIKESTREAM_ALLOCATOR", "off")
    assert allocator.tune() == "unchanged: SPIKESTREAM_ALLOCATOR=off"
    assert "THP_MEM_ALLOC_ENABLE" not in os.environ
    monkeypatch.setenv("SPIKESTREAM_ALLOCATOR", "auto")
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "0")
    assert allocator.tune() == "unchanged: THP_MEM_ALLOC_ENABLE=0 set by the user"
    assert os.environ["THP_MEM_ALLOC_ENABLE"] == "0"
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE")
    if allocator.thp_mode() == "madvise":
        torch.ones(1)  # torch reads its setting at its first allocation: too late after it
        assert allocator.tune().startswith("unchanged: torch allocated before tune() ran")
        assert "THP_MEM_ALLOC_ENABLE" not in os.environ


def test_allocator_setting(monkeypatch):
    monkeypatch.delenv("SPIKESTREAM_ALLOCATOR", raising=False)
    assert allocator_mode() == "auto"
    monkeypatch.setenv("SPIKESTREAM_ALLOCATOR", "OFF")
    assert allocator_mode() == "off"
    monkeypatch.setenv("SPIKESTREAM_ALLOCATOR", "jemalloc")
    with pytest.raises(ConfigError, match="SPIKESTREAM_ALLOCATOR"):
        allocator_mode()
