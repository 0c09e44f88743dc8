"""A claim typed by hand in any `notation` and name (``δ^(2)_0``, ``dL/dZ``, ``dL/du|_m``) read into sympy."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..engine import OPS, Value
from ..graphs import fold, rebuild, topological_order
from ..names import (
    NameLookupError,
    derivative_name,
    derivative_spellings,
    labelled_nodes,
    normal_name,
    resolve,
    to_identifier,
    with_identifiers,
)
from .conversion import SYMPY_FUNCTIONS, SYMPY_NUMBERS, diff, exact_digits, fraction, symbol, sympy, sympy_form
from .parsing import DERIVATIVE, HOLD_DIGITS, NAMED_NUMBERS, ExpressionError, notation, parse
from .worker import Budget

#: The time `check` may take, in seconds (the CLI adds its start-up); past it the verdict is "unproven".
CHECK_SECONDS = 4.0


Claim = Any  # a str, a sympy expression, or a number


class ClaimNames(dict):
    """{name a claim may use: the symbol of its label}; `ambiguous`: {name of several labels: those labels}."""

    ambiguous: dict[str, list[str]]


def claim_names(labels: Value | Iterable[str], aliases: Mapping[str, str] | None = None) -> ClaimNames:
    """The names a claim may use for `labels` (or a graph's), and `aliases`; a name of two labels is `ambiguous`.

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
    names = ClaimNames({name: symbol(found[0]) for name, found in meanings.items() if len(found) == 1})
    names.ambiguous = {name: found for name, found in meanings.items() if len(found) > 1}
    names |= {label: symbol(label) for label in labels if not label.isidentifier()}
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
    """A note for each of `NAMED_NUMBERS` among `labels`: there it is a node, not the number.

    >>> named_number_notes(["x", "e"])
    ["e is the node e here, not Euler's number (a name no node has is the number)"]
    """
    shown = sorted(set(labels) & NAMED_NUMBERS.keys())
    return [f"{n} is the node {n} here, not {NAMED_NUMBERS[n]} (a name no node has is the number)" for n in shown]


def held(claim: sympy.Expr) -> bool:
    """Is the claim held as written (past `HOLD_DIGITS` digits)?  Then numbers check it, not algebra."""
    return isinstance(claim, sympy.UnevaluatedExpr)


def substitute(claim: sympy.Expr, mapping: Mapping) -> sympy.Expr:
    """``claim.xreplace(mapping)``, keeping a `held` claim as written (sympy evaluates what it rebuilds)."""
    with sympy.evaluate(not held(claim)):
        return claim.xreplace(mapping)


def parse_claim(claim: Claim, names: Mapping[str, sympy.Symbol], typed: str | None = None) -> sympy.Expr:
    """A claim (text, a number or sympy) over the graph's symbols; one past `HOLD_DIGITS` digits comes back `held`.

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
    """
    if isinstance(claim, bool):
        raise TypeError("check: a claim must be a formula, not a bool")
    if isinstance(claim, (int, float)):
        if isinstance(claim, float) and not math.isfinite(claim):
            raise ExpressionError(f"check: the claim {claim!r} is not a finite number")
        claim = repr(claim)  # one path for numbers: the parser's limits and exact constants
    known = ", ".join(sorted(n for n in names if n.isidentifier()))
    if isinstance(claim, str):
        expression = parse(claim, typed=typed)
        functions = {**SYMPY_FUNCTIONS, "step": sympy_form(OPS["step"])}  # relu'(z)
        _refuse_ambiguous(expression.names, names)
        names = {**SYMPY_NUMBERS, **names}  # e and pi are numbers, unless the graph has a node of that name
        if unknown := ", ".join(sorted(expression.names - set(names))):
            raise ExpressionError(f"check: unknown name {unknown} in {typed or claim!r}; names in this graph: {known}")
        hold = exact_digits(expression) > HOLD_DIGITS
        with sympy.evaluate(not hold):
            value = expression.evaluate(names, functions, number=fraction)
            result = sympy.UnevaluatedExpr(value) if hold else sympy.sympify(value)
    elif isinstance(claim, sympy.Basic):
        _refuse_ambiguous((s.name for s in claim.free_symbols), names)
        replace = {}
        for s in claim.free_symbols:
            name = s.name if s.name in names else normal_name(s.name)
            if name not in names:
                raise ValueError(f"check: unknown symbol {s.name} in the claim; names in this graph: {known}")
            replace[s] = names[name]
        result = substitute(claim, replace)
    else:
        raise TypeError(f"check: a claim must be a str or a sympy expression, got {type(claim).__name__}")
    if result.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ExpressionError(f"check: the claim {str(claim)[:60]!r} is undefined (it divides by zero or is infinite)")
    return result


def claim_expression(claim, output: Value, aliases: dict | None = None, budget: Budget | None = None) -> sympy.Expr:
    """A claim in the graph's labels, ``delta^(l)_j`` and ``dL/dZ`` written out by the engine, within `budget`."""
    budget = budget or Budget(CHECK_SECONDS)
    nodes = labelled_nodes(output, where="check")
    labels = list(nodes)
    if not isinstance(claim, str):
        return budget.run(parse_claim, claim, claim_names(labels, aliases), what="reading the claim")
    deltas = {d: z for label, z in nodes.items() if (d := derivative_name("C", label)).startswith("delta^")}
    text, fixed = _held_spellings(notation(claim), labels, aliases)
    text, named = derivative_spellings(text, labels, aliases)
    text = with_identifiers(text, labels + list(deltas))
    symbols = claim_names(labels + list(deltas), aliases)
    symbols.update({name: symbol(name) for name in [*named, *fixed]})
    expression = budget.run(parse_claim, text, symbols, claim, what="reading the claim")
    used = {n for n in [*deltas, *named, *fixed] if symbol(n) in expression.free_symbols}
    defs = {symbol(d): diff(output, z, simplify=False) for d, z in deltas.items() if d in used}
    defs |= {symbol(n): diff(nodes[of], nodes[wrt], simplify=False) for n, (of, wrt) in named.items() if n in used}
    defs |= {symbol(n): held_derivative(nodes, *names) for n, names in fixed.items() if n in used}
    return budget.run(substitute, expression, defs, what="reading the claim") if defs else expression


def _held_spellings(text: str, labels: list[str], aliases: Mapping[str, str] | None) -> tuple[str, dict]:
    """`text` with each held derivative (``dL/du|_m``, ``dL/du (m fixed)``) an identifier; {it: (of, wrt, held)}."""
    found = {}

    def replace(match: re.Match[str]) -> str:
        if not (held := match["held"] or match["fixed"]):
            return match[0]
        of, wrt, *fixed = (resolve(n, labels, aliases, "check") for n in (match["of"], match["wrt"], *held.split(",")))
        name = "_".join(["H", *map(to_identifier, [of, wrt, *fixed])])
        found[name] = (of, wrt, fixed)
        return name

    return DERIVATIVE.sub(replace, text), found


def cut(node: Value, sources: Iterable[Value]) -> tuple[Value, dict[Value, Value]]:
    """A copy of `node`'s graph, labels kept, each of `sources` a fresh leaf (held fixed): (copy, {source: leaf})."""
    leaves = {s: Value(s.data, label=s.label) for s in sources}

    def copy(n: Value, operands: list[Value]) -> Value:
        if n._op is None:
            return n
        twin = rebuild(n, tuple(operands))
        twin.label = n.label
        return twin

    return fold(node, copy, dict(leaves)), leaves


def held_derivative(nodes: Mapping[str, Value], of: str, wrt: str, fixed: list[str]) -> sympy.Expr:
    """d(of)/d(wrt) with the nodes `fixed` held constant: the graph `cut` there.

    >>> u = Value(2.0, label="u"); m = u * u; m.label = "m"; L = m * u; L.label = "L"
    >>> held_derivative({"u": u, "m": m, "L": L}, "L", "u", ["m"])
    m
    """
    top, _ = cut(nodes[of], [nodes[f] for f in fixed if f != wrt])
    return diff(top, wrt, simplify=False) if wrt in labelled_nodes(top) else sympy.S.Zero
