"""``spikestream live``: JSON lines with the documented fields, decisions and the summary on
stdout, over a file and over our DV TCP server; bad arguments before any work; Ctrl-C (SIGINT
to a subprocess) ends cleanly with a complete ``--record`` file and exit status 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import spikestream as ss
from spikestream.cli import main
from spikestream.live.server import StreamServer
from spikestream.models.checkpoint import load_model

from .test_live_engine import SENSOR, digit_stream, trained_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live_cli")
    ckpt = trained_checkpoint(folder)
    stream, labels = digit_stream(range(1420, 1424))
    rec = folder / "digits.aedat4"
    ss.write(rec, ss.Recording(stream, SENSOR))
    csv = folder / "labels.csv"
    csv.write_text("".join(f"{a},{b},{c}\n" for a, b, c in labels))
    return ckpt, rec, csv, stream


def test_jsonl_and_record_from_a_file(files, tmp_path, capsys):
    ckpt, rec, _, stream = files
    out, got = tmp_path / "bins.jsonl", tmp_path / "got.aedat4"
    status = main(["live", "--checkpoint", str(ckpt), "--source", f"file:{rec}", "--fast",
                   "--jsonl", str(out), "--record", str(got), "--reset", "idle:50",
                   "--threshold", "0.2"])  # fmt: skip
    assert status == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) > 100
    for rec_ in lines:
        assert {"t_start_us", "t_end_us", "scores", "decision", "latency_ms",
                "dropped_events"} <= set(rec_)  # fmt: skip
        assert rec_["t_end_us"] - rec_["t_start_us"] == 10_000 and len(rec_["scores"]) == 10
    assert lines[0]["t_start_us"] == int(stream["t"][0])
    assert sum(r["n_events"] for r in lines) == len(stream)
    assert any(r["decision"] is not None for r in lines)
    text = capsys.readouterr().out
    assert "live: plifnet_ndigits" in text and "latency ms" in text and "p99" in text
    np.testing.assert_array_equal(ss.read(got).events, stream)  # --record keeps what arrived


def test_over_our_tcp_server(files, tmp_path, capsys):
    ckpt, rec, _, stream = files
    out = tmp_path / "bins.jsonl"
    server = StreamServer(rec, "dv-tcp", port=0, speed=None, wait_clients=1, linger_s=0.2)
    with server:
        server.start()
        status = main(["live", "--checkpoint", str(ckpt), "--source", server.url,
                       "--jsonl", str(out), "--no-drop", "--timeout", "10"])  # fmt: skip
    assert status == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(r["n_events"] for r in lines) == len(stream)
    assert "0 bins / 0 events" in capsys.readouterr().out  # nothing dropped


def test_learn_from_the_command_line(files, tmp_path, capsys):
    ckpt, rec, csv, _ = files
    learned = tmp_path / "learned.ckpt"
    status = main(["live", "--checkpoint", str(ckpt), "--source", str(rec), "--fast", "--quiet",
                   "--learn", "--labels", str(csv), "--learn-out", str(learned),
                   "--learn-window", "10", "--lr", "1e-3"])  # fmt: skip
    assert status == 0
    text = capsys.readouterr().out
    found = re.search(r"learning: (\d+) steps on (\d+) windows; held-back accuracy", text)
    assert found is not None, text
    assert int(found[1]) >= 1 and int(found[2]) >= 1  # at least one step, whatever the CPU share
    before, after = load_model(ckpt)[0].state_dict(), load_model(learned)[0].state_dict()
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the learner's weights


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--reset", "sometimes"], "--reset"),
        (["--threshold", "3"], "--threshold"),
        (["--min-rate", "-1"], "--min-rate"),
        (["--crop", "1,2,3"], "--crop"),
        (["--learn"], "--labels"),
        (["--labels", "x.csv"], "--learn"),
        (["--crop", "0,0,16,16"], "takes 17x17"),
        (["--jsonl", "/no/such/folder/x.jsonl"], "does not exist"),
    ],
)
def test_bad_arguments_are_one_line_errors(files, capsys, extra, match):
    ckpt, rec, _, _ = files
    assert main(["live", "--checkpoint", str(ckpt), "--source", str(rec), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikestream: error:") and match in err


def test_udp_needs_a_sensor_size(files, capsys):
    ckpt, _, _, _ = files
    assert main(["live", "--checkpoint", str(ckpt), "--source", "udp://:0"]) == 2
    assert "--sensor-size" in capsys.readouterr().err


def test_ctrl_c_leaves_a_complete_record(files, tmp_path):
    ckpt, rec, _, _ = files
    got, out = tmp_path / "got.aedat4", tmp_path / "bins.jsonl"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spikestream", "live", "--checkpoint", str(ckpt), "--source",
         str(rec), "--loop", "--record", str(got), "--jsonl", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    killer = threading.Timer(120, proc.kill)  # never hang the suite
    killer.start()
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("live: ")
        proc.stdout.readline()  # the first decision: bins are flowing
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted: stopped cleanly" in rest and "latency ms" in rest
    recorded = ss.read(got)  # complete and readable
    n = int(rest.split("recorded ")[1].split(" events")[0].replace(",", ""))
    assert len(recorded.events) == n > 0 and recorded.sensor_size == SENSOR
    assert not list(tmp_path.glob("*.partial"))
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line)["t_end_us"] for line in lines)


def test_view_feeds_the_viewer_every_bin_and_stops_it(files, monkeypatch, capsys):
    """``--view`` starts the viewer page on the given port, hands it every bin the engine
    produces, and stops it when the run ends."""
    import spikestream.viz.viewer as viewer

    ckpt, rec, _, stream = files
    seen: list = []
    calls: dict = {}

    def fake_start(port, *, classes=None, **kwargs):
        calls.update(port=port, classes=list(classes))
        return "http://127.0.0.1:9/", seen.append, lambda: calls.setdefault("stopped", True)

    monkeypatch.setattr(viewer, "start_viewer", fake_start)
    status = main(["live", "--checkpoint", str(ckpt), "--source", f"file:{rec}", "--fast",
                   "--view", "--port", "0", "--quiet"])  # fmt: skip
    assert status == 0
    assert calls == {"port": 0, "classes": [str(d) for d in range(10)], "stopped": True}
    assert sum(r.n_events for r in seen) == len(stream)
    assert "viewer: http://127.0.0.1:9/" in capsys.readouterr().out


def test_view_port_out_of_range_is_refused(files, capsys):
    ckpt, rec, _, _ = files
    status = main(["live", "--checkpoint", str(ckpt), "--source", f"file:{rec}", "--view",
                   "--port", "70000"])  # fmt: skip
    assert status == 2
    assert "argument --port: must be 0..65535 (0: any free port)" in capsys.readouterr().err


def test_a_failing_source_stops_the_learner(files, monkeypatch, capsys):
    # learner.stop() ran only when the stream ended well: its thread outlived a failure
    import time as _time

    import spikestream.live.sources as sources
    from spikestream.errors import StreamError
    from spikestream.live.sources import EventChunk

    ckpt, _, csv, stream = files

    class Broken:
        sensor_size = SENSOR
        stats: dict = {}

        def __iter__(self):
            yield EventChunk(stream[:1000], _time.monotonic_ns())
            raise StreamError("the camera went away")

        def close(self):
            pass

    monkeypatch.setattr(sources, "open_source", lambda *a, **k: Broken())
    status = main(["live", "--checkpoint", str(ckpt), "--source", "tcp://127.0.0.1:9",
                   "--quiet", "--learn", "--labels", str(csv)])  # fmt: skip
    assert status == 2 and "camera went away" in capsys.readouterr().err
    assert not [t for t in threading.enumerate() if t.name == "live-learner" and t.is_alive()]


def test_record_keeps_a_restarted_stream_whole():
    from spikestream.commands.live import _Recorder

    class Writer:
        def __init__(self):
            self.parts, self.closed = [], False

        def write(self, ev):
            assert not self.closed
            self.parts.append(ev.copy())

        def close(self):
            self.closed = True

    w = Writer()
    rec = _Recorder(w, rewind_us=1_000_000)
    first = np.zeros(3, dtype=ss.EVENT_DTYPE)
    first["t"] = [5_000_000, 6_000_000, 7_000_000]
    again = np.zeros(2, dtype=ss.EVENT_DTYPE)
    again["t"] = [100, 200]  # the server came back: times start over
    late = np.zeros(2, dtype=ss.EVENT_DTYPE)
    late["t"] = [150, 400]  # the restarted stream goes on; its first event is older than 200
    rec(first)
    rec(again)
    rec(late)
    t = np.concatenate(w.parts)["t"]
    # the restart continues 1 µs after the last recorded event, the shift is listed
    assert t.tolist() == [5_000_000, 6_000_000, 7_000_000, 7_000_001, 7_000_101, 7_000_301]
    assert rec.shifts == [(7_000_001, 6_999_901)] and rec.skipped == 1
    rec.close()
    rec(first)  # the receive thread after the close: not written, counted
    assert w.closed and rec.after_close == 3 and len(w.parts) == 3


def _udp_run(monkeypatch, send) -> list[int]:
    """``live --source udp://127.0.0.1:0``: ``send(port)`` right after the real `open_source`
    has bound its socket (port 0: a free one), in the test's thread; the kernel holds the few
    small datagrams until the engine reads them. Returns the ports sent to."""
    import spikestream.live.sources as sources

    real = sources.open_source
    ports: list[int] = []

    def opening(spec, **kwargs):
        src = real(spec, **kwargs)
        ports.append(src.port)
        send(src.port)
        return src

    monkeypatch.setattr(sources, "open_source", opening)
    return ports


def test_udp_silence_after_data_is_the_normal_end(files, tmp_path, monkeypatch, capsys):
    """UDP is connectionless: --timeout's silence after the events is the end (exit 0, the
    summary), and the --record file holds every event sent."""
    import socket

    from spikestream.live.spif import send_events

    ckpt, _, _, stream = files
    sent = stream[:2000]  # 32 datagrams over 0.1 s of recording time

    def send(port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            assert send_events(sock, ("127.0.0.1", port), sent, int(sent["t"][0])) == 32

    ports = _udp_run(monkeypatch, send)
    got = tmp_path / "got.aedat4"
    status = main(["live", "--checkpoint", str(ckpt), "--source", "udp://127.0.0.1:0",
                   "--sensor-size", "34x34", "--timeout", "1", "--quiet",
                   "--record", str(got)])  # fmt: skip
    captured = capsys.readouterr()
    assert len(ports) == 1
    assert status == 0, captured.err
    assert captured.err == ""
    assert f"end of stream: no datagram for 1 s (--timeout) after {len(sent):,} events" in (
        captured.out
    )
    assert "latency ms" in captured.out and f"recorded {len(sent):,} events" in captured.out
    recorded = ss.read(got).events  # times relative to the first event (SPIF's 32 bits)
    np.testing.assert_array_equal(recorded["t"], sent["t"] - sent["t"][0])
    for field in ("x", "y", "p"):
        np.testing.assert_array_equal(recorded[field], sent[field])


def test_udp_without_any_datagram_stays_an_error(files, monkeypatch, capsys):
    ckpt, _, _, _ = files
    ports = _udp_run(monkeypatch, lambda port: None)
    status = main(["live", "--checkpoint", str(ckpt), "--source", "udp://127.0.0.1:0",
                   "--sensor-size", "34x34", "--timeout", "0.3", "--quiet"])  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert err == f"spikestream: error: udp://127.0.0.1:{ports[0]}: no data for 0.3 s\n"


def test_udp_garbage_only_is_an_error_saying_what_came(files, monkeypatch, capsys):
    import socket

    def send(port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            for _ in range(3):
                sock.sendto(b"abc", ("127.0.0.1", port))  # not a multiple of 4 bytes

    ckpt, _, _, _ = files
    ports = _udp_run(monkeypatch, send)
    status = main(["live", "--checkpoint", str(ckpt), "--source", "udp://127.0.0.1:0",
                   "--sensor-size", "34x34", "--timeout", "0.5", "--quiet"])  # fmt: skip
    assert status == 2 and len(ports) == 1
    err = capsys.readouterr().err
    assert err.endswith(": no data for 0.5 s; the 3 datagrams that came held no valid SPIF "
                        "event (3 did not decode)\n")  # fmt: skip


def test_learning_with_too_few_windows_says_why_and_writes_nothing(files, tmp_path, capsys):
    ckpt, rec, csv, _ = files
    learned = tmp_path / "learned.ckpt"
    status = main(["live", "--checkpoint", str(ckpt), "--source", str(rec), "--fast", "--quiet",
                   "--learn", "--labels", str(csv), "--learn-out", str(learned),
                   "--learn-window", "10000"])  # fmt: skip
    # (10000 bins: longer than any labelled range)
    assert status == 0
    captured = capsys.readouterr()
    assert (
        "learning: 0 steps on 0 windows; held-back accuracy n/a before -> n/a after (0 windows)"
        "; no checkpoint written: no step (it needs 4 windows)"
    ) in captured.out
    assert captured.err == (
        "spikestream: warning: nothing learned, no checkpoint written: 0 training windows of "
        "10000 bins (plus 0 held back), the learner needs >= 4; lower --learn-window or label a "
        "longer stretch of the stream\n"
    )
    assert not learned.exists()


def test_learning_without_a_labelled_bin_says_so(files, tmp_path, capsys):
    ckpt, rec, _, stream = files
    labels = tmp_path / "late.csv"
    labels.write_text("5000000000,5000100000,3\n")  # after the stream: no bin inside
    status = main(["live", "--checkpoint", str(ckpt), "--source", str(rec), "--fast", "--quiet",
                   "--learn", "--labels", str(labels),
                   "--learn-out", str(tmp_path / "x.ckpt")])  # fmt: skip
    assert status == 0
    err = capsys.readouterr().err
    assert err.startswith("spikestream: warning: nothing learned, no checkpoint written: none of")
    assert err.endswith(
        "bins lay wholly inside a labelled range (label times are recording µs, as --jsonl's "
        f"t_start_us; the stream's first bin starts at {int(stream['t'][0])} µs)\n"
    )
    assert not (tmp_path / "x.ckpt").exists()


def test_a_dv_camera_that_is_not_there_is_one_line(files, monkeypatch, capsys):
    """``live --source dv: --view`` without a camera: exit 2 and one line, no traceback."""
    dv = pytest.importorskip("dv_processing")

    def no_camera(*args):
        raise IndexError("vector::_M_range_check: __n (which is 0) >= this->size() (which is 0)")

    # as dv-processing 2.0.4 without a camera, also where one is plugged in
    monkeypatch.setattr(dv.io.camera, "open", no_camera)
    monkeypatch.setattr(dv.io.camera, "discover", lambda: [])
    ckpt, _, _, _ = files
    status = main(["live", "--checkpoint", str(ckpt), "--source", "dv:", "--view",
                   "--port", "0"])  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert err == (
        "spikestream: error: dv:: cannot open the camera: no iniVation camera found: "
        "dv-processing discovers none (is one plugged in, and may this user open its USB "
        "device?); connect one, or use --source file:REC, tcp://HOST:PORT or udp://:PORT\n"
    )
