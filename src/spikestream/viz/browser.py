"""Headless Chromium for the viewer page (the browser test and the README screenshot): Debian's
``chromium`` and ``chromium-driver`` driven by Selenium, with the flags that keep it local
(no first-run, sync, component updates or background network) and the driver given by path
(Selenium Manager, which would download a driver, is never asked).

Needs ``selenium`` and the two Debian packages; nothing here is imported by
``import spikestream``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver", "chromium-driver")
#: Chromium flags: headless, no sandbox (containers), nothing fetched from the network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def find_chromium() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths on ``PATH``, or None when either is missing."""
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = next((p for p in map(shutil.which, DRIVER) if p), None)
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(window: tuple[int, int] = (1200, 900), timeout_s: float = 30.0) -> Iterator[Any]:
    """A headless Chromium `selenium.webdriver.Chrome` with a throw-away profile, quit and
    removed on exit; page loads and scripts time out after ``timeout_s``."""
    found = find_chromium()
    if found is None:
        raise ConfigError(
            "headless Chromium needs Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise ConfigError("driving Chromium needs selenium: pip install selenium") from None
    binary, driver_path = found
    profile = tempfile.mkdtemp(prefix="spikestream-chromium-")
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            driver.set_page_load_timeout(timeout_s)
            driver.set_script_timeout(timeout_s)
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
