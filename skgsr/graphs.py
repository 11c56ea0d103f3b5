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

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

__all__ = [
    "GRAPH_NAMES",
    "LAPLACIAN_KINDS",
    "check_adjacency",
    "infer_grid_shape",
    "laplacian",
    "make_graph",
    "resolve_graph_shape",
]

#: Names accepted by :func:`make_graph`.
GRAPH_NAMES = (
    "grid",
    "torus",
    "line",
    "ring",
    "lines",
    "rings",
    "tree",
    "star",
    "ladder",
)

#: Kinds accepted by :func:`laplacian`.
LAPLACIAN_KINDS = ("combinatorial", "normalized")


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
        If ``n_nodes`` is a prime larger than 3 (the only grid would be a
        ``1 x n`` line) or not a positive integer.

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
    if h == 1 and n_nodes > 3:
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


def resolve_graph_shape(name, shape):
    """The ``(h, w)`` layout of a predefined graph, with ``h * w`` nodes.

    Parameters
    ----------
    name : str
        One of :data:`GRAPH_NAMES`.
    shape : int or tuple of int
        Number of nodes, or ``(h, w)``. See :func:`make_graph` for what ``h`` and
        ``w`` mean for each graph.

    Returns
    -------
    shape : tuple of int
        ``(h, w)``; the graph has ``h * w`` nodes and node ``r * w + c`` sits at
        row ``r``, column ``c`` of the layout.
    """
    if name not in GRAPH_NAMES:
        raise ValueError(
            f"Unknown graph {name!r}. Use one of {', '.join(GRAPH_NAMES)}, "
            "'learned', or pass an adjacency matrix."
        )
    n, hw = _as_shape(shape)
    if name in ("grid", "torus"):
        return hw if hw is not None else infer_grid_shape(n)
    if name in ("line", "ring"):
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
"ladder"}
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
    shape : int or tuple of int
        Number of nodes, or ``(h, w)``. For ``"grid"`` and ``"torus"`` an int is
        factorized as squarely as possible (:func:`infer_grid_shape`); for the
        other graphs an int means one path, cycle, tree or star (a ladder of
        ``n / 2`` rungs positions).

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
    """
    h, w = resolve_graph_shape(name, shape)
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
        float64, explicit zeros and the diagonal removed, sorted indices.

    Raises
    ------
    ValueError
        If the graph is not square, has no nodes, is not symmetric, has negative
        or non-finite weights, or does not have ``n_nodes`` nodes; each message
        says which.
    TypeError
        If ``graph`` is not an array, a sparse matrix or a networkx graph.
    """
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
        adjacency = nx.to_scipy_sparse_array(graph, weight="weight", format="csr")
    elif sp.issparse(graph):
        adjacency = sp.csr_array(graph)
    else:
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
        adjacency = sp.csr_array(dense)

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
    if n_nodes is not None and adjacency.shape[0] != n_nodes:
        raise ValueError(
            f"{name} has {adjacency.shape[0]} nodes but the structured layer has "
            f"n_components={n_nodes} neurons; they must match (one node per neuron)."
        )
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    # exact symmetry, so that edge lists built from the upper triangle are faithful
    adjacency = sp.csr_array((adjacency + adjacency.T) * 0.5)
    adjacency.sort_indices()
    return adjacency


# --------------------------------------------------------------------------- #
# Laplacians
# --------------------------------------------------------------------------- #
def laplacian(adjacency, kind="combinatorial"):
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
    if kind not in LAPLACIAN_KINDS:
        raise ValueError(
            f"Unknown Laplacian kind {kind!r}; use 'combinatorial' or 'normalized'."
        )
    adjacency = check_adjacency(adjacency)
    L = csgraph.laplacian(adjacency, normed=kind == "normalized")
    L = sp.csr_array(L, dtype=np.float64)
    L.eliminate_zeros()
    L.sort_indices()
    return L
