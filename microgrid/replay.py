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
one instruction each (`_fuse_weighted_sums`).
"""

from __future__ import annotations

import bisect
import inspect
import operator
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from . import engine
from ._checks import integer, ordered
from .engine import Op, Value, _overflow, topological_order

__all__ = ["compile", "Replay", "ReplayError"]


class ReplayError(RuntimeError):
    """A recording cannot be replayed faithfully (its graph depends on values or has changed)."""


def compile(fn: Callable[..., Value], inputs: Sequence[Value], check_every: int | None = 200) -> "Replay":
    """Record the graph of ``fn(*inputs)`` once; the result replays it.

    ``inputs`` are the leaves whose values change between calls (parameters,
    and data leaves if fn is given new data through them).  Everything else
    fn uses is kept at its recorded value, and checked as the module's
    docstring says: held leaves at every call, the whole graph every
    `check_every` calls (None: never).  A fn that takes no arguments is
    called as ``fn()``: ``compile(lambda: loss(model), model.parameters())``.

    >>> from microgrid import Value, compile
    >>> w = Value(0.5)
    >>> step = compile(lambda w: (w * 4.0).tanh(), [w])
    >>> step() == (w * 4.0).tanh().data
    True
    """
    inputs = _checked_inputs(inputs)
    if check_every is not None:
        integer(check_every, "check_every (or None)", "compile", minimum=1)
    output, reads, written = _record(fn, inputs)
    _refuse_value_dependent_reads(reads, inputs, "compile")
    replay = Replay(fn, inputs, output, check_every, [node for node, _ in reads])
    del output, reads  # the recording's own Values go: what stays alive is held elsewhere
    _refuse_writes_to_values_held_elsewhere(written, "compile")
    replay._hold_leaves_alive_elsewhere()
    return replay


class Replay:
    """A recorded graph: call it to run forward + backward at the inputs' current values.

    ``step()`` returns the output's value (a float) and adds d(output)/d(input)
    to each input's ``.grad``.  ``len(step)`` is the number of nodes;
    ``step.calls`` counts the calls, ``step.check_every`` sets how often a call
    first re-records fn and compares (None: never).
    """

    def __init__(
        self, fn: Callable[..., Value], inputs: list[Value], output: Value, check_every: int | None = 200, reads: Sequence[Value] = ()
    ):
        self.fn = fn
        self.inputs = inputs
        self.check_every = check_every
        self.calls = 0
        order = topological_order(output)
        position = {node: k for k, node in enumerate(order)}
        # Leaves keep their recorded values (the inputs' are overwritten at each call).
        self._recorded = [node._data for node in order]
        last = len(order) - 1  # the output is last in topological order
        self._input_positions = [position.get(x) for x in inputs]
        # The tape: (position, first operand, second operand or -1) of each node
        # that is not a leaf, and its op alongside.  (Numbers only: a tuple of
        # ints is not watched by the garbage collector, whose full collections
        # would otherwise walk a tuple per node.)
        self._tape: list[tuple[int, int, int]] = []
        self._ops: list[Op] = []
        for k, node in enumerate(order):
            op = node._op
            if op is not None:
                b = node._b
                self._tape.append((k, position[node._a], -1 if b is None else position[b]))
                self._ops.append(op)
        # What a call runs: the tape, with each weighted sum made one instruction
        # (a plain term t of a sum is read as t * 1.0, which is t to the bit:
        # the 1.0 is one slot more than the graph) ...
        one = len(order)
        program = _fuse_weighted_sums(order, position, self._tape, self._ops, one)
        # ... on a list of only the values it reads or writes: the nodes inside
        # a fused sum are neither, and are most of a network's nodes.
        keep = {last, one} | {k for k in self._input_positions if k is not None}
        self._program, self._positions = _compact(program, keep)
        slot = {k: s for s, k in enumerate(self._positions)}
        recorded = self._recorded + [1.0]
        self._values = [recorded[k] for k in self._positions]
        self._output = slot[last]
        self._input_slots = [slot.get(k) for k in self._input_positions]
        # What a check compares.
        self._shape = _shape(order, position, set(inputs))
        # The leaves that are not inputs, in the graph or under a value fn read,
        # weakly: see _hold_leaves_alive_elsewhere.
        leaves = dict.fromkeys(node for node in order if node._op is None)  # a set, in order
        for read in reads:
            leaves.update(dict.fromkeys(node for node in topological_order(read) if node._op is None))
        inputs_set = set(inputs)
        self._leaves = [weakref.ref(node) for node in leaves if node not in inputs_set]
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
        self.calls += 1
        if self._held and [leaf._data for leaf in self._held] != self._held_values:
            self._raise_changed_leaf()
        if self.check_every is not None and _check_due(self.calls, self.check_every):
            self.check()
        v = self._values.copy()
        for x, s in zip(self.inputs, self._input_slots):
            if s is not None:
                v[s] = x._data
        self._forward(v)
        g = self._backward(v)
        for x, s in zip(self.inputs, self._input_slots):
            if s is not None:
                x.grad += g[s]
        return v[self._output]

    def _raise_changed_leaf(self) -> None:
        for leaf, recorded in zip(self._held, self._held_values):
            if leaf._data != recorded:
                name = f"{leaf.label!r} " if leaf.label else ""
                raise ReplayError(
                    f"replay: the leaf {name}is not among the inputs, and its .data has changed "
                    f"since recording ({recorded!r}, now {leaf._data!r}); a replay keeps such a leaf "
                    "at its recorded value: pass it among the inputs, or compile fn again"
                )

    def _forward(self, v: list[float]) -> None:
        try:
            for k, forward, _, i, j, terms in self._program:
                if terms is not None:  # t0 + t1 + ..., left to right as the graph adds
                    factors = iter(terms[0])
                    a, b = next(factors)
                    total = v[a] * v[b]
                    for a, b in factors:
                        total = total + v[a] * v[b]
                    v[k] = total
                else:
                    v[k] = forward(v[i]) if j < 0 else forward(v[i], v[j])
            total = sum(v)  # inf or nan if any value is: one C loop instead of a test per node
            failed = total - total != 0.0
        except (ArithmeticError, ValueError):
            failed = True
        if failed:  # again node by node, to raise the error the eager path raises
            self._forward_node_by_node()

    def _forward_node_by_node(self) -> None:
        """The tape, every node, on a list of every node's value (raises where eager would)."""
        v = self._recorded.copy()
        for x, k in zip(self.inputs, self._input_positions):
            if k is not None:
                v[k] = x._data
        try:
            for (k, i, j), op in zip(self._tape, self._ops):
                v[k] = op.forward(v[i]) if j < 0 else op.forward(v[i], v[j])
        except (ArithmeticError, ValueError):
            self._raise_first_non_finite(v)  # an inf or nan upstream is the real cause
            raise  # the op's own clear error (log of a negative number, ...)
        self._raise_first_non_finite(v)

    def _backward(self, v: list[float]) -> list[float]:
        """The eager `backward()` loop, on floats: same nodes, same order, same rules."""
        g = [0.0] * len(v)
        g[self._output] = 1.0
        for k, _, partials, i, j, terms in reversed(self._program):
            gk = g[k]
            if gk == 0.0:  # as backward(): nothing to pass on
                continue
            if terms is not None:
                # d(sum)/d(term) = 1 and d(a*b)/da = b: in the eager order of contributions.
                for a, b in terms[1]:
                    if b < 0:
                        g[a] += gk
                    else:
                        g[a] += gk * v[b]
                        g[b] += gk * v[a]
            elif j < 0:
                g[i] += gk * partials(v[i], v[k])
            else:
                da, db = partials(v[i], v[j], v[k])
                g[i] += gk * da
                g[j] += gk * db
        total = sum(g)  # as backward(): a gradient beyond the floats is an error
        s = next((s for s, gs in enumerate(g) if gs - gs != 0.0), None) if total - total != 0.0 else None
        if s is not None:  # (a sum of finite gradients may overflow: then all is fine)
            raise OverflowError(
                f"replay: the gradient of node {self._positions[s]} (in topological order, data {v[s]!r}) "
                f"is {g[s]!r}: a derivative beyond the largest float"
            )
        return g

    def _raise_first_non_finite(self, v: list[float]) -> None:
        """The error the eager path raises at the first node off the real numbers."""
        for (k, i, j), op in zip(self._tape, self._ops):
            if v[k] - v[k] != 0.0:
                raise _overflow(op, v[k], *((v[i],) if j < 0 else (v[i], v[j])))
        # Otherwise a sum of finite values overflowed: every value is fine.

    def check(self) -> bool:
        """Record ``fn(*inputs)`` again, at the current values, and compare its graph with the tape.

        Returns True, or raises `ReplayError` naming the first node that
        differs.  Costs one eager forward pass and a walk of the graph.  Calls
        run it on their own, as the module's docstring says (`_check_due`).
        """
        output, reads, written = _record(self.fn, self.inputs)
        _refuse_value_dependent_reads(reads, self.inputs, "check")
        order = topological_order(output)
        fresh = _shape(order, {node: k for k, node in enumerate(order)}, set(self.inputs))
        del output, reads, order
        _refuse_writes_to_values_held_elsewhere(written, "check")
        if fresh == self._shape:  # three list comparisons, in C
            return True
        recorded, now = zip(*self._shape), zip(*fresh)
        for k, (before, after) in enumerate(zip(recorded, now)):
            if before != after:
                raise ReplayError(
                    f"check: the graph has changed at node {k} (in topological order): "
                    f"recorded {_describe(*before)}, now {_describe(*after)}; compile fn again"
                )
        raise ReplayError(
            f"check: the graph has changed: {len(self._shape[0])} nodes recorded, {len(fresh[0])} now; compile fn again"
        )


