"""``spikestream show``: look at a recording, a training run or a model.

* ``show REC --out clip.gif|clip.mp4|grid.png``: the recording cut into frames (the
  representations' binning: ``--frames N`` split by ``--split-by time|number``, or
  ``--duration MS`` fixed bins), rendered ON blue / OFF vermillion on white, upscaled ``--scale``
  times; a GIF or MP4 at ``--fps``, a PNG as a grid of tiles (``--columns``); ``--scatter``
  draws an x-y-t scatter instead, ``--titled`` a grid of panels titled with their times.
* ``show RUN_DIR --out curves.png``: the training curves in a run's TensorBoard logs.
* ``show CKPT --traces --sample REC|ndigits:INDEX --out traces.png``: the membrane potentials,
  currents and spikes of the checkpoint's model on one sample, binned as in training.

Needs the ``viz`` extra (``pip install 'spikestream[viz]'``); curves need the ``train`` extra.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import input_path, non_negative_float, output_file, positive_float, positive_int
from .convert import add_layout_option, read_options

#: Most frames a clip or grid may have (a longer recording needs a wider --duration or --end).
MAX_FRAMES = 5000
CKPT_SUFFIXES = (".ckpt", ".pt", ".pth")
CLIP_SUFFIXES = (".gif", ".mp4", ".png")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream show rec.aedat4 --out clip.gif --duration 20 --scale 2 --fps 25\n"
        "  spikestream show rec.raw --out clip.mp4 --frames 300 --fps 30\n"
        "  spikestream show sample.bin --out grid.png --frames 12 --columns 6 --scale 4\n"
        "  spikestream show rec.aedat4 --out xyt.png --scatter --end 200\n"
        "  spikestream show runs/ndigits/version_0 --out curves.png\n"
        "  spikestream show model.ckpt --traces --sample ndigits:3 --out traces.png\n"
        "Colours: ON (0,114,178) blue, OFF (213,94,0) vermillion, both (204,121,167), on white.\n"
        "Needs the viz extra: pip install 'spikestream[viz]'."
    )
    p.add_argument("input", help="an event file, a training run folder, or a checkpoint")
    p.add_argument("--out", required=True, help="output: .gif, .mp4 or .png")
    bins = p.add_mutually_exclusive_group()
    bins.add_argument("--frames", type=positive_int, help="number of frames (default 16)")
    bins.add_argument("--duration", type=positive_float, help="frame duration in ms")
    p.add_argument(
        "--split-by",
        choices=("time", "number"),
        default="time",
        help="with --frames: equal durations (time, default) or event counts",
    )
    p.add_argument("--scale", type=positive_int, default=1, help="integer upscale (default 1)")
    p.add_argument("--fps", type=positive_float,
                   help="frames per second (default 10 for a GIF, 30 for an MP4)")  # fmt: skip
    p.add_argument("--columns", type=positive_int, help="tiles per row of a PNG grid")
    p.add_argument(
        "--start", type=non_negative_float, default=0.0, help="ms after the first event to begin"
    )
    p.add_argument("--end", type=non_negative_float, help="ms after the first event to stop")
    p.add_argument("--scatter", action="store_true", help="PNG: an x-y-t scatter of the events")
    p.add_argument(
        "--titled",
        action="store_true",
        help="PNG: a grid of panels titled with their time spans (matplotlib)",
    )
    p.add_argument("--format", help="input format id, overriding detection")
    add_layout_option(p)
    p.add_argument("--traces", action="store_true", help="a checkpoint's neuron traces")
    p.add_argument("--sample", help="with --traces: an event file, or ndigits:INDEX (test split)")
    p.add_argument("--neurons", type=positive_int, default=4,
                   help="with --traces: membrane traces drawn per layer (default 4)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    source = input_path(args.input, folder_ok=True)
    out = output_file(args.out)
    suffix = out.suffix.lower()
    if suffix not in CLIP_SUFFIXES:
        raise ConfigError(f"--out {args.out}: use a .gif, .mp4 or .png file name")
    if source.is_dir():
        return _curves(source, out)
    if args.traces or source.suffix.lower() in CKPT_SUFFIXES:
        return _traces(args, source, out)
    return _clip(args, source, out)


def _need_png(out: Path, what: str) -> None:
    if out.suffix.lower() != ".png":
        raise ConfigError(f"{what} is a picture: give --out NAME.png (got {out})")


def _curves(run_dir: Path, out: Path) -> int:
    from ..viz.curves import find_runs, plot_curves

    _need_png(out, "a training run's curves")
    run = find_runs(run_dir)[-1]
    plot_curves(run, out, title=str(run))
    print(f"wrote {out} (training curves of {run})")
    return 0


def _load(
    path: Path,
    format_id: str | None,
    options: dict[str, Any],
    start_ms: float,
    end_ms: float | None,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The events of ``path`` from ``start_ms`` to ``end_ms`` after its first event, and the
    sensor size. With ``end_ms`` the file is streamed (`iter_chunks`) and only the window is
    kept, stopping at its end: a short look at a long recording reads only its beginning."""
    from ..io import iter_chunks

    if start_ms < 0 or (end_ms is not None and end_ms <= start_ms):
        raise ConfigError(f"need 0 <= --start < --end, got {start_ms} and {end_ms}")
    parts: list[np.ndarray] = []
    sensor: tuple[int, int] | None = None
    t0 = None
    for chunk in iter_chunks(path, format=format_id, **options):
        sensor = chunk.sensor_size
        ev = chunk.events
        if len(ev) == 0:
            continue
        if t0 is None:
            t0 = int(ev["t"][0])
        lo = t0 + round(start_ms * 1000)
        hi = None if end_ms is None else t0 + round(end_ms * 1000)
        keep = ev["t"] >= lo if hi is None else (ev["t"] >= lo) & (ev["t"] < hi)
        parts.append(ev[keep])
        if hi is not None and int(ev["t"][-1]) >= hi:
            break
    if t0 is None or sensor is None:
        raise ConfigError(f"{path}: the recording holds no events")
    events = np.concatenate(parts)
    if len(events) == 0:
        raise ConfigError(f"no events between --start {start_ms} and --end {end_ms} ms")
    return events, sensor


