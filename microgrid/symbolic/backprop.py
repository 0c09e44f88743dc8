"""The four equations of backpropagation (`printing.BP_EQUATIONS`), read from the engine, checked for every index.

>>> from microgrid import MLP, backprop_equations
>>> eqs = backprop_equations(MLP(2, [2, 1], activation="sigmoid", seed=0))
>>> eqs.verify() >= len(MLP(2, [2, 1]).parameters())
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..engine import Value, grad
from ..names import derivative_name, labelled_nodes, textbook
from .chainrule import Seconds, as_budget, labelled_sources, local_derivative, near, same
from .conversion import sigmoid, symbol, sympy
from .printing import LOSSES, Displayed, Shown
from .simplify import ordered_product, ordered_sum, readable


@dataclass
class Instance(Shown):
    """One equation ("BP1" ... "BP4") at one index: dC/d(`wrt`) = `rhs` (= `simplified`, shorter, when found)."""

    equation: str
    wrt: str  # z^(l)_j for a delta, else the parameter's label
    rhs: sympy.Expr
    simplified: sympy.Expr | None = None

    @property
    def lines(self) -> list[sympy.Expr]:
        return [self.rhs] if self.simplified is None else [self.rhs, self.simplified]

    @property
    def lhs(self) -> str:
        return derivative_name("C", self.wrt)  # delta^(l)_j for z^(l)_j


@dataclass
class BackpropEquations(Displayed):
    """The four equations and every instance of them, for one model and loss."""

    model_repr: str
    loss: str
    output: Value  # C at the sample point
    instances: list[Instance] = field(default_factory=list)

    def verify(self, points: int = 3, seed: int = 0) -> int:
        """Checks every instance against ``grad`` at the model's point and `points` - 1 near it; returns how many."""
        wanted = sorted({i.wrt for i in self.instances})
        for where, output, nodes in near(self.output, points, seed):
            true = dict(zip(wanted, grad(output, [nodes[w] for w in wanted]), strict=True))
            values = {symbol(label): n.data for label, n in nodes.items()}
            values.update({symbol(derivative_name("C", w)): true[w] for w in wanted if w.startswith("z")})
            lines = [(i, k, line, true[i.wrt]) for i in self.instances for k, line in enumerate(i.lines, 1)]
            same(lines, values, where, shown=False)
        return len(self.instances)


def equations_of(
    C: Value, loss: str = "mse", *, network: str = "a network", budget: Seconds = None
) -> BackpropEquations:
    """The four equations for a loss ``C`` over an `MLP`'s textbook nodes; `budget` bounds the algebra of BP1."""
    if not isinstance(C, Value):
        raise TypeError(f"backprop_equations: expected the loss as a Value, got {type(C).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"backprop_equations: loss must be 'mse' or 'bce', got {loss!r}")
    if C.label != "C":
        raise ValueError(f"backprop_equations: the loss must be labelled 'C', as in the equations, not {C.label!r}")
    nodes = labelled_nodes(C, where="backprop_equations")
    sources = labelled_sources(C)
    sizes = _layer_sizes(nodes)
    layers = len(sizes) - 1
    bound = as_budget(budget)

    def z(layer: int, j: int) -> Value:
        return nodes[textbook("z", layer, j)]

    def out(layer: int, j: int) -> Value:  # the activation, or z itself in a linear layer; an input in layer 0
        return nodes[textbook("a", 0, j)] if layer == 0 else nodes.get(textbook("a", layer, j), z(layer, j))

    def sigma_prime(layer: int, j: int) -> sympy.Expr:
        a = out(layer, j)
        return sympy.S.One if a is z(layer, j) else local_derivative(a, z(layer, j), [z(layer, j)])

    def delta(node: Value) -> sympy.Symbol:
        return symbol(derivative_name("C", node.label))

    instances = []
    for layer in range(layers, 0, -1):
        for j in range(sizes[layer]):
            if layer == layers:
                dC_da = readable(local_derivative(C, out(layer, j), sources[C]), bound)
                rhs = ordered_product(dC_da, sigma_prime(layer, j))
                shorter = _with_sigmoids(readable(rhs, bound))
            else:
                nexts = [z(layer + 1, k) for k in range(sizes[layer + 1])]
                paths = [ordered_product(local_derivative(n, out(layer, j), sources[n]), delta(n)) for n in nexts]
                rhs = shorter = ordered_product(sigma_prime(layer, j), ordered_sum(paths))
            equation = "BP1" if layer == layers else "BP2"
            instances.append(Instance(equation, z(layer, j).label, rhs, None if shorter == rhs else shorter))
        inputs = {out(layer - 1, k) for k in range(sizes[layer - 1])}
        for j in range(sizes[layer]):
            zs = sources[z(layer, j)]
            parameters = [p for p in zs if p._op is None and p not in inputs]
            if len(parameters) != sizes[layer - 1] + 1:
                raise ValueError(
                    f"backprop_equations: {z(layer, j).label} reads {len(parameters)} labelled parameters, "
                    f"not a weight per input and a bias ({sizes[layer - 1] + 1}); label every parameter to name it"
                )
            for p in parameters:
                local = local_derivative(z(layer, j), p, zs)
                equation = "BP3" if local == 1 else "BP4"
                instances.append(Instance(equation, p.label, ordered_product(local, delta(z(layer, j)))))
    return BackpropEquations(network, loss, C, instances)


def _layer_sizes(nodes: dict[str, Value]) -> list[int]:
    """[inputs, neurons of layer 1, ..., of layer L], read from the labels a^(0)_k and z^(l)_j."""
    found: dict[int, set[int]] = {}
    for label in nodes:  # a^(0)_k and z^(l)_j, l > 0
        if (m := re.fullmatch(r"([az])\^\((\d+)\)_(\d+)", label)) and (m[1] == "a") == (m[2] == "0"):
            found.setdefault(int(m[2]), set()).add(int(m[3]))
    if not found.get(0) or len(found) < 2:
        raise ValueError(
            "backprop_equations: the loss's graph has no inputs a^(0)_k and weighted sums z^(l)_j; "
            "build it with an MLP, whose nodes carry the textbook names"
        )
    for layer in range(max(found) + 1):
        if not (indices := found.get(layer, set())) or indices != set(range(len(indices))):
            what = "inputs a^(0)_k for k" if layer == 0 else f"weighted sums z^({layer})_j for j"
            raise ValueError(f"backprop_equations: the loss's graph has the {what} in {sorted(indices)}, not 0, 1, ...")
    return [len(found[layer]) for layer in range(len(found))]


def _with_sigmoids(expr: sympy.Expr) -> sympy.Expr:
    """exp(u) written as sigmoid(u)/(1 - sigmoid(u)) where that is shorter, small forms only: sigmoid(z) - y.

    >>> z, y = sympy.symbols("z y")
    >>> _with_sigmoids(1 - y - sympy.exp(-z)/(1 + sympy.exp(-z)))
    -y + sigmoid(z)
    """
    powers = expr.atoms(sympy.exp)
    if not powers or sympy.count_ops(expr) > 40:
        return expr
    written = expr
    for power in powers:
        u = power.args[0]
        s = 1 - sigmoid(-u) if u.could_extract_minus_sign() else sigmoid(u)  # sigmoid(u), its argument unsigned
        written = written.subs(power, s / (1 - s))  # exp(u) = sigmoid(u) / (1 - sigmoid(u))
    written = sympy.factor_terms(sympy.cancel(written))
    return written if sympy.count_ops(written) < sympy.count_ops(expr) else expr
