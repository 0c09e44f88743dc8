"""microgrid.nn.train.fit, the plots and the demo."""

from __future__ import annotations


import pytest

import microgrid.nn.demo as demo_module
import microgrid.nn.plots as plots_module
from microgrid.cli import main
from microgrid.nn.data import make_blobs, make_moons
from microgrid.nn.losses import hinge, l2_penalty
from microgrid.nn import MLP
from microgrid.nn.optim import SGD, Adam, Optimizer
from microgrid.nn.train import History, fit



def _moons(n=30, seed=0):
    X, labels = make_moons(n, noise=0.1, seed=seed)
    return X, [2 * t - 1 for t in labels]


def test_one_epoch_is_micrograds_step_by_hand():
    """fit's full-batch step equals the step written out as in micrograd's demo."""
    X, y = _moons()
    a, b = MLP(2, [4, 1], activation="relu", seed=3), MLP(2, [4, 1], activation="relu", seed=3)
    history = fit(a, X, y, epochs=1, lr=0.5, l2=1e-3, progress=False)
    scores = [b(x) for x in X]
    loss = hinge(scores, y) + l2_penalty(b.parameters(), 1e-3)
    b.zero_grad()
    loss.backward()
    for p in b.parameters():
        p.data -= 0.5 * p.grad
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert history.loss == [loss.data]
    assert history.accuracy == [sum((s.data > 0) == (t > 0) for s, t in zip(scores, y)) / len(y)]


def test_schedule_sets_the_learning_rate_of_each_step():
    X, y = _moons(12)
    seen = []
    model = MLP(2, [3, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=1.0)
    history = fit(model, X, y, epochs=3, batch_size=5, optimizer=optimizer,
                  schedule=lambda k: seen.append(k) or 1.0 / (k + 1), progress=False)
    assert seen == list(range(9))  # 3 batches (5, 5, 2) per epoch
    assert history.lr == [1 / 3, 1 / 6, 1 / 9]
    assert len(history) == 3


def test_minibatches_are_reproducible_with_a_seed():
    X, y = _moons(20)
    runs = []
    for _ in range(2):
        model = MLP(2, [4, 1], seed=1)
        fit(model, X, y, epochs=2, batch_size=4, seed=5, progress=False)
        runs.append([p.data for p in model.parameters()])
    assert runs[0] == runs[1]
    # ... and the seed matters: another one visits the samples in another order.
    model = MLP(2, [4, 1], seed=1)
    fit(model, X, y, epochs=2, batch_size=4, seed=6, progress=False)
    assert [p.data for p in model.parameters()] != runs[0]


def test_step_losses_and_epoch_means():
    X, y = _moons(10)
    history = fit(MLP(2, [4, 1], seed=1), X, y, epochs=2, batch_size=4, seed=5, progress=False)
    assert len(history.step_loss) == 2 * 3  # batches of 4, 4 and 2 per epoch
    for epoch in range(2):
        steps = history.step_loss[3 * epoch : 3 * epoch + 3]
        assert history.loss[epoch] == pytest.approx(sum(steps) / 3, rel=1e-15)
    full = fit(MLP(2, [4, 1], seed=1), X, y, epochs=3, progress=False)
    assert full.step_loss == full.loss


def test_losses_by_name_and_function():
    X, labels = make_blobs(40, centers=[[-2, 0], [2, 0]], std=0.5, seed=0)
    model = MLP(2, [4, 1], output_activation="sigmoid", seed=0)
    history = fit(model, X, labels, loss="bce", epochs=40, lr=0.5, progress=False)
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < history.loss[0]
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, labels, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05), epochs=30, progress=False)
    assert history.accuracy[-1] == 1.0
    # mse on a model with two outputs per sample, and a custom loss without accuracy
    model = MLP(1, [2], activation="linear", output_activation="linear", seed=0)
    X1 = [[x / 10] for x in range(-5, 6)]
    Y1 = [[2 * x[0] + 1, -x[0]] for x in X1]
    history = fit(model, X1, Y1, loss="mse", epochs=200, lr=0.05, progress=False)
    assert history.accuracy[-1] is None and history.loss[-1] < 1e-6
    history = fit(model, X1, [t[0] for t in Y1], loss=lambda s, t: (s[0][0] - t[0]) ** 2, epochs=1, progress=False)
    assert len(history) == 1


def test_progress_bar_shows_loss_and_accuracy(capsys):
    X, y = _moons(10)
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err and "acc=" in err
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False)
    assert capsys.readouterr().err == ""


