"""Record a graph once, then replay its forward and backward on new values.

A training loop builds the same graph at every step: only the parameters'
values change.  `compile` records that graph once, as a *tape*: the nodes in
topological order, each with its `Op` and the tape positions of its operands.
Calling the result re-runs the forward pass (each op's ``forward`` on floats)
and the backward pass (each op's ``partials``) over flat lists of floats,
without making a single `Value`, and adds the gradients to the inputs'
``.grad``, as ``backward()`` would.

    >>> from microgrid import Value, compile
    >>> x, y = Value(2.0), Value(3.0)
    >>> step = compile(lambda x, y: x * y + x, [x, y])
    >>> step()                      # forward + backward at the current values
    8.0
    >>> x.grad, y.grad
    (4.0, 2.0)
    >>> x.data = 5.0; x.grad = y.grad = 0.0
    >>> step(), x.grad, y.grad      # new value, same graph
    (20.0, 4.0, 5.0)

Results are identical to the eager path, bit for bit: the same ops' rules run
on the same floats in the same order (the eager `backward()` order, which
fixes the order in which gradients are summed).

When a replay is valid, and what is detected
---------------------------------------------
A replay is the graph of ``fn(*inputs)`` *as recorded*.  It stays right as
long as fn would build the same graph again.  Ops that branch on a value
inside their own rules (relu, the ``**`` of a Value) are fine: the op's rule
runs at every replay.  What can change the graph is Python code in fn that
looks at a value, and Python code can only see a Value's number through
``.data``.  So:

* Detected by `compile`: fn reading ``.data`` of an input, or of anything
  computed from an input, while it is recorded (e.g. ``if x.data > 0:``, an
  accuracy count, an early exit).  That raises `ReplayError`: compute such
  things outside fn.  Reading a constant is fine.
* Detected by `Replay.check()`: anything that makes a fresh recording
  differ: another op, other operands, more or fewer nodes, a different
  constant (a new batch of data given as numbers, a random dropout mask, a
  changed hyperparameter inside fn).  It re-runs fn eagerly once, so call it
  when in doubt, or every so often in a long loop.
* Not detected without `check()`: fn depending on things other than its
  inputs' values, because a replay never calls fn: numbers, globals, data
  or random draws made inside fn are frozen at their recorded values, and a
  model that gains parameters keeps the old graph.  To feed new data each
  step, make the data leaves `Value` once, pass them among the inputs and set
  their ``.data``.

Only the inputs' ``.grad`` are written (accumulated, as ``backward()``
does); intermediate nodes and constants are not touched.  Inputs must be
leaves (Values not computed from others).

Speed
-----
Most of a network's nodes are its weighted sums, ``w0*x0 + w1*x1 + ... + b``:
chains of ``+`` over ``*`` nodes used nowhere else.  The tape replays each
such chain as one instruction, a tight loop over its terms, instead of a
call per node; the backward pass passes a chain's gradient straight to its
factors, and skips a whole chain whose gradient is 0 (a satisfied hinge, a
dead relu).  A chain is fused only where the eager pass would add the same
numbers in the same order, so results stay identical to the bit.  On
micrograd's demo step (benchmarks/RESULTS.md) a replay runs about 1.6x the
time of the same network written by hand in plain Python, 5x faster than
the eager step.  (Tried and dropped: generating straight-line Python source,
0.27 us/node and seconds to compile; running each level of the graph
through `map`, no faster and much harder to read.)
"""

from __future__ import annotations

import bisect
import inspect
import operator
from typing import Callable, Sequence

from . import engine
from .engine import Op, Value, _overflow, topological_order

__all__ = ["compile", "Replay", "ReplayError"]


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def compile(fn: Callable[..., Value], inputs: Sequence[Value]) -> "Replay":
    """Record the graph of ``fn(*inputs)`` once; the result replays it.

    ``inputs`` are the leaves whose values change between calls (parameters,
    and data leaves if fn is given new data through them).  Everything else
    fn uses is frozen at its recorded value.  A fn that takes no arguments
    is called as ``fn()``: ``compile(lambda: loss(model), model.parameters())``.

    >>> from microgrid import Value, compile
    >>> w = Value(0.5)
    >>> step = compile(lambda w: (w * 4.0).tanh(), [w])
    >>> step() == (w * 4.0).tanh().data
    True
    """
    inputs = _checked_inputs(inputs)
    output, reads = _record(fn, inputs)
    _refuse_value_dependent_reads(reads, inputs, "compile")
    return Replay(fn, inputs, output)


