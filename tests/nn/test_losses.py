"""microgrid.nn.losses against hand computation and sympy's exact derivatives."""

from __future__ import annotations

import math

import pytest
import sympy

from microgrid import Value, grad
from microgrid.nn.losses import binary_cross_entropy, binary_cross_entropy_with_logits, hinge, l2_penalty, mse

A_, Y_, Z_ = sympy.symbols("A y z", real=True)
BCE = -Y_ * sympy.log(A_) - (1 - Y_) * sympy.log(1 - A_)


def test_mse_sum_and_mean_by_hand():
    a = [Value(0.5), Value(-1.0), Value(2.0)]
    y = [1.0, 0.0, 2.5]
    hand = (0.5 - 1.0) ** 2 + 1.0 + 0.25
    assert mse(a, y).data == pytest.approx(hand)
    assert mse(a, y, reduction="mean").data == pytest.approx(hand / 3)
    loss = mse(a, y)
    loss.backward()
    assert [v.grad for v in a] == pytest.approx([2 * (0.5 - 1.0), 2 * (-1.0), 2 * (2.0 - 2.5)])  # the seed's 2(a - y)
    single = Value(0.3)
    mse(single, Value(1.0, label="y")).backward()
    assert single.grad == pytest.approx(2 * (0.3 - 1.0))


@pytest.mark.parametrize("a,y", [(0.3, 1.0), (0.8, 0.0), (0.6, 0.25), (0.999, 1.0), (1e-3, 0.0)])
def test_bce_value_and_derivative_against_sympy(a, y):
    prob = Value(a, label="A")
    target = Value(y, label="y")  # a Value target: the formula exactly as written
    loss = binary_cross_entropy(prob, target)
    exact = {A_: a, Y_: y}
    assert loss.data == pytest.approx(float(BCE.subs(exact)), rel=1e-12, abs=1e-15)
    (dA,) = grad(loss, [prob])
    assert dA == pytest.approx(float(sympy.diff(BCE, A_).subs(exact)), rel=1e-12)
    # and the seed's closed form, -y/A + (1-y)/(1-A)
    assert dA == pytest.approx(-y / a + (1 - y) / (1 - a), rel=1e-12)
    # a number target gives the same value and gradient
    prob2 = Value(a)
    loss2 = binary_cross_entropy(prob2, y)
    loss2.backward()
    assert loss2.data == pytest.approx(loss.data, rel=1e-12) and prob2.grad == pytest.approx(dA, rel=1e-12)


def test_bce_of_sigmoid_gives_a_minus_y():
    z, y = Value(0.7, label="Z"), 1.0
    a = z.sigmoid()
    binary_cross_entropy(a, y).backward()
    assert z.grad == pytest.approx(a.data - y, rel=1e-12)


def test_bce_lists_average():
    probs = [Value(0.2), Value(0.9)]
    loss = binary_cross_entropy(probs, [0, 1])
    assert loss.data == pytest.approx((-math.log(0.8) - math.log(0.9)) / 2)
    assert binary_cross_entropy(probs, [0, 1], reduction="sum").data == pytest.approx(-math.log(0.8) - math.log(0.9))


def test_bce_saturated_probability():
    # exactly 1.0 against target 1 is a loss of 0, not log(0) of the other term
    assert binary_cross_entropy(Value(1.0), 1).data == 0.0
    with pytest.raises(ValueError, match=r"infinite.*with_logits"):
        binary_cross_entropy(Value(1.0), 0)
    with pytest.raises(ValueError, match="infinite"):
        binary_cross_entropy(Value(0.0), Value(1.0, label="y"))
    with pytest.raises(ValueError, match="not a probability"):
        binary_cross_entropy(Value(1.5), 1)
    with pytest.raises(ValueError, match="target"):
        binary_cross_entropy(Value(0.5), 2)


LOGIT_BCE = -Y_ * sympy.log(1 / (1 + sympy.exp(-Z_))) - (1 - Y_) * sympy.log(1 - 1 / (1 + sympy.exp(-Z_)))


