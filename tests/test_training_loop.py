"""The training loop's bookkeeping: what the speed-ups must not change."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr._torch_utils import fused_optimizer_kwargs
from skgsr._training import (
    MONITORED_BATCHES,
    MONITORED_VALUES,
    Batches,
    LossMeter,
    PenaltyMonitor,
    monitored_every,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300]


def _batches(seed=0, n_batches=7):
    rng = np.random.default_rng(seed)
    sizes = [32] * (n_batches - 1) + [17]
    values = rng.normal(size=(n_batches, 3)) ** 2
    return values, sizes


@pytest.mark.parametrize("with_penalty", [True, False])
def test_loss_meter_eager_and_deferred_agree(with_penalty):
    values, sizes = _batches()
    eager, deferred = LossMeter(eager=True), LossMeter(eager=False)
    for (loss, task, penalty), n in zip(values, sizes, strict=True):
        args = [torch.tensor(loss), torch.tensor(task)]
        args.append(torch.tensor(penalty) if with_penalty else None)
        assert eager.add(*args, n) == pytest.approx(loss)
        assert deferred.add(*args, n) is None
    expected = (np.asarray(sizes) @ values) / sum(sizes)
    if not with_penalty:
        expected[2] = 0.0
    np.testing.assert_allclose(eager.means(sum(sizes)), expected, rtol=1e-6)
    np.testing.assert_allclose(deferred.means(sum(sizes)), expected, rtol=1e-6)


def test_loss_meter_deferred_reports_a_non_finite_epoch():
    meter = LossMeter(eager=False)
    meter.add(torch.tensor(1.0), torch.tensor(1.0), None, 10)
    meter.add(torch.tensor(float("nan")), torch.tensor(1.0), None, 10)
    assert np.isnan(meter.means(20)[0])


def test_epoch_loss_is_the_sample_mean_of_the_batch_losses(digits, monkeypatch):
    """``loss_curve_`` holds each epoch's mean over samples, the last batch
    counting for its (smaller) size."""
    X, y = digits
    Est = GSRClassifier
    seen = []
    original = Est._train_step

    def recording(self, state, xb, tb, wb):
        out = original(self, state, xb, tb, wb)
        seen.append((float(out[0]), float(out[1]), float(out[2]), len(xb)))
        return out

    monkeypatch.setattr(Est, "_train_step", recording)
    est = Est(max_iter=1, batch_size=64, alpha=0.1, random_state=0).fit(X, y)
    values = np.array([s[:3] for s in seen])
    sizes = np.array([s[3] for s in seen])
    assert sizes.tolist() == [64, 64, 64, 64, 44]
    expected = sizes @ values / sizes.sum()
    assert est.loss_curve_[0] == pytest.approx(expected[0], rel=1e-6)
    assert est.penalty_curve_[0] == pytest.approx(expected[2], rel=1e-6)
    assert est.history_[0]["task_loss"] == pytest.approx(expected[1], rel=1e-6)
    # the objective is the task loss plus alpha times the penalty, batch by batch
    np.testing.assert_allclose(
        values[:, 0], values[:, 1] + 0.1 * values[:, 2], rtol=1e-5
    )


@pytest.mark.parametrize(
    "Est, target",
    [
        (GSRClassifier, lambda y: y),
        (GSRRegressor, lambda y: np.c_[y, -y].astype(np.float32)),
        (GSRAutoencoder, lambda y: None),
    ],
)
def test_fused_mean_task_loss_equals_mean_of_per_sample_loss(digits, Est, target):
    X, y = digits
    est = Est(max_iter=1, random_state=0).fit(X, target(y))
    module = est.module_
    xb = torch.from_numpy(X[:50])
    with torch.no_grad():
        output, _ = module(xb)
    tb = None
    if Est is GSRClassifier:
        tb = torch.as_tensor(est._encode_targets(y[:50], incremental=True))
    elif Est is GSRRegressor:
        tb = torch.from_numpy(target(y)[:50])
    fused = est._mean_task_loss(output, tb, xb)
    assert fused.shape == ()
    assert float(fused) == pytest.approx(
        float(est._task_loss(output, tb, xb).mean()), rel=1e-6
    )


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_optimizer_uses_fused_kernels_where_torch_has_them(digits, solver):
    X, y = digits
    est = GSRClassifier(max_iter=2, solver=solver, random_state=0).fit(X, y)
    fused = bool(fused_optimizer_kwargs(torch.device("cpu")))
    optimizer = est._make_optimizer(est.module_)
    assert bool(optimizer.param_groups[0].get("fused")) == fused
    # the same seeds give the same model: fused steps are deterministic
    again = GSRClassifier(max_iter=2, solver=solver, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.transform(X), again.transform(X))
    assert est.loss_curve_ == again.loss_curve_


def test_alpha_zero_measures_the_penalty_without_training_on_it(digits):
    X, y = digits
    measured = GSRClassifier(alpha=0.0, max_iter=2, random_state=0).fit(X, y)
    assert all(np.isfinite(measured.penalty_curve_))
    assert all(p > 0 for p in measured.penalty_curve_)
    # with alpha = 0 the objective is the task loss alone
    for record in measured.history_:
        assert record["loss"] == pytest.approx(record["task_loss"], rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_values", [1, 64 * 50, 1 << 20])
@pytest.mark.parametrize("every", [1, 2, 3])
def test_penalty_monitor_equals_the_per_batch_penalty(weighted, max_values, every):
    """Gathering batches before measuring (alpha=0) changes nothing but the cost;
    ``every`` measures the first batch and every ``every``-th after it."""
    from skgsr.graphs import make_graph
    from skgsr.penalty import GraphPenalty

    penalty = GraphPenalty(make_graph("grid", (8, 8)))
    rng = np.random.default_rng(0)
    monitor = PenaltyMonitor(penalty, max_values=max_values, every=every)
    total, count = 0.0, 0
    for i, n in enumerate([32, 32, 32, 7, 20]):
        z = torch.from_numpy(rng.normal(size=(n, 64)).astype(np.float32))
        w = torch.from_numpy(rng.uniform(0.1, 2, n).astype(np.float32))
        w = w if weighted else None
        monitor.add(z, w)
        if i % every == 0:
            total += n * float(penalty(z, w))
            count += n
    assert monitor.result() == pytest.approx(total / count, rel=1e-5)


def test_monitor_of_nothing_is_nan():
    from skgsr.graphs import make_graph
    from skgsr.penalty import GraphPenalty

    assert np.isnan(PenaltyMonitor(GraphPenalty(make_graph("line", 4))).result())


def _recorded_alpha_zero_fit(X, y, monkeypatch, **params):
    """An alpha=0 fit of one epoch, with each batch's penalty recorded."""
    batches = []
    original = GSRClassifier._train_step

    def recording(self, state, xb, tb, wb):
        with torch.no_grad():
            z = state.module.embed(xb)
            batches.append((float(state.regularizer.penalty_(z)), len(xb)))
        return original(self, state, xb, tb, wb)

    monkeypatch.setattr(GSRClassifier, "_train_step", recording)
    est = GSRClassifier(alpha=0.0, max_iter=1, random_state=0, **params).fit(X, y)
    values, sizes = np.array(batches).T
    return est, values, sizes


