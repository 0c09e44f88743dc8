"""Formulas and results as text, LaTeX and Markdown: one sympy printer per format (`TEXT`, `LATEX`, `MARKDOWN`).

>>> TEXT.doprint(sympy.Integer(10) ** 23 * sympy.Symbol("x")), LATEX.doprint(sympy.Symbol("w^(1)_0,0"))
('1e23*x', 'w^{(1)}_{0,0}')
"""

from __future__ import annotations

import math
import re
from itertools import groupby
from typing import Any

from ..names import to_latex
from .conversion import sympy
from .simplify import LaTeXFormulas, TextFormulas, latex, text


class Shown:
    """A result the printers show: ``str()`` as text, ``.latex()`` as LaTeX."""

    def __str__(self) -> str:
        return TEXT.doprint(self)

    def latex(self) -> str:
        return LATEX.doprint(self)


class Displayed(Shown):
    """A result a notebook shows, as Markdown (or as one LaTeX block)."""

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_markdown_(self) -> str:
        return MARKDOWN.doprint(self)


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
    "bce": ("C = sum_j -y_j log(a^(L)_j) - (1 - y_j) log(1 - a^(L)_j)",
            r"C = \sum_j -y_j \log a^{(L)}_j - (1 - y_j) \log(1 - a^{(L)}_j)"),
    "bce-logits": ("C = sum_j -y_j log(sigma(z^(L)_j)) - (1 - y_j) log(1 - sigma(z^(L)_j)), "
                   "cross-entropy on the logits z^(L)_j (a linear output)",
                   r"C = \sum_j -y_j \log \sigma(z^{(L)}_j) - (1 - y_j) \log(1 - \sigma(z^{(L)}_j))"),
}  # fmt: skip
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


class TextPrinter(TextFormulas):
    """Plain text, as the command line prints it."""

    def formula(self, expr: Any, as_built: bool = False) -> str:
        if isinstance(expr, sympy.MatrixBase):
            rows = ("[" + ", ".join(self.formula(x, as_built) for x in expr.row(r)) + "]" for r in range(expr.rows))
            return "[" + ",\n     ".join(rows) + "]"
        return super().formula(expr, as_built)

    def _print_Counterexample(self, c: Any) -> str:
        at = ", ".join(f"{k} = {_number(c.point[k])}" for k in c.involved or c.point)
        at += f" ({len(c.rest)} more: {', '.join(c.rest)})" if c.rest else ""
        out = f"at {at}: claimed {_number(c.claimed)}, true {_number(c.true)}"
        return out + (f" (claim - true = {_number(c.gap)})" if _looks_equal(c) else "")

    def _print_Verdict(self, v: Any) -> str:
        lhs, claim = derivative(v.of, v.wrt), text(v.claim)
        lines = [f"correct: {lhs} = {claim}  (the difference simplifies to 0)"]
        if not v.correct:
            unproven = v.correct is None
            lines = [
                f"unproven: {lhs} = {claim} agrees with the engine at {v.points_checked} points, "
                "but the difference did not simplify to 0"
                if unproven
                else f"incorrect: the claim {lhs} = {claim}",
                f"  engine:  {lhs} = {text(v.expected)}",
                f"  claim - engine{', definitions substituted' * unproven} = {text(v.difference)}",
            ]
            if v.counterexample is not None and not unproven:
                lines.append(f"  counterexample {self._print(v.counterexample)}")
        return "\n".join(lines + [f"  note: {n}" for n in v.notes])

    def _print_Equation(self, eq: Any, indent: str = "") -> str:
        lhs, chain = eq.lhs(), chain_of(eq, False)
        rows = [chain] * bool(chain) + [self.formula(line, eq.as_built) for line in shown_lines(eq)]
        pad = " " * len(lhs)
        out = [f"{indent}{lhs} = {rows[0]}"] + [f"{indent}{pad} = {r}" for r in rows[1:]]
        out += [f"{indent}  (note: {eq.note})"] * bool(eq.note)
        for by, group in by_source(eq.written):
            out.append(f"{indent}  as {by} writes it:")
            for w in group:
                remark = "; ".join(filter(None, [w.mark(), w.note]))
                out.append(f"{indent}{pad} = {w.text}" + (f"   [{remark}]" if remark else ""))
        return "\n".join(out)

    def _print_Derivation(self, d: Any) -> str:
        out = [d.title, f"(after {d.source})", ""]
        out += [f"  {label} = {self.formula(expr, True)}" for label, expr in d.definitions]
        for i, step in enumerate(d.steps, 1):
            out += ["", f"{i}. {step.title}"]
            out += [self._print(eq, indent="     ") for eq in step.factors] + [self._print(step.result, indent="   ")]
            out += [f"   note: {n}" for n in step.notes]
        if d.results:
            out += ["", "Results:"] + [self._print(eq, indent="  ") for eq in d.results]
        for title, verdict in d.checks:
            out += ["", title] + ["  " + line for line in self._print(verdict).splitlines()]
        if d.notes:
            out += [""] + [f"note: {n}" for n in d.notes]
        for part in d.parts:
            out += ["", "-" * 8, self._print(part)]
        return "\n".join(out)

    def _print_Instance(self, i: Any) -> str:
        return f"({i.equation}) {i.lhs} = " + " = ".join(sympy.sstr(line, order="none") for line in i.lines)

    def _print_BackpropEquations(self, eqs: Any) -> str:
        deltas, firsts = deltas_and_parameters(eqs)
        out = [f"The four equations of backpropagation for {eqs.model_repr}, {LOSSES[eqs.loss][0]}"]
        out += ["  delta^(l)_j = dC/dz^(l)_j, the error signal of neuron j in layer l", ""]
        out += [f"  ({name}) {formula}" for name, formula, _ in BP_EQUATIONS]
        out += ["", "Every delta, from the engine's own rules:"] + [f"  {self._print(i)}" for i in deltas]
        out += ["", f"And {len(eqs.instances) - len(deltas)} parameter instances of BP3 and BP4, e.g.:"]
        out += [f"  {self._print(i)}" for i in firsts]
        out += ["", f"verify() checks all {len(eqs.instances)} instances against the engine's reverse pass."]
        return "\n".join(out)


