"""Live inference: event sources (files, DV TCP, SPIF UDP, cameras), a replay server, and a
stateful streaming engine that runs a trained checkpoint bin by bin. Never imports the trainer.

    >>> from spikestream.live import Engine, open_source
    >>> with open_source("tcp://127.0.0.1:7777") as source:
    ...     summary = Engine.from_checkpoint("model.ckpt", source, observers=[print]).run()

`spikestream.live.engine` describes the stages; `run_offline` is the same binning and
inference over events in memory (what a live run must reproduce bin for bin).
"""

from .binning import Bin, Binner
from .decision import Decider, Decision
from .engine import BinResult, Engine, EngineConfig, ResetPolicy, Runner, bin_width_us, run_offline
from .geometry import Geometry, resolve_geometry
from .metrics import Metrics
from .server import StreamServer, serve
from .sources import EventChunk, EventSource, open_source

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
