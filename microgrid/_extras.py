"""Optional dependencies, imported where a wing first needs them, named when missing.

``pip install microgrid`` gives the engine, networks, replay and drawing to
SVG; symbolic algebra, plots, the notebook widget, the PyTorch bridge and the
batch replay each come with an extra of setup.cfg.  `require` imports a module
of one, and turns its absence into one line that says what to install:

    >>> require("math", "symbolic", user="example").sqrt(4.0)
    2.0
    >>> require("no_such_module", "symbolic", user="microgrid.symbolic")
    Traceback (most recent call last):
    ...
    microgrid._extras.MissingExtraError: microgrid.symbolic needs no_such_module, which is not installed: pip install "microgrid[symbolic]"
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ModuleNotFoundError):
    """An optional extra is not installed; the message is the command that installs it.

    A ModuleNotFoundError, so that code which falls back without the module
    (``except ImportError``) still does.
    """


def require(module: str, extra: str, *, user: str) -> ModuleType:
    """`module` imported; a MissingExtraError naming ``pip install "microgrid[extra]"`` when it is absent.

    `user` names what needs it, as the user called it (``"to_torch"``, ``"microgrid.symbolic"``).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.partition(".")[0]
        if (error.name or "").partition(".")[0] != top:  # installed, but broken: its own error says why
            raise
        raise MissingExtraError(
            f'{user} needs {top}, which is not installed: pip install "microgrid[{extra}]"', name=top
        ) from None
