"""Printing: formulas and results as text, LaTeX and Markdown, one printer per format (`TEXT`, `LATEX`, `MARKDOWN`).

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
from sympy.printing.latex import LatexPrinter  # after .conversion, which names the extra to install without sympy
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

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
    """A printer's numbers as typed: ``1e23`` where sympy writes 23 zeros (see `_as_typed`)."""

    def typed(self, mantissa: str, exponent: int) -> str:
        raise NotImplementedError

    def _print_Rational(self, expr: sympy.Rational) -> str:
        found = _as_typed(expr)
        if found is None:
            return super()._print_Rational(expr)
        return ("-" if expr < 0 else "") + self.typed(*found)

    def _print_Mul(self, expr: sympy.Mul) -> str:  # 1e-30*x, where sympy writes x/10**30
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


def _chain(eq: Any, tex: bool) -> str:
    """The factors an equation is the product of, ``dL/dA * dA/dZ``, or its own chain text."""
    if eq.chain_text:
        return eq.chain_text[tex]
    return (" " if tex else " * ").join(derivative(o, w, tex=tex) for o, w in eq.chain)


def _looks_equal(c: Any) -> bool:
    return c.gap is not None and _number(c.claimed) == _number(c.true)


def _first_of_each_layer(instances: list) -> list:
    first: dict = {}
    for i in instances:
        first.setdefault((i.equation, i.wrt.split(")")[0]), i)
    return list(first.values())


def _deltas_and_parameters(eqs: Any) -> tuple[list, list]:
    return [[i for i in eqs.instances if (i.equation in ("BP1", "BP2")) == delta] for delta in (True, False)]


#: Each loss `microgrid.backprop_equations` knows, as text and as LaTeX.
LOSSES = {
    "mse": "C = sum_j (a^(L)_j - y_j)^2",
    "bce": "C = sum_j -y_j log(a^(L)_j) - (1 - y_j) log(1 - a^(L)_j)",
    "bce-logits": "C = sum_j -y_j log(sigma(z^(L)_j)) - (1 - y_j) log(1 - sigma(z^(L)_j)), "
    "cross-entropy on the logits z^(L)_j (a linear output)",
}
_BP_LOSSES = {
    "mse": r"C = \sum_j (a^{(L)}_j - y_j)^2",
    "bce": r"C = \sum_j -y_j \log a^{(L)}_j - (1 - y_j) \log(1 - a^{(L)}_j)",
    "bce-logits": r"C = \sum_j -y_j \log \sigma(z^{(L)}_j) - (1 - y_j) \log(1 - \sigma(z^{(L)}_j))",
}
_BP_GENERAL = [
    ("BP1", "delta^(L)_j = dC/da^(L)_j * sigma'(z^(L)_j)",
     r"\delta^{(L)}_j = \frac{\partial C}{\partial a^{(L)}_j}\, \sigma'(z^{(L)}_j)"),
    ("BP2", "delta^(l)_j = sigma'(z^(l)_j) * sum_k w^(l+1)_k,j delta^(l+1)_k",
     r"\delta^{(l)}_j = \sigma'(z^{(l)}_j) \sum_k w^{(l+1)}_{k,j}\, \delta^{(l+1)}_k"),
    ("BP3", "dC/db^(l)_j = delta^(l)_j", r"\frac{\partial C}{\partial b^{(l)}_j} = \delta^{(l)}_j"),
    ("BP4", "dC/dw^(l)_j,k = a^(l-1)_k delta^(l)_j",
     r"\frac{\partial C}{\partial w^{(l)}_{j,k}} = a^{(l-1)}_k\, \delta^{(l)}_j"),
]  # fmt: skip
_BP_MATRIX = [
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
        lhs, chain = eq.lhs(), _chain(eq, False)
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
        deltas, params = _deltas_and_parameters(eqs)
        out = [
            f"The four equations of backpropagation for {eqs.model_repr}, {LOSSES[eqs.loss]}",
            "  delta^(l)_j = dC/dz^(l)_j, the error signal of neuron j in layer l",
            "",
        ]
        out += [f"  ({name}) {formula}" for name, formula, _ in _BP_GENERAL]
        out += ["", "Every delta, from the engine's own rules:"] + [f"  {self.doprint(i)}" for i in deltas]
        out += ["", f"And {len(params)} parameter instances of BP3 and BP4, e.g.:"]
        out += [f"  {self.doprint(i)}" for i in _first_of_each_layer(params)]
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
        chain = _chain(eq, True)
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
        rows = [rf"&\text{{({name})}}\quad {tex}" for name, _, tex in _BP_GENERAL]
        rows.append(r"&\text{matrix form:}\quad " + r",\quad ".join(_BP_MATRIX[:2]))
        rows.append(r"&\phantom{\text{matrix form:}}\quad " + r",\quad ".join(_BP_MATRIX[2:]))
        rows += [self.doprint(i) for i in _deltas_and_parameters(eqs)[0]]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + " \\\\\n\\end{aligned}"


def shown_lines(eq: Any) -> list:
    """An equation's lines to show: one that reads the same as the line before it is left out."""
    shown = [TEXT.formula(line, eq.as_built) for line in eq.lines]
    return [line for i, line in enumerate(eq.lines) if i == 0 or shown[i] != shown[i - 1]]


_LABEL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\^\([^()\s]*\))?(?:_[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)*")


def latex_text(words: str) -> str:
    """Text for ``\\text{...}``: labels in it (``dC_0/dw^(L)``) become inline math."""

    def piece(match: re.Match) -> str:
        token = match.group(0)
        if "^" not in token and "_" not in token:
            return token
        name = to_latex(token)  # an identifier such as w3_0_0 has no math form: it stays text
        return plain(token) if "\\" in name else f"${name}$"

    def plain(part: str) -> str:
        return re.sub(r"([{}$%&#_])", r"\\\1", part.replace("\\", "/").replace("^", " "))

    out, last = [], 0
    for match in _LABEL_TOKEN.finditer(words):
        out += [plain(words[last : match.start()]), piece(match)]
        last = match.end()
    out.append(plain(words[last:]))
    return "".join(out)


# ------------------------------------------------------------ Markdown, for a notebook
#: About the characters of math a notebook column shows in one line.
WIDTH = 64


def _width(tex: str) -> int:
    """The visible width of a LaTeX formula, roughly: commands and braces do not count,
    a fraction counts its wider part."""
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: "x" * max(len(m[1]), len(m[2])), tex)
    tex = re.sub(r"\\(left|right|cdot|quad|,|;)", " ", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}^_]", "", tex))


