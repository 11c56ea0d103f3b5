"""Interpretability metrics against independent computations (skgsr.metrics)."""

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from skgsr.graphs import laplacian, make_graph
from skgsr.metrics import (
    dirichlet_energy,
    feature_module_labels,
    feature_module_recovery,
    graph_modularity,
    module_recovery,
    morans_i,
    participation_ratio,
    shuffled_dirichlet_energy,
    smoothness_score,
    spatial_spread,
)


def random_weighted_graph(n, density=0.4, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.uniform(0.5, 2.0, size=(n, n)) * (rng.uniform(size=(n, n)) < density)
    W = np.triu(W, 1)
    return W + W.T


def edge_sum_energy(Z, W):
    """sum_{i<j} W_ij (z_i - z_j)^2 by loops over edges, averaged over samples."""
    n = W.shape[0]
    total = np.zeros(len(Z))
    for i in range(n):
        for j in range(i + 1, n):
            total += W[i, j] * (Z[:, i] - Z[:, j]) ** 2
    return total.mean()


GRAPHS = {
    "grid": lambda: make_graph("grid", (3, 4)).toarray(),
    "ring": lambda: make_graph("ring", 9).toarray(),
    "star": lambda: make_graph("star", 7).toarray(),
    "weighted": lambda: random_weighted_graph(10),
}


# ------------------------------------------------------------ Dirichlet energy
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_dirichlet_energy_is_the_edge_sum(graph):
    W = GRAPHS[graph]()
    Z = np.random.RandomState(1).normal(size=(7, W.shape[0]))
    np.testing.assert_allclose(
        dirichlet_energy(Z, W), edge_sum_energy(Z, W), rtol=1e-12
    )
    # the same graph given as scipy sparse and networkx
    nx = pytest.importorskip("networkx")
    assert dirichlet_energy(Z, sp.csr_array(W)) == pytest.approx(edge_sum_energy(Z, W))
    G = nx.from_numpy_array(W)
    assert dirichlet_energy(Z, G) == pytest.approx(edge_sum_energy(Z, W))


def test_dirichlet_energy_normalized_laplacian():
    W = random_weighted_graph(8, seed=3)
    d = W.sum(axis=1)
    Z = np.random.RandomState(2).normal(size=(5, 8))
    # x^T (I - D^-1/2 A D^-1/2) x = sum_{i<j} A_ij (x_i/sqrt(d_i) - x_j/sqrt(d_j))^2
    expected = edge_sum_energy(Z / np.sqrt(d), W)
    got = dirichlet_energy(Z, W, laplacian="normalized")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_dirichlet_energy_scale_free_is_centred_rayleigh():
    W = GRAPHS["grid"]()
    rng = np.random.RandomState(4)
    Z = rng.normal(size=(6, 12))
    expected = np.mean(
        [
            edge_sum_energy(z[None], W) / np.sum((z - z.mean()) ** 2)
            for z in Z  # per sample: energy / centred squared norm
        ]
    )
    got = dirichlet_energy(Z, W, scale_free=True)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # invariant to rescaling each sample and to adding a constant to it
    scaled = Z * rng.uniform(0.1, 10, size=(6, 1)) + rng.normal(size=(6, 1))
    np.testing.assert_allclose(
        dirichlet_energy(scaled, W, scale_free=True), got, rtol=1e-10
    )
    # between lambda_2 and lambda_max on a connected graph; 0 for constants
    lam = np.linalg.eigvalsh(laplacian(W).toarray())
    assert lam[1] <= got <= lam[-1]
    assert dirichlet_energy(np.ones((2, 12)), W, scale_free=True) == 0.0


def test_dirichlet_energy_one_sample_and_errors():
    A = make_graph("line", 3)
    assert dirichlet_energy([0.0, 1.0, 3.0], A) == 5.0
    with pytest.raises(ValueError, match="3 nodes"):
        dirichlet_energy(np.zeros((2, 4)), A)
    with pytest.raises(ValueError, match="symmetric"):
        dirichlet_energy(np.zeros((2, 2)), [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="NaN|infinity"):
        dirichlet_energy([[0.0, np.nan, 1.0]], A)


# ------------------------------------------------------------- E_shuffled
@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", ["star", "weighted6"])
def test_shuffled_energy_equals_exact_average_over_all_permutations(graph, kind):
    W = make_graph("star", 6).toarray() if graph == "star" else random_weighted_graph(6)
    L = laplacian(W, kind).toarray()
    Z = np.random.RandomState(5).normal(loc=1.5, size=(3, 6))
    # every one of the 720 relabellings, each sample permuted by the same one
    energies = [
        np.mean(np.einsum("bi,ij,bj->b", Z[:, p], L, Z[:, p]))
        for p in map(list, itertools.permutations(range(6)))
    ]
    np.testing.assert_allclose(
        shuffled_dirichlet_energy(Z, W, laplacian=kind), np.mean(energies), rtol=1e-12
    )


def test_shuffled_energy_matches_monte_carlo():
    """Closed form against 20000 random relabellings of a 40-node weighted graph."""
    W = random_weighted_graph(40, density=0.15, seed=6)
    L = laplacian(W).toarray()
    rng = np.random.RandomState(7)
    Z = rng.gamma(2.0, size=(4, 40))  # skewed, non-centred samples
    draws = np.array(
        [
            np.mean(np.einsum("bi,ij,bj->b", Z[:, p], L, Z[:, p]))
            for p in (rng.permutation(40) for _ in range(20000))
        ]
    )
    closed = shuffled_dirichlet_energy(Z, W)
    standard_error = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - closed) < 4 * standard_error
    # combinatorial Laplacian: tr(L) times the variance of each sample over neurons
    expected = np.trace(L) * np.mean(Z.var(axis=1, ddof=1))
    np.testing.assert_allclose(closed, expected, rtol=1e-12)


# ------------------------------------------------------------ smoothness score
def test_smoothness_score_white_noise_is_zero():
    A = make_graph("grid", (8, 8))
    scores = [
        smoothness_score(np.random.RandomState(s).normal(size=(500, 64)), A)
        for s in range(5)
    ]
    # E[score] is exactly 0 for exchangeable entries; measured |score| < 0.01
    assert np.all(np.abs(scores) < 0.02), scores


def test_smoothness_score_smooth_signals_near_one():
    A = make_graph("grid", (8, 8))
    L = laplacian(A).toarray()
    lam, T = np.linalg.eigh(L)
    rng = np.random.RandomState(0)
    # random combinations of the 4 lowest non-constant modes, plus offsets
    Z = rng.normal(size=(200, 4)) @ T[:, 1:5].T + rng.normal(size=(200, 1))
    assert smoothness_score(Z, A) > 0.9
    # an eigenvector u (orthogonal to 1, unit norm): E = lambda, E_shuffled =
    # tr(L) / (n - 1), hence 1 - lambda (n - 1) / tr(L)
    for k in (1, 10, 63):
        expected = 1 - lam[k] * 63 / np.trace(L)
        np.testing.assert_allclose(smoothness_score(T[:, k], A), expected, rtol=1e-10)
    assert smoothness_score(T[:, 63], A) < 0  # the highest frequency: rougher


def test_smoothness_score_definition_and_invariances():
    W = random_weighted_graph(12, seed=8)
    rng = np.random.RandomState(9)
    Z = rng.normal(size=(30, 12)).cumsum(axis=1)
    score = smoothness_score(Z, W)
    expected = 1 - dirichlet_energy(Z, W) / shuffled_dirichlet_energy(Z, W)
    np.testing.assert_allclose(score, expected, rtol=1e-12)
    # scale-free and blind to per-sample offsets (combinatorial Laplacian)
    shifted = 3.7 * Z + rng.normal(size=(30, 1)) * 100
    np.testing.assert_allclose(smoothness_score(shifted, W), score, rtol=1e-8)
    # a relabelling of the neurons changes E but never E_shuffled
    p = rng.permutation(12)
    np.testing.assert_allclose(
        shuffled_dirichlet_energy(Z[:, p], W), shuffled_dirichlet_energy(Z, W)
    )
    assert np.isnan(smoothness_score(np.ones((3, 12)), W))
    with pytest.raises(ValueError, match="at least 2 nodes"):
        smoothness_score([[1.0]], [[0.0]])


# ------------------------------------------------------------------ Moran's I
def textbook_morans_i(z, W):
    """Moran (1950) with explicit double sums."""
    n = len(z)
    d = z - z.mean()
    numerator = sum(W[i, j] * d[i] * d[j] for i in range(n) for j in range(n))
    return n / W.sum() * numerator / np.sum(d**2)


def test_morans_i_hand_example():
    # a line of 4 nodes with z = 1, 2, 3, 4: deviations -1.5 -0.5 0.5 1.5,
    # sum_ij w_ij d_i d_j = 2 (0.75 - 0.25 + 0.75) = 2.5, sum d^2 = 5, S0 = 6,
    # I = 4/6 * 2.5/5 = 1/3
    assert morans_i([1.0, 2.0, 3.0, 4.0], make_graph("line", 4)) == pytest.approx(1 / 3)
    # alternating signs on a ring: perfect negative autocorrelation
    assert morans_i([1.0, -1.0] * 3, make_graph("ring", 6)) == pytest.approx(-1.0)


def test_morans_i_against_textbook_on_weighted_graph():
    W = random_weighted_graph(9, seed=10)
    Z = np.random.RandomState(11).normal(size=(5, 9))
    expected = [textbook_morans_i(z, W) for z in Z]
    np.testing.assert_allclose(morans_i(Z, W, average=False), expected, rtol=1e-12)
    assert morans_i(Z, W) == pytest.approx(np.mean(expected))


def test_morans_i_expectation_under_relabelling():
    """E[I] = -1/(n-1) over all relabellings (the randomization hypothesis)."""
    W = random_weighted_graph(6, seed=12)
    z = np.random.RandomState(13).normal(size=6)
    values = morans_i(
        np.array([z[list(p)] for p in itertools.permutations(range(6))]), W
    )
    assert values == pytest.approx(-1 / 5)


def test_morans_i_constant_samples():
    A = make_graph("line", 4)
    Z = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    per_sample = morans_i(Z, A, average=False)
    assert np.isnan(per_sample[0]) and per_sample[1] == pytest.approx(1 / 3)
    assert morans_i(Z, A) == pytest.approx(1 / 3)  # the constant one left out
    assert np.isnan(morans_i(np.ones((2, 4)), A))


@pytest.mark.parametrize(
    "graph", [np.zeros((4, 4)), np.zeros((1, 1)), sp.csr_array((3, 3))]
)
def test_morans_i_without_edges_is_nan(graph):
    """No edges (one node included): no neighbours to compare, NaN as documented."""
    n = graph.shape[0]
    Z = np.random.RandomState(0).normal(size=(3, n))
    assert np.isnan(morans_i(Z, graph))
    assert np.isnan(morans_i(Z, graph, average=False)).all()


# ----------------------------------------------------------------- localization
@settings(max_examples=25, deadline=None)
@given(
    shape=st.one_of(
        st.integers(1, 64),
        st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
        st.tuples(st.integers(1, 8)),
        st.tuples(st.integers(-3, 0), st.integers(1, 8)),
        st.tuples(st.floats(1.5, 8.5), st.integers(1, 8)),
        st.just((True, 4)),
        st.just("44"),
    )
)
def test_spatial_spread_refuses_anything_but_a_layout(shape):
    with pytest.raises(ValueError, match=r"shape must be a grid layout \(h, w\)"):
        spatial_spread(np.ones((2, 16)), shape)


@pytest.mark.parametrize("periodic", [(True,), (True, False, True), [[True, True]]])
def test_spatial_spread_periodic_needs_one_flag_per_axis(periodic):
    if np.size(periodic) == 2:  # a nested pair is still one flag per axis
        assert spatial_spread(np.ones(16), (4, 4), periodic=periodic) == 1.0
        return
    with pytest.raises(ValueError, match="periodic must be a bool or one bool per"):
        spatial_spread(np.ones(16), (4, 4), periodic=periodic)


def test_spatial_spread_hand_values():
    uniform = (2 * (8 * 8 - 1)) / 12  # 10.5
    assert spatial_spread(np.eye(64)[27], (8, 8)) == 0.0
    assert spatial_spread(np.ones(64), (8, 8)) == pytest.approx(1.0)
    corners = np.zeros((8, 8))
    corners[0, 0] = corners[7, 7] = 1.0  # centroid (3.5, 3.5), variance 2 * 3.5^2
    assert spatial_spread(corners[None], (8, 8)) == pytest.approx(
        np.sqrt(24.5 / uniform)
    )
    block = np.zeros((8, 8))
    block[2:4, 5:7] = -3.0  # the sign does not matter: variance 1/4 per axis
    assert spatial_spread(block.ravel(), (8, 8)) == pytest.approx(
        np.sqrt(0.5 / uniform)
    )
    # the energy weights: a weak far pixel moves the spread little
    maps = np.stack([np.eye(64)[0], np.eye(64)[0] + 0.1 * np.eye(64)[63]])
    spreads = [spatial_spread(m, (8, 8)) for m in maps]
    p = 0.01 / 1.01  # energy share of the far pixel
    assert spreads[1] == pytest.approx(np.sqrt(2 * 49 * p * (1 - p) / uniform))
    # mean over samples; all-zero maps are left out
    assert spatial_spread(np.vstack([maps, np.zeros(64)]), (8, 8)) == pytest.approx(
        np.mean(spreads)
    )


def wrapped_frechet_variance(q, length):
    """min over centres on a fine grid of sum_j q_j d_wrap(j, c)^2."""
    centres = np.linspace(0, length, 20001)
    d = np.abs(np.arange(length)[:, None] - centres[None, :])
    d = np.minimum(d, length - d)
    return np.min(q @ d**2)


def test_spatial_spread_on_a_torus():
    rng = np.random.RandomState(14)
    h, w = 5, 7
    maps = rng.uniform(size=(6, h, w)) ** 6  # peaky random maps
    q_rows = (maps**2).sum(axis=2)
    q_cols = (maps**2).sum(axis=1)
    q_rows /= q_rows.sum(axis=1, keepdims=True)
    q_cols /= q_cols.sum(axis=1, keepdims=True)
    uniform = ((h * h - 1) + (w * w - 1)) / 12
    expected = np.mean(
        [
            np.sqrt(
                (wrapped_frechet_variance(r, h) + wrapped_frechet_variance(c, w))
                / uniform
            )
            for r, c in zip(q_rows, q_cols, strict=True)
        ]
    )
    got = spatial_spread(maps, (h, w), periodic=True)
    assert got == pytest.approx(expected, rel=1e-6)
    # a blob has the same spread wherever it sits on a torus, across the seam too
    blob = np.zeros((h, w))
    blob[1:3, 2:5] = [[1, 2, 1], [2, 3, 2]]
    spreads = {
        round(
            spatial_spread(np.roll(blob, (dr, dc), axis=(0, 1)), (h, w), periodic=True),
            12,
        )
        for dr in range(h)
        for dc in range(w)
    }
    assert len(spreads) == 1
    # on a grid the same blob split by the seam looks spread out
    seam = np.roll(blob, (0, 4), axis=(0, 1))
    assert spatial_spread(seam, (h, w)) > 2 * spatial_spread(
        seam, (h, w), periodic=True
    )
    # one flag per axis: only columns wrap
    assert spatial_spread(seam, (h, w), periodic=(False, True)) == pytest.approx(
        spatial_spread(seam, (h, w), periodic=True)
    )


def test_participation_ratio_hand_values():
    assert participation_ratio([1.0, 1.0, 0.0, 0.0]) == 0.5
    assert participation_ratio(np.eye(10)[3]) == pytest.approx(0.1)
    assert participation_ratio(-np.ones((2, 10)) * 4) == pytest.approx(1.0)
    z = np.random.RandomState(15).normal(size=(3, 20))
    expected = np.mean([(np.sum(v**2) ** 2) / (20 * np.sum(v**4)) for v in z])
    assert participation_ratio(z) == pytest.approx(expected)
    assert participation_ratio(100 * z) == pytest.approx(expected)


# -------------------------------------------------------------------- modules
def textbook_ari(labels_a, labels_b):
    """Hubert & Arabie's adjusted Rand index by pair counting."""
    a_values, a = np.unique(labels_a, return_inverse=True)
    b_values, b = np.unique(labels_b, return_inverse=True)
    table = np.zeros((len(a_values), len(b_values)), dtype=int)
    np.add.at(table, (a, b), 1)
    pairs = sum(math.comb(int(x), 2) for x in table.ravel())
    rows = sum(math.comb(int(x), 2) for x in table.sum(axis=1))
    cols = sum(math.comb(int(x), 2) for x in table.sum(axis=0))
    expected = rows * cols / math.comb(len(labels_a), 2)
    return (pairs - expected) / ((rows + cols) / 2 - expected)


def test_module_recovery_of_cliques():
    cliques = sp.block_diag([np.ones((4, 4))] * 3).tocsr()
    truth = np.repeat(["x", "y", "z"], 4)
    assert module_recovery(cliques, truth, random_state=0) == 1.0
    # known modules that disagree with the graph: the clusters are the cliques,
    # so the score is the ARI of the cliques against these labels
    wrong = truth.copy()
    wrong[[0, 5, 11]] = ["y", "z", "x"]
    expected = textbook_ari(np.repeat([0, 1, 2], 4), wrong)
    assert module_recovery(cliques, wrong, random_state=0) == pytest.approx(expected)
    assert 0 < expected < 1


def test_module_recovery_of_a_graph_with_64_bit_indices():
    """A learned ``feature_graph_`` has int64 sparse indices (scipy builds it from
    int64 coordinates); scikit-learn's spectral clustering refuses those (when the
    Laplacian has more than 7 diagonals, as these 5-cliques), so module_recovery
    must hand it 32-bit ones."""
    cliques = sp.csr_array(sp.block_diag([np.ones((5, 5))] * 3))
    wide = sp.csr_array(
        (
            cliques.data,
            cliques.indices.astype(np.int64),
            cliques.indptr.astype(np.int64),
        ),
        shape=cliques.shape,
    )
    assert wide.indices.dtype == np.int64
    assert module_recovery(wide, np.repeat([0, 1, 2], 5), random_state=0) == 1.0


def test_module_recovery_planted_partition_and_noise():
    rng = np.random.RandomState(16)
    modules = np.repeat(np.arange(4), 15)
    same = modules[:, None] == modules[None, :]
    A = rng.uniform(size=(60, 60)) < np.where(same, 0.6, 0.03)
    A = np.triu(A, 1)
    A = (A | A.T).astype(float)
    assert module_recovery(A, modules, random_state=0) == 1.0
    # an Erdos-Renyi graph carries no module information
    R = np.triu(rng.uniform(size=(60, 60)) < 0.2, 1)
    R = (R | R.T).astype(float)
    assert abs(module_recovery(R, modules, random_state=0)) < 0.15


def test_module_recovery_errors():
    A = make_graph("ring", 6)
    with pytest.raises(ValueError, match="one label per node"):
        module_recovery(A, [0, 1, 2])
    with pytest.raises(ValueError, match="n_modules"):
        module_recovery(A, [0] * 6, n_modules=6)
    for bad in (2.5, 2.0, True, "2"):
        with pytest.raises(ValueError, match="n_modules must be an integer"):
            module_recovery(A, [0, 0, 0, 1, 1, 1], n_modules=bad)


# ------------------------------------------------------ feature modules
def three_factor_data(seed=0, n_samples=300):
    """12 inputs in 3 modules of 4, each module one Gaussian factor plus noise."""
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(n_samples, 3))
    modules = np.repeat([0, 1, 2], 4)
    X = factors[:, modules] + 0.3 * rng.normal(size=(n_samples, 12))
    return X, factors, modules


