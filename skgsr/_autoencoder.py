"""GSRAutoencoder: an autoencoder whose embedding is a signal on a graph."""

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, _fit_context
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._base import BaseGSR
from ._docs import COMMON_PARAMETERS, FITTED_ATTRIBUTES
from ._network import make_mlp
from ._torch_utils import torch_threads
from ._training import dense_rows, explain_input_errors

__all__ = ["GSRAutoencoder"]


def _squared_errors(module, X, device):
    """Per-sample mean squared reconstruction error of X, float64 numpy."""
    errors = []
    with torch.no_grad():
        for block in dense_rows(X, device):
            reconstruction = module(block)[0]
            errors.append(((reconstruction - block) ** 2).mean(dim=1).double().cpu())
    return torch.cat(errors).numpy() if errors else np.empty(0)


class GSRAutoencoder(ClassNamePrefixFeaturesOutMixin, BaseGSR):
    __doc__ = (
        """Autoencoder with a graph-structured embedding layer.

    An MLP encoder maps the input to a structured layer of ``n_components``
    neurons, one per node of ``graph``; a mirrored decoder reconstructs the input.
    The loss is the mean squared reconstruction error plus ``alpha`` times the
    graph penalty of the structured layer (:class:`skgsr.penalty.GraphPenalty`),
    which makes the embedding a smooth (or localized) signal on the graph:
    ``transform(X).reshape(-1, *graph_shape_)`` are images one can look at.

    Parameters
    ----------"""
        + COMMON_PARAMETERS
        + """
    Attributes
    ----------"""
        + FITTED_ATTRIBUTES
        + """
    See Also
    --------
    GSRClassifier : The same structured layer trained for classification.
    GSRRegressor : The same structured layer trained for regression.
    skgsr.penalty.GraphPenalty : The penalty on the structured layer.

    References
    ----------
    .. [1] A. Tong, D. van Dijk, J. S. Stanley, M. Amodio, G. Wolf and
       S. Krishnaswamy, "Graph Spectral Regularization for Neural Network
       Interpretability", 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skgsr import GSRAutoencoder
    >>> X = load_digits().data / 16.0
    >>> ae = GSRAutoencoder(n_components=16, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape, ae.graph_shape_, ae.feature_graph_.nnz // 2
    ((1797, 16), (4, 4), 24)
    """
    )

    _default_embedding_activation = "identity"

    def _n_outputs(self, X, y):
        return X.shape[1]

    def _build_head(self, n_features, n_outputs, graph_shape):
        hidden = self._hidden_sizes()
        return make_mlp(
            [self.n_components, *reversed(hidden), n_features], self.activation, None
        )

    def _validate_fit_data(self, X, y, reset):
        with explain_input_errors():
            X = validate_data(
                self,
                X,
                accept_sparse=("csr", "csc", "coo"),
                dtype=(np.float32, np.float64),
                reset=reset,
            )
        return X, None

    def _task_loss(self, output, target, x):
        return ((output - x) ** 2).mean(dim=1)

    def _mean_task_loss(self, output, target, x):
        return torch.nn.functional.mse_loss(output, x)

    def _validation_score(self, module, X, y, sample_weight=None):
        return self._score_module(module, X, sample_weight)

    def _score_module(self, module, X, sample_weight):
        errors = _squared_errors(module, X, next(module.parameters()).device)
        return -float(np.average(errors, weights=sample_weight))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 inside; sparse X is densified per batch).
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss and the penalty.

        Returns
        -------
        self : GSRAutoencoder
        """
        return self._fit(X, None, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over X, starting from the current weights if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GSRAutoencoder
        """
        return self._fit(X, None, sample_weight, incremental=True)

    def inverse_transform(self, X):
        """Decode structured-layer activations back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Activations of the structured layer, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`), dtype float32
        """
        check_is_fitted(self, "module_")
        with explain_input_errors():
            Z = check_array(X, dtype=(np.float32, np.float64))
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"inverse_transform expects {self.n_components} columns (the "
                f"structured layer's width), got {Z.shape[1]}."
            )
        device = self._module_device()
        decoded = []
        with torch_threads(), torch.no_grad():
            for block in dense_rows(Z, device):
                decoded.append(self.module_.head(block).cpu())
        if not decoded:
            return np.empty((0, self.n_features_in_), dtype=np.float32)
        return torch.cat(decoded).numpy()

    def score(self, X, y=None, sample_weight=None):
        """Negative mean squared reconstruction error (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            :math:`-\\frac{1}{m d}\\sum_{i,j} (x_{ij} - \\hat x_{ij})^2`, weighted
            over samples when ``sample_weight`` is given.
        """
        X = self._check_fitted_input(X)
        with torch_threads():
            return self._score_module(self.module_, X, sample_weight)
