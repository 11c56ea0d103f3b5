"""The capsule network (skgsr._capsule) and GSRClassifier(head="capsule")."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import skgsr
from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr._capsule import (
    CapsuleDecoder,
    ClassCapsules,
    capsule_loss,
    margin_loss,
    squash,
)
from skgsr.graphs import make_graph

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# small settings: a few seconds per fit on one thread
SMALL = dict(
    head="capsule",
    graph="capsules",
    hidden_layer_sizes=(32,),
    capsule_dim=4,
    primary_capsules=(8, 4),
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:400], y[:400]


def _capsule(**params):
    return GSRClassifier(**{**SMALL, "max_iter": 5, "random_state": 0, **params})


# ------------------------------------------------------------ building blocks
def test_squash_keeps_direction_and_maps_length():
    s = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.3, 0.0]], dtype=torch.float64)
    v = squash(s)
    norms = torch.linalg.norm(s, dim=1)
    expected = norms**2 / (1 + norms**2)
    np.testing.assert_allclose(torch.linalg.norm(v, dim=1), expected, atol=1e-7)
    # same direction: v is a non-negative multiple of s
    np.testing.assert_allclose(v[0] / v[0].norm(), s[0] / 5.0, rtol=1e-12)
    assert torch.all(v[1] == 0)


def routing_by_loops(weight, u, iterations):
    """Sabour et al.'s Procedure 1, one sample and one capsule at a time."""
    n_primary, n_classes, dim, _ = weight.shape
    out = []
    for x in u:
        u_hat = [
            [weight[i, j] @ x[i] for j in range(n_classes)] for i in range(n_primary)
        ]
        b = np.zeros((n_primary, n_classes))
        for r in range(iterations):
            c = np.exp(b) / np.exp(b).sum(axis=1, keepdims=True)
            v = []
            for j in range(n_classes):
                s = sum(c[i, j] * u_hat[i][j] for i in range(n_primary))
                norm2 = s @ s
                v.append(norm2 / (1 + norm2) * s / np.sqrt(norm2))
            if r < iterations - 1:
                for i in range(n_primary):
                    for j in range(n_classes):
                        b[i, j] += u_hat[i][j] @ v[j]
        out.append(np.concatenate(v))
    return np.array(out)


@pytest.mark.parametrize("iterations", [1, 3])
def test_vectorized_routing_equals_the_procedure(iterations):
    torch.manual_seed(0)
    layer = ClassCapsules(5, 3, 4, 6, iterations).double()
    u = squash(torch.randn(7, 5, 3, dtype=torch.float64))
    got = layer(u).detach().numpy()
    expected = routing_by_loops(layer.weight.detach().numpy(), u.numpy(), iterations)
    assert got.shape == (7, 4 * 6) and layer.out_features == 24
    # squash adds 1e-8 under its square root (a zero vector's gradient): a
    # relative difference of 1e-8 / (2 ||s||^2) from the plain formula
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_margin_loss_against_its_formula():
    lengths = torch.tensor([[0.95, 0.05, 0.5], [0.2, 0.7, 0.0]])
    target = torch.tensor([0, 2])
    # sample 0: present class long enough, absent 0.05 < 0.1, absent 0.5:
    # 0.5 * 0.4^2; sample 1: absent 0.2 and 0.7, present 0.0
    expected = [0.5 * 0.4**2, 0.5 * 0.1**2 + 0.5 * 0.6**2 + 0.9**2]
    np.testing.assert_allclose(margin_loss(lengths, target), expected, rtol=1e-6)
    # the reconstruction error of the true class' capsule is added, weighted
    errors = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with_decoder = capsule_loss(torch.cat([lengths, errors], 1), target, 3, 0.1)
    np.testing.assert_allclose(
        with_decoder, [expected[0] + 0.1, expected[1] + 0.6], rtol=1e-6
    )