def test_alpha_zero_penalty_curve_is_the_epoch_mean_of_few_batches(digits, monkeypatch):
    X, y = digits
    # at most MONITORED_BATCHES batches: every one is measured
    est, values, sizes = _recorded_alpha_zero_fit(X, y, monkeypatch, batch_size=64)
    assert len(values) <= MONITORED_BATCHES
    assert est.penalty_curve_[0] == pytest.approx(values @ sizes / sizes.sum(), 1e-5)


def test_alpha_zero_penalty_curve_samples_the_batches_of_a_long_epoch(
    digits, monkeypatch
):
    X, y = digits
    est, values, sizes = _recorded_alpha_zero_fit(X, y, monkeypatch, batch_size=10)
    n_batches = len(values)  # 30
    every = n_batches // MONITORED_BATCHES
    assert every > 1
    sampled = slice(None, None, every)
    expected = values[sampled] @ sizes[sampled] / sizes[sampled].sum()
    assert est.penalty_curve_[0] == pytest.approx(expected, 1e-5)
    # the first batch and every `every`-th: about MONITORED_BATCHES of them
    assert MONITORED_BATCHES <= len(values[sampled]) < 2 * MONITORED_BATCHES
    assert est.penalty_curve_[0] != pytest.approx(values @ sizes / sizes.sum(), 1e-7)


