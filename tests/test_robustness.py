"""Bad input, invalid parameters, divergence and interruption.

Every error must name the problem and the fix, and a fit that fails in any way
must leave the estimator exactly as it was (fitted model or unfitted).
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from skgsr import DivergenceError, GSRAutoencoder, GSRClassifier, GSRRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [GSRAutoencoder, GSRClassifier, GSRRegressor]
SMALL = {"n_components": 16, "hidden_layer_sizes": (8,), "max_iter": 2}


def _data(n=60, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d)
    return X, np.arange(n) % 3


def _fit(Est, X, y, **params):
    est = Est(**{**SMALL, "random_state": 0, **params})
    return est.fit(X) if Est is GSRAutoencoder else est.fit(X, y)


def _with(X, row, col, value):
    X = X.astype(object) if isinstance(value, str | dict) else X.copy()
    X[row, col] = value
    return X


# ---------------------------------------------------------------- bad X, y
X0, Y0 = _data()


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "X, error, problem, fix",
    [
        (_with(X0, 3, 1, np.nan), ValueError, "contains NaN", "imputer"),
        (_with(X0, 3, 1, np.inf), ValueError, "contains infinity", "StandardScaler"),
        (_with(X0, 3, 1, -np.inf), ValueError, "contains infinity", "drop"),
        (X0[:0], ValueError, "0 sample\\(s\\)", "minimum of 1 is required"),
        (X0[:, :0], ValueError, "0 feature\\(s\\)", "minimum of 1 is required"),
        (
            _with(X0, 0, 0, "red"),
            ValueError,
            "could not convert string to float: 'red'",
            "OneHotEncoder",
        ),
        (
            np.full((60, 6), "a"),
            ValueError,
            "could not convert string",
            "encode string or categorical columns",
        ),
        (
            _with(X0, 0, 0, {"a": 1}),
            TypeError,
            "argument must be a string or a real number",
            "OrdinalEncoder",
        ),
    ],
    ids=["nan", "inf", "-inf", "empty", "no-feature", "string", "strings", "dict"],
)
def test_bad_X_at_fit(Est, X, error, problem, fix):
    with pytest.raises(error, match=problem) as info:
        _fit(Est, X, Y0)
    assert fix in str(info.value)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bad_X_at_prediction(Est):
    X, y = _data()
    est = _fit(Est, X, y)
    methods = ["transform"] + {
        GSRAutoencoder: ["score"],
        GSRClassifier: ["predict", "predict_proba", "predict_log_proba", "score"],
        GSRRegressor: ["predict", "score"],
    }[Est]
    for name in methods:
        args = () if name != "score" or Est is GSRAutoencoder else (y,)
        method = getattr(est, name)
        with pytest.raises(ValueError, match="X has 4 features, but .* expecting 6"):
            method(X[:, :4], *args)
        with pytest.raises(ValueError, match="(?s)contains NaN.*imputer"):
            method(_with(X, 0, 0, np.nan), *args)
        with pytest.raises(ValueError, match="contains infinity.*drop those samples"):
            method(_with(X, 0, 0, np.inf), *args)
        with pytest.raises(ValueError, match="could not convert.*OneHotEncoder"):
            method(_with(X, 0, 0, "x"), *args)


def test_inverse_transform_checks_its_input():
    X, _ = _data()
    ae = _fit(GSRAutoencoder, X, None)
    Z = ae.transform(X)
    with pytest.raises(ValueError, match="expects 16 columns.*got 5"):
        ae.inverse_transform(Z[:, :5])
    with pytest.raises(ValueError, match="contains NaN"):
        ae.inverse_transform(_with(Z, 0, 0, np.nan))
    with pytest.raises(ValueError, match="contains infinity.*drop those samples"):
        ae.inverse_transform(_with(Z, 0, 0, np.inf))


@pytest.mark.parametrize("Est", [GSRClassifier, GSRRegressor])
def test_nan_in_y(Est):
    X, y = _data()
    y = y.astype(float)
    y[5] = np.nan
    with pytest.raises(ValueError, match="y contains NaN.*drop the samples"):
        _fit(Est, X, y)


def test_single_class():
    X, _ = _data()
    with pytest.raises(ValueError, match="only one class.*single class 'a'"):
        GSRClassifier(**SMALL).fit(X, np.full(len(X), "a"))
    with pytest.raises(ValueError, match="only one class.*single class 3.*two"):
        GSRClassifier(**SMALL).fit(X[:1], [3])


@pytest.mark.parametrize("Est", [GSRAutoencoder, GSRRegressor])
def test_one_sample_trains(Est):
    """One sample is enough for the unsupervised and the regression losses."""
    X, _ = _data()
    est = _fit(Est, X[:1], X[:1, 0])
    assert est.n_iter_ == 2 and np.all(np.isfinite(est.loss_curve_))
    Z = est.transform(X)
    assert Z.shape == (60, 16) and np.all(np.isfinite(Z))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_early_stopping_needs_a_training_and_a_validation_sample(Est):
    X, y = _data()
    if Est is not GSRClassifier:  # one class cannot train a classifier anyway
        with pytest.raises(ValueError, match="n_samples=1.*early_stopping=False"):
            _fit(Est, X[:1], X[:1, 0], early_stopping=True)
    with pytest.raises(
        ValueError, match="validation_fraction=0.99 .*n_samples=2.*at least 2 samples"
    ):
        _fit(Est, X[:2], y[:2], early_stopping=True, validation_fraction=0.99)
    if Est is GSRRegressor:
        # R^2 is undefined on one sample: two validation samples are needed
        with pytest.raises(
            ValueError, match="at least 2 validation samples \\(R\\^2 is undefined"
        ):
            _fit(Est, X[:10], y[:10], early_stopping=True)
        est = _fit(Est, X[:11], y[:11], early_stopping=True)
    else:
        est = _fit(Est, X[:2], y[:2], early_stopping=True)
    assert len(est.validation_scores_) == est.n_iter_ == 2
    assert np.isfinite(est.validation_scores_).all()


# ---------------------------------------------------------------- graphs
def _symmetric(n=16, seed=0):
    rng = np.random.RandomState(seed)
    A = np.triu(rng.rand(n, n), 1)
    return A + A.T


def _set(A, i, j, value, symmetric=True):
    A = A.copy()
    A[i, j] = value
    if symmetric:
        A[j, i] = value
    return A


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"graph": np.ones((16, 15))}, ValueError, "must be a square.*\\(16, 15\\)"),
        ({"graph": np.ones(16)}, ValueError, "square 2-D adjacency"),
        (
            {"graph": _set(_symmetric(), 0, 1, 5.0, symmetric=False)},
            ValueError,
            "not symmetric.*\\(A \\+ A.T\\) / 2",
        ),
        (
            {"graph": sp.csr_matrix(_set(_symmetric(), 0, 1, 5.0, symmetric=False))},
            ValueError,
            "not symmetric",
        ),
        (
            {"graph": _set(_symmetric(), 2, 3, -1.0)},
            ValueError,
            "negative edge weights.*non-negative",
        ),
        (
            {"graph": _set(_symmetric(), 2, 3, np.nan)},
            ValueError,
            "non-finite.*finite number >= 0",
        ),
        ({"graph": _set(_symmetric(), 2, 3, np.inf)}, ValueError, "non-finite"),
        ({"graph": _symmetric(15)}, ValueError, "15 nodes.*n_components=16.*match"),
        ({"graph": np.full((16, 16), "a")}, TypeError, "must be numeric"),
        ({"graph_shape": (3, 5)}, ValueError, "15 nodes but n_components=16"),
        ({"graph": "ring", "graph_shape": (4, 3)}, ValueError, "h \\* w must equal"),
        ({"n_components": 17}, ValueError, "17 is prime.*graph_shape=\\(h, w\\)"),
        ({"graph": "tree"}, ValueError, "2\\*\\*k - 1"),
        ({"graph": "ladder", "n_components": 15}, ValueError, "even number"),
    ],
    ids=[
        "not-square",
        "1d",
        "asymmetric",
        "asymmetric-sparse",
        "negative",
        "nan",
        "inf",
        "size",
        "strings",
        "grid-shape",
        "ring-shape",
        "prime",
        "tree",
        "ladder",
    ],
)
def test_invalid_graph(params, error, message):
    X, y = _data()
    with pytest.raises(error, match=message):
        _fit(GSRClassifier, X, y, **params)


def test_directed_networkx_graph():
    nx = pytest.importorskip("networkx")
    X, y = _data()
    with pytest.raises(ValueError, match="directed.*to_undirected"):
        _fit(GSRClassifier, X, y, graph=nx.DiGraph(nx.path_graph(16)))


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha": -1.0}, "'alpha' parameter .* range \\[0.0, inf\\). Got -1.0"),
        ({"alpha": np.nan}, "'alpha' parameter"),
        ({"filter": "smooth"}, "'filter' parameter .* among .*laplacian"),
        ({"graph": "hexagon"}, "'graph' parameter .* among .*grid"),
        ({"laplacian": "random-walk"}, "'laplacian' parameter"),
        ({"learning_rate_init": 0.0}, "'learning_rate_init' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must be positive"),
        ({"device": "gpu0"}, "Invalid device 'gpu0'.*'cpu', 'cuda'"),
        ({"head": "conv", "graph": "ring"}, "head='conv'.*graph='grid'.*head='dense'"),
    ],
)
def test_invalid_parameters(params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        _fit(GSRClassifier, X, y, **params)


@pytest.mark.parametrize("n_neighbors", [16, 40])
def test_learned_graph_neighbours_checked_before_training(n_neighbors, monkeypatch):
    """n_neighbors >= n_components fails at once, not graph_warmup epochs later."""

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(GSRAutoencoder, "_run_epoch", no_training)
    X, _ = _data()
    est = GSRAutoencoder(
        n_components=16, graph="learned", n_neighbors=n_neighbors, graph_warmup=10
    )
    with pytest.raises(
        ValueError,
        match=f"n_neighbors={n_neighbors} .* smaller than n_components=16.*at most 15",
    ):
        est.fit(X)


# ---------------------------------------------------------------- failed refits
def _snapshot(est, X):
    out = {"transform": est.transform(X)}
    if hasattr(est, "predict"):
        out["predict"] = est.predict(X)
    attrs = dict(vars(est))
    weights = {k: v.clone() for k, v in est.module_.state_dict().items()}
    return out, attrs, weights


def _assert_unchanged(est, X, snapshot):
    out, attrs, weights = snapshot
    for key, value in out.items():
        current = est.transform(X) if key == "transform" else est.predict(X)
        np.testing.assert_array_equal(current, value)
    fitted = {k for k in attrs if k.endswith("_") and not k.startswith("__")}
    for key in fitted:
        assert vars(est)[key] is attrs[key], key  # the very same objects
    assert {k for k in vars(est) if k.endswith("_")} == fitted
    for key, value in est.module_.state_dict().items():
        assert torch.equal(value, weights[key]), key


def _interrupt_first_batch(self, *args):
    raise KeyboardInterrupt


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "failure",
    [
        "nan-X",
        "strings",
        "bad-param",
        "bad-graph",
        "diverging",
        "diverging-warm-start",
        "interrupt",
        "partial-fit-features",
    ],
)
def test_failed_refit_keeps_the_previous_model(Est, failure, monkeypatch):
    X, y = _data()
    est = _fit(Est, X, y)
    before = _snapshot(est, X)
    X_new, params, error = X, {}, ValueError
    if failure == "nan-X":
        X_new = _with(X, 0, 0, np.nan)
    elif failure == "strings":
        X_new = _with(X, 0, 0, "x")
    elif failure == "bad-param":
        params = {"alpha": -1.0}
    elif failure == "bad-graph":
        params = {"graph": -_symmetric()}
    elif failure.startswith("diverging"):
        params = {"learning_rate_init": 1e12, "solver": "sgd"}
        params["warm_start"] = failure.endswith("warm-start")
        error = DivergenceError
    elif failure == "interrupt":
        monkeypatch.setattr(Est, "_train_step", _interrupt_first_batch)
        error = KeyboardInterrupt
    est.set_params(**params)
    with pytest.raises(error):
        if failure == "partial-fit-features":
            target = None if Est is GSRAutoencoder else y
            est.partial_fit(X[:, :3], target)
        elif Est is GSRAutoencoder:
            est.fit(X_new)
        else:
            est.fit(X_new, y)
    _assert_unchanged(est, X, before)


def test_warm_start_takes_the_current_learning_rate_and_solver():
    """A warm start keeps the optimizer's statistics, not its old settings."""
    X, _ = _data()
    ae = _fit(GSRAutoencoder, X, None, warm_start=True)
    moments = ae._optimizer_state["state"][0]["exp_avg"].clone()
    ae.set_params(learning_rate_init=0.05, weight_decay=0.01).fit(X)
    group = ae._optimizer_state["param_groups"][0]
    assert (group["lr"], group["weight_decay"]) == (0.05, 0.01)
    # Adam's moments were carried over: one more step moved them, not reset them
    assert not torch.equal(ae._optimizer_state["state"][0]["exp_avg"], moments)
    assert ae._optimizer_state["state"][0]["step"] == 2 * 2 * 1  # epochs x batches
    ae.set_params(solver="sgd").fit(X)  # Adam's state does not fit SGD: fresh start
    assert "momentum_buffer" in ae._optimizer_state["state"][0]
    assert ae.n_iter_ == 6


