"""Behaviour of the GSR estimators beyond scikit-learn's own checks."""

import io
import os
import pickle
import subprocess
import sys
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr.graphs import laplacian, make_graph

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [GSRAutoencoder, GSRClassifier, GSRRegressor]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _fit(Est, X, y, **params):
    params.setdefault("random_state", 0)
    params.setdefault("max_iter", 5)
    est = Est(**params)
    if Est is GSRRegressor:
        return est.fit(X, (y % 3).astype(float))
    return est.fit(X, y)


def centred_rayleigh(Z, L):
    """Scale-free Dirichlet energy: mean_b (z_b - mean z_b)^T L (.) / ||.||^2."""
    Zc = Z - Z.mean(axis=1, keepdims=True)
    energy = np.einsum("bi,ij,bj->b", Zc, L, Zc)
    return float(np.mean(energy / (np.einsum("bi,bi->b", Zc, Zc) + 1e-12)))


# --------------------------------------------------------------------- API
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_fitted_attributes(Est, digits):
    X, y = digits
    est = _fit(Est, X[:300], y[:300], max_iter=3)
    assert est.n_features_in_ == 64
    assert est.n_iter_ == 3
    assert len(est.loss_curve_) == len(est.penalty_curve_) == 3
    assert len(est.history_) == 3 and est.history_[-1]["epoch"] == 3
    assert est.graph_shape_ == (8, 8)
    assert sp.issparse(est.feature_graph_) and est.feature_graph_.shape == (64, 64)
    assert est.feature_graph_.nnz // 2 == 112
    expected = laplacian(make_graph("grid", (8, 8))).toarray()
    np.testing.assert_array_equal(est.laplacian_.toarray(), expected)
    assert isinstance(est.module_, torch.nn.Module)
    Z = est.transform(X[:10])
    assert Z.shape == (10, 64) and Z.dtype == np.float32
    names = est.get_feature_names_out()
    assert len(names) == 64 and names[0] == "gsr_r0_c0" and names[-1] == "gsr_r7_c7"


