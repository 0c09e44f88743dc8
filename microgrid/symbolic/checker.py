"""The checker: is a derivative derived by hand right?  `check(claim, output, wrt)` returns a `Verdict`.

A claim (text typed with the graph's labels as names, read by the safe
parser into sympy by `parse_claim`, or a sympy expression) is compared with
the engine's derivative: correct (proved: the difference simplifies to 0),
incorrect (with a `Counterexample`), or unproven (equal at every sampled
point, not proved).  `check_lines` checks a hand derivation line by line.
Everything runs within a `Budget`, sympy's part in the worker process.

    >>> from microgrid import Value
    >>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
    >>> A = Z.sigmoid(); A.label = "A"
    >>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
    >>> check("A - y", L, Z).correct
    True
    >>> [v.status for v in check_lines(L, "Z", ["A - y", "sigmoid(Z) - y", "A"])]
    ['correct', 'correct', 'incorrect']
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import islice
from typing import Any

from ..engine import Value, topological_order
from ..graphs import rebuild
from ..names import (
    NameLookupError,
    derivative_spellings,
    labelled_nodes,
    parse_textbook,
    textbook,
    to_identifier,
    to_latex,
    with_identifiers,
)
from .conversion import sympy
from .conversion import definitions, find_node, lookup
from .conversion import diff
from .conversion import SYMPY_FUNCTIONS, SYMPY_NUMBERS, label_of, sigmoid, symbol
from .printing import latex, text
from .parsing import HOLD_DIGITS, NAMED_NUMBERS, ExpressionError, normal_name, parse
from .precise import Unevaluable, agree, evaluate_each, evaluate_here, value_at
from .simplify import ALGEBRA_FAILURES, simplest, simplify_within, size
from .worker import Budget, BudgetExceeded

# ------------------------------------------------------------ from claims.py
Claim = Any  # a str, a sympy expression, or a number


class ClaimNames(dict):
    """{name a claim may use: the symbol of the label it means}; `ambiguous`
    holds the names that would mean several labels: {name: those labels}."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ambiguous: dict[str, list[str]] = {}


def claim_names(labels: Value | Iterable[str], aliases: Mapping[str, str] | None = None) -> ClaimNames:
    """The names a claim may use, for the labels of `labels` (a graph's output, or the labels):
    each label that is a name and each label's identifier (``w1_0_0``), read
    as Python reads names (``ﬁ`` is ``fi``); then `aliases` ({alias: label}).
    A name that two labels give (``x_y`` and ``x y`` both give ``x_y``) is
    `ClaimNames.ambiguous`: `parse_claim` refuses it, as `names.resolve` does.
    (A label that is no name is there too, for a sympy claim's ``Symbol("x y")``.)

    >>> names = claim_names(["w^(1)_0,0", "x_y", "x y"])
    >>> sorted(names), names.ambiguous
    (['w1_0_0', 'w^(1)_0,0', 'x y'], {'x_y': ['x_y', 'x y']})
    """
    if isinstance(labels, Value):
        labels = [n.label for n in topological_order(labels) if n.label]
    labels = list(dict.fromkeys(labels))
    meanings: dict[str, list[str]] = {}
    for label in labels:
        for name in dict.fromkeys(normal_name(spelling) for spelling in (label, to_identifier(label))):
            if name.isidentifier():
                meanings.setdefault(name, []).append(label)
    names = ClaimNames()
    for name, found in meanings.items():
        if len(found) == 1:
            names[name] = symbol(found[0])
        else:
            names.ambiguous[name] = found
    names.update({label: symbol(label) for label in labels if not label.isidentifier()})
    for alias, label in (aliases or {}).items():
        if alias not in meanings and label in labels:
            names[alias] = symbol(label)
    return names


def _refuse_ambiguous(used: Iterable[str], names: Mapping[str, sympy.Symbol]) -> None:
    ambiguous = getattr(names, "ambiguous", {})
    for name in sorted(set(used) & set(ambiguous)):
        raise NameLookupError(
            f"check: {name!r} is ambiguous: it names {', '.join(ambiguous[name])}; "
            "give those nodes labels whose identifiers differ"
        )


