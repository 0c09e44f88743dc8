"""Printing: formulas and results as text and LaTeX, one printer per format (`TEXT`, `LATEX`; `markdown` adds one).

>>> TEXT.doprint(sympy.Integer(10) ** 23 * sympy.Symbol("x")), LATEX.doprint(sympy.Symbol("w^(1)_0,0"))
('1e23*x', 'w^{(1)}_{0,0}')
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from ..names import to_latex
from .conversion import Label, mpmath, sympy
from .precise import rational

# isort: split
# After .conversion, which names the extra to install without sympy; sympy ships no type hints.
from sympy.printing.latex import LatexPrinter  # type: ignore[import-untyped]
from sympy.printing.precedence import precedence  # type: ignore[import-untyped]
from sympy.printing.str import StrPrinter  # type: ignore[import-untyped]

#: Exact numbers of more digits are shown rounded: Python refuses to print an integer past 4,300 digits.
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
    """(mantissa, exponent) of a number a float's repr writes exactly with an exponent (``1e23``), else None."""
    if q == 0 or max(abs(q.p), q.q) > 10**310:
        return None
    shown = repr(float(abs(q)))
    if "e" not in shown or Fraction(shown) != Fraction(abs(int(q.p)), int(q.q)):
        return None
    mantissa, exponent = shown.split("e")
    return mantissa.removesuffix(".0"), int(exponent)


class _Typed:
    """A mixin over a sympy printer: numbers as typed, ``1e23`` where sympy writes 23 zeros (see `_as_typed`)."""

    times: str

    def typed(self, mantissa: str, exponent: int) -> str:
        raise NotImplementedError

    def _print_Rational(self, expr: Any) -> str:
        found = _as_typed(expr)
        if found is None:
            return super()._print_Rational(expr)  # type: ignore[misc]  # the sympy printer mixed in after
        return ("-" if expr < 0 else "") + self.typed(*found)

    def _print_Mul(self, expr: Any) -> str:  # 1e-30*x, where sympy writes x/10**30
        coefficient, rest = expr.as_coeff_Mul()
        found = _as_typed(coefficient) if coefficient.is_Rational and not coefficient.is_Integer else None
        if found is None or rest == 1:
            return super()._print_Mul(expr)  # type: ignore[misc]  # the sympy printer mixed in after
        printer: Any = self  # a sympy printer too (mixed in after), which has `parenthesize`
        sign = "-" if coefficient < 0 else ""
        return f"{sign}{self.typed(*found)}{self.times}{printer.parenthesize(rest, precedence(expr))}"


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
    """An expression as plain text (sympy's `sstr`), long exact numbers rounded, ``1e23`` as typed.

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


# ------------------------------------------------------------ the printers
class Shown:
    """A result the printers show: ``str()`` as text, ``.latex()`` as LaTeX."""

    def __str__(self) -> str:
        return TEXT.doprint(self)

    def latex(self) -> str:
        return LATEX.doprint(self)


class Printer:
    """Prints a result by its class, as sympy's printers do: ``_print_<Class>`` along the MRO, else as a formula.

    >>> from microgrid.symbolic import symbol
    >>> TEXT.doprint(symbol("x") / 2), LATEX.doprint(symbol("A_prev"))
    ('x/2', 'A_{prev}')
    """

    def doprint(self, obj: Any, *args: Any) -> str:
        for cls in type(obj).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(obj, *args)
        return self.formula(obj)

    def formula(self, expr: Any, as_built: bool = False) -> str:
        raise NotImplementedError


def derivative(of: str, wrt: Any, held: tuple[str, ...] = (), tex: bool = False) -> str:
    """``dL/dZ``, or its LaTeX fraction; with `held`, a partial derivative holding those inputs fixed."""
    if not tex:
        return f"d{of}/d{wrt}" + (f" ({', '.join(held)} fixed)" if held else "")
    fraction = rf"\frac{{\partial {to_latex(of)}}}{{\partial {to_latex(wrt)}}}"
    return rf"\left.{fraction}\right|_{{{', '.join(map(to_latex, held))}}}" if held else fraction


def by_source(written: list) -> list[tuple[str, list]]:
    """The written lines grouped by who wrote them, in order."""
    return [(by, [w for w in written if w.by == by]) for by in dict.fromkeys(w.by for w in written)]


def _number(x: Any) -> str:
    if isinstance(x, float) and math.isinf(x):
        return f"{x:+g} (beyond the floats)"
    if x is None:
        return "undefined"
    shown = f"{x:.6g}"
    if isinstance(x, float) and float(shown) != x and float(shown).is_integer():
        return repr(x)  # 0.99999999995, not 1: a point where 1 - A is 0 would be undefined
    return shown


def _latex_number(x: Any) -> str:
    if x is None:
        return r"\text{undefined}"
    if isinstance(x, complex):
        return sympy.latex(sympy.Float(x.real, 6) + sympy.Float(x.imag, 6) * sympy.I)
    return sympy.latex(sympy.Float(x, 6))


def chain_of(eq: Any, tex: bool) -> str:
    """The factors an equation is the product of, ``dL/dA * dA/dZ``, or its own chain text."""
    if eq.chain_text:
        return eq.chain_text[tex]
    return (" " if tex else " * ").join(derivative(o, w, tex=tex) for o, w in eq.chain)


def _looks_equal(c: Any) -> bool:
    return c.gap is not None and _number(c.claimed) == _number(c.true)


def deltas_and_parameters(eqs: Any) -> tuple[list[Any], list[Any]]:
    """The deltas' instances (BP1, BP2), and the first of each parameter equation (BP3, BP4) in each layer."""
    first: dict[tuple[str, str], Any] = {}
    for i in eqs.instances:
        if i.equation in ("BP3", "BP4"):
            first.setdefault((i.equation, i.wrt.split(")")[0]), i)
    return [i for i in eqs.instances if i.equation in ("BP1", "BP2")], list(first.values())


