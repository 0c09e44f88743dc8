"""Weighted sums as one instruction each: most of a replay's speed, changing no bit.

A neuron's w0*x0 + w1*x1 + ... + b is a chain of "+" nodes over "*" nodes, each used
once: one line of arithmetic instead of a line per node, by the sum and product rules.
"""

from __future__ import annotations

import bisect
from typing import TypeGuard

from ..engine import Op, Value
from ..ops import ADD, MUL


def fuse_weighted_sums(order: list[Value], position: dict, tape: list[tuple], ops: list[Op]) -> list[tuple]:
    """The tape as instructions ``(k, op, i, j, terms)``: node k, its op, its operands (j = -1: none), and
    None, or for a chain rooted at k ``(terms in forward order, in the order backward() reaches them)``,
    a term ``(a, b)`` the product of nodes a and b, ``(a, -1)`` node a.  A chain is fused only where no
    bit changes: each sum keeps its order, and no node outside the chain adds to a gradient it adds to.
    """
    uses = [0] * len(order)
    for node in order:
        for parent in node.parents:
            uses[position[parent]] += 1

    def absorbable(node: Value | None, op: Op) -> TypeGuard[Value]:  # computed only for the chain, by op
        return node is not None and node._op is op and uses[position[node]] == 1

    positions = [k for k, _, _ in tape]  # increasing: the tape is in topological order
    chains: dict[int, tuple] = {}
    absorbed: set[int] = set()
    for node in reversed(order):  # roots first: a root's chain absorbs its spine
        k = position[node]
        if node._op is not ADD or k in absorbed:
            continue
        spine, terms, inner = [node], [], set()
        left = node._a
        while absorbable(left, ADD):
            spine.append(left)
            left = left._a
        operands = [left] + [n._b for n in reversed(spine)]  # t0, t1, ..., tn
        for t in operands:
            if absorbable(t, MUL):
                terms.append((position[t._a], position[t._b]))
                inner.add(position[t])
            else:
                terms.append((position[t], -1))
        inner.update(position[n] for n in spine[1:])
        if not inner:  # a single "+" of two nodes: nothing to gain
            continue
        # backward() adds to the terms' gradients in this order: the last term's to the third's, then t0's
        # and t1's if plain nodes (both at the first "+"), then t1's product's and t0's.
        first, second = terms[0], terms[1]
        backward_terms = [*reversed(terms[2:]), *(t for t in (first, second) if t[1] < 0)]
        backward_terms += [t for t in (second, first) if t[1] >= 0]
        # Fused only if no node outside the chain, placed among its nodes, adds to a gradient the chain adds to.
        targets = {a for a, _ in terms} | {b for _, b in terms if b >= 0}
        start, stop = bisect.bisect_right(positions, min(inner)), bisect.bisect_left(positions, k)
        if not any(n not in inner and (i in targets or j in targets) for n, i, j in tape[start:stop]):
            chains[k] = (tuple(terms), tuple(backward_terms))
            absorbed.update(inner)
    return [(k, op, i, j, chains.get(k)) for (k, i, j), op in zip(tape, ops, strict=True) if k not in absorbed]