class Replay:
    """A recorded graph: call it to run forward + backward at the inputs' current values.

    ``step()`` returns the output's value (a float) and adds d(output)/d(input)
    to each input's ``.grad``.  ``len(step)`` is the number of nodes.
    """

    def __init__(self, fn: Callable[..., Value], inputs: list[Value], output: Value):
        self.fn = fn
        self.inputs = inputs
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        # Leaves keep their recorded values (the inputs' are overwritten at each call).
        # One slot more than the graph: a 1.0, so that a plain term of a weighted
        # sum can be read as a product (x * 1.0 is x, to the bit).
        self._values = [node._data for node in order] + [1.0]
        self._output = len(order) - 1  # the output is last in topological order
        self._input_positions = [position.get(x) for x in inputs]
        # The tape: (position, forward, partials, first operand, second operand or -1).
        self._tape: list[tuple] = []
        self._ops: list[Op] = []  # the tape's ops, for error messages
        for k, node in enumerate(order):
            op = node._op
            if op is None:
                continue
            operands = [position[p] for p in node.parents]
            second = operands[1] if op.arity == 2 else -1
            self._tape.append((k, op.forward, op.partials, operands[0], second))
            self._ops.append(op)
        # What a call runs: the tape, with each weighted sum made one instruction.
        self._program = _fuse_weighted_sums(order, position, self._tape, one=len(order))
        self._signature = _signature(order, position, set(inputs))

    def __len__(self) -> int:
        return len(self._values) - 1

    def __repr__(self) -> str:
        return f"Replay({len(self)} nodes, {len(self.inputs)} inputs)"

    def __call__(self) -> float:
        v = self._values.copy()
        for x, k in zip(self.inputs, self._input_positions):
            if k is not None:
                v[k] = x._data
        self._forward(v)
        g = self._backward(v)
        for x, k in zip(self.inputs, self._input_positions):
            if k is not None:
                x.grad += g[k]
        return v[self._output]

    def _forward(self, v: list[float]) -> None:
        try:
            for k, forward, _, i, j, terms in self._program:
                if terms is not None:  # t0 + t1 + ..., left to right as the graph adds
                    factors = iter(terms[0])
                    a, b = next(factors)
                    total = v[a] * v[b]
                    for a, b in factors:
                        total = total + v[a] * v[b]
                    v[k] = total
                else:
                    v[k] = forward(v[i]) if j < 0 else forward(v[i], v[j])
            total = sum(v)  # inf or nan if any value is: one C loop instead of a test per node
            failed = total - total != 0.0
        except (ArithmeticError, ValueError):
            failed = True
        if failed:  # again node by node, to raise the error the eager path raises
            self._forward_node_by_node(v)

    def _forward_node_by_node(self, v: list[float]) -> None:
        try:
            for k, forward, _, i, j in self._tape:
                v[k] = forward(v[i]) if j < 0 else forward(v[i], v[j])
        except (ArithmeticError, ValueError):
            self._raise_first_non_finite(v)  # an inf or nan upstream is the real cause
            raise  # the op's own clear error (log of a negative number, ...)
        self._raise_first_non_finite(v)

    def _backward(self, v: list[float]) -> list[float]:
        """The eager `backward()` loop, on floats: same nodes, same order, same rules."""
        g = [0.0] * len(v)
        g[self._output] = 1.0
        for k, _, partials, i, j, terms in reversed(self._program):
            gk = g[k]
            if gk == 0.0:  # as backward(): nothing to pass on
                continue
            if terms is not None:
                # d(sum)/d(term) = 1 and d(a*b)/da = b: in the eager order of contributions.
                for a, b in terms[1]:
                    if b < 0:
                        g[a] += gk
                    else:
                        g[a] += gk * v[b]
                        g[b] += gk * v[a]
            elif j < 0:
                g[i] += gk * partials(v[i], v[k])
            else:
                da, db = partials(v[i], v[j], v[k])
                g[i] += gk * da
                g[j] += gk * db
        total = sum(g)  # as backward(): a gradient beyond the floats is an error
        k = next((k for k, gk in enumerate(g) if gk - gk != 0.0), None) if total - total != 0.0 else None
        if k is not None:  # (a sum of finite gradients may overflow: then all is fine)
            raise OverflowError(
                f"replay: the gradient of node {k} (in topological order, data {v[k]!r}) is {g[k]!r}: "
                "a derivative beyond the largest float"
            )
        return g

    def _raise_first_non_finite(self, v: list[float]) -> None:
        """The error the eager path raises at the first node off the real numbers."""
        for (k, _, _, i, j), op in zip(self._tape, self._ops):
            if v[k] - v[k] != 0.0:
                raise _overflow(op, v[k], *((v[i],) if j < 0 else (v[i], v[j])))
        # Otherwise a sum of finite values overflowed: every value is fine.

    def check(self) -> bool:
        """Re-record ``fn(*inputs)`` at the current values and compare with the tape.

        Returns True, or raises `ReplayError` naming the first node that differs.
        Costs one eager forward pass.
        """
        output, reads = _record(self.fn, self.inputs)
        _refuse_value_dependent_reads(reads, self.inputs, "check")
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        fresh = _signature(order, position, set(self.inputs))
        for k, (recorded, now) in enumerate(zip(self._signature, fresh)):
            if recorded != now:
                raise ReplayError(
                    f"check: the graph has changed at node {k} (in topological order): "
                    f"recorded {_describe(recorded)}, now {_describe(now)}; compile fn again"
                )
        if len(fresh) != len(self._signature):
            raise ReplayError(
                f"check: the graph has changed: {len(self._signature)} nodes recorded, "
                f"{len(fresh)} now; compile fn again"
            )
        return True


