"""derive(output, wrt) on any graph: every result and every displayed line
against sympy.diff of the forward formula written out by hand in the test."""

import math
import random
import time

import numpy
import pytest
import sympy

import microgrid
from microgrid import MLP, Value
from microgrid.symbolic.worker import Budget
from microgrid.symbolic.chainrule import derive, readable
from microgrid.symbolic.derivation import VerificationError
from microgrid.nn.losses import mse
from microgrid.symbolic.parsing import program
from microgrid.symbolic import symbol

S = sympy.Symbol


def at(expr, point):
    return float(sympy.N(expr.xreplace({symbol(k): sympy.Float(v, 30) for k, v in point.items()}), 20))


def point_of(p):
    return {name: v.data for name, v in p.items()}


def test_tanh_program_ends_in_the_textbook_form():
    p = program("z = w*x + b; a = tanh(z); C = (a - y)**2")
    d = derive(p.output, "w")
    assert str(d).splitlines()[-1].strip() == "= 2*(a - y)*(1 - a**2)*x"
    w, x, b, y = (S(n) for n in "wxby")
    truth = sympy.diff((sympy.tanh(w * x + b) - y) ** 2, w)
    values = point_of(p)
    for of, wrt, written in [("C", "w", truth), ("C", "a", 2 * (S("a") - y)), ("C", "z", sympy.diff((sympy.tanh(S("z")) - y) ** 2, S("z")))]:
        for eq in d.equations():
            if (eq.of, eq.wrt) == (of, wrt):
                for line in eq.lines:  # every displayed line, not only the result
                    assert at(line, values) == pytest.approx(at(written, values), rel=1e-12)
    assert d.verify()


def test_several_paths_are_summed():
    p = program("u = x*y; v = sin(x); f = u + v*u")
    d = derive(p.output, "x")
    x, y = S("x"), S("y")
    truth = sympy.diff(x * y + sympy.sin(x) * x * y, x)
    assert at(d.result("f", "x"), point_of(p)) == pytest.approx(at(truth, point_of(p)), rel=1e-12)
    assert "a sum over the 2 nodes that read x" in str(d)
    assert d.verify()


def test_seed000_cross_entropy_simplifies_to_A_minus_y():
    p = program("Z = W*A_prev + b; A = sigmoid(Z); L = -y*log(A) - (1 - y)*log(1 - A)")
    d = derive(p.output, "W")
    A, y = S("A"), S("y")
    assert sympy.expand(d.result("L", "Z") - (A - y)) == 0
    Zs = S("Z")
    sig = 1 / (1 + sympy.exp(-Zs))
    written = sympy.diff(-y * sympy.log(sig) - (1 - y) * sympy.log(1 - sig), Zs)
    assert at(d.result("L", "Z"), point_of(p)) == pytest.approx(at(written, point_of(p)), rel=1e-12)


def test_readable_sigma_prime_forms_survive():
    text = str(derive(program("z = w*x; a = sigmoid(z); C = (a - y)**2").output, "w"))
    assert "da/dz = a*(1 - a)" in text and "dC/da = 2*(a - y)" in text
    assert "da/dz = 1 - a**2" in str(derive(program("z = w*x; a = tanh(z); C = (a - y)**2").output, "w"))
    a, y = S("a"), S("y")
    assert readable(a * (1 - a), Budget(5)) == a * (1 - a)  # not a - a**2, not -a*(a - 1)
    assert sympy.sstr(readable(2 * a - 2 * y, Budget(5))) == "2*(a - y)"  # sympy alone gives 2*a - 2*y


def _network(sizes, seed=0):
    model = MLP(2, sizes, seed=seed)
    C = mse(model([0.3, -0.5]), Value(0.2, label="y"))
    C.label = "C"
    return model, C


def _sympy_forward(model, x, y, symbolic_weight):
    """The network's loss written out by hand with sympy: tanh hidden layers,
    linear output; one weight a symbol, the others numbers."""
    acts = [sympy.Float(v, 30) for v in x]
    for i, layer in enumerate(model.layers):
        zs = []
        for n in layer.neurons:
            ws = [S("w") if w is symbolic_weight else sympy.Float(w.data, 30) for w in n.w]
            zs.append(sum(w * a for w, a in zip(ws, acts)) + sympy.Float(n.b.data, 30))
        acts = zs if i == len(model.layers) - 1 else [sympy.tanh(z) for z in zs]
    return (acts[0] - y) ** 2


