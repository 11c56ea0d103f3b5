"""skgsr: Graph Spectral Regularization for scikit-learn, over a PyTorch core."""

__version__ = "0.1.0.dev0"
