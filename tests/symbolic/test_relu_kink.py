"""relu's derivative at exactly 0: every formula means what the engine computes,
step(z) = 1 if z > 0 else 0, at the kink too.  The reference is written here:
sympy's Piecewise, which says 0 at z = 0."""

import pytest
import sympy

from microgrid import MLP, Value, backprop_equations
from microgrid.engine import grad
from microgrid.symbolic import check
from microgrid.symbolic.chainrule import derive
from microgrid.symbolic.precise import evaluate
from microgrid.symbolic.conversion import definitions
from microgrid.symbolic.conversion import diff
from microgrid.symbolic.conversion import symbol
from microgrid.symbolic.parsing import program

z_ = sympy.Symbol("z")
STEP = sympy.Piecewise((1, z_ > 0), (0, True))  # the engine's step, written independently


def _value(expr, p):
    point = {symbol(n): v.data for n, v in p.items() if v.op == ""}
    return evaluate(expr, point, definitions=definitions(p.output))


@pytest.mark.parametrize("w, b", [(0.0, 0.0), (1.5, -1.5), (-2.0, 2.0)])
def test_the_derivative_formula_at_the_kink_is_the_engines(w, b):
    p = program("z = w + b; a = relu(z); C = a*y", at={"w": w, "b": b, "y": 0.7})
    assert p["z"].data == 0.0  # exactly at the kink
    engine = grad(p.output, [p["b"]])[0]
    assert engine == 0.7 * float(STEP.subs(z_, 0)) == 0.0
    assert _value(diff(p.output, "b", simplify=False), p) == engine
    assert _value(diff(p.output, "b"), p) == engine
    final = derive(p.output, "b").steps[-1].result.lines[-1]
    assert _value(final, p) == engine


def test_the_issue_claim_is_not_called_incorrect_at_the_kink(capsys):
    from microgrid.cli import main

    argv = ["check", "z = w + b; a = relu(z); C = a*y", "--wrt", "b", "--at", "w=0", "b=0", "y=0.7", "--",
            "y*relu(1 - relu(1 - 1e100*z))"]
    status = main(argv)
    out = capsys.readouterr().out
    assert "true 0.35" not in out and status != 1, out


def test_a_claim_that_is_right_everywhere_but_at_the_kink_is_incorrect_there():
    p = program("z = w + b; a = relu(z); C = a*y", at={"w": 0.0, "b": 0.0, "y": 0.7})
    verdict = check("y", p.output, "b")
    assert verdict.status == "incorrect"  # y at z = 0, where the engine says 0
    assert verdict.counterexample.point["z"] == 0.0 and verdict.counterexample.true == 0.0


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_relu_network_with_a_unit_exactly_at_its_kink_verifies(seed):
    model = MLP(1, [1, 1], activation="relu", output_activation="relu", seed=seed)
    assert backprop_equations(model).verify() > 0


def test_the_issue_mlp_through_the_command_line(capsys):
    from microgrid.cli import main

    assert main(["derive", "mlp", "1", "1", "1", "--activation", "relu", "--output-activation", "relu", "--seed", "1"]) == 0
    assert "verified" in capsys.readouterr().out


def test_the_relu_derivative_of_a_python_graph_is_the_step():
    x = Value(0.0, label="x")
    out = x.relu() * 3
    out.label = "f"
    formula = diff(out, x, simplify=False)
    reference = 3 * STEP.subs(z_, symbol("x"))
    for at in (-1.0, 0.0, 2.0):
        assert evaluate(formula, {symbol("x"): at}) == float(reference.subs(symbol("x"), at))