def test_feature_module_labels_by_mean_absolute_correlation():
    """Against a loop over features and groups: each input goes to the group of
    neurons with the largest mean |Pearson r| (scipy's pearsonr)."""
    from scipy.stats import pearsonr

    X, factors, modules = three_factor_data()
    rng = np.random.RandomState(1)
    # 9 neurons: mixtures of the factors, one of them sign-flipped, one constant
    Z = factors @ rng.normal(size=(3, 9)) + 0.5 * rng.normal(size=(300, 9))
    Z[:, 4] *= -1
    Z[:, 7] = 2.0
    cliques = sp.block_diag([np.ones((3, 3))] * 3).tocsr()  # groups 0-2, 3-5, 6-8
    labels = feature_module_labels(X, Z, cliques, 3, random_state=0)
    groups = np.repeat([0, 1, 2], 3)  # spectral clustering finds the cliques
    expected = []
    for j in range(12):
        r = [0.0 if k == 7 else abs(pearsonr(X[:, j], Z[:, k])[0]) for k in range(9)]
        means = [np.mean([r[k] for k in range(9) if groups[k] == g]) for g in range(3)]
        expected.append(int(np.argmax(means)))
    # the same partition of the inputs, up to the names of the groups
    assert adjusted_rand_score(labels, expected) == 1.0
    assert len(set(expected)) > 1


