"""The Value API, backward(), grad(), gradcheck() and every bad input's error."""

import gc
import math
import weakref

import pytest

import microgrid
from microgrid import GradcheckError, Value, grad, gradcheck
from microgrid.engine import OPS, topological_order


# ------------------------------------------------------------------ the API
def test_value_stores_float_label_and_starts_with_zero_grad():
    v = Value(3, label="x")
    assert v.data == 3.0 and type(v.data) is float
    assert v.grad == 0.0 and v.label == "x" and v.op == "" and v.parents == ()
    v.data = 5
    v.label = "y"
    assert v.data == 5.0 and v.label == "y"


def test_parents_are_in_operand_order_and_keep_reuse():
    a, b = Value(1.0), Value(2.0)
    assert (a * a).parents == (a, a)
    assert (a - b).parents == (a, b)
    assert (b - a).parents == (b, a)
    assert (a / b).op == "/"
    three_minus = 3 - a
    assert three_minus.parents[1] is a and three_minus.parents[0].data == 3.0
    assert (2 * a).parents[0].data == 2.0 and (2 * a).parents[1] is a


def test_op_names():
    x, y = Value(2.0), Value(3.0)
    ops = {
        "+": x + y,
        "-": x - y,
        "*": x * y,
        "/": x / y,
        "neg": -x,
        "**": x**y,
        "**2": x**2,
        "**0.5": x**0.5,
        "exp": x.exp(),
        "log": x.log(),
        "tanh": x.tanh(),
        "sigmoid": x.sigmoid(),
        "relu": x.relu(),
        "sin": x.sin(),
        "cos": x.cos(),
    }
    for name, value in ops.items():
        assert value.op == name


def test_numbers_on_either_side():
    x = Value(2.0)
    assert (x + 1).data == 3.0 and (1 + x).data == 3.0
    assert (x - 1).data == 1.0 and (1 - x).data == -1.0
    assert (x * 3).data == 6.0 and (3 * x).data == 6.0
    assert (x / 4).data == 0.5 and (4 / x).data == 2.0
    assert (x**3).data == 8.0 and (3**x).data == 9.0 and (x ** Value(3.0)).data == 8.0
    assert (-x).data == -2.0


def test_repr():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, label="x")) == "Value(data=2.0, grad=0.0, label='x')"


def test_hash_and_equality_are_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2
    assert {a: 1, b: 2}[b] == 2


def test_functional_forms_accept_numbers_and_values():
    assert microgrid.tanh(0.5) == math.tanh(0.5)
    assert microgrid.sigmoid(-1000) == 0.0
    assert microgrid.exp(Value(1.0)).op == "exp"
    with pytest.raises(ValueError, match="log"):
        microgrid.log(-1.0)


# ------------------------------------------------------------------ backward
def test_backward_on_a_small_expression_by_hand():
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a  # dc/da = b + 1 = -2, dc/db = a = 2
    c.backward()
    assert (a.grad, b.grad, c.grad) == (-2.0, 2.0, 1.0)


def test_reused_node_gradients_accumulate():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert b.grad == 2.0 and a.grad == 4.0
    x = Value(3.0)
    y = x * x * x  # 3x^2 = 27
    y.backward()
    assert x.grad == 27.0


def test_backward_twice_accumulates_like_pytorch():
    x = Value(2.0)
    h = x * x
    y = h * 3.0  # dy/dx = 6x = 12
    y.backward()
    assert x.grad == 12.0 and h.grad == 3.0
    y.backward()
    assert x.grad == 24.0 and h.grad == 6.0 and y.grad == 2.0


def test_backward_into_a_graph_with_existing_grads_is_not_double_counted():
    x = Value(1.5)
    h = x.tanh()
    h.grad = 10.0  # stale gradient left on an intermediate node
    y = h * h
    y.backward()
    exact = 2 * math.tanh(1.5) * (1 - math.tanh(1.5) ** 2)
    assert math.isclose(x.grad, exact, rel_tol=1e-12)
    assert math.isclose(h.grad, 10.0 + 2 * math.tanh(1.5), rel_tol=1e-12)


def test_topological_order_puts_parents_first():
    x = Value(1.0)
    y = x * 2
    z = y + x
    order = topological_order(z)
    assert order.index(x) < order.index(y) < order.index(z)
    assert len(order) == 4  # x, the constant 2, y, z