def test_decoder_reconstructs_from_one_capsule_with_the_others_masked():
    torch.manual_seed(0)
    decoder = CapsuleDecoder(3, 4, [5], 6, "relu").double()
    v = torch.randn(2, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        got = decoder(v)
    assert got.shape == (2, 3, 6)
    # Sabour et al.'s masking: the whole flattened layer, all capsules zeroed
    # but one, through a plain MLP with the same weights
    for c in range(3):
        masked = torch.zeros_like(v)
        masked[:, c] = v[:, c]
        h = torch.relu(decoder.first(masked.flatten(1)))
        expected = decoder.rest[1](h)
        np.testing.assert_allclose(got[:, c], expected.detach(), rtol=1e-12)


# ------------------------------------------------------------ the estimator
def test_capsule_layer_layout_and_probabilities(digits):
    X, y = digits
    est = _capsule(max_iter=30, batch_size=32).fit(X, y)
    assert est.graph_shape_ == (10, 4)
    Z = est.transform(X[:20])
    assert Z.shape == (20, 40) and Z.dtype == np.float32
    np.testing.assert_array_equal(
        est.feature_graph_.toarray(), make_graph("capsules", (10, 4)).toarray()
    )
    assert len(est.get_feature_names_out()) == 40
    # capsule c is at columns c * 4:(c + 1) * 4; its length is class c's score
    lengths = np.linalg.norm(Z.reshape(20, 10, 4), axis=2)
    proba = est.predict_proba(X[:20])
    np.testing.assert_allclose(
        proba, lengths / lengths.sum(axis=1, keepdims=True), rtol=1e-5
    )
    np.testing.assert_allclose(est.predict_log_proba(X[:20]), np.log(proba), rtol=1e-9)
    np.testing.assert_array_equal(est.predict(X[:20]), est.classes_[lengths.argmax(1)])
    assert np.all(lengths < 1)
    assert est.score(X, y) > 0.8


def test_capsule_dim_and_class_count_set_the_width(digits):
    X, y = digits
    keep = y < 3
    est = _capsule(capsule_dim=5, max_iter=2).fit(X[keep], y[keep])
    assert est.graph_shape_ == (3, 5) and est.transform(X[:2]).shape == (2, 15)
    assert est.module_.structured[0].routing_iterations == 3


def test_reconstruction_decoder_trains_and_is_skipped_at_prediction(digits):
    X, y = digits
    est = _capsule(reconstruction_weight=0.5, max_iter=3).fit(X, y)
    assert est.module_.decoder is not None
    output, z = est.module_(torch.as_tensor(X[:4]))
    assert output.shape == (4, 10)  # eval mode: the lengths only
    est.module_.train()
    output, _ = est.module_(torch.as_tensor(X[:4]))
    assert output.shape == (4, 20)  # lengths, then the error from each capsule
    recon = est.module_.reconstruct(z)
    errors = ((recon - torch.as_tensor(X[:4])[:, None]) ** 2).mean(2)
    np.testing.assert_allclose(output[:, 10:].detach(), errors.detach(), rtol=1e-5)
    est.module_.eval()
    assert _capsule(max_iter=1).fit(X, y).module_.decoder is None


def test_penalty_changes_the_capsule_layer(digits):
    X, y = digits
    Z0 = _capsule(alpha=0.0, max_iter=5).fit(X, y).transform(X)
    Z1 = _capsule(alpha=1.0, max_iter=5).fit(X, y).transform(X)
    L = np.asarray(
        np.diag(make_graph("capsules", (10, 4)).sum(1))
        - make_graph("capsules", (10, 4)).toarray()
    )

    def energy(Z):
        return np.mean(np.einsum("bi,ij,bj->b", Z, L, Z))

    assert energy(Z1) < energy(Z0)


def test_partial_fit_learned_graph_and_early_stopping(digits):
    X, y = digits
    est = _capsule(max_iter=1)
    for _ in range(2):
        est.partial_fit(X, y, classes=np.arange(10))
    assert est.n_iter_ == 2 and est.transform(X[:2]).shape == (2, 40)
    learned = _capsule(
        graph="learned", graph_warmup=1, graph_update_interval=1, max_iter=3
    ).fit(X, y)
    assert learned.feature_graph_.shape == (40, 40)
    assert learned.graph_shape_ == (10, 4)
    stopped = _capsule(early_stopping=True, max_iter=3).fit(X, y)
    assert len(stopped.validation_scores_) == 3
    assert 0 <= stopped.best_validation_score_ <= 1


@parametrize_with_checks(
    [GSRClassifier(**SMALL, max_iter=50)],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": "float32 training",
        "check_sample_weight_equivalence_on_sparse_data": "float32 training",
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_grid_search_over_alpha_and_capsule_dim(digits):
    X, y = digits
    search = GridSearchCV(
        _capsule(max_iter=3),
        {"alpha": [0.0, 0.01], "capsule_dim": [3, 4]},
        cv=2,
    ).fit(X, y)
    best = search.best_estimator_
    assert best.graph_shape_ == (10, best.capsule_dim)
    assert set(search.cv_results_["param_capsule_dim"]) == {3, 4}


@pytest.mark.parametrize("reconstruction_weight", [0.0, 0.5])
def test_pickle_and_safe_format_round_trips(digits, tmp_path, reconstruction_weight):
    X, y = digits
    est = _capsule(reconstruction_weight=reconstruction_weight).fit(X, y)
    path = tmp_path / "capsules.skgsr"
    skgsr.save(est, path)
    for loaded in (pickle.loads(pickle.dumps(est)), skgsr.load(path)):
        assert loaded.get_params() == est.get_params()
        assert loaded.graph_shape_ == est.graph_shape_
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    # and it continues training as the original does
    for model in (est, loaded):
        model.set_params(warm_start=True, max_iter=1).fit(X, y)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


# ------------------------------------------------------------ bad input
def test_graph_with_the_wrong_node_count_names_both_numbers(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"has 64 nodes.*10 \* 4=40"):
        _capsule(graph=make_graph("grid", (8, 8))).fit(X, y)
    with pytest.raises(ValueError, match=r"graph_shape=\(8, 8\) has 64 nodes.*4=40"):
        _capsule(graph="grid", graph_shape=(8, 8)).fit(X, y)
    # a right-sized layout of another graph is fine
    est = _capsule(graph="grid", graph_shape=(4, 10), max_iter=1).fit(X, y)
    assert est.graph_shape_ == (4, 10)


def test_capsule_head_is_for_the_classifier_only(digits):
    X, y = digits
    with pytest.raises(ValueError, match="only GSRClassifier supports it"):
        GSRRegressor(head="capsule", max_iter=1).fit(X, y.astype(float))
    # the autoencoder has no head at all
    with pytest.raises(TypeError, match="head"):
        GSRAutoencoder(head="capsule")
    # and graph='capsules' elsewhere needs its layout given
    with pytest.raises(ValueError, match=r"GSRClassifier\(head='capsule'\)"):
        GSRAutoencoder(graph="capsules", n_components=40, max_iter=1).fit(X)
    ae = GSRAutoencoder(graph="capsules", n_components=40, graph_shape=(10, 4))
    assert ae.set_params(max_iter=1).fit(X).graph_shape_ == (10, 4)


@pytest.mark.parametrize("bad", [(8,), (8, 0), (8.0, 4.0), (2, 3, 4)])
def test_invalid_primary_capsules(digits, bad):
    X, y = digits
    with pytest.raises(ValueError, match="primary_capsules must be a pair"):
        _capsule(primary_capsules=bad).fit(X, y)