def test_monitored_every_keeps_a_wide_layer_to_its_budget():
    # a narrow layer: about MONITORED_BATCHES batches, all when there are fewer
    assert monitored_every(90, 200 * 64) == 90 // MONITORED_BATCHES
    assert monitored_every(5, 200 * 64) == 1
    # a wide one: as many batches as MONITORED_VALUES activations allow ...
    assert monitored_every(90, MONITORED_VALUES // 3) == 30
    # ... and at least one, however wide
    assert monitored_every(90, 200 * 16384) == 90
    assert monitored_every(90, 4 * MONITORED_VALUES) == 90
    assert monitored_every(1, 4 * MONITORED_VALUES) == 1


def test_alpha_zero_penalty_curve_of_a_wide_layer_measures_fewer_batches(
    digits, monkeypatch
):
    import skgsr._training

    X, y = digits
    width = 16  # n_components below: the structured layer
    # room for 3 batches of 10 rows (of the 30 an epoch has)
    monkeypatch.setattr(skgsr._training, "MONITORED_VALUES", 3 * 10 * width)
    est, values, sizes = _recorded_alpha_zero_fit(
        X, y, monkeypatch, batch_size=10, n_components=width
    )
    assert est.feature_graph_.shape == (width, width)
    n_batches = len(values)  # 30
    sampled = slice(None, None, n_batches // 3)
    assert len(values[sampled]) == 3
    expected = values[sampled] @ sizes[sampled] / sizes[sampled].sum()
    assert est.penalty_curve_[0] == pytest.approx(expected, 1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_batches_over_selected_rows_match_the_copied_rows(sparse):
    """Early stopping trains on a row selection of X instead of a copy of it."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    X[X < 0.5] = 0.0
    rows = rng.permutation(50)[:37]
    source = sp.csr_array(X) if sparse else X
    selected = Batches(source, torch.device("cpu"), rows=rows)
    copied = Batches(source[rows], torch.device("cpu"))
    assert selected.n_samples == copied.n_samples == 37
    index = torch.tensor([3, 0, 36, 5])
    np.testing.assert_array_equal(selected.take(index), copied.take(index))
    np.testing.assert_array_equal(
        torch.cat(list(selected.slices(8))), torch.cat(list(copied.slices(8)))
    )
    np.testing.assert_array_equal(torch.cat(list(selected.slices(8))), X[rows])


def test_early_stopping_does_not_copy_the_training_rows(digits, monkeypatch):
    X, y = digits
    X = np.ascontiguousarray(X)
    seen = []
    original = Batches.__init__

    def spy(self, data, device, rows=None):
        seen.append((data, rows))
        original(self, data, device, rows=rows)

    monkeypatch.setattr(Batches, "__init__", spy)
    GSRClassifier(early_stopping=True, max_iter=2, random_state=0).fit(X, y)
    (data, rows), *_ = seen
    assert data is X and len(rows) == 270  # the float32 input itself, 90% of rows


def test_warnings_point_at_the_callers_line(digits):
    """A fit's warnings name the line that called fit, directly, through a
    Pipeline or a grid search, never a line inside skgsr or scikit-learn."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    clf = GSRClassifier(max_iter=1, random_state=0)
    for fit in (
        lambda: clf.fit(X, y),
        lambda: make_pipeline(StandardScaler(), clf).fit(X, y),
        lambda: GridSearchCV(clf, {"alpha": [0.0]}, cv=2).fit(X, y),
    ):
        with pytest.warns(ConvergenceWarning) as record:
            fit()
        assert {w.filename for w in record} == {__file__}


def test_inactive_neurons_are_not_reported_when_alpha_is_zero(digits):
    X, _ = digits
    params = dict(
        n_components=16,
        graph="learned",
        graph_warmup=0,
        max_iter=2,
        embedding_activation="relu",
        random_state=0,
    )
    # a layer of ReLUs with a large negative bias: dead neurons
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ae = GSRAutoencoder(alpha=0.0, **params).fit(X - 100.0)
    assert ae.inactive_neurons_.size > 0
    assert not [w for w in record if "did not vary" in str(w.message)]
    with pytest.warns(UserWarning, match="did not vary"):
        GSRAutoencoder(alpha=1e-3, **params).fit(X - 100.0)


@pytest.mark.parametrize("scale_alpha", [True, False])
def test_loss_is_task_loss_plus_alpha_times_scale_times_penalty(digits, scale_alpha):
    X, _ = digits
    ae = GSRAutoencoder(
        n_components=16, alpha=0.5, scale_alpha=scale_alpha, max_iter=3, random_state=0
    ).fit(X)
    # the unit: the MSE of predicting each feature's mean
    assert ae.loss_scale_ == pytest.approx(np.var(X, axis=0).mean(), rel=1e-5)
    weight = 0.5 * (ae.loss_scale_ if scale_alpha else 1.0)
    for record in ae.history_:
        expected = record["task_loss"] + weight * record["penalty"]
        assert record["loss"] == pytest.approx(expected, rel=1e-5)


def test_loss_scale_of_each_estimator(digits):
    X, y = digits
    w = np.random.RandomState(0).rand(len(y))
    reg = GSRRegressor(n_components=4, max_iter=1).fit(X, y * 10.0, sample_weight=w)
    mean = np.average(y * 10.0, weights=w)
    expected = np.average((y * 10.0 - mean) ** 2, weights=w)
    assert reg.loss_scale_ == pytest.approx(expected, rel=1e-5)
    assert GSRClassifier(n_components=4, max_iter=1).fit(X, y).loss_scale_ == 1.0
    import scipy.sparse as sp

    sparse = GSRAutoencoder(n_components=4, max_iter=1).fit(sp.csr_matrix(X))
    assert sparse.loss_scale_ == pytest.approx(np.var(X, axis=0).mean(), rel=1e-5)


def test_partial_fit_keeps_the_unit_of_its_first_call(digits):
    X, _ = digits
    ae = GSRAutoencoder(n_components=4)
    ae.partial_fit(X)
    first = ae.loss_scale_
    ae.partial_fit(X * 3.0)
    assert ae.loss_scale_ == first


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("selected", [False, True])
def test_shuffled_batches_are_the_rows_of_each_slice(sparse, selected, monkeypatch):
    """Batches.shuffled gathers by blocks: the same rows as take() of each slice."""
    import scipy.sparse as sp

    from skgsr import _training

    monkeypatch.setattr(_training, "BLOCK_BYTES", 3 * 8 * 6 * 4)  # 3 batches a block
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    X[X < 0.3] = 0.0
    rows = rng.permutation(60)[:53] if selected else None
    data = Batches(sp.csr_array(X) if sparse else X, torch.device("cpu"), rows=rows)
    order = torch.randperm(data.n_samples, generator=torch.Generator().manual_seed(0))
    batches = list(data.shuffled(order, 8))
    n = data.n_samples
    assert [len(index) for index, _ in batches] == [8] * (n // 8) + [n % 8]
    for k, (index, rows_k) in enumerate(batches):
        np.testing.assert_array_equal(index, order[8 * k : 8 * k + 8])
        np.testing.assert_array_equal(rows_k, data.take(index))


@pytest.mark.parametrize("alpha", [0.0, 1e-3])
def test_fixed_random_state_gives_identical_fits(digits, alpha):
    X, y = digits
    params = dict(hidden_layer_sizes=(32,), n_components=16, alpha=alpha, max_iter=3)
    fits = [
        GSRClassifier(**params, random_state=4, device="cpu").fit(X, y)
        for _ in range(2)
    ]
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    assert fits[0].penalty_curve_ == fits[1].penalty_curve_
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    other = GSRClassifier(**params, random_state=5, device="cpu").fit(X, y)
    assert other.loss_curve_ != fits[0].loss_curve_


def _compile_works():
    try:
        module = torch.compile(torch.nn.Linear(2, 1))
        module(torch.ones(1, 2)).sum().backward()
    except Exception:  # no C++ compiler, unsupported platform...
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.0, 1e-3])
def test_compile_fits_and_predicts_like_the_plain_network(digits, alpha):
    """compile=True: the same training up to float32 rounding (other op order)."""
    if not hasattr(torch, "compile") or not _compile_works():
        pytest.skip("torch.compile does not work here")
    X, y = digits
    params = dict(hidden_layer_sizes=(32,), n_components=16, alpha=alpha, max_iter=2)
    plain = GSRClassifier(**params, random_state=0, device="cpu").fit(X, y)
    compiled = GSRClassifier(**params, random_state=0, device="cpu", compile=True)
    compiled.fit(X, y)
    np.testing.assert_allclose(compiled.loss_curve_, plain.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(
        compiled.predict_proba(X), plain.predict_proba(X), atol=1e-4
    )
    assert compiled.get_params()["compile"] is True


def test_compile_is_validated(digits):
    X, y = digits
    with pytest.raises(ValueError, match="compile"):
        GSRClassifier(compile="yes", max_iter=1).fit(X, y)
