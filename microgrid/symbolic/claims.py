"""A derivative typed by hand, read as sympy (`parse_claim`), and formulas evaluated at points (`evaluate`).

A claim is parsed by the project's safe parser, never `eval`: numbers stay
exact.  `evaluate` works to 25 digits, raising the precision as the formula
needs (`microgrid.symbolic.precise`), in the worker process.

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable, Mapping

from ._sympy import sympy

from ..engine import Value, topological_order
from . import precise
from .budget import Budget, BudgetExceeded
from .parsing import NAMED_NUMBERS
from .parsing import ExpressionError, normal_name, parse
from .forms import SYMPY_FUNCTIONS, SYMPY_NUMBERS, symbol
from ..names import NameLookupError, to_identifier
from .parsing import HOLD_DIGITS

__all__ = ["Claim", "ClaimNames", "claim_names", "named_number_notes", "parse_claim", "evaluate", "evaluate_each",
           "evaluate_here", "EVALUATE_DIGITS", "EVALUATE_SECONDS",
           "AGREE_RELATIVE", "agree", "value_at", "HOLD_DIGITS", "held", "substitute"]

Claim = Any  # a str, a sympy expression, or a number


class ClaimNames(dict):
    """{name a claim may use: the symbol of the label it means}; `ambiguous`
    holds the names that would mean several labels: {name: those labels}."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ambiguous: dict[str, list[str]] = {}


def claim_names(labels: Value | Iterable[str], aliases: Mapping[str, str] | None = None) -> ClaimNames:
    """The names a claim may use, for the labels of `labels` (a graph's output, or the labels):
    each label that is a name and each label's identifier (``w1_0_0``), read
    as Python reads names (``ﬁ`` is ``fi``); then `aliases` ({alias: label}).
    A name that two labels give (``x_y`` and ``x y`` both give ``x_y``) is
    `ClaimNames.ambiguous`: `parse_claim` refuses it, as `names.resolve` does.
    (A label that is no name is there too, for a sympy claim's ``Symbol("x y")``.)

    >>> names = claim_names(["w^(1)_0,0", "x_y", "x y"])
    >>> sorted(names), names.ambiguous
    (['w1_0_0', 'w^(1)_0,0', 'x y'], {'x_y': ['x_y', 'x y']})
    """
    if isinstance(labels, Value):
        labels = [n.label for n in topological_order(labels) if n.label]
    labels = list(dict.fromkeys(labels))
    meanings: dict[str, list[str]] = {}
    for label in labels:
        for name in dict.fromkeys(normal_name(spelling) for spelling in (label, to_identifier(label))):
            if name.isidentifier():
                meanings.setdefault(name, []).append(label)
    names = ClaimNames()
    for name, found in meanings.items():
        if len(found) == 1:
            names[name] = symbol(found[0])
        else:
            names.ambiguous[name] = found
    names.update({label: symbol(label) for label in labels if not label.isidentifier()})
    for alias, label in (aliases or {}).items():
        if alias not in meanings and label in labels:
            names[alias] = symbol(label)
    return names


def _refuse_ambiguous(used: Iterable[str], names: Mapping[str, sympy.Symbol]) -> None:
    ambiguous = getattr(names, "ambiguous", {})
    for name in sorted(set(used) & set(ambiguous)):
        raise NameLookupError(
            f"check: {name!r} is ambiguous: it names {', '.join(ambiguous[name])}; "
            "give those nodes labels whose identifiers differ"
        )


def named_number_notes(labels: Iterable[str]) -> list[str]:
    """A note for each of `NAMED_NUMBERS` (e, pi) among `labels`: there it is a node, not the number.

    >>> named_number_notes(["x", "e"])
    ["e is the node e here, not Euler's number (a name no node has is the number)"]
    """
    return [f"{name} is the node {name} here, not {NAMED_NUMBERS[name].meaning} (a name no node has is the number)"
            for name in sorted(set(labels) & NAMED_NUMBERS.keys())]


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)

