"""skgsr: Graph Spectral Regularization for scikit-learn, over a PyTorch core.

Estimators whose hidden layer is a signal on a graph (a grid, a ring, a tree, a
graph learned from the neurons' co-activations), made interpretable by a graph
filter penalty.
"""

from ._autoencoder import GSRAutoencoder
from ._persistence import load, save
from ._supervised import GSRClassifier, GSRRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "GSRAutoencoder",
    "GSRClassifier",
    "GSRRegressor",
    "__version__",
    "load",
    "save",
]
