"""The four backprop equations: every instance against sympy.diff of the
network's loss written out by hand in this file, and verify() against the engine."""

import pytest
import sympy

from microgrid import MLP, backprop_equations
from microgrid.engine import topological_order
from microgrid.symbolic import symbol
from microgrid.symbolic.chainrule import VerificationError

ACT = {
    "sigmoid": lambda z: 1 / (1 + sympy.exp(-z)),
    "tanh": sympy.tanh,
    "linear": lambda z: z,
    "relu": lambda z: sympy.Max(0, z),
}


def values_of(eqs):
    return {n.label: n.data for n in topological_order(eqs.output) if n.label}


def hand_loss(model, values, loss, free=None, from_layer=1):
    """C written out with sympy from layer `from_layer`'s weighted sums on:
    those are the symbols Z_j (the deltas are dC/dZ_j), or, with `free` a
    parameter label, that parameter is the symbol P and the input is numeric."""

    def num(v):
        return sympy.Symbol("P") if v.label == free else sympy.Float(v.data, 30)

    L = len(model.layers)
    acts = [sympy.Float(values[f"a^(0)_{k}"], 30) for k in range(model.nin)]
    for number, layer in enumerate(model.layers, start=1):
        act = ACT[model.output_activation if number == L else model.activation]
        if free is None and number == from_layer:
            zs = [sympy.Symbol(f"Z_{j}") for j in range(layer.nout)]
        else:
            zs = [sum(num(w) * a for w, a in zip(n.w, acts, strict=True)) + num(n.b) for n in layer.neurons]
        acts = [act(z) for z in zs]
    ys = [sympy.Float(values[f"y_{j}"], 30) for j in range(len(acts))]
    if loss == "mse":
        return sum((a - y) ** 2 for a, y in zip(acts, ys, strict=True))
    return sum(-y * sympy.log(a) - (1 - y) * sympy.log(1 - a) for a, y in zip(acts, ys, strict=True))


def instance_value(instance, values, deltas):
    subs = {symbol(k): sympy.Float(v, 30) for k, v in {**values, **deltas}.items()}
    return float(sympy.N(instance.rhs.xreplace(subs), 20))


@pytest.mark.parametrize(
    "sizes, activation, output_activation, loss",
    [
        ([3, 3, 2], "sigmoid", "linear", "mse"),
        ([3, 2], "tanh", "linear", "mse"),
        ([2, 3, 1], "sigmoid", "sigmoid", "bce"),
        ([3, 2], "relu", "linear", "mse"),
    ],
)
def test_every_instance_against_sympy(sizes, activation, output_activation, loss):
    model = MLP(2, sizes, activation=activation, output_activation=output_activation, seed=5)
    eqs = backprop_equations(model, loss)
    values = values_of(eqs)
    # the deltas, independently: dC/dZ of the loss written from each layer on, at the engine's z values
    deltas = {}
    for number, size in enumerate(sizes, start=1):
        C = hand_loss(model, values, loss, from_layer=number)
        point = {sympy.Symbol(f"Z_{j}"): sympy.Float(values[f"z^({number})_{j}"], 30) for j in range(size)}
        for j in range(size):
            deltas[f"delta^({number})_{j}"] = float(sympy.N(sympy.diff(C, sympy.Symbol(f"Z_{j}")).xreplace(point), 20))
    for instance in eqs.instances:
        if instance.equation in ("BP1", "BP2"):
            want = deltas[instance.lhs]
        else:
            C = hand_loss(model, values, loss, free=instance.wrt)
            p = next(v for v in model.parameters() if v.label == instance.wrt)
            want = float(sympy.N(sympy.diff(C, sympy.Symbol("P")).subs(sympy.Symbol("P"), p.data), 20))
        assert instance_value(instance, values, deltas) == pytest.approx(want, rel=1e-9, abs=1e-12), str(instance)
    assert eqs.verify() == len(eqs.instances)


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


def test_a_deep_network_answers_within_a_bound():
    import time

    start = time.monotonic()
    model = MLP(2, [8, 8, 8, 8, 1], seed=0)
    assert backprop_equations(model).verify(points=1) >= len(model.parameters())
    assert time.monotonic() - start < 60  # a bound, not a benchmark


def test_bad_input():
    with pytest.raises(ValueError, match="loss must be 'mse' or 'bce'"):
        backprop_equations(MLP(2, [1]), "hinge")
    with pytest.raises(TypeError, match="expected an MLP"):
        backprop_equations("MLP(2, [1])")
    with pytest.raises(ValueError, match="output_activation"):
        backprop_equations(MLP(2, [1], output_activation="tanh"), "bce")


def _hand_network(v_label="v"):
    """Inputs a^(0)_0, a^(0)_1; neuron z^(1)_0 (tanh) with one weight labelled
    `v_label`; a linear output z^(2)_0; C = (z^(2)_0 - y_0)^2."""
    from microgrid import Value

    x0, x1 = Value(0.4, label="a^(0)_0"), Value(-0.7, label="a^(0)_1")
    w1, v, b1 = Value(0.9, label="w^(1)_0,0"), Value(-0.3, label=v_label), Value(0.2, label="b^(1)_0")
    w2, b2, y = Value(1.3, label="w^(2)_0,0"), Value(-0.1, label="b^(2)_0"), Value(0.6, label="y_0")
    z1 = w1 * x0 + v * x1 + b1
    z1.label = "z^(1)_0"
    a1 = z1.tanh()
    a1.label = "a^(1)_0"
    z2 = w2 * a1 + b2
    z2.label = "z^(2)_0"
    C = (z2 - y) ** 2
    C.label = "C"
    return C, {n.label: n.data for n in topological_order(C) if n.label}


