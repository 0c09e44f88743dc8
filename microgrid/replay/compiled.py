"""`Replay`, `BatchReplay`: fn recorded (refused if it took a number from a Value or set one meanwhile), and its
graph run as the Python generated for it, on floats or on numpy arrays of samples."""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import math
import warnings
import weakref
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from .._arguments import ordered
from ..engine import OPS, Op, Value, observing, trace_backward
from ..graphs import fold, topological_order
from ..ops import ADD, DIV, MUL, POW, SUB, XLOGY
from .codegen import fuse_weighted_sums, generate

# Python's compiler takes about 5 kB per generated line: past this many, a replay runs the engine's pass.
MAX_LINES = 150_000
# Beyond these, a product of three numbers may round to 0 or overflow (see Replay._exact).
_TINY, _HUGE = 2.0**-250, 2.0**250
# The ops whose local derivative by a constant operand is bounded by the other operand's numbers.
_BOUNDED = {ADD, SUB, MUL, DIV, POW, XLOGY}
Step = Callable[..., tuple[Any, Any, Any]]  # a generated step: (value, gradients, the numbers `_exact` checks)


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def _named(node: Value) -> str:  # a message's name for the node: its label quoted, and a space
    return f"{node.label!r} " if node.label else ""


class Replay:
    """``step()``: the output's value at the inputs' current values, adding d(output)/d(input) to each ``.grad``;
    ``step.source``: the code it runs; ``len(step)``: its nodes; ``step.calls``: the calls so far."""

    source: str | None

    def __init__(self, fn: Callable[..., Value], inputs: list[Value], check_every: int | None, data: Sequence = ()):
        self.fn, self.inputs, self.data, self.check_every, self.calls = fn, inputs, list(data), check_every, 0
        leaves = record(fn, inputs, self.data, "compile", self._build)
        # Held: the leaves (not inputs) that outlive the recording's own Values; their .data may change, as calls check.
        self._held = [leaf for ref in leaves if (leaf := ref()) is not None]
        self._held_values = [leaf._data for leaf in self._held]

    def _build(self, output: Value, reads: list[Value]) -> list[weakref.ref[Value]]:
        """Generate the code of `output`'s graph; weak references to the leaves, not inputs, in it or under a read."""
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        self._recorded = [node._data for node in order]  # leaves keep these values; the inputs' are given
        self._in_graph = [x for x in self.inputs if x in position]
        self._columns = [k for k, x in enumerate(self.data) if x in position]  # the data leaves the output uses
        self._positions = [position[x] for x in [*self._in_graph, *(self.data[k] for k in self._columns)]]
        self._shape = what, first, second = self._shape_of(order)
        # The tape: (position, op, operand, operand or -1) of each computed node, in topological order.
        self._tape = [(k, op, first[k], second[k]) for k, op in enumerate(what) if isinstance(op, Op)]
        self._registered_ops = [op for op in dict.fromkeys(t[1] for t in self._tape) if OPS.get(op.name) is op]
        self._program = fuse_weighted_sums(order, position, self._tape)
        alive = set(self._positions)  # and the nodes computed from them: the nodes whose gradients matter
        for k, node in enumerate(order):
            if node._op is not None and any(position[p] in alive for p in node.parents):
                alive.add(k)
        self._step = self._generate(order, alive)
        # Whether every computed node is live and its derivative by a constant operand is bounded by numbers
        # `_exact` checks (not 0 / x's by the 0: 1 / x).
        by_constants = [(n, p) for n in order if n._op is not None for p in n.parents if position[p] not in alive]
        self._bounded = all(position[n] in alive for n in order if n._op is not None) and all(
            n._op in _BOUNDED and not (n._op is DIV and p is n._a and p._data == 0.0) for n, p in by_constants
        )
        given, under = {*self.inputs, *self.data}, itertools.chain(order, *map(topological_order, reads))
        return [weakref.ref(node) for node in dict.fromkeys(under) if node._op is None and node not in given]

    def _generate(self, order: list[Value], alive: set[int]) -> Step | None:
        """Set ``source``; the step it defines, or None where every call takes the engine's pass."""
        self.source, bindings, self._interior = generate(
            order, self._program, self._positions, len(self._in_graph), alive
        )
        if (lines := self.source.count("\n")) > MAX_LINES:
            why = f"makes {lines} lines of Python, too many to compile (the limit is {MAX_LINES})"
            _warn(f"compile: the graph of {len(order)} nodes {why}; each call runs the engine's own pass instead")
            self.source = None
            return None
        fixed = set(self._positions)  # a constant outside [_TINY, _HUGE] makes every call take the engine's pass
        constants = [n._data for k, n in enumerate(order) if n._op is None and k not in fixed]
        return _load(self.source, bindings) if _representable(constants) else None

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
                    raise ReplayError(
                        f"replay: the leaf {_named(leaf)}is not among the inputs, and its .data has changed "
                        f"since recording ({recorded!r}, now {leaf._data!r}); a replay keeps such a leaf "
                        "at its recorded value: pass it among the inputs, or compile fn again"
                    )
        calls, every = self.calls, self.check_every
        # Record fn again at calls 1, 2, 4, ... (a change at call t is caught by 2t), then every `every`-th.
        if every is not None and (calls % every == 0 or (calls < every and calls & (calls - 1) == 0)):
            self.check()

    def _run(self, args: list[float]) -> tuple[float, Sequence[float]]:
        """The value and the inputs' gradients at `args`: by the code if `_exact`, else by the engine's pass."""
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
        for k, op, i, j in self._tape:
            nodes[k] = op(nodes[i]) if j < 0 else op(nodes[i], nodes[j])
        gradients = trace_backward(nodes[-1])
        return nodes[-1]._data, [gradients.get(nodes[k], 0.0) for k in self._positions[: len(self._in_graph)]]

    def _exact(self, grads: Sequence[float], numbers: Sequence[float]) -> bool:
        """Whether the code's results are the engine's: they differ only where a gradient is not finite or a computed
        node's is 0 (an underflow), so if all are at most _HUGE and (`_bounded` and no such 0, or none below _TINY)."""
        if not (math.hypot(*numbers) <= _HUGE and math.hypot(*grads) <= _HUGE):  # nan and inf fail too
            return False
        return (self._bounded and all(numbers[self._interior :])) or _representable((*numbers, *grads))

    def _shape_of(self, order: list[Value]) -> tuple[list[Op | str | float], list[int], list[int]]:
        """Per node its op ("input" or a constant's value for a leaf) and its operands' positions: the graph."""
        leaves = {*self.inputs, *self.data}
        position: dict[Value | None, int] = {node: k for k, node in enumerate(order)}
        what = [node._op if node._op is not None else "input" if node in leaves else node._data for node in order]
        return what, [position.get(node._a, -1) for node in order], [position.get(node._b, -1) for node in order]

    def check(self) -> bool:
        """Record fn again at the current values: True, or `ReplayError` naming the first node that differs."""
        fresh = record(self.fn, self.inputs, self.data, "check", lambda out, _: self._shape_of(topological_order(out)))
        if fresh == self._shape:  # three list comparisons, in C
            return True
        for k, (before, now) in enumerate(zip(zip(*self._shape, strict=True), zip(*fresh, strict=True), strict=False)):
            if before != now:
                raise ReplayError(
                    f"check: the graph has changed at node {k} (in topological order): "
                    f"recorded {_node(*before)}, now {_node(*now)}; compile fn again"
                )
        raise ReplayError(
            f"check: the graph has changed: {len(self._shape[0])} nodes recorded, {len(fresh[0])} now; compile fn again"
        )


