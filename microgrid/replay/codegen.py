"""A recorded graph as Python source: one line per node forward, one per edge backward.

Each edge's local derivative is written out from its op's rule text (the text
the engine compiles); variables are named for the labels (``z1_0``,
``dC_dz1_0``).  Given numpy, the same code runs on arrays of samples.

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
from typing import Any

from .. import _floats
from ..engine import OPS, Op, Value
from ..names import derivative_name, to_identifier

# The engine's forwards as Python expressions in a, b: the same floats, or an error (that
# makes a replay run the engine's own pass, which raises the engine's message).
_SCALAR = {
    operator.add: "a + b",
    operator.sub: "a - b",
    operator.mul: "a * b",
    operator.neg: "-a",
    _floats.divide: "a / b",
    _floats.exp: "math.exp(a)",
    _floats.log: "math.log(a)",
    math.tanh: "math.tanh(a)",
    math.sin: "math.sin(a)",
    math.cos: "math.cos(a)",
    _floats.relu: "a if a > 0.0 else 0.0",
    _floats.step: "1.0 if a > 0.0 else 0.0",
    _floats.sigmoid: "sigmoid(a)",
    _floats.power: "power(a, b)",
    _floats.x_log_y: "x_log_y(a, b)",
}
_BATCH = {
    **_SCALAR,
    **{f: f"np.{f.__name__}(a)" for f in (_floats.exp, _floats.log, math.tanh, math.sin, math.cos)},
    _floats.relu: "np.where(a > 0.0, a, 0.0)",
    _floats.step: "np.where(a > 0.0, 1.0, 0.0)",
    _floats.power: "a ** b",
    _floats.x_log_y: "np.where(a == 0.0, 0.0, a * np.log(b))",
}
# The helpers a scalar step defines (the engine's own functions, copied), and a batch step's sigmoid.
_HELPERS = {"sigmoid": _floats.sigmoid, "power": _floats.power, "x_log_y": _floats.x_log_y}
_BATCH_SIGMOID = """def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))"""
_LINE_TERMS = 40  # terms per line of a long sum: Python's compiler recurses into nested sums


def generate(order: list[Value], program: list[tuple], inputs: list, data: list, np: Any = None) -> tuple:
    """``(source, bindings, interior)``: the module text defining ``step(*inputs, *data)``,
    the names it needs that are not in it (ops defined outside the table), and where the
    computed nodes' gradients start in the numbers it returns.  With `np`, on arrays."""
    position = {node: k for k, node in enumerate(order)}
    leaves = [position[x] for x in [*inputs, *data] if x in position]
    forms, taken = _SCALAR if np is None else _BATCH, {"math", "np", "_", *_HELPERS}
    bindings: dict[str, object] = {}
    used_ops = sorted({op for _, op, *_ in program}, key=_op_name)
    for op in used_ops:
        if op.forward not in forms and not op.params:
            taken.add(_op_name(op))
            bindings[_op_name(op)] = op.forward if np is None else np.vectorize(op.forward, otypes=[float])
    out = len(order) - 1
    names = _Names(order, taken)
    for k in [out, *leaves, *(k for k, *_ in program)]:
        names.name(k, "C" if k == out and not order[out]._label else None)
    code = _Code(order, names, live(order, position, set(leaves)), forms, np is not None)
    forward = [code.forward(*instruction) for instruction in program]
    backward = code.backward(program, out)
    grads = _tuple(code.reached.get(k, "1.0" if k == out else "0.0") for k in leaves[: len(inputs)])
    inner = [name for k, name in code.reached.items() if order[k]._op is not None]
    numbers = _tuple([names.of[k] for k in sorted(names.of)] + inner)
    lines = [f'"""{"Batch f" if np else "F"}orward and backward of a recorded graph, by microgrid.compile."""']
    lines += ["import math", *(["import numpy as np"] if np else [])]
    for op in used_ops:
        if _op_name(op) in bindings and OPS.get(op.name) is op:
            shown = f"np.vectorize(OPS[{op.name!r}].forward, otypes=[float])" if np else f"OPS[{op.name!r}].forward"
            lines += ["from microgrid import OPS", f"{_op_name(op)} = {shown}  # defined with define_op"]
    for name in sorted(set(re.findall(r"\b(sigmoid|power|x_log_y)\(", "\n".join(forward + backward)))):
        lines += ["", _BATCH_SIGMOID if np else inspect.getsource(_HELPERS[name]).strip()]
    lines += ["", "", f"def step({', '.join(names[k] for k in leaves)}):", "    # forward: one line per node"]
    lines += [*forward, "    # backward: d(C)/d(each node), consumers first, one line per edge", *backward]
    result = names[out] if out in names.of else repr(order[out]._data)
    lines += [f"    return {result}, {grads}, {numbers}  # the value, the gradients, the numbers microgrid checks"]
    if np is None:
        point = ", ".join(repr(order[k]._data) for k in leaves)
        lines += ["", "", 'if __name__ == "__main__":', f"    print(step({point})[:2])"]
    return "\n".join(lines) + "\n", bindings, len(names.of)


