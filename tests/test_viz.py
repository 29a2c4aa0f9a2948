"""spikestream.viz: rendered pixels, frame counts, sizes and timing of GIF / MP4 / PNG; training
curves from a TensorBoard log written here; the SpikingJelly and Tonic drop-ins (neuron traces:
test_viz_traces.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from spikestream import ConfigError, make_events
from spikestream.viz import media, render
from spikestream.viz.render import BACKGROUND, BOTH, GRID_LINE, OFF, ON

H, W = 6, 8


def known_frames(t: int = 4) -> np.ndarray:
    """[T, 2, 6, 8]: frame 1 has ON at (x=2, y=1), OFF at (x=5, y=4), both at (x=7, y=0);
    frame 2 has 3 ON and 1 OFF at (x=0, y=5) (ON wins); every other frame is empty."""
    f = np.zeros((t, 2, H, W), np.int32)
    f[1, 1, 1, 2] = 1
    f[1, 0, 4, 5] = 2
    f[1, :, 0, 7] = 1
    f[2, 1, 5, 0] = 3
    f[2, 0, 5, 0] = 1
    return f


def expected_rgb(frames: np.ndarray, scale: int) -> np.ndarray:
    """The pictures by the documented rule, written out pixel by pixel (independent of the
    vectorised renderer)."""
    t, _, h, w = frames.shape
    out = np.empty((t, h * scale, w * scale, 3), np.uint8)
    for k in range(t):
        for y in range(h):
            for x in range(w):
                off, on = frames[k, 0, y, x], frames[k, 1, y, x]
                c = ON if on > off else OFF if off > on else BOTH if on > 0 else BACKGROUND
                out[k, y * scale : (y + 1) * scale, x * scale : (x + 1) * scale] = c
    return out


def gif_durations(path) -> list[int]:
    im = Image.open(path)
    durations = []
    for k in range(im.n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
    return durations


# -- rendering and files ----------------------------------------------------------------------


def test_render_colours_at_known_pixels():
    rgb = render.render_frames(known_frames(), scale=2)
    assert rgb.shape == (4, 12, 16, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[1, 2, 4]) == ON and tuple(rgb[1, 3, 5]) == ON  # (x=2, y=1) scaled by 2
    assert tuple(rgb[1, 8, 10]) == OFF
    assert tuple(rgb[1, 0, 14]) == BOTH
    assert tuple(rgb[2, 10, 0]) == ON
    np.testing.assert_array_equal(rgb, expected_rgb(known_frames(), 2))
    assert (rgb[0] == BACKGROUND).all() and (rgb[3] == BACKGROUND).all()
    # ON and OFF differ in every colour-vision deficiency's strongest channel: blue vs orange
    assert ON != OFF and ON[2] > 150 > OFF[2] and OFF[0] > 200 > ON[0]


def test_event_frames_put_events_where_they_are():
    ev = make_events([0, 10, 20, 1000, 1010], [1, 4, 4, 6, 6], [2, 3, 3, 0, 0], [1, 0, 0, 1, 1])
    frames = render.event_frames(ev, (8, 5), n_frames=2, split_by="time")
    rgb = render.render_frames(frames)
    assert rgb.shape == (2, 5, 8, 3)
    assert tuple(rgb[0, 2, 1]) == ON and tuple(rgb[0, 3, 4]) == OFF
    assert tuple(rgb[1, 0, 6]) == ON
    assert (rgb[0] != BACKGROUND).any(axis=-1).sum() == 2
    assert (rgb[1] != BACKGROUND).any(axis=-1).sum() == 1
    by_duration = render.event_frames(ev, (8, 5), duration=500)
    assert by_duration.shape == (3, 2, 5, 8) and by_duration[1].sum() == 0


@pytest.mark.parametrize(
    ("fps", "durations"),
    [(10, [100] * 4), (25, [40] * 4), (4, [250] * 4), (30, [30, 40, 30, 30])],
)
def test_gif_frames_size_and_timing(tmp_path, fps, durations):
    path = media.save_gif(tmp_path / "clip.gif", known_frames(), fps=fps, scale=3)
    frames = iio.imread(path, index=None)
    # every frame written, even the two empty ones (Pillow's own writer merges equal frames)
    assert frames.shape == (4, 18, 24, 3)
    np.testing.assert_array_equal(frames[..., :3], expected_rgb(known_frames(), 3))
    assert gif_durations(path) == durations
    assert sum(durations) == round(4 * 1000 / fps, -1)
    assert Image.open(path).info["loop"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]  # nothing partial left


def test_gif_refuses_what_it_cannot_play(tmp_path):
    with pytest.raises(ConfigError, match="fps must be in"):
        media.save_gif(tmp_path / "fast.gif", known_frames(), fps=60)
    with pytest.raises(ConfigError, match="scale"):
        media.save_gif(tmp_path / "big.gif", known_frames(), scale=0)
    with pytest.raises(ConfigError, match=r"\[T, 2, H, W\]"):
        media.save_gif(tmp_path / "bad.gif", np.zeros((3, 3, 4, 4)))
    assert list(tmp_path.iterdir()) == []


def test_mp4_frames_fps_and_colours(tmp_path):
    frames = known_frames(12)
    path = media.save_mp4(tmp_path / "clip.mp4", frames, fps=24, scale=16)
    video = iio.imread(path, plugin="pyav")
    meta = iio.immeta(path, plugin="pyav")
    assert video.shape == (12, 96, 128, 3)
    assert meta["fps"] == 24
    assert meta["duration"] == pytest.approx(12 / 24, abs=1 / 24)
    # lossy H.264 with 4:2:0 chroma: compare the middle of each 16x16 block, within 16 levels
    for (k, y, x), color in {(1, 1, 2): ON, (1, 4, 5): OFF, (1, 0, 7): BOTH, (2, 5, 0): ON,
                             (0, 3, 3): BACKGROUND, (11, 2, 6): BACKGROUND}.items():  # fmt: skip
        got = video[k, y * 16 + 8, x * 16 + 8].astype(int)
        assert np.abs(got - np.array(color)).max() <= 16, (k, y, x, got, color)


def test_mp4_odd_sides_padded_with_background(tmp_path):
    frames = np.zeros((3, 2, 5, 7), np.int32)
    frames[:, 1, 4, 6] = 1  # the corner pixel, next to the padding
    path = media.save_mp4(tmp_path / "odd.mp4", frames, fps=10, scale=3)
    video = iio.imread(path, plugin="pyav").astype(int)
    assert video.shape == (3, 16, 22, 3)  # 15x21 padded to even sides: one row, one column
    # lossy H.264 with 4:2:0 chroma: block middles and the padding, within 16 levels
    for k in range(3):
        assert np.abs(video[k, 4 * 3 + 1, 6 * 3 + 1] - np.array(ON)).max() <= 16  # the ON
        assert np.abs(video[k, 1 * 3 + 1, 2 * 3 + 1] - np.array(BACKGROUND)).max() <= 16
        assert np.abs(video[k, 15, :16] - np.array(BACKGROUND)).max() <= 16  # padded row
        assert np.abs(video[k, :10, 21] - np.array(BACKGROUND)).max() <= 16  # padded column


def test_png_grid_layout(tmp_path):
    frames = known_frames(5)
    frames[4, 1, 2, 3] = 1
    path = media.save_png(tmp_path / "grid.png", frames, columns=3, scale=2)
    image = iio.imread(path)
    h, w = 12, 16
    assert image.shape == (2 * h + 1, 3 * w + 2, 3)
    tiles = expected_rgb(frames, 2)
    for k in range(5):
        r, c = divmod(k, 3)
        np.testing.assert_array_equal(image[r * (h + 1) : r * (h + 1) + h,
                                            c * (w + 1) : c * (w + 1) + w], tiles[k])  # fmt: skip
    assert (image[h] == GRID_LINE).all()  # the line between the rows
    assert (image[:h, w] == GRID_LINE).all()  # between the first two columns
    assert (image[h + 1 :, 2 * (w + 1) :] == BACKGROUND).all()  # the unused sixth tile
    one = iio.imread(media.save_png(tmp_path / "one.png", frames[1]))
    np.testing.assert_array_equal(one, expected_rgb(frames[1:2], 1)[0])


def test_gif_without_pillow_names_the_extra(tmp_path, monkeypatch):
    for name in ("PIL", "PIL.Image", "PIL.GifImagePlugin"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"Pillow: pip install 'spikestream\[viz\]'"):
        media.save_gif(tmp_path / "a.gif", known_frames())
    with pytest.raises(ConfigError, match=r"Pillow: pip install 'spikestream\[viz\]'"):
        media.play_frame(known_frames().astype(np.float32), save_gif_to=str(tmp_path / "b.gif"))
    assert list(tmp_path.iterdir()) == []


def test_save_frames_by_suffix(tmp_path):
    assert (
        iio.imread(media.save_frames(tmp_path / "a.gif", known_frames()), index=None).shape[0] == 4
    )
    with pytest.raises(ConfigError, match="unknown picture type"):
        media.save_frames(tmp_path / "a.jpg", known_frames())


def test_play_frame_saves_spikingjelly_colours(tmp_path, capsys):
    x = np.zeros((3, 2, 4, 5), np.float32)
    x[0, 0, 1, 1] = 1.0  # OFF -> green
    x[1, 1, 2, 3] = 1.0  # ON -> blue
    x[2, 0, 3, 4] = 0.5
    media.play_frame(torch.from_numpy(x), save_gif_to=str(tmp_path / "sj.gif"))
    assert capsys.readouterr().out.strip() == f"Save frames to [{tmp_path / 'sj.gif'}]."
    gif = iio.imread(tmp_path / "sj.gif", index=None)[..., :3]
    assert gif.shape == (3, 4, 5, 3)
    assert tuple(gif[0, 1, 1]) == (0, 255, 0) and tuple(gif[1, 2, 3]) == (0, 0, 255)
    assert tuple(gif[2, 3, 4]) == (0, 127, 0)
    assert gif[0].reshape(-1, 3).any(axis=1).sum() == 1
    import matplotlib

    matplotlib.use("Agg")
    with pytest.raises(ConfigError, match="needs a display"):  # SpikingJelly would loop forever
        media.play_frame(x)


# -- matplotlib pictures -----------------------------------------------------------------------


def grid_events() -> np.ndarray:
    """8x6, 1 ms: in each 200 µs fifth k an ON event at (x=k, y=1) at 200 k µs and an OFF one
    at (x=k, y=4) 10 µs later; a last ON event at (7, 5) at 1000 µs (in the last fifth)."""
    t = [v for k in range(5) for v in (200 * k, 200 * k + 10)] + [1000]
    x = [k for k in range(5) for _ in range(2)] + [7]
    y = [1, 4] * 5 + [5]
    p = [1, 0] * 5 + [1]
    return make_events(t, x, y, p)


def test_event_grid_panels_colours_and_titles(tmp_path):
    from spikestream.viz import plots

    ev = grid_events()
    fig = plots.event_grid_figure(ev, (8, 6), rows=2, columns=3, panels=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5  # five panels asked, not rows x columns
    assert not fig.axes[5].axison and not fig.axes[5].images  # the unused place is blank
    for k, ax in enumerate(shown):
        image = np.asarray(ax.images[0].get_array())
        assert image.shape == (6, 8, 3)
        assert tuple(image[1, k]) == ON and tuple(image[4, k]) == OFF
        on = [(1, k)] + ([(5, 7)] if k == 4 else [])
        coloured = {tuple(map(int, yx)) for yx in np.argwhere((image != BACKGROUND).any(-1))}
        assert coloured == {*on, (4, k)}  # background everywhere else
        assert ax.get_title() == f"{k * 0.2:.1f}-{(1.0 if k == 4 else k * 0.2 + 0.01):.1f} ms"
    png = iio.imread(plots.event_grid(ev, (8, 6), tmp_path / "g.png", rows=2, columns=3))
    colours = {tuple(c) for c in png[..., :3].reshape(-1, 3)}
    assert ON in colours and OFF in colours  # nearest interpolation: the exact colours
    with pytest.raises(ConfigError, match=r"1\.\.64 panels"):
        plots.event_grid_figure(ev, (8, 6), rows=9, columns=8)
    with pytest.raises(ConfigError, match="at most rows x columns"):
        plots.event_grid_figure(ev, (8, 6), rows=1, columns=3, panels=4)


def test_xyt_scatter_points_and_colours(tmp_path):
    from spikestream.viz import plots

    ev = grid_events()
    fig = plots.xyt_figure(ev, (8, 6), max_points=4)  # 11 events: every third drawn
    ax = fig.axes[0]
    on, off = ax.collections[:2]
    sub = ev[::3]  # events 0, 3, 6, 9
    for points, colour, polarity in ((on, ON, 1), (off, OFF, 0)):
        keep = sub["p"] == polarity
        t, x, y = (np.asarray(v, float) for v in points._offsets3d)
        np.testing.assert_allclose(t, sub["t"][keep] / 1000.0)
        np.testing.assert_array_equal(x, sub["x"][keep])
        np.testing.assert_array_equal(y, sub["y"][keep])
        np.testing.assert_allclose(points.get_facecolor()[0, :3], np.array(colour) / 255)
    assert ax.get_zlim() == (6, 0)  # y grows downwards, as on the sensor
    assert "(1 in 3 of 11 events)" in fig._suptitle.get_text()
    scatter = iio.imread(plots.xyt_scatter(ev, (8, 6), tmp_path / "s.png", max_points=1000))
    assert scatter.shape[:2] == (500, 700)
    with pytest.raises(ConfigError, match="no events"):
        plots.xyt_scatter(ev[:0], (8, 6), tmp_path / "e.png")


def test_tonic_plot_event_grid_draws_on_minus_off():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikestream.compat.tonic.utils import plot_event_grid
    from spikestream.transforms.functional import tonic_frames

    ev = make_events([0, 100, 200, 300, 400, 500, 600], [0, 3, 3, 1, 2, 2, 4],
                     [0, 2, 2, 1, 0, 0, 3], [1, 0, 0, 1, 1, 1, 0])  # fmt: skip
    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plt.show() on Agg
        plot_event_grid(ev, axis_array=(3, 1), plot_frame_number=True)
    axes = plt.gcf().axes
    assert len(axes) == 3
    frames = tonic_frames(ev, (5, 4), n_time_bins=3)
    for k, ax in enumerate(axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), frames[k, 1] - frames[k, 0])
        assert ax.get_title() == str(k)
    first, second = (ax.images[0].get_array() for ax in axes[:2])
    # bins of 200 µs: ON at (0, 0) and OFF at (3, 2) in the first; OFF (3, 2), ON (1, 1) next
    assert first[0, 0] == 1 and first[2, 3] == -1 and np.abs(first).sum() == 2
    assert second[2, 3] == -1 and second[1, 1] == 1 and np.abs(second).sum() == 2
    plt.close("all")


def test_importing_viz_imports_no_plotting_library():
    # the names of the light modules only (record_neurons would import torch: seconds)
    code = (
        "import sys, spikestream, spikestream.viz as v; v.save_gif; v.start_viewer; "
        "v.event_frames; print(sorted(m for m in ('matplotlib', 'PIL', 'av', 'tensorboard', "
        "'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- training curves ---------------------------------------------------------------------------


def test_training_curves_come_from_the_tensorboard_log(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from spikestream.viz.curves import curves_figure, plot_curves, read_scalars

    loss = [2.0, 1.5, 1.25, 0.5]
    acc = [0.25, 0.5, 0.75]
    with SummaryWriter(str(tmp_path / "run" / "version_0")) as writer:
        for step, value in enumerate(loss):
            writer.add_scalar("train_loss", value, step * 10)
        for step, value in enumerate(acc):
            writer.add_scalar("val_acc", value, step * 10 + 5)
            writer.add_scalar("val_loss", loss[step] + 0.25, step * 10 + 5)
            writer.add_scalar("epoch", step, step * 10 + 5)
    series = read_scalars(tmp_path / "run")
    assert sorted(series) == ["epoch", "train_loss", "val_acc", "val_loss"]
    assert series["train_loss"][0].tolist() == [0, 10, 20, 30]
    assert series["train_loss"][1].tolist() == loss
    assert series["val_acc"][1].tolist() == acc
    fig = curves_figure(series)
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert sorted(panels) == ["acc", "loss"]  # stages share a panel; epoch is skipped
    lines = {line.get_label(): line for line in panels["loss"].get_lines()}
    assert lines["train_loss"].get_ydata().tolist() == loss
    assert lines["val_loss"].get_xdata().tolist() == [5, 15, 25]
    assert lines["val_loss"].get_ydata().tolist() == [2.25, 1.75, 1.5]
    image = iio.imread(plot_curves(tmp_path / "run", tmp_path / "curves.png"))
    assert image.shape[1] == 840  # two 4.2-inch panels at 100 dpi
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no TensorBoard event files"):
        read_scalars(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no such file or folder"):
        read_scalars(tmp_path / "missing")


# -- the live viewer's server (the page itself: tests/test_viz_browser.py) --------------------


def test_viewer_serves_assets_state_and_events():
    import json
    import urllib.request
    from types import SimpleNamespace

    from spikestream.viz.viewer import png_indexed, start_viewer

    url, observer, stop = start_viewer(0, classes=["a", "b"], rate_hz=50)
    try:
        assert url.startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(url, timeout=5).read().decode()
        assert '<script src="/viewer.js">' in page
        assert '<link rel="stylesheet" href="/viewer.css">' in page
        # no CDN: nothing in the page, script or style names another server
        for asset in ("", "viewer.js", "viewer.css"):
            text = urllib.request.urlopen(url + asset, timeout=5).read().decode()
            assert len(text) > 100
            assert not re.search(r"https?:|wss?:|ftp:", text, re.IGNORECASE), asset
            assert not re.search(r"//(?=[^\s/])", text), asset  # a "//host" URL (comments: "// ")
            refs = re.findall(r"(?:src|href|action)\s*=\s*[\"']([^\"']*)", text)
            refs += re.findall(r"(?:url|import|fetch|EventSource)\(\s*[\"']?([^\"')]*)", text)
            assert all(r.startswith("/") and not r.startswith("//") for r in refs), (asset, refs)
        stream = urllib.request.urlopen(url + "events", timeout=5)
        assert stream.readline() == b"retry: 500\n"
        image = np.zeros((2, 4, 6), np.float32)
        for k, (x, p) in enumerate([(1, 1), (4, 0)]):  # two bins before one update
            one = image.copy()
            one[p, 2, x] = 1
            result = SimpleNamespace(
                index=k, t_start_us=k * 10, t_end_us=k * 10 + 10, n_events=1, image=one,
                input=None, scores=np.array([0.25, 0.75]), decision="b", confidence=0.75,
                latency_ms=1.5, dropped_events=k,
            )  # fmt: skip
            observer(result)
        # the publisher may send between the two bins: read updates until both are counted,
        # the picture being every update's events together
        seen = np.zeros((4, 6), bool)
        messages = []
        while not messages or messages[-1]["bins"] < 2:
            line = stream.readline()
            if not line.startswith(b"data: "):
                continue
            message = json.loads(line[6:])
            messages.append(message)
            if message["image"] is not None:
                shown = iio.imread(urllib.request.urlopen(message["image"]).read())
                assert shown.shape == (4, 6, 3)
                assert tuple(shown[2, 1]) in (ON, BACKGROUND)
                assert tuple(shown[2, 4]) in (OFF, BACKGROUND)
                seen |= (shown != BACKGROUND).any(axis=-1)
        message = messages[-1]
        assert message["classes"] == ["a", "b"] and message["scores"] == [0.25, 0.75]
        assert message["decision"] == "b" and message["bins"] == 2
        assert message["events"] == 2 and message["dropped_events"] == 1
        assert message["image_bins_skipped"] == 0
        expected = np.zeros((4, 6), bool)
        expected[2, [1, 4]] = True  # both bins' events, in one picture or two
        np.testing.assert_array_equal(seen, expected)
        state = json.loads(urllib.request.urlopen(url + "state", timeout=5).read())
        assert state["index"] == 1
        stream.close()
    finally:
        stop()
    stop()  # idempotent
    index = np.array([[0, 1], [2, 3]], np.uint8)
    table = np.array([BACKGROUND, OFF, ON, BOTH], np.uint8)
    np.testing.assert_array_equal(iio.imread(png_indexed(index, table)), table[index])
    with pytest.raises(ConfigError, match="port"):
        start_viewer(70000)


def _raw_get(port: int, host_header: str, path: str = "/state") -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_viewer_refuses_other_hosts_and_non_loopback_addresses():
    from spikestream.viz.viewer import start_viewer

    with pytest.raises(ConfigError, match="loopback only"):
        start_viewer(0, host="0.0.0.0")
    url, _, stop = start_viewer(0)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        assert _raw_get(port, f"127.0.0.1:{port}").startswith(b"HTTP/1.0 200")
        assert _raw_get(port, f"localhost:{port}").startswith(b"HTTP/1.0 200")
        for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}"):
            reply = _raw_get(port, host)
            assert reply.startswith(b"HTTP/1.0 403") and reply.endswith(b"forbidden host\n")
        assert _raw_get(port, f"evil.example:{port}", "/events").startswith(b"HTTP/1.0 403")
    finally:
        stop()


def test_viewer_bounds_its_connection_threads():
    import socket
    import threading

    from spikestream.viz.viewer import MAX_CONNECTIONS, start_viewer, wait_for

    url, _, stop = start_viewer(0)
    port = int(url.rsplit(":", 1)[1].strip("/"))

    def handlers() -> int:
        return sum("process_request_thread" in t.name for t in threading.enumerate())

    idle = []
    try:
        for _ in range(MAX_CONNECTIONS + 8):  # idle sockets: connected, nothing sent
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(sock)
        # the server accepts them all; those beyond the bound are closed at once
        closed = []
        for sock in idle[MAX_CONNECTIONS:]:
            sock.settimeout(5)
            closed.append(sock.recv(1))
        assert closed == [b""] * 8
        assert wait_for(lambda: handlers() == MAX_CONNECTIONS, 5)
        assert handlers() == MAX_CONNECTIONS
        for sock in idle:
            sock.close()
        idle.clear()
        # their threads end with the sockets; the page is served again
        assert wait_for(lambda: handlers() == 0, 5)
        assert _raw_get(port, f"127.0.0.1:{port}").startswith(b"HTTP/1.0 200")
    finally:
        for sock in idle:
            sock.close()
        stop()


def test_viewer_publisher_survives_a_bad_result_and_sends_numpy_scalars(caplog):
    from types import SimpleNamespace

    from spikestream.viz.viewer import start_viewer, wait_for

    _, observer, stop = start_viewer(0, rate_hz=50)
    hub = stop.hub
    try:
        observer(SimpleNamespace(scores="not numbers", image=None))
        assert wait_for(lambda: hub.errors == 1, 5)
        for k in range(2):
            observer(SimpleNamespace(scores=np.array([0.5, 0.25], np.float32),
                                     decision=np.int64(7), index=np.int64(k),
                                     confidence=np.float32(0.5), image=None))  # fmt: skip
            assert wait_for(lambda k=k: (hub.last_message or {}).get("index") == k, 5)
        data = hub.last_data.decode()
        assert '"decision": 7' in data and '"index": 1' in data and '"scores": [0.5, 0.25]' in data
        assert hub.errors == 1 and hub.updates == 2
        assert sum("update was skipped" in r.getMessage() for r in caplog.records) == 1
    finally:
        stop()


def test_viewer_observer_hands_images_over_without_summing():
    """The engine thread only queues references (bounded by INBOX_BYTES); the publisher sums."""
    from types import SimpleNamespace

    from spikestream.viz import viewer

    hub = viewer._Hub(None, 10.0, render.DEFAULT_PALETTE)  # no publisher thread: nothing drains
    one = np.zeros((2, 720, 1280), np.float32)  # 7.4 MB a bin
    fits = viewer.INBOX_BYTES // one.nbytes
    images = [one.copy() for _ in range(fits + 5)]
    for k, image in enumerate(images):
        image[1, 0, k] = 1  # ON at (x=k, y=0)
        hub.observe(SimpleNamespace(image=image, n_events=1, scores=[1.0]))
    assert len(hub.inbox) == fits and hub.inbox_bytes == fits * one.nbytes
    assert all(a is b for a, b in zip(hub.inbox, images, strict=False))  # references, no copy
    assert hub.skipped == 5 and hub.bins == fits + 5 and hub.events == fits + 5
    assert hub.image is None  # nothing summed in the engine thread
    message = hub.message()
    assert hub.inbox_bytes == 0 and len(hub.inbox) == 0
    assert message["bins"] == fits + 5 and message["image_bins_skipped"] == 5
    shown = iio.imread(urllib_data(message["image"]))
    row = (shown[0] != BACKGROUND).any(axis=-1)
    assert row[:fits].all() and not row[fits:].any()  # the kept bins' events, summed
    assert (shown[1:] == BACKGROUND).all()


def urllib_data(uri: str) -> bytes:
    import base64

    return base64.b64decode(uri.split(",", 1)[1])
