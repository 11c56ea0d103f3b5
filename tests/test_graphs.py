"""Tests of skgsr.graphs: predefined graphs, validation of user graphs, Laplacians.

Expected edge counts and degree sequences are derived by counting (formulas per
graph family), not by the construction code; networkx, where installed, gives a
second, independently written construction to compare against exactly.
"""

import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

from skgsr import graphs
from skgsr.graphs import (
    _GRAPH_NAMES,
    _resolve_graph_shape,
    check_adjacency,
    infer_grid_shape,
    laplacian,
    make_graph,
)


def n_edges(A):
    return sp.triu(A, k=1).nnz


def degrees(A):
    # number of neighbours, whatever the weights
    return np.sort(np.diff(sp.csr_array(A).indptr))


def neighbours(A, i):
    A = sp.csr_array(A)
    return set(A.indices[A.indptr[i] : A.indptr[i + 1]].tolist())


def random_weighted_graph(n, density, seed, isolated=()):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.1, 3.0, (n, n)) * (rng.random((n, n)) < density)
    W = np.triu(W, 1)
    W = W + W.T
    for i in isolated:
        W[i, :] = W[:, i] = 0.0
    return W


# --------------------------------------------------------------------------- #
# Predefined graphs: counts and degree sequences
# --------------------------------------------------------------------------- #
def grid_expectation(h, w):
    edges = h * (w - 1) + w * (h - 1)
    # degree of (r, c) = number of in-range 4-neighbours
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    deg = [
        sum(0 <= r + dr < h and 0 <= c + dc < w for dr, dc in steps)
        for r in range(h)
        for c in range(w)
    ]
    return edges, np.sort(deg)


@pytest.mark.parametrize("shape", [(8, 8), (4, 6), (1, 5), (2, 2), (3, 7), (1, 1)])
def test_grid_edge_count_and_degrees(shape):
    A = make_graph("grid", shape)
    edges, deg = grid_expectation(*shape)
    assert A.shape == (shape[0] * shape[1],) * 2
    assert n_edges(A) == edges
    np.testing.assert_array_equal(degrees(A), deg)


def test_grid_8x8_has_112_edges_and_torus_128():
    assert n_edges(make_graph("grid", (8, 8))) == 112
    assert n_edges(make_graph("grid", 64)) == 112  # 64 is inferred as 8 x 8
    assert n_edges(make_graph("torus", (8, 8))) == 128
    assert n_edges(make_graph("torus", 64)) == 128


@pytest.mark.parametrize(
    "shape, edges, degree",
    [
        # every dimension >= 3: 2 edges per node, 4-regular
        ((3, 3), 18, 4),
        ((5, 4), 40, 4),
        # width 2: the wrap-around of a 2-cycle is the edge already there
        ((4, 2), 4 * 1 + 2 * 4, 3),
        ((2, 5), 2 * 5 + 5 * 1, 3),
        ((2, 2), 4, 2),
        # one row: a ring; 1 x 2: one edge
        ((1, 6), 6, 2),
        ((1, 2), 1, 1),
    ],
)
def test_torus_small_cases(shape, edges, degree):
    A = make_graph("torus", shape)
    assert n_edges(A) == edges
    np.testing.assert_array_equal(degrees(A), np.full(shape[0] * shape[1], degree))


