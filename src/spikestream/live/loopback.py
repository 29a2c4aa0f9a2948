"""``spikestream serve`` + ``spikestream live`` in one call, over loopback: what the quick start
ends with (a few recordings replayed onto the wire and classified live), and a handy check that
a checkpoint runs live as it ran offline.

    >>> from spikestream.live.loopback import replay_over_loopback, segment_decisions
    >>> results, summary = replay_over_loopback("model.ckpt", "digits.aedat4")
    >>> segment_decisions(results, [(t0, t1) for t0, t1, _ in labels])
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from ..events import Recording
from .engine import BinResult, Engine, EngineConfig, bin_width_us, warm_up
from .server import StreamServer
from .sources import FileSource

__all__ = ["replay_over_loopback", "segment_decisions", "wait_received"]


def replay_over_loopback(
    checkpoint: str | os.PathLike[str],
    recording: str | os.PathLike[str] | Recording,
    *,
    protocol: str = "dv-tcp",
    speed: float | None = None,
    config: EngineConfig | None = None,
    observers: Sequence[Callable[[BinResult], Any]] = (),
    timeout_s: float = 30.0,
) -> tuple[list[BinResult], dict[str, Any]]:
    """Serve ``recording`` on 127.0.0.1 (a free port) with ``protocol`` (``'dv-tcp'`` or
    ``'spif-udp'``) at ``speed`` and run ``checkpoint`` on the stream with the engine; every bin's
    result and the metrics. ``speed`` None: DV TCP as fast as the receiver takes it (nothing is
    dropped); UDP, which has no back-pressure, at 4x."""
    from ..models.checkpoint import load_model
    from .dvtcp import DvTcpSource
    from .spif import SpifSource

    if protocol not in ("dv-tcp", "spif-udp"):
        raise ConfigError(f"protocol must be 'dv-tcp' or 'spif-udp', got {protocol!r}")
    model, record = load_model(checkpoint)
    if config is None:
        overflow = "block" if speed is None else "drop"
        # the engine's clock runs at the server's speed (none for DV TCP as fast as possible)
        clock = speed if protocol == "dv-tcp" else (speed or 4.0)
        config = EngineConfig(bin_us=bin_width_us(record.input), overflow=overflow, speed=clock)
    shape = record.frame_shape()
    if shape is not None:  # before the first packet: the server sends as soon as we connect
        warm_up(model, shape, config.reset.kind == "window")
    results: list[BinResult] = []
    watchers = [results.append, *observers]
    if protocol == "dv-tcp":
        server = StreamServer(recording, "dv-tcp", port=0, speed=speed, wait_clients=1,
                              linger_s=0.2)  # fmt: skip
        with server:
            server.start()
            source = DvTcpSource("127.0.0.1", server.port, reconnects=0, timeout_s=timeout_s)
            summary = Engine(model, record, source, config=config, observers=watchers).run()
            server.wait(timeout_s)
        return results, summary
    # SPIF over UDP: the listener first, then the sender; the stream has no end marker, so the
    # engine is drained once the sender is done (UDP on loopback at a modest rate loses nothing)
    with FileSource(recording, speed=None) as probe:
        size = probe.sensor_size
    if size is None:
        raise ConfigError(f"{recording}: no events to serve")
    listener = SpifSource("127.0.0.1", 0, sensor_size=size, timeout_s=timeout_s)
    server = StreamServer(recording, "spif-udp", port=listener.port, speed=speed or 4.0)
    engine = Engine(model, record, listener, config=config, observers=watchers)

    def drain() -> None:
        server.wait(None)
        wait_received(listener, server, timeout_s)
        engine.stop(drain=True)

    with server:
        server.start()
        threading.Thread(target=drain, name="loopback-drain", daemon=True).start()
        summary = engine.run()
    return results, summary


def wait_received(listener: Any, server: Any, timeout_s: float = 10.0) -> bool:
    """Wait until the UDP ``listener`` (`SpifSource`) counted every datagram the finished
    ``server`` sent (``stats["datagrams"]``), at most ``timeout_s``; False when some never came
    (UDP may lose them: the caller drains what arrived either way)."""
    deadline = time.monotonic() + timeout_s
    sent = int(server.stats.get("datagrams", 0))
    while int(listener.stats.get("datagrams", 0)) < sent:
        if time.monotonic() >= deadline or listener.closed:
            return False
        time.sleep(0.005)
    return True


def segment_decisions(
    results: Sequence[BinResult], segments: Sequence[tuple[int, int]]
) -> list[str | None]:
    """For each ``(t_start_us, t_end_us)`` segment of the recording (one digit, one gesture), the
    decision the bins inside it made most often (None when they never decided). Times are the
    results' own (recording time; SPIF streams start at 0)."""
    out: list[str | None] = []
    for t0, t1 in segments:
        votes = Counter(
            r.decision for r in results if t0 <= r.t_start_us and r.t_end_us <= t1 and r.decision
        )
        out.append(votes.most_common(1)[0][0] if votes else None)
    return out
