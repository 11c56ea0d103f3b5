"""The training loop shared by the GSR estimators.

:class:`BaseGSR` owns everything that is not specific to a task: parameter
validation, the graph and its penalty, the PyTorch module's life cycle, seeding,
the device, thread limits, minibatching, early stopping, warm starts,
``partial_fit``, the history, interruption and divergence handling. Its
subclasses choose the network's head and the loss (``_build_head``,
``_task_loss``), and how targets are encoded and outputs decoded.

The loop is split into small overridable steps in the manner of skorch
(``_initialize_module``, ``_train_step``, ``_run_epoch``, ``_evaluate``,
``_on_epoch_end``), so that a subclass can change one step.
"""

import copy
import os
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import joblib
import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import graphs
from ._network import ACTIVATIONS, GSRNetwork, make_mlp
from .filters import FILTER_NAMES
from .penalty import GraphPenalty

__all__ = ["BaseGSR"]

# Dense training data up to this size is moved to an accelerator once, instead
# of batch by batch.
_MAX_DEVICE_BYTES = 2**30

# Rows per forward pass at inference: large enough to amortize Python overhead,
# small enough to bound memory for wide layers.
_INFERENCE_BATCH = 4096

# Learned graphs kept in ``graph_history_`` (the most recent ones).
_GRAPH_HISTORY_SIZE = 50


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss; the estimator was left unchanged."""


# --------------------------------------------------------------------------- #
# Devices, threads, seeds
# --------------------------------------------------------------------------- #
def resolve_device(device):
    """``"auto"`` -> CUDA when available, else CPU; validate explicit devices."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Invalid device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return resolved


def thread_limit():
    """Threads torch may use here: ``OMP_NUM_THREADS`` if set, else the cores.

    joblib's process workers (loky) and dask's workers export
    ``OMP_NUM_THREADS`` so that parallel searches do not oversubscribe the
    machine; honouring it keeps ``GridSearchCV(n_jobs=-1)`` at one thread set
    per core.
    """
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, joblib.cpu_count())


@contextmanager
def torch_threads():
    """Bound torch's intra-op threads by :func:`thread_limit` for a block."""
    previous = torch.get_num_threads()
    limit = thread_limit()
    if limit < previous:
        torch.set_num_threads(limit)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _torch_seed(random_state):
    """A 31-bit seed for torch drawn from a numpy RandomState."""
    return int(random_state.randint(np.iinfo(np.int32).max))


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def _to_float32_tensor(X):
    """A float32 CPU tensor viewing ``X`` when it is float32 already (no copy)."""
    with warnings.catch_warnings():
        # read-only inputs (memmaps) are only ever read
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        if X.dtype == np.float32 and X.flags.c_contiguous:
            return torch.from_numpy(X)
        return torch.from_numpy(np.asarray(X, dtype=np.float32, order="C"))


class _Batches:
    """Rows of a dense or scipy sparse matrix as float32 tensors on a device.

    Dense float32 data is viewed, not copied; float64 data is cast once to float32
    (half its size). Sparse data stays sparse and is densified one batch at a time.
    """

    def __init__(self, X, device):
        self.device = device
        self.n_samples = X.shape[0]
        if sp.issparse(X):
            self.X = sp.csr_array(X)
            self.sparse = True
        else:
            tensor = _to_float32_tensor(X)
            if device.type != "cpu" and tensor.numel() * 4 <= _MAX_DEVICE_BYTES:
                tensor = tensor.to(device)
            self.X = tensor
            self.sparse = False

    def take(self, index):
        """Rows ``index`` (a CPU LongTensor) as a float32 tensor on the device."""
        if self.sparse:
            dense = self.X[index.numpy()].toarray().astype(np.float32, copy=False)
            return torch.from_numpy(dense).to(self.device, non_blocking=True)
        if self.X.device != index.device:
            index = index.to(self.X.device, non_blocking=True)
        return self.X.index_select(0, index).to(self.device, non_blocking=True)

    def slices(self, batch_size):
        """Consecutive row blocks, in order, as float32 tensors on the device."""
        for start in range(0, self.n_samples, batch_size):
            stop = min(start + batch_size, self.n_samples)
            if self.sparse:
                block = self.X[start:stop].toarray().astype(np.float32, copy=False)
                yield torch.from_numpy(block).to(self.device, non_blocking=True)
            else:
                yield self.X[start:stop].to(self.device, non_blocking=True)


