"""GSR for any PyTorch network: a graph penalty on the activations of one layer.

:class:`GraphRegularizer` puts a forward hook on a layer of a model. The hook keeps
a reference to what the layer outputs in training passes (no copy), and
:meth:`GraphRegularizer.penalty` turns it into ``alpha`` times the GSR penalty
(:class:`skgsr.penalty.GraphPenalty`) of those activations, to add to the loss.
With ``graph="learned"`` it also owns the learned graph: its warm-up, its
rebuilds from the neurons' co-activations and their history, and the objective
trained on it (``learned_objective``: the papers' smoothing penalty, or the
``"modules"`` objective, which also reads the batch's inputs).

The estimators of skgsr train their structured layer with this same object.
"""

import copy
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from . import graphs
from ._torch_utils import evaluation_mode, module_device
from ._training import INFERENCE_BATCH, BatchMonitor, LearnedGraph, PenaltyMonitor
from ._warnings import warn
from .filters import _FILTER_NAMES, _resolve_filter
from .penalty import GraphPenalty, TopographicPenalty

__all__ = ["GraphRegularizer", "input_communalities"]

#: Constraints on the parameters shared by the regularizer and the estimators.
PARAMETER_CONSTRAINTS = {
    "graph": [
        StrOptions(set(graphs._GRAPH_NAMES) | {"learned"}),
        "array-like",
        "sparse matrix",
        HasMethods(["nodes", "edges"]),
    ],
    "graph_shape": [None, "array-like", Interval(Integral, 1, None, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "filter": [StrOptions({*_FILTER_NAMES, "topographic"}), callable],
    "laplacian": [StrOptions({"auto", *graphs._LAPLACIAN_KINDS})],
    "filter_scale": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
    "filter_method": [StrOptions({"auto", "exact", "chebyshev"})],
    "filter_order": [Interval(Integral, 1, None, closed="left")],
    "filter_center": ["boolean", StrOptions({"auto"})],
    "n_neighbors": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "graph_warmup": [Interval(Integral, 0, None, closed="left")],
    "graph_update_interval": [Interval(Integral, 1, None, closed="left")],
    "graph_n_samples": [Interval(Integral, 1, None, closed="left")],
    "graph_kernel": [StrOptions({"auto", *graphs._COACTIVATION_KERNELS})],
    "graph_metric": [StrOptions({*graphs._COACTIVATION_METRICS, "input_profile"})],
    "learned_objective": [StrOptions({"modules", "smooth"})],
}

#: The keyword arguments of :class:`GraphRegularizer` the estimators pass on.
REGULARIZER_PARAMS = tuple(PARAMETER_CONSTRAINTS)

# filter_method="auto" on a learned graph: exact up to this many neurons, then
# Chebyshev for the L2 filters (see GraphRegularizer._method)
_LEARNED_EXACT_MAX_NODES = 512

# Activations the penalty computes in float32.
_LOW_PRECISION = (torch.float16, torch.bfloat16)

# learned_objective="modules": the weights of its terms, and how far apart two
# neurons must be in the learned graph to be decorrelated (benchmarks/README.rst,
# "learned graph, feature modules", has the study that chose them).
_MODULES_WEIGHTS = {"smoothing": 0.0, "repulsion": 1.0, "varimax": 4.0, "coverage": 1.0}
_FAR_HOPS = 2
# the coverage term's target: an input's share grows with its communality up
# to half the largest communality, where it saturates (inputs that share
# that much are alike members of the modules), and is at least 0.05 of the
# saturated share (the floor chosen before measuring, the saturation after
# the first measurements: benchmarks/README.rst)
_COMMUNALITY_SATURATION = 0.5
_COMMUNALITY_FLOOR = 0.05
# ... divided by the size of the input's module (each module then draws the
# same share, and gets as many neurons as the others), counted as the sum of
# the 4th powers of the correlations of the inputs' shared parts (a power
# that counts a module's members and little of a correlated module's; chosen
# before measuring)
_MODULE_SIZE_POWER = 4
# entries of the inputs' correlation matrix computed at a time for the sizes
_SIZE_BLOCK = 1 << 22
# Sizes that differ by less than this factor (largest over smallest, among the
# fully shared inputs) count as equal: modules of one size need no balancing,
# and a module's count is inflated by modules whose activities correlate with
# it (by up to 1.3x on the study's "blocks" families, whose modules are of
# one size; 2.3-10x where they differ)
_SIZE_SPREAD = 1.5
# Below this share of pairs within _FAR_HOPS of each other, the repulsion is
# computed from the batch's Gram matrix and the near pairs alone (cheaper when
# the graph is sparse; benchmarks/README.rst, "The cost of the objective").
_SPARSE_NEAR_SHARE = 0.05


def _auto_neighbors(n_nodes):
    """``n_neighbors="auto"``: a sixth of the width, within ``[2, n_nodes - 1]``."""
    return max(1, min(max(2, round(n_nodes / 6)), n_nodes - 1))


def _resolved_construction(kernel, metric):
    """``(kernel, metric)`` of the learned graph with ``kernel="auto"`` resolved:
    partial correlations weighted by themselves (a Gaussian of their distances
    flattens them, see :func:`skgsr.graphs.coactivation_graph`), the other
    metrics by the Gaussian kernel."""
    if kernel == "auto":
        kernel = "similarity" if metric == "partial_correlation" else "gaussian"
    # at construction: a rebuild that fails only warns (input profiles are
    # compared by their correlation)
    checked = "correlation" if metric == "input_profile" else metric
    graphs._check_similarity_metric(kernel, checked, prefix="graph_")
    return kernel, metric


def _standardized_columns(a, weights=None):
    """Columns centred and scaled to unit norm over the batch.

    :math:`\\hat a_i^T \\hat a_j` is then the Pearson correlation of columns
    ``i`` and ``j`` over the batch (weighted by ``weights``: a weighted mean, and
    each row scaled by the square root of its weight); a constant column is 0.
    """
    if weights is None:
        centred = a - a.mean(dim=0, keepdim=True)
    else:
        share = weights / weights.sum()
        centred = (a - share @ a) * (share * len(share)).sqrt()[:, None]
    return centred / (centred.norm(dim=0, keepdim=True) + 1e-6)


def input_communalities(inputs):
    """How much of each input's variance it shares with the others.

    The share of each standardized input's variance that the principal
    components of the rows above the noise edge explain: near 1 for an input
    that moves with others, near 0 for one that is noise of its own.
    ``learned_objective="modules"`` weighs its coverage term by it, and by
    the sizes of the inputs' modules, counted from the same components
    (``graph_input_weights_``).

    The edge is that of the eigenvalues of the correlation matrix of ``m``
    rows of ``d`` independent noise inputs, the Marchenko-Pastur edge
    :math:`(1 + \\sqrt{d / m})^2`, raised by three times the relative
    Tracy-Widom scale of the largest one, :math:`(m^{-1/2} +
    d^{-1/2})^{1/3} / (\\sqrt m + \\sqrt d)` (Johnstone, 2001), so that
    noise rarely crosses it.

    Parameters
    ----------
    inputs : array-like of shape (n_samples, ...)
        Rows of inputs; each is flattened.

    Returns
    -------
    communalities : ndarray of shape (n_inputs,)
        In [0, 1]; all 0 when no component rises above the edge (nothing
        shared) or with fewer than 2 rows; 0 for a constant input.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.nn import input_communalities
    >>> rng = np.random.default_rng(0)
    >>> factor = rng.normal(size=(500, 1))
    >>> X = np.hstack([factor + 0.3 * rng.normal(size=(500, 4)),
    ...                rng.normal(size=(500, 4))])
    >>> input_communalities(X).round(1)
    array([0.9, 0.9, 0.9, 0.9, 0. , 0. , 0. , 0. ])
    """
    return np.minimum((_shared_loadings(inputs) ** 2).sum(axis=1), 1.0)


def _shared_loadings(inputs):
    """The loadings of the standardized inputs on the principal components
    above the noise edge (see :func:`input_communalities`), ``(n_inputs, k)``."""
    x = np.asarray(inputs, dtype=np.float64)
    x = x.reshape(len(x), -1)
    m, d = x.shape
    if m < 2 or d == 0:
        return np.zeros((d, 0))
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0) / np.sqrt(m)
    scale = (m**-0.5 + d**-0.5) ** (1 / 3) / (np.sqrt(m) + np.sqrt(d))
    edge = (1 + np.sqrt(d / m)) ** 2 * (1 + 3 * scale)
    # the components above the edge, from the smaller of the two Gram matrices
    gram = x @ x.T if m < d else x.T @ x
    values, vectors = np.linalg.eigh(gram)
    keep = values > edge
    if m < d:
        return x.T @ vectors[:, keep]  # the axes times the root of the values
    return vectors[:, keep] * np.sqrt(values[keep])


def _input_module_sizes(inputs):
    """``(communalities, sizes)`` of the inputs.

    ``sizes[j]`` counts the inputs whose shared part moves with input ``j``'s,
    :math:`\\sum_k a_k |C_{jk}|^4`, with :math:`C` the correlations of the
    inputs' loadings on the components above the noise edge and :math:`a_k =
    \\min(1, h_k / (s\\, \\max h))` how fully input ``k`` shares (its
    communality :math:`h_k` against ``_COMMUNALITY_SATURATION`` :math:`s`
    times the largest): about the number of inputs of ``j``'s module, inputs
    of noise (whose loadings point anywhere) hardly counted. At least 1 (1 for
    an input that shares nothing).
    """
    loadings = _shared_loadings(inputs)
    shared = (loadings**2).sum(axis=1)
    communalities = np.minimum(shared, 1.0)
    fully = _saturation(communalities)
    if not fully.any():
        return communalities, np.ones(len(shared))
    unit = loadings / np.sqrt(np.where(shared > 0, shared, 1.0))[:, None]
    sizes = np.empty(len(unit))
    step = max(1, _SIZE_BLOCK // len(unit))  # rows of C at a time: no d x d matrix
    for start in range(0, len(unit), step):
        block = unit[start : start + step] @ unit.T
        sizes[start : start + step] = (np.abs(block) ** _MODULE_SIZE_POWER) @ fully
    return communalities, np.maximum(sizes, 1.0)


def _saturation(communalities):
    """How fully each input shares: :math:`\\min(1, h_j / (s \\max h))` with
    ``_COMMUNALITY_SATURATION`` :math:`s`; all 0 when nothing is shared."""
    top = communalities.max(initial=0.0)
    if top <= 0:
        return np.zeros(len(communalities))
    return np.minimum(communalities / (_COMMUNALITY_SATURATION * top), 1.0)


def _coverage_weights(communalities, sizes=None):
    """The coverage's share of each input (summing to 1).

    From its communality: in proportion to it up to
    ``_COMMUNALITY_SATURATION`` times the largest, equal above. With the
    inputs' module ``sizes`` (:func:`_input_module_sizes`), divided by its
    module's size, so that every module draws the same share, unless the
    sizes of the inputs above the saturation are within a factor
    ``_SIZE_SPREAD`` of each other (modules of one size); an input below the
    saturation is divided by at least the median size of those above it (its
    module is not reliably told, and it should not draw more than a typical
    module's member). At least ``_COMMUNALITY_FLOOR`` times the
    smallest share of an input above the saturation. Equal for all when
    nothing is shared.
    """
    shares = _saturation(communalities)
    if not shares.any():
        return np.full(len(communalities), 1.0 / max(len(communalities), 1))
    saturated = shares >= 1.0
    if sizes is not None and np.ptp(np.log(sizes[saturated])) >= np.log(_SIZE_SPREAD):
        reference = np.median(sizes[saturated])
        shares = shares / np.where(saturated, sizes, np.maximum(sizes, reference))
    shares = np.maximum(shares, _COMMUNALITY_FLOOR * shares[saturated].min())
    return shares / shares.sum()


class _PairSums(torch.autograd.Function):
    """:math:`(\\sum_{ik} F_{ik} r_{ik}^2, \\sum_{ik} A_{ik} r_{ik})` with
    :math:`r = \\hat Z^T \\hat Z`, for symmetric ``F`` and ``A``.

    One ``n x n`` product forward and one backward: the gradient with respect
    to :math:`\\hat Z` is :math:`2 \\hat Z\\, \\partial/\\partial r`, since
    :math:`r` and the derivative are symmetric (autograd would take two
    products for the two factors of :math:`\\hat Z^T \\hat Z`).
    """

    @staticmethod
    def forward(ctx, zs, far, adjacency):
        r = zs.T @ zs
        ctx.save_for_backward(zs, r, far, adjacency)
        return (far * r * r).sum(), (adjacency * r).sum()

    @staticmethod
    def backward(ctx, grad_far, grad_adjacency):
        zs, r, far, adjacency = ctx.saved_tensors
        d_r = (2 * grad_far) * far * r + grad_adjacency * adjacency
        return 2 * (zs @ d_r), None, None


class _ModulesObjective:
    """``learned_objective="modules"`` on one learned graph.

    For a batch of activations :math:`Z` (``B x n``) and of inputs :math:`X`
    (``B x d``), with :math:`r_{ik}` the batch correlation of neurons ``i`` and
    ``k`` and :math:`\\rho_{ji}` that of input ``j`` and neuron ``i``:

    - repulsion, :math:`\\sum_{ik} F_{ik} r_{ik}^2 / \\sum_{ik} F_{ik}`, with
      :math:`F_{ik} = 1` for the pairs more than ``_FAR_HOPS`` edges apart in the
      graph: neurons far apart in the graph are decorrelated;
    - varimax, :math:`-\\frac1n \\sum_i \\big[\\frac1d \\sum_j \\rho_{ji}^4 -
      (\\frac1d \\sum_j \\rho_{ji}^2)^2\\big]` (Kaiser's criterion): each
      neuron correlates with one group of inputs and little with the rest;
    - coverage, :math:`\\frac{1}{n^2} \\sum_j c_j^2 / \\pi_j` with :math:`c_j =
      \\sum_i \\rho_{ji}^2 / \\sum_{j'} \\rho_{j'i}^2` (at least 1, 1 when each
      input draws the share :math:`\\pi_j` of the neurons' correlation;
      :math:`\\pi` is ``input_weights``, uniform when None): no group of inputs
      is left to one or two neurons;
    - smoothing, :math:`\\sum_{ik} A_{ik} (1 - r_{ik}) / \\sum_{ik} A_{ik}`:
      the Laplacian energy of the batch-standardized activations per unit of
      edge weight.

    The objective is their sum weighted by ``_MODULES_WEIGHTS``. Every term is
    a function of correlations, so shrinking the layer cannot lower it.

    The repulsion needs the correlations of the far pairs. When few pairs are
    near (at most ``_SPARSE_NEAR_SHARE`` of them), it is computed as
    :math:`\\sum_{\\text{all}} r^2 - \\sum_{\\text{near}} r^2` with
    :math:`\\sum_{\\text{all}} r^2 = \\|\\hat Z \\hat Z^T\\|_F^2` (``O(B^2 n)``)
    and the near pairs' correlations alone (``O(B |near|)``); otherwise from the
    ``n x n`` correlation matrix (``O(B n^2)``).
    """

    def __init__(self, adjacency, input_weights=None):
        adjacency = sp.csr_array(adjacency, dtype=np.float64)
        n = adjacency.shape[0]
        near = graphs._pairs_within(adjacency, _FAR_HOPS, dense=True)
        n_near = int(near.sum()) if isinstance(near, np.ndarray) else near.nnz
        self.n_nodes = n
        self.edge_weight = float(adjacency.sum())
        self.n_far = n * n - n_near
        self.sparse = n_near <= _SPARSE_NEAR_SHARE * n * n
        if self.sparse:
            if isinstance(near, np.ndarray):
                near = sp.csr_array(near)
                near.sort_indices()
            rows, cols = near.nonzero()
            weights = np.asarray(adjacency[rows, cols], dtype=np.float32).ravel()
            self._tensors = {
                "crow": torch.as_tensor(near.indptr, dtype=torch.int64),
                "col": torch.as_tensor(near.indices, dtype=torch.int64),
                "near_adjacency": torch.as_tensor(weights),
            }
        else:
            self._tensors = {
                "adjacency": torch.as_tensor(adjacency.toarray(), dtype=torch.float32),
                "far": torch.as_tensor(
                    ~(near if isinstance(near, np.ndarray) else near.toarray()),
                    dtype=torch.float32,
                ),
            }
        if input_weights is not None and np.ptp(input_weights) > 0:
            # (equal shares take the uniform formula, the arithmetic of before)
            self._tensors["input_weights"] = torch.as_tensor(
                np.asarray(input_weights, dtype=np.float32)
            )

    def _on(self, device):
        if self._tensors["crow" if self.sparse else "far"].device != device:
            self._tensors = {k: v.to(device) for k, v in self._tensors.items()}
        return self._tensors

    def _coverage(self, covered, n, weights):
        """The coverage term; ``weights`` the inputs' shares (None: uniform)."""
        d = len(covered)
        if weights is None:
            return d * (covered * covered).sum() / n**2
        if len(weights) != d:
            raise ValueError(
                f"the batch has {d} inputs but the coverage weights, taken from "
                f"the inputs of the first graph's rows, {len(weights)}."
            )
        return (covered * covered / weights.to(covered.dtype)).sum() / n**2

    def terms(self, z, x, sample_weight=None):
        """The unweighted terms of the objective for a batch, as a dict of scalars.

        Parameters
        ----------
        z : torch.Tensor of shape (B, n_nodes)
            Activations (float32 or float64).
        x : torch.Tensor of shape (B, n_inputs)
            The batch's inputs, same dtype and device.
        sample_weight : torch.Tensor of shape (B,), optional
            Weights of weighted correlations.
        """
        t = self._on(z.device)
        zs = _standardized_columns(z, sample_weight)
        zero = z.sum() * 0
        if self.sparse:
            near = torch.sparse_csr_tensor(
                t["crow"],
                t["col"],
                torch.ones_like(t["near_adjacency"], dtype=z.dtype),
                (self.n_nodes, self.n_nodes),
                check_invariants=False,
            )
            r_near = torch.sparse.sampled_addmm(near, zs.T, zs, beta=0.0).values()
            gram = zs @ zs.T if zs.shape[0] < zs.shape[1] else zs.T @ zs
            far_r2 = (gram * gram).sum() - (r_near * r_near).sum()
            attraction = (t["near_adjacency"].to(z.dtype) * r_near).sum()
        else:
            far_r2, attraction = _PairSums.apply(
                zs, t["far"].to(z.dtype), t["adjacency"].to(z.dtype)
            )
        rho2 = (_standardized_columns(x, sample_weight).T @ zs) ** 2  # (d, n)
        share = rho2 / (rho2.sum(dim=0, keepdim=True) + 1e-12)
        covered = share.sum(dim=1)
        n = rho2.shape[1]
        return {
            "smoothing": (
                1 - attraction / self.edge_weight if self.edge_weight > 0 else zero
            ),
            "repulsion": far_r2 / self.n_far if self.n_far > 0 else zero,
            "varimax": -((rho2**2).mean(dim=0) - rho2.mean(dim=0) ** 2).mean(),
            "coverage": self._coverage(covered, n, t.get("input_weights")),
        }

    def __call__(self, z, x, sample_weight=None):
        terms = self.terms(z, x, sample_weight)
        return sum(w * terms[k] for k, w in _MODULES_WEIGHTS.items() if w != 0)


# The parameters a GraphPenalty is built from (the graph's own aside).
_FILTER_PARAMS = (
    "filter",
    "laplacian",
    "filter_scale",
    "filter_method",
    "filter_order",
    "filter_center",
)

# ... and with the graph's: an estimator's warm start that keeps them all keeps
# its fitted penalty (and its possibly costly eigendecomposition).
PENALTY_PARAMS = ("graph", "graph_shape", *_FILTER_PARAMS)


def _check_graph_shape(graph_shape, n_nodes, width):
    """``graph_shape`` as a tuple whose product is ``n_nodes`` (or None)."""
    if graph_shape is None:
        return None
    shape = np.atleast_1d(np.asarray(graph_shape))
    if shape.ndim != 1 or len(shape) not in (1, 2) or shape.dtype.kind not in "iu":
        raise ValueError(
            f"graph_shape must be None, an int or a tuple (h, w) of ints; got "
            f"{graph_shape!r}."
        )
    shape = tuple(int(s) for s in shape)
    if min(shape) < 1:
        raise ValueError(f"graph_shape must be positive, got {graph_shape!r}.")
    if len(shape) == 1:
        shape = (1, shape[0])
    if shape[0] * shape[1] != n_nodes:
        raise ValueError(
            f"graph_shape={graph_shape!r} has {shape[0] * shape[1]} nodes but "
            f"{width}={n_nodes}: one node per structured neuron, so h * w must equal "
            f"{width}. Change graph_shape or {width}, or leave graph_shape=None to "
            "infer it."
        )
    return shape


def _display_shape(n_nodes):
    """A layout for maps of a graph with no geometry of its own."""
    try:
        return graphs.infer_grid_shape(n_nodes)
    except ValueError:  # a prime number of nodes
        return (1, n_nodes)


def _n_nodes_of(graph):
    """Node count of a user graph when it can be read without validating it."""
    if hasattr(graph, "number_of_nodes"):  # a networkx graph
        return graph.number_of_nodes()
    shape = graph.shape if sp.issparse(graph) else np.shape(graph)
    if len(shape) == 2 and shape[0] == shape[1]:
        return shape[0]
    return None  # malformed: GraphPenalty's validation says how


def _param_equal(a, b):
    """Whether two hyperparameter values are the same (arrays by content)."""
    if a is b:
        return True
    if callable(a) or callable(b):
        return False
    if sp.issparse(a) or sp.issparse(b):
        return (
            sp.issparse(a)
            and sp.issparse(b)
            and a.shape == b.shape
            and (sp.csr_array(a) != sp.csr_array(b)).nnz == 0
        )
    if hasattr(a, "edges") or hasattr(b, "edges"):
        return False  # a networkx graph may have been edited in place
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return isinstance(a, type(b)) and a == b
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return False


class GraphRegularizer:
    """Graph Spectral Regularization of one layer of any PyTorch network.

    Registers a forward hook on ``layer``. Every forward pass run with gradients
    enabled (a training pass) leaves the layer's output ``Z`` of shape
    ``(batch, n_nodes)`` with the regularizer, by reference; :meth:`penalty`
    returns ``alpha`` times the GSR penalty of the activations seen since its
    last call, ready to add to the loss:

    .. math:: \\alpha\\, \\mathrm{mean}_b\\; \\rho\\big(g(L)\\, z_b\\big)

    (see :class:`skgsr.penalty.GraphPenalty`; with several forward passes
    between two calls, the mean runs over all their samples). A learned graph
    with ``learned_objective="modules"`` (the default) is trained with another
    objective, made of correlations over the batch among the units and with
    the batch's inputs, so :meth:`penalty` needs those inputs too. Passes under
    :func:`torch.no_grad` (evaluation) are ignored; a pass with gradients in
    ``model.eval()`` mode counts, so evaluate under :func:`torch.no_grad` (or
    :meth:`clear` before the next training step). Half-precision activations
    (autocast) are penalized in float32.

    The hook keeps the output tensor itself, not a copy, until :meth:`penalty`
    (or :meth:`clear`) releases it. A copy or a pickle of the regularizer, or of
    a model it is attached to, is detached: the copied model's hook does
    nothing, and :meth:`attach` puts the copied regularizer on a layer again
    (pass ``model`` again for a layer name or :meth:`epoch_end`).

    Parameters
    ----------
    layer : torch.nn.Module, str or None, default=None
        The layer whose output is the graph signal, or its name in ``model``
        (as :meth:`torch.nn.Module.get_submodule` takes it). None: attach later
        with :meth:`attach`.
    graph : str, array-like, scipy sparse matrix or networkx.Graph, default="grid"
        The graph over the layer's units: a name of
        :func:`skgsr.graphs.make_graph`, ``"learned"`` (from the units'
        co-activations, see :meth:`epoch_end`), or an adjacency.
    model : torch.nn.Module, optional
        The model ``layer`` belongs to: needed when ``layer`` is a name, and by
        :meth:`epoch_end` to encode inputs for a learned graph. With
        ``learned_objective="modules"`` the regularizer also reads the model's
        input (its first positional argument) in training passes, so that
        :meth:`penalty` needs no ``inputs``.
    n_nodes : int, optional
        Width of the layer (number of graph nodes). None: the layer's
        ``out_features`` when it has one, else the width of its first output.
    graph_shape : int or tuple of int, optional
        ``(h, w)`` layout of a named graph (see :func:`skgsr.graphs.make_graph`).
    alpha : float, default=1e-3
        Strength of the penalty; 0 measures nothing and returns zero.
    filter, laplacian, filter_scale, filter_method, filter_order, filter_center
        The penalty's filter, as the estimators take them: ``filter`` is
        :class:`~skgsr.penalty.GraphPenalty`'s ``filter``, ``filter_scale`` its
        ``scale``, ``filter_method`` its ``method`` (except that ``"auto"``
        takes Chebyshev for ``"heat"`` and callables on a learned graph above
        512 neurons, which a rebuild would decompose anew), ``filter_order``
        its ``order``, ``filter_center`` its ``center``; ``laplacian="auto"`` is
        combinatorial for given graphs and normalized for a learned one, and
        ``filter_center="auto"`` centres for ``"rayleigh"`` only (the centred,
        scale-free Rayleigh quotient) and for no other filter.
        ``filter="topographic"`` is :class:`~skgsr.penalty.TopographicPenalty`,
        a penalty of the batch's correlations (the scale, method, order and
        centring parameters do not apply to it).
    n_neighbors, graph_warmup, graph_update_interval, graph_n_samples, \
graph_kernel, graph_metric
        The learned graph's schedule and construction, as in the estimators:
        no penalty for ``graph_warmup`` epochs, then a graph built from up to
        ``graph_n_samples`` samples, rebuilt every ``graph_update_interval``
        epochs (see :func:`skgsr.graphs.coactivation_graph`).
        ``n_neighbors="auto"`` is a sixth of the width, ``round(n_nodes / 6)``
        within ``[2, n_nodes - 1]`` (``n_neighbors_``). ``graph_kernel="auto"``
        is ``"similarity"`` for ``graph_metric="partial_correlation"`` and
        ``"gaussian"`` for the other metrics. ``graph_metric="input_profile"``
        joins units by their correlations with the inputs (each unit's
        squared correlations with the input features over the encoded
        samples, compared by correlation): :meth:`update_graph` then needs
        the samples' ``inputs``. The estimators' default; here the default
        stays ``"correlation"`` (the co-activation graph), which needs only
        the activations, so that a loop that calls
        ``update_graph(activations)`` keeps working.
    learned_objective : {"modules", "smooth"}, default="modules"
        What a learned graph is trained with (ignored for other graphs).
        ``"smooth"``: the papers' recipe, the ``filter`` penalty on the learned
        graph's Laplacian, which makes neighbouring units alike.
        ``"modules"``: units far apart in the graph (more than 2 edges) are
        decorrelated, each unit is drawn to correlate with one group of inputs
        (Kaiser's varimax criterion on the units' correlations with the
        batch's inputs) and no group of inputs is left to one or two units (a
        load-balancing term, which asks each input for a share that follows
        its communality, over the size of its module, so that every module
        draws the same share: :attr:`graph_input_weights_`, taken from the
        inputs of the first graph's rows); every term is a batch correlation, so the
        ``filter`` parameters do not apply and :meth:`penalty` needs the inputs
        (the user guide's :ref:`learned_graph` has the formulas and the study
        that chose it).
    flatten : bool, default=False
        Accept outputs with more than two axes, each value after the batch axis
        a node in row-major order (``output.flatten(1)``): node ``(c * H + h) *
        W + w`` of a ``(batch, C, H, W)`` map, ``(h * W + w) * C + c`` of a
        channels-last ``(batch, H, W, C)`` one (a sequence ``(batch, T, D)``
        likewise). False: only ``(batch, n_nodes)`` outputs are taken and any
        other shape is an error, so that a map is never flattened unasked.
    random_state : int, RandomState instance or None, default=None
        Draws the samples :meth:`epoch_end` encodes for a learned graph.

    Attributes
    ----------
    penalty_ : skgsr.penalty.GraphPenalty or None
        The penalty on the layer; None until a graph exists (the width is not
        known yet, or a learned graph has not been built).
    n_nodes_ : int or None
        Width of the layer, once known.
    graph_shape_ : tuple of int or None
        ``(h, w)`` layout of the graph, to reshape activations into maps.
    last_penalty_ : torch.Tensor or None
        The penalty (without ``alpha``, detached) of the last :meth:`penalty`
        call that computed one.
    n_epochs_ : int
        Epochs counted by :meth:`epoch_end` (learned graph).
    n_neighbors_ : int or None
        With ``graph="learned"``: the neighbours per unit, ``n_neighbors`` with
        ``"auto"`` resolved, once the width is known.

    See Also
    --------
    skgsr.penalty.GraphPenalty : The penalty of a batch of activations.
    skgsr.GSRClassifier : An estimator that trains such a layer.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skgsr.nn import GraphRegularizer
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> reg = GraphRegularizer(model[1], graph="grid", alpha=0.1)
    >>> x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
    >>> loss = nn.functional.cross_entropy(model(x), y) + reg.penalty()
    >>> loss.backward()
    >>> reg.graph_shape_, reg.penalty_.n_nodes
    ((4, 4), 16)
    >>> reg.remove()
    """

    _parameter_constraints = {
        **PARAMETER_CONSTRAINTS,
        "n_nodes": [None, Interval(Integral, 1, None, closed="left")],
        "flatten": ["boolean"],
        "random_state": ["random_state"],
    }

    # Warn when a learned graph leaves units out (the estimators warn once a fit).
    _warn_inactive = True

    def __init__(
        self,
        layer=None,
        graph="grid",
        *,
        model=None,
        n_nodes=None,
        graph_shape=None,
        alpha=1e-3,
        filter="laplacian",
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
        graph_metric="correlation",
        learned_objective="modules",
        flatten=False,
        random_state=None,
    ):
        self.graph = graph
        self.n_nodes = n_nodes
        self.graph_shape = graph_shape
        self.alpha = alpha
        self.filter = filter
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
        self.learned_objective = learned_objective
        self.flatten = flatten
        self.random_state = random_state
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        self.model = model
        self.penalty_ = None
        self.n_nodes_ = None
        self.graph_shape_ = None
        self.last_penalty_ = None
        self.n_neighbors_ = None
        self.learned_ = None
        if self._is_learned():
            self.learned_ = LearnedGraph(
                n_neighbors,
                graph_warmup,
                graph_update_interval,
                graph_n_samples,
                *_resolved_construction(graph_kernel, graph_metric),
            )
        self._layer = None
        self._handle = None
        self._input_handle = None
        self._removed = False
        self._seen_forward = False
        self._activations = []
        self._inputs = []  # the model's inputs, with learned_objective="modules"
        self._objective = None  # _ModulesObjective of the graph in use
        self._recording = None
        self._warned_inactive = False
        self._warned_rebuild = False
        self._width_name = "n_nodes"
        self._rng = check_random_state(random_state)
        if n_nodes is not None:
            self.resolve(n_nodes)
        if layer is not None:
            self.attach(layer)

    # ------------------------------------------------------------------ graph
    def _is_learned(self):
        return isinstance(self.graph, str) and self.graph == "learned"

    def _trains_modules(self):
        """Whether the objective is ``"modules"`` (it needs the batch's inputs)."""
        return self._is_learned() and self.learned_objective == "modules"

    def _batch_level(self):
        """Whether the penalty is one of the whole batch (``"topographic"``), not
        a mean over its samples."""
        return getattr(self.penalty_, "batch_level", False)

    def laplacian_kind(self):
        """The Laplacian the penalty uses: ``laplacian`` with ``"auto"`` resolved."""
        if self.laplacian != "auto":
            return self.laplacian
        return "normalized" if self._is_learned() else "combinatorial"

    def centered(self):
        """Whether the penalty centres each sample: ``filter_center`` resolved.

        ``"auto"`` centres for ``filter="rayleigh"`` (the centred Rayleigh
        quotient, blind to the layer's scale and to a common offset) and for no
        other filter, whose penalties are then exactly the papers'.
        """
        if self.filter_center != "auto":
            return bool(self.filter_center)
        return isinstance(self.filter, str) and self.filter == "rayleigh"

    def make_penalty(self, adjacency, lmax=None):
        """The :class:`~skgsr.penalty.GraphPenalty` of this regularizer's filter.

        Parameters
        ----------
        adjacency : array-like, scipy sparse matrix or networkx.Graph
            The graph (validated by the penalty).
        lmax : float, optional
            Largest Laplacian eigenvalue, estimated when None.

        Returns
        -------
        penalty : skgsr.penalty.GraphPenalty or skgsr.penalty.TopographicPenalty
        """
        if isinstance(self.filter, str) and self.filter == "topographic":
            return TopographicPenalty(adjacency, laplacian=self.laplacian_kind())
        return GraphPenalty(
            adjacency,
            filter=self.filter,
            laplacian=self.laplacian_kind(),
            scale=self.filter_scale,
            method=self._method(adjacency),
            order=self.filter_order,
            center=self.centered(),
            lmax=lmax,
            # a learned graph is decomposed anew at every rebuild (method="exact")
            decomposition_dtype=torch.float32 if self._is_learned() else torch.float64,
        )

    def _method(self, adjacency):
        """``filter_method``, where "auto" takes Chebyshev for a learned graph
        over more than 512 neurons with an L2 filter (``"heat"``, a callable):
        no eigendecomposition at each rebuild (0.1-0.2 s at 1024 neurons), for
        sparse products about as fast per step as the dense exact one there
        (benchmarks/README.rst, "bench_graph.py")."""
        if (
            self.filter_method != "auto"
            or not self._is_learned()
            or np.shape(adjacency)[0] <= _LEARNED_EXACT_MAX_NODES
        ):
            return self.filter_method
        spectral = _resolve_filter(self.filter, self.filter_scale, 1.0)
        l2 = spectral.norm == "l2" and not spectral.is_quadratic_form
        return "chebyshev" if l2 else "auto"

    def resolve(self, n_nodes, width_name=None):
        """Fix the layer's width: the graph's layout, and its penalty.

        Done on its own at the first forward pass (or at :meth:`attach`, from
        the layer's ``out_features``); call it to validate the graph before any.

        Parameters
        ----------
        n_nodes : int
            Width of the layer.
        width_name : str, optional
            What error messages call the width (e.g. an estimator's
            ``"n_components"``); ``"n_nodes"`` by default.

        Returns
        -------
        self : GraphRegularizer
        """
        if width_name is not None:
            self._width_name = width_name
        width = self._width_name
        shape = _check_graph_shape(self.graph_shape, n_nodes, width)
        adjacency = None
        if self._is_learned():
            # checked now, not at the first rebuild graph_warmup epochs later
            if n_nodes < 2:
                raise ValueError(
                    f"graph='learned' joins each structured neuron to its nearest "
                    f"other neurons: a learned graph needs {width} >= 2, got "
                    f"{width}={n_nodes}."
                )
            n_neighbors = self.n_neighbors
            if n_neighbors == "auto":
                n_neighbors = _auto_neighbors(n_nodes)
            if n_neighbors >= n_nodes:
                raise ValueError(
                    f"graph='learned' joins each structured neuron to its "
                    f"n_neighbors={self.n_neighbors} nearest other neurons, so "
                    f"n_neighbors must be smaller than {width}={n_nodes}. Lower "
                    f"n_neighbors (at most {n_nodes - 1}, or 'auto') or raise {width}."
                )
            self.n_neighbors_ = self.learned_.n_neighbors = n_neighbors
            layout = shape or _display_shape(n_nodes)
        elif isinstance(self.graph, str):
            layout = graphs._resolve_graph_shape(self.graph, shape or n_nodes)
            if layout[0] * layout[1] != n_nodes:
                raise ValueError(
                    f"graph={self.graph!r} with graph_shape={self.graph_shape!r} has "
                    f"{layout[0] * layout[1]} nodes but {width}={n_nodes}."
                )
            adjacency = graphs.make_graph(self.graph, layout)
        else:
            given = _n_nodes_of(self.graph)
            if given is not None and given != n_nodes:
                raise ValueError(
                    f"graph has {given} nodes but the structured layer has "
                    f"{width}={n_nodes} neurons; they must match (one node per "
                    "neuron)."
                )
            adjacency = self.graph
            layout = shape or _display_shape(n_nodes)
        self.n_nodes_ = n_nodes
        self.graph_shape_ = layout
        if adjacency is not None:
            self.penalty_ = self.make_penalty(adjacency)
        return self

    @property
    def adjacency_(self):
        """The graph in use (scipy sparse), or None before there is one."""
        return None if self.penalty_ is None else self.penalty_.adjacency

    @property
    def active(self):
        """Whether :meth:`penalty` applies a penalty now (False in a warm-up)."""
        if self.penalty_ is None:
            return False
        return self.learned_ is None or self.learned_.warmed_up

    # --------------------------------------------------------------- the hook
    def attach(self, layer):
        """Register the hook on ``layer`` (a module, or a name in ``model``).

        Parameters
        ----------
        layer : torch.nn.Module or str

        Returns
        -------
        self : GraphRegularizer
        """
        self._check_usable()
        if self._handle is not None:
            raise RuntimeError(
                "This GraphRegularizer is already attached to a layer; remove() it "
                "first or create another one."
            )
        if isinstance(layer, str):
            layer = self._named_layer(layer)
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(
                f"layer must be a torch.nn.Module or the name of one in model; got "
                f"{type(layer).__name__}."
            )
        width = getattr(layer, "out_features", None)
        if self.n_nodes_ is None and isinstance(width, int) and not self.flatten:
            self.resolve(width)
        self._layer = layer
        self._handle = layer.register_forward_hook(self._capture)
        if self._trains_modules() and self.model is not None:
            self._input_handle = self.model.register_forward_pre_hook(
                self._capture_input
            )
        return self

    def _named_layer(self, name):
        if self.model is None:
            raise ValueError(
                f"layer={name!r} is a name: pass the model it belongs to, "
                "GraphRegularizer(layer_name, model=model, ...)."
            )
        try:
            return self.model.get_submodule(name)
        except AttributeError:
            names = [n for n, _ in self.model.named_modules() if n]
            shown = ", ".join(map(repr, names[:20]))
            shown += " ..." if len(names) > 20 else ""
            raise ValueError(
                f"The model has no layer named {name!r}. Its layers are named "
                f"{shown} (dict(model.named_modules()) lists them)."
            ) from None

    def remove(self):
        """Detach the hook from the layer; the regularizer cannot be used after."""
        for handle in (self._handle, self._input_handle):
            if handle is not None:
                handle.remove()
        self._handle = self._input_handle = None
        self._layer = None
        self._activations, self._inputs = [], []
        self._removed = True

    def __getstate__(self):
        # a pickle or copy (also of the model it hooks) is detached: its hook does
        # nothing, and attach() puts it on a layer again
        state = self.__dict__.copy()
        state.update(
            _layer=None,
            _handle=None,
            _input_handle=None,
            _activations=[],
            _inputs=[],
            _recording=None,
            model=None,
        )
        return state

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()

    def _check_usable(self):
        if self._removed:
            raise RuntimeError(
                "This GraphRegularizer was removed from its layer (remove() or the "
                "end of a with block); create a new one to regularize again."
            )

    def _signal(self, output):
        """The layer's output as a ``(batch, n_nodes)`` signal, checked."""
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"GraphRegularizer needs a layer whose output is a tensor; this "
                f"layer returned a {type(output).__name__}. Regularize a layer that "
                "returns the activations themselves."
            )
        if output.ndim != 2:
            if not (self.flatten and output.ndim > 2):
                raise ValueError(
                    f"The regularized layer returned an output of shape "
                    f"{tuple(output.shape)}; GraphRegularizer takes outputs of shape "
                    "(batch, n_nodes), one graph node per unit. For maps or "
                    "sequences with more axes ((batch, C, H, W), channels-last "
                    "(batch, H, W, C), (batch, T, D)) pass flatten=True: every value "
                    "after the batch axis becomes a node, in row-major order "
                    "(output.flatten(1)). Or regularize a layer whose output is "
                    "(batch, n_nodes), such as the Linear layer after a Flatten."
                )
            output = output.flatten(1)
        n_nodes = output.shape[1]
        if self.n_nodes_ is None:
            self.resolve(n_nodes)
        elif n_nodes != self.n_nodes_:
            raise ValueError(
                f"The regularized layer outputs {n_nodes} units per sample but the "
                f"graph has {self.n_nodes_} nodes ({self._width_name}="
                f"{self.n_nodes_}); one node per unit, so they must match."
            )
        return output

    def _capture(self, module, args, output):
        if module is not self._layer:
            # the hook of a copied or unpickled model: its regularizer is detached
            return
        if self._recording is not None:
            self._recording.append(self._signal(output).detach())
        elif torch.is_grad_enabled():
            self._activations.append(self._signal(output))
            self._seen_forward = True

    def _capture_input(self, module, args):
        if module is not self.model or self._recording is not None:
            return  # a copied model's hook, or the regularizer's own encoding
        if torch.is_grad_enabled() and args and isinstance(args[0], torch.Tensor):
            self._inputs.append(args[0])

    # ------------------------------------------------------------ the penalty
    def penalty(self, sample_weight=None, inputs=None):
        """``alpha`` times the penalty of the activations seen since the last call.

        Parameters
        ----------
        sample_weight : torch.Tensor or array-like of shape (n_samples,), optional
            Weights of the samples of those forward passes, in order. With
            ``learned_objective="modules"`` or ``filter="topographic"`` the
            correlations are weighted (weighted means, each sample's deviations
            scaled by the square root of its weight).
        inputs : torch.Tensor or array-like of shape (n_samples, ...), optional
            The inputs of those forward passes, one row per sample in the same
            order (more axes are flattened: each value an input feature). Needed
            with ``learned_objective="modules"`` unless the regularizer was
            given ``model``, whose inputs it then reads; ignored otherwise.

        Returns
        -------
        penalty : torch.Tensor
            A scalar on the layer's device, differentiable with respect to the
            activations; zero when no training pass ran since the last call,
            during a learned graph's warm-up, or with ``alpha=0``.

        Raises
        ------
        RuntimeError
            When the regularizer is not attached to a layer, before the layer's
            first training forward pass, or after :meth:`remove`.
        ValueError
            With ``learned_objective="modules"``, when the inputs are missing or
            do not have one row per sample.
        """
        activations, captured = self._take_activations()
        inputs = self._modules_inputs(activations, inputs, captured)
        if not activations or self.alpha == 0 or not self.active:
            device = activations[0].device if activations else self._device()
            return torch.zeros((), device=device)
        raw = self._penalty_of(activations, sample_weight, inputs)
        self.last_penalty_ = raw.detach()
        return self.alpha * raw

    def _add_penalty(self, loss, sample_weight=None, output=None, inputs=None):
        """``loss + penalty(sample_weight, inputs)``, with the raw penalty (None
        when off).

        The estimators' training step, whose total is backpropagated once with
        ``total.backward()``: for the quadratic-form filters the gradient of the
        penalty comes from a hook on the activations (see
        ``GraphPenalty._add_to``); nothing is added when the penalty is off.
        ``output``: the layer's output to penalize instead of the one the hook
        kept, through autograd and no hook: a compiled network's hook keeps a
        tensor outside the graph of the loss.
        """
        activations, captured = self._take_activations()
        if output is not None:
            activations = [output]
        inputs = self._modules_inputs(activations, inputs, captured)
        if not activations or self.alpha == 0 or not self.active:
            return loss, None
        if (
            len(activations) > 1
            or output is not None
            or self._trains_modules()
            or self._batch_level()
        ):
            raw = self._penalty_of(activations, sample_weight, inputs)
            total = loss + self.alpha * raw
        else:
            z = self._penalty_input(activations[0])
            total, raw = self.penalty_._add_to(loss, z, self.alpha, sample_weight)
        self.last_penalty_ = raw = raw.detach()
        return total, raw

    def _take_activations(self):
        """The activations seen since the last call, checked to exist."""
        self._check_usable()
        if self._layer is None:
            raise RuntimeError(
                "This GraphRegularizer is not attached to a layer: pass the layer "
                "when creating it, or call attach(layer), then run a training "
                "forward pass before penalty()."
            )
        activations, self._activations = self._activations, []
        captured, self._inputs = self._inputs, []
        if not self._seen_forward:
            raise RuntimeError(
                "GraphRegularizer.penalty() was called before any training forward "
                "pass of the regularized layer: run the model on a batch first "
                "(passes under torch.no_grad() are not regularized)."
            )
        return activations, captured

    def _modules_inputs(self, activations, inputs, captured):
        """The batch's inputs, checked, where the modules objective needs them."""
        if activations and self.alpha > 0 and self._trains_modules():
            # checked from the first step, not only once the warm-up is over
            n_rows = sum(len(z) for z in activations)
            return self._batch_inputs(inputs, captured, n_rows)
        return inputs

    def _batch_inputs(self, inputs, captured, n_rows):
        """The inputs of the samples seen, as a 2-D tensor, checked."""
        if inputs is None and captured:
            inputs = captured[0] if len(captured) == 1 else torch.cat(captured)
        if inputs is None:
            raise ValueError(
                "learned_objective='modules' correlates the layer's units with the "
                "inputs of the batch: pass them, penalty(inputs=x) (x the model's "
                "input of the forward passes since the last call, one row per "
                "sample), or give the regularizer model= so that it reads them; "
                "learned_objective='smooth' (the papers' penalty) needs no inputs."
            )
        inputs = torch.as_tensor(inputs)
        if inputs.ndim == 1:
            inputs = inputs[:, None]
        if inputs.ndim > 2:
            inputs = inputs.flatten(1)
        if len(inputs) != n_rows:
            raise ValueError(
                f"inputs has {len(inputs)} rows but the regularized layer saw "
                f"{n_rows} samples since the last penalty() call: "
                "learned_objective='modules' needs one row of inputs per sample, "
                "in the order of the forward passes."
            )
        return inputs

    def _device(self):
        return torch.device("cpu") if self.penalty_ is None else self.penalty_.device

    def _penalty_input(self, z):
        """``z`` as the penalty computes it (float32 for half precision), with the
        penalty on its device."""
        if z.dtype in _LOW_PRECISION:
            # mixed precision (autocast): sparse products have no half kernels
            z = z.float()
        if self.penalty_.device != z.device:
            self.penalty_ = self.penalty_.to(z.device)
        return z

    def _penalty_of(self, activations, sample_weight, inputs=None):
        """The (weighted) mean penalty over the samples of several passes (the
        penalty of them all as one batch for the batch-level objectives)."""
        activations = [self._penalty_input(z) for z in activations]
        penalty = self.penalty_
        if self._trains_modules() or self._batch_level():
            z = activations[0] if len(activations) == 1 else torch.cat(activations)
            if self._trains_modules():
                return self._modules_objective(z, inputs, sample_weight)
            if sample_weight is not None:
                sample_weight = self._weights(sample_weight, z, len(activations))
            return penalty(z, sample_weight)
        if len(activations) == 1:
            return penalty(activations[0], sample_weight)
        per_sample = torch.cat([penalty.per_sample(z) for z in activations])
        if sample_weight is None:
            return per_sample.mean()
        weights = self._weights(sample_weight, per_sample, len(activations))
        return (per_sample * weights).sum() / weights.sum()

    @staticmethod
    def _weights(sample_weight, like, n_passes):
        weights = torch.as_tensor(sample_weight, dtype=like.dtype, device=like.device)
        if weights.shape != like.shape[:1]:
            raise ValueError(
                f"sample_weight must have one weight per sample of the "
                f"{n_passes} forward passes since the last penalty() call, "
                f"shape ({like.shape[0]},); got {tuple(weights.shape)}."
            )
        return weights

    @property
    def _needs_input_weights(self):
        """Whether the next rebuild sets the coverage's input weights."""
        return self._trains_modules() and self.learned_.input_weights is None

    @property
    def _rebuild_needs_inputs(self):
        """Whether a rebuild wants the encoded rows' inputs (input profiles,
        or the coverage's input weights not yet set)."""
        return self.learned_ is not None and (
            self.learned_.needs_inputs or self._needs_input_weights
        )

    def _new_objective(self, adjacency):
        weights = None if self.learned_ is None else self.learned_.input_weights
        return _ModulesObjective(adjacency, weights)

    def _modules_objective(self, z, inputs, sample_weight):
        """``learned_objective="modules"`` of a batch (without ``alpha``)."""
        adjacency = self.penalty_.adjacency
        if self._objective is None or self._objective[0] is not adjacency:
            self._objective = (adjacency, self._new_objective(adjacency))
        x = inputs.to(device=z.device, dtype=z.dtype, non_blocking=True)
        weights = None
        if sample_weight is not None:
            weights = self._weights(sample_weight, z, 1)
        return self._objective[1](z, x, weights)

    def measure(self, z, sample_weight=None, inputs=None):
        """The penalty of a batch without ``alpha``, not trained on (no gradient).

        What :meth:`penalty` would return over ``alpha`` for these activations
        (the penalty in use; zero before a learned graph exists). The estimators
        record it at ``alpha=0``.

        Parameters
        ----------
        z : torch.Tensor of shape (n_samples, n_nodes)
        sample_weight : torch.Tensor of shape (n_samples,), optional
        inputs : torch.Tensor of shape (n_samples, ...), optional
            Needed with ``learned_objective="modules"``.

        Returns
        -------
        penalty : torch.Tensor
            A detached scalar.
        """
        if self.penalty_ is None:
            return torch.zeros((), device=z.device)
        if self._trains_modules():
            inputs = self._batch_inputs(inputs, [], len(z))
        with torch.no_grad():
            return self._penalty_of([z.detach()], sample_weight, inputs)

    def clear(self):
        """Forget the activations (and inputs) seen since the last :meth:`penalty`."""
        self._activations, self._inputs = [], []

    def monitor(self, every=1):
        """A meter of the penalty measured but not trained on (``alpha=0``).

        Parameters
        ----------
        every : int, default=1
            Measure every ``every``-th batch offered (the first, then every
            ``every``-th after it); 1 measures them all.

        Returns
        -------
        monitor : object
            ``add(z, sample_weight, inputs)`` per batch, ``result()`` the mean
            penalty per sample over the measured batches (each batch's mean
            counted for its size).
        """
        if self._trains_modules() or self._batch_level():
            return BatchMonitor(self.measure, every=every)
        return PenaltyMonitor(self.penalty_, every=every)

    # ------------------------------------------------------- the learned graph
    @property
    def update_due(self):
        """Whether a learned graph's schedule asks for a new graph now."""
        return self.learned_ is not None and self.learned_.update_due

    def update_graph(self, activations, scheduled=True, inputs=None):
        """Build the learned graph from activations and use it from now on.

        Parameters
        ----------
        activations : array-like or torch.Tensor of shape (n_samples, n_nodes)
            The layer's activations on some training samples (each column a
            unit, a point of the kNN graph).
        scheduled : bool, default=True
            This is the rebuild the schedule asked for (:attr:`update_due`
            becomes False). False: a graph built outside the schedule (e.g. to
            look at it), which leaves a due rebuild due.
        inputs : array-like or torch.Tensor of shape (n_samples, ...), optional
            The model's inputs on the same samples; needed (only) with
            ``graph_metric="input_profile"``.

        Returns
        -------
        adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        """
        self._check_usable()
        if self.learned_ is None:
            raise ValueError(
                f"update_graph builds a learned graph, but graph={self.graph!r}; "
                "use graph='learned'."
            )
        if isinstance(activations, torch.Tensor):
            activations = activations.detach().cpu().numpy()
        activations = np.asarray(activations)
        if activations.ndim != 2:
            raise ValueError(
                "activations must be a 2-D array (n_samples, n_nodes); got shape "
                f"{activations.shape}."
            )
        if self.n_nodes_ is None:
            self.resolve(activations.shape[1])
        elif activations.shape[1] != self.n_nodes_:
            raise ValueError(
                f"activations have {activations.shape[1]} columns but the layer has "
                f"{self.n_nodes_} units."
            )
        if self.learned_.needs_inputs and inputs is None:
            raise ValueError(
                "graph_metric='input_profile' builds the graph from the "
                "units' correlations with the inputs: pass the same samples' "
                "inputs, update_graph(activations, inputs=X)."
            )
        if inputs is not None:
            if isinstance(inputs, torch.Tensor):
                inputs = inputs.detach().cpu().numpy()
            inputs = np.asarray(inputs)
            if len(inputs) != len(activations):
                raise ValueError(
                    f"inputs have {len(inputs)} rows but activations "
                    f"{len(activations)}: pass the inputs of the same samples."
                )
        previous = None if self.penalty_ is None else self.penalty_.adjacency
        try:
            if self._needs_input_weights and inputs is not None:
                # the coverage's target: the data's, so found once (at the
                # first graph) and kept by warm starts and saved files
                self.learned_.input_weights = _coverage_weights(
                    *_input_module_sizes(inputs)
                )
            adjacency, inactive = self.learned_.build(activations, inputs)
            if self.penalty_ is None:
                self.penalty_ = self.make_penalty(adjacency)
            else:
                self.penalty_.set_graph(adjacency)
            adjacency_in_use = self.penalty_.adjacency
            if self._trains_modules():
                # the far pairs of the new graph, found once per rebuild
                self._objective = (
                    adjacency_in_use,
                    self._new_objective(adjacency_in_use),
                )
        except Exception as exc:  # any failure of one rebuild
            return self._rebuild_failed(exc, previous, scheduled)
        self.learned_.record(adjacency_in_use, inactive, scheduled)
        inactive = self.learned_.inactive
        if (
            self._warn_inactive
            and inactive.size
            and self.alpha > 0
            and not self._warned_inactive
        ):
            self._warned_inactive = True
            warn(
                f"{inactive.size} of {self.n_nodes_} units of the regularized layer "
                "did not vary over the samples encoded for the learned graph (dead "
                "or saturated units); they are isolated nodes without penalty: "
                f"{inactive[:10].tolist()}{' ...' if inactive.size > 10 else ''}.",
                UserWarning,
            )
        return adjacency

    def _rebuild_failed(self, exc, previous, scheduled):
        """Keep training on the previous graph (or none yet) after a failed
        rebuild, warned once per regularizer: a fit must not be lost to it."""
        if previous is not None and self.penalty_.adjacency is not previous:
            # the new graph reached the penalty (it may be half-updated): restore
            self.penalty_.set_graph(previous)
        if scheduled:
            self.learned_.skip()
        if not self._warned_rebuild:
            self._warned_rebuild = True
            keeps = (
                "training continues on the previous graph"
                if previous is not None
                else "training continues without the penalty until a rebuild succeeds"
            )
            warn(
                f"Rebuilding the learned graph failed ({type(exc).__name__}: {exc}); "
                f"{keeps}. Later failures in this fit are not reported again.",
                UserWarning,
            )
        return previous

    def epoch_end(self, inputs=None, *, model=None):
        """Count an epoch; rebuild a learned graph when its schedule says so.

        Call it after every training epoch. With ``graph="learned"``, once
        ``graph_warmup`` epochs have ended (and every ``graph_update_interval``
        epochs after) up to ``graph_n_samples`` rows of ``inputs`` are run through
        ``model`` (evaluation mode, no gradient) and the graph is rebuilt from the
        layer's activations. Without inputs the rebuild stays due
        (:attr:`update_due`) until :meth:`update_graph` is called.

        Parameters
        ----------
        inputs : torch.Tensor, array-like or iterable of batches, optional
            Training inputs of the model (rows are samples), or an iterable of
            batches (a ``DataLoader``; a tuple batch contributes its first item).
        model : torch.nn.Module, optional
            The model to run; defaults to the ``model`` given at construction.

        Returns
        -------
        rebuilt : bool
            Whether a new graph was built.
        """
        self._check_usable()
        if self.learned_ is None:
            return False
        self.learned_.end_epoch()
        if not self.update_due or inputs is None:
            return False
        model = model if model is not None else self.model
        if model is None:
            raise ValueError(
                "epoch_end(inputs) runs the inputs through the model to rebuild the "
                "learned graph: pass model= here or when creating the regularizer."
            )
        activations, rows = self._encode(inputs, model)
        self.update_graph(activations, inputs=rows)
        return True

    def _encode(self, inputs, model):
        """The layer's activations on up to ``graph_n_samples`` rows of ``inputs``,
        and those rows (flattened) when the graph needs them, else None."""
        device = module_device(model)
        keep = self._rebuild_needs_inputs
        rows = []
        with evaluation_mode(model), torch.no_grad(), self._recorded() as recorded:
            for batch in self._input_batches(inputs):
                model(batch.to(device))
                if keep:
                    rows.append(batch.reshape(len(batch), -1).cpu())
        if not recorded:
            raise ValueError("epoch_end got no inputs to encode (an empty data set).")
        activations = torch.cat(recorded).cpu().numpy()
        return activations, torch.cat(rows).numpy() if keep else None

    @contextmanager
    def _recorded(self):
        """Collect the layer's (detached) signals of every pass in the block."""
        self._recording = recorded = []
        try:
            yield recorded
        finally:
            self._recording = None

    def _input_batches(self, inputs):
        limit = self.graph_n_samples
        if isinstance(inputs, torch.Tensor | np.ndarray):
            inputs = torch.as_tensor(inputs)
            if len(inputs) > limit:
                rows = np.sort(self._rng.permutation(len(inputs))[:limit])
                inputs = inputs[torch.from_numpy(rows)]
            yield from inputs.split(INFERENCE_BATCH)
            return
        seen = 0
        for batch in inputs:
            if isinstance(batch, tuple | list):
                batch = batch[0]
            batch = torch.as_tensor(batch)[: limit - seen]
            yield batch
            seen += len(batch)
            if seen >= limit:
                return

    @property
    def graph_history_(self):
        """With ``graph="learned"``: the graphs built so far (the last 50)."""
        return None if self.learned_ is None else self.learned_.history

    @property
    def inactive_neurons_(self):
        """With ``graph="learned"``: units left out of the last graph."""
        return None if self.learned_ is None else self.learned_.inactive

    @property
    def graph_input_weights_(self):
        """With ``learned_objective="modules"``: the coverage's share of each
        input, from their communalities (:func:`input_communalities`) over the
        rows of the first graph built with inputs (equal above half the
        largest communality), divided by the size of each input's module (so
        that every module draws the same share), at least 0.05 of the
        smallest such share; None until then (the coverage is then
        uniform)."""
        return None if self.learned_ is None else self.learned_.input_weights

    @property
    def n_epochs_(self):
        return 0 if self.learned_ is None else self.learned_.n_epochs

    # ------------------------------------------------------------- estimators
    def continue_from(self, penalty, learned_attributes=None, n_epochs=0):
        """Continue with a fitted penalty (and learned-graph state), not anew.

        Used by the estimators' warm starts: the fitted penalty (whose
        eigendecomposition may have been costly) is reused as it is.
        """
        self.penalty_ = copy.deepcopy(penalty)
        if self.learned_ is not None:
            self.learned_.restore(learned_attributes or {}, n_epochs)
        return self

    def to(self, device):
        """Move the penalty's operators to ``device`` (they follow the activations'
        device on their own too); returns self."""
        if self.penalty_ is not None:
            self.penalty_ = self.penalty_.to(device)
        return self

    def __repr__(self):
        graph = self.graph if isinstance(self.graph, str) else "<adjacency>"
        name = self.filter if isinstance(self.filter, str) else "<callable>"
        state = (
            "removed"
            if self._removed
            else ("attached" if self._handle is not None else "detached")
        )
        return (
            f"GraphRegularizer(graph={graph!r}, alpha={self.alpha}, filter={name!r}, "
            f"n_nodes={self.n_nodes_}, {state})"
        )
