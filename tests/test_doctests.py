"""Every docstring example in the package runs and shows what it says."""

import doctest
import importlib
import pkgutil

import pytest
from torch_required import import_torch

import microgrid

# Dotted names under microgrid, sub-packages' modules included ("nn.losses").
MODULES = sorted(
    name
    for info in pkgutil.walk_packages(microgrid.__path__, "microgrid.")
    if not (name := info.name.removeprefix("microgrid.")).rpartition(".")[2].startswith("__")
)


@pytest.mark.parametrize("name", ["__init__", *MODULES])
def test_docstring_examples(name):
    module = microgrid if name == "__init__" else importlib.import_module(f"microgrid.{name}")
    if name.startswith("drawing") and not importlib.import_module("microgrid.drawing.render")._wasm_available():
        import shutil

        if shutil.which("dot") is None:
            pytest.skip("no Graphviz renderer here (Python 3.10 without dot)")
    if name == "nn.pytorch":
        import_torch()  # its examples use PyTorch: skipped without it, unless CI requires it
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, name
