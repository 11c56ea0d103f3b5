"""Parallel and distributed search, and inference from several threads at once."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from torch import nn

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr import _torch_utils as base

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_JOBS = 2


# ------------------------------------------------------------------ helpers
# Module level, so that worker processes can unpickle them.
class ThreadRecordingClassifier(GSRClassifier):
    """Records ``torch.get_num_threads()`` in every training step.

    Before fitting it raises torch's thread count to every core, as in a worker
    where torch was initialised before the backend exported its thread limit:
    the bound seen during training must then come from skgsr itself.
    """

    def fit(self, X, y, sample_weight=None):
        torch.set_num_threads(joblib.cpu_count())
        self.threads_in_fit_ = []
        return super().fit(X, y, sample_weight)

    def _train_step(self, state, xb, tb, wb):
        self.threads_in_fit_.append(torch.get_num_threads())
        return super()._train_step(state, xb, tb, wb)


def _accuracy(estimator, X, y):
    return estimator.score(X, y)


def _max_threads(estimator, X, y):
    return max(estimator.threads_in_fit_)


def _worker_pid(estimator, X, y):
    return os.getpid()


def _worker_omp(estimator, X, y):
    return int(os.environ.get("OMP_NUM_THREADS", "0"))


SCORING = {
    "accuracy": _accuracy,
    "threads": _max_threads,
    "pid": _worker_pid,
    "omp": _worker_omp,
}


def _search(n_jobs):
    X, y = load_digits(return_X_y=True)
    X, y = (X[:240] / 16.0).astype(np.float32), y[:240]
    search = GridSearchCV(
        ThreadRecordingClassifier(
            n_components=16, hidden_layer_sizes=(16,), max_iter=3, random_state=0
        ),
        {"alpha": [0.0, 0.1], "graph": ["grid", "ring"]},
        cv=2,
        scoring=SCORING,
        refit="accuracy",
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


@pytest.fixture(scope="module")
def serial_search():
    previous = torch.get_num_threads()
    # in this process the fit sees min(every core, this process's own limit)
    expected_threads = min(joblib.cpu_count(), base.thread_limit())
    try:
        return _search(n_jobs=None), expected_threads
    finally:
        torch.set_num_threads(previous)


def _check_parallel_search(search, serial_search, bound):
    serial, _ = serial_search
    results, expected = search.cv_results_, serial.cv_results_
    assert results["params"] == expected["params"]
    for split in ("split0_test_accuracy", "split1_test_accuracy"):
        np.testing.assert_array_equal(results[split], expected[split])
    assert search.best_params_ == serial.best_params_
    # the fits ran in other processes, each bounded to its share of the cores
    pids = {results[f"split{i}_test_pid"][j] for i in range(2) for j in range(4)}
    assert os.getpid() not in pids
    for i in range(2):
        assert np.all(results[f"split{i}_test_threads"] <= bound)
        assert np.all(results[f"split{i}_test_omp"] == bound)


@pytest.fixture
def no_inherited_thread_limit():
    """Workers must get their thread limit from the backend, not from us.

    The environment is restored afterwards as a whole: starting a dask
    ``LocalCluster`` also exports ``OMP_NUM_THREADS=1`` (and MKL's and
    OpenBLAS's variables) into this process, and leaves them there.
    """
    saved = dict(os.environ)
    os.environ.pop("OMP_NUM_THREADS", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ------------------------------------------------------------------ searches
@pytest.mark.timeout(300)
def test_gridsearch_on_loky_matches_serial(serial_search, no_inherited_thread_limit):
    with joblib.parallel_backend("loky", n_jobs=N_JOBS):
        search = _search(n_jobs=N_JOBS)
    # loky gives each worker its share of the cores
    _check_parallel_search(search, serial_search, max(1, joblib.cpu_count() // N_JOBS))


@pytest.mark.timeout(300)
def test_gridsearch_on_dask_distributed_matches_serial(
    serial_search, no_inherited_thread_limit
):
    distributed = pytest.importorskip("distributed")
    import dask

    cluster = client = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=N_JOBS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster, timeout=60)
        with joblib.parallel_backend("dask"):
            search = _search(n_jobs=N_JOBS)
        workers = set(client.run(os.getpid).values())
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close(timeout=30)
    # dask's nannies export OMP_NUM_THREADS for their workers (1 by default,
    # whatever the core count)
    environ = dask.config.get("distributed.nanny.pre-spawn-environ")
    _check_parallel_search(search, serial_search, int(environ["OMP_NUM_THREADS"]))
    assert set(search.cv_results_["split0_test_pid"]) <= workers


def test_serial_search_records_threads(serial_search):
    """The spy works: in this process it sees this process's own limit."""
    search, expected_threads = serial_search
    for i in range(2):
        assert np.all(search.cv_results_[f"split{i}_test_threads"] == expected_threads)
        assert np.all(search.cv_results_[f"split{i}_test_pid"] == os.getpid())


# ------------------------------------------------------------------ threads
class DropoutClassifier(GSRClassifier):
    """A head with dropout: outputs are random whenever the module is in train mode."""

    def _build_head(self, n_features, n_outputs, graph_shape):
        return nn.Sequential(
            nn.Dropout(0.5), super()._build_head(n_features, n_outputs, graph_shape)
        )


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    params = {"n_components": 16, "hidden_layer_sizes": (16,), "random_state": 0}
    return X, {
        "autoencoder": GSRAutoencoder(max_iter=3, **params).fit(X[:300]),
        "classifier": DropoutClassifier(max_iter=3, **params).fit(X[:300], y[:300]),
        "regressor": GSRRegressor(max_iter=3, **params).fit(X[:300], y[:300] / 10),
    }


def _inference(estimator, X):
    out = [estimator.transform(X)]
    if isinstance(estimator, GSRAutoencoder):
        out += [estimator.inverse_transform(out[0]), estimator.score(X)]
    else:
        out.append(estimator.predict(X))
    if isinstance(estimator, GSRClassifier):
        out.append(estimator.predict_proba(X))
    return out


def _state(estimator):
    return estimator.module_.training, {
        k: v.clone() for k, v in estimator.module_.state_dict().items()
    }


def test_inference_does_not_modify_the_estimator(fitted):
    X, estimators = fitted
    for estimator in estimators.values():
        training, weights = _state(estimator)
        assert not training
        _inference(estimator, X[:50])
        assert not estimator.module_.training
        for key, value in estimator.module_.state_dict().items():
            assert torch.equal(value, weights[key])


def test_concurrent_inference_matches_serial(fitted):
    """8 threads x 12 calls on three shared estimators give the serial results."""
    X, estimators = fitted
    expected = {name: _inference(est, X) for name, est in estimators.items()}
    jobs = [name for name in estimators for _ in range(12)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda name: _inference(estimators[name], X), jobs))
    for name, result in zip(jobs, results, strict=True):
        for got, want in zip(result, expected[name], strict=True):
            np.testing.assert_array_equal(got, want)
    for estimator in estimators.values():
        assert not estimator.module_.training