# ------------------------------------------------------------ feature names
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_feature_names_out_name_the_grid_cell_of_each_column(Est, digits):
    """Column j of transform is the neuron at row j // w, column j % w of the
    activation maps ``transform(X).reshape(-1, *graph_shape_)``."""
    X, y = digits
    est = _fit(Est, X[:100], y[:100], max_iter=1, n_components=12, graph_shape=(3, 4))
    names = list(est.get_feature_names_out())
    assert names == [f"gsr_r{r}_c{c}" for r in range(3) for c in range(4)]
    Z = est.transform(X[:5])
    maps = Z.reshape(-1, *est.graph_shape_)
    np.testing.assert_array_equal(maps[:, 2, 1], Z[:, names.index("gsr_r2_c1")])


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"graph": "torus", "graph_shape": (4, 3)}, ["gsr_r0_c0", "gsr_r3_c2"]),
        ({"graph": "rings", "graph_shape": (3, 4)}, ["gsr_r0_c0", "gsr_r2_c3"]),
        ({"graph": "lines", "graph_shape": (2, 6)}, ["gsr_r0_c0", "gsr_r1_c5"]),
        ({"graph": "ladder", "graph_shape": (2, 6)}, ["gsr_r0_c0", "gsr_r1_c5"]),
        # one row: a path or a cycle has positions but no rows
        ({"graph": "grid", "graph_shape": (1, 12)}, ["gsr_0", "gsr_11"]),
        ({"graph": "ring"}, ["gsr_0", "gsr_11"]),
        # trees and stars: the column is a heap index or a leaf number
        ({"graph": "star", "graph_shape": (2, 6)}, ["gsr_0", "gsr_11"]),
        # a given adjacency that is a grid (weights aside) has the grid's layout
        (
            {"graph": 2.5 * make_graph("grid", (3, 4)), "graph_shape": (3, 4)},
            ["gsr_r0_c0", "gsr_r2_c3"],
        ),
        # the same adjacency laid out otherwise is no grid of that layout
        (
            {"graph": make_graph("grid", (3, 4)), "graph_shape": (4, 3)},
            ["gsr_0", "gsr_11"],
        ),
        (
            {"graph": "learned", "n_neighbors": 3, "graph_warmup": 0},
            ["gsr_0", "gsr_11"],
        ),
    ],
)
def test_feature_names_out_follow_the_fitted_layout(params, expected, digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # learned: inactive neurons
        est = _fit(
            GSRClassifier, X[:100], y[:100], max_iter=1, n_components=12, **params
        )
    names = est.get_feature_names_out()
    assert len(names) == 12 and names.dtype == object
    assert [names[0], names[-1]] == expected


def test_feature_names_out_use_the_fitted_graph_not_the_parameters(digits):
    X, y = digits
    est = _fit(GSRAutoencoder, X[:100], None, max_iter=1, n_components=12)
    before = est.get_feature_names_out()
    est.set_params(graph="ring", n_components=16)
    np.testing.assert_array_equal(est.get_feature_names_out(), before)
    assert before[-1] == "gsr_r2_c3"


def test_feature_names_out_errors(digits):
    pd = pytest.importorskip("pandas")
    from sklearn.exceptions import NotFittedError

    X, y = digits
    with pytest.raises(NotFittedError):
        GSRClassifier().get_feature_names_out()
    frame = pd.DataFrame(X[:100], columns=[f"px{i}" for i in range(64)])
    est = _fit(GSRClassifier, frame, y[:100], max_iter=1, n_components=4)
    assert list(est.get_feature_names_out(frame.columns)) == [
        "gsr_r0_c0",
        "gsr_r0_c1",
        "gsr_r1_c0",
        "gsr_r1_c1",
    ]
    with pytest.raises(ValueError, match="input_features is not equal"):
        est.get_feature_names_out([f"other{i}" for i in range(64)])
    out = est.set_output(transform="pandas").transform(frame)
    assert list(out.columns) == list(est.get_feature_names_out())


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_feature_names_out_follow_the_fitted_width(Est, digits):
    """set_params(n_components=...) without a refit changes no output's width."""
    X, y = digits
    with pytest.raises(NotFittedError):
        Est(n_components=16).get_feature_names_out()
    est = _fit(Est, X[:200], y[:200], n_components=16, max_iter=2)
    est.set_params(n_components=9)
    names = est.get_feature_names_out()
    assert len(names) == est.transform(X[:3]).shape[1] == 16
    if Est is GSRAutoencoder:
        Z = est.transform(X[:3])
        assert est.inverse_transform(Z).shape == (3, 64)
        with pytest.raises(ValueError, match="expects 16 columns.*got 9"):
            est.inverse_transform(Z[:, :9])


def test_feature_names_in(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X[:200], columns=[f"px{i}" for i in range(64)])
    est = GSRClassifier(max_iter=2, random_state=0).fit(frame, y[:200])
    assert list(est.feature_names_in_) == list(frame.columns)


def test_autoencoder_inverse_transform_and_score(digits):
    X, _ = digits
    ae = GSRAutoencoder(max_iter=30, random_state=0).fit(X)
    Z = ae.transform(X)
    X_hat = ae.inverse_transform(Z)
    assert X_hat.shape == X.shape
    mse = float(np.mean((X_hat - X) ** 2))
    assert ae.score(X) == pytest.approx(-mse, rel=1e-5)
    # better than predicting the mean image
    assert mse < 0.5 * float(np.mean((X - X.mean(axis=0)) ** 2))
    with pytest.raises(ValueError, match="expects 64 columns"):
        ae.inverse_transform(Z[:, :10])


def test_classifier_string_labels_and_proba(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two"])[y[:400] % 3]
    clf = GSRClassifier(max_iter=30, random_state=0).fit(X[:400], labels)
    assert set(clf.classes_) == {"zero", "one", "two"}
    proba = clf.predict_proba(X[:50])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X[:50]), atol=1e-9)
    np.testing.assert_array_equal(
        clf.predict(X[:50]), clf.classes_[np.argmax(proba, axis=1)]
    )
    assert clf.predict(X[:5]).dtype.kind == "U"


def test_classifier_single_class_is_an_error(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="only one class"):
        GSRClassifier(max_iter=1).fit(X[:20], np.zeros(20))


