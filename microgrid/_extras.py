"""Optional dependencies (sympy, plots, the widget, torch: setup.cfg's extras), imported where a wing first needs one.

>>> require("no_such", "symbolic", user="derive")
Traceback (most recent call last):
...
microgrid._extras.MissingExtraError: derive needs no_such, which is not installed: pip install "microgrid[symbolic]"
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

__all__ = ["MissingExtraError", "installed", "require"]


class MissingExtraError(ModuleNotFoundError):
    """An extra is not installed; the message says how to install it (``except ImportError`` fallbacks still work)."""


def require(module: str, extra: str, *, user: str) -> ModuleType:
    """`module` imported, or a MissingExtraError naming `user` (what needs it) and ``pip install microgrid[extra]``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.partition(".")[0]
        if (error.name or "").partition(".")[0] != top:  # installed, but broken: its own error says why
            raise
        how = f'pip install "microgrid[{extra}]"'
        raise MissingExtraError(f"{user} needs {top}, which is not installed: {how}", name=top) from None


def installed(*modules: str) -> bool:
    """Whether each of `modules` can be imported: found, not imported (fast)."""
    try:
        return all(importlib.util.find_spec(module) is not None for module in modules)
    except (ImportError, ValueError):  # e.g. a module blocked by sys.modules[name] = None
        return False
