"""Shared test configuration."""

import os

import pytest
from hypothesis import settings

# In CI, the same examples every run: a red build is then reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Playwright's Browser), shared by a module's tests; see tests/support/browser.py."""
    from browser import launch_browser

    yield from launch_browser()
