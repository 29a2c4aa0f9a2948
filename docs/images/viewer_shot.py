"""Screenshot of the live viewer for the README: ten NDigits test samples (one per class,
400 ms apart) replayed in a loop through the live engine with a trained checkpoint, the page
in headless Chromium (Debian's chromium and chromium-driver).

Usage: python docs/images/viewer_shot.py CKPT OUT.png [SECONDS]
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from spikestream import write
from spikestream.datasets import NDigits
from spikestream.live.engine import Engine
from spikestream.live.sources import open_source
from spikestream.models.checkpoint import read_record
from spikestream.viz.browser import chromium
from spikestream.viz.viewer import start_viewer

STREAM = "/tmp/spikestream_viewer_stream.npz"


def main(ckpt: str, out: str, seconds: float = 4.5) -> None:
    ds = NDigits(train=False)
    order = [int(np.argmax(np.asarray(ds.targets) == c)) for c in range(10)]
    parts = []
    for k, i in enumerate(order):
        ev = ds[i][0].copy()
        ev["t"] = ev["t"] - ev["t"][0] + k * 400_000
        parts.append(ev)
    write(STREAM, np.concatenate(parts), ds.sensor_size)
    url, observer, stop = start_viewer(0, classes=read_record(ckpt).classes, rate_hz=10)
    source = open_source(f"file:{STREAM}", speed=1.0, loop=True)
    engine = Engine.from_checkpoint(ckpt, source, observers=[observer])
    worker = threading.Thread(target=engine.run, kwargs={"duration_s": 60}, daemon=True)
    worker.start()
    try:
        with chromium(window=(1180, 960)) as driver:
            driver.get(url)
            time.sleep(seconds)
            driver.save_screenshot(out)
            print(out, driver.find_element("id", "decision").text)
    finally:
        engine.stop()
        worker.join(10)
        source.close()
        stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(float(a) for a in sys.argv[3:4]))
