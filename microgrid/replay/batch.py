"""`BatchReplay`: one recorded sample's code run over N samples at once, on numpy arrays."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._arguments import ordered
from ..engine import Value, topological_order
from .codegen import generate
from .compiled import Replay, _load

_warned: list[bool] = []


def _numpy() -> Any:
    """numpy, or None: the `fast` extra is optional (and imported only for a batch)."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


class BatchReplay(Replay):
    """A recorded sample, replayed over many: ``step(*columns)``, one column of N numbers per data leaf.

    Returns the mean (or sum, ``reduction="sum"``) of fn's output over the samples, and adds
    the gradient of that to each input's ``.grad``.  With numpy each node is an array of N
    (the parameters broadcast); without it, or where a number leaves the floats, the samples
    run one by one (the scalar code: the engine's results and errors).

    >>> from microgrid import Value, compile
    >>> w, x = Value(2.0), Value(0.0)
    >>> step = compile(lambda w: w * x, [w], batch=[x], reduction="sum")
    >>> step([1.0, 2.0, 3.0]), w.grad
    (12.0, 6.0)
    """

    def __init__(
        self,
        fn: Callable[..., Value],
        inputs: list[Value],
        output: Value,
        check_every: int | None,
        reads: Sequence[Value],
        data: Sequence[Value],
        reduction: str,
    ):
        super().__init__(fn, inputs, output, check_every, reads, data)
        self.reduction, self.scalar_source, self._np = reduction, self.source, _numpy()
        order = topological_order(output)
        self._columns = [k for k, x in enumerate(data) if x in set(order)]  # the data leaves fn's output uses
        if self._np is None and not _warned:
            _warned.append(True)
            warnings.warn(
                "compile(batch=...): numpy is not installed, so a batch runs one sample at a time "
                "(pip install 'microgrid[fast]')",
                RuntimeWarning,
                stacklevel=3,
            )
        if self._np is not None and self.source is not None:
            used = [data[k] for k in self._columns]
            self.source, bindings, _ = generate(order, self._program, self._in_graph, used, np=self._np)
            self._batch_step = _load(self.source, {"np": self._np, **bindings})

    def __call__(self, *columns: Sequence[float]) -> float:  # type: ignore[override]
        if len(columns) != len(self.data):
            raise TypeError(f"batch replay: give one column per data leaf ({len(self.data)}), got {len(columns)}")
        columns = tuple(ordered(c, f"column {i}", "batch replay") for i, c in enumerate(columns))
        if len({len(c) for c in columns}) > 1 or (columns and not columns[0]):
            raise ValueError(
                f"batch replay: the columns must be equally long and not empty, got {[len(c) for c in columns]}"
            )
        self._before_call()
        n = len(columns[0]) if columns else 1
        fixed = [x._data for x in self._in_graph]
        totals = self._arrays(fixed, columns, n) if hasattr(self, "_batch_step") else None
        if totals is None:  # sample by sample
            totals = [0.0] * (1 + len(fixed))
            for row in zip(*columns, strict=True) if columns else [()] * n:
                value, grads = self._run(fixed + [float(row[k]) for k in self._columns])
                totals = [a + b for a, b in zip(totals, (value, *grads), strict=True)]
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        for x, g in zip(self._in_graph, totals[1:], strict=True):
            x._grad += g * scale
        return totals[0] * scale

    def _arrays(self, fixed: list[float], columns: tuple, n: int) -> list[float] | None:
        """The sums over the batch of the value and the gradients, computed on arrays;
        None if a number leaves the floats (the samples then run one by one)."""
        np = self._np
        with np.errstate(all="ignore"):
            value, grads, numbers = self._batch_step(
                *fixed, *(np.asarray(columns[i], dtype=float) for i in self._columns)
            )
            if not np.isfinite(sum(numbers) + sum(grads)).all():  # inf or nan where any number is
                return None
        # A node no sample changes is a number: its share of the total is n times it.
        return [float(x.sum()) if type(x) is np.ndarray else x * n for x in (value, *grads)]
