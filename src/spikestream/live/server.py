"""Replay a recording onto the wire: the DV network stream over TCP (what dv-processing's
``NetworkReader`` and `spikestream.live.dvtcp.DvTcpSource` read) or SPIF words over UDP.

The recording is read in bounded memory and paced by `spikestream.live.sources.FileSource`:
one packet (DV) or one burst of datagrams (SPIF) per ``packet_us`` of recorded time.

DV TCP: a listening socket (127.0.0.1 unless told otherwise; port 0 picks a free one, see
``.port``). Each client gets the IOHeader, then every packet from the moment it connected, from
its own sender thread and queue. The queue is bounded (``client_buffer_bytes``): for a client
that reads too slowly the oldest queued packets are skipped (``stats["skipped_packets"]``); a
client whose socket fails or that accepts nothing for ``send_timeout_s`` is dropped
(``stats["clients_dropped"]``). With ``wait_clients=N`` the replay starts once N clients are
connected (DV drops the packets sent while nobody listens). At the end of the recording each
client's queue is flushed and its connection kept open ``linger_s`` (or until it leaves):
dv-processing's reader discards the packets it has not yet handed out when the socket closes.
While no client is connected nothing is encoded: a paced replay moves on (DV drops such
packets too), an as-fast-as-possible one (``speed=None``) waits for a client.

Limits, by design: as fast as possible, the replay goes at the pace of the slowest client
(nothing is skipped), so one slow client slows every other one; a client that accepts
nothing for ``send_timeout_s`` is dropped, which bounds that stall. Connections beyond
``max_clients`` are refused (``stats["clients_refused"]``) and the server never reads from
its clients, so idle connections that keep accepting data hold their slots until they close:
expose the port only to trusted hosts (the default host is 127.0.0.1).

SPIF UDP: datagrams sent to ``host:port`` (the listener's address), with timestamp words unless
``timestamps=False``. Sends never block: a datagram the kernel cannot take at once (buffer
full) or that is refused (nobody listens) is dropped, as UDP would, and counted in
``stats["send_errors"]``.
"""

from __future__ import annotations

import collections
import os
import socket
import threading
import time
from typing import Any

from ..errors import ConfigError, StreamError
from ..events import Recording
from ..io import aedat4
from . import dvtcp, spif
from .sources import DEFAULT_CHUNK_US, FileSource

PROTOCOLS = ("dv-tcp", "spif-udp")
_POLL_S = 0.1