def test_history_repr():
    assert repr(History()) == "History(0 epochs)"
    assert repr(History(loss=[0.5], accuracy=[1.0], lr=[0.1])) == "History(1 epoch, final loss 0.5, accuracy 100.0%)"


def test_history_table_plot_and_html():
    n = 25
    history = History(loss=[1.0 / (k + 1) for k in range(n)], accuracy=[k / n for k in range(n)], lr=[0.5] * n)
    lines = history.table(rows=5).splitlines()
    assert lines[0].split() == ["epoch", "loss", "accuracy", "lr"]
    # 5 rows, evenly spaced, first and last included: epochs 1, 7, 13, 19, 25
    assert [int(line.split()[0]) for line in lines[1:]] == [1, 7, 13, 19, 25]
    assert lines[-1].split() == ["25", "0.04", "96.0%", "0.5"]
    assert str(history).splitlines()[0] == repr(history) and len(str(history).splitlines()) == 1 + 1 + 10
    assert History(loss=[2.0], accuracy=[None], lr=[0.1]).table().splitlines()[1].split() == ["1", "2", "-", "0.1"]
    html = history._repr_html_()
    assert html.count("<tr>") == 1 + 10 and "<td>25</td>" in html
    figure = history.plot()
    assert list(figure.axes[0].lines[0].get_ydata()) == history.loss
    # shown inline in Jupyter even where pyplot was never imported
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments():
    X, y = _moons(10)
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="lr=0.5 and an optimizer were both given"):
        fit(model, X, y, lr=0.5, optimizer=Adam(model.parameters()), progress=False)
    with pytest.raises(ValueError, match="10 samples but 9 targets"):
        fit(model, X, y[:9], progress=False)
    with pytest.raises(ValueError, match="no samples"):
        fit(model, [], [], progress=False)
    with pytest.raises(ValueError, match="unknown loss 'cross'.*'hinge'"):
        fit(model, X, y, loss="cross", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, X, y, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, X, y, epochs=-1, progress=False)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        fit(model, X, [0] * 10, progress=False)  # 0/1 labels with the hinge loss


def test_plots_draw_what_they_are_given():
    X, y = _moons(20)
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, y, epochs=3, progress=False)
    figure = plots_module.loss_curve(history)
    line = figure.axes[0].lines[0]
    assert list(line.get_ydata()) == history.loss
    assert list(figure.axes[1].lines[0].get_ydata()) == [100 * a for a in history.accuracy]
    figure = plots_module.decision_boundary(model, X, y, resolution=10)
    assert figure.axes[0].get_title() == "decision boundary (output = 0)"
    offsets = [c.get_offsets() for c in figure.axes[0].collections if hasattr(c, "get_offsets") and len(c.get_offsets())]
    assert sum(len(o) for o in offsets[-2:]) == len(X)
    with pytest.raises(ValueError, match="one output, it has 2"):
        plots_module.decision_boundary(MLP(2, [3, 2], seed=0), X, y)
    with pytest.raises(ValueError, match="decision_boundary: 20 samples but 19 targets"):  # not points left out
        plots_module.decision_boundary(model, X, y[:-1])


def test_demo_command_passes_its_options_to_run(tmp_path, capsys, monkeypatch):
    """`microgrid demo --eager --steps --seed --output`: as many steps of `fit` as asked, on the
    moons of that seed, into that folder; another seed trains another model (run's files,
    and the compiled path's agreement with this one, are checked in test_demo.py)."""
    runs = []

    def recording_fit(model, X, y, **options):
        history = fit(model, X, y, **options)
        runs.append((X, history))
        return history

    monkeypatch.setattr(demo_module, "fit", recording_fit)
    for seed in (1, 2):
        out = tmp_path / f"seed{seed}"
        assert main(["demo", "--eager", "--steps", "3", "--seed", str(seed), "--output", str(out)]) == 0
        assert f"saved {out / 'model.json'}" in capsys.readouterr().out
        X, history = runs[-1]
        assert len(history) == 3 and len(history.step_loss) == 3
        assert X == make_moons(100, noise=0.1, seed=seed)[0]
    first, second = ((tmp_path / f"seed{seed}" / "model.json").read_text() for seed in (1, 2))
    assert first != second


