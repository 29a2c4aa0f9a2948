"""``spikestream decode-samples [FOLDER]``: decode every recording under a folder, summarise it,
re-encode it in another format and read it back, with the decoding speed of each.

Optional (the demo needs no files): the folder defaults to ``$SPIKESTREAM_REAL_DATA``, else
``../shared/data/real`` beside the working directory or the repository when it exists.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DatasetError

# Where each kind of recording goes for the re-encode check (a different format each time).
_REENCODE = {"aedat4": "evt3", "evt2": "aedat4", "evt3": "dat", "dat": "evt2", "nmnist": "aedat3"}


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Example: spikestream decode-samples ../shared/data/real\n"
        "Every file under FOLDER (README.md files skipped) is read, summarised, written in\n"
        "another format and read back; the output is a table, one row per recording."
    )
    p.add_argument(
        "folder",
        nargs="?",
        help="folder of recordings (default: $SPIKESTREAM_REAL_DATA, else ../shared/data/real)",
    )


def find_samples(explicit: str | None = None) -> Path:
    """The folder of sample recordings: ``explicit``, ``$SPIKESTREAM_REAL_DATA``, or
    ``../shared/data/real`` beside the working directory or the repository."""
    from ..settings import real_data_dir

    if explicit is not None:
        if not Path(explicit).is_dir():
            raise ConfigError(f"{explicit}: no such folder of recordings")
        return Path(explicit)
    candidates = [
        real_data_dir(),
        Path.cwd().parent / "shared" / "data" / "real",
        Path(__file__).resolve().parents[4] / "shared" / "data" / "real",
    ]
    for c in candidates:
        if c is not None and c.is_dir():
            return c
    raise ConfigError(
        "no sample recordings found: pass a FOLDER or set SPIKESTREAM_REAL_DATA "
        "(looked for ../shared/data/real beside the repository)"
    )


def run(args: argparse.Namespace) -> int:
    from ..io import read, write

    root = find_samples(args.folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")
    if not files:
        raise ConfigError(f"{root}: no recordings in this folder")
    print(f"spikestream decode-samples: {len(files)} recordings under {root}\n")
    header = (
        f"| {'file':38} | {'format':6} | {'sensor':9} | {'events':>9} | {'duration s':>10} "
        f"| {'ON %':>5} | {'decode Mev/s':>12} | re-encode |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            read(path)  # the first read of a format loads its compiled decoder from the cache
            start = time.perf_counter()
            rec = read(path)
            seconds = time.perf_counter() - start
            s = rec.summary()
            target = _REENCODE.get(rec.source_format, "npz")
            out = Path(tmp) / f"{path.stem}.{target}"
            write(out, rec, format=target)
            same = np.array_equal(read(out, format=target).events, rec.events)
            name = str(path.relative_to(root))
            print(
                f"| {name:38} | {rec.source_format:6} | {rec.width:>4}x{rec.height:<4} "
                f"| {s.count:>9,} | {s.duration_us / 1e6:>10.4f} "
                f"| {100 * s.on_count / max(s.count, 1):>5.1f} "
                f"| {s.count / seconds / 1e6:>12.1f} | {target:6} {'ok' if same else 'DIFF'} |"
            )
            if not same:
                raise DatasetError(f"re-encoding {name} as {target} changed the events")
    print("\nEvery recording decoded, and survived a write/read round trip in another format.")
    return 0
