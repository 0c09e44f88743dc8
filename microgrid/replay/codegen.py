"""A recorded graph as Python source: one line per node forward (a neuron's weighted sum in one), one per edge
backward, each local derivative written from its op's rule text, variables named for the labels (``dC_dz1_0``).

    >>> from microgrid import Value, compile
    >>> x = Value(3.0, label="x")
    >>> print(compile(lambda x: (x * x).tanh(), [x]).source.split("def step")[1].splitlines()[3])
        C = math.tanh(v1)
"""

from __future__ import annotations

import ast
import bisect
import collections
import copy
import inspect
import keyword
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from .. import _floats
from ..engine import OPS, Op, Value
from ..names import derivative_name, to_identifier
from ..ops import ADD, MUL
from ..rules import rule_tree

_MATH = (_floats.exp, _floats.log, math.tanh, math.sin, math.cos)
# The engine's forwards as Python expressions in a, b: the same floats, or an error (that
# makes a replay run the engine's own pass, which raises the engine's message).
_SCALAR: dict[Callable[..., Any], str] = {
    **{f: f"a {sign} b" for f, sign in ((operator.add, "+"), (operator.sub, "-"), (operator.mul, "*"))},
    _floats.divide: "a / b",
    operator.neg: "-a",
    **{f: f"math.{f.__name__}(a)" for f in _MATH},
    _floats.relu: "a if a > 0.0 else 0.0",
    _floats.step: "1.0 if a > 0.0 else 0.0",
    _floats.sigmoid: "sigmoid(a)",
    _floats.power: "power(a, b)",
    _floats.x_log_y: "x_log_y(a, b)",
}
_BATCH: dict[Callable[..., Any], str] = {
    **_SCALAR,
    **{f: f"np.{f.__name__}(a)" for f in _MATH},
    _floats.relu: "np.where(a > 0.0, a, 0.0)",
    _floats.step: "np.where(a > 0.0, 1.0, 0.0)",
    _floats.power: "a ** b",
    _floats.x_log_y: "np.where(a == 0.0, 0.0, a * np.log(b))",
}
# The helpers a scalar step defines (the engine's own functions, copied), and a batch step's sigmoid.
_HELPERS = {f.__name__: f for f in (_floats.sigmoid, _floats.power, _floats.x_log_y)}
_BATCH_SIGMOID = """def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))"""
_LINE_TERMS = 40  # terms per line of a long sum: Python's compiler recurses into nested sums


def generate(
    order: list[Value], program: list[tuple], leaves: list[int], inputs: int, alive: set[int], np: Any = None
) -> tuple[str, dict[str, object], int]:
    """``(source, bindings, interior)``: the module defining ``step(*leaves)`` (on arrays with `np`), the first `inputs`
    leaves differentiated; the names it needs from outside; where computed nodes' gradients start in its numbers."""
    out, batch = len(order) - 1, np is not None
    used_ops: list[Op] = sorted({op for _, op, *_ in program}, key=_op_name)
    own = [op for op in used_ops if op.forward not in _SCALAR and not op.params]  # called by name
    bindings = {_op_name(op): np.vectorize(op.forward, otypes=[float]) if batch else op.forward for op in own}
    taken = {"math", "np", "_", *_HELPERS, *bindings}
    names: dict[int, str] = {}  # a variable per node, from its label
    for k in [out, *leaves, *(k for k, *_ in program)]:
        label = order[k]._label
        if k not in names:
            names[k] = _unique(to_identifier(label) if label else "C" if k == out else f"v{k}", taken, f"_{k}")
    values = [names[k] if k in names else _literal(node._data) for k, node in enumerate(order)]
    forms = {op: _template(_form(op, batch), batch, calls=False) for op in used_ops}
    forward = []
    for k, op, i, j, terms in program:  # a weighted sum of many terms: a line per _LINE_TERMS of them
        name, label = names[k], order[k]._label
        if terms is None:
            forward.append(_line(name, forms[op].format(a=values[i], b=values[j] if j >= 0 else ""), label))
            continue
        products = [values[a] if b < 0 else f"{values[a]} * {values[b]}" for a, b in terms[0]]
        for s in range(0, len(products), _LINE_TERMS):
            forward.append(_line(name, " + ".join([name] * (s > 0) + products[s : s + _LINE_TERMS]), label))
    rules = {op: [_template(rule, batch) for rule in op.rules] for op in used_ops}
    backward, reached = _backward(order, program, names, values, rules, alive, taken)
    grads = _tuple([reached.get(k, "1.0" if k == out else "0.0") for k in leaves[:inputs]])
    inner = [name for k, name in reached.items() if order[k]._op is not None]
    numbers = _tuple([names[k] for k in sorted(names)] + inner)
    lines = [f'"""{"Batch f" if np else "F"}orward and backward of a recorded graph, by microgrid.compile."""']
    lines += ["import math", *(["import numpy as np"] if np else [])]
    for op in own:
        if OPS.get(op.name) is op:
            shown = f"np.vectorize(OPS[{op.name!r}].forward, otypes=[float])" if np else f"OPS[{op.name!r}].forward"
            lines += ["from microgrid import OPS", f"{_op_name(op)} = {shown}  # defined with define_op"]
    for name in sorted(set(re.findall(rf"\b({'|'.join(_HELPERS)})\(", "\n".join(forward + backward)))):
        lines += ["", _BATCH_SIGMOID if np else inspect.getsource(_HELPERS[name]).strip()]
    lines += ["", "", f"def step({', '.join(names[k] for k in leaves)}):", "    # forward: one line per node"]
    lines += [*forward, "    # backward: d(C)/d(each node), consumers first, one line per edge", *backward]
    lines += [f"    return {values[out]}, {grads}, {numbers}  # the value, the gradients, the numbers microgrid checks"]
    if np is None:
        point = ", ".join(repr(order[k]._data) for k in leaves)
        lines += ["", "", 'if __name__ == "__main__":', f"    print(step({point})[:2])"]
    return "\n".join(lines) + "\n", bindings, len(names)


