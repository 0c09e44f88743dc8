"""A sympy formula's value at a point, to 25 digits, within a budget of precision: `evaluate`.

Passes at doubling precision until two agree, up to `Budget.digits` (``sympy.N`` has no bound); too large: ±inf or 0.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> value(sympy.exp(sympy.exp(sympy.exp(sympy.exp(sympy.exp(x))))), {x: 3.0}, digits=1000)
    mpf('+inf')
"""

from __future__ import annotations

import cmath
from collections.abc import Callable, Mapping
from typing import Any

from ..graphs import fold
from .conversion import mpmath, sympy
from .worker import Budget, BudgetExceeded

Point = Mapping[sympy.Symbol, float]
Number = complex | float | None  # None: undefined, or not found
Definitions = Mapping[sympy.Symbol, sympy.Expr] | None  # the formula of each symbol that is not in the point
Pairs = list[tuple[sympy.Expr, Point]]  # formulas, each with its point

#: The digits two successive passes must agree to.
DIGITS = 25
_FIRST_PASS = 30  # digits
#: The working precision `evaluate` may use when no budget is given, in decimal digits, and its time in seconds.
EVALUATE_DIGITS = 1000
EVALUATE_SECONDS = 10.0
#: Two values agree within this, relative (plus 1e-25 for 0): equal 25-digit values differ by a float's rounding.
AGREE_RELATIVE = 1e-13


class Undefined(ArithmeticError):
    """The formula is undefined at the point: log 0, a division by 0, 0 to a negative power."""


class Unevaluable(BudgetExceeded):
    """The formula's value cannot be found within the precision budget."""


def value(expr: sympy.Expr, point: Point, digits: int, definitions: Definitions = None) -> Any:
    """`expr` at `point` to `DIGITS` digits (mpmath), or ±inf; `Undefined`, or `Unevaluable` past `digits`.  A symbol
    not in `point` is its formula in `definitions`, in the same pass (``expr.xreplace`` can take minutes)."""
    previous, dps = None, min(_FIRST_PASS, digits)
    while True:
        ctx = mpmath.MPContext()
        ctx.dps = dps
        one_pass = _Pass(ctx, point, int(digits * 3.33), definitions or {})
        try:
            current = fold(expr, one_pass.node, {}, one_pass.children)  # over the distinct subformulas
        except (OverflowError, MemoryError) as error:  # a number mpmath cannot hold, whatever made it
            raise Unevaluable(f"a number in it is beyond what can be represented ({error})") from None
        if ctx.isnan(current):
            raise Unevaluable("the value is indeterminate at this precision (inf - inf, 0 * inf)")
        cancelled = one_pass.cancelled  # two equal wrong passes would agree: trust neither
        if cancelled is None and previous is not None and _agree(ctx, previous, current):
            return current
        if dps >= digits:
            if cancelled is not None:
                raise Unevaluable(f"terms of about 2**{cancelled} cancel beyond {digits} digits of working precision")
            if abs(current) < ctx.mpf(10) ** (-digits // 2):  # indistinguishable from 0
                return ctx.zero
            raise Unevaluable(f"the value needs more than {digits} digits of working precision")
        previous, dps = (current if cancelled is None else None), min(2 * dps, digits)


def _agree(ctx: Any, a: Any, b: Any) -> bool:
    if ctx.isinf(a) or ctx.isinf(b):
        return a == b
    return abs(a - b) <= abs(b) * ctx.mpf(10) ** (-DIGITS)


def rational(ctx: Any, p: int, q: int) -> Any:
    """p/q in `ctx`, from its leading bits: mpmath's own conversion of millions of bits takes minutes."""
    keep = ctx.prec + 64
    shift_p = max(abs(p).bit_length() - keep, 0)
    shift_q = max(q.bit_length() - keep, 0)
    return ctx.ldexp(ctx.mpf(p >> shift_p) / (q >> shift_q), shift_p - shift_q)


#: Each function's value in mpmath, given the context (sympy gives every Heaviside its value at 0).
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "exp": lambda ctx, x: ctx.exp(x),
    "sigmoid": lambda ctx, x: 1 / (1 + ctx.exp(-x)),
    "tanh": lambda ctx, x: ctx.tanh(x),
    "sin": lambda ctx, x: ctx.sin(x),
    "cos": lambda ctx, x: ctx.cos(x),
    "log": lambda ctx, x: ctx.log(x),
    "Abs": lambda ctx, x: abs(x),
    "UnevaluatedExpr": lambda ctx, x: x,
    "Max": lambda ctx, *xs: max(xs),
    "Min": lambda ctx, *xs: min(xs),
    "Heaviside": lambda ctx, x, at_zero: at_zero if x == 0 else ctx.one if x > 0 else ctx.zero,
}
#: Functions that need no reduction of their argument (log reads a huge number's exponent); the rest get ±inf past it.
_ANY_SIZE = frozenset({"log", "Abs", "Max", "Min", "Heaviside", "UnevaluatedExpr"})
_REAL_ONLY = frozenset({"Max", "Min", "Heaviside"})


