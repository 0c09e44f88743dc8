"""Gradients made readable, within a time budget: `tidy`, `simplify_gradient`, `simplify_within`.

The rule: the engine's own form, ``factor(cancel(...))`` or (small formulas
without exponentials) `sympy.simplify`, whichever has the fewest operations,
signs moved where a reader expects them.  The algebra runs in the worker
process (`microgrid.symbolic.worker`), which is stopped when its budget is spent.

    >>> A, y = sympy.symbols("A y")
    >>> simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A)))
    A - y
"""

from __future__ import annotations

from functools import cmp_to_key, reduce

from .conversion import sympy
from .worker import Budget, BudgetExceeded

__all__ = ["simplify_gradient", "simplify_within", "size", "tidy"]


# ------------------------------------------------------------ simplifying
def _negatives(total: sympy.Expr) -> int:
    return sum(1 for t in total.args if t.could_extract_minus_sign())


def _reads_better_negated(total: sympy.Expr) -> str | None:
    """ "fewer" if ``-total`` has fewer minus signs, "leading" if it only does
    not start with one (``-A + y`` -> ``A - y``), None if either reads well
    (``1 - A``, ``A - 1``); "" if it should stay."""
    minus, plus = _negatives(total), len(total.args) - _negatives(total)
    if minus != plus:
        return "fewer" if minus > plus else ""
    if total.as_ordered_terms()[0].could_extract_minus_sign():  # the printer's first term (printing it all
        return "leading"  # could fail: an integer past 4,300 digits has no str)
    return None


