"""Interpretability metrics of activations on a graph.

``Z`` is a matrix of activations, one row :math:`z_b \\in \\mathbb{R}^n` per sample
and one column per neuron (node of the graph); ``graph`` an adjacency ``A`` over
the ``n`` nodes (anything :func:`skgsr.graphs.check_adjacency` accepts) with
Laplacian ``L`` (combinatorial :math:`D - A` unless stated).

- Smoothness: :func:`dirichlet_energy` (raw and scale-free),
  :func:`smoothness_score` (the energy against its expectation under a random
  relabelling of the neurons, in closed form) and :func:`morans_i` (spatial
  autocorrelation).
- Localization of activation maps on a grid layout: :func:`spatial_spread` and
  the graph-free :func:`participation_ratio`.
- Modules: :func:`module_recovery` (adjusted Rand index of spectral clustering of a
  feature graph against known modules of its nodes) and
  :func:`feature_module_recovery` (the same clusters read as modules of the input
  features, :func:`feature_module_labels`, against known modules of the inputs);
  :func:`graph_modularity` (how modular a graph is, without known modules) and
  :func:`shuffled_modularity` (what a learned graph's recipe scores on data
  without modules: the reference to read it against).

These are measures *of* a representation; they are independent of how it was
trained, so they apply equally to a GSR layer, an unregularized layer, or a
descrambled one (:mod:`skgsr.descramble`).
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from . import graphs

__all__ = [
    "dirichlet_energy",
    "feature_module_labels",
    "feature_module_recovery",
    "graph_modularity",
    "module_recovery",
    "morans_i",
    "participation_ratio",
    "shuffled_dirichlet_energy",
    "shuffled_modularity",
    "smoothness_score",
    "spatial_spread",
]

# Added to the squared norm of a centred sample in the scale-free energy, as the
# "rayleigh" penalty does, so that a constant sample scores 0 instead of 0/0.
_EPS = 1e-12


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #
def _check_signals(Z, n_nodes=None, name="Z"):
    """``Z`` as a 2-D float64 array (a 1-D ``Z`` is one sample)."""
    Z = np.asarray(Z) if not hasattr(Z, "toarray") else Z.toarray()
    if Z.ndim == 1:
        Z = Z.reshape(1, -1)
    Z = check_array(Z, dtype=np.float64, input_name=name)
    if n_nodes is not None and Z.shape[1] != n_nodes:
        raise ValueError(
            f"{name} has {Z.shape[1]} columns (neurons) but the graph has {n_nodes} "
            "nodes; one column per node is needed."
        )
    return Z


def _signals_and_laplacian(Z, graph, laplacian):
    adjacency = graphs.check_adjacency(graph)
    L = graphs.laplacian(adjacency, laplacian)
    return _check_signals(Z, L.shape[0]), L


def _quadratic_forms(Z, M):
    """:math:`z_b^T M z_b` for each row of ``Z`` (``M`` sparse and symmetric)."""
    return np.einsum("bi,bi->b", Z, (M @ Z.T).T)


# --------------------------------------------------------------------------- #
# Smoothness
# --------------------------------------------------------------------------- #
def dirichlet_energy(Z, graph, laplacian="combinatorial", *, scale_free=False):
    """Mean Dirichlet energy of the samples on the graph.

    .. math:: E(Z) = \\mathrm{mean}_b\\; z_b^T L z_b,

    with a combinatorial Laplacian :math:`= \\mathrm{mean}_b \\sum_{i<j} A_{ij}
    (z_{bi} - z_{bj})^2`: the ``"laplacian"`` GSR penalty. It scales with the
    square of the activations, so a network can lower it by shrinking its layer
    rather than organising it. ``scale_free=True`` gives the centred Rayleigh
    quotient instead,

    .. math:: E_{sf}(Z) = \\mathrm{mean}_b\\;
              \\frac{\\tilde z_b^T L \\tilde z_b}{\\tilde z_b^T \\tilde z_b + 10^{-12}},
              \\qquad \\tilde z_b = z_b - \\bar z_b \\mathbf{1},

    invariant to rescaling each sample and, for the combinatorial Laplacian
    (:math:`L\\mathbf{1} = 0`), to adding a constant to it. On a connected graph it
    lies between the smallest non-zero and the largest Laplacian eigenvalue; a
    constant sample scores 0.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_nodes) or (n_nodes,)
        Activations, one row per sample.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        Adjacency over the neurons (:func:`skgsr.graphs.check_adjacency`).
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        Kind of Laplacian (:func:`skgsr.graphs.laplacian`).
    scale_free : bool, default=False
        Return the centred Rayleigh quotient instead of the raw energy.

    Returns
    -------
    energy : float

    See Also
    --------
    smoothness_score : The energy relative to a random arrangement of neurons.

    Examples
    --------
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.metrics import dirichlet_energy
    >>> dirichlet_energy([[0.0, 1.0, 3.0]], make_graph("line", 3))  # 1 + 4
    5.0
    >>> round(dirichlet_energy([[0.0, 1.0, 3.0]], make_graph("line", 3),
    ...                        scale_free=True), 4)  # 5 / ||z - 4/3||^2
    1.0714
    """
    Z, L = _signals_and_laplacian(Z, graph, laplacian)
    if not scale_free:
        return float(np.mean(_quadratic_forms(Z, L)))
    Zc = Z - Z.mean(axis=1, keepdims=True)
    norms = np.einsum("bi,bi->b", Zc, Zc)
    return float(np.mean(_quadratic_forms(Zc, L) / (norms + _EPS)))


def shuffled_dirichlet_energy(Z, graph, laplacian="combinatorial"):
    """Expected Dirichlet energy under a uniformly random relabelling of the neurons.

    For a uniformly random permutation :math:`\\pi` of the ``n`` nodes, the
    permuted sample :math:`(z_{\\pi(1)}, \\dots, z_{\\pi(n)})` has expected energy
    (computed exactly, not sampled)

    .. math:: \\mathbb{E}_\\pi\\big[z_\\pi^T L z_\\pi\\big]
              = \\mathrm{tr}(L)\\,\\frac{S_2}{n}
              + \\big(\\mathbf{1}^T L \\mathbf{1} - \\mathrm{tr}(L)\\big)
                \\frac{S_1^2 - S_2}{n(n-1)},

    with :math:`S_1 = \\sum_i z_i` and :math:`S_2 = \\sum_i z_i^2`, because a
    diagonal entry of ``L`` meets :math:`z_{\\pi(i)}^2`, of mean :math:`S_2/n`, and
    an off-diagonal entry meets :math:`z_{\\pi(i)} z_{\\pi(k)}`, :math:`i \\ne k`, of
    mean :math:`(S_1^2 - S_2) / (n(n-1))`. For the combinatorial Laplacian
    (:math:`\\mathbf{1}^T L \\mathbf{1} = 0`, :math:`\\mathrm{tr}(L) = 2\\sum_{i<j}
    A_{ij}`) this is :math:`\\mathrm{tr}(L)\\, s^2`, with :math:`s^2 =
    \\sum_i (z_i - \\bar z)^2 / (n - 1)` the sample's variance over neurons. The
    value returned is the mean over samples (one shared or independent
    permutations give the same expectation, by linearity).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_nodes) or (n_nodes,)
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"

    Returns
    -------
    energy : float
        :math:`\\mathrm{mean}_b\\, \\mathbb{E}_\\pi[z_{b,\\pi}^T L z_{b,\\pi}]`.
    """
    Z, L = _signals_and_laplacian(Z, graph, laplacian)
    return float(np.mean(_shuffled_energies(Z, L)))


def _shuffled_energies(Z, L):
    n = Z.shape[1]
    if n < 2:
        raise ValueError(
            "A random relabelling of the neurons needs at least 2 nodes; got 1."
        )
    trace = float(L.diagonal().sum())
    total = float(L.sum())  # 1^T L 1
    s1 = Z.sum(axis=1)
    s2 = np.einsum("bi,bi->b", Z, Z)
    return trace * s2 / n + (total - trace) * (s1 * s1 - s2) / (n * (n - 1))


def smoothness_score(Z, graph, laplacian="combinatorial"):
    """Smoothness relative to a random arrangement of the neurons.

    .. math:: S(Z) = 1 - \\frac{\\sum_b z_b^T L z_b}
                            {\\sum_b \\mathbb{E}_\\pi[z_{b,\\pi}^T L z_{b,\\pi}]}
              = 1 - \\frac{E(Z)}{E_{shuffled}(Z)},

    with :math:`E` the :func:`dirichlet_energy` and :math:`E_{shuffled}` its exact
    expectation when the neurons are relabelled uniformly at random
    (:func:`shuffled_dirichlet_energy`). 0 means no smoother than a random
    arrangement of the same activations (white noise scores 0 in expectation),
    1 perfectly smooth (every sample constant on each connected component);
    negative values are rougher than random (the highest graph frequency of a
    combinatorial Laplacian scores :math:`1 - \\lambda_{max}(n-1)/\\mathrm{tr}(L)`).

    The score is invariant to rescaling ``Z`` (both energies are quadratic), so a
    network cannot raise it by shrinking its layer; with the combinatorial
    Laplacian it is also invariant to adding a constant to any sample (neither
    energy sees the mean of a sample), so no centring is needed. The ratio is of
    sums over samples: a sample weighs by its variance over neurons, and near-
    constant samples, whose ratio would be noise, weigh nothing. The denominator
    does not depend on the order of the neurons, so the permutation of the
    neurons that maximises ``S`` is :func:`skgsr.descramble.permutation_descrambler`
    with ``center=False``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_nodes) or (n_nodes,)
        Activations, one row per sample.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        Adjacency over the neurons.
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"

    Returns
    -------
    score : float
        NaN when every sample is constant (0/0).

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.metrics import smoothness_score
    >>> A = make_graph("line", 100)
    >>> round(smoothness_score(np.linspace(0, 1, 100), A), 4)  # a ramp
    0.9994
    >>> noise = np.random.RandomState(0).normal(size=(200, 100))
    >>> abs(smoothness_score(noise, A)) < 0.02
    True
    """
    Z, L = _signals_and_laplacian(Z, graph, laplacian)
    shuffled = float(np.sum(_shuffled_energies(Z, L)))
    if shuffled == 0.0:
        return float("nan")
    return 1.0 - float(np.sum(_quadratic_forms(Z, L))) / shuffled


def morans_i(Z, graph, *, average=True):
    """Moran's I of each sample with the adjacency as spatial weights.

    .. math:: I_b = \\frac{n}{S_0}\\,
              \\frac{\\sum_{i,j} A_{ij} (z_{bi} - \\bar z_b)(z_{bj} - \\bar z_b)}
                    {\\sum_i (z_{bi} - \\bar z_b)^2},
              \\qquad S_0 = \\sum_{i,j} A_{ij},

    the textbook spatial autocorrelation (Moran, 1950), the diagonal of ``A``
    ignored. Positive: neighbouring neurons have similar activations; its
    expectation under random relabelling is :math:`-1/(n-1)`. A constant sample
    has no defined I (0/0) and is left out of the average.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_nodes) or (n_nodes,)
        Activations, one row per sample.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        Adjacency, used as the spatial weights :math:`w_{ij} = A_{ij}`.
    average : bool, default=True
        Return the mean over the non-constant samples; else one value per sample
        (NaN for constant samples).

    Returns
    -------
    I : float or ndarray of shape (n_samples,)
        NaN when every sample is constant or the graph has no edges.

    Examples
    --------
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.metrics import morans_i
    >>> round(morans_i([1.0, 2.0, 3.0, 4.0], make_graph("line", 4)), 4)
    0.3333
    """
    A = graphs.check_adjacency(graph)
    Z = _check_signals(Z, A.shape[0])
    n = Z.shape[1]
    s0 = float(A.sum())
    deviations = Z - Z.mean(axis=1, keepdims=True)
    denominator = np.einsum("bi,bi->b", deviations, deviations)
    numerator = _quadratic_forms(deviations, A)
    valid = (denominator > 0) & (s0 > 0)
    values = np.full(Z.shape[0], np.nan)
    if s0 > 0:  # no edges (a single node included): no neighbours to compare
        values[valid] = (n / s0) * numerator[valid] / denominator[valid]
    if not average:
        return values
    return float(values[valid].mean()) if valid.any() else float("nan")


# --------------------------------------------------------------------------- #
# Localization
# --------------------------------------------------------------------------- #
def _axis_variances(mass, length, periodic):
    """Variance of the marginal ``mass`` (rows: samples) along an axis.

    On a periodic axis, the Fréchet variance :math:`\\min_c \\sum_j q_j
    d(j, c)^2` with the wrapped distance. Its minimiser's antipode cuts the circle
    between two sites, and unwrapped from that cut the sites lie within
    ``length / 2`` of the minimiser, which is then their ordinary mean. So the
    Fréchet variance is the smallest ordinary variance over the ``length`` ways
    to unwrap the circle, which is what is computed.
    """
    positions = np.arange(length, dtype=np.float64)
    if not periodic or length < 3:
        mean = mass @ positions
        return mass @ positions**2 - mean**2
    # unwrapped[k, j]: position of site j when the circle is cut just before k
    unwrapped = np.where(
        positions[None, :] < positions[:, None], positions + length, positions
    )
    means = mass @ unwrapped.T  # (samples, cuts)
    second = mass @ (unwrapped**2).T
    return np.min(second - means**2, axis=1)


def spatial_spread(Z, shape, *, periodic=False):
    """Spatial extent of each activation map around its centroid, on the grid layout.

    Node ``r * w + c`` sits at row ``r``, column ``c`` (the layout of
    :func:`skgsr.graphs.make_graph`). A map's activation is distributed over the
    grid as its energy, :math:`p_i = z_i^2 / \\sum_j z_j^2` (as the spatial extent
    of a wave function is measured from :math:`|\\psi|^2`; the same distribution
    as :func:`participation_ratio`, and blind to the sign of the activations).
    With centroid :math:`c = \\sum_i p_i r_i`, the spread is

    .. math:: \\sigma(z) = \\Big(\\sum_i p_i \\|r_i - c\\|^2\\Big)^{1/2}
              \\Big/ \\sigma_{uniform},
              \\qquad \\sigma_{uniform}^2 = \\frac{h^2 - 1}{12} + \\frac{w^2 - 1}{12},

    normalized by the spread of a uniform map, so that 0 is all activation on one
    neuron, 1 as spread as a constant map, and more than 1 activation split
    between distant regions. Lower is more localized. The value returned is the
    mean over samples (all-zero maps are left out). Activations are measured
    from zero, the value a ReLU layer's inactive neurons take: a constant offset
    is non-local activity.

    On a torus (``periodic=True``, or one flag per axis) distances wrap around,
    and the centroid and spread are the Fréchet mean and variance on each circle
    (the uniform spread is the same); axes of fewer than 3 nodes do not wrap, as
    in :func:`skgsr.graphs.make_graph`.

    Parameters
    ----------
    Z : array-like of shape (n_samples, h * w), (n_samples, h, w), (h, w) or \