def live(order: list[Value], position: dict[Value, int], leaves: set[int]) -> set[int]:
    """Positions of the nodes computed from `leaves` (whose gradients matter)."""
    found = set(leaves)
    for k, node in enumerate(order):
        if node._op is not None and any(position[p] in found for p in node.parents):
            found.add(k)
    return found


def fuse_weighted_sums(order: list[Value], position: dict[Any, int], tape: list[tuple]) -> list[tuple]:
    """The tape's ``(k, op, i, j)`` with None, or, for a chain rooted at k, ``(its terms in forward order, in the order
    backward() reaches them)``, a term ``(a, b)`` the product of nodes a and b, ``(a, -1)`` node a."""
    uses = collections.Counter(parent for node in order for parent in node.parents)

    def absorbable(node: Value | None, op: Op) -> TypeGuard[Value]:  # computed only for the chain, by op
        return node is not None and node._op is op and uses[node] == 1

    positions = [t[0] for t in tape]  # increasing: the tape is in topological order
    chains: dict[int, tuple] = {}
    absorbed: set[int] = set()
    for node in reversed(order):  # roots first: a root's chain absorbs its spine
        k = position[node]
        if node._op is not ADD or k in absorbed:
            continue
        spine, left = [node], node._a
        while absorbable(left, ADD):
            spine.append(left)
            left = left._a
        operands = [left] + [n._b for n in reversed(spine)]  # t0, t1, ..., tn
        terms = [(position[t._a], position[t._b]) if absorbable(t, MUL) else (position[t], -1) for t in operands]
        inner = {position[t] for t in operands if absorbable(t, MUL)} | {position[n] for n in spine[1:]}
        if not inner:  # a single "+" of two nodes: nothing to gain
            continue
        # backward() adds to the terms' gradients in this order: the last term's to the third's, then t0's
        # and t1's if plain nodes (both at the first "+"), then t1's product's and t0's.
        first, second = terms[0], terms[1]
        backward_terms = [*reversed(terms[2:]), *(t for t in (first, second) if t[1] < 0)]
        backward_terms += [t for t in (second, first) if t[1] >= 0]
        # No bit changes: each sum keeps its order, and no node outside the chain, placed among its nodes, adds to a
        # gradient the chain adds to.
        targets = {a for a, _ in terms} | {b for _, b in terms if b >= 0}
        start, stop = bisect.bisect_right(positions, min(inner)), bisect.bisect_left(positions, k)
        if not any(n not in inner and (i in targets or j in targets) for n, _, i, j in tape[start:stop]):
            chains[k] = (tuple(terms), tuple(backward_terms))
            absorbed.update(inner)
    return [(*t, chains.get(t[0])) for t in tape if t[0] not in absorbed]


