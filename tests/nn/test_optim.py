"""microgrid.nn.optim against steps computed by hand with PyTorch's formulas."""

from __future__ import annotations

import math

import pytest

from microgrid import Value
from microgrid.nn.optim import SGD, Adam


def _params(*data):
    return [Value(d, label=f"p{i}") for i, d in enumerate(data)]


def test_sgd_plain_step():
    p = _params(1.0, -2.0)
    opt = SGD(p, lr=0.1)
    p[0].grad, p[1].grad = 0.5, -3.0
    opt.step()
    assert [x.data for x in p] == [1.0 - 0.1 * 0.5, -2.0 - 0.1 * -3.0]


def test_sgd_momentum_three_steps_by_hand():
    p = _params(1.0)
    opt = SGD(p, lr=0.1, momentum=0.9)
    grads = [1.0, 2.0, -0.5]
    # torch: b1 = g1; b_t = 0.9 b_{t-1} + g_t; p -= lr * b_t
    b1 = 1.0
    b2 = 0.9 * b1 + 2.0
    b3 = 0.9 * b2 - 0.5
    expected = [1.0 - 0.1 * b1]
    expected.append(expected[-1] - 0.1 * b2)
    expected.append(expected[-1] - 0.1 * b3)
    for g, want in zip(grads, expected, strict=True):
        p[0].grad = g
        opt.step()
        assert p[0].data == pytest.approx(want, rel=1e-15)


def test_adam_three_steps_by_hand():
    p = _params(0.5, -1.0)
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
    opt = Adam(p, lr=lr, betas=(b1, b2), eps=eps)
    grads = [(0.2, -1.0), (0.4, 0.5), (-0.1, 2.0)]
    m, v, data = [0.0, 0.0], [0.0, 0.0], [0.5, -1.0]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            data[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        p[0].grad, p[1].grad = gs
        opt.step()
        assert [x.data for x in p] == pytest.approx(data, rel=1e-12)
    assert opt.t == 3


def test_adam_first_step_moves_by_lr_whatever_the_gradient_size():
    for g in (1e-3, 1.0, 1e3):
        (w,) = _params(0.0)
        opt = Adam([w], lr=0.05, eps=0.0)
        w.grad = g
        opt.step()
        assert w.data == pytest.approx(-0.05, rel=1e-12)
    (w,) = _params(1.0)
    opt = Adam([w], lr=0.05, eps=0.0)
    opt.step()  # zero gradient and eps 0: no move, no 0/0
    assert w.data == 1.0


def test_lr_is_settable_and_zero_grad():
    p = _params(1.0, 2.0)
    opt = SGD(p, lr=1.0)
    opt.lr = 0.5
    p[0].grad = 2.0
    opt.step()
    assert p[0].data == 0.0
    opt.zero_grad()
    assert [x.grad for x in p] == [0.0, 0.0]
    with pytest.raises(ValueError, match="lr"):
        opt.lr = float("nan")
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == 0.5


def test_a_diverging_step_changes_nothing():
    p = _params(1.0, 2.0)
    opt = SGD(p, lr=1e308, momentum=0.5)
    p[0].grad, p[1].grad = 0.0, 1e10
    with pytest.raises(FloatingPointError, match="p1 would become"):
        opt.step()
    assert [x.data for x in p] == [1.0, 2.0]
    assert opt._buffers is None  # the momentum buffer was not advanced either
    adam = Adam(p, lr=1.0)
    p[1].grad = float("inf")
    with pytest.raises(FloatingPointError):
        adam.step()
    assert [x.data for x in p] == [1.0, 2.0] and adam.t == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        SGD([Value(1.0), 2.0], lr=0.1)
    w = Value(1.0)
    with pytest.raises(ValueError, match=r"params\[1\] is params\[0\]"):
        SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        SGD([w], lr=0.1, momentum=-0.1)
    with pytest.raises(TypeError, match="lr must be a real number, got str"):
        SGD([w], lr="0.1")
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="pair"):
        Adam([w], betas=0.9)
    with pytest.raises(ValueError, match="eps"):
        Adam([w], eps=-1.0)


def test_training_a_quadratic_converges():
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.5), lambda p: Adam(p, lr=0.1)):
        x = Value(3.0)
        opt = make([x])
        for _ in range(300):
            loss = (x - 1.5) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert x.data == pytest.approx(1.5, abs=1e-3)


def test_adam_refuses_a_second_moment_beyond_the_floats_and_changes_nothing():
    w = Value(1.0, label="w")
    opt = Adam([w], lr=0.1)
    w.grad = 1e200  # finite, but its square is not
    with pytest.raises(FloatingPointError, match="w's second moment would become inf"):
        opt.step()
    assert (w.data, opt.t, opt._m, opt._v) == (1.0, 0, [0.0], [0.0])


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_the_usual_slips_in_passing_parameters_name_their_fix(optimizer):
    from microgrid.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    name = optimizer.__name__
    with pytest.raises(
        TypeError,
        match=(
            rf"^{name}: got the method parameters itself, not its result; "
            rf"call it: {name}\(model\.parameters\(\), lr=\.\.\.\)$"
        ),
    ):
        optimizer(model.parameters, lr=0.1)
    with pytest.raises(
        TypeError,
        match=rf"^{name}: got the model MLP itself; pass its parameters: {name}\(model.parameters\(\), lr=...\)$",
    ):
        optimizer(model, lr=0.1)
    with pytest.raises(
        TypeError, match=rf"^{name}: params must be a list of Values \(model.parameters\(\)\), got Value"
    ):
        optimizer(Value(1.0), lr=0.1)
    assert optimizer(model.parameters(), lr=0.1).params == model.parameters()


def test_sgd_without_a_learning_rate_says_so():
    from microgrid.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(
        TypeError, match=r"^SGD: lr \(the learning rate\) is required; e.g. SGD\(model.parameters\(\), lr=0.1\)$"
    ):
        SGD(model.parameters())  # not Python's bare "missing 1 required positional argument"
    with pytest.raises(
        TypeError, match=r"^SGD: got the model MLP itself; pass its parameters: SGD\(model.parameters\(\), lr=...\)$"
    ):
        SGD(model)  # the first slip named first
    with pytest.raises(TypeError, match=r"^SGD: lr \(the learning rate\) is required"):
        SGD(model.parameters(), lr=None)
    with pytest.raises(TypeError, match=r"^Adam: lr \(the learning rate\) is required"):
        Adam(model.parameters(), lr=None)
    assert Adam(model.parameters()).lr == 1e-3  # Adam has PyTorch's default rate
