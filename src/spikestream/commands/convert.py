"""``spikestream convert IN OUT``: any readable format to any writable one, streaming."""

from __future__ import annotations

import argparse
from typing import Any

from tqdm import tqdm

from ..errors import ConfigError, ValidationError
from ..io import iter_chunks, open_writer
from . import input_path, output_file, positive_int, sensor_size

#: AEDAT 2.0 address layouts (`spikestream.io.aedat2`): the reader's ``layout=`` option.
LAYOUTS = ("dvs128", "davis", "cifar10dvs")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream convert recording.raw recording.aedat4\n"
        "  spikestream convert cifar.aedat cifar.npz --layout cifar10dvs\n"
        "  spikestream convert long.aedat4 short.bin --time-shift first   (.bin holds 8.4 s)\n"
        "The output appears only once complete (it is built under OUT.<id>.partial)."
    )
    p.add_argument("input", help="event file in any readable format")
    p.add_argument("output", help="file to write; format from --to or the extension")
    p.add_argument("--from", dest="src_format", help="input format id (default: detect)")
    p.add_argument("--to", dest="dst_format", help="output format id (default: from extension)")
    add_layout_option(p)
    p.add_argument(
        "--sensor-size", type=sensor_size, help="WxH, when the input does not say (e.g. 640x480)"
    )
    p.add_argument(
        "--time-shift",
        type=time_shift,
        help="subtract this from every timestamp before writing: 'first' (the first event's "
        "time, so the output starts at 0) or microseconds; for formats with a short time "
        "range (N-MNIST .bin, AEDAT 2.0)",
    )
    p.add_argument("--chunk-events", type=positive_int, default=1 << 20, help="events per chunk")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_layout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="AEDAT 2.0 address layout (default: from the header); cifar10dvs decodes like "
        "SpikingJelly's CIFAR10-DVS",
    )


def read_options(layout: str | None) -> dict[str, Any]:
    """Reader options from the command line (only those given, so other formats accept them)."""
    return {} if layout is None else {"layout": layout}


def time_shift(text: str) -> str | int:
    """argparse type: ``first`` or a whole number of microseconds >= 0."""
    if text == "first":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 'first' or a whole number of microseconds >= 0, got {text!r}"
        )
    return value


def convert(
    src: str,
    dst: str,
    *,
    src_format: str | None = None,
    dst_format: str | None = None,
    sensor_size: tuple[int, int] | None = None,
    chunk_events: int = 1 << 20,
    time_shift: str | int | None = None,
    progress: bool | None = False,
    **options: Any,
) -> int:
    """Stream ``src`` into ``dst`` in chunks of ``chunk_events``; returns the event count.
    ``time_shift`` ('first' or µs) is subtracted from every timestamp; ``options`` go to the
    reader (e.g. ``layout='cifar10dvs'``). ``progress=None``: a bar only on a terminal."""

    def chunks():
        return iter_chunks(src, format=src_format, n_events=chunk_events, **options)

    first = next(iter(chunks()), None)
    if sensor_size is None and first is not None:
        # every chunk reports the whole file's size: declared, or inferred by the reader from
        # all the events when the file names none (metadata["sensor_size_inferred"])
        sensor_size = first.sensor_size
    if sensor_size is None:
        sensor_size = (1, 1)
    shift = 0
    if time_shift is not None and first is not None and len(first):
        t0 = int(first.events["t"][0])
        shift = t0 if time_shift == "first" else int(time_shift)
        if shift > t0:
            raise ConfigError(
                f"--time-shift {shift} is later than the first event (t = {t0} µs): the "
                "times would be negative; use --time-shift first"
            )
    disable = None if progress is None else not progress  # None: tqdm shows it on a terminal
    with (
        open_writer(dst, sensor_size, format=dst_format) as writer,
        tqdm(unit="ev", unit_scale=True, disable=disable, leave=False, desc="convert") as bar,
    ):
        for c in chunks():
            events = c.events
            if shift:
                events = events.copy()  # chunks may be read-only views of the file
                events["t"] -= shift
            try:
                writer.write(events)
            except ValidationError as exc:  # say which conversion (a wrong --from or size)
                raise ValidationError(f"{src} -> {dst}: {exc}") from None
            bar.update(len(c))
    return writer.count


def run(args: argparse.Namespace) -> int:
    input_path(args.input)
    output_file(args.output)
    n = convert(
        args.input,
        args.output,
        src_format=args.src_format,
        dst_format=args.dst_format,
        sensor_size=args.sensor_size,
        chunk_events=args.chunk_events,
        time_shift=args.time_shift,
        progress=False if args.quiet else None,
        **read_options(args.layout),
    )
    print(f"wrote {n:,} events to {args.output}")
    return 0
