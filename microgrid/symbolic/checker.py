"""The checker: is a derivative derived by hand right?  `check` one claim, `check_lines` a hand derivation.

>>> from microgrid import Value
>>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
>>> A = Z.sigmoid(); A.label = "A"
>>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
>>> [v.status for v in check_lines(L, "Z", ["A - y", "sigmoid(Z) - y", "A"])]
['correct', 'correct', 'incorrect']
"""

from __future__ import annotations

import contextlib
import operator
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ..engine import Value
from ..graphs import copy_graph, topological_order
from ..names import labelled_nodes, resolve
from .claims import CHECK_SECONDS, Claim, claim_expression, claim_names, held, named_number_notes, parse_claim
from .conversion import definitions, diff, find_node, label_of, sigmoid, symbol, sympy
from .parsing import HOLD_DIGITS, NotationError
from .precise import Unevaluable, agree, evaluate_each, evaluate_here, value_at
from .printing import Displayed, Shown, text
from .simplify import ALGEBRA_FAILURES, simplest, simplify_within, size
from .worker import Budget, BudgetExceeded


@dataclass
class Counterexample(Shown):
    """A point where the claim and the engine disagree (or the graph's own); `gap` is claim - true to 25 digits."""

    point: dict[str, float]  # the labelled leaves (and the intermediates the formulas use)
    claimed: complex | float | None
    true: float
    gap: complex | float | None = None
    involved: list[str] = field(default_factory=list)  # shown: the difference's names, most influential first

    @property
    def rest(self) -> list[str]:  # the other names of `point`, shown by name only
        return [name for name in self.point if self.involved and name not in self.involved]


@dataclass
class Verdict(Displayed):
    """What `check` found: "correct" (the difference simplifies to 0), "incorrect" (a `counterexample` 1e-13 apart at
    25 digits, or a nonzero difference proved) or "unproven" (equal at `points_checked` points); true only when proved.

    >>> from microgrid import Value
    >>> from microgrid.symbolic import check
    >>> x = Value(0.5, label="x"); y = x.relu() * x; y.label = "y"
    >>> check("2*relu(x)", y, x).status, check("x", y, x).status
    ('unproven', 'incorrect')
    """

    correct: bool | None
    claim: sympy.Expr
    expected: sympy.Expr  # the engine's derivative, intermediates kept
    difference: sympy.Expr  # claim - expected, simplified
    of: str
    wrt: str
    counterexample: Counterexample | None = None
    method: str = "symbolic"  # or "numeric": decided by (or, unproven, only supported by) sampled points
    points_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return {True: "correct", False: "incorrect", None: "unproven"}[self.correct]

    def __bool__(self) -> bool:
        return self.correct is True

    def _repr_latex_(self) -> str:
        return self.latex()


class Unreadable(Verdict):
    """The verdict on a claim that cannot be read (the command line exits 2): its note shows where, and what to type."""

    @property
    def status(self) -> str:
        return "unreadable"

    def __str__(self) -> str:
        return "unreadable: " + self.notes[0]

    def latex(self) -> str:
        return r"\text{unreadable}"

    def _repr_markdown_(self) -> str:
        return f"**unreadable**\n\n```\n{self.notes[0]}\n```"


#: How far `check` samples from the graph's values, near then far: a claim can agree near them only (``relu(W - 3)``).
SAMPLE_SCALES = (1.0, 3.0, 10.0, 30.0)


def _candidates(output: Value, leaves: list[Value], rng: random.Random, count: int) -> Iterator[dict]:
    """The graph's point, then random ones around it (`SAMPLE_SCALES`), where the engine computes: not log(1 - 1.0)."""
    yield {symbol(n.label): n.data for n in leaves}
    for tries in range(50 * count):
        scale = SAMPLE_SCALES[tries % len(SAMPLE_SCALES)]
        point = {symbol(n.label): n.data + rng.uniform(-scale, scale) for n in leaves}
        with contextlib.suppress(ValueError, ArithmeticError):
            copy_graph(output, lambda leaf: point.get(symbol(leaf.label), leaf.data))  # noqa: B023 (called at once)
            yield point


