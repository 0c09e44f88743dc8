"""The generated code: it stands alone, reads like backprop by hand, follows
user ops' rules, and its batch form agrees with the eager engine summed over samples."""

import math
import subprocess
import sys
import time
import warnings

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from microgrid import Value, grad, nn
from microgrid.engine import OPS, define_op, remove_op
from microgrid.nn import losses
from microgrid.replay import BatchReplay, compile, compiled


def tiny_mlp():
    model = nn.MLP(2, [2, 1], activation="tanh", seed=0)
    x = [Value(0.5, label="x_1"), Value(-1.0, label="x_2")]
    return model, x, lambda: losses.mse([model(x)], [1.0])


def test_the_source_reads_like_backprop_by_hand():
    model, _, loss = tiny_mlp()
    source = compile(loss, model.parameters()).source
    assert "import math\n" in source and "import numpy" not in source
    assert "def step(w1_0_0, w1_0_1, b1_0, w1_1_0, w1_1_1, b1_1, w2_0_0, w2_0_1, b2_0):" in source
    assert "a1_0 = math.tanh(z1_0)  # a^(1)_0" in source
    assert "dC_dz1_0 = dC_da1_0 * (1.0 - a1_0 ** 2.0)  # delta^(1)_0" in source  # tanh's rule 1-out^2


