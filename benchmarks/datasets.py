"""DVS128 Gesture conversion: spikestream vs SpikingJelly 2.0's converter, in one process, on a
synthetic set shaped like the real one (122 AEDAT 3.1 trials, 98 train / 24 test, 11-12
gestures per trial cut by labels CSVs, ~13M events, packed as ``DvsGesture.tar.gz``).

    python -m benchmarks.datasets [--events 13000000] [--keep DIR]

Cases: decode + cut + store (from the extracted files), end to end from the archive (MD5 for
ours, extraction, conversion), and loading random samples (our packed store vs SpikingJelly's
``events_np`` .npz files; each sample's four fields are read once, as any consumer does).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    parser.add_argument("--keep", help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="ss-bench-gesture-"))
    try:
        run(work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, args: argparse.Namespace) -> None:
    archive = work / "DvsGesture.tar.gz"
    if not archive.is_file():
        print(f"writing a synthetic DvsGesture.tar.gz with {args.events:,} events ...")
        archive = make_archive(work, args.events)
    print(f"archive: {archive.stat().st_size / 1e6:.0f} MB")
    ours_root = work / "ours"
    shutil.rmtree(ours_root, ignore_errors=True)
    (ours_root / "download").mkdir(parents=True)
    shutil.copy(archive, ours_root / "download")
    original = DVS128Gesture.resources
    from spikestream.datasets import Resource, md5sum

    DVS128Gesture.resources = (Resource("DvsGesture.tar.gz", None, md5sum(archive)),)

    def ours_end_to_end():
        for stage in ("extract", "packed"):
            shutil.rmtree(ours_root / stage, ignore_errors=True)
        DVS128Gesture.prepare(ours_root, progress=False)

    try:  # the first run writes into memory the VM has not handed out before: slower
        e2e_runs = [timed(ours_end_to_end) for _ in range(2)]
    finally:
        DVS128Gesture.resources = original
    ours_e2e = min(e2e_runs)
    extracted = ours_root / "extract"

    def convert_only():
        for split in DVS128Gesture.splits:
            DVS128Gesture.convert_split(extracted, split, work / "ours_convert" / split,
                                        progress=False)  # fmt: skip

    ours_convert = min(timed(convert_only) for _ in range(3))  # the page cache warms up
    train = DVS128Gesture(ours_root, train=True)
    n_events = int(train.store.offsets[-1]) + int(
        DVS128Gesture(ours_root, train=False).store.offsets[-1]
    )
    rng = np.random.default_rng(1)
    picks = rng.integers(0, len(train), args.samples)

    def ours_load():  # each sample's fields are read once, as any consumer does
        for i in picks:
            events, _ = train[int(i)]
            for k in ("t", "x", "y", "p"):
                events[k].sum()

    ours_load_s = timed(ours_load) / args.samples

    sj = spikingjelly_dvs128_gesture()
    sj_e2e = sj_convert = sj_load_s = None
    if sj is not None:
        sj_root = work / "sj"
        shutil.rmtree(sj_root, ignore_errors=True)
        (sj_root / "download").mkdir(parents=True)
        shutil.copy(archive, sj_root / "download")
        t_extract = timed(
            lambda: sj.extract_downloaded_files(sj_root / "download", sj_root / "extract")
        )
        (sj_root / "events_np").mkdir()
        sj_convert = timed(
            lambda: sj.create_raw_from_extracted(sj_root / "extract", sj_root / "events_np")
        )
        sj_e2e = t_extract + sj_convert
        files = sorted((sj_root / "events_np" / "train").rglob("*.npz"))
        sj_picks = [files[int(i) % len(files)] for i in picks]

        def sj_load():
            for f in sj_picks:  # what SpikingJelly's event loader returns: a dict of arrays
                with np.load(f) as z:
                    events = {k: z[k] for k in ("t", "x", "y", "p")}
                for k in ("t", "x", "y", "p"):
                    events[k].sum()

        sj_load_s = timed(sj_load) / args.samples
    me = n_events / 1e6
    rows = [
        Row(
            f"decode + cut + store ({n_events / 1e6:.1f}M events)",
            me / ours_convert,
            "SpikingJelly 2.0",
            me / sj_convert if sj_convert else None,
            "M events/s",
        ),
        Row(
            "end to end from DvsGesture.tar.gz",
            me / ours_e2e,
            "SpikingJelly 2.0",
            me / sj_e2e if sj_e2e else None,
            "M events/s",
            "ours includes the MD5 check",
        ),
        Row(
            f"load a random training sample ({args.samples} draws)",
            1 / ours_load_s,
            "SpikingJelly 2.0 events_np .npz",
            1 / sj_load_s if sj_load_s else None,
            "samples/s",
        ),
    ]
    print(
        f"seconds: ours convert {ours_convert:.2f}, end to end {ours_e2e:.2f} (first run "
        f"{e2e_runs[0]:.2f}); SpikingJelly "
        f"convert {sj_convert or float('nan'):.2f}, end to end {sj_e2e or float('nan'):.2f} "
        f"({os.cpu_count()} cores)"
    )
    print_table("DVS128 Gesture conversion", rows)


if __name__ == "__main__":
    main()
