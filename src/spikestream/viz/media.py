"""Frames to files: animated GIF, MP4 (H.264) and PNG (one frame or a grid of tiles).

Every writer renders with `spikestream.viz.render` (the palette and the ON/OFF rule), upscales by
an integer ``scale`` (nearest neighbour) and writes atomically (`spikestream.files.atomic_file`).

Timing: a GIF stores each frame's delay in hundredths of a second, so a frame lasts exactly
``1000 / fps`` ms when that is a multiple of 10 ms (fps 1, 2, 4, 5, 10, 20, 25, 50); for other
rates the delays alternate (e.g. 30, 40, 30 ms at 30 fps) so that frame ``k`` starts at
``round(100 k / fps)`` cs and the clip's length is exact. Above 50 fps a GIF cannot play as
asked (browsers show delays under 20 ms as 100 ms), so it is refused: use MP4. Every frame is
written, even one equal to the one before (Pillow's own GIF writer would merge them). An MP4
has exactly the frames given at ``fps`` (any rate up to `MAX_FPS`); H.264 needs even sides,
so an odd side gets one background row or column.

Needs the ``viz`` extra (``pip install 'spikestream[viz]'``: Pillow comes with matplotlib;
PyAV for MP4); nothing here is imported by ``import spikestream``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..files import atomic_file
from .render import (
    DEFAULT_PALETTE,
    GRID_LINE,
    Palette,
    as_frames,
    check_scale,
    palette_indices,
    render_frames,
    upscale,
)

VIZ_EXTRA = "pip install 'spikestream[viz]'"
#: Highest frame rate a GIF can play (delays under 2 cs are shown as 10 cs by browsers).
MAX_GIF_FPS = 50.0
#: Highest frame rate of an MP4 (Hz).
MAX_FPS = 1000.0
SUFFIXES = (".gif", ".mp4", ".png")
#: matplotlib backends without a window (play_frame refuses them instead of looping unseen).
NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(f"writing images needs Pillow: {VIZ_EXTRA}") from None
    return Image


def _gif_plugin() -> Any:
    _pil()  # a missing Pillow is a ConfigError naming the extra, before any other import
    from PIL import GifImagePlugin

    return GifImagePlugin


def check_fps(fps: float, most: float = MAX_FPS) -> float:
    """``fps`` as a finite rate in (0, ``most``] (a `ConfigError` otherwise)."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ConfigError(f"fps must be a number, got {fps!r}") from None
    if not 0 < value <= most:
        raise ConfigError(f"fps must be in (0, {most:g}], got {fps!r}")
    return value


def gif_delays_cs(n_frames: int, fps: float) -> list[int]:
    """Per-frame GIF delays (hundredths of a second): frame k starts at ``round(100 k / fps)``."""
    fps = check_fps(fps, MAX_GIF_FPS)
    starts = [round(100 * k / fps) for k in range(n_frames + 1)]
    return np.diff(starts).tolist()


def _palette_image(index: np.ndarray, table: np.ndarray) -> Any:
    image = _pil().fromarray(np.ascontiguousarray(index), mode="P")
    padded = np.zeros((256, 3), np.uint8)
    padded[: len(table)] = table
    image.putpalette(padded.tobytes())
    return image


