"""The spikestream command: each subcommand on real files, values asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

import spikestream as ss
from spikestream.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and ss.__version__ in capsys.readouterr().out
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "info", "convert", "formats", "simulate", "dataset"):
        assert command in out


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


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n\xff\xff\xff\x7f")
    assert main(["info", str(bad)]) == 2
    assert "IOHeader claims" in capsys.readouterr().err


def test_demo(real_dir, capsys):
    assert main(["demo", "--data", str(real_dir), "--skip-ndigits"]) == 0
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
    assert (
        main(
            [
                "simulate",
                str(frames),
                str(tmp_path / "f.raw"),
                "--threshold",
                "0.2",
                "--mismatch",
                "0",
            ]
        )
        == 0
    )
    rec = ss.read(tmp_path / "f.raw")
    assert rec.sensor_size == (5, 4) and np.all(rec.events["p"] == 1)
    assert len(rec) == 20 * int(np.log((200 / 255 + 1e-3) / (50 / 255 + 1e-3)) / 0.2)


def test_dataset_info(ndigits_root, capsys):
    assert main(["dataset", "info", "ndigits", "--root", str(ndigits_root), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["train"]["samples"] == 1438 and d["test"]["samples"] == 359
    assert main(["dataset", "info", "nope"]) == 2
