"""micrograd's demo, trained and saved: the work of ``microgrid demo``.

An MLP 2-16-16-1 (ReLU hidden layers, a linear output score) on 100 moons
points with noise 0.1; the hinge loss plus a 1e-4 L2 penalty; SGD over the
whole set, its learning rate going from 1.0 to 0.1 over the steps
(``1.0 - 0.9 k / steps``, as micrograd).  `run` writes, into the output
folder, ``decision_boundary.png/.svg``, ``loss_curve.png/.svg``, the trained
model ``model.json`` and ``neuron_graph.svg``: the graph of neuron 0 of
layer 1 on the first sample, after backward, with its textbook labels,
drawn by the `draw` it is given (the command line gives `microgrid.draw`:
networks do not import the drawing wing).  Given a `compile`
(`microgrid.compile`, which the command line gives unless ``--eager``), it
trains with one compiled step over the whole batch at once, else with the
eager engine (`fit`).  It returns what it did; the command line prints it.

    >>> model, X, y, history = train_moons(steps=3, progress=False)
    >>> len(history)
    3
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._arguments import integer
from .._extras import require
from .._files import atomic_write
from ..engine import Value
from .data import make_moons
from .losses import l2_penalty
from .mlp import MLP
from .train import History, _sign_accuracy, fit

__all__ = ["DemoRun", "describe", "run", "train_moons", "training_accuracy"]


def train_moons(
    steps: int = 100, seed: int = 1337, progress: bool = True, compile: Callable | None = None
) -> tuple[MLP, list, list, History]:
    """Train the demo's model; returns ``(model, X, targets in -1/+1, history)``."""
    X, labels = make_moons(100, noise=0.1, seed=seed)
    y = [2 * t - 1 for t in labels]
    model = MLP(2, [16, 16, 1], activation="relu", seed=seed)
    if compile is not None:
        return model, X, y, _train_compiled(model, X, y, steps, compile)
    history = fit(
        model,
        X,
        y,
        loss="hinge",
        l2=1e-4,
        epochs=steps,
        lr=1.0,
        schedule=lambda k: 1.0 - 0.9 * k / steps,
        progress=progress,
    )
    return model, X, y, history


def _train_compiled(model: MLP, X: list, y: list, steps: int, compile: Callable) -> History:
    """The same loss and SGD steps as `fit`'s, each step one call of a compiled
    batch replay: the loss of one sample, run over all 100 at once."""
    x1, x2, target = Value(0.0), Value(0.0), Value(1.0)
    params = model.parameters()
    step = compile(
        lambda: (1 - target * model([x1, x2])).relu() + l2_penalty(params, 1e-4), params, batch=[x1, x2, target]
    )
    columns = ([x[0] for x in X], [x[1] for x in X], y)
    history = History()
    for k in range(steps):
        lr = 1.0 - 0.9 * k / steps
        model.zero_grad()
        loss = step(*columns)
        for p in params:
            p.data -= lr * p.grad
        history.loss.append(loss)
        history.step_loss.append(loss)
        history.lr.append(lr)
        history.accuracy.append(None)
    history.accuracy[-1:] = [training_accuracy(model, X, y)]
    return history


def training_accuracy(model: Any, X: list, y: list) -> float:
    """The fraction of samples whose score has the target's sign, after training."""
    return _sign_accuracy([model.predict(x) for x in X], y)


def _draw_neuron(model: MLP, X: list, path: str, draw: Callable | None) -> str | None:
    """Draw neuron a^(1)_0 on a sample that activates it, after backward, with
    ``draw(root, parameters=...)`` (`microgrid.draw`); None, or why not."""
    if draw is None:
        return "no drawing function was given (run(..., draw=microgrid.draw))"
    neuron = model.layers[0].neurons[0]
    x = next((x for x in X if neuron.predict(x) > 0.0), X[0])  # an active neuron: gradients flow
    neuron.zero_grad()  # show this pass's gradients, not training's last ones
    out = neuron(x)
    out.backward()
    try:
        draw(out, parameters=neuron.parameters()).save(path)
    except ImportError as error:  # drawing's own packages are missing: the plots still count
        return f"graph drawing is not available: {error}"
    except Exception as error:  # a missing renderer must not cost the user the plots already written
        return f"could not draw the neuron's graph: {error}"
    return None


@dataclass
class DemoRun:
    """What `run` did: the training's history and final accuracy, the files it wrote, those it skipped."""

    history: History
    accuracy: float
    written: dict[str, str]  # {file name: path}
    skipped: dict[str, str]  # {path: why not written}
    seconds: float = 0.0  # training time


def _checked(steps: object, seed: object) -> tuple[int, int]:
    return integer(steps, "steps", "demo", minimum=1), integer(seed, "seed", "demo")


def describe(steps: int = 100, seed: int = 1337) -> str:
    """One line saying what `run` trains.

    >>> describe(3, 1)
    'microgrid demo: MLP 2-16-16-1 on 100 moons points (seed 1), hinge + 1e-4 L2, SGD 1.0 -> 0.1, 3 steps'
    """
    steps, seed = _checked(steps, seed)
    what = "MLP 2-16-16-1 on 100 moons points"
    return f"microgrid demo: {what} (seed {seed}), hinge + 1e-4 L2, SGD 1.0 -> 0.1, {steps} steps"


def run(
    steps: int = 100,
    seed: int = 1337,
    output: str = "demo-output",
    progress: bool = True,
    draw: Callable | None = None,
    compile: Callable | None = None,
) -> DemoRun:
    """Train (with `compile`, as one compiled batch step), then save the plots, the
    model and a neuron's graph (drawn with `draw`) into `output`."""
    steps, seed = _checked(steps, seed)  # before the first file is written, not in make_moons
    Figure = require("matplotlib.figure", "plots", user="microgrid demo").Figure  # before training, not after

    from .plots import decision_boundary, loss_curve

    started = time.perf_counter()
    model, X, y, history = train_moons(steps, seed, progress, compile)
    seconds = time.perf_counter() - started
    accuracy = training_accuracy(model, X, y)
    os.makedirs(output, exist_ok=True)
    written: dict[str, str] = {}
    # Figures of their own, not pyplot's: the demo shows nothing and needs no display.
    loss_figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    boundary_figure = Figure(figsize=(6.0, 5.0), layout="constrained")
    loss_curve(history, ax=loss_figure.add_subplot())
    decision_boundary(model, X, y, ax=boundary_figure.add_subplot())
    for name, figure in (("loss_curve", loss_figure), ("decision_boundary", boundary_figure)):
        for suffix in ("png", "svg"):
            path = os.path.join(output, f"{name}.{suffix}")
            image = io.BytesIO()
            figure.savefig(image, format=suffix, dpi=120)
            atomic_write(path, image.getvalue(), where="demo")  # as model.json: never half an image
            written[f"{name}.{suffix}"] = path
    path = os.path.join(output, "model.json")
    model.save(path)
    written["model.json"] = path
    graph_path = os.path.join(output, "neuron_graph.svg")
    problem = _draw_neuron(model, X, graph_path, draw)
    if problem is None:
        written["neuron_graph.svg"] = graph_path
    return DemoRun(history, accuracy, written, {} if problem is None else {graph_path: problem}, seconds)
