"""A graph of Values as a sympy expression: `to_sympy`, `definitions`, `find_node`.

Every *labelled* node becomes a `sympy.Symbol` named by its label, so an
expression reads like the textbook: the output of ``A = sigmoid(Z)`` stays
``A``.  The conversion is iterative: deep graphs are fine.

    >>> from microgrid import Value
    >>> Z = Value(0.3, label="Z"); A = Z.sigmoid(); A.label = "A"
    >>> to_sympy(1 - A), definitions(A)
    (1 - A, {A: sigmoid(Z)})
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Mapping

from ._sympy import sympy

from ..engine import Op, Value, topological_order
from ..graphs import describe, fold
from .forms import constant, number, sympy_form, symbol
from .parsing import HOLD_DIGITS, Size, TooLargeToWriteOut
from .parsing import combine as combine_sizes
from .parsing import normal_name
from ..names import NameLookupError, labelled_nodes, resolve

__all__ = ["to_sympy", "definitions", "find_node", "lookup", "convert"]


# ------------------------------------------------------------- conversion
def convert(
    root: Value,
    expand: bool,
    expand_root: bool,
    overrides: Mapping[Value, tuple[tuple[Value, ...], Callable]] | None = None,
    seen_labels: dict[str, Value] | None = None,
) -> sympy.Expr:
    """The sympy form of `root`; iterative, so deep graphs are fine.

    A labelled node is its Symbol, unless `expand` (then labelled leaves only)
    or it is the root and `expand_root`.  `overrides` replaces a node's rule:
    node -> (the nodes it is computed from, function of their expressions).
    """
    overrides = overrides or {}
    seen = {} if seen_labels is None else seen_labels

    def as_symbol(node: Value) -> bool:
        if not node.label or (node is root and expand_root):
            return False
        return not expand or (node._op is None and node not in overrides)

    def sources(node: Value) -> tuple[Value, ...]:
        return overrides[node][0] if node in overrides else node.parents

    def children(node: Value) -> tuple[Value, ...]:
        return () if as_symbol(node) else sources(node)

    def build(node: Value, args: list) -> sympy.Expr:
        if as_symbol(node):
            other = seen.setdefault(node.label, node)
            if other is not node:
                raise ValueError(
                    f"to_sympy: two different nodes are labelled {node.label!r}; "
                    "give them distinct labels so that each becomes its own symbol"
                )
            return symbol(node.label)
        if node in overrides:
            return overrides[node][1](*args)
        if node._op is None:
            return constant(node)
        return sympy_form(node._op)(*args)

    def combine(node: Value, parts: list) -> tuple[sympy.Expr, Size]:
        """(the node's expression, its `Size`), the size known before sympy builds anything."""
        sizes = [size for _, size in parts]
        if as_symbol(node):
            size = Size()
        elif node in overrides:  # a rule given by the caller: its parts' numbers, as they are
            size = Size(float(sum(s.digits for s in sizes)))
        elif node._op is None:
            size = None  # a number's size is read from the number sympy gets
        else:
            size = _op_size(node._op, sizes)
            if size.digits > HOLD_DIGITS:
                raise TooLargeToWriteOut(
                    f"to_sympy: written out exactly, {describe(node)} holds numbers of more than {HOLD_DIGITS:,} "
                    "digits (sympy multiplies exp(1000*log(1000*exp(...))) out to 1000**(10**6) and beyond); "
                    "too large for exact algebra: its numbers are still there with backward() or grad()"
                )
        expr = build(node, [e for e, _ in parts])
        return expr, _number_size(expr) if size is None else size

    return fold(root, combine, {}, children)[0]


def _op_size(op: Op, sizes: list[Size]) -> Size:
    """The `Size` of `op` applied to parts of `sizes`, by what sympy makes of it."""
    if op.name in ("+", "-"):
        return combine_sizes("add", sizes)
    if op.name in ("*", "/"):
        return combine_sizes("mul", sizes)
    if op.name == "**":
        return combine_sizes("pow", sizes)
    if op.params:  # x ** n: n as sympy gets it (2.5 as 5/2)
        return combine_sizes("pow", [sizes[0], _number_size(number(op.params[0]))])
    if op.name == "xlogy":  # a*log(b)
        return combine_sizes("mul", [sizes[0], combine_sizes("log", sizes[1:])])
    if op.name in ("neg", "exp", "log"):
        return combine_sizes(op.name, sizes)
    return combine_sizes("call" if op.arity == 1 else "mul", sizes)


def _number_size(expr: sympy.Expr) -> Size:
    """A number's `Size`: its digits if it is exact (a Float has none to multiply out)."""
    return Size.of_number(Fraction(int(expr.p), int(expr.q))) if expr.is_Rational else Size()


def to_sympy(value: Value, expand: bool = False) -> sympy.Expr:
    """The expression `value` computes, with labelled nodes as Symbols.

    With ``expand=True`` labelled intermediate nodes are replaced by their
    definitions, down to the labelled leaves.  Unlabelled leaves are numbers.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x"); h = (3 * x).tanh(); h.label = "h"
    >>> out = h * h + 1
    >>> to_sympy(out), to_sympy(out, expand=True)
    (h**2 + 1, tanh(3*x)**2 + 1)
    """
    if not isinstance(value, Value):
        raise TypeError(f"to_sympy: expected a Value, got {type(value).__name__}")
    return convert(value, expand, expand_root=True)


def definitions(output: Value) -> dict[sympy.Symbol, sympy.Expr]:
    """{Symbol: its definition down to the labelled leaves} for each labelled
    intermediate node `output` depends on (`output` itself included)."""
    nodes = labelled_nodes(output, where="to_sympy")
    return {symbol(label): convert(node, True, True) for label, node in nodes.items() if node._op is not None}


def find_node(output: Value, wrt: Value | str, aliases: Mapping[str, str] | None = None) -> Value:
    """The node `wrt` names in `output`'s graph: a Value, or a name in any
    spelling (`microgrid.names.resolve`: the label, its identifier, its
    textbook spelling typed with braces or δ, then `aliases`)."""
    if isinstance(wrt, Value):
        return wrt
    if not isinstance(wrt, str):
        raise TypeError(f"expected a Value or a label for wrt, got {type(wrt).__name__}: {wrt!r}")
    nodes: dict[str, list[Value]] = {}
    for n in topological_order(output):
        if n.label:
            nodes.setdefault(n.label, []).append(n)
    try:
        label = lookup(wrt, nodes, aliases)
    except NameLookupError as error:
        raise NameLookupError(f"no node labelled {wrt!r} in this graph: {error}") from None
    if len(nodes[label]) > 1:
        raise ValueError(f"{len(nodes[label])} different nodes are labelled {label!r}; give them distinct labels")
    return nodes[label][0]


def lookup(name: str, labels, aliases: Mapping[str, str] | None = None, where: str = "") -> str:
    """The label a typed `name` means (`microgrid.names.resolve`), the
    name read as Python reads names unless it is a label as it stands:
    ``--wrt ﬁ`` finds the label ``fi`` a program gives ``ﬁ = ...``."""
    labels = list(labels)
    return resolve(name if name in labels else normal_name(name), labels, aliases, where)
