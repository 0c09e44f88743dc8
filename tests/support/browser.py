"""Headless Chromium for the browser tests, offline: Debian's build, driven by Playwright.

Playwright cannot download its own browsers here, so it launches the system
``chromium``.  A test that needs it skips when Chromium or Playwright is
missing, except under ``MICROGRID_REQUIRE_BROWSER=1`` (CI), where it fails.
"""

import os
import shutil

import pytest

#: Flags for a headless run that reaches for nothing on the network by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str):
    """Skip, or fail where the browser tests must run (MICROGRID_REQUIRE_BROWSER=1)."""
    if os.environ.get("MICROGRID_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MICROGRID_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("no chromium on PATH (apt-get install chromium)")
    return path


def launch_browser():
    """Yield a Playwright Browser on the system Chromium (a generator for a fixture)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
