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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

import skgsr
from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr import _inference as inference
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
    real = inference.module_device
    monkeypatch.setattr(inference, "module_device", lambda m: torch.device("cuda:0"))
    state = est.__getstate__()
    assert state["_pickled_from_device"] == "cuda:0"
    assert state["module_"] is not est.module_  # a copy: the live model is not moved
    assert state["penalty_"] is not est.penalty_
    blob = pickle.dumps(est)
    monkeypatch.setattr(inference, "module_device", real)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(blob)
    assert "_pickled_from_device" not in vars(loaded)
    assert real(loaded.module_).type == "cpu"
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, data[0])


# ------------------------------------------------------------ safe format
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "graph",
    [
        "grid",
        "torus",
        "dense",
        "sparse",
        "networkx",
        "learned",
        "learned-heat",
        "learned-heat-wide",
    ],
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
    elif graph.startswith("learned-heat"):
        # an exact filter on a learned graph: decomposed in float32, lmax exact;
        # above 512 neurons ("-wide") "auto" takes Chebyshev, whose lmax is a
        # Lanczos estimate (times 1.01) that the load check must accept
        params.update(
            graph="learned",
            graph_warmup=1,
            learned_objective="smooth",
            filter="heat",
            alpha=1e-3,
        )
        if graph == "learned-heat-wide":
            params["n_components"] = 520
    elif graph == "torus":
        params.update(graph="torus", early_stopping=True, filter="heat")
    est = _fit(Est, data, **params)
    if graph == "learned-heat-wide":
        assert est.penalty_.method_ == "chebyshev"
    if graph in ("learned-heat", "torus"):
        assert est.penalty_.method_ == "exact"
        learned = graph == "learned-heat"
        dtype = torch.float32 if learned else torch.float64
        assert est.penalty_.decomposition_dtype == dtype
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


@pytest.mark.parametrize("Est", [GSRClassifier, GSRRegressor, GSRAutoencoder])
def test_compile_hyperparameter_round_trips(Est, data, tmp_path):
    """compile is a hyperparameter like the others: saved and loaded back."""
    unfitted = _round_trip(Est(compile=True), tmp_path)
    assert unfitted.get_params()["compile"] is True
    X, labels, target = data
    y = {GSRClassifier: labels, GSRRegressor: target, GSRAutoencoder: None}[Est]
    est = Est(n_components=8, hidden_layer_sizes=(12,), max_iter=2, random_state=0)
    est.fit(X, y).set_params(compile=True)  # fitted without, to stay fast
    loaded = _round_trip(est, tmp_path)
    assert loaded.get_params()["compile"] is True
    assert loaded._fit_params["compile"] is False
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


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
            "corrupt or incompatible.*n_outputs=64 does not match",
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


def test_learned_graph_modularity_round_trips_and_is_checked(data, tmp_path):
    est = _fit(GSRAutoencoder, data, graph="learned", graph_warmup=1)
    assert 0 < est.graph_modularity_ < 1
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    assert skgsr.load(path).graph_modularity_ == est.graph_modularity_

    def edit(document):
        document["fitted"]["attributes"]["graph_modularity_"] = "0.9"

    _rewrite(path, edit)
    with pytest.raises(ValueError, match="graph_modularity_ must be a number"):
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
    assert inference.module_device(loaded.module_).type == "cpu"
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


# ------------------------------------------------------------ fitted hyperparameters
SET_AFTER_FIT = {
    "activation": {"activation": "tanh"},
    "embedding_activation": {"embedding_activation": "tanh"},
    "hidden_layer_sizes": {"hidden_layer_sizes": (5, 4)},
    "n_components": {"n_components": 9},
    "graph-and-filter": {"graph": "ring", "filter": "heat"},
    "filter_center": {"filter": "rayleigh", "filter_center": True},
    "head": {"head": "conv"},
}


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("change", SET_AFTER_FIT)
def test_set_params_after_fit_then_save_keeps_the_fitted_model(
    Est, change, data, tmp_path
):
    """The file rebuilds the network and penalty that were fitted, and keeps the
    hyperparameters as they are now: the loaded estimator is the live one."""
    if change == "head" and Est is GSRAutoencoder:
        pytest.skip("the autoencoder has no head parameter")
    X = data[0]
    est = _fit(Est, data)
    before = _outputs(est, X)
    names = est.get_feature_names_out()
    est.set_params(**SET_AFTER_FIT[change])
    loaded = _round_trip(est, tmp_path)
    _assert_same_estimator(est, loaded)  # parameters, penalty_, weights...
    _assert_same_outputs(est, loaded, X)
    for key, value in before.items():
        np.testing.assert_array_equal(_outputs(loaded, X)[key], value, err_msg=key)
    np.testing.assert_array_equal(loaded.get_feature_names_out(), names)
    assert (
        loaded.get_params()[next(iter(SET_AFTER_FIT[change]))]
        == (SET_AFTER_FIT[change][next(iter(SET_AFTER_FIT[change]))])
    )