class _Pass:
    """One evaluation at the context's precision; `max_bits` bounds magnitudes a function may reduce."""

    def __init__(self, ctx: Any, point: Point, max_bits: int, definitions: Mapping):
        self.ctx, self.point, self.max_bits, self.definitions = ctx, point, max_bits, definitions
        self.cancelled: int | None = None  # the size (log2) of terms of a sum that cancel beyond the precision

    def children(self, node: sympy.Basic) -> tuple:
        if node.is_Symbol:  # a defined symbol is computed from its formula
            return (self.definitions[node],) if node not in self.point and node in self.definitions else ()
        return () if node.is_Number else node.args

    def note_cancellation(self, terms: list, total: Any) -> None:
        """Note a sum whose rounding error is not far below its total (X + 1 - X is 0 at any precision, X ~ 2**1e10)."""
        ctx = self.ctx
        sizes = [ctx.mag(t) for t in terms if t != 0 and ctx.isfinite(t)]
        if not sizes or not ctx.isfinite(total):
            return
        error = max(sizes) - ctx.prec
        if error > -ctx.prec // 2 and (total == 0 or ctx.mag(total) - error < _FIRST_PASS * 3.33):
            self.cancelled = max(sizes)

    def beyond_reach(self, x: Any) -> Any:
        """x, or ±inf if too large to reduce (tanh(2**(10**10)) builds a 10**10-bit integer): its limit there."""
        if self.ctx.isinf(x) or x == 0 or self.ctx.mag(x) <= self.max_bits:
            return x
        if self.ctx.im(x) != 0:
            raise Unevaluable("a function of a complex number too large to reduce")
        return self.ctx.inf if x > 0 else -self.ctx.inf

    def node(self, node: sympy.Basic, args: list) -> Any:
        ctx = self.ctx
        if node.is_Symbol:  # (its one argument: its definition's value)
            if not args and node not in self.point:
                raise Undefined(f"no value for {node}")
            return args[0] if args else ctx.mpf(self.point[node])
        if node.is_Rational:  # ±inf or 0 beyond `max_bits` (a formula can hold 1000**1001000)
            bits = abs(node.p).bit_length() - node.q.bit_length()
            if abs(bits) > self.max_bits:
                return ctx.zero if bits < 0 else ctx.inf if node.p > 0 else -ctx.inf
            return rational(ctx, node.p, node.q)
        if node.is_Float:
            return ctx.make_mpf(node._mpf_)
        if node.is_Add:
            total = ctx.fsum(args)
            self.note_cancellation(args, total)
            return total
        if node.is_Mul:
            return ctx.fprod(args)
        if node.is_Pow:
            return self.power(*args)
        name = type(node).__name__
        if name in _FUNCTIONS:
            if name not in _ANY_SIZE:
                args = [self.beyond_reach(x) for x in args]
            if name in ("sin", "cos") and ctx.isinf(args[0]):
                raise Unevaluable("sin or cos of a number too large to reduce")
            if name in _REAL_ONLY:
                if any(ctx.im(x) != 0 for x in args):
                    raise Undefined(f"{name} of a complex number")
                args = [ctx.re(x) for x in args]
            if name == "log" and args[0] == 0:
                raise Undefined("log of 0")
            return _FUNCTIONS[name](ctx, *args)
        if node.is_number:  # pi, E, and other constants
            return ctx.mpmathify(node.evalf(ctx.dps + 5))
        raise Unevaluable(f"no numeric rule for {name}")

    def power(self, base: Any, exponent: Any) -> Any:
        ctx = self.ctx
        if base == 0:
            if ctx.re(exponent) < 0:
                raise Undefined("0 to a negative power")
            return ctx.zero if exponent != 0 else ctx.one
        if not (ctx.isinf(base) or ctx.isinf(exponent)):
            log_of_result = self.beyond_reach(exponent * ctx.log(abs(base)))
            if ctx.isinf(log_of_result):  # beyond any reduction: +inf or 0, by its sign
                return ctx.inf if log_of_result > 0 else ctx.zero
        return ctx.power(base, exponent)


