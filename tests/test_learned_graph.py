"""The learned feature graph: the co-activation builder and its training schedule."""

import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse import csgraph
from sklearn.base import clone
from sklearn.neighbors import kneighbors_graph

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr import graphs as graphs_module
from skgsr.graphs import _pairs_within, coactivation_graph, inactive_neurons, laplacian
from skgsr.metrics import graph_modularity

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

METRICS = ("correlation", "cosine", "euclidean")
KERNELS = ("binary", "gaussian")


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def module_data(n_samples=400, n_modules=4, features_per_module=8, seed=0):
    """Features in ``n_modules`` groups, each driven by one sparse latent factor.

    Factor ``k`` is on in a sample with probability 0.3 (uniform amplitude in
    [0.5, 1.5]) and drives its group's features with random positive loadings;
    Gaussian noise (sd 0.2) on every feature.
    """
    rng = np.random.RandomState(seed)
    factors = rng.binomial(1, 0.3, (n_samples, n_modules)) * rng.uniform(
        0.5, 1.5, (n_samples, n_modules)
    )
    module_of_feature = np.repeat(np.arange(n_modules), features_per_module)
    X = factors[:, module_of_feature] * rng.uniform(0.5, 1.5, module_of_feature.size)
    X += 0.2 * rng.normal(size=X.shape)
    return X.astype(np.float32), factors


def assert_valid_adjacency(A, n):
    assert sp.issparse(A) and A.shape == (n, n)
    dense = A.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert np.all(dense >= 0) and np.all(np.isfinite(dense))
    np.testing.assert_array_equal(np.diag(dense), 0)


# ------------------------------------------------------------------ builder
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_identical_profiles_are_neighbours(metric, kernel):
    """Three groups of four neurons with identical activation profiles (and, for
    correlation, profiles equal up to offset and positive scale): with
    n_neighbors=3 each neuron's neighbours are exactly the rest of its group."""
    rng = np.random.RandomState(0)
    profiles = rng.uniform(0.0, 1.0, size=(60, 3))
    H = np.repeat(profiles, 4, axis=1)
    if metric == "correlation":
        H = H * rng.uniform(1.0, 3.0, 12) + rng.uniform(-1.0, 1.0, 12)
    A = coactivation_graph(H, n_neighbors=3, metric=metric, kernel=kernel)
    assert_valid_adjacency(A, 12)
    group = np.arange(12) // 4
    expected = (group[:, None] == group[None, :]) & ~np.eye(12, dtype=bool)
    np.testing.assert_array_equal(A.toarray() > 0, expected)
    # coincident neurons (distance 0) get the full weight 1 with either kernel
    np.testing.assert_allclose(A.toarray()[expected], 1.0, atol=1e-9)


@pytest.mark.parametrize("metric", METRICS)
def test_binary_graph_is_symmetrized_sklearn_knn(metric):
    """Against scikit-learn's kneighbors_graph with scipy's distance of the same
    name (1 - r for correlation: same order as sqrt(2(1 - r))), max-symmetrized."""
    rng = np.random.RandomState(1)
    H = rng.normal(size=(80, 40)) @ rng.normal(size=(40, 40))
    A = coactivation_graph(H, n_neighbors=4, metric=metric, kernel="binary")
    assert_valid_adjacency(A, 40)
    K = kneighbors_graph(H.T, 4, metric=metric)
    np.testing.assert_array_equal(A.toarray(), K.maximum(K.T).toarray())
    assert np.all(np.asarray(A.sum(axis=1)).ravel() >= 4)


def test_wide_layers_are_searched_in_blocks():
    """Above 2048 neurons the distances are computed in row blocks; the graph is
    still scikit-learn's kNN graph."""
    H = np.random.RandomState(5).normal(size=(12, 2100))
    A = coactivation_graph(H, n_neighbors=3, metric="euclidean", kernel="binary")
    K = kneighbors_graph(H.T, 3)
    assert (A != K.maximum(K.T)).nnz == 0


def near_tie_activations(n_groups=12, n_samples=200, seed=0):
    """Groups of six neurons: a base profile, three close copies, and two
    further copies whose distances to the base differ by about 1e-6 of the
    distance, within float32's round-off but not float64's."""
    rng = np.random.RandomState(seed)
    columns = []
    for _ in range(n_groups):
        base = rng.normal(size=n_samples)
        close = [base + 0.01 * rng.normal(size=n_samples) for _ in range(3)]
        far = base + 0.05 * rng.normal(size=n_samples)
        nearly = far + 1e-6 * rng.normal(size=n_samples)
        columns += [base, *close, far, nearly]
    return np.column_stack(columns)


@pytest.mark.parametrize("selection", ["torch", "numpy"])
@pytest.mark.parametrize("metric", METRICS)
def test_single_precision_gives_the_float64_neighbours(metric, selection, monkeypatch):
    """dtype=np.float32: the neighbours of float64 even where the 4th and 5th
    nearest are closer than float32 can tell (each group's base neuron); the
    weights agree to float32's absolute round-off in the squared distances,
    a larger share of the close copies' small distances (d^2 ~ 1e-4). The
    nearest are selected by torch's top-k when torch is imported, else by
    numpy's partition."""
    if selection == "numpy":
        monkeypatch.setitem(sys.modules, "torch", None)
    H = near_tie_activations()
    for kernel in KERNELS:
        exact = coactivation_graph(H, 4, metric=metric, kernel=kernel)
        single = coactivation_graph(
            H, 4, metric=metric, kernel=kernel, dtype=np.float32
        )
        np.testing.assert_array_equal(single.indptr, exact.indptr)
        np.testing.assert_array_equal(single.indices, exact.indices)
        np.testing.assert_allclose(single.data, exact.data, rtol=0, atol=1e-3)


def test_single_precision_decides_near_ties_in_float64(monkeypatch):
    """Without the round-off bound (every row trusted) float32 picks the wrong
    one of a near-tied pair in some groups: the test above would notice."""
    H = near_tie_activations()
    exact = coactivation_graph(H, 4, kernel="binary")
    monkeypatch.setattr(
        graphs_module, "_single_precision_bound", lambda m, sq: np.zeros_like(sq)
    )
    trusting = coactivation_graph(H, 4, kernel="binary", dtype=np.float32)
    assert (trusting != exact).nnz > 0
    monkeypatch.undo()
    single = coactivation_graph(H, 4, kernel="binary", dtype=np.float32)
    assert (single != exact).nnz == 0


@pytest.mark.parametrize("selection", ["torch", "numpy"])
def test_single_precision_with_exact_ties(selection, monkeypatch):
    """Duplicated neurons tie exactly (distance 0) among the nearest and at the
    k-th: the float32 graph is float64's, whatever order the selection gives
    the ties."""
    if selection == "numpy":
        monkeypatch.setitem(sys.modules, "torch", None)
    rng = np.random.RandomState(4)
    H = np.repeat(rng.normal(size=(300, 10)) @ rng.normal(size=(10, 40)), 3, axis=1)
    for k in (2, 3, 5):
        exact = coactivation_graph(H, k)
        single = coactivation_graph(H, k, dtype=np.float32)
        np.testing.assert_array_equal(single.indptr, exact.indptr)
        np.testing.assert_array_equal(single.indices, exact.indices)
        np.testing.assert_allclose(single.data, exact.data, rtol=0, atol=1e-5)


@pytest.mark.parametrize("metric", METRICS)
def test_single_precision_bound_holds(metric):
    """Every float32 squared distance is within its row's bound of float64's."""
    rng = np.random.RandomState(3)
    H = rng.normal(size=(500, 20)) @ rng.normal(size=(20, 60)) + 3.0
    points = graphs_module._neuron_points(H, metric)
    sq = np.einsum("ij,ij->i", points, points)
    exact = graphs_module._squared_distances(points, sq, slice(None))
    single = graphs_module._squared_distances(
        points.astype(np.float32), sq.astype(np.float32), slice(None)
    )
    np.fill_diagonal(exact, 0.0)  # each point's distance to itself is inf
    np.fill_diagonal(single, 0.0)
    error = np.abs(single.astype(np.float64) - exact)
    bound = graphs_module._single_precision_bound(points.shape[1], sq)
    assert np.all(error <= bound[:, None])
    assert error.max() > 0  # float32 did round


