"""Derivations: chain-rule steps, each line checked, and the seeds run through them.

A `Derivation` is what `microgrid.symbolic.chainrule.derive` computes from a graph:
numbered steps, each with its local factors (``dA/dZ = A(1 - A)``) and the
chain product, simplified; the final results; text, LaTeX and a Jupyter
display; ``.verify()`` re-checks every line against the float engine.

The seeds (`microgrid.symbolic.hand_derivations`) are data: a program and the lines their
authors wrote.  `get(name)` runs one through `derive` and puts each
written line beside the engine's equation it claims to be, displayed as
the seed writes it, never like the engine's, with whether it agrees.

    >>> d = get("sigmoid-cross-entropy")
    >>> d.result("L", "Z")
    A - y
    >>> d.verify()   # lines checked against the engine, at 3 points
    45

On the command line: ``microgrid derive --list``, ``microgrid derive NAME
[--latex]`` and ``microgrid check NAME "claim" [--wrt LABEL]``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine import Value, grad, topological_order
from ..names import labelled_nodes, to_latex
from .checker import Verdict
from .conversion import lookup, symbol, sympy
from .precise import evaluate
from .printing import latex, text

Labels = str | list[list[str]]  # one label, or a matrix of labels (a gradient matrix)


class VerificationError(AssertionError):
    """A line of a derivation disagrees with the float engine."""


# ------------------------------------------------------------- the objects
@dataclass
class WrittenLine:
    """A line a person wrote for d(of)/d(wrt), shown as they wrote it.

    `text` is the line as typed for the checker, `shown` its LaTeX as the
    source writes it; `expr` the same in the graph's labels (None: not a
    value, only shown); `agrees` whether it equals the engine's derivative
    at the graph's point and near it, and `expect` what the source got.
    """

    by: str  # "seed 000"
    text: str  # as typed: the claim, or (a line that is no value) the operator in words
    shown: str
    expr: sympy.Expr | None
    agrees: bool | None
    expect: str = "correct"
    note: str = ""

    def mark(self) -> str:
        if self.agrees is None:
            return ""
        return "agrees with the engine" if self.agrees else "differs from the engine"


@dataclass
class Equation:
    """d(of)/d(wrt) = lines[0] = lines[1] = ...: every line is the same derivative.

    `chain` lists the factors it is the product of (shown as ``dL/dZ = dL/dA
    * dA/dZ``); `chain_text` replaces that display (text, LaTeX) where it is
    a sum.  `held` makes it a partial derivative, those inputs of `of` held
    fixed.  For a gradient matrix, `wrt` is a matrix of labels, `wrt_name`
    its name, and the lines are sympy Matrices.  `written` are lines a
    person wrote for it, shown apart from the engine's.
    """

    of: str
    wrt: Labels
    lines: list
    chain: list[tuple[str, str]] = field(default_factory=list)
    chain_text: tuple[str, str] | None = None
    note: str = ""
    wrt_name: str = ""
    held: tuple[str, ...] = ()
    written: list[WrittenLine] = field(default_factory=list)
    as_built: bool = False  # lines printed as the chain built them (a product in its order), not sympy's order

    @property
    def value(self):
        """The engine's result: the last line."""
        return self.lines[-1]

    def lhs(self) -> str:
        fixed = f" ({', '.join(self.held)} fixed)" if self.held else ""
        return _d(self.of, self.wrt_name or self.wrt) + fixed

    def lhs_latex(self) -> str:
        if self.held:
            return rf"\left.{_d_latex(self.of, self.wrt)}\right|_{{{', '.join(map(to_latex, self.held))}}}"
        return _d_latex(self.of, self.wrt_name or self.wrt)

    def _lines(self) -> list:
        """The lines to show: one that reads the same as the line before it is left out."""
        shown = [_text(line, self.as_built) for line in self.lines]
        return [line for i, line in enumerate(self.lines) if i == 0 or shown[i] != shown[i - 1]]

    def text(self, indent: str = "") -> list[str]:
        lhs = self.lhs()
        rows = []
        if self.chain_text:
            rows.append(self.chain_text[0])
        elif self.chain:
            rows.append(" * ".join(_d(o, w) for o, w in self.chain))
        rows.extend(_text(line, self.as_built) for line in self._lines())
        pad = " " * len(lhs)
        out = [f"{indent}{lhs} = {rows[0]}"] + [f"{indent}{pad} = {r}" for r in rows[1:]]
        if self.note:
            out.append(f"{indent}  (note: {self.note})")
        for by, group in _by_source(self.written):
            out.append(f"{indent}  as {by} writes it:")
            for w in group:
                remark = "; ".join(filter(None, [w.mark(), w.note]))
                out.append(f"{indent}{pad} = {w.text}" + (f"   [{remark}]" if remark else ""))
        return out

    def latex_rows(self) -> list[str]:
        """The engine's rows of an ``aligned`` block (the written lines: `written_latex`)."""
        rows = []
        if self.chain_text:
            rows.append(self.chain_text[1])
        elif self.chain:
            rows.append(" ".join(_d_latex(o, w) for o, w in self.chain))
        rows.extend(latex(line, order="none") if self.as_built else latex(line) for line in self._lines())
        return [rf"{self.lhs_latex()} &= {rows[0]}"] + [rf"&= {r}" for r in rows[1:]]

    def written_latex(self) -> list[tuple[str, str]]:
        """(row, remark) for each written line: ``&= <as written>`` and what it is."""
        rows = []
        for by, group in _by_source(self.written):
            for i, w in enumerate(group):
                lhs = self.lhs_latex() if i == 0 else ""
                rows.append(
                    (
                        rf"{lhs} &= {w.shown}",
                        "; ".join(filter(None, [f"as {by} writes it" if i == 0 else "", w.mark(), w.note])),
                    )
                )
        return rows


