"""The one place Tonic's three transform arguments are applied (datasets, sliced and cached
datasets all take ``transform``, ``target_transform`` and ``transforms``)."""

from __future__ import annotations

from typing import Any


def apply_transforms(owner: Any, data: Any, target: Any) -> tuple[Any, Any]:
    """``owner.transform`` on the data, ``owner.target_transform`` on the target, then
    ``owner.transforms`` on both, in Tonic's order; each skipped when None."""
    if owner.transform is not None:
        data = owner.transform(data)
    if owner.target_transform is not None:
        target = owner.target_transform(target)
    if owner.transforms is not None:
        data, target = owner.transforms(data, target)
    return data, target
