"""Training loops: `fit` runs epochs with a progress bar and returns the `History`.

    >>> from microgrid.nn import MLP
    >>> from microgrid.nn.data import make_moons
    >>> X, y = make_moons(20, noise=0.1, seed=0)
    >>> model = MLP(2, [8, 1], activation="relu", seed=0)
    >>> history = fit(model, X, [2 * t - 1 for t in y], epochs=5, lr=0.1, progress=False)
    >>> len(history.loss), history.loss[-1] < history.loss[0]
    (5, True)

One step is what micrograd's demo does: forward every sample of the batch,
``loss(scores, targets)`` plus an optional L2 penalty, ``zero_grad``,
``backward``, set the learning rate from the schedule, ``optimizer.step()``.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import losses
from .._arguments import integer, ordered, random_source, real, several
from ..engine import Value
from .module import Module
from .optim import SGD, Optimizer

__all__ = ["fit", "History", "LOSSES", "DIVERGENCE_FACTOR"]

#: A loss this many times the scale of the first epoch's losses has diverged (see `fit`).
DIVERGENCE_FACTOR = 1e6


def _sign_accuracy(scores: list[float], targets: list) -> float:
    """Targets -1/+1, a positive score predicts +1."""
    return sum((s > 0.0) == (t > 0) for s, t in zip(scores, targets)) / len(scores)


def _threshold(at: float) -> Callable[[list[float], list], float]:
    def accuracy(scores: list[float], targets: list) -> float:
        return sum((s > at) == (t > 0.5) for s, t in zip(scores, targets)) / len(scores)

    return accuracy


#: Built-in losses by name: the loss function and how to score accuracy (None: not a classifier).
LOSSES: dict[str, tuple[Callable[..., Value], Callable | None]] = {
    "hinge": (losses.hinge, _sign_accuracy),  # targets -1/+1, raw scores
    "bce_with_logits": (losses.binary_cross_entropy_with_logits, _threshold(0.0)),  # targets 0/1, raw scores
    "bce": (losses.binary_cross_entropy, _threshold(0.5)),  # targets 0/1, probabilities (sigmoid output)
    "mse": (losses.mse, None),
}


@dataclass
class History:
    """What `fit` recorded, one entry per epoch: the mean loss over its batches,
    the training accuracy (None when the loss is not a classifier's) and the
    learning rate of the epoch's last step.  Loss and accuracy are those of
    the forward passes the steps were computed from, before their updates,
    as micrograd's demo reports them.  `step_loss` has the loss of every
    optimiser step (with mini-batches, several per epoch; with the whole
    set as one batch, the same as `loss`)."""

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
        epochs = f"{len(self.loss)} epoch" + ("s" if len(self.loss) != 1 else "")
        return f"History({epochs}, final loss {self.loss[-1]:.6g}{shown})"

    def _rows(self, rows: int) -> list[tuple[str, str, str, str]]:
        """About `rows` evenly spaced epochs, always the first and the last, as text cells."""
        n = len(self.loss)
        k = max(1, min(rows, n))
        picked = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)}) if n else []
        return [
            (
                str(i + 1),
                f"{self.loss[i]:.6g}",
                "-" if self.accuracy[i] is None else f"{self.accuracy[i]:.1%}",
                f"{self.lr[i]:.4g}",
            )
            for i in picked
        ]

    def table(self, rows: int = 10) -> str:
        """A text table of about `rows` epochs: epoch, loss, accuracy, learning rate.

        >>> print(History(loss=[1.0, 0.25], accuracy=[0.5, 1.0], lr=[0.1, 0.05]).table())
        epoch  loss  accuracy    lr
            1     1     50.0%   0.1
            2  0.25    100.0%  0.05
        """
        cells = [("epoch", "loss", "accuracy", "lr")] + self._rows(rows)
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)

    def __str__(self) -> str:
        return f"{self!r}\n{self.table()}" if self.loss else repr(self)

    def plot(self, ax=None):
        """The loss (and accuracy) per epoch as a matplotlib Figure (see `microgrid.nn.plots.loss_curve`)."""
        from .plots import loss_curve  # matplotlib only when asked for

        return loss_curve(self, ax=ax)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{h}</th>" for h in ("epoch", "loss", "accuracy", "lr"))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in self._rows(10))
        return f"<p>{html.escape(repr(self))}</p><table><tr>{head}</tr>{body}</table>"


def _progress_bar(total: int, enabled: bool):
    """tqdm's text bar: on stderr in a terminal, one output updated in place in Jupyter (not a warning box)."""
    if not enabled:
        return None
    from tqdm import tqdm

    from ._progress import notebook_line

    return tqdm(total=total, desc="training", unit="epoch", file=notebook_line())  # file=None: stderr


def _check_optimizer(optimizer: object, params: list[Value]) -> None:
    """TypeError unless `optimizer` works as fit uses it; ValueError if it would train none of the model."""
    works = all(callable(getattr(optimizer, name, None)) for name in ("step", "zero_grad")) and hasattr(optimizer, "lr")
    if isinstance(optimizer, type) or not works:
        hint = ""
        if isinstance(optimizer, type):  # the class, not an optimizer
            hint = f"; make one: {optimizer.__name__}(model.parameters(), ...)"
        elif isinstance(optimizer, str):
            hint = "; leave it out to use SGD with lr="
        raise TypeError(
            "fit: optimizer must be an optimizer object (with step(), zero_grad() and lr), such as "
            f"SGD(model.parameters(), lr=0.1) or Adam(model.parameters()), got {type(optimizer).__name__}: "
            f"{optimizer!r}{hint}"
        )
    held = {id(p) for p in getattr(optimizer, "params", params)}
    if not any(id(p) in held for p in params):
        raise ValueError("fit: the optimizer holds none of the model's parameters (was it made for another model?)")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _target_rows(y: list) -> list:
    """For a built-in loss: each sample's targets as a list where it has several (a row,
    e.g. of an (N, 1) or (N, k) array), else as given; every sample with as many."""
    rows = [list(t) if several(t) else t for t in y]
    counts = [len(t) if isinstance(t, list) else 1 for t in rows]
    for i, count in enumerate(counts):
        if count != counts[0]:
            raise ValueError(
                f"fit: y[{i}] has {_plural(count, 'target')} but y[0] has {counts[0]}; "
                "each sample needs one target per output of the model"
            )
    return rows


def _flat_outputs_and_targets(scores: list, targets: list, batch: list[int]) -> tuple[list, list]:
    """The batch's outputs and targets as two flat lists, for a built-in loss; each
    sample's outputs and targets must be as many, or they would pair across samples."""
    flat_scores: list = []
    flat_targets: list = []
    for i, outputs, wanted in zip(batch, scores, targets, strict=True):
        outputs = outputs if isinstance(outputs, list) else [outputs]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if len(outputs) != len(wanted):
            raise ValueError(
                f"fit: sample {i} has {_plural(len(wanted), 'target')} but the model gives "
                f"{_plural(len(outputs), 'output')}"
                + ("; for one output, give one number per sample (y.ravel())" if len(outputs) == 1 else "")
            )
        flat_scores += outputs
        flat_targets += wanted
    return flat_scores, flat_targets


def _refuse_loss_result(loss: object, result: object) -> None:
    """TypeError for a loss function that returned something other than a Value."""
    name = getattr(loss, "__qualname__", None) or repr(loss)
    hint = " (it took .data or float() of a Value?)" if isinstance(result, (int, float)) else ""
    raise TypeError(
        f"fit: the loss function {name} returned {type(result).__name__} {reprlib.repr(result)}, not a Value{hint}; "
        "compute it from the scores with Value operations (or microgrid.nn.losses) so that backward() reaches the model"
    )


def _with_divergence_hint(error: ArithmeticError, step: int, epoch: int, lr: object, updating: bool) -> ArithmeticError:
    """The same kind of error, its message naming the step and the learning rate and what to try.

    Before the first update the rate has done nothing yet: the data is to blame.
    """
    if step == 0 and not updating:
        hint = f"fit: the first step failed, before any update: {error}; check the scale of the inputs and targets"
    else:
        smaller = f", e.g. lr={lr / 10:g}" if isinstance(lr, float) else ""
        hint = (
            f"fit: the run diverged after {step} step{'s' if step != 1 else ''} (in epoch {epoch + 1}) "
            f"with lr={lr!r}: {error}; "
            f"try a smaller learning rate{smaller}"
        )
    try:
        return type(error)(hint)
    except Exception:  # a class of the user's that takes other arguments: leave it as it is
        return error


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence,
    *,
    loss: str | Callable[..., Value] = "hinge",
    epochs: int = 100,
    lr: float | None = None,
    optimizer: Optimizer | None = None,
    schedule: Callable[[int], float] | None = None,
    l2: float = 0.0,
    batch_size: int | None = None,
    seed: int | None = None,
    accuracy: Callable[[list[float], list], float] | None = None,
    progress: bool = True,
) -> History:
    """Train `model` on samples `X` with targets `y`; return the `History`.

    * `y`: one target per sample, or a row of them with one per output.  For a
      named loss a one-output model also takes rows of one, such as a NumPy
      array of shape (N, 1): the same run as with ``y.ravel()``.
    * `loss`: ``"hinge"`` (targets -1/+1, micrograd's demo), ``"bce_with_logits"``
      (targets 0/1, raw scores), ``"bce"`` (targets 0/1, sigmoid outputs),
      ``"mse"``, or a function ``loss(scores, targets) -> Value`` given the
      batch's model outputs and targets as they are (a named loss gets
      several outputs per sample as one flat list, each sample's outputs
      paired with as many targets).
    * `optimizer`: defaults to ``SGD(model.parameters(), lr)`` with `lr`
      0.1 unless given; with your own optimizer, set its rate there.
    * `schedule`: ``schedule(step) -> learning rate``, step counting updates
      from 0; micrograd's demo is ``lambda k: 1.0 - 0.9 * k / 100``.
    * `l2`: adds ``l2_penalty(model.parameters(), l2)`` to the loss.
    * `batch_size`: None for the whole set each step, else shuffled
      mini-batches, reproducible with `seed` (an int; None shuffles with a
      generator seeded by Python's global `random`, so ``random.seed(n)``
      makes it reproducible too, as for `MLP` and `make_moons`).
    * `accuracy`: ``accuracy(scores, targets) -> fraction``; the built-in
      classification losses have one.
    * `progress`: a tqdm bar showing loss and accuracy (on stderr; in
      Jupyter one output line updated in place).

    Every argument is checked before the first step, so a mistake costs no
    training.  If training stops on an error (a diverged run, a schedule
    giving no usable rate) or an interrupt, the exception carries the epochs
    done so far as ``error.history``.

    A diverged run is an error naming the step and suggesting a smaller
    rate, not a History ending in a loss of 1e271.  It is a `FloatingPointError`
    when, after the first epoch, a step's loss (with its L2 penalty) is more
    than `DIVERGENCE_FACTOR` (a million) times the largest loss of the first
    epoch, or than 1 if that was smaller, in size (a loss diving towards
    minus infinity counts too).  The first epoch, every sample seen once, sets
    the scale: one batch's loss says little of another's, and a first loss of
    0 would make any later loss infinitely larger.  Training that converges
    stays far below the bound, its losses falling.  An overflow
    (within the first epoch, or within one step) is reported the same way, as
    the engine's `OverflowError`.  The model is left as the last update
    before the report made it.
    """
    run = _checked_arguments(
        model, X, y, loss=loss, epochs=epochs, lr=lr, optimizer=optimizer, schedule=schedule,
        l2=l2, batch_size=batch_size, seed=seed, accuracy=accuracy,
    )
    return _train(model, run, _progress_bar(run.epochs, progress))


