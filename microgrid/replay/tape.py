"""`Replay`: a recorded graph run on flat lists of floats; `compile` records one."""

from __future__ import annotations

import weakref
from typing import Callable, Sequence

from .._arguments import integer
from ..engine import OPS, Op, Value, topological_order, trace_backward
from .fusion import compact, fuse_weighted_sums
from .recording import (
    ReplayError,
    checked_inputs,
    record,
    refuse_value_dependent_reads,
    refuse_writes_to_values_held_elsewhere,
)

__all__ = ["compile", "Replay", "ReplayError"]


def compile(fn: Callable[..., Value], inputs: Sequence[Value], check_every: int | None = 200) -> "Replay":
    """Record the graph of ``fn(*inputs)`` once; the result replays it.

    ``inputs`` are the leaves whose values change between calls (parameters,
    and data leaves if fn is given new data through them).  Everything else
    fn uses is kept at its recorded value, and checked as the module's
    docstring says: held leaves at every call, the whole graph every
    `check_every` calls (None: never).  A fn that takes no arguments is
    called as ``fn()``: ``compile(lambda: loss(model), model.parameters())``.

    >>> from microgrid import Value, compile
    >>> w = Value(0.5)
    >>> step = compile(lambda w: (w * 4.0).tanh(), [w])
    >>> step() == (w * 4.0).tanh().data
    True
    """
    inputs = checked_inputs(inputs)
    if check_every is not None:
        integer(check_every, "check_every (or None)", "compile", minimum=1)
    output, reads, written = record(fn, inputs)
    refuse_value_dependent_reads(reads, inputs, "compile")
    replay = Replay(fn, inputs, output, check_every, [node for node, _ in reads])
    del output, reads  # the recording's own Values go: what stays alive is held elsewhere
    refuse_writes_to_values_held_elsewhere(written, "compile")
    replay._hold_leaves_alive_elsewhere()
    return replay