def test_demo_command_rejects_bad_steps(capsys):
    assert main(["demo", "--steps", "0"]) == 2
    assert "steps must be an int >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_configuration_reaches_full_training_accuracy():
    model, X, y, history = demo_module.train_moons(steps=100, seed=1337, progress=False)
    assert len(history) == 100
    assert history.lr[0] == 1.0 and history.lr[-1] == pytest.approx(1.0 - 0.9 * 99 / 100)
    assert demo_module.training_accuracy(model, X, y) == 1.0
    # accuracy checked independently of predict: the graph's forward pass
    assert all((model(x).data > 0) == (t > 0) for x, t in zip(X, y))
    assert history.loss[-1] < history.loss[0] / 10


def test_a_failed_run_keeps_its_history():
    model = MLP(2, [4, 1], activation="relu", seed=0)
    with pytest.raises(ArithmeticError) as info:  # lr far too large: the loss overflows
        fit(model, [[1, 2], [3, 4], [5, 6]], [5.0, -3.0, 2.0], loss="mse", lr=10.0, epochs=500, progress=False)
    history = info.value.history
    assert 1 <= len(history) < 500
    assert history.loss[-1] > history.loss[0]  # the divergence is on record
    assert repr(History(loss=[0.5], accuracy=[None], lr=[0.1])) == "History(1 epoch, final loss 0.5)"


# ------------------------------------------------ arguments checked up front
def _never_called(*args):
    raise AssertionError("fit ran the model before checking its arguments")


class _Untouchable(MLP):
    """An MLP whose forward pass must not run: fit must refuse before training."""

    __call__ = _never_called


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"l2": -1e-4}, ValueError, "fit: l2 must be >= 0, got -0.0001"),
        ({"l2": float("nan")}, ValueError, "fit: l2 must be finite, got nan"),
        ({"l2": "1e-4"}, TypeError, "fit: l2 must be a real number, got str"),
        ({"optimizer": "sgd"}, TypeError, r"fit: optimizer must be an optimizer object .* got str: 'sgd'; leave it out to use SGD with lr="),
        ({"optimizer": SGD}, TypeError, r"fit: optimizer must be an optimizer object .* got type: .*; make one: SGD\(model.parameters\(\), ...\)"),
        ({"schedule": 0.1}, TypeError, "fit: schedule must be a function or None, got float: 0.1"),
        ({"accuracy": "yes"}, TypeError, "fit: accuracy must be a function or None, got str"),
        ({"seed": "abc"}, TypeError, "fit: seed must be an int, got str: 'abc'"),
        ({"seed": 1.5}, TypeError, "fit: seed must be an int, got float: 1.5"),
        ({"seed": 1.5, "batch_size": None}, TypeError, "fit: seed must be an int"),  # checked even where unused
        ({"batch_size": 2.0}, TypeError, "fit: batch_size must be an int"),
        ({"lr": float("inf")}, ValueError, "SGD: lr must be finite"),
    ],
)
def test_bad_arguments_are_refused_before_any_step(options, error, message):
    X, y = _moons(6)
    model = _Untouchable(2, [3, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(error, match=message):
        fit(model, X, y, epochs=2, progress=False, **options)
    assert [p.data for p in model.parameters()] == before


def test_an_optimizer_for_another_model_is_refused():
    X, y = _moons(6)
    model, other = _Untouchable(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    with pytest.raises(ValueError, match="fit: the optimizer holds none of the model's parameters"):
        fit(model, X, y, optimizer=SGD(other.parameters(), lr=0.1), progress=False)


def test_an_optimizer_of_your_own_is_welcome():
    """Duck typing: step, zero_grad and lr are all fit uses."""

    class HalfSteps:
        def __init__(self, params):
            self.params, self.lr = params, 0.2

        def zero_grad(self):
            for p in self.params:
                p.grad = 0.0

        def step(self):
            for p in self.params:
                p.data -= self.lr * p.grad

    X, y = _moons(6)
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)
    fit(a, X, y, epochs=2, optimizer=HalfSteps(a.parameters()), progress=False)
    fit(b, X, y, epochs=2, lr=0.2, progress=False)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]  # plain SGD, the same steps
    assert not isinstance(HalfSteps([]), Optimizer)


@pytest.mark.parametrize(
    "rate, error, message",
    [(float("nan"), ValueError, r"fit: the learning rate schedule\(2\) must be finite, got nan"),
     (-0.1, ValueError, r"fit: the learning rate schedule\(2\) must be >= 0, got -0.1"),
     ("0.1", TypeError, r"fit: the learning rate schedule\(2\) must be a real number, got str")],
)
def test_a_schedule_giving_no_usable_rate_is_named_with_its_step(rate, error, message):
    X, y = _moons(6)
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(error, match=message) as info:
        fit(model, X, y, epochs=5, schedule=lambda k: 0.1 if k < 2 else rate, progress=False)
    assert len(info.value.history) == 2  # the two steps with a good rate were taken and kept


def test_seed_none_shuffles_after_the_global_random():
    import random

    X, y = _moons(20)
    runs = []
    for _ in range(2):
        random.seed(3)
        model = MLP(2, [4, 1], seed=1)
        fit(model, X, y, epochs=2, batch_size=4, progress=False)
        runs.append([p.data for p in model.parameters()])
    assert runs[0] == runs[1]


def test_samples_and_targets_must_be_ordered():
    X, y = _moons(4)
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"fit: y must be a sequence .*\(a set has no order\)"):
        fit(model, X, {1, -1}, progress=False)
    with pytest.raises(TypeError, match=r"fit: X must be a sequence .*\(a dict would give its keys\)"):
        fit(model, dict(enumerate(X)), y, progress=False)