class LaTeXPrinter(LaTeXFormulas):
    """LaTeX: one ``aligned`` block for a whole result."""

    def _print_Counterexample(self, c: Any) -> str:
        at = r",\ ".join(f"{to_latex(k)} = {_latex_number(c.point[k])}" for k in c.involved or c.point)
        at += rf"\ (\text{{{len(c.rest)} more: }} {', '.join(map(to_latex, c.rest))})" if c.rest else ""
        out = rf"{at}:\quad \text{{claimed }} {_latex_number(c.claimed)},\ \text{{true }} {_latex_number(c.true)}"
        return out + (rf"\ (\text{{claim - true}} = {_latex_number(c.gap)})" if _looks_equal(c) else "")

    def _print_Verdict(self, v: Any) -> str:
        lhs = derivative(v.of, v.wrt, tex=True)
        if v.correct:
            return rf"$\text{{correct: }} {lhs} = {latex(v.claim)}$"
        status = f"unproven: equal at {v.points_checked} points, not proved" if v.correct is None else "incorrect"
        body = [
            rf"\text{{claimed: }} & {lhs} = {latex(v.claim)}",
            rf"\text{{engine: }} & {lhs} = {latex(v.expected)}",
            rf"\text{{claim - engine: }} & {latex(v.difference)}",
        ]
        if v.counterexample is not None:
            body.append(rf"\text{{counterexample: }} & {self._print(v.counterexample)}")
        return rf"$\begin{{aligned}}\text{{{status}}}\\" + r"\\".join(body) + r"\end{aligned}$"

    def _print_Equation(self, eq: Any) -> str:
        chain = chain_of(eq, True)
        rows = [chain] * bool(chain) + [self.formula(line, eq.as_built) for line in shown_lines(eq)]
        out = [rf"{eq.lhs_latex()} &= {rows[0]}"] + [rf"&= {r}" for r in rows[1:]]
        out += [rf"&\quad\text{{({latex_text(eq.note)})}}"] * bool(eq.note)
        for by, group in by_source(eq.written):
            for i, w in enumerate(group):
                row = rf"{eq.lhs_latex() if i == 0 else ''} &= {w.shown}"
                remark = "; ".join(filter(None, [f"as {by} writes it" if i == 0 else "", w.mark(), w.note]))
                out.append(rf"{row} &&\text{{{latex_text(remark)}}}" if remark else row)
        return " \\\\\n".join(out)

    def _print_Derivation(self, d: Any, whole: bool = True) -> str:
        rows = [rf"\text{{{latex_text(d.title)}}}"]
        rows += [rf"{to_latex(label)} &= {self.formula(expr, True)}" for label, expr in d.definitions]
        for i, step in enumerate(d.steps, 1):
            rows.append(rf"&\text{{{i}. {latex_text(step.title)}}}")
            rows += [self._print(eq) for eq in [*step.factors, step.result]]
            rows += [rf"&\quad\text{{note: {latex_text(n)}}}" for n in step.notes]
        if d.results:
            rows += [r"&\text{Results:}"] + [self._print(eq) for eq in d.results]
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
        rows += [self._print(i) for i in deltas_and_parameters(eqs)[0]]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + " \\\\\n\\end{aligned}"


