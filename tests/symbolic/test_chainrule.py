"""microgrid.symbolic.chainrule: `derive(output, wrt)` on any graph; every result and every displayed line
against sympy.diff of the forward formula written out by hand in the test.

Property-based: `derive` and `check` on random small programs ``h = act(k*x + w*fi + b); C = c*h*u + d*x``,
typed with random spellings of their names (``ﬁ`` for ``fi``, ``𝑥`` and ``ｘ`` for ``x``: Python reads
them as one name), random constants from 1e-300 to 1e300, and sometimes a point where relu's argument
is exactly 0.  The reference is the same formula built in sympy here, differentiated by ``sympy.diff``,
with relu as a Piecewise that is 0 at the kink (as the engine's step is).
"""

from __future__ import annotations

import math
import time
import unicodedata
from fractions import Fraction

import numpy
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microgrid
from microgrid import MLP, Value
from microgrid.nn.losses import mse
from microgrid.symbolic import symbol
from microgrid.symbolic.chainrule import VerificationError, derive, get, readable
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.conversion import definitions
from microgrid.symbolic.parsing import ExpressionError, program
from microgrid.symbolic.precise import evaluate
from microgrid.symbolic.worker import Budget

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
    for of, wrt, written in [
        ("C", "w", truth),
        ("C", "a", 2 * (S("a") - y)),
        ("C", "z", sympy.diff((sympy.tanh(S("z")) - y) ** 2, S("z"))),
    ]:
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
            zs.append(sum(w * a for w, a in zip(ws, acts, strict=True)) + sympy.Float(n.b.data, 30))
        acts = zs if i == len(model.layers) - 1 else [sympy.tanh(z) for z in zs]
    return (acts[0] - y) ** 2


@pytest.mark.parametrize("sizes", [[4, 4, 4, 1], [8, 8, 8, 8, 1]])
def test_first_layer_weight_of_a_deep_mlp_is_short_fast_and_right(sizes):
    model, C = _network(sizes)
    weight = model.layers[0].neurons[0].w[0]
    start = time.monotonic()
    d = derive(C, "w^(1)_0,0")
    # a bound on a loaded machine, not a benchmark: the written-out form takes minutes
    assert time.monotonic() - start < 60
    result = d.result("C", "w1_0_0")
    assert len(sympy.sstr(result)) < 600  # hundreds of characters, not the 44,000 of the written-out form
    assert symbol("delta^(2)_0") in result.free_symbols
    assert d.verify()
    if len(sizes) > 4:
        return  # sympy's own diff of the written-out loss takes a minute there
    # the named deltas at their engine values; the whole against sympy's derivative of the written-out loss
    values = {n.label: n.data for n in microgrid.engine.topological_order(C) if n.label}
    deltas = dict(zip(d.named, microgrid.grad(C, [_node(C, z) for _, z in d.named.values()]), strict=True))
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
    text = "; ".join(
        ["h0 = tanh(x)"] + [f"h{i} = tanh(h{i - 1}*w{i} + h{i - 1})" for i in range(1, 60)] + ["C = h59**2"]
    )
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
    point = dict(zip(args, values, strict=True))
    want = float(truth.subs(point))
    for module in ("math", "numpy", "mpmath"):
        assert float(sympy.lambdify(args, full, modules=module)(*values)) == pytest.approx(want, rel=1e-12)
    assert float(full.evalf(subs=point)) == pytest.approx(want, rel=1e-12)
    assert float(full.subs(point)) == pytest.approx(want, rel=1e-12)
    namespace = {"math": math, **{str(arg): value for arg, value in point.items()}}
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
    u = (a + b + c + dd + q + g) ** 6
    truth, point = sympy.diff(u * h - a * h, a), point_of(p)
    assert at(d.result("f", "a").xreplace({S("u"): u}), point) == pytest.approx(at(truth, point), rel=1e-12)
    assert d.verify(points=1)


def test_backprop_equations_take_a_budget():
    eqs = microgrid.backprop_equations(MLP(2, [2, 1], activation="sigmoid", seed=1), budget=Budget(0.01))
    assert eqs.verify(points=1) == 9 + 3  # every weight and bias, and a delta per neuron