@pytest.mark.parametrize(
    "options, error, message",
    [({"resolution": 1}, ValueError, "decision_boundary: resolution must be an int >= 2, got 1"),  # not ZeroDivisionError
     ({"resolution": 10.0}, TypeError, "decision_boundary: resolution must be an int, got float"),
     ({"threshold": float("nan")}, ValueError, "decision_boundary: threshold must be finite")],
)
def test_decision_boundary_checks_its_grid(options, error, message):
    X, y = _moons(6)
    with pytest.raises(error, match=message):
        plots_module.decision_boundary(MLP(2, [3, 1], seed=0), X, y, **options)


def test_a_full_batch_run_leaves_the_global_random_alone():
    import random

    X, y = _moons(6)
    random.seed(4)
    expected = random.random()
    random.seed(4)
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False)
    assert random.random() == expected


# ------------------------------------------------ learners' mistakes, named with their fix
DIVERGING = dict(X=[[1, 2], [3, 4], [5, 6]], y=[5.0, -3.0, 2.0], loss="mse", progress=False)


def _squared_error(model, X, y):
    """The summed squared error (loss="mse", the seed's C0) in plain floats, from `predict`: no graph."""
    return sum((model.predict(x) - t) ** 2 for x, t in zip(X, y))


def test_a_diverging_run_names_the_step_and_suggests_a_smaller_rate():
    model = MLP(2, [4, 1], activation="relu", seed=0)
    with pytest.raises(FloatingPointError) as info:  # an ArithmeticError, as the engine's overflow is
        fit(model, lr=10.0, epochs=500, **DIVERGING)
    message = str(info.value)
    history = info.value.history
    steps = len(history)  # full batch: one step per epoch, each before the failing one recorded
    assert "\n" not in message
    assert message.startswith(f"fit: the run diverged after {steps} steps (in epoch {steps + 1}) with lr=10.0: ")
    assert steps > 1
    assert message.endswith("try a smaller learning rate, e.g. lr=1")
    # Reported as soon as the loss passes a million times the first epoch's, long before the floats overflow.
    first, now = history.loss[0], _squared_error(model, DIVERGING["X"], DIVERGING["y"])  # the model as the steps left it
    assert now > 1e6 * first > history.loss[-1]
    assert f"the loss grew to {now:.6g}, more than 1e+06 times the first epoch's largest, {first:.6g}" in message


def test_a_run_that_diverges_slowly_is_reported_not_returned():
    """Too few epochs for the floats to overflow: reported all the same, not returned with an astronomical loss."""
    model = MLP(2, [4, 1], activation="relu", seed=0)
    with pytest.raises(FloatingPointError, match=r"^fit: the run diverged after 2 steps \(in epoch 3\) with lr=10\.0"):
        fit(model, lr=10.0, epochs=80, **DIVERGING)


def test_an_overflow_within_one_step_names_the_step_and_suggests_a_smaller_rate():
    """A rate that leaps from harmless to huge: the engine's overflow comes first, with the same hint."""
    model = MLP(2, [4, 1], activation="relu", seed=0)
    with pytest.raises(OverflowError) as info:  # the type the engine raised, so callers catching it still do
        fit(model, epochs=500, schedule=lambda k: 0.01 if k < 3 else 1e150, **DIVERGING)
    message = str(info.value)
    steps = len(info.value.history)
    assert "\n" not in message
    assert message.startswith(f"fit: the run diverged after {steps} steps (in epoch {steps + 1}) with lr=1e+150: ")
    assert steps > 1
    assert message.endswith("try a smaller learning rate, e.g. lr=1e+149")
    assert "overflow" in str(info.value.__cause__)  # the engine's own words, kept as the cause