def test_feature_module_recovery_of_aligned_neurons():
    """Neurons that follow one factor each, grouped by factor: exact recovery,
    whatever the order of the neurons; grouped at random: much less."""
    X, factors, modules = three_factor_data(seed=2)
    rng = np.random.RandomState(3)
    Z = np.repeat(factors, 3, axis=1) + 0.2 * rng.normal(size=(300, 9))
    cliques = sp.block_diag([np.ones((3, 3))] * 3).tocsr()
    assert feature_module_recovery(X, Z, cliques, modules, random_state=0) == 1.0
    # the same neurons and graph in another order
    order = rng.permutation(9)
    relabelled = cliques[order][:, order]
    score = feature_module_recovery(X, Z[:, order], relabelled, modules, random_state=0)
    assert score == 1.0
    # the same graph over neurons in another order: the groups mix the factors
    scores = [
        feature_module_recovery(
            X, Z[:, rng.permutation(9)], cliques, modules, random_state=0
        )
        for _ in range(20)
    ]
    assert np.mean(scores) < 0.7 and min(scores) < 0.3  # 0.52 and 0.14


def test_feature_module_recovery_merged_modules_is_the_ari_of_the_merge():
    """A graph with 2 groups for 3 modules: two modules share a label, and the
    score is the ARI of that merge (computed from the contingency table)."""
    X, factors, modules = three_factor_data(seed=4)
    rng = np.random.RandomState(5)
    # neurons 0-2 follow factors 0 and 1 together, neurons 3-5 factor 2
    Z = np.column_stack(
        [factors[:, 0] + factors[:, 1]] * 3 + [factors[:, 2]] * 3
    ) + 0.2 * rng.normal(size=(300, 6))
    pairs = sp.block_diag([np.ones((3, 3))] * 2).tocsr()
    merged = np.array([0] * 8 + [1] * 4)
    assert feature_module_recovery(
        X, Z, pairs, modules, n_modules=2, random_state=0
    ) == pytest.approx(textbook_ari(modules, merged))