def test_file_records_the_fitted_hyperparameters(data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    est.set_params(activation="tanh")
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("skgsr.json"))
    assert document["params"]["activation"] == "tanh"
    assert document["fitted"]["params"]["activation"] == "relu"
    assert document["format_version"] == persistence.FORMAT_VERSION


def test_a_graph_shared_by_the_parameters_is_stored_once(data, tmp_path):
    est = _fit(GSRRegressor, data, graph=_adjacency(16))
    loaded = _round_trip(est, tmp_path)
    # one object, or two, as in the live estimator
    shared = est._fit_params["graph"] is est.graph
    assert (loaded._fit_params["graph"] is loaded.graph) == shared
    with zipfile.ZipFile(tmp_path / "model.skgsr") as archive:
        document = json.loads(archive.read("skgsr.json"))
    assert document["params"]["graph"] == document["fitted"]["params"]["graph"]


@pytest.mark.parametrize(
    "fitted_change", [{"hidden_layer_sizes": (5,)}, {"activation": "tanh"}]
)
def test_save_refuses_a_network_its_fitted_parameters_do_not_describe(
    fitted_change, data, tmp_path
):
    """What a warm start after set_params(hidden_layer_sizes=...) leaves behind."""
    est = _fit(GSRClassifier, data)
    est._fit_params = {**est._fit_params, **fitted_change}
    path = tmp_path / "model.skgsr"
    with pytest.raises(ValueError, match="does not match the hyperparameters.*warm"):
        skgsr.save(est, path)
    assert not path.exists()


def test_version_1_files_still_load(data, tmp_path):
    """Files without fitted hyperparameters: the network follows the saved ones."""
    est = _fit(GSRClassifier, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)

    def as_version_1(document):
        document["format_version"] = 1
        del document["fitted"]["params"]

    _rewrite(path, as_version_1)
    loaded = skgsr.load(path)
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, data[0])