@pytest.mark.parametrize("sizes", [[4, 4, 4, 1], [8, 8, 8, 8, 1]])
def test_first_layer_weight_of_a_deep_mlp_is_short_fast_and_right(sizes):
    model, C = _network(sizes)
    weight = model.layers[0].neurons[0].w[0]
    start = time.monotonic()
    d = derive(C, "w^(1)_0,0")
    assert time.monotonic() - start < 60  # a bound on a loaded machine, not a benchmark: the written-out form takes minutes
    result = d.result("C", "w1_0_0")
    assert len(sympy.sstr(result)) < 600  # hundreds of characters, not the 44,000 of the written-out form
    assert symbol("delta^(2)_0") in result.free_symbols
    assert d.verify()
    if len(sizes) > 4:
        return  # sympy's own diff of the written-out loss takes a minute there
    # the named deltas at their engine values; the whole against sympy's derivative of the written-out loss
    values = {n.label: n.data for n in microgrid.engine.topological_order(C) if n.label}
    deltas = dict(zip(d.named, microgrid.grad(C, [_node(C, z) for _, z in d.named.values()])))
    truth = sympy.diff(_sympy_forward(model, [0.3, -0.5], 0.2, weight), S("w")).subs(S("w"), weight.data)
    assert at(result, {**values, **deltas}) == pytest.approx(float(truth), rel=1e-10)


def _node(C, label):
    return next(n for n in microgrid.engine.topological_order(C) if n.label == label)


def test_delta_named_in_the_step_title_and_growth_is_linear():
    lengths = []
    for sizes in ([4, 1], [4, 4, 1], [4, 4, 4, 1], [4, 4, 4, 4, 1]):
        _, C = _network(sizes)
        lengths.append(len(sympy.sstr(derive(C, "w^(1)_0,0").result("C", "w^(1)_0,0"))))
    assert max(lengths) < 3 * lengths[1]  # bounded, where the written-out form multiplies with each layer


def test_verify_catches_a_wrong_line():
    d = derive(program("z = w*x + b; a = tanh(z); C = (a - y)**2").output, "w")
    d.steps[-1].result.lines[-1] = 2 * (S("a") - S("y")) * S("x")
    with pytest.raises(VerificationError, match="dC/dw"):
        d.verify()


def test_unlabelled_output_is_copied_not_changed():
    x = Value(0.5, label="x")
    f = (x * x).exp()
    d = derive(f, "x")
    assert f.label == "" and d.output is not f
    assert at(d.result("f", "x"), {"x": 0.5, "f": f.data}) == pytest.approx(2 * 0.5 * math.exp(0.25))


def test_unknown_names_are_listed():
    p = program("u = x*2; f = y**2 + u")
    with pytest.raises(KeyError, match="unknown name 'q'; the names here are: "):
        derive(p.output, "q")


def test_budget_zero_skips_the_algebra_but_stays_right():
    p = program("Z = W*A_prev + b; A = sigmoid(Z); L = -y*log(A) - (1 - y)*log(1 - A)")
    d = derive(p.output, "Z", budget=0.0)
    assert sympy.simplify(d.result("L", "Z").doit() - (S("A") - S("y"))) == 0
    assert d.verify()


def test_a_long_program_answers_within_seconds():
    text = "; ".join(["h0 = tanh(x)"] + [f"h{i} = tanh(h{i-1}*w{i} + h{i-1})" for i in range(1, 60)] + ["C = h59**2"])
    start = time.monotonic()
    d = derive(program(text).output, "x")
    assert time.monotonic() - start < 60  # a bound, not a benchmark
    assert d.verify(points=1)


def test_formulas_work_in_sympys_own_tools():
    p = program("z = w*x; a = sigmoid(z); C = (a - y)**2", at={"w": 0.7, "x": 0.4, "y": 0.1})
    expr = derive(p.output, "w").result("C", "w").doit()
    subs = {S("a"): sympy.Function("sigmoid") and microgrid.symbolic.sigmoid(S("w") * S("x")), S("z"): S("w") * S("x")}
    full = expr.xreplace(subs)
    w, x, y = S("w"), S("x"), S("y")
    truth = sympy.diff((1 / (1 + sympy.exp(-w * x)) - y) ** 2, w)
    args, values = (w, x, y), (0.7, 0.4, 0.1)
    want = float(truth.subs(dict(zip(args, values))))
    for module in ("math", "numpy", "mpmath"):
        assert float(sympy.lambdify(args, full, modules=module)(*values)) == pytest.approx(want, rel=1e-12)
    assert float(full.evalf(subs=dict(zip(args, values)))) == pytest.approx(want, rel=1e-12)
    assert float(full.subs(dict(zip(args, values)))) == pytest.approx(want, rel=1e-12)
    namespace = {"math": math, **dict(zip(map(str, args), values))}
    assert eval(sympy.pycode(full), namespace) == pytest.approx(want, rel=1e-12)  # the generated code runs
    assert "exp" in sympy.ccode(full) and "sigmoid" not in sympy.ccode(full)
    vector = sympy.lambdify(args, full, modules="numpy")(numpy.array([0.7, 0.1]), 0.4, 0.1)
    assert vector[0] == pytest.approx(want, rel=1e-12)