#: Each loss `microgrid.backprop_equations` knows: its formula as (text, LaTeX).
LOSSES = {
    "mse": ("C = sum_j (a^(L)_j - y_j)^2", r"C = \sum_j (a^{(L)}_j - y_j)^2"),
    "bce": (
        "C = sum_j -y_j log(a^(L)_j) - (1 - y_j) log(1 - a^(L)_j)",
        r"C = \sum_j -y_j \log a^{(L)}_j - (1 - y_j) \log(1 - a^{(L)}_j)",
    ),
    "bce-logits": (
        "C = sum_j -y_j log(sigma(z^(L)_j)) - (1 - y_j) log(1 - sigma(z^(L)_j)), "
        "cross-entropy on the logits z^(L)_j (a linear output)",
        r"C = \sum_j -y_j \log \sigma(z^{(L)}_j) - (1 - y_j) \log(1 - \sigma(z^{(L)}_j))",
    ),
}
#: The four equations, (name, text, LaTeX), and in matrix form (LaTeX).
BP_EQUATIONS = [
    ("BP1", "delta^(L)_j = dC/da^(L)_j * sigma'(z^(L)_j)",
     r"\delta^{(L)}_j = \frac{\partial C}{\partial a^{(L)}_j}\, \sigma'(z^{(L)}_j)"),
    ("BP2", "delta^(l)_j = sigma'(z^(l)_j) * sum_k w^(l+1)_k,j delta^(l+1)_k",
     r"\delta^{(l)}_j = \sigma'(z^{(l)}_j) \sum_k w^{(l+1)}_{k,j}\, \delta^{(l+1)}_k"),
    ("BP3", "dC/db^(l)_j = delta^(l)_j", r"\frac{\partial C}{\partial b^{(l)}_j} = \delta^{(l)}_j"),
    ("BP4", "dC/dw^(l)_j,k = a^(l-1)_k delta^(l)_j",
     r"\frac{\partial C}{\partial w^{(l)}_{j,k}} = a^{(l-1)}_k\, \delta^{(l)}_j"),
]  # fmt: skip
BP_MATRIX = [
    r"\delta^{(L)} = \nabla_{a^{(L)}} C \odot \sigma'(z^{(L)})",
    r"\delta^{(l)} = \left( (W^{(l+1)})^T \delta^{(l+1)} \right) \odot \sigma'(z^{(l)})",
    r"\frac{\partial C}{\partial b^{(l)}} = \delta^{(l)}",
    r"\frac{\partial C}{\partial W^{(l)}} = \delta^{(l)} \left(a^{(l-1)}\right)^T",
]