def test_dtype_is_checked():
    with pytest.raises(ValueError, match="dtype must be"):
        coactivation_graph(np.eye(5), 2, dtype=np.int64)


def correlated_modules(n_samples=2000, seed=0):
    """Two modules of five inputs each, driven by factors that correlate at
    0.9, and two groups of eight units, each a noisy reading of one factor
    (noise sd 2): units of one group correlate at about 0.2, of two groups at
    about 0.18."""
    rng = np.random.RandomState(seed)
    a = rng.normal(size=n_samples)
    b = 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n_samples)
    factors = np.column_stack([a, b])
    X = factors[:, np.repeat([0, 1], 5)] + 0.3 * rng.normal(size=(n_samples, 10))
    H = factors[:, np.repeat([0, 1], 8)] + 2.0 * rng.normal(size=(n_samples, 16))
    return X, H, np.repeat([0, 1], 8)


def test_input_profiles_are_squared_correlations_with_the_inputs():
    from skgsr._training import input_profiles

    X, H, _ = correlated_modules(300)
    X[:, 3] = 1.0  # a constant input correlates with nothing
    H[:, 5] = 2.0  # a constant unit neither
    profiles = input_profiles(H, X)
    assert profiles.shape == (10, 16)
    with np.errstate(invalid="ignore"):  # the constant columns: NaN, then 0
        full = np.corrcoef(np.column_stack([X, H]).T)
    expected = full[:10, 10:] ** 2
    expected[3], expected[:, 5] = 0.0, 0.0
    # the product is float32: correlations to about 1e-7
    np.testing.assert_allclose(profiles, np.nan_to_num(expected), atol=1e-6)
    with pytest.raises(ValueError, match="rows"):
        input_profiles(H, X[:-1])


def test_input_profile_graph_keeps_apart_units_of_coactive_modules():
    """Units of the two modules co-vary nearly as much across as within
    (0.18 against 0.2): their co-activation graph joins the groups (16-32
    cross entries on seeds 0-4); their profiles do not (a unit of one module
    correlates more with its own module's inputs), so the input-profile graph
    keeps them apart (none on those seeds)."""
    from skgsr.nn import GraphRegularizer

    X, H, group = correlated_modules()
    cross = group[:, None] != group[None, :]

    def graph(metric, **kwargs):
        regularizer = GraphRegularizer(
            n_nodes=16, graph="learned", n_neighbors=4, graph_metric=metric
        )
        return regularizer.update_graph(H, **kwargs).toarray()

    assert graph("correlation")[cross].any()
    assert not graph("input_profile", inputs=X)[cross].any()


def test_input_profile_graph_needs_the_inputs():
    from skgsr.nn import GraphRegularizer

    X, H, _ = correlated_modules(200)
    regularizer = GraphRegularizer(
        n_nodes=16, graph="learned", graph_metric="input_profile"
    )
    with pytest.raises(ValueError, match="inputs=X"):
        regularizer.update_graph(H)
    with pytest.raises(ValueError, match="rows"):
        regularizer.update_graph(H, inputs=X[:100])
    assert regularizer.adjacency_ is None  # nothing built


@pytest.mark.parametrize("Estimator", [GSRAutoencoder, GSRRegressor])
def test_estimators_build_input_profile_graphs(Estimator, monkeypatch):
    """fit and partial_fit pass the encoded rows' inputs to every rebuild
    (here all of X, in order), and the graph in use is the kNN graph of the
    units' profiles over them."""
    from skgsr import _training

    X, _, _ = correlated_modules(300)
    X = X.astype(np.float32)
    y = X[:, 0] - X[:, 7]
    seen = []
    build = _training.LearnedGraph.build

    def spy(self, activations, inputs=None):
        graph = build(self, activations, inputs)
        seen.append((activations, inputs, graph[0]))
        return graph

    monkeypatch.setattr(_training.LearnedGraph, "build", spy)
    params = dict(
        graph="learned",
        graph_metric="input_profile",
        graph_warmup=1,
        n_neighbors=3,
        max_iter=3,
        tol=0.0,
        random_state=0,
    )
    if Estimator is GSRAutoencoder:
        est, args = Estimator(n_components=12, **params), (X,)
    else:
        est, args = Estimator(hidden_layer_sizes=(12,), **params), (X, y)
    est.fit(*args)
    assert len(seen) == 1 and est.graph_metric == "input_profile"
    activations, inputs, graph = seen[0]
    np.testing.assert_array_equal(inputs, X)
    expected = coactivation_graph(
        _training.input_profiles(activations, X), 3, dtype=np.float32
    )
    assert (graph != expected).nnz == 0
    assert (est.feature_graph_ != expected).nnz == 0
    # partial_fit encodes rows of its own call (a graph at the first call)
    est = clone(est).partial_fit(*(a[:100] for a in args))
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[-1][1], X[:100])


def _partial_correlations(H, shrinkage=0.1):
    """The reference: partial correlations from the inverse of the shrunk
    correlation matrix (np.corrcoef, np.linalg.inv)."""
    R = np.corrcoef(H.T)
    theta = np.linalg.inv((1 - shrinkage) * R + shrinkage * np.eye(len(R)))
    d = np.sqrt(np.diag(theta))
    return -theta / np.outer(d, d)


@pytest.mark.parametrize("kernel", (*KERNELS, "similarity"))
@pytest.mark.parametrize("metric", ["correlation", "partial_correlation"])
def test_correlation_graphs_follow_the_formula(metric, kernel):
    """d_ij = sqrt(2 (1 - s_ij)) with s the correlations (np.corrcoef) or the
    partial correlations of the correlation matrix shrunk by 0.1 towards the
    identity; the kNN, then the kernel: the Gaussian of d, or s itself where
    it is positive (other neighbours get no edge)."""
    rng = np.random.RandomState(7)
    H = rng.normal(size=(150, 30)) @ rng.normal(size=(30, 30))
    k = 4
    A = coactivation_graph(H, n_neighbors=k, metric=metric, kernel=kernel)
    assert_valid_adjacency(A, 30)
    s = np.corrcoef(H.T) if metric == "correlation" else _partial_correlations(H)
    d = np.sqrt(np.clip(2 * (1 - s), 0, None))
    np.fill_diagonal(d, np.inf)
    sigma = np.sort(d, axis=1)[:, k - 1]
    knn = d <= sigma[:, None]
    assert knn.sum() == 30 * k  # no ties
    if kernel == "similarity":
        weights = np.where(knn, np.clip(s, 0, None), 0)
        expected = np.maximum(weights, weights.T)
        assert 0 < (expected > 0).sum() <= (knn | knn.T).sum()
        np.testing.assert_allclose(A.toarray(), expected, rtol=1e-9, atol=1e-15)
        return
    edges = knn | knn.T
    dense = A.toarray()
    np.testing.assert_array_equal(dense > 0, edges)
    if kernel == "gaussian":
        expected = np.exp(-(d**2) / np.outer(sigma, sigma))
        np.testing.assert_allclose(dense[edges], expected[edges], rtol=1e-9)


@pytest.mark.parametrize("kernel", ["auto", "gaussian"])
def test_regularizer_builds_the_partial_correlation_graph(kernel):
    """graph_metric="partial_correlation" reaches the learned graph; the "auto"
    kernel weighs it by the partial correlations, an explicit kernel is kept;
    "similarity" with the Euclidean metric is refused when the regularizer is
    made, not at a rebuild (which would only warn)."""
    from skgsr.nn import GraphRegularizer

    H = module_data(n_samples=300, n_modules=3, features_per_module=6)[0]
    regularizer = GraphRegularizer(
        graph="learned",
        n_nodes=18,
        graph_metric="partial_correlation",
        graph_kernel=kernel,
    )
    built = regularizer.update_graph(H)
    expected = coactivation_graph(
        H,
        regularizer.n_neighbors_,
        metric="partial_correlation",
        kernel="similarity" if kernel == "auto" else kernel,
    )
    np.testing.assert_array_equal(built.toarray(), expected.toarray())
    with pytest.raises(ValueError, match="graph_kernel='similarity'.*euclidean"):
        GraphRegularizer(
            graph="learned", graph_metric="euclidean", graph_kernel="similarity"
        )


