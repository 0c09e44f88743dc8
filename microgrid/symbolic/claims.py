"""A derivative typed by hand, read as sympy (`parse_claim`), and formulas evaluated at points (`evaluate`).

A claim is parsed by the project's safe parser, never `eval`: numbers stay
exact.  `evaluate` works to 25 digits, raising the precision as the formula
needs (`microgrid.symbolic.precise`).

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Mapping

from ._sympy import sympy

from ..engine import Value, topological_order
from . import precise
from .budget import Budget
from .expression import ExpressionError, parse
from .forms import SYMPY_FUNCTIONS, symbol
from ..names import to_identifier
from .sizes import HOLD_DIGITS

__all__ = ["Claim", "claim_names", "parse_claim", "evaluate", "EVALUATE_DIGITS", "AGREE_RELATIVE", "agree", "value_at",
           "HOLD_DIGITS", "held", "substitute"]

Claim = Any  # a str, a sympy expression, or a number


def claim_names(output: Value) -> dict[str, sympy.Symbol]:
    """The names a claim may use: each label, and its identifier spelling."""
    names: dict[str, sympy.Symbol] = {}
    for node in topological_order(output):
        if node.label:
            names[node.label] = symbol(node.label)
            names[to_identifier(node.label)] = symbol(node.label)
    return names


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)

# A claim from which sympy could derive an exact number of more than
# `HOLD_DIGITS` digits (`Expression.exact_digits`, `microgrid.symbolic.sizes`)
# is held as written, and checked with numbers only.


def held(claim: sympy.Expr) -> bool:
    """Is the claim held as written (too large for sympy to multiply out)?"""
    return isinstance(claim, sympy.UnevaluatedExpr)


def substitute(claim: sympy.Expr, mapping: Mapping) -> sympy.Expr:
    """``claim.xreplace(mapping)``, keeping a `held` claim as written (sympy evaluates what it rebuilds)."""
    if held(claim):
        with sympy.evaluate(False):
            return claim.xreplace(mapping)
    return claim.xreplace(mapping)


def parse_claim(claim: Claim, names: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    """A claim as a sympy expression over the graph's symbols; never `eval`s text.

    A string is parsed by `microgrid.symbolic.expression.parse` (numbers, names,
    ``+ - * / **``, the engine's functions, within its size limits) and
    evaluated with sympy objects; its numbers stay exact (``1/3`` is one
    third).  A number is read as the same text.  A claim that is undefined
    (``A/(y - y)``, ``log(0)``) raises `ExpressionError`.  One that sympy
    would multiply out past `HOLD_DIGITS` comes back `held`, as written.

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
    """
    if isinstance(claim, bool):
        raise TypeError("check: a claim must be a formula, not a bool")
    if isinstance(claim, (int, float)):
        if isinstance(claim, float) and not math.isfinite(claim):
            raise ExpressionError(f"check: the claim {claim!r} is not a finite number")
        claim = repr(claim)  # one path for numbers: the parser's limits and exact constants
    if isinstance(claim, str):
        expression = parse(claim)
        unknown = sorted(expression.names - set(names))
        if unknown:
            known = ", ".join(sorted(n for n in names if n.isidentifier()))
            raise ExpressionError(f"check: unknown name {', '.join(unknown)} in {claim!r}; names in this graph: {known}")
        if expression.exact_digits > HOLD_DIGITS:
            with sympy.evaluate(False):
                result = sympy.UnevaluatedExpr(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
        else:
            result = sympy.sympify(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
    elif isinstance(claim, sympy.Basic):
        replace = {}
        for s in claim.free_symbols:
            if s.name not in names:
                known = ", ".join(sorted(n for n in names if n.isidentifier()))
                raise ValueError(f"check: unknown symbol {s.name} in the claim; names in this graph: {known}")
            replace[s] = names[s.name]
        result = substitute(claim, replace)
    else:
        raise TypeError(f"check: a claim must be a str or a sympy expression, got {type(claim).__name__}")
    if result.has(*_UNDEFINED):
        raise ExpressionError(f"check: the claim {str(claim)[:60]!r} is undefined (it divides by zero or is infinite)")
    return result


#: The working precision `evaluate` may use when no budget is given, in decimal digits.
EVALUATE_DIGITS = 1000


def evaluate(
    expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None = None, definitions: Mapping | None = None
) -> complex | float | None:
    """The number `expr` takes at `point`, accurate to 25 digits, as a float (or
    complex); None where it is undefined (log 0, 1/0), beyond the floats, or
    not found within the budget's working precision (`EVALUATE_DIGITS` by default).
    A symbol not in `point` is worth its formula in `definitions`.

    The point's floats go in exactly and the precision is raised as the
    formula needs (`microgrid.symbolic.precise`): far from 0, ``1 - sigmoid(100)``
    needs some 70 digits, and at a fixed 30 it would be 0.

    >>> from microgrid.symbolic import sigmoid
    >>> z = symbol("z")
    >>> evaluate(1 - sigmoid(z), {z: 100.0}), evaluate(sympy.log(z), {z: 0.0})
    (3.720075976020836e-44, None)
    """
    try:
        z = value_at(expr, point, budget, definitions)
    except precise.Unevaluable:
        return None
    if z is None or not (math.isfinite(z.real) and math.isfinite(z.imag)):
        return None
    return z.real if isinstance(z, complex) and z.imag == 0 else z


def value_at(
    expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None, definitions: Mapping | None = None
) -> complex | float | None:
    """`evaluate`, but ±inf beyond the floats (a value, if a huge one), and
    `precise.Unevaluable` (a `BudgetExceeded`) when the precision runs out."""
    digits = EVALUATE_DIGITS if budget is None else budget.digits
    try:
        v = precise.value(expr, point, digits, definitions)
    except precise.Undefined:
        return None
    z = complex(v)
    if z.imag != 0 and abs(z.imag) > 1e-12 * max(1.0, abs(z.real)):
        return z
    return z.real


#: Two values agree when they differ by at most this, relative (plus an absolute
#: 1e-25 for values that are exactly 0): both are evaluated to 25 digits from the
#: same point, so an equal pair differs by rounding to a float only (about 1e-16).
AGREE_RELATIVE = 1e-13


def agree(a: complex | float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-25 + AGREE_RELATIVE * abs(b)
