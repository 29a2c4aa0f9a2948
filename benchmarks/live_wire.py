"""Receive + decode throughput of the DV network stream over loopback TCP: spikestream's client
(`spikestream.live.dvtcp.DvTcpSource`, chunks of canonical numpy events) vs iniVation's
``dv.io.NetworkReader`` (dv-processing, each batch converted with ``.numpy()`` so both end with a
numpy array per packet; also without the conversion, where the peer does less work than ours:
our figure is the same in both rows). NetworkReader has no blocking read (``getNextEventBatch``
returns None until a packet is ready), so it is busy-polled: its best case.

A sender process holds the encoded stream in memory (IOHeader + packets of ``--packet-events``
events each, synthetic 640x480 events) and writes it as fast as the socket takes it to each
client in turn, so both readers get the same bytes; rounds alternate ours / peer and the best
of ``--repeat`` is reported, for each wire compression (none, LZ4, Zstd), plus the first round of
the process (cold). The machine is shared: figures move with its load (printed in the title).

Also our SPIF UDP listener against a sender process writing 512-byte datagrams as fast as it
can (no peer installed: aestream's ``UDPInput`` drops polarity): the rate from the first chunk's
arrival to the last (the first chunk's events not counted), reported for the best round with
that round's loss, and the worst loss of all rounds.

    python -m benchmarks.live_wire [--events N] [--compression {none,lz4,zstd} ...] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from spikestream.events import make_events
from spikestream.io import aedat4
from spikestream.live import dvtcp
from spikestream.live.sources import open_source

from .common import Row, have, print_table

SIZE = (640, 480)

SENDER = textwrap.dedent(
    """
    import socket, sys
    blob = open(sys.argv[1], "rb").read()
    clients = int(sys.argv[2])
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    lst.settimeout(120)
    print(lst.getsockname()[1], flush=True)
    for _ in range(clients):
        conn, _ = lst.accept()
        conn.sendall(blob)
        conn.settimeout(60)  # NetworkReader drops what it has not handed out when we close
        try:
            while conn.recv(1 << 16):
                pass
        except OSError:
            pass
        conn.close()
    """
)


UDP_SENDER = textwrap.dedent(
    """
    import socket, sys
    data = open(sys.argv[1], "rb").read()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(0, len(data), 512):
        tx.sendto(data[i : i + 512], ("127.0.0.1", int(sys.argv[2])))
    """
)


def spif_rates(events: np.ndarray, repeat: int) -> tuple[float, float, float]:
    """(best round's received events/s, that round's loss, worst loss of all rounds) of our
    SPIF listener against a sender process writing 512-byte datagrams (no timestamp words) as
    fast as it can."""
    import threading

    from spikestream.live import spif

    words = spif.encode_words(events, timestamps=False)
    rounds: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "words.bin"
        path.write_bytes(words.astype("<u4").tobytes())
        for _ in range(repeat):
            src = spif.SpifSource("127.0.0.1", 0, sensor_size=SIZE)
            proc = subprocess.Popen([sys.executable, "-c", UDP_SENDER, str(path), str(src.port)])

            def end_when_drained(src=src, proc=proc) -> None:
                # the sender is done and nothing arrived for 0.5 s: what is left was lost
                proc.wait(timeout=120)
                seen = -1
                while seen != src.stats["datagrams"]:
                    seen = src.stats["datagrams"]
                    time.sleep(0.5)
                src.close()

            watcher = threading.Thread(target=end_when_drained, daemon=True)
            watcher.start()
            got, counted, first, last = 0, 0, 0, 0
            for chunk in src:
                if not first:
                    first = chunk.arrival_ns  # the timer starts here: count what follows
                else:
                    counted += len(chunk.events)
                last = chunk.arrival_ns
                got += len(chunk.events)
                if got >= len(events):
                    break
            src.close()
            watcher.join(timeout=130)
            rate = counted / ((last - first) / 1e9) if last > first else 0.0
            rounds.append((rate, 1 - got / len(events)))
    best = max(rounds)
    return best[0], best[1], max(loss for _, loss in rounds)


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, max(1, n // 10), n)) + 1_700_000_000_000_000  # 10 Mev/s
    return make_events(
        t, rng.integers(0, SIZE[0], n), rng.integers(0, SIZE[1], n), rng.integers(0, 2, n)
    )


def ours(port: int, total: int) -> float:
    start = time.perf_counter()
    src = open_source(f"tcp://127.0.0.1:{port}", timeout_s=30)
    have_ = 0
    with src:
        for chunk in src:
            have_ += len(chunk.events)
            if have_ >= total:
                break
    assert have_ == total, (have_, total)
    return total / (time.perf_counter() - start)


def peer(port: int, total: int, to_numpy: bool) -> float:
    import dv_processing as dv

    start = time.perf_counter()
    reader = dv.io.NetworkReader("127.0.0.1", port)
    have_ = 0
    deadline = start + 60
    while have_ < total and time.perf_counter() < deadline:
        batch = reader.getNextEventBatch()
        if batch is None:
            continue  # no blocking read in its API: busy-poll (its best case)
        have_ += len(batch.numpy()) if to_numpy else batch.size()
    rate = total / (time.perf_counter() - start)
    del reader
    assert have_ == total, (have_, total)
    return rate


def _dv_rounds(
    events: np.ndarray, compression: int, per: int, repeat: int, with_peer: bool
) -> tuple[dict[str, list[float]], int]:
    """Each reader's rates over ``repeat`` interleaved rounds against one sender process
    (ours, then the peer with and without ``.numpy()``), and the wire size in bytes."""
    blob = dvtcp.ioheader(compression, SIZE) + b"".join(
        dvtcp.event_packets(events, compression, per)
    )
    runs = [("ours", None)] + ([("peer-numpy", True), ("peer-raw", False)] if with_peer else [])
    rates: dict[str, list[float]] = {key: [] for key, _ in runs}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.bin"
        path.write_bytes(blob)
        proc = subprocess.Popen(
            [sys.executable, "-c", SENDER, str(path), str(repeat * len(runs))],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(proc.stdout.readline()) if proc.stdout else 0
            for _ in range(repeat):  # interleaved rounds
                for key, to_numpy in runs:
                    if to_numpy is None:
                        rates[key].append(ours(port, len(events)))
                    else:
                        rates[key].append(peer(port, len(events), to_numpy))
            proc.wait(timeout=60)
        finally:
            proc.kill()
    return rates, len(blob)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--packet-events", type=int, default=10_000)
    parser.add_argument(
        "--compression",
        nargs="+",
        choices=["none", "lz4", "zstd"],
        default=["none", "lz4", "zstd"],
        help="one or more wire compressions, each measured in turn (default: all three)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--udp-events", type=int, default=1_000_000, help="0: no UDP case")
    args = parser.parse_args(argv)
    events = synthetic(args.events)
    with_peer = have("dv_processing")
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    cold: dict[str, float] = {}
    for name in args.compression:
        rates, nbytes = _dv_rounds(
            events, aedat4.COMPRESSION[name], args.packet_events, args.repeat, with_peer
        )
        # the first round of the process is cold: our source loads its numba check from
        # numba's cache, the peer imports dv_processing; the rows report the best round
        warm = rates["ours"][1:] if not cold and args.repeat > 1 else rates["ours"]
        cold = cold or {key: r[0] for key, r in rates.items()}
        best = {key: max(r) for key, r in rates.items()}
        note = (
            f"{len(events):,} events in {args.packet_events:,}-event packets, "
            f"{nbytes / 2**20:.0f} MiB on the wire; best of {args.repeat} rounds (ours' warm "
            f"rounds {min(warm) / 1e6:.0f}-{max(warm) / 1e6:.0f})"
        )
        rows += [
            Row(
                f"DV TCP {name}: receive + decode to canonical numpy events",
                best["ours"] / 1e6,
                "dv-processing NetworkReader + .numpy() (busy-polled)",
                best["peer-numpy"] / 1e6 if with_peer else None,
                "Mev/s",
                note,
            ),
            Row(
                f"DV TCP {name}: the same figure as above",
                best["ours"] / 1e6,
                "dv-processing NetworkReader, EventStore only (less work)",
                best["peer-raw"] / 1e6 if with_peer else None,
                "Mev/s",
                note,
            ),
        ]
    if cold:
        rows.append(
            Row(
                f"DV TCP {args.compression[0]}: first round of the process (cold)",
                cold["ours"] / 1e6,
                "dv-processing NetworkReader + .numpy(), first round (imports the module)",
                cold["peer-numpy"] / 1e6 if with_peer else None,
                "Mev/s",
                "ours loads its numba event check (numba's cache) when the source is made",
            )
        )
    if args.udp_events:
        rate, loss, worst = spif_rates(synthetic(args.udp_events, seed=1), args.repeat)
        rows.append(
            Row(
                "SPIF UDP receive + decode",
                rate / 1e6,
                "(aestream not installed)",
                None,
                "Mev/s",
                f"{args.udp_events:,} events in 512-byte datagrams; best round's loss "
                f"{loss:.1%}, worst round's {worst:.1%}",
            )
        )
    load = f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print_table(f"Live wire: DV network stream and SPIF UDP over loopback ({load})", rows)


if __name__ == "__main__":
    main(sys.argv[1:])