def test_regressor_single_and_multi_output(digits):
    X, _ = digits
    rng = np.random.RandomState(0)
    W = rng.normal(size=(64, 2))
    Y = X @ W
    single = GSRRegressor(n_components=16, max_iter=100, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (len(X),)
    assert single.score(X, Y[:, 0]) > 0.9
    multi = GSRRegressor(n_components=16, max_iter=100, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (len(X), 2)
    assert multi.n_outputs_ == 2
    assert multi.score(X, Y) > 0.9


def test_float64_and_sparse_input_give_the_same_model(digits):
    X, y = digits
    X32 = X[:300]
    a = GSRClassifier(max_iter=3, random_state=0).fit(X32, y[:300])
    b = GSRClassifier(max_iter=3, random_state=0).fit(X32.astype(np.float64), y[:300])
    c = GSRClassifier(max_iter=3, random_state=0).fit(sp.csr_matrix(X32), y[:300])
    np.testing.assert_array_equal(a.transform(X32), b.transform(X32))
    np.testing.assert_allclose(a.transform(X32), c.transform(sp.csr_matrix(X32)))


def test_sample_weight_zero_ignores_samples(digits):
    """Weights enter the loss: a sample of weight 0 leaves no trace."""
    X, y = digits
    X, y = X[:200], y[:200]
    weights = np.ones(len(X))
    weights[100:] = 0.0
    noisy = X.copy()
    noisy[100:] = np.random.RandomState(0).uniform(size=noisy[100:].shape)
    full = GSRAutoencoder(max_iter=5, random_state=0, batch_size=200)
    a = full.fit(noisy, sample_weight=weights).transform(X[:100])
    b = clone(full).fit(X, sample_weight=weights).transform(X[:100])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    c = clone(full).fit(noisy).transform(X[:100])
    assert not np.allclose(a, c, atol=1e-3)


# --------------------------------------------------------------- regularizer
def test_regularizer_smooths_the_autoencoder_layer(digits):
    """Digits, 8x8 grid: the default penalty (centred Rayleigh quotient,
    alpha=0.1 in the loss's unit) lowers the scale-free Dirichlet energy 10x+,
    the papers' raw Laplacian penalty at alpha=1e-3 2.5x+, each at a
    reconstruction error within 1.5x of alpha=0.

    Measured (40 epochs, seed 0): centred Rayleigh quotient 3.70 at alpha=0,
    0.29 with the defaults and 1.30 with the raw Laplacian (random arrangement:
    3.56); reconstruction MSE 0.0030, 0.0038 and 0.0032.
    """
    X, _ = digits
    L = laplacian(make_graph("grid", (8, 8))).toarray()
    plain = GSRAutoencoder(alpha=0.0, max_iter=40, random_state=0).fit(X)
    default = GSRAutoencoder(max_iter=40, random_state=0).fit(X)
    raw = GSRAutoencoder(
        filter="laplacian", alpha=1e-3, scale_alpha=False, max_iter=40, random_state=0
    ).fit(X)
    e_plain = centred_rayleigh(plain.transform(X), L)
    e_default = centred_rayleigh(default.transform(X), L)
    e_raw = centred_rayleigh(raw.transform(X), L)
    assert e_plain > 10 * e_default, (e_plain, e_default)
    assert e_plain > 2.5 * e_raw, (e_plain, e_raw)
    for smooth in (default, raw):
        # the reconstruction stays in the same regime (far below the mean-image
        # MSE of 0.107)
        assert -smooth.score(X) < 1.5 * -plain.score(X)
        assert -smooth.score(X) < 0.01
        # the penalty curve reports what the penalty is
        assert smooth.penalty_curve_[-1] < plain.penalty_curve_[-1]
    # the default's penalty is the centred Rayleigh quotient itself
    assert default.penalty_curve_[-1] == pytest.approx(e_default, rel=0.05)


def test_regularizer_smooths_the_classifier_layer_at_equal_accuracy(digits):
    """Measured (40 epochs, seed 0, alpha=0.1): centred Rayleigh 3.52 -> 1.20;
    test accuracy 0.976 -> 0.984."""
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    L = laplacian(make_graph("grid", (8, 8))).toarray()
    plain = GSRClassifier(alpha=0.0, max_iter=40, random_state=0).fit(X_tr, y_tr)
    smooth = GSRClassifier(alpha=0.1, max_iter=40, random_state=0).fit(X_tr, y_tr)
    e_plain = centred_rayleigh(plain.transform(X_te), L)
    e_smooth = centred_rayleigh(smooth.transform(X_te), L)
    assert e_plain > 2.5 * e_smooth, (e_plain, e_smooth)
    assert smooth.score(X_te, y_te) > plain.score(X_te, y_te) - 0.02
    assert smooth.score(X_te, y_te) > 0.95


def test_alpha_zero_trains_without_penalty_gradient(digits):
    X, y = digits
    a = GSRClassifier(alpha=0.0, max_iter=3, random_state=0).fit(X[:300], y[:300])
    b = GSRClassifier(alpha=0.0, graph="ring", max_iter=3, random_state=0).fit(
        X[:300], y[:300]
    )
    # the graph only changes what is measured, not what is learned
    np.testing.assert_array_equal(a.transform(X[:20]), b.transform(X[:20]))
    assert a.penalty_curve_ != b.penalty_curve_


# ------------------------------------------------------------------- heads
def test_conv_head_on_grid_and_torus(digits):
    X, y = digits
    for graph in ("grid", "torus"):
        clf = GSRClassifier(head="conv", graph=graph, max_iter=30, random_state=0)
        clf.fit(X[:500], y[:500])
        assert clf.score(X[:500], y[:500]) > 0.8
        # the head convolves the layer as its (h, w) map: an 8 x 8 image
        assert clf.module_.head.grid_shape == clf.graph_shape_ == (8, 8)
        z = torch.as_tensor(clf.transform(X[:3]))
        maps = z.reshape(3, 1, 8, 8)
        with torch.no_grad():
            expected = clf.module_.head.readout(
                clf.module_.head.features(maps).flatten(1)
            )
        np.testing.assert_allclose(
            clf.predict_proba(X[:3]), expected.softmax(1).double().numpy(), rtol=1e-5
        )
        conv = clf.module_.head.features[0]
        assert conv.padding_mode == ("circular" if graph == "torus" else "zeros")


@pytest.mark.parametrize(
    "graph", ["ring", "tree", np.eye(64)[::-1] + np.eye(64)[::-1].T]
)
def test_conv_head_needs_a_grid(graph, digits):
    X, y = digits
    n_components = 63 if isinstance(graph, str) and graph == "tree" else 64
    clf = GSRClassifier(head="conv", graph=graph, n_components=n_components)
    with pytest.raises(ValueError, match="head='conv'.*grid"):
        clf.fit(X[:50], y[:50])


# ------------------------------------------------------- sklearn composition
def test_pipeline_gridsearch_over_alpha_graph_filter(digits):
    X, y = digits
    pipe = Pipeline(
        [("scale", MinMaxScaler()), ("gsr", GSRClassifier(max_iter=30, random_state=0))]
    )
    grid = GridSearchCV(
        pipe,
        {
            "gsr__alpha": [0.0, 1e-2],
            "gsr__graph": ["grid", "torus"],
            "gsr__filter": ["laplacian", "rayleigh"],
        },
        cv=2,
    )
    grid.fit(X[:400], y[:400])
    assert len(grid.cv_results_["params"]) == 8
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    best = grid.best_estimator_.named_steps["gsr"]
    assert best.graph in ("grid", "torus") and best.feature_graph_.shape == (64, 64)
    assert grid.score(X[400:600], y[400:600]) > 0.5


def test_gridsearch_selects_alpha_on_autoencoder_score(digits):
    X, _ = digits
    search = GridSearchCV(
        GSRAutoencoder(max_iter=10, random_state=0), {"alpha": [0.0, 10.0]}, cv=2
    )
    search.fit(X[:600])
    # a huge penalty hurts the reconstruction, which is what score measures
    assert search.best_params_["alpha"] == 0.0


def test_clone_set_params_and_pickle(digits):
    X, y = digits
    est = GSRClassifier(alpha=0.5, graph="torus", max_iter=3, random_state=0)
    twin = clone(est).set_params(alpha=0.0)
    assert twin.alpha == 0.0 and est.alpha == 0.5 and twin.graph == "torus"
    est.fit(X[:200], y[:200])
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        loaded.predict_proba(X[:50]), est.predict_proba(X[:50])
    )
    np.testing.assert_array_equal(loaded.transform(X[:50]), est.transform(X[:50]))


# ------------------------------------------------------------------ training
def test_same_random_state_same_model_and_none_differs(digits):
    X, y = digits
    a = _fit(GSRClassifier, X[:300], y[:300], random_state=3)
    b = _fit(GSRClassifier, X[:300], y[:300], random_state=3)
    np.testing.assert_array_equal(a.transform(X[:30]), b.transform(X[:30]))
    c = _fit(GSRClassifier, X[:300], y[:300], random_state=None)
    d = _fit(GSRClassifier, X[:300], y[:300], random_state=None)
    assert not np.array_equal(c.transform(X[:30]), d.transform(X[:30]))


def test_fit_does_not_touch_the_global_torch_rng(digits):
    X, y = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit(GSRClassifier, X[:100], y[:100], max_iter=1)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_early_stopping_stops_and_keeps_best(digits):
    X, y = digits
    clf = GSRClassifier(
        early_stopping=True, n_iter_no_change=3, max_iter=500, random_state=0
    ).fit(X, y)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # stopped because the last n_iter_no_change epochs did not beat the best + tol
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ - 1 - best_epoch >= 3
    # the weights kept are the best epoch's: they score best_validation_score_ on
    # the held-out rows (the split fit makes: validation_fraction, seeded,
    # stratified)
    _, val = train_test_split(
        np.arange(len(X)),
        test_size=clf.validation_fraction,
        random_state=np.random.RandomState(0),
        stratify=y,
    )
    assert clf.score(X[val], y[val]) == clf.best_validation_score_


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_embedding_activation_sets_the_structured_layer(Est, digits):
    X, y = digits
    X, y = X[:200], y[:200]
    target = None if Est is GSRAutoencoder else y
    default = Est(max_iter=1, random_state=0).fit(X, target).module_.structured
    tanh = Est(max_iter=1, embedding_activation="tanh", random_state=0)
    layers = tanh.fit(X, target).module_.structured
    # "auto": linear for the autoencoder (an embedding), the hidden activation
    # (relu) for the supervised estimators
    expected = torch.nn.Linear if Est is GSRAutoencoder else torch.nn.ReLU
    assert type(default[-1]) is expected
    assert type(layers[-1]) is torch.nn.Tanh
    Z = tanh.transform(X)
    assert np.abs(Z).max() <= 1.0 and Z.min() < 0


def test_sparse_input_is_densified_one_batch_at_a_time(digits, monkeypatch):
    from skgsr import _base

    X, y = digits
    X_sparse = sp.csr_matrix(X)
    rows = []
    original = sp.csr_array.toarray

    def recording(self, *args, **kwargs):
        rows.append(self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_array, "toarray", recording)
    GSRClassifier(max_iter=2, batch_size=64, random_state=0).fit(X_sparse, y)
    assert rows and max(rows) <= max(64, _base.INFERENCE_BATCH)
    training = [r for r in rows if r <= 64]
    assert sum(training) >= 2 * len(X)  # every row densified in each epoch


def test_stops_on_training_loss_plateau_without_early_stopping(digits):
    X, y = digits
    clf = GSRClassifier(tol=10.0, n_iter_no_change=2, max_iter=100, random_state=0)
    clf.fit(X[:300], y[:300])
    # no epoch can improve the loss by 10: stops after the patience runs out
    assert clf.n_iter_ == 3


def test_max_iter_reached_warns(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        GSRClassifier(max_iter=2, random_state=0).fit(X[:100], y[:100])


def test_warm_start_continues(digits):
    X, y = digits
    clf = GSRClassifier(max_iter=3, warm_start=True, random_state=0)
    clf.fit(X[:500], y[:500])
    first_loss = clf.loss_curve_[-1]
    clf.fit(X[:500], y[:500])
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert clf.loss_curve_[3] < first_loss  # continued, not restarted
    cold = GSRClassifier(max_iter=3, random_state=0).fit(X[:500], y[:500])
    assert cold.loss_curve_[0] > clf.loss_curve_[3]


def test_partial_fit_learns(digits):
    X, y = digits
    ae = GSRAutoencoder(random_state=0)
    ae.partial_fit(X[:900])
    before = ae.score(X[900:])
    for _ in range(10):
        ae.partial_fit(X[:900])
    assert ae.n_iter_ == 11
    assert ae.score(X[900:]) > before
    clf = GSRClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    for start in list(range(0, 1500, 300)) * 4:
        clf.partial_fit(
            X[start : start + 300], y[start : start + 300], classes=np.arange(10)
        )
    assert clf.n_iter_ == 20
    assert clf.score(X[1500:], y[1500:]) > 0.7
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:10], np.full(10, 11))
    reg = GSRRegressor(random_state=0)
    reg.partial_fit(X[:200], X[:200, :2])
    with pytest.raises(ValueError, match="target"):
        reg.partial_fit(X[:200], X[:200, :3])


