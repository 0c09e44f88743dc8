"""The four equations of backpropagation for an `MLP`: its loss built by `nn`, read by `symbolic`.

>>> from microgrid import MLP
>>> eqs = backprop_equations(MLP(2, [2, 1], activation="sigmoid", seed=0))
>>> eqs.verify() >= len(MLP(2, [2, 1]).parameters())
True
"""

from __future__ import annotations

import random

from .engine import Value
from .names import textbook
from .nn import MLP
from .nn.losses import binary_cross_entropy, binary_cross_entropy_with_logits, mse
from .symbolic.backprop import BackpropEquations, equations_of
from .symbolic.chainrule import Seconds

__all__ = ["MAX_PARAMETERS", "backprop_equations", "refuse_large"]

#: One instance per weight and bias, with work that grows faster than their number: past this, refused at once.
MAX_PARAMETERS = 2000


def refuse_large(count: int, network: str) -> None:
    """Refuse `network` if its `count` parameters are past `MAX_PARAMETERS` (before it is built, where it can be)."""
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"backprop_equations: {network} has {count} parameters, above {MAX_PARAMETERS}: its equations, one "
            "per weight and bias, would take minutes to write out; the same equations hold for a smaller network"
        )


def backprop_equations(model: MLP, loss: str = "mse", *, seed: int = 0, budget: Seconds = None) -> BackpropEquations:
    """The four equations for `model` and `loss` ("mse" or "bce") at a sample drawn with `seed`, in `budget` seconds."""
    if not isinstance(model, MLP):
        raise TypeError(f"backprop_equations: expected an MLP, got {type(model).__name__}")
    if loss not in ("mse", "bce"):
        raise ValueError(f"backprop_equations: loss must be 'mse' or 'bce', got {loss!r}")
    act = model.output_activation
    if loss == "bce" and act not in ("sigmoid", "linear"):
        raise ValueError(f"backprop_equations: loss 'bce' needs output_activation 'sigmoid' or 'linear', not {act!r}")
    refuse_large(len(model.parameters()), repr(model))
    rng = random.Random(seed)
    xs = [Value(rng.uniform(-1.0, 1.0), label=textbook("a", 0, k)) for k in range(model.nin)]
    outs = model(xs)
    outs = outs if isinstance(outs, list) else [outs]
    ys = [Value(rng.uniform(0.1, 0.9), label=f"y_{j}") for j in range(len(outs))]
    logits = loss == "bce" and act == "linear"  # C reads z^(L): say so
    bce = binary_cross_entropy_with_logits if logits else binary_cross_entropy
    C = mse(outs, ys) if loss == "mse" else bce(outs, ys, reduction="sum")
    C.label = "C"
    return equations_of(C, "bce-logits" if logits else loss, network=repr(model), budget=budget)
