"""The live viewer: a small local web page showing what `spikestream live` sees and decides.

``url, observer, stop = start_viewer(port)`` serves the page on ``http://127.0.0.1:PORT/`` (port
0 picks a free one) and returns the observer to hand to the live engine
(``Engine(..., observers=[observer])``). The page shows the latest event image (ON blue, OFF
vermillion: `spikestream.viz.render`'s palette), the class scores as bars and over time, the
decision with its confidence, the latency and the counts of events and drops.

Transport: server-sent events (``GET /events``, ``text/event-stream``) from the standard
library's ``ThreadingHTTPServer``. The page only listens, so a one-way stream is all it needs;
browsers reconnect an ``EventSource`` by themselves, and nothing beyond the standard library is
needed (a WebSocket would need a third-party server or a hand-written framing layer). Every
asset (``static/viewer.html``, ``viewer.js``, ``viewer.css``) is served from the package: no
CDN, nothing fetched from elsewhere.

Cost to the engine: the observer only adds the bin's image into a pending buffer and keeps the
latest scores under a lock (microseconds); a publisher thread renders and sends at most
``rate_hz`` updates a second, the image being every event since the previous update, so bins of
1 ms still show a readable picture. Each browser has a queue of `CLIENT_QUEUE` updates; a slow
one loses its oldest updates, never slowing the engine or the other clients.
"""

from __future__ import annotations

import base64
import json
import queue
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np

from ..errors import ConfigError
from .render import DEFAULT_PALETTE, Palette, palette_indices