def test_textbook_labels_give_code_that_runs():
    p = program(
        "z^(1)_0 = w^(1)_0,0*a^(0)_0 + b^(1)_0; a^(1)_0 = sigmoid(z^(1)_0); C = (a^(1)_0 - y)**2",
        at={"w^(1)_0,0": 0.7, "a^(0)_0": 0.4, "b^(1)_0": -0.2, "y": 0.1},
    )
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
    assert eval(code, {"math": math, **values}) == pytest.approx(want, rel=1e-12)
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
    with pytest.raises(ValueError, match=r"^derive: two different nodes are labelled 'x'"):
        derive(f, "w")
    with pytest.raises(ValueError, match=r"^check: two different nodes are labelled 'x'"):
        check_lines(f, "w", ["x*x"])


#: Each name as typed in different places of one program: Python reads every spelling as the first.
SPELLINGS = {
    "x": ["x", "𝑥", "ｘ"],
    "w": ["w", "𝐰", "ｗ"],
    "fi": ["fi", "ﬁ"],
    "b": ["b", "𝒃"],
    "u": ["u", "𝓊"],
    "h": ["h", "ℎ"],
}
LEAVES = ["x", "w", "fi", "b", "u"]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "identity"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
spelling = st.sampled_from

for _name, _spellings in SPELLINGS.items():
    assert all(unicodedata.normalize("NFKC", s) == _name and s.isidentifier() for s in _spellings)

#: Exponents of the constants: mostly within the parser's range (1e-100 to 1e100), its edges, and beyond up to 1e±300.
exponents = st.one_of(
    st.integers(-100, 100),
    st.integers(-100, 100),
    st.sampled_from([-300, -101, -100, 99, 100, 101, 300]),
    st.integers(-300, 300),
)


@st.composite
def constants(draw, wide: bool = True) -> str:
    """A constant as typed, a short mantissa: 1e-300 to 1e300 in size (`wide`), else 1e-100 to about 1e100."""
    mantissa = draw(st.sampled_from(["1", "2.5", "3", "7.25", "9.999"]))
    return f"{mantissa}e{draw(exponents if wide else st.integers(-100, 99))}"


@st.composite
def programs(draw, wide: bool = True):
    """(program text, its parts for the reference, the point (NFKC names), at as typed)."""
    act = draw(st.sampled_from(ACTIVATIONS))
    # Inside tanh and sigmoid a constant stays modest: far out they are flat, and so is every formula.
    k = draw(constants(wide) if act in ("relu", "identity") else st.sampled_from(["0.5", "2", "1e-3"]))
    c, d = draw(constants(wide)), draw(constants(wide))
    x, w, fi, b, u, h = (draw(spelling(SPELLINGS[n])) for n in ["x", "w", "fi", "b", "u", "h"])
    z = f"{k}*{x} + {w}*{fi} + {b}"
    text = f"{h} = {z if act == 'identity' else f'{act}({z})'}; C = {c}*{draw(spelling(SPELLINGS['h']))}*{u} + {d}*{x}"
    point = {n: draw(st.sampled_from([-1.5, -0.25, 0.5, 0.75, 2.0])) for n in LEAVES}
    if act == "relu" and draw(st.booleans()):  # exactly at the kink: k*0 + 0*fi + 0
        point.update(x=0.0, w=0.0, b=0.0)
    at = {draw(spelling(SPELLINGS[n])): v for n, v in point.items()}
    return text, (act, k, c, d), point, at


#: A name to differentiate against, with one of its spellings.
wrts = st.sampled_from([*LEAVES, "h"]).flatmap(lambda n: st.tuples(st.just(n), st.sampled_from(SPELLINGS[n])))


def _exact(typed: str) -> sympy.Rational:
    q = Fraction(typed)
    return sympy.Rational(q.numerator, q.denominator)


def reference(parts) -> tuple[sympy.Expr, sympy.Expr, dict]:
    """(C in terms of h, h in terms of the leaves, the symbols), in sympy, from the parts typed."""
    act, k, c, d = parts
    s = {n: sympy.Symbol(n) for n in [*LEAVES, "h"]}
    z = _exact(k) * s["x"] + s["w"] * s["fi"] + s["b"]
    h = {
        "relu": sympy.Piecewise((z, z > 0), (0, True)),
        "tanh": sympy.tanh(z),
        "sigmoid": 1 / (1 + sympy.exp(-z)),
        "identity": z,
    }[act]
    return _exact(c) * s["h"] * s["u"] + _exact(d) * s["x"], h, s


