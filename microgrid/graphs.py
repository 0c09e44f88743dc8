"""Walking a graph of Values, iteratively (a million nodes have no recursion limit): in order, folded, copied.

>>> from microgrid import Value
>>> x = Value(3.0); y = x * x
>>> [v.op for v in topological_order(y)]
['', '*']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Node = Any  # a microgrid Value

__all__ = ["copy_graph", "describe", "fold", "rebuild", "topological_order"]


def topological_order(root: Node) -> list[Node]:
    """Every node `root` depends on, each after all of its parents (iterative depth-first)."""
    order: list[Node] = []
    visited = {root}
    stack = [root]  # the path being explored
    while stack:
        node = stack[-1]
        # The loop over the two parents written out: the hot path of every backward().
        a = node._a
        if a is not None and a not in visited:
            visited.add(a)
            if a._op is not None:
                stack.append(a)  # explore it before coming back here
                continue
            order.append(a)  # a leaf has nothing below it: placed at once
        b = node._b
        if b is not None and b not in visited:
            visited.add(b)
            if b._op is not None:
                stack.append(b)
                continue
            order.append(b)
        order.append(stack.pop())  # every parent placed: the node itself
    return order


def describe(node: Node) -> str:
    """ "the 'tanh' node 'y'", "the leaf 'x'": a node named for an error message."""
    what = f"the {node._op.name!r} node" if node._op is not None else "the leaf"
    return f"{what} {node._label!r}" if node._label else what


def fold(
    root: Node,
    combine: Callable[[Node, list[Any]], Any],
    known: dict[Node, Any],
    operands: Callable[[Node], Sequence[Node]] | None = None,
) -> Any:
    """``combine(node, [value of each operand])`` for every node below `root`, operands first; `known` (extended in
    place) holds nodes already decided, where the walk stops; `operands` defaults to the parents.

    >>> from microgrid import Value
    >>> x = Value(2.0); y = x * x + x
    >>> fold(y, lambda node, depths: 1 + max(depths, default=0), {})   # the longest chain down to a leaf
    3
    """
    operands = operands or (lambda node: node.parents)
    stack = [root]
    while stack:
        node = stack[-1]
        if node in known:
            stack.pop()
        elif pending := [operand for operand in operands(node) if operand not in known]:
            stack.extend(pending)
        else:
            known[stack.pop()] = combine(node, [known[operand] for operand in operands(node)])
    return known[root]


def rebuild(node: Node, operands: tuple[Node, ...]) -> Node:
    """`node`'s operation applied to other operands (a node of another graph, or a number)."""
    return node._op(*operands)


def copy_graph(output: Node, leaf_data: Callable[[Node], float] | None = None) -> dict[Node, Node]:
    """{node: its copy} for `output`'s graph, labels kept, each labelled leaf holding ``leaf_data(leaf)``.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x"); y = x * x
    >>> copy_graph(y, lambda leaf: 3.0)[y].data
    9.0
    """
    value = type(output)
    copies: dict[Node, Node] = {}
    for node in topological_order(output):
        if node._op is None:
            copies[node] = value(leaf_data(node) if leaf_data and node._label else node._data, label=node._label)
        else:
            copies[node] = rebuild(node, tuple(copies[p] for p in node.parents))
            copies[node].label = node._label
    return copies
