"""``spikestream serve FILE --protocol dv-tcp | spif-udp``: replay a recording onto the wire."""

from __future__ import annotations

import argparse
import sys

from . import ctrl_c_stops, input_path, non_negative_int, port_number, positive_float


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Examples:\n"
        "  spikestream serve rec.aedat4 --protocol dv-tcp --port 7777 --loop\n"
        "  spikestream serve rec.raw --protocol spif-udp --port 3333 --speed 2\n"
        "\n"
        "dv-tcp listens (DV's TCP server output / dv-processing NetworkWriter: read it with\n"
        "dv.io.NetworkReader or `spikestream live --source tcp://HOST:PORT`); spif-udp sends SPIF\n"
        "words to a listener at HOST:PORT (`--source udp://:PORT`). Ctrl-C stops (exit status 130)."
    )
    p.add_argument("file", help="event file to replay (any readable format)")
    p.add_argument(
        "--protocol",
        choices=["dv-tcp", "spif-udp"],
        default="dv-tcp",
        help="dv-tcp: DV network stream server (default); spif-udp: SPIF words to a listener",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="dv-tcp: address to listen on (0.0.0.0: every interface); spif-udp: the "
        "listener's address (default 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="dv-tcp: port to listen on (default 7777, 0: any free port); spif-udp: the "
        "listener's port (default 3333)",
    )
    p.add_argument(
        "--speed", type=positive_float, default=1.0, help="replay speed (2: twice as fast)"
    )
    p.add_argument("--fast", action="store_true", help="as fast as possible (ignores --speed)")
    p.add_argument("--loop", action="store_true", help="replay forever (until Ctrl-C)")
    p.add_argument(
        "--compression",
        choices=["none", "lz4", "lz4_high", "zstd", "zstd_high"],
        default="none",
        help="dv-tcp packet compression (default none, as dv-processing's NetworkWriter)",
    )
    p.add_argument(
        "--wait-clients",
        type=non_negative_int,
        default=1,
        metavar="N",
        help="dv-tcp: start the replay once N clients are connected (default 1; 0: at once)",
    )
    p.add_argument("--no-timestamps", action="store_true", help="spif-udp: send no timestamp words")


def run(args: argparse.Namespace) -> int:
    from ..live.server import StreamServer

    input_path(args.file)
    port = args.port if args.port is not None else (7777 if args.protocol == "dv-tcp" else 3333)
    server = StreamServer(
        args.file,
        args.protocol,
        args.host,
        port,
        speed=None if args.fast else args.speed,
        loop=args.loop,
        compression=args.compression,
        wait_clients=args.wait_clients if args.protocol == "dv-tcp" else 0,
        timestamps=not args.no_timestamps,
    )
    server.bind()
    w, h = server.sensor_size
    pace = "as fast as possible" if args.fast else f"{args.speed:g}x speed"
    waiting = (
        f", waiting for {args.wait_clients} client(s)"
        if args.protocol == "dv-tcp" and args.wait_clients
        else ""
    )
    status = 0
    # installed before the "serving" line, so a Ctrl-C sent as soon as it is read is not lost
    with ctrl_c_stops() as interrupted:
        print(
            f"serving {args.file} ({w}x{h}) on {server.url} ({args.protocol}, {pace}"
            f"{', looping' if args.loop else ''}{waiting}); Ctrl-C stops",
            flush=True,
        )
        server.start()
        # an error that ended the replay (a corrupt recording, ...) is raised by wait() and
        # reported by the CLI as a one-line error
        # poll with is_set(): the handler's set() would deadlock on a wait() it interrupted
        while not server.wait(0.2) and not interrupted.is_set():
            pass
        if interrupted.is_set() and not server.wait(0):
            server.stats["interrupted"] = True
            server.stop()
            status = 130  # the CLI's convention for Ctrl-C
    s = server.stats
    how = "interrupted" if s["interrupted"] else "done"
    if args.protocol == "dv-tcp":
        sent = f"{s['packets']:,} packets"
        extra = (
            f", {s['clients_total']} client(s), {s['clients_dropped']} dropped, "
            f"{s['skipped_packets']} packets skipped for slow clients"
        )
    else:
        sent = f"{s['datagrams']:,} datagrams"
        extra = f", {s['send_errors']} send errors" if s["send_errors"] else ""
    print(
        f"{how}: {s['events']:,} events in {sent}, {s['bytes_sent']:,} bytes sent in "
        f"{s['elapsed_s']:.2f} s{extra}",
        flush=True,
    )
    sys.stdout.flush()
    return status