@dataclass
class _Run:
    """fit's arguments, checked: what the training loop reads."""

    X: list
    y: list
    loss: Any  # as given: a name or the user's function, for error messages
    loss_fn: Callable[..., Value]
    flatten: bool  # a named loss takes several outputs per sample as one flat list
    accuracy: Callable[[list[float], list], float] | None
    epochs: int
    optimizer: Any
    schedule: Callable[[int], float] | None
    l2: float
    params: list[Value]
    batch_size: int | None
    shuffler: Any  # a random.Random for mini-batches, None for the whole set


def _checked_arguments(
    model: Module, X: object, y: object, *, loss: object, epochs: object, lr: object, optimizer: object,
    schedule: object, l2: object, batch_size: object, seed: object, accuracy: object,
) -> _Run:
    """Every argument of `fit` checked, before the first step, so a mistake costs no training."""
    where = "fit"
    X, y = ordered(X, "X", where, of=" of samples"), ordered(y, "y", where, of=" of targets")
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} samples but {len(y)} targets")
    if not X:
        raise ValueError("fit: no samples")
    epochs = integer(epochs, "epochs", where, minimum=0)
    if batch_size is not None:
        batch_size = integer(batch_size, "batch_size", where, minimum=1)
    l2 = real(l2, "l2", where, minimum=0.0)
    if seed is not None:
        seed = integer(seed, "seed", where)  # checked even where nothing is shuffled
    # Only mini-batches shuffle: a full-batch run leaves the global random alone.
    shuffler = random_source(seed, where) if batch_size is not None else None
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"fit: unknown loss {loss!r}; valid losses are {', '.join(map(repr, LOSSES))}, or a function")
        loss_fn, default_accuracy = LOSSES[loss]
        y = _target_rows(y)
    elif callable(loss):
        loss_fn, default_accuracy = loss, None
    else:
        raise TypeError(f"fit: loss must be a name or a function, got {type(loss).__name__}")
    for name, function in (("schedule", schedule), ("accuracy", accuracy)):
        if function is not None and not callable(function):
            raise TypeError(f"fit: {name} must be a function or None, got {type(function).__name__}: {function!r}")
    params = model.parameters()
    if optimizer is None:
        optimizer = SGD(params, 0.1 if lr is None else lr)
    else:
        _check_optimizer(optimizer, params)
        if lr is not None:  # two learning rates: say so rather than silently use one
            raise ValueError(f"fit: lr={lr!r} and an optimizer were both given; set the rate on the optimizer")
    return _Run(
        X, y, loss, loss_fn, isinstance(loss, str), accuracy or default_accuracy,
        epochs, optimizer, schedule, l2, params, batch_size, shuffler,
    )


