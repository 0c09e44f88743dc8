"""The derivation `chainrule.derive` computes: numbered `Step`s of `Equation`s, the final results, and `verify`.

>>> from microgrid.symbolic.chainrule import get
>>> d = get("sigmoid-cross-entropy")
>>> d.result("L", "Z")
A - y
>>> d.verify()   # lines checked against the engine, at 3 points
45
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from ..engine import Value, grad
from ..graphs import copy_graph
from ..names import labelled_nodes
from .checker import Verdict, check_lines
from .claims import cut
from .conversion import lookup, symbol, sympy
from .precise import agree, evaluate, evaluate_each
from .printing import TEXT, Displayed, Shown, derivative

Labels = str | list[list[str]]  # one label, or a matrix of labels (a gradient matrix)
#: A formula's value agrees with the float engine's within the engine's rounding: (relative, absolute).
ENGINE_ROUNDING = (1e-7, 1e-9)


class VerificationError(AssertionError):
    """A line of a derivation disagrees with the float engine."""


@dataclass
class WrittenLine:
    """A line a person wrote for d(of)/d(wrt); `agrees`: with the engine at and near the graph's point."""

    by: str  # "seed 000"
    text: str  # as typed: the claim, or (a line that is no value) the operator in words
    shown: str  # as LaTeX
    expr: sympy.Expr | None  # a formula of the graph's labels (None: only shown)
    agrees: bool | None
    expect: str = "correct"  # should it agree?
    note: str = ""

    def mark(self) -> str:
        return "" if self.agrees is None else "agrees with the engine" if self.agrees else "differs from the engine"