def true_derivative(parts, wrt: str, point: dict) -> float:
    """sympy's d(C)/d(wrt) at `point`, evaluated with exact inputs to 30 digits."""
    C, h, s = reference(parts)
    derivative = sympy.diff(C, s["h"]) if wrt == "h" else sympy.diff(C.subs(s["h"], h), s[wrt])
    exact = {s[n]: sympy.Rational(v) for n, v in point.items()}
    return float(derivative.subs(s["h"], h).subs(exact).evalf(30))


def in_range(parts) -> bool:
    return all(Fraction(10) ** -100 <= abs(Fraction(typed)) <= Fraction(10) ** 100 for typed in parts[1:])


def close(got: float | None, want: float) -> bool:
    return got is not None and abs(got - want) <= 1e-9 * abs(want) + 1e-300


@SETTINGS
@given(programs(), wrts)
def test_derive_agrees_with_sympy(case, wrt_typed):
    text, parts, point, at = case
    wrt, typed = wrt_typed
    if not in_range(parts):  # the parser's limit: a clear refusal naming the constant, never a wrong number
        with pytest.raises(ExpressionError, match="out of range"):
            program(text, at=at)
        return
    p = program(text, at=at)
    assert sorted(p) == sorted([*LEAVES, "h", "C"])  # one node per name, however it was typed
    derivation = derive(p.output, typed)
    result = derivation.result("C", typed)
    got = evaluate(result, {symbol(n): v for n, v in point.items()}, definitions=definitions(p.output))
    assert close(got, true_derivative(parts, wrt, point)), (text, point, result)


def _claim(parts, wrt: str, spell) -> str:
    """The true d(C)/d(wrt) as a student types it, in the program's names (spelled by `spell`),
    constants as typed (relu's derivative written as its branch for z > 0: right there only)."""
    act, k, c, d = parts
    w, fi, u, h = (spell(n) for n in ["w", "fi", "u", "h"])
    dh = {"relu": "1", "tanh": f"(1 - {h}**2)", "sigmoid": f"{h}*(1 - {h})", "identity": "1"}[act]
    inner = {"x": k, "w": fi, "fi": w, "b": "1"}
    if wrt == "h":
        return f"{c}*{u}"
    if wrt == "u":
        return f"{c}*{h}"
    return f"{c}*{u}*{dh}*{inner[wrt]}" + (f" + {d}" if wrt == "x" else "")


@settings(SETTINGS, max_examples=15)
@given(programs(wide=False), wrts, st.data())
def test_check_agrees_with_sympy(case, wrt_typed, data):
    text, parts, _, at = case
    wrt, typed = wrt_typed
    p = program(text, at=at)
    claim = _claim(parts, wrt, lambda n: data.draw(spelling(SPELLINGS[n])))
    right, off = check_lines(p.output, typed, [claim, f"{claim} + 1"])
    assert off.status != "correct"  # 1 more, whatever the size of the rest: exact numbers tell
    kink_matters = parts[0] == "relu" and wrt in ("x", "w", "fi", "b")
    if not kink_matters:
        assert right.status == "correct", (text, claim, right)
        return
    # The branch for z > 0 is wrong where z <= 0 (unproven, where the difference is too small for
    # the floats to see: 1e30 next to 1e80); a counterexample is where sympy's derivative says so.
    assert right.status != "correct", (text, claim, right)
    found = right.counterexample
    if found is None:
        return
    leaves = {n: found.point[n] for n in LEAVES}
    assert close(found.true, true_derivative(parts, wrt, leaves)), (text, found)
    assert not close(found.claimed, true_derivative(parts, wrt, leaves))