def _pieces(expr: Any, as_built: bool) -> list[str]:
    """`expr` as LaTeX rows of about `WIDTH` at most: a long sum broken
    after a term, a long product after a factor, inside parentheses too."""
    show = (lambda e: latex(e, order="none")) if as_built else latex
    rows = _split(expr, show)
    return rows[:1] + [rf"\quad {row}" for row in rows[1:]]


def _split(expr: Any, show: Any) -> list[str]:
    tex = show(expr)
    if _width(tex) <= WIDTH or not isinstance(expr, (sympy.Add, sympy.Mul)):
        return [tex]
    is_sum = isinstance(expr, sympy.Add)
    parts = list(expr.args) if show is not latex else (expr.as_ordered_terms() if is_sum else expr.as_ordered_factors())
    rows, current = [], ""
    for part in parts:
        sub = _split(part, show)
        if not is_sum and isinstance(part, sympy.Add):  # a sum inside a product keeps its parentheses
            sub = [rf"\left({sub[0]}\right)"] if len(sub) == 1 else [f"({sub[0]}", *sub[1:-1], f"{sub[-1]})"]
        joint = ("" if sub[0].startswith("-") else "+ ") if is_sum else r"\cdot "
        if current and _width(f"{current} {joint}{sub[0]}") > WIDTH:
            rows.append(current)
            current = f"{joint}{sub[0]}"
        else:
            current = f"{current} {joint}{sub[0]}" if current else sub[0]
        for piece in sub[1:]:
            rows.append(current)
            current = piece
    return [*rows, current]


def math_rows(lhs: str, exprs: list, as_built: bool = False, first: str | None = None) -> list[str]:
    """``lhs &= e1 \\ &= e2 ...`` rows (`first`, LaTeX, before them), each long sum broken over rows."""
    chain = [first] if first else []
    if first and _width(first) > WIDTH:  # the chain, a sum of products of fractions: a term a row
        terms = first.split(" + ")
        chain = [terms[0]] + [rf"\quad + {t}" for t in terms[1:]]
    lines = ([chain] if chain else []) + [_pieces(e, as_built) for e in exprs]
    rows = []
    for i, pieces in enumerate(lines):
        rows.append(f"{lhs if i == 0 else ''} &= {pieces[0]}")
        rows += [f"&{piece}" for piece in pieces[1:]]
    return rows


def block(rows: list[str]) -> str:
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$" if rows else ""


def markdown_text(note: str) -> str:
    """Markdown for a plain-text note: names with ^ or _ in code spans, the rest escaped."""
    out = []
    for word in re.split(r"(\s+)", note):
        if re.search(r"[_^]", word):
            core = word.rstrip(".,;:)")
            lead = core[: len(core) - len(core.lstrip("("))]
            out.append(f"{lead}`{core[len(lead) :]}`{word[len(core) :]}")
        else:
            out.append(re.sub(r"([*\[\]<>#|\\])", r"\\\1", word))
    return "".join(out)


def _merged(items: list[tuple[str, Any]]) -> list[str]:
    """Markdown paragraphs: consecutive math rows in one block."""
    out, rows = [], []
    for kind, content in [*items, ("md", "")]:
        if kind == "math":
            rows += content
            continue
        if rows:
            out.append(block(rows))
            rows = []
        if content:
            out.append(content)
    return out


