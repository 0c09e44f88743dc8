"""`Neuron`, `Layer` and `MLP` on the engine, in the textbook notation.

Each parameter and each node a network computes carries the seeds'
(3Blue1Brown) label, so a drawing, a formula or a gradient reads like the
textbook: ``w^(l)_j,k`` (into neuron j of layer l from neuron k of layer
l-1), ``b^(l)_j``, the weighted sum ``z^(l)_j``, the activation ``a^(l)_j``;
the inputs are ``a^(0)_k``.  Layers count from 1, neurons from 0.  The
products ``w a`` and the partial sums stay unlabelled, so that a formula
shows them instead of a name.  A ``"linear"`` neuron has no activation node
(a = z): its output is ``z^(l)_j``.  A label the user gave is never
overwritten.

Initialisation follows micrograd (weights uniform in [-1, 1], biases 0),
reproducibly: ``seed=`` (an int), ``rng=`` (a `random.Random`), or neither,
to draw from Python's global `random`.  Inputs are an ordered sequence of
numbers or Values (a dict or a set is refused).

    >>> model = MLP(2, [3, 1], seed=0)
    >>> out = model([0.5, -1.0])
    >>> out.label, model.parameters()[0].label
    ('z^(2)_0', 'w^(1)_0,0')
    >>> len(model.parameters())
    13
"""

from __future__ import annotations

import random
from numbers import Integral
from typing import Any, Callable, Iterator, Sequence, Union

from .._arguments import integer, ordered, random_source, real, several
from ..engine import Value
from ..ops import relu, sigmoid, tanh
from ..names import textbook
from .files import saveable
from .module import Module

__all__ = ["Neuron", "Layer", "MLP", "ACTIVATIONS"]

Input = Union[Value, int, float]


def _identity(x):
    return x


#: The activations by name.  Each works on Values (building graph nodes) and on
#: plain floats (for `predict`), since the engine's functions accept both.
ACTIVATIONS: dict[str, Callable] = {
    "linear": _identity,
    "relu": relu,
    "tanh": tanh,
    "sigmoid": sigmoid,
}


def _check_activation(name: object, where: str) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{where}: unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}")
    return name


def _make_rng(seed: int | None, rng: random.Random | None, where: str) -> random.Random:
    """The random source for initialisation: a `Random` seeded with `seed`, or `rng` itself.

    With neither, a `Random` seeded from Python's global `random`, so that
    ``random.seed(1337)`` before building a model (micrograd's habit) makes it
    reproducible too.
    """
    if seed is not None and rng is not None:
        raise ValueError(f"{where}: pass seed or rng, not both")
    if rng is not None:
        if not isinstance(rng, random.Random):
            raise TypeError(f"{where}: rng must be a random.Random, got {type(rng).__name__}")
        return rng
    return random_source(seed, where)


def _check_layer(layer: object, where: str) -> None:
    """A layer number (1, 2, ...) or a letter naming it, as the seeds' "L" (its inputs are then "L-1")."""
    if isinstance(layer, str) and layer.isascii() and layer.isalpha():
        return
    if isinstance(layer, bool) or not isinstance(layer, Integral) or layer < 1:
        raise ValueError(
            f"{where}: layer must be an int >= 1 (layers count from 1) or a name such as 'L', got {layer!r}"
        )


def _layer_number(layer: int | str) -> int | str:
    return layer if isinstance(layer, str) else int(layer)


def _as_list(x: object, expected: int, where: str) -> list:
    """The inputs as a list of the expected length, or a clear error (a dict or a
    set is refused: its keys, or an arbitrary order, would be used silently)."""
    xs = ordered(x, "inputs", where, of=f" of {expected} numbers or Values")
    if len(xs) != expected:
        raise ValueError(f"{where}: expected {expected} inputs, got {len(xs)}")
    return xs


def _float_inputs(x: object, expected: int, where: str) -> list[float]:
    """The inputs of `predict` as floats: each a Value or a finite real number."""
    return [
        xk.data if isinstance(xk, Value) else real(xk, f"input {k}", where)
        for k, xk in enumerate(_as_list(x, expected, where))
    ]


def _predict_samples(x: object, expected: int, where: str, predict: Callable[[list[float]], Any]) -> Any:
    """`predict` of one sample's floats; for a batch (a sequence of samples, e.g. a
    2-D array), a list of `predict` of each, an error naming the sample it is in."""
    xs = ordered(x, "inputs", where, of=f" of {expected} numbers or Values")
    if xs and several(xs[0]):  # its first input is itself several values: a batch
        return [predict(_float_inputs(sample, expected, f"{where}: sample {i}")) for i, sample in enumerate(xs)]
    return predict(_float_inputs(xs, expected, where))