@pytest.mark.slow
def test_a_chain_of_a_million_nodes_backpropagates_without_recursion():
    x = Value(1.0)
    y = x
    for _ in range(500_000):  # two nodes per step: a million in all
        y = y * 1.0000001 + 0.0
    y.backward()
    assert math.isclose(x.grad, 1.0000001**500_000, rel_tol=1e-9)
    assert math.isclose(grad(y, [x])[0], x.grad, rel_tol=1e-12)


def test_graphs_are_freed_by_reference_counting_alone():
    gc.disable()
    try:
        x = Value(1.0)
        y = (x * 2).tanh() + x
        y.backward()
        probe = weakref.ref(y)
        del y
        assert probe() is None
    finally:
        gc.enable()


# --------------------------------------------------------------------- grad
def test_grad_leaves_dot_grad_alone_and_handles_unrelated_inputs():
    x, unrelated = Value(2.0), Value(5.0)
    y = x**3
    assert grad(y, [x, unrelated]) == [12.0, 0.0]
    assert x.grad == 0.0 and y.grad == 0.0
    dx, du = grad(y, [x, unrelated], create_graph=True)
    assert isinstance(dx, Value) and isinstance(du, Value) and du.data == 0.0


def test_grad_with_respect_to_an_intermediate_node():
    x = Value(0.5)
    h = x.sigmoid()
    loss = (h - 1.0) ** 2
    assert math.isclose(grad(loss, [h])[0], 2 * (h.data - 1.0))


def test_second_derivative_of_tanh():
    x = Value(0.7)
    (dy,) = grad(x.tanh(), [x], create_graph=True)
    (d2y,) = grad(dy, [x])
    t = math.tanh(0.7)
    assert math.isclose(d2y, -2 * t * (1 - t * t), rel_tol=1e-12)


def test_grad_rejects_non_values():
    with pytest.raises(TypeError, match="output"):
        grad(1.0, [])
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        grad(Value(1.0), [Value(1.0), 2.0])


# ---------------------------------------------------------------- gradcheck
def test_gradcheck_passes_on_correct_gradients():
    assert gradcheck(lambda x, y: (x * y).tanh() + x.exp() / y, [0.3, -1.2])


def test_gradcheck_names_the_input_and_both_numbers_when_wrong(monkeypatch):
    from microgrid.engine import OPS

    broken = OPS["sin"].partials
    monkeypatch.setattr(OPS["sin"], "partials", lambda a, out: 2 * broken(a, out))
    with pytest.raises(GradcheckError, match=r"gradient for t \(= 0.4\).*engine .*finite differences"):
        gradcheck(lambda t: t.sin(), [Value(0.4, label="t")])


# --------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("bad, type_name", [(True, "bool"), ("1", "str"), (None, "NoneType"), (1j, "complex")])
def test_non_numbers_are_refused_with_the_type(bad, type_name):
    with pytest.raises(TypeError, match=type_name):
        Value(bad)
    with pytest.raises(TypeError, match=type_name):
        Value(1.0) + bad
    with pytest.raises(TypeError, match=type_name):
        Value(1.0).data = bad


def test_a_value_of_a_value_is_refused():
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))


def test_non_finite_data_is_refused():
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="finite"):
            Value(bad)


def test_log_of_non_positive_names_log_and_x():
    for x in (0.0, -2.0):
        with pytest.raises(ValueError, match=rf"log.*{x!r}"):
            Value(x).log()


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError):
        1 / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** -1


def test_negative_base_to_non_integer_power():
    with pytest.raises(ValueError, match=r"negative base -2.0.*0.5"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="negative base"):
        Value(-2.0) ** Value(0.5)
    assert (Value(-2.0) ** 3).data == -8.0


def test_exp_overflow_names_exp_and_input():
    with pytest.raises(OverflowError, match=r"exp.*1000.0"):
        Value(1000.0).exp()


def test_arithmetic_overflow_is_an_error_not_inf():
    with pytest.raises(OverflowError, match=r"\*"):
        Value(1e308) * 10
    with pytest.raises(OverflowError):
        Value(1e200) ** 2


def test_no_silent_nan_in_pow_gradient_at_zero_base():
    base, exponent = Value(0.0), Value(2.0)
    (base**exponent).backward()
    assert base.grad == 0.0 and exponent.grad == 0.0


def test_a_gradient_beyond_the_floats_is_an_error_and_grads_are_left_as_they_were():
    x = Value(5e-324, label="x")  # log is fine here, its derivative 1/x is not a float
    x.grad = 0.25
    y = x.log() * 2.0
    with pytest.raises(OverflowError, match=r"gradient of the leaf 'x' \(data 5e-324\) is inf"):
        y.backward()
    assert x.grad == 0.25 and y.grad == 0.0
    with pytest.raises(OverflowError, match="'x'"):
        grad(y, [x])


