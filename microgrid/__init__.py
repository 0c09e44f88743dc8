"""microgrid: a scalar reverse-mode automatic differentiation engine.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x")
    >>> y = (x * x).tanh()
    >>> y.backward()
"""

from . import engine
from .engine import *  # noqa: F403 (the engine's public names, listed in engine.__all__)

__version__ = "0.1.0"

# Drawing and explaining load graphviz/wasmtime only when first used, so that
# `import microgrid` stays fast.
_LAZY = {"draw_dot": "viz", "draw": "viz", "to_svg": "viz", "explain_backward": "explain"}
_LAZY.update(compile="replay", ReplayError="replay")  # record once, replay: microgrid.replay
_LAZY.update(step_backward="steps")  # the backward pass, step by step: anywidget on display
_LAZY.update(MLP="nn", Layer="nn", Neuron="nn", fit="train")  # microgrid.MLP(2, [16, 16, 1]); fit loads tqdm on use
_LAZY.update(to_torch="torch_bridge", from_torch="torch_bridge")  # PyTorch, an optional extra, loads on first call
_LAZY.update(derive="chainrule", backprop_equations="backprop")  # sympy loads on first use


# `compile` stays out of `import *`, where it would shadow Python's builtin.
__all__ = engine.__all__ + sorted(set(_LAZY) - {"compile"})


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'microgrid' has no attribute {name!r}")