def test_a_hand_built_network_against_sympy():
    from microgrid.symbolic.backprop import equations_of

    C, values = _hand_network()
    eqs = equations_of(C, network="a hand-built network")
    assert [(i.equation, i.wrt) for i in eqs.instances] == [
        ("BP1", "z^(2)_0"),
        ("BP4", "w^(2)_0,0"),
        ("BP3", "b^(2)_0"),
        ("BP2", "z^(1)_0"),
        ("BP4", "w^(1)_0,0"),
        ("BP4", "v"),
        ("BP3", "b^(1)_0"),
    ]
    x0, x1, w1, v, b1, w2, b2, y = sympy.symbols("x0 x1 w1 v b1 w2 b2 y")
    Z1, Z2 = sympy.symbols("Z1 Z2")
    point = {
        x0: values["a^(0)_0"],
        x1: values["a^(0)_1"],
        w1: values["w^(1)_0,0"],
        v: values["v"],
        b1: values["b^(1)_0"],
        w2: values["w^(2)_0,0"],
        b2: values["b^(2)_0"],
        y: values["y_0"],
        Z1: values["z^(1)_0"],
        Z2: values["z^(2)_0"],
    }
    whole = (w2 * sympy.tanh(w1 * x0 + v * x1 + b1) + b2 - y) ** 2
    want = {
        "delta^(2)_0": sympy.diff((Z2 - y) ** 2, Z2),
        "delta^(1)_0": sympy.diff((w2 * sympy.tanh(Z1) + b2 - y) ** 2, Z1),
    }
    deltas = {name: float(expr.xreplace(point)) for name, expr in want.items()}
    for label, p in [("w^(2)_0,0", w2), ("b^(2)_0", b2), ("w^(1)_0,0", w1), ("v", v), ("b^(1)_0", b1)]:
        want[f"dC/d{label}"] = sympy.diff(whole, p)
    for instance in eqs.instances:
        got = instance_value(instance, values, deltas)
        assert got == pytest.approx(float(want[instance.lhs].xreplace(point)), rel=1e-12), str(instance)
    assert eqs.verify() == 7
    assert str(eqs).startswith("The four equations of backpropagation for a hand-built network, C = sum_j")


def test_a_loss_that_cannot_be_read_is_refused_by_name():
    from microgrid import Value
    from microgrid.symbolic.backprop import equations_of

    with pytest.raises(TypeError, match="expected the loss as a Value, got MLP"):
        equations_of(MLP(2, [1]))
    C, _ = _hand_network()
    with pytest.raises(ValueError, match="loss must be 'mse' or 'bce', got 'hinge'"):
        equations_of(C, "hinge")
    C.label = "L"
    with pytest.raises(ValueError, match=r"the loss must be labelled 'C'.*not 'L'"):
        equations_of(C)
    x = Value(1.0, label="x")
    C = x * x
    C.label = "C"
    with pytest.raises(ValueError, match=r"no inputs a\^\(0\)_k and weighted sums z\^\(l\)_j"):
        equations_of(C)
    C, _ = _hand_network()
    C.parents[0].parents[0].label = "z^(3)_0"  # a layer skipped
    with pytest.raises(ValueError, match=r"has the weighted sums z\^\(2\)_j for j in \[\], not 0, 1"):
        equations_of(C)
    C, _ = _hand_network(v_label="")  # an unlabelled weight: z^(1)_0 would silently lose an instance
    with pytest.raises(
        ValueError, match=r"z\^\(1\)_0 reads 2 labelled parameters, not a weight per input and a bias \(3\)"
    ):
        equations_of(C)


def test_two_nodes_with_one_textbook_label_are_refused():
    from microgrid.symbolic.backprop import equations_of

    C, _ = _hand_network(v_label="w^(1)_0,0")  # two different weights named alike
    with pytest.raises(ValueError, match=r"backprop_equations: two different nodes are labelled 'w\^\(1\)_0,0'"):
        equations_of(C)


def test_cross_entropy_on_a_linear_output_says_it_reads_the_logits():
    text = str(backprop_equations(MLP(2, [2], activation="tanh", output_activation="linear", seed=0), "bce"))
    assert "cross-entropy on the logits z^(L)_j" in text and "log(a^(L)_j)" not in text.splitlines()[0]
    text = str(backprop_equations(MLP(2, [2], activation="tanh", output_activation="sigmoid", seed=0), "bce"))
    assert "log(a^(L)_j)" in text.splitlines()[0] and "logits" not in text


def test_cross_entropy_on_a_logit_reads_sigmoid_of_z_minus_y():
    from microgrid.symbolic.conversion import sigmoid

    eqs = backprop_equations(MLP(2, [2], activation="tanh", output_activation="linear", seed=0), "bce")
    for bp1 in (i for i in eqs.instances if i.equation == "BP1"):
        z = symbol(bp1.lhs.replace("delta", "z"))
        y = symbol(f"y_{bp1.lhs[-1]}")
        assert bp1.simplified == sigmoid(z) - y
        # and it is the derivative, by sympy here: d/dz of -y log s - (1 - y) log(1 - s), s = 1/(1 + e^-z)
        Z, Y = sympy.symbols("Z Y")
        s = 1 / (1 + sympy.exp(-Z))
        want = sympy.diff(-Y * sympy.log(s) - (1 - Y) * sympy.log(1 - s), Z)
        for zv, yv in ((0.3, 0.2), (-1.7, 0.9)):
            got = float(bp1.simplified.rewrite(sympy.exp).subs({z: zv, y: yv}))
            assert got == pytest.approx(float(want.subs({Z: zv, Y: yv})), rel=1e-12)
