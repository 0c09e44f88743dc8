"""Formulas as a textbook writes them: simplified in the worker within a time budget (`simplify_gradient`,
`readable`), in the program's own names (`in_named_terms`), and printed (`text`, `latex`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from fractions import Fraction
from functools import cmp_to_key, reduce
from itertools import accumulate
from typing import Any, ClassVar

from ..engine import OPS
from ..names import to_latex
from .conversion import mpmath, sympy, sympy_form
from .precise import rational
from .worker import Budget, BudgetExceeded

# isort: split
# After .conversion, which names the extra to install without sympy; sympy ships no type hints.
from sympy.printing.latex import LatexPrinter  # type: ignore[import-untyped]
from sympy.printing.precedence import precedence  # type: ignore[import-untyped]

SIMPLIFY_SECONDS = 4.0  #: the time `simplify_gradient` and `diff` give the algebra when no budget is given
SHARE = 0.5  #: the most of what is left that one formula's algebra may take
#: Above these sizes `factor(cancel(...))` is not tried: such a formula does not get shorter.
FACTOR_MAX_SYMBOLS = 24
FACTOR_MAX_OPS = 300
#: What sympy algebra may raise on numbers the parser let through (1/0, an overflow, an integer too long to print).
ALGEBRA_FAILURES = (ArithmeticError, ValueError)
#: Exact numbers of more digits are shown rounded: Python refuses to print an integer past 4,300 digits.
SHOWN_DIGITS = 60


def _reads_better_negated(total: sympy.Expr) -> str | None:
    """ "fewer" if -`total` has fewer minus signs, "leading" if it only starts with none, None: either way; "": not."""
    minus = sum(1 for t in total.args if t.could_extract_minus_sign())
    plus = len(total.args) - minus
    if minus != plus:
        return "fewer" if minus > plus else ""
    if total.as_ordered_terms()[0].could_extract_minus_sign():  # the printer's first term (printing it all
        return "leading"  # could fail: an integer past 4,300 digits has no str)
    return None


def _negate(total: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*[-t for t in total.args])  # term by term: products stay products


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Signs where a reader expects them, a sum's common number out: ``-A*(A - 1)`` -> ``A*(1 - A)``, ``2*(y - A)``."""
    if isinstance(expr, sympy.Add):
        return sympy.Add(*_canonical([tidy(t) for t in expr.args]), evaluate=False)
    if not isinstance(expr, sympy.Mul):
        return expr
    coeff, factors = expr.as_coeff_mul()
    negative, coeff = bool(coeff < 0), abs(coeff)
    new: list[list] = []
    either_way, cosmetic = [], []
    for f in factors:
        base, exponent = f.as_base_exp()
        if isinstance(base, sympy.Add) and exponent.is_Integer:
            content, base = base.primitive()
            coeff *= content**exponent
            if exponent % 2 == 1:
                if verdict := _reads_better_negated(base):
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
    """`args` in sympy's own order, so that an unevaluated sum or product equals the formula typed by hand."""
    return sorted(args, key=cmp_to_key(sympy.Basic.compare))


def size(expr: sympy.Expr) -> int:
    return int(sympy.count_ops(expr))


def _only_combines_fractions(expr: sympy.Expr, combined: sympy.Expr) -> bool:
    """Does `combined` only put `expr`'s fractions over one denominator? ``-y/A + (1 - y)/(1 - A)`` reads better."""
    denominators = [sympy.denom(t) for t in expr.args] if isinstance(expr, sympy.Add) else []
    if all(d == 1 for d in denominators):
        return False
    try:
        return bool(sympy.cancel(sympy.denom(combined) / reduce(sympy.lcm, denominators)).is_Number)
    except (sympy.PolynomialError, NotImplementedError):
        return False


def simplify_gradient(expr: sympy.Expr, fallback_ops: int = 40, budget: Budget | None = None) -> sympy.Expr:
    """A readable form of `expr` (`simplest`), within `budget` (`SIMPLIFY_SECONDS`), else `expr` as it is.

    >>> A, y = sympy.symbols("A y")
    >>> simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A)))
    A - y
    """
    return simplify_within(expr, budget or Budget(SIMPLIFY_SECONDS), fallback_ops=fallback_ops)[0]


