"""Argument checks shared by nn, losses, optim, data and train: one wording for every error.

>>> integer(True, "n", "make_moons")
Traceback (most recent call last):
...
TypeError: make_moons: n must be an int, got bool: True
"""

from __future__ import annotations

import math
import random
import reprlib
from collections.abc import Mapping, Set
from numbers import Integral, Real
from typing import Any

__all__ = ["integer", "ordered", "random_source", "real", "several"]
_UNORDERED = {Mapping: " (a dict would give its keys)", Set: " (a set has no order)"}  # Set: a dict's keys() too


def real(x: object, what: str, where: str, *, minimum: float | None = None) -> float:
    """`x` as a float if a finite real number (`numbers.Real`, not a bool) >= `minimum`; else TypeError or ValueError.

    >>> import fractions; real(fractions.Fraction(1, 4), "x", "f")
    0.25
    """
    # float and int first: Value() checks every leaf, and an ABC test is slower.
    if type(x) is not float and type(x) is not int and (isinstance(x, bool) or not isinstance(x, Real)):
        raise TypeError(f"{where}: {what} must be a real number, got {type(x).__name__}: {reprlib.repr(x)}")
    try:
        value = float(x)
    except OverflowError:  # an int beyond the floats (its repr may be thousands of digits)
        size = f"an int of {int(x).bit_length()} bits" if isinstance(x, Integral) else type(x).__name__
        raise ValueError(f"{where}: {what} is too large for a float ({size})") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {what} must be finite, got {x!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum:g}, got {x!r}")
    return value


def integer(x: object, what: str, where: str, *, minimum: int | None = None) -> int:
    """`x` as an int if an integer (`numbers.Integral`, not a bool) >= `minimum`: a NumPy int would not go in JSON."""
    if type(x) is not int and (isinstance(x, bool) or not isinstance(x, Integral)):
        raise TypeError(f"{where}: {what} must be an int, got {type(x).__name__}: {reprlib.repr(x)}")
    x = int(x)
    if minimum is not None and x < minimum:
        raise ValueError(f"{where}: {what} must be an int >= {minimum}, got {x}")
    return x


def ordered(x: object, what: str, where: str, *, of: str = "") -> list[Any]:
    """`x` as a list, if it has an order of its own; TypeError for one value, a str, a dict or a set.

    >>> ordered({1: 0.5}, "inputs", "MLP")
    Traceback (most recent call last):
    ...
    TypeError: MLP: inputs must be a sequence (a list or tuple), got dict: {1: 0.5} (a dict would give its keys)
    """
    why = next((text for kind, text in _UNORDERED.items() if isinstance(x, kind)), "")
    if why or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        shown = f"{type(x).__name__}: {reprlib.repr(x)}{why}"  # short: the value may be a large container
        raise TypeError(f"{where}: {what} must be a sequence (a list or tuple){of}, got {shown}")
    return list(x)


def several(x: object) -> bool:
    """A sample (a list, a NumPy row, a set) rather than one input (a number, a Value, a str, a 0-d array)?

    >>> from microgrid import Value
    >>> several([1.0, 2.0]), several(1.0), several(Value(1.0)), several("ab")
    (True, False, False, False)
    """
    # A 0-d NumPy array has __iter__, yet iterating it is an error: it is one number.
    return hasattr(x, "__iter__") and not isinstance(x, (str, bytes)) and getattr(x, "ndim", 1) > 0


def random_source(seed: object, where: str) -> random.Random:
    """The one meaning of ``seed=``: an int seeds the numbers, None seeds them from the global `random` (micrograd's).

    >>> random_source(3, "fit").random() == random_source(3, "fit").random()
    True
    """
    return random.Random(random.getrandbits(64) if seed is None else integer(seed, "seed", where))