def test_feature_module_recovery_errors():
    X, factors, modules = three_factor_data()
    Z = np.repeat(factors, 2, axis=1)
    A = sp.block_diag([np.ones((2, 2))] * 3).tocsr()
    with pytest.raises(ValueError, match="one label per input feature"):
        feature_module_recovery(X, Z, A, modules[:-1])
    with pytest.raises(ValueError, match="one row per sample"):
        feature_module_recovery(X[:-1], Z, A, modules)
    with pytest.raises(ValueError, match="6 nodes"):
        feature_module_recovery(X, Z[:, :5], A, modules)
    with pytest.raises(ValueError, match="n_modules"):
        feature_module_recovery(X, Z, A, modules, n_modules=6)
    with pytest.raises(ValueError, match="n_modules"):
        feature_module_labels(X, Z, A, None)


# ------------------------------------------------------------- modularity
def test_graph_modularity_against_networkx():
    """Weighted planted partition: the value is networkx's modularity of the
    spectral clusters, and those clusters are the planted ones."""
    nx = pytest.importorskip("networkx")
    rng = np.random.RandomState(7)
    modules = np.repeat(np.arange(3), 8)
    same = modules[:, None] == modules[None, :]
    W = rng.uniform(0.5, 2.0, (24, 24)) * (rng.uniform(size=(24, 24)) < 0.7) * same
    W += 0.2 * (rng.uniform(size=(24, 24)) < 0.1) * ~same
    W = np.triu(W, 1)
    W = W + W.T
    G = nx.from_numpy_array(W)
    communities = [set(np.flatnonzero(modules == m)) for m in range(3)]
    expected = nx.community.modularity(G, communities, weight="weight")
    assert graph_modularity(W, 3, random_state=0) == pytest.approx(expected)
    # searching 2-10 clusters finds the same best split
    assert graph_modularity(W, random_state=0) == pytest.approx(expected)