def _in_leaves(claimed: sympy.Expr, expected: sympy.Expr, defs: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """claimed - expected in the leaves, sigmoid and tanh in exp so that they cancel, simplified (in the worker)."""
    full = (claimed - expected).xreplace(defs).replace(sigmoid, lambda x: 1 / (1 + sympy.exp(-x)))
    full = simplest(full.rewrite(sympy.tanh, sympy.exp), fallback_ops=40)
    # Small and free of exponentials: `sympy.simplify` is quick (sin(W)**2 + cos(W)**2 - 1).
    if full != 0 and size(full) <= 40 and not full.has(sympy.exp) and sympy.simplify(full) == 0:
        return sympy.S.Zero
    return full


def _minus(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    """a - b as written: built at once, whatever a and b hold (for numbers and for showing)."""
    return sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False)


#: The time the numbers of a counterexample may take, past the budget if need be: found, it is worth showing.
SHOW_SECONDS = 1.0


def check(
    claim: Claim,
    output: Value,
    wrt: Value | str,
    points: int = 24,
    seed: int = 0,
    aliases: Mapping[str, str] | None = None,
    budget: Budget | None = None,
) -> Verdict:
    """Is `claim` d(output)/d(wrt)?  Unproved, compared at `points` points, within `budget` (spent: "unproven").

    >>> from microgrid import Value
    >>> x = Value(1.5, label="x"); y = x * x; y.label = "y"
    >>> check("2*x", y, x).correct, check("x", y, x).correct, check("2*x + 1e-12", y, x).correct
    (True, False, False)
    """
    if not isinstance(output, Value):
        raise TypeError(f"check: output must be a Value, got {type(output).__name__}")
    budget = budget or Budget(CHECK_SECONDS)
    node = find_node(output, wrt, aliases)
    try:
        claimed = budget.run(parse_claim, claim, claim_names(output, aliases), what="reading the claim")
    except BudgetExceeded as stopped:  # not malformed, only too costly for sympy to build
        return unbuilt(claim, output, node, str(stopped))
    engine = diff(output, node, simplify=False)
    expected, note = simplify_within(engine, budget, 0.25, what="simplifying the derivative")
    shown = claimed.free_symbols | expected.free_symbols  # an e or pi in either is the node's
    notes = named_number_notes(map(label_of, shown)) + ([note] if note else [])
    verdict = Verdict(True, claimed, expected, 0, output.label or "output", node.label or "wrt", notes=notes)
    return _decide(verdict, output, points, seed, budget)


def unbuilt(claim: Claim, output: Value, node: Value, why: str, kind: type[Verdict] = Verdict) -> Verdict:
    """The verdict on a claim sympy could not build in time (unproven), or not read (`Unreadable`), saying why."""
    of, wrt = output.label or "output", node.label or "wrt"
    return kind(None, sympy.Symbol(str(claim)), sympy.nan, sympy.nan, of, wrt, method="numeric", notes=[why])


def _decide(verdict: Verdict, output: Value, points: int, seed: int, budget: Budget) -> Verdict:
    """`check`'s decision, filled into `verdict` (claim and expected set, assumed correct)."""
    claimed, expected = verdict.claim, verdict.expected
    # sympy simplifies as it builds (log of a tower of exp and tanh: minutes): even subtracting runs in the budget.
    note: str | None = None
    verdict.difference = _minus(claimed, expected)
    if held(claimed):
        note = "the claim is kept as written and checked with numbers only: multiplied out, it would hold numbers "
        note += f"of more than {HOLD_DIGITS:,} digits"
    else:
        try:
            difference = budget.run(operator.sub, claimed, expected, what="subtracting the engine's derivative")
            verdict.difference, note = simplify_within(difference, budget, 1 / 3, what="simplifying the difference")
        except BudgetExceeded as stopped:
            note = str(stopped)
    if note:
        verdict.notes.append(note)
    if verdict.difference == 0:
        return verdict
    # Not zero as written: the claim may use other symbols (sigmoid(Z) for A).  Substituted, E(A) - E(sigmoid(Z)) is
    # 0 even where E is undefined; held, or past half the time left, the claim's numbers come through `defs`.
    defs, claimed_full = definitions(output), claimed
    if not held(claimed):
        try:
            half = budget.remaining() / 2
            claimed_full = budget.run(claimed.xreplace, defs, seconds=half, what="substituting the definitions")
        except BudgetExceeded as stopped:
            verdict.notes.append(str(stopped))
    leaves = [n for n in topological_order(output) if n._op is None and n.label]
    leaf_symbols = {symbol(n.label) for n in leaves}
    used = sorted((claimed.free_symbols | expected.free_symbols) - leaf_symbols, key=str)

    def counterexample(point: dict, got: Any, true: float) -> Counterexample:
        shown = {label_of(s): v for s, v in point.items()}
        late = Budget(max(budget.remaining(), SHOW_SECONDS), budget.digits, budget.memory_mb)
        values = evaluate_each([(e, point) for e in [*used, _minus(claimed_full, expected)]], late, defs)
        shown |= {label_of(s): v for s, v in zip(used, values[:-1], strict=True) if isinstance(v, float)}
        involved = [s for s in sorted(verdict.difference.free_symbols, key=str) if label_of(s) in shown]
        weights = [0.0] * len(involved)
        with contextlib.suppress(BudgetExceeded):
            weights = late.run(_influences, verdict.difference, involved, point, late, defs, what="ordering the point")
        order = sorted(zip(weights, involved, strict=True), key=lambda pair: -pair[0])
        return Counterexample(shown, got, true, values[-1], [label_of(s) for _, s in order])

    def incorrect(found: Counterexample | None) -> Verdict:
        verdict.correct, verdict.counterexample, verdict.method = False, found, "numeric"
        if missing := ", ".join(sorted(label_of(s) for s in expected.free_symbols - claimed.free_symbols)):
            verdict.notes.append(f"the engine's derivative involves {missing}, which the claim leaves out")
        return verdict

    candidates = _candidates(output, leaves, random.Random(seed), points)
    found, first = _compare_at_points(verdict, candidates, claimed_full, defs, points, budget)
    if found is not None:
        return incorrect(counterexample(*found))
    full = None  # claimed - expected in the leaves
    if not held(claimed):
        try:
            full = budget.run(_in_leaves, claimed, expected, defs, what="simplifying with the definitions substituted")
        except (BudgetExceeded, *ALGEBRA_FAILURES) as stopped:  # as `simplify_within`
            verdict.notes.append(str(stopped))
    if full == 0:
        verdict.difference = full
        verdict.notes.append("proved with the labelled intermediates replaced by their definitions")
        return verdict
    # A nonzero number, or rational function of the free leaves, is not 0 everywhere (0 on a null set at most).
    if full is not None and (full.is_Number or (full.free_symbols <= leaf_symbols and full.is_rational_function())):
        verdict.notes.append(f"with the definitions substituted the difference is {text(full)}, not 0")
        incorrect(counterexample(*first) if first else None).method = "symbolic"
        return verdict
    verdict.correct, verdict.method = None, "numeric"
    if full is not None:
        verdict.difference = full
    if verdict.points_checked == 0:
        verdict.notes.append("no point was found where the derivative is defined; nothing could be checked")
    return verdict


def _compare_at_points(
    verdict: Verdict, candidates: Iterator[dict], claimed: sympy.Expr, defs: Mapping, points: int, budget: Budget
) -> tuple[tuple | None, tuple | None]:
    """(the first (point, claimed, true) that disagrees, or None; the first compared), from the worker in batches."""
    first, unevaluable, produced, ran_out = None, [], 0, False
    while produced < points and not budget.expired:
        batch = list(islice(candidates, points - produced))
        if not batch:
            break
        try:
            results = budget.run(_compare, claimed, verdict.expected, defs, batch, budget, what="comparing at points")
        except BudgetExceeded:
            ran_out = True
            break
        for point, result in zip(batch, results, strict=False):  # the results stop early at the deadline
            if result is None:  # the engine's derivative has no value there: not a sample
                continue
            produced += 1
            if isinstance(result, str):
                unevaluable.append(result)
                continue
            got, true = result
            verdict.points_checked += 1
            first = first or (point, got, true)
            if not agree(got, true):
                return (point, got, true), first
        if len(results) < len(batch):  # it stopped at the deadline
            ran_out = True
            break
    if (ran_out or budget.expired) and verdict.points_checked < points:
        verdict.notes.append(f"the time budget ({budget.seconds:g} s) ran out while comparing at points")
    if unevaluable:
        verdict.notes.append(f"the claim could not be evaluated at {len(unevaluable)} points: {unevaluable[0]}")
    return None, first


def _influences(difference: sympy.Expr, symbols: list, point: dict, budget: Budget, defs: Mapping) -> list[float]:
    """In the worker: how much each of `symbols` moves `difference` at `point`, |d(difference)/ds * s| (-1 unknown)."""
    values = [evaluate_here(sympy.diff(difference, s) * s, point, budget, defs) for s in symbols]
    return [abs(v) if isinstance(v, (float, complex)) else -1.0 for v in values]


#: A batch of points stops this long before the deadline, so that its answer arrives in time.
_ANSWER_SECONDS = 0.05


def _compare(claimed: sympy.Expr, expected: sympy.Expr, defs: Mapping, batch: list[dict], budget: Budget) -> list:
    """In the worker, per point: None (no engine value), why the claim has none, or (claimed, true) to a difference."""
    results: list = []
    for point in batch:
        if budget.remaining() < _ANSWER_SECONDS:
            break
        true = evaluate_here(expected, point, budget, defs)
        if not isinstance(true, float):
            results.append(None)
            continue
        try:
            got = value_at(claimed, point, budget, defs)
        except Unevaluable as reason:
            results.append(str(reason))
            continue
        if got is None and held(claimed):  # unsimplified, it may be undefined in parts that cancel
            results.append("it is undefined there, as written (log 0, relu of a complex number)")
            continue
        results.append((got, true))
        if not agree(got, true):
            break
    return results


#: The time a whole hand derivation may take to check, however many lines.
LINES_SECONDS = 10.0


def check_lines(
    output: Value, wrt: Value | str, claims: Sequence[str], aliases: dict | None = None, budget: Budget | None = None
) -> list[Verdict]:
    """Each line of a hand derivation of d(output)/d(wrt) checked, in order, sharing one `budget` (`LINES_SECONDS`)."""
    claims = list(claims)
    budget = budget or Budget(min(CHECK_SECONDS * max(1, len(claims)), max(CHECK_SECONDS, LINES_SECONDS)))
    nodes = labelled_nodes(output, where="check")
    node = wrt if isinstance(wrt, Value) else nodes[resolve(wrt, nodes, aliases, where="check")]
    verdicts = []
    for i, claim in enumerate(claims):
        share = budget.share(1 / (len(claims) - i))
        try:
            expression = claim_expression(claim, output, aliases, share)
        except BudgetExceeded as stopped:
            verdicts.append(unbuilt(claim, output, node, str(stopped)))
        except NotationError as error:
            verdicts.append(unbuilt(claim, output, node, f"line {i + 1}: {error.pointed()}", Unreadable))
        else:
            verdicts.append(check(expression, output, node, budget=share))
    return verdicts


def first_wrong(verdicts: Sequence[Verdict]) -> int | None:
    """The number (from 1) of the first verdict that is not proved correct, or None."""
    return next((i for i, v in enumerate(verdicts, 1) if not v.correct), None)