def test_similarity_kernel_needs_a_similarity():
    H = np.random.RandomState(0).normal(size=(20, 6))
    with pytest.raises(ValueError, match="kernel='similarity'.*not 'euclidean'"):
        coactivation_graph(H, 2, metric="euclidean", kernel="similarity")


def test_partial_correlation_separates_correlated_modules():
    """Three modules of six noisy copies of an activity, two of the activities
    correlated at 0.9: the correlation graph joins those two modules' neurons
    (a noisy neuron correlates with the other module's clean ones as much as
    with its own noisy ones); given the rest of its module, a neuron's partial
    correlation with the other module's is near 0, and no edge crosses."""
    rng = np.random.RandomState(0)
    a = rng.normal(size=2000)
    b = 0.9 * a + np.sqrt(1 - 0.9**2) * rng.normal(size=2000)
    activities = np.column_stack([a, b, rng.normal(size=2000)])
    module = np.arange(18) // 6
    H = activities[:, module] + rng.uniform(0.3, 1.2, 18) * rng.normal(size=(2000, 18))
    crossing = module[:, None] != module[None, :]
    plain = coactivation_graph(H, n_neighbors=4, metric="correlation").toarray()
    partial = coactivation_graph(
        H, n_neighbors=4, metric="partial_correlation"
    ).toarray()
    assert (plain[crossing] > 0).sum() >= 10
    assert (partial[crossing] > 0).sum() == 0
    # invariant to each neuron's offset and positive scale, like "correlation"
    moved = H * rng.uniform(0.5, 3.0, 18) + rng.uniform(-2.0, 2.0, 18)
    np.testing.assert_allclose(
        coactivation_graph(
            moved, n_neighbors=4, metric="partial_correlation"
        ).toarray(),
        partial,
        atol=1e-9,
    )


def test_partial_correlation_with_more_neurons_than_samples():
    """The shrinkage keeps the correlation matrix invertible when neurons
    outnumber the samples or duplicate each other; an inactive neuron stays
    isolated, as with the other metrics."""
    rng = np.random.RandomState(3)
    H = rng.normal(size=(20, 50))
    H[:, 1] = H[:, 0]
    H[:, 2] = 3.0
    A, inactive = coactivation_graph(
        H, n_neighbors=3, metric="partial_correlation", return_inactive=True
    )
    assert_valid_adjacency(A, 50)
    assert inactive.tolist() == [i == 2 for i in range(50)]
    assert A[[2], :].nnz == 0 and A[1, 0] > 0
    degrees = np.asarray((A > 0).sum(axis=1)).ravel()
    np.testing.assert_array_less(2, degrees[~inactive])


@pytest.mark.parametrize("metric", (*METRICS, "partial_correlation"))
@pytest.mark.parametrize("kernel", ["gaussian", "binary", "similarity"])
def test_graph_is_already_in_canonical_form(metric, kernel):
    """The kNN graph skips check_adjacency: it must be what check_adjacency
    would return (which then hands back the same object), with a dead unit,
    duplicated units and float32 activations."""
    if kernel == "similarity" and metric == "euclidean":
        pytest.skip("no similarity to weigh by (test_similarity_kernel_needs_...)")
    rng = np.random.RandomState(4)
    H = np.tanh(rng.normal(size=(60, 20)) @ rng.normal(size=(20, 20)))
    H[:, 3] = 0.0
    H[:, 5] = H[:, 4]
    H[:, 6] = 2 * H[:, 4] + 1
    H = H.astype(np.float32)
    A, _ = coactivation_graph(
        H, n_neighbors=3, metric=metric, kernel=kernel, return_inactive=True
    )
    assert isinstance(A, sp.csr_array) and A.dtype == np.float64
    assert A.has_canonical_format and A.has_sorted_indices
    assert graphs_module.check_adjacency(A) is A
    assert np.all(A.data > 0)


def test_constant_columns_are_isolated_and_reported():
    """A dead unit (all zeros) and a saturated one (constant 5) have no
    correlation (0/0): no NaN, no edges, and a warning or a mask names them."""
    rng = np.random.RandomState(3)
    H = rng.normal(size=(50, 8))
    H[:, 2] = 0.0
    H[:, 5] = 5.0
    np.testing.assert_array_equal(np.flatnonzero(inactive_neurons(H)), [2, 5])
    for metric in METRICS:
        with pytest.warns(UserWarning, match=r"2 of 8 neurons .*\[2, 5\]"):
            A = coactivation_graph(H, n_neighbors=3, metric=metric)
        assert_valid_adjacency(A, 8)
        n_edges = np.asarray((A > 0).sum(axis=1)).ravel()
        assert n_edges[2] == n_edges[5] == 0
        assert np.all(n_edges[[0, 1, 3, 4, 6, 7]] >= 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the caller asked for the mask: no warning
        A, inactive = coactivation_graph(H, 3, return_inactive=True)
    np.testing.assert_array_equal(np.flatnonzero(inactive), [2, 5])
    # two active neurons left: joined to each other, whatever n_neighbors says
    H2 = np.zeros((20, 6))
    H2[:, 1] = H2[:, 4] = np.arange(20.0)
    A2, inactive2 = coactivation_graph(H2, 5 - 1, return_inactive=True)
    assert inactive2.sum() == 4 and A2.nnz == 2 and A2[1, 4] == 1.0
    # nothing active (all zero, or a single sample): an empty graph, not an error
    for H3 in (np.zeros((30, 6)), rng.normal(size=(1, 6))):
        A3, inactive3 = coactivation_graph(H3, 2, return_inactive=True)
        assert A3.shape == (6, 6) and A3.nnz == 0 and inactive3.all()


def test_disconnected_graph_is_valid():
    """Two unrelated groups of neurons give a graph with two components; its
    normalized Laplacian and a penalty on it are finite."""
    from skgsr.penalty import GraphPenalty

    rng = np.random.RandomState(4)
    a, b = rng.normal(size=(2, 200))
    H = np.column_stack([a * s for s in (1, 2, 3, 4)] + [b * s for s in (1, 2, 3)])
    H += 0.01 * rng.normal(size=H.shape)
    A = coactivation_graph(H, n_neighbors=2)
    n_components, labels = csgraph.connected_components(A, directed=False)
    assert n_components == 2
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, 1, 1, 1])
    L = laplacian(A, "normalized").toarray()
    assert np.all(np.isfinite(L))
    # the normalized Laplacian has one zero eigenvalue per component
    assert np.sum(np.linalg.eigvalsh(L) < 1e-10) == 2
    for filt in ("laplacian", "rayleigh", "heat", "wavelet"):
        penalty = GraphPenalty(A, filter=filt, laplacian="normalized", center=True)
        assert np.isfinite(float(penalty(torch.randn(5, 7))))


