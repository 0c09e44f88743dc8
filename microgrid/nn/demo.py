"""micrograd's demo (an MLP 2-16-16-1 on two moons, hinge loss, SGD), trained and saved: ``microgrid demo``.

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
from typing import Any, cast

from .._arguments import integer
from .._extras import require
from .._files import atomic_write
from ..engine import Value
from .data import make_moons
from .losses import l2_penalty
from .mlp import MLP
from .plots import decision_boundary, loss_curve
from .train import History, _sign_accuracy, fit

__all__ = ["DemoRun", "describe", "run", "train_moons", "training_accuracy"]

_PLOTS = ("loss_curve", "decision_boundary")
#: What `run` writes into its output folder.
_FILES = [f"{plot}.{suffix}" for plot in _PLOTS for suffix in ("png", "svg")] + ["model.json", "neuron_graph.svg"]


def train_moons(
    steps: int = 100, seed: int = 1337, progress: bool = True, compile: Callable | None = None
) -> tuple[MLP, list, list, History]:
    """Train the demo's model; returns ``(model, X, targets in -1/+1, history)``."""
    X, labels = make_moons(100, noise=0.1, seed=seed)
    y = [2 * t - 1 for t in labels]
    model = MLP(2, [16, 16, 1], activation="relu", seed=seed)
    rates = [1.0 - 0.9 * k / steps for k in range(steps)]
    if compile is not None:
        return model, X, y, _train_compiled(model, X, y, rates, compile)
    history = fit(model, X, y, loss="hinge", l2=1e-4, epochs=steps, schedule=lambda k: rates[k], progress=progress)
    return model, X, y, history


def _train_compiled(model: MLP, X: list, y: list, rates: list[float], compile: Callable) -> History:
    """`fit`'s loss and SGD steps, each one call of a compiled batch replay of one sample's loss."""
    x1, x2, target = Value(0.0), Value(0.0), Value(1.0)
    params = model.parameters()

    def sample_loss() -> Value:
        score = cast(Value, model([x1, x2]))  # one output neuron: a Value, not a list
        return (1 - target * score).relu() + l2_penalty(params, 1e-4)

    step = compile(sample_loss, params, batch=[x1, x2, target])
    columns = ([x[0] for x in X], [x[1] for x in X], y)
    history = History(lr=rates)
    for lr in history.lr:
        model.zero_grad()
        history.loss.append(step(*columns))
        for p in params:
            p.data -= lr * p.grad
    history.step_loss = list(history.loss)  # one step an epoch
    history.accuracy = [None] * (len(rates) - 1) + [training_accuracy(model, X, y)]
    return history


def training_accuracy(model: Any, X: list, y: list) -> float:
    """The fraction of samples whose score has the target's sign, after training."""
    return _sign_accuracy([model.predict(x) for x in X], y)


def _draw_neuron(model: MLP, X: list, path: str, draw: Callable | None) -> str | None:
    """Draw neuron a^(1)_0 after backward on a sample that activates it, with `draw`; None, or why not."""
    if draw is None:
        return "no drawing function was given (run(..., draw=microgrid.draw))"
    neuron = model.layers[0].neurons[0]
    x = next((x for x in X if neuron(x).data > 0.0), X[0])  # an active neuron: gradients flow
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
    what = f"MLP 2-16-16-1 on 100 moons points (seed {seed})"
    return f"microgrid demo: {what}, hinge + 1e-4 L2, SGD 1.0 -> 0.1, {steps} steps"


def run(
    steps: int = 100,
    seed: int = 1337,
    output: str = "demo-output",
    progress: bool = True,
    draw: Callable | None = None,
    compile: Callable | None = None,
) -> DemoRun:
    """Train, then save the plots, the model and a neuron's graph (drawn with `draw`) into `output`."""
    steps, seed = _checked(steps, seed)  # before the first file is written, not in make_moons
    Figure = require("matplotlib.figure", "plots", user="microgrid demo").Figure  # before training, not after
    started = time.perf_counter()
    model, X, y, history = train_moons(steps, seed, progress, compile)
    seconds = time.perf_counter() - started
    os.makedirs(output, exist_ok=True)
    paths = {name: os.path.join(output, name) for name in _FILES}
    figures = [Figure(figsize=(6.0, height), layout="constrained") for height in (4.0, 5.0)]  # not pyplot's: no display
    loss_curve(history, ax=figures[0].add_subplot())
    decision_boundary(model, X, y, ax=figures[1].add_subplot())
    for name, figure in zip(_PLOTS, figures, strict=True):
        for suffix in ("png", "svg"):
            image = io.BytesIO()
            figure.savefig(image, format=suffix, dpi=120)
            atomic_write(paths[f"{name}.{suffix}"], image.getvalue(), where="demo")  # as model.json: never half one
    model.save(paths["model.json"])
    problem = _draw_neuron(model, X, paths["neuron_graph.svg"], draw)
    skipped = {} if problem is None else {paths.pop("neuron_graph.svg"): problem}
    return DemoRun(history, training_accuracy(model, X, y), paths, skipped, seconds)
