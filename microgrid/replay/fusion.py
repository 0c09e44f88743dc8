"""Weighted sums as one instruction each: most of a replay's speed, changing no bit."""

from __future__ import annotations

import bisect
import operator

from ..engine import OPS, Op, Value

# A neuron's weighted sum, w0*x0 + w1*x1 + ... + b, is a chain of "+" nodes over
# "*" nodes, each used once.  Replayed node by node it costs a call per node;
# replayed as one expression it is one line of arithmetic, which is most of replay's
# speed.  It uses only the sum and product rules, and the engine's own `+`
# and `*` (checked here, so a change to the op table cannot pass unnoticed).
_ADD, _MUL = OPS["+"], OPS["*"]
if not (
    _ADD.forward is operator.add
    and _MUL.forward is operator.mul
    and _ADD.partials(2.0, 3.0, 5.0) == (1.0, 1.0)
    and _MUL.partials(2.0, 3.0, 6.0) == (3.0, 2.0)
):
    raise ImportError("microgrid.replay: the engine's + and * are not the plain sum and product")


def fuse_weighted_sums(order: list[Value], position: dict, tape: list[tuple], ops: list[Op]) -> list[tuple]:
    """The tape as instructions, with every fusable chain of "+" nodes made one.

    An instruction is ``(k, op, i, j, terms)``: node k, its op, its operands
    (j = -1 for none), and ``terms``: None for a single node, or for a chain
    rooted at node k the pair ``(terms in forward order, terms in the order
    backward() reaches them)``, each term ``(a, b)`` a product of nodes a and
    b, or ``(a, -1)`` node a.
    A chain is fused only where that changes no bit of any result: every
    value is summed in the same order, and no node outside the chain adds to
    a gradient the chain adds to while the eager backward is inside it.
    """
    uses = [0] * len(order)
    for node in order:
        for parent in node.parents:
            uses[position[parent]] += 1

    def absorbable(node: Value, op: Op) -> bool:  # computed only for the chain, by op
        return node._op is op and uses[position[node]] == 1

    positions = [k for k, _, _ in tape]  # increasing: the tape is in topological order
    chains: dict[int, tuple] = {}
    absorbed: set[int] = set()
    for node in reversed(order):  # roots first: a root's chain absorbs its spine
        k = position[node]
        if node._op is not _ADD or k in absorbed:
            continue
        spine, terms, inner = [node], [], []
        left = node._a
        while absorbable(left, _ADD):
            spine.append(left)
            left = left._a
        operands = [left] + [n._b for n in reversed(spine)]  # t0, t1, ..., tn
        for t in operands:
            if absorbable(t, _MUL):
                terms.append((position[t._a], position[t._b]))
                inner.append(position[t])
            else:
                terms.append((position[t], -1))
        inner += [position[n] for n in spine[1:]]
        if not inner:  # a single "+" of two nodes: nothing to gain
            continue
        backward_terms = _eager_contribution_order(terms)
        if _safe_to_fuse(k, set(inner), backward_terms, tape, positions):
            chains[k] = (tuple(terms), tuple(backward_terms))
            absorbed.update(inner)
    return [(k, op, i, j, chains.get(k)) for (k, i, j), op in zip(tape, ops, strict=True) if k not in absorbed]


def _eager_contribution_order(terms: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The order in which backward() adds to the terms' gradients: from the last
    term to the third, then t0 and t1 if they are plain nodes (both at the
    first "+"), then t1's product and t0's product."""
    first, second = terms[0], terms[1]
    ordered = list(reversed(terms[2:]))
    ordered += [t for t in (first, second) if t[1] < 0]
    ordered += [t for t in (second, first) if t[1] >= 0]
    return ordered


def _safe_to_fuse(
    root: int, inner: set[int], terms: list[tuple[int, int]], tape: list[tuple], positions: list[int]
) -> bool:
    """True unless a node outside the chain, placed among the chain's nodes,
    adds to a gradient the chain adds to (fusing would reorder that sum)."""
    targets = {a for a, _ in terms} | {b for _, b in terms if b >= 0}
    start, stop = bisect.bisect_right(positions, min(inner)), bisect.bisect_left(positions, root)
    return not any(k not in inner and (i in targets or j in targets) for k, i, j in tape[start:stop])