@pytest.mark.parametrize(
    "name, shape, edges, degree_counts",
    [
        ("ring", 10, 10, {2: 10}),
        ("ring", 3, 3, {2: 3}),
        ("ring", 2, 1, {1: 2}),
        ("ring", 1, 0, {0: 1}),
        ("line", 10, 9, {1: 2, 2: 8}),
        ("line", 1, 0, {0: 1}),
        ("lines", (3, 4), 3 * 3, {1: 6, 2: 6}),
        ("rings", (3, 5), 3 * 5, {2: 15}),
        # heap-ordered binary trees of 7 nodes: root 2, internal 3, 4 leaves 1
        ("tree", 7, 6, {2: 1, 3: 2, 1: 4}),
        ("tree", (2, 15), 2 * 14, {2: 2, 3: 12, 1: 16}),
        ("tree", 1, 0, {0: 1}),
        ("star", 6, 5, {5: 1, 1: 5}),
        ("star", (3, 4), 3 * 3, {3: 3, 1: 9}),
        # two paths of 6, rungs at j = 0, 1, 2: ends of path 1 keep degree 1
        ("ladder", (2, 6), 2 * 5 + 3, {2: 6, 3: 4, 1: 2}),
        ("ladder", 8, 2 * 3 + 2, {2: 4, 3: 2, 1: 2}),
        # a 4-clique in each of 3 columns: every node has the 3 others of its column
        ("capsules", (4, 3), 3 * 6, {3: 12}),
        ("capsules", (1, 5), 0, {0: 5}),
    ],
)
def test_predefined_edge_counts_and_degrees(name, shape, edges, degree_counts):
    A = make_graph(name, shape)
    assert n_edges(A) == edges
    deg = degrees(A)
    values, counts = np.unique(deg, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == degree_counts


def test_ladder_rungs_on_first_half_only():
    A = make_graph("ladder", (2, 6))
    for j in range(6):
        assert (A[j, j + 6] == 1) == (j < 3)


@pytest.mark.parametrize("name", _GRAPH_NAMES)
def test_predefined_graph_is_symmetric_binary_without_loops(name):
    shape = {"tree": (2, 7), "ladder": (2, 6), "line": 15, "ring": 15}.get(name, (3, 5))
    A = make_graph(name, shape)
    assert isinstance(A, sp.csr_array)
    assert A.dtype == np.float64
    assert abs(A - A.T).nnz == 0
    assert np.all(A.diagonal() == 0)
    np.testing.assert_array_equal(A.data, 1.0)
    assert A.has_sorted_indices


def test_node_order_is_row_times_width_plus_col():
    h, w = 5, 7
    A = make_graph("grid", (h, w))

    def node(r, c):
        return r * w + c

    assert neighbours(A, node(2, 3)) == {node(1, 3), node(3, 3), node(2, 2), node(2, 4)}
    assert neighbours(A, node(0, 0)) == {node(0, 1), node(1, 0)}
    assert neighbours(A, node(4, 6)) == {node(3, 6), node(4, 5)}
    # a layer reshaped to (h, w) has a row of the grid in each row
    T = make_graph("torus", (h, w))
    assert neighbours(T, node(0, 0)) == {
        node(0, 1),
        node(1, 0),
        node(0, w - 1),
        node(h - 1, 0),
    }


def test_capsules_join_the_same_dimension_of_every_capsule():
    h, w = 4, 6
    A = make_graph("capsules", (h, w))
    for r in range(h):
        for d in range(w):
            expected = {q * w + d for q in range(h) if q != r}
            assert neighbours(A, r * w + d) == expected


def test_lines_and_rings_are_rows():
    A = make_graph("rings", (3, 4))
    assert neighbours(A, 4) == {5, 7}  # row 1 is nodes 4..7
    A = make_graph("lines", (3, 4))
    assert neighbours(A, 4) == {5}
    assert neighbours(A, 3) == {2}  # no edge across rows


# --------------------------------------------------------------------------- #
# networkx: an independent construction of the same graphs
# --------------------------------------------------------------------------- #
def nx_adjacency(G):
    import networkx as nx

    return nx.to_scipy_sparse_array(G, nodelist=sorted(G.nodes), format="csr")


def nx_grid(h, w, periodic):
    import networkx as nx

    G = nx.grid_2d_graph(h, w, periodic=periodic)
    return nx.relabel_nodes(G, {(r, c): r * w + c for r, c in G.nodes})


def nx_rows(make_row, h, w):
    import networkx as nx

    return nx.disjoint_union_all([make_row(w) for _ in range(h)])


def nx_capsules(h, w):
    import networkx as nx

    # one complete graph per dimension d, over the nodes r * w + d
    G = nx.empty_graph(h * w)
    for d in range(w):
        G.add_edges_from(nx.complete_graph([r * w + d for r in range(h)]).edges)
    return G


def nx_ladder(w):
    import networkx as nx

    G = nx.ladder_graph(w)  # paths 0..w-1 and w..2w-1, rungs (j, j + w)
    G.remove_edges_from([(j, j + w) for j in range(w // 2, w)])
    return G


@pytest.mark.parametrize(
    "name, shape, build",
    [
        ("grid", (8, 8), lambda nx: nx_grid(8, 8, False)),
        ("grid", (3, 5), lambda nx: nx_grid(3, 5, False)),
        ("torus", (8, 8), lambda nx: nx_grid(8, 8, True)),
        ("torus", (4, 2), lambda nx: nx_grid(4, 2, True)),
        ("torus", (3, 6), lambda nx: nx_grid(3, 6, True)),
        ("line", 9, lambda nx: nx.path_graph(9)),
        ("ring", 10, lambda nx: nx.cycle_graph(10)),
        ("lines", (3, 4), lambda nx: nx_rows(nx.path_graph, 3, 4)),
        ("rings", (3, 5), lambda nx: nx_rows(nx.cycle_graph, 3, 5)),
        ("tree", 15, lambda nx: nx.balanced_tree(2, 3)),
        ("tree", (2, 7), lambda nx: nx_rows(lambda w: nx.balanced_tree(2, 2), 2, 7)),
        ("star", 6, lambda nx: nx.star_graph(5)),
        ("star", (3, 4), lambda nx: nx_rows(lambda w: nx.star_graph(w - 1), 3, 4)),
        ("ladder", (2, 6), lambda nx: nx_ladder(6)),
        ("ladder", (2, 5), lambda nx: nx_ladder(5)),
        ("capsules", (10, 16), lambda nx: nx_capsules(10, 16)),
        ("capsules", (3, 2), lambda nx: nx_capsules(3, 2)),
    ],
)
def test_predefined_graphs_equal_networkx(name, shape, build):
    nx = pytest.importorskip("networkx")
    expected = nx_adjacency(build(nx))
    A = make_graph(name, shape)
    assert A.shape == expected.shape
    assert abs(A - expected).nnz == 0


def test_torus_isomorphic_to_networkx_torus():
    nx = pytest.importorskip("networkx")
    G = nx.from_scipy_sparse_array(make_graph("torus", (4, 6)))
    assert nx.is_isomorphic(G, nx.grid_2d_graph(4, 6, periodic=True))
    # and not to the open grid: the wrap-around edges are there
    assert not nx.is_isomorphic(G, nx.grid_2d_graph(4, 6))


# --------------------------------------------------------------------------- #
# Shapes
# --------------------------------------------------------------------------- #
def most_square_by_enumeration(n):
    pairs = [(h, n // h) for h in range(1, n + 1) if n % h == 0 and h <= n // h]
    return min(pairs, key=lambda hw: hw[1] - hw[0])


def is_prime(n):
    return n > 1 and all(n % k for k in range(2, n))


@pytest.mark.parametrize("n", [1, 4, 12, 24, 36, 60, 64, 96, 100, 128, 210, 1024])
def test_infer_grid_shape_is_most_square(n):
    assert infer_grid_shape(n) == most_square_by_enumeration(n)


def test_infer_grid_shape_all_composites_below_200():
    for n in range(4, 200):
        if not is_prime(n):
            h, w = infer_grid_shape(n)
            assert h * w == n and h <= w
            assert (h, w) == most_square_by_enumeration(n)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 13, 61, 127])
def test_infer_grid_shape_prime_is_value_error_saying_prime(n):
    with pytest.raises(ValueError, match="prime"):
        infer_grid_shape(n)
    # the grid built from that number fails the same way
    with pytest.raises(ValueError, match="prime"):
        make_graph("grid", n)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_infer_grid_shape_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="positive integer"):
        infer_grid_shape(bad)


@pytest.mark.parametrize(
    "name, shape, expected",
    [
        ("grid", 24, (4, 6)),
        ("grid", (3, 8), (3, 8)),
        ("torus", 64, (8, 8)),
        ("line", 10, (1, 10)),
        ("ring", (1, 10), (1, 10)),
        ("lines", (2, 5), (2, 5)),
        ("star", 6, (1, 6)),
        ("tree", 31, (1, 31)),
        ("tree", (3, 7), (3, 7)),
        ("ladder", 12, (2, 6)),
        ("ladder", (2, 5), (2, 5)),
        ("capsules", (10, 16), (10, 16)),
    ],
)
def test_resolve_graph_shape(name, shape, expected):
    assert _resolve_graph_shape(name, shape) == expected


@pytest.mark.parametrize(
    "name, shape, match",
    [
        ("tree", 10, r"2\*\*k - 1"),
        ("tree", (2, 6), r"2\*\*k - 1"),
        ("tree", 8, r"2\*\*k - 1"),
        ("ladder", 7, "even number of nodes"),
        ("ladder", (3, 4), "two rows"),
        ("capsules", 160, r"graph_shape=\(n_capsules, capsule_dim\)"),
        ("hexagons", 10, "Unknown graph 'hexagons'"),
        ("grid", (2, 3, 4), "one or two entries"),
        ("grid", (0, 4), "positive integer"),
        ("grid", "abc", "one or two entries"),
        ("grid", (2.5, 4), "positive integer"),
        ("ring", None, "int .* or a tuple"),
        # one path or cycle is one row: (h, w) with h > 1 was silently (1, h * w)
        ("ring", (2, 5), "graph='ring' is one cycle .* graph='rings' for 2 cycles"),
        ("line", (4, 4), "graph='line' is one path .* graph='lines' for 4 paths"),
    ],
)
def test_resolve_graph_shape_errors(name, shape, match):
    with pytest.raises(ValueError, match=match):
        _resolve_graph_shape(name, shape)


# --------------------------------------------------------------------------- #
# Validation of user-given graphs
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "graph, match",
    [
        (np.zeros((2, 3)), "must be a square adjacency matrix"),
        (sp.csr_array(np.ones((3, 2))), "must be a square adjacency matrix"),
        (np.zeros(4), "2-D adjacency matrix; got an array with 1 dimension"),
        (np.zeros((2, 2, 2)), "got an array with 3 dimension"),
        (np.zeros((0, 0)), "has no nodes"),
        (sp.csr_array((0, 0)), "has no nodes"),
        ([[0, 1], [2, 0]], "not symmetric"),
        (sp.csr_array([[0, 1.0], [0, 0]]), "not symmetric"),
        ([[0, -1], [-1, 0]], "negative edge weights"),
        ([[0, np.nan], [np.nan, 0]], "non-finite"),
        ([[0, np.inf], [np.inf, 0]], "non-finite"),
        (sp.csr_array([[0, np.inf], [np.inf, 0]]), "non-finite"),
        (np.array([[0, 1j], [1j, 0]]), "complex weights"),
    ],
)
def test_check_adjacency_errors_name_the_problem(graph, match):
    with pytest.raises(ValueError, match=match):
        check_adjacency(graph)


def test_check_adjacency_node_count_mismatch():
    with pytest.raises(ValueError, match=r"3 nodes but .* n_components=4"):
        check_adjacency(np.ones((3, 3)), n_nodes=4)
    assert check_adjacency(np.ones((3, 3)), n_nodes=3).shape == (3, 3)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 8),
    exponent=st.floats(min_value=38.6, max_value=300.0),
    fmt=st.sampled_from(["dense", "sparse"]),
)
def test_check_adjacency_refuses_degrees_beyond_float32(n, exponent, fmt):
    """Finite in float64, infinite in the float32 penalty: refused, named."""
    A = np.ones((n, n)) - np.eye(n)
    A *= 10.0**exponent / (n - 1)  # every degree 10**exponent > 3.4e38
    A = sp.csr_array(A) if fmt == "sparse" else A
    with pytest.raises(ValueError, match="^feature_graph has weighted degrees"):
        check_adjacency(A, name="feature_graph")
    assert check_adjacency(A / 10.0 ** (exponent - 37)).shape == (n, n)


