"""Tonic 1.7's ``tonic.collation.PadTensors``::

# from tonic.collation import PadTensors
from spikestream.compat.tonic.collation import PadTensors
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...transforms.collate import pad_tensors


@dataclass(frozen=True)
class PadTensors:
    """Zero-pad every sample along dim 0 (time) to the longest, then stack on dim 0
    (``batch_first=True``) or 1; targets become a tensor."""

    batch_first: bool = True

    def __call__(self, batch: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        return pad_tensors(batch, batch_first=self.batch_first)


__all__ = ["PadTensors"]
