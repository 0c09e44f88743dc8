"""Record a graph once, generate Python for it, and run that on new values.

`compile(fn, inputs)` records the graph of ``fn(*inputs)`` and writes it out
as straight-line Python (``step.source``): one line per node forward, one
line per edge backward, the local derivatives written from each op's rule.
A call runs that code at the inputs' current values and adds the gradients
to their ``.grad`` as ``backward()`` would: the same rules, on the same
floats, in the same order, so the results equal the eager path's bit for
bit.  ``batch=data`` runs it over N samples at once (`BatchReplay`).

    >>> from microgrid import Value, compile
    >>> x, y = Value(2.0), Value(3.0)
    >>> step = compile(lambda x, y: x * y + x, [x, y])
    >>> step(), x.grad, y.grad
    (8.0, 4.0, 2.0)

The rule: a replay is exact, or it raises `ReplayError`.  A call does not run
fn, so the graph must not depend on the inputs' values other than through
ops (relu, and the derivatives taken inside fn, whose branches are ops of
their own and are recomputed).  While fn is recorded, every way a number
leaves a Value is watched (``.data``, printing, ``.grad``, ``backward()``,
float ``grad()``, `gradcheck`): a number of an input or of anything computed
from one refuses the recording, and so does setting ``.data`` of a Value
held outside fn.  A leaf that is not an input keeps its recorded value, and
a change to its ``.data`` is caught at the next call.  What fn takes from
elsewhere (new data as plain numbers, a random mask, a grown model) is
caught by re-recording and comparing at calls 1, 2, 4, ... and every
`check_every`-th.  Not seen: an engine error that fn catches (caught by the
next check), and code reading the private ``_data``.  Weighted sums are one
line each (`fuse_weighted_sums`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._arguments import integer
from ..engine import Value
from .batch import BatchReplay
from .compiled import Replay
from .recording import (
    ReplayError,
    checked_inputs,
    record,
    refuse_value_dependent_reads,
    refuse_writes_to_values_held_elsewhere,
)

__all__ = ["BatchReplay", "Replay", "ReplayError", "compile"]


def compile(
    fn: Callable[..., Value],
    inputs: Sequence[Value],
    check_every: int | None = 200,
    *,
    batch: Sequence[Value] | None = None,
    reduction: str = "mean",
) -> Replay:
    """Record the graph of ``fn(*inputs)`` once; the result replays it.

    ``inputs`` are the leaves whose values change between calls (parameters,
    and data leaves if fn is given new data through them).  Everything else
    fn uses is kept at its recorded value, and checked as the module's
    docstring says: held leaves at every call, the whole graph every
    `check_every` calls (None: never).  A fn that takes no arguments is
    called as ``fn()``: ``compile(lambda: loss(model), model.parameters())``.
    ``batch``: the data leaves fn reads as one sample; the result is then a
    `BatchReplay`, called with one column of N numbers per data leaf, and
    returns the `reduction` ("mean" or "sum") of fn over the samples.

    >>> from microgrid import Value, compile
    >>> w = Value(0.5)
    >>> step = compile(lambda w: (w * 4.0).tanh(), [w])
    >>> step() == (w * 4.0).tanh().data
    True
    """
    inputs = checked_inputs(inputs)
    data = [] if batch is None else checked_inputs([*inputs, *checked_inputs(batch, "batch")])[len(inputs) :]
    if check_every is not None:
        integer(check_every, "check_every (or None)", "compile", minimum=1)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"compile: reduction must be 'mean' or 'sum', got {reduction!r}")
    output, reads, written = record(fn, inputs)
    refuse_value_dependent_reads(reads, [*inputs, *data], "compile")
    if batch is None:
        replay = Replay(fn, inputs, output, check_every, [node for node, _ in reads])
    else:
        replay = BatchReplay(fn, inputs, output, check_every, [node for node, _ in reads], data, reduction)
    del output, reads  # the recording's own Values go: what stays alive is held elsewhere
    refuse_writes_to_values_held_elsewhere(written, "compile")
    replay._hold_leaves_alive_elsewhere()
    return replay