class TextPrinter(Printer):
    """Plain text, as the command line prints it."""

    def formula(self, expr: Any, as_built: bool = False) -> str:
        if isinstance(expr, sympy.MatrixBase):
            rows = ("[" + ", ".join(self.formula(x, as_built) for x in expr.row(r)) + "]" for r in range(expr.rows))
            return "[" + ",\n     ".join(rows) + "]"
        return text(expr, order="none") if as_built else text(expr)

    def _print_Counterexample(self, c: Any) -> str:
        at = ", ".join(f"{k} = {_number(v)}" for k, v in c.point.items())
        out = f"at {at}: claimed {_number(c.claimed)}, true {_number(c.true)}"
        return out + (f" (claim - true = {_number(c.gap)})" if _looks_equal(c) else "")

    def _print_Verdict(self, v: Any) -> str:
        lhs, claim = f"d{v.of}/d{v.wrt}", text(v.claim)
        if v.correct:
            lines = [f"correct: {lhs} = {claim}  (the difference simplifies to 0)"]
        elif v.correct is None:
            lines = [
                f"unproven: {lhs} = {claim} agrees with the engine at {v.points_checked} points, "
                "but the difference did not simplify to 0",
                f"  engine:  {lhs} = {text(v.expected)}",
                f"  claim - engine, definitions substituted = {text(v.difference)}",
            ]
        else:
            lines = [
                f"incorrect: the claim {lhs} = {claim}",
                f"  engine:  {lhs} = {text(v.expected)}",
                f"  claim - engine = {text(v.difference)}",
            ]
            if v.counterexample is not None:
                lines.append(f"  counterexample {self.doprint(v.counterexample)}")
        return "\n".join(lines + [f"  note: {n}" for n in v.notes])

    def _print_Equation(self, eq: Any, indent: str = "") -> str:
        lhs, chain = eq.lhs(), chain_of(eq, False)
        rows = [chain] * bool(chain) + [self.formula(line, eq.as_built) for line in shown_lines(eq)]
        pad = " " * len(lhs)
        out = [f"{indent}{lhs} = {rows[0]}"] + [f"{indent}{pad} = {r}" for r in rows[1:]]
        if eq.note:
            out.append(f"{indent}  (note: {eq.note})")
        for by, group in by_source(eq.written):
            out.append(f"{indent}  as {by} writes it:")
            for w in group:
                remark = "; ".join(filter(None, [w.mark(), w.note]))
                out.append(f"{indent}{pad} = {w.text}" + (f"   [{remark}]" if remark else ""))
        return "\n".join(out)

    def _print_Derivation(self, d: Any) -> str:
        out = [d.title, f"(after {d.source})", ""]
        out += [f"  {label} = {self.formula(expr)}" for label, expr in d.definitions]
        for i, step in enumerate(d.steps, 1):
            out += ["", f"{i}. {step.title}"]
            out += [self.doprint(eq, "     ") for eq in step.factors] + [self.doprint(step.result, "   ")]
            out += [f"   note: {n}" for n in step.notes]
        if d.results:
            out += ["", "Results:"] + [self.doprint(eq, "  ") for eq in d.results]
        for title, verdict in d.checks:
            out += ["", title] + ["  " + line for line in self.doprint(verdict).splitlines()]
        if d.notes:
            out += [""] + [f"note: {n}" for n in d.notes]
        for part in d.parts:
            out += ["", "-" * 8, self.doprint(part)]
        return "\n".join(out)

    def _print_Instance(self, i: Any) -> str:
        return f"({i.equation}) {i.lhs} = " + " = ".join(sympy.sstr(line, order="none") for line in i.lines)

    def _print_BackpropEquations(self, eqs: Any) -> str:
        deltas, firsts = deltas_and_parameters(eqs)
        out = [
            f"The four equations of backpropagation for {eqs.model_repr}, {LOSSES[eqs.loss][0]}",
            "  delta^(l)_j = dC/dz^(l)_j, the error signal of neuron j in layer l",
            "",
        ]
        out += [f"  ({name}) {formula}" for name, formula, _ in BP_EQUATIONS]
        out += ["", "Every delta, from the engine's own rules:"] + [f"  {self.doprint(i)}" for i in deltas]
        out += ["", f"And {len(eqs.instances) - len(deltas)} parameter instances of BP3 and BP4, e.g.:"]
        out += [f"  {self.doprint(i)}" for i in firsts]
        out += ["", f"verify() checks all {len(eqs.instances)} instances against the engine's reverse pass."]
        return "\n".join(out)


