"""From microgrid to a float64 ``torch.nn.Sequential`` and back: `to_torch` and `from_torch` (``pip install torch``)."""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from .._extras import require
from .mlp import MLP, Layer, Neuron

if TYPE_CHECKING:
    import torch

__all__ = ["from_torch", "to_torch"]

_ACTIVATION_OF = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": "linear"}
_MODULE_OF = {activation: module for module, activation in _ACTIVATION_OF.items()}

#: The methods computing each class's output: a subclass redefining one computes more than its weights say.
_FORWARD_METHODS = {MLP: ("__call__",), Layer: ("__call__",), Neuron: ("__call__", "_fire")}

#: The hooks a torch module keeps, each of which may change what it computes.
_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def to_torch(model: MLP | Layer | Neuron) -> torch.nn.Sequential:
    """A float64 ``torch.nn.Sequential`` computing what `model` computes, with copies of its parameters.

    >>> [type(module).__name__ for module in to_torch(MLP(2, [4, 1], activation="relu", seed=0))]
    ['Linear', 'ReLU', 'Linear']
    """
    torch = require("torch", "torch", user="to_torch")
    if not isinstance(model, (MLP, Layer, Neuron)):
        raise TypeError(f"to_torch: expected a microgrid MLP, Layer or Neuron, got {type(model).__name__}")
    layers: list[Layer | Neuron] = list(model.layers) if isinstance(model, MLP) else [model]
    rows = [layer.neurons if isinstance(layer, Layer) else [layer] for layer in layers]
    for part in [model, *layers, *chain(*rows)]:
        base = next(base for base in _FORWARD_METHODS if isinstance(part, base))
        for name in _FORWARD_METHODS[base]:
            if getattr(type(part), name) is not getattr(base, name):
                raise TypeError(
                    f"to_torch: {type(part).__name__} defines its own {name}, so what it computes is not its "
                    "layers' weights and activations alone, which is all a torch Sequential would hold"
                )
    modules = []
    for layer, neurons in zip(layers, rows, strict=True):
        # skip_init: the parameters are set below, so torch's RNG is left untouched.
        linear = torch.nn.utils.skip_init(torch.nn.Linear, layer.nin, len(neurons), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in neurons], dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in neurons], dtype=torch.float64))
        modules.append(linear)
        if layer.activation != "linear":
            modules.append(getattr(torch.nn, _MODULE_OF[layer.activation])())
    return torch.nn.Sequential(*modules)


def _refuse_other_computations(torch: Any, sequential: Any) -> None:
    kind = type(sequential)
    for name in ("forward", "__call__"):
        if getattr(kind, name) is not getattr(torch.nn.Sequential, name):
            raise ValueError(
                f"from_torch: {kind.__name__}, a Sequential subclass, defines its own {name}, which an MLP cannot "
                "represent; convert a plain torch.nn.Sequential of the layers it computes with"
            )
    modules = {"the Sequential": sequential} | {f"module {i} ({type(m).__name__})": m for i, m in enumerate(sequential)}
    for attribute in _HOOKS:
        hook = attribute.strip("_").replace("_", " ").removesuffix("s")  # "_forward_pre_hooks": "forward pre hook"
        # Torch keeps the global hooks beside the per-module ones, under the same names.
        if getattr(torch.nn.modules.module, f"_global{attribute}", None):
            raise ValueError(
                f"from_torch: a global module {hook} is registered, which may change what every module computes; "
                "remove it (handle.remove()) before converting"
            )
        for where, module in modules.items():
            if getattr(module, attribute, None):
                raise ValueError(
                    f"from_torch: {where} has a {hook}, which may change what it computes and an MLP cannot run; "
                    "remove it (handle.remove()) before converting"
                )


