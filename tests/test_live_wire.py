"""Live sources and the replay server: file replay, DV TCP and SPIF UDP round trips over
loopback (every socket on 127.0.0.1, port 0, with timeouts), cameras through adapters."""

from __future__ import annotations

import itertools
import sys
import threading
import types

import numpy as np
import pytest

import spikestream as ss
from spikestream.errors import ConfigError, StreamError
from spikestream.events import make_events
from spikestream.live import sources, spif
from spikestream.live.cameras import DvCameraSource, MetavisionSource, open_camera
from spikestream.live.server import StreamServer, serve
from spikestream.live.sources import EventChunk, EventSource, FileSource, open_source

from .conftest import real_dir  # noqa: F401  (fixture)

SIZE = (64, 48)
N = 20_000
DEADLINE_S = 10.0


def synthetic(n: int = N, span_us: int = 200_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n)) + 1_600_000_000_000_000  # DV-style absolute µs
    return make_events(
        t, rng.integers(0, SIZE[0], n), rng.integers(0, SIZE[1], n), rng.integers(0, 2, n)
    )


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "synthetic.aedat4"
    ss.io.write(path, synthetic(), SIZE)
    return path


def read_all(source: EventSource, want: int | None = None) -> np.ndarray:
    """Events of a source until it ends (or ``want`` events arrived), closing it after."""
    parts, have = [], 0
    with source:
        for chunk in source:
            assert isinstance(chunk, EventChunk) and chunk.events.dtype == ss.events.EVENT_DTYPE
            parts.append(chunk.events)
            have += len(chunk.events)
            if want is not None and have >= want:
                break
    return np.concatenate(parts) if parts else np.zeros(0, ss.events.EVENT_DTYPE)


def tcp_round_trip(path, *, compression="none", speed=None, clients=1, **client_opts):
    server = StreamServer(
        path,
        "dv-tcp",
        port=0,
        speed=speed,
        wait_clients=clients,
        compression=compression,
        linger_s=0.2,
    ).start()
    try:
        sources = [
            open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=DEADLINE_S)
            for _ in range(clients)
        ]
        for s in sources:
            s.reconnects = 0  # the end of the replay ends the stream
        results: list = [None] * clients
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, read_all(sources[i])))
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE_S)
        assert server.wait(DEADLINE_S)
        return results, sources, server
    finally:
        server.stop()


# -- file replay -------------------------------------------------------------------------------