def _negate(total: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*[-t for t in total.args])  # term by term: products stay products


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Signs moved where a reader expects them: ``-A*(A - 1)`` -> ``A*(1 - A)``,
    ``2*A*(y - A)*(A - 1)`` -> ``2*A*(A - y)*(1 - A)``.  The value is unchanged.

    Top down: in a product, each sum raised to an odd power is negated when
    that removes minus signs (the sign goes to the product), a numeric common
    factor comes out of it (``2*y - 2*A`` -> ``2*(y - A)``), and the overall
    sign is absorbed by a sum that reads well either way.  Then inward.
    """
    if isinstance(expr, sympy.Add):
        return sympy.Add(*_canonical([tidy(t) for t in expr.args]), evaluate=False)
    if not isinstance(expr, sympy.Mul):
        return expr
    coeff, factors = expr.as_coeff_mul()
    negative = bool(coeff < 0)
    coeff = abs(coeff)
    new, either_way, cosmetic = [], [], []
    for f in factors:
        base, exponent = f.as_base_exp()
        if isinstance(base, sympy.Add) and exponent.is_Integer:
            content, base = base.primitive()
            coeff *= content**exponent
            if exponent % 2 == 1:
                verdict = _reads_better_negated(base)
                if verdict:
                    base, negative = _negate(base), not negative
                    if verdict == "leading":
                        cosmetic.append(len(new))
                elif verdict is None:
                    either_way.append(len(new))
            new.append([base, exponent])
        else:
            new.append([f, None])
    if negative and (either_way or cosmetic):  # absorb the sign: -(A - 1) -> (1 - A)
        readable = [i for i in either_way if not sympy.sstr(_negate(new[i][0])).startswith("-")]
        # Prefer the factor that then starts with its number: (1 - y)/(1 - A) over (y - 1)/(A - 1).
        readable.sort(key=lambda i: not _negate(new[i][0]).as_coeff_Add()[0].is_positive)
        i = (readable or either_way or cosmetic)[0]
        new[i][0], negative = _negate(new[i][0]), False
    parts = [tidy(b) if e is None or e == 1 else tidy(b) ** e for b, e in new]
    if negative or coeff != 1:
        parts.insert(0, -coeff if negative else coeff)
    return sympy.Mul(*_canonical(parts), evaluate=False) if len(parts) > 1 else parts[0]


def _canonical(args: list) -> list:
    """`args` in the order sympy itself keeps them (``Basic.compare``), so that
    an unevaluated sum or product equals the same formula typed by hand."""
    return sorted(args, key=cmp_to_key(sympy.Basic.compare))


def size(expr: sympy.Expr) -> int:
    return int(sympy.count_ops(expr))


#: Above these sizes `factor(cancel(...))` is not tried, though the worker would stop it: a formula
#: this large does not get shorter, and the time it would take belongs to the steps after it.
FACTOR_MAX_SYMBOLS = 24
FACTOR_MAX_OPS = 300


def _only_combines_fractions(expr: sympy.Expr, combined: sympy.Expr) -> bool:
    """Is `expr` a sum of fractions that `combined` merely puts over their
    common denominator (nothing cancels)?  Then the sum reads better, as the
    seed writes it: ``-y/A + (1 - y)/(1 - A)``, not ``(A - y)/(A*(1 - A))``."""
    if not isinstance(expr, sympy.Add):
        return False
    denominators = [sympy.denom(t) for t in expr.args]
    if all(d == 1 for d in denominators):
        return False
    try:
        common = reduce(sympy.lcm, denominators)
        return bool(sympy.cancel(sympy.denom(combined) / common).is_Number)
    except (sympy.PolynomialError, NotImplementedError):
        return False


#: The time `simplify_gradient` and `diff` give the algebra when no budget is given.
SIMPLIFY_SECONDS = 4.0


def simplify_gradient(expr: sympy.Expr, fallback_ops: int = 40, budget: Budget | None = None) -> sympy.Expr:
    """A readable form of `expr`, signs tidied (`tidy`); the rule:

    1. a sum of fractions that ``factor(cancel(...))`` would only put over one
       denominator stays the sum (the seed's ``-y/A + (1 - y)/(1 - A)``);
    2. otherwise the form with the fewest operations (`sympy.count_ops`) of:
       `expr` as built, ``factor(cancel(expr))`` and, only for small
       expressions without exponentials, `sympy.simplify`; ties go to the
       engine's own form, then to ``factor(cancel(...))``.

    `sympy.simplify` is a guarded fallback: on the written-out exponential
    form it takes minutes and never gives the shortest form (see the notes),
    so it is never tried on that.  Large expressions (see
    `FACTOR_MAX_SYMBOLS`) are only tidied.  Whatever the size, the algebra
    runs within `budget` (by default `SIMPLIFY_SECONDS`) in the worker
    process; past it, `expr` is returned as it is (`simplify_within` also says why).

    >>> A, y = sympy.symbols("A y")
    >>> simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A)))
    A - y
    >>> simplify_gradient(-y / A + (1 - y) / (1 - A))  # sympy prints a sum in its own order
    (1 - y)/(1 - A) - y/A
    """
    return simplify_within(expr, budget or Budget(SIMPLIFY_SECONDS), fallback_ops=fallback_ops)[0]


#: What a step of sympy algebra may raise on numbers the parser let through:
#: 1/0 at a point, an overflow, or (ValueError) an integer too long to print,
#: since sympy orders terms by their text.  Such a step gives a note, not a traceback.
ALGEBRA_FAILURES = (ArithmeticError, ValueError)


def simplify_within(
    expr: sympy.Expr, budget: Budget, share: float = 1.0, fallback_ops: int = 40, what: str = "simplifying"
) -> tuple[sympy.Expr, str | None]:
    """(`simplify_gradient` of `expr`, None), the algebra given at most `share`
    of the time left in `budget`; (`expr` unchanged, the reason) when it
    does not finish in that time.

    >>> s = sympy.symbols("a:7")
    >>> slow = sum(s[:6]) ** 6 - s[6]  # factor() takes minutes
    >>> simplify_within(slow, Budget(seconds=0.2))[1]
    'simplifying did not finish within the time budget (0.2 s)'
    """
    try:
        return budget.run(simplest, expr, fallback_ops, seconds=share * budget.remaining(), what=what), None
    except BudgetExceeded as stopped:
        return expr, str(stopped)
    except ALGEBRA_FAILURES as error:
        return expr, f"{what} failed: {error}"


def simplest(expr: sympy.Expr, fallback_ops: int) -> sympy.Expr:
    """`simplify_gradient`'s rule, unbounded: run it in the worker (`simplify_within`)."""
    candidates = [expr]
    if len(expr.free_symbols) <= FACTOR_MAX_SYMBOLS and size(expr) <= FACTOR_MAX_OPS:
        try:
            combined = sympy.factor(sympy.cancel(expr))
        except (sympy.PolynomialError, NotImplementedError):  # e.g. Max/Heaviside generators
            combined = None
        if combined is not None:
            if _only_combines_fractions(expr, combined):
                return tidy(expr)
            candidates.append(combined)
    best = min(candidates, key=size)
    if 6 < size(best) <= fallback_ops and not best.has(sympy.exp, sympy.tanh):
        candidates.append(sympy.simplify(best))
    return min((tidy(c) for c in candidates), key=size)


