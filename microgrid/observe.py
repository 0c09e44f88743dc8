"""Observing the engine: a client that must see every number a piece of code takes from a graph (a recording of it
to run again does) registers an observer here, for its own thread, instead of changing the engine. Off by default:
while no thread observes, the engine pays one test of a global per read.

    >>> from microgrid import Value
    >>> class Reads:
    ...     def read(self, node, how): print(how, node.label)
    ...     def wrote(self, node, before): pass
    >>> x = Value(1.0, label="x")
    >>> with observing(Reads()):
    ...     _ = x.data
    read .data of x
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["Observer", "active", "observing"]


class Observer(Protocol):
    """What `observing` reports to: every number that leaves a Value, every ``.data`` set."""

    def read(self, node: Any, how: str) -> None: ...

    def wrote(self, node: Any, before: float) -> None: ...


# Observers of the current thread (or task), innermost last; `active` counts the observers of every thread, the one
# number the engine tests.
_observers: ContextVar[tuple[Observer, ...]] = ContextVar("microgrid_observers", default=())
active = 0
_lock = threading.Lock()


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Within the block, in this thread only, `observer` hears of every number read from a Value (``.data``,
    ``.grad``, `backward`, a float `grad`) and every ``.data`` set."""
    global active
    token = _observers.set((*_observers.get(), observer))
    with _lock:
        active += 1
    try:
        yield
    finally:
        _observers.reset(token)
        with _lock:
            active -= 1


def report_read(node: Any, how: str) -> None:
    for observer in _observers.get():
        observer.read(node, how)


def report_write(node: Any, before: float) -> None:
    for observer in _observers.get():
        observer.wrote(node, before)
