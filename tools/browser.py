"""Headless Chromium through selenium, set up for a closed network and a shared machine.

Debian's ``chromium`` and ``chromium-driver`` packages (the Makefile's test set-up installs
them); selenium is told where the driver is, so it never tries to download one. Chromium gets
the flags that keep it from calling home, and a fresh profile folder each time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1")
LAPTOP = (1280, 900)
PHONE = (390, 844)


def find_browser() -> tuple[str | None, str | None, str]:
    """(browser, driver, why not) with the paths found; why not is "" when both are there."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, None, "selenium is not installed (pip install -r requirements-dev.txt)"
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = next(filter(None, map(shutil.which, DRIVERS)), None)
    if browser is None or driver is None:
        return browser, driver, ("Chromium and its driver are not installed (make test installs "
                                 "Debian's chromium and chromium-driver as root)")
    return browser, driver, ""


@contextmanager
def chromium(size: tuple[int, int] = LAPTOP, downloads: Path | None = None) -> Iterator:
    """A headless Chromium WebDriver with its browser log readable; quit on leaving."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver, why = find_browser()
    if why:
        raise RuntimeError(why)
    profile = tempfile.mkdtemp(prefix="risk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {
            "download.default_directory": str(downloads), "download.prompt_for_download": False})
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)


def resize(session, size: tuple[int, int]) -> None:
    """Make the page area ``size`` (the window is a little larger than its page in Chromium)."""
    session.set_window_size(*size)
    inner = session.execute_script("return [window.innerWidth, window.innerHeight];")
    session.set_window_size(2 * size[0] - inner[0], 2 * size[1] - inner[1])


def full_page_screenshot(session, path: Path, width: int) -> Path:
    """A PNG of the whole page at ``width`` CSS pixels (tall pages included)."""
    resize(session, (width, 400))  # measured at this width, from a short window
    height = session.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);")
    resize(session, (width, min(max(int(height), 400), 12000)))
    session.save_screenshot(str(path))
    return path


def distinct_colours(path: Path) -> int:
    """How many distinct colours a PNG holds (a blank page has one or two)."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20
