"""Networks on the engine, in modules each importing only the engine and those before it in this list:
model `files`, `module` (`Module`), `mlp` (`Neuron`, `Layer`, `MLP`), `losses`, `optim`, `data`, `train`
(`fit`), `plots`, `pytorch` (`to_torch`, `from_torch`) and `demo` (``microgrid demo``).

    >>> from microgrid.nn import MLP
    >>> MLP(2, [16, 16, 1], activation="relu", seed=1337)
    MLP(2, [16, 16, 1], activation='relu', output_activation='linear')
"""

from .files import ModelFileError
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module

__all__ = ["ACTIVATIONS", "MLP", "Layer", "ModelFileError", "Module", "Neuron"]
