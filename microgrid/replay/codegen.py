"""A recorded graph as Python source: one line per node forward, one per edge backward, each local
derivative written from its op's rule text, variables named for the labels (``z1_0``, ``dC_dz1_0``).

    >>> from microgrid import Value, compile
    >>> x = Value(3.0, label="x")
    >>> print(compile(lambda x: (x * x).tanh(), [x]).source.split("def step")[1].splitlines()[3])
        C = math.tanh(v1)
"""

from __future__ import annotations

import ast
import copy
import inspect
import keyword
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from .. import _floats
from ..engine import OPS, Op, Value
from ..names import derivative_name, to_identifier
from ..rules import rule_tree

_MATH = (_floats.exp, _floats.log, math.tanh, math.sin, math.cos)
# The engine's forwards as Python expressions in a, b: the same floats, or an error (that
# makes a replay run the engine's own pass, which raises the engine's message).
_SCALAR: dict[Callable[..., Any], str] = {
    operator.add: "a + b",
    operator.sub: "a - b",
    operator.mul: "a * b",
    operator.neg: "-a",
    _floats.divide: "a / b",
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


def generate(order: list[Value], program: list[tuple], inputs: list, data: list, np: Any = None) -> tuple:
    """``(source, bindings, interior)``: the module defining ``step(*inputs, *data)`` (with `np`, on arrays),
    the names it needs from outside, and where the computed nodes' gradients start in its numbers."""
    position = {node: k for k, node in enumerate(order)}
    leaves = [position[x] for x in [*inputs, *data] if x in position]
    forms, taken = _SCALAR if np is None else _BATCH, {"math", "np", "_", *_HELPERS}
    bindings: dict[str, object] = {}
    used_ops: list[Op] = sorted({op for _, op, *_ in program}, key=_op_name)
    for op in used_ops:
        if op.forward not in forms and not op.params:
            taken.add(_op_name(op))
            bindings[_op_name(op)] = op.forward if np is None else np.vectorize(op.forward, otypes=[float])
    out = len(order) - 1
    names: dict[int, str] = {}  # a variable per node, from its label
    for k in [out, *leaves, *(k for k, *_ in program)]:
        label = order[k]._label
        if k not in names:
            names[k] = _unique(to_identifier(label) if label else "C" if k == out else f"v{k}", taken, f"_{k}")
    code = _Code(order, names, taken, live(order, position, set(leaves)), forms, np is not None)
    forward = [code.forward(*instruction) for instruction in program]
    backward = code.backward(program, out)
    grads = _tuple(code.reached.get(k, "1.0" if k == out else "0.0") for k in leaves[: len(inputs)])
    inner = [name for k, name in code.reached.items() if order[k]._op is not None]
    numbers = _tuple([names[k] for k in sorted(names)] + inner)
    lines = [f'"""{"Batch f" if np else "F"}orward and backward of a recorded graph, by microgrid.compile."""']
    lines += ["import math", *(["import numpy as np"] if np else [])]
    for op in used_ops:
        if _op_name(op) in bindings and OPS.get(op.name) is op:
            shown = f"np.vectorize(OPS[{op.name!r}].forward, otypes=[float])" if np else f"OPS[{op.name!r}].forward"
            lines += ["from microgrid import OPS", f"{_op_name(op)} = {shown}  # defined with define_op"]
    for name in sorted(set(re.findall(rf"\b({'|'.join(_HELPERS)})\(", "\n".join(forward + backward)))):
        lines += ["", _BATCH_SIGMOID if np else inspect.getsource(_HELPERS[name]).strip()]
    lines += ["", "", f"def step({', '.join(names[k] for k in leaves)}):", "    # forward: one line per node"]
    lines += [*forward, "    # backward: d(C)/d(each node), consumers first, one line per edge", *backward]
    result = names[out] if out in names else repr(order[out]._data)
    lines += [f"    return {result}, {grads}, {numbers}  # the value, the gradients, the numbers microgrid checks"]
    if np is None:
        point = ", ".join(repr(order[k]._data) for k in leaves)
        lines += ["", "", 'if __name__ == "__main__":', f"    print(step({point})[:2])"]
    return "\n".join(lines) + "\n", bindings, len(names)


def live(order: list[Value], position: dict, leaves: set[int]) -> set[int]:
    """Positions of the nodes computed from `leaves` (whose gradients matter)."""
    found = set(leaves)
    for k, node in enumerate(order):
        if node._op is not None and any(position[p] in found for p in node.parents):
            found.add(k)
    return found


def _tuple(names: Any) -> str:
    names = list(names)
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _op_name(op: Op) -> str:
    return re.sub(r"\W", "_", op.name)


def _unique(base: str, taken: set[str], suffix: str = "_") -> str:
    name = base
    while name in taken or keyword.iskeyword(name):
        name = base + suffix if name == base else name + "_"
    taken.add(name)
    return name


class _Code:
    """Lines of the forward and backward passes, from the ops' forms and rules parsed once into templates."""

    def __init__(
        self, order: list[Value], names: dict[int, str], taken: set[str], live: set[int], forms: dict, batch: bool
    ):
        self.order, self.names, self.taken, self.live, self.forms, self.batch = order, names, taken, live, forms, batch
        self.reached: dict[int, str] = {}  # node -> its gradient's variable, once a line assigns it
        self.templates: dict[tuple, str] = {}

    def value(self, k: int) -> str:
        if k in self.names:
            return self.names[k]
        x = self.order[k]._data
        shown = repr(abs(x)) if x - x == 0.0 else "math.nan" if x != x else "math.inf"
        return f"(-{shown})" if math.copysign(1.0, x) < 0 else shown  # -0.0 too

    def template(self, op: Op, text: str, calls: bool = True) -> str:
        """`text` (an op's rule, or its form) as a format string in {a}, {b}, {out}."""
        if (op, text) not in self.templates:
            holes = {v: ast.Name(f"__{v}__") for v in ("a", "b", "out")}
            tree = _Substitute(holes, self if calls else None).visit(rule_tree(text).body)
            self.templates[op, text] = re.sub(r"\b__(a|b|out)__\b", r"{\1}", ast.unparse(tree))
        return self.templates[op, text]

    def form(self, op: Op) -> str:
        """The source of ``op(a[, b])`` as the engine computes it on floats."""
        if op.params:  # x ** n: n is part of the op
            n = op.params[0]
            return f"a ** {n!r}" if self.batch or n.is_integer() else f"power(a, {n!r})"
        return self.forms.get(op.forward) or f"{_op_name(op)}({'a' if op.arity == 1 else 'a, b'})"

    def forward(self, k: int, op: Op, i: int, j: int, terms: tuple | None) -> str:
        name = self.names[k]
        if terms is None:
            b = self.value(j) if j >= 0 else ""
            return self._line(name, self.template(op, self.form(op), calls=False).format(a=self.value(i), b=b), k)
        products = [self.value(a) if b < 0 else f"{self.value(a)} * {self.value(b)}" for a, b in terms[0]]
        parts = [products[s : s + _LINE_TERMS] for s in range(0, len(products), _LINE_TERMS)]
        return "\n".join(self._line(name, " + ".join([name] * (s > 0) + p), k) for s, p in enumerate(parts))

    def backward(self, program: list[tuple], out: int) -> list[str]:
        lines = []
        for k, op, i, j, terms in reversed(program):
            g = "1.0" if k == out else self.reached.get(k, "0.0")
            if terms is not None:
                for a, b in terms[1]:
                    lines += (
                        self._add(a, g) if b < 0 else self._add(a, g, self.value(b)) + self._add(b, g, self.value(a))
                    )
                continue
            operands = dict(a=self.value(i), b=self.value(j) if j >= 0 else "", out=self.value(k))
            for operand, rule in zip((i, j) if j >= 0 else (i,), op.rules, strict=True):
                # No input below: no gradient, only the partials that may raise, as the engine's do.
                lines += self._add(operand if k in self.live else -1, g, self.template(op, rule).format(**operands))
        return lines

    def _add(self, k: int, g: str, local: str = "1.0") -> list[str]:
        """The line adding g * local to node k's gradient (or evaluating a local that may raise)."""
        if k not in self.live:
            return [] if re.fullmatch(r"[\w.()+-]*", local) else [f"    _ = {local}"]
        assign = "+=" if k in self.reached else "="
        if k not in self.reached:
            self.reached[k] = _unique(f"d{self.names[len(self.order) - 1]}_d{self.names[k]}", self.taken)
        # Shorter where it is the same float: g * 1.0 is g, 1.0 * x is x, g * -1.0 is -g.
        if local == "1.0" or g == "1.0":
            product = g if local == "1.0" else local
        elif local == "-1.0":
            product = f"-{g}"
        else:
            product = f"{g} * {local}" if re.fullmatch(r"[\w.]+|\(-[\w.]+\)", local) else f"{g} * ({local})"
        return [self._line(self.reached[k], product, k, assign, gradient=True)]

    def _line(self, name: str, expression: str, k: int, assign: str = "=", gradient: bool = False) -> str:
        label = self.order[k]._label
        if gradient and label:
            label = derivative_name(self.order[-1]._label or "C", label)
        return f"    {name} {assign} {expression}" + (f"  # {label}" if label and label != name else "")


class _Substitute(ast.NodeTransformer):
    """A tree with names replaced by trees, and (given the code) calls of ops by the ops' forms."""

    def __init__(self, trees: dict, code: _Code | None):
        self.trees, self.code = trees, code

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.trees[node.id]) if node.id in self.trees else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if self.code is None or not isinstance(node.func, ast.Name) or node.func.id not in OPS:
            return self.generic_visit(node)  # type: ignore[return-value]
        operands = dict(zip(("a", "b"), (self.visit(arg) for arg in node.args), strict=False))
        return _Substitute(operands, None).visit(rule_tree(self.code.form(OPS[node.func.id])).body)
