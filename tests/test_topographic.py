"""filter="topographic": resistance distances, the penalty against an independent
computation, its invariances and gradient, and its path through the regularizer,
the estimators and save/load."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path

from skgsr import GSRAutoencoder, GSRClassifier, load, save
from skgsr.graphs import make_graph
from skgsr.nn import GraphRegularizer
from skgsr.penalty import TopographicPenalty, resistance_distances

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _reference_distances(A):
    """Effective resistances from the pseudo-inverse, cross-component inf."""
    A = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=float)
    L = np.diag(A.sum(axis=1)) - A
    P = np.linalg.pinv(L)
    R = np.diag(P)[:, None] + np.diag(P)[None, :] - 2 * P
    graph = nx.from_numpy_array(A)
    for i in range(len(A)):
        for j in range(len(A)):
            if not nx.has_path(graph, i, j):
                R[i, j] = np.inf
    return R


def _reference_penalty(x, A, weights=None):
    """mean_ij (r_ij - mean r) d_ij with numpy's correlations."""
    x = np.asarray(x, dtype=float)
    if weights is None:
        r = np.corrcoef(x, rowvar=False)
    else:
        c = np.cov(x, rowvar=False, aweights=weights)
        s = np.sqrt(np.diag(c))
        r = c / np.outer(s, s)
    D = _reference_distances(A)
    finite = np.isfinite(D)
    D = np.where(finite, D / D[finite].max(), 1.0)
    np.fill_diagonal(D, 0.0)
    return float(((r - r.mean()) * D).mean())


def _disconnected():
    A = np.zeros((7, 7))
    for i, j in [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6)]:
        A[i, j] = A[j, i] = 1.0
    return A


def test_resistance_distance_on_a_tree_counts_edges():
    tree = make_graph("tree", 15)
    np.testing.assert_allclose(resistance_distances(tree), shortest_path(tree))


@pytest.mark.parametrize(
    "graph",
    [
        make_graph("ring", 6),
        make_graph("grid", (3, 4)),
        _disconnected(),
        np.array([[0, 2.0, 0], [2.0, 0, 0.5], [0, 0.5, 0]]),  # weights: conductances
    ],
    ids=["ring", "grid", "disconnected", "weighted"],
)
def test_resistance_distances_match_the_pseudo_inverse(graph):
    R = resistance_distances(graph)
    expected = _reference_distances(graph)
    assert np.array_equal(np.isinf(R), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(R[finite], expected[finite], atol=1e-10)


def test_conductances_add_up_in_series():
    A = np.array([[0, 2.0, 0], [2.0, 0, 0.5], [0, 0.5, 0]])
    assert resistance_distances(A)[0, 2] == pytest.approx(1 / 2 + 1 / 0.5)


@pytest.mark.parametrize(
    "graph",
    [make_graph("tree", 7), make_graph("grid", (2, 4)), _disconnected()],
    ids=["tree", "grid", "disconnected"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_penalty_matches_an_independent_computation(graph, weighted):
    rng = np.random.default_rng(0)
    n = graph.shape[0]
    x = rng.normal(size=(40, n)) @ rng.normal(size=(n, n))
    w = rng.uniform(0.1, 3.0, size=40) if weighted else None
    penalty = TopographicPenalty(graph)
    value = penalty(
        torch.from_numpy(x), None if w is None else torch.from_numpy(w)
    ).item()
    assert value == pytest.approx(_reference_penalty(x, graph, w), rel=1e-9)


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(12, 7)))
    counts = torch.from_numpy(rng.integers(1, 4, size=12)).double()
    penalty = TopographicPenalty(make_graph("tree", 7))
    repeated = torch.repeat_interleave(x, counts.long(), dim=0)
    assert penalty(x, counts).item() == pytest.approx(penalty(repeated).item(), 1e-12)


def test_blind_to_each_units_scale_and_offset_and_to_the_sample_order():
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.normal(size=(30, 7)))
    penalty = TopographicPenalty(make_graph("tree", 7))
    scale = torch.from_numpy(rng.uniform(0.01, 100, size=7))
    offset = torch.from_numpy(rng.normal(size=7) * 10)
    value = penalty(x).item()
    assert penalty(x * scale + offset).item() == pytest.approx(value, rel=1e-9)
    assert penalty(x[torch.randperm(30)]).item() == pytest.approx(value, rel=1e-12)


