"""Networks on the engine: `Neuron`, `Layer`, `MLP`, losses, optimisers, toy data, `fit`, plots, model files."""

from .files import ModelFileError
from .mlp import ACTIVATIONS, MLP, Layer, Module, Neuron

__all__ = ["ACTIVATIONS", "MLP", "Layer", "ModelFileError", "Module", "Neuron"]
