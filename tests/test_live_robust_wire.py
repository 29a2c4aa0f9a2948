"""The wire under abuse: malformed, truncated and absurd packets, clients that vanish or stop
reading, a server that restarts mid-stream, UDP garbage, Ctrl-C on `spikestream serve`. Every
case ends in a `StreamError` or a counted skip, within a timeout; all sockets on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest
import zstandard

import spikestream as ss
from spikestream.errors import StreamError, StreamTimeout
from spikestream.events import make_events
from spikestream.live import dvtcp, spif
from spikestream.live.server import StreamServer
from spikestream.live.sources import open_source

from .dv_peer import readline

SIZE = (64, 48)
DEADLINE_S = 10.0
STARTUP_S = 60.0  # a subprocess's start on a loaded machine (an upper bound only)


def events(n: int, seed: int = 0, t0: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 100_000, n)) + t0
    return make_events(
        t, rng.integers(0, SIZE[0], n), rng.integers(0, SIZE[1], n), rng.integers(0, 2, n)
    )


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("robust") / "rec.aedat4"
    ss.io.write(path, events(10_000), SIZE)
    return path


class RawServer:
    """A one-shot TCP server that sends ``payload`` to its first client, then (optionally)
    waits ``hold_s`` and closes."""

    def __init__(self, payload: bytes, hold_s: float = 0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(DEADLINE_S)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, args=(payload, hold_s), daemon=True)
        self.thread.start()

    def _run(self, payload: bytes, hold_s: float) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.sendall(payload)
            time.sleep(hold_s)
        self.sock.close()

    def source(self, **kw):
        src = open_source(f"tcp://127.0.0.1:{self.port}", timeout_s=kw.pop("timeout_s", 5.0))
        src.reconnects = 0
        return src


HEADER = dvtcp.ioheader(0, SIZE)


def packets(ev: np.ndarray, compression: int = 0) -> bytes:
    return b"".join(dvtcp.event_packets(ev, compression))


def collect(src) -> np.ndarray:
    with src:
        parts = [c.events for c in src]
    return np.concatenate(parts) if parts else np.zeros(0, ss.events.EVENT_DTYPE)


# -- DV TCP client -----------------------------------------------------------------------------


def test_absurd_size_field_is_refused_without_allocating():
    good = events(100)
    server = RawServer(HEADER + packets(good) + struct.pack("<ii", 0, 0x7FFFFFF0) + b"x" * 64)
    src = server.source()
    chunks = iter(src)
    got = [next(chunks).events]  # the good packet (and the decoder's first-use setup)
    tracemalloc.start()
    with pytest.raises(StreamError, match=r"claims 2147483632 bytes.*refused"):
        for chunk in chunks:
            got.append(chunk.events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    src.close()
    assert peak < 4 << 20  # the 2 GiB the field claims was never allocated
    assert np.array_equal(np.concatenate(got), good)


def test_negative_size_field_is_a_stream_error():
    server = RawServer(HEADER + struct.pack("<ii", 0, -5))
    with pytest.raises(StreamError, match="claims -5 bytes"):
        collect(server.source())


def test_malformed_packets_are_skipped_and_counted():
    a, b = events(50, 1), events(60, 2, t0=200_000)
    bad_payloads = [
        b"\x00" * 40,  # no EVTS identifier
        packets(a)[8:40],  # cut-short flatbuffer
        b"\xff" * 32,  # offsets pointing outside
    ]
    off_sensor = a.copy()
    off_sensor["x"][3] = 500  # x past the declared 64 pixels
    bad = b"".join(struct.pack("<ii", 0, len(p)) + p for p in bad_payloads)
    other_stream = struct.pack("<ii", 7, 4) + b"abcd"
    server = RawServer(HEADER + packets(a) + bad + packets(off_sensor) + other_stream + packets(b))
    src = server.source()
    got = collect(src)
    assert np.array_equal(got, np.concatenate([a, b]))
    assert src.stats["bad_packets"] == 4 and src.stats["other_packets"] == 1


def test_lz4_garbage_under_an_lz4_header_is_skipped():
    a = events(80)
    payload = b"\x04\x22\x4d\x18" + b"\x55" * 30  # LZ4 frame magic, then junk
    server = RawServer(
        dvtcp.ioheader(1, SIZE) + struct.pack("<ii", 0, len(payload)) + payload + packets(a, 1)
    )
    src = server.source()
    assert np.array_equal(collect(src), a)
    assert src.stats["bad_packets"] == 1


def test_truncated_packet_is_counted_and_ends_the_stream():
    a = events(100)
    cut = packets(events(100, 3, t0=500_000))[:-17]
    server = RawServer(HEADER + packets(a) + cut)
    src = server.source()
    assert np.array_equal(collect(src), a)
    assert src.stats["truncated_packets"] == 1 and src.stats["ended"] == "server gone"


@pytest.mark.parametrize(
    "payload, why",
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a DV network stream"),
        (struct.pack("<I", 1 << 30) + b"IOHE", "not a DV network stream"),
        (struct.pack("<I", 40) + b"\x08\0\0\0NOPE" + b"\0" * 32, "no IOHE identifier"),
        (HEADER[:30], "closed inside the stream header"),
        (b"", "closed before the stream header"),
    ],
)
def test_bad_headers_are_stream_errors(payload, why):
    server = RawServer(payload)
    with pytest.raises(StreamError, match=why):
        open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=5.0)


def test_read_timeout_is_a_stream_error():
    server = RawServer(HEADER, hold_s=3.0)
    src = server.source(timeout_s=DEADLINE_S)  # the header arrives under the normal deadline
    src.timeout_s = 0.3
    with pytest.raises(StreamTimeout, match=r"no data for 0\.3 s"):
        collect(src)


def test_nothing_listening_is_a_stream_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(StreamError, match="cannot connect"):
        open_source(f"tcp://127.0.0.1:{port}", timeout_s=1.0)


def test_close_from_another_thread_unblocks_a_waiting_client():
    server = RawServer(HEADER, hold_s=3.0)
    src = server.source(timeout_s=None)
    threading.Timer(0.2, src.close).start()
    assert len(collect(src)) == 0 and src.stats["ended"] == "closed"


def test_a_server_that_never_sends_the_header_is_a_stream_error():
    # accepts, then sends nothing: with no read timeout the header wait is still bounded
    server = RawServer(b"", hold_s=3.0)
    with pytest.raises(
        StreamError, match=r"incomplete at its deadline \(0 bytes.*header_timeout_s"
    ):
        dvtcp.DvTcpSource("127.0.0.1", server.port, timeout_s=None, header_timeout_s=0.3)


class TrickleServer(RawServer):
    """Sends ``head`` at once, then ``tail`` one byte per 50 ms (a slow-loris server)."""

    def __init__(self, head: bytes, tail: bytes):
        super().__init__(b"", 0.0)
        self.head, self.tail = head, tail

    def _run(self, payload: bytes, hold_s: float) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.sendall(self.head)
            for i in range(len(self.tail)):
                try:
                    conn.sendall(self.tail[i : i + 1])
                except OSError:
                    break
                time.sleep(0.05)
        self.sock.close()


def test_a_server_that_trickles_the_header_is_a_stream_error():
    server = TrickleServer(b"", HEADER)
    with pytest.raises(StreamError, match="incomplete at its deadline"):
        dvtcp.DvTcpSource("127.0.0.1", server.port, timeout_s=None, header_timeout_s=0.3)


def test_a_server_that_trickles_a_packet_is_a_stream_error():
    # each byte resets the idle timeout; the message deadline still ends it
    a = events(20)
    server = TrickleServer(HEADER + packets(a) + packets(a)[:6], packets(a)[6:])
    src = dvtcp.DvTcpSource(
        "127.0.0.1", server.port, timeout_s=DEADLINE_S, message_timeout_s=0.3, reconnects=0
    )
    got = []
    with pytest.raises(StreamError, match="incomplete at its deadline"):
        with src:
            for chunk in src:
                got.append(chunk.events)
    assert len(got) == 1 and np.array_equal(got[0], a)


@pytest.mark.parametrize("size", [(0, 48), (4_000_000_000, 48), (64, 0)])
def test_an_absurd_declared_sensor_size_is_a_stream_error(size):
    xml = ss.io.aedat4.description_xml("none", size, "x")
    header = ss.io.flatbuf.build_ioheader(0, -1, xml)
    server = RawServer(struct.pack("<I", len(header)) + header + packets(events(10)), hold_s=1.0)
    with pytest.raises(StreamError, match=r"sensor size.*pass sensor_size=\(W, H\)"):
        server.source()


def test_the_sensor_size_override_accepts_such_a_stream():
    xml = ss.io.aedat4.description_xml("none", (0, 48), "x")
    header = ss.io.flatbuf.build_ioheader(0, -1, xml)
    a = events(30)
    server = RawServer(struct.pack("<I", len(header)) + header + packets(a))
    src = open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=5.0, sensor_size=SIZE)
    src.reconnects = 0
    assert src.sensor_size == SIZE and np.array_equal(collect(src), a)


def test_a_zstd_bomb_is_skipped_in_bounded_memory():
    # 16 MiB of zeros in a few hundred bytes, no content size declared: the decoded-bytes limit
    # is max_packet_bytes (1 MiB here), so decoding stops there instead of at 256 MiB
    bomb = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(bytes(16 << 20))
    assert len(bomb) < 4096
    a = events(200)
    server = RawServer(
        dvtcp.ioheader(3, SIZE) + struct.pack("<ii", 0, len(bomb)) + bomb + packets(a, 3)
    )
    src = dvtcp.DvTcpSource(
        "127.0.0.1", server.port, timeout_s=5.0, reconnects=0, max_packet_bytes=1 << 20
    )
    tracemalloc.start()
    got = collect(src)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(got, a) and src.stats["bad_packets"] == 1
    assert peak < 4 << 20


def test_the_event_check_is_compiled_before_the_first_packet():
    server = RawServer(HEADER + packets(events(50)))
    src = server.source()
    before = list(dvtcp._first_bad.signatures)
    assert before  # warmed in __init__
    collect(src)
    assert list(dvtcp._first_bad.signatures) == before  # the real call compiled nothing new


# -- DV TCP server -----------------------------------------------------------------------------


def test_a_client_that_connects_and_vanishes_does_not_stop_the_others(rec_path):
    # as fast as possible: the server waits for its clients, and drops the one that left
    with StreamServer(rec_path, "dv-tcp", speed=None, loop=True, wait_clients=2) as server:
        server.start()
        ghost = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
        src = open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=DEADLINE_S)
        ghost.recv(16)
        # vanish with a reset (SO_LINGER 0) and unread data: the server's next send fails
        ghost.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ghost.close()
        have = 0
        with src:
            for chunk in src:
                have += len(chunk.events)
                if server.stats["clients_dropped"] and have > 30_000:
                    # read before leaving the loop: that closes our connection with unread data
                    # (a reset), which the server counts as a drop too
                    dropped, clients = server.stats["clients_dropped"], server.client_count
                    break
        assert dropped == 1 and clients == 1
    assert server.wait(DEADLINE_S)


def test_a_client_that_stops_reading_costs_bounded_memory(rec_path):
    # paced replay (50x: 5 Mev/s): a client that falls behind skips the oldest packets
    limit = 1 << 16
    server = StreamServer(
        rec_path, "dv-tcp", speed=50.0, loop=True, wait_clients=1, compression="none",
        client_buffer_bytes=limit, send_timeout_s=1.0,
    ).start()  # fmt: skip
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        deadline = time.monotonic() + DEADLINE_S
        peak = 0
        while time.monotonic() < deadline and not server.stats["clients_dropped"]:
            with server._lock:
                peak = max([peak] + [c.queued for c in server._clients])
            time.sleep(0.01)
        # the stalled client skipped packets (counted), its queue never passed the limit,
        # and after send_timeout_s without progress it was dropped
        assert server.stats["skipped_packets"] > 0
        assert peak <= limit
        assert server.stats["clients_dropped"] == 1
    finally:
        stalled.close()
        server.stop()


def test_stop_ends_a_send_blocked_on_a_client_that_stopped_reading(rec_path):
    # as fast as possible, the sender of a client that reads nothing blocks in sendall; stop()
    # ends that send at once. send_timeout_s outlasts stop()'s own join (10 s): without that,
    # stop() would give up with the sender and the replay still running, the port still bound
    limit = 1 << 16
    server = StreamServer(
        rec_path, "dv-tcp", speed=None, loop=True, wait_clients=1, client_buffer_bytes=limit,
        send_timeout_s=60.0,
    ).start()  # fmt: skip
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        # wait until the kernel's buffers are full: the queue stays full and nothing more is
        # sent (the sender is blocked in sendall). However long that takes, stop() must end it.
        deadline = time.monotonic() + DEADLINE_S
        clients: list = []
        still, last = 0, -1
        while time.monotonic() < deadline and still < 5:
            time.sleep(0.05)
            with server._lock:
                clients = list(server._clients)
                sent = server.stats["bytes_sent"]
            full = bool(clients) and clients[0].queued > limit // 2
            still = still + 1 if full and sent == last else 0
            last = sent
        assert len(clients) == 1 and clients[0].queued > limit // 2 and sent > 0
        server.stop()
        # stop() returned with the sender and the replay ended and the listener closed
        assert not clients[0].thread.is_alive() and clients[0].closed
        assert server._thread is not None and not server._thread.is_alive()
        assert server._listener is not None and server._listener.fileno() == -1
        # halted, not dropped
        assert server.stats["interrupted"] and server.stats["clients_dropped"] == 0
    finally:
        stalled.close()
        server.stop()


def test_client_reconnects_when_the_server_restarts(rec_path):
    first = StreamServer(rec_path, "dv-tcp", speed=None, loop=True, wait_clients=1).start()
    port = first.port
    src = open_source(f"tcp://127.0.0.1:{port}", timeout_s=DEADLINE_S)
    src.reconnects, src.backoff_s = 20, 0.05
    second = None
    counts = []
    try:
        with src:
            for chunk in src:
                counts.append(len(chunk.events))
                if sum(counts) > 20_000 and second is None:
                    first.stop()  # mid-stream
                    second = StreamServer(
                        rec_path, "dv-tcp", port=port, speed=None, loop=True, wait_clients=1
                    ).start()
                if src.stats["reconnects"] and src.stats["events"] > 40_000:
                    break
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert src.stats["reconnects"] == 1
    assert second is not None and second.stats["clients_total"] == 1


def test_with_no_client_nothing_is_encoded_and_fast_replay_waits(rec_path):
    fast = StreamServer(rec_path, "dv-tcp", speed=None, loop=True, wait_clients=0).start()
    paced = StreamServer(rec_path, "dv-tcp", speed=20.0, wait_clients=0, linger_s=0).start()
    try:
        assert paced.wait(DEADLINE_S)  # 100 ms of recording at 20x, nobody connected
        # as fast as possible with --loop and nobody connected: waits instead of spinning
        assert fast.source.stats["chunks"] == 0 and fast.stats["events"] == 0
        src = open_source(f"tcp://127.0.0.1:{fast.port}", timeout_s=DEADLINE_S)
        src.reconnects = 0
        with src:
            for _chunk in src:
                if src.stats["events"] >= 10_000:
                    break
    finally:
        fast.stop()
    assert paced.stats["packets"] == 0 and paced.stats["unsent_events"] == 10_000
    assert fast.stats["events"] >= 10_000


def test_a_client_that_resets_after_the_last_packet_is_not_counted_dropped(rec_path):
    server = StreamServer(rec_path, "dv-tcp", speed=None, wait_clients=1, linger_s=DEADLINE_S)
    server.start()
    src = open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=DEADLINE_S)
    src.reconnects = 0
    chunks = iter(src)
    have = 0
    for chunk in chunks:
        have += len(chunk.events)
        if have >= 10_000:
            break
    # leave with a reset while the server lingers
    src._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    chunks.close()  # type: ignore[attr-defined]
    assert server.wait(DEADLINE_S)
    assert have == 10_000 and server.stats["clients_dropped"] == 0


def test_stop_closes_the_sockets_of_a_server_that_never_ran(rec_path):
    server = StreamServer(rec_path, "dv-tcp")
    server.bind()
    port = server.port
    server.stop()
    assert server._listener is not None and server._listener.fileno() == -1
    with pytest.raises(StreamError, match="cannot connect"):
        open_source(f"tcp://127.0.0.1:{port}", timeout_s=1.0)
    udp = StreamServer(rec_path, "spif-udp", port=9)
    udp.bind()
    assert udp._udp is not None and udp._udp.getblocking() is False  # full buffer: dropped
    udp.stop()
    assert udp._udp.fileno() == -1


# -- SPIF UDP ----------------------------------------------------------------------------------


def test_udp_garbage_is_counted_and_skipped():
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE, timeout_s=2.0)
    good = events(300)
    junk = [
        b"abc",  # not a multiple of 4 bytes
        b"\x00" * 8,  # a timestamped event ...
        struct.pack("<I", 5 << 16),  # ... missing its timestamp word
        np.full(16, 0x7FFF7FFF | (1 << 31), "<u4").tobytes(),  # coordinates off the sensor
        b"",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for j in junk:
            tx.sendto(j, ("127.0.0.1", src.port))
        spif.send_events(tx, ("127.0.0.1", src.port), good, timestamps=True)
        got = []
        with src:
            for chunk in src:
                got.append(chunk.events)
                if sum(map(len, got)) >= len(good):
                    break
    # "\x00" * 8 is one well-formed timestamped event at (0, 0): it decodes
    got_ev = np.concatenate(got)
    assert len(got_ev) == len(good) + 1
    assert np.array_equal(got_ev[1:][["x", "y", "p"]], good[["x", "y", "p"]])
    assert src.stats["bad_packets"] == 4


def test_udp_listener_times_out_and_closes_from_another_thread():
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE, timeout_s=0.3)
    with pytest.raises(StreamTimeout, match=r"no data for 0\.3 s"):
        collect(src)
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE)
    threading.Timer(0.2, src.close).start()
    assert len(collect(src)) == 0


def test_udp_datagrams_of_the_other_time_base_are_refused_and_counted():
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE, timeout_s=2.0)
    assert spif._decode.signatures  # compiled (or loaded) before the first datagram
    before = list(spif._decode.signatures)
    a, b = events(40, 1), events(40, 2)
    stamped = spif.encode_words(a, 0, timestamps=True)
    mixed = np.concatenate([stamped[:2], spif.encode_words(b[:3], timestamps=False)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for words in (stamped, spif.encode_words(b, timestamps=False), mixed, stamped):
            tx.sendto(words.astype("<u4").tobytes(), ("127.0.0.1", src.port))
        got = []
        with src:
            for chunk in src:
                got.append(chunk.events)
                if sum(map(len, got)) >= 2 * len(a):
                    break
    got_ev = np.concatenate(got)
    # the first datagram fixed the time base (timestamps): only those events, on that base
    assert np.array_equal(got_ev, np.concatenate([a, a]))
    assert src.stats["mixed_time_base"] == 2 and src.stats["bad_packets"] == 2
    assert list(spif._decode.signatures) == before  # the real calls compiled nothing new


# -- spikestream serve -------------------------------------------------------------------------


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["sigint-default", "sigint-ignored"])
def test_ctrl_c_on_serve_exits_cleanly_with_a_summary(rec_path, sigint_ignored):
    # sigint-ignored: launched as a background job of a non-interactive shell does, with SIGINT
    # ignored (inherited through exec): Python then raises no KeyboardInterrupt, serve's own
    # handler must see the Ctrl-C
    cmd = [sys.executable, "-m", "spikestream", "serve", str(rec_path), "--port", "0", "--loop",
           "--wait-clients", "0"]  # fmt: skip
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if sigint_ignored else None
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    try:
        line = readline(proc, STARTUP_S)
        assert line.startswith("serving ") and "tcp://127.0.0.1:" in line
        port = int(line.split("tcp://127.0.0.1:")[1].split()[0])
        src = open_source(f"tcp://127.0.0.1:{port}", timeout_s=DEADLINE_S)
        src.reconnects = 0
        have = 0
        with src:
            for chunk in src:
                have += len(chunk.events)
                if have >= 500:
                    break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=STARTUP_S)
    finally:
        if proc.poll() is None:  # a failed assertion above: do not leave it running
            proc.kill()
            proc.communicate(timeout=STARTUP_S)
    assert proc.returncode == 130, err  # the CLI's status for Ctrl-C
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("interrupted: ") and ", 1 client(s), " in summary
    # the replay ran while the client read, and stop() waited for it before the summary
    # (a KeyboardInterrupt inside Thread.join made it print "in 0.00 s")
    seconds = float(summary.split(" bytes sent in ")[1].split(" s,")[0])
    assert seconds > 0
    assert "Traceback" not in err


def test_serve_reports_a_recording_corrupt_past_its_start(tmp_path, capsys):
    from spikestream.cli import main

    path = tmp_path / "corrupt.aedat4"
    ss.io.write(path, events(5_000), SIZE, compression="lz4", packet_events=500)
    data = bytearray(path.read_bytes())
    # the 6th packet's payload becomes garbage behind LZ4's frame magic
    (n,) = struct.unpack_from("<I", data, 14)
    pos = 18 + n
    for _ in range(5):
        pos += 8 + struct.unpack_from("<ii", data, pos)[1]
    size = struct.unpack_from("<ii", data, pos)[1]
    data[pos + 12 : pos + 8 + size] = b"\x55" * (size - 4)
    path.write_bytes(bytes(data))
    status = main(["serve", str(path), "--port", "0", "--speed", "50", "--wait-clients", "0"])
    out, err = capsys.readouterr()
    assert out.startswith("serving ") and status == 2  # it failed mid-replay
    assert err.startswith("spikestream: error: ") and "corrupt compressed packet" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_serve_bad_arguments_are_one_line_errors(rec_path, tmp_path):
    from spikestream.cli import main

    assert main(["serve", str(tmp_path / "missing.aedat4")]) == 2
    assert main(["serve", str(rec_path), "--protocol", "spif-udp", "--port", "0"]) == 2
    assert main(["serve", str(rec_path), "--compression", "gzip"]) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "70000"], "argument --port: must be 0..65535 (0: any free port), got '70000'"),
        (["--port", "x"], "argument --port: must be 0..65535"),
        (["--wait-clients", "-1"], "argument --wait-clients: expected a whole number >= 0"),
    ],
)
def test_serve_refuses_bad_numbers_before_binding(rec_path, capsys, extra, message):
    from spikestream.cli import main

    assert main(["serve", str(rec_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
