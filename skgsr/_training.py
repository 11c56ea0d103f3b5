"""The parts of the training loop that are not the loop: data, meters, rules, state.

Each piece has one job and is tested alone (``tests/test_training_loop.py``):

- :class:`Batches` serves minibatches of dense or sparse ``X`` as float32 tensors;
- :class:`LossMeter` and :class:`SampledMonitor` average an epoch's losses;
- :class:`EarlyStopping` is scikit-learn's stopping rule, with the best weights;
- :class:`LearnedGraph` is the schedule and history of a learned graph;
- :class:`TrainState` is what one call of ``fit`` builds before it is committed;
- :func:`split_validation`, :func:`constant_prediction_loss` and
  :func:`fitting_alone` prepare a fit.
"""

import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils.sparsefuncs import mean_variance_axis

from . import graphs
from ._torch_utils import OptimizerSteps

__all__ = [
    "Batches",
    "DivergenceError",
    "EarlyStopping",
    "LearnedGraph",
    "LossMeter",
    "PenaltyMonitor",
    "TrainState",
    "check_float32_range",
    "constant_prediction_loss",
    "dense_rows",
    "explain_input_errors",
    "fitting_alone",
    "learned_graph_modularity",
    "split_validation",
]

# Dense training data up to this size is moved to an accelerator once, instead
# of batch by batch.
MAX_DEVICE_BYTES = 2**30

# Minibatches are gathered from the shuffled data by blocks of about this size.
BLOCK_BYTES = 2**20

