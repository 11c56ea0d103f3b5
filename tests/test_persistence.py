"""Pickle, joblib and the safe file format (``skgsr.save`` / ``skgsr.load``)."""

import io
import json
import math
import os
import pathlib
import pickle
import zipfile

import joblib
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

import skgsr
from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr import _base as base
from skgsr import _persistence as persistence
from skgsr.penalty import GraphPenalty

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [GSRAutoencoder, GSRClassifier, GSRRegressor]
SMALL = {"n_components": 16, "hidden_layer_sizes": (16,), "max_iter": 3}


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = (X[:200] / 16.0).astype(np.float32)
    labels = np.array(["zero", "one", "two"])[y[:200] % 3]
    return X, labels, X[:, :2] @ np.array([1.0, -2.0]).astype(np.float32)


def _fit(Est, data, **params):
    X, labels, target = data
    est = Est(**{**SMALL, "random_state": 0, **params})
    if Est is GSRClassifier:
        return est.fit(X, labels)
    if Est is GSRRegressor:
        return est.fit(X, target)
    return est.fit(X)


def _outputs(est, X):
    """Everything the estimator computes from X."""
    out = {"transform": est.transform(X)}
    if isinstance(est, GSRAutoencoder):
        out["inverse_transform"] = est.inverse_transform(out["transform"])
        out["score"] = est.score(X)
    if isinstance(est, GSRClassifier):
        out["predict_proba"] = est.predict_proba(X)
        out["predict"] = est.predict(X)
    if isinstance(est, GSRRegressor):
        out["predict"] = est.predict(X)
    return out


def _assert_same_outputs(a, b, X):
    out_a, out_b = _outputs(a, X), _outputs(b, X)
    assert out_a.keys() == out_b.keys()
    for key in out_a:
        np.testing.assert_array_equal(out_a[key], out_b[key], err_msg=key)


def _assert_same(a, b, where="value"):
    """Deep equality of fitted attributes and parameters (NaN == NaN)."""
    if isinstance(a, torch.nn.Module):
        assert type(a) is type(b), where
        named_a = dict(a.named_parameters()) | dict(a.named_buffers())
        named_b = dict(b.named_parameters()) | dict(b.named_buffers())
        assert named_a.keys() == named_b.keys(), where
        for key in named_a:
            torch.testing.assert_close(
                named_a[key], named_b[key], rtol=0, atol=0, msg=f"{where}.{key}"
            )
        if isinstance(a, GraphPenalty):
            settings = ("method_", "lmax", "n_nodes", "center", "laplacian", "order")
            for name in settings + ("filter", "scale"):
                assert getattr(a, name) == getattr(b, name), f"{where}.{name}"
        return
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=where)
    elif sp.issparse(a):
        assert type(a) is type(b), where
        np.testing.assert_array_equal(a.toarray(), b.toarray(), err_msg=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    elif isinstance(a, nx.Graph):
        assert list(a.nodes) == list(b.nodes), where
        assert sorted(a.edges(data="weight", default=1)) == sorted(
            b.edges(data="weight", default=1)
        ), where
    elif isinstance(a, np.random.RandomState):
        _assert_same(a.get_state(), b.get_state(), where)
    else:
        assert type(a) is type(b) and a == b, where


def _assert_same_estimator(a, b):
    assert type(a) is type(b)
    assert vars(a).keys() == vars(b).keys()
    for key in vars(a):
        _assert_same(vars(a)[key], vars(b)[key], key)


def _round_trip(est, tmp_path, name="model.skgsr"):
    path = tmp_path / name
    skgsr.save(est, path)
    return skgsr.load(path)


def _adjacency(n, seed=0):
    rng = np.random.RandomState(seed)
    A = np.triu(rng.rand(n, n) * (rng.rand(n, n) < 0.3), 1)
    return A + A.T


# ------------------------------------------------------------ pickle, joblib
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("graph", ["grid", "adjacency"])
def test_pickle_and_joblib_round_trips(Est, graph, data, tmp_path):
    X = data[0]
    graph = _adjacency(16) if graph == "adjacency" else graph
    est = _fit(Est, data, graph=graph)
    unpickled = pickle.loads(pickle.dumps(est))
    _assert_same_estimator(est, unpickled)
    _assert_same_outputs(est, unpickled, X)
    joblib.dump(est, tmp_path / "model.joblib")
    from_joblib = joblib.load(tmp_path / "model.joblib")
    _assert_same_estimator(est, from_joblib)
    _assert_same_outputs(est, from_joblib, X)


def test_pickling_a_gpu_model_stores_cpu_tensors(data, monkeypatch):
    """A model fitted on CUDA pickles from CPU copies, with its device recorded.

    Simulated on CPU by making the module report ``cuda:0``: the pickled state
    must hold CPU copies (a CUDA storage in a pickle cannot be unpickled without
    CUDA) and must not move the live model; unpickled where CUDA is absent, the
    model stays on the CPU and predicts as before.
    """
    est = _fit(GSRClassifier, data)
    real = base.module_device
    monkeypatch.setattr(base, "module_device", lambda m: torch.device("cuda:0"))
    state = est.__getstate__()
    assert state["_pickled_from_device"] == "cuda:0"
    assert state["module_"] is not est.module_  # a copy: the live model is not moved
    assert state["penalty_"] is not est.penalty_
    blob = pickle.dumps(est)
    monkeypatch.setattr(base, "module_device", real)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(blob)
    assert "_pickled_from_device" not in vars(loaded)
    assert real(loaded.module_).type == "cpu"
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, data[0])


