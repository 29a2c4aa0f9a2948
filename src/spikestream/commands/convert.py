"""``spikestream convert IN OUT``: any readable format to any writable one, streaming."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from ..errors import ConfigError
from ..io import iter_chunks, open_writer
from ..io.base import infer_sensor_size


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Example: spikestream convert recording.raw recording.aedat4 --to aedat4\n"
        "The output appears only once complete (it is built under OUT.partial)."
    )
    p.add_argument("input", help="event file in any readable format")
    p.add_argument("output", help="file to write; format from --to or the extension")
    p.add_argument("--from", dest="src_format", help="input format id (default: detect)")
    p.add_argument("--to", dest="dst_format", help="output format id (default: from extension)")
    p.add_argument("--sensor-size", help="WxH, when the input does not say (e.g. 640x480)")
    p.add_argument("--chunk-events", type=int, default=1 << 20, help="events per chunk")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"sensor size must look like 640x480, got {text!r}") from None
    return w, h


def convert(
    src: str,
    dst: str,
    *,
    src_format: str | None = None,
    dst_format: str | None = None,
    sensor_size: tuple[int, int] | None = None,
    chunk_events: int = 1 << 20,
    progress: bool = False,
) -> int:
    """Stream ``src`` into ``dst`` in chunks of ``chunk_events``; returns the event count."""

    def chunks():
        return iter_chunks(src, format=src_format, n_events=chunk_events)

    first = next(iter(chunks()), None)
    if sensor_size is None and first is not None:
        sensor_size = first.sensor_size
        if first.metadata.get("sensor_size_inferred"):
            # the file names no size: one cheap streaming pass for the largest coordinates
            w = h = 1
            for c in chunks():
                cw, ch = infer_sensor_size(c.events)
                w, h = max(w, cw), max(h, ch)
            sensor_size = (w, h)
    if sensor_size is None:
        sensor_size = (1, 1)
    with open_writer(dst, sensor_size, format=dst_format) as writer:
        bar = tqdm(unit="ev", unit_scale=True, disable=not progress, desc="convert")
        for c in chunks():
            writer.write(c.events)
            bar.update(len(c))
        bar.close()
    return writer.count


def run(args: argparse.Namespace) -> int:
    n = convert(
        args.input,
        args.output,
        src_format=args.src_format,
        dst_format=args.dst_format,
        sensor_size=parse_size(args.sensor_size) if args.sensor_size else None,
        chunk_events=args.chunk_events,
        progress=not args.quiet,
    )
    print(f"wrote {n:,} events to {args.output}")
    return 0
