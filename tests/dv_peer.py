"""iniVation's own implementation as a peer for the wire tests: dv-processing's
``NetworkWriter`` serving a recording, in its own process (``NetworkReader``'s constructor holds
the GIL while it waits, and a ``NetworkWriter`` destroyed with a client connected deadlocks, so
the process ends with ``os._exit``), plus a ``readline`` with a timeout for peer processes.

Run as a script: ``python dv_peer.py REC COMPRESSION SOURCE DEADLINE_S``. It prints
``ready PORT`` once listening (it picks the free port itself and retries if another process took
it first), writes the recording once a client is connected, and exits when the client has left
after the last packet (or at the deadline)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time


def readline(proc: subprocess.Popen, timeout_s: float) -> str:
    """The next line of ``proc``'s stdout; "" when none came within ``timeout_s``."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return box[0] if box else ""


STARTUP_S = 60.0  # a subprocess's start on a loaded machine (an upper bound only)


def start_writer(
    path: object, compression: str = "NONE", source: str = "DVXplorer_test", deadline_s: float = 15
) -> tuple[subprocess.Popen, int]:
    """The peer writer serving ``path``; (process, port). Fails the test if it does not print
    ``ready`` within `STARTUP_S`; it then serves for at most ``deadline_s``."""
    import pytest

    proc = subprocess.Popen(
        [sys.executable, __file__, str(path), compression, source, str(deadline_s)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = readline(proc, STARTUP_S)
    if not line.startswith("ready "):
        proc.kill()
        pytest.fail(f"the dv-processing writer did not start: {line!r} {proc.communicate(5)}")
    return proc, int(line.split()[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(path: str, compression: str, source: str, deadline_s: float) -> None:
    import os

    import dv_processing as dv

    rec = dv.io.MonoCameraRecording(path)
    stream = dv.io.Stream.EventStream(0, "events", source, rec.getEventResolution())
    stream.setCompression(getattr(dv.CompressionType, compression))
    for attempt in range(20):  # NetworkWriter cannot bind port 0: pick one, retry if taken
        port = _free_port()
        try:
            writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
            break
        except RuntimeError:
            if attempt == 19:
                raise
    print(f"ready {port}", flush=True)
    deadline = time.monotonic() + deadline_s
    while writer.getClientCount() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    while rec.isRunning():
        batch = rec.getNextEventBatch()
        if batch is not None:
            writer.writeEvents(batch)
    while writer.getQueuedPacketCount() and time.monotonic() < deadline:
        time.sleep(0.01)
    # The last packets leave after the queue empties; the client leaves once it has them all.
    while writer.getClientCount() and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
