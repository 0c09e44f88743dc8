"""sympy and mpmath, the symbolic wing's algebra: the extra ``microgrid[symbolic]``.

The wing's modules import them from here, so that without them the first
use says which extra to install (`microgrid._extras.require`).
"""

from typing import TYPE_CHECKING

from .._extras import require

if TYPE_CHECKING:  # type checkers see the modules themselves
    import mpmath
    import sympy
else:
    sympy = require("sympy", "symbolic", user="microgrid.symbolic")  # first: it brings mpmath
    mpmath = require("mpmath", "symbolic", user="microgrid.symbolic")

__all__ = ["sympy", "mpmath"]