@dataclass
class Equation(Shown):
    """d(of)/d(wrt) = lines[0] = lines[1] = ...: every line is the same derivative."""

    of: str
    wrt: Labels
    lines: list[Any]  # sympy expressions (or Matrices, for a gradient matrix)
    chain: list[tuple[str, Labels]] = field(default_factory=list)  # the product's factors: dL/dA * dA/dZ
    chain_text: tuple[str, str] | None = None  # (text, LaTeX) of a chain that is a sum
    note: str = ""
    wrt_name: str = ""  # a gradient matrix's name
    held: tuple[str, ...] = ()  # a partial derivative: these inputs held fixed
    written: list[WrittenLine] = field(default_factory=list)
    as_built: bool = False  # lines printed as the chain built them (a product in its order), not sympy's order
    numbered: bool = False  # the last line is the value at the graph's point (`derive`'s `at`), no formula

    @property
    def formulas(self) -> list[Any]:
        return self.lines[:-1] if self.numbered else self.lines

    @property
    def value(self) -> Any:
        """The engine's result: the last formula."""
        return self.formulas[-1]

    def lhs(self) -> str:
        return derivative(self.of, self.wrt_name or self.wrt, self.held)

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
class Derivation(Displayed):
    """A chain-rule derivation computed from a graph (see the module)."""

    name: str
    title: str
    source: str
    output: Value  # the network's output (loss) at one point: `check` uses it
    definitions: list[tuple[str, sympy.Expr]]
    steps: list[Step]
    results: list[Equation]
    main: tuple[str, str]  # (of, wrt): the default quantity of `microgrid check`
    notes: list[str] = field(default_factory=list)
    checks: list[tuple[str, Verdict]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # a source's own names, for `check`
    named: dict[str, tuple[str, str]] = field(default_factory=dict)  # names lines use: delta^(2)_0 -> (C, z^(2)_0)
    parts: list[Derivation] = field(default_factory=list)  # networks of their own, shown after this one

    def check(self, claim: Any, wrt: str | None = None) -> Verdict:
        """`microgrid.symbolic.check` of `claim` against d(main output)/d(wrt), the source's names allowed.

        >>> from microgrid.symbolic.chainrule import get
        >>> get("sigmoid-cross-entropy").check("A - y").correct
        True
        """
        return self.check_lines([claim], wrt)[0]

    def check_lines(self, claims: Any, wrt: str | None = None, budget: Any = None) -> list[Verdict]:
        """`checker.check_lines`: a hand derivation of d(main output)/d(wrt), the source's names allowed."""
        return check_lines(self.output, wrt or self.main[1], list(claims), self.aliases, budget)

    def equations(self) -> list[Equation]:
        """Every equation, in display order (this network's; not its parts')."""
        return [eq for step in self.steps for eq in [*step.factors, step.result]] + self.results

    def result(self, of: str, wrt: str) -> Any:
        """The engine's last line for d(of)/d(wrt) in sympy's own form; names in any spelling (``w1_0_0``)."""
        labels = labelled_nodes(self.output, where="result")
        of, wrt = (lookup(name, labels, self.aliases, where="result") for name in (of, wrt))
        found = [eq for eq in self.equations() if (eq.of, eq.wrt) == (of, wrt) and not eq.held]
        if not found:
            raise KeyError(f"{self.name}: no result d{of}/d{wrt}")
        return found[-1].value.doit()

    def __repr__(self) -> str:
        return f"<Derivation {self.name!r}: {self.title}>"

    def verify(self, points: int = 3, seed: int = 0) -> int:
        """How many lines (the parts' too) agree with the engine near the graph's point; else `VerificationError`."""
        checked, differs = self.compare(points, seed, every_line=True)
        for eq in self.equations():
            for w in eq.written:
                if w.expr is not None and (id(w) in differs) != (w.expect == "incorrect"):
                    raise VerificationError(f"{eq.lhs()}: {w.by}'s line {w.text} was expected {w.expect}")
        return checked + sum(part.verify(points, seed) for part in self.parts)

    def compare(self, points: int = 3, seed: int = 0, every_line: bool = False) -> tuple[int, set[int]]:
        """(lines checked, with `every_line`; ids of the written lines that differ), at `points` points near it."""
        checked, differs = 0, set()
        for where, output, nodes in near(self.output, points, seed):
            values = self._values(output, nodes)
            for eq in self.equations():
                for k, line in enumerate(eq.formulas if every_line else [], 1):
                    wrts = [eq.wrt] if isinstance(eq.wrt, str) else [w for row in eq.wrt for w in row]
                    for wrt, expr in zip(wrts, [line] if isinstance(eq.wrt, str) else line, strict=True):  # by rows
                        what = f"{derivative(eq.of, wrt)}: line {k} ({TEXT.formula(expr)})"
                        same(what, evaluate(expr, values), _true_derivative(eq, nodes, wrt), where)
                        checked += 1
                typed = [w for w in eq.written if w.expr is not None]
                if typed and isinstance(eq.wrt, str):
                    true = _true_derivative(eq, nodes, eq.wrt)
                    got = evaluate_each([(w.expr, values) for w in typed])
                    differs |= {id(w) for w, v in zip(typed, got, strict=True) if not agree(v, true, *ENGINE_ROUNDING)}
        return checked, differs

    def _values(self, output: Value, nodes: dict[str, Value]) -> dict[Any, float]:
        """{symbol: value} of every label, and of every named derivative (by the engine)."""
        values = {symbol(label): n.data for label, n in nodes.items()}
        grads = grad(output, [nodes[wrt] for _, wrt in self.named.values()])
        return values | {symbol(name): g for name, g in zip(self.named, grads, strict=True)}


def near(output: Value, points: int, seed: int) -> Iterator[tuple[str, Value, dict[str, Value]]]:
    """(where, output, its nodes by label) at the graph's own point, then at `points` - 1 points near it."""
    rng = random.Random(seed)
    for i in range(points):
        here = _nearby(output, rng) if i else output
        yield ("the graph's point" if i == 0 else f"nearby point {i}"), here, labelled_nodes(here, where="verify")


def _nearby(output: Value, rng: random.Random) -> Value:
    """A copy of `output`'s graph, every labelled leaf moved a little (log's argument stays positive, usually)."""
    for _ in range(50):
        with suppress(ValueError, ArithmeticError):
            return copy_graph(output, lambda leaf: leaf.data * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05))[output]
    return copy_graph(output)[output]


def same(what: str, got: complex | float | None, true: float, where: str) -> None:
    """Raise `VerificationError` unless `got` (the value of `what`) agrees with the engine's `true`."""
    if not agree(got, true, *ENGINE_ROUNDING):
        raise VerificationError(f"{what} gives {got}, the engine {true}, at {where}")


def _true_derivative(eq: Equation, nodes: dict[str, Value], wrt: str) -> float:
    if eq.held:  # a partial derivative: the engine's, on the graph cut at the inputs held fixed
        copy, leaves = cut(nodes[eq.of], [nodes[label] for label in (*eq.held, wrt)])
        return grad(copy, [leaves[nodes[wrt]]])[0]
    return grad(nodes[eq.of], [nodes[wrt]])[0]
