"""Recording fn: what it returns, and every way a number left a Value meanwhile."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence

from .._arguments import ordered
from ..engine import Value, observing
from ..graphs import fold


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def checked_inputs(inputs: Sequence[Value], what: str = "inputs") -> list[Value]:
    inputs = ordered(inputs, what, "compile", of=" of Values")
    seen: set[Value] = set()
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"compile: {what}[{i}] must be a Value, got {type(x).__name__}: {x!r}")
        if x._op is not None:
            raise ValueError(
                f"compile: {what}[{i}] ({x!r}) is the result of {x.op!r}, not a leaf; "
                "inputs must be leaves (parameters or data)"
            )
        if x in seen:
            raise ValueError(f"compile: {what}[{i}] ({x!r}) appears twice")
        seen.add(x)
    return inputs


def record(fn: Callable[..., Value], inputs: list[Value]) -> tuple[Value, list, list]:
    """``fn(*inputs)``; every (Value, how) fn took a number from meanwhile; and
    (weak reference, data before) of each ``.data`` it set."""
    watcher = _Watcher()
    with observing(watcher):  # this thread only: other threads' reads and writes are their own
        output = fn() if _takes_no_arguments(fn) else fn(*inputs)
    if not isinstance(output, Value):
        raise TypeError(f"compile: fn must return a Value, got {type(output).__name__}: {output!r}")
    return output, watcher.reads, watcher.written


class _Watcher:
    """What fn did with numbers while it was recorded, as the engine reports it
    (`microgrid.engine.observing`): every number it read, every ``.data`` it set."""

    def __init__(self) -> None:
        self.reads: list[tuple[Value, str]] = []
        self.written: list[tuple[weakref.ref, float]] = []

    def read(self, node: Value, how: str) -> None:
        self.reads.append((node, how))

    def wrote(self, node: Value, before: float) -> None:
        self.written.append((weakref.ref(node), before))


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
