"""Memory allocator set-up for training (stub: the measured set-up lands later this session).

``tune()`` is called by ``spikestream fit`` before training starts; it returns a short text
saying what it did ("unchanged" when nothing)."""

from __future__ import annotations

__all__ = ["tune"]


def tune() -> str:
    """Apply the fastest measured allocator set-up to this process; returns what was done."""
    return "unchanged"