# Rows per forward pass at inference: large enough to amortize Python overhead,
# small enough to bound memory for wide layers.
INFERENCE_BATCH = 4096


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss; the estimator was left unchanged.

    Raised by ``fit`` and ``partial_fit`` at the first batch whose loss is not
    finite (on CPU; once per epoch on an accelerator), or when the loss with the
    final weights is not finite. The message names the likely causes: a learning
    rate too high, unscaled input, or ``alpha`` too large. A subclass of
    :class:`FloatingPointError`.
    """


# --------------------------------------------------------------------------- #
# Input
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


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(X, name="X"):
    """Refuse values that are finite in float64 but infinite in float32.

    The networks compute in float32: a value beyond about 3.4e38 would become
    inf after the cast and NaN through the network, silently.
    """
    values = X.data if hasattr(X, "tocsr") else X
    if values.dtype != np.float32 and values.size:
        largest = float(np.max(np.abs(values)))
        if largest > _FLOAT32_MAX:
            raise ValueError(
                f"{name} has values beyond float32's range (max |{name}| = "
                f"{largest:.3g} > {_FLOAT32_MAX:.3g}); skgsr computes in float32, "
                "where they would be infinite. Scale the data first (e.g. "
                "StandardScaler in a Pipeline)."
            )
    return X


def _to_float32_tensor(X):
    """A float32 CPU tensor viewing ``X`` when it is float32 already (no copy)."""
    with warnings.catch_warnings():
        # read-only inputs (memmaps) are only ever read
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        if X.dtype == np.float32 and X.flags.c_contiguous:
            return torch.from_numpy(X)
        return torch.from_numpy(np.asarray(X, dtype=np.float32, order="C"))


class Batches:
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
            if device.type != "cpu" and tensor.numel() * 4 <= MAX_DEVICE_BYTES:
                tensor = tensor.to(device)
            self.X = tensor
            self.sparse = False

    def take(self, index):
        """Rows ``index`` (a CPU LongTensor) as a float32 tensor on the device."""
        if self.sparse:
            return self._dense(self._sparse_rows(index))
        if self.rows is not None:
            index = self.rows[index]
        if self.X.device != index.device:
            index = index.to(self.X.device, non_blocking=True)
        return self.X.index_select(0, index).to(self.device, non_blocking=True)

    def shuffled(self, order, batch_size):
        """Minibatches ``(index, rows)`` in the order of ``order`` (a permutation).

        ``index`` is the batch's slice of ``order``; ``rows`` its rows of ``X``,
        gathered by blocks of several batches (about :data:`BLOCK_BYTES` when
        dense): one gather per block, each batch a contiguous view of it (sparse
        rows are densified a batch at a time). The same rows as :meth:`take` of
        each slice of ``order``, with fewer operations.
        """
        n = len(order)
        row_bytes = 4 * max(1, self.X.shape[1])
        block = batch_size * max(1, BLOCK_BYTES // (batch_size * row_bytes))
        for block_start in range(0, n, block):
            block_index = order[block_start : block_start + block]
            if self.sparse:
                # gathered sparse, densified one batch at a time
                rows = self._sparse_rows(block_index)
            else:
                rows = self.take(block_index)
            for start in range(0, len(block_index), batch_size):
                stop = start + batch_size
                batch = rows[start:stop]
                if self.sparse:
                    batch = self._dense(batch)
                yield block_index[start:stop], batch

    def _sparse_rows(self, index):
        """Rows ``index`` of sparse ``X``, still sparse."""
        if self.rows is not None:
            index = self.rows[index]
        return self.X[index.numpy()]

    def _dense(self, rows):
        """Sparse rows as a float32 tensor on the device."""
        dense = rows.toarray().astype(np.float32, copy=False)
        return torch.from_numpy(dense).to(self.device, non_blocking=True)

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


def dense_rows(X, device, batch_size=INFERENCE_BATCH):
    """Iterate over ``X`` in row blocks without a full float32 copy."""
    if sp.issparse(X):
        yield from Batches(X, device).slices(batch_size)
        return
    for start in range(0, X.shape[0], batch_size):
        block = _to_float32_tensor(np.ascontiguousarray(X[start : start + batch_size]))
        yield block.to(device, non_blocking=True)


# --------------------------------------------------------------------------- #
# Meters
# --------------------------------------------------------------------------- #
class LossMeter:
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

    def means(self, n_samples, penalty_mean=None):
        """``(loss, task_loss, penalty)`` means over the epoch's samples.

        ``penalty_mean`` replaces the penalty's mean when it was measured apart
        (:class:`SampledMonitor`).
        """
        sums = list(self.sums)
        if self.pending:
            per_batch = torch.stack(self.pending).double()
            counts = torch.tensor(
                self.sizes, dtype=torch.float64, device=per_batch.device
            )
            sums = (counts @ per_batch).tolist()
        means = [total / n_samples for total in sums]
        if penalty_mean is not None:
            means[2] = penalty_mean
        return tuple(means)


# Batches per epoch on which an alpha=0 fit measures its penalty (see
# SampledMonitor): enough for a curve, a small share of a long epoch's steps.
MONITORED_BATCHES = 8
# ... and at most this many activations (batch size x width), at least one
# batch: a penalty pass over a wide layer's batch costs 1.5-2 training steps
# (benchmarks/README.rst, "What the alpha=0 monitor costs")
MONITORED_VALUES = 1 << 22


def monitored_every(n_batches, batch_values):
    """Measure every how many-th batch of an epoch of ``n_batches`` batches of
    ``batch_values`` activations each: about :data:`MONITORED_BATCHES` batches,
    fewer when they would hold more than :data:`MONITORED_VALUES` activations,
    never none."""
    affordable = max(1, MONITORED_VALUES // max(1, batch_values))
    return max(1, n_batches // min(MONITORED_BATCHES, affordable))


class SampledMonitor:
    """A penalty measured but not trained on (``alpha=0``), on every ``every``-th batch.

    Nothing trains on the penalty at ``alpha=0``; measuring it on every batch
    would cost up to as much as the step itself with a wide layer (a penalty
    pass over its activations per batch), for a curve. The batches of an
    epoch come in random order, so every ``every``-th one is a random sample
    of them: :meth:`result` is the mean over the measured batches of their
    (weighted) mean penalty, each counted for its size -- with ``every=1``,
    the epoch's mean.

    Subclasses measure with ``_record(z, sample_weight, inputs)`` and
    ``_total()``, the sum over the recorded batches of ``size * penalty``.
    """

    def __init__(self, every=1):
        self.every = max(1, int(every))
        self.seen = 0  # batches offered
        self.measured = 0  # samples in the recorded batches

    def add(self, z, sample_weight=None, inputs=None):
        turn = self.seen % self.every == 0
        self.seen += 1
        if turn:
            self.measured += len(z)
            self._record(z, sample_weight, inputs)

    def result(self):
        """The mean penalty per sample over the measured batches, as a float."""
        total = self._total()
        return float("nan") if total is None else float(total) / self.measured


class PenaltyMonitor(SampledMonitor):
    """A :class:`SampledMonitor` of a sample-mean penalty, many batches per call.

    Measuring each minibatch as it passes costs a fixed call overhead per batch,
    a sizeable share of a small network's step; the detached activations are
    gathered instead, up to ``max_values`` numbers (256 kB of float32, which
    stays in cache; a wide layer's batch is measured alone, without a copy),
    and measured in one call. The result is the same: the sum over batches of
    each batch's (weighted) mean penalty times its size.
    """

    def __init__(self, penalty, max_values=1 << 16, every=1):
        super().__init__(every)
        self.penalty = penalty
        self.max_values = max_values
        self.total = None
        self._reset()

    def _reset(self):
        self.activations, self.weights, self.sizes, self.values = [], [], [], 0

    def _record(self, z, sample_weight, inputs):
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
            if all(w is None for w in self.weights):
                total = self.penalty._sum(z)
            else:
                penalties = self.penalty.per_sample(z)
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

    def _total(self):
        self.flush()
        return self.total


class BatchMonitor(SampledMonitor):
    """A :class:`SampledMonitor` of a penalty that is not a mean over samples.

    For correlations over the batch (``learned_objective="modules"``):
    ``measure(z, sample_weight, inputs)`` is called on each recorded batch.
    """

    def __init__(self, measure, every=1):
        super().__init__(every)
        self.measure = measure
        self.total = None

    def _record(self, z, sample_weight, inputs):
        value = len(z) * self.measure(z, sample_weight, inputs).double()
        self.total = value if self.total is None else self.total + value

    def _total(self):
        return self.total


# --------------------------------------------------------------------------- #
# Rules
# --------------------------------------------------------------------------- #
class EarlyStopping:
    """scikit-learn's MLP stopping rule, keeping the best weights on validation.

    Training stops after ``n_iter_no_change`` epochs in a row that do not improve
    the best training loss (or, with a validation set, the best validation
    score) by more than ``tol``. With a validation set, the weights and graph of
    the best-scoring epoch are kept so that :meth:`restore` can put them back.

    Parameters
    ----------
    tol : float
    n_iter_no_change : int
    on_validation : bool
        Judge epochs by their validation score (higher is better) instead of the
        training loss (lower is better).
    """

    def __init__(self, tol, n_iter_no_change, on_validation):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.on_validation = on_validation
        self.reset()

    def reset(self, settle=0):
        """Forget the epochs seen so far (the objective changed).

        ``settle``: the number of epochs after this one that are neither judged
        nor kept as the best. The objective gained a term (a learned graph's
        penalty switched on after its warm-up): the first epochs after it are
        the network leaving the optimum of the old objective, their task loss
        rising (their validation score falling) for a while, and the first of
        them, barely penalized, would otherwise stay the best: a fit stopped
        on it ``n_iter_no_change`` epochs later, or restored to its weights,
        would hardly be regularized.
        """
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.stall = 0
        self.best_weights = None
        self.best_graph = None
        self.settle = settle

    def update(self, loss, score, weights=None, graph=None):
        """Record an epoch; return True when training should stop.

        Parameters
        ----------
        loss : float
            The epoch's training loss (the objective, or the task loss alone for
            a learned graph, whose penalty changes with each rebuild).
        score : float or None
            Its validation score (used when ``on_validation``).
        weights : dict, optional
            A snapshot of the weights after the epoch, kept if it scores best.
        graph : scipy sparse matrix, optional
            The graph those weights were trained with, kept with them.
        """
        if self.settle > 0:
            self.settle -= 1
            return False  # settling: not judged, not kept
        if self.on_validation:
            self.stall = 0 if score > self.best_score + self.tol else self.stall + 1
            if score > self.best_score:
                self.best_score = score
                self.best_weights = weights
                self.best_graph = graph
        else:
            self.stall = 0 if loss < self.best_loss - self.tol else self.stall + 1
            self.best_loss = min(self.best_loss, loss)
        return self.stall >= self.n_iter_no_change


def input_profiles(activations, inputs):
    """Each neuron's input profile: its squared correlations with the input
    features, one row per feature, ``(n_features, n_neurons)``.

    Neurons that read the same inputs have alike profiles, however their
    activities co-vary. ``inputs`` are flattened to one feature per value
    (images: one per pixel). A constant neuron or feature correlates with
    nothing (0): a constant neuron's profile is constant, so the graph leaves
    it out as inactive.
    """
    H = np.asarray(activations, dtype=np.float64)
    X = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    if len(X) != len(H):
        raise ValueError(
            f"inputs have {len(X)} rows but the activations {len(H)}: the "
            "input profiles need the inputs of the encoded rows."
        )
    X, H = X - X.mean(axis=0), H - H.mean(axis=0)
    x_norms, h_norms = np.linalg.norm(X, axis=0), np.linalg.norm(H, axis=0)
    x_norms[x_norms == 0] = np.inf
    h_norms[h_norms == 0] = np.inf
    # centred and scaled in float64; the product, most of the cost, in float32
    # (half the time; correlations of unit vectors to about 1e-7)
    X = (X / x_norms).astype(np.float32)
    H = (H / h_norms).astype(np.float32)
    return (X.T @ H).astype(np.float64) ** 2


class LearnedGraph:
    """The schedule, rebuilds and history of a graph learned from co-activations.

    Epochs are counted as they end (:meth:`end_epoch`). No graph exists during
    the first ``warmup`` epochs; a graph is due once ``warmup`` epochs have
    ended and again every ``update_interval`` epochs after (:attr:`update_due`).
    :meth:`rebuild` builds it from a matrix of activations with
    :func:`skgsr.graphs.coactivation_graph` and records it.

    Parameters
    ----------
    n_neighbors : int or "auto"
        Neighbours per neuron; ``"auto"`` until the regularizer, which knows the
        layer's width, sets the number.
    warmup, update_interval, n_samples : int
    kernel, metric : str
        See :func:`skgsr.graphs.coactivation_graph`; ``metric`` may also be
        ``"input_profile"`` (:meth:`build`).
    history_size : int, default=50
        Graphs kept in :attr:`history` (the most recent ones).
    """

    def __init__(
        self,
        n_neighbors,
        warmup,
        update_interval,
        n_samples,
        kernel,
        metric,
        history_size=50,
    ):
        self.n_neighbors = n_neighbors
        self.warmup = warmup
        self.update_interval = update_interval
        self.n_samples = n_samples
        self.kernel = kernel
        self.metric = metric
        self.history_size = history_size
        self.n_epochs = 0
        self.n_updates = 0
        self.history = []
        self.history_epochs = []
        self.inactive = None
        # learned_objective="modules": the coverage's weights of the inputs
        # (set from the rows of the first graph; see skgsr.nn.input_communalities)
        self.input_weights = None
        self._scheduled_at = None

    @property
    def warmed_up(self):
        """Whether the warm-up is over (a graph penalty may apply)."""
        return self.n_epochs >= self.warmup

    @property
    def update_due(self):
        """Whether the schedule asks for a new graph before the next epoch."""
        if not self.warmed_up:
            return False
        if self._scheduled_at == self.n_epochs:
            return False  # already rebuilt at this point of the schedule
        return (self.n_epochs - self.warmup) % self.update_interval == 0

    def end_epoch(self):
        """Count one finished epoch."""
        self.n_epochs += 1

    @property
    def needs_inputs(self):
        """Whether :meth:`build` needs the encoded rows' inputs (input profiles)."""
        return self.metric == "input_profile"

    def build(self, activations, inputs=None):
        """A kNN co-activation graph from ``activations`` (samples x neurons);
        with ``metric="input_profile"``, the kNN graph of the neurons' input
        profiles (:func:`input_profiles`) over ``inputs``, the same rows'
        inputs.

        Returns ``(adjacency, inactive)``, the mask of the neurons left out;
        :meth:`record` it once it is in use.
        """
        metric = self.metric
        if self.needs_inputs:
            if inputs is None:
                raise ValueError("metric='input_profile' needs the rows' inputs.")
            activations, metric = input_profiles(activations, inputs), "correlation"
        return graphs.coactivation_graph(
            activations,
            n_neighbors=self.n_neighbors,
            metric=metric,
            kernel=self.kernel,
            dtype=np.float32,  # the same neighbours, about half the time
            return_inactive=True,
        )

    def record(self, adjacency, inactive, scheduled=True):
        """Add a graph in use to the history; ``scheduled=False`` for a graph
        built outside the schedule, which leaves the next rebuild due."""
        self.inactive = np.flatnonzero(inactive)
        self.n_updates += 1
        self.history.append(adjacency)
        self.history_epochs.append(self.n_epochs)
        del self.history[: -self.history_size]
        del self.history_epochs[: -self.history_size]
        if scheduled:
            self._scheduled_at = self.n_epochs

    def skip(self):
        """Count the rebuild due now as done without a new graph (it failed):
        the next one comes an ``update_interval`` later."""
        self._scheduled_at = self.n_epochs

    def fitted_attributes(self):
        """The estimator attributes that describe the learned graph."""
        return {
            "graph_history_": list(self.history),
            "graph_history_epochs_": list(self.history_epochs),
            "inactive_neurons_": self.inactive,
            "graph_input_weights_": self.input_weights,
            "_graph_updates": self.n_updates,
        }

    def restore(self, attributes, n_epochs):
        """Continue from :meth:`fitted_attributes` of an earlier fit."""
        self.history = list(attributes.get("graph_history_", []))
        self.history_epochs = list(attributes.get("graph_history_epochs_", []))
        self.inactive = attributes.get("inactive_neurons_")
        self.input_weights = attributes.get("graph_input_weights_")
        self.n_updates = attributes.get("_graph_updates", len(self.history))
        self.n_epochs = n_epochs
        return self


