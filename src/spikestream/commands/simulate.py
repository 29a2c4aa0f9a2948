"""``spikestream simulate IN OUT``: images or a video file to an event file."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import ConfigError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream simulate clip.mp4 clip.aedat4 --fps 240\n"
        "  spikestream simulate frames/ out.raw --fps 1000   (a folder of images, name order)\n"
        "  spikestream simulate digit.png digit.bin          (one image: N-MNIST saccades)"
    )
    p.add_argument("input", help="a video file, a folder of images, or one image (saccades)")
    p.add_argument("output", help="event file; format from --to or the extension")
    p.add_argument("--to", dest="format", help="output format id")
    p.add_argument("--fps", type=float, default=1000.0, help="frame rate of the input (Hz)")
    p.add_argument("--threshold", type=float, default=0.2, help="contrast threshold (log units)")
    p.add_argument("--mismatch", type=float, default=0.03, help="relative threshold spread")
    p.add_argument("--refractory-us", type=int, default=0)
    p.add_argument("--shot-noise-hz", type=float, default=0.0, help="per pixel")
    p.add_argument("--leak-hz", type=float, default=0.0, help="per pixel")
    p.add_argument("--seed", type=int, default=0)


def _gray(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim == 3:  # RGB(A) -> luminance
        frame = frame[..., :3] @ np.array([0.299, 0.587, 0.114])
    return frame / 255.0


def read_frames(path: Path) -> list[np.ndarray]:
    import imageio.v3 as iio

    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}")
        return [_gray(iio.imread(f)) for f in files]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [_gray(iio.imread(path))]
    return [_gray(f) for f in iio.imiter(path)]


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
    frames = read_frames(Path(args.input))
    if len(frames) == 1:
        image = frames[0]
        h, w = image.shape
        canvas = (w + 10, h + 10)
        events = saccade_events(image, canvas, config, amplitude=3.0, seed=args.seed)
    else:
        times = np.round(np.arange(len(frames)) * 1e6 / args.fps).astype(np.int64)
        stack = np.stack(frames)
        canvas = (stack.shape[2], stack.shape[1])
        events = simulate(stack, times, config, seed=args.seed)
    write(args.output, events, canvas, format=args.format)
    print(f"wrote {len(events):,} events ({canvas[0]}x{canvas[1]}) to {args.output}")
    return 0
