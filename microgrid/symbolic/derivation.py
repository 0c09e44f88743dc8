"""The derivation as a result: numbered `Step`s of `Equation`s, the final results, and `verify`.

`microgrid.symbolic.chainrule.derive` computes a `Derivation` from a graph:
each step holds its local factors (``dA/dZ = A(1 - A)``) and the chain
product, simplified; lines a person wrote (`WrittenLine`, from the seeds)
stand beside the engine's, displayed as written.  ``.verify()`` re-checks
every line against the float engine; `microgrid.symbolic.printing` shows it.

    >>> from microgrid.symbolic.chainrule import get
    >>> d = get("sigmoid-cross-entropy")
    >>> d.result("L", "Z")
    A - y
    >>> d.verify()   # lines checked against the engine, at 3 points
    45
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine import Value, grad, topological_order
from ..names import labelled_nodes
from .checker import Verdict, check_lines
from .conversion import lookup, symbol, sympy
from .precise import evaluate
from .printing import LATEX, MARKDOWN, TEXT, derivative

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
        return derivative(self.of, self.wrt_name or self.wrt, self.held)

    def __str__(self) -> str:
        return TEXT.doprint(self)

    def lhs_latex(self) -> str:
        return derivative(self.of, self.wrt if self.held else self.wrt_name or self.wrt, self.held, tex=True)


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

        >>> from microgrid.symbolic.chainrule import get
        >>> get("sigmoid-cross-entropy").check("A - y").correct
        True
        """
        return self.check_lines([claim], wrt)[0]

    def check_lines(self, claims, wrt: str | None = None, budget=None) -> list[Verdict]:
        """Each line of a hand derivation of d(main output)/d(wrt) checked in
        order (`microgrid.symbolic.checker.check_lines`), the source's names allowed."""

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

    def __repr__(self) -> str:
        return f"<Derivation {self.name!r}: {self.title}>"

    def __str__(self) -> str:
        return TEXT.doprint(self)

    def latex(self) -> str:
        """The whole derivation as one LaTeX ``aligned`` block (a notebook shows it in pieces that fit)."""
        return LATEX.doprint(self)

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_markdown_(self) -> str:
        return MARKDOWN.doprint(self)

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
        for (name, _), value in zip(named, grad(output, [nodes[wrt] for _, (_, wrt) in named]), strict=True):
            values[symbol(name)] = value
        return values


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
                shown = f"line {i + 1} ({TEXT.formula(expr)}) gives {got}, the engine {true}, at {where}"
                raise VerificationError(f"{derivative(eq.of, wrt)}: {shown}")
            checked += 1
    return checked


def _written_that_differ(eq: Equation, nodes: dict[str, Value], values: dict) -> list[WrittenLine]:
    checked = [w for w in eq.written if w.expr is not None]
    if not checked:
        return []
    true = _true_derivative(eq, nodes, eq.wrt)
    return [w for w in checked if not _close(evaluate(w.expr, values), true)]
