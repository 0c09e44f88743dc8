"""Record a graph once, then replay its forward and backward on new values.

`compile(fn, inputs)` records the graph of ``fn(*inputs)`` as a *tape* (the
nodes in topological order, each with its `Op` and its operands' positions).
A call re-runs each op's ``forward`` and ``partials`` on flat lists of
floats, without making a Value, and adds the gradients to the inputs'
``.grad`` as ``backward()`` would: the same rules, on the same floats, in the
same order, so the results equal the eager path's bit for bit.

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
next check), and code reading the private ``_data``.  Weighted sums run as
one instruction each (`fuse_weighted_sums`).
"""


from .recording import ReplayError
from .tape import Replay, compile

__all__ = ["compile", "Replay", "ReplayError"]
