"""Decode throughput: spikestream vs expelliarmus (EVT2, EVT3, DAT) and vs ``aedat`` (AEDAT4).

The files are written by spikestream's own writers from the same synthetic 1280x720 recording
(default 10M events), then each decoder reads the whole file into memory. One core: our kernels
are single-threaded and expelliarmus is single-threaded C. Also reported: our peak heap during a
read divided by the size of the output array (memory-mapped input is not allocated).

    python -m benchmarks.io_decode [--events N]

Peers: ``pip install expelliarmus aedat`` (``make bench`` does it).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import spikestream.io as sio
from spikestream.events import make_events

from .common import Row, best_time, have, peak_traced_bytes, print_table


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """A 1280x720 recording at 5 Mev/s with row-coherent bursts, like a moving edge."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, max(1, n // 5), n))  # 5 events per µs on average
    y = (np.arange(n) // 8 % 720).astype(np.int64)  # runs of 8 events on one row
    x = rng.integers(0, 1280, n)
    return make_events(t, x, y, rng.integers(0, 2, n))


def expelliarmus_reader(encoding: str, path: str):
    from expelliarmus import Wizard

    wizard = Wizard(encoding=encoding, fpath=path)
    return wizard.read


def aedat_reader(path: str):
    import aedat

    def read():
        parts = [p["events"] for p in aedat.Decoder(path) if "events" in p]
        return np.concatenate(parts)

    return read


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    events = synthetic(args.events)
    size = (1280, 720)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, ext, peer in [
            ("evt2", "raw", "expelliarmus"),
            ("evt3", "raw", "expelliarmus"),
            ("dat", "dat", "expelliarmus"),
            ("aedat4", "aedat4", "aedat"),
        ]:
            path = os.path.join(tmp, f"bench.{ext}")
            sio.write(path, events, size, format=fmt)
            ours_events = sio.read(path).events
            assert np.array_equal(ours_events, events), fmt
            ours = best_time(lambda path=path: sio.read(path), args.repeat)
            peak = peak_traced_bytes(lambda path=path: sio.read(path)) / events.nbytes
            peer_rate = None
            note = f"peak heap {peak:.2f}x output; {os.path.getsize(path) / 1e6:.0f} MB file"
            if have(peer):
                reader = aedat_reader(path) if peer == "aedat" else expelliarmus_reader(fmt, path)
                theirs = reader()
                same = all(
                    np.array_equal(
                        np.asarray(theirs[k]).astype(np.int64), events[k].astype(np.int64)
                    )
                    for k in "txy"
                )
                note += "; peer output equal" if same else "; PEER OUTPUT DIFFERS"
                peer_rate = len(events) / best_time(reader, args.repeat) / 1e6
            else:
                note += f"; {peer} not installed"
            rows.append(
                Row(
                    f"{fmt} decode, {len(events) / 1e6:.0f}M events",
                    len(events) / ours / 1e6,
                    peer,
                    peer_rate,
                    "Mev/s",
                    note,
                )
            )
    print_table("File decoding (whole file into memory, one core)", rows)


if __name__ == "__main__":
    main()
