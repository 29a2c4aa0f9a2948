"""Interoperability with iniVation's own implementation (dv-processing, the dev extra): its
``NetworkReader`` reads our server's stream event for event, and our client reads its
``NetworkWriter`` event for event.

The peer runs in another process: ``NetworkReader``'s constructor holds the GIL while it waits
for the header, and a ``NetworkWriter`` destroyed with a client connected deadlocks (see
`tests.dv_peer`)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import spikestream as ss
from spikestream.live.sources import open_source

from .conftest import real_dir  # noqa: F401  (fixture)
from .dv_peer import STARTUP_S, readline, start_writer

dv = pytest.importorskip("dv_processing")

DEADLINE_S = 15.0
SIZE = (64, 48)


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    rng = np.random.default_rng(1)
    n = 20_000
    t = np.sort(rng.integers(0, 200_000, n)) + 1_600_000_000_000_000
    ev = ss.events.make_events(
        t, rng.integers(0, SIZE[0], n), rng.integers(0, SIZE[1], n), rng.integers(0, 2, n)
    )
    path = tmp_path_factory.mktemp("dv") / "synthetic.aedat4"
    ss.io.write(path, ev, SIZE)
    return path


def start_serve(path, compression: str) -> tuple[subprocess.Popen, int]:
    """`spikestream serve` in a subprocess on a free port; (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "spikestream", "serve", str(path), "--port", "0", "--fast",
         "--compression", compression, "--wait-clients", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = readline(proc, STARTUP_S)
    if "tcp://127.0.0.1:" not in line:
        proc.kill()
        pytest.fail(f"serve did not start: {line!r} {proc.communicate(timeout=5)}")
    return proc, int(line.split("tcp://127.0.0.1:")[1].split()[0])


def dv_read(port: int, want: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    reader = dv.io.NetworkReader("127.0.0.1", port)
    size = reader.getEventResolution()
    parts, have = [], 0
    deadline = time.monotonic() + DEADLINE_S
    while have < want and time.monotonic() < deadline:
        batch = reader.getNextEventBatch()
        if batch is None:
            time.sleep(0.001)
            continue
        a = batch.numpy()
        parts.append(a)
        have += len(a)
    del reader
    got = np.concatenate(parts) if parts else np.zeros(0)
    return got, (None if size is None else (int(size[0]), int(size[1])))


def same_events(dv_events: np.ndarray, ref: np.ndarray) -> bool:
    return (
        len(dv_events) == len(ref)
        and np.array_equal(dv_events["timestamp"], ref["t"])
        and np.array_equal(dv_events["x"], ref["x"])
        and np.array_equal(dv_events["y"], ref["y"])
        and np.array_equal(dv_events["polarity"], ref["p"])
    )


@pytest.mark.parametrize("compression", ["none", "zstd"])  # lz4: the real recording below
def test_dv_network_reader_reads_our_server(rec_path, compression):
    ref = ss.io.read(rec_path).events
    proc, port = start_serve(rec_path, compression)
    try:
        got, size = dv_read(port, len(ref))
        out, _ = proc.communicate(timeout=DEADLINE_S)
    finally:
        proc.kill()
    assert size == SIZE
    assert same_events(got, ref)
    assert proc.returncode == 0 and "done: 20,000 events" in out


def test_dv_network_reader_reads_our_server_real(real_dir):  # noqa: F811
    path = real_dir / "tonic/sample.aedat4"
    rec = ss.io.read(path)
    proc, port = start_serve(path, "lz4")
    try:
        got, size = dv_read(port, len(rec))
        proc.communicate(timeout=DEADLINE_S)
    finally:
        proc.kill()
    assert size == rec.sensor_size
    assert same_events(got, rec.events)


@pytest.mark.parametrize("compression", ["NONE", "LZ4", "ZSTD"])
def test_our_client_reads_dv_network_writer(real_dir, compression):  # noqa: F811
    path = real_dir / "tonic/sample.aedat4"
    rec = ss.io.read(path)
    proc, port = start_writer(path, compression, deadline_s=DEADLINE_S)
    try:
        src = open_source(f"tcp://127.0.0.1:{port}", timeout_s=DEADLINE_S)
        src.reconnects = 0
        parts, have = [], 0
        with src:
            for chunk in src:
                parts.append(chunk.events)
                have += len(chunk.events)
                if have >= len(rec):
                    break
        proc.wait(timeout=DEADLINE_S)  # it exits once we left
    finally:
        proc.kill()
    got = np.concatenate(parts)
    assert src.sensor_size == rec.sensor_size and src.source_name == "DVXplorer_test"
    assert np.array_equal(got, rec.events)
    assert src.stats["bad_packets"] == 0
