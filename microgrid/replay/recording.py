"""Recording fn: its graph, refused if fn took a number from a Value or set one meanwhile."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TypeVar

from .._arguments import ordered
from ..engine import Value, observing
from ..graphs import fold

T = TypeVar("T")


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def named(node: Value) -> str:
    """The node's label, quoted and followed by a space, or nothing: a message's name for it."""
    return f"{node.label!r} " if node.label else ""


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


def record(fn: Callable[..., Value], inputs: list[Value], data: list[Value], where: str, use: Callable[..., T]) -> T:
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
                f"{where}: fn {how} {named(read)}({made}, value {read._data!r}) while being recorded "
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
            f"{where}: fn set .data of the Value {named(node)}(to {written_value!r}) while being recorded, and that "
            "Value is held outside fn; a replay does not run fn, so the write would happen only once "
            "(undone). Set values outside fn (e.g. the optimiser step after the call)."
        )
    return result