def live(order: list[Value], position: dict, leaves: set[int]) -> set[int]:
    """Positions of the nodes computed from a leaf of `leaves` (whose gradients matter)."""
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


class _Names:
    """A variable name per node, from its label, each used once."""

    def __init__(self, order: list[Value], taken: set[str]):
        self.order, self.taken, self.of = order, taken, {}

    def name(self, k: int, name: str | None = None) -> None:
        label = self.order[k]._label
        if k not in self.of:
            self.of[k] = self.unique(name or (to_identifier(label) if label else f"v{k}"), f"_{k}")

    def unique(self, base: str, suffix: str = "_") -> str:
        name = base
        while name in self.taken or keyword.iskeyword(name):
            name = base + suffix if name == base else name + "_"
        self.taken.add(name)
        return name

    def __getitem__(self, k: int) -> str:
        return self.of[k]  # type: ignore[no-any-return]


class _Code:
    """Lines of the forward and backward passes, from the ops' forms and rules made
    templates once (parsed, so that every parenthesis is where Python needs it)."""

    def __init__(self, order: list[Value], names: _Names, live: set[int], forms: dict, batch: bool):
        self.order, self.names, self.live, self.forms, self.batch = order, names, live, forms, batch
        self.reached: dict[int, str] = {}  # node -> its gradient's variable, once a line assigns it
        self.templates: dict[tuple, str] = {}

    def value(self, k: int) -> str:
        if k in self.names.of:
            return self.names[k]
        x = self.order[k]._data
        shown = repr(abs(x)) if x - x == 0.0 else "math.nan" if x != x else "math.inf"
        return f"(-{shown})" if math.copysign(1.0, x) < 0 else shown  # -0.0 too

    def template(self, op: Op, text: str, calls: bool = True) -> str:
        """`text` (an op's rule, or its form) as a format string in {a}, {b}, {out}."""
        if (op, text) not in self.templates:
            holes = {v: ast.Name(f"__{v}__") for v in ("a", "b", "out")}
            tree = _Substitute(holes, self if calls else None).visit(_parse(text))
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
            self.reached[k] = self.names.unique(f"d{self.names[len(self.order) - 1]}_d{self.names[k]}")
        return [self._line(self.reached[k], _times(g, local), k, assign, gradient=True)]

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
        return _Substitute(operands, None).visit(_parse(self.code.form(OPS[node.func.id])))  # type: ignore[no-any-return]


def _parse(rule: str) -> ast.expr:
    """A rule as the engine reads it: ``^`` a power, every number a float."""
    tree = ast.parse(rule.replace("^", "**").strip(), mode="eval").body
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value = float(node.value)
    return tree


def _times(g: str, local: str) -> str:
    """g * local, written shorter where that is the same float: g * 1.0 is g, 1.0 * x is x, g * -1.0 is -g."""
    if local == "1.0" or g == "1.0":
        return g if local == "1.0" else local
    if local == "-1.0":
        return f"-{g}"
    return f"{g} * {local}" if re.fullmatch(r"[\w.]+|\(-[\w.]+\)", local) else f"{g} * ({local})"
