"""The spikestream command: each subcommand on real or written files, values asserted; every
misuse is one line on stderr and exit status 2, never a traceback or a left-over file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikestream as ss
from spikestream.cli import COMMANDS, main
from spikestream.events import make_events

REPO = Path(__file__).resolve().parents[1]


def _events(n: int = 2000, t0: int = 0, width: int = 34, height: int = 34, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = t0 + np.sort(rng.integers(0, 1_000_000, n))
    return make_events(
        t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n)
    )


def _one_error_line(err: str, fragment: str) -> None:
    """stderr holds one error line (after any one-line warnings) containing ``fragment``."""
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("spikestream: warning: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("spikestream: error: ") and fragment in lines[0], lines[0]


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and ss.__version__ in capsys.readouterr().out
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_python_dash_m_is_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "spikestream", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"spikestream {ss.__version__}"


def test_every_command_and_dataset_action_has_help_with_an_example(capsys):
    from spikestream.commands.dataset import ACTIONS

    for argv in [[c] for c in COMMANDS] + [["dataset", a] for a in ACTIONS]:
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        out = capsys.readouterr().out
        assert exc.value.code == 0 and "Example" in out and f"spikestream {' '.join(argv)}" in out
    # each action's own options: import requires its folder, list takes no dataset name
    for argv, fragment in [
        (["dataset", "import", "ndigits"], "required: --events-np"),
        (["dataset", "list", "ndigits"], "unrecognized arguments: ndigits"),
    ]:
        assert main(argv) == 2
        _one_error_line(capsys.readouterr().err, fragment)


def test_demo_runs_on_embedded_data_only(ndigits_root, tmp_path, monkeypatch, capsys):
    """`make demo` on a bare clone: NDigits and the quick start, no recording decoded."""
    import spikestream.io

    def no_files(*args, **kwargs):
        raise AssertionError("the demo must not read event files")

    monkeypatch.setattr(spikestream.io, "read", no_files)
    monkeypatch.delenv("SPIKESTREAM_REAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared beside the working directory
    assert main(["demo", "--root", str(ndigits_root), "--epochs", "2", "--out", "m.ckpt"]) == 0
    out = capsys.readouterr().out
    assert "1438 train / 359 test samples" in out
    accuracy = float(out.split("Test accuracy: ")[1].split(" %")[0])
    assert 60 < accuracy <= 100  # two epochs; chance is 10 %
    assert (tmp_path / "m.ckpt").is_file()
    # then five test digits replayed over loopback through the live engine, each decided
    live = out.split("Live: 5 test recordings")[1]
    decided = [line.split("-> ")[1].split(" (")[0] for line in live.splitlines()[1:6]]
    assert len(decided) == 5 and all(d in "0123456789" and d for d in decided), live
    right = int(live.split("/5 right")[0].rsplit("\n", 1)[1])
    assert right == sum("(right)" in line for line in live.splitlines()[1:6]) and right >= 3


def test_info_json(real_dir, capsys):
    assert main(["info", str(real_dir / "tonic/sample_nmnist.bin"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["format"], d["count"], d["on_count"], d["off_count"]) == ("nmnist", 4325, 2145, 2180)
    assert d["sensor_size"] == [34, 34] and d["duration_us"] == 311175 - 654


def test_convert_streams_and_preserves_events(real_dir, tmp_path, capsys):
    src = real_dir / "expelliarmus/evt3_sample.raw"
    out = tmp_path / "out.aedat4"
    assert main(["convert", str(src), str(out), "--chunk-events", "5000", "--quiet"]) == 0
    assert "219,596 events" in capsys.readouterr().out
    assert np.array_equal(ss.read(out).events, ss.read(src).events)
    assert ss.read(out).sensor_size == (1280, 720)
    # a file that names no sensor size: the size comes from a streaming pass over the events
    dat = tmp_path / "n.raw"
    assert main(["convert", str(real_dir / "tonic/sample_ncars.dat"), str(dat), "--quiet"]) == 0
    assert ss.read(dat).sensor_size == (78, 42)


def test_convert_and_info_take_the_aedat2_layout(tmp_path, capsys):
    ev = _events(500, width=128, height=128)
    src = tmp_path / "dvs.aedat"
    ss.write(src, ev, (128, 128), format="aedat2", layout="dvs128")
    out = tmp_path / "cifar.npz"
    assert main(["convert", str(src), str(out), "--layout", "cifar10dvs", "--quiet"]) == 0
    got = ss.read(out).events
    # SpikingJelly's CIFAR10-DVS reading of a DVS128 address (y stored flipped: 127 - y):
    # x = 127 - y_raw = y, y = 127 - x_raw, p = 1 - p_raw
    assert np.array_equal(got["t"], ev["t"]) and np.array_equal(got["x"], ev["y"])
    assert np.array_equal(got["y"], 127 - ev["x"]) and np.array_equal(got["p"], 1 - ev["p"])
    capsys.readouterr()
    assert main(["info", str(src), "--layout", "cifar10dvs", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["count"] == 500 and d["on_count"] == int((ev["p"] == 0).sum())
    assert main(["info", str(src), "--layout", "davis"]) == 0  # another layout, other events
    assert main(["info", str(src), "--layout", "nope"]) == 2
    _one_error_line(capsys.readouterr().err, "invalid choice: 'nope'")


def test_convert_time_shift(tmp_path, capsys):
    """N-MNIST's .bin holds 23-bit microseconds (8.4 s): a recording starting at 10 s fits
    once shifted."""
    ev = _events(1000, t0=10_000_000)
    src = tmp_path / "late.aedat4"
    ss.write(src, ev, (34, 34))
    out = tmp_path / "out.bin"
    assert main(["convert", str(src), str(out), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "[0, 2^23)")
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    assert main(["convert", str(src), str(out), "--time-shift", "first", "--quiet"]) == 0
    assert np.array_equal(ss.read(out).events["t"], ev["t"] - ev["t"][0])
    assert main(["convert", str(src), str(out), "--time-shift", "9000000", "--quiet"]) == 0
    assert np.array_equal(ss.read(out).events["t"], ev["t"] - 9_000_000)
    assert np.array_equal(ss.read(out).events[["x", "y", "p"]], ev[["x", "y", "p"]])
    capsys.readouterr()
    assert main(["convert", str(src), str(out), "--time-shift", str(ev["t"][0] + 1)]) == 2
    _one_error_line(capsys.readouterr().err, "later than the first event")


def _misuses(tmp: Path) -> list[tuple[list[str], str]]:
    """(argv, a fragment of the one error line) for misuses of every command."""
    good = tmp / "good.aedat4"
    text = tmp / "notes.txt"
    folder = tmp / "folder.aedat4"
    return [
        (["info", str(tmp / "missing.raw")], "missing.raw: no such file"),
        (["info", str(tmp)], "is a folder"),
        (["info", str(text)], "notes.txt"),
        (["info", str(good), "--format", "nope"], "unknown format 'nope'"),
        (["info"], "required: files"),
        (["convert", str(tmp / "missing.raw"), str(tmp / "o.aedat4")], "no such file"),
        (["convert", str(good), str(folder)], "is a folder; give a file name"),
        (["convert", str(good), str(tmp), "--to", "evt3"], "is a folder; give a file name"),
        (["convert", str(good), str(tmp / "no" / "o.aedat4")], "does not exist; create it"),
        (["convert", str(good), str(tmp / "o.xyz")], "no writer for extension .xyz"),
        (["convert", str(good), str(tmp / "o.raw"), "--to", "nope"], "unknown format"),
        (["convert", str(good), str(tmp / "o.raw"), "--from", "evt2"], "good.aedat4"),
        (["convert", str(good), str(tmp / "o.raw"), "--chunk-events", "0"], "--chunk-events"),
        (["convert", str(good), str(tmp / "o.raw"), "--chunk-events", "x"], "--chunk-events"),
        (["convert", str(good), str(tmp / "o.raw"), "--sensor-size", "3"], "640x480"),
        (["convert", str(good), str(tmp / "o.raw"), "--sensor-size", "0x0"], "1 <= W, H <= 65536"),
        (["convert", str(good), str(tmp / "o.raw"), "--sensor-size", "70000x9"], "'70000x9' must"),
        (["convert", str(good), str(tmp / "o.raw"), "--sensor-size", "8x8"], "outside"),
        (["convert", str(good), str(tmp / "o.raw"), "--layout", "davis"], "takes no option"),
        (["convert", str(good), str(tmp / "o.raw"), "--time-shift", "-1"], "--time-shift"),
        (["convert", str(good)], "required: output"),
        (["simulate", str(tmp / "missing.mp4"), str(tmp / "o.aedat4")], "no such file"),
        (["simulate", str(tmp / "empty"), str(tmp / "o.aedat4")], "no images"),
        (["simulate", str(text), str(tmp / "o.aedat4")], "notes.txt"),
        (["simulate", str(tmp / "f.png"), str(tmp / "o.aedat4")], "cannot read as an image"),
        (["simulate", str(tmp / "empty"), str(tmp / "o.aedat4"), "--fps", "0"], "--fps"),
        (["simulate", str(tmp / "empty"), str(folder)], "is a folder"),
        (["dataset"], "required: ACTION"),
        (["dataset", "nope"], "invalid choice: 'nope'"),
        (["dataset", "info"], "required: name"),
        (["dataset", "info", "nope"], "unknown dataset 'nope'"),
        (["dataset", "verify", "nmnist", "--root", str(tmp / "nm")], "not converted"),
        (["dataset", "convert", "nmnist", "--root", str(tmp / "nm")], "not found"),
        (["dataset", "convert", "ndigits", "--workers", "0"], "--workers"),
        (["dataset", "info", "ndigits", "--root", str(text / "sub")], "notes.txt"),
        (["dataset", "import", "nmnist", "--events-np", str(tmp / "nothing")], "missing"),
        (["decode-samples", str(tmp / "nothing")], "no such folder"),
        (["demo", "--epochs", "0"], "--epochs"),
        (["demo", "--show", "-1"], "argument --show: expected a whole number >= 0"),
        (["demo", "--epochs", "x"], "argument --epochs: expected a whole number >= 1, got 'x'"),
        (
            ["export", "csnn_ndigits", "--out", str(tmp / "o.nir"), "--dt", "inf"],
            "argument --dt: expected a finite number > 0, got 'inf'",
        ),
        (
            ["export", "csnn_ndigits", "--out", str(tmp / "o.nir"), "--dt", "x"],
            "argument --dt: expected a number > 0, got 'x'",
        ),
        (["nope"], "invalid choice: 'nope'"),
    ]


def test_misuses_are_one_line_errors(tmp_path, capsys):
    ss.write(tmp_path / "good.aedat4", _events(100), (34, 34))
    (tmp_path / "notes.txt").write_text("not events\n")
    (tmp_path / "f.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "folder.aedat4").mkdir()
    (tmp_path / "empty").mkdir()
    before = sorted(tmp_path.rglob("*"))
    for argv, fragment in _misuses(tmp_path):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        _one_error_line(captured.err, fragment)
        assert "Traceback" not in captured.err + captured.out
    assert sorted(tmp_path.rglob("*")) == before  # nothing left behind, no .partial


def test_convert_takes_the_inferred_size_from_the_reader_and_names_the_flags(
    tmp_path, capsys, monkeypatch
):
    """N-MNIST .bin names no size: the reader infers it from the whole file for every chunk,
    so convert makes no pass of its own (it did one: 2.3 s instead of 1.5 s on 20M events)."""
    from spikestream.commands import convert as convert_cmd

    ev = _events(1000, width=20, height=10)
    ev["x"][-1], ev["y"][-1] = 33, 30  # the largest coordinates in the last chunk only
    src = tmp_path / "in.bin"
    ss.write(src, ev, (34, 34))
    calls = []
    real = convert_cmd.iter_chunks

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(convert_cmd, "iter_chunks", counting)
    out = tmp_path / "out.npz"
    assert main(["convert", str(src), str(out), "--chunk-events", "100", "--quiet"]) == 0
    assert ss.read(out).sensor_size == (34, 31) and np.array_equal(ss.read(out).events, ev)
    assert len(calls) == 2  # the first chunk, then the conversion: no extra pass
    capsys.readouterr()
    assert main(["convert", str(src), str(tmp_path / "o.xyz")]) == 2
    _one_error_line(capsys.readouterr().err, "convert: --to ID")
    (tmp_path / "mystery.xyz").write_bytes(b"\x00" * 64)
    assert main(["info", str(tmp_path / "mystery.xyz")]) == 2
    _one_error_line(capsys.readouterr().err, "--from ID; spikestream info: --format ID")


def test_convert_refuses_a_fifo_and_writes_through_a_symlink(tmp_path, capsys):
    """``convert s.bin fifo.npz`` turned the FIFO into a regular file; a symlinked output was
    replaced by a file instead of written through."""
    import stat

    ev = _events(100)
    ss.write(tmp_path / "good.aedat4", ev, (34, 34))
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    assert main(["convert", str(tmp_path / "good.aedat4"), str(fifo), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and not list(tmp_path.glob("*.partial"))
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "real" / "out.npz")
    assert main(["convert", str(tmp_path / "good.aedat4"), str(link), "--quiet"]) == 0
    assert link.is_symlink() and np.array_equal(ss.read(tmp_path / "real" / "out.npz").events, ev)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc (unwritable)")
def test_unwritable_output_is_one_line(real_dir, capsys):
    src = real_dir / "tonic/sample_nmnist.bin"
    assert main(["convert", str(src), "/proc/spikestream-test.aedat4", "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "/proc/spikestream-test.aedat4")


def test_closed_pipe_ends_quietly(tmp_path):
    """`spikestream info --json ... | head -c 10`: no traceback, no 'Exception ignored'."""
    path = tmp_path / "small.aedat4"
    ss.write(path, _events(50), (34, 34))
    files = " ".join([str(path)] * 400)  # about 160 KB of JSON, more than a pipe holds
    done = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m spikestream info --json {files} | head -c 10"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": ""},
    )
    assert done.stdout == '{"file": "'
    assert done.stderr == ""


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n\xff\xff\xff\x7f")
    assert main(["info", str(bad)]) == 2
    _one_error_line(capsys.readouterr().err, "IOHeader claims")


def test_warnings_are_one_line(tmp_path, capsys):
    path = tmp_path / "cut.bin"
    ss.write(path, _events(10), (34, 34))
    path.write_bytes(path.read_bytes() + b"\x01\x02")  # a recording cut inside a record
    assert main(["info", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["count"] == 10
    assert captured.err.startswith("spikestream: warning: ") and "byte 50" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_decode_samples(real_dir, capsys):
    assert main(["decode-samples", str(real_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok |") == 6 and "DIFF" not in out


def test_simulate_image_and_frames(tmp_path, capsys):
    import imageio.v3 as iio

    image = np.zeros((12, 12), dtype=np.uint8)
    image[4:8, 4:8] = 255
    iio.imwrite(tmp_path / "square.png", image)
    assert main(["simulate", str(tmp_path / "square.png"), str(tmp_path / "sq.bin")]) == 0
    rec = ss.read(tmp_path / "sq.bin")
    assert len(rec) > 50 and rec.events["x"].max() < 22
    frames = tmp_path / "frames"
    frames.mkdir()
    for k, level in enumerate((50, 200)):
        iio.imwrite(frames / f"{k:03d}.png", np.full((4, 5), level, dtype=np.uint8))
    argv = ["simulate", str(frames), str(tmp_path / "f.raw"), "--threshold", "0.2"]
    assert main([*argv, "--mismatch", "0"]) == 0
    rec = ss.read(tmp_path / "f.raw")
    assert rec.sensor_size == (5, 4) and np.all(rec.events["p"] == 1)
    assert len(rec) == 20 * int(np.log((200 / 255 + 1e-3) / (50 / 255 + 1e-3)) / 0.2)
    # a folder of images is taken at 1000 Hz unless --fps says otherwise: events within 1 ms
    assert 0 < rec.events["t"].max() <= 1000
    assert main([*argv, "--mismatch", "0", "--fps", "10"]) == 0
    assert 1000 < ss.read(tmp_path / "f.raw").events["t"].max() <= 100_000


def _write_clip(path: Path, n_frames: int = 30, fps: int = 30) -> None:
    import imageio.v3 as iio

    frames = np.zeros((n_frames, 32, 48, 3), dtype=np.uint8)
    for k in range(n_frames):
        frames[k, :, k : k + 8] = 255  # a bright bar moving right, one pixel a frame
    iio.imwrite(path, frames, plugin="pyav", codec="mpeg4", fps=fps)


def test_simulate_video_uses_its_frame_rate(tmp_path, capsys):
    pytest.importorskip("av", reason="the video extra is not installed: pip install -e '.[video]'")
    clip = tmp_path / "clip.mp4"
    _write_clip(clip)  # 30 frames at 30 fps: one second
    out = tmp_path / "clip.aedat4"
    assert main(["simulate", str(clip), str(out)]) == 0
    assert "30 frames at 30 Hz" in capsys.readouterr().out
    rec = ss.read(out)
    assert rec.sensor_size == (48, 32)
    # the bar moves until the last frame, taken at 29/30 s
    assert 900_000 < rec.events["t"].max() <= 966_667
    assert main(["simulate", str(clip), str(out), "--fps", "300"]) == 0
    assert 90_000 < ss.read(out).events["t"].max() <= 96_667


def test_simulate_video_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` fails as if not installed
    assert main(["simulate", str(clip), str(tmp_path / "o.aedat4")]) == 2
    _one_error_line(capsys.readouterr().err, "pip install 'spikestream[video]'")


def test_dataset_actions_take_root(ndigits_root, capsys):
    root = str(ndigits_root)
    assert main(["dataset", "info", "ndigits", "--root", root, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["train"]["samples"] == 1438 and d["test"]["samples"] == 359
    assert main(["dataset", "convert", "ndigits", "--root", root, "--workers", "2"]) == 0
    assert f"packed stores in {root}" in capsys.readouterr().out
    assert main(["dataset", "verify", "ndigits", "--root", root]) == 0
    out = capsys.readouterr().out
    assert "train: OK, 1438 samples" in out and "test: OK, 359 samples" in out
    assert main(["dataset", "list", "--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert {"ndigits", "nmnist", "dvs128gesture"} <= names


def test_packaging_metadata():
    """MIT licence file and SPDX expression, exact dev-tool pins equal to what is installed, and
    the video extra."""
    tomllib = pytest.importorskip("tomllib")
    from importlib.metadata import version

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = meta["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    licence = (REPO / "LICENSE").read_text()
    assert (
        licence.startswith("MIT License")
        and "Copyright (c) 2026 the spikestream authors" in licence
    )
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])
    extras = project["optional-dependencies"]
    assert extras["video"] and any(
        r.startswith("spikestream[") and "video" in r for r in extras["dev"]
    )
    for requirement in extras["dev"]:
        if "==" in requirement:
            name, pinned = requirement.split("==")
            assert version(name) == pinned, requirement
    assert {r.split("==")[0] for r in extras["dev"] if "==" in r} >= {
        "pytest", "hypothesis", "ruff", "mypy"
    }  # fmt: skip
    assert project["scripts"]["spikestream"] == "spikestream.cli:main"