def test_graph_modularity_of_cliques_and_structureless_graphs():
    cliques = sp.block_diag([np.ones((6, 6)) - np.eye(6)] * 5)
    assert graph_modularity(cliques, random_state=0) == pytest.approx(1 - 1 / 5)
    # a complete graph has no split better than none: every split scores <= 0
    complete = np.ones((12, 12)) - np.eye(12)
    assert graph_modularity(complete, random_state=0) <= 1e-12
    assert graph_modularity(np.zeros((5, 5)), random_state=0) == 0.0
    # a kNN graph of random points is far less modular than planted modules
    from skgsr.graphs import coactivation_graph

    H = np.random.RandomState(8).normal(size=(500, 32))
    knn = coactivation_graph(H, 5)
    assert 0.2 < graph_modularity(knn, random_state=0) < 0.6


def test_graph_modularity_errors():
    A = make_graph("ring", 6)
    with pytest.raises(ValueError, match="n_modules"):
        graph_modularity(A, n_modules=6)
    with pytest.raises(ValueError, match="max_modules must be at least 2"):
        graph_modularity(A, max_modules=1)
    with pytest.raises(ValueError, match="at least 3 nodes"):
        graph_modularity(np.ones((2, 2)) - np.eye(2))


# --------------------------------------------------------------------------- #
# shuffled_modularity: the reference a learned graph's modularity is read against
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kind", ["dense", "csr_matrix", "csc_matrix", "csr_array", "float32"]
)
def test_shuffled_columns_keep_their_values_and_format(kind):
    from skgsr.metrics import _shuffle_columns

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6)) * (rng.rand(40, 6) < 0.4)
    X = {
        "dense": X,
        "csr_matrix": sp.csr_matrix(X),
        "csc_matrix": sp.csc_matrix(X),
        "csr_array": sp.csr_array(X),
        "float32": X.astype(np.float32),
    }[kind]
    shuffled = _shuffle_columns(X, np.random.RandomState(1))
    assert type(shuffled) is type(X) and shuffled.dtype == X.dtype
    before = X.toarray() if sp.issparse(X) else X
    after = shuffled.toarray() if sp.issparse(shuffled) else shuffled
    np.testing.assert_array_equal(np.sort(after, axis=0), np.sort(before, axis=0))
    assert not np.array_equal(after, before)
    if sp.issparse(shuffled):
        assert shuffled.has_sorted_indices and shuffled.nnz == X.nnz