def _clip(args: argparse.Namespace, path: Path, out: Path) -> int:
    from ..viz import media, plots
    from ..viz.render import event_frames, frame_windows, iter_event_frames

    options: dict[str, Any] = read_options(args.layout)
    events, sensor_size = _load(path, args.format, options, args.start, args.end)
    suffix = out.suffix.lower()
    if args.scatter or args.titled:
        _need_png(out, "--scatter / --titled")
        if args.scatter:
            plots.xyt_scatter(events, sensor_size, out, title=path.name)
            print(f"wrote {out} (x-y-t scatter of {len(events):,} events)")
            return 0
        n = args.frames or 8
        if n > plots.MAX_PANELS:
            raise ConfigError(f"--titled --frames {n}: at most {plots.MAX_PANELS} panels")
        columns = min(args.columns or 4, n)
        plots.event_grid(events, sensor_size, out, rows=-(-n // columns), columns=columns,
                         panels=n, split_by=args.split_by, title=path.name)  # fmt: skip
        print(f"wrote {out} ({n} panels)")
        return 0
    duration = None if args.duration is None else max(1, round(args.duration * 1000))
    if duration is not None:
        n = (int(events["t"][-1]) - int(events["t"][0])) // duration + 1
        if n > MAX_FRAMES:
            raise ConfigError(
                f"--duration {args.duration} ms cuts the recording into {n} frames (at most "
                f"{MAX_FRAMES}); use a longer --duration or a shorter --start/--end window"
            )
    elif (args.frames or 16) > MAX_FRAMES:
        raise ConfigError(f"--frames {args.frames}: at most {MAX_FRAMES}")
    n_frames = None if duration is not None else args.frames or 16
    starts, stops = frame_windows(events["t"], n_frames=n_frames, duration=duration,
                                  split_by=args.split_by)  # fmt: skip
    # binned and written a chunk at a time: a long clip of a large sensor never held whole
    chunks = iter_event_frames(events, sensor_size, starts, stops)
    if suffix == ".gif":
        media.write_gif(out, chunks, len(starts), fps=10.0 if args.fps is None else args.fps,
                        scale=args.scale)  # fmt: skip
    elif suffix == ".mp4":
        media.write_mp4(out, chunks, fps=30.0 if args.fps is None else args.fps,
                        scale=args.scale)  # fmt: skip
    else:  # a PNG grid is one picture of every frame (to_frames checks its size first)
        frames = event_frames(events, sensor_size, n_frames=n_frames, duration=duration,
                              split_by=args.split_by)  # fmt: skip
        media.save_png(out, frames, scale=args.scale, columns=args.columns)
    w, h = sensor_size[0] * args.scale, sensor_size[1] * args.scale
    timing = "" if suffix == ".png" else f" at {args.fps or (10 if suffix == '.gif' else 30):g} fps"
    print(f"wrote {out} ({len(starts)} frames of {w}x{h}{timing})")
    return 0


def _sample(spec: str) -> tuple[np.ndarray, tuple[int, int], str]:
    """The events and sensor size of ``--sample`` (an event file or ``ndigits:INDEX``)."""
    if spec.lower().startswith("ndigits:"):
        from ..datasets import NDigits

        try:
            index = int(spec.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"--sample {spec}: expected ndigits:INDEX, e.g. ndigits:3") from None
        ds = NDigits(train=False)
        if not 0 <= index < len(ds):
            raise ConfigError(f"--sample {spec}: NDigits' test split has {len(ds)} samples")
        events, label = ds[index]
        return events, tuple(ds.sensor_size), f"NDigits test sample {index} (label {label})"  # type: ignore[return-value]
    from ..io import read

    rec = read(input_path(spec))
    return rec.events, rec.sensor_size, Path(spec).name


def model_frames(events: np.ndarray, sensor_size: tuple[int, int], inp: dict) -> np.ndarray:
    """A sample's frames ``[T, C, h, w]`` as training made them from a checkpoint's ``input``
    record: the live engine's geometry (`spikestream.live.geometry`: training's crop box, then
    ceil pooling and channels), the events cropped before binning as training bins them."""
    from ..live.geometry import Geometry, resolve_geometry
    from ..transforms.functional import to_frames

    if inp.get("kind") != "frames":
        raise ConfigError(
            f"the checkpoint's model eats {inp.get('kind')!r}, not frames: traces are for "
            "spiking frame models (plifnet_*, rsnn_*)"
        )
    sensor = (int(sensor_size[0]), int(sensor_size[1]))
    trained = inp.get("sensor_size")
    if trained is not None and tuple(int(v) for v in trained) != sensor:
        raise ConfigError(
            f"the sample's sensor is {sensor[0]}x{sensor[1]} but the model was trained on "
            f"{int(trained[0])}x{int(trained[1])} (input.sensor_size): give a sample recorded "
            "with the training sensor"
        )
    geometry = resolve_geometry(inp, sensor)
    x0, y0, w, h = geometry.crop
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    keep = (x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)
    ev = events[keep].copy()
    ev["x"] = x[keep] - x0
    ev["y"] = y[keep] - y0
    if len(ev) == 0:
        raise ConfigError(f"the sample has no events inside the model's crop {geometry.crop}")
    if inp.get("split_by") == "duration":
        frames = to_frames(ev, (w, h), duration=int(inp["duration_us"]))
    else:
        frames = to_frames(ev, (w, h), n_frames=int(inp["frames_number"]),
                           split_by=inp.get("split_by") or "number")  # fmt: skip
    # pooling and channels exactly as the live engine feeds the model (box already cut)
    return Geometry((w, h), (0, 0, w, h), geometry.pool, geometry.channels).apply(frames)


def _traces(args: argparse.Namespace, path: Path, out: Path) -> int:
    import torch

    from ..models.checkpoint import load_model
    from ..viz.traces import plot_traces, record_neurons

    _need_png(out, "a model's neuron traces")
    if not args.sample:
        raise ConfigError("--traces needs --sample EVENT_FILE or --sample ndigits:INDEX")
    model, record = load_model(path)
    events, sensor_size, what = _sample(args.sample)
    frames = model_frames(events, sensor_size, record.input)
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))[None]  # [1, T, C, h, w]
    with torch.inference_mode(), record_neurons(model) as rec:
        scores = model(x)
    if len(rec) == 0:
        raise ConfigError(f"model {record.name!r} has no spiking neurons to trace")
    label = int(scores.argmax(-1)[0])
    name = record.classes[label] if label < len(record.classes) else str(label)
    plot_traces(rec, out, neurons=args.neurons,
                title=f"{record.name} on {what}: predicted {name}")  # fmt: skip
    print(f"wrote {out} ({len(rec)} layers, {frames.shape[0]} steps; predicted {name})")
    return 0
