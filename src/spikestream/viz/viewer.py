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

Cost to the engine: the observer only keeps a reference to the bin's image in a bounded inbox
(at most `INBOX_BYTES` of images waiting; beyond that a bin's image is left out of the picture
and counted in ``image_bins_skipped``) and the latest scores and counts, under a lock
(microseconds, whatever the sensor size); the publisher thread sums the images and sends at
most ``rate_hz`` updates a second, the image being every event since the previous update, so
bins of 1 ms still show a readable picture. Each browser has a queue of `CLIENT_QUEUE`
updates; a slow one loses its oldest updates, never slowing the engine or the other clients.
An update that cannot be built (a result with unexpected fields) is skipped and logged once;
the publisher carries on.

Safety: the server listens on loopback only (``allow_remote=True`` to listen elsewhere), answers
403 to a request whose ``Host`` header is not ``127.0.0.1:PORT`` / ``localhost:PORT`` (a page
of another site reaching it through DNS rebinding), and serves at most `MAX_CONNECTIONS`
connections at once (one thread each; more are closed at once).
"""

from __future__ import annotations

import base64
import collections
import ipaddress
import json
import logging
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
#: Connections served at once, of any kind (one thread each); more are closed on arrival.
MAX_CONNECTIONS = 32
#: Bytes of bin images waiting for the publisher (1280x720 float32 OFF/ON: 7.4 MB a bin).
INBOX_BYTES = 64 << 20
LOG = logging.getLogger(__name__)
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
        # bin images handed over by the engine thread, summed by the publisher
        self.inbox: collections.deque[Any] = collections.deque()
        self.inbox_bytes = 0
        self.skipped = 0  # bins whose image found the inbox full
        self.latest: Any = None
        self.bins = 0
        self.events = 0
        self.dropped = 0
        self.updates = 0
        self.errors = 0  # updates that could not be built or sent
        self.clients: list[queue.Queue[bytes]] = []
        self.stopping = threading.Event()
        self.wake = threading.Event()  # a bin's image is waiting (or stopping)
        self.last_message: dict[str, Any] | None = None
        self.last_data: bytes | None = None  # last_message as sent

    # called by the engine for each bin, in its inference thread: keep it short (no copy, no sum)
    def observe(self, result: Any) -> None:
        image = _field(result, "image")
        if image is None:
            image = _field(result, "input")
        size = int(getattr(image, "nbytes", 0) or 0)
        with self.lock:
            if image is not None:
                if self.inbox_bytes + size <= INBOX_BYTES or not self.inbox:
                    self.inbox.append(image)
                    self.inbox_bytes += size
                    self.wake.set()
                else:
                    self.skipped += 1
            self.latest = result
            self.bins += 1
            self.events += int(_field(result, "n_events", 0) or 0)
            self.dropped += int(_field(result, "dropped_events", 0) or 0)

    def drain(self) -> None:
        """Sum the images waiting in the inbox into the pending picture (publisher thread)."""
        with self.lock:
            images = list(self.inbox)
            self.inbox.clear()
            self.inbox_bytes = 0
        for image in images:
            a = np.asarray(image, dtype=np.float32)
            if a.ndim == 2:  # one channel: shown as ON
                a = np.stack([np.zeros_like(a), a])
            elif a.shape[0] == 1:
                a = np.concatenate([np.zeros_like(a), a])
            if self.image is None or self.image.shape != a.shape:
                self.image = a.copy()
            else:
                self.image += a

    def message(self) -> dict[str, Any] | None:
        """The next update (None when nothing new arrived); publisher thread."""
        self.drain()
        with self.lock:
            result = self.latest
            if result is None:
                return None
            self.latest = None
            bins, events, dropped, skipped = self.bins, self.events, self.dropped, self.skipped
        image, self.image = self.image, None
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
            "image_bins_skipped": skipped,
            "image": picture,
            "palette": {"on": self.palette.on, "off": self.palette.off},
        }

    def publish(self) -> None:
        next_send = time.monotonic() + self.period
        while not self.stopping.is_set():
            # woken by each bin, to sum the inbox as bins arrive (the engine never waits here)
            self.wake.wait(max(0.0, next_send - time.monotonic()))
            self.wake.clear()
            try:
                if time.monotonic() < next_send:
                    self.drain()
                    continue
                next_send = max(next_send + self.period, time.monotonic())
                self.send(self.message())
            except Exception as exc:  # one bad result must not end the page's updates
                self.errors += 1
                with self.lock:
                    self.latest = None
                if self.errors == 1:
                    LOG.warning("spikestream viewer: an update was skipped (%r); later "
                                "failures are counted, not logged", exc)  # fmt: skip

    def send(self, message: dict[str, Any] | None) -> None:
        if message is None:
            return
        data = f"data: {json.dumps(message, default=_json_default)}\n\n".encode()
        self.last_message = message
        self.last_data = data
        self.updates += 1
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


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in a result (an int64 decision, float32 scores) as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Server(ThreadingHTTPServer):
    """A threading HTTP server with at most ``max_connections`` handler threads: a connection
    beyond that is closed on arrival (idle sockets cannot make it start threads without end)."""

    daemon_threads = True
    request_queue_size = 64  # the listen backlog (socketserver's 5 makes a burst wait seconds)

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many connections: closed, no thread
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _handler(hub: _Hub, hosts: set[str] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "spikestream-viewer"
        timeout = 30  # a silent client does not hold a thread forever

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI owns stdout
            pass

        def do_GET(self) -> None:
            if hosts is not None and (self.headers.get("Host") or "").lower() not in hosts:
                # another site's page reaching this port through DNS rebinding
                self._send(403, "text/plain; charset=utf-8", b"forbidden host\n")
                return
            path = self.path.split("?", 1)[0]
            if path == "/events":
                self._events()
            elif path == "/state":
                body = json.dumps(hub.last_message, default=_json_default).encode()
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
                if hub.last_data is not None:  # a new page starts with the current picture
                    q.put_nowait(hub.last_data)
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
    allow_remote: bool = False,
) -> tuple[str, Callable[[Any], None], Callable[[], None]]:
    """Serve the viewer page; ``(url, observer, stop)``.

    ``observer(result)`` takes the engine's `spikestream.live.engine.BinResult` (any object
    with ``image`` or ``input``, ``scores``, ``decision``, ``confidence``, ``latency_ms``,
    ``n_events``, ``dropped_events``); ``classes`` names the scores (default: their indices);
    ``rate_hz`` bounds the page updates per second; ``stop()`` closes the server and its
    threads (idempotent). ``host`` must be a loopback address (``127.0.0.1``, ``::1``,
    ``localhost``) unless ``allow_remote=True``, which also drops the ``Host`` header check.

    Example:
        >>> url, observer, stop = start_viewer(8050, classes=record.classes)
        >>> engine = Engine.from_checkpoint(ckpt, source, observers=[observer])
    """
    if not 0 <= int(port) <= 65535:
        raise ConfigError(f"viewer port must be in 0..65535 (0: any free port), got {port}")
    if not 0 < float(rate_hz) <= 60:
        raise ConfigError(f"viewer rate_hz must be in (0, 60], got {rate_hz}")
    if not allow_remote and not _loopback(host):
        raise ConfigError(
            f"the viewer serves loopback only (127.0.0.1, ::1, localhost), got host {host!r}; "
            "pass allow_remote=True to serve other machines (the page has no authentication)"
        )
    hub = _Hub(classes, float(rate_hz), palette)
    try:
        server = _Server((host, int(port)), BaseHTTPRequestHandler, MAX_CONNECTIONS)
    except OSError as exc:
        raise ConfigError(f"cannot serve the viewer on {host}:{port}: {exc.strerror or exc}; "
                          "choose another --port (0 picks a free one)") from None  # fmt: skip
    bound_port = int(server.server_address[1])
    hosts = None
    if not allow_remote:
        names = ("127.0.0.1", "localhost", "[::1]")
        hosts = {f"{name}:{bound_port}" for name in names}
    server.RequestHandlerClass = _handler(hub, hosts)
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
        hub.wake.set()
        server.shutdown()
        server.server_close()
        for t in threads:
            t.join(timeout=5)

    bound_host = str(server.server_address[0])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/"
    stop.hub = hub  # type: ignore[attr-defined]  # for tests and diagnostics
    stop.server = server  # type: ignore[attr-defined]
    return url, hub.observe, stop


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes (for callers and tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
