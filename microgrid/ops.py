"""The built-in ops: one entry each, the whole table on one screen.

An entry is everything about an op: its rule on floats, its local derivatives
(d out / d each operand: formulas in ``a``, ``b`` and ``out``, written once) and its
formula.  Everything reads the entry from `OPS`: adding an op is adding a line here,
or calling `define_op` from your own code with the same fields.

    >>> from microgrid import Value
    >>> x = Value(0.5)
    >>> OPS["tanh"].rules, tanh(x).op
    (('1-out^2',), 'tanh')
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import _floats
from .engine import OPS, Op, register

__all__ = ["cos", "exp", "log", "relu", "sigmoid", "sin", "tanh"]


def _operator(name: str, forward: Callable[[float, float], float], rules: list[str], commutative: bool = False) -> Op:
    return register(Op(name, 2, forward, rules, f"a {name} b", notation=f"a {name} b", commutative=commutative))


def _function(name: str, forward: Callable[[float], float], rules: list[str], formula: str = "", **options: Any) -> Op:
    """A one-operand op that users call by name: ``exp(x)``."""
    return register(Op(name, 1, forward, rules, formula, by_name=True, **options))


# relu's derivative and the exponent's are ops of their own (`step`, `xlogy`), so that a
# graph of derivatives, built once and run again at new values, recomputes their branch.
ADD = _operator("+", operator.add, ["1", "1"], commutative=True)
SUB = _operator("-", operator.sub, ["1", "-1"])
MUL = _operator("*", operator.mul, ["b", "a"], commutative=True)
DIV = _operator("/", _floats.divide, ["1/b", "-out/b"])
POW = _operator("**", _floats.power, ["b*a^(b-1)", "xlogy(out, a)"])
NEG = register(Op("neg", 1, operator.neg, ["-1"], "-a", notation="-a"))
EXP: Op = _function("exp", _floats.exp, ["out"], "exp(a)", doc="e ** x; OverflowError above 709.78.")
LOG: Op = _function("log", _floats.log, ["1/a"], "log(a)", doc="Natural log; ValueError at x <= 0.")
TANH: Op = _function("tanh", math.tanh, ["1-out^2"], "tanh(a)")
SIGMOID: Op = _function(
    "sigmoid", _floats.sigmoid, ["out*(1-out)"], definition="1/(1 + exp(-a))", latex=r"\sigma", doc="1 / (1 + e^-x)."
)
RELU: Op = _function("relu", _floats.relu, ["step(a)"], "Max(0, a)", doc="max(0, x); its derivative is step(x).")
SIN: Op = _function("sin", math.sin, ["cos(a)"], "sin(a)")
COS: Op = _function("cos", math.cos, ["-sin(a)"], "cos(a)")
STEP = register(Op("step", 1, _floats.step, ["0"], "Heaviside(a, 0)"))
XLOGY = register(Op("xlogy", 2, _floats.x_log_y, ["log(b)", "a/b"], "a*log(b)"))
#: What `remove_op` keeps.
BUILT_IN = frozenset(OPS)


@lru_cache(maxsize=256)
def power_op(n: float) -> Op:
    """The op ``x ** n``, one per n, shared by every node with that n: d/dx = n x^(n-1), and 0 for n = 0."""
    shown, less = (f"{int(x)}" if x.is_integer() and abs(x) < 1e15 else repr(x) for x in (n, n - 1.0))
    rule = "0" if n == 0.0 else "1" if n == 1.0 else f"{shown}*a" if n == 2.0 else f"{shown}*a^({less})"
    return Op(f"**{shown}", 1, lambda a: _floats.power(a, n), [rule], "a**n", notation=f"a ** {shown}", params=(n,))


# The functions ``exp(x)``, ``tanh(x)``, ...: the ops themselves, on Values (a node) or numbers (a float).
exp, log, tanh, sigmoid, relu, sin, cos = EXP, LOG, TANH, SIGMOID, RELU, SIN, COS
