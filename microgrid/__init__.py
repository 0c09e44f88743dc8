"""microgrid: a scalar reverse-mode automatic differentiation engine.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x")
    >>> y = (x * x).tanh()
    >>> y.backward()
"""

from .engine import GradcheckError, Op, Value, cos, exp, grad, gradcheck, log, relu, sigmoid, sin, tanh

__version__ = "0.1.0"

__all__ = [
    "Value",
    "Op",
    "grad",
    "gradcheck",
    "GradcheckError",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "relu",
    "sin",
    "cos",
]

# Drawing and explaining load graphviz/wasmtime only when first used, so that
# `import microgrid` stays fast.
_LAZY = {"draw_dot": "viz", "draw": "viz", "to_svg": "viz", "explain_backward": "explain"}
_LAZY.update(compile="replay", ReplayError="replay")  # record once, replay: microgrid.replay
_LAZY.update(MLP="nn", Layer="nn", Neuron="nn", fit="train")  # microgrid.MLP(2, [16, 16, 1]); fit loads tqdm on use


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'microgrid' has no attribute {name!r}")