def _backward(
    order: list[Value], program: list[tuple], names: dict, values: list[str], rules: dict, alive: set, taken: set
) -> tuple[list[str], dict[int, str]]:
    """Per edge, consumers first, a line adding d(output)/d(node) * the local derivative to the operand's gradient;
    the gradients' variables."""
    out = len(order) - 1
    lines: list[str] = []
    reached: dict[int, str] = {}

    def add(k: int, g: str, local: str = "1.0") -> None:
        if k not in alive:  # no gradient, only a local derivative that may raise, as the engine's partials do
            if not re.fullmatch(r"[\w.()+-]*", local):
                lines.append(f"    _ = {local}")
            return
        assign = "+=" if k in reached else "="
        if k not in reached:
            reached[k] = _unique(f"d{names[out]}_d{names[k]}", taken)
        # Shorter where it is the same float: g * 1.0 is g, 1.0 * x is x, g * -1.0 is -g.
        if local == "1.0" or g == "1.0":
            product = g if local == "1.0" else local
        elif local == "-1.0":
            product = f"-{g}"
        else:
            product = f"{g} * {local}" if re.fullmatch(r"[\w.]+|\(-[\w.]+\)", local) else f"{g} * ({local})"
        label = order[k]._label
        lines.append(_line(reached[k], product, label and derivative_name(order[out]._label or "C", label), assign))

    for k, op, i, j, terms in reversed(program):
        g = "1.0" if k == out else reached.get(k, "0.0")
        if terms is None:
            operands = dict(a=values[i], b=values[j] if j >= 0 else "", out=values[k])
            for operand, rule in zip((i, j) if j >= 0 else (i,), rules[op], strict=True):
                add(operand if k in alive else -1, g, rule.format(**operands))
            continue
        for a, b in terms[1]:
            if b < 0:
                add(a, g)
            else:
                add(a, g, values[b])
                add(b, g, values[a])
    return lines, reached


def _line(name: str, expression: str, label: str, assign: str = "=") -> str:
    return f"    {name} {assign} {expression}" + (f"  # {label}" if label and label != name else "")


def _literal(x: float) -> str:
    shown = repr(abs(x)) if x - x == 0.0 else "math.nan" if x != x else "math.inf"
    return f"(-{shown})" if math.copysign(1.0, x) < 0 else shown  # -0.0 too


def _tuple(names: list[str]) -> str:
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def _op_name(op: Op) -> str:
    return re.sub(r"\W", "_", op.name)


def _unique(base: str, taken: set[str], suffix: str = "_") -> str:
    name = base
    while name in taken or keyword.iskeyword(name):
        name = base + suffix if name == base else name + "_"
    taken.add(name)
    return name


def _form(op: Op, batch: bool) -> str:
    """The source of ``op(a[, b])`` as the engine computes it on floats."""
    if op.params:  # x ** n: n is part of the op
        n = op.params[0]
        return f"a ** {n!r}" if batch or n.is_integer() else f"power(a, {n!r})"
    return (_BATCH if batch else _SCALAR).get(op.forward) or f"{_op_name(op)}({'a' if op.arity == 1 else 'a, b'})"


def _template(text: str, batch: bool, calls: bool = True) -> str:
    """`text` (an op's rule, or its form) as a format string in {a}, {b}, {out}; with `calls`, ops' calls as forms."""
    holes = {v: ast.Name(f"{{{v}}}") for v in ("a", "b", "out")}  # rules and forms hold no braces of their own
    return ast.unparse(_Substitute(holes, batch if calls else None).visit(rule_tree(text).body))


class _Substitute(ast.NodeTransformer):
    """A tree with names replaced by trees, and (unless `batch` is None) calls of ops by the ops' forms."""

    def __init__(self, trees: Mapping[str, ast.expr], batch: bool | None):
        self.trees, self.batch = trees, batch

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.trees[node.id]) if node.id in self.trees else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if self.batch is None or not isinstance(node.func, ast.Name) or node.func.id not in OPS:
            return self.generic_visit(node)  # type: ignore[return-value]
        operands = dict(zip(("a", "b"), (self.visit(arg) for arg in node.args), strict=False))
        return _Substitute(operands, None).visit(rule_tree(_form(OPS[node.func.id], self.batch)).body)
