"""Adding an op of your own: `define_op`, with every check a new entry needs, and `remove_op`.

>>> import math
>>> from microgrid import Value
>>> softplus = define_op("softplus", 1, lambda a: math.log1p(math.exp(a)), rules=["sigmoid(a)"],
...                      definition="log(1 + exp(a))")
>>> x = Value(0.0); y = softplus(x); y.backward(); x.grad   # d/dx log(1 + e^x) = sigmoid(x)
0.5
>>> remove_op("softplus")
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence

from ._arguments import real
from .engine import OPS, Op, Value, register
from .ops import BUILT_IN
from .rules import CALLABLE, called_names

__all__ = ["define_op", "remove_op"]


def define_op(
    name: str,
    arity: int,
    forward: Callable[..., float],
    rules: Sequence[str],
    formula: str = "",
    *,
    definition: str = "",
    notation: str = "",
    latex: str = "",
    by_name: bool = True,
    commutative: bool = False,
    method: str | None = None,
    doc: str = "",
) -> Op:
    """Register an op (see `Op`) in `OPS` as the built-ins are, and as Value's `method` (default its name; "": none)."""
    where = f"define_op({name!r})"
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: the name must be a non-empty str, got {name!r}")
    if name in OPS or name in ("a", "b", "out", "n") or keyword.iskeyword(name):
        raise ValueError(f"{where}: the name {name!r} is taken (by an op, a rule's variables a, b, out, n, or Python)")
    if type(arity) is not int or arity not in (1, 2):
        raise ValueError(f"{where}: arity must be the int 1 or 2, got {arity!r}")
    if not callable(forward):
        raise ValueError(f"{where}: forward must be a function of {arity} float(s), got {forward!r}")
    if callable(rules):
        raise ValueError(f"{where}: the derivative is written once, as rule formulas: pass rules=[...], not a function")
    if bool(formula) == bool(definition):
        raise ValueError(f"{where}: give a formula or a definition (one of the two)")
    method = name if method is None else method
    if method and hasattr(Value, method):
        raise ValueError(f"{where}: Value already has an attribute {method!r}: pass another method name")

    def checked(*operands: float) -> float:  # a user's forward may give a complex (from ``a ** 0.5``): refused
        return real(forward(*operands), f"the result for input {', '.join(map(repr, operands))}", name)

    op = Op(name, arity, checked, rules, formula, definition=definition, notation=notation, latex=latex, doc=doc)
    op.by_name, op.commutative = by_name, commutative
    if unknown := called_names(op.rules) - set(OPS) - {name}:
        raise ValueError(f"{where}: its rules call {', '.join(sorted(unknown))}, which is not an op")
    register(op)
    if method:
        setattr(Value, method, op.apply)  # as the built-ins are Value's methods
    return op


def remove_op(name: str) -> None:
    """Undo `define_op` for an op defined after import (the built-ins stay)."""
    op = OPS.get(name)
    if op is None or name in BUILT_IN:
        raise ValueError(f"remove_op: {name!r} is {'built in' if op else 'not a defined op'}")
    if users := [other.name for other in OPS.values() if other is not op and name in called_names(other.rules)]:
        raise ValueError(f"remove_op: {name!r} is used in the rules of {', '.join(users)}; remove those first")
    del OPS[name]
    CALLABLE.pop(name, None)
    for attribute, method in list(vars(Value).items()):
        if method is op.apply:
            delattr(Value, attribute)
