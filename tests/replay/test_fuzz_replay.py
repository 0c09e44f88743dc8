"""Replay against eager on random functions that branch and take derivatives.

Each example is a small random program over registers (the inputs first):
ops, relu, powers whose base may be 0, derivatives taken inside the function
(``grad(..., create_graph=True)``), and branches on a number read every way
Python code can read one (``.data``, ``repr``, a float ``grad()``,
``.grad`` after ``backward()``, `gradcheck`).  It is compiled at one point,
with the periodic checks off, and replayed at another: the replay must give
the eager result bit for bit, or raise `ReplayError` (at compile or at the
call); where eager raises, the replay must raise too.  Never a silently
different number.  ``max_examples`` bounds the suite's time (seconds).
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microgrid import Value, grad, gradcheck
from microgrid.replay import ReplayError, compile

N_INPUTS = 3
UNARY = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "sin": lambda x: x.sin(),
    "neg": lambda x: -x,
    "square": lambda x: x**2,
    "exp": lambda x: x.tanh().exp(),  # bounded: no overflow to hide the comparison
}
BINARY = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    # a base that is often exactly 0, and a Value exponent >= 1: d/db is 0 there
    "pow": lambda x, y: x.relu() ** (y * y + 1.0),
}

index = st.integers(0, 10_000)  # counted back from the newest register, modulo their number
instruction = st.one_of(
    st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY) + ["relu"] * 3), index),  # relu branches: often
    st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY)), index, index),
    st.tuples(st.just("constant"), st.floats(-2.0, 2.0)),
    st.tuples(st.just("derivative"), index, index),  # d(a register)/d(an input), as a graph
    st.tuples(
        st.just("branch"),
        st.sampled_from(["data", "repr", "grad", "backward", "gradcheck", "constant"]),
        index,
        index,
        index,
    ),
)


def run_program(program, xs):
    regs = list(xs)
    for ins in program:
        kind, pick = ins[0], (lambda k: regs[-1 - k % len(regs)])
        if kind == "unary":
            regs.append(UNARY[ins[1]](pick(ins[2])))
        elif kind == "binary":
            regs.append(BINARY[ins[1]](pick(ins[2]), pick(ins[3])))
        elif kind == "constant":
            regs.append(Value(ins[1]))
        elif kind == "derivative":
            regs.append(grad(pick(ins[1]), [xs[ins[2] % N_INPUTS]], create_graph=True)[0])
        else:
            regs.append(pick(ins[3]) if positive(ins[1], pick(ins[2]), xs) else pick(ins[4]))
    total = sum(regs[N_INPUTS:], regs[0])
    return total + sum(grad(total, list(xs), create_graph=True))  # a gradient penalty, through everything


def positive(how, v, xs) -> bool:
    """Whether v > 0, read one of the ways Python code can read a number."""
    if how == "data":
        return v.data > 0
    if how == "repr":
        return "data=-" not in repr(v)
    if how == "grad":
        return grad(v, [xs[0]])[0] > 0
    if how == "backward":
        v.backward()
        return xs[0].grad > 0
    if how == "gradcheck":
        try:
            return gradcheck(lambda x: x * v, [xs[0]])
        except AssertionError:
            return False
    return Value(1.5).data > 0  # a constant: reading it is fine


def bits(numbers):
    return [struct.pack("<d", x) for x in numbers]


def eager(program, point):
    xs = [Value(x) for x in point]
    out = run_program(program, xs)
    out.backward()
    return bits([out.data] + [x.grad for x in xs])


def outcome(run, *args):
    try:
        return run(*args)
    except ReplayError:
        return "ReplayError"
    except (ArithmeticError, ValueError):
        return "error"


point = st.lists(st.floats(-2.0, 2.0), min_size=N_INPUTS, max_size=N_INPUTS)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction, min_size=1, max_size=12), point, st.lists(point, min_size=1, max_size=3))
def test_a_replay_is_exact_or_refused_never_silently_different(program, recorded_at, replayed_at):
    xs = [Value(x) for x in recorded_at]
    step = outcome(compile, lambda *v: run_program(program, v), xs, None)
    if isinstance(step, str):  # refused, or fn fails at the recorded point: nothing to replay
        return
    for at in replayed_at:
        for x, value in zip(xs, at, strict=False):
            x.data, x.grad = value, 0.0
        got = outcome(lambda: bits([step()] + [x.grad for x in xs]))
        expected = outcome(eager, program, at)
        assert got == "ReplayError" or got == expected, (got, expected)