def test_failed_first_fit_leaves_the_estimator_unfitted():
    X, y = _data()
    est = GSRClassifier(**SMALL)
    with pytest.raises(ValueError):
        est.fit(_with(X, 0, 0, np.nan), y)
    with pytest.raises(ValueError):
        est.fit(X, np.zeros(len(X)))  # single class: classes_ must not stick
    assert not hasattr(est, "classes_") and not hasattr(est, "n_features_in_")
    with pytest.raises(NotFittedError):
        est.predict(X)


# ---------------------------------------------------------------- divergence
def _record_losses(monkeypatch, Est):
    losses = []
    original = Est._train_step

    def recording(self, *args):
        loss, task_loss, penalty = original(self, *args)
        losses.append(float(loss))
        return loss, task_loss, penalty

    monkeypatch.setattr(Est, "_train_step", recording)
    return losses


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("cause", ["learning-rate", "input-scale"])
def test_divergence_stops_at_once_and_keeps_nothing(Est, cause, monkeypatch):
    """A non-finite loss raises in the batch where it appears, naming the causes."""
    X, y = _data(n=200)
    params = {"max_iter": 50, "batch_size": 20, "random_state": 0}
    if cause == "learning-rate":
        params.update(learning_rate_init=1e10, solver="sgd")
    else:
        X = X * 1e30  # squares overflow float32
    losses = _record_losses(monkeypatch, Est)
    est = Est(**{**SMALL, **params})
    with pytest.raises(DivergenceError) as info:
        est.fit(X) if Est is GSRAutoencoder else est.fit(X, y)
    message = str(info.value)
    assert "non-finite" in message and "estimator was left unchanged" in message
    assert "learning rate too high" in message
    assert "learning_rate_init=" in message
    assert "StandardScaler" in message and "alpha" in message
    assert isinstance(info.value, FloatingPointError)
    # the first non-finite batch loss was the last batch trained
    finite = np.isfinite(losses)
    assert not finite[-1] and finite[:-1].all()
    assert not hasattr(est, "module_")
    with pytest.raises(NotFittedError):
        est.transform(X)