def test_builder_errors():
    H = np.random.RandomState(0).normal(size=(10, 6))
    with pytest.raises(ValueError, match="n_neighbors=6 must be between 1 and"):
        coactivation_graph(H, n_neighbors=6)
    with pytest.raises(ValueError, match="Unknown metric 'manhattan'"):
        coactivation_graph(H, metric="manhattan")
    with pytest.raises(ValueError, match="Unknown kernel"):
        coactivation_graph(H, kernel="cosine")
    H[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        coactivation_graph(H)
    with pytest.raises(ValueError, match="2-D"):
        coactivation_graph(np.ones(5))


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_pairs_within_hops_against_shortest_paths(hops):
    """The near pairs of learned_objective="modules" (within 2 hops), and other
    hop counts, against scipy's all-pairs shortest paths, on a weighted graph of
    two components and an isolated node."""
    rng = np.random.RandomState(0)
    H = rng.normal(size=(60, 30))
    A = coactivation_graph(H, n_neighbors=2).toarray()
    A[:15, 15:] = A[15:, :15] = 0  # two components
    A[29, :] = A[:, 29] = 0  # and an isolated node
    distance = csgraph.shortest_path(A, unweighted=True)
    within = _pairs_within(sp.csr_array(A), hops)
    np.testing.assert_array_equal(within.toarray(), distance <= hops)
    assert within.has_sorted_indices


# ----------------------------------------------------------------- schedule
SMALL = {
    "n_components": 12,
    "hidden_layer_sizes": (16,),
    "graph": "learned",
    "n_neighbors": 3,
    "tol": 0.0,
    "n_iter_no_change": 1000,
    "random_state": 0,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def small_data():
    X, factors = module_data(n_samples=200)
    return X, factors


def dense_penalty(Z, L, filt, scales, center):
    """mean_b rho(g(L) z_b) from an eigendecomposition of the dense Laplacian."""
    Z = np.asarray(Z, dtype=np.float64)
    if center:
        Z = Z - Z.mean(axis=1, keepdims=True)
    lam, U = np.linalg.eigh(L)
    lam = np.clip(lam, 0, None)
    if filt == "laplacian":
        return np.mean(np.einsum("bi,ij,bj->b", Z, L, Z))
    if filt == "rayleigh":
        energy = np.einsum("bi,ij,bj->b", Z, L, Z)
        return np.mean(energy / (np.einsum("bi,bi->b", Z, Z) + 1e-12))
    if filt == "heat":
        G = U @ np.diag(1 - np.exp(-scales[0] * lam)) @ U.T
        return np.mean(np.sum((Z @ G) ** 2, axis=1))
    if filt == "wavelet":
        # the low-pass scaling function exp(-1 - s_max lam), then the Mexican hats
        H = U @ np.diag(np.exp(-1.0 - max(scales) * lam)) @ U.T
        total = np.abs(Z @ H).sum(axis=1)
        for s in scales:
            G = U @ np.diag(s * lam * np.exp(-s * lam)) @ U.T
            total = total + np.abs(Z @ G).sum(axis=1)
        return np.mean(total)
    G = U @ np.diag(filt(lam)) @ U.T  # a callable response
    return np.mean(np.sum((Z @ G) ** 2, axis=1))


def test_no_penalty_during_warmup(small_data):
    """During warm-up the penalty is neither trained on nor reported: a learned
    graph with alpha=10 trains exactly the weights of an unregularized network."""
    X, _ = small_data
    params = {**SMALL, "graph_warmup": 3, "max_iter": 3}
    with pytest.warns(UserWarning, match="within the learned graph's warm-up"):
        warm = GSRAutoencoder(alpha=10.0, **params).fit(X)
    plain = GSRAutoencoder(**{**params, "graph": "ring", "alpha": 0.0}).fit(X)
    np.testing.assert_array_equal(warm.transform(X), plain.transform(X))
    assert np.all(np.isnan(warm.penalty_curve_))
    np.testing.assert_allclose(warm.loss_curve_, plain.loss_curve_, rtol=1e-6)
    # a graph to look at exists all the same
    assert warm.feature_graph_.shape == (12, 12) and warm.feature_graph_.nnz > 0
    # past the warm-up the penalty is on, and changes what is learned
    longer = GSRAutoencoder(alpha=10.0, **{**params, "max_iter": 5}).fit(X)
    assert np.all(np.isnan(longer.penalty_curve_[:3]))
    assert np.all(np.isfinite(longer.penalty_curve_[3:]))
    plain5 = GSRAutoencoder(**{**params, "graph": "ring", "alpha": 0.0, "max_iter": 5})
    assert not np.allclose(longer.transform(X), plain5.fit(X).transform(X))


def test_rebuild_every_update_interval(small_data, monkeypatch):
    """Warm-up 2, interval 3, 12 epochs: graphs before epochs 2, 5, 8 and 11 (0-
    based), counted by the calls to the builder, graph_history_epochs_ and the
    history_ flags; the penalty in use is the last graph's."""
    X, _ = small_data
    calls = []
    builder = graphs_module.coactivation_graph

    def counting_builder(*args, **kwargs):
        calls.append(kwargs.get("n_neighbors"))
        return builder(*args, **kwargs)

    monkeypatch.setattr(graphs_module, "coactivation_graph", counting_builder)
    est = GSRAutoencoder(
        graph_warmup=2,
        graph_update_interval=3,
        max_iter=12,
        filter="laplacian",
        filter_center=False,
        learned_objective="smooth",
        **SMALL,
    ).fit(X)
    assert len(calls) == 4 and calls[0] == 3
    assert est.graph_history_epochs_ == [2, 5, 8, 11]
    flagged = [h["epoch"] - 1 for h in est.history_ if h["graph_updated"]]
    assert flagged == [2, 5, 8, 11]
    assert all(h["graph_duration"] > 0 for h in est.history_ if h["graph_updated"])
    assert len(est.graph_history_) == 4 and est.feature_graph_ is est.graph_history_[-1]
    # successive graphs differ: the structure is being learned, not frozen
    assert (est.graph_history_[0] != est.graph_history_[-1]).nnz > 0
    L = laplacian(est.feature_graph_, "normalized")
    np.testing.assert_allclose(est.laplacian_.toarray(), L.toarray())
    Z = est.transform(X[:50])
    got = float(est.penalty_(torch.from_numpy(Z)))
    expected = dense_penalty(Z, L.toarray(), "laplacian", None, center=False)
    assert got == pytest.approx(expected, rel=1e-5)


def test_warm_start_continues_the_schedule(small_data):
    """1 + 7 warm-started epochs (the first fit ending inside the warm-up) train
    the same network, with the same graphs, as 8 epochs in one fit."""
    X, _ = small_data
    params = {**SMALL, "graph_warmup": 2, "graph_update_interval": 3, "alpha": 0.1}
    straight = GSRAutoencoder(max_iter=8, **params).fit(X)
    split = GSRAutoencoder(max_iter=1, **params)
    with pytest.warns(UserWarning, match="warm-up"):
        split.fit(X)
    assert split.graph_history_epochs_ == [1]  # built at the end, for inspection
    split.set_params(warm_start=True, max_iter=7).fit(X)
    assert straight.graph_history_epochs_ == [2, 5]
    assert split.graph_history_epochs_ == [1, 2, 5]
    assert split.n_iter_ == 8
    np.testing.assert_allclose(split.transform(X), straight.transform(X), atol=1e-6)
    assert (split.feature_graph_ != straight.feature_graph_).nnz == 0
    np.testing.assert_array_equal(
        np.isnan(split.penalty_curve_), np.isnan(straight.penalty_curve_)
    )


def test_partial_fit_counts_calls_as_epochs(small_data):
    """Each partial_fit call is one epoch of the schedule; the first call leaves
    a graph to look at (without switching the penalty on)."""
    X, _ = small_data
    est = GSRAutoencoder(graph_warmup=2, graph_update_interval=2, **SMALL)
    for _ in range(6):
        est.partial_fit(X)
    assert est.n_iter_ == 6
    assert est.graph_history_epochs_ == [1, 2, 4]
    assert np.all(np.isnan(est.penalty_curve_[:2]))
    assert np.all(np.isfinite(est.penalty_curve_[2:]))


def test_early_stopping_counts_from_the_end_of_warmup(small_data):
    """No stop inside the warm-up nor while the penalty settles, and the
    restored best weights come with the graph they were trained with (a graph
    rebuilt every epoch here)."""
    X, _ = small_data
    est = GSRAutoencoder(
        **{**SMALL, "tol": 1e9, "n_iter_no_change": 2},
        early_stopping=True,
        graph_warmup=4,
        graph_update_interval=1,
        max_iter=50,
        filter="laplacian",
        alpha=1.0,
        learned_objective="smooth",
    ).fit(X)
    # the penalty switches on at epoch 4 (0-based) and settles for
    # n_iter_no_change = 2 epochs; counting starts at epoch 6: its score is the
    # first best, two more without improvement stop the fit: 4 + 2 + 1 + 2
    assert est.n_iter_ == 9
    scores = est.validation_scores_
    best_epoch = 6 + int(np.argmax(scores[6:]))
    assert est.best_validation_score_ == max(scores[6:])
    graph_index = est.graph_history_epochs_.index(best_epoch)
    assert est.feature_graph_ is est.graph_history_[graph_index]
    Z = est.transform(X[:40])
    L = laplacian(est.feature_graph_, "normalized").toarray()
    expected = dense_penalty(Z, L, "laplacian", None, center=False)
    assert float(est.penalty_(torch.from_numpy(Z))) == pytest.approx(expected, rel=1e-5)


def _squared_response(lam):
    return lam**2


@pytest.mark.parametrize(
    "filt", ["laplacian", "rayleigh", "heat", "wavelet", _squared_response]
)
@pytest.mark.parametrize("center", [False, True])
def test_every_filter_uses_the_learned_graph(small_data, filt, center):
    """The penalty after fit is the chosen filter on the last learned graph's
    normalized Laplacian (checked against a dense eigendecomposition)."""
    X, _ = small_data
    est = GSRAutoencoder(
        filter=filt,
        filter_center=center,
        graph_warmup=1,
        graph_update_interval=2,
        max_iter=4,
        alpha=0.01,
        learned_objective="smooth",
        **SMALL,
    ).fit(X)
    assert np.all(np.isfinite(est.penalty_curve_[1:]))
    assert est.graph_history_epochs_ == [1, 3]
    Z = est.transform(X[:30])
    L = laplacian(est.feature_graph_, "normalized").toarray()
    scales = est.penalty_.spectral_filter.scales
    expected = dense_penalty(Z, L, filt, scales, center)
    got = float(est.penalty_(torch.from_numpy(Z).double()))
    # the exact filters' eigendecomposition of a learned graph runs in float32
    assert got == pytest.approx(expected, rel=1e-5)
    if est.penalty_.method_ == "exact":
        assert est.penalty_.decomposition_dtype == torch.float32


@pytest.mark.parametrize("Est", [GSRClassifier, GSRRegressor])
def test_supervised_estimators_learn_a_graph(small_data, Est):
    X, factors = small_data
    y = factors.argmax(axis=1) if Est is GSRClassifier else factors.sum(axis=1)
    est = Est(graph_warmup=2, graph_update_interval=2, max_iter=5, alpha=0.1, **SMALL)
    with warnings.catch_warnings():
        # a ReLU structured layer may have dead units at this size
        warnings.filterwarnings("ignore", message=".*structured neurons.*")
        est.fit(X, y)
    assert est.graph_history_epochs_ == [2, 4]
    assert_valid_adjacency(est.feature_graph_, 12)
    assert np.all(np.isfinite(est.penalty_curve_[2:]))
    inactive = est.inactive_neurons_
    degree = np.asarray(est.feature_graph_.sum(axis=1)).ravel()
    assert np.all(degree[inactive] == 0)


def test_inactive_neurons_are_reported_by_the_estimator(small_data):
    """Neurons made constant (zero input weights) are isolated, listed in
    inactive_neurons_, and named in a warning."""
    X, _ = small_data
    est = GSRAutoencoder(graph_warmup=1, max_iter=1, **SMALL)
    with pytest.warns(UserWarning, match="warm-up"):
        est.fit(X)
    with torch.no_grad():
        est.module_.structured[0].weight[[0, 4, 7]] = 0.0
    est.set_params(warm_start=True, max_iter=1)
    with pytest.warns(UserWarning, match=r"3 of 12 structured neurons.*\[0, 4, 7\]"):
        est.fit(X)
    np.testing.assert_array_equal(est.inactive_neurons_, [0, 4, 7])
    degree = np.asarray(est.feature_graph_.sum(axis=1)).ravel()
    assert np.all(degree[[0, 4, 7]] == 0) and np.all(np.delete(degree, [0, 4, 7]) > 0)


def test_learned_graph_parameter_errors(small_data):
    X, _ = small_data
    with pytest.raises(ValueError, match="n_neighbors=12 nearest other neurons"):
        GSRAutoencoder(**{**SMALL, "n_neighbors": 12}).fit(X)
    with pytest.raises(ValueError, match="graph_metric"):
        GSRAutoencoder(**SMALL, graph_metric="manhattan").fit(X)


# ------------------------------------------------------ known feature modules
def preferred_modules(Z, factors):
    """The factor each neuron (column of Z) correlates with most, by |r|."""
    Zc = Z - Z.mean(axis=0)
    Fc = factors - factors.mean(axis=0)
    norms = np.linalg.norm(Zc, axis=0)
    norms[norms == 0] = np.inf
    r = (Zc / norms).T @ (Fc / np.linalg.norm(Fc, axis=0))
    return np.abs(r).argmax(axis=1)


def same_module_share(adjacency, modules):
    """Share of the edge weight between neurons of the same preferred module."""
    A = adjacency.toarray()
    return float((A * (modules[:, None] == modules[None, :])).sum() / A.sum())


def test_learned_graph_joins_neurons_of_the_same_module():
    """4 modules of 8 features (400 samples), 32 structured neurons, the papers'
    recipe (``learned_objective="smooth"``: correlation kNN, k=5, Gaussian
    kernel, normalized Laplacian, warm-up 10, rebuild every 5) with the
    Laplacian filter (the one the learned-graph study chose; the estimators'
    default, the centred Rayleigh quotient, gave 0.58 against 0.45 at alpha=0 on
    seed 0), alpha=0.1, 40
    epochs.

    Share of edge weight between neurons of the same preferred module, measured
    for data/network seeds 0-4 (this test runs seed 0; Glorot initialization):

    ========  ==========  =====================  =========================
    seed      learned     chance (sum p_k^2)     kNN graph of alpha=0 net
    ========  ==========  =====================  =========================
    0         0.94        0.38                   0.45
    1         0.88        0.27                   0.43
    2         0.90        0.35                   0.58
    3         0.81        0.30                   0.45
    4         0.82        0.41                   0.48
    ========  ==========  =====================  =========================

    Modules preferred by at least one neuron: 3-4 of 4 with the learned graph
    (a graph can look "pure" by letting one module take over; the chance level
    above is computed from the regularized network's own preferences so that
    this does not count as success). MSE 0.025-0.030 vs 0.018-0.026 at
    alpha=0.
    """
    X, factors = module_data(n_samples=400, n_modules=4, features_per_module=8)
    common = {
        "n_components": 32,
        "hidden_layer_sizes": (32,),
        "graph": "learned",
        "learned_objective": "smooth",
        "n_neighbors": 5,
        "filter": "laplacian",
        "max_iter": 40,
        "batch_size": 50,
        "learning_rate_init": 3e-3,
        "random_state": 0,
        "device": "cpu",
    }
    gsr = GSRAutoencoder(alpha=0.1, **common).fit(X)
    plain = GSRAutoencoder(alpha=0.0, **common).fit(X)
    modules = preferred_modules(gsr.transform(X), factors)
    share = same_module_share(gsr.feature_graph_, modules)
    p = np.bincount(modules, minlength=4) / modules.size
    chance = float((p**2).sum())
    plain_modules = preferred_modules(plain.transform(X), factors)
    plain_share = same_module_share(
        coactivation_graph(plain.transform(X), 5), plain_modules
    )
    assert share > 2.0 * chance, (share, chance)
    assert share > plain_share + 0.15, (share, plain_share)
    assert np.unique(modules).size >= 3  # not collapsed onto one or two modules
    # rebuilt on schedule all along, whether or not the graph is connected
    assert gsr.n_iter_ == 40 and gsr.graph_history_epochs_ == [10, 15, 20, 25, 30, 35]
    # some rebuilds give a disconnected graph (1, 1, 1, 2, 2, 4 components when
    # measured): training goes on with a finite penalty
    n_parts = [
        csgraph.connected_components(A, directed=False)[0] for A in gsr.graph_history_
    ]
    assert max(n_parts) > 1, n_parts
    assert np.all(np.isfinite(gsr.penalty_curve_[10:]))


def test_graph_history_keeps_the_last_fifty_rebuilds():
    X = np.random.RandomState(0).normal(size=(60, 6)).astype(np.float32)
    est = GSRAutoencoder(
        n_components=12,
        hidden_layer_sizes=(8,),
        graph="learned",
        graph_warmup=0,
        graph_update_interval=1,
        graph_n_samples=60,
        max_iter=55,
        tol=0.0,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    assert len(est.graph_history_) == 50
    assert est.graph_history_epochs_ == list(range(5, 55))
    # the last one kept is the graph in use
    assert (est.graph_history_[-1] != est.feature_graph_).nnz == 0


# ------------------------------------------------- learned_objective="modules"
def test_graph_modularity_is_high_on_modules_and_at_noise_level_on_noise():
    """graph_modularity_ of the default learned graph (alpha=1, 32 neurons, 50
    epochs): on 4 modules of 8 features it is well above its value on Gaussian
    noise of the same shape, and on noise it stays at the level of the
    unregularized network's graph (alpha=0).

    Measured for seeds 0-5 (this test runs seed 0): modules 0.54-0.70 (alpha=0:
    0.45-0.50), noise 0.30-0.38 (alpha=0: 0.34-0.40).
    """
    from sklearn.preprocessing import StandardScaler

    X, _ = module_data(n_samples=400, n_modules=4, features_per_module=8)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    noise = np.random.RandomState(0).normal(size=X.shape).astype(np.float32)
    params = {
        "n_components": 32,
        "hidden_layer_sizes": (32,),
        "graph": "learned",
        "max_iter": 50,
        "tol": 0.0,
        "random_state": 0,
        "device": "cpu",
    }
    fitted = {}
    for name, data in (("modules", X), ("noise", noise)):
        for alpha in (1.0, 0.0):
            est = GSRAutoencoder(alpha=alpha, **params).fit(data)
            fitted[name, alpha] = est
            # the penalty is measured at alpha=0 too, past the warm-up
            assert np.all(np.isfinite(est.penalty_curve_[10:]))
    score = {key: est.graph_modularity_ for key, est in fitted.items()}
    assert score["modules", 1.0] > score["noise", 1.0] + 0.2, score
    assert score["modules", 1.0] > score["modules", 0.0] + 0.1, score
    assert score["noise", 1.0] < score["noise", 0.0] + 0.1, score
    est = fitted["modules", 1.0]
    assert est.graph_modularity_ == graph_modularity(est.feature_graph_, random_state=0)
    # n_neighbors="auto": a sixth of the 32 neurons, 5
    degrees = np.asarray((est.feature_graph_ > 0).sum(axis=1)).ravel()
    assert degrees.min() == 5


def test_modules_objective_with_sample_weights_and_partial_fit(small_data, monkeypatch):
    """Weighted fits and partial_fit train the modules objective; a
    partial_fit call that does not rebuild keeps the modularity already scored."""
    import skgsr.metrics

    scored = []

    def counting_modularity(graph, **kwargs):
        scored.append(graph)
        return graph_modularity(graph, **kwargs)

    monkeypatch.setattr(skgsr.metrics, "graph_modularity", counting_modularity)
    X, factors = small_data
    weights = np.random.RandomState(0).uniform(0.2, 2.0, len(X))
    est = GSRAutoencoder(graph_warmup=1, max_iter=4, alpha=1.0, **SMALL)
    est.fit(X, sample_weight=weights)
    assert np.all(np.isfinite(est.penalty_curve_[1:]))
    est = GSRAutoencoder(graph_warmup=1, graph_update_interval=3, alpha=1.0, **SMALL)
    est.partial_fit(X)
    est.partial_fit(X)  # a rebuild (epoch 1)
    first = est.graph_modularity_
    assert 0 < first < 1
    n_scored = len(scored)
    est.partial_fit(X)  # no rebuild: not scored again
    assert est.graph_modularity_ == first and len(scored) == n_scored
    y = factors.argmax(axis=1)
    clf = GSRClassifier(graph_warmup=1, max_iter=3, alpha=1.0, **SMALL)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*structured neurons.*")
        clf.fit(X, y, sample_weight=weights)
    assert np.isfinite(clf.graph_modularity_)


def _failing_builder(fails, error):
    """coactivation_graph that raises ``error`` on the calls (counted from 1)
    for which ``fails(call)`` is true."""
    original = graphs_module.coactivation_graph
    calls = []

    def builder(*args, **kwargs):
        calls.append(1)
        if fails(len(calls)):
            raise error
        return original(*args, **kwargs)

    return builder, calls


@pytest.mark.parametrize("objective", ["modules", "smooth"])
def test_a_failing_rebuild_keeps_the_previous_graph_and_warns_once(
    objective, monkeypatch
):
    """Rebuilds 2.. fail: the fit ends, on the first graph, with one warning
    naming the cause (not one per rebuild)."""
    X, _ = module_data(n_samples=120, n_modules=2, features_per_module=4)
    builder, calls = _failing_builder(
        lambda call: call >= 2, np.linalg.LinAlgError("no convergence")
    )
    monkeypatch.setattr(graphs_module, "coactivation_graph", builder)
    ae = GSRAutoencoder(
        n_components=8,
        graph="learned",
        learned_objective=objective,
        graph_warmup=1,
        graph_update_interval=1,
        max_iter=6,
        tol=0.0,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae.fit(X)
    failed = [w for w in caught if "learned graph failed" in str(w.message)]
    assert len(calls) >= 3  # several rebuilds were attempted
    assert len(failed) == 1
    assert "LinAlgError: no convergence" in str(failed[0].message)
    assert "previous graph" in str(failed[0].message)
    assert failed[0].filename == __file__  # at the caller's line
    assert ae.n_iter_ == 6
    # the graph in use is the one that was built, and the history holds only it
    assert len(ae.graph_history_) == 1
    assert (ae.feature_graph_ != ae.graph_history_[0]).nnz == 0
    assert np.isfinite(ae.loss_curve_).all()


def test_a_failing_first_build_trains_without_penalty(monkeypatch):
    """No graph was ever built: training goes on without the penalty and the
    regularizer says so; a later successful rebuild starts the penalty."""
    X, _ = module_data(n_samples=120, n_modules=2, features_per_module=4)
    builder, _ = _failing_builder(
        lambda call: call == 1, ValueError("degenerate activations")
    )
    monkeypatch.setattr(graphs_module, "coactivation_graph", builder)
    ae = GSRAutoencoder(
        n_components=8,
        graph="learned",
        graph_warmup=1,
        graph_update_interval=2,
        max_iter=6,
        tol=0.0,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="without the penalty until a rebuild"):
        ae.fit(X)
    # rebuilt on schedule after the failure (epochs 3 and 5)
    assert ae.graph_history_epochs_ == [3, 5]
    assert ae.feature_graph_ is not None


def test_a_rebuild_failing_after_the_penalty_took_the_graph_restores_it(monkeypatch):
    """The far pairs of the new graph fail after the penalty took it: the
    penalty goes back to the graph in use, which stays the fitted one."""
    import skgsr.nn

    X, _ = module_data(n_samples=120, n_modules=2, features_per_module=4)
    original = skgsr.nn._ModulesObjective
    calls = []

    def objective(adjacency, *args):
        calls.append(1)
        if len(calls) >= 2:
            raise MemoryError("far pairs")
        return original(adjacency, *args)

    monkeypatch.setattr(skgsr.nn, "_ModulesObjective", objective)
    ae = GSRAutoencoder(
        n_components=8,
        graph="learned",
        graph_warmup=1,
        graph_update_interval=1,
        max_iter=5,
        tol=0.0,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="MemoryError: far pairs"):
        ae.fit(X)
    assert len(calls) >= 3
    assert len(ae.graph_history_) == 1
    assert ae.penalty_.adjacency is ae.feature_graph_
    assert (ae.feature_graph_ != ae.graph_history_[0]).nnz == 0


@pytest.mark.parametrize("graph", ["learned", "grid"])
def test_convergence_is_judged_on_the_task_loss_with_a_learned_graph(
    graph, small_data, monkeypatch
):
    """A learned graph's penalty changes at each rebuild, so its objective is not
    comparable across rebuilds: the stopping rule reads the task loss."""
    from skgsr._training import EarlyStopping

    X, _ = small_data
    judged = []
    update = EarlyStopping.update

    def recording(self, loss, score, weights=None, graph=None):
        judged.append(loss)
        return update(self, loss, score, weights, graph)

    monkeypatch.setattr(EarlyStopping, "update", recording)
    est = GSRAutoencoder(
        n_components=16,
        graph=graph,
        graph_shape=(4, 4) if graph == "grid" else None,
        alpha=1.0,
        graph_warmup=2,
        graph_update_interval=2,
        max_iter=12,
        random_state=0,
    ).fit(X)
    key = "task_loss" if graph == "learned" else "loss"
    expected = [r[key] for r in est.history_][-len(judged) :]
    assert judged == expected
    # the two differ once the penalty is on, so the test tells them apart
    assert all(r["loss"] != r["task_loss"] for r in est.history_[-len(judged) :])


# --------------------------------------------------------------------------- #
# Stopping once the penalty switches on
# --------------------------------------------------------------------------- #
def _stop_epoch(stopping, values, on_validation=False):
    """Feed ``values`` (losses, or scores) epoch by epoch; the 1-based epoch at
    which the rule stops, or None."""
    for epoch, value in enumerate(values, start=1):
        loss, score = (None, value) if on_validation else (value, None)
        if stopping.update(loss, score, weights=epoch):
            return epoch
    return None


@pytest.mark.parametrize("on_validation", [False, True])
def test_stopping_settles_after_the_penalty_switches_on(on_validation):
    """The first penalized epochs are the network leaving the warm-up's optimum:
    its loss is low (score high) at first and rises as it adapts. They are
    neither judged nor kept as the best for ``settle`` epochs."""
    from skgsr._training import EarlyStopping

    # the switch-on epoch, a rise while the network adapts, then a descent
    losses = [0.10, 0.30, 0.35, 0.28, 0.20, 0.15, 0.12, 0.11, 0.105, 0.104, 0.104]
    values = [1 - v for v in losses] if on_validation else losses

    def stopping(settle):
        rule = EarlyStopping(tol=1e-3, n_iter_no_change=3, on_validation=on_validation)
        rule.reset(settle=settle)
        return rule

    plain = stopping(0)
    # judged against the switch-on epoch, the descent never counts
    assert _stop_epoch(plain, values, on_validation) == 4
    settled = stopping(3)
    # epochs 1-3 settle; the descent from epoch 4 counts; 10, 11 stall
    assert _stop_epoch(settled, values, on_validation) is None
    assert settled.stall == 2
    if on_validation:
        # the weights kept are those of the best epoch of the descent, not of
        # the barely penalized switch-on epoch
        assert settled.best_weights == 10
        assert plain.best_weights == 1
    settled = stopping(3)
    assert _stop_epoch(settled, values + [0.104], on_validation) == 12


def test_a_learned_graph_fit_does_not_stop_while_adapting_to_its_penalty():
    """The papers' smoothing objective switched on after the warm-up raises the
    reconstruction error for several epochs before it falls again. The fit used
    to stop n_iter_no_change epochs after the switch-on, judged against its
    barely penalized first epoch (and early stopping restored that epoch's
    weights), at 3-4x the error it reaches when the penalty settles first."""
    from sklearn.preprocessing import StandardScaler

    from skgsr.datasets import make_feature_modules

    X, _, _ = make_feature_modules(600, 40, n_modules=4, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    params = dict(
        n_components=32,
        graph="learned",
        learned_objective="smooth",
        graph_metric="correlation",  # the papers' co-activation graph
        filter="laplacian",
        n_neighbors=5,
        alpha=1.0,
        n_iter_no_change=5,
        max_iter=300,
        random_state=0,
        device="cpu",
    )
    est = GSRAutoencoder(**params).fit(X)
    task = [record["task_loss"] for record in est.history_]
    switch_on = est.graph_warmup  # 0-based index of the first penalized epoch
    # the setting this test is about: the error rises after the switch-on ...
    peak = max(task[switch_on : switch_on + est.n_iter_no_change])
    assert peak > task[switch_on] * 1.2
    # ... and the fit goes on until it is far below both
    assert est.n_iter_ > switch_on + 3 * est.n_iter_no_change
    assert task[-1] < 0.5 * task[switch_on]
    # early stopping keeps an epoch after the settling, not the switch-on one
    stopped = GSRAutoencoder(**params, early_stopping=True).fit(X)
    best_epoch = int(np.argmax(stopped.validation_scores_))
    assert best_epoch >= switch_on + stopped.n_iter_no_change
    assert stopped.best_validation_score_ == stopped.validation_scores_[best_epoch]


def test_a_warm_start_after_the_warmup_does_not_settle_again(small_data):
    """Settling follows warm-up epochs only: a warm-started fit whose penalty
    was already on is judged from its first epoch; one that ends a warm-up
    begun by the previous fit settles."""
    X, _ = small_data
    params = {**SMALL, "tol": 1e9, "n_iter_no_change": 2}
    est = GSRAutoencoder(**params, graph_warmup=3, max_iter=5, warm_start=True)
    est.fit(X)  # epochs 1-3 warm up, 4 switches the penalty on and settles
    assert est.n_iter_ == 5
    est.set_params(max_iter=50)
    est.fit(X)
    # tol=1e9: no epoch improves; the first sets the best, two more stop it
    assert est.n_iter_ == 5 + 3
    late = GSRAutoencoder(**params, graph_warmup=3, max_iter=2, warm_start=True)
    late.fit(X)  # still warming up
    late.set_params(max_iter=50)
    late.fit(X)
    # epoch 3 warms up; 4 switches on and settles with 5; 6 is the first
    # judged, 7 and 8 stall
    assert late.n_iter_ == 8


# ------------------------------------------------- the coverage's input weights
def test_input_communalities_tell_shared_inputs_from_noise():
    """Inputs driven by common factors share most of their variance, inputs of
    independent noise next to none; pure noise (nothing above the
    Marchenko-Pastur edge), a single row and a constant input share nothing."""
    from skgsr.nn import input_communalities

    X, _ = module_data(n_samples=400, n_modules=3, features_per_module=5)
    rng = np.random.RandomState(1)
    noise = rng.normal(size=(400, 6))
    c = input_communalities(np.hstack([X, noise]))
    assert c.shape == (21,) and np.all((c >= 0) & (c <= 1))
    assert c[:15].min() > 0.5 and c[15:].max() < 0.1
    np.testing.assert_array_equal(input_communalities(noise), 0.0)
    np.testing.assert_array_equal(input_communalities(X[:1]), 0.0)
    constant = input_communalities(np.hstack([X, np.ones((400, 1))]))
    assert constant[-1] == pytest.approx(0.0, abs=1e-12)


def test_input_communalities_wide_inputs_match_the_correlation_matrix():
    """Fewer rows than inputs (the rows' Gram matrix) gives what the
    eigendecomposition of the inputs' correlation matrix gives, and so does
    the other way round (more rows than inputs)."""
    from skgsr.nn import input_communalities

    rng = np.random.RandomState(0)
    factors = rng.normal(size=(30, 2))
    X = factors @ rng.normal(size=(2, 50)) + 0.3 * rng.normal(size=(30, 50))
    R = np.corrcoef(X, rowvar=False)
    values, vectors = np.linalg.eigh(R)
    scale = (30**-0.5 + 50**-0.5) ** (1 / 3) / (np.sqrt(30) + np.sqrt(50))
    keep = values > (1 + np.sqrt(50 / 30)) ** 2 * (1 + 3 * scale)
    assert keep.sum() == 2
    expected = (vectors[:, keep] ** 2 * values[keep]).sum(axis=1)
    np.testing.assert_allclose(input_communalities(X), expected)
    np.testing.assert_allclose(input_communalities(np.vstack([X, X])), expected)


def test_coverage_weights_saturate_and_floor():
    """Shares grow with the communality up to half the largest, are equal above
    it and at least 0.05 of the saturated share; equal when nothing is shared."""
    from skgsr.nn import _coverage_weights

    w = _coverage_weights(np.array([1.0, 0.6, 0.5, 0.25, 0.01, 0.0]))
    np.testing.assert_allclose(w.sum(), 1.0)
    np.testing.assert_allclose(w / w[0], [1.0, 1.0, 1.0, 0.5, 0.05, 0.05])
    np.testing.assert_allclose(_coverage_weights(np.zeros(4)), 0.25)


def test_coverage_weights_divide_by_module_size():
    """With the inputs' module sizes, each saturated input's share is divided
    by its module's size, an input below the saturation by at least the
    median size of the saturated ones, and the floor is 0.05 of the smallest
    saturated share; equal sizes (or none) give the shares of the
    communalities alone."""
    from skgsr.nn import _coverage_weights

    communalities = np.array([1.0, 1.0, 0.8, 0.8, 0.8, 0.8, 0.25, 0.0])
    sizes = np.array([2.0, 2.0, 4.0, 4.0, 4.0, 4.0, 1.0, 1.0])
    w = _coverage_weights(communalities, sizes)
    np.testing.assert_allclose(w.sum(), 1.0)
    # the median saturated size is 4; the floor 0.05 * 1/4
    expected = np.array([1 / 2, 1 / 2, 1 / 4, 1 / 4, 1 / 4, 1 / 4, 0.5 / 4, 0.0125])
    np.testing.assert_allclose(w, expected / expected.sum())
    # each module (the first two inputs, the next four) draws the same share
    assert w[:2].sum() == pytest.approx(w[2:6].sum())
    # sizes within a factor 1.5 of each other count as equal
    for equal in (None, np.full(8, 3.0), np.array([2.0, 2.9] * 3 + [9.0, 1.0])):
        np.testing.assert_allclose(
            _coverage_weights(communalities, equal), _coverage_weights(communalities)
        )
    np.testing.assert_allclose(_coverage_weights(np.zeros(4), np.arange(4.0)), 0.25)


def test_input_module_sizes_count_the_inputs_of_each_module():
    """Modules of 3, 6 and 12 inputs driven by independent factors: each
    input's size is about its module's, every module draws about the same
    share of the coverage, and inputs of noise draw little."""
    from skgsr.nn import _coverage_weights, _input_module_sizes

    rng = np.random.RandomState(0)
    modules = np.repeat([0, 1, 2], [3, 6, 12])
    factors = rng.normal(size=(600, 3))
    X = factors[:, modules] * rng.uniform(0.5, 1.5, modules.size)
    X += 0.3 * rng.normal(size=X.shape)
    X = np.hstack([X, rng.normal(size=(600, 5))])
    communalities, sizes = _input_module_sizes(X)
    for module, size in enumerate([3, 6, 12]):
        np.testing.assert_allclose(sizes[:21][modules == module], size, rtol=0.1)
    assert communalities[21:].max() < 0.1
    w = _coverage_weights(communalities, sizes)
    totals = np.array([w[:21][modules == m].sum() for m in range(3)])
    np.testing.assert_allclose(totals, totals.mean(), rtol=0.1)
    assert w[21:].max() < 0.1 * w[:21].min()
    # nothing shared: sizes 1, and the shares are equal
    noise = rng.normal(size=(600, 5))
    communalities, sizes = _input_module_sizes(noise)
    np.testing.assert_array_equal(sizes, 1.0)
    np.testing.assert_allclose(_coverage_weights(communalities, sizes), 0.2)


def test_equal_input_weights_are_the_plain_coverage():
    import skgsr.nn

    rng = np.random.RandomState(0)
    A = coactivation_graph(rng.normal(size=(40, 10)), n_neighbors=3)
    z = torch.as_tensor(rng.normal(size=(40, 10)))
    x = torch.as_tensor(rng.normal(size=(40, 7)))
    plain = skgsr.nn._ModulesObjective(A).terms(z, x)["coverage"]
    # equal shares take the uniform formula: the same value, bit for bit
    equal = skgsr.nn._ModulesObjective(A, np.full(7, 1 / 7)).terms(z, x)
    assert torch.equal(equal["coverage"], plain)
    weighted = skgsr.nn._ModulesObjective(A, np.arange(1.0, 8.0) / 28).terms(z, x)
    assert weighted["coverage"] >= 1.0 and weighted["coverage"] != plain
    with pytest.raises(ValueError, match="the batch has 7 inputs"):
        skgsr.nn._ModulesObjective(A, np.arange(1.0, 6.0) / 15).terms(z, x)


def test_input_weights_are_the_first_graphs_and_survive_warm_starts(small_data):
    """The coverage's weights come from the rows of the first graph, are an
    attribute of the fit (None with learned_objective="smooth"), and a warm
    start on other data keeps them, as it keeps the graph's schedule."""
    from skgsr.nn import _coverage_weights, _input_module_sizes

    X, _ = small_data
    X = np.hstack([X, np.random.RandomState(1).normal(size=(len(X), 4))])
    X = X.astype(np.float32)
    params = {**SMALL, "graph_warmup": 2, "graph_update_interval": 2, "alpha": 0.1}
    est = GSRAutoencoder(max_iter=5, warm_start=True, **params).fit(X)
    expected = _coverage_weights(*_input_module_sizes(X))
    np.testing.assert_allclose(est.graph_input_weights_, expected)
    assert np.ptp(expected) > 0  # the noise inputs get less
    first = est.graph_input_weights_.copy()
    rng = np.random.RandomState(0)
    est.fit(rng.normal(size=X.shape).astype(np.float32))
    np.testing.assert_array_equal(est.graph_input_weights_, first)
    smooth = GSRAutoencoder(max_iter=3, learned_objective="smooth", **params).fit(X)
    assert smooth.graph_input_weights_ is None


def test_graph_regularizer_epoch_end_sets_input_weights(small_data):
    """In a user's own loop, epoch_end(inputs) encodes the rows and sets the
    weights at the first graph; update_graph without inputs leaves them
    unset (a uniform coverage)."""
    from skgsr.nn import GraphRegularizer, _coverage_weights, _input_module_sizes

    X, _ = small_data
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 12), torch.nn.ReLU())
    reg = GraphRegularizer(graph="learned", alpha=0.1, graph_warmup=1, model=model)
    reg.attach(model[1])
    assert reg.epoch_end(torch.as_tensor(X))
    np.testing.assert_allclose(
        reg.graph_input_weights_, _coverage_weights(*_input_module_sizes(X))
    )
    bare = GraphRegularizer(graph="learned", alpha=0.1, graph_warmup=0)
    with torch.no_grad():
        bare.update_graph(model(torch.as_tensor(X)))
    assert bare.graph_input_weights_ is None


def test_the_estimators_learn_the_input_profile_graph_by_default(small_data):
    """The estimators' learned graph joins neurons by the inputs they read
    (graph_metric="input_profile"); GraphRegularizer keeps the co-activation
    graph, whose update_graph(activations) needs no inputs."""
    from skgsr import GSRClassifier, GSRRegressor
    from skgsr.nn import GraphRegularizer

    X, _ = small_data
    params = {**SMALL, "graph_warmup": 2, "graph_update_interval": 2, "alpha": 0.1}
    default = GSRAutoencoder(max_iter=5, **params).fit(X)
    profile = GSRAutoencoder(max_iter=5, graph_metric="input_profile", **params)
    profile.fit(X)
    correlation = GSRAutoencoder(max_iter=5, graph_metric="correlation", **params)
    correlation.fit(X)
    assert (default.feature_graph_ != profile.feature_graph_).nnz == 0
    assert (default.feature_graph_ != correlation.feature_graph_).nnz > 0
    for cls in (GSRClassifier, GSRRegressor):
        assert cls().graph_metric == "input_profile"
    assert GraphRegularizer(graph="learned").graph_metric == "correlation"


def test_equal_input_weights_fit_as_with_uniform_coverage(small_data, monkeypatch):
    """When every input shares at least half the largest communality and the
    modules are of one size (here 4 of 8 inputs), the shares are equal, and
    the fit is bit for bit the one with uniform coverage (the library before
    its input weights)."""
    import skgsr.nn

    X, _ = small_data
    params = {**SMALL, "graph_warmup": 2, "graph_update_interval": 2, "alpha": 0.1}
    equal = GSRAutoencoder(max_iter=6, **params).fit(X)
    assert np.ptp(equal.graph_input_weights_) == 0
    monkeypatch.setattr(
        skgsr.nn, "_coverage_weights", lambda communalities, sizes=None: None
    )
    uniform = GSRAutoencoder(max_iter=6, **params).fit(X)
    assert uniform.graph_input_weights_ is None
    np.testing.assert_array_equal(equal.transform(X), uniform.transform(X))
    assert equal.loss_curve_ == uniform.loss_curve_