def test_the_source_runs_alone_in_a_fresh_interpreter():
    model, _, loss = tiny_mlp()
    step = compile(loss, model.parameters())
    out = subprocess.run(
        [sys.executable, "-I", "-c", step.source.replace('__name__ == "__main__"', "True")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    value, grads = eval(out)  # the printed (value, gradients)
    reference = loss()
    reference.backward()
    assert (value, list(grads)) == (reference.data, [p.grad for p in model.parameters()])


@pytest.fixture(scope="module")
def user_ops():
    cube = define_op("cube", 1, lambda a: a**3, ["3*a^2"], "a**3")
    softplus = define_op("softplus", 1, lambda a: math.log1p(math.exp(a)), ["sigmoid(a)"], definition="log(1+exp(a))")
    yield cube, softplus
    for name in ("cube", "softplus"):
        if name in OPS:
            remove_op(name)


def with_user_ops(cube, softplus, a, b, c):
    t = cube(a * b + c).tanh() + softplus(b - c).relu()
    return cube(t) * softplus(a) + (c * c + 1.0).log() + a.sigmoid() * b.sin() - c.cos() / (t * t + 1.0)


point = st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(point, point)
def test_user_ops_are_replayed_bit_for_bit(user_ops, recorded_at, replayed_at):
    xs = [Value(x) for x in recorded_at]
    step = compile(lambda a, b, c: with_user_ops(*user_ops, a, b, c), xs)
    assert "OPS['cube'].forward" in step.source
    leaves = [Value(x) for x in replayed_at]
    out = with_user_ops(*user_ops, *leaves)
    out.backward()
    for x, value in zip(xs, replayed_at, strict=True):
        x.data, x.grad = value, 0.0
    assert step() == out.data and [x.grad for x in xs] == [x.grad for x in leaves]


def sample_loss(model, x1, x2, y):
    return (1.0 - y * model([x1, x2])).relu() + 0.5 * (x1 * x2).sigmoid() ** 2


def eager_mean(model, rows):
    total, grads = 0.0, [0.0] * len(model.parameters())
    for x1, x2, y in rows:
        model.zero_grad()
        out = sample_loss(model, Value(x1), Value(x2), Value(y))
        out.backward()
        total += out.data
        grads = [g + p.grad for g, p in zip(grads, model.parameters(), strict=True)]
    model.zero_grad()
    return total / len(rows), [g / len(rows) for g in grads]


rows = st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.sampled_from([-1.0, 1.0])), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(rows)
def test_a_batch_is_the_eager_mean_over_its_samples(rows):
    model = nn.MLP(2, [4, 1], activation="relu", seed=3)
    data = [Value(0.0), Value(0.0), Value(1.0)]
    step = compile(lambda: sample_loss(model, *data), model.parameters(), batch=data)
    assert isinstance(step, BatchReplay) and "np.where(" in step.source  # relu and step, per sample
    value, grads = eager_mean(model, rows)
    got = step(*zip(*rows, strict=True))
    assert got == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert [p.grad for p in model.parameters()] == pytest.approx(grads, rel=1e-12, abs=1e-15)


@pytest.fixture
def no_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now fails
    compiled._numpy.cache_clear()
    yield
    compiled._numpy.cache_clear()


def test_without_numpy_a_batch_runs_sample_by_sample_and_says_so_once(no_numpy):
    w, x = Value(2.0), Value(0.0)
    with pytest.warns(RuntimeWarning, match=r"numpy is not installed.*microgrid\[fast\]") as said:
        step = compile(lambda w: (w * x).tanh(), [w], batch=[x], reduction="sum")
    assert said[0].filename == __file__  # the line that called compile
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = compile(lambda w: w * x, [w], batch=[x])
    assert step([0.5, -1.0]) == math.tanh(1.0) + math.tanh(-2.0)
    assert w.grad == (1 - math.tanh(1.0) ** 2) * 0.5 + (1 - math.tanh(-2.0) ** 2) * -1.0
    assert again([1.0, 3.0]) == 4.0


def test_a_batch_that_leaves_the_floats_raises_the_engines_error():
    w, x = Value(1.0), Value(1.0)
    step = compile(lambda w: (w * x).log(), [w], batch=[x])
    with pytest.raises(ValueError, match=r"log: undefined for input -1\.0"):
        step([1.0, -1.0])


def test_a_batch_whose_gradient_underflows_raises_as_the_engine_does():
    # d/dw of x * ((w * 1e10) * 1e-200) at x = 1e-200: 1e-200 * 1e-200 rounds to 0 before the factor 1e10.
    def loss(w, x):
        return x * ((w * 1e10) * 1e-200)

    eager_w, eager_x = Value(1.0), Value(1e-200)
    with pytest.raises(FloatingPointError, match="smaller than the smallest float"):
        loss(eager_w, eager_x).backward()
    w, x = Value(1.0), Value(1.0)
    step = compile(lambda w: loss(w, x), [w], batch=[x])
    with pytest.raises(FloatingPointError, match="smaller than the smallest float"):
        step([1e-200, 1e-200])
    assert w.grad == 0.0  # nothing added by the refused call
    assert step([2.0, 4.0]) == pytest.approx(3.0 * 1e-190) and w.grad == pytest.approx(3.0 * 1e-190)


def test_bad_columns_are_refused_clearly():
    w, x = Value(1.0), Value(1.0)
    step = compile(lambda w: w * x, [w], batch=[x])
    with pytest.raises(TypeError, match="one column per data leaf"):
        step([1.0], [2.0])
    with pytest.raises(ValueError, match="not empty"):
        step([])
    with pytest.raises(ValueError, match="reduction"):
        compile(lambda w: w * x, [w], batch=[x], reduction="max")


magnitude = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0.0)
affine = st.lists(
    st.tuples(st.sampled_from("+-*/"), st.sampled_from([0.0, 1e-300, 2.0**-200, 3.0, 2.0**200, 1e300]), st.booleans()),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@example([("*", 2.0**-200, False)], [1.0, 1.0], [1e-270, 3.0])  # an underflow to 0, then a factor above 1: an error
@given(affine, st.lists(magnitude, min_size=2, max_size=2), st.lists(magnitude, min_size=2, max_size=2))
def test_numbers_of_any_size_are_the_engines_or_its_error(program, recorded_at, replayed_at):
    """Tiny and huge values, constants on either side: the code's cheap check must not let a different float pass."""

    def fn(x, y):
        v = x * y
        for op, c, left in program:
            a, b = (Value(c), v) if left else (v, Value(c))
            v = (
                a * b
                if op == "*" or (op == "/" and c == 0.0 and not left)
                else a / b
                if op == "/"
                else a + b
                if op == "+"
                else a - b
            )
        return v * x

    def run(call):
        try:
            return call()
        except (ArithmeticError, ValueError) as error:
            return type(error)

    xs = [Value(x) for x in recorded_at]
    step = run(lambda: compile(fn, xs, None))
    assume(not isinstance(step, type))  # fn fails where it is recorded: nothing to replay
    for x, value in zip(xs, replayed_at, strict=True):
        x.data, x.grad = value, 0.0
    got = run(lambda: [step(), *(x.grad for x in xs)])
    leaves = [Value(x) for x in replayed_at]
    expected = run(lambda: [fn(*leaves).data, *grad(fn(*leaves), leaves)])
    assert repr(got) == repr(expected)


def test_a_graph_too_big_to_compile_runs_the_engines_pass(monkeypatch):
    monkeypatch.setattr(compiled, "MAX_LINES", 50)
    x = Value(0.5)
    with pytest.warns(RuntimeWarning, match="too many to compile") as said:
        step = compile(lambda x: chain(x, 100), [x])
    assert said[0].filename == __file__  # the line that called compile
    assert step.source is None
    reference = Value(0.5)
    out = chain(reference, 100)
    out.backward()
    assert (step(), x.grad) == (out.data, reference.grad)


def test_a_batch_too_big_to_compile_says_so_at_the_line_that_called_compile(monkeypatch):
    monkeypatch.setattr(compiled, "MAX_LINES", 50)
    w, x = Value(0.5), Value(0.0)
    with pytest.warns(RuntimeWarning, match="too many to compile") as said:
        step = compile(lambda w: chain(w * x, 100), [w], batch=[x], reduction="sum")
    assert [s.filename for s in said] == [__file__]  # the user's line, not one inside microgrid
    assert step.source is None
    total, grad = 0.0, 0.0
    for sample in (1.0, -2.0):  # the reference: the engine's own pass, sample by sample
        reference = Value(0.5)
        out = chain(reference * sample, 100)
        out.backward()
        total, grad = total + out.data, grad + reference.grad
    assert (step([1.0, -2.0]), w.grad) == (total, grad)


@pytest.mark.slow
def test_the_line_limit_bounds_the_time_and_memory_of_compiling():
    x = Value(0.5)
    start = time.perf_counter()
    with pytest.warns(RuntimeWarning, match="too many to compile"):
        step = compile(lambda x: chain(x, compiled.MAX_LINES), [x])
    assert step() > 0.0
    assert time.perf_counter() - start < 120  # wide: without the limit it took gigabytes


@pytest.mark.slow
def test_compiling_takes_time_linear_in_the_leaves():
    n = 20_000
    leaves = [Value(i / n) for i in range(2 * n)]

    def dot(*xs):
        total = xs[0] * xs[n]
        for a, b in zip(xs[1:n], xs[n + 1 :], strict=True):
            total = total + a * b
        return total

    start = time.perf_counter()
    step = compile(dot, leaves)
    assert time.perf_counter() - start < 30  # wide: far above linear work, far below a compile quadratic in the leaves
    expected = 0.0
    for a, b in zip(leaves[:n], leaves[n:], strict=True):
        expected += a.data * b.data
    assert step() == expected and leaves[0].grad == leaves[n].data


def chain(x, n):
    for _ in range(n):
        x = (x * 1.0001).tanh() + 0.0001
    return x


def test_fused_weighted_sums_rely_on_the_cores_plus_and_times_being_pythons():
    import operator

    from microgrid.ops import ADD, MUL

    assert ADD.forward is operator.add and MUL.forward is operator.mul
    assert ADD.partials(2.0, 3.0, 5.0) == (1.0, 1.0) and MUL.partials(2.0, 3.0, 6.0) == (3.0, 2.0)