def record(
    fn: Callable[..., Value], inputs: list[Value], data: list[Value], where: str, use: Callable[..., Any]
) -> Any:
    """``use(fn(*inputs), the Values fn read)``; `ReplayError` if fn read a number that depends on
    an input or data leaf, or set ``.data`` of a Value that outlives it (that write undone)."""
    reads: list[tuple[Value, str]] = []
    written: list[tuple[weakref.ref[Value], float]] = []
    watcher = SimpleNamespace(  # as the engine reports them (`microgrid.engine.observing`)
        read=lambda node, how: reads.append((node, how)),
        wrote=lambda node, before: written.append((weakref.ref(node), before)),
    )
    try:
        arguments = inputs if inspect.signature(fn).parameters else []
    except (TypeError, ValueError):  # a builtin without a signature: pass the inputs
        arguments = inputs
    with observing(watcher):  # this thread only: other threads' reads and writes are their own
        output = fn(*arguments)
    if not isinstance(output, Value):
        raise TypeError(f"compile: fn must return a Value, got {type(output).__name__}: {output!r}")
    depends = dict.fromkeys([*inputs, *data], True)  # every node decided: many reads cost one walk in all
    for read, how in reads:
        if fold(read, lambda node, operands: any(operands), depends):
            made = f"the result of {read.op!r}" if read.op else "an input"
            raise ReplayError(
                f"{where}: fn {how} {_named(read)}({made}, value {read._data!r}) while being recorded "
                "(printing a Value and gradcheck() read .data too); "
                "its graph may then depend on the inputs' values, which a replay cannot follow. "
                "Read values outside fn (e.g. compute accuracy from the model after the step)."
            )
    result = use(output, [node for node, _ in reads])
    reads.clear()
    del output  # the recording's own Values go, and with them fn's writes to them: what stays is held elsewhere
    alive = [(node, before) for ref, before in written if (node := ref()) is not None]
    if alive:
        node, written_value = alive[0][0], alive[0][0]._data
        for held, before in reversed(alive):
            held._data = before
        raise ReplayError(
            f"{where}: fn set .data of the Value {_named(node)}(to {written_value!r}) while being recorded, and that "
            "Value is held outside fn; a replay does not run fn, so the write would happen only once "
            "(undone). Set values outside fn (e.g. the optimiser step after the call)."
        )
    return result