def test_huge_alpha_divergence_names_alpha(monkeypatch):
    X, _ = _data(n=100)
    est = GSRAutoencoder(**{**SMALL, "alpha": 1e38, "max_iter": 20})
    with pytest.raises(DivergenceError, match="alpha too large \\(alpha=1e\\+38\\)"):
        est.fit(X * 1e3)


@pytest.mark.parametrize("Est", [GSRRegressor, GSRAutoencoder])
def test_divergence_in_the_last_step_of_a_fit_is_caught(Est):
    """One batch, one epoch: the only optimizer step is followed by no training
    loss; the loss of a batch with the final weights shows the divergence."""
    X, _ = _data(n=60)
    est = Est(
        **{**SMALL, "max_iter": 1, "batch_size": 60},
        learning_rate_init=1e20,
        solver="sgd",
        random_state=0,
    )
    with pytest.raises(DivergenceError, match="after the last step in epoch 1"):
        est.fit(X) if Est is GSRAutoencoder else est.fit(X, X[:, 0])
    assert not hasattr(est, "module_")
    # a partial_fit that diverges so keeps the previous model, with finite outputs
    est = Est(**{**SMALL, "batch_size": 60}, random_state=0)
    est.partial_fit(X) if Est is GSRAutoencoder else est.partial_fit(X, X[:, 0])
    before = est.transform(X)
    est.set_params(learning_rate_init=1e20, solver="sgd")
    with pytest.raises(DivergenceError):
        est.partial_fit(X) if Est is GSRAutoencoder else est.partial_fit(X, X[:, 0])
    np.testing.assert_array_equal(est.transform(X), before)
    assert np.isfinite(before).all()


