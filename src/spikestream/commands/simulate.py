"""``spikestream simulate IN OUT``: images or a video file to an event file.

Videos are read through imageio's PyAV plugin, the ``video`` extra
(``pip install 'spikestream[video]'``); their frame times come from the container's frame rate
unless ``--fps`` is given. A folder of images is taken at ``--fps`` (default
`DEFAULT_IMAGES_FPS`), one image becomes N-MNIST-like saccades.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import ConfigError, FormatError
from . import input_path, output_file, positive_float

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}
#: Frame rate of a folder of images when ``--fps`` is not given (Hz).
DEFAULT_IMAGES_FPS = 1000.0
VIDEO_EXTRA = "reading video needs the video extra: pip install 'spikestream[video]'"


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream simulate clip.mp4 clip.aedat4             (the video's own frame rate)\n"
        "  spikestream simulate frames/ out.raw --fps 240        (a folder of images, name order)\n"
        "  spikestream simulate digit.png digit.bin              (one image: N-MNIST saccades)\n"
        "Videos need the video extra: pip install 'spikestream[video]'."
    )
    p.add_argument("input", help="a video file, a folder of images, or one image (saccades)")
    p.add_argument("output", help="event file; format from --to or the extension")
    p.add_argument("--to", dest="format", help="output format id")
    p.add_argument(
        "--fps",
        type=positive_float,
        help="frame rate of the input in Hz (default: a video's own; "
        f"{DEFAULT_IMAGES_FPS:g} for a folder of images)",
    )
    p.add_argument("--threshold", type=float, default=0.2, help="contrast threshold (log units)")
    p.add_argument("--mismatch", type=float, default=0.03, help="relative threshold spread")
    p.add_argument("--refractory-us", type=int, default=0, help="per-pixel dead time (µs)")
    p.add_argument("--shot-noise-hz", type=float, default=0.0, help="noise events per pixel (Hz)")
    p.add_argument("--leak-hz", type=float, default=0.0, help="leak events per pixel (Hz)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same events (default 0)")


def _gray(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim == 3:  # RGB(A) -> luminance
        frame = frame[..., :3] @ np.array([0.299, 0.587, 0.114])
    return frame / 255.0


def _image(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        return _gray(iio.imread(path))
    except Exception as exc:  # imageio's plugins raise many kinds (OSError, ValueError, ...)
        raise FormatError(f"cannot read as an image: {exc}", path=path) from None


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    """The frames of a video file (gray, 0..1) and the container's frame rate (Hz)."""
    try:
        import av  # noqa: F401  (imageio's pyav plugin needs it)
    except ImportError:
        raise ConfigError(f"{path}: {VIDEO_EXTRA}") from None
    import imageio.v3 as iio

    try:
        fps = iio.immeta(path, plugin="pyav").get("fps")
        frames = [_gray(f) for f in iio.imiter(path, plugin="pyav")]
    except Exception as exc:  # PyAV's errors are not all OSError
        raise FormatError(f"cannot read as a video: {exc}", path=path) from None
    if not frames:
        raise FormatError("the video has no frames", path=path)
    return frames, float(fps) if fps else 0.0


def read_frames(path: Path, fps: float | None = None) -> tuple[list[np.ndarray], float]:
    """The gray frames of ``path`` (a folder of images, one image or a video) and their rate:
    ``fps`` when given, else the video's own, else `DEFAULT_IMAGES_FPS`."""
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}")
        return [_image(f) for f in files], fps or DEFAULT_IMAGES_FPS
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [_image(path)], fps or DEFAULT_IMAGES_FPS
    frames, video_fps = read_video(path)
    if fps is None and not video_fps:
        raise ConfigError(f"{path}: the video does not say its frame rate; pass --fps")
    return frames, fps or video_fps


def run(args: argparse.Namespace) -> int:
    from ..io import write
    from ..sim import CameraConfig, saccade_events, simulate

    config = CameraConfig(
        threshold_on=args.threshold,
        threshold_off=args.threshold,
        mismatch=args.mismatch,
        refractory_us=args.refractory_us,
        shot_noise_hz=args.shot_noise_hz,
        leak_hz=args.leak_hz,
    )
    source = input_path(args.input, folder_ok=True)
    output_file(args.output)
    frames, fps = read_frames(source, args.fps)
    if len({f.shape for f in frames}) > 1:
        raise ConfigError(f"{source}: the images differ in size; give frames of one size")
    if len(frames) == 1:
        image = frames[0]
        h, w = image.shape
        canvas = (w + 10, h + 10)
        events = saccade_events(image, canvas, config, amplitude=3.0, seed=args.seed)
    else:
        times = np.round(np.arange(len(frames)) * 1e6 / fps).astype(np.int64)
        stack = np.stack(frames)
        canvas = (stack.shape[2], stack.shape[1])
        events = simulate(stack, times, config, seed=args.seed)
    write(args.output, events, canvas, format=args.format)
    duration = f", {len(frames)} frames at {fps:g} Hz" if len(frames) > 1 else ""
    print(f"wrote {len(events):,} events ({canvas[0]}x{canvas[1]}{duration}) to {args.output}")
    return 0