@dataclass
class _Position:
    """Where training is, for the message of an error that stops it."""

    step: int = 0  # optimiser steps done
    epoch: int = 0
    updating: bool = False  # inside optimizer.step(): an overflow there is the rate's doing
    scale: float = 0.0  # the largest loss (in size) of the first epoch, which a diverged loss outgrows


def _check_growth(loss: float, at: _Position) -> None:
    """FloatingPointError if `loss` has diverged from the first epoch's scale (the rule is in `fit`'s docstring)."""
    if at.epoch == 0:
        at.scale = max(at.scale, abs(loss))
        return
    if abs(loss) > DIVERGENCE_FACTOR * max(at.scale, 1.0):
        scale = f"the first epoch's largest, {at.scale:.6g}" if at.scale >= 1.0 else (
            f"1 (the first epoch's largest loss was {at.scale:.6g})"
        )
        raise FloatingPointError(f"the loss grew to {loss:.6g}, more than {DIVERGENCE_FACTOR:g} times {scale}")


def _train(model: Module, run: _Run, bar: Any) -> History:
    """The loop: each epoch, one optimiser step per batch; the History, also on an error (as ``error.history``)."""
    history = History()
    at = _Position()
    order = list(range(len(run.X)))
    size = run.batch_size or len(run.X)
    try:
        for epoch in range(run.epochs):
            at.epoch = epoch
            if run.shuffler is not None:
                run.shuffler.shuffle(order)
            batch_losses, scores, targets = [], [], []
            for start in range(0, len(order), size):
                loss, batch_scores, batch_targets = _step(model, run, order[start : start + size], at)
                batch_losses.append(loss)
                history.step_loss.append(loss)
                if run.accuracy:
                    scores += batch_scores
                    targets += batch_targets
            _end_epoch(history, run, bar, batch_losses, scores, targets)
    except ArithmeticError as error:  # an overflow: almost always a learning rate too large
        hinted = _with_divergence_hint(error, at.step, at.epoch, run.optimizer.lr, at.updating)
        hinted.history = history
        if hinted is error:
            raise
        raise hinted from error
    except BaseException as error:  # Ctrl-C or another failure: keep what was learnt about it
        error.history = history
        raise
    finally:
        if bar is not None:
            bar.close()
    return history