def evaluate(expr: sympy.Expr, point: Point, budget: Budget | None = None, definitions: Definitions = None) -> Number:
    """`expr` at `point` to 25 digits, a float (or complex); None where undefined, beyond the floats, or past `budget`.

    >>> from microgrid.symbolic import sigmoid
    >>> z = sympy.Symbol("z")
    >>> evaluate(1 - sigmoid(z), {z: 100.0}), evaluate(sympy.log(z), {z: 0.0})
    (3.720075976020836e-44, None)
    """
    return evaluate_each([(expr, point)], budget, definitions)[0]


def evaluate_each(pairs: Pairs, budget: Budget | None = None, definitions: Definitions = None) -> list[Number]:
    """`evaluate` of each (formula, point) of `pairs`, in one step of the worker (one trip, not one each).

    >>> z = sympy.Symbol("z")
    >>> evaluate_each([(z**2, {z: 3.0}), (1 / z, {z: 0.0})])
    [9.0, None]
    """
    budget = budget or Budget(EVALUATE_SECONDS, EVALUATE_DIGITS)
    try:
        return budget.run(_each, pairs, budget, definitions, what="evaluating")
    except BudgetExceeded:
        return [None] * len(pairs)


def _each(pairs: Pairs, budget: Budget, definitions: Definitions) -> list:
    return [evaluate_here(expr, point, budget, definitions) for expr, point in pairs]


def evaluate_here(expr: sympy.Expr, point: Point, budget: Budget | None, definitions: Definitions = None) -> Number:
    """`evaluate` in this process, its time unbounded: for steps that run in the worker."""
    try:
        z = value_at(expr, point, budget, definitions)
    except Unevaluable:
        return None
    return z if z is not None and cmath.isfinite(z) else None


def value_at(expr: sympy.Expr, point: Point, budget: Budget | None, definitions: Definitions = None) -> Number:
    """`evaluate_here`, but ±inf beyond the floats, and `Unevaluable` when the precision runs out."""
    try:
        z = complex(value(expr, point, EVALUATE_DIGITS if budget is None else budget.digits, definitions))
    except Undefined:
        return None
    return z if z.imag != 0 and abs(z.imag) > 1e-12 * max(1.0, abs(z.real)) else z.real


def agree(a: Number, b: float, relative: float = AGREE_RELATIVE, absolute: float = 1e-25) -> bool:
    """Is `a` (None: it has no value) within `relative` of `b`, plus `absolute` (for 0)?"""
    return a is not None and abs(a - b) <= absolute + relative * abs(b)
