"""Networks on the engine: `Neuron`, `Layer`, `MLP`, losses, optimisers, toy data, `fit`, plots, model files.

>>> from microgrid.nn import MLP
>>> MLP(2, [16, 16, 1], activation="relu", seed=1337)
MLP(2, [16, 16, 1], activation='relu', output_activation='linear')
"""

from .files import ModelFileError
from .mlp import ACTIVATIONS, MLP, Layer, Module, Neuron

__all__ = ["ACTIVATIONS", "MLP", "Layer", "ModelFileError", "Module", "Neuron"]
