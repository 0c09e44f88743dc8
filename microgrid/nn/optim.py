"""Optimisers with PyTorch's update formulas, `SGD` (with momentum) and `Adam`, each step all or nothing."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._arguments import real
from ..engine import Value

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """The parameters, `zero_grad`, the learning rate ``lr`` (required; settable between steps) and the update."""

    def __init__(self, params: Iterable[Value], lr: float | None = None):
        where = type(self).__name__
        if callable(getattr(params, "parameters", None)):  # a model: its parameters were meant
            raise TypeError(
                f"{where}: got the model {type(params).__name__} itself; pass its parameters: "
                f"{where}(model.parameters(), lr=...)"
            )
        if not hasattr(params, "__iter__"):
            if callable(params):  # model.parameters, not called
                name = getattr(params, "__name__", type(params).__name__)
                fix = f"got the method {name} itself, not its result; call it: {where}(model.{name}(), lr=...)"
            else:
                fix = f"params must be a list of Values (model.parameters()), got {type(params).__name__}: {params!r}"
            raise TypeError(f"{where}: {fix}")
        params = list(params)
        if not params:
            raise ValueError(f"{where}: got an empty parameter list")
        seen: dict[int, int] = {}
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(f"{where}: params[{i}] must be a Value, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{where}: params[{i}] is params[{seen[id(p)]}] again (it would be stepped twice)")
            seen[id(p)] = i
        self.params = params
        if lr is None:  # a default would hide the one choice that matters most
            raise TypeError(f"{where}: lr (the learning rate) is required; e.g. {where}(model.parameters(), lr=0.1)")
        self.lr = lr

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, lr: float) -> None:
        self._lr = real(lr, "lr", type(self).__name__, minimum=0.0)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def _apply(self, new_data: list[float], states: tuple[tuple[str, list[float]], ...] = ()) -> None:
        """Write the new values if they and the step's `states` are finite, else FloatingPointError naming one."""
        for what, values in (*states, ("", new_data)):
            for i, (p, x) in enumerate(zip(self.params, values, strict=True)):
                if not math.isfinite(x):
                    name = (p.label or f"params[{i}]") + (f"'s {what}" if what else "")
                    raise FloatingPointError(
                        f"{type(self).__name__}.step: {name} would become {x!r} (data {p.data!r}, grad {p.grad!r}); "
                        "the run diverged: lower the learning rate"
                    )
        for p, x in zip(self.params, new_data, strict=True):
            p.data = x

    def step(self) -> None:
        """One update of every parameter from its current ``.grad``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent as ``torch.optim.SGD``: ``b = g``, then ``b = momentum * b + g``; ``p -= lr * b``.

    >>> w = Value(1.0); opt = SGD([w], lr=0.5, momentum=0.9)
    >>> w.grad = 1.0; opt.step(); w.data   # b = 1
    0.5
    >>> opt.step(); round(w.data, 12)       # b = 0.9 + 1
    -0.45
    """

    def __init__(self, params: Iterable[Value], lr: float | None = None, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = real(momentum, "momentum", "SGD", minimum=0.0)
        self._buffers: list[float] | None = None

    def step(self) -> None:
        updates = [p.grad for p in self.params]
        if self.momentum != 0.0 and self._buffers is not None:
            updates = [self.momentum * b + g for b, g in zip(self._buffers, updates, strict=True)]
        self._apply([p.data - self.lr * u for p, u in zip(self.params, updates, strict=True)])
        if self.momentum != 0.0:
            self._buffers = updates


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam``, its moments corrected for their bias.

    >>> w = Value(1.0); opt = Adam([w], lr=0.1)
    >>> w.grad = 3.0; opt.step(); round(w.data, 6)   # the first step moves by lr
    0.9
    """

    def __init__(
        self, params: Iterable[Value], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}") from None
        for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
            if not real(beta, name, "Adam", minimum=0.0) < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta!r}")
        self.betas = (float(beta1), float(beta2))
        self.eps = real(eps, "eps", "Adam", minimum=0.0)
        self.t = 0
        self._m, self._v = [0.0] * len(self.params), [0.0] * len(self.params)

    def step(self) -> None:
        beta1, beta2 = self.betas
        t = self.t + 1
        grads = [p.grad for p in self.params]
        m = [beta1 * mi + (1.0 - beta1) * g for mi, g in zip(self._m, grads, strict=True)]
        v = [beta2 * vi + (1.0 - beta2) * g * g for vi, g in zip(self._v, grads, strict=True)]
        step_size, root_correction = self.lr / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t)
        new = []
        for p, mi, vi in zip(self.params, m, v, strict=True):
            denominator = math.sqrt(vi) / root_correction + self.eps  # 0 only if eps = 0 and m = v = 0: no move
            new.append(p.data - step_size * mi / denominator if denominator else p.data)
        self._apply(new, (("first moment", m), ("second moment", v)))  # g * g overflows long before g does
        self.t, self._m, self._v = t, m, v