def test_units_that_vary_together_are_cheaper_near_each_other():
    # a line 0-1-2-3: two factors, each driving two units
    rng = np.random.default_rng(3)
    a, b = (torch.from_numpy(v) for v in rng.normal(size=(2, 100)))
    penalty = TopographicPenalty(make_graph("line", 4))
    near = torch.stack([a, a, b, b], dim=1)
    far = torch.stack([a, b, b, a], dim=1)
    opposite_far = torch.stack([a, a, -a, -a], dim=1)
    opposite_near = torch.stack([a, -a, -a, a], dim=1)
    assert penalty(near) < penalty(far)
    assert penalty(opposite_far) < penalty(opposite_near)


def test_gradcheck():
    x = torch.randn(9, 7, dtype=torch.float64, requires_grad=True)
    w = torch.rand(9, dtype=torch.float64) + 0.1
    penalty = TopographicPenalty(make_graph("tree", 7))
    assert torch.autograd.gradcheck(lambda x: penalty(x), (x,))
    assert torch.autograd.gradcheck(lambda x: penalty(x, w), (x,))


def test_a_constant_unit_correlates_with_nothing():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(25, 7))
    x[:, 3] = 2.5  # a dead unit
    t = torch.from_numpy(x).requires_grad_(True)
    value = TopographicPenalty(make_graph("tree", 7))(t)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(t.grad).all()
    # its correlations are zero: the reference with them set so
    r = np.corrcoef(np.delete(x, 3, axis=1), rowvar=False)
    full = np.zeros((7, 7))
    keep = [0, 1, 2, 4, 5, 6]
    full[np.ix_(keep, keep)] = r
    D = resistance_distances(make_graph("tree", 7))
    D /= D.max()
    assert value.item() == pytest.approx(((full - full.mean()) * D).mean(), rel=1e-8)


def test_disconnected_units_count_as_farthest():
    penalty = TopographicPenalty(_disconnected())
    assert penalty.distances[0, 4] == 1.0 and penalty.distances[4, 0] == 1.0
    assert penalty.distances.max() == 1.0
    assert np.all(np.diag(penalty.distances) == 0)


def test_set_graph_swaps_in_place_and_the_size_is_bounded():
    penalty = TopographicPenalty(make_graph("line", 7))
    x = torch.randn(20, 7, dtype=torch.float64)
    penalty.set_graph(make_graph("tree", 7))
    assert penalty(x).item() == pytest.approx(
        TopographicPenalty(make_graph("tree", 7))(x).item(), rel=1e-12
    )
    with pytest.raises(ValueError, match="at most 4096 nodes, got 4097"):
        TopographicPenalty(make_graph("line", 4097))
    with pytest.raises(ValueError, match="not a mean of per-sample"):
        penalty.per_sample(x)
    with pytest.raises(ValueError, match=r"shape \(batch, 7\)"):
        penalty(torch.randn(4, 6))


def test_regularizer_penalizes_its_passes_as_one_batch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh())
    reg = GraphRegularizer(model[1], graph="tree", alpha=2.0, filter="topographic")
    x1, x2 = torch.randn(10, 5), torch.randn(6, 5)
    z = torch.cat([model(x1), model(x2)])
    value = reg.penalty()
    assert isinstance(reg.penalty_, TopographicPenalty)
    expected = 2.0 * TopographicPenalty(make_graph("tree", 7))(z)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert model[0].weight.grad is not None
    # weighted: one weight per sample of both passes
    model(x1), model(x2)
    w = torch.rand(16) + 0.5
    weighted = reg.penalty(sample_weight=w)
    expected = 2.0 * TopographicPenalty(make_graph("tree", 7))(z.detach(), w)
    assert weighted.item() == pytest.approx(expected.item(), rel=1e-6)
    reg.remove()


@pytest.fixture(scope="module")
def hierarchical():
    from skgsr.datasets import make_hierarchical_clusters

    X, y, _ = make_hierarchical_clusters(240, random_state=0)
    return X, y


