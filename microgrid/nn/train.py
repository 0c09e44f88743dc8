"""`fit`: micrograd's training step (forward, loss, ``zero_grad``, ``backward``, ``step``) over epochs.

>>> from microgrid.nn import MLP
>>> from microgrid.nn.data import make_moons
>>> X, y = make_moons(20, noise=0.1, seed=0)
>>> history = fit(MLP(2, [8, 1], activation="relu", seed=0), X, [2 * t - 1 for t in y], epochs=5, progress=False)
>>> len(history.loss), history.loss[-1] < history.loss[0]
(5, True)
"""

from __future__ import annotations

import html
import io
import reprlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import Any

from .._arguments import integer, ordered, random_source, real, several
from ..engine import Value
from . import losses
from .mlp import Module
from .optim import SGD, Optimizer
from .plots import loss_curve

__all__ = ["DIVERGENCE_FACTOR", "LOSSES", "History", "fit"]

#: A loss this many times the first epoch's largest has diverged: `fit` stops there and says so.
DIVERGENCE_FACTOR = 1e6

Accuracy = Callable[[list[float], list[Any]], float]


def _share_above(score_at: float, target_at: float, scores: list[float], targets: list[Any]) -> float:
    """The share of samples whose score is above `score_at` exactly where their target is above `target_at`."""
    return sum((s > score_at) == (t > target_at) for s, t in zip(scores, targets, strict=True)) / len(scores)


_sign_accuracy = partial(_share_above, 0.0, 0.0)  # targets -1/+1, a positive score predicts +1

