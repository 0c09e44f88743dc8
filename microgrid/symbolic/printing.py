"""Printing: formulas and results as text, LaTeX and Markdown, one printer per format.

Numbers are shown as typed (``1e23``, where sympy writes 23 zeros) and long
exact numbers rounded; labels as the textbook writes them (``w^{(1)}_{0,0}``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..names import to_latex
from .conversion import Label, mpmath, sympy
from .precise import rational

# isort: split
from sympy.printing.latex import LatexPrinter  # after .conversion, which names the extra to install without sympy
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

# ------------------------------------------------------------------ LaTeX
#: Exact numbers of more digits are shown rounded: a claim such as
#: ``exp(1000*log(1000*x))`` holds 1000**1000, and Python refuses to print an
#: integer past 4,300 digits.
SHOWN_DIGITS = 60


def shown(expr: Any) -> Any:
    """`expr` for display: every exact number beyond `SHOWN_DIGITS` digits as a 15-digit float.

    >>> shown(sympy.Integer(7) ** 100 * sympy.Symbol("x"))
    3.23447650962476e+84*x
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    limit = 10**SHOWN_DIGITS

    def huge(e: sympy.Basic) -> bool:
        return e.is_Rational and (abs(e.p) >= limit or e.q >= limit) and _as_typed(e) is None

    # Through mpmath's binary numbers: sympy's Float(Integer) goes through str(), which refuses them.
    return expr.replace(huge, lambda e: sympy.Float(rational(mpmath.mp, e.p, e.q), 15))


def _as_typed(q: sympy.Rational) -> tuple[str, int] | None:
    """(mantissa, exponent) of a number a float's repr writes exactly with an exponent
    (``1e23``, ``2.5e-30``): such a number was typed so.  None for any other number."""
    if q == 0 or max(abs(q.p), q.q) > 10**310:
        return None
    shown = repr(float(abs(q)))
    if "e" not in shown or Fraction(shown) != Fraction(abs(int(q.p)), int(q.q)):
        return None
    mantissa, exponent = shown.split("e")
    return mantissa.removesuffix(".0"), int(exponent)


class _Typed:
    """A printer's numbers as typed: ``1e23`` where sympy writes 23 zeros (see `_as_typed`)."""

    def typed(self, mantissa: str, exponent: int) -> str:
        raise NotImplementedError

    def _print_Rational(self, expr: sympy.Rational) -> str:
        found = _as_typed(expr)
        if found is None:
            return super()._print_Rational(expr)
        return ("-" if expr < 0 else "") + self.typed(*found)

    def _print_Mul(self, expr: sympy.Mul) -> str:  # noqa: N802: 1e-30*x, where sympy writes x/10**30
        coefficient, rest = expr.as_coeff_Mul()
        found = _as_typed(coefficient) if coefficient.is_Rational and not coefficient.is_Integer else None
        if found is None or rest == 1:
            return super()._print_Mul(expr)
        sign = "-" if coefficient < 0 else ""
        return f"{sign}{self.typed(*found)}{self.times}{self.parenthesize(rest, precedence(expr))}"


class _TextPrinter(_Typed, StrPrinter):
    times = "*"
    _print_Integer = _Typed._print_Rational

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"{mantissa}e{exponent}"


class _LatexPrinter(_Typed, LatexPrinter):
    times = " "

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"10^{{{exponent}}}" if mantissa == "1" else rf"{mantissa} \cdot 10^{{{exponent}}}"


def text(expr: Any, **settings: Any) -> str:
    """An expression as plain text (sympy's `sstr`, with its `settings`), long
    exact numbers rounded, numbers typed with an exponent written so.

    >>> text(sympy.Integer(10) ** 23 * sympy.Symbol("x"))
    '1e23*x'
    """
    return _TextPrinter(settings).doprint(shown(expr))


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX for an expression (or Matrix) whose symbols are node labels.

    >>> from microgrid.symbolic import symbol
    >>> latex(symbol("w^(2)_1,0") * symbol("A_prev")), latex(sympy.Integer(10) ** 23)
    ('A_{prev} w^{(2)}_{1,0}', '10^{23}')
    """
    expr = sympy.sympify(expr) if isinstance(expr, (int, float)) else shown(expr)
    names = {s: to_latex(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol) and not isinstance(s, Label)}
    return _LatexPrinter({"symbol_names": names, "ln_notation": True, **settings}).doprint(expr)
