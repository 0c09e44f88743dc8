"""How many digits the exact numbers sympy derives from a formula can have, bounded before sympy sees it.

sympy multiplies out as it builds: ``exp(1000*log(u))`` becomes ``u**1000``,
a power of a product is a product of powers, so three nested levels of
``exp(1000*log(1000*...))`` hold 1000**(10**9).  Python computes that
integer for minutes, in C; and past 4,300 digits (Python's limit for
printing an integer) sympy's own algebra fails, since it orders terms by
their text.  So formulas are measured first, on the parser's tree
(`microgrid.symbolic.expression`) or on a graph (`microgrid.symbolic.convert`),
with the same rules, here.  The bound stays though sympy's work runs in a
process that is stopped at its time limit: a claim past it is kept as
written and checked with numbers (a verdict, not a timeout), and a graph is
converted in the user's own process, where nothing else bounds it.

    >>> three = Size.of_number(1000)
    >>> inner = combine("mul", [three, combine("log", [combine("mul", [three, Size()])])])
    >>> combine("exp", [inner]).digits > 1000  # exp(1000*log(1000*x)) holds 1000**1000
    True

Floats: a bound may be far beyond an int's range, as inf.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import NamedTuple, Sequence

__all__ = ["Size", "combine", "HOLD_DIGITS", "TooLargeToWriteOut"]

#: Past this many digits sympy must not build a formula: Python's limit for
#: printing an integer (4,300 by default), at most 300,000 (about 0.03 s of C).
HOLD_DIGITS = min(sys.get_int_max_str_digits() or 300_000, 300_000)


class TooLargeToWriteOut(ValueError):
    """A formula sympy would multiply out into numbers past `HOLD_DIGITS` digits."""


class Size(NamedTuple):
    """A bound on a formula's exact numbers, and what it lends an enclosing exp."""

    digits: float = 0.0  # at most this many digits in an exact number sympy derives from it (a name: none)
    scale: float = 1.0  # the numeric factor it contributes to an exponent (1000 in exp(1000*log(x)))
    logged: float = 0.0  # the digits inside its logs, which exp makes powers of (exp(c*log(u)) = u**c)

    @classmethod
    def of_number(cls, q: Fraction | int) -> "Size":
        q = Fraction(q)
        digits = len(str(abs(q.numerator))) + (len(str(q.denominator)) if q.denominator > 1 else 0)
        return cls(float(digits), float(max(abs(q.numerator), q.denominator, 1)))


def combine(kind: str, children: Sequence[Size]) -> Size:
    """The size of an operation of `kind` on parts of sizes `children`.

    Kinds: "add" (and subtraction), "mul" (and division), "pow" (base,
    exponent), "neg", "exp", "log", and "call" for any other function.
    """
    digits = sum(child.digits for child in children)
    if kind in ("exp", "log", "call"):  # its argument's numbers; exp turns the coefficients of logs into powers
        inner = children[0]
        grown = inner.digits + inner.logged * inner.scale if kind == "exp" else inner.digits
        return Size(grown, 1.0, inner.digits if kind == "log" else 0.0)
    if kind == "neg":
        return children[0]
    left, right = children
    if kind == "pow":  # every number of the base to the exponent's size
        return Size(left.digits * right.scale + right.digits, left.scale * right.scale)
    if kind == "add":  # exp(log(u) + log(v)) = u*v
        return Size(digits, max(left.scale, right.scale), left.logged + right.logged)
    return Size(digits, left.scale * right.scale, max(left.logged, right.logged))
