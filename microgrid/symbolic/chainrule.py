"""The chain-rule derivation of any graph, computed from the graph, never typed in (`derive`); and the seeds' (`get`):
numbered `Step`s of `Equation`s, the final results, and `verify` against the float engine.

A step per labelled node M from `wrt` to the output: dC/dM = sum over the N that read M of dC/dN * dN/dM, each
dN/dM by the engine's rule, each dC/dN written out when short, else by its name (so lines grow linearly with depth).

    >>> from microgrid.symbolic.parsing import program
    >>> d = derive(program("a = tanh(z); C = (a - y)**2")["C"], "z", at={"z": 0.5, "y": 1.0})
    >>> print(d.steps[-1].result)
    dC/dz = dC/da * da/dz
          = 2*(a - y)*(1 - a**2)
          = -0.8460
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from ..engine import Value, grad
from ..graphs import copy_graph, fold, topological_order
from ..names import derivative_name, labelled_nodes, parse_textbook, resolve
from .checker import Verdict, check, check_lines
from .claims import claim_expression, cut, named_number_notes
from .conversion import diff, symbol, sympy, to_sympy
from .parsing import program
from .precise import EVALUATE_SECONDS, agree, evaluate_each
from .printing import TEXT, Displayed, Shown, derivative
from .seeds import SEEDS, MatrixForm, Seed, Written
from .simplify import ordered_product, ordered_sum, readable, simplify_within, size, tidy
from .worker import Budget

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
        of, wrt = (resolve(name, labels, self.aliases, where="result") for name in (of, wrt))
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
            values, lines, typed = self._values(output, nodes), [], []  # each with the engine's value
            for eq in self.equations():
                wrts = [eq.wrt] if isinstance(eq.wrt, str) else [w for row in eq.wrt for w in row]
                true = {wrt: _true_derivative(eq, nodes, wrt) for wrt in wrts} if every_line or eq.written else {}
                for k, line in enumerate(eq.formulas if every_line else [], 1):
                    entries = zip(wrts, [line] if isinstance(eq.wrt, str) else line, strict=True)  # a Matrix by rows
                    lines += [(derivative(eq.of, wrt), k, expr, true[wrt]) for wrt, expr in entries]
                typed += [(w, true[eq.wrt]) for w in eq.written if w.expr is not None and isinstance(eq.wrt, str)]
            checked += same(lines, values, where)
            got = evaluate_each([(w.expr, values) for w, _ in typed]) if typed else []
            differs |= {id(w) for (w, t), v in zip(typed, got, strict=True) if not agree(v, t, *ENGINE_ROUNDING)}
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


def same(lines: list[tuple[Any, int, Any, float]], values: dict[Any, float], where: str, shown: bool = True) -> int:
    """len(lines), each (name, k, formula, engine's value) agreeing at `values`; else `VerificationError` naming it."""
    got = evaluate_each([(f, values) for _, _, f, _ in lines], Budget(EVALUATE_SECONDS * len(lines))) if lines else []
    for (name, k, formula, true), v in zip(lines, got, strict=True):
        if not agree(v, true, *ENGINE_ROUNDING):
            line = f"line {k} ({TEXT.formula(formula)})" if shown else f"line {k}"  # (printed only for the message)
            raise VerificationError(f"{name}: {line} gives {v}, the engine {true}, at {where}")
    return len(lines)


def _true_derivative(eq: Equation, nodes: dict[str, Value], wrt: str) -> float:
    if eq.held:  # a partial derivative: the engine's, on the graph cut at the inputs held fixed
        copy, leaves = cut(nodes[eq.of], [nodes[label] for label in (*eq.held, wrt)])
        return grad(copy, [leaves[nodes[wrt]]])[0]
    return grad(nodes[eq.of], [nodes[wrt]])[0]


#: An upstream derivative of at most this many operations is written out in the next step; a longer one, its name.
WRITE_OUT_OPS = 24
#: The final result is also shown with every name written out, up to this size.
FINAL_WRITE_OUT_OPS = 80
#: Seconds of algebra a derivation may spend; past it the steps are only tidied.
DEFAULT_BUDGET = 2.0
#: The significant digits of the values `derive` shows beside the steps.
SHOWN_DIGITS = 4

Readers = dict[Value, list[Value]]  # labelled nodes, each with the labelled nodes it reads (or that read it)
Seconds = Budget | float | None  # a budget, or its seconds (None: the default)
Assumed = Sequence[tuple[str, str]]  # a program's ``assume`` lines, as (left, right)


def as_budget(budget: Seconds) -> Budget:
    """`budget` as a `Budget`: seconds become one (0 or less: already spent); None, the default."""
    if isinstance(budget, Budget):
        return budget
    return Budget(max(DEFAULT_BUDGET if budget is None else float(budget), 1e-9))


def labelled_sources(output: Value) -> Readers:
    """For each labelled computed node (and `output`): the labelled nodes it reads, through unlabelled ones."""
    reads: dict[Value, dict[Value, None]] = {}
    for node in topological_order(output):
        if node._op is not None:
            reads[node] = {}
            for parent in node.parents:
                reads[node].update({parent: None} if parent.label else reads.get(parent, {}))
    return {node: list(found) for node, found in reads.items() if node.label or node is output}


def local_derivative(node: Value, source: Value, sources: list[Value]) -> sympy.Expr:
    """d(node)/d(source), the other labelled `sources` held fixed: the engine's rule, on `cut`'s copy."""
    copy, leaves = cut(node, sources)
    return tidy(diff(copy, leaves[source], simplify=False))


def _on_paths(output: Value, wrts: list[Value], sources: Readers) -> list[Value]:
    """The labelled nodes on a path from one of `wrts` to `output`, in forward order."""
    reaches = set(wrts)
    order = [n for n in topological_order(output) if n in sources or n in reaches]
    for node in order:
        if any(s in reaches for s in sources.get(node, ())):
            reaches.add(node)
    needed = {output}
    for node in reversed(order):
        if node in needed:
            needed.update(s for s in sources.get(node, ()) if s in reaches)
    return [n for n in order if n in needed and n in reaches] if output in reaches else []


def derive(
    output: Value, wrt: Any, *, budget: Seconds = None, at: Mapping[str, float] | None = None, constraints: Assumed = ()
) -> Derivation:
    """d(output)/d(wrt) (a node, a name, or a list) by the chain rule, step by step (past `budget` seconds, as built);
    with `at` ({leaf: value}) each equation ends with its value there, from its formula; `constraints` shorten lines."""
    if not isinstance(output, Value):
        raise TypeError(f"derive: output must be a Value, got {type(output).__name__}")
    wanted = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    given = _given(output, at or {})
    if not output.label or at is not None:  # a copy (labelled, at `at`): the user's graph is left as it was
        copies = copy_graph(output, lambda leaf: given.get(leaf.label, leaf.data))
        wanted = [copies.get(w, w) if isinstance(w, Value) else w for w in wanted]
        output, label = copies[output], output.label
        output.label = label or "f"
    nodes = labelled_nodes(output, where="derive")
    if any(isinstance(w, Value) and nodes.get(w.label) is not w for w in wanted):
        raise ValueError("derive: wrt must be a labelled node of the output's graph")
    found = [w if isinstance(w, Value) else nodes[resolve(w, nodes, where="derive")] for w in wanted]
    targets = list(dict.fromkeys(found))
    stated = [claim_expression(f"({left}) - ({right})", output) for left, right in constraints]
    steps, named, results = _steps(output, targets, as_budget(budget), stated)
    with sympy.evaluate(False):  # the definitions as the program writes them: z = w*a + b, not a*w + b
        definitions = [(label, to_sympy(n)) for label, n in nodes.items() if n._op is not None]
    title = ", ".join(f"d{output.label}/d{t.label}" for t in targets) + " by the chain rule, from the graph"
    source, main = "the engine's own rules, node by node", (output.label, targets[0].label)
    notes = named_number_notes(nodes) + [f"assuming {left} = {right}" for left, right in constraints]
    d = Derivation("derive", title, source, output, definitions, steps, results, main, notes, named=named)
    if at is not None:
        _show_numbers(d, given)
    return d


def _given(output: Value, at: Mapping[str, float]) -> dict[str, float]:
    """`at` by label; each a leaf of `output`'s graph, each value a finite number."""
    nodes = labelled_nodes(output, where="derive")
    given: dict[str, float] = {}
    for name, number in at.items():
        label = resolve(name, nodes, where="derive")
        if nodes[label]._op is not None:
            raise ValueError(f"derive: at gives {name}, which is computed from other nodes; give its leaves' values")
        if not isinstance(number, numbers.Real) or not math.isfinite(number):
            raise ValueError(f"derive: at gives {name} = {number!r}, which is not a finite number")
        given[label] = float(number)
    return given


def _show_numbers(d: Derivation, given: dict[str, float]) -> None:
    """Each equation's value at the graph's point as its last line, and a note that says where that is."""
    leaves = {label: n.data for label, n in labelled_nodes(d.output).items() if n._op is None}
    formulas = {symbol(label): formula for label, formula in d.definitions}
    formulas |= {symbol(name): d.result(of, wrt) for name, (of, wrt) in d.named.items()}
    equations = [eq for eq in d.equations() if not eq.value.is_Number]
    point = {symbol(label): number for label, number in leaves.items()}
    values = evaluate_each([(eq.value, point) for eq in equations], definitions=formulas)
    for eq, number in zip(equations, values, strict=True):
        if number is not None:
            eq.lines.append(sympy.N(number, SHOWN_DIGITS))
            eq.numbered = True
    where = ", ".join(f"{label}={number:g}" for label, number in leaves.items())  # (as --at takes them)
    note = f"the numbers are each line's value at {where}, from its formula"
    if others := [label for label in leaves if label not in given]:
        note += f"; not given in at, so the graph's own (sampled, for a program): {', '.join(others)}"
    if missing := [eq.lhs() for eq in equations if not eq.numbered]:
        note += f"; no number (undefined there, beyond the floats, or past the time budget): {', '.join(missing)}"
    d.notes.append(note)


def _steps(output: Value, wrts: list, budget: Budget, constraints: list) -> tuple[list[Step], dict, list[Equation]]:
    sources = labelled_sources(output)
    path = _on_paths(output, wrts, sources)
    of = output.label
    readers: Readers = {n: [] for n in path}
    for n in path:
        for s in sources.get(n, ()):
            if s in readers:
                readers[s].append(n)
    named_as = {symbol(n.label): to_sympy(n) for n in sources if n.label}  # the program's definitions
    results: dict[Value, sympy.Expr] = {output: sympy.S.One}
    shown: dict[Value, sympy.Expr] = {output: sympy.S.One}  # what a later step writes for dC/dN: it, or its name
    written: dict[Value, sympy.Expr] = {output: sympy.S.One}  # dC/dN with every name written out, while short
    named: dict[str, tuple[str, str]] = {}
    steps = []
    for m in reversed(path[:-1]):
        locals_ = {n: readable(local_derivative(n, m, sources[n]), budget) for n in readers[m]}
        lines = [ordered_sum([ordered_product(shown[n], locals_[n]) for n in readers[m]])]
        if m in wrts and any(shown[n] != results[n] and size(results[n]) <= FINAL_WRITE_OUT_OPS for n in readers[m]):
            # The step for a wrt writes the names it uses out once: a^(0)_k (1 - a^2) (w delta + ...).
            lines.append(ordered_sum([ordered_product(results[n], locals_[n]) for n in readers[m]]))
        lines.append(readable(lines[-1], budget, parts_simplified=True, definitions=named_as, constraints=constraints))
        results[m] = lines[-1]
        name = derivative_name(of, m.label)
        textbook_z = (parse_textbook(m.label) or ("",))[0] == "z"
        if textbook_z or size(results[m]) > WRITE_OUT_OPS:
            named[name] = (of, m.label)
        shown[m] = symbol(name) if name in named else results[m]
        full = ordered_sum([ordered_product(written[n], locals_[n]) for n in readers[m]])
        written[m] = full if size(full) <= FINAL_WRITE_OUT_OPS else shown[m]
        steps.append(_step(m, readers, sources, locals_, lines, output, name if textbook_z else ""))
    names = {symbol(k) for k in named}
    out = [w for w in wrts if w in results and results[w].free_symbols & names and not written[w].free_symbols & names]
    final = []
    for w in out:
        line = readable(written[w], budget, constraints=constraints)
        final.append(Equation(of, w.label, [results[w], line], note="every name written out", as_built=True))
    unreached = [w for w in wrts if w not in results and w is not output]
    final += [Equation(of, w.label, [sympy.S.Zero], note="no path leads from it to the output") for w in unreached]
    return steps, named, final


def _step(m: Value, readers: Readers, sources: Readers, locals_: dict, lines: list, output: Value, name: str) -> Step:
    """One step: the local factors, the chain, the product and its simplified form."""
    of, users = output.label, readers[m]
    lines = [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]
    title = f"d{of}/d{m.label}" + (f", named {name}" if name else "")
    if len(users) > 1:
        title += f": a sum over the {len(users)} nodes that read {m.label}"
    if users == [output]:  # read by the output itself: the local factor is the result
        return Step(title, [], Equation(of, m.label, lines, as_built=True))
    after: dict[Value, None] = {}  # m and every labelled node downstream of it, on the paths
    fold(m, lambda n, _: None, after, operands=lambda n: readers.get(n, []))
    # dN/dm holds N's other inputs that depend on m fixed (a partial derivative): the chain counts their paths apart.
    held = {n: tuple(s.label for s in sources[n] if s is not m and s in after) for n in users}
    factors = [Equation(n.label, m.label, [locals_[n]], held=held[n], as_built=True) for n in users]
    terms = [([] if n is output else [Equation(of, n.label, [])]) + [f] for n, f in zip(users, factors, strict=True)]
    if len(terms) == 1 and not held[users[0]]:
        chain = [(e.of, e.wrt) for e in terms[0]]
        return Step(title, factors, Equation(of, m.label, lines, chain=chain, as_built=True))
    text = " + ".join(" * ".join(e.lhs() for e in term) for term in terms)
    tex = " + ".join(" ".join(e.lhs_latex() for e in term) for term in terms)
    return Step(title, factors, Equation(of, m.label, lines, chain_text=(text, tex), as_built=True))


def get(name: str, budget: Seconds = None) -> Derivation:
    """The seed derivation called `name` (see `seeds.DERIVATIONS`), computed now within one `budget`."""
    if name not in SEEDS:
        raise KeyError(f"unknown derivation {name!r}; choose one of: {', '.join(SEEDS)}")
    seed, budget = SEEDS[name], as_budget(budget if budget is not None else 8.0)
    by = seed.source.split(",")[0]  # "seed 000"
    output = program(seed.program).output
    wanted = list(dict.fromkeys([w for w, _ in seed.steps] + list(seed.results) + [seed.main[1]]))
    general = derive(output, wanted, budget=budget)
    results = [Equation(output.label, wrt, [general.result(output.label, wrt)]) for wrt in seed.results]
    d = replace(general, name=seed.name, title=seed.title, source=seed.source, main=seed.main, results=results)
    d.steps, d.notes, d.aliases = _grouped(general, seed, output.label), list(seed.notes), dict(seed.aliases)
    d.results = [_matrix(d, m) for m in seed.matrices] + d.results
    _attach(d, seed.written, by, budget)
    d.checks = [(t, check(c, output, w, aliases=seed.aliases, budget=budget.share(0.5))) for t, c, w in seed.checks]
    for part in seed.parts:  # a network of its own, shown after this one
        p = derive(program(part.program).output, list(part.wrts), budget=budget)
        p.title, p.source, p.notes = part.title, by, list(part.notes)
        _attach(p, part.written, by, budget)
        d.parts.append(p)
    if seed.written or seed.checks:
        d.notes.append("the verdicts compare numbers at sampled values of the leaves, and at points near them")
    return d


def _grouped(derivation: Derivation, seed: Seed, of: str) -> list[Step]:
    """The seed's steps, each with the engine's steps it needs (back to the output) that no earlier step showed."""
    by_wrt = {step.result.wrt: step for step in derivation.steps}
    for final in derivation.results:  # a result also written with every name written out ends its step so
        if final.wrt in by_wrt and final.lines[-1] not in by_wrt[final.wrt].result.lines:
            by_wrt[final.wrt].result.lines.append(final.lines[-1])
    built_from = {w: [f.of for f in step.factors if f.of != of and f.of in by_wrt] for w, step in by_wrt.items()}
    used: set[str] = set()
    steps = []
    for wrt, title in seed.steps:
        needed: dict[str, None] = {}  # the derivatives this one is built from, back to the output
        fold(wrt, lambda label, _: None, needed, operands=lambda label: built_from.get(label, []))
        new = needed.keys() - used - {wrt}
        used |= needed.keys()
        own = by_wrt[wrt]
        factors = [eq for step in derivation.steps if step.result.wrt in new for eq in [*step.factors, step.result]]
        steps.append(Step(title, factors + own.factors, own.result, list(seed.step_notes.get(wrt, ()))))
    return steps


def _matrix(d: Derivation, form: MatrixForm) -> Equation:
    """A gradient matrix: the seed's matrix formula entry by entry, and the engine's entries."""
    formula = sympy.Matrix([[claim_expression(c, d.output, d.aliases) for c in row] for row in form.entries])
    engine = sympy.Matrix([[d.result(d.output.label, wrt) for wrt in row] for row in form.wrts])
    wrts = [list(row) for row in form.wrts]
    return Equation(d.output.label, wrts, [formula, engine], chain_text=form.chain, wrt_name=form.name)


def _attach(d: Derivation, written: tuple[Written, ...], by: str, budget: Budget) -> None:
    """Each written line beside the engine's equation for its derivative (a new one, in its wrt's step, if none)."""
    labels = labelled_nodes(d.output, where=d.name)
    lines = []
    for w in written:
        of, wrt = (resolve(name, labels, d.aliases, where=d.name) for name in (w.of, w.wrt))
        expr = None if w.claim is None else claim_expression(w.claim, d.output, d.aliases)
        lines.append(WrittenLine(by, w.typed, w.shown, expr, None, w.expect, w.note))
        found = [eq for eq in d.equations() if (eq.of, eq.wrt) == (of, wrt) and not eq.held]
        if not found:
            engine, _ = simplify_within(diff(labels[of], labels[wrt], simplify=False), budget, 0.25)
            found = [Equation(of, wrt, [engine])]
            next((s for s in d.steps if s.result.wrt == wrt), d.steps[-1]).factors.append(found[0])
        found[0].written.append(lines[-1])
    _, differs = d.compare()
    for line in lines:
        line.agrees = None if line.expr is None else id(line) not in differs