def test_partial_fit_number_of_features_must_match(digits):
    X, _ = digits
    ae = GSRAutoencoder(random_state=0).partial_fit(X[:50])
    with pytest.raises(ValueError, match="features"):
        ae.partial_fit(X[:50, :10])


def test_verbose_prints_one_line_per_epoch(digits):
    """verbose=2 prints the table: a header, one row per epoch, a summary."""
    X, y = digits
    out = io.StringIO()
    with redirect_stdout(out):
        GSRClassifier(max_iter=4, verbose=2, random_state=0, early_stopping=True).fit(
            X[:300], y[:300]
        )
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert lines[0].split()[:5] == ["epoch", "loss", "task", "loss", "penalty"]
    epochs = [line for line in lines[1:] if line.split()[0].isdigit()]
    assert [int(line.split()[0]) for line in epochs] == [1, 2, 3, 4]
    # the time column closes each row (the graph column is empty on a fixed graph)
    assert all(line.rstrip().endswith("s") for line in epochs)
    assert lines[-1].startswith("GSRClassifier: 4 epoch(s) in ")


def test_keyboard_interrupt_keeps_last_finished_epoch(digits, monkeypatch):
    X, y = digits
    clf = GSRClassifier(max_iter=50, random_state=0)
    calls = {"n": 0}
    original = GSRClassifier._train_step

    def interrupting(self, state, xb, tb, wb):
        calls["n"] += 1
        if calls["n"] == 7:  # second batch of the fourth epoch (2 batches/epoch)
            raise KeyboardInterrupt
        return original(self, state, xb, tb, wb)

    monkeypatch.setattr(GSRClassifier, "_train_step", interrupting)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X[:400], y[:400])
    assert clf.n_iter_ == 3
    monkeypatch.undo()
    # the kept weights are those at the end of epoch 3
    reference = GSRClassifier(max_iter=3, random_state=0).fit(X[:400], y[:400])
    np.testing.assert_array_equal(clf.transform(X[:20]), reference.transform(X[:20]))


