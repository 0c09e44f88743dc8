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
