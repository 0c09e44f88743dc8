"""Recording fn: what it returns, and every way a number left a Value meanwhile."""

from __future__ import annotations

import inspect
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from .. import engine
from .._checks import ordered
from ..engine import Value
from ..reverse import fold


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def checked_inputs(inputs: Sequence[Value]) -> list[Value]:
    inputs = ordered(inputs, "inputs", "compile", of=" of Values")
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


def record(fn: Callable[..., Value], inputs: list[Value]) -> tuple[Value, list, list]:
    """``fn(*inputs)``; every (Value, how) fn took a number from meanwhile; and
    (weak reference, data before) of each ``.data`` it set."""
    with _watching_numbers() as (reads, written):
        output = fn() if _takes_no_arguments(fn) else fn(*inputs)
    if not isinstance(output, Value):
        raise TypeError(f"compile: fn must return a Value, got {type(output).__name__}: {output!r}")
    return output, reads, written


@contextmanager
def _watching_numbers() -> Iterator[tuple[list, list]]:
    """While fn is recorded, Value's accessors report to the recording.

    Python code gets a number out of a Value only through ``.data`` (which
    printing and `gradcheck` use too), ``.grad``, or the float path of the
    engine's reverse pass (``backward()``, ``grad()``, `explain_backward`):
    each is swapped for one that notes the Value, and ``.data``'s setter
    notes what fn writes.  A recording inside a recording chains to the outer
    accessors, so both see everything.
    """
    reads: list[tuple[Value, str]] = []
    written: list[tuple[weakref.ref, float]] = []
    data, grad, backward = Value.__dict__["data"], Value.__dict__["grad"], Value.__dict__["backward"]
    reverse_pass = engine.reverse_pass

    def read_data(v: Value) -> float:
        reads.append((v, "read .data of"))
        return data.__get__(v, Value)

    def write_data(v: Value, x: float) -> None:
        before = v._data
        data.__set__(v, x)  # may refuse (a computed node): then nothing was written
        written.append((weakref.ref(v), before))

    def read_grad(v: Value) -> float:
        reads.append((v, "read .grad of"))
        return grad.__get__(v, Value)

    def watched_backward(v: Value) -> None:
        reads.append((v, "called backward() on"))
        return backward(v)

    def watched_pass(root: Value, create_graph: bool = False, visit: Callable | None = None) -> tuple:
        if not create_graph:  # numbers out; a graph of Values is what a replay replays
            reads.append((root, "took a float gradient (grad(), explain_backward()) of"))
        return reverse_pass(root, create_graph, visit)

    Value.data = property(read_data, write_data, doc=data.__doc__)
    Value.grad = property(read_grad, grad.__set__)
    Value.backward = watched_backward
    engine.reverse_pass = watched_pass
    try:
        yield reads, written
    finally:
        Value.data, Value.grad, Value.backward = data, grad, backward
        engine.reverse_pass = reverse_pass


def _takes_no_arguments(fn: Callable) -> bool:
    try:
        return not inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: pass the inputs
        return False


def refuse_value_dependent_reads(reads: list[tuple[Value, str]], inputs: list[Value], where: str) -> None:
    """ReplayError if fn took a number from an input or from anything computed from one."""
    depends = dict.fromkeys(inputs, True)
    for read, how in reads:
        if _depends_on(read, depends):
            name = f"{read.label!r} " if read.label else ""
            made = f"the result of {read.op!r}" if read.op else "an input"
            raise ReplayError(
                f"{where}: fn {how} {name}({made}, value {read._data!r}) while being recorded "
                "(printing a Value and gradcheck() read .data too); "
                "its graph may then depend on the inputs' values, which a replay cannot follow. "
                "Read values outside fn (e.g. compute accuracy from the model after the step)."
            )


def _depends_on(root: Value, depends: dict[Value, bool]) -> bool:
    """Whether `root` is an input or computed from one; `depends` remembers every
    node decided (seeded with the inputs), so many reads cost one walk in all."""
    return fold(root, lambda node, operands: any(operands), depends)


def refuse_writes_to_values_held_elsewhere(written: list[tuple[weakref.ref, float]], where: str) -> None:
    """ReplayError if fn set ``.data`` of a Value that outlives the recording (an
    input, a parameter, a data leaf): a replay does not run fn, so it would
    not repeat the write.  Values fn made and wrote itself are gone by now.
    The writes are undone first, so the caller's values are as they were."""
    alive = [(node, before) for ref, before in written if (node := ref()) is not None]
    if not alive:
        return
    node, written_value = alive[0][0], alive[0][0]._data
    for held, before in reversed(alive):
        held._data = before
    name = f"{node.label!r} " if node.label else ""
    raise ReplayError(
        f"{where}: fn set .data of the Value {name}(to {written_value!r}) while being recorded, and that "
        "Value is held outside fn; a replay does not run fn, so the write would happen only once "
        "(undone). Set values outside fn (e.g. the optimiser step after the call)."
    )
