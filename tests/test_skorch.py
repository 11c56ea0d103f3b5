"""Tests of skgsr.skorch: the GSR penalty of a layer in a skorch net's loss."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from torch import nn

from skgsr.graphs import make_graph
from skgsr.penalty import GraphPenalty

skorch = pytest.importorskip("skorch")
from skgsr.skorch import GSRNeuralNetClassifier, GSRNeuralNetRegressor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MLP(nn.Module):
    def __init__(self, n_features=64, n_outputs=10):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_features, 16), nn.Tanh())
        self.out = nn.Linear(16, n_outputs)

    def forward(self, x):
        return self.out(self.hidden(x))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300]


def _net(**params):
    torch.manual_seed(0)
    defaults = {
        "criterion": nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "lr": 1e-2,
        "max_epochs": 2,
        "train_split": None,
        "verbose": 0,
        "regularizer__layer": "hidden",
        "regularizer__graph": "grid",
        "regularizer__alpha": 0.1,
    }
    return GSRNeuralNetClassifier(**{"module": MLP, **defaults, **params})


def test_training_loss_adds_alpha_times_the_layer_penalty(digits):
    X, y = digits
    net = _net().initialize()
    Xt, yt = torch.as_tensor(X[:40]), torch.as_tensor(y[:40])
    loss = net.get_loss(net.infer(Xt), yt, X=Xt, training=True)
    module = net.module_
    with torch.no_grad():
        z = module.hidden(Xt)
        task = nn.functional.cross_entropy(module.out(z), yt)
        expected = task + 0.1 * GraphPenalty(make_graph("grid", (4, 4)))(z)
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    # evaluation adds nothing, and leaves nothing for the next training step
    with torch.no_grad():
        plain = net.get_loss(net.infer(Xt), yt, X=Xt, training=False)
    assert float(plain) == pytest.approx(float(task), rel=1e-6)
    assert net.regularizer_._activations == []


def test_fit_records_the_penalty_and_transform_gives_the_layer(digits):
    X, y = digits
    net = _net().fit(X, y)
    penalties = net.history[-1, "batches", :, "train_penalty"]
    # 300 rows in batches of 128: three steps, each penalized
    assert len(penalties) == 3 and all(p > 0 for p in penalties)
    Z = net.transform(X[:7])
    with torch.no_grad():
        expected = net.module_.hidden(torch.as_tensor(X[:7])).numpy()
    np.testing.assert_allclose(Z, expected, rtol=1e-6)
    assert net.regularizer_.graph_shape_ == (4, 4)


def test_the_layer_must_be_named_and_exist(digits):
    X, y = digits
    net = _net(regularizer__layer=None)
    with pytest.raises(ValueError, match="regularizer__layer='hidden'"):
        net.fit(X, y)
    with pytest.raises(ValueError, match="no layer named 'hiden'.*'hidden'"):
        _net(regularizer__layer="hiden").initialize()


def test_clone_grid_search_and_set_params(digits):
    X, y = digits
    net = _net()
    search = GridSearchCV(net, {"regularizer__alpha": [0.0, 0.1]}, cv=2)
    search.fit(X, y)
    assert (
        search.best_estimator_.regularizer_.alpha
        == search.best_params_["regularizer__alpha"]
    )
    twin = clone(net).set_params(regularizer__graph="ring")
    assert twin.get_params()["regularizer__graph"] == "ring"
    twin.fit(X, y)
    hooked = twin.regularizer_
    twin.set_params(regularizer__alpha=0.5)  # on an initialized net: rebuilt
    assert twin.regularizer_ is not hooked and twin.regularizer_.alpha == 0.5
    assert len(twin.module_.hidden._forward_hooks) == 1


def test_a_refit_of_a_module_instance_leaves_one_live_hook(digits):
    X, y = digits
    module = MLP()
    net = _net(module=module, max_epochs=1).fit(X, y)
    first = net.regularizer_
    net.fit(X, y)
    assert net.module_ is module and net.regularizer_ is not first
    live = [
        hook
        for hook in module.hidden._forward_hooks.values()
        if hook.__self__._layer is module.hidden
    ]
    assert live == [net.regularizer_._capture]


def test_pickled_net_predicts_and_trains_with_its_regularizer(digits):
    X, y = digits
    net = _net().fit(X, y)
    loaded = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.regularizer_._layer is loaded.module_.hidden
    loaded.partial_fit(X, y)
    assert loaded.history[-1, "batches", -1, "train_penalty"] > 0


def test_learned_graph_is_rebuilt_on_its_schedule(digits):
    X, y = digits
    net = _net(
        max_epochs=4,
        regularizer__graph="learned",
        regularizer__n_neighbors=3,
        regularizer__graph_warmup=1,
        regularizer__graph_update_interval=2,
        regularizer__graph_n_samples=100,
        regularizer__random_state=0,
    ).fit(X, y)
    regularizer = net.regularizer_
    assert regularizer.learned_.history_epochs == [1, 3]
    assert regularizer.adjacency_.shape == (16, 16)
    # no penalty in the warm-up epoch, a penalty after
    assert "train_penalty" not in net.history[0, "batches", 0]
    assert net.history[1, "batches", 0, "train_penalty"] > 0


def test_input_profile_graph_gets_the_module_inputs(digits, monkeypatch):
    """graph_metric="input_profile": the rebuild sees the module's inputs of
    the encoded rows (here all 300, in order), and builds its graph from them."""
    from skgsr import _training

    seen = []
    build = _training.LearnedGraph.build

    def spy(self, activations, inputs=None):
        seen.append(inputs)
        return build(self, activations, inputs)

    monkeypatch.setattr(_training.LearnedGraph, "build", spy)
    X, y = digits
    net = _net(
        max_epochs=2,
        regularizer__graph="learned",
        regularizer__graph_metric="input_profile",
        regularizer__n_neighbors=3,
        regularizer__graph_warmup=1,
        regularizer__graph_n_samples=300,
        regularizer__random_state=0,
    ).fit(X, y)
    assert net.regularizer_.learned_.history_epochs == [1]
    (inputs,) = seen
    np.testing.assert_array_equal(inputs, X)
    assert net.regularizer_.adjacency_.shape == (16, 16)


def test_regressor(digits):
    X, y = digits
    torch.manual_seed(0)
    net = GSRNeuralNetRegressor(
        MLP,
        module__n_outputs=1,
        max_epochs=2,
        train_split=None,
        verbose=0,
        regularizer__layer="hidden.0",
        regularizer__graph="line",
    ).fit(X, y.astype(np.float32)[:, None])
    assert net.regularizer_.adjacency_.shape == (16, 16)
    assert net.predict(X[:3]).shape == (3, 1)


def test_imports_without_skorch_and_says_how_to_install_it():
    code = (
        "import sys; sys.modules['skorch'] = None\n"
        "import skgsr.skorch as m\n"
        "assert m.GraphRegularizerMixin\n"
        "try:\n"
        "    m.GSRNeuralNetClassifier\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "needs skorch" in out.stdout and "pip install skorch" in out.stdout