def test_shuffled_columns_no_longer_vary_together():
    """Six copies of one feature: after the shuffle their correlations are
    those of independent columns."""
    from skgsr.metrics import _shuffle_columns

    x = np.random.RandomState(0).normal(size=(2000, 1))
    shuffled = _shuffle_columns(np.repeat(x, 6, axis=1), np.random.RandomState(0))
    r = np.corrcoef(shuffled.T)[np.triu_indices(6, 1)]
    assert np.abs(r).max() < 0.1  # 1 before; about 1/sqrt(2000) at random


def _learned_autoencoder(random_state=0):
    from skgsr import GSRAutoencoder

    return GSRAutoencoder(
        n_components=16,
        graph="learned",
        alpha=1.0,
        max_iter=40,
        tol=0,
        random_state=random_state,
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_shuffled_modularity_separates_modules_from_noise():
    """On data with modules the learned graph is far more modular than the
    recipe on the same data shuffled; on noise it is not."""
    from skgsr.datasets import make_factor_modules
    from skgsr.metrics import shuffled_modularity

    X, _, _ = make_factor_modules(300, 30, n_modules=3, random_state=0)
    ae = _learned_autoencoder().fit(X)
    reference = shuffled_modularity(ae, X, n_repeats=2, random_state=0)
    assert reference.shape == (2,) and np.all((reference > 0) & (reference < 1))
    assert ae.graph_modularity_ > reference.max() + 0.2  # measured: 0.69, 0.34
    noise = np.random.RandomState(0).normal(size=(300, 30))
    ae = _learned_autoencoder().fit(noise)
    reference = shuffled_modularity(ae, noise, n_repeats=2, random_state=0)
    assert ae.graph_modularity_ < reference.max() + 0.1  # measured: 0.30, 0.30


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_shuffled_modularity_leaves_the_estimator_alone_and_is_seeded():
    from skgsr import GSRClassifier
    from skgsr.metrics import shuffled_modularity

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 8)), rng.randint(0, 2, 120)
    unfitted = _learned_autoencoder()
    first = shuffled_modularity(unfitted, X, n_repeats=2, random_state=3)
    assert not hasattr(unfitted, "feature_graph_")
    np.testing.assert_array_equal(
        first, shuffled_modularity(unfitted, X, n_repeats=2, random_state=3)
    )
    fitted = _learned_autoencoder().fit(X)
    graph, modularity = fitted.feature_graph_, fitted.graph_modularity_
    shuffled_modularity(fitted, X, n_repeats=1, random_state=0)
    assert fitted.feature_graph_ is graph and fitted.graph_modularity_ == modularity
    # a supervised estimator gets its targets
    clf = GSRClassifier(
        n_components=9, graph="learned", graph_warmup=2, max_iter=5, random_state=0
    )
    assert np.isfinite(shuffled_modularity(clf, X, y, n_repeats=1)).all()


def test_shuffled_modularity_refuses_what_it_cannot_compare():
    from skgsr import GSRAutoencoder
    from skgsr.metrics import shuffled_modularity

    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="graph='learned', got graph='grid'"):
        shuffled_modularity(GSRAutoencoder(graph="grid"), X)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_repeats must be a positive integer"):
            shuffled_modularity(_learned_autoencoder(), X, n_repeats=bad)
