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
    (``batch_first=True``) or 1; targets become a tensor. As in Tonic, whose padding is torch's
    default float type, integer frames (``ToFrame``'s int16) come out as float32 (float64 stays
    float64), ready for a network."""

    batch_first: bool = True

    def __call__(self, batch: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        import torch

        data, targets = pad_tensors(batch, batch_first=self.batch_first)
        return data.to(torch.promote_types(data.dtype, torch.get_default_dtype())), targets


__all__ = ["PadTensors"]
