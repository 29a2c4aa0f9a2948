"""Shared fixtures: the real recordings and golden vectors live in ../shared beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL = SHARED / "data" / "real"
GOLDEN = SHARED / "data" / "golden"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    assert REAL.is_dir(), f"real recordings missing: expected {REAL} (../shared beside the repo)"
    return REAL