def test_file_replay_equals_the_file_in_time_chunks(rec_path):
    ref = ss.io.read(rec_path).events
    src = open_source(f"file:{rec_path}", speed=None)
    assert isinstance(src, FileSource) and src.sensor_size == SIZE
    chunks = list(src)
    got = np.concatenate([c.events for c in chunks])
    assert np.array_equal(got, ref)
    # one chunk per non-empty 1 ms of recorded time, arrival times non-decreasing
    t0 = int(ref["t"][0])
    for c in chunks:
        assert len(np.unique((c.events["t"] - t0) // 1000)) == 1
    assert len(chunks) == len(np.unique((ref["t"] - t0) // 1000))
    assert all(a.arrival_ns <= b.arrival_ns for a, b in itertools.pairwise(chunks))
    assert src.stats["events"] == N and src.stats["chunks"] == len(chunks)


@pytest.mark.parametrize("chunk_us", [7, 1000, 50_000, 10**9])
def test_file_replay_windows_span_decoded_blocks(rec_path, tmp_path, chunk_us):
    # 700-event packets: windows start, end and continue across the decoder's blocks
    ref = ss.io.read(rec_path).events
    path = tmp_path / "small_packets.aedat4"
    ss.io.write(path, ref, SIZE, packet_events=700)
    chunks = list(FileSource(path, speed=None, chunk_us=chunk_us))
    assert np.array_equal(np.concatenate([c.events for c in chunks]), ref)
    windows = (ref["t"] - ref["t"][0]) // chunk_us
    assert [int(w) for w in np.unique(windows)] == [
        int((c.events["t"][0] - ref["t"][0]) // chunk_us) for c in chunks
    ]
    assert all(
        (c.events["t"][-1] - ref["t"][0]) // chunk_us
        == (c.events["t"][0] - ref["t"][0]) // chunk_us
        for c in chunks
    )


def test_file_replay_releases_a_huge_window_in_bounded_parts(rec_path, tmp_path, monkeypatch):
    # one window for the whole recording, decoded in 700-event blocks: pieces collected and
    # released once MAX_PENDING_EVENTS are held (not one 20,000-event concatenation chain)
    monkeypatch.setattr(sources, "MAX_PENDING_EVENTS", 2000)
    ref = ss.io.read(rec_path).events
    path = tmp_path / "small_packets.aedat4"
    ss.io.write(path, ref, SIZE, packet_events=700)
    chunks = list(FileSource(path, speed=None, chunk_us=10**9))
    assert np.array_equal(np.concatenate([c.events for c in chunks]), ref)
    assert [len(c.events) for c in chunks] == [2100] * 9 + [1100]


def test_copy_events_is_a_writable_byte_copy():
    from spikestream.events.dtype import copy_events

    ev = synthetic(50)
    ro = np.frombuffer(ev.tobytes(), dtype=ev.dtype)
    out = copy_events(ro[::2])
    assert out.dtype == ss.events.EVENT_DTYPE and out.flags.writeable
    assert np.array_equal(out, ev[::2]) and not np.shares_memory(out, ev)


def test_a_source_name_with_xml_specials_round_trips(tmp_path):
    name = "cam <\"A&B\"> '1'"
    path = tmp_path / "named.aedat4"
    ss.io.write(path, synthetic(10), SIZE, source=name)
    assert ss.io.read(path).metadata["source"] == name
    server = StreamServer(path, "dv-tcp", speed=None, wait_clients=1, source_name=name).start()
    try:
        src = open_source(f"tcp://127.0.0.1:{server.port}", timeout_s=DEADLINE_S)
        assert src.source_name == name
        src.close()
    finally:
        server.stop()


def test_file_replay_paces_by_recorded_time(rec_path, monkeypatch):
    # A fake monotonic clock that the source's waits advance: each chunk must be released
    # exactly when its last event is due at 4x speed, with no real waiting.
    clock = types.SimpleNamespace(ns=10**12)

    class FakeStop(threading.Event):
        def wait(self, timeout=None):
            clock.ns += round(timeout * 1e9)
            return False

    monkeypatch.setattr(sources.time, "monotonic_ns", lambda: clock.ns)
    src = open_source(rec_path, speed=4.0)
    src._stop = FakeStop()
    start = clock.ns
    chunks = list(src)
    t0 = int(chunks[0].events["t"][0])
    for c in chunks:
        due = start + (int(c.events["t"][-1]) - t0) * 1000 / 4
        assert abs(c.arrival_ns - due) <= 1000  # within 1 µs of rounding
    assert src.stats["late_chunks"] == 0


def test_file_replay_loop_shifts_each_pass_after_the_last(rec_path):
    ref = ss.io.read(rec_path).events
    src = open_source(rec_path, speed=None, loop=True)
    got = read_all(src, want=2 * N + 1)
    assert np.all(np.diff(got["t"]) >= 0)
    shift = int(ref["t"][-1] - ref["t"][0]) + 1000
    assert np.array_equal(got["t"][N : 2 * N], ref["t"] + shift)
    assert np.array_equal(got[["x", "y", "p"]][N : 2 * N], ref[["x", "y", "p"]])
    assert src.stats["passes"] == 2


def test_close_from_another_thread_stops_a_paced_replay(rec_path):
    src = open_source(rec_path, speed=0.001)  # 200 s of replay
    timer = threading.Timer(0.3, src.close)
    timer.start()
    got = read_all(src)
    timer.join()
    assert len(got) < N and src.closed
    src.close()  # idempotent


@pytest.mark.parametrize(
    "spec, why",
    [
        ("tcp://127.0.0.1", "HOST:PORT"),
        ("tcp://:7777", "give a host"),
        ("udp://:99999", "port 0..65535"),
        ("udp://:3333", "sensor_size"),
        ("ftp://x:1", "unknown source"),
        ("metavision:", "OpenEB"),
        ("nope.aedat4", "no such file"),
    ],
)
def test_bad_specs_raise_config_errors_naming_the_fix(spec, why):
    with pytest.raises(ConfigError, match=why.replace("[", r"\[").replace("]", r"\]")):
        open_source(spec)


def test_bad_speed_is_a_config_error(rec_path):
    with pytest.raises(ConfigError, match="speed"):
        open_source(rec_path, speed=0)


# -- DV TCP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "lz4", "lz4_high", "zstd", "zstd_high"])
def test_tcp_round_trip_synthetic_every_compression(rec_path, compression):
    ref = ss.io.read(rec_path).events
    (got,), (src,), server = tcp_round_trip(rec_path, compression=compression)
    assert np.array_equal(got, ref)
    assert src.sensor_size == SIZE and src.compression == ss.io.aedat4.COMPRESSION[compression]
    assert src.stats["events"] == N and src.stats["bad_packets"] == 0
    assert src.stats["ended"] == "server gone"
    assert server.stats["events"] == N and server.stats["clients_total"] == 1


def test_tcp_several_clients_each_get_the_whole_stream(rec_path):
    ref = ss.io.read(rec_path).events
    results, _, server = tcp_round_trip(rec_path, clients=3, speed=2.0, compression="lz4")
    for got in results:
        assert np.array_equal(got, ref)
    assert server.stats["clients_total"] == 3 and server.stats["skipped_packets"] == 0


@pytest.mark.parametrize(
    "name",
    ["tonic/sample.aedat4", "event-vision-library/sample.aedat4", "expelliarmus/evt3_sample.raw"],
)
def test_tcp_round_trip_real_recordings(real_dir, name):  # noqa: F811
    rec = ss.io.read(real_dir / name)
    (got,), (src,), _ = tcp_round_trip(real_dir / name, compression="lz4")
    assert len(got) == len(rec) > 6000
    assert np.array_equal(got, rec.events)
    assert src.sensor_size == rec.sensor_size


def test_serve_function_with_ready_and_stop_events(rec_path):
    ready, stop = threading.Event(), threading.Event()
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(
            stats=serve(
                rec_path,
                "dv-tcp",
                "127.0.0.1",
                0,
                speed=None,
                loop=True,
                ready=ready,
                stop=stop,
                on_ready=lambda s: box.update(port=s.port),
                wait_clients=1,
            )
        )
    )
    thread.start()
    assert ready.wait(DEADLINE_S)
    got = read_all(open_source(f"tcp://127.0.0.1:{box['port']}", timeout_s=DEADLINE_S), 3 * N)
    stop.set()
    thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert len(got) >= 3 * N and np.all(np.diff(got["t"]) >= 0)
    assert box["stats"]["interrupted"] and box["stats"]["events"] >= 3 * N


# -- SPIF UDP ----------------------------------------------------------------------------------


def udp_round_trip(path, *, speed, timestamps=True, want):
    listener = open_source("udp://:0", sensor_size=ss.io.read(path).sensor_size, timeout_s=2.0)
    server = StreamServer(path, "spif-udp", port=listener.port, speed=speed, timestamps=timestamps)
    server.start()
    try:
        return read_all(listener, want), listener, server
    finally:
        server.stop()


@pytest.mark.parametrize("timestamps", [True, False])
def test_udp_round_trip_synthetic(rec_path, timestamps):
    # 20,000 events over 200 ms recorded (100 kev/s, ~160-320 datagrams of <= 512 bytes):
    # lossless on loopback
    ref = ss.io.read(rec_path).events
    got, listener, server = udp_round_trip(rec_path, speed=1.0, timestamps=timestamps, want=N)
    assert len(got) == N
    assert np.array_equal(got[["x", "y", "p"]], ref[["x", "y", "p"]])
    if timestamps:  # sent relative to the first event
        assert np.array_equal(got["t"], ref["t"] - ref["t"][0])
    else:  # arrival times on the listener's clock
        assert np.all(np.diff(got["t"]) >= 0) and got["t"][0] >= 0
    assert listener.stats["bad_packets"] == 0
    assert listener.stats["datagrams"] == server.stats["datagrams"]


def test_udp_round_trip_real_recording(real_dir):  # noqa: F811
    # tonic's DVXplorer sample: 111,954 events over 0.59 s at recorded speed (190 kev/s)
    rec = ss.io.read(real_dir / "tonic/sample.aedat4")
    got, listener, _ = udp_round_trip(real_dir / "tonic/sample.aedat4", speed=1.0, want=len(rec))
    assert len(got) == len(rec)
    assert np.array_equal(got[["x", "y", "p"]], rec.events[["x", "y", "p"]])
    assert np.array_equal(got["t"], rec.events["t"] - rec.events["t"][0])
    assert listener.sensor_size == rec.sensor_size


def test_spif_word_layout_matches_the_spec():
    ev = make_events([5, 70_000], [3, 32767], [7, 1], [1, 0])
    words = spif.encode_words(ev, 0, timestamps=False)
    assert words.tolist() == [
        (1 << 31) | (3 << 16) | (1 << 15) | 7,
        (1 << 31) | (32767 << 16) | 1,
    ]
    pairs = spif.encode_words(ev, 0, timestamps=True)
    assert pairs.tolist() == [(3 << 16) | (1 << 15) | 7, 5, (32767 << 16) | 1, 70_000]


def test_spif_timestamps_unwrap_past_32_bits():
    src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE)
    try:
        raw = np.array([4_294_967_000, 100, 200], dtype=np.int64)
        src._raw_t[:3] = raw
        first = src._times(1, 0)
        src._raw_t[:2] = raw[1:]
        rest = src._times(2, 0)
    finally:
        src.close()
    assert first.tolist() == [4_294_967_000]
    assert rest.tolist() == [(1 << 32) + 100, (1 << 32) + 200]
    assert src.stats["timestamp_wraps"] == 1


# -- cameras -----------------------------------------------------------------------------------


def test_dv_camera_adapter_reads_a_dv_processing_recording(real_dir):  # noqa: F811
    dv = pytest.importorskip("dv_processing")
    path = real_dir / "tonic/sample.aedat4"
    src = DvCameraSource(dv.io.MonoCameraRecording(str(path)), timeout_s=DEADLINE_S)
    assert src.sensor_size == (320, 240)
    assert np.array_equal(read_all(src), ss.io.read(path).events)


def test_metavision_adapter_with_a_fake_openeb(monkeypatch, rec_path):
    ref = ss.io.read(rec_path).events
    cd = np.dtype({"names": ["x", "y", "p", "t"], "formats": ["<u2", "<u2", "<i2", "<i8"],
                   "offsets": [0, 2, 4, 8], "itemsize": 16})  # fmt: skip
    slices = np.array_split(ref, 7)

    class EventsIterator:
        def __init__(self, input_path, mode, delta_t):
            assert (input_path, mode, delta_t) == ("SERIAL1", "delta_t", 1000)

        def get_size(self):
            return SIZE[1], SIZE[0]  # (height, width)

        def __iter__(self):
            for s in slices:
                out = np.zeros(len(s), cd)
                for f in "xypt":
                    out[f] = s[f]
                yield out

    module = types.ModuleType("metavision_core.event_io")
    module.EventsIterator = EventsIterator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "metavision_core", types.ModuleType("metavision_core"))
    monkeypatch.setitem(sys.modules, "metavision_core.event_io", module)
    src = open_source("metavision:SERIAL1")
    assert isinstance(src, MetavisionSource) and src.sensor_size == SIZE
    assert np.array_equal(read_all(src), ref)


def test_metavision_source_times_out_on_empty_slices():
    empty = np.zeros(0, np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")]))
    first = np.zeros(3, empty.dtype)
    first["t"], first["x"] = [1, 2, 3], [0, 1, 2]

    def slices():
        yield first
        while True:  # the camera went quiet: EventsIterator keeps yielding empty slices
            yield empty

    src = MetavisionSource(slices(), sensor_size=SIZE, timeout_s=0.05)
    got = []
    with pytest.raises(StreamError, match=r"no events for 0\.05 s"):
        for chunk in src:
            got.append(chunk.events)
    assert [e["t"].tolist() for e in got] == [[1, 2, 3]]


def test_camera_events_are_validated_by_make_events():
    bad = np.zeros(2, np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "<i2"), ("t", "<i8")]))
    bad["x"] = [3, -1]  # a negative coordinate: refused, not wrapped to 65535
    with pytest.raises(ss.SpikestreamError, match="x"):
        list(MetavisionSource([bad], sensor_size=SIZE))


def test_dv_camera_polling_backs_off_while_idle():
    class Idle:
        calls = 0

        def getEventResolution(self):
            return SIZE

        def getNextEventBatch(self):
            self.calls += 1
            return None

        def isRunning(self):
            return self.calls < 8

    src = DvCameraSource(Idle())
    waits: list[float] = []
    src._stop = types.SimpleNamespace(is_set=lambda: False, wait=waits.append)  # type: ignore
    assert list(src) == []
    assert waits == [0.0005, 0.001, 0.002, 0.004, 0.004, 0.004, 0.004]


def test_dv_camera_without_a_camera_is_a_stream_error(monkeypatch):
    dv = pytest.importorskip("dv_processing")

    def no_camera(*args):
        raise RuntimeError("no device found")

    monkeypatch.setattr(dv.io.camera, "open", no_camera)
    with pytest.raises(StreamError, match="cannot open the camera"):
        open_camera("dv:")
