"""From microgrid to PyTorch and back: `to_torch(model)` and `from_torch(sequential)`.

PyTorch is an optional extra (``pip install "microgrid[torch]"``), imported
when one of these functions is first called, never by ``import microgrid``.

`to_torch` turns an `MLP` (or a `Layer` or `Neuron`) into a
``torch.nn.Sequential`` of float64 ``Linear`` layers, each followed by its
activation's module (``ReLU``, ``Tanh``, ``Sigmoid``; none for ``"linear"``).
Neuron j of layer l is row j: ``weight[j, k]`` is ``w^(l)_j,k`` and
``bias[j]`` is ``b^(l)_j``.  Both compute the same outputs and gradients.

`from_torch` reads such a Sequential back into a new `MLP` (its hidden
layers share one activation).  Anything an MLP cannot hold raises an error
naming the module; nothing is built until everything has been checked.
That includes whatever makes torch compute other than its layers say: a
subclass's own ``forward``, a hook, a parameter whose shape is not the
layer's.  `to_torch` likewise refuses a model class that computes its own way.

    >>> import torch
    >>> model = MLP(2, [3, 1], activation="relu", seed=0)
    >>> net = to_torch(model)
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    >>> net(torch.tensor([0.5, -1.0], dtype=torch.float64)).item() == model([0.5, -1.0]).data
    True
    >>> from_torch(net).state_dict() == model.state_dict()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._extras import require
from .mlp import MLP, Layer, Neuron

if TYPE_CHECKING:
    import torch

__all__ = ["to_torch", "from_torch"]

#: The torch module class of each activation, by name ("linear" has none).
_MODULE_OF = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}
#: The activation of each torch module class that may follow a Linear.
_ACTIVATION_OF = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": "linear"}


def _import_torch(where: str) -> Any:
    """The torch module, or an ImportError that says how to install it."""
    return require("torch", "torch", user=where)


#: The methods that compute the output of each microgrid class, as its caller reaches them
#: (a Layer calls its neurons' `_fire`): a subclass redefining one computes something
#: that the layers' weights and activations do not describe.
_FORWARD_METHODS = {MLP: ("__call__",), Layer: ("__call__",), Neuron: ("__call__", "_fire")}


def _computes_as(part: object, base: type) -> None:
    """TypeError if `part`'s class redefines a method that computes a `base`'s output."""
    for name in _FORWARD_METHODS[base]:
        if getattr(type(part), name) is not getattr(base, name):
            raise TypeError(
                f"to_torch: {type(part).__name__} defines its own {name}, so what it computes is not its layers' "
                f"weights and activations alone, which is all a torch Sequential would hold"
            )


def _layers_of(model: object) -> list[tuple[list[list[float]], list[float], str]]:
    """(weight rows, biases, activation) of each layer of `model`, input side first."""
    if isinstance(model, MLP):
        _computes_as(model, MLP)
        layers = model.layers
    elif isinstance(model, Layer):
        layers = [model]
    elif isinstance(model, Neuron):
        _computes_as(model, Neuron)
        return [([[w.data for w in model.w]], [model.b.data], model.activation)]
    else:
        raise TypeError(f"to_torch: expected a microgrid MLP, Layer or Neuron, got {type(model).__name__}")
    for layer in layers:
        _computes_as(layer, Layer)
        for neuron in layer.neurons:
            _computes_as(neuron, Neuron)
    return [
        ([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons], layer.activation)
        for layer in layers
    ]


def to_torch(model: MLP | Layer | Neuron) -> "torch.nn.Sequential":
    """A ``torch.nn.Sequential`` in float64 that computes what `model` computes.

    Its parameters are copies: training one network leaves the other as it
    was.  Torch's random generator is not used (no initialisation is run).

    >>> to_torch(Neuron(2, activation="sigmoid", seed=1))
    Sequential(
      (0): Linear(in_features=2, out_features=1, bias=True)
      (1): Sigmoid()
    )
    """
    torch = _import_torch("to_torch")
    modules = []
    for rows, biases, activation in _layers_of(model):
        # skip_init: the parameters are set below, so torch's RNG is left untouched.
        linear = torch.nn.utils.skip_init(torch.nn.Linear, len(rows[0]), len(rows), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rows, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(biases, dtype=torch.float64))
        modules.append(linear)
        if activation != "linear":
            modules.append(getattr(torch.nn, _MODULE_OF[activation])())
    return torch.nn.Sequential(*modules)


def _tensor_floats(torch: Any, tensor: Any, what: str) -> list:
    """The tensor's values as (nested lists of) Python floats, or a ValueError naming `what`."""
    if tensor.is_meta:
        raise ValueError(f"from_torch: {what} is on the meta device and holds no values")
    if not tensor.is_floating_point():
        raise ValueError(f"from_torch: {what} must hold real floating-point numbers, got {tensor.dtype}")
    values = tensor.detach().to(device="cpu", dtype=torch.float64)
    bad = int((~torch.isfinite(values)).sum())
    if bad:
        raise ValueError(f"from_torch: {what} holds {bad} values that are not finite (nan or inf)")
    return values.tolist()


#: The hooks a module keeps, each of which may change what it computes (its output or its gradients).
_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def _hook_kind(attribute: str) -> str:
    """``"_forward_pre_hooks"`` -> ``"forward pre hook"``."""
    return attribute.strip("_").replace("_", " ").removesuffix("s")


