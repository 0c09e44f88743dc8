"""The seeds' derivations: every result against sympy's own differentiation of
the forward definition written out by hand, every line against the float
engine (`verify`), and the seeds' typos reported."""

import random

import pytest
import sympy

import microgrid
from microgrid.names import textbook as tb
from microgrid.symbolic import check, label_of, seeds, symbol
from microgrid.symbolic.chainrule import get
from microgrid.symbolic.printing import TEXT
from microgrid.symbolic.seeds import DERIVATIONS, SEED_001_CLAIM


@pytest.fixture(scope="module")
def built():
    return {name: get(name) for name in DERIVATIONS}


def sig(x):
    return 1 / (1 + sympy.exp(-x))


def agree(ours, written, subs, leaves, trials=4, seed=1):
    """ours (in the derivation's symbols, intermediates substituted by `subs`) equals
    `written` (sympy.diff of the written-out forward) at random leaf values."""
    rng = random.Random(seed)
    full = ours.xreplace(subs).xreplace(subs).xreplace(subs)  # nested definitions
    for _ in range(trials):
        point = {s: sympy.Float(rng.uniform(-1.5, 1.5), 30) for s in leaves}
        got = complex(sympy.N(full.xreplace(point).rewrite(sympy.exp), 25))
        want = complex(sympy.N(written.xreplace(point), 25))
        assert abs(got - want) <= 1e-10 * (1 + abs(want)), (ours, point)


def test_seed000_results_against_sympy(built):
    d = built["sigmoid-cross-entropy"]
    W, b, A_prev, y, A, Z = (symbol(s) for s in ("W", "b", "A_prev", "y", "A", "Z"))
    Zf = W * A_prev + b
    Lf = -y * sympy.log(sig(Zf)) - (1 - y) * sympy.log(1 - sig(Zf))
    subs = {A: sig(Z), Z: Zf}
    for wrt in (W, b, A_prev):
        agree(d.result("L", wrt.name), sympy.diff(Lf, wrt), subs, [W, b, A_prev, y])
    # with respect to the intermediate Z: differentiate the loss written in Z
    Lz = -y * sympy.log(sig(Z)) - (1 - y) * sympy.log(1 - sig(Z))
    agree(d.result("L", "Z"), sympy.diff(Lz, Z), {A: sig(Z)}, [Z, y])
    La = -y * sympy.log(A) - (1 - y) * sympy.log(1 - A)
    assert sympy.simplify(d.result("L", "A") - sympy.diff(La, A)) == 0
    # exactly the seed's final forms
    assert d.result("L", "Z") == A - y
    assert sympy.expand(d.result("L", "W") - (A - y) * A_prev) == 0
    assert d.result("L", "b") == A - y
    assert sympy.expand(d.result("L", "A_prev") - (A - y) * W) == 0


def test_seed000_steps_read_like_the_seed(built):
    d = built["sigmoid-cross-entropy"]
    A, y = symbol("A"), symbol("y")
    step2 = d.steps[1]
    assert step2.factors[0].value == A * (1 - A)  # dA/dZ = A(1 - A)
    assert step2.result.chain == [("L", "A"), ("A", "Z")]
    assert step2.result.value == A - y
    notes = " ".join(step2.notes)
    assert "A - y" in notes and "(1 - A)A" in notes and "-y - Ay" in notes
    assert "bias" in " ".join(d.steps[3].notes)
    # the written-out lines are equal to the result, line by line
    for line in step2.result.lines:
        assert sympy.simplify(line - (A - y)) == 0
    # the main quantity and the built graph are from nn + losses, relabelled
    assert d.main == ("L", "Z")
    assert {n.label for n in microgrid.engine.topological_order(d.output) if n.label} == {
        "W",
        "b",
        "Z",
        "A",
        "A_prev",
        "y",
        "L",
    }


