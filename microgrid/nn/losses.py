"""Loss functions as the textbooks write them, from engine operations: each a `Value` to call ``backward()`` on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

from .._arguments import ordered, real
from ..engine import Value

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge", "l2_penalty", "mse"]

Scalar = Value | int | float
Scalars = Scalar | Sequence[Scalar]
Pairs = tuple[list[Value], list[Scalar]]


def _reduce(terms: Sequence[Value], reduction: str, where: str) -> Value:
    """The sum t0 + t1 + ... (no ``0 +`` node in front, as Python's `sum` would add), or its mean."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"{where}: reduction must be 'sum' or 'mean', got {reduction!r}")
    total = sum(terms[1:], terms[0])
    return total * (1.0 / len(terms)) if reduction == "mean" and len(terms) > 1 else total


def _pairs(pred: object, target: object, where: str, names: tuple[str, str], unit: bool = False) -> Pairs:
    """Predictions (as Values) and targets (each in [0, 1] if `unit`) as two checked lists of equal length."""

    def as_list(x: Any, what: str) -> list[Scalar]:
        if isinstance(x, Value):
            return [x]
        if isinstance(x, Real) or getattr(x, "ndim", None) == 0:  # one number (bools are refused by real)
            return [real(x if isinstance(x, Real) else x.item(), what, where)]
        items = ordered(x, what, where, of=" of numbers or Values, or one number or Value")
        return [item if isinstance(item, Value) else real(item, f"{what}[{i}]", where) for i, item in enumerate(items)]

    preds, targets = as_list(pred, names[0]), as_list(target, names[1])
    if len(preds) != len(targets):
        raise ValueError(f"{where}: {len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError(f"{where}: no predictions (empty list)")
    for i, y in enumerate(targets if unit else []):
        if not 0.0 <= _as_float(y) <= 1.0:
            raise ValueError(f"{where}: {names[1]}[{i}] = {_as_float(y)!r} must be in [0, 1]")
    return [a if isinstance(a, Value) else Value(a) for a in preds], targets


def _as_float(x: Scalar) -> float:
    return x.data if isinstance(x, Value) else float(x)


def mse(pred: Scalars, target: Scalars, reduction: str = "sum") -> Value:
    """Squared error, by default the seed's sum ``C0 = sum_j (a_j - y_j)^2`` (not PyTorch's mean).

    >>> mse([Value(1.0), Value(2.0)], [0.0, 0.0]).data
    5.0
    """
    preds, targets = _pairs(pred, target, "mse", ("pred", "target"))
    return _reduce([(a - y) ** 2 for a, y in zip(preds, targets, strict=True)], reduction, "mse")


def binary_cross_entropy(prob: Scalars, target: Scalars, reduction: str = "mean") -> Value:
    """``L = -y log(A) - (1 - y) log(1 - A)`` for a probability A and a target y in [0, 1], averaged (as PyTorch).

    >>> round(binary_cross_entropy(Value(0.9), 1).data, 6)  # -log 0.9
    0.105361
    """
    where = "binary_cross_entropy"
    probs, targets = _pairs(prob, target, where, ("prob", "target"), unit=True)
    terms = []
    for i, (a, y) in enumerate(zip(probs, targets, strict=True)):
        p, t = a.data, _as_float(y)
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{where}: prob[{i}] = {p!r} is not a probability in [0, 1] "
                "(for raw scores use binary_cross_entropy_with_logits)"
            )
        if p in (0.0, 1.0) and (t != p or isinstance(y, Value)):  # log(0) in a term the target does not cancel
            why = "the loss is infinite" if t != p else "the formula with a Value target takes log(0)"
            raise ValueError(
                f"{where}: prob[{i}] = {p!r} is exactly 0 or 1 and the target {t!r}: {why}; "
                "use binary_cross_entropy_with_logits on the raw score"
            )
        if isinstance(y, Value) or 0.0 < t < 1.0:
            terms.append(-y * a.log() - (1 - y) * (1 - a).log())
        else:  # the term that a target of 0 or 1 multiplies by 0 is left out
            terms.append(-a.log() if t == 1.0 else -(1 - a).log())
    return _reduce(terms, reduction, where)


def binary_cross_entropy_with_logits(z: Scalars, target: Scalars, reduction: str = "mean") -> Value:
    """The cross-entropy of ``A = sigmoid(z)`` from the score z, in PyTorch's stable form, finite for any z.

    >>> binary_cross_entropy_with_logits(Value(40.0), 1).data  # log(1 + e^-40), not 0
    4.248354255291589e-18
    """
    where = "binary_cross_entropy_with_logits"
    scores, targets = _pairs(z, target, where, ("z", "target"), unit=True)
    terms = []
    for s, y in zip(scores, targets, strict=True):
        linear, u = ((1 - y) * s, (-s).exp()) if s.data >= 0.0 else (-y * s, s.exp())  # u = e^-|z| <= 1: no overflow
        w = 1 + u
        # log(1 + u), accurate where u is tiny: u - (w - 1), what 1 + u rounds away, is log's first-order correction
        terms.append(linear + (w.log() + (u - (w - 1))))
    return _reduce(terms, reduction, where)


def hinge(scores: Scalars, targets: Scalars) -> Value:
    """micrograd's max-margin loss: the mean over samples of ``relu(1 - y s)``, targets y = -1 or +1.

    >>> hinge([Value(2.0), Value(0.5)], [1, 1]).data  # (0 + 0.5) / 2
    0.25
    """
    scores, targets = _pairs(scores, targets, "hinge", ("scores", "targets"))
    for i, y in enumerate(targets):
        if _as_float(y) not in (-1.0, 1.0):
            raise ValueError(f"hinge: targets[{i}] = {_as_float(y)!r} must be -1 or +1 (map 0/1 labels with 2*y - 1)")
    return _reduce([(1 - y * s).relu() for s, y in zip(scores, targets, strict=True)], "mean", "hinge")


def l2_penalty(parameters: Iterable[Value], alpha: float) -> Value:
    """``alpha * sum p^2`` over the parameters (micrograd's regularisation; weight decay).

    >>> l2_penalty([Value(1.0), Value(-2.0)], 1e-4).data
    0.0005
    """
    params = list(parameters)
    if not params:
        raise ValueError("l2_penalty: no parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty: parameters[{i}] must be a Value, got {type(p).__name__}")
    alpha = real(alpha, "alpha", "l2_penalty", minimum=0.0)
    return alpha * _reduce([p * p for p in params], "sum", "l2_penalty")