# --------------------------------------------------------------------------- #
# State
# --------------------------------------------------------------------------- #
@dataclass
class TrainState:
    """What one call of ``fit`` or ``partial_fit`` builds.

    It is committed to the estimator's fitted attributes only when the call ends
    well, so that a failed fit leaves the estimator as it was.
    """

    module: torch.nn.Module
    regularizer: object  # skgsr.nn.GraphRegularizer
    optimizer: torch.optim.Optimizer
    compiled: torch.nn.Module | None  # module compiled for training (compile=True)
    device: torch.device
    generator: torch.Generator  # the minibatch shuffle
    graph_rng: np.random.RandomState  # the rows encoded for a learned graph
    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    penalty_curve: list = field(default_factory=list)
    history: list = field(default_factory=list)
    validation_scores: list | None = None
    best_validation_score: float | None = None
    generator_state: torch.Tensor | None = None  # after the last finished epoch
    monitor: SampledMonitor | None = None  # measures the penalty when alpha=0
    penalty_applied: bool = False  # the penalty was on in the last epoch
    steps: OptimizerSteps = field(init=False)  # the optimizer's zero_grad and step

    def __post_init__(self):
        self.steps = OptimizerSteps(self.optimizer)

    @property
    def graph_shape(self):
        return self.regularizer.graph_shape