class Replay:
    """A recorded graph: call it to run forward + backward at the inputs' current values.

    ``step()`` returns the output's value (a float) and adds d(output)/d(input)
    to each input's ``.grad``.  ``len(step)`` is the number of nodes;
    ``step.calls`` counts the calls, ``step.check_every`` sets how often a call
    first re-records fn and compares (None: never).
    """

    def __init__(
        self, fn: Callable[..., Value], inputs: list[Value], output: Value, check_every: int | None = 200, reads: Sequence[Value] = ()
    ):
        self.fn = fn
        self.inputs = inputs
        self.check_every = check_every
        self.calls = 0
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        # Leaves keep their recorded values (the inputs' are overwritten at each call).
        self._recorded = [node._data for node in order]
        last = len(order) - 1  # the output is last in topological order
        self._input_positions = [position.get(x) for x in inputs]
        # The tape: (position, first operand, second operand or -1) of each node
        # that is not a leaf, and its op alongside.  (Numbers only: a tuple of
        # ints is not watched by the garbage collector, whose full collections
        # would otherwise walk a tuple per node.)
        self._tape: list[tuple[int, int, int]] = []
        self._ops: list[Op] = []
        for k, node in enumerate(order):
            op = node._op
            if op is not None:
                b = node._b
                self._tape.append((k, position[node._a], -1 if b is None else position[b]))
                self._ops.append(op)
        # The ops of the table it uses, each of which a call checks is still the one in the table.
        self._registered_ops = [op for op in dict.fromkeys(self._ops) if OPS.get(op.name) is op]
        # What a call runs: the tape, with each weighted sum made one instruction
        # (a plain term t of a sum is read as t * 1.0, which is t to the bit:
        # the 1.0 is one slot more than the graph) ...
        one = len(order)
        program = fuse_weighted_sums(order, position, self._tape, self._ops, one)
        # ... on a list of only the values it reads or writes: the nodes inside
        # a fused sum are neither, and are most of a network's nodes.
        keep = {last, one} | {k for k in self._input_positions if k is not None}
        self._program, self._positions = compact(program, keep)
        slot = {k: s for s, k in enumerate(self._positions)}
        recorded = self._recorded + [1.0]
        self._values = [recorded[k] for k in self._positions]
        self._output = slot[last]
        self._input_slots = [slot.get(k) for k in self._input_positions]
        # What a check compares.
        self._shape = _shape(order, position, set(inputs))
        # The leaves that are not inputs, in the graph or under a value fn read,
        # weakly: see _hold_leaves_alive_elsewhere.
        leaves = dict.fromkeys(node for node in order if node._op is None)  # a set, in order
        for read in reads:
            leaves.update(dict.fromkeys(node for node in topological_order(read) if node._op is None))
        inputs_set = set(inputs)
        self._leaves = [weakref.ref(node) for node in leaves if node not in inputs_set]
        self._held: list[Value] = []
        self._held_values: list[float] = []

    def _hold_leaves_alive_elsewhere(self) -> None:
        """Keep the leaves (not inputs) that outlive the recording: something
        outside fn holds them, so their ``.data`` may change, and each call checks it.
        Called by `compile` once it has dropped the recording."""
        self._held = [leaf for ref in self._leaves if (leaf := ref()) is not None]
        self._held_values = [leaf._data for leaf in self._held]
        del self._leaves

    def __len__(self) -> int:
        return len(self._recorded)

    def __repr__(self) -> str:
        return f"Replay({len(self)} nodes, {len(self.inputs)} inputs)"

    def __call__(self) -> float:
        self.calls += 1
        for op in self._registered_ops:
            if OPS.get(op.name) is not op:
                raise ReplayError(
                    f"replay: the op {op.name!r} has been removed or defined again since recording, "
                    "so the tape would run its old rules; compile fn again"
                )
        if self._held and [leaf._data for leaf in self._held] != self._held_values:
            self._raise_changed_leaf()
        if self.check_every is not None and _check_due(self.calls, self.check_every):
            self.check()
        v = self._values.copy()
        for x, s in zip(self.inputs, self._input_slots):
            if s is not None:
                v[s] = x._data
        self._forward(v)
        g, uncertain = self._backward(v)
        if uncertain or min(map(abs, filter(None, v)), default=1.0) < _TINY:
            g = self._engine_gradients()  # the engine's own pass: its answer, or its error
            slots = range(len(self.inputs))
        else:
            slots = self._input_slots
        for x, s in zip(self.inputs, slots, strict=True):
            if s is not None:
                x._grad += g[s]  # as backward() adds: not a number fn reads
        return v[self._output]

    def _raise_changed_leaf(self) -> None:
        for leaf, recorded in zip(self._held, self._held_values):
            if leaf._data != recorded:
                name = f"{leaf.label!r} " if leaf.label else ""
                raise ReplayError(
                    f"replay: the leaf {name}is not among the inputs, and its .data has changed "
                    f"since recording ({recorded!r}, now {leaf._data!r}); a replay keeps such a leaf "
                    "at its recorded value: pass it among the inputs, or compile fn again"
                )

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
            self._forward_node_by_node()

    def _forward_node_by_node(self) -> None:
        """The tape, every node, on a list of every node's value (raises where eager would)."""
        v = self._recorded.copy()
        for x, k in zip(self.inputs, self._input_positions):
            if k is not None:
                v[k] = x._data
        try:
            for (k, i, j), op in zip(self._tape, self._ops):
                v[k] = op.forward(v[i]) if j < 0 else op.forward(v[i], v[j])
        except (ArithmeticError, ValueError):
            self._raise_first_non_finite(v)  # an inf or nan upstream is the real cause
            raise  # the op's own clear error (log of a negative number, ...)
        self._raise_first_non_finite(v)

    def _backward(self, v: list[float]) -> tuple[list[float], bool]:
        """The eager `backward()` loop, on floats: same nodes, same order, same rules;
        and whether a gradient became a 0 that the engine would not take as exact
        (microgrid.reverse: `_zero`), which this loop does not follow."""
        uncertain = False
        g = [0.0] * len(v)
        g[self._output] = 1.0
        for k, _, partials, i, j, terms in reversed(self._program):
            gk = g[k]
            if gk == 0.0:  # as backward(): nothing to pass on
                continue
            if terms is not None:
                if -_TINY < gk < _TINY:  # gk * v could underflow: see _TINY
                    uncertain = True
                # d(sum)/d(term) = 1 and d(a*b)/da = b: in the eager order of contributions.
                for a, b in terms[1]:
                    if b < 0:
                        g[a] += gk
                    else:
                        g[a] += gk * v[b]
                        g[b] += gk * v[a]
            elif j < 0:
                d = partials(v[i], v[k])
                c = gk * d
                if c == 0.0 and (d != 0.0 or v[i] != 0.0 and v[k] != 0.0):
                    uncertain = True
                g[i] += c
            else:
                da, db = partials(v[i], v[j], v[k])
                c = gk * da
                if c == 0.0 and (da != 0.0 or v[i] != 0.0 and v[j] != 0.0 and v[k] != 0.0):
                    uncertain = True
                g[i] += c
                c = gk * db
                if c == 0.0 and (db != 0.0 or v[i] != 0.0 and v[j] != 0.0 and v[k] != 0.0):
                    uncertain = True
                g[j] += c
        total = sum(g)  # as backward(): a gradient beyond the floats is an error
        s = next((s for s, gs in enumerate(g) if gs - gs != 0.0), None) if total - total != 0.0 else None
        if s is not None:  # (a sum of finite gradients may overflow: then all is fine)
            raise OverflowError(
                f"replay: the gradient of node {self._positions[s]} (in topological order, data {v[s]!r}) "
                f"is {g[s]!r}: a derivative beyond the largest float"
            )
        return g, uncertain

    def _engine_gradients(self) -> list[float]:
        """d(output)/d(input) by the engine's own reverse pass, on the graph built
        again from the tape at the current values."""
        nodes = [Value(x) for x in self._recorded]
        for x, k in zip(self.inputs, self._input_positions):
            if k is not None:
                nodes[k] = Value(x._data)
        for (k, i, j), op in zip(self._tape, self._ops):
            nodes[k] = op(nodes[i]) if j < 0 else op(nodes[i], nodes[j])
        gradients = trace_backward(nodes[-1])
        return [gradients.get(nodes[k], 0.0) if k is not None else 0.0 for k in self._input_positions]

    def _raise_first_non_finite(self, v: list[float]) -> None:
        """The error the eager path raises at the first node off the real numbers."""
        for (k, i, j), op in zip(self._tape, self._ops):
            if v[k] - v[k] != 0.0:
                raise op.overflow(v[k], *((v[i],) if j < 0 else (v[i], v[j])))
        # Otherwise a sum of finite values overflowed: every value is fine.

    def check(self) -> bool:
        """Record ``fn(*inputs)`` again, at the current values, and compare its graph with the tape.

        Returns True, or raises `ReplayError` naming the first node that
        differs.  Costs one eager forward pass and a walk of the graph.  Calls
        run it on their own, as the module's docstring says (`_check_due`).
        """
        output, reads, written = record(self.fn, self.inputs)
        refuse_value_dependent_reads(reads, self.inputs, "check")
        order = topological_order(output)
        fresh = _shape(order, {node: k for k, node in enumerate(order)}, set(self.inputs))
        del output, reads, order
        refuse_writes_to_values_held_elsewhere(written, "check")
        if fresh == self._shape:  # three list comparisons, in C
            return True
        recorded, now = zip(*self._shape), zip(*fresh)
        for k, (before, after) in enumerate(zip(recorded, now)):
            if before != after:
                raise ReplayError(
                    f"check: the graph has changed at node {k} (in topological order): "
                    f"recorded {_describe(*before)}, now {_describe(*after)}; compile fn again"
                )
        raise ReplayError(
            f"check: the graph has changed: {len(self._shape[0])} nodes recorded, {len(fresh[0])} now; compile fn again"
        )