class MarkdownPrinter(Printer):
    """Markdown for a notebook: each step a block of its own, long formulas broken to fit the column
    (`WIDTH`), notes as text with names in code spans, never half typeset."""

    def formula(self, expr: Any, as_built: bool = False) -> str:
        return block(math_rows("", [expr], as_built))

    def _print_Verdict(self, v: Any) -> str:
        lhs = derivative(v.of, v.wrt, tex=True)
        head = {
            "correct": "**correct**: proved, the difference simplifies to 0",
            "incorrect": "**incorrect**",
            "unproven": f"**unproven**: equal at {v.points_checked} points, not proved",
        }[v.status]
        rows = math_rows(rf"\text{{claimed: }} {lhs}", [v.claim])
        if not v.correct:
            rows += math_rows(rf"\text{{engine: }} {lhs}", [v.expected])
            rows += math_rows(r"\text{claim - engine}", [v.difference])
        out = [head, block(rows)]
        if v.counterexample is not None:
            out.append("counterexample: " + markdown_text(TEXT.doprint(v.counterexample)))
        out += [f"*note:* {markdown_text(n)}" for n in v.notes]
        return "\n\n".join(out)

    def items(self, eq: Any) -> list[tuple[str, Any]]:
        """One equation: ("math", rows) for the engine's lines, ("md", text) for the written lines and remarks."""
        if isinstance(eq.wrt, list):  # a gradient matrix: entry by entry
            rows = []
            for r, row in enumerate(eq.wrt):
                for c, label in enumerate(row):
                    lines = [line[r, c] for line in eq.lines]
                    lines = [x for i, x in enumerate(lines) if i == 0 or x != lines[i - 1]]
                    rows += math_rows(derivative(eq.of, label, tex=True), lines)
            title = f"{markdown_text(eq.chain_text[0])}, entry by entry:" if eq.chain_text else "Entry by entry:"
            return [("md", title), ("math", rows)]
        rows = math_rows(eq.lhs_latex(), shown_lines(eq), eq.as_built, _chain(eq, True) or None)
        items: list[tuple[str, Any]] = [("math", rows)]
        if eq.note:
            items.append(("md", f"*{markdown_text(eq.note)}*"))
        for by, group in by_source(eq.written):
            lines = [f"As {by} writes it:"]
            for w in group:
                remark = "; ".join(filter(None, [f"**{w.mark()}**" if w.mark() else "", markdown_text(w.note)]))
                lines.append(f"- $\\displaystyle {eq.lhs_latex()} = {w.shown}$" + (f" — {remark}" if remark else ""))
            items.append(("md", "\n".join(lines)))
        return items

    def _print_Derivation(self, d: Any) -> str:
        out = [f"**{markdown_text(d.title)}**  \n*after {markdown_text(d.source)}*"]
        definitions = [
            (to_latex(label), piece, i) for label, expr in d.definitions for i, piece in enumerate(_pieces(expr, False))
        ]
        out.append(block([rf"{label} &= {piece}" if i == 0 else rf"&{piece}" for label, piece, i in definitions]))
        for i, step in enumerate(d.steps, 1):
            out.append(f"**{i}. {markdown_text(step.title)}**")
            out += _merged([item for eq in [*step.factors, step.result] for item in self.items(eq)])
            out += [f"*note:* {markdown_text(n)}" for n in step.notes]
        if d.results:
            out.append("**Results**")
            out += _merged([item for eq in d.results for item in self.items(eq)])
        for title, verdict in d.checks:
            out += [f"**{markdown_text(title)}**", self.doprint(verdict)]
        out += [f"*note:* {markdown_text(n)}" for n in d.notes]
        for part in d.parts:
            out += ["---", self.doprint(part)]
        return "\n\n".join(p for p in out if p)

    def _print_BackpropEquations(self, eqs: Any) -> str:
        deltas, params = _deltas_and_parameters(eqs)

        def rows(chosen: list) -> list[str]:
            return [r for i in chosen for r in math_rows(to_latex(i.lhs), i.lines, as_built=True)]

        return "\n\n".join([
            f"**The four equations of backpropagation** for `{eqs.model_repr}`, ${_BP_LOSSES[eqs.loss]}$; "
            r"$\delta^{(l)}_j = \partial C / \partial z^{(l)}_j$ is the error signal of neuron $j$ in layer $l$.",
            block([rf"&\text{{({name})}}\quad {tex}" for name, _, tex in _BP_GENERAL]),
            "In matrix form (⊙ is the entrywise product):",
            block([rf"&{tex}" for tex in _BP_MATRIX]),
            "Every δ, from the engine's own rules:",
            block(rows(deltas)),
            f"And {len(params)} instances of BP3 and BP4; the first of each in each layer:",
            block(rows(_first_of_each_layer(params))),
            f"`verify()` checks all {len(eqs.instances)} instances against the engine's reverse pass.",
        ])  # fmt: skip


TEXT, LATEX, MARKDOWN = TextPrinter(), LaTeXPrinter(), MarkdownPrinter()