# ------------------------------------------------------- weighted sums
# A neuron's weighted sum, w0*x0 + w1*x1 + ... + b, is a chain of "+" nodes over
# "*" nodes, each used once.  Replayed node by node it costs a call per node;
# replayed as one instruction it is one tight loop, which is most of replay's
# speed.  It uses only the sum and product rules, and the engine's own `+`
# and `*` (checked here, so a change to the op table cannot pass unnoticed).
_ADD, _MUL = Value.__add__.op, Value.__mul__.op
if not (
    _ADD.forward is operator.add
    and _MUL.forward is operator.mul
    and _ADD.partials(2.0, 3.0, 5.0) == (1.0, 1.0)
    and _MUL.partials(2.0, 3.0, 6.0) == (3.0, 2.0)
):
    raise ImportError("microgrid.replay: the engine's + and * are not the plain sum and product")


def _fuse_weighted_sums(order: list[Value], position: dict, tape: list[tuple], one: int) -> list[tuple]:
    """The tape with every fusable chain of "+" nodes replaced by one instruction.

    An instruction is the tape's ``(k, forward, partials, i, j)`` plus ``terms``:
    None for a single node, or for a chain rooted at node k the pair
    ``(factors, terms in the order backward() reaches them)``: `factors` are
    each term's two factors in forward order (a plain term is node * `one`,
    the slot holding 1.0), and each backward term ``(a, b)`` is a product of
    nodes a and b, or ``(a, -1)`` node a.
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

    positions = [entry[0] for entry in tape]  # increasing: the tape is in topological order
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
            factors = [(a, b if b >= 0 else one) for a, b in terms]
            chains[k] = (factors, backward_terms)
            absorbed.update(inner)
    return [
        entry + (chains.get(entry[0]),) for entry in tape if entry[0] not in absorbed
    ]


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
    for k, _, _, i, j in tape[start:stop]:
        if k not in inner and (i in targets or j in targets):
            return False
    return True


# ----------------------------------------------------------------- helpers
def _checked_inputs(inputs: Sequence[Value]) -> list[Value]:
    inputs = list(inputs)
    seen: set[Value] = set()
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"compile: inputs[{i}] must be a Value, got {type(x).__name__}: {x!r}")
        if x._op is not None:
            raise ValueError(
                f"compile: inputs[{i}] ({x!r}) is the result of {x.op!r}, not a leaf; "
                "inputs must be leaves (parameters or data)"
            )
        if x in seen:
            raise ValueError(f"compile: inputs[{i}] ({x!r}) appears twice")
        seen.add(x)
    return inputs


def _record(fn: Callable[..., Value], inputs: list[Value]) -> tuple[Value, list[Value]]:
    """``fn(*inputs)``, and every Value whose ``.data`` it read meanwhile."""
    outer = engine._data_reads
    reads: list[Value] = []
    engine._data_reads = reads
    try:
        output = fn() if _takes_no_arguments(fn) else fn(*inputs)
    finally:
        engine._data_reads = outer
        if outer is not None:  # a recording inside a recording: the outer one saw them too
            outer.extend(reads)
    if not isinstance(output, Value):
        raise TypeError(f"compile: fn must return a Value, got {type(output).__name__}: {output!r}")
    return output, reads


def _takes_no_arguments(fn: Callable) -> bool:
    try:
        return not inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: pass the inputs
        return False


def _refuse_value_dependent_reads(reads: list[Value], inputs: list[Value], where: str) -> None:
    """ReplayError if fn read the value of an input or of anything computed from one."""
    watched = set(inputs)
    checked: set[Value] = set()
    for read in reads:
        if read in checked:
            continue
        checked.add(read)
        if any(node in watched for node in topological_order(read)):
            name = f"{read.label!r} " if read.label else ""
            made = f"the result of {read.op!r}" if read.op else "an input"
            raise ReplayError(
                f"{where}: fn read .data of {name}({made}, value {read._data!r}) while being recorded; "
                "its graph may then depend on the inputs' values, which a replay cannot follow. "
                "Read values outside fn (e.g. compute accuracy from the model after the step)."
            )


def _signature(order: list[Value], position: dict, inputs: set) -> list[tuple]:
    """What makes two recordings the same graph: per node, its op and operands,
    or for a leaf, "input" or its constant value."""
    signature = []
    for node in order:
        if node._op is not None:
            signature.append((node._op.name, tuple(position[p] for p in node.parents)))
        elif node in inputs:
            signature.append(("input",))
        else:
            signature.append(("constant", node._data))
    return signature


def _describe(entry: tuple) -> str:
    if entry[0] == "input":
        return "an input"
    if entry[0] == "constant":
        return f"the constant {entry[1]!r}"
    return f"op {entry[0]!r} of nodes {list(entry[1])}"