# The estimators being fitted now (by id): two fits of one estimator object at a
# time, from two threads, would interleave their state.
_FITTING = set()
_FITTING_LOCK = threading.Lock()


@contextmanager
def fitting_alone(estimator):
    """Refuse a fit of an estimator that another thread is fitting."""
    key = id(estimator)
    with _FITTING_LOCK:
        if key in _FITTING:
            raise RuntimeError(
                f"This {type(estimator).__name__} is being fitted in another thread. "
                "One estimator object trains in one thread at a time: clone it "
                "(sklearn.base.clone) for each thread."
            )
        _FITTING.add(key)
    try:
        yield
    finally:
        with _FITTING_LOCK:
            _FITTING.discard(key)


def _column_variances(T, weights=None, block=INFERENCE_BATCH):
    """The (weighted) variance of each column, in float64, a block of rows at a
    time: a float64 copy of a large training set would be its largest
    allocation."""
    w = np.ones(len(T)) if weights is None else np.asarray(weights, np.float64)
    rows = range(0, len(T), block)

    def weighted_sum(f):
        return sum(
            w[i : i + block] @ f(T[i : i + block].astype(np.float64)) for i in rows
        )

    mean = weighted_sum(lambda t: t) / w.sum()
    return weighted_sum(lambda t: (t - mean) ** 2) / w.sum()


