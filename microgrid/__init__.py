"""microgrid: a scalar reverse-mode automatic differentiation engine.

>>> from microgrid import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x).tanh()
>>> y.backward()
"""

import importlib

from . import engine, ops
from ._extras import installed
from .engine import *  # noqa: F403 (the engine's public names, listed in engine.__all__)
from .finite_differences import GradcheckError, gradcheck
from .ops import *  # noqa: F403 (the built-in functions: exp, log, tanh, ...)

__version__ = "0.1.0"

# Loaded on first use, so that `import microgrid` stays fast (graphviz, wasmtime, tqdm, PyTorch, sympy).
_LAZY = {"draw_dot": "drawing.dot", "draw": "drawing.display", "to_svg": "drawing.display"}
_LAZY.update(explain_backward="drawing.explain", step_backward="drawing.steps")  # anywidget on display
_LAZY.update(compile="replay", ReplayError="replay")  # record once, replay: microgrid.replay
_LAZY.update(MLP="nn", Layer="nn", Neuron="nn", fit="nn.train")  # microgrid.MLP(2, [16, 16, 1]); fit loads tqdm on use
_LAZY.update(to_torch="nn.pytorch", from_torch="nn.pytorch")  # PyTorch, an optional extra, loads on first call
_LAZY.update(derive="symbolic.chainrule", backprop_equations="network_equations")  # sympy loads on first use

_NEEDS = {"derive": "sympy", "backprop_equations": "sympy"}  # lazy names whose module needs an extra's library

# `compile` stays out of `import *`, where it would shadow Python's builtin; so do the names whose extra is not
# installed: `import *` works on a plain install, and `microgrid.derive` there says which extra to install.
__all__ = engine.__all__ + ops.__all__ + ["gradcheck", "GradcheckError"]
__all__ += sorted(n for n in set(_LAZY) - {"compile"} if n not in _NEEDS or installed(_NEEDS[n]))


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'microgrid' has no attribute {name!r}")