def test_seed002_single_neuron_against_sympy(built):
    d = built["single-neuron-squared-error"]
    w, b, prev, y, a, z = (symbol(s) for s in ("w^(L)", "b^(L)", "a^(L-1)", "y", "a^(L)", "z^(L)"))
    Cf = (sig(w * prev + b) - y) ** 2
    subs = {a: sig(z), z: w * prev + b}
    for wrt in (w, b, prev):
        agree(d.result("C_0", wrt.name), sympy.diff(Cf, wrt), subs, [w, b, prev, y])
    # the seed's form a^(L-1) sigma'(z) 2(a - y), with sigma'(z) = a(1 - a)
    assert sympy.expand(d.result("C_0", "w^(L)") - prev * a * (1 - a) * 2 * (a - y)) == 0
    assert sympy.expand(d.result("C_0", "b^(L)") - a * (1 - a) * 2 * (a - y)) == 0
    assert "dC_0/dw^(L)" in " ".join(d.steps[1].notes)  # the mislabelled bias line


def test_seed002_layer_sum_over_j_against_sympy(built):
    d = built["layer-squared-error"]
    nin, nout = seeds.LAYER_INPUTS, seeds.LAYER_OUTPUTS
    w = {(j, k): symbol(tb("w", "L", j, k)) for j in range(nout) for k in range(nin)}
    bs = [symbol(tb("b", "L", j)) for j in range(nout)]
    prev = [symbol(tb("a", "L-1", k)) for k in range(nin)]
    ys = [symbol(f"y_{j}") for j in range(nout)]
    zf = [sum(w[j, k] * prev[k] for k in range(nin)) + bs[j] for j in range(nout)]
    Cf = sum((sig(zf[j]) - ys[j]) ** 2 for j in range(nout))
    subs = {symbol(tb("a", "L", j)): sig(zf[j]) for j in range(nout)}
    leaves = list(w.values()) + bs + prev + ys
    for k in range(nin):
        agree(d.result("C_0", prev[k].name), sympy.diff(Cf, prev[k]), subs, leaves)
        # the seed's sum over j of w_jk sigma'(z_j) 2(a_j - y_j)
        aj = [symbol(tb("a", "L", j)) for j in range(nout)]
        seed_sum = sum(w[j, k] * aj[j] * (1 - aj[j]) * 2 * (aj[j] - ys[j]) for j in range(nout))
        assert sympy.expand(d.result("C_0", prev[k].name) - seed_sum) == 0
    for wjk in w.values():
        agree(d.result("C_0", wjk.name), sympy.diff(Cf, wjk), subs, leaves)


def seed001_forward():
    W1 = sympy.Matrix(2, 2, lambda j, k: symbol(tb("w", 1, j, k)))
    W2 = sympy.Matrix(2, 2, lambda j, k: symbol(tb("w", 2, j, k)))
    W3 = sympy.Matrix(1, 2, lambda j, k: symbol(tb("w", 3, 0, k)))
    x = sympy.Matrix(2, 1, lambda j, _: symbol(tb("a", 0, j)))
    z1 = W1 * x
    h1 = z1.applyfunc(sig)
    z2 = W2 * h1
    h2 = z2.applyfunc(sig)
    f = (W3 * h2)[0, 0]
    subs = {}
    for j in range(2):
        subs[symbol(tb("a", 1, j))] = h1[j]
        subs[symbol(tb("a", 2, j))] = h2[j]
    leaves = list(W1) + list(W2) + list(W3) + list(x)
    return f, subs, leaves, W1


def test_seed001_every_weight_against_sympy(built):
    d = built["two-layer-network"]
    f, subs, leaves, _ = seed001_forward()
    for weight in leaves[:-2]:
        agree(d.result("f", weight.name), sympy.diff(f, weight), subs, leaves)


