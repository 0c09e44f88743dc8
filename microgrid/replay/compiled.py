"""`Replay`: a recorded graph, run as the Python source generated for it (`codegen`)."""

from __future__ import annotations

import builtins
import math
import weakref
from collections.abc import Callable, Sequence

from ..engine import OPS, Op, Value, topological_order, trace_backward
from .codegen import generate
from .fusion import fuse_weighted_sums
from .recording import ReplayError, record, refuse_value_dependent_reads, refuse_writes_to_values_held_elsewhere

__all__ = ["Replay", "ReplayError"]


class Replay:
    """A recorded graph: call it to run forward + backward at the inputs' current values.

    ``step()`` returns the output's value (a float) and adds d(output)/d(input)
    to each input's ``.grad``.  ``step.source`` is the code it runs;
    ``len(step)`` is the number of nodes; ``step.calls`` counts the calls,
    ``step.check_every`` sets how often a call first re-records fn and
    compares (None: never).
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
        self.fn, self.inputs, self.data = fn, inputs, list(data)
        self.check_every = check_every
        self.calls = 0
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        # Leaves keep their recorded values (the inputs' are given at each call).
        self._recorded = [node._data for node in order]
        self._in_graph = [x for x in inputs if x in position]
        self._positions = [position[x] for x in [*inputs, *self.data] if x in position]
        # The tape: (position, first operand, second operand or -1) of each node
        # that is not a leaf, and its op alongside: what the engine's own pass
        # and a check rebuild the graph from.
        self._tape: list[tuple[int, int, int]] = []
        self._ops: list[Op] = []
        for k, node in enumerate(order):
            if node._op is not None:
                self._tape.append((k, position[node._a], -1 if node._b is None else position[node._b]))
                self._ops.append(node._op)
        # The ops of the table it uses, each of which a call checks is still the one in the table.
        self._registered_ops = [op for op in dict.fromkeys(self._ops) if OPS.get(op.name) is op]
        self._program = fuse_weighted_sums(order, position, self._tape, self._ops)
        self.source, bindings = generate(order, self._program, self._in_graph, [x for x in self.data if x in position])
        self._step = _load(self.source, bindings)
        # A constant outside the range of `_representable` makes every call take the engine's pass.
        fixed = set(self._positions)
        self._constants_fine = _representable(
            [n._data for k, n in enumerate(order) if n._op is None and k not in fixed]
        )
        self._shape = _shape(order, position, {*inputs, *self.data})
        # The leaves that are not inputs, in the graph or under a value fn read,
        # weakly: see _hold_leaves_alive_elsewhere.
        leaves = dict.fromkeys(node for node in order if node._op is None)  # a set, in order
        for read in reads:
            leaves.update(dict.fromkeys(node for node in topological_order(read) if node._op is None))
        fixed_leaves = {*inputs, *self.data}
        self._leaves = [weakref.ref(node) for node in leaves if node not in fixed_leaves]
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
            self._raise_changed_leaf()
        if self.check_every is not None and _check_due(self.calls, self.check_every):
            self.check()

    def _run(self, args: list[float]) -> tuple[float, Sequence[float]]:
        """The value and the inputs' gradients at `args` (the inputs', then the data's values):
        by the generated code, or, where its floats could differ from the engine's (a
        number beyond the floats, or so small that a product of two may round to 0) or
        it raises, by the engine's own pass, which gives the engine's answer or error."""
        try:
            value, grads, numbers = self._step(*args)
            if self._constants_fine and _representable(numbers):
                return value, grads
        except (ArithmeticError, ValueError):
            pass
        return self._engine_pass(args)

    def _engine_pass(self, args: list[float]) -> tuple[float, list[float]]:
        nodes = [Value(x) for x in self._recorded]
        for k, x in zip(self._positions, args, strict=True):
            nodes[k] = Value(x)
        for (k, i, j), op in zip(self._tape, self._ops, strict=True):
            nodes[k] = op(nodes[i]) if j < 0 else op(nodes[i], nodes[j])
        gradients = trace_backward(nodes[-1])
        return nodes[-1]._data, [gradients.get(nodes[k], 0.0) for k in self._positions[: len(self._in_graph)]]

    def _raise_changed_leaf(self) -> None:
        for leaf, recorded in zip(self._held, self._held_values, strict=True):
            if leaf._data != recorded:
                name = f"{leaf.label!r} " if leaf.label else ""
                raise ReplayError(
                    f"replay: the leaf {name}is not among the inputs, and its .data has changed "
                    f"since recording ({recorded!r}, now {leaf._data!r}); a replay keeps such a leaf "
                    "at its recorded value: pass it among the inputs, or compile fn again"
                )

    def check(self) -> bool:
        """Record ``fn(*inputs)`` again, at the current values, and compare its graph with the tape.

        Returns True, or raises `ReplayError` naming the first node that
        differs.  Costs one eager forward pass and a walk of the graph.  Calls
        run it on their own, as the module's docstring says (`_check_due`).
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


# Where every value and gradient lies in [2^-250, 2^250] (or is 0), no product of a
# gradient and a built-in op's local derivative (at most three such numbers) can
# round to 0 or overflow: the engine's rules for such a 0 cannot differ from the code's.
_TINY, _HUGE = 2.0**-250, 2.0**250


def _representable(numbers: Sequence[float]) -> bool:
    # hypot: the numbers' length, in one C loop; inf or nan if any number is.
    return math.hypot(*numbers) <= _HUGE and min(filter(None, map(abs, numbers)), default=1.0) >= _TINY


def _load(source: str, bindings: dict) -> Callable:
    """The function ``step`` that `source` defines."""
    namespace = {"__name__": "microgrid_step", **bindings}
    exec(builtins.compile(source, "<microgrid step>", "exec"), namespace)  # source made by codegen from a graph
    return namespace["step"]  # type: ignore[no-any-return]


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