def _dense_rows(X, device, batch_size=_INFERENCE_BATCH):
    """Iterate over ``X`` in row blocks without a full float32 copy."""
    if sp.issparse(X):
        yield from _Batches(X, device).slices(batch_size)
        return
    for start in range(0, X.shape[0], batch_size):
        block = _to_float32_tensor(np.ascontiguousarray(X[start : start + batch_size]))
        yield block.to(device, non_blocking=True)


# --------------------------------------------------------------------------- #
# Training state
# --------------------------------------------------------------------------- #
class _TrainState:
    """What one ``fit`` builds, committed to the estimator only when fit ends well."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


_COMMON_PARAMETERS_DOC = """
    n_components : int, default=64
        Width of the structured layer: one neuron per node of the graph.
    hidden_layer_sizes : array-like of int, default=(128,)
        Widths of the hidden layers between the input and the structured layer
        (mirrored in the autoencoder's decoder).
    graph : str, array-like, scipy sparse matrix or networkx.Graph, default="grid"
        The graph over the structured neurons: a name of
        :func:`skgsr.graphs.make_graph` (``"grid"``, ``"torus"``, ``"line"``,
        ``"ring"``, ``"lines"``, ``"rings"``, ``"tree"``, ``"star"``,
        ``"ladder"``), ``"learned"`` (built from the neurons' co-activations during
        training), or an ``n_components x n_components`` adjacency.
    graph_shape : tuple of int, default=None
        ``(h, w)`` layout of the graph (see :func:`skgsr.graphs.make_graph`);
        ``h * w`` must equal ``n_components``. None infers it (the most square grid
        for ``"grid"`` and ``"torus"``).
    filter : {"laplacian", "rayleigh", "heat", "wavelet"} or callable, \
default="laplacian"
        The graph filter of the penalty (see :class:`skgsr.penalty.GraphPenalty`).
    alpha : float, default=1e-3
        Strength of the graph penalty; 0 trains an unregularized network.
    laplacian : {"auto", "combinatorial", "normalized"}, default="auto"
        Laplacian of the penalty. ``"auto"``: combinatorial ``D - A`` for
        predefined and given graphs, normalized for ``graph="learned"``.
    filter_scale : float or array-like of float, default=None
        Diffusion time of ``"heat"``, scale(s) of ``"wavelet"``; None derives them
        from the largest Laplacian eigenvalue.
    filter_method : {"auto", "exact", "chebyshev"}, default="auto"
        How the spectral filters apply ``g(L)``.
    filter_order : int, default=30
        Degree of the Chebyshev approximation.
    n_neighbors : int, default=5
        Neighbours per neuron in the learned graph.
    graph_warmup : int, default=10
        Epochs trained without penalty before the first learned graph.
    graph_update_interval : int, default=5
        Epochs between two rebuilds of the learned graph.
    graph_n_samples : int, default=1000
        Training samples encoded to build the learned graph.
    graph_kernel : {"binary", "gaussian"}, default="binary"
        Edge weights of the learned kNN graph.
    activation : str, default="relu"
        Activation of the hidden layers: ``"relu"``, ``"tanh"``, ``"logistic"``,
        ``"identity"``, ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"softplus"``.
    embedding_activation : str, default="auto"
        Activation of the structured layer; ``"auto"`` is ``"identity"`` for the
        autoencoder and ``activation`` for the supervised estimators.
    solver : {"adam", "adamw", "sgd"}, default="adam"
        Optimizer (``"sgd"`` with Nesterov momentum 0.9).
    learning_rate_init : float, default=1e-3
        Learning rate.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or of the validation score with
        ``early_stopping``) that resets the patience counter.
    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before training stops.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its score
        stops improving, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    weight_decay : float, default=0.0
        L2 penalty on the weights (the optimizer's weight decay).
    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting anew.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling and the validation split; the same value
        gives identical results on the same machine.
    verbose : int, default=0
        1 prints one line per epoch (loss, penalty, validation score, time).
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available).
"""

_FITTED_ATTRIBUTES_DOC = """
    feature_graph_ : scipy.sparse.csr_array of shape (n_components, n_components)
        The graph over the structured neurons: the predefined or given graph, or
        the learned one at the end of fit.
    laplacian_ : scipy.sparse.csr_array of shape (n_components, n_components)
        Laplacian of ``feature_graph_`` used by the penalty.
    graph_shape_ : tuple of int
        ``(h, w)`` layout of the structured layer (``h * w == n_components``), to
        reshape activations into maps.
    module_ : torch.nn.Module
        The trained network (``encoder``, ``structured``, ``head``).
    penalty_ : skgsr.penalty.GraphPenalty
        The graph penalty on the structured layer.
    loss_curve_ : list of float
        Training objective (task loss + ``alpha`` x penalty) per epoch.
    penalty_curve_ : list of float
        Graph penalty (without ``alpha``) of the structured layer per epoch;
        NaN while a learned graph is warming up.
    validation_scores_ : list of float or None
        Validation score per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``task_loss``, ``penalty``,
        ``validation_score``, ``duration``.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