def simplify_within(
    expr: sympy.Expr, budget: Budget, share: float = 1.0, fallback_ops: int = 40, what: str = "simplifying", *named
) -> tuple[sympy.Expr, str | None]:
    """(`simplest` of `expr` and `named`, None) within `share` of `budget`'s time, else (`expr`, the reason).

    >>> s = sympy.symbols("a:7")
    >>> slow = sum(s[:6]) ** 6 - s[6]  # factor() takes minutes
    >>> simplify_within(slow, Budget(seconds=0.2))[1]
    'simplifying did not finish within the time budget (0.2 s)'
    """
    try:
        return budget.run(simplest, expr, fallback_ops, *named, seconds=share * budget.remaining(), what=what), None
    except BudgetExceeded as stopped:
        return expr, str(stopped)
    except ALGEBRA_FAILURES as error:
        return expr, f"{what} failed: {error}"


def simplest(expr: sympy.Expr, fallback_ops: int, definitions: dict | None = None, constraints=()) -> sympy.Expr:
    """Unbounded: the fewest operations of `expr`, ``factor(cancel(expr))`` and (small) `sympy.simplify`, named."""
    if definitions is not None or constraints:
        return in_named_terms(simplest(expr, fallback_ops), definitions or {}, constraints)
    candidates = [expr]
    if len(expr.free_symbols) <= FACTOR_MAX_SYMBOLS and size(expr) <= FACTOR_MAX_OPS:
        with contextlib.suppress(sympy.PolynomialError, NotImplementedError):  # e.g. Max/Heaviside generators
            combined = sympy.factor(sympy.cancel(expr))
            if _only_combines_fractions(expr, combined):
                return tidy(expr)
            candidates.append(combined)
    best = min(candidates, key=size)
    if 6 < size(best) <= fallback_ops and not best.has(sympy.exp, sympy.tanh):
        candidates.append(sympy.simplify(best))
    return min((tidy(c) for c in candidates), key=size)


def ordered_product(*factors: sympy.Expr) -> sympy.Expr:
    """The product in the chain's order, numbers merged in front: ``2*(a - y) * (1 - a**2) * x``."""
    coefficient, parts = sympy.S.One, []
    for f in map(sympy.sympify, factors):
        c, rest = (f, ()) if f.is_Number else f.as_coeff_mul()
        coefficient *= c
        parts += [g for g in rest if g != 1]
    if coefficient == 0:
        return sympy.S.Zero
    parts = [coefficient] * (coefficient != 1) + parts
    return sympy.Mul(*parts, evaluate=False) if len(parts) > 1 else (parts or [sympy.S.One])[0]


def ordered_sum(terms: list[sympy.Expr]) -> sympy.Expr:
    terms = [t for t in terms if t != 0]
    return sympy.Add(*terms, evaluate=False) if len(terms) > 1 else (terms or [sympy.S.Zero])[0]


def _disjoint(parts) -> bool:
    seen: set = set()
    for part in parts:
        if seen & part.free_symbols:
            return False
        seen |= part.free_symbols
    return True


def _nothing_to_cancel(expr: sympy.Expr, parts_simplified: bool) -> bool:
    """No algebra can shorten `expr`: no two parts share a symbol at any level (or the top two, `parts_simplified`)."""
    terms = expr.args if expr.is_Add else (expr,)
    if parts_simplified and _disjoint(terms) and all(_disjoint(t.args) for t in terms if t.is_Mul):
        return True
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.is_Atom:
            continue
        if (node.is_Add and node.primitive()[0] != 1) or not _disjoint(node.args):  # 2*a - 2*y: a number comes out
            return False
        stack.extend(node.args)
    return True


def readable(
    expr: sympy.Expr, budget: Budget, parts_simplified: bool = False, definitions: dict | None = None, constraints=()
) -> sympy.Expr:
    """`expr` as the chain wrote it, unless `simplest` (in `SHARE` of `budget`) `reads_better`.

    >>> a, y = sympy.symbols("a y")
    >>> readable(2*a - 2*y, Budget(20)), readable(a*(1 - a), Budget(20))
    (2*(a - y), a*(1 - a))
    """
    plain = definitions is None and not constraints
    if budget.expired or (plain and _nothing_to_cancel(expr, parts_simplified)):
        return expr
    named = (definitions, tuple(constraints))
    simplified, _ = simplify_within(expr.doit(), budget, SHARE, 0, "simplifying a step", *named)
    return simplified if reads_better(simplified, expr) else expr


def reads_better(new: sympy.Expr, old: sympy.Expr) -> bool:
    """Fewer operations (`_reading_cost`), printed no longer, nested no deeper (one level always: 2*(a - y))."""
    if _reading_cost(new) >= _reading_cost(old):
        return False
    new_text, old_text = text(new), text(old)
    return len(new_text) <= len(old_text) and _depth(new, new_text) <= max(_depth(old, old_text), 1)