def _by_source(written: list[WrittenLine]) -> list[tuple[str, list[WrittenLine]]]:
    groups: dict[str, list[WrittenLine]] = {}
    for w in written:
        groups.setdefault(w.by, []).append(w)
    return list(groups.items())


@dataclass
class Step:
    """One numbered step: the factors it needs, then their product."""

    title: str
    factors: list[Equation]
    result: Equation
    notes: list[str] = field(default_factory=list)


@dataclass
class Derivation:
    """A chain-rule derivation computed from a graph (see the module)."""

    name: str
    title: str
    source: str
    output: Value  # the network's output (loss) at one point: `check` uses it
    definitions: list[tuple[str, sympy.Expr]]
    steps: list[Step]
    results: list[Equation]
    main: tuple[str, str]  # (of, wrt): the default quantity of `microgrid check`
    build: Callable[[random.Random], Value]  # the same network at other values, for verify()
    notes: list[str] = field(default_factory=list)
    checks: list[tuple[str, Verdict]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # a source's own names, for `check`
    named: dict[str, tuple[str, str]] = field(default_factory=dict)  # names lines use: delta^(2)_0 -> (C, z^(2)_0)
    parts: list[Derivation] = field(default_factory=list)  # networks of their own, shown after this one

    def check(self, claim, wrt: str | None = None) -> Verdict:
        """`microgrid.symbolic.check` of `claim` against d(main output)/d(wrt), the source's names allowed.

        >>> get("sigmoid-cross-entropy").check("A - y").correct
        True
        """
        return self.check_lines([claim], wrt)[0]

    def check_lines(self, claims, wrt: str | None = None, budget=None) -> list[Verdict]:
        """Each line of a hand derivation of d(main output)/d(wrt) checked in
        order (`microgrid.symbolic.checker.check_lines`), the source's names allowed."""
        from .checker import check_lines

        return check_lines(self.output, wrt or self.main[1], list(claims), self.aliases, budget)

    def equations(self) -> list[Equation]:
        """Every equation, in display order (this network's; not its parts')."""
        out = []
        for step in self.steps:
            out.extend(step.factors)
            out.append(step.result)
        return out + self.results

    def result(self, of: str, wrt: str):
        """The engine's last line for d(of)/d(wrt), in sympy's own form (not
        as the chain built it); names in any spelling (``w1_0_0``, ``w^(1)_0,0``)."""
        whole = [eq for eq in self.equations() if isinstance(eq.wrt, str) and not eq.held]
        labels = [n.label for n in topological_order(self.output) if n.label]
        of, wrt = (lookup(name, labels, self.aliases, where="result") for name in (of, wrt))
        found = [eq for eq in whole if eq.of == of and eq.wrt == wrt]
        if not found:
            raise KeyError(f"{self.name}: no result d{of}/d{wrt}")
        return found[-1].value.doit()

    def __str__(self) -> str:
        out = [self.title, f"(after {self.source})", ""]
        out += [f"  {label} = {_text(expr)}" for label, expr in self.definitions]
        for i, step in enumerate(self.steps, 1):
            out += ["", f"{i}. {step.title}"]
            for eq in step.factors:
                out += eq.text("     ")
            out += step.result.text("   ")
            out += [f"   note: {n}" for n in step.notes]
        if self.results:
            out += ["", "Results:"]
            for eq in self.results:
                out += eq.text("  ")
        for title, verdict in self.checks:
            out += ["", title] + ["  " + line for line in str(verdict).splitlines()]
        if self.notes:
            out += [""] + [f"note: {n}" for n in self.notes]
        for part in self.parts:
            out += ["", "-" * 8, str(part)]
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<Derivation {self.name!r}: {self.title}>"

    def latex(self) -> str:
        """The whole derivation as one LaTeX ``aligned`` block (`_repr_markdown_`
        shows it in pieces that fit a notebook column)."""
        rows = [rf"\text{{{_latex_text(self.title)}}} \\"] + self._definition_rows()
        for i, step in enumerate(self.steps, 1):
            rows.append(rf"&\text{{{i}. {_latex_text(step.title)}}} \\")
            rows += [r + r" \\" for r in _step_rows(step)]
            rows += [rf"&\quad\text{{note: {_latex_text(n)}}} \\" for n in step.notes]
        if self.results:
            rows.append(r"&\text{Results:} \\")
            rows += [r + r" \\" for eq in self.results for r in _equation_rows(eq)]
        for title, verdict in self.checks:
            rows.append(rf"&\text{{{_latex_text(title)}}} \\")
            rows.append(rf"&\text{{{verdict.status}: }} {latex(verdict.claim)} \\")
            rows.append(rf"&\text{{engine: }} {latex(verdict.expected)} \\")
        for part in self.parts:
            rows.append(part.latex().removeprefix("\\begin{aligned}\n").removesuffix("\n\\end{aligned}") + r" \\")
        return "\\begin{aligned}\n" + "\n".join(rows) + "\n\\end{aligned}"

    def _definition_rows(self) -> list[str]:
        return [rf"{to_latex(label)} &= {latex(expr)} \\" for label, expr in self.definitions]

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_markdown_(self) -> str:
        from ._derivation_display import markdown

        return markdown(self)

    def verify(self, points: int = 3, seed: int = 0) -> int:
        """Every line of every equation against the float engine, at the graph's
        point and at `points` - 1 random points near it, and each written line
        against what its source got (a right line agrees everywhere, a wrong
        one differs somewhere); this network's parts too.  The number of lines
        checked, or `VerificationError` naming the equation, the line and the point."""
        rng = random.Random(seed)
        differs: set[int] = set()
        checked = 0
        for i in range(points):
            output = self.build(rng) if i else self.output
            nodes = labelled_nodes(output, where="verify")
            values = self._values(output, nodes)
            for eq in self.equations():
                checked += _verify_lines(
                    eq, nodes, values, where="the graph's point" if i == 0 else f"nearby point {i}"
                )
                differs |= {id(w) for w in _written_that_differ(eq, nodes, values)}
        for eq in self.equations():
            for w in eq.written:
                if w.expr is not None and (id(w) in differs) != (w.expect == "incorrect"):
                    raise VerificationError(f"{eq.lhs()}: {w.by}'s line {w.text} was expected {w.expect}")
        return checked + sum(part.verify(points, seed) for part in self.parts)

    def _values(self, output: Value, nodes: dict[str, Value]) -> dict:
        """{symbol: value} of every label, and of every named derivative (by the engine)."""
        values = {symbol(label): n.data for label, n in nodes.items()}
        named = list(self.named.items())
        for (name, _), value in zip(named, grad(output, [nodes[wrt] for _, (_, wrt) in named])):
            values[symbol(name)] = value
        return values


def _equation_rows(eq: Equation) -> list[str]:
    rows = eq.latex_rows()
    if eq.note:
        rows.append(rf"&\quad\text{{({_latex_text(eq.note)})}}")
    rows += [rf"{row} &&\text{{{_latex_text(remark)}}}" if remark else row for row, remark in eq.written_latex()]
    return rows


def _step_rows(step: Step) -> list[str]:
    return [row for eq in step.factors + [step.result] for row in _equation_rows(eq)]


# --------------------------------------------------------------- verifying
def _true_derivative(eq: Equation, nodes: dict[str, Value], wrt: str) -> float:
    node = nodes[eq.of]
    if eq.held:  # a partial derivative: the engine's, on the node cut from its labelled inputs
        from .chainrule import cut, labelled_sources

        copy, leaves = cut(node, labelled_sources(node)[node])
        return grad(copy, [leaves[nodes[wrt]]])[0]
    return grad(node, [nodes[wrt]])[0]


def _pairs(eq: Equation, line) -> list[tuple[str, sympy.Expr]]:
    if isinstance(eq.wrt, str):
        return [(eq.wrt, line)]
    return [(eq.wrt[r][c], line[r, c]) for r in range(len(eq.wrt)) for c in range(len(eq.wrt[0]))]


def _close(got, true: float) -> bool:
    return got is not None and abs(got - true) <= 1e-9 + 1e-7 * abs(true)


def _verify_lines(eq: Equation, nodes: dict[str, Value], values: dict, where: str) -> int:
    checked = 0
    for i, line in enumerate(eq.lines):
        for wrt, expr in _pairs(eq, line):
            true, got = _true_derivative(eq, nodes, wrt), evaluate(expr, values)
            if not _close(got, true):
                raise VerificationError(
                    f"{_d(eq.of, wrt)}: line {i + 1} ({_text(expr)}) gives {got}, the engine {true}, at {where}"
                )
            checked += 1
    return checked


def _written_that_differ(eq: Equation, nodes: dict[str, Value], values: dict) -> list[WrittenLine]:
    checked = [w for w in eq.written if w.expr is not None]
    if not checked:
        return []
    true = _true_derivative(eq, nodes, eq.wrt)
    return [w for w in checked if not _close(evaluate(w.expr, values), true)]


# ----------------------------------------------------------------- display
def _d(of: str, wrt: Labels) -> str:
    return f"d{of}/d{wrt}"


def _d_latex(of: str, wrt: Labels) -> str:
    return rf"\frac{{\partial {to_latex(of)}}}{{\partial {to_latex(wrt)}}}"


def _text(expr, as_built: bool = False) -> str:
    if isinstance(expr, sympy.MatrixBase):
        rows = ("[" + ", ".join(_text(x, as_built) for x in expr.row(r)) + "]" for r in range(expr.rows))
        return "[" + ",\n     ".join(rows) + "]"
    return text(expr, order="none") if as_built else text(expr)


_LABEL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\^\([^()\s]*\))?(?:_[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)*")


def _latex_text(text: str) -> str:
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
    for match in _LABEL_TOKEN.finditer(text):
        out += [plain(text[last : match.start()]), piece(match)]
        last = match.end()
    out.append(plain(text[last:]))
    return "".join(out)