def test_mini_batches_of_very_different_losses_are_not_a_divergence():
    """The scale is the first epoch's largest loss, every sample seen once: a first batch
    of loss near 0 and later ones of 1e7 are the data, not a diverging run."""
    X = [[0.0, 0.0]] + [[0.1 * i, -0.1 * i] for i in range(1, 8)]
    y = [0.0] + [5000.0 - 10 * i for i in range(1, 8)]
    model = MLP(2, [3, 1], seed=0)
    with_scores = fit(model, X, y, loss="mse", lr=1e-9, batch_size=1, epochs=3, seed=0, progress=False)
    assert min(with_scores.step_loss) < 1.0 and max(with_scores.step_loss) > 2e7  # yet no error


def test_a_perfect_start_is_not_a_divergence_when_the_loss_moves_a_little():
    """A first loss of 0 makes any loss infinitely larger: the scale is at least 1."""
    calls = []

    def exact_then_not(scores, targets):
        calls.append(1)
        total = sum(scores) * 0.0
        return total if len(calls) == 1 else total + 0.5

    history = fit(MLP(2, [3, 1], seed=0), *_moons(4), loss=exact_then_not, epochs=3, progress=False)
    assert history.loss == [0.0, 0.5, 0.5]


def test_a_loss_diving_to_minus_a_huge_number_is_a_divergence_too():
    def unbounded(scores, targets):  # minimised without end: -score**2 grows as the weights do
        return -sum(s * s for s in scores)

    with pytest.raises(FloatingPointError, match=r"^fit: the run diverged .* the loss grew to -\d.*e\+\d+, more than 1e\+06 times"):
        fit(MLP(2, [3, 1], seed=0), *_moons(4), loss=unbounded, lr=0.5, epochs=200, progress=False)


def test_an_optimizer_refusing_to_diverge_gets_the_same_hint():
    model = MLP(2, [4, 1], activation="relu", seed=0)
    opt = SGD(model.parameters(), lr=1e308)  # the first update itself overflows
    with pytest.raises(FloatingPointError, match=r"^fit: the run diverged after 0 steps \(in epoch 1\) with lr=1e\+308: SGD.step: .*lr=1e\+307$"):
        fit(model, [[1, 2], [3, 4]], [1.0, -1.0], loss="mse", optimizer=opt, epochs=50, progress=False)


def test_an_overflow_before_any_update_points_at_the_data_not_the_rate():
    model = MLP(2, [4, 1], activation="relu", seed=0)
    with pytest.raises(OverflowError, match=r"^fit: the first step failed, before any update: .*check the scale of the inputs"):
        fit(model, [[1e200, 2.0]], [1.0], loss="mse", epochs=3, progress=False)


@pytest.mark.parametrize("result, shown", [(1.5, "float 1.5"), (3, "int 3"), ([0.5], r"list \[0.5\]")])
def test_a_loss_that_returns_no_value_is_named(result, shown):
    def my_loss(scores, targets):
        return result

    X, y = _moons(4)
    model = MLP(2, [3, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(TypeError, match=rf"^fit: the loss function .*my_loss returned {shown}, not a Value"):
        fit(model, X, y, loss=my_loss, l2=1e-3, epochs=2, progress=False)
    assert [p.data for p in model.parameters()] == before


# ------------------------------------------------ figures: pyplot's, shown once
def test_a_plot_is_a_pyplot_figure_so_plt_show_shows_it():
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    figure = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], lr=[0.1, 0.1]).plot()
    try:
        assert figure.number in plt.get_fignums()
        assert plt.gcf() is figure  # what plt.show(), plt.savefig() and plt.title() act on
    finally:
        plt.close(figure)


def test_shown_as_a_cell_result_it_leaves_pyplot_so_it_is_not_shown_twice(monkeypatch):
    import IPython.display
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    figure = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], lr=[0.1, 0.1]).plot()
    figure._ipython_display_()
    assert figure.number not in plt.get_fignums()
    assert len(shown) == 1 and shown[0]["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_in_a_notebook_each_way_of_showing_a_plot_shows_it_once():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    setup = (
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom microgrid.nn.plots import loss_curve\n"
        "from microgrid.nn.train import History\nh = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], lr=[0.1, 0.1])"
    )
    ways = ["loss_curve(h)", "fig = loss_curve(h); plt.show()", "h.plot();", "fig = loss_curve(h)\nfig"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in [setup] + ways]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for way, cell in zip(ways, notebook.cells[1:]):
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, (way, cell.outputs)