"""


class BaseGSR(TransformerMixin, BaseEstimator):
    """Shared machinery of the GSR estimators; not to be used directly."""

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "graph": [
            StrOptions(set(graphs.GRAPH_NAMES) | {"learned"}),
            "array-like",
            "sparse matrix",
            HasMethods(["nodes", "edges"]),
        ],
        "graph_shape": [None, "array-like", Interval(Integral, 1, None, closed="left")],
        "filter": [StrOptions(set(FILTER_NAMES)), callable],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "laplacian": [StrOptions({"auto", *graphs.LAPLACIAN_KINDS})],
        "filter_scale": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
        "filter_method": [StrOptions({"auto", "exact", "chebyshev"})],
        "filter_order": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "graph_warmup": [Interval(Integral, 0, None, closed="left")],
        "graph_update_interval": [Interval(Integral, 1, None, closed="left")],
        "graph_n_samples": [Interval(Integral, 1, None, closed="left")],
        "graph_kernel": [StrOptions({"binary", "gaussian"})],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "embedding_activation": [StrOptions({"auto", *ACTIVATIONS})],
        "solver": [StrOptions({"adam", "adamw", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
    }

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(128,),
        graph="grid",
        graph_shape=None,
        filter="laplacian",
        alpha=1e-3,
        laplacian="auto",
        filter_scale=None,
        filter_method="auto",
        filter_order=30,
        n_neighbors=5,
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="binary",
        activation="relu",
        embedding_activation="auto",
        solver="adam",
        learning_rate_init=1e-3,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        weight_decay=0.0,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="auto",
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.graph = graph
        self.graph_shape = graph_shape
        self.filter = filter
        self.alpha = alpha
        self.laplacian = laplacian
        self.filter_scale = filter_scale
        self.filter_method = filter_method
        self.filter_order = filter_order
        self.n_neighbors = n_neighbors
        self.graph_warmup = graph_warmup
        self.graph_update_interval = graph_update_interval
        self.graph_n_samples = graph_n_samples
        self.graph_kernel = graph_kernel
        self.activation = activation
        self.embedding_activation = embedding_activation
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.weight_decay = weight_decay
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    # ================================================================ hooks
    # What a subclass decides: the head, the loss, the targets, the score.
    _default_embedding_activation = "identity"
    _supports_early_stopping_stratify = False

    def _n_outputs(self, X, y):
        """Width of the head's output."""
        raise NotImplementedError

    def _build_head(self, n_features, n_outputs, graph_shape):
        """The module from the structured layer to the output."""
        raise NotImplementedError

    def _encode_targets(self, y, incremental):
        """Targets as a numpy array the loss understands (None for autoencoders)."""
        return y

    def _task_loss(self, output, target, x):
        """Per-sample task loss, shape ``(B,)``."""
        raise NotImplementedError

    def _validation_score(self, module, X, y, sample_weight=None):
        """Score of ``module`` on held-out data (higher is better)."""
        raise NotImplementedError

    # ============================================================ graph
    def _resolved_laplacian(self):
        if self.laplacian != "auto":
            return self.laplacian
        return "normalized" if self._graph_is_learned() else "combinatorial"

    def _graph_is_learned(self):
        return isinstance(self.graph, str) and self.graph == "learned"

    def _check_graph_shape(self):
        """``graph_shape`` as a tuple whose product is ``n_components`` (or None)."""
        if self.graph_shape is None:
            return None
        shape = np.atleast_1d(np.asarray(self.graph_shape))
        if shape.ndim != 1 or len(shape) not in (1, 2) or shape.dtype.kind not in "iu":
            raise ValueError(
                f"graph_shape must be None, an int or a tuple (h, w) of ints; got "
                f"{self.graph_shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if min(shape) < 1:
            raise ValueError(f"graph_shape must be positive, got {self.graph_shape!r}.")
        if len(shape) == 1:
            shape = (1, shape[0])
        if shape[0] * shape[1] != self.n_components:
            raise ValueError(
                f"graph_shape={self.graph_shape!r} has {shape[0] * shape[1]} nodes but "
                f"n_components={self.n_components}: one node per structured neuron, so "
                "h * w must equal n_components. Change graph_shape or n_components, "
                "or leave graph_shape=None to infer it."
            )
        return shape

    def _initial_graph(self):
        """``(adjacency or None, graph_shape_)`` for the graph hyperparameter."""
        shape = self._check_graph_shape()
        n = self.n_components
        if self._graph_is_learned():
            return None, shape or _display_shape(n)
        if isinstance(self.graph, str):
            layout = graphs.resolve_graph_shape(self.graph, shape or n)
            if layout[0] * layout[1] != n:
                raise ValueError(
                    f"graph={self.graph!r} with graph_shape={self.graph_shape!r} has "
                    f"{layout[0] * layout[1]} nodes but n_components={n}."
                )
            return graphs.make_graph(self.graph, layout), layout
        adjacency = graphs.check_adjacency(self.graph, n_nodes=n)
        return adjacency, shape or _display_shape(n)

    def _make_penalty(self, adjacency):
        return GraphPenalty(
            adjacency,
            filter=self.filter,
            laplacian=self._resolved_laplacian(),
            scale=self.filter_scale,
            method=self.filter_method,
            order=self.filter_order,
        )

    # ============================================================ module
    def _embedding_activation(self):
        if self.embedding_activation != "auto":
            return self.embedding_activation
        if self._default_embedding_activation == "activation":
            return self.activation
        return self._default_embedding_activation

    def _hidden_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes)).ravel()
        if sizes.size and (sizes.dtype.kind not in "iu" or np.any(sizes < 1)):
            raise ValueError(
                "hidden_layer_sizes must be positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _initialize_module(self, n_features, n_outputs, graph_shape):
        """Build the network (weights seeded by the caller)."""
        hidden = self._hidden_sizes()
        encoder = make_mlp([n_features, *hidden], self.activation, self.activation)
        width = hidden[-1] if hidden else n_features
        structured = make_mlp(
            [width, self.n_components], self.activation, self._embedding_activation()
        )
        head = self._build_head(n_features, n_outputs, graph_shape)
        return GSRNetwork(encoder, structured, head)

    def _make_optimizer(self, module):
        params = module.parameters()
        lr, decay = self.learning_rate_init, self.weight_decay
        if self.solver == "sgd":
            return torch.optim.SGD(
                params, lr=lr, momentum=0.9, nesterov=True, weight_decay=decay
            )
        if self.solver == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)

    # ============================================================ fitting
    def _validate_fit_data(self, X, y, reset):
        raise NotImplementedError

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _new_state(self, X, y, incremental):
        """Fresh or continued training state for this call of fit/partial_fit."""
        device = resolve_device(self.device)
        continuing = (incremental or self.warm_start) and hasattr(self, "module_")
        if continuing:
            # work on copies: a failed fit must leave the fitted estimator as it was
            state = _TrainState(
                module=copy.deepcopy(self.module_).to(device),
                penalty=copy.deepcopy(self.penalty_),
                adjacency=self.feature_graph_,
                graph_shape=self.graph_shape_,
                loss_curve=list(self.loss_curve_),
                penalty_curve=list(self.penalty_curve_),
                history=list(self.history_),
                validation_scores=(
                    None
                    if self.validation_scores_ is None
                    else list(self.validation_scores_)
                ),
                best_validation_score=self.best_validation_score_,
                n_iter=self.n_iter_,
                graph_history=list(getattr(self, "graph_history_", [])),
                graph_updates=getattr(self, "_graph_updates", 0),
                generator_state=getattr(self, "_generator_state", None),
                optimizer_state=copy.deepcopy(getattr(self, "_optimizer_state", None)),
            )
            if state.penalty is not None:
                state.penalty = state.penalty.to(device)
        else:
            rng = check_random_state(self.random_state)
            seed = _torch_seed(rng)
            adjacency, shape = self._initial_graph()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                module = self._initialize_module(
                    X.shape[1], self._n_outputs(X, y), shape
                )
            state = _TrainState(
                module=module.to(device),
                penalty=None,
                adjacency=adjacency,
                graph_shape=shape,
                loss_curve=[],
                penalty_curve=[],
                history=[],
                validation_scores=None,
                best_validation_score=None,
                n_iter=0,
                graph_history=[],
                graph_updates=0,
                generator_state=None,
                optimizer_state=None,
                seed=seed,
            )
            if adjacency is not None:
                state.penalty = self._make_penalty(adjacency).to(device)
        if self.early_stopping and not incremental and state.validation_scores is None:
            state.validation_scores = []
        state.device = device
        state.optimizer = self._make_optimizer(state.module)
        if state.optimizer_state is not None and (incremental or self.warm_start):
            state.optimizer.load_state_dict(state.optimizer_state)
        state.generator = torch.Generator()
        if state.generator_state is not None:
            state.generator.set_state(state.generator_state)
        else:
            seed = getattr(state, "seed", None)
            if seed is None:
                seed = _torch_seed(check_random_state(self.random_state))
            state.generator.manual_seed(seed + 1)
        return state

    def _fit(self, X, y=None, sample_weight=None, incremental=False):
        """Validate, train, and commit the new fitted state, or leave all as it was.

        Everything a failed call could have set (``n_features_in_``, ``classes_``
        ...) is restored, so that a refit that raises keeps the previous model.
        """
        saved = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental):
        first_call = not (incremental and hasattr(self, "module_"))
        X, y = self._validate_fit_data(X, y, reset=first_call)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32)
        y = self._encode_targets(y, incremental=incremental)
        with torch_threads():
            state = self._new_state(X, y, incremental)
            self._train(state, X, y, sample_weight, incremental)
        self._commit(state)
        return self

    def _split_validation(self, X, y, sample_weight, state):
        if not (self.early_stopping and state.validation_scores is not None):
            return (X, y, sample_weight), None
        rng = check_random_state(self.random_state)
        stratify = y if self._supports_early_stopping_stratify else None
        index = np.arange(X.shape[0])
        try:
            train_idx, val_idx = train_test_split(
                index,
                test_size=self.validation_fraction,
                random_state=rng,
                stratify=stratify,
            )
        except ValueError:
            # too few samples of some class to stratify: split at random
            train_idx, val_idx = train_test_split(
                index, test_size=self.validation_fraction, random_state=rng
            )
        if len(train_idx) < 1 or len(val_idx) < 1:
            raise ValueError(
                f"early_stopping needs at least one training and one validation "
                f"sample; with {X.shape[0]} samples and validation_fraction="
                f"{self.validation_fraction} one side is empty. Use more samples or "
                "early_stopping=False."
            )

        def take(a, idx):
            return None if a is None else a[idx]

        train = (X[train_idx], take(y, train_idx), take(sample_weight, train_idx))
        val = (X[val_idx], take(y, val_idx), take(sample_weight, val_idx))
        return train, val

    def _train(self, state, X, y, sample_weight, incremental):
        (X_train, y_train, w_train), validation = self._split_validation(
            X, y, sample_weight, state
        )
        data = _Batches(X_train, state.device)
        targets = None if y_train is None else torch.as_tensor(y_train).to(state.device)
        weights = (
            None
            if w_train is None
            else torch.as_tensor(w_train, dtype=torch.float32).to(state.device)
        )
        batch_size = self._batch_size(data.n_samples)
        n_epochs = 1 if incremental else self.max_iter
        best_loss, best_score, stall = np.inf, -np.inf, 0
        best_state_dict = None
        last_good = _snapshot(state.module)
        converged = False
        if self.verbose:
            print(f"{'epoch':>6} {'loss':>12} {'penalty':>12} {'valid':>10} {'dur':>7}")
        for _ in range(n_epochs):
            epoch = state.n_iter
            self._on_epoch_start(state, data, epoch)
            start = time.perf_counter()
            try:
                loss, task_loss, penalty = self._run_epoch(
                    state, data, targets, weights, batch_size
                )
            except KeyboardInterrupt:
                if epoch == 0 or state.n_iter == 0:
                    raise
                warnings.warn(
                    f"fit was interrupted during epoch {epoch + 1}; keeping the model "
                    f"trained for {state.n_iter} epoch(s).",
                    UserWarning,
                    stacklevel=4,
                )
                state.module.load_state_dict(last_good)
                break
            score = None
            if validation is not None:
                X_val, y_val, w_val = validation
                score = float(self._validation_score(state.module, X_val, y_val, w_val))
                state.validation_scores.append(score)
            state.n_iter += 1
            state.loss_curve.append(loss)
            state.penalty_curve.append(penalty)
            duration = time.perf_counter() - start
            state.history.append(
                {
                    "epoch": state.n_iter,
                    "loss": loss,
                    "task_loss": task_loss,
                    "penalty": penalty,
                    "validation_score": score,
                    "duration": duration,
                }
            )
            if self.verbose:
                valid = "" if score is None else f"{score:.4f}"
                print(
                    f"{state.n_iter:>6} {loss:>12.6g} {penalty:>12.6g} {valid:>10} "
                    f"{duration:>6.2f}s",
                    flush=True,
                )
            last_good = _snapshot(state.module)
            if incremental:
                continue
            # stopping rule of scikit-learn's MLP: n_iter_no_change epochs without
            # improving the best loss (or validation score) by tol
            if validation is not None:
                if score > best_score + self.tol:
                    stall = 0
                else:
                    stall += 1
                if score > best_score:
                    best_score = score
                    best_state_dict = last_good
            else:
                stall = 0 if loss < best_loss - self.tol else stall + 1
                best_loss = min(best_loss, loss)
            if stall >= self.n_iter_no_change:
                converged = True
                if self.verbose:
                    print(
                        f"Stopping: no improvement by tol={self.tol} for "
                        f"{self.n_iter_no_change} epochs."
                    )
                break
        else:
            if not incremental and not converged:
                warnings.warn(
                    f"Stopped at max_iter={self.max_iter} epochs without converging "
                    f"(tol={self.tol}); consider increasing max_iter.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
        if best_state_dict is not None:
            state.module.load_state_dict(best_state_dict)
            state.best_validation_score = best_score
        self._on_fit_end(state, data)

    def _run_epoch(self, state, data, targets, weights, batch_size):
        """One pass over the data in shuffled minibatches; returns epoch means."""
        module = state.module
        module.train()
        order = torch.randperm(data.n_samples, generator=state.generator)
        totals = torch.zeros(3, dtype=torch.float64, device=state.device)
        # On CPU a finiteness test per batch costs nothing and stops a diverging fit
        # at once; on an accelerator it would sync every batch, so it runs per epoch
        # (the diverged weights are discarded either way).
        check_each_batch = state.device.type == "cpu"
        for start in range(0, data.n_samples, batch_size):
            index = order[start : start + batch_size]
            xb = data.take(index)
            tb = None if targets is None else targets[index.to(targets.device)]
            wb = None if weights is None else weights[index.to(weights.device)]
            loss, task_loss, penalty = self._train_step(state, xb, tb, wb)
            if check_each_batch and not torch.isfinite(loss):
                self._raise_divergence(float(loss), state)
            totals += torch.stack([loss, task_loss, penalty]) * len(index)
        state.generator_state = state.generator.get_state()
        # one host sync per epoch, not per batch
        loss, task_loss, penalty = (totals / data.n_samples).tolist()
        if not np.isfinite(loss):
            self._raise_divergence(loss, state)
        if not self._penalty_active(state):
            penalty = float("nan")
        return loss, task_loss, penalty

    def _raise_divergence(self, loss, state):
        raise DivergenceError(
            f"The training loss became non-finite ({loss}) in epoch "
            f"{state.n_iter + 1}; training stopped and the estimator was left "
            "unchanged. Likely causes: a learning rate too high (learning_rate_init="
            f"{self.learning_rate_init}), unscaled input features (standardize X, "
            "e.g. with StandardScaler in a Pipeline), or alpha too large "
            f"(alpha={self.alpha})."
        )

    def _penalty_active(self, state):
        return state.penalty is not None

    def _train_step(self, state, xb, tb, wb):
        """Forward, loss, backward and optimizer step on one minibatch.

        Returns the detached objective, task loss and penalty of the batch.
        """
        output, z = state.module(xb)
        per_sample = self._task_loss(output, tb, xb)
        if wb is None:
            task_loss = per_sample.mean()
        else:
            task_loss = (per_sample * wb).sum() / wb.sum()
        if state.penalty is not None and self.alpha > 0:
            penalty = state.penalty(z, wb)
            loss = task_loss + self.alpha * penalty
        else:
            loss = task_loss
            if state.penalty is not None:
                # alpha == 0: the penalty is only measured, not trained on
                with torch.no_grad():
                    penalty = state.penalty(z.detach(), wb)
            else:
                penalty = torch.zeros((), device=z.device)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        return loss.detach(), task_loss.detach(), penalty.detach()

    def _on_epoch_start(self, state, data, epoch):
        """Hook before each epoch: rebuild the learned graph on its schedule.

        No penalty for the first ``graph_warmup`` epochs, then a new graph before
        epoch ``graph_warmup`` and every ``graph_update_interval`` epochs after.
        """
        if not self._graph_is_learned() or epoch < self.graph_warmup:
            return
        if (epoch - self.graph_warmup) % self.graph_update_interval == 0:
            self._rebuild_graph(state, data)

    def _on_fit_end(self, state, data):
        """Hook after the last epoch: a learned graph exists even after a short fit."""
        if self._graph_is_learned() and state.adjacency is None:
            self._rebuild_graph(state, data)

    def _rebuild_graph(self, state, data):
        """Encode up to ``graph_n_samples`` training rows and rebuild the kNN graph."""
        n_samples = min(self.graph_n_samples, data.n_samples)
        index = torch.randperm(data.n_samples, generator=state.generator)[:n_samples]
        state.module.eval()
        with torch.no_grad():
            activations = torch.cat(
                [
                    state.module.embed(data.take(chunk)).cpu()
                    for chunk in index.split(_INFERENCE_BATCH)
                ]
            ).numpy()
        state.module.train()
        adjacency = graphs.coactivation_graph(
            activations, n_neighbors=self.n_neighbors, kernel=self.graph_kernel
        )
        if state.penalty is None:
            state.penalty = self._make_penalty(adjacency).to(state.device)
        else:
            state.penalty.set_graph(adjacency)
        state.adjacency = adjacency
        state.graph_updates += 1
        state.graph_history.append(adjacency)
        del state.graph_history[:-_GRAPH_HISTORY_SIZE]

    def _commit(self, state):
        """Publish the trained state as fitted attributes."""
        module = state.module.eval()
        self.module_ = module
        self.penalty_ = state.penalty
        self.feature_graph_ = state.adjacency
        self.laplacian_ = (
            None
            if state.adjacency is None
            else graphs.laplacian(state.adjacency, self._resolved_laplacian())
        )
        self.graph_shape_ = state.graph_shape
        self.loss_curve_ = state.loss_curve
        self.penalty_curve_ = state.penalty_curve
        self.history_ = state.history
        self.validation_scores_ = state.validation_scores
        self.best_validation_score_ = state.best_validation_score
        self.n_iter_ = state.n_iter
        self._generator_state = state.generator_state
        self._optimizer_state = state.optimizer.state_dict()
        if self._graph_is_learned():
            self.graph_history_ = state.graph_history
            self._graph_updates = state.graph_updates

    # ============================================================ inference
    def _predict_outputs(self, module, X, device):
        """Head outputs for all rows of X (no gradient), as a CPU tensor."""
        module.eval()
        outputs = []
        with torch.no_grad():
            for block in _dense_rows(X, device):
                outputs.append(module(block)[0].float().cpu())
        module.train()
        return torch.cat(outputs) if outputs else torch.empty(0)

    def _check_fitted_input(self, X):
        check_is_fitted(self, "module_")
        return validate_data(
            self,
            X,
            accept_sparse=("csr", "csc", "coo"),
            dtype=(np.float32, np.float64),
            reset=False,
        )

    def _module_device(self):
        return next(self.module_.parameters()).device

    def _embed(self, X):
        """Structured-layer activations of validated X, float32 numpy."""
        module = self.module_
        device = self._module_device()
        out = []
        with torch_threads(), torch.no_grad():
            for block in _dense_rows(X, device):
                out.append(module.embed(block).cpu())
        if not out:
            return np.empty((0, self.n_components), dtype=np.float32)
        return torch.cat(out).numpy()

    def _outputs(self, X):
        with torch_threads():
            return self._predict_outputs(self.module_, X, self._module_device())

    def transform(self, X):
        """Activations of the structured layer: the graph signal of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            One value per structured neuron; ``Z.reshape(-1, *graph_shape_)`` gives
            the activation maps.
        """
        X = self._check_fitted_input(X)
        return self._embed(X)

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # computations run in float32 and transform returns float32 whatever X is
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _snapshot(module):
    """A detached copy of the module's weights."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _factorizable(n):
    try:
        graphs.infer_grid_shape(n)
    except ValueError:
        return False
    return True


def _display_shape(n):
    """A layout for maps of a graph with no geometry of its own."""
    return graphs.infer_grid_shape(n) if _factorizable(n) else (1, n)