def _step(model: Module, run: _Run, batch: list[int], at: _Position) -> tuple[float, list, list]:
    """One optimiser step on the samples `batch`: its loss, and its scores (floats) and targets for accuracy.

    The step's graph is local: it goes when the step returns, not kept alive
    while the next one is built (which doubles the heap Python's collector walks).
    """
    scores, targets = [model(run.X[i]) for i in batch], [run.y[i] for i in batch]
    if run.flatten and (isinstance(targets[0], list) or any(isinstance(o, list) for o in scores)):
        # a row of outputs or of targets per sample: the built-in losses take one flat list
        scores, targets = _flat_outputs_and_targets(scores, targets, batch)
    total = run.loss_fn(scores, targets)
    if not isinstance(total, Value):
        _refuse_loss_result(run.loss, total)
    if run.l2:
        total = total + losses.l2_penalty(run.params, run.l2)
    _check_growth(total.data, at)  # before the update: a diverged run is not pushed further
    run.optimizer.zero_grad()
    total.backward()
    if run.schedule is not None:
        run.optimizer.lr = real(run.schedule(at.step), f"the learning rate schedule({at.step})", "fit", minimum=0.0)
    at.updating = True
    run.optimizer.step()
    at.updating = False
    at.step += 1
    if not run.accuracy:
        return total.data, [], []
    return total.data, [s.data if isinstance(s, Value) else [v.data for v in s] for s in scores], targets


def _end_epoch(history: History, run: _Run, bar: Any, batch_losses: list[float], scores: list, targets: list) -> None:
    """Record the epoch's mean loss, accuracy and rate, and show them on the bar."""
    epoch_loss = sum(batch_losses) / len(batch_losses)
    plain_targets = [t.data if isinstance(t, Value) else t for t in targets]
    epoch_accuracy = run.accuracy(scores, plain_targets) if run.accuracy else None
    history.loss.append(epoch_loss)
    history.accuracy.append(epoch_accuracy)
    history.lr.append(run.optimizer.lr)
    if bar is not None:
        shown = {"loss": f"{epoch_loss:.4f}"}
        if epoch_accuracy is not None:
            shown["acc"] = f"{epoch_accuracy:.0%}"
        bar.set_postfix(shown, refresh=False)
        bar.update(1)