def test_a_failing_rule_in_backward_leaves_grads_as_they_were():
    base, exponent = Value(-2.0, label="base"), Value(2.0, label="exponent")
    base.grad = 1.5
    y = base**exponent  # 4.0, but d/d(exponent) = 4 log(-2) is not a real number
    with pytest.raises(ValueError, match="log"):
        y.backward()
    assert base.grad == 1.5 and exponent.grad == 0.0 and y.grad == 0.0


def test_power_derivatives_at_zero():
    x = Value(0.0)
    (x**0).backward()  # the constant 1: its derivative is 0, not 0 * 0^-1
    assert x.grad == 0.0
    x = Value(0.0)
    (x**1).backward()
    assert x.grad == 1.0
    with pytest.raises(
        ZeroDivisionError, match=r"^\*\*0.5: the derivative of x \*\* 0.5 at x = 0.0 is not a finite number"
    ):
        (Value(0.0, label="x") ** 0.5).backward()  # the derivative is infinite at 0
    x = Value(0.0, label="x")
    with pytest.raises(
        ZeroDivisionError, match=r"^\*\*: the derivative of x \*\* b at x = 0.0, b = 0.5 is not a finite number"
    ):
        grad(x ** Value(0.5), [x])  # the same rule for a Value exponent
    with pytest.raises(ZeroDivisionError, match=r"^\*\*: the derivative of x \*\* b at x = 0.0, b = 0.5"):
        grad(x ** Value(0.5), [x], create_graph=True)  # and on the graph path


def test_a_negative_base_with_a_value_exponent_blames_the_power_not_log():
    x = Value(-2.0)
    with pytest.raises(ValueError, match=r"\*\*: the derivative of -2.0 \*\* b with respect to the exponent"):
        grad(x ** Value(2.0), [x])


def test_errors_from_a_lifted_operand_name_the_operation():
    with pytest.raises(TypeError, match=r"^\+: .*str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match=r"^\*: .*str"):
        "a" * Value(1.0)
    with pytest.raises(TypeError, match=r"^\*\*: .*NoneType"):
        None ** Value(1.0)


def test_an_int_too_large_for_a_float_is_a_clear_value_error():
    with pytest.raises(ValueError, match="too large for a float"):
        Value(10**400)
    with pytest.raises(ValueError, match="too large for a float"):
        Value(1.0) * 10**400


# ------------------------------------------- what cannot be changed after the fact
def test_the_data_of_a_computed_node_cannot_be_set_and_its_gradients_stay_right():
    x = Value(0.5, label="x")
    y = x.tanh()
    y.label = "y"
    with pytest.raises(AttributeError, match=r"^Value\.data: the 'tanh' node 'y' is computed from other Values"):
        y.data = 0.0
    assert y.data == math.tanh(0.5)
    y.backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.5) ** 2, rel=1e-15)  # not 1.0, as with data 0.0
    with pytest.raises(AttributeError, match=r"the '\*' node is computed"):
        (x * 2.0).data = 1.0


def test_leaves_stay_writable():
    w = Value(1.0)
    w.data = -2.5  # a parameter update
    assert w.data == -2.5


def test_a_label_must_be_a_string_when_set_too():
    v = Value(1.0)
    with pytest.raises(TypeError, match=r"^Value\.label: a label must be a str, got int: 3$"):
        v.label = 3
    assert v.label == ""
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=None)
    (v * 2).label = "twice"  # computed nodes take labels too


def test_grad_of_one_value_says_to_pass_a_list():
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"^grad: .*; pass a list: grad\(y, \[x\]\)$"):
        grad(x * x, x)


@pytest.mark.parametrize("unordered", [lambda x, y: {x, y}, lambda x, y: {x: 1, y: 2}])
def test_grad_and_gradcheck_refuse_containers_without_an_order(unordered):
    x, y = Value(1.0), Value(2.0)
    with pytest.raises(TypeError, match=r"^grad: inputs must be a sequence"):
        grad(x * y, unordered(x, y))
    with pytest.raises(TypeError, match=r"^gradcheck: inputs must be a sequence"):
        gradcheck(lambda a, b: a * b, unordered(x, y))


