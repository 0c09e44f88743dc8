"""Real-browser testing: Debian's Chromium driven by Playwright, offline.

Playwright cannot download its own browsers here, so it drives the system
``chromium``.  Without Chromium or Playwright the browser tests skip, except
when ``MICROGRID_REQUIRE_BROWSER=1`` (CI sets it), where they fail: CI must
skip none of them.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Chromium, started headless on a machine with no network but loopback: no
# first-run pages, no background fetches that the closed network would refuse.
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


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure when the browser tests are required)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = []
    if path is None:
        missing.append("Debian's chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright (pip install playwright)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("MICROGRID_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + ", and MICROGRID_REQUIRE_BROWSER=1 says they must run")
        pytest.skip(reason)
    return path


def launch(playwright):
    """A headless Chromium browser (Playwright's sync API)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