_TREE = dict(
    n_components=15,
    graph="tree",
    hidden_layer_sizes=(),
    embedding_activation="relu",
    filter="topographic",
    max_iter=30,
    random_state=0,
)


def test_estimator_trains_the_penalty_down(hierarchical):
    X, _ = hierarchical
    plain = GSRAutoencoder(alpha=0.0, **_TREE).fit(X)
    gsr = GSRAutoencoder(alpha=1.0, scale_alpha=False, **_TREE).fit(X)
    penalty = TopographicPenalty(make_graph("tree", 15))

    def measured(est):
        return penalty(torch.from_numpy(est.transform(X).astype(np.float64))).item()

    assert measured(gsr) < measured(plain)
    # at alpha=0 the penalty is measured, not trained on: the epoch's curve is
    # of the order of the fitted layer's penalty
    assert np.all(np.isfinite(plain.penalty_curve_))
    assert abs(plain.penalty_curve_[-1] - measured(plain)) < 0.05
    assert gsr.penalty_curve_[-1] < plain.penalty_curve_[-1]


def test_save_load_round_trip(hierarchical, tmp_path):
    X, y = hierarchical
    est = GSRClassifier(
        n_components=15, graph="tree", filter="topographic", max_iter=5, random_state=0
    ).fit(X, y)
    save(est, tmp_path / "model.skgsr")
    loaded = load(tmp_path / "model.skgsr")
    assert isinstance(loaded.penalty_, TopographicPenalty)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.penalty_.distances, est.penalty_.distances)


def test_float32_weights_are_cast_once_per_graph_and_pickle_without_them():
    import pickle

    penalty = TopographicPenalty(make_graph("tree", 7))
    x = torch.randn(10, 7)
    penalty(x)
    cast = penalty._cast("_weights", torch.float32)
    assert (
        cast.dtype == torch.float32 and penalty._cast("_weights", torch.float32) is cast
    )
    copy = pickle.loads(pickle.dumps(penalty))
    assert copy._casts == {} and copy(x).item() == pytest.approx(penalty(x).item())
    penalty.set_graph(make_graph("line", 7))
    assert penalty._cast("_weights", torch.float32) is not cast
    assert penalty(x).item() == pytest.approx(
        TopographicPenalty(make_graph("line", 7))(x).item(), rel=1e-6
    )


def test_on_a_learned_graph_each_rebuild_gets_its_distances(hierarchical, tmp_path):
    X, _ = hierarchical
    est = GSRAutoencoder(
        n_components=12,
        graph="learned",
        learned_objective="smooth",
        filter="topographic",
        graph_warmup=2,
        graph_update_interval=3,
        max_iter=12,
        random_state=0,
    ).fit(X)
    assert isinstance(est.penalty_, TopographicPenalty)
    assert len(est.graph_history_) >= 2
    np.testing.assert_allclose(
        est.penalty_.distances,
        TopographicPenalty(est.feature_graph_).distances,
    )
    assert np.all(np.isfinite(est.penalty_curve_[2:]))
    save(est, tmp_path / "learned.skgsr")
    np.testing.assert_array_equal(
        load(tmp_path / "learned.skgsr").transform(X), est.transform(X)
    )


def test_set_graph_keeps_device_and_the_buffers_are_not_state():
    # the meta device stands for "not the default device" on a CPU-only machine
    penalty = TopographicPenalty(make_graph("tree", 7)).to("meta")
    penalty.set_graph(make_graph("line", 7))
    assert {b.device.type for b in penalty.buffers()} == {"meta"}
    assert penalty.device.type == "meta"
    assert TopographicPenalty(make_graph("tree", 7)).state_dict() == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    penalty = TopographicPenalty(make_graph("tree", 15))
    x = torch.randn(40, 15, dtype=torch.float64)
    expected = penalty(x).item()
    penalty.cuda()
    assert penalty(x.cuda()).item() == pytest.approx(expected, rel=1e-10)
    assert penalty(x.float().cuda()).item() == pytest.approx(expected, rel=1e-4)
