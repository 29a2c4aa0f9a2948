"""Replay equivalence: a recording streamed over loopback (our DV TCP server, SPIF UDP, and
dv-processing's own NetworkWriter) gives, bin for bin, the scores of offline inference on the
same file (`run_offline`: the engine's binning and inference without threads)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import spikestream as ss
from spikestream.live import Engine, EngineConfig, open_source, run_offline
from spikestream.live.dvtcp import DvTcpSource
from spikestream.live.loopback import wait_received
from spikestream.live.server import StreamServer
from spikestream.live.spif import SpifSource
from spikestream.models.checkpoint import load_model

from .test_live_engine import BIN_US, SENSOR, digit_stream, trained_checkpoint

# speed=None: the servers send faster than real time, so bins close on events only (as offline)
CONFIG = EngineConfig(bin_us=BIN_US, overflow="block", queue_bins=64, speed=None)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live_replay")
    ckpt = trained_checkpoint(folder)
    stream, _ = digit_stream(range(1410, 1416))  # six digits, about 2.2 s
    path = folder / "digits.aedat4"
    ss.write(path, ss.Recording(stream, SENSOR))
    model, record = load_model(ckpt)
    offline = run_offline(model, ss.read(path).events, SENSOR, CONFIG, record=record)
    assert len(offline) > 150 and np.stack([r.scores for r in offline]).sum() > 0
    return ckpt, path, offline


def test_offline_equals_trainings_binning_and_forward(replay):
    # the reference itself against training's path: train.data's crop+pool of the events,
    # to_frames by duration (SpikingJelly's fixed bins), the model's multi-step forward;
    # bin for bin, bit for bit (tests may import train; live never does)
    pytest.importorskip("lightning")
    import torch

    from spikestream.train.data import _Geometry
    from spikestream.transforms.functional import to_frames

    ckpt, path, offline = replay
    model, record = load_model(ckpt)
    inp = record.input
    events = _Geometry(inp["crop"], int(inp["pool"]))(ss.read(path).events)
    frames = to_frames(events, (inp["width"], inp["height"]), duration=int(inp["duration_us"]))
    with torch.no_grad():
        scores = model.forward_steps(torch.from_numpy(frames)[:, None])[0][:, 0].numpy()
    # training's last frame also takes an event at exactly its end; every other frame is a bin
    assert len(frames) == len(offline)
    live = np.stack([r.input for r in offline])
    np.testing.assert_array_equal(live[:-1], frames[:-1])
    np.testing.assert_array_equal(np.stack([r.scores for r in offline])[:-1], scores[:-1])


def _run(ckpt, source) -> list:
    seen: list = []
    summary = Engine.from_checkpoint(ckpt, source, config=CONFIG, observers=[seen.append]).run()
    assert summary["dropped_bins"] == 0
    return seen


def _assert_same(live, offline, shift_us: int = 0) -> None:
    assert [r.index for r in live] == [r.index for r in offline]
    assert [r.t_start_us + shift_us for r in live] == [r.t_start_us for r in offline]
    assert [r.n_events for r in live] == [r.n_events for r in offline]
    np.testing.assert_array_equal(
        np.stack([r.scores for r in live]), np.stack([r.scores for r in offline])
    )
    assert [r.decision for r in live] == [r.decision for r in offline]


def test_file_source_equals_offline(replay):
    ckpt, path, offline = replay
    with open_source(f"file:{path}", speed=None) as source:
        _assert_same(_run(ckpt, source), offline)


@pytest.mark.parametrize("compression", ["none", "lz4"])
def test_dv_tcp_from_our_server_equals_offline(replay, compression):
    ckpt, path, offline = replay
    server = StreamServer(path, "dv-tcp", port=0, speed=None, wait_clients=1, linger_s=0.2,
                          compression=compression)  # fmt: skip
    with server:
        server.start()
        source = DvTcpSource("127.0.0.1", server.port, reconnects=0, timeout_s=10)
        live = _run(ckpt, source)
        assert server.wait(10)
    _assert_same(live, offline)


def test_spif_udp_equals_offline(replay):
    ckpt, path, offline = replay
    source = SpifSource("127.0.0.1", 0, sensor_size=SENSOR, timeout_s=10)
    # a modest rate (about 50 kev/s: lossless on loopback), timestamp words on
    server = StreamServer(path, "spif-udp", port=source.port, speed=4.0)
    seen: list = []
    engine = Engine.from_checkpoint(ckpt, source, config=CONFIG, observers=[seen.append])

    def end_when_served() -> None:
        server.wait(20)
        wait_received(source, server, 10)  # every datagram sent reached the listener
        engine.stop(drain=True)

    with server:
        server.start()
        watcher = threading.Thread(target=end_when_served, daemon=True)
        watcher.start()
        engine.run()
        watcher.join(15)
    assert source.stats["datagrams"] == server.stats["datagrams"] > 0
    # SPIF carries times relative to the first event: the same bins, shifted
    t0 = int(ss.read(path).events["t"][0])
    _assert_same(seen, offline, shift_us=t0)


def test_dv_processing_network_writer_equals_offline(replay):
    pytest.importorskip("dv_processing")
    from .dv_peer import start_writer

    ckpt, path, offline = replay
    n = len(ss.read(path).events)
    proc, port = start_writer(path, source="spikestream-test", deadline_s=20)
    try:
        source = DvTcpSource("127.0.0.1", port, reconnects=0, timeout_s=15)
        # the writer sends no end: the stream ends once every event came (it then exits)
        live: list = []
        engine = Engine.from_checkpoint(ckpt, source, config=CONFIG, observers=[live.append])
        got = [0]

        def all_in(events) -> None:
            got[0] += len(events)
            if got[0] >= n:
                engine.stop(drain=True)

        engine.chunk_hooks.append(all_in)
        assert engine.run()["dropped_bins"] == 0 and got[0] == n
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    _assert_same(live, offline)


@pytest.mark.parametrize("protocol", ["dv-tcp", "spif-udp"])
def test_replay_over_loopback_helper(replay, protocol):
    from spikestream.live.loopback import replay_over_loopback, segment_decisions

    ckpt, path, offline = replay
    results, summary = replay_over_loopback(ckpt, path, protocol=protocol, config=CONFIG)
    shift = int(ss.read(path).events["t"][0]) if protocol == "spif-udp" else 0
    _assert_same(results, offline, shift_us=shift)
    assert summary["bins"] == len(offline)
    t0 = offline[0].t_start_us - shift
    segments = [(t0, t0 + 150_000), (t0 + 150_000, t0 + 300_000), (0, 1)]
    decided = segment_decisions(results, segments)
    assert decided[2] is None and len(decided) == 3
    assert decided[:2] == segment_decisions(
        offline, [(a + shift, b + shift) for a, b in segments[:2]]
    )