#: Updates buffered per connected page before the oldest are dropped.
CLIENT_QUEUE = 8
#: Pages connected at once (each holds one server thread).
MAX_CLIENTS = 16
STATIC = {
    "/": ("viewer.html", "text/html; charset=utf-8"),
    "/viewer.html": ("viewer.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
}


def png_indexed(index: np.ndarray, table: np.ndarray) -> bytes:
    """A palette PNG (colour type 3, 8 bits) of ``index`` ``[H, W]`` uint8 with the colours of
    ``table`` ``[K, 3]``: the standard library's zlib, no imaging library."""
    h, w = index.shape
    rows = np.zeros((h, w + 1), np.uint8)  # filter byte 0 (none) before each row
    rows[:, 1:] = index

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", np.ascontiguousarray(table, np.uint8).tobytes())
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def _field(result: Any, name: str, default: Any = None) -> Any:
    return getattr(result, name, default)


class _Hub:
    """What the observer collects and the publisher sends."""

    def __init__(self, classes: Sequence[str] | None, rate_hz: float, palette: Palette):
        self.classes = None if classes is None else [str(c) for c in classes]
        self.period = 1.0 / rate_hz
        self.palette = palette
        self.lock = threading.Lock()
        self.image: np.ndarray | None = None  # events since the last update, [2, H, W]
        self.latest: Any = None
        self.bins = 0
        self.events = 0
        self.dropped = 0
        self.updates = 0
        self.clients: list[queue.Queue[bytes]] = []
        self.stopping = threading.Event()
        self.last_message: dict[str, Any] | None = None

    # called by the engine for each bin, in its inference thread: keep it short
    def observe(self, result: Any) -> None:
        image = _field(result, "image")
        if image is None:
            image = _field(result, "input")
        with self.lock:
            if image is not None:
                a = np.asarray(image, dtype=np.float32)
                if a.ndim == 2:  # one channel: shown as ON
                    a = np.stack([np.zeros_like(a), a])
                elif a.shape[0] == 1:
                    a = np.concatenate([np.zeros_like(a), a])
                if self.image is None or self.image.shape != a.shape:
                    self.image = a.copy()
                else:
                    self.image += a
            self.latest = result
            self.bins += 1
            self.events += int(_field(result, "n_events", 0) or 0)
            self.dropped += int(_field(result, "dropped_events", 0) or 0)

    def message(self) -> dict[str, Any] | None:
        """The next update (None when nothing new arrived)."""
        with self.lock:
            result, image = self.latest, self.image
            if result is None:
                return None
            self.latest = None
            self.image = None if image is None else np.zeros_like(image)
            bins, events, dropped = self.bins, self.events, self.dropped
        scores = np.asarray(_field(result, "scores", []), dtype=np.float64).reshape(-1)
        classes = self.classes or [str(k) for k in range(len(scores))]
        picture = None
        if image is not None:
            png = png_indexed(palette_indices(image)[0], self.palette.table())
            picture = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return {
            "index": _field(result, "index"),
            "t_start_us": _field(result, "t_start_us"),
            "t_end_us": _field(result, "t_end_us"),
            "scores": [float(v) if np.isfinite(v) else None for v in scores],
            "classes": classes,
            "decision": _field(result, "decision"),
            "confidence": float(_field(result, "confidence", 0.0) or 0.0),
            "latency_ms": float(_field(result, "latency_ms", 0.0) or 0.0),
            "bins": bins,
            "events": events,
            "dropped_events": dropped,
            "image": picture,
            "palette": {"on": self.palette.on, "off": self.palette.off},
        }

    def publish(self) -> None:
        while not self.stopping.wait(self.period):
            message = self.message()
            if message is None:
                continue
            self.last_message = message
            self.updates += 1
            data = f"data: {json.dumps(message)}\n\n".encode()
            with self.lock:
                clients = list(self.clients)
            for q in clients:
                while True:
                    try:
                        q.put_nowait(data)
                        break
                    except queue.Full:  # a slow page: it loses its oldest update
                        try:
                            q.get_nowait()
                        except queue.Empty:
                            pass


def _handler(hub: _Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "spikestream-viewer"
        timeout = 30  # a silent client does not hold a thread forever

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI owns stdout
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/events":
                self._events()
            elif path == "/state":
                body = json.dumps(hub.last_message).encode()
                self._send(200, "application/json", body)
            elif path in STATIC:
                name, kind = STATIC[path]
                body = resources.files(__package__).joinpath("static", name).read_bytes()
                self._send(200, kind, body)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            q: queue.Queue[bytes] = queue.Queue(CLIENT_QUEUE)
            with hub.lock:
                if len(hub.clients) >= MAX_CLIENTS:
                    full = True
                else:
                    full = False
                    hub.clients.append(q)
            if full:
                self._send(503, "text/plain; charset=utf-8", b"too many viewers\n")
                return
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(b"retry: 500\n\n")
                if hub.last_message is not None:  # a new page starts with the current picture
                    q.put_nowait(f"data: {json.dumps(hub.last_message)}\n\n".encode())
                while not hub.stopping.is_set():
                    try:
                        data = q.get(timeout=1.0)
                    except queue.Empty:
                        data = b": keep-alive\n\n"  # also finds pages that went away
                    self.wfile.write(data)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass  # the page was closed
            finally:
                with hub.lock:
                    if q in hub.clients:
                        hub.clients.remove(q)

    return Handler


def start_viewer(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    classes: Sequence[str] | None = None,
    rate_hz: float = 10.0,
    palette: Palette = DEFAULT_PALETTE,
) -> tuple[str, Callable[[Any], None], Callable[[], None]]:
    """Serve the viewer page; ``(url, observer, stop)``.

    ``observer(result)`` takes the engine's `spikestream.live.engine.BinResult` (any object
    with ``image`` or ``input``, ``scores``, ``decision``, ``confidence``, ``latency_ms``,
    ``n_events``, ``dropped_events``); ``classes`` names the scores (default: their indices);
    ``rate_hz`` bounds the page updates per second; ``stop()`` closes the server and its
    threads (idempotent). Only loopback addresses are served unless ``host`` says otherwise.

    Example:
        >>> url, observer, stop = start_viewer(8050, classes=record.classes)
        >>> engine = Engine.from_checkpoint(ckpt, source, observers=[observer])
    """
    if not 0 <= int(port) <= 65535:
        raise ConfigError(f"viewer port must be in 0..65535 (0: any free port), got {port}")
    if not 0 < float(rate_hz) <= 60:
        raise ConfigError(f"viewer rate_hz must be in (0, 60], got {rate_hz}")
    hub = _Hub(classes, float(rate_hz), palette)
    try:
        server = ThreadingHTTPServer((host, int(port)), _handler(hub))
    except OSError as exc:
        raise ConfigError(f"cannot serve the viewer on {host}:{port}: {exc.strerror or exc}; "
                          "choose another --port (0 picks a free one)") from None  # fmt: skip
    server.daemon_threads = True
    threads = [
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         name="spikestream-viewer-http", daemon=True),
        threading.Thread(target=hub.publish, name="spikestream-viewer-publish", daemon=True),
    ]  # fmt: skip
    for t in threads:
        t.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        hub.stopping.set()
        server.shutdown()
        server.server_close()
        for t in threads:
            t.join(timeout=5)

    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host!s}:{int(bound_port)}/"
    stop.hub = hub  # type: ignore[attr-defined]  # for tests and diagnostics
    return url, hub.observe, stop


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes (for callers and tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
