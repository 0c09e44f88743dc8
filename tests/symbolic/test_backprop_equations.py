"""The four backprop equations: every instance against sympy.diff of the
network's loss written out by hand in this file, and verify() against the engine."""

import math

import pytest
import sympy

from microgrid import MLP, backprop_equations
from microgrid.symbolic.derivations import VerificationError
from microgrid.engine import topological_order
from microgrid.symbolic import symbol

ACT = {"sigmoid": lambda z: 1 / (1 + sympy.exp(-z)), "tanh": sympy.tanh, "linear": lambda z: z,
       "relu": lambda z: sympy.Max(0, z)}


def values_of(eqs):
    return {n.label: n.data for n in topological_order(eqs.output) if n.label}


def hand_loss(model, values, loss, free=None, from_layer=1):
    """C written out with sympy from layer `from_layer`'s weighted sums on:
    those are the symbols Z_j (the deltas are dC/dZ_j), or, with `free` a
    parameter label, that parameter is the symbol P and the input is numeric."""
    L = len(model.layers)
    acts = [sympy.Float(values[f"a^(0)_{k}"], 30) for k in range(model.nin)]
    for l in range(1, L + 1):
        layer = model.layers[l - 1]
        act = ACT[model.output_activation if l == L else model.activation]
        if free is None and l == from_layer:
            zs = [sympy.Symbol(f"Z_{j}") for j in range(layer.nout)]
        else:
            zs = []
            for j, n in enumerate(layer.neurons):
                num = lambda v: sympy.Symbol("P") if v.label == free else sympy.Float(v.data, 30)  # noqa: E731
                zs.append(sum(num(w) * a for w, a in zip(n.w, acts)) + num(n.b))
        acts = [act(z) for z in zs]
    ys = [sympy.Float(values[f"y_{j}"], 30) for j in range(len(acts))]
    if loss == "mse":
        return sum((a - y) ** 2 for a, y in zip(acts, ys))
    return sum(-y * sympy.log(a) - (1 - y) * sympy.log(1 - a) for a, y in zip(acts, ys))


def instance_value(instance, values, deltas):
    subs = {symbol(k): sympy.Float(v, 30) for k, v in {**values, **deltas}.items()}
    return float(sympy.N(instance.rhs.xreplace(subs), 20))


@pytest.mark.parametrize(
    "sizes, activation, output_activation, loss",
    [([3, 3, 2], "sigmoid", "linear", "mse"), ([3, 2], "tanh", "linear", "mse"),
     ([2, 3, 1], "sigmoid", "sigmoid", "bce"), ([3, 2], "relu", "linear", "mse")],
)
def test_every_instance_against_sympy(sizes, activation, output_activation, loss):
    model = MLP(2, sizes, activation=activation, output_activation=output_activation, seed=5)
    eqs = backprop_equations(model, loss)
    values = values_of(eqs)
    # the deltas, independently: dC/dZ of the loss written from layer l on, at the engine's z values
    deltas = {}
    for l in range(1, len(sizes) + 1):
        C = hand_loss(model, values, loss, from_layer=l)
        point = {sympy.Symbol(f"Z_{j}"): sympy.Float(values[f"z^({l})_{j}"], 30) for j in range(sizes[l - 1])}
        for j in range(sizes[l - 1]):
            deltas[f"delta^({l})_{j}"] = float(sympy.N(sympy.diff(C, sympy.Symbol(f"Z_{j}")).xreplace(point), 20))
    for instance in eqs.instances:
        if instance.equation in ("BP1", "BP2"):
            want = deltas[instance.lhs]
        else:
            C = hand_loss(model, values, loss, free=instance.wrt)
            p = next(v for v in model.parameters() if v.label == instance.wrt)
            want = float(sympy.N(sympy.diff(C, sympy.Symbol("P")).subs(sympy.Symbol("P"), p.data), 20))
        assert instance_value(instance, values, deltas) == pytest.approx(want, rel=1e-9, abs=1e-12), str(instance)
    assert eqs.verify() == len(eqs.instances)


def test_verify_counts_at_least_the_parameters():
    model = MLP(2, [3, 3, 2], activation="sigmoid")
    assert backprop_equations(model, loss="mse").verify() >= len(model.parameters())


def test_cross_entropy_delta_is_a_minus_y():
    eqs = backprop_equations(MLP(2, [2, 1], activation="tanh", output_activation="sigmoid", seed=0), "bce")
    bp1 = next(i for i in eqs.instances if i.equation == "BP1")
    assert bp1.simplified == symbol("a^(2)_0") - symbol("y_0")


def test_textbook_forms_and_display():
    eqs = backprop_equations(MLP(2, [3, 1], activation="sigmoid", seed=0))
    text = str(eqs)
    assert "(BP2) delta^(1)_0 = a^(1)_0*(1 - a^(1)_0)*w^(2)_0,0*delta^(2)_0" in text
    assert "(BP4) dC/dw^(1)_0,0 = a^(0)_0*delta^(1)_0" in text
    tex = eqs._repr_latex_()
    assert r"\odot" in tex and r"\delta^{(1)}_{0}" in tex and "(W^{(l+1)})^T" in tex


def test_verify_names_a_wrong_instance():
    eqs = backprop_equations(MLP(2, [2, 1], seed=0))
    wrong = next(i for i in eqs.instances if i.equation == "BP4")
    wrong.rhs = wrong.rhs * 2
    with pytest.raises(VerificationError, match=r"BP4.*dC/dw\^\(2\)_0,0"):
        eqs.verify()


def test_deep_network_is_fast_and_linear_in_size():
    import time

    start = time.monotonic()
    model = MLP(2, [8, 8, 8, 8, 1], seed=0)
    assert backprop_equations(model).verify(points=1) >= len(model.parameters())
    assert time.monotonic() - start < 10


def test_bad_input():
    with pytest.raises(ValueError, match="loss must be 'mse' or 'bce'"):
        backprop_equations(MLP(2, [1]), "hinge")
    with pytest.raises(TypeError, match="expected an MLP"):
        backprop_equations("MLP(2, [1])")
    with pytest.raises(ValueError, match="output_activation"):
        backprop_equations(MLP(2, [1], output_activation="tanh"), "bce")
