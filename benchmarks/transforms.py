"""Representation, filter and augmentation throughput: spikestream vs Tonic 1.7 and
SpikingJelly 2.0 on the same synthetic 128x128 events (1M and 10M), in one process. Our frame
and voxel kernels run one thread per frame (numba, all cores: 2 here); the peers are numpy (one
core). Each such case has a row for ours on one thread (``numba.set_num_threads(1)``: the
like-for-like figure) and on every thread, both against the same peer figure; the numpy-only
augmentations have the one-thread row only.

    python -m benchmarks.transforms [--events 1000000 10000000]

Peers: ``pip install tonic spikingjelly loguru matplotlib`` (``make bench`` does it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numba
import numpy as np

from spikestream.compat.spikingjelly import datasets as sj_compat
from spikestream.compat.tonic import transforms as ss_tonic
from spikestream.events import make_events, to_dict, to_structured
from spikestream.transforms import functional as F

from . import peers
from .common import Row, best_time, print_table


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """128x128 events at 1 Mev/s: a moving blob over uniform background (like the golden set)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, n, n))
    blob = rng.random(n) < 0.6
    phase = 2 * np.pi * t / max(n, 1)
    x = np.where(blob, 64 + 32 * np.cos(phase) + rng.normal(0, 10, n), rng.integers(0, 128, n))
    y = np.where(blob, 64 + 32 * np.sin(phase) + rng.normal(0, 10, n), rng.integers(0, 128, n))
    x = np.clip(np.round(x), 0, 127)
    y = np.clip(np.round(y), 0, 127)
    return make_events(t, x, y, rng.integers(0, 2, n))


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """numba's parallel kernels on ``n`` threads inside the block."""
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _thread_counts() -> list[int]:
    return sorted({1, numba.config.NUMBA_NUM_THREADS})


def _per_threads(measure: Callable[[], float], rounds: int = 3) -> dict[int, float]:
    """``measure()`` (our rate) on one thread and on every thread, the best of ``rounds``
    alternating rounds (other load on the machine then hits both counts alike)."""
    out = dict.fromkeys(_thread_counts(), 0.0)
    for _ in range(rounds):
        for k in out:
            with _threads(k):
                out[k] = max(out[k], measure())
    return out


def _rows(case: str, ours: dict[int, float], peer_name, peer, note) -> list[Row]:
    return [
        Row(f"{case}, ours on {k} thread{'s' if k > 1 else ''}", v, peer_name, peer, "Mev/s", note)
        for k, v in ours.items()
    ]