def test_device_parameter(digits):
    X, y = digits
    est = _fit(GSRClassifier, X[:100], y[:100], max_iter=1, device="cpu")
    assert next(est.module_.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            GSRClassifier(device="cuda").fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="Invalid device"):
        GSRClassifier(device="gpu0").fit(X[:50], y[:50])


def test_threads_follow_omp_num_threads(tmp_path):
    """In a worker whose OMP_NUM_THREADS is 1, fit runs torch on one thread."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import torch, numpy as np\n"
        "from skgsr import GSRAutoencoder\n"
        "torch.set_num_threads(2)\n"
        "seen = []\n"
        "orig = GSRAutoencoder._train_step\n"
        "def spy(self, *a):\n"
        "    seen.append(torch.get_num_threads())\n"
        "    return orig(self, *a)\n"
        "GSRAutoencoder._train_step = spy\n"
        "GSRAutoencoder(n_components=4, max_iter=1).fit(np.random.rand(20, 3))\n"
        "print(min(seen), max(seen), torch.get_num_threads())\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(
        [
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            env.get("PYTHONPATH", ""),
        ]
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # one thread while fitting, the caller's setting restored afterwards
    assert out == ["1", "1", "2"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"graph_shape": (4, 4)}, "graph_shape"),
        ({"graph": "ring", "graph_shape": (3, 3)}, "n_components"),
        ({"graph": np.ones((10, 10))}, "n_components=64"),
        ({"n_components": 61}, "prime"),
        ({"graph": "tree"}, "2\\*\\*k - 1"),
    ],
)
def test_graph_errors_name_the_problem(params, message, digits):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        GSRClassifier(max_iter=1, **params).fit(X[:30], y[:30])


def test_predefined_graphs_train(digits):
    X, y = digits
    for graph, n, shape in [
        ("ring", 64, (1, 64)),
        ("lines", 64, (1, 64)),
        ("tree", 63, (1, 63)),
        ("star", 64, (1, 64)),
        ("ladder", 64, (2, 32)),
    ]:
        est = GSRClassifier(graph=graph, n_components=n, max_iter=1, random_state=0)
        est.fit(X[:100], y[:100])
        assert est.graph_shape_ == shape
        np.testing.assert_array_equal(
            est.feature_graph_.toarray(), make_graph(graph, shape).toarray()
        )


def test_user_adjacency_is_used(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    A = (rng.rand(64, 64) < 0.1).astype(float)
    A = np.triu(A, 1)
    A = A + A.T
    est = GSRClassifier(graph=A, max_iter=2, random_state=0).fit(X[:100], y[:100])
    np.testing.assert_array_equal(est.feature_graph_.toarray(), A)
    assert est.graph_shape_ == (8, 8)


def test_no_warning_on_readonly_input(digits):
    X, y = digits
    X = X[:100].copy()
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        GSRClassifier(max_iter=1, random_state=0).fit(X, y[:100]).transform(X)


def test_standard_scaler_pipeline_transform(digits):
    X, _ = digits
    pipe = Pipeline([("scale", StandardScaler()), ("ae", GSRAutoencoder(max_iter=2))])
    Z = pipe.fit_transform(X[:200])
    assert Z.shape == (200, 64)


def test_warm_start_follows_changed_filter_and_graph(digits):
    """A continued fit uses the current filter and graph parameters, and reuses
    the fitted penalty (with its cached operators) when nothing changed."""
    X, y = digits
    clf = GSRClassifier(max_iter=2, warm_start=True, random_state=0)
    clf.fit(X[:300], y[:300])
    first_penalty = clf.penalty_
    clf.fit(X[:300], y[:300])
    assert clf.penalty_.filter == "rayleigh" and clf.penalty_ is not first_penalty
    assert clf.penalty_.center  # filter_center="auto" centres the Rayleigh quotient
    clf.set_params(filter="heat", graph="torus")
    clf.fit(X[:300], y[:300])
    assert clf.penalty_.filter == "heat" and clf.penalty_.method_ == "exact"
    assert not clf.penalty_.center  # ... and no other filter
    assert clf.feature_graph_.nnz // 2 == 128  # the 8x8 torus
    assert clf.n_iter_ == 6
    with pytest.raises(ValueError, match="n_components"):
        clf.set_params(n_components=16).fit(X[:300], y[:300])


# ----------------------------------------------------------- user encoders
class SmallCNN(torch.nn.Module):
    """A convolutional encoder of 8x8 images: (batch, 64) -> (batch, 4 * 4 * 4)."""

    def __init__(self, n_features):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Unflatten(1, (1, 8, 8)),
            torch.nn.Conv2d(1, 4, 3, padding=1),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


def small_mlp(n_features):
    """A module-level function building an encoder (picklable, unlike a lambda)."""
    return torch.nn.Sequential(torch.nn.Linear(n_features, 24), torch.nn.Tanh())


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_user_encoder_comes_before_the_structured_layer(Est, digits):
    X, y = digits
    est = _fit(Est, X[:300], y[:300], encoder=SmallCNN, n_components=16, max_iter=2)
    network = est.module_
    assert isinstance(network.encoder, SmallCNN)
    # the width of the structured layer's input is the encoder's: 4 x 4 x 4
    assert network.structured[0].in_features == 64
    assert est.transform(X[:5]).shape == (5, 16)
    with torch.no_grad():
        z = network.structured(network.encoder(torch.as_tensor(X[:5])))
    np.testing.assert_allclose(est.transform(X[:5]), z.numpy(), rtol=1e-6)
    if Est is GSRAutoencoder:  # the decoder still mirrors hidden_layer_sizes
        widths = [m.out_features for m in network.head if hasattr(m, "out_features")]
        assert widths == [128, 64]


def test_encoder_class_and_function_build_the_same_network(digits):
    X, y = digits
    by_function = _fit(GSRClassifier, X[:200], y[:200], encoder=small_mlp)
    by_lambda = _fit(GSRClassifier, X[:200], y[:200], encoder=lambda n: small_mlp(n))
    np.testing.assert_array_equal(
        by_function.transform(X[:20]), by_lambda.transform(X[:20])
    )
    assert by_function.module_.structured[0].in_features == 24


def test_the_width_probe_leaves_batch_norm_statistics_and_mode_alone():
    est = GSRClassifier(encoder=SmallCNN)
    encoder, width = est._build_encoder(64)
    batch_norm = encoder.layers[2]
    assert width == 64 and encoder.training
    assert int(batch_norm.num_batches_tracked) == 0
    assert torch.equal(batch_norm.running_mean, torch.zeros(4))


@pytest.mark.parametrize(
    "encoder, error, message",
    [
        (SmallCNN(64), TypeError, "not a module instance \\(SmallCNN\\)"),
        (lambda n: "a string", TypeError, "returned an object of type str"),
        (
            lambda n: torch.nn.Unflatten(1, (1, 8, 8)),
            ValueError,
            "\\(batch, width\\) tensor.*returned \\(2, 1, 8, 8\\).*nn.Flatten",
        ),
        (
            lambda n: torch.nn.Linear(n + 1, 4),
            ValueError,
            "failed on a batch of shape \\(2, 64\\)",
        ),
    ],
)
def test_a_wrong_encoder_is_a_clear_error(encoder, error, message, digits):
    X, y = digits
    with pytest.raises(error, match=message):
        GSRClassifier(encoder=encoder, max_iter=1).fit(X[:50], y[:50])


def test_encoder_is_a_hyperparameter(digits):
    X, y = digits
    est = GSRClassifier(encoder=small_mlp, max_iter=2, random_state=0)
    assert clone(est).get_params()["encoder"] is small_mlp
    search = GridSearchCV(est, {"alpha": [0.0, 1e-2]}, cv=2).fit(X[:200], y[:200])
    assert search.best_estimator_.module_.structured[0].in_features == 24
    est.fit(X[:200], y[:200])
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        loaded.predict_proba(X[:30]), est.predict_proba(X[:30])
    )
    with pytest.raises(ValueError, match="'encoder' parameter .* must be None or"):
        GSRClassifier(encoder="cnn").fit(X[:50], y[:50])


def test_warm_start_keeps_the_encoder_or_refuses_another(digits):
    X, y = digits
    est = _fit(GSRClassifier, X[:200], y[:200], encoder=small_mlp, max_iter=2)
    est.set_params(warm_start=True).fit(X[:200], y[:200])
    assert est.n_iter_ == 4
    with pytest.raises(ValueError, match="other architecture parameters \\(encoder="):
        est.set_params(encoder=SmallCNN).fit(X[:200], y[:200])
    with pytest.raises(ValueError, match="other architecture parameters \\(encoder="):
        est.set_params(encoder=None).fit(X[:200], y[:200])


# ------------------------------------------------------------------ defaults
def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def test_defaults_are_the_centred_rayleigh_quotient_and_raw_forms_stay_available():
    """filter="rayleigh" with filter_center="auto" centres; every other filter
    is the papers' (uncentred) penalty."""
    X, y = _scaled(load_wine)
    clf = GSRClassifier(max_iter=2, random_state=0).fit(X, y)
    assert (clf.filter, clf.filter_center, clf.alpha) == ("rayleigh", "auto", 0.1)
    assert clf.penalty_.filter == "rayleigh" and clf.penalty_.center
    raw = GSRClassifier(filter="laplacian", scale_alpha=False, max_iter=2).fit(X, y)
    assert raw.penalty_.filter == "laplacian" and not raw.penalty_.center
    forced = GSRClassifier(filter="rayleigh", filter_center=False, max_iter=2)
    assert not forced.fit(X, y).penalty_.center
    with pytest.raises(ValueError, match="filter_center"):
        GSRClassifier(filter_center="yes").fit(X, y)


