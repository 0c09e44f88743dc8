"""Neural networks on the engine: `Neuron`, `Layer`, `MLP`, in the textbook notation.

Every parameter and every node a network computes carries the label the
seeds' (3Blue1Brown) notation gives it, so a drawing, a symbolic derivative
or a printed gradient reads like the textbook:

* ``w^(l)_j,k``: the weight into neuron j of layer l from neuron k of layer l-1;
* ``b^(l)_j``: the bias of neuron j of layer l;
* ``z^(l)_j``: its weighted sum, ``w^(l)_j,0 a^(l-1)_0 + ... + b^(l)_j``;
* ``a^(l)_j``: its activation; the network's inputs are ``a^(0)_k``.

Layers count from 1 and neurons from 0, as in the seeds.  Exactly these
nodes are labelled: the parameters, the inputs, each neuron's ``z`` and its
``a``.  The products ``w a`` and the partial sums between them are left
unlabelled on purpose: `microgrid.symbolic` makes every labelled node a
symbol, so an unlabelled product reads as ``w^(1)_0,0*a^(0)_0`` in a
formula, where a label would hide it behind a name.

A neuron with the ``"linear"`` activation has no activation node, since
``a = z``: its output is the one node ``z^(l)_j``, and the next layer reads
it under that name.  So in a network with a linear hidden layer there is no
``a^(l)_j`` to differentiate with respect to: ask for ``z^(l)_j``, which is
the same quantity (a node has one label, and an identity node would cost
every forward pass).  Labels a user gave (to a parameter, or to an input
Value) are never overwritten; only empty labels are filled in.

Initialisation follows micrograd: weights uniform in [-1, 1], biases 0.  It
is reproducible: pass ``seed=`` (an int) or ``rng=`` (a `random.Random`);
with neither, the generator is seeded from Python's global `random`, so
``random.seed(1337)`` beforehand also makes it reproducible.

Inputs are a list, a tuple or another ordered sequence (a generator, a
NumPy row) of numbers or Values; a dict or a set is refused, since its keys
or an arbitrary order would be used.

A model is saved as JSON (`Module.save`, `Module.load`, `load_weights`):
data only, checked before anything is built, so a bad file raises
`ModelFileError` and leaves the model as it was.

    >>> model = MLP(2, [3, 1], seed=0)
    >>> out = model([0.5, -1.0])
    >>> out.label, model.parameters()[0].label
    ('z^(2)_0', 'w^(1)_0,0')
    >>> out.backward()
    >>> len(model.parameters())
    13
"""

from __future__ import annotations

import json
import os
import random
import reprlib
from numbers import Integral
from typing import Any, Callable, Iterator, Sequence, Union

from .engine import Value, relu, sigmoid, tanh
from ._files import atomic_write
from ._checks import integer, ordered, random_source, real
from .labels import textbook

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "ModelFileError"]

Input = Union[Value, int, float]

FORMAT = "microgrid.nn"
FORMAT_VERSION = 1


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


class ModelFileError(ValueError):
    """A saved model file that cannot be loaded: the message names the file and the problem."""


