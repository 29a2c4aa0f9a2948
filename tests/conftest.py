"""Shared fixtures: the real recordings and golden vectors live in ../shared beside the repo
(``$SPIKESTREAM_SHARED`` points elsewhere, e.g. on a GPU machine that gets a copy).

A clone without ../shared still runs every other test: those that need the reference data skip
with one reason naming the missing folder. Under CI (``CI=true``) ../shared is always there, so a
missing file is a failure there, never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPIKESTREAM_SHARED", REPO.parent / "shared"))
REAL = SHARED / "data" / "real"
GOLDEN = SHARED / "data" / "golden"


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_reason(path: Path) -> str:
    return f"reference data not found: {path} (clone the shared data beside the repo as ../shared)"


def require(path: Path) -> Path:
    """``path`` if it exists; otherwise skip the calling test (fail under CI)."""
    if not path.exists():
        if IN_CI:
            pytest.fail(missing_reason(path))
        pytest.skip(missing_reason(path))
    return path


def load_golden(name: str):
    """The golden file ``name`` (``np.load``), skipping the test when ../shared is absent."""
    return np.load(require(GOLDEN / name))


def golden_params(name: str, cases) -> list:
    """Parametrize values computed at collection from golden file ``name`` by ``cases(npz)``;
    without the file, one skipped case that names it (collection itself never fails)."""
    path = GOLDEN / name
    if not path.exists() and not IN_CI:
        return [pytest.param(None, marks=pytest.mark.skip(reason=missing_reason(path)))]
    return cases(np.load(path))


@pytest.fixture(scope="session")
def real_dir() -> Path:
    return require(REAL)


#: Every registered format id (tests check the registry against it and fuzz each reader).
ALL_FORMATS = [
    "aedat2", "aedat3", "aedat4", "evt2", "evt21", "evt3", "dat", "nmnist", "npz", "hdf5", "mat",
    "text",
]  # fmt: skip


@pytest.fixture(scope="session")
def ndigits_root(tmp_path_factory) -> Path:
    """One generated NDigits dataset shared by the tests that need it (about 4 s to build)."""
    return tmp_path_factory.mktemp("ndigits")