def test_check_adjacency_uses_the_given_name():
    with pytest.raises(ValueError, match="^feature_graph is not symmetric"):
        check_adjacency([[0, 1], [0, 0]], name="feature_graph")


@pytest.mark.parametrize(
    "graph", [np.array([["a", "b"], ["c", "d"]]), np.array([[None, 1], [1, None]])]
)
def test_check_adjacency_non_numeric_is_type_error(graph):
    with pytest.raises(TypeError, match="numeric"):
        check_adjacency(graph)


def test_check_adjacency_networkx_weights_must_be_numbers():
    nx = pytest.importorskip("networkx")
    G = nx.path_graph(4)
    G.edges[1, 2]["weight"] = "2.5"
    with pytest.raises(TypeError, match=r"^g is a networkx graph whose edge \(1, 2\)"):
        check_adjacency(G, name="g")
    G.edges[1, 2]["weight"] = 2.5
    assert check_adjacency(G)[1, 2] == 2.5


def test_check_adjacency_networkx_errors():
    nx = pytest.importorskip("networkx")
    with pytest.raises(ValueError, match="directed networkx graph"):
        check_adjacency(nx.DiGraph([(0, 1), (1, 0)]))
    with pytest.raises(ValueError, match="has no nodes"):
        check_adjacency(nx.Graph())
    G = nx.Graph()
    G.add_edge(0, 1, weight=-2.0)
    with pytest.raises(ValueError, match="negative edge weights"):
        check_adjacency(G)


