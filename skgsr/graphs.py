"""Graphs over the neurons of a structured layer.

A graph is data: a symmetric, non-negative, scipy sparse adjacency ``A`` over the
``n`` neurons of the structured layer, node ``i`` being neuron ``i``. For the
predefined graphs the node index is ``row * width + col``, so that a layer of
activations reshapes to ``graph_shape`` (row-major, as ``numpy.reshape`` does).

This module is plain numpy/scipy (networkx is only used when the user hands in a
``networkx.Graph``): the torch penalty consumes what it produces.
"""

import math
import numbers
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.sparse import csgraph

__all__ = [
    "check_adjacency",
    "coactivation_graph",
    "inactive_neurons",
    "infer_grid_shape",
    "laplacian",
    "make_graph",
]

# Names accepted by make_graph.
_GRAPH_NAMES = (
    "grid",
    "torus",
    "line",
    "ring",
    "lines",
    "rings",
    "tree",
    "star",
    "ladder",
    "capsules",
)

# Kinds accepted by laplacian.
_LAPLACIAN_KINDS = ("combinatorial", "normalized")

# Distances between neurons accepted by coactivation_graph.
_COACTIVATION_METRICS = ("correlation", "partial_correlation", "cosine", "euclidean")

# metric="partial_correlation" inverts (1 - s) R + s I, R the neurons'
# correlation matrix: the shrinkage s keeps it invertible (more neurons than
# samples, duplicated or collinear neurons) and damps the noise of the inverse.
_PARTIAL_SHRINKAGE = 0.1

# Edge weightings accepted by coactivation_graph.
_COACTIVATION_KERNELS = ("binary", "gaussian", "similarity")


