"""A network's parts on the engine: `Module`, and `Neuron`, `Layer`, `MLP` labelled in the textbook notation."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from itertools import chain, pairwise
from numbers import Integral
from typing import Any

from .._arguments import integer, ordered, random_source, real, several
from ..engine import Value
from ..names import textbook
from ..ops import relu, sigmoid, tanh
from .files import mismatch, read_model, read_weights, saveable, write_model

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron"]


class Module:
    """A network part: define `named_parameters()` (a part's names prefixed), and the rest follows.

    >>> class Pair(Module):
    ...     def __init__(self):
    ...         self.left = MLP(2, [1], seed=0)
    ...     def named_parameters(self):
    ...         return ((f"left.{name}", p) for name, p in self.left.named_parameters())
    >>> list(Pair().state_dict())[:2]
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
                f"{where}: {kind} defines parameters() ({len(params)} Values) but not named_parameters(), so they "
                "have no names to save or load under; define it to yield pairs such as (f'part.{name}', p)"
            )
        result = dict(named)
        if len(result) != len(named):
            name = next(n for n, count in Counter(n for n, _ in named).items() if count > 1)
            raise ValueError(
                f"{where}: {kind}.named_parameters() gives the name {name!r} to two parameters ({len(named)} "
                f"parameters, {len(result)} distinct names); prefix each part's names, e.g. (f'part.{name}', p)"
            )
        if len(params) != len(named) or {id(p) for p in params} != {id(p) for p in result.values()}:
            raise ValueError(
                f"{where}: {kind}.named_parameters() ({len(named)} Values) and parameters() "
                f"({len(params)} Values) do not give the same parameters"
            )
        return result

    def state_dict(self) -> dict[str, float]:
        """{name: value} of every parameter, in parameter order.

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

    save, load, load_weights = write_model, classmethod(read_model), read_weights  # a model file's job: nn.files


Input = Value | int | float
Inputs = Sequence[Input] | Sequence[Sequence[Input]]


def _identity(x: Any) -> Any:
    return x


#: The activations by name; each takes Values (graph nodes) and floats (for `predict`).
ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"linear": _identity, "relu": relu, "tanh": tanh, "sigmoid": sigmoid}


def _check(key: str, value: Any, where: str) -> Any:
    """A shape argument checked as the constructor and a model file check it, made a plain value (JSON saves it)."""
    if key in ("activation", "output_activation"):
        if not isinstance(value, str) or value not in ACTIVATIONS:
            raise ValueError(f"{where}: unknown activation {value!r}; choose one of: {', '.join(ACTIVATIONS)}")
        return value
    if key == "nouts":
        listed = ordered(value, "nouts", where, of=" of layer sizes such as [16, 16, 1]")
        if not listed:
            raise ValueError(f"{where}: nouts must name at least one layer, got []")
        return [integer(n, "each layer size", where, minimum=1) for n in listed]
    if key == "layer":  # a number (1, 2, ...), or a letter naming it, as the seeds' "L" (its inputs are "L-1")
        if isinstance(value, str) and value.isascii() and value.isalpha():
            return value
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{where}: layer must be an int >= 1 or a name such as 'L', got {value!r}")
        return int(value)
    if key == "index":
        return integer(value, "index (neurons count from 0)", where, minimum=0)
    return integer(value, key, where, minimum=1)


def _make_rng(seed: int | None, rng: random.Random | None, where: str) -> random.Random:
    if seed is not None and rng is not None:
        raise ValueError(f"{where}: pass seed or rng, not both")
    if rng is None:
        return random_source(seed, where)
    if not isinstance(rng, random.Random):
        raise TypeError(f"{where}: rng must be a random.Random, got {type(rng).__name__}")
    return rng


def _as_list(x: object, expected: int, where: str) -> list[Any]:
    xs = ordered(x, "inputs", where, of=f" of {expected} numbers or Values")
    if len(xs) != expected:
        raise ValueError(f"{where}: expected {expected} inputs, got {len(xs)}")
    return xs


class _Shaped(Module):
    """What `Neuron`, `Layer` and `MLP` share: a shape that a file can rebuild, `predict` and the repr."""

    _CONFIG: tuple[str, ...] = ()  # the constructor arguments that rebuild the shape, as a file saves them
    nin: int

    def _config(self) -> dict[str, Any]:
        return {key: copy(getattr(self, key)) for key in self._CONFIG}

    @classmethod
    def _checked(cls, *shape: Any) -> list[Any]:
        return [_check(key, value, cls.__name__) for key, value in zip(cls._CONFIG, shape, strict=True)]

    @classmethod
    def _check_shape(cls, **shape: Any) -> int:
        """Check the shape arguments as the constructor does; the number of parameters they make."""
        checked = {key: _check(key, shape[key], cls.__name__) for key in cls._CONFIG}
        sizes = [checked["nin"], *checked.get("nouts", [checked.get("nout", 1)])]
        return sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))

    def predict(self, x: Inputs) -> float | list[Any]:
        """The forward pass on floats, no graph, much faster, on a sample or a batch (a list of samples).

        >>> model = MLP(2, [4, 1], seed=0)
        >>> model.predict([0.3, 0.7]) == model([0.3, 0.7]).data
        True
        """
        where = f"{type(self).__name__}.predict"
        xs = ordered(x, "inputs", where, of=f" of {self.nin} numbers or Values")
        batch = bool(xs) and several(xs[0])  # its first input is itself several values
        outs = []
        for i, sample in enumerate(xs if batch else [xs]):
            at = f"{where}: sample {i}" if batch else where
            inputs = _as_list(sample, self.nin, at)
            floats = [xk.data if isinstance(xk, Value) else real(xk, f"input {k}", at) for k, xk in enumerate(inputs)]
            out = self._predict(floats)
            outs.append(out[0] if len(out) == 1 else out)
        return outs if batch else outs[0]

    def _predict(self, xs: list[float]) -> list[float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        config = self._config()
        sizes = [repr(config.pop(key)) for key in ("nin", "nout", "nouts") if key in config]
        return f"{type(self).__name__}({', '.join(sizes + [f'{k}={v!r}' for k, v in config.items()])})"


@saveable
class Neuron(_Shaped):
    """One neuron, ``a^(l)_j = activation(w . x + b)`` on `nin` inputs, l its `layer` and j its `index`.

    >>> a = Neuron(2, activation="sigmoid", seed=1)([1.0, 2.0])
    >>> a.label, a.parents[0].label
    ('a^(1)_0', 'z^(1)_0')
    """

    _CONFIG = ("nin", "activation", "layer", "index")

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        layer: int | str = 1,
        index: int = 0,
    ):
        self.nin, self.activation, self.layer, self.index = self._checked(nin, activation, layer, index)
        source = _make_rng(seed, rng, "Neuron")
        at = (self.layer, self.index)  # l and j of the labels
        self.w = [Value(source.uniform(-1.0, 1.0), label=textbook("w", *at, k)) for k in range(self.nin)]
        self.b = Value(0.0, label=textbook("b", *at))
        self._act = ACTIVATIONS[activation]
        self._z_label, self._a_label = textbook("z", *at), textbook("a", *at)
        previous = self.layer - 1 if isinstance(self.layer, int) else f"{self.layer}-1"
        self._input_labels = [textbook("a", previous, k) for k in range(self.nin)]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for k, w in enumerate(self.w):
            yield textbook("w", self.layer, self.index, k), w
        yield textbook("b", self.layer, self.index), self.b

    def _inputs(self, x: object, where: str) -> list[Value]:
        """The inputs as Values: a number becomes a leaf labelled ``a^(l-1)_k``, as does an unlabelled Value."""
        xs = _as_list(x, self.nin, where)
        for k, xk in enumerate(xs):
            if type(xk) is not Value:
                xs[k] = Value(real(xk, f"input {k}", where), label=self._input_labels[k])
            elif not xk.label:
                xk.label = self._input_labels[k]
        return xs

    def __call__(self, x: Sequence[Input]) -> Value:
        return self._fire(self._inputs(x, "Neuron"))

    def _fire(self, xs: list[Value]) -> Value:
        """The forward pass on inputs already made Values (a Layer lifts them once for all its neurons)."""
        z = sum((w * x for w, x in zip(self.w[1:], xs[1:], strict=True)), self.w[0] * xs[0]) + self.b
        z._label = self._z_label  # the slot: the checked setter would be a measurable share of a training step
        if self._act is _identity:
            return z
        a: Value = self._act(z)
        a._label = self._a_label
        return a

    def _predict(self, xs: list[float]) -> list[float]:
        z = self.w[0].data * xs[0]
        for k in range(1, self.nin):
            z += self.w[k].data * xs[k]
        z += self.b.data
        if z - z != 0.0:  # inf or nan stays so to the end: one test sees an overflow anywhere on the way
            self._fire([Value(x) for x in xs])  # raises the engine's error, naming the operation that overflowed
            raise OverflowError(f"{self!r}: the weighted sum is {z!r}")  # not reached: _fire raised
        return [self._act(z)]


@saveable
class Layer(_Shaped):
    """`nout` neurons reading the same `nin` inputs: a Value when ``nout == 1`` (as micrograd), else a list.

    >>> [a.label for a in Layer(3, 2, activation="relu", seed=0, layer=2)([1, 2, 3])]
    ['a^(2)_0', 'a^(2)_1']
    """

    _CONFIG = ("nin", "nout", "activation", "layer")

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        layer: int | str = 1,
    ):
        self.nin, self.nout, self.activation, self.layer = self._checked(nin, nout, activation, layer)
        source = _make_rng(seed, rng, "Layer")
        self.neurons = [Neuron(self.nin, activation, rng=source, layer=self.layer, index=j) for j in range(self.nout)]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        return chain.from_iterable(n.named_parameters() for n in self.neurons)

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        xs = self.neurons[0]._inputs(x, "Layer")  # lift the inputs once, for every neuron
        outs = [n._fire(xs) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def _predict(self, xs: list[float]) -> list[float]:
        return [out for n in self.neurons for out in n._predict(xs)]


@saveable
class MLP(_Shaped):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has layers 2->16->16->1, the last `output_activation`.

    >>> model = MLP(2, [16, 16, 1], activation="relu", seed=1337)
    >>> len(model.parameters()), model([1.0, -0.5]).label
    (337, 'z^(3)_0')
    """

    _CONFIG = ("nin", "nouts", "activation", "output_activation")

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "linear",
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
    ):
        self.nin, self.nouts, self.activation, self.output_activation = self._checked(
            nin, nouts, activation, output_activation
        )
        source = _make_rng(seed, rng, "MLP")
        sizes = [self.nin, *self.nouts]
        activations = [activation] * (len(self.nouts) - 1) + [output_activation]
        self.layers = [Layer(sizes[i], sizes[i + 1], act, rng=source, layer=i + 1) for i, act in enumerate(activations)]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        return chain.from_iterable(layer.named_parameters() for layer in self.layers)

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        out: Value | list[Value] = _as_list(x, self.nin, "MLP")
        for layer in self.layers:
            out = layer(out if isinstance(out, list) else [out])
        return out

    def _predict(self, xs: list[float]) -> list[float]:
        for layer in self.layers:
            xs = layer._predict(xs)
        return xs

    def _repr_html_(self) -> str:
        head = "<tr><th>layer l</th><th>neurons</th><th>activation</th><th>parameters</th></tr>"
        cells = [(ly.layer, f"{ly.nin} &rarr; {ly.nout}", ly.activation, len(ly.parameters())) for ly in self.layers]
        rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
        caption = f"{repr(self).replace('<', '&lt;')}: {len(self.parameters())} parameters"
        return f"<table><caption>{caption}</caption>{head}{rows}</table>"