def shown_lines(eq: Any) -> list:
    """An equation's lines to show: one that reads the same as the line before it is left out."""
    shown = [TEXT.formula(line, eq.as_built) for line in eq.lines]
    return [line for i, line in enumerate(eq.lines) if i == 0 or shown[i] != shown[i - 1]]


_LABEL = r"[A-Za-z][A-Za-z0-9]*(?:\^(?:\([^()\s]*\)|[0-9]+))?(?:_[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)*"
_LABEL_TOKEN = re.compile(rf"((?:{_LABEL}/)?{_LABEL})")  # a label, or a derivative's name dC/dz^(2)_1
WIDTH = 64  #: about the characters of math a notebook column shows in one line


def latex_text(words: str) -> str:
    """Text for ``\\text{...}``: labels in it (``dC_0/dw^(L)``) become inline math."""

    def piece(token: str) -> str:
        if "^" not in token and "_" not in token:
            return token
        if script := re.fullmatch(r"([A-Za-z]+)\^([0-9]+)_([A-Za-z0-9,]+)", token):  # h^1_j, w^2_21
            return f"${script[1]}^{{{script[2]}}}_{{{script[3]}}}$"
        name = to_latex(token)  # an identifier such as w3_0_0 has no math form: it stays text
        return plain(token) if "\\_" in name or "\\^" in name else f"${name}$"

    def plain(part: str) -> str:
        return re.sub(r"([{}$%&#_])", r"\\\1", part.replace("\\", "/").replace("^", " "))

    return "".join(piece(part) if i % 2 else plain(part) for i, part in enumerate(_LABEL_TOKEN.split(words)))


def width(tex: str) -> int:
    """A LaTeX formula's visible width, roughly: no commands nor braces, a fraction its wider part."""
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: "x" * max(len(m[1]), len(m[2])), tex)
    tex = re.sub(r"\\(left|right|cdot|quad|,|;)", " ", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}^_]", "", tex))


def latex_rows(expr: Any, as_built: bool) -> list[str]:
    """`expr` as LaTeX rows of about `WIDTH`: a long sum broken after a term, a product after a factor."""
    tex = LATEX.formula(expr, as_built)
    if width(tex) <= WIDTH or not isinstance(expr, (sympy.Add, sympy.Mul)):
        return [tex]
    is_sum = isinstance(expr, sympy.Add)
    parts = list(expr.args) if as_built else (expr.as_ordered_terms() if is_sum else expr.as_ordered_factors())
    rows, current = [], ""
    for part in parts:
        sub = latex_rows(part, as_built)
        if not is_sum and isinstance(part, sympy.Add):  # a sum inside a product keeps its parentheses
            sub = [rf"\left({sub[0]}\right)"] if len(sub) == 1 else [f"({sub[0]}", *sub[1:-1], f"{sub[-1]})"]
        joint = ("" if sub[0].startswith("-") else "+ ") if is_sum else r"\cdot "
        line = f"{current} {joint}{sub[0]}" if current else sub[0]
        if current and width(line) > WIDTH:
            rows.append(current)
            line = f"{joint}{sub[0]}"
        *full, current = [line, *sub[1:]]
        rows += full
    return [*rows, current]


def math_rows(lhs: str, exprs: list, as_built: bool = False, first: str | None = None) -> list[str]:
    """``lhs &= e1 \\ &= e2 ...`` rows (`first`, LaTeX, before them), each long formula broken over rows."""
    terms = first.split(" + ") if first and width(first) > WIDTH else [first] * bool(first)
    chain = terms[:1] + [f"+ {t}" for t in terms[1:]]
    rows = []
    for i, pieces in enumerate(([chain] if chain else []) + [latex_rows(e, as_built) for e in exprs]):
        rows.append(f"{lhs if i == 0 else ''} &= {pieces[0]}")
        rows += [rf"&\quad {piece}" for piece in pieces[1:]]
    return rows


def block(rows: list[str]) -> str:
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$" if rows else ""


def markdown_text(note: str) -> str:
    """Markdown for a plain-text note: names with ^ or _ in code spans, the rest escaped."""
    out = []
    for word in re.split(r"(\s+)", note):
        if re.search(r"[_^]", word):
            core = word.rstrip(".,;:)")
            core += word[len(core) :][: max(0, core.count("(") - core.count(")"))]  # the ) that close its own (
            lead = "(" * min(len(core) - len(core.lstrip("(")), core.count("(") - core.count(")"))  # the sentence's
            out.append(f"{lead}`{core[len(lead) :]}`{word[len(core) :]}")
        else:
            out.append(re.sub(r"([*\[\]<>#|\\])", r"\\\1", word))
    return "".join(out)


