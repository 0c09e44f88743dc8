"""The built-in ops: one entry each, the whole table on one screen.

An entry is everything about an op: its rule on floats, its local
derivatives (d out / d each operand, formulas in ``a``, ``b`` and ``out``,
written once: the engine computes with them on floats and on Values, and
explain and symbolic show them), and its formula.  Everything else reads the
entry from `OPS`, so adding an op means adding a line here, or calling
`define_op` from your own code with the same fields.

    >>> from microgrid import Value
    >>> x = Value(0.5)
    >>> OPS["tanh"].rules, tanh(x).op
    (('1-out^2',), 'tanh')
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache

from . import _floats
from ._arguments import real
from .engine import OPS, Op, Scalar, Value, register

__all__ = ["exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"]


def _operator(name: str, forward, rules: list[str], **more) -> Op:  # type: ignore[no-untyped-def]
    return register(Op(name, 2, forward, rules, f"a {name} b", notation=f"a {name} b", **more))


# relu's derivative and the exponent's are ops of their own (`step`, `xlogy`), so that a
# graph of derivatives, built once and run again at new values, recomputes their branch.
ADD = _operator("+", operator.add, ["1", "1"], commutative=True)
SUB = _operator("-", operator.sub, ["1", "-1"])
MUL = _operator("*", operator.mul, ["b", "a"], commutative=True)
DIV = _operator("/", _floats.divide, ["1/b", "-out/b"])
POW = _operator("**", _floats.power, ["b*a^(b-1)", "xlogy(out, a)"])
NEG = register(Op("neg", 1, operator.neg, ["-1"], "-a", notation="-a"))
EXP = register(Op("exp", 1, _floats.exp, ["out"], "exp(a)", by_name=True))
LOG = register(Op("log", 1, _floats.log, ["1/a"], "log(a)", by_name=True))
TANH = register(Op("tanh", 1, math.tanh, ["1-out^2"], "tanh(a)", by_name=True))
SIGMOID = register(Op("sigmoid", 1, _floats.sigmoid, ["out*(1-out)"], definition="1/(1 + exp(-a))",
                      latex=r"\sigma", by_name=True))
RELU = register(Op("relu", 1, _floats.relu, ["step(a)"], "Max(0, a)", by_name=True))
SIN = register(Op("sin", 1, math.sin, ["cos(a)"], "sin(a)", by_name=True))
COS = register(Op("cos", 1, math.cos, ["-sin(a)"], "cos(a)", by_name=True))
STEP = register(Op("step", 1, _floats.step, ["0"], "Heaviside(a, 0)"))
XLOGY = register(Op("xlogy", 2, _floats.x_log_y, ["log(b)", "a/b"], "a*log(b)"))
#: What `remove_op` keeps.
BUILT_IN = frozenset(OPS)


def power(base: Scalar, exponent: Scalar) -> Scalar:
    """``base ** exponent``: with a number exponent the op is ``x ** n`` (n its param), else ``**``."""
    if isinstance(exponent, Value) or not isinstance(base, Value):
        return POW(base, exponent)
    return _power_op(real(exponent, "exponent", "**"))(base)


@lru_cache(maxsize=256)
def _power_op(n: float) -> Op:
    """The op ``x ** n``, one per n, shared by every node with that n: d/dx = n x^(n-1), and 0 for n = 0."""
    shown, less = (f"{int(x)}" if x.is_integer() and abs(x) < 1e15 else repr(x) for x in (n, n - 1.0))
    rule = "0" if n == 0.0 else "1" if n == 1.0 else f"{shown}*a" if n == 2.0 else f"{shown}*a^({less})"
    return Op(f"**{shown}", 1, lambda a: _floats.power(a, n), [rule], "a**n", notation=f"a ** {shown}", params=(n,))


# The functions ``exp(x)``, ``tanh(x)``, ...: the ops themselves, on Values (a node) or numbers (a float).
exp, log, tanh, sigmoid, relu, sin, cos = EXP, LOG, TANH, SIGMOID, RELU, SIN, COS
