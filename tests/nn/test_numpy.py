"""NumPy where numbers are: scalars of every real type, arrays of samples and labels.

The reference for each result is the same call with plain Python numbers
(float(x) of each NumPy scalar), which the rest of the suite checks.
NumPy stays optional: the package never imports it.
"""

import json
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")

from microgrid import Value  # noqa: E402
from microgrid.nn import (  # noqa: E402
    MLP,
    Layer,
    Neuron,
    losses,
)
from microgrid.nn.data import make_moons  # noqa: E402
from microgrid.nn.optim import SGD, Adam  # noqa: E402
from microgrid.nn.train import fit  # noqa: E402

REAL_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, np.float16, np.float32, np.float64]
if hasattr(np, "longdouble"):
    REAL_TYPES.append(np.longdouble)


@pytest.mark.parametrize("kind", REAL_TYPES, ids=lambda k: k.__name__)
def test_every_numpy_real_type_is_a_number(kind):
    x = kind(3)
    v = Value(x)
    assert type(v.data) is float and v.data == 3.0
    y = (v * kind(2) + kind(1)) ** kind(2)  # numpy scalars as the other operand and the exponent
    y.backward()
    assert y.data == 49.0 and v.grad == 2 * 2 * 7.0
    w = kind(2) * Value(5.0)  # numpy on the left
    assert isinstance(w, Value) and w.data == 10.0
    v.data = kind(4)
    assert v.data == 4.0


def test_a_float32_keeps_its_exact_value():
    x = np.float32(0.1)
    assert Value(x).data == float(x) != 0.1  # the float32 nearest 0.1, not 0.1


@pytest.mark.parametrize("flag", [np.True_, np.False_, True])
def test_bools_are_refused_numpy_or_not(flag):
    with pytest.raises(TypeError, match=r"^Value: data must be a real number, got bool"):
        Value(flag)
    with pytest.raises(TypeError, match=r"must be a real number, got bool"):
        Value(1.0) * flag


@pytest.mark.parametrize("bad", [np.float64("nan"), np.float32("inf"), np.complex128(1)])
def test_numpy_non_finite_or_complex_is_refused(bad):
    with pytest.raises((TypeError, ValueError), match=r"^Value: data must be"):
        Value(bad)


def test_np_mean_and_sum_over_values_build_the_graph():
    xs = [Value(float(k), label=f"x{k}") for k in range(1, 5)]
    mean = np.mean(xs)
    assert isinstance(mean, Value) and mean.data == 2.5
    mean.backward()
    assert [x.grad for x in xs] == [0.25] * 4  # d mean / d x_k = 1/n
    total = np.sum(np.array(xs, dtype=object))
    assert isinstance(total, Value) and total.data == 10.0