def _merged(items: list) -> list[str]:
    """Markdown paragraphs: text as it is, consecutive math (lists of rows) in one block."""
    out: list[str] = []
    for is_math, group in groupby(items, key=lambda item: isinstance(item, list)):
        part = list(group)
        out += [block([row for rows in part for row in rows])] if is_math else part
    return [p for p in out if p]


class MarkdownPrinter(sympy.printing.printer.Printer):
    """Markdown for a notebook: a block a step, long formulas broken to fit (`WIDTH`), names in notes in code spans.

    >>> from microgrid.symbolic import symbol
    >>> print(MARKDOWN.doprint(symbol("A_prev")))
    $$\\begin{aligned} &= A_{prev}\\end{aligned}$$
    """

    def emptyPrinter(self, expr: Any) -> str:  # a formula
        return block(math_rows("", [expr]))

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

    def items(self, eq: Any) -> list:
        """One equation: a list of math rows for the engine's lines, text for the written lines and remarks."""
        if isinstance(eq.wrt, list):  # a gradient matrix: entry by entry
            rows = []
            for r, row in enumerate(eq.wrt):
                for c, label in enumerate(row):
                    lines = [x for x, _ in groupby(line[r, c] for line in eq.lines)]  # no line twice in a row
                    rows += math_rows(derivative(eq.of, label, tex=True), lines)
            title = f"{markdown_text(eq.chain_text[0])}, entry by entry:" if eq.chain_text else "Entry by entry:"
            return [title, rows]
        rows = math_rows(eq.lhs_latex(), shown_lines(eq), eq.as_built, chain_of(eq, True) or None)
        items: list = [rows] + [f"*{markdown_text(eq.note)}*"] * bool(eq.note)
        for by, group in by_source(eq.written):
            lines = [f"As {by} writes it:"]
            for w in group:
                remark = "; ".join(filter(None, [f"**{w.mark()}**" if w.mark() else "", markdown_text(w.note)]))
                lines.append(f"- $\\displaystyle {eq.lhs_latex()} = {w.shown}$" + (f" — {remark}" if remark else ""))
            items.append("\n".join(lines))
        return items

    def _print_Derivation(self, d: Any) -> str:
        out = [f"**{markdown_text(d.title)}**  \n*after {markdown_text(d.source)}*"]
        out.append(block([row for label, expr in d.definitions for row in math_rows(to_latex(label), [expr], True)]))
        for i, step in enumerate(d.steps, 1):
            out.append(f"**{i}. {markdown_text(step.title)}**")
            out += _merged([item for eq in [*step.factors, step.result] for item in self.items(eq)])
            out += [f"*note:* {markdown_text(n)}" for n in step.notes]
        if d.results:
            out.append("**Results**")
            out += _merged([item for eq in d.results for item in self.items(eq)])
        for title, verdict in d.checks:
            out += [f"**{markdown_text(title)}**", self._print(verdict)]
        out += [f"*note:* {markdown_text(n)}" for n in d.notes]
        for part in d.parts:
            out += ["---", self._print(part)]
        return "\n\n".join(p for p in out if p)

    def _print_BackpropEquations(self, eqs: Any) -> str:
        deltas, firsts = deltas_and_parameters(eqs)

        def rows(chosen: list) -> list[str]:
            return [r for i in chosen for r in math_rows(to_latex(i.lhs), i.lines, as_built=True)]

        return "\n\n".join([
            f"**The four equations of backpropagation** for `{eqs.model_repr}`, ${LOSSES[eqs.loss][1]}$; "
            r"$\delta^{(l)}_j = \partial C / \partial z^{(l)}_j$ is the error signal of neuron $j$ in layer $l$.",
            block([rf"&\text{{({name})}}\quad {tex}" for name, _, tex in BP_EQUATIONS]),
            "In matrix form (⊙ is the entrywise product):",
            block([rf"&{tex}" for tex in BP_MATRIX]),
            "Every δ, from the engine's own rules:",
            block(rows(deltas)),
            f"And {len(eqs.instances) - len(deltas)} instances of BP3 and BP4; the first of each in each layer:",
            block(rows(firsts)),
            f"`verify()` checks all {len(eqs.instances)} instances against the engine's reverse pass.",
        ])  # fmt: skip


TEXT, LATEX, MARKDOWN = TextPrinter(), LaTeXPrinter(), MarkdownPrinter()