def test_default_fit_on_a_small_data_set_stops_on_its_own():
    """Wine (178 rows, one minibatch per epoch, the slowest measured): the
    default penalty needs 268-418 epochs there (alpha=0: about 135, like
    MLPClassifier), within max_iter=500 and without a ConvergenceWarning."""
    X, y = _scaled(load_wine)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = GSRClassifier(random_state=0).fit(X, y)
    assert not [str(w.message) for w in record]
    assert 150 < clf.n_iter_ < clf.max_iter
    # it stopped by the rule: none of the last n_iter_no_change epochs beat the
    # best loss before it by more than tol
    curve = clf.loss_curve_
    for i in range(len(curve) - clf.n_iter_no_change, len(curve)):
        assert curve[i] > min(curve[:i]) - clf.tol


def test_a_grid_search_with_default_settings_is_quiet():
    """Eight fits and a refit over alpha and fixed and learned graphs on
    standardized breast cancer: no warning at all (the 27-fit search of
    benchmarks/README.rst raised 27 with the former defaults, 22 of them
    ConvergenceWarnings)."""
    X, y = _scaled(load_breast_cancer)
    search = GridSearchCV(
        GSRClassifier(random_state=0),
        {"alpha": [0.1, 1.0], "graph": ["grid", "learned"]},
        cv=2,
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert not [f"{w.category.__name__}: {w.message}" for w in record]
    assert search.best_score_ > 0.95


def test_a_few_dead_neurons_of_a_learned_graph_are_not_worth_a_warning(digits):
    """One inactive neuron of 12 is reported in inactive_neurons_ but not warned
    about (a tenth of the layer or more is; see test_learned_graph)."""
    X, _ = digits
    params = dict(n_components=12, graph="learned", graph_warmup=1, random_state=0)
    est = GSRAutoencoder(max_iter=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit ends in the warm-up
        est.fit(X[:200])
    with torch.no_grad():
        est.module_.structured[0].weight[[3]] = 0.0
    est.set_params(warm_start=True, max_iter=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X[:200])
    np.testing.assert_array_equal(est.inactive_neurons_, [3])
    assert not [w for w in record if "did not vary" in str(w.message)]
