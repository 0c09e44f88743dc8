"""Shared test configuration."""

import os

from hypothesis import settings

# In CI, the same examples every run: a red build is then reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
