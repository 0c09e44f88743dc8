"""`Module`: what every network part has, its parameters by name and their values.

A part defines `named_parameters()`; its parameters, `zero_grad`,
`state_dict` and `load_state_dict` follow, and `save`, `load` and
`load_weights` write and read model files (`microgrid.nn.files`).

    >>> from microgrid.nn import Neuron
    >>> n = Neuron(2, seed=0)
    >>> [name for name, _ in n.named_parameters()]
    ['w^(1)_0,0', 'w^(1)_0,1', 'b^(1)_0']
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from .._arguments import real
from ..engine import Value
from .files import few, read_model, read_weights, write_model

__all__ = ["Module"]


class Module:
    """What every network part has: its parameters, their gradients and their values.

    Subclasses define `named_parameters()` (a distinct name and the Value of
    each parameter, in micrograd's order); `parameters()`, `zero_grad()`,
    `state_dict()` and `load_state_dict()` follow from it.  A subclass of
    your own that combines parts names each part's parameters with a prefix:

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

    Only `Neuron`, `Layer` and `MLP` can be saved to a file (each knows the
    shape it was built with: `_CONFIG`, `_config()`, `_check_shape()`).
    """

    #: The constructor arguments that rebuild the same shape, as saved in a file.
    _CONFIG: tuple[str, ...] = ()

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(name, Value) for each parameter; the name is its textbook label
        from its position, whatever `.label` the user has since given it."""
        return iter(())

    def parameters(self) -> list[Value]:
        """The parameter Values, in micrograd's order (each neuron's weights, then its bias)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0

    # ------------------------------------------------------------ state
    def _named(self, where: str) -> dict[str, Value]:
        """{name: Value} of every parameter, checked: a state under these names
        must hold each parameter once, or it would lose or mix up values.

        NotImplementedError for a subclass that defines `parameters()` alone
        (micrograd's way: it has no names); ValueError where a name repeats
        (two parts yielding their own names unprefixed) or where
        `named_parameters()` and `parameters()` give different Values.
        """
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
        """{name: value} of every parameter, in parameter order (the names are
        the textbook labels for `Neuron`, `Layer` and `MLP`).

        >>> from microgrid.nn import Neuron
        >>> Neuron(1, seed=0).state_dict()  # doctest: +ELLIPSIS
        {'w^(1)_0,0': 0.68..., 'b^(1)_0': 0.0}
        """
        return {name: p.data for name, p in self._named(f"{type(self).__name__}.state_dict").items()}

    def load_state_dict(self, state: dict) -> None:
        """Set the parameters from a `state_dict`.  All or nothing: a missing or
        unexpected name, or a value that is not a finite real number, raises
        `ValueError` and changes no parameter."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{where}: expected a dict, got {type(state).__name__}")
        params = self._named(where)
        missing = [n for n in params if n not in state]
        unexpected = [n for n in state if n not in params]
        if missing or unexpected:
            raise ValueError(
                f"{where}: the state does not match this model: expected {len(params)} parameters, "
                f"the state has {len(state)}"
                + (f"; missing {few(missing)}" if missing else "")
                + (f"; unexpected {few(unexpected)}" if unexpected else "")
            )
        for name, value in state.items():
            real(value, f"parameter {name!r}", where)
        for name, p in params.items():  # only now, when every value is known good
            p.data = state[name]

    # ------------------------------------------------------ save and load
    def _config(self) -> dict:
        """The constructor arguments that rebuild this shape (`_CONFIG`'s attributes)."""
        return {key: _copied(getattr(self, key)) for key in self._CONFIG}

    @staticmethod
    def _check_shape(**config: Any) -> int:
        """Check the shape arguments as the constructor does; the number of parameters they make."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Write the model's shape and parameters to `path` as JSON (format version 1).

        Floats are written so that `load` gives back exactly the same bits.
        The file is replaced atomically (`microgrid._files.atomic_write`): a
        failed save leaves the old file as it was; the old file's mode and
        owner are kept; a symlink is written through (the link stays); a
        directory, device or FIFO at `path` is refused.  Only a `Neuron`, `Layer` or `MLP` can be saved
        (`load` rebuilds one of those); for a class of your own, save
        ``state_dict()`` (e.g. with `json.dump`) and restore it with
        `load_state_dict`.
        """
        write_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Module":
        """A new model read from a file written by `save`.

        Only data is read (JSON, never pickle): loading runs no code.
        ``MLP.load(path)`` insists the file holds an MLP; ``Module.load``
        accepts any of `Neuron`, `Layer`, `MLP`.  A malformed, truncated or
        mismatched file raises `ModelFileError` naming the problem.
        """
        return read_model(cls, path)

    def load_weights(self, path: str | os.PathLike) -> None:
        """Set this model's parameters from a file written by `save`.

        The file must hold a model of the same class and shape; otherwise
        `ModelFileError` is raised and this model is left exactly as it was.
        """
        read_weights(self, path)


def _copied(value: object) -> object:
    return list(value) if isinstance(value, list) else value  # the caller may not change the model's list
