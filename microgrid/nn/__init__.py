"""Networks on the engine: modules, losses, optimisers, data, training, plots and model files.

=================  =====================================================
`files`            model files as JSON (`ModelFileError`)
`module`           `Module`: parameters by name, `state_dict`, save and load
`mlp`              `Neuron`, `Layer`, `MLP` in the textbook notation
`losses`           `mse`, the cross-entropies, `hinge`, `l2_penalty`
`optim`            `SGD` and `Adam` with PyTorch's update formulas
`data`             `make_moons`, `make_blobs`
`plots`            the loss curve and the decision boundary (matplotlib)
`train`            `fit` and its `History`
`pytorch`          `to_torch`, `from_torch` (PyTorch, an optional extra)
`demo`             micrograd's demo, trained and saved (``microgrid demo``)
=================  =====================================================

Imports flow down this list: each module imports the engine and modules above it.

    >>> from microgrid.nn import MLP
    >>> MLP(2, [16, 16, 1], activation="relu", seed=1337)
    MLP(2, [16, 16, 1], activation='relu', output_activation='linear')
"""

from .files import ModelFileError
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "ModelFileError"]