# ------------------------------------------------------------ the chain's own form
#: The most of what is left that one formula's algebra may take.
SHARE = 0.5


def _factors(expr: sympy.Expr) -> tuple[sympy.Expr, list[sympy.Expr]]:
    if expr.is_Number:
        return expr, []
    coefficient, rest = expr.as_coeff_mul() if isinstance(expr, sympy.Mul) else (sympy.S.One, (expr,))
    return coefficient, [f for f in rest if f != 1]


def ordered_product(*factors: sympy.Expr) -> sympy.Expr:
    """The product as the chain writes it, numbers merged in front:
    ``2*(a - y) * (1 - a**2) * x`` stays in that order (sympy would reorder it)."""
    coefficient, parts = sympy.S.One, []
    for f in factors:
        c, rest = _factors(sympy.sympify(f))
        coefficient *= c
        parts += rest
    if coefficient == 0:
        return sympy.S.Zero
    if coefficient != 1:
        parts.insert(0, coefficient)
    if not parts:
        return sympy.S.One
    return parts[0] if len(parts) == 1 else sympy.Mul(*parts, evaluate=False)


def ordered_sum(terms: list[sympy.Expr]) -> sympy.Expr:
    terms = [t for t in terms if t != 0]
    if not terms:
        return sympy.S.Zero
    return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)


def nothing_to_cancel(expr: sympy.Expr) -> bool:
    """True when no two parts of `expr` share a symbol, at any level: then no
    factoring or cancelling can shorten it (``w0*delta0 + w1*delta1``), and
    sympy's algebra, slow on many symbols, is skipped.  Iterative."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.is_Atom:
            continue
        if node.is_Add and node.primitive()[0] != 1:  # 2*a - 2*y: a common number comes out
            return False
        seen: set = set()
        for arg in node.args:
            symbols = arg.free_symbols
            if seen & symbols:
                return False
            seen |= symbols
        stack.extend(node.args)
    return True


def _disjoint(parts) -> bool:
    seen: set = set()
    for part in parts:
        if seen & part.free_symbols:
            return False
        seen |= part.free_symbols
    return True


def _independent_parts(expr: sympy.Expr) -> bool:
    """A product (or sum of products) of parts already simplified, no two
    sharing a symbol: nothing can cancel between them."""
    terms = expr.args if expr.is_Add else (expr,)
    return _disjoint(terms) and all(_disjoint(t.args) if t.is_Mul else True for t in terms)


def readable(expr: sympy.Expr, budget: Budget, parts_simplified: bool = False) -> sympy.Expr:
    """The simplest form that still reads like the textbook: `expr` as the
    chain wrote it, unless factoring, cancelling and tidying signs
    (`simplify_within`) makes it strictly shorter.  Ties keep the engine's
    form: a(1 - a), 1 - a**2, 2(a - y) survive.  The algebra takes at most
    `SHARE` of what is left of `budget`; once it is spent, or where nothing
    can cancel (with `parts_simplified`: between the parts of a product of
    results already simplified), no algebra is tried.

    >>> a, y = sympy.symbols("a y")
    >>> readable(2*a - 2*y, Budget(2)), readable(a*(1 - a), Budget(2))
    (2*(a - y), a*(1 - a))
    """
    if budget.expired or nothing_to_cancel(expr):
        return expr
    if parts_simplified and _independent_parts(expr):
        return expr
    # factor and cancel; never the unbounded sympy.simplify (fallback_ops=0)
    simplified, _ = simplify_within(expr.doit(), budget, SHARE, fallback_ops=0, what="simplifying a step")
    return simplified if _reading_cost(simplified) < _reading_cost(expr) else expr


def _reading_cost(expr: sympy.Expr) -> float:
    """Operations, plus half a point for each sum in parentheses: factoring
    1 - a**2 into (1 - a)*(1 + a) saves an operation but costs two
    parentheses, so the textbook's form stays; 2*a - 2*y still becomes 2*(a - y)."""
    parenthesised = sum(1 for node in sympy.preorder_traversal(expr) if node.is_Add) - (1 if expr.is_Add else 0)
    return size(expr) + 0.5 * parenthesised
