"""Whether a test without PyTorch is skipped or fails: decided here, once.

PyTorch is an optional extra, so its tests skip where it is not installed;
CI sets ``MICROGRID_REQUIRE_TORCH=1``, and there a missing torch fails.
"""

import os

import pytest


def import_torch():
    """The torch module; a skip without it, or a failure where CI requires it."""
    try:
        import torch
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        if os.environ.get("MICROGRID_REQUIRE_TORCH") == "1":
            pytest.fail("MICROGRID_REQUIRE_TORCH=1 but PyTorch is not installed: pip install torch", pytrace=False)
        pytest.skip("PyTorch is not installed (pip install 'microgrid[torch]')")
    return torch