def _parameters(torch: Any, linear: Any, i: int) -> list[float]:
    """The parameters of the Linear module `i`, checked, in microgrid's order: each neuron's weights, then its bias."""
    where = f"module {i} (Linear)"
    if linear.bias is None:
        raise ValueError(f"from_torch: {where} has no bias, and every microgrid neuron has one")
    n_in, n_out = linear.in_features, linear.out_features
    if n_in < 1 or n_out < 1:
        raise ValueError(f"from_torch: {where} maps {n_in} inputs to {n_out} outputs; an MLP needs at least 1 of each")
    sizes = f"in_features={n_in} and out_features={n_out}"
    values = []
    for name, shape, need in (("weight", (n_out, n_in), sizes), ("bias", (n_out,), f"its {n_out} outputs")):
        tensor, what = getattr(linear, name), f"the {name} of module {i}"
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"from_torch: {where} has no {name} tensor, got {type(tensor).__name__}")
        if (got := tuple(tensor.shape)) != shape:
            raise ValueError(f"from_torch: {where} has a {name} of shape {got}, but {need} need shape {shape}")
        if tensor.is_meta:
            raise ValueError(f"from_torch: {what} is on the meta device and holds no values")
        if not tensor.is_floating_point():
            raise ValueError(f"from_torch: {what} must hold real floating-point numbers, got {tensor.dtype}")
        floats = tensor.detach().to(device="cpu", dtype=torch.float64)
        if bad := int((~torch.isfinite(floats)).sum()):
            raise ValueError(f"from_torch: {what} holds {bad} values that are not finite (nan or inf)")
        values.append(floats.tolist())
    weights, biases = values  # their shapes were checked: zip truncates nothing
    return [x for row, bias in zip(weights, biases, strict=True) for x in (*row, bias)]


def _read_layers(torch: Any, sequential: Any) -> tuple[list[tuple[str, Any, str]], list[float]]:
    """(place, Linear, activation) of each layer, checked module by module, and all their parameters."""
    layers: list[list[Any]] = []  # [place, Linear, activation], the activation None until one follows
    values: list[float] = []
    for i, module in enumerate(sequential):
        kind = type(module).__name__
        where = f"module {i} ({kind})"
        if type(module) is torch.nn.Linear:
            values += _parameters(torch, module, i)
            if layers and layers[-1][1].out_features != module.in_features:
                raise ValueError(
                    f"from_torch: {where} reads {module.in_features} inputs, "
                    f"but the layer before it gives {layers[-1][1].out_features}"
                )
            layers.append([f"module {i}", module, None])
        elif getattr(torch.nn, kind, None) is type(module) and kind in _ACTIVATION_OF:
            if not layers or layers[-1][2] is not None:
                raise ValueError(f"from_torch: {where} does not follow a Linear; an MLP has one activation after each")
            layers[-1][2] = _ACTIVATION_OF[kind]
        else:
            raise ValueError(
                f"from_torch: {where} has no counterpart in an MLP (only Linear, {', '.join(_ACTIVATION_OF)})"
            )
    if not layers:
        raise ValueError("from_torch: the Sequential holds no Linear layer")
    return [(at, linear, activation or "linear") for at, linear, activation in layers], values


def from_torch(sequential: torch.nn.Sequential) -> MLP:
    """A new `MLP` with the layers, activations and parameters of `sequential` (hidden layers share one activation).

    >>> import torch
    >>> from_torch(torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)))
    MLP(2, [4, 1], activation='tanh', output_activation='linear')
    """
    torch = require("torch", "torch", user="from_torch")
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(sequential).__name__}")
    _refuse_other_computations(torch, sequential)
    layers, values = _read_layers(torch, sequential)
    hidden = {activation for _, _, activation in layers[:-1]}
    if len(hidden) > 1:
        used = ", ".join(f"{activation} after the Linear of {at}" for at, _, activation in layers[:-1])
        raise ValueError(f"from_torch: an MLP's hidden layers share one activation, but these differ: {used}")
    # A single layer gets the default hidden activation, which it never uses; every parameter is set below.
    nouts = [linear.out_features for _, linear, _ in layers]
    model = MLP(layers[0][1].in_features, nouts, hidden.pop() if hidden else "tanh", layers[-1][2], seed=0)
    model.load_state_dict(dict(zip(model.state_dict(), values, strict=True)))
    return model
