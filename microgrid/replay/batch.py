"""`BatchReplay`: one recorded sample's code run over N samples at once, on numpy arrays."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._arguments import ordered
from ..engine import Value
from ..graphs import topological_order
from .codegen import generate
from .compiled import _HUGE, _TINY, Replay, _load

_warned: list[bool] = []


def _numpy() -> Any:
    try:
        import numpy  # the optional `fast` extra, imported only for a batch
    except ImportError:
        return None
    return numpy


def _representable(np: Any, numbers: Sequence[Any], n: int) -> bool:
    """Every number 0 or in [_TINY, _HUGE], as `Replay._exact` asks of a scalar step (beyond, the engine's pass
    may differ: an underflow it refuses), checked in chunks of about 64k numbers, which stay in the cache."""
    arrays = [np.ravel(x) for x in numbers]
    per_chunk = max(1, 2**16 // n)
    for k in range(0, len(arrays), per_chunk):
        sizes = np.abs(np.concatenate(arrays[k : k + per_chunk]))
        if not sizes.max() <= _HUGE or ((sizes > 0.0) & (sizes < _TINY)).any():  # nan fails the first
            return False
    return True


class BatchReplay(Replay):
    """``step(*columns)``: the mean (or sum) of fn over N samples, one column of N numbers per data leaf.

    >>> from microgrid import Value, compile
    >>> w, x = Value(2.0), Value(0.0)
    >>> step = compile(lambda w: w * x, [w], batch=[x], reduction="sum")
    >>> step([1.0, 2.0, 3.0]), w.grad
    (12.0, 6.0)
    """

    def __init__(self, fn: Callable[..., Value], inputs: list[Value], output: Value, *rest: Any, reduction: str):
        super().__init__(fn, inputs, output, *rest)  # rest: check_every, reads, data
        self.reduction, self.scalar_source, self._np = reduction, self.source, _numpy()
        order = topological_order(output)
        in_graph = set(order)
        self._columns = [k for k, x in enumerate(self.data) if x in in_graph]  # the data leaves fn's output uses
        if self._np is None and not _warned:
            _warned.append(True)
            warnings.warn(
                "compile(batch=...): numpy is not installed, so a batch runs one sample at a time "
                "(pip install 'microgrid[fast]')",
                RuntimeWarning,
                stacklevel=3,
            )
        if self._np is not None and self.source is not None:
            used = [self.data[k] for k in self._columns]
            self.source, bindings, _ = generate(order, self._program, self._in_graph, used, np=self._np)
            self._batch_step = _load(self.source, {"np": self._np, **bindings})

    def __call__(self, *columns: Sequence[float]) -> float:
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
        totals = None
        if hasattr(self, "_batch_step"):
            np = self._np
            with np.errstate(all="ignore"):
                value, grads, numbers = self._batch_step(
                    *fixed, *(np.asarray(columns[k], float) for k in self._columns)
                )
                trusted = _representable(np, (*numbers, *grads), n)
            if trusted:
                # A node no sample changes is a number: its share of the total is n times it.
                totals = [float(x.sum()) if type(x) is np.ndarray else x * n for x in (value, *grads)]
        if totals is None:  # no numpy, or a number the check cannot vouch for: sample by sample, by the engine
            totals = [0.0] * (1 + len(fixed))
            for row in zip(*columns, strict=True) if columns else [()] * n:
                value, grads = self._run(fixed + [float(row[k]) for k in self._columns])
                totals = [a + b for a, b in zip(totals, (value, *grads), strict=True)]
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        for x, g in zip(self._in_graph, totals[1:], strict=True):
            x._grad += g * scale
        return totals[0] * scale
