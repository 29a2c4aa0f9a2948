"""Tonic 1.7 compatible API: `transforms` and `collation`."""

from . import collation, transforms

__all__ = ["collation", "transforms"]
