"""Live inference: event sources (files, DV TCP, SPIF UDP, cameras), a replay server, and a
stateful streaming engine that runs a trained checkpoint bin by bin. Never imports the trainer.

    >>> from spikestream.live import Engine, open_source
    >>> with open_source("tcp://127.0.0.1:7777") as source:
    ...     summary = Engine.from_checkpoint("model.ckpt", source, observers=[print]).run()

`spikestream.live.engine` describes the stages; `run_offline` is the same binning and
inference over events in memory (what a live run must reproduce bin for bin).

Names load on first use (PEP 562): `spikestream serve` and the sources need no torch, and
importing torch costs seconds, so only the engine's names bring it in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule defining it
_EXPORTS = {
    "Bin": "binning",
    "Binner": "binning",
    "Decider": "decision",
    "Decision": "decision",
    "BinResult": "engine",
    "Engine": "engine",
    "EngineConfig": "engine",
    "ResetPolicy": "engine",
    "Runner": "engine",
    "bin_width_us": "engine",
    "run_offline": "engine",
    "Geometry": "geometry",
    "resolve_geometry": "geometry",
    "Metrics": "metrics",
    "StreamServer": "server",
    "serve": "server",
    "EventChunk": "sources",
    "EventSource": "sources",
    "open_source": "sources",
}

__all__ = [
    "Bin",
    "BinResult",
    "Binner",
    "Decider",
    "Decision",
    "Engine",
    "EngineConfig",
    "EventChunk",
    "EventSource",
    "Geometry",
    "Metrics",
    "ResetPolicy",
    "Runner",
    "StreamServer",
    "bin_width_us",
    "open_source",
    "resolve_geometry",
    "run_offline",
    "serve",
]

if TYPE_CHECKING:  # the names for type checkers and editors; at run time __getattr__ loads them
    from .binning import Bin, Binner
    from .decision import Decider, Decision
    from .engine import (
        BinResult,
        Engine,
        EngineConfig,
        ResetPolicy,
        Runner,
        bin_width_us,
        run_offline,
    )
    from .geometry import Geometry, resolve_geometry
    from .metrics import Metrics
    from .server import StreamServer, serve
    from .sources import EventChunk, EventSource, open_source


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spikestream.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