# ------------------------------------------------------- weighted sums
# A neuron's weighted sum, w0*x0 + w1*x1 + ... + b, is a chain of "+" nodes over
# "*" nodes, each used once.  Replayed node by node it costs a call per node;
# replayed as one instruction it is one tight loop, which is most of replay's
# speed.  It uses only the sum and product rules, and the engine's own `+`
# and `*` (checked here, so a change to the op table cannot pass unnoticed).
_ADD, _MUL = Value.__add__.op, Value.__mul__.op
if not (
    _ADD.forward is operator.add
    and _MUL.forward is operator.mul
    and _ADD.partials(2.0, 3.0, 5.0) == (1.0, 1.0)
    and _MUL.partials(2.0, 3.0, 6.0) == (3.0, 2.0)
):
    raise ImportError("microgrid.replay: the engine's + and * are not the plain sum and product")


def _fuse_weighted_sums(order: list[Value], position: dict, tape: list[tuple], ops: list[Op], one: int) -> list[tuple]:
    """The tape as instructions, with every fusable chain of "+" nodes made one.

    An instruction is ``(k, forward, partials, i, j, terms)``: node k, its op's
    rules, its operands (j = -1 for none), and ``terms``:
    None for a single node, or for a chain rooted at node k the pair
    ``(factors, terms in the order backward() reaches them)``: `factors` are
    each term's two factors in forward order (a plain term is node * `one`,
    the slot holding 1.0), and each backward term ``(a, b)`` is a product of
    nodes a and b, or ``(a, -1)`` node a.
    A chain is fused only where that changes no bit of any result: every
    value is summed in the same order, and no node outside the chain adds to
    a gradient the chain adds to while the eager backward is inside it.
    """
    uses = [0] * len(order)
    for node in order:
        for parent in node.parents:
            uses[position[parent]] += 1

    def absorbable(node: Value, op: Op) -> bool:  # computed only for the chain, by op
        return node._op is op and uses[position[node]] == 1

    positions = [k for k, _, _ in tape]  # increasing: the tape is in topological order
    chains: dict[int, tuple] = {}
    absorbed: set[int] = set()
    for node in reversed(order):  # roots first: a root's chain absorbs its spine
        k = position[node]
        if node._op is not _ADD or k in absorbed:
            continue
        spine, terms, inner = [node], [], []
        left = node._a
        while absorbable(left, _ADD):
            spine.append(left)
            left = left._a
        operands = [left] + [n._b for n in reversed(spine)]  # t0, t1, ..., tn
        for t in operands:
            if absorbable(t, _MUL):
                terms.append((position[t._a], position[t._b]))
                inner.append(position[t])
            else:
                terms.append((position[t], -1))
        inner += [position[n] for n in spine[1:]]
        if not inner:  # a single "+" of two nodes: nothing to gain
            continue
        backward_terms = _eager_contribution_order(terms)
        if _safe_to_fuse(k, set(inner), backward_terms, tape, positions):
            factors = tuple((a, b if b >= 0 else one) for a, b in terms)
            chains[k] = (factors, tuple(backward_terms))  # numbers only: not watched by the collector
            absorbed.update(inner)
    return [
        (k, op.forward, op.partials, i, j, chains.get(k)) for (k, i, j), op in zip(tape, ops) if k not in absorbed
    ]


