"""A seed (`microgrid.symbolic.hand_derivations`) run through the general derivation: `from_seed(seed)`.

The seed's program is built and `microgrid.symbolic.chainrule.derive` computes
every step; the steps are grouped in the seed's order (a step of the seed
takes in the steps its derivative needs that no earlier step showed), and
each line the seed wrote is put beside the engine's equation for the same
derivative, with whether it agrees.  Nothing here is typed in but the seed.
"""

from __future__ import annotations

import random

from .conversion import sympy

from .worker import Budget
from .chainrule import as_budget, derive
from .derivations import Derivation, Equation, Step, WrittenLine, _close
from ..engine import Value, grad, topological_order
from .checker import claim_expression
from ..names import labelled_nodes, resolve
from .parsing import program
from .hand_derivations import MatrixForm, Part, Seed, Written
from .checker import check
from .precise import evaluate_each
from .conversion import diff
from .simplify import simplify_within

__all__ = ["from_seed"]

#: The points a written line is compared at, besides the graph's own.
NEARBY_POINTS = 2


def from_seed(seed: Seed, budget: Budget | float | None = None) -> Derivation:
    """The seed's derivation, computed by the engine within one `budget`."""
    budget = as_budget(budget if budget is not None else 8.0)
    by = seed.source.split(",")[0]  # "seed 000"
    output = program(seed.program).output
    wanted = list(dict.fromkeys([w for w, _ in seed.steps] + list(seed.results) + [seed.main[1]]))
    general = derive(output, wanted, budget=budget)
    steps = _grouped(general, seed, output.label)
    d = Derivation(
        name=seed.name,
        title=seed.title,
        source=seed.source,
        output=output,
        definitions=general.definitions,
        steps=steps,
        results=[_result(general, output.label, wrt) for wrt in seed.results],
        main=seed.main,
        build=general.build,
        notes=list(seed.notes),
        aliases=dict(seed.aliases),
        named=general.named,
    )
    d.results = [_matrix(d, m, budget) for m in seed.matrices] + d.results
    _attach(d, seed.written, by, budget)
    d.checks = [(title, check(claim, output, resolve(wrt, _labels(output)), aliases=seed.aliases, budget=_share(budget)))
                for title, claim, wrt in seed.checks]
    d.parts = [_part(part, by, budget) for part in seed.parts]
    return d


def _labels(output: Value) -> list[str]:
    return [n.label for n in topological_order(output) if n.label]


def _share(budget: Budget) -> Budget:
    return budget.share(1 / 2)


def _grouped(derivation: Derivation, seed: Seed, of: str) -> list[Step]:
    """The seed's steps: each takes in the engine's steps its derivative
    needs (the nodes between it and the output) that no earlier step showed;
    a result that the engine also wrote with every name written out ends so."""
    general = derivation.steps
    by_wrt = {step.result.wrt: step for step in general}
    for final in derivation.results:
        if final.wrt in by_wrt and final.lines[-1] not in by_wrt[final.wrt].result.lines:
            by_wrt[final.wrt].result.lines.append(final.lines[-1])
    used: set[str] = set()
    steps = []
    for wrt, title in seed.steps:
        needed, stack = set(), [wrt]
        while stack:  # the derivatives this one is built from, back to the output
            label = stack.pop()
            if label in needed or label not in by_wrt:
                continue
            needed.add(label)
            stack.extend(f.of for f in by_wrt[label].factors if f.of != of)
        factors = []
        for step in general:  # the engine's order: the output's side first
            label = step.result.wrt
            if label in needed and label not in used and label != wrt:
                factors += step.factors + [step.result]
                used.add(label)
        used.add(wrt)
        own = by_wrt[wrt]
        steps.append(Step(title, factors + own.factors, own.result, list(seed.step_notes.get(wrt, ()))))
    return steps


def _result(general: Derivation, of: str, wrt: str) -> Equation:
    """d(of)/d(wrt) as the engine's result: its last line, in sympy's own form."""
    return Equation(of, wrt, [general.result(of, wrt).doit()])


def _matrix(d: Derivation, form: MatrixForm, budget: Budget) -> Equation:
    """A gradient matrix: the seed's matrix formula entry by entry, and the engine's entries."""
    formula = sympy.Matrix([[claim_expression(c, d.output, d.aliases) for c in row] for row in form.entries])
    engine = sympy.Matrix([[d.result(d.output.label, wrt) for wrt in row] for row in form.wrts])
    return Equation(d.output.label, [list(row) for row in form.wrts], [formula, engine], chain_text=form.chain, wrt_name=form.name)


def _part(part: Part, by: str, budget: Budget) -> Derivation:
    output = program(part.program).output
    d = derive(output, list(part.wrts), budget=budget)
    d.title, d.source, d.notes = part.title, by, list(part.notes)
    _attach(d, part.written, by, budget)
    return d


def _attach(d: Derivation, written: tuple[Written, ...], by: str, budget: Budget) -> None:
    """Each written line beside the engine's equation for its derivative
    (a new one, in the step for its wrt, where the derivation has none)."""
    labels = _labels(d.output)
    points = _points(d)
    for w in written:
        of, wrt = (resolve(name, labels, d.aliases, where=d.name) for name in (w.of, w.wrt))
        eq = _equation(d, of, wrt, budget)
        expr = None if w.claim is None else claim_expression(w.claim, d.output, d.aliases)
        eq.written.append(WrittenLine(by, w.typed, w.shown, expr, _agrees(eq, expr, points), w.expect, w.note))


def _equation(d: Derivation, of: str, wrt: str, budget: Budget) -> Equation:
    found = [eq for eq in d.equations() if (eq.of, eq.wrt) == (of, wrt) and not eq.held]
    if found:
        return found[0]
    nodes = labelled_nodes(d.output, where=d.name)
    engine, _ = simplify_within(diff(nodes[of], nodes[wrt], simplify=False), budget, 0.25)
    eq = Equation(of, wrt, [engine])
    step = next((s for s in d.steps if s.result.wrt == wrt), d.steps[-1])
    step.factors.append(eq)
    return eq


def _points(d: Derivation) -> list[tuple[dict, dict]]:
    """(nodes by label, values of every symbol) at the graph's point and `NEARBY_POINTS` near it."""
    rng = random.Random(0)
    out = []
    for i in range(1 + NEARBY_POINTS):
        output = d.build(rng) if i else d.output
        nodes = labelled_nodes(output, where=d.name)
        out.append((nodes, d._values(output, nodes)))
    return out


def _agrees(eq: Equation, expr: sympy.Expr | None, points: list[tuple[dict, dict]]) -> bool | None:
    if expr is None:
        return None
    numbers = evaluate_each([(expr, values) for _, values in points])
    for (nodes, _), got in zip(points, numbers):
        (true,) = grad(nodes[eq.of], [nodes[eq.wrt]])
        if not _close(got, true):
            return False
    return True
