"""Output feature names that say where each structured neuron sits on its graph."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from . import graphs

__all__ = ["LAYOUT_GRAPHS", "GraphFeatureNamesMixin", "graph_feature_names"]

#: Predefined graphs whose ``(h, w)`` layout places node ``r * w + c`` at a
#: position: row ``r`` and column ``c`` of a lattice (``"grid"``, ``"torus"``),
#: or position ``c`` along path or cycle ``r`` (``"lines"``, ``"rings"``, the two
#: rails of a ``"ladder"``). In a tree or a star the column is a heap index or a
#: leaf number, not a position, so those keep flat names.
LAYOUT_GRAPHS = ("grid", "torus", "lines", "rings", "ladder")


def _same_edges(a, b):
    """Whether two CSR adjacencies join the same pairs (weights aside)."""
    if a.shape != b.shape or a.nnz != b.nnz:
        return False
    if a.has_canonical_format and b.has_canonical_format:
        # sorted, duplicate-free indices: the pattern is the index arrays
        return np.array_equal(a.indptr, b.indptr) and np.array_equal(
            a.indices, b.indices
        )
    return ((a != 0).astype(np.int8) != (b != 0).astype(np.int8)).nnz == 0


def _edge_count(name, h, w):
    """Edges of ``make_graph(name, (h, w))`` for the names of
    :data:`LAYOUT_GRAPHS` (h, w >= 2), without building it."""
    path = h * (w - 1)  # h paths of w nodes
    closing = h if w > 2 else 0  # the edges that close them into cycles
    return {
        "grid": path + w * (h - 1),
        "torus": path + closing + w * (h - 1) + (w if h > 2 else 0),
        "lines": path,
        "rings": path + closing,
        "ladder": 2 * (w - 1) + w // 2,
    }[name]


def _layout_graph(adjacency, shape):
    """The name in :data:`LAYOUT_GRAPHS` of the graph ``adjacency`` is, laid
    out as ``shape``, or None."""
    h, w = shape
    if h < 2 or w < 2:
        return None
    for name in LAYOUT_GRAPHS:
        if 2 * _edge_count(name, h, w) != adjacency.nnz:
            continue  # cheap: building a large graph to compare costs more
        try:
            reference = graphs.make_graph(name, (h, w))
        except ValueError:  # e.g. a ladder needs exactly two rows
            continue
        if _same_edges(sp.csr_array(adjacency), reference):
            return name
    return None


def graph_feature_names(adjacency, shape, prefix="gsr"):
    """Names of the neurons of a structured layer, by position when it has one.

    ``f"{prefix}_r{r}_c{c}"`` for node ``r * w + c`` when the graph is a 2-D
    layout of ``shape`` (one of :data:`LAYOUT_GRAPHS` with at least two rows and
    two columns, recognized from its edges, whatever their weights), else
    ``f"{prefix}_{i}"`` for node ``i``: a line, a ring, trees, stars, a learned
    graph, or any other adjacency.

    Parameters
    ----------
    adjacency : scipy sparse matrix of shape (n, n) or None
        The graph over the neurons (None: no graph, flat names).
    shape : tuple of int
        ``(h, w)`` with ``h * w == n``.
    prefix : str, default="gsr"

    Returns
    -------
    names : ndarray of str objects, shape (n,)

    Examples
    --------
    >>> from skgsr._feature_names import graph_feature_names
    >>> from skgsr.graphs import make_graph
    >>> graph_feature_names(make_graph("grid", (2, 3)), (2, 3))[[0, 4]].tolist()
    ['gsr_r0_c0', 'gsr_r1_c1']
    >>> graph_feature_names(make_graph("ring", 6), (1, 6))[:2].tolist()
    ['gsr_0', 'gsr_1']
    """
    h, w = shape
    if adjacency is not None and _layout_graph(adjacency, (h, w)) is not None:
        names = [f"{prefix}_r{r}_c{c}" for r in range(h) for c in range(w)]
    else:
        names = [f"{prefix}_{i}" for i in range(h * w)]
    return np.asarray(names, dtype=object)


class GraphFeatureNamesMixin:
    """``get_feature_names_out`` naming each structured neuron by its place on
    the fitted graph (``feature_graph_`` laid out as ``graph_shape_``)."""

    def get_feature_names_out(self, input_features=None):
        """Names of the structured neurons, the columns of :meth:`transform`.

        ``gsr_r{row}_c{col}`` when the fitted graph is a 2-D layout of
        ``graph_shape_`` (a grid or torus of at least 2 x 2 neurons, or several
        lines or rings, or a ladder: neuron ``row * w + col`` sits at that row and
        column), else ``gsr_{i}`` (a line, a ring, trees, stars, a learned or a
        given graph that is not one of these layouts).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_`` when that exists.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (n_components,)

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skgsr import GSRAutoencoder
        >>> X = load_digits().data[:100] / 16.0
        >>> ae = GSRAutoencoder(n_components=6, graph_shape=(2, 3), max_iter=2,
        ...                     random_state=0).fit(X)
        >>> ae.get_feature_names_out().tolist()
        ['gsr_r0_c0', 'gsr_r0_c1', 'gsr_r0_c2', 'gsr_r1_c0', 'gsr_r1_c1', 'gsr_r1_c2']
        >>> ae.set_params(graph="ring", graph_shape=None).fit(X)  # doctest: +ELLIPSIS
        GSRAutoencoder(...)
        >>> ae.get_feature_names_out()[:3].tolist()
        ['gsr_0', 'gsr_1', 'gsr_2']
        """
        check_is_fitted(self, ("graph_shape_", "feature_graph_"))
        _check_feature_names_in(self, input_features, generate_names=False)
        return graph_feature_names(self.feature_graph_, self.graph_shape_)
