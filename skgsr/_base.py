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
import math
import os
import threading
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
    """Training produced a non-finite loss; the estimator was left unchanged.

    Raised by ``fit`` and ``partial_fit`` at the first batch whose loss is not
    finite (on CPU; once per epoch on an accelerator), or when the loss with the
    final weights is not finite. The message names the likely causes: a learning
    rate too high, unscaled input, or ``alpha`` too large. A subclass of
    :class:`FloatingPointError`.
    """


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


def available_device(device):
    """``device`` if it exists on this machine, else the CPU.

    Where a model fitted on ``device`` goes when it is loaded or unpickled: a
    model fitted on ``"cuda:1"`` loads on the CPU of a machine without CUDA (or
    with a single GPU).
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index or 0
        if torch.cuda.is_available() and index < torch.cuda.device_count():
            return device
        return torch.device("cpu")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return device if mps is not None and mps.is_available() else torch.device("cpu")
    return device


def tensors_to(obj, device):
    """A copy of nested dicts, lists and tuples with every tensor on ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: tensors_to(value, device) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(tensors_to(value, device) for value in obj)
    return obj


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


# Serializes the read-modify-write of torch's thread setting by concurrent fits
# and predictions (see torch_threads).
_THREADS_LOCK = threading.Lock()


@contextmanager
def torch_threads():
    """Bound torch's intra-op threads by :func:`thread_limit` for a block.

    Safe under concurrency: the setting is changed only when it exceeds the
    limit, and restored only by the call that changed it. (Restoring whenever
    the value differs from the one seen on entry, as a naive version would,
    lets two overlapping calls leave the process at the lower setting for good
    when torch's setting is process-wide, as with its native thread pool; with
    OpenMP it is per thread, and each thread restores its own.)
    """
    limit = thread_limit()
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        changed = limit < previous
        if changed:
            torch.set_num_threads(limit)
    try:
        yield
    finally:
        if changed:
            with _THREADS_LOCK:
                torch.set_num_threads(previous)


@contextmanager
def evaluation_mode(module):
    """Put a module in eval mode for a block, then back in the mode it was in.

    Only training code uses this, on the module being trained. Inference on a
    fitted ``module_`` (always in eval mode) never switches modes: mutating the
    shared module would race with other threads predicting at the same time.
    """
    was_training = module.training
    if was_training:
        module.eval()
    try:
        yield module
    finally:
        if was_training:
            module.train()


