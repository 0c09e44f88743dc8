"""A graph of Values as a sympy expression: `to_sympy`, `definitions`, `find_node`.

Every *labelled* node becomes a `sympy.Symbol` named by its label, so an
expression reads like the textbook: the output of ``A = sigmoid(Z)`` stays
``A``.  The conversion is iterative: deep graphs are fine.

    >>> from microgrid import Value
    >>> Z = Value(0.3, label="Z"); A = Z.sigmoid(); A.label = "A"
    >>> to_sympy(1 - A), definitions(A)
    (1 - A, {A: sigmoid(Z)})
"""

from __future__ import annotations

from typing import Callable, Mapping

import sympy

from ..engine import Value, topological_order
from ..reverse import fold
from .forms import number, sympy_form, symbol
from .labels import NameLookupError, resolve

__all__ = ["to_sympy", "definitions", "find_node", "convert"]


# ------------------------------------------------------------- conversion
def convert(
    root: Value,
    expand: bool,
    expand_root: bool,
    overrides: Mapping[Value, tuple[tuple[Value, ...], Callable]] | None = None,
    seen_labels: dict[str, Value] | None = None,
) -> sympy.Expr:
    """The sympy form of `root`; iterative, so deep graphs are fine.

    A labelled node is its Symbol, unless `expand` (then labelled leaves only)
    or it is the root and `expand_root`.  `overrides` replaces a node's rule:
    node -> (the nodes it is computed from, function of their expressions).
    """
    overrides = overrides or {}
    seen = {} if seen_labels is None else seen_labels

    def as_symbol(node: Value) -> bool:
        if not node.label or (node is root and expand_root):
            return False
        return not expand or (node._op is None and node not in overrides)

    def sources(node: Value) -> tuple[Value, ...]:
        return overrides[node][0] if node in overrides else node.parents

    def children(node: Value) -> tuple[Value, ...]:
        return () if as_symbol(node) else sources(node)

    def combine(node: Value, args: list) -> sympy.Expr:
        if as_symbol(node):
            other = seen.setdefault(node.label, node)
            if other is not node:
                raise ValueError(
                    f"to_sympy: two different nodes are labelled {node.label!r}; "
                    "give them distinct labels so that each becomes its own symbol"
                )
            return symbol(node.label)
        if node in overrides:
            return overrides[node][1](*args)
        if node._op is None:
            return number(node.data)
        return sympy_form(node._op)(*args)

    return fold(root, combine, {}, children)


def to_sympy(value: Value, expand: bool = False) -> sympy.Expr:
    """The expression `value` computes, with labelled nodes as Symbols.

    With ``expand=True`` labelled intermediate nodes are replaced by their
    definitions, down to the labelled leaves.  Unlabelled leaves are numbers.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x"); h = (3 * x).tanh(); h.label = "h"
    >>> out = h * h + 1
    >>> to_sympy(out), to_sympy(out, expand=True)
    (h**2 + 1, tanh(3*x)**2 + 1)
    """
    if not isinstance(value, Value):
        raise TypeError(f"to_sympy: expected a Value, got {type(value).__name__}")
    return convert(value, expand, expand_root=True)


def definitions(output: Value) -> dict[sympy.Symbol, sympy.Expr]:
    """{Symbol: its definition down to the labelled leaves} for each labelled
    intermediate node `output` depends on (`output` itself included)."""
    seen: dict[str, Value] = {}
    result = {}
    for node in topological_order(output):
        if node.label:
            other = seen.setdefault(node.label, node)
            if other is not node:
                raise ValueError(f"to_sympy: two different nodes are labelled {node.label!r}; give them distinct labels")
            if node._op is not None:
                result[symbol(node.label)] = convert(node, True, True)
    return result


def find_node(output: Value, wrt: Value | str, aliases: Mapping[str, str] | None = None) -> Value:
    """The node `wrt` names in `output`'s graph: a Value, or a name in any
    spelling (`microgrid.symbolic.labels.resolve`: the label, its identifier, its
    textbook spelling typed with braces or δ, then `aliases`)."""
    if isinstance(wrt, Value):
        return wrt
    if not isinstance(wrt, str):
        raise TypeError(f"expected a Value or a label for wrt, got {type(wrt).__name__}: {wrt!r}")
    nodes: dict[str, list[Value]] = {}
    for n in topological_order(output):
        if n.label:
            nodes.setdefault(n.label, []).append(n)
    try:
        label = resolve(wrt, nodes, aliases)
    except NameLookupError as error:
        raise NameLookupError(f"no node labelled {wrt!r} in this graph: {error}") from None
    if len(nodes[label]) > 1:
        raise ValueError(f"{len(nodes[label])} different nodes are labelled {label!r}; give them distinct labels")
    return nodes[label][0]