def _depth(expr: sympy.Expr, shown: str) -> int:
    """How deep the parentheses of `expr`, printed as `shown`, nest (``y/(a*(1 - a))``: 2), labels' (a^(1)) aside."""
    for name in sorted({str(s) for s in expr.free_symbols if "(" in str(s)}, key=len, reverse=True):
        shown = shown.replace(name, "x")
    return max(accumulate(({"(": 1, ")": -1}.get(c, 0) for c in shown), initial=0))  # the running depth's peak


def in_named_terms(expr: sympy.Expr, definitions: dict, constraints=()) -> sympy.Expr:
    """`expr` in the program's names ({name: formula}) and `constraints` (= 0), kept where it `reads_better`.

    >>> p, s, z = sympy.symbols("p s z")
    >>> in_named_terms(sympy.exp(z) / s - sympy.exp(z) / (p * s), {p: sympy.exp(z) / s})
    p - 1
    """
    # Each relation (= 0) with the terms it may be solved for; exp(z) = sigmoid(z)/(1 - sigmoid(z)) is one too.
    relations = [(name - f, (name - f).atoms(sympy.Function)) for name, f in definitions.items()]
    relations += [(c, c.atoms(sympy.Symbol)) for c in constraints]
    for exp in expr.atoms(sympy.exp):
        named = [sympy_form(op)(exp.args[0]) for op in list(OPS.values()) if op.definition and op.arity == 1]
        relations += [(f - f.rewrite(sympy.exp), {exp}) for f in named]
    best = expr
    for relation, terms in relations:
        for term in sorted((t for t in terms if best.has(t)), key=str):
            x = sympy.Dummy()
            linear = sympy.numer(sympy.together(relation.subs(term, x)))
            slope = sympy.expand(linear).diff(x)
            if slope == 0 or slope.has(x):
                continue
            try:
                new = tidy(sympy.factor(sympy.cancel(best.xreplace({term: -linear.subs(x, 0) / slope}))))
            except (sympy.PolynomialError, NotImplementedError):
                continue
            best = new if reads_better(new, best) else best
    return best


def _reading_cost(expr: sympy.Expr) -> float:
    """Operations, plus half for each sum in parentheses: 1 - a**2 stays, 2*a - 2*y becomes 2*(a - y)."""
    parenthesised = sum(1 for node in sympy.preorder_traversal(expr) if node.is_Add) - (1 if expr.is_Add else 0)
    return size(expr) + 0.5 * parenthesised


def shown(expr: Any) -> Any:
    """`expr` with every exact number past `SHOWN_DIGITS` digits as a 15-digit float.

    >>> shown(sympy.Integer(7) ** 100 * sympy.Symbol("x"))
    3.23447650962476e+84*x
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    limit = 10**SHOWN_DIGITS
    # Through mpmath's binary numbers: sympy's Float(Integer) goes through str(), which refuses them.
    return expr.replace(
        lambda e: e.is_Rational and (abs(e.p) >= limit or e.q >= limit) and _as_typed(e) is None,
        lambda e: sympy.Float(rational(mpmath.mp, e.p, e.q), 15),
    )


def _as_typed(q: sympy.Rational) -> tuple[str, int] | None:
    """(mantissa, exponent) of a number a float's repr writes exactly with an exponent (``1e23``), else None."""
    if q == 0 or max(abs(q.p), q.q) > 10**310:
        return None
    shown = repr(float(abs(q)))
    if "e" not in shown or Fraction(shown) != Fraction(abs(int(q.p)), int(q.q)):
        return None
    mantissa, exponent = shown.split("e")
    return mantissa.removesuffix(".0"), int(exponent)