# ------------------------------------------------------------------ Neuron
@saveable
class Neuron(Module):
    """One neuron: ``a = activation(w . x + b)``.

    ``Neuron(nin, activation="tanh", *, seed=None, rng=None, layer=1, index=0)``:
    `layer` and `index` place it in the textbook notation (l and j); `layer`
    may also be a name, as the seeds' ``"L"``, whose inputs are ``a^(L-1)_k``.
    Calling it on `nin` inputs (numbers or Values) returns the activation
    Value ``a^(l)_j`` (or ``z^(l)_j`` for the ``"linear"`` activation, where
    a = z is one node).

    >>> n = Neuron(2, activation="sigmoid", seed=1)
    >>> a = n([1.0, 2.0])
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
        self._check_shape(nin, activation, layer, index)
        nin, index, layer = int(nin), int(index), _layer_number(layer)  # NumPy ints as ints: JSON saves them
        self.nin, self.activation, self.layer, self.index = nin, activation, layer, index
        source = _make_rng(seed, rng, "Neuron")
        self.w = [Value(source.uniform(-1.0, 1.0), label=textbook("w", layer, index, k)) for k in range(nin)]
        self.b = Value(0.0, label=textbook("b", layer, index))
        self._act = ACTIVATIONS[activation]
        self._z_label = textbook("z", layer, index)
        self._a_label = textbook("a", layer, index)
        previous = layer - 1 if isinstance(layer, int) else f"{layer}-1"
        self._input_labels = [textbook("a", previous, k) for k in range(nin)]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        layer, j = self.layer, self.index
        for k, w in enumerate(self.w):
            yield textbook("w", layer, j, k), w
        yield textbook("b", layer, j), self.b

    @staticmethod
    def _check_shape(nin: object, activation: object, layer: object, index: object) -> int:
        where = "Neuron"
        integer(nin, "nin", where, minimum=1)
        _check_activation(activation, where)
        _check_layer(layer, where)
        integer(index, "index (neurons count from 0)", where, minimum=0)
        return nin + 1

    def _inputs(self, x: Sequence[Input], where: str) -> list[Value]:
        """The inputs as Values: numbers become leaves labelled ``a^(l-1)_k``;
        an unlabelled Value gets that label, a labelled one keeps its own."""
        xs = _as_list(x, self.nin, where)
        for k, xk in enumerate(xs):
            if type(xk) is Value:
                if not xk.label:
                    xk.label = self._input_labels[k]
            else:
                try:
                    xs[k] = Value(xk, label=self._input_labels[k])
                except (TypeError, ValueError) as error:
                    raise type(error)(f"{where}: input {k}: {error}") from None
        return xs

    def __call__(self, x: Sequence[Input]) -> Value:
        return self._fire(self._inputs(x, "Neuron"))

    def _fire(self, xs: list[Value]) -> Value:
        """The forward pass on inputs already made Values (a Layer lifts them once for all its neurons)."""
        w = self.w
        z = w[0] * xs[0]
        for k in range(1, len(w)):
            z = z + w[k] * xs[k]
        z = z + self.b
        # The slot, not the checked setter: these labels are strs made with the
        # neuron, and a setter call per node is about 1% of a training step.
        z._label = self._z_label
        if self._act is _identity:
            return z
        a = self._act(z)
        a._label = self._a_label
        return a

    def predict(self, x: Sequence[float | Value] | Sequence[Sequence[float | Value]]) -> float | list[float]:
        """The same forward pass on plain floats: no graph, no gradients, much faster.
        A batch of samples (a list of them, a 2-D array) gives a list, one output each.

        >>> n = Neuron(2, seed=3)
        >>> n.predict([0.5, 1.0]) == n([0.5, 1.0]).data
        True
        >>> n.predict([[0.5, 1.0], [0.0, 0.0]]) == [n.predict([0.5, 1.0]), n.predict([0.0, 0.0])]
        True
        """
        return _predict_samples(x, self.nin, "Neuron.predict", self._predict)

    def _predict(self, xs: list[float]) -> float:
        z = self.w[0].data * xs[0]
        for k in range(1, self.nin):
            z += self.w[k].data * xs[k]
        z += self.b.data
        # Once a product or a sum is inf, the total stays inf or nan: one test
        # per neuron sees an overflow anywhere on the way.
        if z - z != 0.0:
            # Rare: redo the pass on the graph, whose engine raises the error that
            # calling the model raises, naming the operation that overflowed.
            self._fire([Value(x) for x in xs])
            raise OverflowError(f"{self!r}: the weighted sum is {z!r}")  # not reached: _fire raised
        return self._act(z)

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r}, layer={self.layer}, index={self.index})"


# ------------------------------------------------------------------- Layer
@saveable
class Layer(Module):
    """`nout` neurons reading the same `nin` inputs.

    Returns a Value when ``nout == 1`` (as micrograd does), otherwise a list of
    `nout` Values ``a^(l)_0 ... a^(l)_{nout-1}``.

    >>> layer = Layer(3, 2, activation="relu", seed=0, layer=2)
    >>> [a.label for a in layer([1, 2, 3])]
    ['a^(2)_0', 'a^(2)_1']
    >>> [n.w[0].label for n in Layer(1, 2, seed=0, layer="L").neurons]
    ['w^(L)_0,0', 'w^(L)_1,0']
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
        self._check_shape(nin, nout, activation, layer)
        nin, nout, layer = int(nin), int(nout), _layer_number(layer)
        source = _make_rng(seed, rng, "Layer")
        self.nin, self.nout, self.activation, self.layer = nin, nout, activation, layer
        self.neurons = [Neuron(nin, activation, rng=source, layer=layer, index=j) for j in range(nout)]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for n in self.neurons:
            yield from n.named_parameters()

    @staticmethod
    def _check_shape(nin: object, nout: object, activation: object, layer: object) -> int:
        where = "Layer"
        integer(nin, "nin", where, minimum=1)
        integer(nout, "nout", where, minimum=1)
        _check_activation(activation, where)
        _check_layer(layer, where)
        return (nin + 1) * nout

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        xs = self.neurons[0]._inputs(x, "Layer")  # lift the inputs once, for every neuron
        outs = [n._fire(xs) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def predict(self, x: Sequence[float | Value] | Sequence[Sequence[float | Value]]) -> float | list:
        """The forward pass on floats, of one sample or a batch (see `Neuron.predict`)."""
        return _predict_samples(x, self.nin, "Layer.predict", self._predict_one)

    def _predict_one(self, xs: list[float]) -> float | list[float]:
        outs = self._predict(xs)
        return outs[0] if len(outs) == 1 else outs

    def _predict(self, xs: list[float]) -> list[float]:
        return [n._predict(xs) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r}, layer={self.layer})"


