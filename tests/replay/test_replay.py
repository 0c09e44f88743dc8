"""microgrid.compile: a replay equals the eager path bit for bit, and a graph
that could change is refused or detected, never silently replayed."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgrid
from microgrid import Value, nn
from microgrid.nn import losses, optim
from microgrid.nn.data import make_moons
from microgrid.replay import Replay, ReplayError, compile


def eager(fn, values):
    """Output value and input gradients the ordinary way: fresh Values, backward()."""
    leaves = [Value(x) for x in values]
    out = fn(*leaves)
    out.backward()
    return out.data, [x.grad for x in leaves]


def replayed(step, values):
    for x, value in zip(step.inputs, values, strict=False):
        x.data = value
        x.grad = 0.0
    out = step()
    return out, [x.grad for x in step.inputs]


def test_exported_at_top_level():
    assert microgrid.compile is compile
    assert microgrid.ReplayError is ReplayError


def test_hand_computed_example():
    x, y = Value(2.0), Value(3.0)
    step = compile(lambda x, y: x * y + x, [x, y])
    assert isinstance(step, Replay) and len(step) == 4  # x, y, x*y, x*y + x
    assert step() == 8.0
    assert (x.grad, y.grad) == (4.0, 2.0)  # d/dx = y + 1, d/dy = x
    x.data, y.data = -1.5, 0.25
    x.grad = y.grad = 0.0
    assert step() == -1.5 * 0.25 + -1.5
    assert (x.grad, y.grad) == (1.25, -1.5)


def test_gradients_accumulate_like_backward():
    x = Value(3.0)
    step = compile(lambda x: x * x, [x])
    step()
    step()
    assert x.grad == 12.0  # 2 * (2x), as two backward() calls would give


def every_op(a, b, c):
    """Every op of the engine, with shared subexpressions and a relu branch."""
    t = a * b - c / (b * b + 1.0)
    u = (t.tanh() + a.sigmoid() * c.exp()) ** 2
    w = (b * b + 0.5).log() + a.sin() * c.cos() - (-t).relu() + t.relu()
    return u * w + (b * b + 1.0) ** c + 2.0 / (1.0 + u)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_replay_is_bit_identical_to_eager_on_every_op(recorded_at, replayed_at):
    inputs = [Value(x) for x in recorded_at]
    step = compile(every_op, inputs)
    assert replayed(step, replayed_at) == eager(every_op, replayed_at)


def test_matches_finite_differences():
    # An independent reference: central differences of the eager function.
    point = [0.3, -0.7, 1.1]
    step = compile(every_op, [Value(0.0), Value(0.0), Value(0.0)])
    _, grads = replayed(step, point)
    eps = 1e-6
    for i in range(3):
        up, down = list(point), list(point)
        up[i] += eps
        down[i] -= eps
        numeric = (every_op(*map(Value, up)).data - every_op(*map(Value, down)).data) / (2 * eps)
        assert grads[i] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def moons_loss(model, X, Y):
    scores = [model(x) for x in X]
    return losses.hinge(scores, Y) + losses.l2_penalty(model.parameters(), 1e-4)


def test_training_loop_identical_to_eager():
    X, Y = make_moons(12, noise=0.1, seed=3)
    Y = [2 * y - 1 for y in Y]
    eager_model = nn.MLP(2, [8, 8, 1], activation="relu", seed=7)
    replay_model = nn.MLP(2, [8, 8, 1], activation="relu", seed=7)
    eager_opt = optim.SGD(eager_model.parameters(), lr=0.3, momentum=0.9)
    replay_opt = optim.SGD(replay_model.parameters(), lr=0.3, momentum=0.9)
    step = compile(lambda *params: moons_loss(replay_model, X, Y), replay_model.parameters())
    for _ in range(8):
        eager_opt.zero_grad()
        loss = moons_loss(eager_model, X, Y)
        loss.backward()
        eager_opt.step()
        replay_opt.zero_grad()
        assert step() == loss.data
        assert [p.grad for p in replay_model.parameters()] == [p.grad for p in eager_model.parameters()]
        replay_opt.step()
    assert replay_model.state_dict() == eager_model.state_dict()
    assert step.check()


def test_a_function_without_arguments_is_called_without_them():
    model = nn.MLP(2, [3, 1], activation="tanh", seed=1)
    X, Y = [[0.5, -1.0], [1.5, 0.25]], [1.0, -1.0]
    step = compile(lambda: losses.mse([model(x) for x in X], Y), model.parameters())
    loss = losses.mse([model(x) for x in X], Y)
    loss.backward()
    expected = [p.grad for p in model.parameters()]
    model.zero_grad()
    assert step() == loss.data
    assert [p.grad for p in model.parameters()] == expected


def test_data_leaves_as_inputs_take_new_batches():
    w = Value(0.5)
    x = Value(1.0)
    step = compile(lambda w, x: (w * x).tanh(), [w, x])
    x.data = -2.0
    assert replayed(step, [0.5, -2.0]) == eager(lambda w, x: (w * x).tanh(), [0.5, -2.0])


def test_inputs_not_in_the_graph_get_no_gradient():
    x, unused = Value(1.0), Value(5.0)
    step = compile(lambda x, u: x * 2.0, [x, unused])
    step()
    assert (x.grad, unused.grad) == (2.0, 0.0)


# -------------------------------------------------------- what is refused
def test_reading_a_value_that_depends_on_an_input_is_refused():
    def branchy(x):
        return x * 2.0 if x.data > 0 else x * -3.0

    with pytest.raises(ReplayError, match=r"read \.data .*an input, value 1\.0"):
        compile(branchy, [Value(1.0)])

    def reads_intermediate(x):
        y = x * x
        y.label = "y"
        return y.exp() if y.data < 1 else y

    with pytest.raises(ReplayError, match=r"'y' \(the result of '\*'"):
        compile(reads_intermediate, [Value(0.5)])


def test_reading_a_constant_is_allowed():
    c = Value(2.0)
    step = compile(lambda x: x * c if c.data > 0 else x, [Value(1.5)])
    assert step() == 3.0


def test_relu_branches_replay_correctly():
    x = Value(1.0)
    step = compile(lambda x: (x * 3.0).relu(), [x])
    assert replayed(step, [-1.0]) == (0.0, [0.0])
    assert replayed(step, [2.0]) == (6.0, [3.0])


def test_check_detects_a_changed_graph():
    state = {"depth": 2, "scale": 3.0}

    def fn(x):
        for _ in range(state["depth"]):
            x = x * state["scale"]
        return x

    x = Value(1.0)
    step = compile(fn, [x])
    assert step.check()
    state["scale"] = 4.0
    with pytest.raises(ReplayError, match=r"the constant 3\.0, now the constant 4\.0"):
        step.check()
    state["scale"], state["depth"] = 3.0, 3
    with pytest.raises(ReplayError, match=r"3 nodes recorded|changed"):
        step.check()


def test_check_detects_a_new_random_mask():
    rng = random.Random(0)
    x = Value(1.0)
    step = compile(lambda x: x * float(rng.random() < 0.5) + x * rng.random(), [x])
    with pytest.raises(ReplayError, match="has changed"):
        step.check()


def test_bad_arguments_are_refused_clearly():
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Value, got float"):
        compile(lambda x: x, [1.0])
    with pytest.raises(ValueError, match=r"inputs\[0\].*result of '\+', not a leaf"):
        compile(lambda x: x, [x + 1])
    with pytest.raises(ValueError, match=r"inputs\[1\].*appears twice"):
        compile(lambda a, b: a * b, [x, x])
    with pytest.raises(TypeError, match="fn must return a Value, got float"):
        compile(lambda x: 1.0, [x])


# ------------------------------------------- errors, as the eager path's
# check_every=None: the tape's own path (with checks, the call's re-recording
# meets the error first, and raises the same, as the eager path does).
@pytest.mark.parametrize("check_every", [None, 200])
def test_domain_error_is_the_ops_own(check_every):
    x = Value(2.0)
    step = compile(lambda x: x.log(), [x], check_every=check_every)
    x.data = -1.0
    with pytest.raises(ValueError, match=r"log: undefined for input -1\.0"):
        step()
    with pytest.raises(ValueError, match=r"log: undefined for input -1\.0"):
        Value(-1.0).log()


@pytest.mark.parametrize("check_every", [None, 200])
def test_overflow_is_reported_at_the_first_non_finite_node(check_every):
    x = Value(1e-200)
    step = compile(lambda x: (x * 1e200) * (x * 1e200) + 1.0, [x], check_every=check_every)
    x.data = 1.0
    with pytest.raises(OverflowError, match=r"^\*: result is not a finite number for input 1e\+200, 1e\+200"):
        step()
    with pytest.raises(OverflowError, match=r"^\*: result is not a finite number for input 1e\+200, 1e\+200"):
        (x * 1e200) * (x * 1e200)


def test_a_large_but_finite_graph_is_not_mistaken_for_overflow():
    # The values sum past the largest float, though each is finite.
    x = Value(1e308)
    step = compile(lambda x: (x * 1.5) - x, [x])
    assert step() == 1.5e308 - 1e308
    assert math.isfinite(step())


def test_deep_chain_without_recursion():
    x = Value(1.0)

    def chain(x):
        for _ in range(20_000):
            x = x * 1.0001 + 0.0001
        return x

    step = compile(chain, [x])
    assert replayed(step, [0.5]) == eager(chain, [0.5])


def test_zero_gradient_meets_an_infinite_partial_as_eager():
    # f = relu(w) * (a / b) with w < 0 is 0 for every b near 1e-10, so df/db is 0;
    # d(a/b)/db = -(a/b)/b overflows to -inf, and 0 * -inf would be nan.
    def f(w, a, b):
        return w.relu() * (a / b)

    point = [-1.0, 1e290, 1e-10]
    step = compile(f, [Value(x) for x in point])
    result = replayed(step, point)
    assert result == eager(f, point) == (0.0, [0.0, 0.0, 0.0])


def test_a_gradient_beyond_the_floats_is_an_error_as_in_backward():
    x = Value(5e-324, label="x")
    step = compile(lambda x: x.log() * 2.0, [x])
    with pytest.raises(OverflowError, match=r"gradient .* is inf"):
        step()
    assert x.grad == 0.0


# ------------------------------------------------------ fused weighted sums
@st.composite
def sums_of_products(draw):
    """A recipe for random weighted sums (t0 + t1 + ...) over shared leaves and earlier sums.

    A term is a product of two earlier nodes, or a plain earlier node; nodes
    are reused across terms and sums, and some sums pass through relu or are
    read twice, so the fused replay meets every ordering the eager pass has.
    """
    n_leaves = draw(st.integers(2, 5))
    recipe = []
    for s in range(draw(st.integers(1, 6))):
        available = n_leaves + s
        terms = draw(
            st.lists(
                st.tuples(st.integers(0, available - 1), st.one_of(st.none(), st.integers(0, available - 1))),
                min_size=2,
                max_size=6,
            )
        )
        recipe.append((terms, draw(st.sampled_from(["plain", "relu", "tanh"]))))
    values = draw(st.lists(st.floats(-2.0, 2.0), min_size=n_leaves, max_size=n_leaves))
    return recipe, values


def build_sums(recipe, leaves):
    nodes = list(leaves)
    for terms, activation in recipe:
        total = None
        for a, b in terms:
            term = nodes[a] if b is None else nodes[a] * nodes[b]
            total = term if total is None else total + term
        nodes.append(total if activation == "plain" else getattr(total, activation)())
    out = nodes[len(leaves)]
    for node in nodes[len(leaves) + 1 :]:
        out = out + node * node  # read each sum twice more
    return out


@settings(max_examples=150, deadline=None)
@given(sums_of_products(), st.lists(st.floats(-2.0, 2.0), min_size=5, max_size=5))
def test_fused_weighted_sums_are_bit_identical_to_eager(case, new_values):
    recipe, values = case
    fn = lambda *leaves: build_sums(recipe, leaves)  # noqa: E731
    step = compile(fn, [Value(x) for x in values])
    again = new_values[: len(values)]
    assert replayed(step, again) == eager(fn, again)


def test_a_networks_weighted_sums_are_fused():
    X, Y = make_moons(10, noise=0.1, seed=0)
    model = nn.MLP(2, [8, 8, 1], activation="relu", seed=0)
    step = compile(lambda: moons_loss(model, X, [2 * y - 1 for y in Y]), model.parameters())
    # One instruction per weighted sum and per relu: far fewer than nodes.
    assert len(step._program) < len(step._tape) / 4


# ------------------------------------- what changes the graph is detected
@pytest.mark.parametrize("show", [repr, str, lambda y: f"{y}", lambda y: f"{y}"])
def test_a_branch_on_a_printed_value_is_refused(show):
    def branchy(x):
        y = x * 2.0
        return y.exp() if "-" in show(y) else y  # the sign of y, read from its text

    with pytest.raises(ReplayError, match=r"read \.data of \(the result of '\*'.*printing a Value"):
        compile(branchy, [Value(1.0)])


def test_a_point_appended_to_the_data_is_detected_at_the_next_check():
    X, Y = make_moons(6, noise=0.1, seed=0)
    Y = [2 * y - 1 for y in Y]
    model = nn.MLP(2, [4, 1], activation="relu", seed=0)
    step = compile(lambda: moons_loss(model, X, Y), model.parameters())
    for _ in range(70):
        step()
    X.append([0.1, 0.2])
    Y.append(1)
    with pytest.raises(ReplayError, match="has changed"):
        while True:
            step()
    assert step.calls == 128  # checks: calls 1, 2, 4, ..., 128, then every 200th


def test_a_new_batch_given_as_numbers_is_detected():
    batch = [1.0, 2.0]
    w = Value(0.5)
    step = compile(lambda w: losses.mse([w * x for x in batch], [0.0, 0.0]), [w])
    step()
    batch[:] = [3.0, 4.0]  # the numbers fn reads change at every step
    with pytest.raises(ReplayError, match=r"recorded the constant 1\.0, now the constant 3\.0"):
        step()
    assert step.calls == 2


def test_a_changed_leaf_not_among_the_inputs_is_detected_at_once():
    w, c = Value(0.5), Value(2.0, label="c")
    step = compile(lambda w: w * c + 1.0, [w], check_every=None)  # no re-recording: the leaf check alone
    assert step() == 2.0
    assert len(step._held) == 1  # c; the 1.0 that fn lifts is gone after recording
    c.data = 3.0
    with pytest.raises(ReplayError, match=r"leaf 'c' is not among the inputs.*\(2\.0, now 3\.0\)"):
        step()
    listed = compile(lambda w, c: w * c + 1.0, [w, c], check_every=None)
    assert listed() == 0.5 * 3.0 + 1.0


def test_a_leaf_read_while_recording_is_watched():
    c = Value(1.0)
    step = compile(lambda x: x * 2.0 if c.data > 0 else x, [Value(1.5)])  # reading a constant is allowed...
    assert step() == 3.0
    c.data = -1.0  # ... and its change is detected
    with pytest.raises(ReplayError, match="not among the inputs"):
        step()


def test_a_model_whose_parameters_are_all_inputs_has_no_leaf_to_watch():
    X, Y = make_moons(5, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], activation="relu", seed=0)
    step = compile(lambda: moons_loss(model, X, [2 * y - 1 for y in Y]), model.parameters())
    assert step._held == []


def test_checks_run_on_a_schedule_and_can_be_turned_off():
    recordings = []

    def fn(x):
        recordings.append(1)
        return x * 2.0

    x = Value(1.0)
    step = compile(fn, [x])
    for _ in range(300):
        step()
    assert len(recordings) == 1 + 9  # compile, then calls 1, 2, 4, ..., 128 and 200
    recordings.clear()
    step = compile(fn, [x], check_every=None)
    for _ in range(300):
        step()
    assert len(recordings) == 1
    recordings.clear()
    step = compile(fn, [x], check_every=1)
    for _ in range(5):
        step()
    assert len(recordings) == 1 + 5
    with pytest.raises(ValueError, match="check_every"):
        compile(fn, [x], check_every=0)
    with pytest.raises(TypeError, match="check_every"):
        compile(fn, [x], check_every=2.5)


def test_without_checks_a_changed_graph_is_replayed_stale():
    # What check_every=None gives up, as documented: the recorded constant stays.
    scale = [3.0]
    x = Value(1.0)
    step = compile(lambda x: x * scale[0], [x], check_every=None)
    scale[0] = 4.0
    assert step() == 3.0
    with pytest.raises(ReplayError, match=r"the constant 3\.0, now the constant 4\.0"):
        step.check()


# ------------------------- every way a number reaches Python while recording
def double_backprop_through_relu(x):
    """A gradient penalty through relu: (d relu(3x)x / dx) squared."""
    y = (x * 3.0).relu() * x
    (dy,) = microgrid.grad(y, [x], create_graph=True)
    return dy * dy


def test_a_derivative_through_relu_taken_inside_fn_is_replayed_exactly():
    x = Value(1.0)
    step = compile(double_backprop_through_relu, [x], check_every=None)
    for at in (-1.0, 2.0, 0.0, -0.5):
        assert replayed(step, [at]) == eager(double_backprop_through_relu, [at])
    # By hand: y = 3x^2 for x > 0, else 0; dy = 6x; f = 36x^2, f' = 72x.
    assert replayed(step, [-1.0]) == (0.0, [0.0])
    assert replayed(step, [2.0]) == (144.0, [144.0])


def test_a_derivative_of_a_power_by_its_exponent_is_replayed_exactly_at_a_zero_base():
    a, b = Value(0.0), Value(2.0)

    def fn(a, b):
        (db,) = microgrid.grad(a**b, [b], create_graph=True)
        return db

    step = compile(fn, [a, b], check_every=None)  # recorded where d/db = 0
    value, _ = replayed(step, [3.0, 2.0])
    assert value == 9.0 * math.log(3.0)  # not the recorded 0
    assert replayed(step, [3.0, 2.0]) == eager(fn, [3.0, 2.0])


@pytest.mark.parametrize(
    "peek, how",
    [
        (lambda y, x: microgrid.grad(y, [x])[0], r"took a float gradient"),
        (lambda y, x: (y.backward(), x.grad)[1], r"called backward\(\) on"),
        (lambda y, x: x.grad, r"read \.grad of"),  # stale from outside: frozen by a replay
        (lambda y, x: microgrid.gradcheck(lambda t: t * y, [x]), r"read \.data of"),
        (lambda y, x: str(microgrid.explain_backward(y)), r"took a float gradient"),
    ],
    ids=["grad", "backward", "grad attribute", "gradcheck", "explain"],
)
def test_every_way_to_take_a_number_out_while_recording_is_refused(peek, how):
    def branchy(x):
        y = x * x
        return y * 2.0 if peek(y, x) else y * -3.0

    with pytest.raises(ReplayError, match=rf"^compile: fn {how}"):
        compile(branchy, [Value(1.0)])


def test_writing_data_that_outlives_the_recording_is_refused():
    x, held = Value(1.0, label="x"), Value(2.0, label="held")

    def sets_input(x):
        x.data = 5.0
        return x * 2.0

    with pytest.raises(ReplayError, match=r"^compile: fn set \.data of the Value 'x' \(to 5\.0\)"):
        compile(sets_input, [x])
    assert x.data == 1.0  # the write is undone: nothing the caller had is lost

    def sets_held(x):
        held.data = 3.0
        return x * held

    with pytest.raises(ReplayError, match=r"'held'"):
        compile(sets_held, [x])
    assert held.data == 2.0

    def sets_its_own(x):
        c = Value(0.0)
        c.data = 4.0  # made inside fn, gone after: nothing for a replay to miss
        return x * c

    assert compile(sets_its_own, [x])() == 4.0


def test_a_recording_changes_nothing_of_the_engine_even_when_fn_fails():
    before, engine_before = dict(vars(Value)), dict(vars(microgrid.engine))

    def fails(x):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        compile(fails, [Value(1.0)])
    compile(lambda x: x * x, [Value(1.0)])
    assert dict(vars(Value)) == before and dict(vars(microgrid.engine)) == engine_before
    assert microgrid.observe.active == 0


def test_a_recording_inside_a_recording_reports_to_both():
    def outer(x):
        compile(lambda y: y * 2.0, [Value(1.0)])  # fine on its own
        return x * 3.0 if x.data > 0 else x

    with pytest.raises(ReplayError, match=r"read \.data of \(an input"):
        compile(outer, [Value(1.0)])


@pytest.mark.parametrize("unordered", [lambda x, y: {x, y}, lambda x, y: {x: 1, y: 2}])
def test_inputs_without_an_order_are_refused(unordered):
    x, y = Value(1.0), Value(2.0)
    with pytest.raises(TypeError, match=r"^compile: inputs must be a sequence"):
        compile(lambda a, b: a * b, unordered(x, y))
