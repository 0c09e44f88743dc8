"""`Module`: what every network part has, its parameters by name and their values.

>>> from microgrid.nn import Neuron
>>> [name for name, _ in Neuron(2, seed=0).named_parameters()]
['w^(1)_0,0', 'w^(1)_0,1', 'b^(1)_0']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._arguments import real
from ..engine import Value
from .files import mismatch, read_model, read_weights, write_model

__all__ = ["Module"]


class Module:
    """A network part: define `named_parameters()` (a part's names prefixed), and the rest follows.

    >>> from microgrid.nn import MLP
    >>> class TwoHeads(Module):
    ...     def __init__(self):
    ...         self.left, self.right = MLP(2, [1], seed=0), MLP(2, [1], seed=1)
    ...     def named_parameters(self):
    ...         for part in ("left", "right"):
    ...             for name, p in getattr(self, part).named_parameters():
    ...                 yield f"{part}.{name}", p
    >>> list(TwoHeads().state_dict())[:2]
    ['left.w^(1)_0,0', 'left.w^(1)_0,1']
    """

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(name, Value) of each parameter; the name is its place (a textbook label), whatever its `.label`."""
        return iter(())

    def parameters(self) -> list[Value]:
        """The parameter Values, in micrograd's order (each neuron's weights, then its bias)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0

    def _named(self, where: str) -> dict[str, Value]:
        """{name: Value} of every parameter, each once under one name (or saving would lose or mix up values)."""
        kind = type(self).__name__
        named = list(self.named_parameters())
        params = list(self.parameters())  # a user's parameters() may be a generator
        if not named and params:
            raise NotImplementedError(
                f"{where}: {kind} defines parameters() ({len(params)} Values) but not named_parameters(), "
                "so they have no names to be saved or loaded under; define named_parameters() to yield "
                "(name, Value) pairs, e.g. from each part with a prefix: (f'part.{name}', p)"
            )
        result: dict[str, Value] = {}
        for name, p in named:
            if name in result:
                raise ValueError(
                    f"{where}: {kind}.named_parameters() gives the name {name!r} to two parameters "
                    f"({len(named)} parameters, {len({n for n, _ in named})} distinct names); "
                    "give each part's names a prefix, e.g. (f'part.{name}', p)"
                )
            result[name] = p
        if len(params) != len(named) or {id(p) for p in params} != {id(p) for p in result.values()}:
            raise ValueError(
                f"{where}: {kind}.named_parameters() ({len(named)} Values) and parameters() "
                f"({len(params)} Values) do not give the same parameters"
            )
        return result

    def state_dict(self) -> dict[str, float]:
        """{name: value} of every parameter, in parameter order.

        >>> from microgrid.nn import Neuron
        >>> Neuron(1, seed=0).state_dict()  # doctest: +ELLIPSIS
        {'w^(1)_0,0': 0.68..., 'b^(1)_0': 0.0}
        """
        return {name: p.data for name, p in self._named(f"{type(self).__name__}.state_dict").items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set the parameters from a `state_dict`, all or nothing: a bad name or value changes no parameter."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{where}: expected a dict, got {type(state).__name__}")
        params = self._named(where)
        if difference := mismatch(params, state):
            raise ValueError(
                f"{where}: the state does not match this model: expected {len(params)} parameters, "
                f"the state has {len(state)}{difference}"
            )
        for name, value in state.items():
            real(value, f"parameter {name!r}", where)
        for name, p in params.items():  # only now, when every value is known good
            p.data = state[name]

    # Saving is a model file's job (`microgrid.nn.files`).
    save = write_model
    load = classmethod(read_model)
    load_weights = read_weights