# ------------------------------------------------------------ safe format
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "graph", ["grid", "torus", "dense", "sparse", "networkx", "learned"]
)
def test_save_load_round_trip(Est, graph, data, tmp_path):
    """Every fitted attribute and every output comes back identical."""
    X = data[0]
    params = {}
    if graph == "dense":
        params["graph"] = _adjacency(16)
    elif graph == "sparse":
        params["graph"] = sp.csr_matrix(_adjacency(16))
    elif graph == "networkx":
        G = nx.from_numpy_array(_adjacency(16))
        params["graph"] = nx.relabel_nodes(G, {i: f"n{i}" for i in G.nodes})
    elif graph == "learned":
        params.update(
            graph="learned",
            graph_warmup=1,
            graph_update_interval=1,
            filter="rayleigh",
            filter_center=True,
        )
    elif graph == "torus":
        params.update(graph="torus", early_stopping=True, filter="heat")
    est = _fit(Est, data, **params)
    loaded = _round_trip(est, tmp_path)
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, X)
    assert not loaded.module_.training


def test_loaded_model_continues_training_identically(data, tmp_path):
    """Weights, optimizer state and the shuffling generator are all restored."""
    X, labels, _ = data
    est = _fit(GSRClassifier, data, warm_start=True)
    loaded = _round_trip(est, tmp_path)
    est.fit(X, labels)
    loaded.fit(X, labels)
    assert loaded.n_iter_ == est.n_iter_ == 6
    for fitted in (est, loaded):  # wall-clock times of the new epochs differ
        for record in fitted.history_:
            record.pop("duration")
    _assert_same_estimator(est, loaded)


def test_save_load_parameters_of_every_kind(data, tmp_path):
    """Tuples, NaN-free floats, arrays, RandomState and feature names survive."""
    pd = pytest.importorskip("pandas")
    X, labels, _ = data
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    est = GSRClassifier(
        n_components=8,
        hidden_layer_sizes=[12, 10],
        graph_shape=(2, 4),
        filter="wavelet",
        filter_scale=[0.5, 2.0],
        random_state=np.random.RandomState(3),
        max_iter=2,
    ).fit(frame, labels)
    loaded = _round_trip(est, tmp_path)
    _assert_same(est.get_params(), loaded.get_params(), "params")
    assert loaded.feature_names_in_.dtype == object
    assert loaded.classes_.dtype.kind == "U"
    _assert_same_estimator(est, loaded)
    np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))


def test_unfitted_estimator_round_trip(tmp_path):
    est = GSRRegressor(alpha=0.5, graph=_adjacency(64), hidden_layer_sizes=(7,))
    loaded = _round_trip(est, tmp_path)
    _assert_same(est.get_params(), loaded.get_params(), "params")
    with pytest.raises(NotFittedError):
        loaded.predict(np.zeros((2, 3)))