def test_integer_arguments_take_numpy_ints_and_save_as_json_ints(tmp_path):
    model = MLP(np.int64(2), np.array([3, 1]), seed=np.int64(0))
    assert repr(model) == repr(MLP(2, [3, 1], seed=0))
    assert [p.data for p in model.parameters()] == [p.data for p in MLP(2, [3, 1], seed=0).parameters()]
    model.save(tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["config"]["nouts"] == [3, 1]
    assert Neuron(np.int32(2), layer=np.int64(2), index=np.uint8(1)).named_parameters().__next__()[0] == "w^(2)_1,0"
    assert repr(Layer(np.int16(2), np.int16(2), layer=np.int8(3))) == "Layer(2, 2, activation='tanh', layer=3)"
    X, y = make_moons(np.int64(10), noise=np.float32(0.1), seed=np.int64(1))
    assert (X, y) == make_moons(10, noise=float(np.float32(0.1)), seed=1)


def test_numpy_inputs_give_the_same_outputs_and_predictions():
    model = MLP(3, [4, 2], seed=0)
    row = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    plain = [float(x) for x in row]
    assert [o.data for o in model(row)] == [o.data for o in model(plain)]
    assert model.predict(row) == model.predict(plain)
    assert model.predict(row.astype(np.int64)) == model.predict([0.0, -1.0, 2.0])


def test_losses_take_numpy_targets_and_predictions():
    scores = [Value(0.3), Value(-1.2), Value(2.0)]
    labels = np.array([1, 0, 1])
    assert losses.binary_cross_entropy_with_logits(scores, labels).data == (
        losses.binary_cross_entropy_with_logits(scores, [1.0, 0.0, 1.0]).data
    )
    assert losses.hinge(scores, 2 * labels - 1).data == losses.hinge(scores, [1, -1, 1]).data
    assert losses.mse(np.array([0.5, 1.5]), np.array([1.0, 1.0])).data == 0.5
    assert losses.mse(Value(2.0), np.float32(1.5)).data == 0.25
    assert losses.mse(Value(2.0), np.array(1.5)).data == 0.25  # a 0-d array is one number
    with pytest.raises(TypeError, match=r"mse: target\[0\] must be a real number, got bool"):
        losses.mse([Value(1.0), Value(2.0)], np.array([True, False]))


def _same_run(X, y, plain_X, plain_y, **options):
    a, b = MLP(2, [4, 1], activation="relu", seed=3), MLP(2, [4, 1], activation="relu", seed=3)
    history_a = fit(a, X, y, progress=False, **options)
    history_b = fit(b, plain_X, plain_y, progress=False, **options)
    assert history_a == history_b
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    return history_a


def test_fit_takes_arrays_and_integer_label_arrays_as_scikit_learn_returns_them():
    X, labels = make_moons(30, noise=0.1, seed=0)
    X_np, labels_np = np.array(X), np.array(labels, dtype=np.int64)
    history = _same_run(X_np, labels_np, X, labels, loss="bce_with_logits", epochs=5, lr=0.5)
    assert history.accuracy[-1] is not None
    _same_run(
        X_np,
        2 * labels_np - 1,
        X,
        [2 * t - 1 for t in labels],
        epochs=3,
        batch_size=np.int64(8),
        seed=np.int64(2),
        lr=np.float32(0.25),
        l2=np.float64(1e-3),
    )


def test_fit_with_several_outputs_takes_a_2d_target_array():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    Y = np.array([[1, 0], [0, 1], [1, 1]])
    a, b = MLP(2, [3, 2], seed=1), MLP(2, [3, 2], seed=1)
    history_a = fit(a, X, Y, loss="mse", epochs=3, lr=0.1, progress=False)
    history_b = fit(b, X.tolist(), Y.tolist(), loss="mse", epochs=3, lr=0.1, progress=False)
    assert history_a == history_b


def test_fit_takes_a_column_of_targets_for_a_one_output_model():
    """Shape (N, 1), as scikit-learn and PyTorch users keep targets: the same run as with y.ravel()."""
    X, labels = make_moons(20, noise=0.1, seed=0)
    column = (2 * np.array(labels, dtype=np.float64) - 1).reshape(-1, 1)
    flat = [2.0 * t - 1 for t in labels]
    for loss in ("hinge", "mse"):
        history = _same_run(np.array(X), column, X, flat, loss=loss, epochs=3, lr=0.1)
        assert len(history) == 3
    _same_run(
        np.array(X),
        (column > 0).astype(np.int64),
        X,
        [int(t > 0) for t in flat],
        loss="bce_with_logits",
        epochs=2,
        lr=0.1,
    )
    _same_run(X, [[t] for t in flat], X, flat, loss="hinge", epochs=2, lr=0.1, batch_size=6, seed=1)


def test_fit_refuses_targets_that_do_not_match_the_outputs_sample_by_sample():
    X = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]
    with pytest.raises(ValueError, match=r"^fit: sample 0 has 2 targets but the model gives 1 output"):
        fit(MLP(2, [3, 1], seed=0), np.array(X), np.ones((3, 2)), loss="mse", epochs=1, progress=False)
    # Ragged targets whose total matches the outputs' would pair across samples: refused before any step.
    before = [p.data for p in MLP(2, [3, 2], seed=0).parameters()]
    model = MLP(2, [3, 2], seed=0)
    with pytest.raises(
        ValueError, match=r"^fit: y\[1\] has 3 targets but y\[0\] has 1; each sample needs one target per output"
    ):
        fit(model, X, [[1.0], [1.0, 2.0, 3.0], [1.0, 2.0]], loss="mse", epochs=1, progress=False)
    assert [p.data for p in model.parameters()] == before


def test_predict_takes_a_2d_array_of_samples():
    model = MLP(3, [4, 2], seed=0)
    rows = np.array([[0.5, -1.25, 2.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    assert model.predict(rows) == [model.predict([float(x) for x in row]) for row in rows]
    one = MLP(3, [4, 1], seed=0)
    assert one.predict(rows) == [one([float(x) for x in row]).data for row in rows]


def test_optimizers_take_numpy_rates():
    w = Value(1.0)
    w.grad = 2.0
    SGD([w], lr=np.float32(0.5), momentum=np.int64(0)).step()
    assert w.data == 1.0 - float(np.float32(0.5)) * 2.0
    Adam([w], lr=np.float64(0.1), betas=(np.float32(0.9), np.float64(0.999)), eps=np.float16(1e-4))


def test_the_package_never_imports_numpy():
    code = (
        "import sys, microgrid, microgrid.nn, microgrid.nn.train, microgrid.nn.losses, microgrid.nn.optim, "
        "microgrid.nn.data, microgrid._files\n"
        "m = microgrid.MLP(2, [3, 1], seed=0); microgrid.fit(m, [[0, 1], [1, 0]], [1, -1], epochs=2, progress=False)\n"
        "print('numpy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
