"""GSRClassifier and GSRRegressor: supervised networks with a structured layer."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
)
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data
from torch import nn
from torch.nn import functional as F

from ._base import BaseGSR
from ._capsule import CapsuleDecoder, CapsuleNetwork, capsule_loss
from ._docs import COMMON_PARAMETERS, FITTED_ATTRIBUTES
from ._feature_names import GraphFeatureNamesMixin
from ._network import ConvHead, glorot_uniform_
from ._training import check_float32_range, explain_input_errors

__all__ = ["GSRClassifier", "GSRRegressor"]

_HEAD_DOC = """
    head : {"dense", "conv"}, default="dense"
        Read-out from the structured layer: a linear layer, or a small CNN over
        the layer reshaped to its ``graph_shape_`` grid (the papers' "convolution on
        the grid"; only for ``graph="grid"`` or ``"torus"``). ``"capsule"``, a
        capsule network, is :class:`GSRClassifier`'s only.
"""

_CLASSIFIER_HEAD_DOC = """
    head : {"dense", "conv", "capsule"}, default="dense"
        Read-out from the structured layer: a linear layer, or a small CNN over
        the layer reshaped to its ``graph_shape_`` grid (the papers' "convolution on
        the grid"; only for ``graph="grid"`` or ``"torus"``). ``"capsule"`` makes
        the network a capsule network (Sabour et al., 2017) whose structured layer
        is its class capsules (see the capsule parameters below).
    capsule_dim : int, default=16
        With ``head="capsule"``: the dimension of each class capsule. The
        structured layer then has ``n_classes * capsule_dim`` neurons, capsule
        ``c`` at columns ``c * capsule_dim:(c + 1) * capsule_dim`` of
        :meth:`transform`, and ``graph_shape_ == (n_classes, capsule_dim)``;
        ``n_components`` and ``embedding_activation`` are not used (capsules are
        squashed). ``graph="capsules"`` joins dimension ``d`` of every capsule to
        dimension ``d`` of the others.
    routing_iterations : int, default=3
        With ``head="capsule"``: iterations of routing by agreement from the
        primary to the class capsules.
    primary_capsules : tuple of int, default=(32, 8)
        With ``head="capsule"``: ``(n_capsules, capsule_dim)`` of the primary
        capsules, a linear layer on the last hidden layer read as that many
        squashed vectors.
    reconstruction_weight : float, default=0.0
        With ``head="capsule"``: weight of the mean squared error of a decoder
        that reconstructs the input from the true class' capsule (the others
        masked, as Sabour et al. do); 0 builds no decoder. The decoder mirrors
        ``hidden_layer_sizes``.
"""

_GRID_GRAPHS = ("grid", "torus")


class _SupervisedGSR(BaseGSR):
    """A structured layer followed by a dense or convolutional head."""

    _parameter_constraints = {
        **BaseGSR._parameter_constraints,
        "head": [StrOptions({"dense", "conv", "capsule"})],
    }
    _default_embedding_activation = "activation"
    _architecture_params = (*BaseGSR._architecture_params, "head")

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(128,),
        encoder=None,
        graph="grid",
        graph_shape=None,
        filter="rayleigh",
        alpha=0.1,
        scale_alpha=True,
        laplacian="auto",
        filter_scale=None,
        filter_method="auto",
        filter_order=30,
        filter_center="auto",
        n_neighbors="auto",
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="auto",
        graph_metric="input_profile",
        learned_objective="modules",
        activation="relu",
        embedding_activation="auto",
        head="dense",
        solver="adam",
        learning_rate_init=1e-3,
        batch_size="auto",
        max_iter=500,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        weight_decay=0.0,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="auto",
        compile=False,
    ):
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            encoder=encoder,
            graph=graph,
            graph_shape=graph_shape,
            filter=filter,
            alpha=alpha,
            scale_alpha=scale_alpha,
            laplacian=laplacian,
            filter_scale=filter_scale,
            filter_method=filter_method,
            filter_order=filter_order,
            filter_center=filter_center,
            n_neighbors=n_neighbors,
            graph_warmup=graph_warmup,
            graph_update_interval=graph_update_interval,
            graph_n_samples=graph_n_samples,
            graph_kernel=graph_kernel,
            graph_metric=graph_metric,
            learned_objective=learned_objective,
            activation=activation,
            embedding_activation=embedding_activation,
            solver=solver,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            weight_decay=weight_decay,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
            device=device,
            compile=compile,
        )
        self.head = head

    def _check_head_supported(self):
        if self.head == "capsule":
            raise ValueError(
                f"head='capsule' is a classifier's head (class capsules, a margin "
                f"loss over classes); only GSRClassifier supports it, not "
                f"{type(self).__name__}. Use head='dense' or head='conv'."
            )

    def _build_head(self, n_features, n_outputs, graph_shape):
        self._check_head_supported()
        if self.head == "dense":
            return glorot_uniform_(
                nn.Linear(self.n_components, n_outputs), self.activation
            )
        if not (isinstance(self.graph, str) and self.graph in _GRID_GRAPHS):
            graph = self.graph if isinstance(self.graph, str) else "a given adjacency"
            raise ValueError(
                f"head='conv' convolves the structured layer as an image, so it needs "
                f"graph='grid' or graph='torus'; got graph={graph!r}. Use "
                "head='dense' for other graphs."
            )
        return ConvHead(
            graph_shape, n_outputs, self.activation, periodic=self.graph == "torus"
        )

    def _validate_xy(self, X, y, reset, **kwargs):
        with explain_input_errors():
            return validate_data(
                self,
                X,
                y,
                accept_sparse=("csr", "csc", "coo"),
                dtype=(np.float32, np.float64),
                reset=reset,
                **kwargs,
            )


class GSRClassifier(GraphFeatureNamesMixin, ClassifierMixin, _SupervisedGSR):
    __doc__ = (
        """Classifier whose hidden layer is a graph-structured activation map.

    An MLP maps the input to a structured layer of ``n_components`` neurons, one
    per node of ``graph``, followed by a dense or convolutional head producing the
    class logits. The loss is the cross-entropy plus ``alpha`` times the graph
    penalty of the structured layer, so that :meth:`transform` gives activation
    maps (``transform(X).reshape(-1, *graph_shape_)``) that are smooth or
    localized on the graph.

    With ``head="capsule"`` the network is a capsule network instead (Sabour,
    Frosst and Hinton, 2017): the MLP feeds primary capsules, routing by
    agreement computes one capsule of ``capsule_dim`` dimensions per class, and
    the length of class ``c``'s capsule scores class ``c`` (margin loss;
    :meth:`predict_proba` normalizes the lengths). The class capsules are the
    structured layer, ``graph_shape_ == (n_classes, capsule_dim)``; with
    ``graph="capsules"`` the penalty asks every capsule to use each dimension for
    the same thing (the first paper's capsule experiment).

    Parameters
    ----------"""
        + COMMON_PARAMETERS
        + _CLASSIFIER_HEAD_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (any sortable type, strings included)."""
        + FITTED_ATTRIBUTES
        + """
    See Also
    --------
    GSRAutoencoder : The same structured layer in an autoencoder.
    GSRRegressor : The same structured layer trained for regression.
    sklearn.neural_network.MLPClassifier : An unstructured MLP classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skgsr import GSRClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = GSRClassifier(max_iter=20, random_state=0).fit(X / 16.0, y)
    >>> clf.transform(X[:3] / 16.0).shape
    (3, 64)
    >>> clf.score(X / 16.0, y) > 0.9
    True

    A capsule network whose class capsules share the meaning of each dimension:

    >>> caps = GSRClassifier(
    ...     head="capsule", graph="capsules", alpha=0.3, max_iter=5, random_state=0
    ... ).fit(X / 16.0, y)
    >>> caps.graph_shape_, caps.transform(X[:3] / 16.0).shape
    ((10, 16), (3, 160))
    """
    )

    _parameter_constraints = {
        **_SupervisedGSR._parameter_constraints,
        "capsule_dim": [Interval(Integral, 1, None, closed="left")],
        "routing_iterations": [Interval(Integral, 1, None, closed="left")],
        "primary_capsules": [tuple, list],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
    }
    _supports_early_stopping_stratify = True
    _architecture_params = (
        *_SupervisedGSR._architecture_params,
        "capsule_dim",
        "routing_iterations",
        "primary_capsules",
        "reconstruction_weight",
    )

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(128,),
        encoder=None,
        graph="grid",
        graph_shape=None,
        filter="rayleigh",
        alpha=0.1,
        scale_alpha=True,
        laplacian="auto",
        filter_scale=None,
        filter_method="auto",
        filter_order=30,
        filter_center="auto",
        n_neighbors="auto",
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="auto",
        graph_metric="input_profile",
        learned_objective="modules",
        activation="relu",
        embedding_activation="auto",
        head="dense",
        capsule_dim=16,
        routing_iterations=3,
        primary_capsules=(32, 8),
        reconstruction_weight=0.0,
        solver="adam",
        learning_rate_init=1e-3,
        batch_size="auto",
        max_iter=500,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        weight_decay=0.0,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="auto",
        compile=False,
    ):
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            encoder=encoder,
            graph=graph,
            graph_shape=graph_shape,
            filter=filter,
            alpha=alpha,
            scale_alpha=scale_alpha,
            laplacian=laplacian,
            filter_scale=filter_scale,
            filter_method=filter_method,
            filter_order=filter_order,
            filter_center=filter_center,
            n_neighbors=n_neighbors,
            graph_warmup=graph_warmup,
            graph_update_interval=graph_update_interval,
            graph_n_samples=graph_n_samples,
            graph_kernel=graph_kernel,
            graph_metric=graph_metric,
            learned_objective=learned_objective,
            activation=activation,
            embedding_activation=embedding_activation,
            head=head,
            solver=solver,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            weight_decay=weight_decay,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
            device=device,
            compile=compile,
        )
        self.capsule_dim = capsule_dim
        self.routing_iterations = routing_iterations
        self.primary_capsules = primary_capsules
        self.reconstruction_weight = reconstruction_weight

    # ------------------------------------------------------------ capsules
    def _is_capsule(self):
        return self.head == "capsule"

    def _structured_width(self):
        if not self._is_capsule():
            return super()._structured_width()
        n_classes = len(self.classes_)
        return n_classes * self.capsule_dim, (
            f"n_classes * capsule_dim = {n_classes} * {self.capsule_dim}"
        )

    def _default_graph_shape(self):
        # a row per class capsule, a column per dimension
        if self._is_capsule():
            return (len(self.classes_), self.capsule_dim)
        return None

    @property
    def _n_features_out(self):
        return self._structured_width()[0]

    def _primary_capsules(self):
        shape = np.asarray(self.primary_capsules)
        if shape.shape != (2,) or shape.dtype.kind not in "iu" or np.any(shape < 1):
            raise ValueError(
                "primary_capsules must be a pair of positive ints (n_capsules, "
                f"capsule_dim); got {self.primary_capsules!r}."
            )
        return int(shape[0]), int(shape[1])

    def _initialize_module(self, n_features, n_outputs, graph_shape):
        if not self._is_capsule():
            return super()._initialize_module(n_features, n_outputs, graph_shape)
        hidden = self._hidden_sizes()
        encoder, width = self._build_encoder(n_features)
        decoder = None
        if self.reconstruction_weight > 0:
            decoder = CapsuleDecoder(
                n_outputs,
                self.capsule_dim,
                list(reversed(hidden)),
                n_features,
                self.activation,
            )
        return CapsuleNetwork(
            encoder,
            width,
            n_outputs,
            self.capsule_dim,
            self._primary_capsules(),
            self.routing_iterations,
            decoder,
        )

    # ------------------------------------------------------------ fitting
    def _validate_fit_data(self, X, y, reset):
        X, y = self._validate_xy(X, y, reset)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _encode_targets(self, y, incremental):
        if incremental and hasattr(self, "classes_"):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y has labels {unknown.tolist()} that are not in classes_ "
                    f"{self.classes_.tolist()} given at the first partial_fit."
                )
        elif incremental:
            classes = self._partial_fit_classes
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit (all "
                    "labels that will ever appear), e.g. partial_fit(X, y, "
                    "classes=np.unique(y_all))."
                )
            self.classes_ = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y has labels {unknown.tolist()} that are not in classes="
                    f"{self.classes_.tolist()}."
                )
        else:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"Classifier can't train when only one class is present: y has the "
                f"single class {self.classes_.tolist()[0]!r}. A classifier needs at "
                "least two classes."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_outputs(self, X, y):
        return len(self.classes_)

    def _loss_scale(self, X, y, sample_weight):
        return 1.0  # the cross-entropy has no unit

    def _check_continued_targets(self, previous):
        fitted = previous.get("classes_")
        if fitted is not None and not np.array_equal(fitted, self.classes_):
            raise ValueError(
                f"Cannot continue training (warm_start): y has the classes "
                f"{self.classes_.tolist()} but the network was fitted on "
                f"{fitted.tolist()}, one output unit per class. Set "
                "warm_start=False to train a new network."
            )

    def _task_loss(self, output, target, x):
        if self._is_capsule():
            return capsule_loss(
                output, target, len(self.classes_), self.reconstruction_weight
            )
        return F.cross_entropy(output, target, reduction="none")

    def _mean_task_loss(self, output, target, x):
        if self._is_capsule():
            return self._task_loss(output, target, x).mean()
        return F.cross_entropy(output, target)

    def _validation_score(self, module, X, y, sample_weight=None):
        logits = self._predict_outputs(module, X, next(module.parameters()).device)
        return accuracy_score(
            y, logits.argmax(dim=1).numpy(), sample_weight=sample_weight
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 inside; sparse X is densified per batch).
        y : array-like of shape (n_samples,)
            Class labels of any sortable type.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss and the penalty.

        Returns
        -------
        self : GSRClassifier
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), starting from the current weights if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the labels; required on the first call, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GSRClassifier
        """
        self._partial_fit_classes = classes
        try:
            return self._fit(X, y, sample_weight, incremental=True)
        finally:
            del self._partial_fit_classes

    def _log_proba(self, outputs):
        outputs = outputs.double()
        if self._is_capsule():
            # capsule lengths, each in (0, 1), normalized to sum to one
            log_lengths = outputs.log()
            return log_lengths - log_lengths.logsumexp(dim=1, keepdim=True)
        return outputs.log_softmax(dim=1)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        With ``head="capsule"``: the class capsules' lengths normalized to sum to
        one (each length, in [0, 1), is the network's confidence that its class
        is present, independently of the others).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        X = self._check_fitted_input(X)
        return self._log_proba(self._outputs(X)).exp().numpy()

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._check_fitted_input(X)
        return self._log_proba(self._outputs(X)).numpy()

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        X = self._check_fitted_input(X)
        return self.classes_[self._outputs(X).argmax(dim=1).numpy()]


class GSRRegressor(GraphFeatureNamesMixin, RegressorMixin, _SupervisedGSR):
    __doc__ = (
        """Regressor whose hidden layer is a graph-structured activation map.

    The body of :class:`GSRClassifier` with a mean-squared-error loss and one
    output per target (single or multi-output ``y``).

    Parameters
    ----------"""
        + COMMON_PARAMETERS
        + _HEAD_DOC
        + """
    Attributes
    ----------"""
        + FITTED_ATTRIBUTES
        + """
    See Also
    --------
    GSRClassifier : The same structured layer trained for classification.
    sklearn.neural_network.MLPRegressor : An unstructured MLP regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr import GSRRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = X @ rng.normal(size=5)
    >>> reg = GSRRegressor(n_components=16, random_state=0).fit(X, y)
    >>> reg.predict(X).shape, reg.score(X, y) > 0.9
    ((200,), True)
    """
    )

    _min_validation_samples = 2
    _min_validation_reason = " (R^2 is undefined on a single sample)"

    def _validate_fit_data(self, X, y, reset):
        self._check_head_supported()
        X, y = self._validate_xy(X, y, reset, multi_output=True, y_numeric=True)
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self.n_outputs_ = n_outputs
            self._y_ndim = y.ndim
        elif n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} target(s) but the estimator was fitted on "
                f"{self.n_outputs_}."
            )
        return X, y

    def _encode_targets(self, y, incremental):
        check_float32_range(np.asarray(y), name="y")
        return np.asarray(y, dtype=np.float32).reshape(len(y), -1)

    def _n_outputs(self, X, y):
        return y.shape[1]

    def _check_continued_targets(self, previous):
        fitted = previous.get("n_outputs_")
        if fitted is not None and fitted != self.n_outputs_:
            raise ValueError(
                f"Cannot continue training (warm_start): y has {self.n_outputs_} "
                f"target(s) but the network was fitted on {fitted}, one output unit "
                "per target. Set warm_start=False to train a new network."
            )

    def _task_loss(self, output, target, x):
        return ((output - target) ** 2).mean(dim=1)

    def _mean_task_loss(self, output, target, x):
        return F.mse_loss(output, target)

    def _validation_score(self, module, X, y, sample_weight=None):
        outputs = self._predict_outputs(module, X, next(module.parameters()).device)
        return r2_score(y, outputs.double().numpy(), sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the regressor.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 inside; sparse X is densified per batch).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss and the penalty.

        Returns
        -------
        self : GSRRegressor
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), starting from the current weights if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GSRRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when the model was fitted on a 1-D ``y``.
        """
        X = self._check_fitted_input(X)
        outputs = self._outputs(X).double().numpy()
        return outputs.ravel() if self._y_ndim == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
