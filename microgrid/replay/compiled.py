"""`Replay`: a recorded graph, run as the Python source generated for it (`codegen`)."""

from __future__ import annotations

import builtins
import math
import warnings
import weakref
from collections.abc import Callable, Sequence

from ..engine import OPS, Op, Value, topological_order, trace_backward
from ..ops import ADD, DIV, MUL, POW, SUB, XLOGY
from .codegen import generate, live
from .fusion import fuse_weighted_sums
from .recording import ReplayError, record, refuse_value_dependent_reads, refuse_writes_to_values_held_elsewhere

# Python's compiler takes about 5 kB per generated line: past this many, a replay runs the engine's pass.
MAX_LINES = 150_000
# Beyond these, a product of three numbers may round to 0 or overflow (see Replay._exact).
_TINY, _HUGE = 2.0**-250, 2.0**250
# The ops whose local derivative by a constant operand is bounded by the other operand's numbers.
_BOUNDED = {ADD, SUB, MUL, DIV, POW, XLOGY}


class Replay:
    """A recorded graph: call it to run forward + backward at the inputs' current values.

    ``step()`` returns the output's value and adds d(output)/d(input) to each
    input's ``.grad``; ``step.source`` is the code it runs, ``len(step)`` the
    number of nodes, ``step.calls`` the calls so far; ``step.check_every``
    sets how often a call first re-records fn and compares (None: never).
    """

    def __init__(
        self,
        fn: Callable[..., Value],
        inputs: list[Value],
        output: Value,
        check_every: int | None = 200,
        reads: Sequence[Value] = (),
        data: Sequence[Value] = (),
    ):
        self.fn, self.inputs, self.data, self.check_every, self.calls = fn, inputs, list(data), check_every, 0
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        self._recorded = [node._data for node in order]  # leaves keep these values; the inputs' are given
        self._in_graph = [x for x in inputs if x in position]
        self._positions = [position[x] for x in [*inputs, *self.data] if x in position]
        # The tape: (position, operand, operand or -1) of each computed node, its op alongside.
        computed = [(k, node) for k, node in enumerate(order) if node._op is not None]
        self._tape = [(k, position[n._a], -1 if n._b is None else position[n._b]) for k, n in computed]
        self._ops: list[Op] = [node._op for _, node in computed]
        self._registered_ops = [op for op in dict.fromkeys(self._ops) if OPS.get(op.name) is op]
        self._program = fuse_weighted_sums(order, position, self._tape, self._ops)
        self._shape = _shape(order, position, {*inputs, *self.data})
        self._compile(order, position)
        # The leaves that are not inputs, in the graph or under a value fn read: see _hold_leaves_alive_elsewhere.
        leaves = dict.fromkeys(node for node in order if node._op is None)  # a set, in order
        for read in reads:
            leaves.update(dict.fromkeys(node for node in topological_order(read) if node._op is None))
        self._leaves = [weakref.ref(node) for node in leaves if node not in {*inputs, *self.data}]
        self._held: list[Value] = []
        self._held_values: list[float] = []

    def _compile(self, order: list[Value], position: dict) -> None:
        """Generate and load the code, and decide which check its numbers need (`_exact`)."""
        used = [x for x in self.data if x in position]
        self.source, bindings, self._interior = generate(order, self._program, self._in_graph, used)
        self._step, lines = None, self.source.count("\n")
        if lines > MAX_LINES:
            warnings.warn(
                f"compile: the graph of {len(order)} nodes makes {lines} lines of Python, "
                f"too many to compile (the limit is {MAX_LINES}); each call runs the engine's own pass instead",
                RuntimeWarning,
                stacklevel=4,
            )
            self.source = None
            return
        step = _load(self.source, bindings)
        fixed, alive = set(self._positions), live(order, position, set(self._positions))
        # A constant outside [_TINY, _HUGE] makes every call take the engine's pass.
        if _representable([n._data for k, n in enumerate(order) if n._op is None and k not in fixed]):
            self._step = step
        self._bounded = all(
            k in alive and all(position[p] in alive or _bounded(node, p) for p in node.parents)
            for k, node in enumerate(order)
            if node._op is not None
        )

    def _hold_leaves_alive_elsewhere(self) -> None:
        """Keep the leaves (not inputs) that outlive the recording: something outside fn
        holds them, so their ``.data`` may change, which each call checks.  Called by
        `compile` once it has dropped the recording."""
        self._held = [leaf for ref in self._leaves if (leaf := ref()) is not None]
        self._held_values = [leaf._data for leaf in self._held]
        del self._leaves

    def __len__(self) -> int:
        return len(self._recorded)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} nodes, {len(self.inputs)} inputs)"

    def __call__(self) -> float:
        self._before_call()
        value, grads = self._run([x._data for x in self._in_graph])
        for x, g in zip(self._in_graph, grads, strict=True):
            x._grad += g  # as backward() adds: not a number fn reads
        return value

    def _before_call(self) -> None:
        """Refuse a call whose ops, held leaves or graph have changed since recording."""
        self.calls += 1
        for op in self._registered_ops:
            if OPS.get(op.name) is not op:
                raise ReplayError(
                    f"replay: the op {op.name!r} has been removed or defined again since recording, "
                    "so the code would run its old rules; compile fn again"
                )
        if self._held and [leaf._data for leaf in self._held] != self._held_values:
            for leaf, recorded in zip(self._held, self._held_values, strict=True):
                if leaf._data != recorded:
                    name = f"{leaf.label!r} " if leaf.label else ""
                    raise ReplayError(
                        f"replay: the leaf {name}is not among the inputs, and its .data has changed "
                        f"since recording ({recorded!r}, now {leaf._data!r}); a replay keeps such a leaf "
                        "at its recorded value: pass it among the inputs, or compile fn again"
                    )
        if self.check_every is not None and _check_due(self.calls, self.check_every):
            self.check()

    def _run(self, args: list[float]) -> tuple[float, Sequence[float]]:
        """The value and the inputs' gradients at `args` (the inputs', then the data's values): by
        the generated code where its floats are the engine's (`_exact`), else by the engine's
        own pass, which gives the engine's answer or error."""
        if self._step is not None:
            try:
                value, grads, numbers = self._step(*args)
                if self._exact(grads, numbers):
                    return value, grads
            except (ArithmeticError, ValueError):
                pass
        nodes = [Value(x) for x in self._recorded]
        for k, x in zip(self._positions, args, strict=True):
            nodes[k] = Value(x)
        for (k, i, j), op in zip(self._tape, self._ops, strict=True):
            nodes[k] = op(nodes[i]) if j < 0 else op(nodes[i], nodes[j])
        gradients = trace_backward(nodes[-1])
        return nodes[-1]._data, [gradients.get(nodes[k], 0.0) for k in self._positions[: len(self._in_graph)]]

    def _exact(self, grads: Sequence[float], numbers: Sequence[float]) -> bool:
        """Whether the code's results are the engine's.  The code does the engine's arithmetic;
        the engine differs only where a gradient is not finite (an error), at a computed node
        whose gradient is 0 (a 0 that stands for an underflow may become an error below), and in
        the constants' gradients, which the code leaves out.  The numbers are the values and
        the computed nodes' gradients.  So it suffices that every value and gradient is at most
        _HUGE (the constants' gradients are then finite, `_bounded`) and either every computed
        node's gradient is non-zero, or no number is below _TINY either (no product of three
        such numbers rounds to 0)."""
        if not (math.hypot(*numbers) <= _HUGE and math.hypot(*grads) <= _HUGE):  # nan and inf fail too
            return False
        return (self._bounded and all(numbers[self._interior :])) or _representable((*numbers, *grads))

    def check(self) -> bool:
        """Record ``fn(*inputs)`` again, at the current values, and compare its graph with the tape.

        Returns True, or raises `ReplayError` naming the first node that differs.  Costs one
        eager forward pass; calls run it on the schedule `_check_due` gives.
        """
        output, reads, written = record(self.fn, self.inputs)
        refuse_value_dependent_reads(reads, [*self.inputs, *self.data], "check")
        order = topological_order(output)
        fresh = _shape(order, {node: k for k, node in enumerate(order)}, {*self.inputs, *self.data})
        del output, reads, order
        refuse_writes_to_values_held_elsewhere(written, "check")
        if fresh == self._shape:  # three list comparisons, in C
            return True
        recorded, now = zip(*self._shape, strict=True), zip(*fresh, strict=True)
        for k, (before, after) in enumerate(zip(recorded, now, strict=False)):  # the lengths may differ: said below
            if before != after:
                raise ReplayError(
                    f"check: the graph has changed at node {k} (in topological order): "
                    f"recorded {_describe(*before)}, now {_describe(*after)}; compile fn again"
                )
        raise ReplayError(
            f"check: the graph has changed: {len(self._shape[0])} nodes recorded, {len(fresh[0])} now; compile fn again"
        )