class Module:
    """What every network part has: its parameters, their gradients and their values.

    Subclasses define `named_parameters()` (a distinct name and the Value of
    each parameter, in micrograd's order); `parameters()`, `zero_grad()`,
    `state_dict()` and `load_state_dict()` follow from it.  A subclass of
    your own that combines parts names each part's parameters with a prefix:

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
                + (f"; missing {_few(missing)}" if missing else "")
                + (f"; unexpected {_few(unexpected)}" if unexpected else "")
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
        kind = type(self)
        if _MODULES.get(kind.__name__) is not kind:
            raise NotImplementedError(
                f"save: a model file holds a {', '.join(_MODULES)}, not a {kind.__name__} (load could not rebuild it); "
                "save its parameters instead, e.g. json.dump(model.state_dict(), file), "
                "and restore them with load_state_dict"
            )
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": type(self).__name__,
            "config": self._config(),
            "parameters": self.state_dict(),
        }
        atomic_write(path, json.dumps(document, indent=1), where=f"{kind.__name__}.save")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Module":
        """A new model read from a file written by `save`.

        Only data is read (JSON, never pickle): loading runs no code.
        ``MLP.load(path)`` insists the file holds an MLP; ``Module.load``
        accepts any of `Neuron`, `Layer`, `MLP`.  A malformed, truncated or
        mismatched file raises `ModelFileError` naming the problem.
        """
        document = _read_model_file(path)
        kind = _MODULES[document["class"]]
        if not issubclass(kind, cls):
            raise ModelFileError(f"{path}: the file holds a {document['class']}, not a {cls.__name__}")
        config = document["config"]
        # Check and count first: a config that asks for far more parameters
        # than the file holds must fail before it allocates them.
        expected = _check_config(kind, config, path)
        if expected != len(document["parameters"]):
            raise ModelFileError(
                f"{path}: its config needs {expected} parameters but the file holds {len(document['parameters'])}"
            )
        model = kind(**config)
        _load_parameters(model, document, path)
        return model

    def load_weights(self, path: str | os.PathLike) -> None:
        """Set this model's parameters from a file written by `save`.

        The file must hold a model of the same class and shape; otherwise
        `ModelFileError` is raised and this model is left exactly as it was.
        """
        document = _read_model_file(path)
        # Checked as `load` checks it: a config equal to this model's is then equal
        # as the constructor sees it too (2.0 == 2 and True == 1 in Python).
        _check_config(_MODULES[document["class"]], document["config"], path)
        if document["class"] != type(self).__name__ or document["config"] != self._config():
            raise ModelFileError(
                f"{path}: the file holds {document['class']}({_args(document['config'])}), "
                f"which does not match this {type(self).__name__}({_args(self._config())})"
            )
        _load_parameters(self, document, path)


def _copied(value: object) -> object:
    return list(value) if isinstance(value, list) else value  # the caller may not change the model's list


def _check_config(kind: type[Module], config: dict, path: str | os.PathLike) -> int:
    """The number of parameters `config` makes, or `ModelFileError` if the
    constructor of `kind` would refuse it."""
    missing = [key for key in kind._CONFIG if key not in config]
    unexpected = [key for key in config if key not in kind._CONFIG]
    shown = reprlib.repr(config)  # short: a file's config may be huge
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: bad config {shown} for a {kind.__name__}"
            + (f"; missing {_few(missing)}" if missing else "")
            + (f"; unexpected {_few(unexpected)}" if unexpected else "")
        )
    try:
        return kind._check_shape(**config)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: bad config {shown}: {error}") from None


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _args(config: object) -> str:
    if not isinstance(config, dict):
        return repr(config)
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


def _read_model_file(path: str | os.PathLike) -> dict:
    """The checked top level of a saved model, or `ModelFileError`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a microgrid model file (not UTF-8 text)") from None

    def object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
        # json's default keeps the last of two equal keys: which one was meant is unknowable.
        document: dict = {}
        for key, value in pairs:
            if key in document:
                raise ModelFileError(f"{path}: the key {key!r} appears twice in one JSON object")
            document[key] = value
        return document

    try:
        document = json.loads(text, object_pairs_hook=object_without_repeated_keys)
    except ModelFileError:
        raise
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path}: not valid JSON (truncated or corrupted?): {error.msg} "
            f"at line {error.lineno} column {error.colno} (char {error.pos} of {len(text)})"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a microgrid model file (JSON nested too deeply to read)") from None
    except ValueError as error:  # JSON that Python will not convert, e.g. an int of too many digits
        raise ModelFileError(f"{path}: not a readable model file: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a microgrid model file (no \"format\": \"{FORMAT}\")")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{path}: the format version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this microgrid reads (version {FORMAT_VERSION}); upgrade microgrid"
        )
    if version < 1:
        raise ModelFileError(f"{path}: unknown format version {version}")
    for key, kind in (("class", str), ("config", dict), ("parameters", dict)):
        if not isinstance(document.get(key), kind):
            raise ModelFileError(f"{path}: missing or malformed {key!r} (expected a JSON {kind.__name__.replace('str', 'string').replace('dict', 'object')})")
    if document["class"] not in _MODULES:
        raise ModelFileError(f"{path}: unknown model class {document['class']!r}; expected one of {', '.join(_MODULES)}")
    return document


def _load_parameters(model: Module, document: dict, path: str | os.PathLike) -> None:
    try:
        model.load_state_dict(document["parameters"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: {error}") from None


# ------------------------------------------------------------------ Neuron
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
        z.label = self._z_label
        if self._act is _identity:
            return z
        a = self._act(z)
        a.label = self._a_label
        return a

    def predict(self, x: Sequence[float | Value]) -> float:
        """The same forward pass on plain floats: no graph, no gradients, much faster.

        >>> n = Neuron(2, seed=3)
        >>> n.predict([0.5, 1.0]) == n([0.5, 1.0]).data
        True
        """
        return self._predict(_float_inputs(x, self.nin, "Neuron.predict"))

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

    def predict(self, x: Sequence[float | Value]) -> float | list[float]:
        """The forward pass on floats (see `Neuron.predict`)."""
        outs = self._predict(_float_inputs(x, self.nin, "Layer.predict"))
        return outs[0] if len(outs) == 1 else outs

    def _predict(self, xs: list[float]) -> list[float]:
        return [n._predict(xs) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r}, layer={self.layer})"


# --------------------------------------------------------------------- MLP
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

    def predict(self, x: Sequence[float | Value]) -> float | list[float]:
        """The forward pass on floats: no graph (for plots and evaluation).

        >>> model = MLP(2, [4, 1], seed=0)
        >>> model.predict([0.3, 0.7]) == model([0.3, 0.7]).data
        True
        """
        out = _float_inputs(x, self.nin, "MLP.predict")
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


_MODULES: dict[str, type[Module]] = {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}
