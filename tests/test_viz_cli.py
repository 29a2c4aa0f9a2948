"""``spikestream show``: clips, grids, scatter, training curves and a checkpoint's neuron traces,
checked in the files it writes; bad arguments end as one-line errors before any work."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from spikestream import make_events, write
from spikestream.cli import main
from spikestream.viz.render import BACKGROUND, OFF, ON


@pytest.fixture
def recording(tmp_path):
    """16x12 sensor, 400 ms: events at known places in each 100 ms quarter (ON at (2 + q, 3),
    OFF at (10, 8 - q) in quarter q), times 10 + 100 q and 60 + 100 q ms."""
    t, x, y, p = [], [], [], []
    for q in range(4):
        t += [10_000 + 100_000 * q, 60_000 + 100_000 * q]
        x += [2 + q, 10]
        y += [3, 8 - q]
        p += [1, 0]
    path = tmp_path / "rec.npz"
    write(path, make_events(t, x, y, p), (16, 12))
    return path


def capture_figures(monkeypatch) -> list:
    """The matplotlib figures `show` saves, kept for their artists."""
    from spikestream.viz import plots

    figures: list = []
    save = plots.save_figure

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def show(*args: str) -> int:
    return main(["show", *map(str, args)])


def test_gif_by_duration_with_scale_and_fps(tmp_path, recording, capsys):
    out = tmp_path / "clip.gif"
    assert show(recording, "--out", out, "--duration", 100, "--scale", 3, "--fps", 20) == 0
    assert "4 frames of 48x36 at 20 fps" in capsys.readouterr().out
    frames = iio.imread(out, index=None)[..., :3]
    assert frames.shape == (4, 36, 48, 3)
    for q in range(4):
        assert tuple(frames[q, 3 * 3 + 1, (2 + q) * 3 + 1]) == ON
        assert tuple(frames[q, (8 - q) * 3 + 1, 10 * 3 + 1]) == OFF
        assert (frames[q] != BACKGROUND).any(axis=-1).sum() == 2 * 9  # two 3x3 blocks
    im = Image.open(out)
    durations = []
    for k in range(im.n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
    assert durations == [50] * 4


def test_frames_split_by_number_and_png_grid(tmp_path, recording):
    out = tmp_path / "grid.png"
    assert show(recording, "--out", out, "--frames", 8, "--split-by", "number",
                "--columns", 4) == 0  # fmt: skip
    image = iio.imread(out)
    assert image.shape == (2 * 12 + 1, 4 * 16 + 3, 3)
    # one event per frame, in time order: frame 2k is quarter k's ON event, 2k+1 its OFF
    for k in range(8):
        r, c = divmod(k, 4)
        tile = image[r * 13 : r * 13 + 12, c * 17 : c * 17 + 16]
        q, off = divmod(k, 2)
        y, x, colour = ((8 - q), 10, OFF) if off else (3, 2 + q, ON)
        assert tuple(tile[y, x]) == colour
        assert (tile != BACKGROUND).any(axis=-1).sum() == 1


def test_long_gif_is_binned_and_written_in_chunks(tmp_path, capsys):
    """1000 frames of 64x64 (33 MB of int32 counts at once): a chunk at a time instead."""
    import tracemalloc

    k = np.arange(1000)
    write(tmp_path / "long.npz", make_events(k * 1000, k % 64, (k // 64) % 64, k % 2), (64, 64))
    out = tmp_path / "long.gif"
    tracemalloc.start()
    try:
        assert show(tmp_path / "long.npz", "--out", out, "--frames", 1000, "--split-by",
                    "number", "--fps", 50) == 0  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = 1000 * 2 * 64 * 64 * 4
    assert peak < full / 4, (peak, full)
    assert "1000 frames of 64x64 at 50 fps" in capsys.readouterr().out
    frames = iio.imread(out, index=None)[..., :3]
    assert frames.shape == (1000, 64, 64, 3)
    coloured = (frames != BACKGROUND).any(axis=-1)
    assert (coloured.sum(axis=(1, 2)) == 1).all()  # one event a frame
    f, y, x = np.nonzero(coloured)
    np.testing.assert_array_equal(f, k)
    np.testing.assert_array_equal(x, k % 64)
    np.testing.assert_array_equal(y, (k // 64) % 64)
    expected = np.where((k % 2 == 1)[:, None], np.array(ON), np.array(OFF))
    np.testing.assert_array_equal(frames[f, y, x], expected)


def test_mp4_frames_and_fps(tmp_path, recording):
    out = tmp_path / "clip.mp4"
    assert show(recording, "--out", out, "--frames", 10, "--fps", 15, "--scale", 2) == 0
    video = iio.imread(out, plugin="pyav")
    assert video.shape == (10, 24, 32, 3)
    assert iio.immeta(out, plugin="pyav")["fps"] == 15


def test_window_scatter_and_titled_grid(tmp_path, recording, capsys):
    out = tmp_path / "w.gif"
    assert show(recording, "--out", out, "--start", 100, "--end", 200, "--frames", 2) == 0
    frames = iio.imread(out, index=None)[..., :3]
    assert tuple(frames[0, 3, 3]) == ON and tuple(frames[1, 7, 10]) == OFF  # quarter 1 only
    assert show(recording, "--out", tmp_path / "s.png", "--scatter") == 0
    assert "x-y-t scatter of 8 events" in capsys.readouterr().out


def test_titled_grid_draws_the_panels_asked(tmp_path, recording, capsys, monkeypatch):
    from spikestream.viz import plots

    figures = []
    save = plots.save_figure
    monkeypatch.setattr(
        plots, "save_figure", lambda fig, *a, **k: figures.append(fig) or save(fig, *a, **k)
    )
    out = tmp_path / "t.png"
    assert show(recording, "--out", out, "--titled", "--frames", 4, "--columns", 3) == 0
    assert "(4 panels)" in capsys.readouterr().out
    (fig,) = figures
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 4  # 2 x 3 places, 4 panels, 2 blank
    # quarter q: ON at (2 + q, 3), OFF at (10, 8 - q); background elsewhere
    for q, ax in enumerate(shown):
        image = np.asarray(ax.images[0].get_array())
        assert tuple(image[3, 2 + q]) == ON and tuple(image[8 - q, 10]) == OFF
        assert (image != BACKGROUND).any(axis=-1).sum() == 2
    panels = iio.imread(out)[..., :3]
    for colour in (ON, OFF):
        assert (np.abs(panels - np.array(colour)).max(axis=-1) == 0).sum() >= 4
    assert show(recording, "--out", out, "--titled", "--frames", 65) == 2
    assert "at most 64 panels" in capsys.readouterr().err


def test_training_curves(tmp_path, capsys, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "runs" / "demo" / "version_0")) as writer:
        for step in range(5):
            writer.add_scalar("train_loss", 1.0 / (step + 1), step)
    out = tmp_path / "curves.png"
    figures = capture_figures(monkeypatch)
    assert show(tmp_path / "runs", "--out", out) == 0
    assert "version_0" in capsys.readouterr().out
    assert iio.imread(out).shape[:2] == (320, 420)
    ((fig,),) = [figures]
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert ax.get_title() == "loss" and line.get_label() == "train_loss"
    assert line.get_xdata().tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(line.get_ydata(), [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rtol=1e-6)


def test_traces_of_a_checkpoint(tmp_path, capsys, monkeypatch):
    from spikestream import models
    from spikestream.models.checkpoint import ModelRecord, input_record, save_model

    torch.manual_seed(0)
    net = models.create("rsnn_pokerdvs")
    inp = input_record("frames", sensor_size=[35, 35], height=35, width=35, steps=20,
                       split_by="number", frames_number=20, step_us=None)  # fmt: skip
    save_model(
        tmp_path / "net.pt", net, ModelRecord("rsnn_pokerdvs", {}, ["a", "b", "c", "d"], inp)
    )
    rng = np.random.default_rng(0)
    n = 3000
    t = np.sort(rng.integers(0, 100_000, n))
    xyp = rng.integers(0, 35, n), rng.integers(0, 35, n), rng.integers(0, 2, n)
    write(tmp_path / "s.npz", make_events(t, *xyp), (35, 35))
    out = tmp_path / "traces.png"
    figures = capture_figures(monkeypatch)
    assert show(tmp_path / "net.pt", "--traces", "--sample", tmp_path / "s.npz", "--out", out) == 0
    said = capsys.readouterr().out
    assert "2 layers, 20 steps; predicted" in said
    assert iio.imread(out).shape[1] == 3 * 420  # membrane, current and raster columns
    # the drawn values are the model's own trace on the sample as training bins it
    from spikestream.commands.show import model_frames
    from spikestream.io import read

    rec = read(tmp_path / "s.npz")
    x = torch.from_numpy(model_frames(rec.events, rec.sensor_size, inp))[None]
    with torch.no_grad():
        trace, _ = net.trace(x)
        label = int(net(x).argmax(-1)[0])
    assert said.rstrip().endswith(f"predicted {'abcd'[label]})")
    (fig,) = figures
    membrane = {ax.get_title(): ax for ax in fig.axes if "membrane v" in ax.get_title()}
    assert sorted(membrane) == ["l1 (LIFRecurrent): membrane v", "out (LI): membrane v"]
    for title, v in (("l1 (LIFRecurrent): membrane v", trace.v[0]),
                     ("out (LI): membrane v", trace.v_out[0])):  # fmt: skip
        drawn = [ln for ln in membrane[title].get_lines() if ln.get_label().startswith("neuron")]
        assert len(drawn) == 4  # --neurons default
        for ln in drawn:
            j = int(ln.get_label().split()[1])
            np.testing.assert_allclose(ln.get_ydata(), v[:, j].numpy(), rtol=1e-6, atol=1e-7)
    threshold = [ln for ln in membrane["l1 (LIFRecurrent): membrane v"].get_lines()
                 if ln.get_label() == "threshold"]  # fmt: skip
    assert threshold[0].get_ydata()[0] == pytest.approx(float(net.p.v_th))


def test_model_frames_use_the_live_geometry():
    from spikestream import ConfigError
    from spikestream.commands.show import model_frames
    from spikestream.models.checkpoint import input_record

    # a 35x35 sensor pooled by 2 is 18x18 (a last partial block kept, as in training)
    inp = input_record("frames", sensor_size=[35, 35], height=18, width=18, steps=2,
                       split_by="number", frames_number=2, step_us=None, pool=2)  # fmt: skip
    ev = make_events([0, 10, 20, 30], [34, 0, 1, 34], [34, 0, 1, 0], [1, 0, 0, 1])
    frames = model_frames(ev, (35, 35), inp)
    assert frames.shape == (2, 2, 18, 18) and frames.dtype == np.float32
    assert frames[0, 1, 17, 17] == 1 and frames[0, 0, 0, 0] == 1  # events 0 and 1
    assert frames[1, 0, 0, 0] == 1 and frames[1, 1, 0, 17] == 1  # (1, 1) pools into (0, 0)
    assert frames.sum() == 4
    # a crop: only the box's events, binned by number among themselves (training's order)
    crop = {**inp, "crop": [0, 0, 2, 2], "pool": 1, "height": 2, "width": 2, "channels": 1}
    frames = model_frames(ev, (35, 35), crop)
    assert frames.shape == (2, 1, 2, 2)
    assert frames[0, 0, 0, 0] == 1 and frames[1, 0, 1, 1] == 1 and frames.sum() == 2
    with pytest.raises(ConfigError, match=r"sample's sensor is 34x34 .* trained on 35x35"):
        model_frames(ev, (34, 34), inp)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "x.jpg"], "use a .gif, .mp4 or .png"),
        (["--out", "x.gif", "--fps", "60"], "fps must be in (0, 50]"),
        (["--out", "x.gif", "--duration", "0.001"], "at most 5000"),
        (["--out", "x.gif", "--start", "500"], "no events between"),
        (["--out", "x.gif", "--scatter"], "--out NAME.png"),
        (["--out", "x.gif", "--frames", "3", "--duration", "5"], "not allowed with"),
        (["--out", "x.gif", "--scale", "100"], "scale must be in 1..64"),
        (["--out", "x.gif", "--start", "nan"], "expected a finite number >= 0, got 'nan'"),
        (["--out", "x.gif", "--end", "inf"], "expected a finite number >= 0, got 'inf'"),
        (["--out", "x.gif", "--start", "-5"], "expected a finite number >= 0, got '-5'"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    tmp_path, recording, capsys, monkeypatch, extra, message
):
    monkeypatch.chdir(tmp_path)
    assert show(recording, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikestream: error:") and message in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.npz"]  # nothing written


def test_checkpoint_needs_a_sample(tmp_path, capsys):
    (tmp_path / "m.ckpt").write_bytes(b"not read")
    assert show(tmp_path / "m.ckpt", "--out", tmp_path / "t.png") == 2
    assert "--traces needs --sample" in capsys.readouterr().err
