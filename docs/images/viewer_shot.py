"""Screenshot of the live viewer for the README: ten NDigits test samples (one per class,
400 ms apart) replayed in a loop through the live engine with a trained checkpoint, the page
in headless Chromium (Debian's chromium and chromium-driver).

Usage: python docs/images/viewer_shot.py CKPT OUT.png [SECONDS]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from spikestream import write
from spikestream.datasets import NDigits
from spikestream.live.engine import Engine
from spikestream.live.sources import open_source
from spikestream.models.checkpoint import read_record
from spikestream.viz.viewer import start_viewer

STREAM = "/tmp/spikestream_viewer_stream.npz"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1180,960", "--hide-scrollbars")  # fmt: skip


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
    profile = tempfile.mkdtemp()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        time.sleep(seconds)
        driver.save_screenshot(out)
        print(out, driver.find_element("id", "decision").text)
    finally:
        driver.quit()
        engine.stop()
        worker.join(10)
        source.close()
        stop()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(float(a) for a in sys.argv[3:4]))
