"""The four equations of backpropagation, read from the engine, checked for every index.

`equations_of(C)` reads a network's loss C whose nodes carry the textbook names (an `MLP`'s) and assembles every
instance of BP1-BP4 (`printing.BP_EQUATIONS`), delta^(l)_j = dC/dz^(l)_j, from the engine's own local rules
(sigma' is a(1 - a) for the sigmoid, the step Heaviside(z, 0) for relu); `.verify()` checks each against the
engine's reverse pass, for every l, j, k.

    >>> from microgrid import MLP, backprop_equations
    >>> eqs = backprop_equations(MLP(2, [2, 1], activation="sigmoid", seed=0))
    >>> eqs.verify() >= len(MLP(2, [2, 1]).parameters())
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Value, grad
from ..names import labelled_nodes, parse_textbook, textbook
from .chainrule import as_budget, labelled_sources, local_derivative
from .conversion import sigmoid, symbol, sympy
from .derivation import near, nearby_builder, same
from .markdown import Displayed
from .precise import evaluate
from .printing import LOSSES, Shown
from .simplify import ordered_product, ordered_sum, readable
from .worker import Budget

__all__ = ["LOSSES", "BackpropEquations", "Instance", "equations_of"]


@dataclass
class Instance(Shown):
    """One equation at one index: d(C)/d(`wrt`) (a delta when `wrt` is a z) = `rhs`."""

    equation: str  # "BP1" ... "BP4"
    wrt: str  # the node label: z^(l)_j for a delta, else the parameter's
    rhs: sympy.Expr
    simplified: sympy.Expr | None = None  # the same, shorter (cross-entropy's a - y)

    @property
    def lines(self) -> list[sympy.Expr]:
        return [self.rhs] if self.simplified is None else [self.rhs, self.simplified]

    @property
    def lhs(self) -> str:
        return _delta(self.wrt) if self.equation in ("BP1", "BP2") else f"dC/d{self.wrt}"


def _delta(z_label: str) -> str:
    return "delta" + z_label[1:]  # z^(l)_j -> delta^(l)_j


@dataclass
class BackpropEquations(Displayed):
    """The four equations and every instance of them, for one model and loss."""

    model_repr: str
    loss: str
    output: Value  # C at the sample point
    instances: list[Instance] = field(default_factory=list)

    def verify(self, points: int = 3, seed: int = 0) -> int:
        """Every instance against ``grad`` (the engine's reverse pass) at the model's point and `points` - 1 near it:
        the number checked, or `VerificationError` naming the first that fails and the point."""
        for where, output, nodes in near(self.output, nearby_builder(self.output), points, seed):
            wanted = sorted({i.wrt for i in self.instances})
            true = dict(zip(wanted, grad(output, [nodes[w] for w in wanted]), strict=True))
            values = {symbol(label): n.data for label, n in nodes.items()}
            values.update({symbol(_delta(w)): true[w] for w in wanted if w.startswith("z")})
            for instance in self.instances:
                for k, line in enumerate(instance.lines, 1):
                    same(f"{instance}: line {k}", evaluate(line, values), true[instance.wrt], where)
        return len(self.instances)


def equations_of(
    C: Value, loss: str = "mse", *, network: str = "a network", budget: Budget | float | None = None
) -> BackpropEquations:
    """The four equations for `C`, a loss labelled ``C`` over nodes named ``a^(0)_k``, ``z^(l)_j``, ``a^(l)_j``
    (a neuron's parameters: the other leaves its z reads).  `loss` ("mse", "bce", "bce-logits") and `network`
    name them in the display; `budget` (a `Budget` or seconds) bounds the algebra that shortens BP1's lines.

    >>> from microgrid import Value
    >>> x = Value(0.5, label="a^(0)_0"); w = Value(-1.0, label="w^(1)_0,0"); b = Value(0.1, label="b^(1)_0")
    >>> z = w * x + b; z.label = "z^(1)_0"
    >>> a = z.sigmoid(); a.label = "a^(1)_0"
    >>> C = (a - Value(0.3, label="y_0")) ** 2; C.label = "C"
    >>> [str(i) for i in equations_of(C).instances][1:]
    ['(BP4) dC/dw^(1)_0,0 = a^(0)_0*delta^(1)_0', '(BP3) dC/db^(1)_0 = delta^(1)_0']
    """
    if not isinstance(C, Value):
        raise TypeError(f"backprop_equations: expected the loss as a Value, got {type(C).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"backprop_equations: loss must be 'mse' or 'bce', got {loss!r}")
    if C.label != "C":
        raise ValueError(
            f"backprop_equations: the loss must be labelled 'C', as the equations name it, not {C.label!r}"
        )
    return BackpropEquations(network, loss, C, _instances(C, as_budget(budget)))


def _layer_sizes(nodes: dict[str, Value]) -> list[int]:
    """[inputs, neurons of layer 1, ..., of layer L], read from the labels a^(0)_k and z^(l)_j."""
    found: dict[int, set[int]] = {}
    for label in nodes:
        parsed = parse_textbook(label)
        if parsed is None or len(parsed[2]) != 1 or not (parsed[1] + parsed[2][0]).isdigit():
            continue
        name, number, (index,) = parsed
        if (name, number) == ("a", "0") or (name == "z" and number != "0"):
            found.setdefault(int(number), set()).add(int(index))
    if not found.get(0) or len(found) < 2:
        raise ValueError(
            "backprop_equations: the loss's graph has no inputs a^(0)_k and weighted sums z^(l)_j; "
            "build it with an MLP, whose nodes carry the textbook names"
        )
    sizes = [found.get(layer, set()) for layer in range(max(found) + 1)]
    for layer, indices in enumerate(sizes):
        if indices != set(range(len(indices))) or not indices:
            what = "inputs a^(0)_k for k" if layer == 0 else f"weighted sums z^({layer})_j for j"
            raise ValueError(f"backprop_equations: the loss's graph has the {what} in {sorted(indices)}, not 0, 1, ...")
    return [len(indices) for indices in sizes]


def _instances(C: Value, budget: Budget) -> list[Instance]:
    nodes = labelled_nodes(C, where="backprop_equations")
    sources = labelled_sources(C)
    sizes = _layer_sizes(nodes)
    layers = len(sizes) - 1

    def z(layer: int, j: int) -> Value:
        return nodes[textbook("z", layer, j)]

    def out(layer: int, j: int) -> Value:  # the activation, or z itself in a linear layer; an input in layer 0
        return nodes[textbook("a", 0, j)] if layer == 0 else nodes.get(textbook("a", layer, j), z(layer, j))

    def sigma_prime(layer: int, j: int) -> sympy.Expr:
        a = out(layer, j)
        return sympy.S.One if a is z(layer, j) else local_derivative(a, z(layer, j), [z(layer, j)])

    instances = []
    for layer in range(layers, 0, -1):
        for j in range(sizes[layer]):
            if layer == layers:
                dC_da = readable(local_derivative(C, out(layer, j), sources[C]), budget)
                rhs = ordered_product(dC_da, sigma_prime(layer, j))
                shorter = _with_sigmoids(readable(rhs, budget))
                instances.append(Instance("BP1", z(layer, j).label, rhs, shorter if shorter != rhs else None))
            else:
                terms = [
                    ordered_product(
                        local_derivative(z(layer + 1, k), out(layer, j), sources[z(layer + 1, k)]),
                        symbol(_delta(z(layer + 1, k).label)),
                    )
                    for k in range(sizes[layer + 1])
                ]
                instances.append(
                    Instance("BP2", z(layer, j).label, ordered_product(sigma_prime(layer, j), ordered_sum(terms)))
                )
        inputs = {out(layer - 1, k) for k in range(sizes[layer - 1])}
        for j in range(sizes[layer]):
            delta = symbol(_delta(z(layer, j).label))
            zs = sources[z(layer, j)]
            parameters = [p for p in zs if p._op is None and p not in inputs]
            if len(parameters) != sizes[layer - 1] + 1:
                raise ValueError(
                    f"backprop_equations: {z(layer, j).label} reads {len(parameters)} labelled parameters, "
                    f"not a weight per input and a bias ({sizes[layer - 1] + 1}); label every parameter to name it"
                )
            for p in parameters:
                local = local_derivative(z(layer, j), p, zs)
                instances.append(Instance("BP3" if local == 1 else "BP4", p.label, ordered_product(local, delta)))
    return instances


def _with_sigmoids(expr: sympy.Expr) -> sympy.Expr:
    """exp(z)/(1 + exp(z)) written as sigmoid(z), as a textbook writes cross-entropy
    on a logit (sigmoid(z) - y), where that is shorter; small forms only.

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
