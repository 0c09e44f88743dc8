r"""Markdown for a notebook: each step a block of its own, long formulas broken to fit the column (`WIDTH`).

>>> from microgrid.symbolic import symbol
>>> print(MARKDOWN.doprint(symbol("A_prev")))
$$\begin{aligned} &= A_{prev}\end{aligned}$$
"""

from __future__ import annotations

import re
from typing import Any

from ..names import to_latex
from .conversion import sympy
from .printing import (
    BP_EQUATIONS,
    BP_MATRIX,
    LOSSES,
    TEXT,
    Printer,
    Shown,
    by_source,
    chain_of,
    deltas_and_parameters,
    derivative,
    latex,
    shown_lines,
)

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
            core += word[len(core) :][: max(0, core.count("(") - core.count(")"))]  # the ) that close its own (
            lead = "(" * min(len(core) - len(core.lstrip("(")), core.count("(") - core.count(")"))  # the sentence's
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
        rows = math_rows(eq.lhs_latex(), shown_lines(eq), eq.as_built, chain_of(eq, True) or None)
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


MARKDOWN = MarkdownPrinter()


class Displayed(Shown):
    """A result a notebook shows, as Markdown (or as one LaTeX block)."""

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_markdown_(self) -> str:
        return MARKDOWN.doprint(self)