def _warn(message: str) -> None:  # at the line that called into microgrid.replay, however deep the path from there
    level, frame = 1, inspect.currentframe()
    while frame is not None and frame.f_globals.get("__package__") == __package__:
        level, frame = level + 1, frame.f_back
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _node(what: Op | str | float, a: int, b: int) -> str:
    if isinstance(what, Op):
        return f"op {what.name!r} of nodes {[i for i in (a, b) if i >= 0]}"
    return "an input" if what == "input" else f"the constant {what!r}"


def _representable(numbers: Sequence[float]) -> bool:
    """Every number 0 or in [_TINY, _HUGE], beyond which the engine's pass may differ (an underflow it refuses)."""
    return math.hypot(*numbers) <= _HUGE and min(filter(None, map(abs, numbers)), default=1.0) >= _TINY


def _load(source: str, bindings: dict[str, object]) -> Step:
    namespace: dict[str, Any] = {"__name__": "microgrid_step", **bindings}
    exec(builtins.compile(source, "<microgrid step>", "exec"), namespace)  # source made by codegen from a graph
    return namespace["step"]


@functools.cache
def _numpy() -> Any:
    """numpy (the optional `fast` extra, imported only for a batch), or None, said once."""
    try:
        import numpy
    except ImportError:
        message = "compile(batch=...): numpy is not installed, so a batch runs one sample at a time"
        _warn(f"{message} (pip install 'microgrid[fast]')")
        return None
    return numpy


class BatchReplay(Replay):
    """``step(*columns)``: the mean (or sum) of fn over N samples, one column of N numbers per data leaf.

    >>> from microgrid import Value, compile
    >>> w, x = Value(2.0), Value(0.0)
    >>> step = compile(lambda w: w * x, [w], batch=[x], reduction="sum")
    >>> step([1.0, 2.0, 3.0]), w.grad
    (12.0, 6.0)
    """

    def __init__(
        self, fn: Callable[..., Value], inputs: list[Value], check_every: int | None, data: Sequence, reduction: str
    ):
        self.reduction, self._np = reduction, _numpy()
        self._batch_step: Step | None = None
        super().__init__(fn, inputs, check_every, data)

    def _generate(self, order: list[Value], alive: set[int]) -> Step | None:
        step = super()._generate(order, alive)
        if self._np is not None and self.source is not None:
            made = generate(order, self._program, self._positions, len(self._in_graph), alive, np=self._np)
            self.source, bindings, _ = made
            self._batch_step = _load(self.source, {"np": self._np, **bindings})
        return step

    def __call__(self, *columns: Sequence[float]) -> float:
        if len(columns) != len(self.data):
            raise TypeError(f"batch replay: give one column per data leaf ({len(self.data)}), got {len(columns)}")
        columns = tuple(ordered(c, f"column {i}", "batch replay") for i, c in enumerate(columns))
        sizes = [len(c) for c in columns]
        if len(set(sizes)) > 1 or 0 in sizes:
            raise ValueError(f"batch replay: the columns must be equally long and not empty, got {sizes}")
        self._before_call()
        n, fixed, totals = sizes[0] if sizes else 1, [x._data for x in self._in_graph], None
        if self._batch_step is not None:
            np, arrays = self._np, [self._np.asarray(columns[k], float) for k in self._columns]
            with np.errstate(all="ignore"):
                value, grads, numbers = self._batch_step(*fixed, *arrays)
                if _all_representable(np, (*numbers, *grads), n):
                    # A node no sample changes is a number: its share of the total is n times it.
                    totals = [float(x.sum()) if type(x) is np.ndarray else x * n for x in (value, *grads)]
        if totals is None:  # no numpy, or a number the check cannot vouch for: sample by sample, by the engine
            totals = [0.0] * (1 + len(fixed))
            for row in zip(*columns, strict=True) if columns else [()] * n:
                value, grads = self._run(fixed + [float(row[k]) for k in self._columns])
                totals = [a + b for a, b in zip(totals, (value, *grads), strict=True)]
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        for x, g in zip(self._in_graph, totals[1:], strict=True):
            x._grad += g * scale
        return totals[0] * scale


def _all_representable(np: Any, numbers: Sequence[Any], n: int) -> bool:
    """`_representable` for arrays, checked in chunks of about 64k numbers, which stay in the cache."""
    arrays, per_chunk = [np.ravel(x) for x in numbers], max(1, 2**16 // n)
    chunks = (np.abs(np.concatenate(arrays[k : k + per_chunk])) for k in range(0, len(arrays), per_chunk))
    return all(s.max() <= _HUGE and not ((s > 0.0) & (s < _TINY)).any() for s in chunks)  # nan fails the first