def test_seed001_matrix_form_is_the_engine_entry_by_entry(built):
    d = built["two-layer-network"]
    f, subs, leaves, W1 = seed001_forward()
    matrix = next(eq for eq in d.results if eq.wrt_name == "W^(1)")
    formula, engine = matrix.lines
    assert formula.shape == engine.shape == (2, 2)
    for j in range(2):
        for k in range(2):
            assert sympy.simplify(formula[j, k] - engine[j, k]) == 0
            agree(formula[j, k], sympy.diff(f, W1[j, k]), subs, leaves)


def test_seed001_answer_is_incorrect_with_a_counterexample(built):
    d = built["two-layer-network"]
    verdict = d.checks[0][1]
    again = check(SEED_001_CLAIM, d.output, tb("w", 1, 0, 0))
    for v in (verdict, again):
        assert not v.correct
        ce = v.counterexample
        assert ce is not None and ce.claimed != pytest.approx(ce.true)
        # the true value at that point from sympy's differentiation of the written-out network
        f, _, leaves, W1 = seed001_forward()
        point = {s: ce.point[label_of(s)] for s in leaves}
        assert ce.true == pytest.approx(float(sympy.diff(f, W1[0, 0]).xreplace(point)), rel=1e-9)
    missing = " ".join(verdict.notes)
    assert tb("w", 2, 0, 0) in missing and tb("a", 0, 0) in missing  # it drops W2 and x
    # the corrected formula, typed by hand, is accepted
    right = "(w3_0_0*a2_0*(1 - a2_0)*w2_0_0 + w3_0_1*a2_1*(1 - a2_1)*w2_1_0) * a1_0*(1 - a1_0) * a0_0"
    assert check(right, d.output, tb("w", 1, 0, 0)).correct


def test_seed001_has_no_bias_symbols(built):
    d = built["two-layer-network"]
    names = {s.name for _, e in d.definitions for s in e.free_symbols}
    assert not any(n.startswith("b^") for n in names)


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_verify_every_derivation(built, name):
    assert built[name].verify(points=2, seed=7) > 0


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_displays(built, name):
    d = built[name]
    text = str(d)
    assert d.title in text and "1." in text
    tex = d.latex()
    assert tex.startswith(r"\begin{aligned}") and tex.endswith(r"\end{aligned}")
    assert tex.count(r"\begin{") == tex.count(r"\end{")
    assert r"\frac{\partial" in tex
    assert d._repr_latex_() == "$$" + tex + "$$"


def test_unknown_derivation():
    with pytest.raises(KeyError, match="unknown derivation"):
        get("nope")


def test_seed001_in_the_answers_own_notation(built):
    from microgrid.symbolic.seeds import SEED_001_CLAIM_SEED_NOTATION

    d = built["two-layer-network"]
    theirs = d.check(SEED_001_CLAIM_SEED_NOTATION)
    ours = d.check(SEED_001_CLAIM)
    assert not theirs.correct and theirs.claim == ours.claim
    # the answer's w^l_(i,j) runs from unit i to unit j (from 1): w2_21 is w^(2)_0,1
    assert d.check("w3_11*h2_1*(1 - h2_1)*h1_2", wrt="w2_21").correct
    assert d.check("(w3_11*h2_1*(1-h2_1)*w2_11 + w3_21*h2_2*(1-h2_2)*w2_12)*h1_1*(1-h1_1)*x_1").correct


def test_seed000_every_result_in_the_seeds_form(built):
    d = built["sigmoid-cross-entropy"]
    A, y, W, A_prev = (symbol(s) for s in ("A", "y", "W", "A_prev"))
    seed_forms = {
        "A": -y / A + (1 - y) / (1 - A),
        "Z": A - y,
        "W": A_prev * (A - y),
        "b": A - y,
        "A_prev": W * (A - y),
    }
    results = {eq.wrt: eq.value for eq in d.results}
    assert list(results) == ["A", "Z", "W", "b", "A_prev"]  # dL/dA is a result too, first, as in the seed
    for wrt, form in seed_forms.items():
        assert results[wrt] == form, wrt  # structural equality, not simplify(...) == 0
        assert d.result("L", wrt) == form, wrt
    # the seed's line in the seed's order, shown as the seed's, not rewritten like the engine's
    assert "as seed 000 writes it:" in str(d) and "= -y/A + (1-y)/(1-A)   [agrees with the engine]" in str(d)
    assert "dL/dA = (1 - y)/(1 - A) - y/A" in str(d)  # the engine's, once