def save_gif(
    path: str | os.PathLike[str],
    frames: Any,
    *,
    fps: float = 10.0,
    scale: int = 1,
    loop: int = 0,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """An animated GIF of ``frames`` ``[T, 2, H, W]``: one GIF frame per frame, each
    ``1000 / fps`` ms (see the module docstring for rates that are not whole centiseconds),
    ``loop`` = 0 repeats forever."""
    a = as_frames(frames)
    return write_gif(path, [a], len(a), fps=fps, scale=scale, loop=loop, palette=palette)


def write_gif(
    path: str | os.PathLike[str],
    chunks: Iterable[Any],
    n_frames: int,
    *,
    fps: float = 10.0,
    scale: int = 1,
    loop: int = 0,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """`save_gif` of frames given in chunks (each ``[k, 2, H, W]``, ``n_frames`` in all, the
    count the frame delays are computed for): memory of one chunk, not of the clip."""
    GifImagePlugin = _gif_plugin()
    scale = check_scale(scale)
    table = palette.table()
    delays = gif_delays_cs(int(n_frames), fps)
    k = 0
    with atomic_file(path) as f:
        for chunk in chunks:
            for frame in as_frames(chunk):  # one frame at a time: memory of one picture
                if k >= len(delays):
                    raise ConfigError(f"more frames than the {n_frames} announced")
                index = upscale(palette_indices(frame)[..., None], scale)[0, ..., 0]
                image = _palette_image(index, table)
                if k == 0:
                    for part in GifImagePlugin.getheader(image, info={"loop": int(loop)})[0]:
                        f.write(part)
                # every frame whole (no delta against the previous one), disposal 1: leave it
                for part in GifImagePlugin.getdata(image, duration=10 * delays[k], disposal=1):
                    f.write(part)
                k += 1
        if k != len(delays):
            raise ConfigError(f"{k} frames given, {n_frames} announced")
        f.write(b";")
    return Path(path)


def save_mp4(
    path: str | os.PathLike[str],
    frames: Any,
    *,
    fps: float = 30.0,
    scale: int = 1,
    crf: int = 18,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """An H.264 MP4 (yuv420p, plays everywhere) of ``frames`` at ``fps``; ``crf`` is x264's
    quality (0 lossless luma, 18 visually lossless, 51 worst)."""
    return write_mp4(path, [as_frames(frames)], fps=fps, scale=scale, crf=crf, palette=palette)


def write_mp4(
    path: str | os.PathLike[str],
    chunks: Iterable[Any],
    *,
    fps: float = 30.0,
    scale: int = 1,
    crf: int = 18,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """`save_mp4` of frames given in chunks (each ``[k, 2, H, W]``, all of one size): memory
    of one chunk, not of the clip."""
    try:
        import av
    except ImportError:
        raise ConfigError(f"writing MP4 needs PyAV: {VIZ_EXTRA}") from None
    fps = check_fps(fps)
    if not 0 <= int(crf) <= 51:
        raise ConfigError(f"crf must be in 0..51, got {crf}")
    scale = check_scale(scale)
    rate = Fraction(fps).limit_denominator(1001)
    k = 0
    with atomic_file(path) as f:
        with av.open(f, mode="w", format="mp4") as container:
            stream: Any = None
            for chunk in chunks:
                a = as_frames(chunk)
                h, w = a.shape[2] * scale, a.shape[3] * scale
                if stream is None:
                    # yuv420p needs even sides: an odd side gets one background row / column
                    image = np.empty((h + h % 2, w + w % 2, 3), np.uint8)
                    image[:] = np.asarray(palette.background, np.uint8)
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height = image.shape[1], image.shape[0]
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.time_base = 1 / rate
                    stream.options = {"crf": str(int(crf))}
                elif (h + h % 2, w + w % 2) != image.shape[:2]:
                    raise ConfigError(f"frames of {a.shape[3]}x{a.shape[2]} after frames of "
                                      "another size: one clip has one size")  # fmt: skip
                for frame in a:  # one frame at a time: memory of one picture
                    image[:h, :w] = render_frames(frame, scale, palette)[0]
                    video = av.VideoFrame.from_ndarray(image, format="rgb24")
                    video.pts = k
                    k += 1
                    for packet in stream.encode(video):
                        container.mux(packet)
            if stream is None:
                raise ConfigError("no frames to write")
            for packet in stream.encode():
                container.mux(packet)
    return Path(path)


def grid_image(
    frames: Any,
    *,
    columns: int | None = None,
    scale: int = 1,
    gap: int = 1,
    palette: Palette = DEFAULT_PALETTE,
) -> np.ndarray:
    """The frames as one ``[rows * (h + gap) - gap, columns * (w + gap) - gap, 3]`` image: tile
    ``k`` at row ``k // columns``, column ``k % columns`` (``h, w`` the scaled frame size),
    `GRID_LINE` between tiles and `palette`'s background in unused tiles. ``columns`` defaults
    to ``ceil(sqrt(T))``."""
    rgb = render_frames(frames, scale, palette)
    t, h, w, _ = rgb.shape
    columns = math.ceil(math.sqrt(t)) if columns is None else int(columns)
    if columns < 1:
        raise ConfigError(f"columns must be >= 1, got {columns}")
    if gap < 0:
        raise ConfigError(f"gap must be >= 0, got {gap}")
    columns = min(columns, t)
    rows = math.ceil(t / columns)
    out = np.empty((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), np.uint8)
    out[:] = np.asarray(GRID_LINE, np.uint8)
    for k in range(rows * columns):  # a loop over tiles, not events
        r, c = divmod(k, columns)
        tile = out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w]
        tile[:] = rgb[k] if k < t else np.asarray(palette.background, np.uint8)
    return out


def save_png(
    path: str | os.PathLike[str],
    frames: Any,
    *,
    columns: int | None = None,
    scale: int = 1,
    gap: int = 1,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """A PNG of the frames as a grid (`grid_image`); one frame gives a plain image."""
    image = grid_image(frames, columns=columns, scale=scale, gap=gap, palette=palette)
    with atomic_file(path) as f:
        _pil().fromarray(image, mode="RGB").save(f, format="PNG")
    return Path(path)


def save_frames(
    path: str | os.PathLike[str],
    frames: Any,
    *,
    fps: float | None = None,
    scale: int = 1,
    columns: int | None = None,
    palette: Palette = DEFAULT_PALETTE,
) -> Path:
    """`save_gif`, `save_mp4` or `save_png` by the suffix of ``path`` (``.gif``, ``.mp4``,
    ``.png``); ``fps`` defaults to 10 for a GIF, 30 for an MP4.

    Example:
        >>> save_frames("clip.gif", to_frames(ev, (34, 34), n_frames=30), fps=10, scale=4)
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        return save_gif(path, frames, fps=10.0 if fps is None else fps, scale=scale,
                        palette=palette)  # fmt: skip
    if suffix == ".mp4":
        return save_mp4(path, frames, fps=30.0 if fps is None else fps, scale=scale,
                        palette=palette)  # fmt: skip
    if suffix == ".png":
        return save_png(path, frames, columns=columns, scale=scale, palette=palette)
    raise ConfigError(f"{path}: unknown picture type {suffix!r}; use one of {', '.join(SUFFIXES)}")


def play_frame(x: Any, save_gif_to: str | None = None) -> None:
    """SpikingJelly's ``spikingjelly.datasets.play_frame``: frames ``[T, 2, H, W]`` (numpy or
    torch) shown with OFF (channel 0) in green and ON (channel 1) in blue, each value times 255
    and cut to a byte. With ``save_gif_to`` the frames are saved there as a looping GIF (no
    frame delay, as SpikingJelly's, and every frame kept) and the path printed; without it they
    are shown in a matplotlib window, over and over until the window is closed (SpikingJelly
    loops forever)."""
    a = as_frames(x).astype(np.float64)
    t, _, h, w = a.shape
    rgb = np.zeros((t, h, w, 3), np.uint8)
    # torchvision's ToPILImage on a float tensor: mul(255).byte() (wraps above 255, as there)
    rgb[..., 1] = (a[:, 0] * 255).astype(np.int64).astype(np.uint8)
    rgb[..., 2] = (a[:, 1] * 255).astype(np.int64).astype(np.uint8)
    if save_gif_to is not None:
        _save_rgb_gif(save_gif_to, rgb)
        print(f"Save frames to [{save_gif_to}].")
        return
    import matplotlib.pyplot as plt

    if plt.get_backend().lower() in NON_INTERACTIVE:  # nothing would ever close the window
        raise ConfigError(
            f"play_frame needs a display (matplotlib's backend is {plt.get_backend()!r}); "
            "pass save_gif_to='frames.gif' to save the frames instead"
        )
    fig, ax = plt.subplots()
    shown = ax.imshow(rgb[0])
    while plt.fignum_exists(fig.number):
        for image in rgb:
            if not plt.fignum_exists(fig.number):
                break
            shown.set_data(image)
            plt.pause(0.01)


def _save_rgb_gif(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Any RGB frames as a looping GIF without delays, every frame written (Pillow quantises
    each frame to its own palette)."""
    GifImagePlugin = _gif_plugin()
    Image = _pil()
    images = [Image.fromarray(frame, mode="RGB").quantize(256) for frame in rgb]
    header, _ = GifImagePlugin.getheader(images[0], info={"loop": 0})
    with atomic_file(path) as f:
        for chunk in header:
            f.write(chunk)
        for image in images:
            for chunk in GifImagePlugin.getdata(image, include_color_table=True):
                f.write(chunk)
        f.write(b";")
