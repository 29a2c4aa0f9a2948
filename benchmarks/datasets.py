"""DVS128 Gesture conversion: spikestream vs SpikingJelly 2.0's converter, in one process, on a
synthetic set shaped like the real one (122 AEDAT 3.1 trials, 98 train / 24 test, 11-12
gestures per trial cut by labels CSVs, ~13M events, packed as ``DvsGesture.tar.gz``).

    python -m benchmarks.datasets [--events 13000000] [--keep DIR]

Cases: decode + cut + store (from the extracted files), end to end from the archive (MD5 for
ours, extraction, conversion), and loading random samples (our packed store vs SpikingJelly's
``events_np`` .npz files; each sample's four fields are read once, as any consumer does).

One protocol for both libraries: each of ``--repeat`` rounds runs spikestream, then
SpikingJelly, each extracting and converting into a fresh folder of its own (removed after the
round); the first round is the cold figure (the process writes into memory it has not used
before), the best round the warm one. Loading is timed over the same draws, first pass and best
of ``--repeat`` passes, for both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

import spikestream as ss
from spikestream.datasets import DVS128Gesture

from .common import Row, print_table
from .peers import spikingjelly_dvs128_gesture

LIGHTINGS = ("fluorescent", "fluorescent_led", "lab", "led", "natural")


def make_archive(folder: Path, total_events: int, seed: int = 0) -> Path:
    """122 trials (users 1-29 x lightings, as the real set has), each 11 gestures of ~6 s
    (one gesture repeated in every fifth trial), events spread uniformly over each gesture."""
    rng = np.random.default_rng(seed)
    data = folder / "DvsGesture"
    data.mkdir(parents=True)
    trials = [f"user{u:02d}_{light}" for u in range(1, 30) for light in LIGHTINGS][:122]
    per_trial = total_events // len(trials)
    train, test = [], []
    for k, trial in enumerate(trials):
        classes = list(range(1, 12)) + ([8] if k % 5 == 0 else [])
        starts = 1_000_000 + np.arange(len(classes)) * 6_500_000
        ends = starts + 6_000_000
        t = np.sort(rng.integers(starts[0], ends[-1], per_trial))
        events = ss.make_events(
            t=t,
            x=rng.integers(0, 128, per_trial),
            y=rng.integers(0, 128, per_trial),
            p=rng.integers(0, 2, per_trial),
        )
        ss.write(data / f"{trial}.aedat", events, (128, 128), format="aedat3")
        rows = "".join(f"{c},{s},{e}\n" for c, s, e in zip(classes, starts, ends, strict=True))
        (data / f"{trial}_labels.csv").write_text("class,startTime_usec,endTime_usec\n" + rows)
        (test if int(trial[4:6]) >= 24 else train).append(f"{trial}.aedat\n")
    (data / "trials_to_train.txt").write_text("".join(train))
    (data / "trials_to_test.txt").write_text("".join(test))
    archive = folder / "DvsGesture.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tf:
        tf.add(data, arcname="DvsGesture")
    shutil.rmtree(data)
    return archive


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=13_000_000)
    parser.add_argument("--samples", type=int, default=300, help="random samples loaded")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the first is cold)")
    parser.add_argument("--keep", help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="ss-bench-gesture-"))
    try:
        run(work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def stages(extract, convert) -> tuple[float, float]:
    """Seconds of the extraction and of the conversion, run back to back."""
    start = time.perf_counter()
    extract()
    middle = time.perf_counter()
    convert()
    return middle - start, time.perf_counter() - middle


def run(work: Path, args: argparse.Namespace) -> None:
    from spikestream.datasets import archive as ss_archive
    from spikestream.datasets import md5sum

    archive = work / "DvsGesture.tar.gz"
    if not archive.is_file():
        print(f"writing a synthetic DvsGesture.tar.gz with {args.events:,} events ...")
        archive = make_archive(work, args.events)
    print(f"archive: {archive.stat().st_size / 1e6:.0f} MB")
    md5 = md5sum(archive)
    sj = spikingjelly_dvs128_gesture()
    if sj is not None:  # its per-step log lines would drown the table
        from loguru import logger

        logger.disable("spikingjelly")

    def ours_round(root: Path) -> tuple[float, float]:
        # what DVS128Gesture.prepare does, one stage at a time: MD5 + extraction, conversion
        extracted = root / "extract"

        def convert() -> None:
            for split in DVS128Gesture.splits:
                DVS128Gesture.convert_split(
                    extracted, split, root / "packed" / split, progress=False
                )

        return stages(lambda: ss_archive.extract(archive, extracted / "DvsGesture", md5), convert)

    def sj_round(root: Path) -> tuple[float, float]:
        (root / "events_np").mkdir(parents=True)
        return stages(
            lambda: sj.extract_downloaded_files(archive.parent, root / "extract"),
            lambda: sj.create_raw_from_extracted(root / "extract", root / "events_np"),
        )

    ours: list[tuple[float, float]] = []
    peer: list[tuple[float, float]] = []
    for k in range(args.repeat):
        for name, fn, out in (("ours", ours_round, ours), ("sj", sj_round, peer)):
            if name == "sj" and sj is None:
                continue
            root = work / f"{name}_{k}"
            shutil.rmtree(root, ignore_errors=True)
            out.append(fn(root))
            if k < args.repeat - 1:  # the last round's folders are kept for loading
                shutil.rmtree(root, ignore_errors=True)
    last = args.repeat - 1
    (work / f"ours_{last}" / "download").mkdir()  # prepare() finds the archive, then the stores
    os.link(archive, work / f"ours_{last}" / "download" / archive.name)
    original = DVS128Gesture.resources
    from spikestream.datasets import Resource

    DVS128Gesture.resources = (Resource("DvsGesture.tar.gz", None, md5),)
    try:
        train = DVS128Gesture(work / f"ours_{last}", train=True)
        n_events = int(train.store.offsets[-1]) + int(
            DVS128Gesture(work / f"ours_{last}", train=False).store.offsets[-1]
        )
    finally:
        DVS128Gesture.resources = original
    picks = np.random.default_rng(1).integers(0, len(train), args.samples)

    def ours_load():  # each sample's fields are read once, as any consumer does
        for i in picks:
            events, _ = train[int(i)]
            for k in ("t", "x", "y", "p"):
                events[k].sum()

    loads = {"ours": [timed(ours_load) / args.samples for _ in range(args.repeat)]}
    if sj is not None:
        files = sorted((work / f"sj_{last}" / "events_np" / "train").rglob("*.npz"))
        sj_picks = [files[int(i) % len(files)] for i in picks]

        def sj_load():
            for f in sj_picks:  # what SpikingJelly's event loader returns: a dict of arrays
                with np.load(f) as z:
                    events = {k: z[k] for k in ("t", "x", "y", "p")}
                for k in ("t", "x", "y", "p"):
                    events[k].sum()

        loads["sj"] = [timed(sj_load) / args.samples for _ in range(args.repeat)]
    me = n_events / 1e6

    def rate(runs: list[tuple[float, float]], stage: slice, first: bool) -> float | None:
        if not runs:
            return None
        seconds = [sum(r[stage]) for r in runs]
        return me / (seconds[0] if first else min(seconds))

    rows = []
    for label, stage in (
        (f"decode + cut + store ({me:.1f}M events)", slice(1, 2)),
        ("end to end from DvsGesture.tar.gz", slice(0, 2)),
    ):
        for first in (True, False):
            rows.append(
                Row(
                    f"{label}, {'first run' if first else f'best of {args.repeat}'}",
                    rate(ours, stage, first),
                    "SpikingJelly 2.0",
                    rate(peer, stage, first),
                    "M events/s",
                    "ours includes the MD5 check" if stage.start == 0 else "",
                )
            )
    for first in (True, False):
        pick = (lambda v: v[0]) if first else min
        rows.append(
            Row(
                f"load a random training sample ({args.samples} draws), "
                + ("first pass" if first else f"best of {args.repeat}"),
                1 / pick(loads["ours"]),
                "SpikingJelly 2.0 events_np .npz",
                1 / pick(loads["sj"]) if "sj" in loads else None,
                "samples/s",
            )
        )
    for name, runs in (("ours", ours), ("SpikingJelly", peer)):
        if runs:
            print(
                f"{name}: seconds per round (extract, convert): "
                + "; ".join(f"{a:.2f}, {b:.2f}" for a, b in runs)
                + f" (median end to end {statistics.median(a + b for a, b in runs):.2f})"
            )
    print(f"{os.cpu_count()} cores")
    print_table("DVS128 Gesture conversion", rows)


if __name__ == "__main__":
    main()
