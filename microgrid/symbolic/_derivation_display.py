"""A derivation (or a verdict) as Markdown for a notebook: pieces that fit the column.

`Derivation.latex` is one ``aligned`` block, as wide as its widest row.  In
a notebook that is too wide, so here each step is a block of its own, a
long sum is broken after a term, a gradient matrix is shown entry by
entry, and every note and remark is Markdown text outside the math, with
names in code spans (never half typeset).
"""

from __future__ import annotations

import re

from .conversion import sympy

from ..names import to_latex
from .printing import latex

__all__ = ["markdown", "verdict_markdown", "math_rows", "block", "text", "WIDTH"]

#: About the characters of math a notebook column shows in one line.
WIDTH = 64


def _width(tex: str) -> int:
    """The visible width of a LaTeX formula, roughly: commands and braces do not count,
    a fraction counts its wider part."""
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: "x" * max(len(m[1]), len(m[2])), tex)
    tex = re.sub(r"\\(left|right|cdot|quad|,|;)", " ", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}^_]", "", tex))


def _pieces(expr, as_built: bool) -> list[str]:
    """`expr` as LaTeX rows of about `WIDTH` at most: a long sum broken
    after a term, a long product after a factor, inside parentheses too."""
    show = (lambda e: latex(e, order="none")) if as_built else latex
    rows = _split(expr, show)
    return rows[:1] + [rf"\quad {row}" for row in rows[1:]]


def _split(expr, show) -> list[str]:
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
    return rows + [current]


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


def text(note: str) -> str:
    """Markdown for a plain-text note: names with ^ or _ in code spans, the rest escaped
    (a `code span` the note writes stays one)."""
    out = []
    for word in re.split(r"(\s+)", note):
        if re.search(r"[_^]", word):
            core = word.rstrip(".,;:)")
            lead = core[: len(core) - len(core.lstrip("("))]
            out.append(f"{lead}`{core[len(lead) :]}`{word[len(core) :]}")
        else:
            out.append(re.sub(r"([*\[\]<>#|\\])", r"\\\1", word))
    return "".join(out)


def _equation(eq) -> list[tuple[str, object]]:
    """One equation: ("math", rows) for the engine's lines, ("md", text) for the written lines and remarks."""
    if isinstance(eq.wrt, list):  # a gradient matrix: entry by entry
        rows = []
        for r, row in enumerate(eq.wrt):
            for c, label in enumerate(row):
                lines = [line[r, c] for line in eq.lines]
                lines = [x for i, x in enumerate(lines) if i == 0 or x != lines[i - 1]]
                rows += math_rows(rf"\frac{{\partial {to_latex(eq.of)}}}{{\partial {to_latex(label)}}}", lines)
        title = f"{text(eq.chain_text[0])}, entry by entry:" if eq.chain_text else "Entry by entry:"
        return [("md", title), ("math", rows)]
    chain = (
        eq.chain_text[1]
        if eq.chain_text
        else " ".join(rf"\frac{{\partial {to_latex(o)}}}{{\partial {to_latex(w)}}}" for o, w in eq.chain) or None
    )
    items: list[tuple[str, object]] = [("math", math_rows(eq.lhs_latex(), eq._lines(), eq.as_built, first=chain))]
    if eq.note:
        items.append(("md", f"*{text(eq.note)}*"))
    for by, group in _groups(eq.written):
        lines = [f"As {by} writes it:"]
        for w in group:
            remark = "; ".join(filter(None, [f"**{w.mark()}**" if w.mark() else "", text(w.note)]))
            lines.append(f"- $\\displaystyle {eq.lhs_latex()} = {w.shown}$" + (f" — {remark}" if remark else ""))
        items.append(("md", "\n".join(lines)))
    return items


def _merged(items: list[tuple[str, object]]) -> list[str]:
    """Markdown paragraphs: consecutive math rows in one block."""
    out, rows = [], []
    for kind, content in items + [("md", "")]:
        if kind == "math":
            rows += content
            continue
        if rows:
            out.append(block(rows))
            rows = []
        if content:
            out.append(content)
    return out


def _groups(written) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for w in written:
        groups.setdefault(w.by, []).append(w)
    return list(groups.items())


def markdown(d) -> str:
    """The whole derivation, its parts after it, as Markdown (see the module)."""
    out = [f"**{text(d.title)}**  \n*after {text(d.source)}*"]
    out.append(
        block(
            [
                rf"{to_latex(label)} &= {piece}" if i == 0 else rf"&{piece}"
                for label, expr in d.definitions
                for i, piece in enumerate(_pieces(expr, False))
            ]
        )
    )
    for i, step in enumerate(d.steps, 1):
        out.append(f"**{i}. {text(step.title)}**")
        out += _merged([item for eq in step.factors + [step.result] for item in _equation(eq)])
        out += [f"*note:* {text(n)}" for n in step.notes]
    if d.results:
        out.append("**Results**")
        out += _merged([item for eq in d.results for item in _equation(eq)])
    for title, verdict in d.checks:
        out += [f"**{text(title)}**", verdict_markdown(verdict)]
    out += [f"*note:* {text(n)}" for n in d.notes]
    for part in d.parts:
        out += ["---", markdown(part)]
    return "\n\n".join(p for p in out if p)


def verdict_markdown(v) -> str:
    """A `microgrid.symbolic.Verdict` as Markdown: the status in words, the
    formulas in blocks that fit, the counterexample and notes as text."""
    lhs = rf"\frac{{\partial {to_latex(v.of)}}}{{\partial {to_latex(v.wrt)}}}"
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
        out.append("counterexample: " + text(str(v.counterexample)))
    out += [f"*note:* {text(n)}" for n in v.notes]
    return "\n\n".join(out)