@pytest.mark.parametrize("z", [-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_bce_with_logits_against_sympy(z, y):
    score = Value(z)
    loss = binary_cross_entropy_with_logits(score, y)
    loss.backward()
    exact = {Z_: sympy.Float(z, 50), Y_: sympy.Float(y, 50)}
    assert loss.data == pytest.approx(float(LOGIT_BCE.subs(exact).evalf(30)), rel=1e-12, abs=1e-14)
    assert score.grad == pytest.approx(float(sympy.diff(LOGIT_BCE, Z_).subs(exact).evalf(30)), rel=1e-9, abs=1e-14)
    assert score.grad == pytest.approx(1 / (1 + math.exp(-z)) - y, rel=1e-9, abs=1e-14)  # the seed's A - y


@pytest.mark.parametrize(
    "z,y,expected", [(1000.0, 0, 1000.0), (1000.0, 1, 0.0), (-1000.0, 1, 1000.0), (-1000.0, 0, 0.0)]
)
def test_bce_with_logits_finite_for_any_score(z, y, expected):
    score = Value(z)
    loss = binary_cross_entropy_with_logits(score, y)
    loss.backward()
    assert math.isfinite(loss.data) and loss.data == pytest.approx(expected, abs=1e-12)
    assert score.grad == pytest.approx(float(z > 0) - y)


def test_hinge_by_hand():
    scores = [Value(2.0), Value(0.5), Value(-0.25), Value(0.1)]
    targets = [1, 1, 1, -1]
    loss = hinge(scores, targets)
    # relu(1 - y s): 0, 0.5, 1.25, 1.1; mean
    assert loss.data == pytest.approx((0 + 0.5 + 1.25 + 1.1) / 4)
    loss.backward()
    assert [s.grad for s in scores] == pytest.approx([0.0, -0.25, -0.25, 0.25])


def test_l2_penalty_by_hand():
    params = [Value(1.0), Value(-2.0), Value(0.5)]
    penalty = l2_penalty(params, 0.01)
    assert penalty.data == pytest.approx(0.01 * (1 + 4 + 0.25))
    penalty.backward()
    assert [p.grad for p in params] == pytest.approx([0.02, -0.04, 0.01])


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 predictions but 3 targets"):
        mse([Value(1.0), Value(2.0)], [1, 2, 3])
    with pytest.raises(ValueError, match="reduction"):
        mse(Value(1.0), 1.0, reduction="max")
    with pytest.raises(ValueError, match="empty"):
        mse([], [])
    with pytest.raises(TypeError, match="target"):
        mse(Value(1.0), "1")
    with pytest.raises(TypeError, match=r"pred\[1\]"):
        mse([Value(1.0), None], [1, 2])
    with pytest.raises(ValueError, match=r"-1 or \+1.*2\*y - 1"):
        hinge([Value(1.0)], [0])
    with pytest.raises(ValueError, match="target"):
        binary_cross_entropy_with_logits(Value(1.0), -1)
    with pytest.raises(ValueError, match="alpha"):
        l2_penalty([Value(1.0)], -1.0)
    with pytest.raises(TypeError, match=r"parameters\[0\]"):
        l2_penalty([1.0], 0.1)
    with pytest.raises(ValueError, match="no parameters"):
        l2_penalty([], 0.1)


def test_bce_with_a_value_target_at_a_saturated_probability_says_what_to_use():
    with pytest.raises(ValueError, match=r"exactly 0 or 1.*binary_cross_entropy_with_logits"):
        binary_cross_entropy(Value(40.0).sigmoid(), Value(1.0))  # sigmoid(40) is 1.0 in floats


# ------------------------------------------- bce with logits: the last digits
def _bce_of_sigmoid_exactly(z, y: float, mp):
    """The textbook loss -y log A - (1 - y) log(1 - A), A = 1/(1 + e^-z), at mpmath's
    working precision (600 digits below: 1 - A keeps its digits even at z = 1000)."""
    A = 1 / (1 + mp.exp(-mp.mpf(z)))
    return -y * mp.log(A) - (1 - mp.mpf(y)) * mp.log(1 - A)


WIDE = [
    -1000.0,
    -745.0,
    -100.0,
    -40.0,
    -37.0,
    -36.7,
    -30.0,
    -20.0,
    -10.0,
    -1.5,
    -1e-10,
    0.0,
    1e-10,
    1.5,
    10.0,
    20.0,
    30.0,
    36.7,
    37.0,
    40.0,
    100.0,
    745.0,
    1000.0,
]


@pytest.mark.parametrize("y", [0.0, 1.0, 0.3, 0.75])
def test_bce_with_logits_to_the_last_digits_over_a_wide_range(y):
    """Relative error about 1e-16 wherever the loss is, down to 1e-434: log(1 + e^-z)
    written naively is 0 at z = 40 (the truth is 4.2e-18), its error 100% from z = 37."""
    mp = pytest.importorskip("mpmath")
    for z in WIDE:
        for target in (y, Value(y)):  # a number target and a Value target build different graphs
            score = Value(z)
            loss = binary_cross_entropy_with_logits(score, target)
            loss.backward()
            with mp.workdps(600):
                exact = _bce_of_sigmoid_exactly(z, y, mp)
                # the derivative by high-precision central differences of the textbook formula
                slope = mp.diff(lambda t: _bce_of_sigmoid_exactly(t, y, mp), mp.mpf(z))
            assert loss.data == pytest.approx(float(exact), rel=4e-16, abs=0), (z, y)
            assert score.grad == pytest.approx(float(slope), rel=1e-15, abs=1e-300), (z, y)


def test_bce_with_logits_at_40_is_not_zero():
    assert binary_cross_entropy_with_logits(Value(40.0), 1).data == pytest.approx(
        math.log1p(math.exp(-40.0)), rel=1e-16, abs=0
    )
    assert binary_cross_entropy_with_logits(Value(-40.0), 0).data == pytest.approx(
        math.log1p(math.exp(-40.0)), rel=1e-16, abs=0
    )


def test_bce_with_logits_reads_as_the_textbook_formula():
    """The correction that keeps the digits cancels as a formula: the symbolic code sees log(1 + e^-z)."""
    from microgrid.symbolic import to_sympy

    z, y = sympy.symbols("z y")
    for score, expected in (
        (2.0, (1 - y) * z + sympy.log(1 + sympy.exp(-z))),
        (-2.0, -y * z + sympy.log(1 + sympy.exp(z))),
    ):
        formula = to_sympy(binary_cross_entropy_with_logits(Value(score, label="z"), Value(0.3, label="y")))
        assert sympy.expand(formula - expected) == 0


# --------------------------------------------- bad numbers name the loss and the element
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: mse(Value(1.0), float("nan")), ValueError, "mse: target must be finite, got nan"),
        (
            lambda: mse([Value(1.0), Value(2.0)], [0.0, float("inf")]),
            ValueError,
            r"mse: target\[1\] must be finite, got inf",
        ),
        (lambda: mse([1.0, float("-inf")], [0.0, 0.0]), ValueError, r"mse: pred\[1\] must be finite, got -inf"),
        (lambda: mse([Value(1.0)], [10**400]), ValueError, r"mse: target\[0\] is too large for a float"),
        (
            lambda: binary_cross_entropy([Value(0.5), float("nan")], [1, 0]),
            ValueError,
            r"binary_cross_entropy: prob\[1\] must be finite",
        ),
        (
            lambda: binary_cross_entropy(Value(0.5), float("nan")),
            ValueError,
            "binary_cross_entropy: target must be finite",
        ),
        (
            lambda: binary_cross_entropy_with_logits([float("inf")], [1]),
            ValueError,
            r"binary_cross_entropy_with_logits: z\[0\] must be finite",
        ),
        (
            lambda: binary_cross_entropy_with_logits(Value(0.5), float("nan")),
            ValueError,
            "binary_cross_entropy_with_logits: target must be finite",
        ),
        (lambda: hinge([Value(1.0)], [float("nan")]), ValueError, r"hinge: targets\[0\] must be finite"),
        (lambda: hinge(float("inf"), 1), ValueError, "hinge: scores must be finite"),
        (lambda: mse([Value(1.0)], [True]), TypeError, r"mse: target\[0\] must be a real number, got bool"),
        (
            lambda: mse({Value(1.0): 1.0}, [1.0]),
            TypeError,
            r"mse: pred must be a sequence .*\(a dict would give its keys\)",
        ),
        (lambda: mse([Value(1.0)], {1.0}), TypeError, r"mse: target must be a sequence .*\(a set has no order\)"),
    ],
)
def test_bad_numbers_name_the_loss_and_the_element(call, error, message):
    with pytest.raises(error, match=message):
        call()