def bench_size(n: int, sj, tonic, repeat: int) -> list[Row]:
    """All rows for one input size."""
    rows: list[Row] = []
    ev = synthetic(n)
    d = to_dict(ev, contiguous=True)  # SpikingJelly's input: a dict of arrays
    d64 = {k: v.astype(np.int64) for k, v in d.items()}  # what its DVS128 Gesture loader gives
    tonic_ev = to_structured(ev, [("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    size = (128, 128)
    label = f"{n:,} events"
    reps = repeat if n <= 2_000_000 else 1

    def rate(fn, reps=reps, n=n):
        return n / best_time(fn, reps) / 1e6

    # SpikingJelly integration, by number and by time: on the same dict of arrays through the
    # drop-in (float64 frames, as SpikingJelly returns), and natively on canonical records
    for split in ("number", "time"):
        for case, ours_fn, peer_input, peer_label in (
            (
                "drop-in on the same dict",
                lambda split=split: sj_compat.integrate_events_by_fixed_frames_number(
                    d, split, 16, 128, 128
                ),
                d,
                "SpikingJelly 2.0",
            ),
            (
                "canonical records, float32",
                lambda split=split: F.to_frames(ev, size, n_frames=16, split_by=split),
                d,
                "SpikingJelly 2.0",
            ),
            (
                "drop-in on the same int64 dict",
                lambda split=split: sj_compat.integrate_events_by_fixed_frames_number(
                    d64, split, 16, 128, 128
                ),
                d64,
                "SpikingJelly 2.0, int64 arrays (as its events_np files)",
            ),
        ):
            ours = _per_threads(lambda ours_fn=ours_fn: rate(ours_fn))
            peer = None
            note = "spikingjelly not installed"
            if sj is not None:
                peer = rate(
                    lambda split=split, inp=peer_input: sj.integrate_events_by_fixed_frames_number(
                        inp, split, 16, 128, 128
                    )
                )
                expected = sj.integrate_events_by_fixed_frames_number(
                    peer_input, split, 16, 128, 128
                )
                note = "equal frames" if np.array_equal(expected, ours_fn()) else "FRAMES DIFFER"
            rows += _rows(f"frames split by {split}, T=16, {label}, {case}", ours, peer_label,
                          peer, note)  # fmt: skip

    def tonic_row(name, ours_fn, peer_cls, kw, prefix=None, threads=None, compare=None):
        """Ours on all events vs Tonic's ``peer_cls(**kw)``, on a prefix of ``prefix`` events
        where Tonic's per-event Python loop would take minutes; the peer is timed in the same
        alternating rounds. ``threads``: our thread counts (``[1]`` for numpy-only transforms);
        ``compare(peer_out, ours_out)`` writes the note (default: equal outputs)."""
        ours = dict.fromkeys(threads or _thread_counts(), 0.0)
        peer = None
        note = "tonic not installed"
        sub = tonic_ev if prefix is None else tonic_ev[: min(n, prefix)]
        peer_fn = getattr(tonic.transforms, peer_cls)(**kw) if tonic is not None else None
        for round_ in range(3):
            for k in ours:
                with _threads(k):
                    ours[k] = max(ours[k], rate(lambda: ours_fn(tonic_ev)))
            if peer_fn is not None and (prefix is None or round_ == 0):
                # a slow per-event loop is timed once; the others about as often as ours,
                # after one untimed call
                slow = prefix is not None
                took = best_time(lambda: peer_fn(sub), 1 if slow else max(1, reps // 3),
                                 warmup=int(not slow and round_ == 0))  # fmt: skip
                peer = max(peer or 0.0, len(sub) / took / 1e6)
        if peer_fn is not None:
            if compare is not None:
                note = compare(peer_fn(sub), ours_fn(sub))
            else:
                same = np.array_equal(peer_fn(sub), ours_fn(sub))
                note = "equal output" if same else "OUTPUT DIFFERS"
            if prefix is not None:
                note = f"peer on {len(sub) // 1000}k events; {note}"
        rows.extend(_rows(f"{name}, {label}", ours, "Tonic 1.7", peer, note))

    sensor = (128, 128, 2)
    for name, ours_fn, peer_cls, kw in (
        (
            "Tonic ToFrame n_time_bins=16",
            ss_tonic.ToFrame(sensor_size=sensor, n_time_bins=16),
            "ToFrame",
            {"sensor_size": sensor, "n_time_bins": 16},
        ),
        (
            "ToVoxelGrid n_time_bins=10",
            ss_tonic.ToVoxelGrid(sensor_size=sensor, n_time_bins=10),
            "ToVoxelGrid",
            {"sensor_size": sensor, "n_time_bins": 10},
        ),
        (
            "ToTimesurface dt=50000 tau=30000",
            ss_tonic.ToTimesurface(sensor_size=sensor, dt=50_000, tau=30_000),
            "ToTimesurface",
            {"sensor_size": sensor, "dt": 50_000, "tau": 30_000},
        ),
    ):
        tonic_row(name, ours_fn, peer_cls, kw)
    # Filters: Tonic's are per-event Python loops
    tonic_row(
        "Denoise filter_time=10000",
        ss_tonic.Denoise(10_000),
        "Denoise",
        {"filter_time": 10_000},
        prefix=200_000,
    )
    tonic_row(
        "RefractoryPeriod delta=20000",
        ss_tonic.RefractoryPeriod(20_000),
        "RefractoryPeriod",
        {"delta": 20_000},
        prefix=200_000,
    )
    # Tonic's images, sparse frames, pixel dropping, jitter and noise (ours: numpy, one thread,
    # but for the frame kernels)
    tonic_row(
        "ToImage",
        ss_tonic.ToImage(sensor),
        "ToImage",
        {"sensor_size": sensor},
    )
    tonic_row(
        "ToSparseTensor time_window=50000",
        ss_tonic.ToSparseTensor(sensor, time_window=50_000),
        "ToSparseTensor",
        {"sensor_size": sensor, "time_window": 50_000},
        compare=_same_dense,
    )
    cells = np.random.default_rng(1).integers(0, 128 * 128, 10)
    pixels = [(int(v % 128), int(v // 128)) for v in cells]
    for case, kw in (
        ("DropPixel 10 coordinates", {"coordinates": pixels}),
        ("DropPixel hot_pixel_frequency=170 Hz", {"hot_pixel_frequency": 170}),  # ~15 pixels
    ):
        tonic_row(case, ss_tonic.DropPixel(**kw), "DropPixel", kw, threads=[1])
    for case, cls, kw in (
        ("SpatialJitter clip_outliers", "SpatialJitter",
         {"sensor_size": sensor, "clip_outliers": True}),
        ("TimeJitter std=100", "TimeJitter", {"std": 100}),
        ("TimeJitter std=100 sort_timestamps", "TimeJitter",
         {"std": 100, "sort_timestamps": True}),
        (f"UniformNoise n={n // 10:,}", "UniformNoise", {"sensor_size": sensor, "n": n // 10}),
    ):  # fmt: skip
        ours_fn = getattr(ss_tonic, cls)(**kw)
        tonic_row(case, ours_fn, cls, kw, threads=[1], compare=_random_sizes)
    return rows


def _same_dense(peer_out, ours_out) -> str:
    same = bool((peer_out.to_dense() == ours_out.to_dense()).all())
    return "equal dense frames" if same else "FRAMES DIFFER"


def _random_sizes(peer_out, ours_out) -> str:
    """Random draws cannot match the peer's; the output sizes show the same rule."""
    return f"random draws: {len(ours_out):,} events out, Tonic {len(peer_out):,}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    sj = peers.spikingjelly_dataset_utils()
    tonic = peers.tonic()
    rows: list[Row] = []
    for n in args.events:
        rows += bench_size(n, sj, tonic, args.repeat)
    print_table(
        "Representations and filters (ours on 1 thread and on "
        f"{numba.config.NUMBA_NUM_THREADS}; peers single-threaded numpy)",
        rows,
    )


if __name__ == "__main__":
    main()
