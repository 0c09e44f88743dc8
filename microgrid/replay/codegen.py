"""A recorded graph as Python source: one line per node forward, one per edge backward.

The forward pass is one assignment per node (a weighted sum is one line);
the backward pass adds, consumers first, each edge's upstream gradient times
its local derivative, written out from the op's rule text (the same text the
engine compiles).  Variables are named for the nodes' labels (``z1_0``,
``dC_dz1_0``).  With ``batch=True`` the same code runs on numpy arrays: one
sample per element, branches as ``np.where``.

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
# The helpers a scalar step defines: the engine's own functions, copied.
_HELPERS = {"sigmoid": _floats.sigmoid, "power": _floats.power, "x_log_y": _floats.x_log_y}
_BATCH_HELPERS = """
def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
"""
_LINE_TERMS = 40  # terms per line of a long sum: Python's compiler recurses into nested sums


def generate(order: list[Value], program: list[tuple], inputs: list, data: list, *, batch: bool = False) -> tuple:
    """``(source, bindings)``: the module text defining ``step(*inputs, *data)``,
    and the names it needs that are not in it (ops defined outside the table)."""
    position = {node: k for k, node in enumerate(order)}
    leaves = [position[x] for x in [*inputs, *data] if x in position]
    live = _live(order, position, set(leaves))
    forms, taken = _SCALAR if not batch else _BATCH, {"math", "np", "_", *_HELPERS}
    bindings: dict[str, object] = {}
    used_ops = {op for _, op, *_ in program}
    for op in used_ops:
        if op.forward not in forms and not op.params:
            taken.add(_op_name(op))
            bindings[_op_name(op)] = _vectorized(op.forward) if batch else op.forward
    out = len(order) - 1
    names = _Names(order, taken)
    names.name(out, "C" if not order[out]._label else None)
    for k in leaves:
        names.name(k)
    for k, *_ in program:
        names.name(k)
    code = _Code(order, names, live, forms, batch)
    forward = [code.forward(*instruction) for instruction in program]
    backward = code.backward(program, out)
    args = ", ".join(names[k] for k in leaves)
    grads = _tuple(code.reached.get(k, "1.0" if k == out else "0.0") for k in leaves[: len(inputs)])
    numbers = _tuple([names.of[k] for k in sorted(names.of)] + list(code.reached.values()))
    helpers = sorted({n for n in re.findall(r"\b(sigmoid|power|x_log_y)\(", "\n".join(forward + backward))})
    lines = [
        f'"""{"Batch f" if batch else "F"}orward and backward of a recorded graph, by microgrid.compile."""',
        "import math",
        *(["import numpy as np"] if batch else []),
    ]
    for op in sorted(used_ops, key=_op_name):
        name = _op_name(op)
        if name in bindings and OPS.get(op.name) is op:
            shown = f"np.vectorize(OPS[{op.name!r}].forward, otypes=[float])" if batch else f"OPS[{op.name!r}].forward"
            lines += ["from microgrid import OPS", f"{name} = {shown}  # defined with define_op"]
    for name in helpers:
        lines += ["", _BATCH_HELPERS.strip() if batch else inspect.getsource(_HELPERS[name]).strip()]
    lines += ["", "", f"def step({args}):", "    # forward: one line per node", *forward]
    lines += ["    # backward: d(C)/d(each node), consumers first, one line per edge", *backward]
    result = names[out] if out in names.of else repr(order[out]._data)
    lines += [
        f"    return {result}, {grads}, {numbers}  # the value, the gradients, every number (for microgrid's checks)"
    ]
    if not batch:
        point = ", ".join(repr(order[k]._data) for k in leaves)
        lines += ["", "", 'if __name__ == "__main__":', f"    print(step({point})[:2])"]
    return "\n".join(lines) + "\n", bindings


def _tuple(names) -> str:  # type: ignore[no-untyped-def]
    names = list(names)
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _live(order: list[Value], position: dict, leaves: set[int]) -> set[int]:
    """Positions of the nodes computed from a leaf of `leaves` (whose gradients matter)."""
    live = set(leaves)
    for k, node in enumerate(order):
        if node._op is not None and any(position[p] in live for p in node.parents):
            live.add(k)
    return live


def _op_name(op: Op) -> str:
    return re.sub(r"\W", "_", op.name)


def _vectorized(forward):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.vectorize(forward, otypes=[float])


class _Names:
    """A variable name per node, from its label, each used once."""

    def __init__(self, order: list[Value], taken: set[str]):
        self.order, self.taken, self.of = order, taken, {}

    def name(self, k: int, name: str | None = None) -> None:
        if k in self.of:
            return
        label = self.order[k]._label
        base = name or (to_identifier(label) if label else f"v{k}")
        name = base
        while name in self.taken or keyword.iskeyword(name):
            name = f"{base}_{k}" if name == base else name + "_"
        self.of[k] = name
        self.taken.add(name)

    def __getitem__(self, k: int) -> str:
        return self.of[k]

    def unique(self, base: str) -> str:
        name = base
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name


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

    def grad(self, k: int) -> str:
        if k not in self.reached:
            self.reached[k] = self.names.unique(f"d{self.names[len(self.order) - 1]}_d{self.names[k]}")
        return self.reached[k]

    def template(self, op: Op, text: str, rule: bool = True) -> str:
        """`text` (an op's rule, or its form) as a format string in {a}, {b}, {out}."""
        key = (op, text)
        if key not in self.templates:
            tree = _Rule(self, rule).visit(_parse(text))
            self.templates[key] = re.sub(r"\b__(a|b|out)__\b", r"{\1}", ast.unparse(tree))
        return self.templates[key]

    def form(self, op: Op) -> str:
        """The source of ``op(a[, b])`` as the engine computes it on floats."""
        if op.params:  # x ** n: n is part of the op
            n = op.params[0]
            return f"a ** {n!r}" if self.batch or n.is_integer() else f"power(a, {n!r})"
        return self.forms.get(op.forward) or f"{_op_name(op)}({'a' if op.arity == 1 else 'a, b'})"

    def forward(self, k: int, op: Op, i: int, j: int, terms: tuple | None) -> str:
        name = self.names[k]
        if terms is None:
            expression = self.template(op, self.form(op), rule=False).format(
                a=self.value(i), b=self.value(j) if j >= 0 else ""
            )
            return self._line(name, expression, k)
        products = [self.value(a) if b < 0 else f"{self.value(a)} * {self.value(b)}" for a, b in terms[0]]
        lines = [products[:_LINE_TERMS]] + [
            [name, *products[s : s + _LINE_TERMS]] for s in range(_LINE_TERMS, len(products), _LINE_TERMS)
        ]
        return "\n".join(self._line(name, " + ".join(part), k) for part in lines)

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
                local = self.template(op, rule).format(**operands)
                # No input below: no gradient, only the partials that may raise, as the engine's do.
                lines += self._add(operand if k in self.live else -1, g, local)
        return lines

    def _add(self, k: int, g: str, local: str = "1.0") -> list[str]:
        """The line adding g * local to node k's gradient (or evaluating a local that may raise)."""
        if k not in self.live:
            return [] if re.fullmatch(r"[\w.()+-]*", local) else [f"    _ = {local}"]
        first = k not in self.reached
        name = self.grad(k)
        return [self._line(name, _times(g, local), k, "=" if first else "+=", gradient=True)]

    def _line(self, name: str, expression: str, k: int, assign: str = "=", gradient: bool = False) -> str:
        label = self.order[k]._label
        if gradient and label:
            label = derivative_name(self.order[-1]._label or "C", label)
        shown = f"  # {label}" if label and label != name else ""
        return f"    {name} {assign} {expression}{shown}"


class _Rule(ast.NodeTransformer):
    """A rule's tree with its operands as placeholders and its calls as the ops' forms."""

    def __init__(self, code: _Code, calls: bool):
        self.code, self.calls = code, calls

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return ast.Name(f"__{node.id}__") if node.id in ("a", "b", "out") else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if not self.calls or not isinstance(node.func, ast.Name) or node.func.id not in OPS:
            return self.generic_visit(node)  # type: ignore[return-value]
        form = _parse(self.code.form(OPS[node.func.id]))
        operands = dict(zip(("a", "b"), (self.visit(arg) for arg in node.args), strict=False))
        return _Fill(operands).visit(form)  # type: ignore[no-any-return]


class _Fill(ast.NodeTransformer):
    def __init__(self, operands: dict):
        self.operands = operands

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.operands[node.id]) if node.id in self.operands else node


def _parse(rule: str) -> ast.expr:
    tree = ast.parse(rule.replace("^", "**").strip(), mode="eval").body
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value = float(node.value)  # as the engine reads a rule: every number a float
    return tree


def _times(g: str, local: str) -> str:
    """g * local, written shorter where that is the same float: g * 1.0 is g, 1.0 * x is x, g * -1.0 is -g."""
    if local == "1.0":
        return g
    if g == "1.0":
        return local
    if local == "-1.0":
        return f"-{g}"
    return f"{g} * {local}" if re.fullmatch(r"[\w.]+", local) else f"{g} * ({local})"