def fused_optimizer_kwargs(device):
    """``{"fused": True}`` where torch has fused Adam/AdamW/SGD kernels for ``device``.

    A fused step updates every parameter in one kernel instead of a few
    ``foreach`` kernels per parameter group: the same arithmetic, less
    per-step overhead, which matters for the small networks GSR is used with.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        supported = _get_fused_kernels_supported_devices()
    except (ImportError, TypeError):  # pragma: no cover - a private torch helper
        supported = ["cuda"]
    return {"fused": True} if device.type in supported else {}


def _torch_seed(random_state):
    """A 31-bit seed for torch drawn from a numpy RandomState."""
    return int(random_state.randint(np.iinfo(np.int32).max))


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
# scikit-learn's validation names the problem; these add what to do about it.
# The original message is kept in front (scikit-learn's own checks match on it).
_INPUT_HINTS = (
    (
        ("could not convert string to float", "argument must be a string or a"),
        "skgsr estimators need numeric X: encode string or categorical columns "
        "first (e.g. OneHotEncoder or OrdinalEncoder in a ColumnTransformer).",
    ),
    (
        ("Input y contains NaN", "Input y contains infinity"),
        "Every target must be a finite number: drop the samples whose target is "
        "missing.",
    ),
    (
        ("contains infinity",),
        "Replace the infinite values or drop those samples; huge values also "
        "call for scaling X (e.g. StandardScaler in a Pipeline).",
    ),
)


@contextmanager
def explain_input_errors():
    """Append a fix to scikit-learn's input validation errors that lack one."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if type(exc) not in (ValueError, TypeError):
            raise
        message = str(exc)
        for patterns, hint in _INPUT_HINTS:
            if any(p in message for p in patterns):
                raise type(exc)(f"{message} {hint}") from exc
        raise


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
    ``rows`` (optional) selects the rows that make up the data set without copying
    them: index ``i`` is row ``rows[i]`` of ``X``.
    """

    def __init__(self, X, device, rows=None):
        self.device = device
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        self.n_samples = X.shape[0] if rows is None else len(self.rows)
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
        if self.rows is not None:
            index = self.rows[index]
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
            if self.rows is not None:
                yield self.take(torch.arange(start, stop))
            elif self.sparse:
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
class _LossMeter:
    """Sample-weighted sums of the batch losses of one epoch.

    ``eager=True`` (CPU) reads each batch's scalars at once: that costs a few
    microseconds, there being no device to wait for, and lets a diverging fit
    stop at its first non-finite batch. Otherwise (an accelerator) the values stay
    on the device and are read in one host sync by :meth:`means`, since a read per
    batch would stall the device's queue every batch.
    """

    def __init__(self, eager):
        self.eager = eager
        self.sums = [0.0, 0.0, 0.0]
        self.pending = []
        self.sizes = []

    def add(self, loss, task_loss, penalty, n):
        """Record one batch of ``n`` samples (``penalty`` None when unmeasured).

        Returns the batch's loss as a float when eager, else None.
        """
        if not self.eager:
            if penalty is None:
                penalty = torch.zeros_like(loss)
            self.pending.append(torch.stack([loss, task_loss, penalty]))
            self.sizes.append(n)
            return None
        value = loss.item()
        self.sums[0] += value * n
        self.sums[1] += task_loss.item() * n
        if penalty is not None:
            self.sums[2] += penalty.item() * n
        return value

    def means(self, n_samples, penalty_total=None):
        """``(loss, task_loss, penalty)`` means over the epoch's samples.

        ``penalty_total`` replaces the penalty's sum when it was measured apart
        (:class:`_PenaltyMonitor`).
        """
        sums = list(self.sums)
        if self.pending:
            per_batch = torch.stack(self.pending).double()
            counts = torch.tensor(
                self.sizes, dtype=torch.float64, device=per_batch.device
            )
            sums = (counts @ per_batch).tolist()
        if penalty_total is not None:
            sums[2] = penalty_total
        return tuple(total / n_samples for total in sums)


class _PenaltyMonitor:
    """The penalty measured but not trained on (``alpha=0``), many batches per call.

    Measuring each minibatch as it passes costs a fixed ~50 microseconds of call
    overhead per batch, about a tenth of a training step of a small network.
    The detached activations are gathered instead, up to ``max_values`` numbers
    (4 MB of float32), and measured in one call. The result is the same: the sum
    over batches of each batch's (weighted) mean penalty times its size.
    """

    def __init__(self, penalty, max_values=1 << 20):
        self.penalty = penalty
        self.max_values = max_values
        self.total = None
        self._reset()

    def _reset(self):
        self.activations, self.weights, self.sizes, self.values = [], [], [], 0

    def add(self, z, sample_weight):
        self.activations.append(z.detach())
        self.weights.append(sample_weight)
        self.sizes.append(len(z))
        self.values += z.numel()
        if self.values >= self.max_values:
            self.flush()

    def flush(self):
        if not self.activations:
            return
        with torch.no_grad():
            batch = self.activations
            z = batch[0] if len(batch) == 1 else torch.cat(batch)
            penalties = self.penalty.per_sample(z)
            if all(w is None for w in self.weights):
                total = penalties.sum()
            else:
                # each batch's weighted mean, counted for the batch's size
                total = sum(
                    n * (p.mean() if w is None else (p * w).sum() / w.sum())
                    for p, w, n in zip(
                        penalties.split(self.sizes),
                        self.weights,
                        self.sizes,
                        strict=True,
                    )
                )
        total = total.double()
        self.total = total if self.total is None else self.total + total
        self._reset()

    def result(self):
        """Sum over the batches of ``size * mean penalty``, as a float."""
        self.flush()
        return 0.0 if self.total is None else float(self.total)


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
    filter : {"laplacian", "rayleigh", "heat", "wavelet", "mexican_hat"} or \
callable, default="laplacian"
        The graph filter of the penalty (see :class:`skgsr.penalty.GraphPenalty`).
    alpha : float, default=1e-3
        Strength of the graph penalty; 0 trains an unregularized network.
    laplacian : {"auto", "combinatorial", "normalized"}, default="auto"
        Laplacian of the penalty. ``"auto"``: combinatorial ``D - A`` for
        predefined and given graphs, normalized for ``graph="learned"``.
    filter_scale : float or array-like of float, default=None
        Diffusion time of ``"heat"``, scale(s) of ``"wavelet"`` and
        ``"mexican_hat"``; None derives them from the largest Laplacian
        eigenvalue.
    filter_method : {"auto", "exact", "chebyshev"}, default="auto"
        How the spectral filters apply ``g(L)``.
    filter_order : int, default=30
        Degree of the Chebyshev approximation.
    filter_center : bool, default=False
        Centre each sample's activations over the neurons before the filter
        (:class:`skgsr.penalty.GraphPenalty` ``center``): with
        ``filter="rayleigh"`` this is the centred, scale-free Rayleigh quotient,
        blind to a common offset of all neurons.
    n_neighbors : int, default=5
        Neighbours per neuron in the learned graph.
    graph_warmup : int, default=10
        Epochs trained without penalty before the first learned graph.
    graph_update_interval : int, default=5
        Epochs between two rebuilds of the learned graph: a graph is built before
        epoch ``graph_warmup`` (counting from 0) and every
        ``graph_update_interval`` epochs after. Epochs are counted over
        ``warm_start`` fits and ``partial_fit`` calls (one call is one epoch), so
        a continued fit continues the schedule.
    graph_n_samples : int, default=1000
        Training samples encoded to build the learned graph (all of them when
        there are fewer). ``partial_fit`` encodes rows of the X of the call that
        triggers a rebuild, so chunks smaller than ``graph_n_samples`` give a
        noisier graph.
    graph_kernel : {"gaussian", "binary"}, default="gaussian"
        Edge weights of the learned kNN graph: a Gaussian kernel with adaptive
        bandwidth, or unit weights (see :func:`skgsr.graphs.coactivation_graph`).
    graph_metric : {"correlation", "cosine", "euclidean"}, default="correlation"
        Distance between neurons in the learned graph: ``"correlation"`` joins
        neurons whose activations rise and fall together whatever their offset
        and scale (see :func:`skgsr.graphs.coactivation_graph`).
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
    graph_history_ : list of scipy.sparse.csr_array
        With ``graph="learned"``: the learned graphs in the order they were
        built (the last 50), to watch the structure form;
        ``graph_history_[-1]`` is ``feature_graph_`` unless early stopping
        restored the graph of an earlier epoch.
    graph_history_epochs_ : list of int
        With ``graph="learned"``: for each graph of ``graph_history_``, the number
        of epochs trained before it was built.
    inactive_neurons_ : ndarray of int
        With ``graph="learned"``: the structured neurons whose activation did not
        vary over the samples encoded for the last graph (dead units, see
        :func:`skgsr.graphs.inactive_neurons`); they are isolated nodes of
        ``feature_graph_`` and a warning names them.
    validation_scores_ : list of float or None
        Validation score per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``task_loss``, ``penalty``,
        ``validation_score``, ``duration``; with ``graph="learned"`` also
        ``graph_updated`` (a graph was built before this epoch) and
        ``graph_duration`` (seconds spent building it).
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
        "graph_kernel": [StrOptions(set(graphs.COACTIVATION_KERNELS))],
        "graph_metric": [StrOptions(set(graphs.COACTIVATION_METRICS))],
        "filter_center": ["boolean"],
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
        filter_center=False,
        n_neighbors=5,
        graph_warmup=10,
        graph_update_interval=5,
        graph_n_samples=1000,
        graph_kernel="gaussian",
        graph_metric="correlation",
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
        self.filter_center = filter_center
        self.n_neighbors = n_neighbors
        self.graph_warmup = graph_warmup
        self.graph_update_interval = graph_update_interval
        self.graph_n_samples = graph_n_samples
        self.graph_kernel = graph_kernel
        self.graph_metric = graph_metric
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
    _min_validation_samples = 1
    _min_validation_reason = ""

    def _n_outputs(self, X, y):
        """Width of the head's output."""
        raise NotImplementedError

    def _structured_width(self):
        """Neurons of the structured layer (nodes of the graph): ``n_components``.

        A subclass whose layer width follows from the data (class capsules, one
        per class) overrides it; it is read once the targets are encoded.
        """
        return self.n_components

    def _build_head(self, n_features, n_outputs, graph_shape):
        """The module from the structured layer to the output."""
        raise NotImplementedError

    def _encode_targets(self, y, incremental):
        """Targets as a numpy array the loss understands (None for autoencoders)."""
        return y

    def _task_loss(self, output, target, x):
        """Per-sample task loss, shape ``(B,)``."""
        raise NotImplementedError

    def _mean_task_loss(self, output, target, x):
        """Unweighted batch mean of :meth:`_task_loss` (one fused op in subclasses)."""
        return self._task_loss(output, target, x).mean()

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
        if shape[0] * shape[1] != self._structured_width():
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
        n = self._structured_width()
        if self._graph_is_learned():
            # checked here, before training, not at the first graph rebuild
            # graph_warmup epochs later
            if self.n_neighbors >= n:
                raise ValueError(
                    f"graph='learned' joins each structured neuron to its "
                    f"n_neighbors={self.n_neighbors} nearest other neurons, so "
                    f"n_neighbors must be smaller than n_components={n}. Lower "
                    f"n_neighbors (at most {n - 1}) or raise n_components."
                )
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

    def _make_penalty(self, adjacency, lmax=None):
        return GraphPenalty(
            adjacency,
            filter=self.filter,
            laplacian=self._resolved_laplacian(),
            scale=self.filter_scale,
            method=self.filter_method,
            order=self.filter_order,
            center=self.filter_center,
            lmax=lmax,
        )

    def _continued_penalty(self, adjacency):
        """The penalty for a continued fit: the fitted one when nothing it depends
        on changed (it may hold an eigendecomposition), else one built anew from
        the current filter parameters."""
        if adjacency is None:
            return None
        old = getattr(self, "penalty_", None)
        same = old is not None and (
            (old.filter, old.laplacian, old.method, old.order, old.center)
            == (
                self.filter,
                self._resolved_laplacian(),
                self.filter_method,
                self.filter_order,
                self.filter_center,
            )
            and _same_scale(old.scale, self.filter_scale)
            and (self.feature_graph_ != adjacency).nnz == 0
        )
        return copy.deepcopy(old) if same else self._make_penalty(adjacency)

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
        params = list(module.parameters())
        lr, decay = self.learning_rate_init, self.weight_decay
        if self.solver == "sgd":
            make, kwargs = torch.optim.SGD, {"momentum": 0.9, "nesterov": True}
        elif self.solver == "adamw":
            make, kwargs = torch.optim.AdamW, {}
        else:
            make, kwargs = torch.optim.Adam, {}
        fused = fused_optimizer_kwargs(params[0].device)
        if fused:
            try:
                return make(params, lr=lr, weight_decay=decay, **kwargs, **fused)
            except (RuntimeError, ValueError):  # pragma: no cover - no such kernel
                pass
        return make(params, lr=lr, weight_decay=decay, **kwargs)

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
                penalty=None,
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
                graph_epochs=list(getattr(self, "graph_history_epochs_", [])),
                inactive=getattr(self, "inactive_neurons_", None),
                graph_updates=getattr(self, "_graph_updates", 0),
                generator_state=getattr(self, "_generator_state", None),
                optimizer_state=copy.deepcopy(getattr(self, "_optimizer_state", None)),
            )
            width = state.module.structured[0].out_features
            if width != self._structured_width():
                raise ValueError(
                    f"Cannot continue training (warm_start or partial_fit): the fitted "
                    f"structured layer has {width} neurons but the current parameters "
                    f"give it {self._structured_width()} (n_components="
                    f"{self.n_components}). Set warm_start=False to train anew."
                )
            if not self._graph_is_learned():
                # the graph parameters may have changed since the last fit
                state.adjacency, state.graph_shape = self._initial_graph()
            state.penalty = self._continued_penalty(state.adjacency)
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
                graph_epochs=[],
                inactive=None,
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
        state.penalty_on = not self._graph_is_learned()
        state.rebuilt = False
        state.optimizer = self._make_optimizer(state.module)
        if state.optimizer_state is not None and (incremental or self.warm_start):
            _resume_optimizer(state.optimizer, state.optimizer_state)
        state.generator = torch.Generator()
        if state.generator_state is not None:
            state.generator.set_state(state.generator_state)
        else:
            seed = getattr(state, "seed", None)
            if seed is None:
                seed = _torch_seed(check_random_state(self.random_state))
            state.generator.manual_seed(seed + 1)
        # the samples encoded for a learned graph are drawn from their own stream,
        # so that building a graph never shifts the training shuffle
        state.graph_rng = copy.deepcopy(getattr(self, "_graph_rng", None))
        if state.graph_rng is None or not continuing:
            seed = getattr(state, "seed", None)
            if seed is None:
                seed = _torch_seed(check_random_state(self.random_state))
            state.graph_rng = np.random.RandomState(seed + 2)
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
            return (X, y, sample_weight, None), None
        n_samples = X.shape[0]
        # the sizes train_test_split will use; checked first for a clear message
        n_val = int(np.ceil(self.validation_fraction * n_samples))
        if n_val < 1 or n_samples - n_val < 1:
            raise ValueError(
                f"early_stopping holds out validation_fraction="
                f"{self.validation_fraction} of the samples, which leaves no "
                f"training or no validation sample with n_samples={n_samples}. "
                "Use at least 2 samples, change validation_fraction, or set "
                "early_stopping=False."
            )
        if n_val < self._min_validation_samples:
            raise ValueError(
                f"early_stopping holds out {n_val} of n_samples={n_samples} "
                f"(validation_fraction={self.validation_fraction}), but the "
                f"validation score needs at least {self._min_validation_samples} "
                f"validation samples{self._min_validation_reason}. Raise "
                "validation_fraction, use more samples, or set early_stopping=False."
            )
        rng = check_random_state(self.random_state)
        stratify = y if self._supports_early_stopping_stratify else None
        index = np.arange(n_samples)
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

        def take(a, idx):
            return None if a is None else a[idx]

        # the training rows stay in X (a copy of 1 - validation_fraction of the
        # data would be the largest allocation of the fit); only the small held-out
        # part is copied
        train = (X, take(y, train_idx), take(sample_weight, train_idx), train_idx)
        val = (X[val_idx], take(y, val_idx), take(sample_weight, val_idx))
        return train, val

    def _train(self, state, X, y, sample_weight, incremental):
        (X_train, y_train, w_train, rows), validation = self._split_validation(
            X, y, sample_weight, state
        )
        data = _Batches(X_train, state.device, rows=rows)
        targets = None if y_train is None else torch.as_tensor(y_train).to(state.device)
        weights = (
            None
            if w_train is None
            else torch.as_tensor(w_train, dtype=torch.float32).to(state.device)
        )
        batch_size = self._batch_size(data.n_samples)
        n_epochs = 1 if incremental else self.max_iter
        best_loss, best_score, stall = np.inf, -np.inf, 0
        best_state_dict = best_adjacency = None
        last_good = _snapshot(state.module)
        converged = False
        if self.verbose:
            print(f"{'epoch':>6} {'loss':>12} {'penalty':>12} {'valid':>10} {'dur':>7}")
        for _ in range(n_epochs):
            epoch = state.n_iter
            penalty_was_on, updates = state.penalty_on, state.graph_updates
            # Ctrl-C anywhere in the epoch (a graph rebuild, the batches, the
            # validation score) keeps the model of the last finished epoch
            try:
                graph_time = time.perf_counter()
                self._on_epoch_start(state, data, epoch)
                graph_time = time.perf_counter() - graph_time
                start = time.perf_counter()
                loss, task_loss, penalty = self._run_epoch(
                    state, data, targets, weights, batch_size
                )
                score = None
                if validation is not None:
                    X_val, y_val, w_val = validation
                    with evaluation_mode(state.module):
                        score = float(
                            self._validation_score(state.module, X_val, y_val, w_val)
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
            graph_updated = state.graph_updates > updates
            if state.penalty_on and not penalty_was_on:
                # the objective gains a term: the warm-up's losses and scores are
                # not comparable, and weights from the warm-up (no penalty at all)
                # must not be restored as the best
                best_loss, best_score, stall = np.inf, -np.inf, 0
                best_state_dict = best_adjacency = None
            if score is not None:
                state.validation_scores.append(score)
            state.n_iter += 1
            state.loss_curve.append(loss)
            state.penalty_curve.append(penalty)
            duration = time.perf_counter() - start
            record = {
                "epoch": state.n_iter,
                "loss": loss,
                "task_loss": task_loss,
                "penalty": penalty,
                "validation_score": score,
                "duration": duration,
            }
            if self._graph_is_learned():
                record["graph_updated"] = graph_updated
                record["graph_duration"] = graph_time if graph_updated else 0.0
            state.history.append(record)
            if self.verbose:
                valid = "" if score is None else f"{score:.4f}"
                print(
                    f"{state.n_iter:>6} {loss:>12.6g} {penalty:>12.6g} {valid:>10} "
                    f"{duration:>6.2f}s",
                    flush=True,
                )
            last_good = _snapshot(state.module)
            if incremental or not state.penalty_on:
                # no stopping before a learned graph's penalty is on: a network
                # stopped in its warm-up would never have been regularized
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
                    best_adjacency = state.adjacency
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
            if best_adjacency is not state.adjacency:
                # the best weights go with the graph they were trained on
                state.adjacency = best_adjacency
                state.penalty.set_graph(best_adjacency)
        # the fit's last optimizer step is followed by no training loss that
        # would show a divergence: one batch's loss with the final weights does
        self._check_final_loss(state, data, targets, batch_size)
        self._on_fit_end(state, data, incremental)

    def _check_final_loss(self, state, data, targets, batch_size):
        index = torch.arange(min(batch_size, data.n_samples))
        xb = data.take(index)
        tb = None if targets is None else targets[index.to(targets.device)]
        with torch.no_grad(), evaluation_mode(state.module):
            output, _ = state.module(xb)
            loss = float(self._mean_task_loss(output, tb, xb))
        if not math.isfinite(loss):
            self._raise_divergence(
                loss,
                state,
                what=f"The loss became non-finite ({loss}) after the last step",
                epoch=state.n_iter,
            )

    def _run_epoch(self, state, data, targets, weights, batch_size):
        """One pass over the data in shuffled minibatches; returns epoch means."""
        module = state.module
        module.train()
        order = torch.randperm(data.n_samples, generator=state.generator)
        meter = _LossMeter(eager=state.device.type == "cpu")
        measure_only = self._penalty_active(state) and self.alpha == 0
        state.penalty_monitor = _PenaltyMonitor(state.penalty) if measure_only else None
        for start in range(0, data.n_samples, batch_size):
            index = order[start : start + batch_size]
            xb = data.take(index)
            tb = None if targets is None else targets[index.to(targets.device)]
            wb = None if weights is None else weights[index.to(weights.device)]
            loss = meter.add(*self._train_step(state, xb, tb, wb), len(index))
            if loss is not None and not math.isfinite(loss):
                self._raise_divergence(loss, state)
        state.generator_state = state.generator.get_state()
        monitor, state.penalty_monitor = state.penalty_monitor, None
        loss, task_loss, penalty = meter.means(
            data.n_samples, None if monitor is None else monitor.result()
        )
        if not math.isfinite(loss):
            self._raise_divergence(loss, state)
        if not self._penalty_active(state):
            penalty = float("nan")
        return loss, task_loss, penalty

    def _raise_divergence(self, loss, state, what=None, epoch=None):
        what = what or f"The training loss became non-finite ({loss})"
        epoch = state.n_iter + 1 if epoch is None else epoch
        raise DivergenceError(
            f"{what} in epoch {epoch}; training stopped and the estimator was left "
            "unchanged. Likely causes: a learning rate too high (learning_rate_init="
            f"{self.learning_rate_init}), unscaled input features (standardize X, "
            "e.g. with StandardScaler in a Pipeline), or alpha too large "
            f"(alpha={self.alpha})."
        )

    def _penalty_active(self, state):
        return state.penalty is not None and state.penalty_on

    def _train_step(self, state, xb, tb, wb):
        """Forward, loss, backward and optimizer step on one minibatch.

        Returns the detached objective, task loss and penalty of the batch (the
        penalty None while there is none to measure).
        """
        output, z = state.module(xb)
        if wb is None:
            task_loss = self._mean_task_loss(output, tb, xb)
        else:
            per_sample = self._task_loss(output, tb, xb)
            task_loss = (per_sample * wb).sum() / wb.sum()
        loss, penalty = task_loss, None
        if self._penalty_active(state):
            if self.alpha > 0:
                penalty = state.penalty(z, wb)
                loss = task_loss + self.alpha * penalty
            elif getattr(state, "penalty_monitor", None) is not None:
                # alpha == 0: the penalty is only measured, not trained on
                state.penalty_monitor.add(z, wb)
            else:
                with torch.no_grad():
                    penalty = state.penalty(z.detach(), wb)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        return (
            loss.detach(),
            task_loss.detach(),
            None if penalty is None else penalty.detach(),
        )

    def _on_epoch_start(self, state, data, epoch):
        """Hook before each epoch: switch the penalty on and rebuild the graph.

        For ``graph="learned"``: no penalty for the first ``graph_warmup`` epochs,
        then a new graph before epoch ``graph_warmup`` and every
        ``graph_update_interval`` epochs after (``epoch`` counts all epochs of the
        estimator, over warm starts and ``partial_fit`` calls).
        """
        if not self._graph_is_learned() or epoch < self.graph_warmup:
            return
        state.penalty_on = True
        if (epoch - self.graph_warmup) % self.graph_update_interval == 0:
            self._rebuild_graph(state, data)

    def _on_fit_end(self, state, data, incremental=False):
        """Hook after the last epoch: a learned graph exists even after a short fit.

        Reports what a user of a learned graph must know: a fit that ended before
        the penalty was ever on, and neurons left out of the graph as inactive.
        """
        if not self._graph_is_learned():
            return
        if state.adjacency is None or (not state.penalty_on and not incremental):
            # a fit that ended in the warm-up: the graph of the network as it is
            # (partial_fit builds one only once, not at every call)
            self._rebuild_graph(state, data)
        if not state.penalty_on and not incremental:
            warnings.warn(
                f"The fit ended after {state.n_iter} epoch(s), within the learned "
                f"graph's warm-up (graph_warmup={self.graph_warmup}): the graph "
                "penalty was never applied. feature_graph_ is the co-activation "
                "graph of the unregularized network; increase max_iter or "
                "decrease graph_warmup.",
                UserWarning,
                stacklevel=4,
            )
        if state.rebuilt and state.inactive.size:
            warnings.warn(
                f"{state.inactive.size} of {self._structured_width()} structured "
                "neurons did not vary over the samples encoded for the last learned "
                "graph (dead or saturated units); they are isolated nodes of "
                f"feature_graph_, without penalty: {state.inactive[:10].tolist()}"
                f"{' ...' if state.inactive.size > 10 else ''} (inactive_neurons_).",
                UserWarning,
                stacklevel=4,
            )

    def _rebuild_graph(self, state, data):
        """Encode up to ``graph_n_samples`` training rows and rebuild the kNN graph."""
        n_samples = min(self.graph_n_samples, data.n_samples)
        index = state.graph_rng.permutation(data.n_samples)[:n_samples]
        index = torch.from_numpy(np.sort(index))
        with evaluation_mode(state.module), torch.no_grad():
            activations = torch.cat(
                [
                    state.module.embed(data.take(chunk)).cpu()
                    for chunk in index.split(_INFERENCE_BATCH)
                ]
            ).numpy()
        adjacency, inactive = graphs.coactivation_graph(
            activations,
            n_neighbors=self.n_neighbors,
            metric=self.graph_metric,
            kernel=self.graph_kernel,
            return_inactive=True,
        )
        if state.penalty is None:
            state.penalty = self._make_penalty(adjacency).to(state.device)
        else:
            state.penalty.set_graph(adjacency)
        state.adjacency = adjacency
        state.inactive = np.flatnonzero(inactive)
        state.rebuilt = True
        state.graph_updates += 1
        state.graph_history.append(adjacency)
        state.graph_epochs.append(state.n_iter)
        del state.graph_history[:-_GRAPH_HISTORY_SIZE]
        del state.graph_epochs[:-_GRAPH_HISTORY_SIZE]

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
        self._graph_rng = state.graph_rng
        self._optimizer_state = state.optimizer.state_dict()
        if self._graph_is_learned():
            self.graph_history_ = state.graph_history
            self.graph_history_epochs_ = state.graph_epochs
            self.inactive_neurons_ = state.inactive
            self._graph_updates = state.graph_updates

    # ============================================================ inference
    def _predict_outputs(self, module, X, device):
        """Head outputs for all rows of X (no gradient), as a CPU tensor.

        ``module`` is used in the mode it is in and not modified, so that
        concurrent predictions never mutate a shared ``module_``; training code
        wraps calls on the module it trains in :func:`evaluation_mode`.
        """
        outputs = []
        with torch.no_grad():
            for block in _dense_rows(X, device):
                outputs.append(module(block)[0].float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0)

    def _check_fitted_input(self, X):
        check_is_fitted(self, "module_")
        with explain_input_errors():
            return validate_data(
                self,
                X,
                accept_sparse=("csr", "csc", "coo"),
                dtype=(np.float32, np.float64),
                reset=False,
            )

    def _module_device(self):
        return _module_device(self.module_)

    def _embed(self, X):
        """Structured-layer activations of validated X, float32 numpy."""
        module = self.module_
        device = self._module_device()
        out = []
        with torch_threads(), torch.no_grad():
            for block in _dense_rows(X, device):
                out.append(module.embed(block).cpu())
        if not out:
            return np.empty((0, self._structured_width()), dtype=np.float32)
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
        return self._structured_width()

    # ============================================================ pickling
    def __getstate__(self):
        """Pickle with every tensor on the CPU.

        A model fitted on an accelerator would otherwise pickle CUDA storages,
        which cannot be unpickled on a machine without CUDA. The fitted device
        is recorded and :meth:`__setstate__` moves the model back to it when
        that device exists where it is unpickled.
        """
        state = super().__getstate__()
        module = state.get("module_")
        if module is None:
            return state
        device = _module_device(module)
        if device.type == "cpu":
            return state
        # copies: pickling must not move the live model off its device
        state = dict(state)
        state["module_"] = copy.deepcopy(module).cpu()
        if state.get("penalty_") is not None:
            state["penalty_"] = copy.deepcopy(state["penalty_"]).cpu()
        state["_optimizer_state"] = tensors_to(state.get("_optimizer_state"), "cpu")
        state["_pickled_from_device"] = str(device)
        return state

    def __setstate__(self, state):
        device = state.pop("_pickled_from_device", None)
        super().__setstate__(state)
        if device is not None:
            target = available_device(device)
            if target.type != "cpu":
                self.module_ = self.module_.to(target)
                if self.penalty_ is not None:
                    self.penalty_ = self.penalty_.to(target)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # computations run in float32 and transform returns float32 whatever X is
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _module_device(module):
    """Device of a module's first parameter (or buffer); CPU when it has none."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _resume_optimizer(optimizer, saved):
    """Continue from a previous fit's optimizer state under the current settings.

    Only the per-weight state (Adam's moments, SGD's momentum) is carried over;
    the hyperparameters (learning rate, weight decay...) are those of the fresh
    optimizer, so that ``set_params(learning_rate_init=...)`` before a warm start
    takes effect (``Optimizer.load_state_dict`` alone would restore the old ones).
    After a change of ``solver`` whose state does not carry over (Adam and SGD
    keep different statistics), the optimizer starts afresh.
    """
    current = optimizer.state_dict()

    def keys(state_dict):
        return [set(group) - {"params"} for group in state_dict["param_groups"]]

    if keys(saved) != keys(current):
        return
    optimizer.load_state_dict(
        {"state": saved["state"], "param_groups": current["param_groups"]}
    )


def _same_scale(a, b):
    """Whether two ``filter_scale`` values (None, a float or a sequence) agree."""
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.ravel(a), np.ravel(b))


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