def _compact(program: list[tuple], keep: set[int]) -> tuple[list[tuple], list[int]]:
    """The program renumbered to the values it reads or writes, and those values'
    positions (in topological order, so slot s holds node ``positions[s]``).
    `keep` are positions to have a slot even if no instruction uses them."""
    used = set(keep)
    for k, _, _, i, j, terms in program:
        used.update((k, i, j))
        if terms is not None:
            used.update(k for pair in terms[0] for k in pair)
    used.discard(-1)
    positions = sorted(used)
    slot = {k: s for s, k in enumerate(positions)}
    slot[-1] = -1  # "no operand" stays as it is

    def renumbered(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        return tuple((slot[a], slot[b]) for a, b in pairs)

    compact = [
        (slot[k], forward, partials, slot[i], slot[j], terms and (renumbered(terms[0]), renumbered(terms[1])))
        for k, forward, partials, i, j, terms in program
    ]
    return compact, positions


def _eager_contribution_order(terms: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The order in which backward() adds to the terms' gradients: from the last
    term to the third, then t0 and t1 if they are plain nodes (both at the
    first "+"), then t1's product and t0's product."""
    first, second = terms[0], terms[1]
    ordered = list(reversed(terms[2:]))
    ordered += [t for t in (first, second) if t[1] < 0]
    ordered += [t for t in (second, first) if t[1] >= 0]
    return ordered


def _safe_to_fuse(
    root: int, inner: set[int], terms: list[tuple[int, int]], tape: list[tuple], positions: list[int]
) -> bool:
    """True unless a node outside the chain, placed among the chain's nodes,
    adds to a gradient the chain adds to (fusing would reorder that sum)."""
    targets = {a for a, _ in terms} | {b for _, b in terms if b >= 0}
    start, stop = bisect.bisect_right(positions, min(inner)), bisect.bisect_left(positions, root)
    for k, i, j in tape[start:stop]:
        if k not in inner and (i in targets or j in targets):
            return False
    return True


# ----------------------------------------------------------------- helpers
def _checked_inputs(inputs: Sequence[Value]) -> list[Value]:
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


def _record(fn: Callable[..., Value], inputs: list[Value]) -> tuple[Value, list, list]:
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


def _refuse_value_dependent_reads(reads: list[tuple[Value, str]], inputs: list[Value], where: str) -> None:
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
    stack = [root]
    while stack:
        node = stack[-1]
        if node in depends:
            stack.pop()
            continue
        pending = [p for p in node.parents if p not in depends]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        depends[node] = any(depends[p] for p in node.parents)
    return depends[root]


def _refuse_writes_to_values_held_elsewhere(written: list[tuple[weakref.ref, float]], where: str) -> None:
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
    what = [node._op.name if node._op is not None else "input" if node in inputs else node._data for node in order]
    first = [position.get(node._a, -1) for node in order]
    second = [position.get(node._b, -1) for node in order]
    return what, first, second


def _describe(what: str | float, first: int, second: int) -> str:
    if what == "input":
        return "an input"
    if not isinstance(what, str):
        return f"the constant {what!r}"
    return f"op {what!r} of nodes {[k for k in (first, second) if k >= 0]}"