#: Below this a gradient or a value may make a product of the two in a fused
#: weighted sum underflow to 0 (2^-500 each: far from 2^-1074), which the loop
#: does not follow: such a call takes the engine's own pass instead.
_TINY = 2.0**-500


def _check_due(calls: int, every: int) -> bool:
    """Whether call number `calls` re-records and compares first: calls 1, 2, 4,
    8, ... below `every` (so a change made at call t is caught by call 2t), then
    every `every`-th call.

    >>> [n for n in range(1, 701) if _check_due(n, 200)]
    [1, 2, 4, 8, 16, 32, 64, 128, 200, 400, 600]
    """
    return calls % every == 0 or (calls < every and calls & (calls - 1) == 0)


def _shape(order: list[Value], position: dict, inputs: set) -> tuple[list, list, list]:
    """What makes two recordings the same graph, as three lists (compared in C):
    per node, what it is (its op's name; a leaf is "input" or its constant's
    value) and the positions of its operands (-1: none)."""
    what = [node._op if node._op is not None else "input" if node in inputs else node._data for node in order]
    first = [position.get(node._a, -1) for node in order]
    second = [position.get(node._b, -1) for node in order]
    return what, first, second


def _describe(what: Op | str | float, first: int, second: int) -> str:
    if what == "input":
        return "an input"
    if not isinstance(what, Op):
        return f"the constant {what!r}"
    return f"op {what.name!r} of nodes {[k for k in (first, second) if k >= 0]}"