def test_partial_fit_divergence_keeps_the_previous_model():
    X, y = _data()
    reg = GSRRegressor(**SMALL, random_state=0).partial_fit(X, X[:, 0])
    reg.set_params(learning_rate_init=1e12, solver="sgd")
    for _ in range(20):
        before = _snapshot(reg, X)
        try:
            reg.partial_fit(X, X[:, 0])
        except DivergenceError:
            break
    else:
        pytest.fail("partial_fit did not diverge")
    _assert_unchanged(reg, X, before)
    assert all(torch.isfinite(p).all() for p in reg.module_.state_dict().values())


# ---------------------------------------------------------------- interruption
def test_interrupt_in_first_epoch_raises_and_keeps_nothing(monkeypatch):
    """With no finished epoch there is no model to keep: the interrupt propagates."""
    X, y = _data()
    monkeypatch.setattr(GSRClassifier, "_train_step", _interrupt_first_batch)
    est = GSRClassifier(**SMALL)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert not hasattr(est, "module_")


def test_interrupt_keeps_a_usable_model_of_finished_epochs(monkeypatch):
    X, y = _data(n=100)
    calls = {"n": 0}
    original = GSRAutoencoder._train_step

    def interrupting(self, *args):
        calls["n"] += 1
        if calls["n"] == 6:  # second batch of the third epoch (50 rows per batch)
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(GSRAutoencoder, "_train_step", interrupting)
    params = {**SMALL, "max_iter": 10, "batch_size": 50, "random_state": 0}
    with pytest.warns(UserWarning, match="interrupted during epoch 3.*2 epoch"):
        ae = GSRAutoencoder(**params).fit(X)
    monkeypatch.undo()
    assert ae.n_iter_ == 2 and len(ae.loss_curve_) == 2
    reference = GSRAutoencoder(**{**params, "max_iter": 2}).fit(X)
    np.testing.assert_array_equal(ae.transform(X), reference.transform(X))
    assert not ae.module_.training


