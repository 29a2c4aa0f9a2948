"""Shared fixtures: the real recordings and golden vectors live in ../shared beside the repo
(``$SPIKESTREAM_SHARED`` points elsewhere, e.g. on a GPU machine that gets a copy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPIKESTREAM_SHARED", REPO.parent / "shared"))
REAL = SHARED / "data" / "real"
GOLDEN = SHARED / "data" / "golden"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    assert REAL.is_dir(), f"real recordings missing: expected {REAL} (../shared beside the repo)"
    return REAL


#: Every registered format id (tests check the registry against it and fuzz each reader).
ALL_FORMATS = [
    "aedat2", "aedat3", "aedat4", "evt2", "evt21", "evt3", "dat", "nmnist", "npz", "hdf5", "mat",
    "text",
]  # fmt: skip


@pytest.fixture(scope="session")
def ndigits_root(tmp_path_factory) -> Path:
    """One generated NDigits dataset shared by the tests that need it (about 4 s to build)."""
    return tmp_path_factory.mktemp("ndigits")