class _Client:
    """One connected DV client: a bounded packet queue drained by its own sender thread."""

    def __init__(self, sock: socket.socket, address: Any, header: bytes, server: StreamServer):
        self.sock = sock
        self.address = address
        self.server = server
        self.queue: collections.deque[bytes] = collections.deque()
        self.queued = 0
        self.cond = threading.Condition()
        self.finishing = False  # no more packets will come: flush, linger, close
        self.closed = False
        sock.settimeout(server.send_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.thread = threading.Thread(
            target=self._run, args=(header,), name=f"dv-client-{address}", daemon=True
        )
        self.thread.start()

    def push(self, packet: bytes) -> None:
        limit = self.server.client_buffer_bytes
        with self.cond:
            # As fast as possible: wait for the client (a dead one is dropped after
            # send_timeout_s); paced: a client that falls behind skips the oldest packets.
            while (
                self.server.speed is None
                and self.queue
                and self.queued + len(packet) > limit
                and not self.closed
                and not self.server._halt.is_set()
            ):
                self.cond.wait(_POLL_S)
            if self.closed:
                return
            while self.queue and self.queued + len(packet) > limit:
                self.queued -= len(self.queue.popleft())  # the slow client skips the oldest
                self.server._count("skipped_packets")
            self.queue.append(packet)
            self.queued += len(packet)
            self.cond.notify()

    def finish(self) -> None:
        with self.cond:
            self.finishing = True
            self.cond.notify()

    def _run(self, header: bytes) -> None:
        stop = self.server._halt
        dropped = False
        try:
            self.sock.sendall(header)
            while not stop.is_set():
                with self.cond:
                    while not self.queue and not self.finishing and not stop.is_set():
                        self.cond.wait(_POLL_S)
                    if not self.queue:
                        break
                    packet = self.queue.popleft()
                    self.queued -= len(packet)
                    self.cond.notify()  # a producer may wait for room
                self.sock.sendall(packet)
                self.server._count("bytes_sent", len(packet))
            if not stop.is_set():
                self._linger()
        except OSError:  # reset, broken pipe or send timeout: this client is gone
            # (unless the server halted: stop() shuts the socket down to end a blocked send)
            dropped = not stop.is_set()
        finally:
            with self.cond:  # closed and the socket closed together: see `shutdown`
                self.closed = True
                self.queue.clear()
                self.sock.close()
        # counted once closed, so a reader never sees the drop while client_count still has it
        if dropped:
            self.server._count("clients_dropped")

    def shutdown(self) -> None:
        """End a send blocked on a client that stopped reading (the server halts)."""
        with self.cond:
            if self.closed:
                return
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already reset by the peer
                pass

    def _linger(self) -> None:
        """Keep the connection open until the client leaves or ``linger_s`` passes."""
        deadline = time.monotonic() + self.server.linger_s
        self.sock.settimeout(_POLL_S)
        while time.monotonic() < deadline and not self.server._halt.is_set():
            try:
                if not self.sock.recv(4096):
                    return  # the client closed its end
            except TimeoutError:
                continue
            except OSError:  # reset after everything was sent: the client left, not dropped
                return


class StreamServer:
    """Serve a recording (path or `Recording`) with ``protocol`` ``"dv-tcp"`` or
    ``"spif-udp"``. ``start()`` binds and runs the replay in a thread (``.port`` is then known),
    ``stop()`` ends it, ``wait()`` waits for the end; ``run()`` does it all in the calling
    thread. Also a context manager (stops on exit).

    Example:
        >>> with StreamServer("rec.aedat4", "dv-tcp", port=0) as server:
        ...     server.start()
        ...     print(server.port)
        ...     server.wait()
    """

    def __init__(
        self,
        recording: str | os.PathLike[str] | Recording,
        protocol: str = "dv-tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        compression: str = "none",
        wait_clients: int = 0,
        timestamps: bool = True,
        packet_us: int = DEFAULT_CHUNK_US,
        linger_s: float = 1.5,
        client_buffer_bytes: int = 16 << 20,
        send_timeout_s: float = 5.0,
        max_clients: int = 64,
        source_name: str | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
        if compression not in aedat4.COMPRESSION:
            raise ConfigError(
                f"compression must be one of {list(aedat4.COMPRESSION)}, got {compression!r}"
            )
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {port}")
        if protocol == "spif-udp" and port == 0:
            raise ConfigError("spif-udp sends to a listener: give its port (e.g. --port 3333)")
        if wait_clients < 0 or max_clients < 1 or client_buffer_bytes < 1 << 16:
            raise ConfigError(
                "need wait_clients >= 0, max_clients >= 1 and client_buffer_bytes >= 65536"
            )
        self.protocol = protocol
        self.speed = speed
        self.host = host
        self.port = port
        self.compression = aedat4.COMPRESSION[compression]
        self.wait_clients = wait_clients
        self.timestamps = timestamps
        self.linger_s = linger_s
        self.client_buffer_bytes = client_buffer_bytes
        self.send_timeout_s = send_timeout_s
        self.max_clients = max_clients
        self.source = FileSource(recording, speed=speed, loop=loop, chunk_us=packet_us)
        if self.source.sensor_size is None:
            raise ConfigError(f"{recording}: the recording holds no events to serve")
        self.sensor_size = self.source.sensor_size
        if protocol == "spif-udp" and max(self.sensor_size) > 1 << 15:
            raise ConfigError(
                f"SPIF words hold x and y below 32768; this sensor is {self.sensor_size}"
            )
        self.source_name = source_name or "spikestream"
        self.stats: dict[str, Any] = {
            "packets": 0,
            "events": 0,
            "bytes_sent": 0,
            "datagrams": 0,
            "clients_total": 0,
            "clients_dropped": 0,
            "clients_refused": 0,
            "skipped_packets": 0,
            "unsent_events": 0,
            "send_errors": 0,
            "elapsed_s": 0.0,
            "interrupted": False,
        }
        self._lock = threading.Lock()
        self._halt = threading.Event()  # stop now (no flush, no linger)
        self._clients: list[_Client] = []
        self._listener: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._bound = False
        self._running = False  # run() owns the sockets (and closes them) once it started
        self.error: Exception | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "tcp" if self.protocol == "dv-tcp" else "udp"
        return f"{scheme}://{self.host}:{self.port}"

    def bind(self) -> None:
        """Open the sockets (idempotent); for DV TCP, ``.port`` is the bound port after."""
        if self._bound:
            return
        try:
            if self.protocol == "dv-tcp":
                lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                lst.bind((self.host, self.port))
                lst.listen(16)
                lst.settimeout(_POLL_S)
                self._listener = lst
                self.port = lst.getsockname()[1]
            else:
                self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._udp.connect((self.host, self.port))  # resolves the host once
                self._udp.setblocking(False)  # a full buffer drops (counted), never stalls
        except OSError as exc:
            raise StreamError(
                f"{self.url}: cannot {'listen' if self.protocol == 'dv-tcp' else 'send'} "
                f"({exc.strerror or exc})"
            ) from None
        self._bound = True

    def start(self) -> StreamServer:
        """Bind and run the replay in a background thread."""
        self.bind()
        self._thread = threading.Thread(
            target=self._run_kept, name="spikestream-serve", daemon=True
        )
        self._thread.start()
        return self

    def _run_kept(self) -> None:
        try:
            self.run()
        except Exception as exc:  # handed to wait() in the caller's thread
            self.error = exc

    def stop(self) -> None:
        """End now (idempotent): no flush, no linger, and a send blocked on a client that
        stopped reading ends at once (such a client is not counted dropped)."""
        self._halt.set()
        self._shutdown_clients()
        self.source.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._lock:
            running = self._running
        if not running:  # bound but never served: nobody else closes the sockets
            self._close_sockets()

    def _shutdown_clients(self, grace_s: float = 0.5) -> None:
        # a sender blocked in sendall on a client that stopped reading would hold stop() for
        # send_timeout_s (and the listener open): shutting the socket down ends the send. A
        # reading client's sender first gets ``grace_s`` to finish its packet and close, so
        # its last packet is not cut off.
        with self._lock:
            clients = list(self._clients)
        deadline = time.monotonic() + grace_s
        for c in clients:
            if c.thread is not threading.current_thread():
                c.thread.join(max(0.0, deadline - time.monotonic()))
        for c in clients:
            if c.thread.is_alive():
                c.shutdown()

    def _close_sockets(self) -> None:
        for s in (self._listener, self._udp):
            if s is not None:
                s.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the replay thread to end; True when it has. An error that ended the replay
        is raised here."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        if self.error is not None:
            raise self.error
        return True

    @property
    def client_count(self) -> int:
        with self._lock:
            return sum(not c.closed for c in self._clients)

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    # -- the replay ---------------------------------------------------------------------------

    def run(self, ready: threading.Event | None = None) -> dict[str, Any]:
        """Serve until the recording ends (flushing to every client) or `stop`; the stats."""
        self.bind()
        with self._lock:
            self._running = not self._halt.is_set()
        if not self._running:  # stopped before it ran
            self._close_sockets()
            self.stats["interrupted"] = True
            return self.stats
        start = time.monotonic()
        acceptor = None
        if self._listener is not None:
            acceptor = threading.Thread(target=self._accept, name="dv-accept", daemon=True)
            acceptor.start()
        if ready is not None:
            ready.set()
        try:
            while self.client_count < self.wait_clients and not self._halt.wait(_POLL_S):
                pass
            if self.protocol == "dv-tcp":
                self._serve_dv()
            else:
                self._serve_spif()
        finally:
            self.stats["interrupted"] = self.stats["interrupted"] or self._halt.is_set()
            if self._halt.is_set():
                self._shutdown_clients()
            with self._lock:
                clients = list(self._clients)
            for c in clients:
                c.finish()
            for c in clients:
                c.thread.join(timeout=self.linger_s + self.send_timeout_s + 1)
            self._halt.set()  # ends the acceptor
            if acceptor is not None:
                acceptor.join(timeout=2)
            self._close_sockets()
            self.source.close()
            self.stats["elapsed_s"] = time.monotonic() - start
        return self.stats

    def _accept(self) -> None:
        header = dvtcp.ioheader(self.compression, self.sensor_size, self.source_name)
        assert self._listener is not None
        while not self._halt.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._clients = [c for c in self._clients if not c.closed]
                full = len(self._clients) >= self.max_clients
                self.stats["clients_refused" if full else "clients_total"] += 1
            if full:
                sock.close()
                continue
            client = _Client(sock, address, header, self)
            with self._lock:
                self._clients.append(client)

    def _wait_for_a_client(self) -> None:
        """As fast as possible, nothing paces the replay: wait for a client rather than spin
        through the recording (``--fast --loop`` would busy a core forever)."""
        while self.speed is None and not self.client_count and not self._halt.wait(_POLL_S):
            pass

    def _serve_dv(self) -> None:
        self._wait_for_a_client()
        for chunk in self.source:
            if self._halt.is_set():
                break
            with self._lock:
                clients = [c for c in self._clients if not c.closed]
            if not clients:  # nobody listens: DV drops such packets, so do not encode them
                self._count("unsent_events", len(chunk.events))
                self._wait_for_a_client()
                continue
            packets = dvtcp.event_packets(chunk.events, self.compression)
            with self._lock:
                self.stats["packets"] += len(packets)
                self.stats["events"] += len(chunk.events)
            for c in clients:
                for p in packets:
                    c.push(p)

    def _serve_spif(self) -> None:
        assert self._udp is not None
        t0 = None
        for chunk in self.source:
            if self._halt.is_set():
                break
            if t0 is None:
                t0 = int(chunk.events["t"][0])
            words = spif.encode_words(chunk.events, t0, timestamps=self.timestamps)
            for datagram in spif.datagrams(words):
                try:
                    self._udp.send(datagram)
                except OSError:  # nobody listens (ICMP unreachable), buffers full: UDP drops it
                    self.stats["send_errors"] += 1
                    continue
                self.stats["datagrams"] += 1
                self.stats["bytes_sent"] += len(datagram)
            self.stats["packets"] += 1
            self.stats["events"] += len(chunk.events)


def serve(
    recording: str | os.PathLike[str] | Recording,
    protocol: str = "dv-tcp",
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float | None = 1.0,
    loop: bool = False,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Serve ``recording`` until it ends or ``stop`` is set; returns the stats. ``ready`` is set
    once the socket is bound (then ``options["on_ready"]``, if given, is called with the
    `StreamServer`, e.g. to read its port). Other options: see `StreamServer`."""
    on_ready = options.pop("on_ready", None)
    server = StreamServer(recording, protocol, host, port, speed=speed, loop=loop, **options)
    server.bind()
    if on_ready is not None:
        on_ready(server)
    watcher = None
    if stop is not None:

        def watch() -> None:
            while not stop.wait(_POLL_S) and not server._halt.is_set():
                pass
            if stop.is_set():
                server.stats["interrupted"] = True
                server.stop()

        watcher = threading.Thread(target=watch, name="serve-stop", daemon=True)
        watcher.start()
    try:
        return server.run(ready)
    finally:
        server._halt.set()
        if watcher is not None:
            watcher.join(timeout=1)


__all__ = ["PROTOCOLS", "StreamServer", "serve"]