def test_predictions_during_a_warm_start_fit_are_never_torn(fitted):
    """While one thread refits, predictions are the old model's or the new one's."""
    X, estimators = fitted
    y = load_digits().target
    clf = estimators["classifier"].__class__(**estimators["classifier"].get_params())
    clf.set_params(warm_start=True, max_iter=2).fit(X[:300], y[:300])
    before = clf.predict_proba(X[:200])
    done = threading.Event()
    seen = []

    def refit():
        try:
            clf.fit(X[:300], y[:300])
        finally:
            done.set()

    trainer = threading.Thread(target=refit)
    trainer.start()
    while not done.is_set():
        seen.append(clf.predict_proba(X[:200]))
    trainer.join()
    after = clf.predict_proba(X[:200])
    assert not np.array_equal(before, after)
    for proba in seen:
        assert np.array_equal(proba, before) or np.array_equal(proba, after)


def test_torch_threads_restores_the_setting_under_overlap(monkeypatch):
    """Overlapping calls leave torch's thread count as they found it.

    Simulates torch's process-wide setting (its native thread pool) and forces
    the interleaving: A enters, B enters, A leaves, B leaves. A version that
    restores whatever it saw on entry leaves the process at 1 thread for good.
    """
    setting = {"threads": 4}
    monkeypatch.setattr(torch, "get_num_threads", lambda: setting["threads"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: setting.update(threads=n))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    a_entered, b_entered, a_left = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    inside = []

    def a():
        with base.torch_threads():
            inside.append(("a", setting["threads"]))
            a_entered.set()
            b_entered.wait(10)
        a_left.set()

    def b():
        a_entered.wait(10)
        with base.torch_threads():
            inside.append(("b", setting["threads"]))
            b_entered.set()
            a_left.wait(10)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(inside) == [("a", 1), ("b", 1)]
    assert setting["threads"] == 4


def test_concurrent_inference_leaves_torch_threads_alone(fitted, monkeypatch):
    """With a limit below torch's setting, threads predicting restore it."""
    X, estimators = fitted
    previous = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(2)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: estimators["regressor"].predict(X), range(16)))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