def constant_prediction_loss(T, sample_weight=None):
    """The mean squared error of predicting the (weighted) mean of ``T``.

    The mean variance of the columns of the targets (or of the features, for an
    autoencoder): the task loss of the best constant prediction, the unit in
    which ``scale_alpha=True`` weighs the penalty. 1 where it is 0 or not finite.
    """
    if sp.issparse(T):
        _, variances = mean_variance_axis(
            sp.csr_matrix(T), axis=0, weights=sample_weight
        )
    else:
        T = np.asarray(T)
        variances = _column_variances(T.reshape(len(T), -1), sample_weight)
    scale = float(np.mean(variances))
    return scale if np.isfinite(scale) and scale > 0 else 1.0


def split_validation(
    X, y, sample_weight, fraction, rng, *, stratify=False, min_samples=1, reason=""
):
    """Hold out ``fraction`` of the samples for early stopping's validation score.

    Returns ``(train, validation)``: ``train = (X, y_train, w_train, rows)`` keeps
    all of X with the training ``rows`` (a copy of most of the data would be the
    fit's largest allocation), ``validation = (X_val, y_val, w_val)`` is copied.
    ``stratify`` splits by the classes of ``y`` where every class allows it;
    ``min_samples`` is the validation score's minimum, ``reason`` says why.
    """
    n_samples = X.shape[0]
    # the sizes train_test_split will use; checked first for a clear message
    n_val = int(np.ceil(fraction * n_samples))
    if n_val < 1 or n_samples - n_val < 1:
        raise ValueError(
            f"early_stopping holds out validation_fraction={fraction} of the "
            "samples, which leaves no training or no validation sample with "
            f"n_samples={n_samples}. Use at least 2 samples, change "
            "validation_fraction, or set early_stopping=False."
        )
    if n_val < min_samples:
        raise ValueError(
            f"early_stopping holds out {n_val} of n_samples={n_samples} "
            f"(validation_fraction={fraction}), but the validation score needs at "
            f"least {min_samples} validation samples{reason}. Raise "
            "validation_fraction, use more samples, or set early_stopping=False."
        )
    index = np.arange(n_samples)
    try:
        train_idx, val_idx = train_test_split(
            index,
            test_size=fraction,
            random_state=rng,
            stratify=y if stratify else None,
        )
    except ValueError:
        # too few samples of some class to stratify: split at random
        train_idx, val_idx = train_test_split(
            index, test_size=fraction, random_state=rng
        )

    def take(a, idx):
        return None if a is None else a[idx]

    train = (X, take(y, train_idx), take(sample_weight, train_idx), train_idx)
    return train, (X[val_idx], take(y, val_idx), take(sample_weight, val_idx))


def learned_graph_modularity(graph, scored_graph=None, score=None):
    """``graph_modularity_`` of a learned ``graph``.

    ``score`` when ``graph`` is the very graph already scored (``partial_fit``
    rebuilds only every few calls); NaN below 3 nodes, where no split says
    anything.
    """
    if score is not None and scored_graph is not None:
        if graphs._same_csr(graph, scored_graph):
            return score
    if graph.shape[0] < 3:
        return float("nan")
    from .metrics import graph_modularity

    return float(graph_modularity(graph, random_state=0))
