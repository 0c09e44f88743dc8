"""The built-in ops: one `define_op` entry each, the whole table on one screen.

An entry is everything about an op: its rule on floats, its partials (d out
/ d each operand, serving both the float and the graph path), the rule as
text for explanations, and its formula as text.  Everything else (Value's
methods, `backward`, `grad`, explain, symbolic, the parser, drawing) reads
the entry, so adding an op means adding a line here, or calling `define_op`
from your own code with the same arguments.

    >>> from microgrid import Value
    >>> x = Value(0.5)
    >>> OPS["tanh"].rules, tanh(x).op
    (('1-out^2',), 'tanh')
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache
from typing import Callable

from . import _floats, engine
from .engine import OPS, Number, Op, Scalar, Value, _checked_number, _lift, define_op, reflected, unary

__all__ = ["exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"]


# `a`, `b` are the operands and `out` the result; `step`, `xlogy`, `log`,
# `sin`, `cos` below take floats or Values.  relu's derivative and the
# exponent's are ops of their own (`step`, `xlogy`), so the graph path
# recomputes their branch.  The operators are methods such as ``__add__``.
def _operator(name: str, forward: Callable, partials: Callable, rules: tuple, method: str, **more) -> Op:
    return define_op(name, 2, forward, partials, rules, f"a {name} b", notation=f"a {name} b", public=False,
                     method=method, **more)


ADD = _operator("+", operator.add, lambda a, b, out: (1.0, 1.0), ("1", "1"), "__add__", commutative=True)
SUB = _operator("-", operator.sub, lambda a, b, out: (1.0, -1.0), ("1", "-1"), "__sub__")
MUL = _operator("*", operator.mul, lambda a, b, out: (b, a), ("b", "a"), "__mul__", commutative=True)
DIV = _operator("/", _floats.divide, lambda a, b, out: (1.0 / b, -out / b), ("1/b", "-out/b"), "__truediv__")
POW = _operator("**", _floats.power, lambda a, b, out: (_power_partial(a, b), xlogy(out, a)),
                ("b*a^(b-1)", "out*log(a)"), "_pow")
NEG = define_op("neg", 1, operator.neg, lambda a, out: -1.0, ["-1"], "-a", notation="-a", public=False,
                method="__neg__")
EXP = define_op("exp", 1, _floats.exp, lambda a, out: out, ["out"], "exp(a)",
                doc="e ** self; OverflowError above about 709.78.")
LOG = define_op("log", 1, _floats.log, lambda a, out: 1.0 / a, ["1/a"], "log(a)",
                doc="Natural logarithm; ValueError for self <= 0.")
TANH = define_op("tanh", 1, math.tanh, lambda a, out: 1.0 - out * out, ["1-out^2"], "tanh(a)",
                 doc="Hyperbolic tangent.")
SIGMOID = define_op("sigmoid", 1, _floats.sigmoid, lambda a, out: out * (1.0 - out), ["out*(1-out)"],
                    definition="1/(1 + exp(-a))", latex=r"\sigma", doc="1 / (1 + e^-x), never overflows.")
RELU = define_op("relu", 1, _floats.relu, lambda a, out: step(a), ["1 if a>0 else 0"], "Max(0, a)",
                 doc="max(0, x).")
SIN = define_op("sin", 1, math.sin, lambda a, out: cos(a), ["cos(a)"], "sin(a)", doc="Sine (radians).")
COS = define_op("cos", 1, math.cos, lambda a, out: -sin(a), ["-sin(a)"], "cos(a)", doc="Cosine (radians).")
STEP = define_op("step", 1, _floats.step, lambda a, out: 0.0, ["0"], "Heaviside(a, 0)", public=False,
                 doc="1 if x > 0 else 0 (relu's derivative).")
XLOGY = define_op("xlogy", 2, _floats.x_log_y, lambda x, y, out: (log(y), x / y), ["log(b)", "a/b"],
                  "a*log(b)", public=False, method="_xlogy")
engine.BUILT_IN.update(OPS)  # what `remove_op` keeps
Value.__radd__, Value.__rsub__, Value.__rmul__, Value.__rtruediv__ = (
    reflected(m) for m in (Value.__add__, Value.__sub__, Value.__mul__, Value.__truediv__)
)


def power_op(n: float) -> Op:
    """The op ``x ** n`` for a number n (its param): d/dx = n x^(n-1), and 0 for n = 0."""
    name = f"**{int(n) if n.is_integer() else n}"
    shown, less = f"{n:g}", f"{n - 1.0:g}"
    rule = shown if n in (0.0, 1.0) else f"{shown}*a" if n == 2.0 else f"{shown}*a^{less}"
    return Op(name, 1, lambda a: _floats.power(a, n), lambda a, out: _power_partial(a, n) if n != 0.0 else 0.0,
              [rule], "a**n", notation=f"a ** {name[2:]}", params=(n,))


@lru_cache(maxsize=256)
def _constant_power(n: float) -> Callable[[Value], Value]:
    """The method ``x ** n``, one per n (its Op shared by every node with that n)."""
    return unary(power_op(n))


def _value_pow(self: Value, exponent: Scalar) -> Value:
    """``x ** 2`` (a number: the exponent is the op's param) or ``x ** y`` (a Value)."""
    if type(exponent) is Value:
        return self._pow(exponent)
    return _constant_power(_checked_number(exponent, "**"))(self)


def _value_rpow(self: Value, base: Number) -> Value:
    return _lift(base, "**")._pow(self)


Value.__pow__, Value.__rpow__ = _value_pow, _value_rpow


# Functions on numbers or Values.
def _function(op: Op) -> Callable[[Scalar], Scalar]:
    """``name(x)`` for a Value (its method: a new node) or a plain number (its forward: a float)."""
    method, on_float = getattr(Value, op.name), op.forward

    def function(x: Scalar) -> Scalar:
        if isinstance(x, Value):
            return method(x)
        return on_float(_checked_number(x, op.name))

    function.__name__ = function.__qualname__ = op.name
    function.__doc__ = f"{op.name}(x): a node for a Value, a float for a number.\n\n    >>> {op.name}(Value(0.5)).op\n    '{op.name}'"
    return function


exp, log, tanh, sigmoid, relu, sin, cos = (_function(op) for op in (EXP, LOG, TANH, SIGMOID, RELU, SIN, COS))


def step(x: Scalar) -> Scalar:
    """1 if x > 0 else 0, for a Value (a node, recomputed whenever its graph is) or a float."""
    return x.step() if type(x) is Value else 1.0 if x > 0.0 else 0.0  # (inline: every relu's backward calls it)


def xlogy(x: Scalar, y: Scalar) -> Scalar:
    """x * log(y), 0 where x is 0 (the exponent's derivative in ``**``), for Values or floats."""
    return x._xlogy(y) if type(x) is Value else _floats.x_log_y(x, y)


def _power_partial(base: Scalar, exponent: Scalar) -> Scalar:
    """d(base ** exponent)/d(base) = exponent * base ** (exponent - 1); an error naming ``**`` at 0 for exponent < 1."""
    n = exponent._data if isinstance(exponent, Value) else exponent
    if (base._data if isinstance(base, Value) else base) == 0.0 and n < 1.0:
        raise ZeroDivisionError(
            f"**: the derivative of x ** {n!r} at x = 0.0 is not a finite number ({n!r} * 0.0 ** {n - 1.0!r})"
        )
    return exponent * (base ** (exponent - 1.0) if isinstance(base, Value) else _floats.power(base, exponent - 1.0))