(h * w,)
        Activations, one map per sample (or a single map).
    shape : tuple of int
        ``(h, w)`` layout, e.g. an estimator's ``graph_shape_``.
    periodic : bool or tuple of bool, default=False
        Whether the rows / columns wrap around (a torus).

    Returns
    -------
    spread : float

    See Also
    --------
    participation_ratio : A localization measure that ignores the layout.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.metrics import spatial_spread
    >>> spatial_spread(np.eye(16)[5], (4, 4))  # one active neuron
    0.0
    >>> spatial_spread(np.ones(16), (4, 4))  # uniform
    1.0
    """
    h, w = _check_layout(shape)
    wrap_rows, wrap_cols = _check_periodic(periodic)
    Z = np.asarray(Z)
    if Z.ndim == 3 or (Z.ndim == 2 and Z.shape == (h, w)):
        Z = Z.reshape(-1, h * w)  # maps, or a single (h, w) map
    Z = _check_signals(Z, h * w)
    if h * w < 2:
        raise ValueError(f"A spread needs at least 2 nodes; shape is {(h, w)}.")
    mass = (Z * Z).reshape(-1, h, w)
    total = mass.sum(axis=(1, 2))
    valid = total > 0
    mass = mass[valid] / total[valid, None, None]
    variance = _axis_variances(mass.sum(axis=2), h, wrap_rows) + _axis_variances(
        mass.sum(axis=1), w, wrap_cols
    )
    uniform = ((h * h - 1) + (w * w - 1)) / 12.0
    if not valid.any():
        return float("nan")
    return float(np.mean(np.sqrt(np.clip(variance, 0.0, None) / uniform)))


def _check_layout(shape):
    """``shape`` as ``(h, w)``, two positive integers."""
    dims = tuple(shape) if isinstance(shape, tuple | list | np.ndarray) else None
    if (
        dims is None
        or len(dims) != 2
        or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
            for s in dims
        )
    ):
        raise ValueError(
            "shape must be a grid layout (h, w) of two positive integers, e.g. an "
            f"estimator's graph_shape_; got {shape!r}."
        )
    return int(dims[0]), int(dims[1])


def _check_periodic(periodic):
    """``periodic`` as one flag per axis."""
    if np.ndim(periodic) == 0:
        return bool(periodic), bool(periodic)
    flags = np.ravel(periodic)
    if flags.size != 2:
        raise ValueError(
            "periodic must be a bool or one bool per axis (rows, columns); got "
            f"{periodic!r}."
        )
    return bool(flags[0]), bool(flags[1])


def participation_ratio(Z):
    """Normalized participation ratio: the share of neurons a sample uses.

    .. math:: \\mathrm{PR}(z) = \\frac{\\big(\\sum_i z_i^2\\big)^2}
                                    {n \\sum_i z_i^4} \\in \\Big[\\frac{1}{n}, 1\\Big],

    the inverse participation ratio of the energy distribution
    :math:`z_i^2 / \\|z\\|^2`, divided by ``n``: ``1/n`` when one neuron carries all
    the energy, 1 when all carry the same. Lower is more localized; it ignores the
    graph (a sparse but scattered map scores as localized), which
    :func:`spatial_spread` does not. Mean over samples with non-zero energy.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_nodes) or (n_nodes,)

    Returns
    -------
    ratio : float

    Examples
    --------
    >>> from skgsr.metrics import participation_ratio
    >>> participation_ratio([1.0, 1.0, 0.0, 0.0])
    0.5
    """
    Z = _check_signals(Z)
    energy = Z * Z
    second = energy.sum(axis=1)
    fourth = np.einsum("bi,bi->b", energy, energy)
    valid = fourth > 0
    if not valid.any():
        return float("nan")
    return float(np.mean(second[valid] ** 2 / (Z.shape[1] * fourth[valid])))


# --------------------------------------------------------------------------- #
# Modules
# --------------------------------------------------------------------------- #
def _check_n_modules(n_modules, modules, n_nodes, what="n_nodes"):
    if n_modules is None and modules is not None:
        n_modules = len(np.unique(modules))
    if (
        isinstance(n_modules, bool)
        or not isinstance(n_modules, numbers.Integral)
        or not 1 <= n_modules < n_nodes
    ):
        raise ValueError(
            f"n_modules must be an integer between 1 and {what} - 1 = "
            f"{n_nodes - 1}; got {n_modules!r}."
        )
    return int(n_modules)


def _spectral_clusters(adjacency, n_clusters, random_state):
    """Spectral clustering of the nodes of a validated adjacency."""
    from sklearn.cluster import SpectralClustering

    # scikit-learn's spectral embedding refuses 64-bit sparse indices, which scipy
    # gives a graph assembled from int64 coordinates (a learned feature_graph_)
    adjacency = sp.csr_array(
        (
            adjacency.data,
            adjacency.indices.astype(np.int32),
            adjacency.indptr.astype(np.int32),
        ),
        shape=adjacency.shape,
    )
    clustering = SpectralClustering(
        n_clusters=n_clusters,
        affinity="precomputed",
        random_state=check_random_state(random_state),
    )
    with warnings.catch_warnings():
        # a learned graph may be disconnected on purpose (one component per
        # module); spectral clustering handles it, its warning would only be noise
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        return clustering.fit_predict(adjacency)


def module_recovery(graph, modules, n_modules=None, random_state=None):
    """How well a feature graph's clusters recover known modules of features.

    Clusters the nodes of ``graph`` by spectral clustering
    (:class:`sklearn.cluster.SpectralClustering` with ``affinity="precomputed"``,
    the adjacency as affinity) into ``n_modules`` clusters and returns the
    adjusted Rand index (Hubert & Arabie, 1985) against the known labels,

    .. math:: \\mathrm{ARI} = \\frac{\\sum_{ij} \\binom{n_{ij}}{2} - E}
                                   {\\tfrac12 \\big[\\sum_i \\binom{a_i}{2}
                                    + \\sum_j \\binom{b_j}{2}\\big] - E},
              \\qquad E = \\frac{\\sum_i \\binom{a_i}{2} \\sum_j \\binom{b_j}{2}}
                               {\\binom{n}{2}},

    with :math:`n_{ij}` the contingency table of clusters and modules and
    :math:`a_i, b_j` its margins (:func:`sklearn.metrics.adjusted_rand_score`):
    1 for a perfect recovery up to relabelling, about 0 for a random one. A graph
    that collapsed onto one cluster scores about 0 however "pure" it looks.

    Parameters
    ----------
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        The feature graph, e.g. a learned ``feature_graph_``. A disconnected graph
        is valid (its components are natural clusters).
    modules : array-like of shape (n_nodes,)
        Known module of each node (any hashable labels).
    n_modules : int, optional
        Number of clusters; the number of distinct ``modules`` when None.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means step of spectral clustering.

    Returns
    -------
    ari : float

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skgsr.metrics import module_recovery
    >>> blocks = sp.block_diag([np.ones((5, 5))] * 3)  # three cliques
    >>> module_recovery(blocks, np.repeat(["a", "b", "c"], 5), random_state=0)
    1.0
    """
    from sklearn.metrics import adjusted_rand_score

    adjacency = graphs.check_adjacency(graph)
    n = adjacency.shape[0]
    modules = np.asarray(modules)
    if modules.shape != (n,):
        raise ValueError(
            f"modules must have one label per node, shape ({n},); got shape "
            f"{modules.shape}."
        )
    n_modules = _check_n_modules(n_modules, modules, n)
    labels = _spectral_clusters(adjacency, n_modules, random_state)
    return float(adjusted_rand_score(modules, labels))


def _abs_correlations(X, Z):
    """:math:`|r|` between each column of ``X`` (rows) and of ``Z`` (columns).

    A constant column correlates with nothing (0, not 0/0).
    """
    Xc = X - X.mean(axis=0)
    Zc = Z - Z.mean(axis=0)
    x_norms = np.linalg.norm(Xc, axis=0)
    z_norms = np.linalg.norm(Zc, axis=0)
    scale = max(float(np.abs(X).max(initial=0.0)), 1.0)
    x_norms[x_norms <= 1e-12 * scale * np.sqrt(len(X))] = np.inf
    scale = max(float(np.abs(Z).max(initial=0.0)), 1.0)
    z_norms[z_norms <= 1e-12 * scale * np.sqrt(len(Z))] = np.inf
    return np.abs((Xc / x_norms).T @ (Zc / z_norms))


def feature_module_labels(X, Z, graph, n_modules, *, random_state=None):
    """Which cluster of neurons of a feature graph each input feature belongs to.

    The neurons (nodes of ``graph``, columns of ``Z``) are split into
    ``n_modules`` groups :math:`G_1, \\dots, G_K` by spectral clustering of
    ``graph`` (as in :func:`module_recovery`); input feature ``j`` (column
    :math:`x_j` of ``X``) goes to the group whose neurons correlate with it most,

    .. math:: \\ell_j = \\arg\\max_k \\; \\frac{1}{|G_k|} \\sum_{i \\in G_k}
              |r(x_j, z_i)|,

    with :math:`r` the Pearson correlation over the samples (0 for a constant
    column). This reads a module of input features off each cluster of neurons:
    what a scientist looking at a learned graph would call the cluster's
    features.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The inputs.
    Z : array-like of shape (n_samples, n_nodes)
        Activations of the neurons on the same samples (e.g.
        ``estimator.transform(X)``).
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        The graph over the neurons, e.g. a learned ``feature_graph_``.
    n_modules : int
        Number of groups of neurons, between 1 and ``n_nodes - 1``.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means step of spectral clustering.

    Returns
    -------
    labels : ndarray of int of shape (n_features,)
        Group of each input feature, in ``range(n_modules)``.

    See Also
    --------
    feature_module_recovery : These labels scored against known modules.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skgsr.metrics import feature_module_labels
    >>> rng = np.random.RandomState(0)
    >>> factors = rng.normal(size=(200, 2))
    >>> X = np.repeat(factors, 3, axis=1) + 0.1 * rng.normal(size=(200, 6))
    >>> Z = np.repeat(factors[:, ::-1], 2, axis=1)  # neurons 0-1: factor 1
    >>> cliques = sp.block_diag([np.ones((2, 2))] * 2)
    >>> labels = feature_module_labels(X, Z, cliques, 2, random_state=0)
    >>> bool(np.all(labels[:3] == labels[0])), bool(labels[0] != labels[3])
    (True, True)
    """
    adjacency = graphs.check_adjacency(graph)
    n = adjacency.shape[0]
    Z = _check_signals(Z, n)
    X = _check_signals(X, name="X")
    if X.shape[0] != Z.shape[0]:
        raise ValueError(
            f"X and Z must have one row per sample each; got {X.shape[0]} and "
            f"{Z.shape[0]} rows."
        )
    if X.shape[0] < 2:
        raise ValueError("A correlation needs at least 2 samples; got 1.")
    n_modules = _check_n_modules(n_modules, None, n)
    groups = _spectral_clusters(adjacency, n_modules, random_state)
    r = _abs_correlations(X, Z)  # (n_features, n_nodes)
    members = np.zeros((n, n_modules))
    members[np.arange(n), groups] = 1.0
    sizes = members.sum(axis=0)
    mean_r = (r @ members) / np.where(sizes > 0, sizes, 1.0)
    mean_r[:, sizes == 0] = -np.inf  # an empty group stands for nothing
    return mean_r.argmax(axis=1)


def feature_module_recovery(X, Z, graph, modules, n_modules=None, *, random_state=None):
    """How well the neuron clusters of a feature graph recover modules of inputs.

    The feature-level counterpart of :func:`module_recovery`: the neurons are
    clustered by spectral clustering of ``graph`` into ``n_modules`` groups, each
    input feature is given to the group whose neurons correlate with it most
    (mean :math:`|r|`, :func:`feature_module_labels`), and the adjusted Rand
    index of that labelling of the features against the known ``modules`` is
    returned. 1 means that reading the graph's clusters tells which inputs go
    together exactly as the data were made; about 0, no better than chance. It
    needs no label on the neurons, so it scores any layer (regularized or not)
    with any graph over its neurons.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The inputs.
    Z : array-like of shape (n_samples, n_nodes)
        Activations of the neurons on the same samples.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        The graph over the neurons, e.g. a learned ``feature_graph_``.
    modules : array-like of shape (n_features,)
        Known module of each input feature (any hashable labels).
    n_modules : int, optional
        Number of groups of neurons; the number of distinct ``modules`` when
        None.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means step of spectral clustering.

    Returns
    -------
    ari : float

    See Also
    --------
    module_recovery : The same clustering scored on the neurons.
    feature_module_labels : The labelling of the features that is scored.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skgsr.metrics import feature_module_recovery
    >>> rng = np.random.RandomState(0)
    >>> factors = rng.normal(size=(200, 3))
    >>> modules = np.repeat([0, 1, 2], 4)
    >>> X = factors[:, modules] + 0.2 * rng.normal(size=(200, 12))
    >>> Z = factors[:, [0, 0, 1, 1, 2, 2]]  # two neurons per factor
    >>> pairs = sp.block_diag([np.ones((2, 2))] * 3)
    >>> feature_module_recovery(X, Z, pairs, modules, random_state=0)
    1.0
    """
    from sklearn.metrics import adjusted_rand_score

    X = _check_signals(X, name="X")
    modules = np.asarray(modules)
    if modules.shape != (X.shape[1],):
        raise ValueError(
            f"modules must have one label per input feature (column of X), shape "
            f"({X.shape[1]},); got shape {modules.shape}."
        )
    n_nodes = graphs.check_adjacency(graph).shape[0]
    n_modules = _check_n_modules(n_modules, modules, n_nodes)
    labels = feature_module_labels(X, Z, graph, n_modules, random_state=random_state)
    return float(adjusted_rand_score(modules, labels))


def _newman_modularity(adjacency, labels):
    """:math:`Q = \\sum_c [w_{cc} / w - (d_c / w)^2]` of a partition."""
    A = adjacency
    total = float(A.sum())  # 2m, each edge counted twice
    if total == 0:
        return 0.0
    members = sp.csr_array(
        (np.ones(labels.size), (np.arange(labels.size), labels)),
        shape=(labels.size, int(labels.max()) + 1),
    )
    within = (members.T @ A @ members).diagonal()
    degree = members.T @ np.asarray(A.sum(axis=1)).ravel()
    return float(np.sum(within / total - (degree / total) ** 2))


def graph_modularity(graph, n_modules=None, *, max_modules=10, random_state=None):
    """How modular a graph is: Newman's modularity of its spectral clusters.

    The nodes are split by spectral clustering (as in :func:`module_recovery`)
    into ``n_modules`` clusters, or, when it is None, into every number of
    clusters from 2 to ``max_modules`` and the best split is kept; the value is
    the modularity (Newman & Girvan, 2004) of that partition,

    .. math:: Q = \\sum_c \\Big[\\frac{W_{cc}}{W} -
              \\Big(\\frac{D_c}{W}\\Big)^2\\Big],

    with :math:`W = \\sum_{ij} A_{ij}`, :math:`W_{cc}` the weight of the edges
    inside cluster ``c`` (both directions) and :math:`D_c` the total degree of
    its nodes: the share of the edge weight inside clusters minus what a random
    graph with the same degrees would put there. 0 for a graph without
    structure beyond its degrees; near :math:`1 - 1/K` for ``K`` equal cliques.
    Sparse graphs of any kind score above 0 (a kNN graph of random points
    reaches 0.3-0.5), so compare a learned graph with the graph that the same
    recipe learns on data without modules, and with an unregularized network's.

    Parameters
    ----------
    graph : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        The graph, e.g. a learned ``feature_graph_``.
    n_modules : int, optional
        Number of clusters; None tries 2 to ``max_modules`` and keeps the most
        modular split.
    max_modules : int, default=10
        Largest number of clusters tried when ``n_modules`` is None (at most
        ``n_nodes - 1``).
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means step of spectral clustering.

    Returns
    -------
    modularity : float
        In :math:`[-1/2, 1)`; 0 for a graph without edges.

    See Also
    --------
    module_recovery : The clusters scored against known modules.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.metrics import graph_modularity
    >>> cliques = sp.block_diag([np.ones((5, 5)) - np.eye(5)] * 4)
    >>> round(graph_modularity(cliques, random_state=0), 2)  # 1 - 1/4
    0.75
    >>> round(graph_modularity(make_graph("ring", 40), 2, random_state=0), 2)
    0.45
    """
    adjacency = graphs.check_adjacency(graph)
    n = adjacency.shape[0]
    if n < 3:
        raise ValueError(f"A modularity needs at least 3 nodes; the graph has {n}.")
    if n_modules is not None:
        counts = [_check_n_modules(n_modules, None, n)]
    else:
        if isinstance(max_modules, bool) or not isinstance(
            max_modules, numbers.Integral
        ):
            raise ValueError(f"max_modules must be an integer, got {max_modules!r}.")
        if max_modules < 2:
            raise ValueError(f"max_modules must be at least 2, got {max_modules}.")
        counts = range(2, min(int(max_modules), n - 1) + 1)
    if adjacency.nnz == 0:
        return 0.0
    rng = check_random_state(random_state)
    seed = rng.randint(np.iinfo(np.int32).max)
    return max(
        _newman_modularity(adjacency, _spectral_clusters(adjacency, k, seed))
        for k in counts
    )


def _shuffle_columns(X, rng):
    """``X`` with every column permuted independently across the rows.

    Each column keeps its values (dense or sparse, same format and dtype); no
    two columns vary together any more.
    """
    n_samples, n_features = X.shape
    permutations = np.argsort(rng.random_sample((n_samples, n_features)), axis=0)
    if not sp.issparse(X):
        return np.take_along_axis(X, permutations, axis=0)
    fmt = X.format
    X = sp.csc_matrix(X) if isinstance(X, sp.spmatrix) else sp.csc_array(X)
    X = X.copy()
    columns = np.repeat(np.arange(n_features), np.diff(X.indptr))
    # entry (i, j) moves to the row that row i of column j is sent to
    destination = np.empty_like(permutations)
    np.put_along_axis(destination, permutations, np.arange(n_samples)[:, None], axis=0)
    X.indices = destination[X.indices, columns].astype(X.indices.dtype)
    X.has_sorted_indices = False
    X.sort_indices()
    return X.asformat(fmt)


def shuffled_modularity(estimator, X, y=None, *, n_repeats=3, random_state=None):
    """What a learned graph's recipe scores on data without modules.

    ``graph_modularity_`` of a fit with ``graph="learned"`` is above 0 even
    where there are no modules (a kNN graph of random points scores 0.2-0.5),
    so it is read against a reference: this function fits ``n_repeats``
    clones of ``estimator`` (its hyperparameters, not its fitted state) on
    ``X`` with every feature permuted independently across the samples, so
    that each feature keeps its values but no two features vary together any
    more, and returns their ``graph_modularity_``. A learned graph whose
    modularity is not clearly above these found no modules in the data.

    Parameters
    ----------
    estimator : GSRAutoencoder, GSRClassifier or GSRRegressor
        With ``graph="learned"``, fitted or not; it is not changed. The clones
        keep its ``random_state``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data the estimator is (or will be) fitted on.
    y : array-like of shape (n_samples,), optional
        The targets of a supervised estimator, passed on unchanged.
    n_repeats : int, default=3
        Number of shuffles (and fits).
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations.

    Returns
    -------
    modularities : ndarray of shape (n_repeats,)
        ``graph_modularity_`` of each clone.

    Examples
    --------
    >>> from skgsr import GSRAutoencoder
    >>> from skgsr.datasets import make_factor_modules
    >>> from skgsr.metrics import shuffled_modularity
    >>> X, modules, _ = make_factor_modules(300, 30, n_modules=3, random_state=0)
    >>> ae = GSRAutoencoder(n_components=16, graph="learned", alpha=1.0,
    ...                     max_iter=40, tol=0, random_state=0).fit(X)
    >>> reference = shuffled_modularity(ae, X, n_repeats=2, random_state=0)
    >>> bool(ae.graph_modularity_ > reference.max())
    True
    """
    from sklearn.base import clone

    if getattr(estimator, "graph", None) != "learned":
        raise ValueError(
            "shuffled_modularity compares a learned graph with the graphs its "
            "recipe learns on shuffled data; the estimator needs "
            f"graph='learned', got graph={getattr(estimator, 'graph', None)!r}."
        )
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral):
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}.")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats}.")
    X = check_array(X, accept_sparse=("csr", "csc"), dtype=None)
    rng = check_random_state(random_state)
    modularities = []
    for _ in range(int(n_repeats)):
        shuffled = _shuffle_columns(X, rng)
        fitted = clone(estimator)
        if y is None:
            fitted.fit(shuffled)
        else:
            fitted.fit(shuffled, y)
        modularities.append(float(fitted.graph_modularity_))
    return np.asarray(modularities)
