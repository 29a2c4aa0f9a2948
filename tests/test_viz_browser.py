"""The live viewer page in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium): while a recording is served over loopback TCP (the DV network stream,
`spikestream.live.server`) and run through the live engine into the viewer's observer, the
page shows a changing event image in the ON/OFF colours and the class scores.

The set-up installs the Debian packages when they are missing (``apt-get install -y chromium
chromium-driver``, as root or through ``sudo -n``, no stdin, at most `INSTALL_TIMEOUT_S` in
all); only when that fails is the test skipped, with the reason printed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from spikestream import make_events, write
from spikestream.viz.render import OFF, ON

#: The whole installation (apt-get update and install) is bounded by this.
INSTALL_TIMEOUT_S = 300
PACKAGES = ("chromium", "chromium-driver")


def install_commands(root: bool) -> list[list[str]]:
    """apt-get update and install of the packages, never asking anything (no stdin, keep
    the configuration files a package would prompt about); through ``sudo -n`` (no password
    prompt) when not root."""
    prefix = [] if root else ["sudo", "-n"]
    env = ["env", "DEBIAN_FRONTEND=noninteractive"]
    keep = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
    return [
        [*prefix, *env, "apt-get", "update"],
        [*prefix, *env, "apt-get", "install", "-y", "--no-install-recommends", *keep, *PACKAGES],
    ]


def install_chromium() -> str | None:
    """Install the packages; None on success, else why not."""
    if not shutil.which("apt-get"):
        return "no apt-get: not a Debian system"
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not root and not shutil.which("sudo"):
        return "not root and no sudo to install with"
    deadline = time.monotonic() + INSTALL_TIMEOUT_S
    for cmd in install_commands(root):
        left = deadline - time.monotonic()
        if left <= 0:
            return f"installing took over {INSTALL_TIMEOUT_S} s"
        try:
            subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=left)  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            tail = (getattr(exc, "stderr", b"") or b"")[-300:].decode(errors="replace")
            return f"{' '.join(cmd)} failed: {exc} {tail}".strip()
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    from spikestream.viz.browser import find_chromium

    found = find_chromium()
    if found:
        return found
    reason = install_chromium()
    found = find_chromium()
    if found:
        return found
    reason = reason or "installed, yet chromium / chromedriver are not on PATH"
    print(f"SKIP browser test: chromium cannot be installed: {reason}")
    pytest.skip(f"chromium cannot be installed: {reason}")


@pytest.fixture
def browser(chromium):
    from spikestream.viz.browser import chromium as open_chromium

    with open_chromium(window=(1200, 900)) as driver:
        yield driver


def test_install_commands_never_prompt():
    keep = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
    env = ["env", "DEBIAN_FRONTEND=noninteractive"]
    install = ["apt-get", "install", "-y", "--no-install-recommends", *keep,
               "chromium", "chromium-driver"]  # fmt: skip
    assert install_commands(root=True) == [[*env, "apt-get", "update"], [*env, *install]]
    assert install_commands(root=False) == [
        ["sudo", "-n", *env, "apt-get", "update"],
        ["sudo", "-n", *env, *install],
    ]


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