#: Built-in losses by name: the loss function and how to score accuracy (None: not a classifier).
LOSSES: dict[str, tuple[Callable[..., Value], Accuracy | None]] = {
    "hinge": (losses.hinge, _sign_accuracy),  # targets -1/+1, raw scores
    "bce_with_logits": (losses.binary_cross_entropy_with_logits, partial(_share_above, 0.0, 0.5)),  # targets 0/1
    "bce": (losses.binary_cross_entropy, partial(_share_above, 0.5, 0.5)),  # targets 0/1, sigmoid outputs
    "mse": (losses.mse, None),
}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@dataclass
class History:
    """Per epoch, before its updates: the mean loss, the accuracy (None: not a classifier), the last rate."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        if not self.loss:
            return "History(0 epochs)"
        acc = self.accuracy[-1]
        shown = f", accuracy {acc:.1%}" if acc is not None else ""
        return f"History({_plural(len(self.loss), 'epoch')}, final loss {self.loss[-1]:.6g}{shown})"

    def _rows(self, rows: int) -> list[tuple[str, ...]]:
        """The header, then about `rows` evenly spaced epochs, always the first and the last, as text cells."""
        n = len(self.loss)
        k = max(1, min(rows, n))
        picked = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)}) if n else []
        accuracy = ["-" if a is None else f"{a:.1%}" for a in self.accuracy]
        cells = [(str(i + 1), f"{self.loss[i]:.6g}", accuracy[i], f"{self.lr[i]:.4g}") for i in picked]
        return [("epoch", "loss", "accuracy", "lr"), *cells]

    def table(self, rows: int = 10) -> str:
        """A text table of about `rows` epochs: epoch, loss, accuracy, learning rate.

        >>> print(History(loss=[1.0, 0.25], accuracy=[0.5, 1.0], lr=[0.1, 0.05]).table())
        epoch  loss  accuracy    lr
            1     1     50.0%   0.1
            2  0.25    100.0%  0.05
        """
        cells = self._rows(rows)
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells)

    def __str__(self) -> str:
        return f"{self!r}\n{self.table()}" if self.loss else repr(self)

    def plot(self, ax: Any = None) -> Any:
        """The loss (and accuracy) per epoch as a matplotlib Figure (see `microgrid.nn.plots.loss_curve`)."""
        return loss_curve(self, ax=ax)

    def _repr_html_(self) -> str:
        head, *body = self._rows(10)
        rows = ["".join(f"<th>{c}</th>" for c in head)] + ["".join(f"<td>{c}</td>" for c in row) for row in body]
        return f"<p>{html.escape(repr(self))}</p><table>{''.join(f'<tr>{row}</tr>' for row in rows)}</table>"


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    *,
    loss: str | Callable[..., Value] = "hinge",
    epochs: int = 100,
    lr: float | None = None,
    optimizer: Optimizer | None = None,
    schedule: Callable[[int], float] | None = None,
    l2: float = 0.0,
    batch_size: int | None = None,
    seed: int | None = None,
    accuracy: Accuracy | None = None,
    progress: bool = True,
) -> History:
    """Train `model` on samples `X` with targets `y` (one per sample, or a row of one per output); the `History`.

    `loss`: a name in `LOSSES` or ``loss(scores, targets) -> Value``; an error keeps the epochs done as ``.history``.
    """
    X, y = ordered(X, "X", "fit", of=" of samples"), ordered(y, "y", "fit", of=" of targets")
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} samples but {len(y)} targets")
    if not X:
        raise ValueError("fit: no samples")
    epochs = integer(epochs, "epochs", "fit", minimum=0)
    size = len(X) if batch_size is None else integer(batch_size, "batch_size", "fit", minimum=1)
    l2 = real(l2, "l2", "fit", minimum=0.0)
    seed = None if seed is None else integer(seed, "seed", "fit")  # checked even where nothing is shuffled
    shuffler = None if batch_size is None else random_source(seed, "fit")  # a full batch leaves random alone
    if isinstance(loss, str):
        if loss not in LOSSES:
            known = ", ".join(map(repr, LOSSES))
            raise ValueError(f"fit: unknown loss {loss!r}; valid losses are {known}, or a function")
        loss_fn, default_accuracy = LOSSES[loss]
        y = [list(t) if several(t) else [t] for t in y]
        for i, row in enumerate(y):
            if len(row) != len(y[0]):
                raise ValueError(
                    f"fit: y[{i}] has {_plural(len(row), 'target')} but y[0] has {len(y[0])}; "
                    "each sample needs one target per output of the model"
                )
    elif callable(loss):
        loss_fn, default_accuracy = loss, None
    else:
        raise TypeError(f"fit: loss must be a name or a function, got {type(loss).__name__}")
    for name, function in (("schedule", schedule), ("accuracy", accuracy)):
        if function is not None and not callable(function):
            raise TypeError(f"fit: {name} must be a function or None, got {type(function).__name__}: {function!r}")
    accuracy = accuracy or default_accuracy
    params = model.parameters()
    optimizer = _optimizer(optimizer, lr, params)
    run = _Training(model, X, y, loss_fn, isinstance(loss, str), optimizer, schedule, l2, params, accuracy)
    bar = None
    if progress:  # imported only to be shown: fit runs where tqdm is not installed
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch", file=notebook_line())  # file None: stderr
    history = History()
    order = list(range(len(X)))
    batches = range(0, len(order), size)
    try:
        for epoch in range(epochs):
            run.epoch = epoch
            if shuffler is not None:
                shuffler.shuffle(order)
            scores: list[Any] = []
            targets: list[Any] = []
            for start in batches:
                history.step_loss.append(run._step(order[start : start + size], scores, targets))
            history.loss.append(sum(history.step_loss[-len(batches) :]) / len(batches))
            history.accuracy.append(accuracy(scores, targets) if accuracy else None)
            history.lr.append(optimizer.lr)
            if bar is not None:
                acc = history.accuracy[-1]
                shown = f"loss={history.loss[-1]:.4f}" + ("" if acc is None else f", acc={acc:.0%}")
                bar.set_postfix_str(shown, refresh=False)
                bar.update(1)
    except BaseException as error:  # Ctrl-C too: keep what was learnt; an overflow is most often the rate's doing
        hinted = run._hinted(error) if isinstance(error, ArithmeticError) else error
        hinted.history = history  # type: ignore[attr-defined]
        if hinted is error:
            raise
        raise hinted from error
    finally:
        if bar is not None:
            bar.close()
    return history


class OutputLine(io.TextIOBase):
    """tqdm's ``file=`` in Jupyter: its last line as one output updated in place, where stderr keeps every one."""

    encoding = "utf-8"  # tqdm draws its Unicode blocks only for a file that says so
    _handle: Any = None  # the display, from the first write on

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        line = text.rsplit("\r", 1)[-1].rstrip()  # the latest refresh, without tqdm's padding
        if line and self._handle is None:
            from IPython.display import display

            self._handle = display({"text/plain": line}, raw=True, display_id=True)
        elif line:
            self._handle.update({"text/plain": line}, raw=True)
        return len(text)


def notebook_line() -> OutputLine | None:
    """An `OutputLine` when running in a Jupyter kernel, else None (tqdm then writes to stderr)."""
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel has loaded it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return None if getattr(shell, "kernel", None) is None else OutputLine()  # a terminal IPython has no kernel


