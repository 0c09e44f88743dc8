"""The reverse pass: d(root)/d(node) for every node of a graph, consumers first.

One loop serves `Value.backward`, `grad` and `explain_backward`, so the rules
for skipping a zero gradient and refusing an infinite one live here alone.
It reads only a node's slots (``_a``, ``_b``, ``_op``, ``_data``, ``grad``)
and its op's ``partials``, so it imports nothing of the engine it serves.

    >>> from microgrid import Value
    >>> x = Value(3.0); y = x * x
    >>> [v.op for v in topological_order(y)]
    ['', '*']
"""

from __future__ import annotations

from typing import Any, Callable

Node = Any  # a microgrid Value


def reverse_pass(root: Node, create_graph: bool = False, visit: Callable | None = None) -> tuple[list, object]:
    """d(root)/d(node) for every node `root` depends on, consumers first.

    Each node hands its upstream gradient g to its operands, times its op's
    partials.  ``visit(node, g, partials)`` sees each computed node in turn
    (partials None where `_passes_on` says it passes nothing on).

    Returns ``(order, gradients)``.  On the float path the gradients are left
    in each node's ``.grad``, this pass's alone, and ``gradients`` lists the
    (node, ``.grad``) set aside: the caller adds them back (`backward`) or
    restores them.  With `create_graph`, ``gradients`` is a dict of Values and
    no ``.grad`` is touched.  On an error every ``.grad`` is as it was.
    """
    order = topological_order(root)
    if create_graph:
        return order, _graph_pass(order, root, visit)
    earlier = [(node, node.grad) for node in order if node.grad != 0.0]
    for node, _ in earlier:
        node.grad = 0.0
    root.grad = 1.0
    try:
        # The float path, the hot loop of training: the same steps as `_graph_pass`, on ``.grad``.
        for node in reversed(order):
            g = node.grad
            if (g == 0.0 or g - g != 0.0) and not _passes_on(node, g, visit):
                continue
            op = node._op
            if op is None:
                continue
            a, b = node._a, node._b
            if b is None:
                partials = op.partials(a._data, node._data)
                a.grad += g * partials
            else:
                partials = da, db = op.partials(a._data, b._data, node._data)
                a.grad += g * da
                b.grad += g * db
            if visit is not None:
                visit(node, g, partials)
    except BaseException:
        restore_grads(order, earlier)
        raise
    return order, earlier


def _graph_pass(order: list, root: Node, visit: Callable | None) -> dict:
    """`reverse_pass` with `create_graph`: each gradient a Value (or a float while it is a constant)."""
    graph: dict = {root: 1.0}
    for node in reversed(order):
        g = graph.get(node, 0.0)
        # A Value gradient is never skipped: its number may change when its graph runs again.
        if type(g) is float and (g == 0.0 or g - g != 0.0) and not _passes_on(node, g, visit):
            continue
        op = node._op
        if op is None:
            continue
        partials = _hand_on_graph(node, g, graph)
        if visit is not None:
            visit(node, g, partials)
    return graph


def _passes_on(node: Node, g: float, visit: Callable | None) -> bool:
    """The rule for a gradient of 0 or off the floats, in both paths.

    A node whose g is 0 passes nothing on: 0 * partial changes nothing, and a
    partial that does not exist there (``x ** 0.5`` at 0) must not raise.  A g
    beyond the floats (inf, nan) is an OverflowError naming the node.
    """
    if g - g != 0.0:  # inf or nan: true only off the real numbers
        raise gradient_overflow(node, g)
    if g != 0.0:
        return True
    if visit is not None and node._op is not None:
        visit(node, g, None)
    return False


def restore_grads(order: list, earlier: list[tuple[Node, float]]) -> None:
    """Every ``.grad`` of `order` back to what it was before a float `reverse_pass`."""
    for node in order:
        node.grad = 0.0
    for node, grad_before in earlier:
        node.grad = grad_before


def _hand_on_graph(node: Node, g: Any, graph: dict) -> Any:
    """The graph path's hand-off, building no ``* 1`` and no ``0 +`` nodes."""
    op, parents = node._op, node.parents
    partials = op.partials(*parents, node)
    for parent, local in zip(parents, (partials,) if op.arity == 1 else partials):
        if type(local) is float and local in (1.0, -1.0):
            contribution = g if local == 1.0 else -g
        else:
            contribution = g * local
        graph[parent] = graph[parent] + contribution if parent in graph else contribution
    return partials


def topological_order(root: Node) -> list:
    """Every node `root` depends on, each after all of its parents (iterative DFS)."""
    order: list = []
    visited = {root}
    stack = [root]  # the path being explored
    while stack:
        node = stack[-1]
        # Descend into the first operand not yet visited (a before b); a leaf has
        # nothing to explore, so it is placed at once (half a graph is leaves) ...
        a = node._a
        if a is not None and a not in visited:
            visited.add(a)
            if a._op is None:
                order.append(a)
            else:
                stack.append(a)
                continue
        b = node._b
        if b is not None and b not in visited:
            visited.add(b)
            if b._op is None:
                order.append(b)
            else:
                stack.append(b)
                continue
        # ... or, with both placed, place the node itself.
        stack.pop()
        order.append(node)
    return order


def describe(node: Node) -> str:
    """"the 'tanh' node 'y'", "the leaf 'x'": a node named for an error message."""
    what = f"the {node._op.name!r} node" if node._op is not None else "the leaf"
    return f"{what} {node._label!r}" if node._label else what


def gradient_overflow(node: Node, g: float) -> OverflowError:
    return OverflowError(
        f"backward: the gradient of {describe(node)} (data {node._data!r}) is {g!r}: "
        "a derivative beyond the largest float"
    )


def fold(root: Node, combine: Callable, known: dict, children: Callable | None = None) -> Any:
    """``combine(node, [value of each child])`` for every node below `root`, children first.

    `known` maps nodes already decided to their values and is extended in
    place: the walk stops there (seed it with leaves to cut a graph at them).
    `children` defaults to the operands.  Iterative: no recursion limit.

    >>> from microgrid import Value
    >>> x = Value(2.0); y = x * x + x
    >>> fold(y, lambda node, depths: 1 + max(depths, default=0), {})   # the longest chain down to a leaf
    3
    """
    children = children or (lambda node: node.parents)
    stack = [root]
    while stack:
        node = stack[-1]
        if node in known:
            stack.pop()
            continue
        pending = [child for child in children(node) if child not in known]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        known[node] = combine(node, [known[child] for child in children(node)])
    return known[root]