def test_latex_display():
    d = derive(_network([2, 2, 1])[1], "w^(1)_0,0")
    tex = d._repr_latex_()
    assert r"\delta^{(2)}_{0}" in tex and r"\frac{\partial C}{\partial w^{(1)}_{0,0}}" in tex


def test_lazy_export():
    assert microgrid.derive is derive
    assert microgrid.backprop_equations.__module__ == "microgrid.network_equations"


def test_one_budget_bounds_the_whole_derivation():
    # factor() of the chain's product runs for minutes here; the budget stops it
    p = program("u = (a + b + c + d + q + g)**6; f = u*h - a*h")  # (not e: that is Euler's number)
    start = time.monotonic()
    d = derive(p.output, "a", budget=Budget(0.5))
    assert time.monotonic() - start < 10 * 0.5 + 20  # stopped at the budget, with a wide margin for a loaded machine
    a, b, c, dd, q, g, h = (S(n) for n in "abcdqgh")
    truth = sympy.diff(((a + b + c + dd + q + g) ** 6) * h - a * h, a)
    point = point_of(p)
    assert at(d.result("f", "a").xreplace({S("u"): (a + b + c + dd + q + g) ** 6}), point) == pytest.approx(at(truth, point), rel=1e-12)
    assert d.verify(points=1)


def test_backprop_equations_take_a_budget():
    eqs = microgrid.backprop_equations(MLP(2, [2, 1], activation="sigmoid", seed=1), budget=Budget(0.01))
    assert eqs.verify(points=1) == 9 + 3  # every weight and bias, and a delta per neuron


def test_textbook_labels_give_code_that_runs():
    p = program("z^(1)_0 = w^(1)_0,0*a^(0)_0 + b^(1)_0; a^(1)_0 = sigmoid(z^(1)_0); C = (a^(1)_0 - y)**2",
                at={"w^(1)_0,0": 0.7, "a^(0)_0": 0.4, "b^(1)_0": -0.2, "y": 0.1})
    expr = derive(p.output, "w^(1)_0,0").result("C", "w^(1)_0,0").doit()
    a1 = symbol("a^(1)_0")
    w, x, b, y = (symbol(n) for n in ("w^(1)_0,0", "a^(0)_0", "b^(1)_0", "y"))
    full = expr.xreplace({a1: 1 / (1 + sympy.exp(-(w * x + b)))})
    # sympy's derivative of the loss written out here, in plain symbols
    W, X, B, Y = sympy.symbols("W X B Y")
    want = float(sympy.diff((1 / (1 + sympy.exp(-(W * X + B))) - Y) ** 2, W).subs({W: 0.7, X: 0.4, B: -0.2, Y: 0.1}))
    values = {"w1_0_0": 0.7, "a0_0": 0.4, "b1_0": -0.2, "y": 0.1}
    code = sympy.pycode(full)
    assert "^" not in code and "," not in code
    assert eval(code, {"math": math, **values}) == pytest.approx(want, rel=1e-12)  # noqa: S307 (sympy's own output)
    c = sympy.ccode(full)
    assert "^" not in c and "w1_0_0" in c
    args = (w, x, b, y)
    for module in ("math", "numpy", "mpmath"):
        assert float(sympy.lambdify(args, full, modules=module)(0.7, 0.4, -0.2, 0.1)) == pytest.approx(want, rel=1e-12)
    assert float(full.evalf(subs={w: 0.7, x: 0.4, b: -0.2, y: 0.1})) == pytest.approx(want, rel=1e-12)
    # the display keeps the textbook label
    assert "a^(1)_0" in str(expr) and r"a^{(1)}_{0}" in sympy.latex(expr)


def test_two_nodes_with_one_label_are_refused_by_the_operation():
    from microgrid.symbolic.checker import check_lines

    x1, x2, w = Value(1.0, label="x"), Value(2.0, label="x"), Value(3.0, label="w")
    f = x1 * w * x2
    f.label = "f"
    with pytest.raises(ValueError, match="^derive: two different nodes are labelled 'x'"):
        derive(f, "w")
    with pytest.raises(ValueError, match="^check: two different nodes are labelled 'x'"):
        check_lines(f, "w", ["x*x"])