def named_number_notes(labels: Iterable[str]) -> list[str]:
    """A note for each of `NAMED_NUMBERS` (e, pi) among `labels`: there it is a node, not the number.

    >>> named_number_notes(["x", "e"])
    ["e is the node e here, not Euler's number (a name no node has is the number)"]
    """
    return [
        f"{name} is the node {name} here, not {NAMED_NUMBERS[name].meaning} (a name no node has is the number)"
        for name in sorted(set(labels) & NAMED_NUMBERS.keys())
    ]


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)

# A claim from which sympy could derive an exact number of more than
# `HOLD_DIGITS` digits (`Expression.exact_digits`, `microgrid.symbolic.parsing`)
# is held as written, and checked with numbers only: a verdict with a
# counterexample, where building it would only run into the time limit.


def held(claim: sympy.Expr) -> bool:
    """Is the claim held as written (too large for sympy to multiply out)?"""
    return isinstance(claim, sympy.UnevaluatedExpr)


def substitute(claim: sympy.Expr, mapping: Mapping) -> sympy.Expr:
    """``claim.xreplace(mapping)``, keeping a `held` claim as written (sympy evaluates what it rebuilds)."""
    if held(claim):
        with sympy.evaluate(False):
            return claim.xreplace(mapping)
    return claim.xreplace(mapping)