class LaTeXPrinter(Printer):
    """LaTeX: one ``aligned`` block for a whole result."""

    def formula(self, expr: Any, as_built: bool = False) -> str:
        return latex(expr, order="none") if as_built else latex(expr)

    def _print_Counterexample(self, c: Any) -> str:
        at = r",\ ".join(f"{to_latex(k)} = {_latex_number(v)}" for k, v in c.point.items())
        out = rf"{at}:\quad \text{{claimed }} {_latex_number(c.claimed)},\ \text{{true }} {_latex_number(c.true)}"
        return out + (rf"\ (\text{{claim - true}} = {_latex_number(c.gap)})" if _looks_equal(c) else "")

    def _print_Verdict(self, v: Any) -> str:
        lhs = derivative(v.of, v.wrt, tex=True)
        if v.correct:
            return rf"$\text{{correct: }} {lhs} = {latex(v.claim)}$"
        if v.correct is None:
            title = rf"\text{{unproven: equal at {v.points_checked} points, not proved}}"
        else:
            title = r"\text{incorrect}"
        body = [
            rf"\text{{claimed: }} & {lhs} = {latex(v.claim)}",
            rf"\text{{engine: }} & {lhs} = {latex(v.expected)}",
            rf"\text{{claim - engine: }} & {latex(v.difference)}",
        ]
        if v.counterexample is not None:
            body.append(rf"\text{{counterexample: }} & {self.doprint(v.counterexample)}")
        return r"$\begin{aligned}" + title + r"\\" + r"\\".join(body) + r"\end{aligned}$"

    def _print_Equation(self, eq: Any) -> str:
        chain = chain_of(eq, True)
        rows = [chain] * bool(chain) + [self.formula(line, eq.as_built) for line in shown_lines(eq)]
        out = [rf"{eq.lhs_latex()} &= {rows[0]}"] + [rf"&= {r}" for r in rows[1:]]
        if eq.note:
            out.append(rf"&\quad\text{{({latex_text(eq.note)})}}")
        for by, group in by_source(eq.written):
            for i, w in enumerate(group):
                row = rf"{eq.lhs_latex() if i == 0 else ''} &= {w.shown}"
                remark = "; ".join(filter(None, [f"as {by} writes it" if i == 0 else "", w.mark(), w.note]))
                out.append(rf"{row} &&\text{{{latex_text(remark)}}}" if remark else row)
        return " \\\\\n".join(out)

    def _print_Derivation(self, d: Any, whole: bool = True) -> str:
        rows = [rf"\text{{{latex_text(d.title)}}}"]
        rows += [rf"{to_latex(label)} &= {latex(expr)}" for label, expr in d.definitions]
        for i, step in enumerate(d.steps, 1):
            rows.append(rf"&\text{{{i}. {latex_text(step.title)}}}")
            rows += [self.doprint(eq) for eq in [*step.factors, step.result]]
            rows += [rf"&\quad\text{{note: {latex_text(n)}}}" for n in step.notes]
        if d.results:
            rows += [r"&\text{Results:}"] + [self.doprint(eq) for eq in d.results]
        for title, verdict in d.checks:
            rows.append(rf"&\text{{{latex_text(title)}}}")
            rows.append(rf"&\text{{{verdict.status}: }} {latex(verdict.claim)}")
            rows.append(rf"&\text{{engine: }} {latex(verdict.expected)}")
        rows += [self._print_Derivation(part, whole=False) for part in d.parts]
        body = " \\\\\n".join(rows) + " \\\\"
        return "\\begin{aligned}\n" + body + "\n\\end{aligned}" if whole else body

    def _print_Instance(self, i: Any) -> str:
        return rf"{to_latex(i.lhs)} &= " + " = ".join(latex(line, order="none") for line in i.lines)

    def _print_BackpropEquations(self, eqs: Any) -> str:
        rows = [rf"&\text{{({name})}}\quad {tex}" for name, _, tex in BP_EQUATIONS]
        rows.append(r"&\text{matrix form:}\quad " + r",\quad ".join(BP_MATRIX[:2]))
        rows.append(r"&\phantom{\text{matrix form:}}\quad " + r",\quad ".join(BP_MATRIX[2:]))
        rows += [self.doprint(i) for i in deltas_and_parameters(eqs)[0]]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + " \\\\\n\\end{aligned}"


def shown_lines(eq: Any) -> list:
    """An equation's lines to show: one that reads the same as the line before it is left out."""
    shown = [TEXT.formula(line, eq.as_built) for line in eq.lines]
    return [line for i, line in enumerate(eq.lines) if i == 0 or shown[i] != shown[i - 1]]


_LABEL = r"[A-Za-z][A-Za-z0-9]*(?:\^(?:\([^()\s]*\)|[0-9]+))?(?:_[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)*"
_LABEL_TOKEN = re.compile(rf"(?:{_LABEL}/)?{_LABEL}")  # a label, or a derivative's name dC/dz^(2)_1


def latex_text(words: str) -> str:
    """Text for ``\\text{...}``: labels in it (``dC_0/dw^(L)``) become inline math."""

    def piece(match: re.Match) -> str:
        token = match.group(0)
        if "^" not in token and "_" not in token:
            return token
        if script := re.fullmatch(r"([A-Za-z]+)\^([0-9]+)_([A-Za-z0-9,]+)", token):  # h^1_j, w^2_21
            return f"${script[1]}^{{{script[2]}}}_{{{script[3]}}}$"
        name = to_latex(token)  # an identifier such as w3_0_0 has no math form: it stays text
        return plain(token) if "\\_" in name or "\\^" in name else f"${name}$"

    def plain(part: str) -> str:
        return re.sub(r"([{}$%&#_])", r"\\\1", part.replace("\\", "/").replace("^", " "))

    out, last = [], 0
    for match in _LABEL_TOKEN.finditer(words):
        out += [plain(words[last : match.start()]), piece(match)]
        last = match.end()
    out.append(plain(words[last:]))
    return "".join(out)


TEXT, LATEX = TextPrinter(), LaTeXPrinter()
