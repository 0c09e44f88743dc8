"""A recording observes only its own thread, changes nothing of the engine, and
refuses to replay an op that has since been removed or defined again."""

from __future__ import annotations

import math
import threading

import pytest

import microgrid
from microgrid import Value, compile
from microgrid.engine import OPS, define_op, remove_op
from microgrid.replay import ReplayError


def test_two_threads_recording_and_a_third_writing_leave_the_engine_as_it_was():
    value_class, engine_module = dict(vars(Value)), dict(vars(microgrid.engine))
    shared = Value(1.0, label="p")
    start = threading.Barrier(3)
    errors: list[BaseException] = []
    steps: dict[int, object] = {}
    rounds = 200

    def record(name: int) -> None:
        try:
            w = Value(0.5)
            start.wait()
            for _ in range(rounds):
                steps[name] = compile(lambda w: (w * 3.0).tanh() * w, [w])
        except BaseException as error:
            errors.append(error)

    def write() -> None:
        try:
            start.wait()
            for k in range(rounds * 5):
                shared.data = float(k)  # another thread's write: never undone, never refused
                assert shared.data == float(k)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=record, args=(n,)) for n in (1, 2)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert shared.data == float(rounds * 5 - 1)
    assert dict(vars(Value)) == value_class and dict(vars(microgrid.engine)) == engine_module
    assert microgrid.observe.active == 0  # no observer left behind: reads cost nothing again
    expected = math.tanh(1.5) * 0.5
    assert steps[1]() == steps[2]() == expected


def test_a_read_in_another_thread_is_not_charged_to_a_recording():
    x = Value(2.0, label="x")
    inside = threading.Event()
    proceed = threading.Event()

    def reader() -> None:
        inside.wait(timeout=60)
        _ = x.data  # this thread reads an input while the main thread records: not the recording's read
        proceed.set()

    t = threading.Thread(target=reader)
    t.start()

    def fn(x):
        inside.set()
        proceed.wait(timeout=60)
        return x * x

    step = compile(fn, [x])
    t.join(timeout=60)
    assert step() == 4.0


def test_an_op_defined_again_after_recording_refuses_to_replay():
    cube = define_op("cube", 1, lambda a: a**3, ["3*a^2"], "a**3")
    try:
        x = Value(2.0)
        step = compile(lambda x: cube(x) + x, [x])
        assert step() == 10.0 and x.grad == 13.0
        remove_op("cube")
        with pytest.raises(ReplayError, match=r"'cube' has been removed or defined again"):
            step()
        define_op("cube", 1, lambda a: a**3 + 1.0, ["3*a^2"], "a**3 + 1")
        with pytest.raises(ReplayError, match=r"'cube' has been removed or defined again"):
            step()
    finally:
        if "cube" in OPS:
            remove_op("cube")