def test_seed002_and_seed001_results_in_the_seeds_form(built):
    a, prev, y = symbol("a^(L)"), symbol("a^(L-1)"), symbol("y")
    assert built["single-neuron-squared-error"].result("C_0", "w^(L)") == prev * a * (1 - a) * 2 * (a - y)
    assert built["single-neuron-squared-error"].result("C_0", "b^(L)") == a * (1 - a) * 2 * (a - y)
    layer = built["layer-squared-error"]
    aL, yL = [symbol(tb("a", "L", j)) for j in range(2)], [symbol(f"y_{j}") for j in range(2)]
    for k in range(seeds.LAYER_INPUTS):
        w = [symbol(tb("w", "L", j, k)) for j in range(2)]
        seed_sum = sum(w[j] * aL[j] * (1 - aL[j]) * 2 * (aL[j] - yL[j]) for j in range(2))
        assert layer.result("C_0", tb("a", "L-1", k)) == seed_sum
    net = built["two-layer-network"]

    def S(*args):
        return symbol(tb(*args))

    a1, a2 = [S("a", 1, i) for i in range(2)], [S("a", 2, i) for i in range(2)]
    path_0 = a2[0] * S("w", 2, 0, 0) * S("w", 3, 0, 0) * (1 - a2[0])
    path_1 = a2[1] * S("w", 2, 1, 0) * S("w", 3, 0, 1) * (1 - a2[1])
    two_paths = path_0 + path_1
    assert net.result("f", tb("w", 1, 0, 0)) == S("a", 0, 0) * a1[0] * (1 - a1[0]) * two_paths
    assert net.result("f", tb("w", 2, 0, 1)) == a1[1] * a2[0] * S("w", 3, 0, 0) * (1 - a2[0])
    assert net.result("f", tb("w", 3, 0, 1)) == a2[1]


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_latex_is_valid(built, name):
    from latex_validity import assert_valid_latex

    assert_valid_latex(built[name].latex())
    for _, verdict in built[name].checks:
        assert_valid_latex(verdict._repr_latex_())


