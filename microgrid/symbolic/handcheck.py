"""A hand derivation checked line by line: `check_lines(output, wrt, claims)`.

Each claim is one line of a hand derivation of d(output)/d(wrt); each is
checked in order (`microgrid.symbolic.check`) and the verdicts come back as
a list, so that the first line that goes wrong can be named.  Names may be
typed as the textbook writes them (``a^(L-1)_2``, ``w^(1)_0,0``,
``delta^(2)_0`` / ``δ`` where a network defines it) or as identifiers
(``w1_0_0``): one rule, `microgrid.names.resolve`, everywhere.

    >>> from microgrid.symbolic.parsing import program
    >>> p = program("s = log(1 + exp(x))")
    >>> [v.status for v in check_lines(p.output, "x", ["exp(x)/(1 + exp(x))", "sigmoid(x)", "exp(x)"])]
    ['correct', 'correct', 'incorrect']
"""

from __future__ import annotations

from typing import Sequence

from ._sympy import sympy

from .budget import Budget, BudgetExceeded
from ..engine import Value, topological_order
from ..names import derivative_spellings, labelled_nodes, parse_textbook, textbook, with_identifiers
from .checker import CHECK_SECONDS, check, unproven_unbuilt
from .convert import find_node, lookup
from .claims import claim_names, parse_claim, substitute
from .differentiate import diff
from .forms import symbol
from .verdict import Verdict

__all__ = ["check_lines", "claim_expression", "first_wrong", "LINES_SECONDS"]

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


def claim_expression(claim, output: Value, aliases: dict[str, str] | None = None, budget: Budget | None = None) -> sympy.Expr:
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
    definitions |= {symbol(n): diff(nodes[of], nodes[wrt], simplify=False) for n, (of, wrt) in named.items() if symbol(n) in used}
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