@dataclass
class _Training:
    """What each step uses, checked by `fit`, and where training is, for an error's message."""

    model: Module
    X: list[Any]
    y: list[Any]
    loss: Callable[..., Value]
    flat: bool  # a built-in loss: it takes the batch's outputs and targets as one flat list each
    optimizer: Any
    schedule: Callable[[int], float] | None
    l2: float
    params: list[Value]
    accuracy: Accuracy | None
    step: int = 0  # optimiser steps done
    epoch: int = 0
    updating: bool = False  # inside optimizer.step(): an overflow there is the rate's doing
    scale: float = 0.0  # the largest loss (in size) of the first epoch, which a diverged loss outgrows

    def _step(self, batch: list[int], scores: list[Any], targets: list[Any]) -> float:
        """One step on the samples `batch` (its graph freed on return); its loss, its scores added to `scores`."""
        outputs, wanted = [self.model(self.X[i]) for i in batch], [self.y[i] for i in batch]  # type: ignore[operator]
        if self.flat:  # each sample's outputs and targets as many, else they would pair across samples
            outputs = [out if isinstance(out, list) else [out] for out in outputs]
            for i, out, row in zip(batch, outputs, wanted, strict=True):
                if len(out) != len(row):
                    hint = "; for one output, give one number per sample (y.ravel())" if len(out) == 1 else ""
                    raise ValueError(
                        f"fit: sample {i} has {_plural(len(row), 'target')} but the model gives "
                        f"{_plural(len(out), 'output')}{hint}"
                    )
            outputs, wanted = list(chain(*outputs)), list(chain(*wanted))
        total = self.loss(outputs, wanted)
        if not isinstance(total, Value):
            name = getattr(self.loss, "__qualname__", None) or repr(self.loss)
            hint = " (it took .data or float() of a Value?)" if isinstance(total, (int, float)) else ""
            raise TypeError(
                f"fit: the loss function {name} returned {type(total).__name__} {reprlib.repr(total)}, not a Value"
                f"{hint}; compute it with Value operations (or microgrid.nn.losses) for backward() to reach the model"
            )
        if self.l2:
            total = total + losses.l2_penalty(self.params, self.l2)
        loss = total.data
        if self.epoch == 0:  # checked before the update: a diverged run is not pushed further
            self.scale = max(self.scale, abs(loss))
        elif abs(loss) > DIVERGENCE_FACTOR * max(self.scale, 1.0):
            scale = f"the first epoch's largest, {self.scale:.6g}"
            if self.scale < 1.0:
                scale = f"1 (the first epoch's largest loss was {self.scale:.6g})"
            raise FloatingPointError(f"the loss grew to {loss:.6g}, more than {DIVERGENCE_FACTOR:g} times {scale}")
        self.optimizer.zero_grad()
        total.backward()
        if self.schedule is not None:
            rate = f"the learning rate schedule({self.step})"
            self.optimizer.lr = real(self.schedule(self.step), rate, "fit", minimum=0.0)
        self.updating = True
        self.optimizer.step()
        self.updating = False
        self.step += 1
        if self.accuracy:
            scores += [s.data if isinstance(s, Value) else [v.data for v in s] for s in outputs]
            targets += [t.data if isinstance(t, Value) else t for t in wanted]
        return loss

    def _hinted(self, error: ArithmeticError) -> ArithmeticError:
        """The same kind of error, naming the step and the rate, and what to try (the data, before any update)."""
        lr = self.optimizer.lr
        if self.step == 0 and not self.updating:
            hint = f"fit: the first step failed, before any update: {error}; check the scale of the inputs and targets"
        else:
            smaller = f", e.g. lr={lr / 10:g}" if isinstance(lr, float) else ""
            hint = (
                f"fit: the run diverged after {_plural(self.step, 'step')} (in epoch {self.epoch + 1}) with "
                f"lr={lr!r}: {error}; try a smaller learning rate{smaller}"
            )
        try:
            return type(error)(hint)
        except Exception:  # a class of the user's that takes other arguments: leave it as it is
            return error


def _optimizer(optimizer: object, lr: float | None, params: list[Value]) -> Any:
    """``SGD(params, lr or 0.1)``, or `optimizer` if it works as fit uses it and trains some of the model."""
    if optimizer is None:
        return SGD(params, 0.1 if lr is None else lr)
    works = all(callable(getattr(optimizer, name, None)) for name in ("step", "zero_grad")) and hasattr(optimizer, "lr")
    if isinstance(optimizer, type) or not works:
        hint = "; leave it out to use SGD with lr=" if isinstance(optimizer, str) else ""
        if isinstance(optimizer, type):  # the class, not an optimizer
            hint = f"; make one: {optimizer.__name__}(model.parameters(), ...)"
        raise TypeError(
            "fit: optimizer must be an optimizer object (step(), zero_grad(), lr) such as Adam(model.parameters()), "
            f"got {type(optimizer).__name__}: {optimizer!r}{hint}"
        )
    held = {id(p) for p in getattr(optimizer, "params", params)}
    if not any(id(p) in held for p in params):
        raise ValueError("fit: the optimizer holds none of the model's parameters (was it made for another model?)")
    if lr is not None:  # two learning rates: say so rather than silently use one
        raise ValueError(f"fit: lr={lr!r} and an optimizer were both given; set the rate on the optimizer")
    return optimizer