# ------------------------------------------------------------ numbers beside the steps
def test_with_at_every_step_shows_its_value_as_sympy_computes_it():
    """The reference: the forward formula in sympy, differentiated and evaluated here at 30 digits."""
    w, x, b, y, zz = sympy.symbols("w x b y zz")
    point = {"w": 0.5, "x": 1.5, "b": 0.1, "y": 1.0}
    z = w * x + b
    C = (sympy.tanh(z) - y) ** 2
    C_of_z = (sympy.tanh(zz) - y) ** 2
    reference = {
        "dC/da": 2 * (sympy.tanh(z) - y),
        "da/dz": 1 - sympy.tanh(z) ** 2,
        "dz/dw": x,
        "dC/dz": sympy.diff(C_of_z, zz).subs(zz, z),
        "dC/dw": sympy.diff(C, w),
    }
    d = derive(program("z = w*x + b; a = tanh(z); C = (a - y)**2")["C"], "w", at=point)
    shown = {eq.lhs(): eq for eq in d.equations()}
    assert set(shown) == set(reference)
    text = str(d)
    for lhs, formula in reference.items():
        eq = shown[lhs]
        assert eq.numbered and eq.lines[-1].is_Float
        assert float(eq.lines[-1]) == pytest.approx(at(formula, point), rel=1e-3)
        assert f"= {eq.lines[-1]}" in text
    assert "value at w=0.5, x=1.5, b=0.1, y=1, from its formula" in text
    assert d.verify() > 0  # the number lines are not formulas: verify skips them
    a = S("a")
    assert sympy.expand(d.result("C", "w") - 2 * (a - y) * (1 - a**2) * x) == 0  # the formula, not the number


def test_at_for_some_leaves_says_the_others_keep_the_graphs_values():
    p = program("z = w*x + b; C = z**2", {"x": 2.0, "b": 0.25, "w": 0.5})
    d = derive(p["C"], "w", at={"w": -1.0})
    assert "not given in at, so the graph's own (sampled, for a program): x, b" in str(d)
    assert float(d.steps[-1].result.lines[-1]) == pytest.approx(2 * (-1.0 * 2.0 + 0.25) * 2.0, rel=1e-3)
    assert p["w"].data == 0.5  # the user's graph is left as it was
    assert not any(eq.numbered for eq in derive(p["C"], "w").equations())


@pytest.mark.parametrize(
    "at_, says",
    [({"q": 1.0}, "q"), ({"z": 1.0}, "z, which is computed"), ({"w": math.inf}, "w = inf, which is not a finite")],
)
def test_at_refuses_what_is_no_leaf_value(at_, says):
    with pytest.raises(ValueError, match=says):
        derive(program("z = w*x; C = z**2")["C"], "w", at=at_)


def test_a_value_not_found_in_time_is_named_never_shown_wrong(monkeypatch):
    monkeypatch.setattr(microgrid.symbolic.precise, "EVALUATE_SECONDS", 1e-6)
    d = derive(program("z = w*x; C = z**2")["C"], "w", at={"w": 0.5, "x": 2.0})
    assert not any(eq.numbered for eq in d.equations())
    assert "no number (undefined there, beyond the floats, or past the time budget): dC/dz, dz/dw, dC/dw" in str(d)


# `verify` checks every line of a derivation against the float engine.
def test_verify_catches_a_wrong_line_of_a_seed():
    d = get("sigmoid-cross-entropy")
    A, y = symbol("A"), symbol("y")
    d.steps[1].result.lines.insert(2, -y - A * y + A - A * y)  # the seed's sign slip, as a third line
    with pytest.raises(VerificationError, match="dL/dZ: line 3"):
        d.verify(points=1)


def test_a_wrong_expectation_in_the_data_is_caught():
    d = get("sigmoid-cross-entropy")
    wrong = next(w for eq in d.equations() for w in eq.written if w.expect == "incorrect")
    wrong.expect = "correct"
    with pytest.raises(VerificationError, match="was expected correct"):
        d.verify(points=1)


def test_verify_catches_a_wrong_line_of_a_program():
    d = derive(program("z = w*x + b; a = tanh(z); C = (a - y)**2").output, "w")
    a, y, x = sympy.symbols("a y x")
    d.steps[-1].result.lines[-1] = 2 * (a - y) * x
    with pytest.raises(VerificationError, match="dC/dw"):
        d.verify()
