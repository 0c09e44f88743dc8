"""Training plots with matplotlib, each drawn into `ax` or a new pyplot figure, which it returns.

>>> from microgrid.nn.train import History
>>> figure = loss_curve(History(loss=[1.0, 0.5, 0.25], accuracy=[0.5, 0.8, 1.0], lr=[0.1] * 3))
>>> figure.axes[0].get_xlabel()
'epoch'
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from functools import cache
from typing import Any

from .._arguments import integer, real
from .._extras import require

__all__ = ["decision_boundary", "loss_curve"]


@cache
def _inline_figure_class() -> type:
    """A pyplot `Figure` that Jupyter shows inline once: shown as a cell's result, it leaves pyplot first."""
    Figure: Any = require("matplotlib.figure", "plots", user="microgrid.nn.plots").Figure

    class InlineFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

        def _ipython_display_(self) -> None:
            from IPython.display import display

            sys.modules["matplotlib.pyplot"].close(self)  # made by pyplot (see below), which would show it again
            display({"image/png": self._repr_png_(), "text/plain": repr(self)}, raw=True)

    return InlineFigure


def _figure_and_axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    plt = require("matplotlib.pyplot", "plots", user="microgrid.nn.plots")  # plt.show() shows it, as users expect
    figure = plt.figure(figsize=size, layout="constrained", FigureClass=_inline_figure_class())
    return figure, figure.add_subplot()


def loss_curve(history: Any, ax: Any = None) -> Any:
    """Loss per epoch (log scale when it spans more than a factor of 100), with accuracy on a second axis."""
    figure, ax = _figure_and_axes(ax, (6.0, 4.0))
    epochs = range(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, color="tab:blue", label="loss")
    positive = [x for x in history.loss if x > 0]
    if positive and max(positive) > 100 * min(positive):
        ax.set_yscale("log")
    ax.set(xlabel="epoch", title="training")
    ax.set_ylabel("loss", color="tab:blue")
    accuracies = [a for a in history.accuracy if a is not None]
    if accuracies and len(accuracies) == len(history.loss):
        right = ax.twinx()
        right.plot(epochs, [100 * a for a in accuracies], color="tab:orange", label="accuracy")
        right.set_ylabel("training accuracy (%)", color="tab:orange")
        right.set_ylim(0, 105)
    return figure


def decision_boundary(
    model: Any, X: Sequence[Sequence[float]], y: Sequence, ax: Any = None, resolution: int = 80, threshold: float = 0.0
) -> Any:
    """A two-input, one-output model's output over the plane, split at `threshold`, with the samples on top."""
    resolution = integer(resolution, "resolution", "decision_boundary", minimum=2)  # the grid's two ends at least
    threshold = real(threshold, "threshold", "decision_boundary")
    if len(X) != len(y):
        raise ValueError(f"decision_boundary: {len(X)} samples but {len(y)} targets")
    first = model.predict(X[0])
    if not isinstance(first, float):
        raise ValueError(f"decision_boundary: the model must have one output, it has {len(first)}")
    figure, ax = _figure_and_axes(ax, (6.0, 5.0))
    (lo0, hi0, grid0), (lo1, hi1, grid1) = (_span([p[k] for p in X], resolution) for k in (0, 1))
    scores = [[model.predict([a, b]) for a in grid0] for b in grid1]
    ax.contourf(grid0, grid1, scores, levels=[-1e300, threshold, 1e300], colors=["#f4c7c3", "#c6dbef"], alpha=0.9)
    ax.contour(grid0, grid1, scores, levels=[threshold], colors="k", linewidths=1.0)
    for flag, colour, name in ((False, "tab:red", "class -"), (True, "tab:blue", "class +")):
        points = [p for p, t in zip(X, y, strict=True) if (t > 0) == flag]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.scatter(xs, ys, c=colour, edgecolors="k", linewidths=0.5, s=30, label=name)
    ax.set(xlim=(lo0, hi0), ylim=(lo1, hi1), title=f"decision boundary (output = {threshold:g})")
    ax.legend(loc="upper right", fontsize="small")
    return figure


def _span(xs: list[float], resolution: int) -> tuple[float, float, list[float]]:
    pad = 0.25 * (max(xs) - min(xs) or 1.0)
    low, high = min(xs) - pad, max(xs) + pad
    return low, high, [low + (high - low) * i / (resolution - 1) for i in range(resolution)]
