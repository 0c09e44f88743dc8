"""What a program's constant was typed as, beyond the float the engine holds.

The engine holds ``1e23`` as the float 99999999999999991611392, ``2**60``
and 1152921504606847000 as one float, and ``e`` as 2.718281828459045.  A
formula must mean what was typed: `constant` makes the leaf and remembers
the exact number (or the name of a `NAMED_NUMBERS` entry), `typed` gives it
back, for as long as the leaf lives.  ``e`` and ``pi`` are `NAMED_NUMBERS`
wherever nothing else has that name.  A leaf made elsewhere has no entry; its
float then means the shortest decimal that rounds to it (`forms.number`).

    >>> from fractions import Fraction
    >>> c = constant(Fraction(10) ** 23)
    >>> c.data == 1e23, typed(c) == 10**23, typed(copy(c)) == 10**23
    (True, True, True)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple
from weakref import WeakKeyDictionary

from ..engine import Value

__all__ = ["NAMED_NUMBERS", "constant", "typed", "copy"]


class NamedNumber(NamedTuple):
    value: float
    meaning: str


#: Names that are numbers wherever nothing else has that name (a program that
#: assigns ``e`` makes it its own, and says so).
NAMED_NUMBERS = {"e": NamedNumber(math.e, "Euler's number"), "pi": NamedNumber(math.pi, "the number pi")}

# Keyed by the leaf itself (Values hash by identity), weakly: an entry goes with its graph.
_TYPED: WeakKeyDictionary[Value, Fraction | str] = WeakKeyDictionary()


def constant(exact: Fraction | str) -> Value:
    """An unlabelled leaf holding the float nearest `exact` (a number, or a name in `NAMED_NUMBERS`)."""
    leaf = Value(NAMED_NUMBERS[exact].value if isinstance(exact, str) else float(exact))
    _TYPED[leaf] = exact
    return leaf


def typed(leaf: Value) -> Fraction | str | None:
    """What `leaf` was typed as, if `constant` made it."""
    return _TYPED.get(leaf)


def copy(leaf: Value) -> Value:
    """A new leaf with `leaf`'s float, label and typed number."""
    exact = typed(leaf)
    new = Value(leaf.data, label=leaf.label)
    if exact is not None:
        _TYPED[new] = exact
    return new