def test_save_refuses_attributes_load_would_not_restore(data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    est.my_notes_ = "trained on Tuesday"
    with pytest.raises(TypeError, match="'my_notes_' that is not one of skgsr's"):
        skgsr.save(est, tmp_path / "model.skgsr")


def test_output_configuration_survives(data, tmp_path):
    pytest.importorskip("pandas")
    est = _fit(GSRAutoencoder, data).set_output(transform="pandas")
    loaded = _round_trip(est, tmp_path)
    assert list(loaded.transform(data[0][:2]).columns) == list(
        est.get_feature_names_out()
    )


# ------------------------------------------------------------ paths
def test_save_to_a_folder_or_a_missing_folder_names_the_path(data, tmp_path):
    est = _fit(GSRAutoencoder, data)
    with pytest.raises(IsADirectoryError) as info:
        skgsr.save(est, tmp_path)
    assert info.value.filename == str(tmp_path)
    missing = tmp_path / "no-such-folder" / "model.skgsr"
    with pytest.raises(
        FileNotFoundError, match="no-such-folder.*does not exist"
    ) as info:
        skgsr.save(est, missing)
    assert info.value.filename == str(missing)
    assert os.listdir(tmp_path) == []  # no temporary file left


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        skgsr.load(tmp_path / "absent.skgsr")
    assert info.value.filename == str(tmp_path / "absent.skgsr")


# ------------------------------------------------------------ crafted files
@pytest.fixture(scope="module")
def heat_file(data, tmp_path_factory):
    """A fitted heat-filter autoencoder's file (its penalty has an lmax)."""
    # alpha given: CRAFTED_TEXT edits its JSON text '"alpha": 0.001'
    est = _fit(GSRAutoencoder, data, filter="heat", alpha=1e-3)
    path = tmp_path_factory.mktemp("heat") / "model.skgsr"
    skgsr.save(est, path)
    return path.read_bytes()


def _crafted(tmp_path, raw, edit=None, text_edit=None, payload_edit=None):
    """A copy of the file ``raw``, its JSON (as data or text) or tensors edited."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read("skgsr.json").decode()
        tensors = archive.read("tensors.pt")
    if edit is not None:
        document = json.loads(text)
        edit(document)
        text = json.dumps(document)
    if text_edit is not None:
        text = text_edit(text)
    if payload_edit is not None:
        payload = torch.load(io.BytesIO(tensors), weights_only=True)
        payload_edit(payload)
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        tensors = buffer.getvalue()
    path = tmp_path / "crafted.skgsr"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", text)
        archive.writestr("tensors.pt", tensors)
    return path


def _attributes(edit):
    return lambda d: edit(d["fitted"]["attributes"])


def _scale_lmax(factor):
    return lambda d: d["fitted"]["penalty"].update(
        lmax=d["fitted"]["penalty"]["lmax"] * factor
    )


def _array_key(payload, fragment):
    return next(k for k in payload["arrays"] if fragment in k)


def _double_laplacian(payload):
    key = _array_key(payload, "fitted attribute laplacian_.data")
    payload["arrays"][key] = payload["arrays"][key] * 2


CRAFTED_JSON = {
    "params-not-an-object": (lambda d: d.update(params=[1]), "params must be a JSON"),
    "fitted-not-an-object": (lambda d: d.update(fitted=[1]), "not a JSON object"),
    "missing-n_features_in_": (
        _attributes(lambda a: a.pop("n_features_in_")),
        r"\['n_features_in_'\] are missing",
    ),
    # partial_fit and warm_start copy it (found by the edit-anything property)
    "missing-_graph_rng": (
        _attributes(lambda a: a.pop("_graph_rng")),
        r"\['_graph_rng'\] are missing",
    ),
    "null-_graph_rng": (
        _attributes(lambda a: a.update(_graph_rng=None)),
        "_graph_rng",
    ),
    "method-shadowed": (
        _attributes(lambda a: a.update(predict="x")),
        r"invalid fitted attribute name\(s\) \['predict'\]",
    ),
    "dunder": (_attributes(lambda a: a.update(__dict__={})), "invalid fitted attr"),
    "lmax-zero": (
        lambda d: d["fitted"]["penalty"].update(lmax=0),
        "lmax=0 is not a positive number",
    ),
    "lmax-tiny": (_scale_lmax(1e-300), "is not the largest Laplacian eigenvalue"),
    "lmax-half": (_scale_lmax(0.5), "is not the largest Laplacian eigenvalue"),
    "lmax-text": (
        lambda d: d["fitted"]["penalty"].update(lmax="8"),
        "lmax='8' is not a positive number",
    ),
    "lmax-missing": (
        lambda d: d["fitted"].update(penalty=None),
        "penalty of the feature graph is missing",
    ),
    "unknown-tag": (lambda d: d["params"].update(alpha={"$code": 1}), "unknown tag"),
    "bad-float": (lambda d: d["params"].update(alpha={"$float": "1e3"}), "invalid fl"),
    "n_iter_-text": (_attributes(lambda a: a.update(n_iter_="3")), "n_iter_ must be"),
    "loss_curve_-number": (
        _attributes(lambda a: a.update(loss_curve_=5)),
        "loss_curve_ must be a list",
    ),
    "history_-numbers": (
        _attributes(lambda a: a.update(history_=[1, 2])),
        "history_ must be a list of records",
    ),
    "graph_shape_-mismatch": (
        _attributes(lambda a: a.update(graph_shape_={"$tuple": [3, 5]})),
        r"graph_shape_ \(3, 5\) does not have n_components=16",
    ),
    "device-meta": (lambda d: d["fitted"].update(device="meta"), "invalid device"),
    "fitted-n_components": (
        lambda d: d["fitted"]["params"].update(n_components=8),
        "graph_shape_ .* does not have n_components=8",
    ),
    "declared-layers-too-wide": (
        lambda d: d["fitted"]["params"].update(
            hidden_layer_sizes={"$tuple": [12000, 12000]}
        ),
        r"(?s)weights do not fit the network.*\(12000, 64\)",
    ),
    "declared-layers-too-many": (
        lambda d: d["fitted"]["params"].update(
            hidden_layer_sizes={"$tuple": [3] * 100000}
        ),
        "declares 100000 layers, more than the 8 stored",
    ),
    "no-weights-for-the-optimizer": (
        lambda d: d["fitted"]["params"].update(solver="sgd"),
        None,  # loads: the optimizer's state follows the weights, not the solver
    ),
}

CRAFTED_TEXT = {
    "5000-digit-integer": (
        lambda t: t.replace('"n_components": 16', '"n_components": ' + "9" * 5000, 1),
        "not JSON: an integer of 5000 digits",
    ),
    "deep-nesting": (
        lambda t: t.replace('"alpha": 0.001', '"alpha": ' + "[" * 50000 + "]" * 50000),
        "nested too deeply",
    ),
    "nested-beyond-save": (
        lambda t: t.replace('"alpha": 0.001', '"alpha": ' + "[" * 40 + "]" * 40),
        "nested more than 32 levels",
    ),
    "nan-literal": (
        lambda t: t.replace('"alpha": 0.001', '"alpha": NaN', 1),
        "NaN is not strict JSON",
    ),
}

CRAFTED_TENSORS = {
    "laplacian-tampered": (
        _double_laplacian,
        "laplacian_ is not the Laplacian of feature_graph_",
    ),
    "weights-nan": (
        lambda p: p["module_"]["head.0.weight"].fill_(np.nan),
        "'head.0.weight' are not finite",
    ),
    "weights-int": (
        lambda p: p["module_"].update(
            {"head.0.bias": p["module_"]["head.0.bias"].long()}
        ),
        "'head.0.bias' are not finite floating-point",
    ),
    "weights-missing": (
        lambda p: p["module_"].pop("head.0.bias"),
        r"missing \['head.0.bias'\]",
    ),
    "adam-moment-shape": (
        lambda p: p["_optimizer_state"]["state"][0].update(exp_avg=torch.zeros(3)),
        "optimizer's 'exp_avg' of parameter 0 has shape",
    ),
    "optimizer-not-a-state": (
        lambda p: p.update(_optimizer_state=[1]),
        "optimizer state is not an optimizer's state_dict",
    ),
    "generator-state-short": (
        lambda p: p["arrays"].update(
            {_array_key(p, "_generator_state"): torch.zeros(7, dtype=torch.uint8)}
        ),
        "RuntimeError",
    ),
    "arrays-not-tensors": (
        lambda p: p.update(arrays=[1]),
        "stored arrays are not a dict of tensors",
    ),
}


def _check_refused(path, message):
    with pytest.raises(skgsr.ModelFileError, match=message) as info:
        skgsr.load(path)
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("case", CRAFTED_JSON)
def test_crafted_json_is_refused_with_one_error_type(case, heat_file, tmp_path):
    edit, message = CRAFTED_JSON[case]
    path = _crafted(tmp_path, heat_file, edit=edit)
    if message is None:
        assert skgsr.load(path).transform(np.ones((2, 64))).shape == (2, 16)
    else:
        _check_refused(path, message)


@pytest.mark.parametrize("case", CRAFTED_TEXT)
def test_crafted_json_text_is_refused_with_one_error_type(case, heat_file, tmp_path):
    edit, message = CRAFTED_TEXT[case]
    _check_refused(_crafted(tmp_path, heat_file, text_edit=edit), message)


def test_damaged_archives_are_refused_with_one_error_type(heat_file, tmp_path):
    with zipfile.ZipFile(io.BytesIO(heat_file)) as archive:
        text = archive.read("skgsr.json")
        tensors = archive.read("tensors.pt")
    path = tmp_path / "model.skgsr"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", text.replace(b"relu", b"rel\xff"))
        archive.writestr("tensors.pt", tensors)
    _check_refused(path, "skgsr.json is not JSON: 'utf-8' codec")
    # a member's bytes shifted: the central directory points elsewhere
    raw = heat_file.replace(b"relu", b"rel", 1)
    path.write_bytes(raw)
    _check_refused(path, "damaged zip archive")
    path.write_bytes(heat_file[: len(heat_file) // 2])
    _check_refused(path, "not a zip archive")


@pytest.mark.parametrize("case", CRAFTED_TENSORS)
def test_crafted_tensors_are_refused_with_one_error_type(case, heat_file, tmp_path):
    edit, message = CRAFTED_TENSORS[case]
    _check_refused(_crafted(tmp_path, heat_file, payload_edit=edit), message)


def test_lmax_of_a_quadratic_filter_is_refused(data, tmp_path):
    est = _fit(GSRAutoencoder, data, filter="laplacian")  # no lmax
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    _rewrite(path, lambda d: d["fitted"]["penalty"].update(lmax=8.0))
    _check_refused(path, "filter='laplacian' has no lmax")


def test_classes_must_be_sorted_and_distinct(data, tmp_path):
    est = _fit(GSRClassifier, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)

    def unsort(document):
        document["fitted"]["attributes"]["classes_"]["$strings"].reverse()

    _rewrite(path, unsort)
    _check_refused(path, "classes_ must hold distinct labels in sorted order")


def test_declared_architecture_costs_nothing_before_the_weights_are_checked(
    heat_file, tmp_path, monkeypatch
):
    """hidden_layer_sizes=(12000, 12000) is checked on the meta device: the
    network is never allocated (it would be 0.6 GB of float32)."""
    devices = []
    original = GSRAutoencoder._initialize_module

    def recording(self, *args):
        devices.append(torch.get_default_device().type)
        return original(self, *args)

    monkeypatch.setattr(GSRAutoencoder, "_initialize_module", recording)
    edit, message = CRAFTED_JSON["declared-layers-too-wide"]
    _check_refused(_crafted(tmp_path, heat_file, edit=edit), message)
    assert devices == ["meta"]


def test_members_are_bounded_before_they_are_read(heat_file, tmp_path, monkeypatch):
    """A compressed member that expands far beyond its size is a zip bomb."""
    monkeypatch.setattr(persistence, "_EXPANSION_SLACK", 10_000)
    with zipfile.ZipFile(io.BytesIO(heat_file)) as archive:
        text = archive.read("skgsr.json").decode()
        tensors = archive.read("tensors.pt")
    bomb = tmp_path / "bomb.skgsr"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("skgsr.json", text[:-1] + " " * 1_000_000 + "}")
        archive.writestr("tensors.pt", tensors)
    read = zipfile.ZipFile.read
    monkeypatch.setattr(
        zipfile.ZipFile, "read", lambda *a: pytest.fail("a member was read")
    )
    _check_refused(bomb, "skgsr.json expands from .* to 1.* bytes, as a zip bomb")
    monkeypatch.setattr(zipfile.ZipFile, "read", read)
    # an honest re-zipped (deflated) file loads
    rezipped = tmp_path / "rezipped.skgsr"
    with zipfile.ZipFile(rezipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("skgsr.json", text)
        archive.writestr("tensors.pt", tensors)
    skgsr.load(rezipped)
    monkeypatch.setattr(persistence, "_MAX_JSON_BYTES", 1000)
    _check_refused(rezipped, "skgsr.json has .* bytes, more than 1000")


def test_compressed_torch_records_are_refused(heat_file, tmp_path):
    """torch.load inflates compressed records; no file from save has them."""
    with zipfile.ZipFile(io.BytesIO(heat_file)) as archive:
        text = archive.read("skgsr.json")
        tensors = archive.read("tensors.pt")
    deflated = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(tensors)) as inner,
        zipfile.ZipFile(deflated, "w") as out,
    ):
        for info in inner.infolist():
            out.writestr(
                info.filename, inner.read(info), compress_type=zipfile.ZIP_DEFLATED
            )
    path = tmp_path / "model.skgsr"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skgsr.json", text)
        archive.writestr("tensors.pt", deflated.getvalue())
    _check_refused(path, "tensors.pt has compressed records")


@pytest.mark.parametrize(
    "params, bound, message",
    [
        ({"filter_method": "exact"}, ("_MAX_EXACT_NODES", 8), "eigendecompose a 16"),
        ({"filter_method": "chebyshev"}, ("_MAX_FILTER_ORDER", 10), "filter_order=30"),
    ],
)
def test_declared_penalty_costs_are_bounded(
    params, bound, message, data, tmp_path, monkeypatch
):
    est = _fit(GSRAutoencoder, data, filter="heat", **params)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    skgsr.load(path)
    monkeypatch.setattr(persistence, *bound)
    _check_refused(path, message)


def test_networkx_graphs_in_a_file_are_bounded(data, tmp_path, monkeypatch):
    est = _fit(GSRAutoencoder, data, graph=nx.from_numpy_array(_adjacency(16)))
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    monkeypatch.setattr(persistence, "_MAX_NETWORKX_EDGES", 3)
    _check_refused(path, "networkx graph of .* edges \\(more than 3\\)")


def test_string_arrays_cannot_declare_a_huge_width(data, tmp_path):
    est = _fit(GSRClassifier, data)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    _rewrite(
        path, lambda d: d["fitted"]["attributes"]["classes_"].update(dtype="<U99999999")
    )
    _check_refused(path, "declares dtype <U99999999, far wider than its strings")


# ------------------------------------------------------------ families of edits
def _json_paths(value, path=()):
    """Every position in a JSON document, as key paths."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_paths(item, (*path, i))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    | st.sampled_from(
        [{"$float": "nan"}, {"$tuple": [4, 4]}, {"$array": "0:x"}, {"$tuple": []}]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def classifier_file(data, tmp_path_factory):
    """A learned-graph classifier with early stopping: the most attributes."""
    est = _fit(
        GSRClassifier,
        data,
        graph="learned",
        graph_warmup=1,
        early_stopping=True,
        filter="heat",
    )
    path = tmp_path_factory.mktemp("classifier") / "model.skgsr"
    skgsr.save(est, path)
    return path.read_bytes()


class _Quiet(tuple):
    """The data fixture, printed briefly in hypothesis' reports."""

    def __repr__(self):
        return "data"


def _assert_loads_and_works(path, data):
    """Either ModelFileError, or an estimator that predicts and trains on."""
    X, labels, _ = data
    try:
        est = skgsr.load(path)
    except skgsr.ModelFileError:
        return False
    if not hasattr(est, "module_"):  # "fitted": null, an unfitted estimator
        return True
    assert np.isfinite(est.predict_proba(X[:5])).all()
    assert est.transform(X[:5]).shape == (5, len(est.get_feature_names_out()))
    try:
        est.partial_fit(X[:20], labels[:20])
    except (ValueError, TypeError):  # an edited hyperparameter, as for a live one
        pass
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(choice=st.data())
def test_any_edit_of_the_json_loads_a_working_model_or_is_refused(
    choice, classifier_file, data, tmp_path
):
    data = _Quiet(data)
    document = json.loads(
        zipfile.ZipFile(io.BytesIO(classifier_file)).read("skgsr.json")
    )
    paths = [p for p in _json_paths(document) if p]
    where = choice.draw(st.sampled_from(paths))
    delete = choice.draw(st.booleans())
    value = None if delete else choice.draw(json_values)

    def edit(doc):
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if delete:
            del parent[where[-1]]
        else:
            parent[where[-1]] = value

    _assert_loads_and_works(_crafted(tmp_path, classifier_file, edit=edit), data)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(choice=st.data())
def test_any_replaced_weight_is_refused_or_harmless(
    choice, classifier_file, data, tmp_path
):
    data = _Quiet(data)
    payload = torch.load(
        io.BytesIO(zipfile.ZipFile(io.BytesIO(classifier_file)).read("tensors.pt")),
        weights_only=True,
    )
    key = choice.draw(st.sampled_from(sorted(payload["module_"])))
    shape = tuple(payload["module_"][key].shape)
    new_shape = choice.draw(
        st.sampled_from([shape, shape[::-1], (*shape, 1), shape[:-1], ()])
    )
    dtype = choice.draw(
        st.sampled_from([torch.float32, torch.float64, torch.int64, torch.complex64])
    )
    fill = choice.draw(st.sampled_from([0.5, np.nan, np.inf]))

    def edit(p):
        p["module_"][key] = torch.full(new_shape, fill).to(dtype)

    path = _crafted(tmp_path, classifier_file, payload_edit=edit)
    harmless = new_shape == shape and dtype.is_floating_point and fill == 0.5
    assert _assert_loads_and_works(path, data) == harmless


# ------------------------------------------------------------- user encoders
class NormedEncoder(torch.nn.Module):
    """A user encoder with an integer buffer (batch norm's step count)."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 12)
        self.norm = torch.nn.BatchNorm1d(12)

    def forward(self, x):
        return self.norm(self.linear(x)).relu()


class OtherEncoder(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 12)

    def forward(self, x):
        return self.linear(x).relu()


class ValueReadingEncoder(OtherEncoder):
    """Reads a value in its forward pass: it cannot run on the meta device."""

    def forward(self, x):
        scale = 1.0 if float(x.abs().max()) < 1e6 else 1e-6
        return super().forward(x * scale)


def _archive(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("skgsr.json")), archive.read("tensors.pt")


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_user_encoder_round_trips_with_its_weights_not_its_code(Est, data, tmp_path):
    est = _fit(Est, data, encoder=NormedEncoder)
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    document, tensors = _archive(path)
    # the class is named for the error message, never stored as code
    record = {"$code": f"{__name__}.NormedEncoder"}
    assert document["params"]["encoder"] == record
    assert document["fitted"]["params"]["encoder"] == record
    assert document["format_version"] == 3
    assert b"NormedEncoder" not in tensors
    loaded = skgsr.load(path, encoder=NormedEncoder)
    assert loaded.encoder is NormedEncoder
    _assert_same_estimator(est, loaded)
    _assert_same_outputs(est, loaded, data[0])
    assert int(loaded.module_.encoder.norm.num_batches_tracked) > 0


def test_load_without_the_encoder_says_how_to_pass_it(data, tmp_path):
    path = tmp_path / "model.skgsr"
    skgsr.save(_fit(GSRClassifier, data, encoder=NormedEncoder), path)
    with pytest.raises(ValueError) as info:
        skgsr.load(path)
    assert not isinstance(info.value, skgsr.ModelFileError)
    message = str(info.value)
    assert "NormedEncoder" in message and "weights but not its code" in message
    assert "skgsr.load(path, encoder=NormedEncoder)" in message
    with pytest.raises(TypeError, match="not a module instance"):
        skgsr.load(path, encoder=NormedEncoder(64))


def test_encoder_for_a_model_without_one_is_refused(data, tmp_path):
    path = tmp_path / "model.skgsr"
    skgsr.save(_fit(GSRClassifier, data), path)
    with pytest.raises(ValueError, match="model without a user encoder"):
        skgsr.load(path, encoder=NormedEncoder)


def test_another_encoder_is_checked_against_the_stored_weights(data, tmp_path):
    path = tmp_path / "model.skgsr"
    skgsr.save(_fit(GSRRegressor, data, encoder=NormedEncoder), path)
    with pytest.raises(
        skgsr.ModelFileError, match="unexpected.*encoder.norm.*is encoder=.*Other"
    ):
        skgsr.load(path, encoder=OtherEncoder)


def test_an_encoder_changed_after_the_fit_loads_as_it_was(data, tmp_path):
    est = _fit(GSRAutoencoder, data, encoder=NormedEncoder).set_params(encoder=None)
    loaded = _round_trip_with(est, tmp_path, NormedEncoder)
    assert loaded.encoder is None
    assert loaded._fit_params["encoder"] is NormedEncoder
    _assert_same_outputs(est, loaded, data[0])
    # and continues training as the saved one would
    loaded.set_params(encoder=NormedEncoder, warm_start=True).fit(data[0])
    assert loaded.n_iter_ == 2 * est.n_iter_


def _round_trip_with(est, tmp_path, encoder):
    path = tmp_path / "model.skgsr"
    skgsr.save(est, path)
    return skgsr.load(path, encoder=encoder)


def test_an_encoder_that_cannot_run_on_the_meta_device_is_not_saved(data, tmp_path):
    est = _fit(GSRClassifier, data, encoder=ValueReadingEncoder)
    path = tmp_path / "model.skgsr"
    with pytest.raises(ValueError, match="meta device.*must not read values"):
        skgsr.save(est, path)
    assert not path.exists()


@pytest.mark.parametrize(
    "edit",
    [
        # a record of code anywhere but the encoder parameter
        lambda d: d["fitted"]["params"].update(filter={"$code": "numpy.sqrt"}),
        lambda d: d["params"].update(encoder={"$code": "x", "extra": 1}),
        lambda d: d["fitted"]["params"].update(encoder={"$code": 3}),
    ],
)
def test_crafted_encoder_records_are_refused(edit, data, tmp_path):
    path = tmp_path / "model.skgsr"
    skgsr.save(_fit(GSRClassifier, data, encoder=NormedEncoder), path)
    _rewrite(path, edit)
    with pytest.raises(skgsr.ModelFileError, match="encoder|unknown tag"):
        skgsr.load(path, encoder=NormedEncoder)