def test_check_adjacency_networkx_weights_and_node_order():
    nx = pytest.importorskip("networkx")
    G = nx.Graph()
    G.add_nodes_from(["c", "a", "b"])  # graph.nodes order, not sorted order
    G.add_edge("c", "a", weight=2.5)
    G.add_edge("a", "b")  # no weight attribute: 1
    A = check_adjacency(G).toarray()
    expected = np.array([[0, 2.5, 0], [2.5, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(A, expected)


def test_check_adjacency_ignores_diagonal_and_explicit_zeros():
    W = random_weighted_graph(6, 0.6, seed=0)
    with_loops = W + np.diag(np.arange(1.0, 7.0))
    A = check_adjacency(with_loops)
    assert np.all(A.diagonal() == 0)
    assert A.nnz == np.count_nonzero(W)
    np.testing.assert_array_equal(A.toarray(), W)
    np.testing.assert_array_equal(
        laplacian(with_loops).toarray(), laplacian(W).toarray()
    )
    explicit_zero = sp.csr_array(
        (
            np.array([0.0, 0.0, 1.0, 1.0]),
            np.array([1, 0, 2, 1]),
            np.array([0, 1, 3, 4]),
        ),
        shape=(3, 3),
    )
    assert check_adjacency(explicit_zero).nnz == 2


@pytest.mark.parametrize(
    "convert",
    [np.asarray, sp.csr_matrix, sp.coo_array, sp.csc_array, lambda W: W.tolist()],
)
def test_check_adjacency_accepts_arrays_and_sparse(convert):
    W = random_weighted_graph(7, 0.5, seed=1)
    A = check_adjacency(convert(W))
    assert isinstance(A, sp.csr_array) and A.dtype == np.float64
    assert A.has_sorted_indices
    np.testing.assert_allclose(A.toarray(), W, rtol=0, atol=0)


def test_check_adjacency_bool_and_int():
    B = np.array([[False, True], [True, False]])
    np.testing.assert_array_equal(check_adjacency(B).toarray(), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(
        check_adjacency(np.array([[0, 3], [3, 0]])).toarray(), [[0, 3], [3, 0]]
    )


def test_check_adjacency_tolerates_round_off_asymmetry_and_symmetrizes():
    W = random_weighted_graph(5, 0.8, seed=2)
    W[0, 1] += 1e-14
    A = check_adjacency(W)
    assert abs(A - A.T).nnz == 0  # exactly symmetric afterwards


# --------------------------------------------------------------------------- #
# Laplacians
# --------------------------------------------------------------------------- #
def dense_laplacian(W, kind):
    W = np.array(W, dtype=float)
    np.fill_diagonal(W, 0.0)
    d = W.sum(axis=1)
    if kind == "combinatorial":
        return np.diag(d) - W
    inv_sqrt = np.zeros_like(d)
    inv_sqrt[d > 0] = 1.0 / np.sqrt(d[d > 0])
    # isolated nodes: a zero row and column
    return np.diag((d > 0).astype(float)) - inv_sqrt[:, None] * W * inv_sqrt[None, :]


GRAPHS = {
    "grid": lambda: make_graph("grid", (4, 5)).toarray(),
    "ring": lambda: make_graph("ring", 9).toarray(),
    "weighted": lambda: random_weighted_graph(12, 0.4, seed=3),
    "isolated": lambda: random_weighted_graph(10, 0.5, seed=4, isolated=(2, 7)),
    "components": lambda: make_graph("rings", (3, 4)).toarray(),
}


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_laplacian_against_formula_and_scipy(graph, kind):
    W = GRAPHS[graph]()
    L = laplacian(W, kind)
    assert isinstance(L, sp.csr_array) and L.dtype == np.float64
    np.testing.assert_allclose(L.toarray(), dense_laplacian(W, kind), atol=1e-14)
    expected = csgraph.laplacian(W, normed=kind == "normalized")
    np.testing.assert_allclose(L.toarray(), expected, atol=1e-14)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_laplacian_against_networkx(graph, kind):
    nx = pytest.importorskip("networkx")
    W = GRAPHS[graph]()
    G = nx.from_numpy_array(W)
    nodes = list(range(len(W)))
    if kind == "combinatorial":
        expected = nx.laplacian_matrix(G, nodelist=nodes)
    else:
        expected = nx.normalized_laplacian_matrix(G, nodelist=nodes)
    np.testing.assert_allclose(
        laplacian(W, kind).toarray(), expected.toarray(), atol=1e-14
    )


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_laplacian_psd_and_null_space_counts_components(graph, kind):
    W = GRAPHS[graph]()
    eigenvalues = np.linalg.eigvalsh(laplacian(W, kind).toarray())
    assert eigenvalues[0] > -1e-10
    if kind == "normalized":
        assert eigenvalues[-1] < 2 + 1e-10
    # components counted by a breadth-first search written here
    n, seen, components = len(W), set(), 0
    for start in range(n):
        if start in seen:
            continue
        components += 1
        stack = [start]
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(np.flatnonzero(W[i]).tolist())
    assert np.sum(np.abs(eigenvalues) < 1e-9) == components


def test_known_component_counts():
    # rings of 3 x 4 has 3 components; the isolated graph has its 2 isolated nodes
    ev = np.linalg.eigvalsh(laplacian(make_graph("rings", (3, 4))).toarray())
    assert np.sum(ev < 1e-9) == 3
    W = random_weighted_graph(10, 0.5, seed=4, isolated=(2, 7))
    Ln = laplacian(W, "normalized").toarray()
    np.testing.assert_array_equal(Ln[2], 0.0)
    np.testing.assert_array_equal(Ln[:, 7], 0.0)
    assert np.sum(np.linalg.eigvalsh(Ln) < 1e-9) >= 3


def test_laplacian_quadratic_form_is_edge_sum():
    W = random_weighted_graph(9, 0.5, seed=5)
    x = np.random.default_rng(6).standard_normal(9)
    i, j = np.nonzero(np.triu(W, 1))
    edge_sum = np.sum(W[i, j] * (x[i] - x[j]) ** 2)
    np.testing.assert_allclose(x @ (laplacian(W) @ x), edge_sum, rtol=1e-12)


def test_laplacian_rejects_unknown_kind_and_invalid_graph():
    with pytest.raises(ValueError, match="Unknown Laplacian kind 'sym'"):
        laplacian(np.eye(2), "sym")
    with pytest.raises(ValueError, match="not symmetric"):
        laplacian([[0, 1], [0, 0]])


def test_laplacian_docstring_example_ring():
    np.testing.assert_array_equal(
        laplacian(make_graph("ring", 4)).toarray()[0], [2, -1, 0, -1]
    )


def test_graph_modules_import_and_run_without_torch():
    """graphs, filters, metrics, descramble and datasets need numpy and scipy
    only: with torch made unimportable they import and run; the estimators say
    what is missing."""
    code = (
        "import importlib.abc\n"
        "import sys\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is not installed')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import numpy as np\n"
        "from skgsr import datasets, descramble, filters, graphs, metrics\n"
        "A = graphs.make_graph('grid', (4, 4))\n"
        "L = graphs.laplacian(A)\n"
        "X = np.random.RandomState(0).normal(size=(30, 16))\n"
        "assert metrics.dirichlet_energy(X, A) > 0\n"
        "assert filters._resolve_filter('heat', None, 2.0).kernels\n"
        "assert 'torch' not in sys.modules\n"
        "try:\n"
        "    from skgsr import GSRAutoencoder\n"
        "except ImportError:\n"
        "    print('estimators need torch')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "estimators need torch" in done.stdout


def test_check_adjacency_returns_a_canonical_graph_itself():
    """Checking a checked graph copies nothing: the same object comes back, so
    that a graph kept in a history is the very graph the penalty uses."""
    A = check_adjacency(np.array([[0, 2.0, 0], [2.0, 0, 1], [0, 1, 0]]))
    assert check_adjacency(A) is A
    single = A.astype(np.float32)  # valid, not canonical: a float64 copy back
    checked = check_adjacency(single)
    assert checked is not single and checked.dtype == np.float64
    assert (checked != A).nnz == 0


def _nearly_canonical_graphs():
    """A canonical graph, and CSR float64 graphs that each break one of the
    canonical form's conditions (all of them valid or refused input)."""
    rng = np.random.RandomState(3)
    R = sp.random(30, 30, density=0.2, random_state=rng)
    A = check_adjacency(R + R.T)
    yield "canonical", A
    for what in (
        "one ulp asymmetric",
        "explicit zero",
        "diagonal",
        "negative",
        "unsorted",
        "infinite",
        "float32 overflow",
        "wrong n_nodes",
    ):
        B = A.copy()
        r = int(np.argmax(np.diff(B.indptr)))
        first = slice(B.indptr[r], B.indptr[r + 1])  # the fullest row's entries
        if what == "one ulp asymmetric":
            B.data[0] = np.nextafter(B.data[0], 2.0)
        elif what == "explicit zero":  # both (0, j) and (j, 0) stored as 0
            j = B.indices[0]
            B.data[0] = 0.0
            row_j = slice(B.indptr[j], B.indptr[j + 1])
            B.data[row_j][B.indices[row_j] == 0] = 0.0
        elif what == "diagonal":
            B = sp.csr_array(B + 0.5 * sp.eye_array(30))
        elif what == "negative":
            B = sp.csr_array(-B)
        elif what == "unsorted":
            B.indices[first] = B.indices[first][::-1].copy()
            B.data[first] = B.data[first][::-1].copy()
            B.has_sorted_indices = False
        elif what == "infinite":
            B.data[:] = np.inf
        elif what == "float32 overflow":
            B = sp.csr_array(B * 1e300)
        yield what, B


@pytest.mark.parametrize(
    "what, graph", list(_nearly_canonical_graphs()), ids=lambda v: str(v)[:20]
)
def test_check_adjacency_fast_path_agrees_with_the_full_check(what, graph):
    """A canonical graph comes back through a few passes over its entries
    (graphs._is_canonical), not the full rebuild: whatever the input, the
    result, or the error, is the full check's."""
    n_nodes = 29 if what == "wrong n_nodes" else None
    try:
        expected = check_adjacency(graph.tolil(), n_nodes=n_nodes)  # the full path
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc)[:40])):
            check_adjacency(graph, n_nodes=n_nodes)
        assert what in ("negative", "infinite", "float32 overflow", "wrong n_nodes")
        return
    checked = check_adjacency(graph, n_nodes=n_nodes)
    assert graphs._is_canonical(checked)
    if what == "canonical":
        assert checked is graph
    np.testing.assert_array_equal(checked.toarray(), expected.toarray())


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_pairs_within_dense_and_sparse_walks_agree(hops, monkeypatch):
    """The dense walk (small graphs) and the sparse one give the same pairs."""
    rng = np.random.RandomState(0)
    adjacency = graphs.coactivation_graph(np.abs(rng.randn(200, 40)), 3)
    dense = graphs._pairs_within(adjacency, hops)
    monkeypatch.setattr(graphs, "_DENSE_WALK_MAX_NODES", 0)
    sparse = graphs._pairs_within(adjacency, hops)
    assert dense.dtype == sparse.dtype == bool
    assert (dense != sparse).nnz == 0
    # and both against shortest paths
    hops_apart = csgraph.shortest_path(adjacency, unweighted=True)
    np.testing.assert_array_equal(dense.toarray(), hops_apart <= hops)
    # dense=True: the dense walk's matrix itself, the sparse walk's CSR
    monkeypatch.setattr(graphs, "_DENSE_WALK_MAX_NODES", 2048)
    mask = graphs._pairs_within(adjacency, hops, dense=True)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    np.testing.assert_array_equal(mask, hops_apart <= hops)
    monkeypatch.setattr(graphs, "_DENSE_WALK_MAX_NODES", 0)
    assert sp.issparse(graphs._pairs_within(adjacency, hops, dense=True))