class _Textbook:
    """A mixin over a sympy printer: numbers as typed (``1e23``, ``1.702``), relu(z) and step(z) by name."""

    times: str
    typed: Callable[[str, int], str]  # 1e23, or 10^{23}
    functions: ClassVar[dict[str, tuple[str, str]]]  # relu(z), step(z): what comes before and after the argument

    def doprint(self, obj: Any) -> str:
        return super().doprint(shown(obj))  # type: ignore[misc]  # the sympy printer mixed in after

    def formula(self, expr: Any, as_built: bool = False) -> str:
        """`expr` as built or in sympy's order, by a new printer: sympy's print a Float by how deep it is."""
        return type(self)({"order": "none"} if as_built else None).doprint(expr)  # type: ignore[call-arg]  # sympy's

    def number(self, q: Any, alone: bool) -> str | None:
        """`q` (not its sign) as typed (``1e23``), or as a decimal shorter than its fraction (``1.702``), else None."""
        if found := _as_typed(q):
            return self.typed(*found)
        if q.is_Integer or max(abs(q.p), q.q) > 10**15 or 10**15 % q.q:
            return None
        decimal = repr(float(abs(q)))
        exact = "e" not in decimal and Fraction(decimal) == Fraction(abs(int(q.p)), int(q.q))  # never a rounded one
        fraction = len(f"{abs(q.p)}/{q.q}") if alone else len(f"/{q.q}") + (len(f"{abs(q.p)}*") if abs(q.p) != 1 else 0)
        return decimal if exact and len(decimal) + (0 if alone else 1) < fraction else None

    def function(self, name: str, arg: Any, exp: Any = None) -> str:
        before, after = self.functions[name]
        body = f"{before}{self._print(arg)}{after}"  # type: ignore[attr-defined]  # the sympy printer's
        return body if exp is None else f"{body}^{{{exp}}}"

    def _print_Rational(self, expr: Any) -> str:
        number = self.number(expr, alone=True)
        if number is None:
            return super()._print_Rational(expr)  # type: ignore[misc]
        return ("-" if expr < 0 else "") + number

    def _print_Mul(self, expr: Any) -> str:  # 1e-30*x, where sympy writes x/10**30
        coefficient, rest = expr.as_coeff_Mul()
        typed = coefficient.is_Rational and not coefficient.is_Integer and rest != 1
        number = self.number(coefficient, alone=False) if typed else None
        if number is None:
            return super()._print_Mul(expr)  # type: ignore[misc]
        factor = self.parenthesize(rest, precedence(expr), strict=True)  # type: ignore[attr-defined]  # sympy's
        return f"{'-' if coefficient < 0 else ''}{number}{self.times}{factor}"

    def _print_Max(self, expr: Any) -> str:
        if len(expr.args) == 2 and 0 in expr.args:
            return self.function("relu", next(a for a in expr.args if a != 0))
        if isinstance(self, sympy.StrPrinter):  # it has no _print_Max: Max(x, y, z)
            return self._print_Basic(expr)
        return super()._print_Max(expr)  # type: ignore[misc]

    def _print_Heaviside(self, expr: Any, exp: Any = None) -> str:
        if expr.args[1:] == (0,):  # the engine's step: 0 at 0
            return self.function("step", expr.args[0], exp)
        return super()._print_Heaviside(expr, *[exp] * (exp is not None))  # type: ignore[misc]

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list:  # as built, a sum starts with a plus: p - 1
        terms = super()._as_ordered_terms(expr, order)  # type: ignore[misc]
        if (order or self.order) != "none":  # type: ignore[attr-defined]
            return terms
        plus = [t for t in terms if not t.could_extract_minus_sign()]
        return [plus[0]] + [t for t in terms if t is not plus[0]] if plus else terms


class TextFormulas(_Textbook, sympy.StrPrinter):
    """Formulas as plain text (sympy's `sstr`)."""

    times = "*"
    functions: ClassVar = {"relu": ("relu(", ")"), "step": ("step(", ")")}
    _print_Integer = _Textbook._print_Rational

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"{mantissa}e{exponent}"


class LaTeXFormulas(_Textbook, LatexPrinter):
    """Formulas in LaTeX, node labels in the textbook's notation."""

    times = " "
    functions: ClassVar = {
        "relu": (r"\operatorname{relu}\left(", r"\right)"),
        "step": (r"\mathbf{1}\left[", r" > 0\right]"),
    }
    _default_settings: ClassVar = {**LatexPrinter._default_settings, "ln_notation": True}

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"10^{{{exponent}}}" if mantissa == "1" else rf"{mantissa} \cdot 10^{{{exponent}}}"

    def doprint(self, obj: Any) -> str:
        return super().doprint(sympy.sympify(obj) if isinstance(obj, (int, float)) else obj)

    def _print_Symbol(self, expr: Any, style: str = "plain") -> str:
        return to_latex(expr.name)


def text(expr: Any, **settings: Any) -> str:
    """An expression as plain text (sympy's `sstr`), numbers as `shown`, ``1e23`` as typed.

    >>> text(sympy.Integer(10) ** 23 * sympy.Symbol("x"))
    '1e23*x'
    """
    return TextFormulas(settings).doprint(expr)


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX for an expression (or Matrix) whose symbols are node labels.

    >>> from microgrid.symbolic import symbol
    >>> latex(symbol("w^(2)_1,0") * symbol("A_prev")), latex(sympy.Integer(10) ** 23)
    ('A_{prev} w^{(2)}_{1,0}', '10^{23}')
    """
    return LaTeXFormulas(settings).doprint(expr)