# --------------------------------------------------------------------------- #
# Shapes
# --------------------------------------------------------------------------- #
def infer_grid_shape(n_nodes):
    """Most square factorization ``(h, w)`` of ``n_nodes`` with ``h <= w``.

    Parameters
    ----------
    n_nodes : int
        Number of nodes of the grid.

    Returns
    -------
    shape : tuple of int
        ``(h, w)`` with ``h * w == n_nodes``, ``h <= w`` and ``w - h`` minimal.

    Raises
    ------
    ValueError
        If ``n_nodes`` is prime (the only grid would be a ``1 x n`` line) or not
        a positive integer.

    Examples
    --------
    >>> from skgsr.graphs import infer_grid_shape
    >>> infer_grid_shape(64)
    (8, 8)
    >>> infer_grid_shape(24)
    (4, 6)
    """
    n_nodes = _check_positive_int(n_nodes, "n_nodes")
    h = math.isqrt(n_nodes)
    while n_nodes % h:
        h -= 1
    if h == 1 and n_nodes > 1:
        raise ValueError(
            f"Cannot infer a 2-D grid shape for {n_nodes} nodes: {n_nodes} is prime, "
            "so the only grid would be a 1 x n line. Pass graph_shape=(h, w) with "
            "h * w == n_components, choose a non-prime n_components, or use "
            "graph='line'."
        )
    return (h, n_nodes // h)


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _as_shape(shape):
    """Normalize ``shape`` to ``(n_nodes, (h, w) or None)``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        n = _check_positive_int(shape, "shape")
        return n, None
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"shape must be an int (number of nodes) or a tuple (h, w), got {shape!r}."
        ) from None
    if len(dims) == 1:
        return _check_positive_int(dims[0], "shape[0]"), None
    if len(dims) != 2:
        raise ValueError(f"shape must have one or two entries (h, w), got {shape!r}.")
    h = _check_positive_int(dims[0], "shape[0]")
    w = _check_positive_int(dims[1], "shape[1]")
    return h * w, (h, w)


def _resolve_graph_shape(name, shape):
    """The ``(h, w)`` layout of a predefined graph, with ``h * w`` nodes.

    Parameters
    ----------
    name : str
        One of the graph names below.
    shape : int or tuple of int
        Number of nodes, or ``(h, w)``. See :func:`make_graph` for what ``h`` and
        ``w`` mean for each graph.

    Returns
    -------
    shape : tuple of int
        ``(h, w)``; the graph has ``h * w`` nodes and node ``r * w + c`` sits at
        row ``r``, column ``c`` of the layout.
    """
    if name not in _GRAPH_NAMES:
        raise ValueError(
            f"Unknown graph {name!r}. Use one of {', '.join(_GRAPH_NAMES)}, "
            "'learned', or pass an adjacency matrix."
        )
    n, hw = _as_shape(shape)
    if name in ("grid", "torus"):
        return hw if hw is not None else infer_grid_shape(n)
    if name in ("line", "ring"):
        if hw is not None and hw[0] != 1:
            kind = "path" if name == "line" else "cycle"
            raise ValueError(
                f"graph={name!r} is one {kind} over all nodes, laid out as one row "
                f"(1, n); got the shape {hw}. Use graph={name + 's'!r} for {hw[0]} "
                f"{kind}s of {hw[1]} nodes each, or leave graph_shape=None."
            )
        return (1, n)
    if name in ("lines", "rings", "star"):
        return hw if hw is not None else (1, n)
    if name == "tree":
        h, w = hw if hw is not None else (1, n)
        if w & (w + 1):
            raise ValueError(
                "A balanced binary tree has 2**k - 1 nodes (1, 3, 7, 15, 31, 63, "
                f"...); got {w} nodes per tree. Pass graph_shape=(n_trees, 2**k - 1)."
            )
        return (h, w)
    if name == "capsules":
        if hw is None:
            raise ValueError(
                f"graph='capsules' needs its layout (n_capsules, capsule_dim), not a "
                f"number of nodes ({n}): pass graph_shape=(n_capsules, capsule_dim), "
                "or use GSRClassifier(head='capsule'), which sets it to (n_classes, "
                "capsule_dim)."
            )
        return hw
    # ladder: two paths of w nodes
    if hw is not None:
        if hw[0] != 2:
            raise ValueError(
                f"A ladder has two rows: graph_shape must be (2, w), got {hw}."
            )
        return hw
    if n % 2:
        raise ValueError(
            f"A ladder has two paths of equal length, so an even number of nodes; "
            f"got {n}."
        )
    return (2, n // 2)


# --------------------------------------------------------------------------- #
# Predefined graphs
# --------------------------------------------------------------------------- #
def _path_edges(h, w, closed):
    """Edges of ``h`` disjoint paths (or cycles) of ``w`` nodes, row-major."""
    rows = np.repeat(np.arange(h), w - 1)
    cols = np.tile(np.arange(w - 1), h)
    src = rows * w + cols
    dst = src + 1
    if closed and w > 2:
        first = np.arange(h) * w
        src = np.concatenate([src, first])
        dst = np.concatenate([dst, first + w - 1])
    return src, dst


def _grid_edges(h, w, periodic):
    idx = np.arange(h * w).reshape(h, w)
    # horizontal then vertical neighbours
    src = [idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    dst = [idx[:, 1:].ravel(), idx[1:, :].ravel()]
    if periodic:
        # a wrap-around edge only adds something new when the dimension has > 2 nodes
        if w > 2:
            src.append(idx[:, -1])
            dst.append(idx[:, 0])
        if h > 2:
            src.append(idx[-1, :])
            dst.append(idx[0, :])
    return np.concatenate(src), np.concatenate(dst)


def _tree_edges(h, w):
    child = np.arange(1, w)
    parent = (child - 1) // 2
    offsets = np.repeat(np.arange(h) * w, w - 1)
    return np.tile(parent, h) + offsets, np.tile(child, h) + offsets


def _star_edges(h, w):
    leaves = np.tile(np.arange(1, w), h) + np.repeat(np.arange(h) * w, w - 1)
    centres = np.repeat(np.arange(h) * w, w - 1)
    return centres, leaves


def _ladder_edges(w):
    src, dst = _path_edges(2, w, closed=False)
    rungs = np.arange(w // 2)
    return np.concatenate([src, rungs]), np.concatenate([dst, rungs + w])


def _capsule_edges(h, w):
    # dimension d of capsule r is node r * w + d: a clique over the rows in each
    # column, the same dimension of every capsule
    first, second = np.triu_indices(h, k=1)
    columns = np.arange(w)
    src = (first[:, None] * w + columns).ravel()
    dst = (second[:, None] * w + columns).ravel()
    return src, dst


def _from_edges(src, dst, n):
    data = np.ones(2 * len(src))
    adjacency = sp.coo_array(
        (data, (np.concatenate([src, dst]), np.concatenate([dst, src]))), shape=(n, n)
    ).tocsr()
    adjacency.sum_duplicates()
    # duplicated edges (e.g. a 2-node ring) are one edge of weight 1
    adjacency.data[:] = 1.0
    return adjacency


def make_graph(name, shape):
    """Adjacency of a predefined graph.

    Parameters
    ----------
    name : {"grid", "torus", "line", "ring", "lines", "rings", "tree", "star", \
"ladder", "capsules"}
        - ``"grid"``: 2-D 4-neighbour lattice of ``h x w`` nodes.
        - ``"torus"``: the same with periodic boundaries.
        - ``"line"`` / ``"ring"``: one path / cycle over all nodes.
        - ``"lines"`` / ``"rings"``: ``h`` disjoint paths / cycles of ``w`` nodes.
        - ``"tree"``: ``h`` balanced binary trees of ``w = 2**k - 1`` nodes each,
          in heap order (the children of node ``i`` are ``2i + 1`` and ``2i + 2``).
        - ``"star"``: ``h`` stars of ``w`` nodes, the first node of each row
          being the centre.
        - ``"ladder"``: two paths of ``w`` nodes (rows 0 and 1) joined by rungs
          ``(0, j) - (1, j)`` for ``j < w // 2``: a branching "wishbone".
        - ``"capsules"``: ``h`` capsules of ``w`` dimensions, capsule ``r`` on
          row ``r``; dimension ``d`` of every capsule is joined to dimension
          ``d`` of every other capsule (a clique of ``h`` nodes in each column,
          no edge within a capsule). Smoothing on it asks every capsule to use
          dimension ``d`` for the same thing (the first paper's capsule
          network). It needs the ``(h, w)`` layout.
    shape : int or tuple of int
        Number of nodes, or ``(h, w)``. For ``"grid"`` and ``"torus"`` an int is
        factorized as squarely as possible (:func:`infer_grid_shape`); for the
        other graphs an int means one path, cycle, tree or star (a ladder of
        ``n / 2`` rungs positions); ``"capsules"`` needs ``(h, w)``. ``"line"``
        and ``"ring"`` are one row: ``(1, n)``, never ``(h, w)`` with ``h > 1``
        (that is ``"lines"`` or ``"rings"``).

    Returns
    -------
    adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        Symmetric, unit edge weights, zero diagonal; node ``r * w + c`` is at
        row ``r`` and column ``c``.

    Examples
    --------
    >>> from skgsr.graphs import make_graph
    >>> A = make_graph("grid", (8, 8))
    >>> A.shape, A.nnz // 2
    ((64, 64), 112)
    >>> make_graph("torus", 64).nnz // 2
    128
    >>> make_graph("capsules", (10, 16)).nnz // 2  # 16 cliques of 10 nodes
    720
    """
    h, w = _resolve_graph_shape(name, shape)
    n = h * w
    if name in ("grid", "torus"):
        src, dst = _grid_edges(h, w, periodic=name == "torus")
    elif name in ("line", "lines"):
        src, dst = _path_edges(h, w, closed=False)
    elif name in ("ring", "rings"):
        src, dst = _path_edges(h, w, closed=True)
    elif name == "tree":
        src, dst = _tree_edges(h, w)
    elif name == "star":
        src, dst = _star_edges(h, w)
    elif name == "capsules":
        src, dst = _capsule_edges(h, w)
    else:
        src, dst = _ladder_edges(w)
    return _from_edges(src, dst, n)


# --------------------------------------------------------------------------- #
# User graphs
# --------------------------------------------------------------------------- #
def _is_networkx_graph(obj):
    return type(obj).__module__.startswith("networkx") and hasattr(obj, "edges")


def check_adjacency(graph, n_nodes=None, *, name="graph"):
    """Validate a user-given graph and return it as a float64 CSR adjacency.

    Parameters
    ----------
    graph : array-like, scipy sparse matrix or networkx.Graph
        A square, symmetric adjacency with non-negative finite weights. A
        ``networkx.Graph`` is converted with its nodes in ``graph.nodes`` order and
        its ``"weight"`` edge attribute (1 where absent). The diagonal is ignored
        (self-loops do not change ``x^T L x``), as in
        :func:`scipy.sparse.csgraph.laplacian`.
    n_nodes : int, optional
        Expected number of nodes (the width of the structured layer).
    name : str, default="graph"
        Name used in error messages.

    Returns
    -------
    adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        float64, explicit zeros and the diagonal removed, sorted indices,
        exactly symmetric. A graph already in that form is returned as it is
        (the same object), so that checking a checked graph copies nothing.

    Raises
    ------
    ValueError
        If the graph is not square, has no nodes, is not symmetric, has negative
        or non-finite weights, weighted degrees beyond the float32 range (the
        penalty's Laplacian would overflow), or does not have ``n_nodes`` nodes;
        each message says which.
    TypeError
        If ``graph`` is not an array, a sparse matrix or a networkx graph, or its
        weights are not numbers.
    """
    if _is_canonical(graph):  # checked before: no copy, no rebuild
        _check_n_nodes(graph, n_nodes, name)
        return graph
    adjacency = _as_csr(graph, name)
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(
            f"{name} must be a square adjacency matrix (n_nodes x n_nodes); got shape "
            f"{adjacency.shape}."
        )
    if adjacency.shape[0] == 0:
        raise ValueError(f"{name} has no nodes; a graph needs at least one node.")
    if np.iscomplexobj(adjacency.data):
        raise ValueError(f"{name} has complex weights; edge weights must be real.")
    adjacency = adjacency.astype(np.float64)
    if not np.all(np.isfinite(adjacency.data)):
        raise ValueError(
            f"{name} has non-finite (NaN or infinite) edge weights; every weight "
            "must be a finite number >= 0."
        )
    if np.any(adjacency.data < 0):
        raise ValueError(
            f"{name} has negative edge weights (min {adjacency.data.min():g}); GSR "
            "needs non-negative weights so that the Laplacian is positive "
            "semi-definite."
        )
    asym = abs(adjacency - adjacency.T)
    if asym.nnz and asym.max() > 1e-10 * max(1.0, abs(adjacency).max()):
        raise ValueError(
            f"{name} is not symmetric (max |A - A^T| = {asym.max():g}); GSR needs an "
            "undirected graph. Symmetrize it, e.g. (A + A.T) / 2."
        )
    _check_n_nodes(adjacency, n_nodes, name)
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    degree = _largest_degree(adjacency)
    if degree > _FLOAT32_MAX:
        raise ValueError(
            f"{name} has weighted degrees up to {degree:.3g}, beyond the float32 "
            f"range (max {_FLOAT32_MAX:.3g}) in which skgsr trains; rescale the edge "
            "weights, e.g. A / A.max()."
        )
    # exact symmetry, so that edge lists built from the upper triangle are faithful
    adjacency = sp.csr_array((adjacency + adjacency.T) * 0.5)
    adjacency.sort_indices()
    if _same_csr(graph, adjacency):
        return graph  # already canonical: the caller's object, not a copy
    return adjacency


# The penalty runs in float32: a degree beyond its range is an infinite
# Laplacian entry, and a diverging fit that blames the learning rate.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _largest_degree(adjacency):
    return float(adjacency.sum(axis=1).max()) if adjacency.nnz else 0.0


def _check_n_nodes(adjacency, n_nodes, name):
    if n_nodes is not None and adjacency.shape[0] != n_nodes:
        raise ValueError(
            f"{name} has {adjacency.shape[0]} nodes but the structured layer has "
            f"n_components={n_nodes} neurons; they must match (one node per neuron)."
        )


def _is_canonical(graph):
    """Whether ``graph`` is already what :func:`check_adjacency` returns: a
    non-empty square float64 CSR array with sorted, unique indices, positive
    finite weights, no diagonal entry, exactly symmetric, degrees within
    float32's range. A few passes over its entries and one transposition,
    where the full check builds three new matrices (a rebuilt learned graph is
    checked by the penalty and by the objective's far pairs)."""
    if not (
        isinstance(graph, sp.csr_array)
        and graph.dtype == np.float64
        and graph.ndim == 2
        and graph.shape[0] == graph.shape[1] > 0
        and graph.has_canonical_format
    ):
        return False
    data, n = graph.data, graph.shape[0]
    if not (np.all(data > 0) and np.all(np.isfinite(data))):
        return False
    rows = np.repeat(np.arange(n), np.diff(graph.indptr))
    if np.any(rows == graph.indices) or _largest_degree(graph) > _FLOAT32_MAX:
        return False
    transposed = graph.T.tocsr()
    transposed.sort_indices()
    return _same_csr(graph, transposed)


def _as_csr(graph, name):
    """A networkx graph, sparse matrix or array as a CSR array (not yet checked)."""
    if _is_networkx_graph(graph):
        import networkx as nx

        if graph.is_directed():
            raise ValueError(
                f"{name} is a directed networkx graph; GSR needs an undirected graph "
                "(use graph.to_undirected())."
            )
        if graph.number_of_nodes() == 0:
            # networkx itself raises a NetworkXError here, which is no ValueError
            raise ValueError(f"{name} has no nodes; a graph needs at least one node.")
        try:
            return nx.to_scipy_sparse_array(graph, weight="weight", format="csr")
        except (TypeError, ValueError):
            for u, v, weight in graph.edges(data="weight", default=1):
                if not isinstance(weight, numbers.Real):
                    raise TypeError(
                        f"{name} is a networkx graph whose edge ({u!r}, {v!r}) has "
                        f"the non-numeric weight {weight!r}; the 'weight' edge "
                        "attribute must be a number."
                    ) from None
            raise
    if sp.issparse(graph):
        return sp.csr_array(graph)
    try:
        dense = np.asarray(graph)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(
            f"{name} must be a graph name, an adjacency array, a scipy sparse "
            f"matrix or a networkx.Graph; got {type(graph).__name__}."
        ) from exc
    if dense.dtype == object or not (
        np.issubdtype(dense.dtype, np.number) or dense.dtype == bool
    ):
        raise TypeError(
            f"{name} must be numeric (an adjacency matrix of edge weights); got "
            f"an array of dtype {dense.dtype}."
        )
    if dense.ndim != 2:
        raise ValueError(
            f"{name} must be a square 2-D adjacency matrix; got an array with "
            f"{dense.ndim} dimension(s) of shape {dense.shape}."
        )
    return sp.csr_array(dense)


def _same_csr(a, b):
    """Whether ``a`` is a CSR array holding exactly ``b`` (same arrays)."""
    return (
        isinstance(a, sp.csr_array)
        and a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


# --------------------------------------------------------------------------- #
# Laplacians
# --------------------------------------------------------------------------- #
def laplacian(adjacency, kind="combinatorial", *, validate=True):
    """Graph Laplacian of a symmetric adjacency.

    - ``"combinatorial"``: :math:`L = D - A`, so that
      :math:`x^T L x = \\sum_{i<j} A_{ij} (x_i - x_j)^2`.
    - ``"normalized"``: :math:`L = I - D^{-1/2} A D^{-1/2}`; an isolated node has
      a row and column of zeros.

    Both are computed by :func:`scipy.sparse.csgraph.laplacian`.

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph
        Validated with :func:`check_adjacency`.
    kind : {"combinatorial", "normalized"}, default="combinatorial"
    validate : bool, default=True
        Validate ``adjacency``; False for an adjacency that
        :func:`check_adjacency` returned (it is taken as it is).

    Returns
    -------
    L : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        Symmetric positive semi-definite, float64.

    Examples
    --------
    >>> from skgsr.graphs import laplacian, make_graph
    >>> L = laplacian(make_graph("ring", 4))
    >>> L.toarray()[0]
    array([ 2., -1.,  0., -1.])
    """
    if kind not in _LAPLACIAN_KINDS:
        raise ValueError(
            f"Unknown Laplacian kind {kind!r}; use 'combinatorial' or 'normalized'."
        )
    if validate:
        adjacency = check_adjacency(adjacency)
    L = csgraph.laplacian(adjacency, normed=kind == "normalized")
    L = sp.csr_array(L, dtype=np.float64)
    L.eliminate_zeros()
    L.sort_indices()
    return L


# --------------------------------------------------------------------------- #
# Learned (co-activation) graphs
# --------------------------------------------------------------------------- #
def inactive_neurons(activations, tol=1e-6):
    """Mask of the neurons whose activation does not vary over the samples.

    Neuron ``i`` is inactive when the standard deviation of its column is at most
    ``tol`` times the largest absolute activation, :math:`\\mathrm{std}_b\\,
    h_{bi} \\le \\mathrm{tol} \\cdot \\max_{b,j} |h_{bj}|` (a dead ReLU, a
    saturated unit). Such a neuron has no co-activation pattern: its correlation
    with any other neuron is undefined (0/0), and a kNN graph would join it to
    arbitrary neurons. If every activation is 0, every neuron is inactive.

    Parameters
    ----------
    activations : array-like of shape (n_samples, n_neurons)
        Activations of the structured layer.
    tol : float, default=1e-6
        Relative tolerance (float32 activations have a resolution near 1e-7).

    Returns
    -------
    inactive : ndarray of bool of shape (n_neurons,)

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.graphs import inactive_neurons
    >>> H = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 2.0]])
    >>> inactive_neurons(H)
    array([False,  True,  True])
    """
    return _inactive(_check_activations(activations), tol)


def _inactive(H, tol):
    """:func:`inactive_neurons` of activations already checked."""
    scale = float(np.abs(H).max()) if H.size else 0.0
    return H.std(axis=0) <= tol * scale


def _check_activations(activations):
    H = np.asarray(activations)
    if H.ndim != 2:
        raise ValueError(
            "activations must be a 2-D array (n_samples, n_neurons); got an array "
            f"of shape {H.shape}."
        )
    if not np.issubdtype(H.dtype, np.floating):
        H = H.astype(np.float64)
    if H.shape[0] < 1 or H.shape[1] < 1:
        raise ValueError(
            f"activations of shape {H.shape} are empty: need at least one sample and "
            "one neuron."
        )
    if not np.all(np.isfinite(H)):
        raise ValueError(
            "activations contain NaN or infinite values; a co-activation graph needs "
            "finite activations."
        )
    return H


def _neuron_points(H, metric):
    """Each neuron as a point (a row), so that Euclidean distance is ``metric``.

    A float64 view ``(n_neurons, n_samples)`` of a column-major array: the
    columns of ``H`` are centred and scaled where they lie, without the slow
    transposing copy.
    """
    points = H.astype(np.float64)  # a new array, ours to change in place
    if metric in ("correlation", "partial_correlation"):
        points -= points.mean(axis=0)
    if metric != "euclidean":
        points /= np.sqrt(np.einsum("ij,ij->j", points, points))
    return points.T


def coactivation_graph(
    activations,
    n_neighbors=5,
    *,
    metric="correlation",
    kernel="gaussian",
    tol=1e-6,
    dtype=np.float64,
    return_inactive=False,
):
    """Symmetric kNN graph over neurons from their co-activations.

    Each neuron is a point whose coordinates are its activations over the samples
    (a column :math:`h_i` of ``activations``); every active neuron is joined to its
    ``n_neighbors`` nearest active neurons and the graph is symmetrized with the
    maximum, :math:`A = \\max(K, K^T)` (an edge wherever either neuron chose the
    other), as :func:`sklearn.neighbors.kneighbors_graph` followed by
    symmetrization would give (the neighbours are found by brute force).

    The distance between neurons ``i`` and ``j`` (``metric``):

    - ``"correlation"``: :math:`d_{ij} = \\sqrt{2 (1 - r_{ij})}`, with
      :math:`r_{ij}` the Pearson correlation of :math:`h_i` and :math:`h_j` (the
      Euclidean distance of the centred, unit-norm columns). Neighbours are
      neurons that rise and fall together, whatever their offset and scale.
    - ``"partial_correlation"``: :math:`d_{ij} = \\sqrt{2 (1 - \\rho_{ij})}`,
      with :math:`\\rho_{ij}` the partial correlation of :math:`h_i` and
      :math:`h_j` given all the other active neurons, from the inverse
      :math:`\\Theta` of the correlation matrix shrunk towards the identity,
      :math:`(1 - s) R + s I` with :math:`s = 0.1`: :math:`\\rho_{ij} =
      -\\Theta_{ij} / \\sqrt{\\Theta_{ii} \\Theta_{jj}}`. Two neurons that
      co-vary only through other neurons (say, neurons of two modules whose
      activities are correlated) have a partial correlation near 0, however
      correlated they are; neurons of one module keep a positive one. An
      inverse of an ``n_neurons`` square matrix per graph.
    - ``"cosine"``: :math:`d_{ij} = \\sqrt{2 (1 - \\cos(h_i, h_j))}` (unit-norm,
      not centred).
    - ``"euclidean"``: :math:`d_{ij} = \\|h_i - h_j\\|_2` on the raw columns:
      neurons with small activations all lie near the origin, close to each
      other whatever they respond to.

    Parameters
    ----------
    activations : array-like of shape (n_samples, n_neurons)
        Activations of the structured layer (e.g. ``estimator.transform(X)``).
    n_neighbors : int, default=5
        Neighbours per neuron; must be smaller than ``n_neurons``. When fewer than
        ``n_neighbors + 1`` neurons are active, each active neuron is joined to
        all the other active ones.
    metric : {"correlation", "partial_correlation", "cosine", "euclidean"}, \
default="correlation"
        Distance between neurons, see above.
    kernel : {"gaussian", "binary", "similarity"}, default="gaussian"
        ``"binary"``: unit weights. ``"gaussian"``: :math:`A_{ij} = \\exp(-d_{ij}^2
        / (\\sigma_i \\sigma_j))` with the adaptive bandwidth :math:`\\sigma_i` the
        distance from neuron ``i`` to its ``n_neighbors``-th neighbour
        (Zelnik-Manor & Perona's self-tuning kernel); in ``(0, 1]``.
        ``"similarity"``: the similarity the distance comes from,
        :math:`A_{ij} = 1 - d_{ij}^2 / 2` (:math:`r_{ij}`, :math:`\\rho_{ij}` or
        the cosine), where it is positive: a neighbour that does not co-vary
        positively gets no edge. Not for ``"euclidean"``. Partial correlations
        are small and close together (the rest of a neuron's module explains
        most of its activity), which a Gaussian of their distances flattens;
        this kernel keeps their contrast.
    tol : float, default=1e-6
        Tolerance of :func:`inactive_neurons`.
    dtype : {np.float64, np.float32}, default=np.float64
        Precision of the neurons' Gram matrix, most of the cost (not used by
        ``"partial_correlation"``, always float64). ``np.float32`` takes about
        half the time and gives the same neighbours: a neuron whose
        ``n_neighbors``-th and next nearest are too close to be told apart in
        float32 (within a rigorous bound on its round-off) has its distances
        computed again in float64. The other distances carry float32's
        round-off, an absolute error of about 1e-7 of the squared norms (on a
        trained layer's activations the weights moved by at most 5e-6; more for
        nearly coincident neurons, whose squared distance is itself tiny). The
        estimators' learned graphs use it: their activations are float32 anyway.
    return_inactive : bool, default=False
        Also return the mask of inactive neurons. When False, inactive neurons are
        reported with a ``UserWarning`` instead.

    Returns
    -------
    adjacency : scipy.sparse.csr_array of shape (n_neurons, n_neurons)
        Symmetric, non-negative, zero diagonal, float64. Inactive neurons (see
        :func:`inactive_neurons`) are isolated nodes: they have no co-activation
        pattern to place them by. The graph may be disconnected (separate modules
        of neurons); that is a valid graph for the penalty.
    inactive : ndarray of bool of shape (n_neurons,)
        Only with ``return_inactive=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.graphs import coactivation_graph
    >>> rng = np.random.RandomState(0)
    >>> a, b = rng.normal(size=(2, 200))
    >>> # neurons 0-2 follow factor a, neurons 3-5 follow factor b
    >>> H = np.column_stack([a, 2 * a + 1, -0.5 + a, b, 3 * b, b - 2])
    >>> H += 0.01 * rng.normal(size=H.shape)
    >>> A = coactivation_graph(H, n_neighbors=2, kernel="binary")
    >>> A.toarray().astype(int)
    array([[0, 1, 1, 0, 0, 0],
           [1, 0, 1, 0, 0, 0],
           [1, 1, 0, 0, 0, 0],
           [0, 0, 0, 0, 1, 1],
           [0, 0, 0, 1, 0, 1],
           [0, 0, 0, 1, 1, 0]])
    """
    if metric not in _COACTIVATION_METRICS:
        raise ValueError(
            f"Unknown metric {metric!r}; use one of {', '.join(_COACTIVATION_METRICS)}."
        )
    if kernel not in _COACTIVATION_KERNELS:
        raise ValueError(
            f"Unknown kernel {kernel!r}; use 'binary', 'gaussian' or 'similarity'."
        )
    _check_similarity_metric(kernel, metric)
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}.")
    H = _check_activations(activations)
    n_neurons = H.shape[1]
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise ValueError(f"n_neighbors must be an integer, got {n_neighbors!r}.")
    if not 1 <= n_neighbors < n_neurons:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be between 1 and n_neurons - 1 = "
            f"{n_neurons - 1} (each neuron is joined to its nearest other neurons)."
        )
    inactive = _inactive(H, tol)
    if inactive.any() and not return_inactive:
        warnings.warn(
            f"{int(inactive.sum())} of {n_neurons} neurons do not vary over the "
            f"{H.shape[0]} samples (dead or saturated units): "
            f"{_index_summary(np.flatnonzero(inactive))}. They are left isolated "
            "in the co-activation graph.",
            UserWarning,
            stacklevel=2,
        )
    active = np.flatnonzero(~inactive)
    k = min(int(n_neighbors), len(active) - 1)
    if k < 1:
        adjacency = sp.csr_array((n_neurons, n_neurons), dtype=np.float64)
        return (adjacency, inactive) if return_inactive else adjacency

    # a gather of columns is slow (strided): only when some are left out
    points = _neuron_points(H if active.size == n_neurons else H[:, active], metric)
    if metric == "partial_correlation":
        distances, neighbors = _partial_correlation_neighbors(points, k)
    else:
        sq = np.einsum("ij,ij->i", points, points)
        distances, neighbors = _nearest_neighbors(points, k, sq, dtype)
        # coincident neurons come out at a round-off distance (~1e-8 of the
        # points' norm); make it 0 so that their Gaussian weight is exactly 1
        scale = float(np.sqrt(sq.max()))
        distances[distances <= 1e-6 * scale] = 0.0
    rows = np.repeat(active, k)
    cols = active[neighbors.ravel()]
    if kernel == "binary":
        weights = np.ones(rows.size)
    elif kernel == "similarity":  # d^2 = 2 (1 - similarity); the rest dropped
        weights = np.maximum(1.0 - 0.5 * distances.ravel() ** 2, 0.0)
    else:
        # self-tuning bandwidth: distance to the k-th neighbour
        sigma = np.zeros(n_neurons)
        sigma[active] = distances[:, -1]
        d2 = distances.ravel() ** 2
        denom = sigma[rows] * sigma[cols]
        weights = np.ones(rows.size)  # coincident neurons (d = 0) weigh 1
        spread = denom > 0
        weights[spread] = np.exp(-d2[spread] / denom[spread])
        # a pair at distance > 0 whose bandwidth is 0 (a neuron with k duplicates)
        weights[~spread & (d2 > 0)] = 0.0
    knn = sp.csr_array((weights, (rows, cols)), shape=(n_neurons, n_neurons))
    # symmetric, finite, in [0, 1], no diagonal (a neuron is not its own
    # neighbour): check_adjacency's canonical form needs only these two steps
    adjacency = knn.maximum(knn.T)
    adjacency.eliminate_zeros()
    adjacency.sort_indices()
    return (adjacency, inactive) if return_inactive else adjacency


def _check_similarity_metric(kernel, metric, prefix=""):
    """``kernel="similarity"`` needs a metric that is a similarity's distance;
    ``prefix`` names the parameters as the caller takes them (``"graph_"``)."""
    if kernel == "similarity" and metric == "euclidean":
        raise ValueError(
            f"{prefix}kernel='similarity' weighs edges by a correlation or cosine; "
            f"use it with {prefix}metric='correlation', 'partial_correlation' or "
            "'cosine', not 'euclidean'."
        )


# Up to this many nodes, _pairs_within walks with dense products (16 MB).
_DENSE_WALK_MAX_NODES = 2048


def _pairs_within(adjacency, hops, dense=False):
    """The pairs of nodes at most ``hops`` edges apart, each node with itself.

    Node ``j`` is within ``hops`` of ``i`` when a walk of at most ``hops``
    edges joins them: the nonzeros of :math:`(I + B)^{h}` with :math:`B` the
    0/1 pattern of the adjacency (``scipy.sparse`` products, so a sparse graph
    gives a sparse result). Edge weights do not matter; pairs in different
    connected components are never within reach.

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph of shape \
(n_nodes, n_nodes)
        The graph.
    hops : int
        Largest number of edges between two nodes of a pair (0: each node alone).
    dense : bool, default=False
        Return the dense boolean matrix when the walk was dense (up to
        ``_DENSE_WALK_MAX_NODES`` nodes), sparing a conversion its caller would
        undo; a larger graph still gives the sparse result.

    Returns
    -------
    within : scipy.sparse.csr_array or ndarray of bool of shape (n_nodes, n_nodes)
        Symmetric, true on the diagonal, sorted indices (when sparse).

    Examples
    --------
    >>> from skgsr.graphs import _pairs_within, make_graph
    >>> _pairs_within(make_graph("line", 5), 2).toarray().astype(int)
    array([[1, 1, 1, 0, 0],
           [1, 1, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [0, 1, 1, 1, 1],
           [0, 0, 1, 1, 1]])
    """
    adjacency = check_adjacency(adjacency)
    n = adjacency.shape[0]
    if n <= _DENSE_WALK_MAX_NODES:
        # dense 0/1 products: several times faster than scipy's sparse ones on
        # the learned graphs' neighbourhoods (n / 6 neighbours), and exact (the
        # walk counts, at most n, are integers float32 holds)
        step = (adjacency != 0).toarray().astype(np.float32)
        np.fill_diagonal(step, 1.0)
        # one hop is the step itself; each further hop one product
        within = step if hops > 0 else np.eye(n, dtype=np.float32)
        for _ in range(hops - 1):
            within = ((within @ step) > 0).astype(np.float32)
        if dense:
            return within > 0
        within = sp.csr_array(within > 0)
        within.sort_indices()
        return within
    step = sp.csr_array(adjacency != 0, dtype=np.int64)
    step = step + sp.eye_array(n, dtype=np.int64, format="csr")
    # walk counts can grow as (k + 1)^hops: keep only the pattern at each step
    within = sp.eye_array(n, dtype=np.int64, format="csr")
    for _ in range(hops):
        within = sp.csr_array((within @ step) != 0, dtype=np.int64)
    within = sp.csr_array(within != 0)
    within.sort_indices()
    return within


def _nearest_neighbors(points, k, sq=None, dtype=np.float64):
    """Distances and indices of each point's ``k`` nearest other points.

    The result of ``sklearn.neighbors.NearestNeighbors(n_neighbors=k).fit(points)
    .kneighbors()`` (brute force, Euclidean), computed from row blocks of the Gram
    matrix, :math:`d_{ij}^2 = \\|p_i\\|^2 + \\|p_j\\|^2 - 2 p_i^T p_j`, and a
    partial sort. Why not scikit-learn's: the same neighbours, faster at the
    sizes of a learned-graph rebuild, whose cost is mostly this kNN
    (benchmarks/README.rst, "Design measurements").

    With ``dtype=np.float32`` the Gram matrix, most of the cost, is computed in
    single precision (about half the time) and the neighbours are still those
    of exact arithmetic: a row is kept only when its ``k``-th and ``(k + 1)``-th
    nearest are further apart than twice the round-off bound of its distances
    (:func:`_single_precision_bound`) and its nearest is further than twice the
    bound from it (else it may coincide with a duplicate, which float64 weighs
    1); the other rows are computed again in float64. The kept rows' distances
    carry float32's round-off, an absolute error in the squared distance of
    about 1e-7 of the squared norms (at most the bound).
    """
    n = points.shape[0]
    if sq is None:  # the points' squared norms
        sq = np.einsum("ij,ij->i", points, points)
    single = np.dtype(dtype) == np.float32
    if single:
        bound = _single_precision_bound(points.shape[1], sq)
        # (an infinite bound, for millions of coordinates: float64 throughout)
        single = bool(np.all(np.isfinite(bound)))
    if single:
        exact_points, exact_sq = points, sq
        points, sq = points.astype(np.float32), sq.astype(np.float32)
    block = max(1, min(n, 2**22 // n))  # at most 4M distances (32 MB) at a time
    distances = np.empty((n, k))
    indices = np.empty((n, k), dtype=np.intp)
    redo = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = _squared_distances(points, sq, slice(start, stop))
        if not single:
            nearest_d2, indices[start:stop] = _smallest(d2, k)
            distances[start:stop] = np.sqrt(np.maximum(nearest_d2, 0.0))
            continue
        # the k + 1 nearest, ascending; how ties are ordered does not matter:
        # a tie at the k-th neighbour is within the bound and goes to float64
        # below, one among the k nearest changes their order, not the set, the
        # graph or the k-th distance
        values, part = _smallest_unordered_ties(d2, k + 1)
        values = values.astype(np.float64)
        margin = values[:, k] - values[:, k - 1]
        rows = np.arange(start, stop)
        # decided in float32: a clear k-th neighbour, and no neighbour within
        # round-off of the point itself (a duplicated neuron: float64 finds it
        # coincident, weight 1, where float32's round-off would be its distance)
        sure = (margin > 2.0 * bound[rows]) & (values[:, 0] > 2.0 * bound[rows])
        redo.append(rows[~sure])
        indices[start:stop] = part[:, :k]
        distances[start:stop] = np.sqrt(np.maximum(values[:, :k], 0.0))
    if single:
        redo = np.concatenate(redo)
        if redo.size:  # a near-tie at the k-th neighbour: decided in float64
            d2 = _squared_distances(exact_points, exact_sq, redo)
            nearest_d2, indices[redo] = _smallest(d2, k)
            distances[redo] = np.sqrt(np.maximum(nearest_d2, 0.0))
    return distances, indices


def _squared_distances(points, sq, rows):
    """Squared distances from the points ``rows`` (a slice, a view of a block,
    or an index array) to every point, each point's distance to itself
    infinite; in the points' dtype."""
    d2 = points[rows] @ points.T
    d2 *= -2.0
    d2 += sq[rows, None]
    d2 += sq[None, :]
    own = np.arange(len(points))[rows]
    d2[np.arange(len(own)), own] = np.inf  # not itself
    return d2


def _single_precision_bound(n_coordinates, sq):
    """Per point ``i``, a bound on the error of every squared distance
    :math:`d_{ij}^2` computed in float32 from float64 ``points`` (rounded to
    float32, then a Gram matrix and two additions in float32).

    Rounding each point moves a dot product by at most :math:`(2u + u^2)
    \\|p_i\\| \\|p_j\\|` (:math:`u = 2^{-24}`); the float32 dot product
    of :math:`m` terms errs by at most :math:`\\gamma_m \\|p_i\\| \\|p_j\\|`
    with :math:`\\gamma_m = m u / (1 - m u)` whatever the order of summation
    (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1), and the
    two additions by a few :math:`u` of their terms. ``2`` for twice the dot
    product, the norms of the row's point and of the largest point, and a
    factor 2 of slack.
    """
    u = 2.0**-24
    m = n_coordinates + 2
    gamma = m * u / (1.0 - m * u) if m * u < 0.5 else np.inf
    norms = np.sqrt(sq)
    largest = float(norms.max()) if norms.size else 0.0
    dot = (gamma * (1.0 + u) ** 2 + 2.0 * u + u * u) * norms * largest
    return 2.0 * (2.0 * dot + 4.0 * u * (sq + largest**2 + 2.0 * norms * largest))


def _smallest_unordered_ties(values, k):
    """Per row, the ``k`` smallest values (ascending, ties in any order) and their
    columns: by torch's top-k selection when torch is already imported (as it
    is under the estimators; 3 against 14 ms for numpy's ``argpartition`` over
    1024 x 1024 float32 distances, one thread), else by :func:`_smallest`. This
    module imports without torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return _smallest(values, k)
    nearest = torch.topk(torch.from_numpy(values), k, dim=1, largest=False)
    return nearest.values.numpy(), nearest.indices.numpy()


def _smallest(values, k):
    """Per row, the ``k`` smallest values (ascending, ties in index order) and
    their columns."""
    part = np.argpartition(values, k - 1, axis=1)[:, :k]
    part_values = np.take_along_axis(values, part, axis=1)
    order = np.argsort(part_values, axis=1, kind="stable")
    return (
        np.take_along_axis(part_values, order, axis=1),
        np.take_along_axis(part, order, axis=1),
    )


# Side of the square blocks in which _mirror_upper copies a triangle.
_MIRROR_BLOCK = 128


def _mirror_upper(a):
    """The symmetric matrix whose upper triangle is that of the Fortran-ordered
    square ``a`` (changed in place), as a C-ordered array: copied block by
    block, which is several times faster than a whole transposed copy."""
    n = a.shape[0]
    for start in range(0, n, _MIRROR_BLOCK):
        stop = min(start + _MIRROR_BLOCK, n)
        a[stop:, start:stop] = a[start:stop, stop:].T
        square = a[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        square[lower] = square.T[lower]
    return a.T  # symmetric: the C-ordered view is the same matrix


def _partial_correlation_neighbors(points, k):
    """:func:`_nearest_neighbors` for ``metric="partial_correlation"``: ``points``
    are the neurons' centred unit-norm columns (rows here)."""
    n = points.shape[0]
    shrunk = points @ points.T  # the correlation matrix
    shrunk *= 1.0 - _PARTIAL_SHRINKAGE
    shrunk[np.diag_indices(n)] += _PARTIAL_SHRINKAGE
    # symmetric positive definite (eigenvalues at least the shrinkage): its
    # inverse from a Cholesky factor, in LAPACK's upper triangle (the transposed
    # view is Fortran-ordered: no copy), then mirrored
    potrf, potri = linalg.get_lapack_funcs(("potrf", "potri"), (shrunk,))
    factor, info = potrf(shrunk.T, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        upper, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"the neurons' shrunk correlation matrix is not positive definite "
            f"(LAPACK info {info}): no partial correlations."
        )
    precision = _mirror_upper(upper)
    scale = 1.0 / np.sqrt(np.diag(precision))
    # rho_ij = -precision_ij scale_i scale_j: within row i (scale_i > 0), the
    # largest partial correlations are the smallest precision_ij scale_j
    ranked = precision
    ranked *= scale
    ranked[np.diag_indices(n)] = np.inf  # not itself
    nearest, indices = _smallest(ranked, k)
    rho = -nearest * scale[:, None]
    return np.sqrt(np.maximum(2.0 * (1.0 - rho), 0.0)), indices


def _index_summary(indices, limit=10):
    shown = ", ".join(str(i) for i in indices[:limit])
    more = f", ... ({len(indices) - limit} more)" if len(indices) > limit else ""
    return f"neurons [{shown}{more}]"
