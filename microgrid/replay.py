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
On micrograd's demo step (benchmarks/RESULTS.md) a replay is about 3-4x
faster than the eager step and 50-100x faster than micrograd, but still
about 4x slower than the same network written by hand in plain Python: a
tape costs a loop iteration, a few list lookups and a call per node, while
hand-written code folds a neuron's multiply-adds into one tight loop.
(Tried and dropped: generating straight-line Python source, 0.27 us/node
and seconds to compile; running each level of the graph through `map`,
no faster than this loop and much harder to read.)
"""

from __future__ import annotations

import inspect
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
        self._values = [node._data for node in order]
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
        self._signature = _signature(order, position, set(inputs))

    def __len__(self) -> int:
        return len(self._values)

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
        return v[-1]

    def _forward(self, v: list[float]) -> None:
        try:
            for k, forward, _, i, j in self._tape:
                v[k] = forward(v[i]) if j < 0 else forward(v[i], v[j])
        except (ArithmeticError, ValueError):
            self._raise_first_non_finite(v)  # an inf or nan upstream is the real cause
            raise  # the op's own clear error (log of a negative number, ...)
        total = sum(v)  # inf or nan if any value is: one C loop instead of a test per node
        if total - total != 0.0:
            self._raise_first_non_finite(v)

    def _backward(self, v: list[float]) -> list[float]:
        """The eager `backward()` loop, on floats: same nodes, same order, same rules."""
        g = [0.0] * len(v)
        g[-1] = 1.0  # the output is last in topological order
        for k, _, partials, i, j in reversed(self._tape):
            gk = g[k]
            if gk == 0.0:  # as backward(): nothing to pass on
                continue
            if j < 0:
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
