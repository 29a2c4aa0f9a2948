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

import spikestream as ss
from spikestream.errors import StreamError
from spikestream.events import make_events
from spikestream.live import dvtcp, spif
from spikestream.live.server import StreamServer
from spikestream.live.sources import open_source

SIZE = (64, 48)
DEADLINE_S = 10.0


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
    src = server.source(timeout_s=0.3)
    with pytest.raises(StreamError, match=r"no data for 0\.3 s"):
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
                    break
        assert server.stats["clients_dropped"] == 1 and server.client_count == 1
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
    with pytest.raises(StreamError, match=r"no data for 0\.3 s"):
        collect(src)
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE)
    threading.Timer(0.2, src.close).start()
    assert len(collect(src)) == 0


# -- spikestream serve -------------------------------------------------------------------------


def test_ctrl_c_on_serve_exits_cleanly_with_a_summary(rec_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "spikestream", "serve", str(rec_path), "--port", "0", "--loop",
         "--wait-clients", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("serving ") and "tcp://127.0.0.1:" in line
        port = int(line.split("tcp://127.0.0.1:")[1].split()[0])
        src = open_source(f"tcp://127.0.0.1:{port}", timeout_s=DEADLINE_S)
        src.reconnects = 0
        have = 0
        for chunk in src:
            have += len(chunk.events)
            if have >= 500:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE_S)
        src.close()
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted:" in out and "1 client(s)" in out
    assert "Traceback" not in err


def test_serve_bad_arguments_are_one_line_errors(rec_path, tmp_path):
    from spikestream.cli import main

    assert main(["serve", str(tmp_path / "missing.aedat4")]) == 2
    assert main(["serve", str(rec_path), "--protocol", "spif-udp", "--port", "0"]) == 2
    assert main(["serve", str(rec_path), "--compression", "gzip"]) == 2