@pytest.mark.parametrize(
    "setting", [{"eps": 0}, {"eps": -1e-6}, {"eps": math.nan}, {"eps": math.inf}, {"atol": -1.0}, {"rtol": math.nan}]
)
def test_gradcheck_refuses_bad_steps_and_tolerances(setting):
    (name,) = setting
    with pytest.raises(ValueError, match=rf"^gradcheck: {name} must be"):
        gradcheck(lambda x: x * x, [0.5], **setting)
    with pytest.raises(TypeError, match=rf"^gradcheck: {name} must be a real number"):
        gradcheck(lambda x: x * x, [0.5], **{name: "0.1"})


# ------------------------------- derivatives that branch are ops of their own
def test_relus_derivative_on_the_graph_path_is_a_step_node():
    # d relu(x)/dx as a graph: a 'step' node of x, so it follows x (a replay recomputes it).
    x = Value(2.0)
    (d,) = grad(x.relu() * 3.0, [x], create_graph=True)
    assert d.data == 3.0 and "step" in {n.op for n in topological_order(d)}
    assert [OPS["step"](Value(v)).data for v in (-1.0, 0.0, 1e-300)] == [0.0, 0.0, 1.0]  # relu'(0) = 0, as backward()
    (dd,) = grad(d, [x])
    assert dd == 0.0


def test_the_exponents_derivative_is_an_xlogy_node_zero_where_the_power_is_zero():
    a, b = Value(0.0), Value(2.0)
    (db,) = grad(a**b, [b], create_graph=True)
    assert "xlogy" in {n.op for n in topological_order(db)}
    assert db.data == 0.0  # 0 ** b is 0 near b = 2: its slope in b is 0
    a, b = Value(3.0), Value(2.0)
    (db,) = grad(a**b, [b], create_graph=True)
    assert db.data == pytest.approx(9.0 * math.log(3.0), rel=1e-15)
    (d2,) = grad(db, [b])  # d/db (3^b log 3) = 3^b log(3)^2
    assert d2 == pytest.approx(9.0 * math.log(3.0) ** 2, rel=1e-14)


# ------------------------------------------------------- the one reverse pass
def test_grad_skips_where_backward_skips():
    # d/dx of (x ** 0.5) * 0 at x = 0: the upstream gradient of x ** 0.5 is 0, so
    # its derivative (infinite at 0) is never evaluated, by either.
    x = Value(0.0)
    y = (x**0.5) * 0.0
    y.backward()
    assert x.grad == 0.0
    assert grad(y, [x]) == [0.0]


def test_backward_grad_and_explain_run_the_same_pass():
    from microgrid.drawing.explain import explain_backward
    from microgrid.engine import trace_backward
    from microgrid.reverse import reverse_pass

    x, w = Value(0.3, label="x"), Value(-1.2, label="w")
    y = (x * w).tanh() + x.relu() * w
    seen = []
    order, earlier = reverse_pass(y, visit=lambda node, g, partials: seen.append((node, g)))
    assert earlier == [] and [n for n, _ in seen] == [n for n in reversed(order) if n.op]
    t = math.tanh(0.3 * -1.2)
    by_hand = {"x": (1 - t * t) * -1.2 + -1.2, "w": (1 - t * t) * 0.3 + 0.3}
    assert x.grad == pytest.approx(by_hand["x"], rel=1e-14) and w.grad == pytest.approx(by_hand["w"], rel=1e-14)
    for node in order:
        node.grad = 0.0
    traced = trace_backward(y)
    assert (x.grad, w.grad) == (0.0, 0.0)  # trace_backward leaves every .grad as it was
    assert [traced[x], traced[w]] == grad(y, [x, w]) == pytest.approx([by_hand["x"], by_hand["w"]], rel=1e-14)
    assert explain_backward(y).gradients["x"] == grad(y, [x])[0]
    y.backward()
    assert [x.grad, w.grad] == grad(y, [x, w])


def test_the_engine_names_none_of_its_clients():
    import pathlib

    import microgrid.engine

    source = pathlib.Path(microgrid.engine.__file__).read_text().lower()
    for client in ("replay", "record", "sympy", "symbolic", "draw", "viz"):
        assert client not in source, client


def test_an_op_called_with_the_wrong_number_of_operands_is_named():
    from microgrid.ops import MUL

    with pytest.raises(TypeError, match=r"^exp\(\) takes 1 positional argument but 2 were given"):
        microgrid.exp(1.0, 2.0)
    with pytest.raises(TypeError, match=r"^exp\(\) takes 1 positional argument but 2 were given"):
        Value(1.0).exp(2.0)
    with pytest.raises(TypeError, match=r"^Op\('\*'\)\(\) missing 1 required positional argument"):
        MUL(1.0)
