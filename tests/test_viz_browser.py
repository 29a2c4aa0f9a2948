"""The live viewer page in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium): while a recording is served over loopback TCP (the DV network stream,
`spikestream.live.server`) and run through the live engine into the viewer's observer, the
page shows a changing event image in the ON/OFF colours and the class scores.

The set-up installs the Debian packages when they are missing and the tests run as root
(``apt-get install -y chromium chromium-driver``, bounded by a timeout); only when that fails
is the test skipped, with the reason."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from spikestream import make_events, write
from spikestream.viz.render import OFF, ON

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver", "chromium-driver")
INSTALL_TIMEOUT_S = 600


def _which(names: tuple[str, ...]) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    browser, driver = _which(CHROMIUM), _which(DRIVER)
    if browser and driver:
        return browser, driver
    reason = "chromium / chromedriver not found"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            for cmd in (["apt-get", "update"],
                        ["apt-get", "install", "-y", "chromium", "chromium-driver"]):  # fmt: skip
                subprocess.run(cmd, check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S,
                               env=env)  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            tail = getattr(exc, "stderr", b"") or b""
            reason = f"installing chromium failed: {exc} {tail[-300:].decode(errors='replace')}"
        browser, driver = _which(CHROMIUM), _which(DRIVER)
        if browser and driver:
            return browser, driver
    else:
        reason += " and this is not a root Debian system that could install them"
    print(f"SKIP browser test: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="spikestream-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1200,900"):  # fmt: skip
        options.add_argument(flag)
    # explicit driver path: Selenium Manager (which would download drivers) is never asked
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def moving_bar_recording(path, seconds: float = 2.0) -> None:
    """35x35: a vertical bar sweeping left to right every 400 ms, ON on its leading edge and
    OFF on its trailing edge, 20 events per ms."""
    rng = np.random.default_rng(0)
    n = int(seconds * 20_000)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    column = (t % 400_000) * 28 // 400_000 + 2
    p = rng.integers(0, 2, n)
    x = column + np.where(p == 1, 1, -1) * rng.integers(0, 2, n)
    y = rng.integers(4, 30, n)
    write(path, make_events(t, x, y, p), (35, 35))


def checkpoint(path) -> list[str]:
    from spikestream import models
    from spikestream.models.checkpoint import ModelRecord, input_record, save_model

    torch.manual_seed(0)
    net = models.create("rsnn_pokerdvs")  # its readout moves with any input: the scores change
    classes = ["club", "diamond", "heart", "spade"]
    inp = input_record("frames", sensor_size=[35, 35], height=35, width=35, steps=None,
                       split_by="duration", duration_us=20_000, step_us=20_000)  # fmt: skip
    save_model(path, net, ModelRecord("rsnn_pokerdvs", {}, classes, inp))
    return classes


def element_png(driver, element_id: str) -> np.ndarray:
    element = driver.find_element("id", element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    png = element.screenshot_as_png
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def has_colour(image: np.ndarray, colour, tol: int = 6) -> int:
    return int((np.abs(image - np.array(colour)).max(axis=-1) <= tol).sum())


def test_viewer_page_shows_the_live_stream(tmp_path, browser):
    from spikestream.live.engine import Engine
    from spikestream.live.server import StreamServer
    from spikestream.live.sources import open_source
    from spikestream.viz.viewer import start_viewer

    moving_bar_recording(tmp_path / "bar.npz")
    classes = checkpoint(tmp_path / "net.pt")
    url, observer, stop = start_viewer(0, classes=classes, rate_hz=20)
    server = StreamServer(tmp_path / "bar.npz", "dv-tcp", port=0, loop=True, wait_clients=1)
    server.start()
    source = open_source(server.url, timeout_s=10)
    engine = Engine.from_checkpoint(tmp_path / "net.pt", source, observers=[observer])
    worker = threading.Thread(target=engine.run, kwargs={"duration_s": 60}, daemon=True)
    worker.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        browser.get(url)
        updates = lambda: int(browser.execute_script("return document.body.dataset.updates || 0"))  # noqa: E731
        deadline = time.monotonic() + 30
        while updates() < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert updates() >= 5, "the page received no updates"
        first = element_png(browser, "frame")
        n_first = updates()
        while updates() < n_first + 3 and time.monotonic() < deadline + 10:
            time.sleep(0.1)
        second = element_png(browser, "frame")
        assert first.shape == second.shape and first.shape[1] >= 390  # 35 px shown 400 wide
        assert (first != second).any(axis=-1).mean() > 0.01  # the bar moved
        for image in (first, second):
            assert has_colour(image, ON) > 100 and has_colour(image, OFF) > 100
            assert has_colour(image, (255, 255, 255)) > image.shape[0] * image.shape[1] // 2
        # the class scores: one bar per class, values shown, the history chart drawn
        bars = browser.find_elements("css selector", "#bars .bar")
        assert [b.find_element("css selector", ".name").text for b in bars] == classes
        values = [b.find_element("css selector", ".value").text for b in bars]
        assert all(v and v != "–" for v in values)
        widths = [b.find_element("css selector", ".fill").size["width"] for b in bars]
        assert max(widths) > 100  # the best class's bar is drawn
        chart = element_png(browser, "history")
        assert chart.shape[:2] == (200, 900)
        coloured = np.ptp(chart, axis=-1) > 60  # class lines, not the white / grey frame
        assert coloured.sum() > 100
        if shot := os.environ.get("SPIKESTREAM_VIEWER_SHOT"):  # e.g. for the README picture
            browser.save_screenshot(shot)
        assert browser.find_element("id", "latency").text.endswith(" ms")
        assert int(browser.find_element("id", "bins").text.replace(",", "")) > 10
        assert browser.find_element("id", "status").text == "live"
    finally:
        engine.stop()
        worker.join(timeout=10)
        source.close()
        server.stop()
        stop()
    assert not worker.is_alive()
