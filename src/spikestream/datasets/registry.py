"""Name -> dataset class; each class registers itself when its module is imported."""

from __future__ import annotations

from typing import Any

from ..errors import DatasetError

DATASETS: dict[str, Any] = {}


def get(name: str) -> Any:
    """The dataset class called ``name`` (case-insensitive; ``-`` and ``_`` ignored)."""
    from . import catalog  # noqa: F401  # registers every dataset

    key = name.lower().replace("-", "").replace("_", "")
    for known, cls in DATASETS.items():
        if known.replace("-", "").replace("_", "") == key:
            return cls
    raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