def _bounded(node: Value, constant: Value) -> bool:
    """Whether `node`'s derivative by its operand `constant` is bounded by numbers `_exact` checks:
    see `_BOUNDED` (0 / x is not: its derivative by the 0 is 1 / x)."""
    return node._op in _BOUNDED and not (node._op is DIV and constant is node._a and constant._data == 0.0)


def _representable(numbers: Sequence[float]) -> bool:
    """Every number 0 or in [_TINY, _HUGE] (hypot: their length, in one C loop; inf or nan if any is)."""
    return math.hypot(*numbers) <= _HUGE and min(filter(None, map(abs, numbers)), default=1.0) >= _TINY


def _load(source: str, bindings: dict) -> Callable:
    """The function ``step`` that `source` defines."""
    namespace = {"__name__": "microgrid_step", **bindings}
    exec(builtins.compile(source, "<microgrid step>", "exec"), namespace)  # source made by codegen from a graph
    return namespace["step"]  # type: ignore[no-any-return]


def _check_due(calls: int, every: int) -> bool:
    """Whether call number `calls` re-records and compares first: calls 1, 2, 4, 8, ... below
    `every` (a change made at call t is caught by call 2t), then every `every`-th.

    >>> [n for n in range(1, 701) if _check_due(n, 200)]
    [1, 2, 4, 8, 16, 32, 64, 128, 200, 400, 600]
    """
    return calls % every == 0 or (calls < every and calls & (calls - 1) == 0)


def _shape(order: list[Value], position: dict, inputs: set) -> tuple[list, list, list]:
    """What makes two recordings the same graph, as three lists (compared in C): per node,
    what it is (its op; a leaf is "input" or its constant's value) and its operands' positions."""
    what = [node._op if node._op is not None else "input" if node in inputs else node._data for node in order]
    return what, [position.get(node._a, -1) for node in order], [position.get(node._b, -1) for node in order]


def _describe(what: Op | str | float, first: int, second: int) -> str:
    if what == "input":
        return "an input"
    if not isinstance(what, Op):
        return f"the constant {what!r}"
    return f"op {what.name!r} of nodes {[k for k in (first, second) if k >= 0]}"