@pytest.mark.parametrize("where", ["validation", "graph-rebuild"])
def test_interrupt_outside_the_batches_keeps_the_finished_epochs(where, monkeypatch):
    """Ctrl-C while the validation score or a learned graph is being computed
    (not inside a batch) also keeps the model of the last finished epoch."""
    X, y = _data(n=100)
    params = {**SMALL, "max_iter": 10, "batch_size": 50, "random_state": 0}
    calls = {"n": 0}
    if where == "validation":
        Est, hook = GSRClassifier, "_validation_score"
        params.update(early_stopping=True, n_iter_no_change=20)
    else:
        Est, hook = GSRAutoencoder, "_encode_sample"
        params.update(graph="learned", graph_warmup=0, graph_update_interval=1)
    original = getattr(Est, hook)

    def interrupting(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:  # during the third epoch
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Est, hook, interrupting)
    with pytest.warns(UserWarning, match="interrupted during epoch 3.*2 epoch"):
        est = Est(**params)
        est.fit(X) if Est is GSRAutoencoder else est.fit(X, y)
    monkeypatch.undo()
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    reference = Est(**{**params, "max_iter": 2})
    reference.fit(X) if Est is GSRAutoencoder else reference.fit(X, y)
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))


# ---------------------------------------------------------------- score weights
def test_autoencoder_score_checks_sample_weight():
    X, _ = _data()
    ae = _fit(GSRAutoencoder, X, None)
    errors = np.mean((ae.inverse_transform(ae.transform(X)) - X) ** 2, axis=1)
    weights = np.arange(len(X), dtype=float)
    assert ae.score(X, sample_weight=weights) == pytest.approx(
        -np.average(errors, weights=weights), rel=1e-5
    )
    with pytest.raises(ValueError, match="sample_weight.shape == \\(5,\\)"):
        ae.score(X, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="at least one non-zero"):
        ae.score(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="Negative values.*sample_weight"):
        ae.score(X, sample_weight=-np.ones(len(X)))


