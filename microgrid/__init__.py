"""microgrid: a scalar reverse-mode automatic differentiation engine.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x")
    >>> y = (x * x).tanh()
    >>> y.backward()
"""

import importlib
import importlib.machinery
import sys
import warnings

from . import engine, ops
from .engine import *  # noqa: F403 (the engine's public names, listed in engine.__all__)
from .ops import *  # noqa: F403 (the built-in functions: exp, log, tanh, ...)
from .finite_differences import GradcheckError, gradcheck

__version__ = "0.1.0"

# Drawing and explaining load graphviz/wasmtime only when first used, so that
# `import microgrid` stays fast.
_LAZY = {"draw_dot": "drawing.graph", "draw": "drawing.display", "to_svg": "drawing.display"}
_LAZY.update(explain_backward="drawing.explain", step_backward="drawing.steps")  # anywidget on display
_LAZY.update(compile="replay", ReplayError="replay")  # record once, replay: microgrid.replay
_LAZY.update(MLP="nn", Layer="nn", Neuron="nn", fit="nn.train")  # microgrid.MLP(2, [16, 16, 1]); fit loads tqdm on use
_LAZY.update(to_torch="nn.pytorch", from_torch="nn.pytorch")  # PyTorch, an optional extra, loads on first call
_LAZY.update(derive="symbolic.chainrule", backprop_equations="network_equations")  # sympy loads on first use

# Modules that moved, by their old name: the new place.  The old name still
# imports (``import microgrid.losses``, ``from microgrid.losses import mse``,
# ``microgrid.losses.mse``) and gives the same module, with a DeprecationWarning.
_MOVED = {
    "losses": "nn.losses",
    "optim": "nn.optim",
    "data": "nn.data",
    "train": "nn.train",
    "plots": "nn.plots",
    "torch_bridge": "nn.pytorch",
    "demo": "nn.demo",
    "viz": "drawing",
    "explain": "drawing.explain",
    "steps": "drawing.steps",
    "expression": "symbolic.expression",
    "labels": "names",
    "budget": "symbolic.budget",
    "precise": "symbolic.precise",
    "chainrule": "symbolic.chainrule",
    "programs": "symbolic.programs",
    "backprop": "symbolic.backprop",
    "handcheck": "symbolic.handcheck",
    "derivations": "symbolic.derivations",
    "seeds": "symbolic.seeds",
}


# `compile` stays out of `import *`, where it would shadow Python's builtin.
__all__ = engine.__all__ + ops.__all__ + ["gradcheck", "GradcheckError"] + sorted(set(_LAZY) - {"compile"})


def _warn_moved(old: str, stacklevel: int) -> None:
    warnings.warn(
        f"microgrid.{old} has moved to microgrid.{_MOVED[old]}; import it from there",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


class _MovedModules:
    """Imports ``microgrid.<old>`` as the module now at its new place (see `_MOVED`).

    A meta-path finder and its loader (not subclassing importlib.abc, which
    would make ``import microgrid`` import importlib.resources).
    """

    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.rpartition(".")
        if package == __name__ and old in _MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return None  # the default module: exec_module swaps it for the real one

    def exec_module(self, module) -> None:
        old = module.__name__.rpartition(".")[2]
        # The import system's frames are skipped: the warning names the importing line.
        _warn_moved(old, stacklevel=2)
        # The import statement returns what sys.modules holds once this returns:
        # the module itself, so that both names give one object.
        sys.modules[module.__name__] = importlib.import_module(f"{__name__}.{_MOVED[old]}")


# First: an old name must not find a stale file left at the old place by an earlier install.
# Once: a reload replaces the finder it installed before.
sys.meta_path[:] = [_MovedModules()] + [f for f in sys.meta_path if type(f).__qualname__ != "_MovedModules"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _MOVED:  # microgrid.losses without importing it first: as `import microgrid.losses` would
        _warn_moved(name, stacklevel=2)
        module = importlib.import_module(f"{__name__}.{_MOVED[name]}")
        sys.modules.setdefault(f"{__name__}.{name}", module)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'microgrid' has no attribute {name!r}")