# A claim from which sympy could derive an exact number of more than
# `HOLD_DIGITS` digits (`Expression.exact_digits`, `microgrid.symbolic.parsing`)
# is held as written, and checked with numbers only: a verdict with a
# counterexample, where building it would only run into the time limit.


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

    A string is parsed by `microgrid.symbolic.parsing.parse` (numbers, names,
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
        _refuse_ambiguous(expression.names, names)
        # e and pi are numbers, unless the graph has a node of that name.
        numbers = {name: SYMPY_NUMBERS[name] for name in expression.names & SYMPY_NUMBERS.keys() if name not in names}
        names = {**names, **numbers}
        unknown = sorted(expression.names - set(names))
        if unknown:
            known = ", ".join(sorted(n for n in names if n.isidentifier() and n not in numbers))
            raise ExpressionError(f"check: unknown name {', '.join(unknown)} in {claim!r}; names in this graph: {known}")
        if expression.exact_digits > HOLD_DIGITS:
            with sympy.evaluate(False):
                result = sympy.UnevaluatedExpr(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
        else:
            result = sympy.sympify(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
    elif isinstance(claim, sympy.Basic):
        _refuse_ambiguous((s.name for s in claim.free_symbols), names)
        replace = {}
        for s in claim.free_symbols:
            name = s.name if s.name in names else normal_name(s.name)
            if name not in names:
                known = ", ".join(sorted(n for n in names if n.isidentifier()))
                raise ValueError(f"check: unknown symbol {s.name} in the claim; names in this graph: {known}")
            replace[s] = names[name]
        result = substitute(claim, replace)
    else:
        raise TypeError(f"check: a claim must be a str or a sympy expression, got {type(claim).__name__}")
    if result.has(*_UNDEFINED):
        raise ExpressionError(f"check: the claim {str(claim)[:60]!r} is undefined (it divides by zero or is infinite)")
    return result


#: The working precision `evaluate` may use when no budget is given, in decimal digits.
EVALUATE_DIGITS = 1000
#: ... and its time, in seconds.
EVALUATE_SECONDS = 10.0


def evaluate(
    expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None = None, definitions: Mapping | None = None
) -> complex | float | None:
    """The number `expr` takes at `point`, accurate to 25 digits, as a float (or
    complex); None where it is undefined (log 0, 1/0), beyond the floats, or
    not found within the budget (`EVALUATE_SECONDS` and `EVALUATE_DIGITS` of
    working precision by default).  A symbol not in `point` is worth its
    formula in `definitions`.

    The point's floats go in exactly and the precision is raised as the
    formula needs (`microgrid.symbolic.precise`): far from 0, ``1 - sigmoid(100)``
    needs some 70 digits, and at a fixed 30 it would be 0.  It runs in the
    worker process (`microgrid.symbolic.worker`).

    >>> from microgrid.symbolic import sigmoid
    >>> z = symbol("z")
    >>> evaluate(1 - sigmoid(z), {z: 100.0}), evaluate(sympy.log(z), {z: 0.0})
    (3.720075976020836e-44, None)
    """
    budget = budget or Budget(EVALUATE_SECONDS, EVALUATE_DIGITS)
    try:
        return budget.run(evaluate_here, expr, point, budget, definitions, what="evaluating")
    except BudgetExceeded:
        return None


def evaluate_each(
    pairs: list[tuple[sympy.Expr, Mapping[sympy.Symbol, float]]], budget: Budget | None = None, definitions: Mapping | None = None
) -> list[complex | float | None]:
    """`evaluate` of each (formula, point) of `pairs`, in one step of the worker (one trip, not one each).

    >>> z = symbol("z")
    >>> evaluate_each([(z**2, {z: 3.0}), (1 / z, {z: 0.0})])
    [9.0, None]
    """
    budget = budget or Budget(EVALUATE_SECONDS, EVALUATE_DIGITS)
    try:
        return budget.run(_each, pairs, budget, definitions, what="evaluating")
    except BudgetExceeded:
        return [None] * len(pairs)


def _each(pairs: list, budget: Budget, definitions: Mapping | None) -> list:
    return [evaluate_here(expr, point, budget, definitions) for expr, point in pairs]


def evaluate_here(
    expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None = None, definitions: Mapping | None = None
) -> complex | float | None:
    """`evaluate` in this process, its time unbounded: for steps that run in the worker."""
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
    """`evaluate_here`, but ±inf beyond the floats (a value, if a huge one), and
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