# --------------------------------------------------------------------- MLP
@saveable
class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has layers 2->16->16->1.

    Hidden layers use `activation`; the last layer uses `output_activation`
    (default ``"linear"``: raw scores, as in micrograd's demo).  Layer l of
    the list is layer l+1 of the textbook (the inputs are layer 0).

    >>> model = MLP(2, [16, 16, 1], activation="relu", seed=1337)
    >>> len(model.parameters())
    337
    >>> model([1.0, -0.5]).label
    'z^(3)_0'
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
        nouts = _layer_sizes(nouts)
        self._check_shape(nin, nouts, activation, output_activation)
        nin, nouts = int(nin), [int(n) for n in nouts]
        source = _make_rng(seed, rng, "MLP")
        self.nin, self.nouts = nin, nouts
        self.activation, self.output_activation = activation, output_activation
        sizes = [nin] + nouts
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, rng=source, layer=i + 1)
            for i in range(len(nouts))
        ]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for layer in self.layers:
            yield from layer.named_parameters()

    @staticmethod
    def _check_shape(nin: object, nouts: object, activation: object, output_activation: object) -> int:
        where = "MLP"
        integer(nin, "nin", where, minimum=1)
        nouts = _layer_sizes(nouts)
        if not nouts:
            raise ValueError(f"{where}: nouts must name at least one layer, got []")
        for n in nouts:
            integer(n, "each layer size", where, minimum=1)
        _check_activation(activation, where)
        _check_activation(output_activation, where)
        sizes = [nin] + nouts
        return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        out: Any = _as_list(x, self.nin, "MLP")
        for layer in self.layers:
            out = layer(out if isinstance(out, list) else [out])
        return out

    def predict(self, x: Sequence[float | Value] | Sequence[Sequence[float | Value]]) -> float | list:
        """The forward pass on floats: no graph (for plots and evaluation).

        One sample gives its output (a float, or a list for several outputs); a
        batch of samples (a list of them, or a 2-D NumPy array, as scikit-learn
        takes) gives a list with the output of each.

        >>> model = MLP(2, [4, 1], seed=0)
        >>> model.predict([0.3, 0.7]) == model([0.3, 0.7]).data
        True
        >>> len(model.predict([[0.3, 0.7], [0.1, 0.2], [0.0, 0.0]]))
        3
        """
        return _predict_samples(x, self.nin, "MLP.predict", self._predict_one)

    def _predict_one(self, xs: list[float]) -> float | list[float]:
        out = xs
        for layer in self.layers:
            out = layer._predict(out)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return (
            f"MLP({self.nin}, {self.nouts}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r})"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{layer.layer}</td><td>{layer.nin} &rarr; {layer.nout}</td><td>{layer.activation}</td>"
            f"<td>{len(layer.parameters())}</td></tr>"
            for layer in self.layers
        )
        return (
            f"<table><caption>{repr(self).replace('<', '&lt;')}: {len(self.parameters())} parameters</caption>"
            "<tr><th>layer l</th><th>neurons</th><th>activation</th><th>parameters</th></tr>"
            f"{rows}</table>"
        )


def _layer_sizes(nouts: object) -> list:
    return ordered(nouts, "nouts", "MLP", of=" of layer sizes such as [16, 16, 1]")