# ---------------------------------------------------------------- callable filters
BAD_RESPONSES = {
    "too-short": (lambda lam: lam[:-1], "returned an array of shape \\(\\d+,\\)"),
    "scalar": (lambda lam: 1.0, "returned an array of shape \\(\\)"),
    "2-D": (lambda lam: np.stack([lam, lam]), "returned an array of shape \\(2, "),
    "complex": (lambda lam: lam + 1j, "returned values of dtype complex128"),
    "nan": (lambda lam: np.where(lam > 1, np.nan, lam), "is not finite at the"),
    "inf": (lambda lam: np.full_like(lam, np.inf), "is not finite at the"),
}


@pytest.mark.parametrize("method", ["exact", "chebyshev"])
@pytest.mark.parametrize("bad", sorted(BAD_RESPONSES))
def test_callable_filter_response_is_checked_before_training(bad, method):
    """A response of the wrong shape, complex or not finite is refused naming the
    callable filter, not by torch or as a divergence blamed on the learning rate."""
    response, problem = BAD_RESPONSES[bad]
    Est = ESTIMATORS[sorted(BAD_RESPONSES).index(bad) % 3]
    X, y = _data()
    est = Est(**SMALL, filter=response, filter_method=method, random_state=0)
    with pytest.raises(ValueError, match=f"callable filter '<lambda>' {problem}"):
        est.fit(X) if Est is GSRAutoencoder else est.fit(X, y)
    assert not hasattr(est, "module_")


# ---------------------------------------------------------------- graph weights
@settings(max_examples=15, deadline=None)
@given(scale=st.floats(min_value=39.0, max_value=307.0))
def test_weights_beyond_float32_name_the_graph(scale):
    """Weights finite in float64 but beyond float32 overflow the penalty."""
    X, y = _data()
    A = _symmetric() * 10.0 ** (scale - 1)
    with pytest.raises(ValueError, match="^graph has weighted degrees .* float32"):
        _fit(GSRClassifier, X, y, graph=A)


def test_networkx_weights_must_be_numbers():
    nx = pytest.importorskip("networkx")
    X, y = _data()
    G = nx.path_graph(16)
    G.edges[3, 4]["weight"] = "heavy"
    with pytest.raises(TypeError, match="^graph .* edge \\(3, 4\\) .* weight 'heavy'"):
        _fit(GSRClassifier, X, y, graph=G)


@pytest.mark.parametrize("graph", ["line", "ring"])
def test_one_row_graphs_refuse_a_two_row_shape(graph):
    """graph_shape=(4, 4) was silently replaced by (1, 16)."""
    X, y = _data()
    with pytest.raises(ValueError, match=f"graph='{graph}' is one .* graph='{graph}s'"):
        _fit(GSRClassifier, X, y, graph=graph, graph_shape=(4, 4))
    est = _fit(GSRClassifier, X, y, graph=graph, graph_shape=(1, 16))
    assert est.graph_shape_ == (1, 16)


def test_filter_scale_of_strings_names_the_parameter():
    X, y = _data()
    with pytest.raises(ValueError, match="filter_scale.*got \\['a'\\]"):
        _fit(GSRClassifier, X, y, filter="heat", filter_scale=["a"])


def test_learned_graph_of_one_neuron_says_so():
    X, _ = _data()
    with pytest.raises(ValueError, match="n_components >= 2"):
        GSRAutoencoder(n_components=1, graph="learned", max_iter=1).fit(X)


