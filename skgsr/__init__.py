"""skgsr: Graph Spectral Regularization for scikit-learn, over a PyTorch core.

Estimators whose hidden layer is a signal on a graph (a grid, a ring, a tree, a
graph learned from the neurons' co-activations), made interpretable by a graph
filter penalty.
"""

import importlib

__version__ = "0.1.0.dev0"

# The estimators and save/load need torch; they are imported on first use
# (PEP 562), so that the numpy/scipy modules (graphs, filters, metrics,
# descramble, datasets) import and run without it.
_LAZY = {
    "DivergenceError": "._training",
    "GSRAutoencoder": "._autoencoder",
    "GSRClassifier": "._supervised",
    "GSRRegressor": "._supervised",
    "load": "._persistence",
    "save": "._persistence",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DivergenceError",
    "GSRAutoencoder",
    "GSRClassifier",
    "GSRRegressor",
    "__version__",
    "load",
    "save",
]