def test_seeds_are_data_without_sympy():
    import subprocess
    import sys

    code = (
        "import sys, microgrid.symbolic.seeds as s; [s.seed_names(n) for n in s.SEEDS]; print('sympy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def _value_lines(seed):
    """The seed's lines that are formulas in the program's names (no derivative names)."""
    return [w for w in seed.written if w.claim is not None and "/d" not in w.claim]


def test_seed000_each_written_line_against_sympy(built):
    """Every formula seed 000 wrote, evaluated by sympy with A = sigmoid(Z) written out,
    against sympy.diff of the forward written here: right where the seed is right."""
    from microgrid.symbolic.seeds import SEEDS

    seed = SEEDS["sigmoid-cross-entropy"]
    W, b, x, y, Z, A = sympy.symbols("W b A_prev y Z A")
    Zf = W * x + b
    Lf = -y * sympy.log(sig(Zf)) - (1 - y) * sympy.log(1 - sig(Zf))
    truth = {
        ("L", "A"): sympy.diff(-y * sympy.log(A) - (1 - y) * sympy.log(1 - A), A).subs(A, sig(Zf)),
        ("A", "Z"): sympy.diff(sig(Z), Z).subs(Z, Zf),
        ("L", "Z"): sympy.diff(-y * sympy.log(sig(Z)) - (1 - y) * sympy.log(1 - sig(Z)), Z).subs(Z, Zf),
        ("Z", "W"): x,
        ("Z", "b"): sympy.S.One,
        ("L", "W"): sympy.diff(Lf, W),
        ("L", "b"): sympy.diff(Lf, b),
        ("L", "A_prev"): sympy.diff(Lf, x),
    }
    point = {W: 0.7, b: -0.3, x: 0.4, y: 0.2}
    names = {"A": sig(Zf), "Z": Zf, "W": W, "b": b, "A_prev": x, "x": x, "y": y, "exp": sympy.exp}
    d = built["sigmoid-cross-entropy"]
    shown = {w.shown: w for eq in d.equations() for w in eq.written}
    lines = _value_lines(seed)
    assert len(lines) >= 15
    for w in lines:
        claimed = sympy.sympify(w.claim, locals=names)  # our own constant text, not user input
        right = abs(float((claimed - truth[(w.of, w.wrt)]).subs(point))) < 1e-12
        assert right == (w.expect == "correct"), w.claim
        assert shown[w.shown].agrees == right and shown[w.shown].by == "seed 000"


def test_seed_lines_are_displayed_as_the_seeds_never_as_the_engines(built):
    d = built["sigmoid-cross-entropy"]
    step2 = d.steps[1]
    engine_text = TEXT.doprint(step2.result).split("as seed 000 writes it:")[0]
    assert "-y - A*y + A - A*y" not in engine_text  # the seed's slip is not an engine line
    written = TEXT.doprint(step2.result).split("as seed 000 writes it:")[1]
    assert "= -y - Ay + A - Ay   [differs from the engine; a sign slip" in written
    # seed 000 writes d/dA where d/dZ is meant
    factor = step2.factors[0]
    assert any("d/dA where d/dZ is meant" in w.note for w in factor.written)
    tex = d.latex()
    assert r"\frac{\partial}{\partial A} ((1+e^{-Z})^{-1})" in tex and r"\text{as seed 000 writes it" in tex


def test_average_over_training_examples_against_sympy(built):
    part = built["single-neuron-squared-error"].parts[0]
    w, b = sympy.symbols("w b")
    nodes = {n.label: n.data for n in microgrid.engine.topological_order(part.output) if n.label}
    xs = [nodes[f"a^(L-1)_{k}"] for k in range(3)]  # the subscript numbers the example
    ys = [nodes[f"y_{k}"] for k in range(3)]
    C = sum((sig(w * x + b) - y) ** 2 for x, y in zip(xs, ys, strict=True)) / 3
    want = float(sympy.diff(C, w).subs({w: nodes["w^(L)"], b: nodes["b^(L)"]}))
    got = microgrid.symbolic.evaluate(part.result("C", "w^(L)"), {symbol(k): v for k, v in nodes.items()})
    assert got == pytest.approx(want, rel=1e-12)
    (line,) = [wl for eq in part.equations() for wl in eq.written]
    assert line.text == "1/n Σ_(k=0)^(n-1) ∂C_k/∂w^(L)" and line.agrees
    assert r"\frac{1}{n} \sum_{k=0}^{n-1}" in line.shown
    assert part.verify(points=2)


def test_the_recursion_for_a_general_layer_holds_for_every_index(built):
    part = built["layer-squared-error"].parts[0]
    lines = [wl for eq in part.equations() for wl in eq.written]
    clash = [wl for wl in lines if "index clash" in wl.note]
    assert len(lines) == 8 + 2 + 2 + len(clash) and all(wl.agrees for wl in lines if wl not in clash)
    # the seed writes the sum over j with w_jk for dC/da_j^(l): wrong wherever j != k, flagged as a slip
    assert len(clash) == 2 and not any(wl.agrees for wl in clash)
    # one instance against sympy: dC/dw^(1)_0,1 of the 2-2-2 network written out here
    v = {n.label: n.data for n in microgrid.engine.topological_order(part.output) if n.label}
    P = sympy.Symbol("P")
    a0 = [v["a^(0)_0"], v["a^(0)_1"]]
    a1 = [
        sig(sum((P if (j, k) == (0, 1) else v[f"w^(1)_{j},{k}"]) * a0[k] for k in range(2)) + v[f"b^(1)_{j}"])
        for j in range(2)
    ]
    a2 = [sig(sum(v[f"w^(2)_{j},{k}"] * a1[k] for k in range(2)) + v[f"b^(2)_{j}"]) for j in range(2)]
    C = sum((a2[j] - v[f"y_{j}"]) ** 2 for j in range(2))
    want = float(sympy.diff(C, P).subs(P, v["w^(1)_0,1"]))
    got = microgrid.symbolic.evaluate(
        part.result("C", "w^(1)_0,1"),
        {symbol(k): x for k, x in v.items()}
        | part._values(part.output, {n.label: n for n in microgrid.engine.topological_order(part.output) if n.label}),
    )
    assert got == pytest.approx(want, rel=1e-10)


def test_one_spelling_of_names_in_wrt_and_claims(built):
    d = built["two-layer-network"]
    # w1_1_1 is the label w^(1)_1,1's identifier, after --wrt and inside a claim alike;
    # the answer's own w1_11 (from unit 1 to unit 1) is w^(1)_0,0
    assert d.result("f", "w1_1_1") == d.result("f", "w^(1)_1,1")
    right = sympy.sstr(d.result("f", "w^(1)_1,1"))
    assert d.check(right.replace("^(", "").replace(")_", "_").replace(",", "_"), wrt="w1_1_1").correct
    assert d.check("w1_1_1 - w^(1)_1,1 + a2_0", wrt="w3_0_0").correct
    assert d.result("f", "w1_11") == d.result("f", "w^(1)_0,0")


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_notebook_display_is_markdown_with_blocks_that_fit(built, name):
    """A notebook shows the Markdown: math blocks valid, no row wider than a column's
    worth (the browser test measures the real width), notes as text outside the math."""
    import re

    from latex_validity import assert_valid_latex

    md = built[name]._repr_markdown_()
    blocks = re.findall(r"\$\$(.*?)\$\$", md, re.S)
    assert blocks and all(b.startswith(r"\begin{aligned}") for b in blocks)
    for block in blocks:
        assert_valid_latex("$$" + block + "$$")
        assert r"\text{note" not in block and "note:" not in block
    assert "As seed" in md and "agrees with the engine" in md
    assert r"\_" not in md.replace(r"\\_", "")  # no escaped underscores shown raw next to typeset names


def test_verdict_displays_as_markdown(built):
    verdict = built["two-layer-network"].checks[0][1]
    md = verdict._repr_markdown_()
    assert md.startswith("**incorrect**") and "counterexample:" in md and "`w^(1)_0,0`" in md


def written_by_shown(d) -> dict[str, object]:
    """Each written line of a derivation (and its parts) by its LaTeX, which names its instance."""
    found = {}
    for part in [d, *d.parts]:
        found.update({w.shown: w for eq in part.equations() for w in eq.written})
    return found


def test_seed000_chain_lines_against_sympy(built):
    """Equations (1)-(3) and the step to the previous layer: each chain of local derivatives, multiplied out by sympy
    here, equals sympy.diff of the forward; the seed's middle line with the operator is shown, without a value."""
    W, b, x, y, Z, A = sympy.symbols("W b A_prev y Z A")
    Lf = -y * sympy.log(A) - (1 - y) * sympy.log(1 - A)
    local = {"dL/dA": sympy.diff(Lf, A), "dA/dZ": sympy.diff(sig(Z), Z), "dZ/dW": x, "dZ/db": 1, "dZ/dA_prev": W}
    local |= {"dL/dZ": local["dL/dA"] * local["dA/dZ"], "W": W}
    forward = {A: sig(Z), Z: W * x + b}
    truth = {wrt: sympy.diff(Lf.subs(A, sig(W * x + b)), wrt) for wrt in (W, b, x)}
    point = {W: 0.7, b: -0.3, x: 0.4, y: 0.2}
    lines = written_by_shown(built["sigmoid-cross-entropy"])
    chains = [w for w in seeds.SEED_000.written if w.claim and "/d" in w.claim and w.wrt in ("W", "b", "A_prev")]
    assert any(r"\quad (3)" in w.shown for w in chains) and len(chains) == 6
    for w in chains:
        product = sympy.Mul(*(local[factor] for factor in w.claim.split(" * ")))
        value = product.subs(forward).subs(forward).subs(point)
        assert abs(float(value - truth[symbol(w.wrt) if w.wrt != "A_prev" else x].subs(point))) < 1e-12
        assert lines[w.shown].agrees
    middle = next(w for w in seeds.SEED_000.written if r"(W A_{previous} + b)" in w.shown)
    assert middle.claim is None and lines[middle.shown].agrees is None
    assert middle.typed == "∂L/∂Z * ∂/∂A_previous(W A_previous + b)"


def test_seed001_lines_as_written_against_sympy(built):
    """The answer's dL/dw1 chain, its df/dw^2_(i,j) line and its three matrix definitions: each verdict against
    sympy.diff of the network written out here, in the answer's own convention (w^l_(i,j) from unit i to unit j)."""
    f, subs, leaves, W1 = seed001_forward()
    W2 = sympy.Matrix(2, 2, lambda j, k: symbol(tb("w", 2, j, k)))
    W3 = [symbol(tb("w", 3, 0, k)) for k in range(2)]
    h1s, h2s, xs = sympy.symbols("h1_1 h1_2"), sympy.symbols("h2_1 h2_2"), sympy.symbols("x_1 x_2")
    rng = random.Random(3)
    point = {s: rng.uniform(-1, 1) for s in [*leaves, *h1s, *h2s, *xs, symbol("y")]}

    def equal(a, b):
        return abs(float(sympy.N((a - b).xreplace(subs).xreplace(subs).xreplace(point)))) < 1e-10

    def w(layer: int, i: int, j: int):  # the answer's w^l_(i,j): into unit j from unit i
        return symbol(tb("w", layer, j - 1, i - 1))

    lines = written_by_shown(built["two-layer-network"])
    # df/dw^2_(i,j) = df/dh^2_i dh^2_i/dw^2_(i,j): right only for i = j (w^2_(i,j) feeds h^2_j)
    for i, j in [(1, 1), (1, 2), (2, 1), (2, 2)]:
        claimed = W3[i - 1] * sympy.diff(subs[symbol(tb("a", 2, i - 1))], w(2, i, j))
        right = equal(claimed, sympy.diff(f, w(2, i, j)))
        assert right == (i == j)
        (line,) = [v for shown, v in lines.items() if shown.endswith(rf"\quad (i = {i}, j = {j})")]
        assert line.agrees == right and line.text.startswith("∂f/∂w^2_i,j = ∂f/∂h^2_i ∂h^2_i/∂w^2_1")
    # the matrices as printed, [[w11, w21], [w21, w22]]: entry (j, i) gives dh_j/dh_before_i = σ'(z_j) W[j, i]
    printed = [[(1, 1), (2, 1)], [(2, 1), (2, 2)]]
    for layer, before in ((2, h1s), (1, xs)):
        W = W2 if layer == 2 else W1
        for j in (1, 2):
            z = sum(W[j - 1, i - 1] * before[i - 1] for i in (1, 2))
            for i in (1, 2):
                true = sympy.diff(sig(z), before[i - 1])
                claimed = sig(z) * (1 - sig(z)) * w(layer, *printed[j - 1][i - 1])
                right = equal(claimed, true)
                assert right == ((j, i) != (2, 1))  # w21 twice, w12 missing
                tag = rf"\mathbf{{h}}^{layer} = \sigma("
                (line,) = [v for s, v in lines.items() if s.startswith(tag) and s.endswith(f"entry {j}, {i}}})")]
                assert line.agrees == right
    f_line = [v for s, v in lines.items() if s.startswith("f = ")]
    assert len(f_line) == 2 and all(v.agrees for v in f_line)  # f = W3 h2 as printed is right
    # dL/dw1 = dL/df df/dw1 = dL/df df/dσ dσ/dw1, with L = (f - y)^2 and σ the sigmoid w1 feeds (h^1_1)
    y, sigma = symbol("y"), sympy.Symbol("sigma")
    truth = sympy.diff((f - y) ** 2, W1[0, 0])
    h1_1 = subs[symbol(tb("a", 1, 0))]  # the sigmoid w1 = w^(1)_0,0 feeds
    df_dsigma = sympy.diff(f.xreplace({h1_1: sigma}), sigma).xreplace({sigma: h1_1})
    assert equal(2 * (f - y) * sympy.diff(f, W1[0, 0]), truth)
    assert equal(2 * (f - y) * df_dsigma * sympy.diff(h1_1, W1[0, 0]), truth)
    part_lines = [v for s, v in lines.items() if s.startswith(r"\frac{\partial L}{\partial f}")]
    assert len(part_lines) == 2 and all(v.agrees for v in part_lines)


def test_the_recursions_index_clash_against_sympy(built):
    """The seed's sum over j of w_jk sigma'(z_j) dC/da_j, by sympy on the 2-2-2 network written out here: it is
    dC/da_k^(1), so the seed's label dC/da_j^(1) is wrong where j != k, and the derivation flags exactly those."""
    a1 = sympy.symbols("a1_0 a1_1")
    W2 = sympy.Matrix(2, 2, lambda j, k: sympy.Symbol(f"w_{j}{k}"))
    b2, ys = sympy.symbols("b_0 b_1"), sympy.symbols("y_0 y_1")
    z2 = [W2[j, 0] * a1[0] + W2[j, 1] * a1[1] + b2[j] for j in range(2)]
    a2 = [sig(z) for z in z2]
    C = sum((a2[j] - ys[j]) ** 2 for j in range(2))
    point = dict(zip([*a1, *W2, *b2, *ys], [0.3, -0.6, 0.8, -0.4, 0.5, 0.9, 0.1, -0.2, 0.7, 0.2], strict=True))
    for k in range(2):
        seed_sum = sum(W2[j, k] * a2[j] * (1 - a2[j]) * 2 * (a2[j] - ys[j]) for j in range(2))
        for j in range(2):
            equal = abs(float((seed_sum - sympy.diff(C, a1[j])).subs(point))) < 1e-12
            assert equal == (j == k)
    part = built["layer-squared-error"].parts[0]
    flagged = {
        (w.shown.split(r"\quad")[-1], w.agrees)
        for eq in part.equations()
        for w in eq.written
        if "index clash" in w.note
    }
    assert flagged == {(" (l = 1, j = 1, k = 0)", False), (" (l = 1, j = 0, k = 1)", False)}


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_remarks_are_not_garbled(built, name):
    """Names in remarks are typeset whole: no "h 1\\_j" or "delta (2)\\_1" in LaTeX, no `dC_0/dw^(L` code span
    cut before its closing parenthesis in Markdown; text mode shows each seed line as the seed wrote it."""
    import re

    d = built[name]
    tex, md = d.latex(), d._repr_markdown_()
    assert not re.search(r"\w \d+\\_|delta \(|\$sum", tex)
    assert not re.search(r"`[^`\s]*\([^`)]*`\)", md)
    for part in [d, *d.parts]:
        for eq in part.equations():
            assert all(w.text == seeds.plain(w.shown) for w in eq.written)
            assert not any(re.search(r"\\[A-Za-z]|[{}&]", w.text) for w in eq.written)  # no LaTeX left in the text