def test_file_is_json_plus_tensors(data, tmp_path):
    """The documented layout: strict JSON parameters, a version, tensors only."""
    est = _fit(GSRAutoencoder, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["skgsr.json", "tensors.pt"]
        document = json.loads(archive.read("skgsr.json"))
        tensors = torch.load(io.BytesIO(archive.read("tensors.pt")), weights_only=True)
    assert document["format"] == "skgsr.model"
    assert document["format_version"] == persistence.FORMAT_VERSION
    assert document["class"] == "GSRAutoencoder"
    assert document["params"]["alpha"] == est.alpha
    assert document["params"]["hidden_layer_sizes"] == {"$tuple": [16]}
    assert document["fitted"]["attributes"]["n_iter_"] == 3
    assert set(tensors["module_"]) == set(est.module_.state_dict())


def test_callable_filter_is_refused(data, tmp_path):
    est = _fit(GSRAutoencoder, data, filter=lambda lam: np.sqrt(lam))
    path = tmp_path / "model.skgsr"
    with pytest.raises(TypeError, match="parameter filter is a callable"):
        skgsr.save(est, path)
    assert not path.exists()


def test_subclass_is_refused(tmp_path):
    class MyAutoencoder(GSRAutoencoder):
        pass

    with pytest.raises(TypeError, match="subclass cannot be stored"):
        skgsr.save(MyAutoencoder(), tmp_path / "model.skgsr")


def test_failed_save_keeps_the_previous_file(data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    bad = GSRAutoencoder(filter=lambda lam: lam)
    with pytest.raises(TypeError):
        skgsr.save(bad, path)
    _assert_same_outputs(est, skgsr.load(path), data[0])
    assert os.listdir(tmp_path) == ["model.skgsr"]  # no temporary file left


# ------------------------------------------------------------ refusals
class _Marker:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_crafted_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.skgsr"
    path.write_bytes(pickle.dumps(_Marker(str(marker))))
    pickle.loads(path.read_bytes())  # the payload is live: plain pickle runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="not an skgsr model file.*not a zip"):
        skgsr.load(path)
    assert not marker.exists()


def test_crafted_tensor_file_is_refused_without_running_code(data, tmp_path):
    """A valid archive whose tensors.pt carries a pickled callable."""
    marker = tmp_path / "pwned"
    est = _fit(GSRAutoencoder, data)
    good = tmp_path / "good.skgsr"
    skgsr.save(est, good)
    with zipfile.ZipFile(good) as archive:
        text = archive.read("skgsr.json")
    evil = io.BytesIO()
    torch.save({"module_": _Marker(str(marker))}, evil)
    path = tmp_path / "evil.skgsr"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", text)
        archive.writestr("tensors.pt", evil.getvalue())
    with pytest.raises(
        ValueError, match="holds something other than tensors: Unsupported global"
    ):
        skgsr.load(path)
    assert not marker.exists()


def test_joblib_file_is_refused(data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    joblib.dump(est, tmp_path / "model.joblib")
    with pytest.raises(ValueError, match="pickle or joblib file.*runs any code"):
        skgsr.load(tmp_path / "model.joblib")


def _rewrite(path, edit_document):
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("skgsr.json"))
        tensors = archive.read("tensors.pt")
    edit_document(document)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", json.dumps(document))
        archive.writestr("tensors.pt", tensors)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="something.else"), "does not describe an skgsr"),
        (lambda d: d.update(format_version=99), "newer skgsr.*Upgrade skgsr"),
        (lambda d: d.update({"class": "os.system"}), "unknown estimator class"),
        (lambda d: d["params"].update(alpha=-1.0), "corrupt or incompatible"),
        (lambda d: d["params"].update(bogus=1), "unknown parameters"),
        (
            lambda d: d["fitted"]["attributes"].update({"__class__": 1}),
            "invalid fitted attribute",
        ),
        (
            lambda d: d["fitted"]["attributes"].update(n_features_in_=3),
            "(?s)corrupt or incompatible.*size mismatch",
        ),
    ],
)
def test_invalid_files_are_refused(edit, message, data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=message):
        skgsr.load(path)


def test_text_and_empty_zip_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a zip archive"):
        skgsr.load(text)
    empty = tmp_path / "empty.skgsr"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(ValueError, match="has no skgsr.json"):
        skgsr.load(empty)


# ------------------------------------------------------------ devices
def _as_if_saved_on_cuda(path):
    """Rewrite a model file as a CUDA fit would have written it.

    The tensors are re-saved with their storages tagged ``cuda:0`` (what
    :func:`torch.save` records for CUDA tensors) and the fitted device is set to
    ``cuda:0``.
    """
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("skgsr.json"))
        payload = torch.load(io.BytesIO(archive.read("tensors.pt")), weights_only=True)
    document["fitted"]["device"] = "cuda:0"
    original_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
    finally:
        torch.serialization.location_tag = original_tag
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", json.dumps(document))
        archive.writestr("tensors.pt", buffer.getvalue())
    return buffer.getvalue()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_model_saved_on_cuda_loads_on_cpu(data, tmp_path):
    est = _fit(GSRClassifier, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    raw = _as_if_saved_on_cuda(path)
    # the simulation is faithful: without a map_location torch refuses the file
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(io.BytesIO(raw), weights_only=True)
    loaded = skgsr.load(path)
    assert base.module_device(loaded.module_).type == "cpu"
    assert loaded.penalty_._crow.device.type == "cpu"
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, data[0])
    assert skgsr.load(path, map_location="cpu").predict(data[0][:5]).shape == (5,)
    with pytest.raises(ValueError, match="CUDA is not available"):
        skgsr.load(path, map_location="cuda")


def test_target_device_mapping(monkeypatch):
    """None: the fitted device where it exists, else the CPU; else as asked."""
    target = persistence._target_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert target("cuda:0", None) == torch.device("cpu")
    assert target("cpu", None) == torch.device("cpu")
    assert target("cuda:0", "cpu") == torch.device("cpu")
    assert target("cuda:0", "auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        target("cpu", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert target("cuda:0", None) == torch.device("cuda:0")
    assert target("cuda:1", None) == torch.device("cpu")  # no second GPU here
    assert target("cuda:0", "cpu") == torch.device("cpu")
    assert target("cpu", None) == torch.device("cpu")
