"""Record a graph once, generate Python for it (``step.source``), and run that on new values."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._arguments import integer, ordered
from ..engine import Value
from .compiled import BatchReplay, Replay, ReplayError

__all__ = ["BatchReplay", "Replay", "ReplayError", "compile"]


def compile(
    fn: Callable[..., Value],
    inputs: Sequence[Value],
    check_every: int | None = 200,
    *,
    batch: Sequence[Value] | None = None,
    reduction: str = "mean",
) -> Replay:
    """Record the graph of ``fn(*inputs)`` (or ``fn()``) once; the result replays it, exact or `ReplayError`.

    ``inputs``: the leaves whose values change between calls (the others must keep theirs).  ``batch``: the data
    leaves fn reads as one sample, for a `BatchReplay` of the `reduction` ("mean" or "sum") of fn over samples.

    >>> from microgrid import Value, compile
    >>> x, y = Value(2.0), Value(3.0)
    >>> step = compile(lambda x, y: x * y + x, [x, y])
    >>> step(), x.grad, y.grad
    (8.0, 4.0, 2.0)
    """
    inputs = checked_inputs(inputs)
    data = [] if batch is None else checked_inputs([*inputs, *checked_inputs(batch, "batch")])[len(inputs) :]
    if check_every is not None:
        integer(check_every, "check_every (or None)", "compile", minimum=1)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"compile: reduction must be 'mean' or 'sum', got {reduction!r}")
    return Replay(fn, inputs, check_every) if batch is None else BatchReplay(fn, inputs, check_every, data, reduction)


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