def _refuse_other_computations(torch: Any, sequential: Any) -> None:
    """ValueError if torch would compute something other than the layers in `sequential` say."""
    kind = type(sequential)
    for name in ("forward", "__call__"):
        if getattr(kind, name) is not getattr(torch.nn.Sequential, name):
            raise ValueError(
                f"from_torch: {kind.__name__}, a Sequential subclass, defines its own {name}, which an MLP cannot "
                "represent; convert a plain torch.nn.Sequential of the layers it computes with"
            )
    # Torch keeps the global hooks beside the per-module ones, under the same names.
    registry = torch.nn.modules.module
    for attribute in _HOOKS:
        if getattr(registry, f"_global{attribute}", None):
            raise ValueError(
                f"from_torch: a global module {_hook_kind(attribute)} is registered, which may change what "
                "every module computes; remove it (handle.remove()) before converting"
            )
    for where, module in [("the Sequential", sequential)] + [
        (f"module {i} ({type(m).__name__})", m) for i, m in enumerate(sequential)
    ]:
        for attribute in _HOOKS:
            if getattr(module, attribute, None):
                raise ValueError(
                    f"from_torch: {where} has a {_hook_kind(attribute)}, which may change what it computes "
                    "and an MLP cannot run; remove it (handle.remove()) before converting"
                )


def _check_linear_shapes(torch: Any, linear: Any, where: str) -> None:
    """ValueError unless the weight and the bias have the shapes the layer's sizes say."""
    weight_shape = (linear.out_features, linear.in_features)
    for name, shape, need in (
        ("weight", weight_shape, f"in_features={linear.in_features} and out_features={linear.out_features}"),
        ("bias", (linear.out_features,), f"its {linear.out_features} outputs"),
    ):
        tensor = getattr(linear, name)
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"from_torch: {where} has no {name} tensor, got {type(tensor).__name__}")
        if tuple(tensor.shape) != shape:
            raise ValueError(
                f"from_torch: {where} has a {name} of shape {tuple(tensor.shape)}, but {need} need shape {shape}"
            )


def _read_layers(torch: Any, sequential: Any) -> list[tuple[str, Any, str]]:
    """(description, Linear, activation) of each layer, checked module by module."""
    layers: list[tuple[str, Any, str]] = []
    pending = None  # the last Linear, until its activation (or the next Linear) is seen
    for i, module in enumerate(sequential):
        kind = type(module).__name__
        where = f"module {i} ({kind})"
        if type(module) is torch.nn.Linear:
            if module.bias is None:
                raise ValueError(f"from_torch: {where} has no bias, and every microgrid neuron has one")
            if module.in_features < 1 or module.out_features < 1:
                raise ValueError(
                    f"from_torch: {where} maps {module.in_features} inputs to {module.out_features} outputs; "
                    "an MLP layer needs at least one of each"
                )
            _check_linear_shapes(torch, module, where)
            if pending is not None:
                layers.append((*pending, "linear"))
            if layers and layers[-1][1].out_features != module.in_features:
                raise ValueError(
                    f"from_torch: {where} reads {module.in_features} inputs, "
                    f"but the layer before it gives {layers[-1][1].out_features}"
                )
            pending = (f"module {i}", module)
        elif getattr(torch.nn, kind, None) is type(module) and kind in _ACTIVATION_OF:
            if pending is None:
                raise ValueError(f"from_torch: {where} does not follow a Linear; an MLP applies one activation after each")
            layers.append((*pending, _ACTIVATION_OF[kind]))
            pending = None
        else:
            raise ValueError(
                f"from_torch: {where} has no counterpart in a microgrid MLP, "
                f"which holds only Linear, {', '.join(_ACTIVATION_OF)}"
            )
    if pending is not None:
        layers.append((*pending, "linear"))
    if not layers:
        raise ValueError("from_torch: the Sequential holds no Linear layer")
    return layers


def from_torch(sequential: "torch.nn.Sequential") -> MLP:
    """A new `MLP` with the layers, activations and parameters of `sequential`.

    A single layer gets the default hidden activation, which it never uses.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    >>> from_torch(net)
    MLP(2, [4, 1], activation='tanh', output_activation='linear')
    """
    torch = _import_torch("from_torch")
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(sequential).__name__}")
    _refuse_other_computations(torch, sequential)
    layers = _read_layers(torch, sequential)
    hidden = {activation for _, _, activation in layers[:-1]}
    if len(hidden) > 1:
        used = ", ".join(f"{activation} after the Linear of {at}" for at, _, activation in layers[:-1])
        raise ValueError(f"from_torch: an MLP's hidden layers share one activation, but these differ: {used}")
    values: list[float] = []  # in microgrid's parameter order: each neuron's weights, then its bias
    for at, linear, _ in layers:
        weights = _tensor_floats(torch, linear.weight, f"the weight of {at}")
        biases = _tensor_floats(torch, linear.bias, f"the bias of {at}")
        for row, bias in zip(weights, biases, strict=True):  # their shapes were checked: never truncated
            values += row
            values.append(bias)
    model = MLP(
        layers[0][1].in_features,
        [linear.out_features for _, linear, _ in layers],
        hidden.pop() if hidden else "tanh",
        layers[-1][2],
        seed=0,  # every parameter is overwritten below
    )
    for p, value in zip(model.parameters(), values, strict=True):
        p.data = value
    return model