def parse_claim(claim: Claim, names: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    """A claim as a sympy expression over the graph's symbols; never `eval`s text.

    A string is parsed by `microgrid.symbolic.parsing.parse` (numbers, names,
    ``+ - * / **``, the engine's functions, within its size limits) and
    evaluated with sympy objects; its numbers stay exact (``1/3`` is one
    third).  A number is read as the same text.  A claim that is undefined
    (``A/(y - y)``, ``log(0)``) raises `ExpressionError`.  One that sympy
    would multiply out past `HOLD_DIGITS` comes back `held`, as written.

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
    """
    if isinstance(claim, bool):
        raise TypeError("check: a claim must be a formula, not a bool")
    if isinstance(claim, (int, float)):
        if isinstance(claim, float) and not math.isfinite(claim):
            raise ExpressionError(f"check: the claim {claim!r} is not a finite number")
        claim = repr(claim)  # one path for numbers: the parser's limits and exact constants
    if isinstance(claim, str):
        expression = parse(claim)
        _refuse_ambiguous(expression.names, names)
        # e and pi are numbers, unless the graph has a node of that name.
        numbers = {name: SYMPY_NUMBERS[name] for name in expression.names & SYMPY_NUMBERS.keys() if name not in names}
        names = {**names, **numbers}
        unknown = sorted(expression.names - set(names))
        if unknown:
            known = ", ".join(sorted(n for n in names if n.isidentifier() and n not in numbers))
            raise ExpressionError(
                f"check: unknown name {', '.join(unknown)} in {claim!r}; names in this graph: {known}"
            )
        if expression.exact_digits > HOLD_DIGITS:
            with sympy.evaluate(False):
                result = sympy.UnevaluatedExpr(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
        else:
            result = sympy.sympify(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
    elif isinstance(claim, sympy.Basic):
        _refuse_ambiguous((s.name for s in claim.free_symbols), names)
        replace = {}
        for s in claim.free_symbols:
            name = s.name if s.name in names else normal_name(s.name)
            if name not in names:
                known = ", ".join(sorted(n for n in names if n.isidentifier()))
                raise ValueError(f"check: unknown symbol {s.name} in the claim; names in this graph: {known}")
            replace[s] = names[name]
        result = substitute(claim, replace)
    else:
        raise TypeError(f"check: a claim must be a str or a sympy expression, got {type(claim).__name__}")
    if result.has(*_UNDEFINED):
        raise ExpressionError(f"check: the claim {str(claim)[:60]!r} is undefined (it divides by zero or is infinite)")
    return result


# ------------------------------------------------------------ from verdict.py
@dataclass
class Counterexample:
    """A point where the claim and the engine disagree (or, for a claim proved
    wrong, the graph's own point); `gap` is claim - true to 25 digits."""

    point: dict[str, float]  # the labelled leaves (and the intermediates the formulas use)
    claimed: complex | float | None
    true: float
    gap: complex | float | None = None

    def __str__(self) -> str:
        at = ", ".join(f"{k} = {_short(v)}" for k, v in self.point.items())
        text = f"at {at}: claimed {_short(self.claimed)}, true {_short(self.true)}"
        if self.gap is not None and _short(self.claimed) == _short(self.true):  # they look equal
            text += f" (claim - true = {_short(self.gap)})"
        return text

    def latex(self) -> str:
        """The same in math mode: labels as `microgrid.names.to_latex` spells them, numbers as 1.3 \\cdot 10^{-5}."""
        at = r",\ ".join(f"{to_latex(k)} = {_latex_number(v)}" for k, v in self.point.items())
        text = (
            rf"{at}:\quad \text{{claimed }} {_latex_number(self.claimed)},\ \text{{true }} {_latex_number(self.true)}"
        )
        if self.gap is not None and _short(self.claimed) == _short(self.true):
            text += rf"\ (\text{{claim - true}} = {_latex_number(self.gap)})"
        return text


def _short(x: Any) -> str:
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


@dataclass
class Verdict:
    """What `check` found: one of three outcomes, `status`.

    * ``"correct"`` (`correct` is True): proved.  The claim minus the
      engine's derivative simplifies to 0, as written or once the labelled
      intermediates are replaced by their definitions (sigmoid and tanh
      written with exp).  `method` is "symbolic", `difference` is 0.
    * ``"incorrect"`` (`correct` is False): a `counterexample`, a point where
      the two, evaluated to 25 digits, differ by more than 1e-13 relative; or
      a proof that the difference is not 0 (a nonzero number, or a nonzero
      rational function of the graph's leaves).  `difference` is claim minus
      engine in the graph's labels.
    * ``"unproven"`` (`correct` is None): equal at every one of
      `points_checked` points, near the graph's values and far from them,
      but the difference, shown with the definitions substituted, was not
      simplified to 0.  Numeric agreement is evidence, never a proof.

    ``bool(verdict)`` is True only for a proved claim.  On the command line
    the exit status is 0, 1 and 3 respectively (2: the claim is malformed).

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
        """ "correct", "incorrect" or "unproven"."""
        return {True: "correct", False: "incorrect", None: "unproven"}[self.correct]

    def __bool__(self) -> bool:
        return self.correct is True

    def __str__(self) -> str:
        lhs = f"d{self.of}/d{self.wrt}"
        lines = []
        if self.correct:
            lines.append(f"correct: {lhs} = {text(self.claim)}  (the difference simplifies to 0)")
        elif self.correct is None:
            lines.append(
                f"unproven: {lhs} = {text(self.claim)} agrees with the engine at {self.points_checked} points, "
                "but the difference did not simplify to 0"
            )
            lines.append(f"  engine:  {lhs} = {text(self.expected)}")
            lines.append(f"  claim - engine, definitions substituted = {text(self.difference)}")
        else:
            lines.append(f"incorrect: the claim {lhs} = {text(self.claim)}")
            lines.append(f"  engine:  {lhs} = {text(self.expected)}")
            lines.append(f"  claim - engine = {text(self.difference)}")
            if self.counterexample is not None:
                lines.append(f"  counterexample {self.counterexample}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        """What a notebook shows: the status in words, formulas broken to fit the column."""
        from ._derivation_display import verdict_markdown

        return verdict_markdown(self)

    def _repr_latex_(self) -> str:
        lhs = rf"\frac{{\partial {to_latex(self.of)}}}{{\partial {to_latex(self.wrt)}}}"
        if self.correct:
            return rf"$\text{{correct: }} {lhs} = {latex(self.claim)}$"
        if self.correct is None:
            title = rf"\text{{unproven: equal at {self.points_checked} points, not proved}}"
        else:
            title = r"\text{incorrect}"
        body = [
            rf"\text{{claimed: }} & {lhs} = {latex(self.claim)}",
            rf"\text{{engine: }} & {lhs} = {latex(self.expected)}",
            rf"\text{{claim - engine: }} & {latex(self.difference)}",
        ]
        if self.counterexample is not None:
            body.append(rf"\text{{counterexample: }} & {self.counterexample.latex()}")
        return r"$\begin{aligned}" + title + r"\\" + r"\\".join(body) + r"\end{aligned}$"


# ------------------------------------------------------------ from checker.py
#: How far `check` samples from the graph's values: near them first, then far
#: (a claim can be right near the graph's point only: ``relu(W - 3)`` is 0 there).
SAMPLE_SCALES = (1.0, 3.0, 10.0, 30.0)


def _candidates(output: Value, leaves: list[Value], rng: random.Random, count: int) -> Iterator[dict]:
    """The current point first (it is where the graph was computed), then
    random points around it at each of `SAMPLE_SCALES` in turn, where the
    network itself can be computed (`_computable`), in at most 50 * `count` tries.
    The worker keeps those where the engine's derivative is defined (`_compare`)."""
    yield {symbol(n.label): n.data for n in leaves}
    for tries in range(50 * count):
        scale = SAMPLE_SCALES[tries % len(SAMPLE_SCALES)]
        point = {symbol(n.label): n.data + rng.uniform(-scale, scale) for n in leaves}
        if _computable(output, point):
            yield point


def _computable(output: Value, point: Mapping[sympy.Symbol, float]) -> bool:
    """Can the engine compute `output` with the labelled leaves set to `point`?
    Not where a float step is undefined or overflows: at Z = 40 the float A
    is 1.0 and log(1 - A) fails, so a counterexample there would show an
    A at which the formula is undefined."""
    values: dict[Value, Value] = {}
    for node in topological_order(output):
        if node._op is None:
            key = symbol(node.label) if node.label else None
            values[node] = Value(point[key]) if key in point else node
            continue
        try:
            values[node] = rebuild(node, tuple(values[p] for p in node.parents))
        except (ValueError, ArithmeticError):
            return False
    return True


def _written_out(expr: sympy.Expr, defs: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """`expr` in the graph's leaves, with sigmoid and tanh written with exp, so
    that ``1/(1 + exp(-Z))`` and ``A`` can cancel."""
    full = expr.xreplace(defs)
    return full.replace(sigmoid, lambda x: 1 / (1 + sympy.exp(-x))).rewrite(sympy.tanh, sympy.exp)


def _simplified_written_out(
    claimed: sympy.Expr, expected: sympy.Expr, defs: Mapping[sympy.Symbol, sympy.Expr]
) -> sympy.Expr:
    """claimed - expected in the graph's leaves (`_written_out`), as simple as cheaply possible.
    Run within a budget, in the worker: every step is sympy algebra."""
    full = simplest(_written_out(claimed - expected, defs), fallback_ops=40)
    if full != 0 and size(full) <= 40 and not full.has(sympy.exp):
        # Small and free of exponentials: `sympy.simplify` is quick (sin(W)**2 + cos(W)**2 - 1).
        if sympy.simplify(full) == 0:
            return sympy.S.Zero
    return full


def _substituted(claimed: sympy.Expr, defs: Mapping, verdict: Verdict, budget: Budget) -> sympy.Expr:
    """The claim with the definitions substituted, as sympy builds it (so
    E(A) - E(sigmoid(Z)) is 0 even where E is undefined), within half the time
    left; else the claim as it is, whose numbers `evaluate` finds through `defs`."""
    if held(claimed):
        return claimed
    try:
        return budget.run(claimed.xreplace, defs, seconds=budget.remaining() / 2, what="substituting the definitions")
    except BudgetExceeded as stopped:
        verdict.notes.append(str(stopped))
        return claimed


def _minus(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    """a - b as written: built at once, whatever a and b hold (for numbers and for showing)."""
    return sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False)


def _provably_nonzero(difference: sympy.Expr, leaves: set) -> bool:
    """A nonzero number, or a nonzero rational function of leaves that vary
    freely, is not 0 everywhere (it is on a set of measure 0 at most)."""
    if difference == 0:
        return False
    return bool(difference.is_Number or (difference.free_symbols <= leaves and difference.is_rational_function()))


#: The time the numbers of a counterexample may take, past the budget if need be: found, it is worth showing.
SHOW_SECONDS = 1.0

#: The time `check` may take, in seconds (the CLI adds its start-up): the
#: algebra is stopped when it is spent, and the verdict is then "unproven".
CHECK_SECONDS = 4.0


def check(
    claim: Claim,
    output: Value,
    wrt: Value | str,
    points: int = 24,
    seed: int = 0,
    aliases: Mapping[str, str] | None = None,
    budget: Budget | None = None,
) -> Verdict:
    """Is `claim` the derivative d(output)/d(wrt)?  Returns a `Verdict`:
    correct (proved), incorrect, or unproven (see `Verdict`).

    The claim may use any label of the graph (or its identifier spelling,
    e.g. ``w2_1_0``), intermediate ones included: ``"A - y"`` and
    ``"sigmoid(Z) - y"`` are both right for seed 000's dL/dZ.  It is proved
    when the difference simplifies to 0, as written or with the definitions
    substituted.  Otherwise the claim and the engine are compared at the
    graph's current values and at `points` random points around them, near
    and far (`SAMPLE_SCALES`), where the network can be computed; the first
    disagreement is the counterexample.
    `aliases` adds names for labels ({"h1_1": "a^(1)_0"}), e.g. a seed's own notation.

    All of it runs within `budget` (by default `CHECK_SECONDS` of wall time
    and `EVALUATE_DIGITS` of working precision): the algebra is stopped when
    its share is spent, and the verdict is then "unproven", with the reason
    in its notes.

    >>> from microgrid import Value
    >>> x = Value(1.5, label="x"); y = x * x; y.label = "y"
    >>> check("2*x", y, x).correct, check("x", y, x).correct, check("2*x + 1e-12", y, x).correct
    (True, False, False)
    """
    if not isinstance(output, Value):
        raise TypeError(f"check: output must be a Value, got {type(output).__name__}")
    budget = budget or Budget(CHECK_SECONDS)
    node = find_node(output, wrt, aliases)
    of = output.label or "output"
    names = claim_names(output, aliases)
    try:
        claimed = budget.run(parse_claim, claim, names, what="reading the claim")
    except BudgetExceeded as stopped:  # not malformed, only too costly for sympy to build
        return unproven_unbuilt(claim, output, node, stopped)
    # The engine's derivative gets a quarter of the time, the difference a third of what is left.
    engine = diff(output, node, simplify=False)
    expected, note = simplify_within(engine, budget, 0.25, what="simplifying the derivative")
    shown = claimed.free_symbols | expected.free_symbols  # an e or pi in either is the node's
    notes = named_number_notes(map(label_of, shown)) + ([note] if note else [])
    verdict = Verdict(True, claimed, expected, 0, of, node.label or "wrt", notes=notes)
    return _decide(verdict, output, points, seed, budget)


def unproven_unbuilt(claim: Claim, output: Value, node: Value, stopped: BudgetExceeded) -> Verdict:
    """The verdict on a claim sympy could not even build within the budget: unproven, saying so."""
    verdict = Verdict(
        None, sympy.Symbol(str(claim)), sympy.nan, sympy.nan, output.label or "output", node.label or "wrt"
    )
    verdict.method, verdict.notes = "numeric", [str(stopped)]
    return verdict


def _decide(verdict: Verdict, output: Value, points: int, seed: int, budget: Budget) -> Verdict:
    """`check`'s decision, filled into `verdict` (claim and expected set, assumed correct)."""
    claimed, expected = verdict.claim, verdict.expected
    # Every sympy step on the claim runs within the budget, its subtraction
    # too: sympy simplifies as it builds, and on a formula a user typed (log
    # of a tower of exp and tanh) that alone can take minutes.  Numbers are
    # found without building formulas (`evaluate` reads the definitions).
    unevaluated = _minus(claimed, expected)
    if held(claimed):
        difference, note = (
            unevaluated,
            (
                f"the claim is kept as written and checked with numbers only: multiplied out, it would hold "
                f"numbers of more than {HOLD_DIGITS:,} digits"
            ),
        )
    else:
        try:
            difference = budget.run(operator.sub, claimed, expected, what="subtracting the engine's derivative")
        except BudgetExceeded as stopped:
            difference, note = unevaluated, str(stopped)
        else:
            difference, note = simplify_within(difference, budget, 1 / 3, what="simplifying the difference")
    verdict.difference = difference
    if note:
        verdict.notes.append(note)
    if difference == 0:
        return verdict
    # Not zero as written: the claim may use other symbols (sigmoid(Z) for A).
    defs = definitions(output)
    claimed_full = _substituted(claimed, defs, verdict, budget)
    leaves = [n for n in topological_order(output) if n._op is None and n.label]
    leaf_symbols = {symbol(n.label) for n in leaves}
    used = sorted((claimed.free_symbols | expected.free_symbols) - leaf_symbols, key=str)

    def counterexample(point: dict, got: Any, true: float) -> Counterexample:
        shown = {label_of(s): v for s, v in point.items()}
        # The intermediates the formulas mention, for the reader, and the difference.
        pairs = [(e, point) for e in [*used, _minus(claimed_full, expected)]]
        values = evaluate_each(
            pairs, Budget(max(budget.remaining(), SHOW_SECONDS), budget.digits, budget.memory_mb), defs
        )
        for s, value in zip(used, values):
            if isinstance(value, float):
                shown[label_of(s)] = value
        return Counterexample(shown, got, true, values[-1])

    def incorrect(found: Counterexample | None) -> Verdict:
        verdict.correct, verdict.counterexample, verdict.method = False, found, "numeric"
        missing = sorted(label_of(s) for s in expected.free_symbols - claimed.free_symbols)
        if missing:
            verdict.notes.append(f"the engine's derivative involves {', '.join(missing)}, which the claim leaves out")
        return verdict

    found, first = _compare_at_points(verdict, output, leaves, claimed_full, expected, defs, points, seed, budget)
    if found is not None:
        return incorrect(counterexample(*found))
    try:
        full_difference = (
            None
            if held(claimed)
            else budget.run(
                _simplified_written_out, claimed, expected, defs, what="simplifying with the definitions substituted"
            )
        )
    except (BudgetExceeded, *ALGEBRA_FAILURES) as stopped:  # as `simplify_within`
        verdict.notes.append(str(stopped))
        full_difference = None
    if full_difference == 0:
        verdict.difference = full_difference
        verdict.notes.append("proved with the labelled intermediates replaced by their definitions")
        return verdict
    if full_difference is not None and _provably_nonzero(full_difference, leaf_symbols):
        verdict.notes.append(f"with the definitions substituted the difference is {text(full_difference)}, not 0")
        incorrect(counterexample(*first) if first else None).method = "symbolic"
        return verdict
    verdict.correct, verdict.method = None, "numeric"
    if full_difference is not None:
        verdict.difference = full_difference
    if verdict.points_checked == 0:
        verdict.notes.append("no point was found where the derivative is defined; nothing could be checked")
    return verdict


def _compare_at_points(
    verdict: Verdict,
    output: Value,
    leaves: list[Value],
    claimed: sympy.Expr,
    expected: sympy.Expr,
    defs: Mapping,
    points: int,
    seed: int,
    budget: Budget,
) -> tuple[tuple | None, tuple | None]:
    """(the first point where `claimed` and `expected` disagree, or None; the
    first point compared), as (point, claimed value, true value), with the
    labelled intermediates worth their `defs` at each point.  Counts
    the points in `verdict.points_checked`, and says in its notes when the
    time ran out or the claim could not be evaluated within the precision.

    The points come from here (the engine computes the graph at each), their
    numbers from the worker, a batch at a time."""
    candidates = _candidates(output, leaves, random.Random(seed), points)
    first, unevaluable, produced, ran_out = None, [], 0, False
    while produced < points and not budget.expired:
        batch = list(islice(candidates, points - produced))
        if not batch:
            break
        try:
            results = budget.run(_compare, claimed, expected, defs, batch, budget, what="comparing at points")
        except BudgetExceeded:
            ran_out = True
            break
        for point, result in zip(batch, results):
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


#: A batch of points stops this long before the deadline, so that its answer arrives in time.
_ANSWER_SECONDS = 0.05


def _compare(claimed: sympy.Expr, expected: sympy.Expr, defs: Mapping, batch: list[dict], budget: Budget) -> list:
    """In the worker: for each point of `batch` in turn, None where the
    engine's derivative has no float value, a str where the claim cannot be
    evaluated (why), else (the claim's value, the derivative's); until the
    first disagreement, or shortly before the budget's deadline."""
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


# ------------------------------------------------------------ from handcheck.py
#: The time a whole hand derivation may take to check, however many lines.
LINES_SECONDS = 10.0


def _deltas(output: Value) -> dict[str, Value]:
    """{delta^(l)_j: its z node} for each textbook weighted sum in the graph."""
    found = {}
    for node in topological_order(output):
        parsed = parse_textbook(node.label) if node.label else None
        if parsed is not None and parsed[0] == "z":
            found[textbook("delta", parsed[1], *parsed[2])] = node
    return found


def claim_expression(
    claim, output: Value, aliases: dict[str, str] | None = None, budget: Budget | None = None
) -> sympy.Expr:
    """A claim (typed, or a sympy expression) as a formula in the graph's
    labels.  Typed, it may use textbook spellings, ``delta^(l)_j`` (=
    dC/dz^(l)_j) and derivatives by name (``dL/dZ * W``, ``dC/da^(L)_0``),
    each written out by the engine's reverse pass.  sympy builds it in the
    worker, within `budget` (by default `CHECK_SECONDS`): it evaluates as it builds."""
    budget = budget or Budget(CHECK_SECONDS)
    nodes = labelled_nodes(output, where="check")
    labels = list(nodes)
    if not isinstance(claim, str):
        return budget.run(parse_claim, claim, claim_names(labels, aliases), what="reading the claim")
    deltas = _deltas(output)
    text, named = derivative_spellings(claim, labels, aliases)
    text, _ = with_identifiers(text, labels + list(deltas), aliases)
    symbols = claim_names(labels + list(deltas), aliases)
    symbols.update({name: symbol(name) for name in named})
    expression = budget.run(parse_claim, text, symbols, what="reading the claim")
    used = expression.free_symbols
    definitions = {symbol(d): diff(output, z, simplify=False) for d, z in deltas.items() if symbol(d) in used}
    definitions |= {
        symbol(n): diff(nodes[of], nodes[wrt], simplify=False) for n, (of, wrt) in named.items() if symbol(n) in used
    }
    return budget.run(substitute, expression, definitions, what="reading the claim") if definitions else expression


def check_lines(
    output: Value,
    wrt: Value | str,
    claims: Sequence[str],
    aliases: dict[str, str] | None = None,
    budget: Budget | None = None,
) -> list[Verdict]:
    """Each claim (a line of a hand derivation of d(output)/d(wrt)) checked, in order.

    The lines share one `budget` (by default `CHECK_SECONDS` for one line,
    up to `LINES_SECONDS` for several): each line gets an equal share of
    what is left, so a slow line cannot starve the ones after it.
    """
    claims = list(claims)
    budget = budget or Budget(min(CHECK_SECONDS * max(1, len(claims)), max(CHECK_SECONDS, LINES_SECONDS)))
    labels = [n.label for n in topological_order(output) if n.label]
    node = wrt if isinstance(wrt, Value) else lookup(wrt, labels, aliases, where="check")
    verdicts = []
    for i, claim in enumerate(claims):
        share = budget.share(1 / (len(claims) - i))
        try:
            expression = claim_expression(claim, output, aliases, share)
        except BudgetExceeded as stopped:
            verdicts.append(unproven_unbuilt(claim, output, find_node(output, node), stopped))
            continue
        verdicts.append(check(expression, output, node, budget=share))
    return verdicts


def first_wrong(verdicts: Sequence[Verdict]) -> int | None:
    """The number (from 1) of the first verdict that is not proved correct, or None."""
    return next((i for i, v in enumerate(verdicts, 1) if not v.correct), None)