# ---------------------------------------------------------------- warm starts
@pytest.mark.parametrize(
    "Est, refit, match",
    [
        (GSRClassifier, lambda X, y: (X, np.where(y == 1, 0, y)), "classes \\[0, 2\\]"),
        (GSRClassifier, lambda X, y: (X, y + 5), "fitted on \\[0, 1, 2\\]"),
        (GSRClassifier, lambda X, y: (X[:, :3], y), "X has 3 features .* on 5"),
        (GSRRegressor, lambda X, y: (X, np.c_[y, y]), "2 target\\(s\\) .* on 1"),
        (GSRAutoencoder, lambda X, y: (X[:, :3], None), "X has 3 features"),
    ],
)
def test_warm_start_refuses_another_problem(Est, refit, match):
    """A warm refit on other classes, targets or features is an error that says
    what changed, and the fitted model survives it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    y = np.arange(60) % 3
    target = y.astype(float) if Est is GSRRegressor else y
    est = Est(n_components=4, max_iter=2, warm_start=True, random_state=0)
    est.fit(X, None if Est is GSRAutoencoder else target)
    before = est.transform(X)
    X2, y2 = refit(X, target)
    with pytest.raises(ValueError, match=f"{match}.*warm_start=False"):
        est.fit(X2, y2) if y2 is not None else est.fit(X2)
    np.testing.assert_array_equal(est.transform(X), before)


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_layer_sizes": (7,)},
        {"activation": "tanh"},
        {"embedding_activation": "relu"},
        {"n_components": 6},
    ],
)
def test_warm_start_refuses_a_changed_architecture(change):
    X = np.random.RandomState(0).normal(size=(40, 5))
    ae = GSRAutoencoder(n_components=4, max_iter=2, warm_start=True, random_state=0)
    ae.fit(X)
    ae.set_params(**change)
    (name,) = change
    with pytest.raises(ValueError, match=f"{name}=.* -> .*warm_start=False"):
        ae.fit(X)
    with pytest.raises(ValueError, match=f"{name}="):
        ae.partial_fit(X)


# ------------------------------------------------------------ float32 and weights
def test_values_beyond_float32_are_refused_everywhere():
    X, y = _data()
    huge = X.copy()
    huge[0, 0] = 1e39  # finite in float64, inf in float32
    for Est in (GSRClassifier, GSRRegressor, GSRAutoencoder):
        target = y.astype(float) if Est is GSRRegressor else y
        with pytest.raises(ValueError, match="beyond float32's range.*Scale"):
            Est(**SMALL).fit(huge, None if Est is GSRAutoencoder else target)
    clf = _fit(GSRClassifier, X, y)
    for method in (clf.predict, clf.predict_proba, clf.transform):
        with pytest.raises(ValueError, match="beyond float32's range"):
            method(huge)
    with pytest.raises(ValueError, match="y has values beyond float32's range"):
        GSRRegressor(**SMALL).fit(X, np.r_[1e39, y[1:].astype(float)])
    ae = _fit(GSRAutoencoder, X, None)
    with pytest.raises(ValueError, match="beyond float32's range"):
        ae.inverse_transform(np.full((2, ae.n_components), 1e39))


def test_negative_or_all_zero_sample_weights_are_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="[Nn]egative"):
        GSRClassifier(**SMALL).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        GSRClassifier(**SMALL).fit(X, y, sample_weight=np.zeros(len(y)))


def test_zero_weight_minibatches_are_skipped_not_a_divergence():
    """Weights that are zero over a whole minibatch train nothing (they used to
    give 0/0 = NaN and a DivergenceError blaming the learning rate)."""
    X, y = _data(n=100)
    weights = np.r_[np.zeros(50), np.ones(50)]
    # no shuffle between the halves would matter: batches of 10 often hold only
    # zero weights
    clf = GSRClassifier(**{**SMALL, "batch_size": 10, "max_iter": 3})
    clf.fit(X, y, sample_weight=weights)
    assert np.isfinite(clf.loss_curve_).all()


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_devices_that_are_not_there_are_refused_clearly(device):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    X, y = _data()
    with pytest.raises(ValueError, match=f"device='{device}'"):
        GSRClassifier(**SMALL, device=device).fit(X, y)


def test_a_second_concurrent_fit_of_one_estimator_fails_loudly(monkeypatch):
    """Two threads fitting one estimator object would interleave its state: the
    second one is refused while the first keeps training."""
    import threading

    X, y = _data()
    clf = GSRClassifier(**{**SMALL, "max_iter": 3})
    inside, release = threading.Event(), threading.Event()
    original = GSRClassifier._train

    def slow_train(self, *args):
        inside.set()
        release.wait(30)
        return original(self, *args)

    monkeypatch.setattr(GSRClassifier, "_train", slow_train)
    worker = threading.Thread(target=clf.fit, args=(X, y))
    worker.start()
    try:
        assert inside.wait(30)
        with pytest.raises(RuntimeError, match="being fitted in another thread"):
            clf.fit(X, y)
        with pytest.raises(RuntimeError, match="being fitted in another thread"):
            clf.partial_fit(X, y, classes=np.unique(y))
    finally:
        release.set()
        worker.join(60)
    assert clf.n_features_in_ == X.shape[1] and clf.predict(X).shape == y.shape
    clf.fit(X, y)  # free again
