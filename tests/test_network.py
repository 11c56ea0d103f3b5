"""The networks' initialization (skgsr/_network.py)."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr._network import ConvHead, glorot_uniform_, make_mlp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _bound(fan_in, fan_out, gain=1.0):
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


@pytest.mark.parametrize("activation, gain", [("relu", 1.0), ("logistic", 4.0)])
def test_glorot_uniform_linear(activation, gain):
    torch.manual_seed(0)
    layer = glorot_uniform_(torch.nn.Linear(300, 500), activation)
    weight = layer.weight.detach().numpy()
    bound = _bound(300, 500, gain)
    assert np.abs(weight).max() <= bound
    # U(-b, b) has variance b^2 / 3; 150 000 draws pin it to about 1%
    assert weight.var() == pytest.approx(bound**2 / 3, rel=0.02)
    assert abs(weight.mean()) < 0.01 * bound
    assert not layer.bias.detach().any()


def test_glorot_uniform_counts_a_convolution_over_its_kernel():
    torch.manual_seed(0)
    conv = glorot_uniform_(torch.nn.Conv2d(16, 32, 3))
    weight = conv.weight.detach().numpy()
    bound = _bound(16 * 9, 32 * 9)
    assert np.abs(weight).max() <= bound
    assert weight.var() == pytest.approx(bound**2 / 3, rel=0.05)
    assert not conv.bias.detach().any()


def test_make_mlp_and_conv_head_start_from_glorot():
    torch.manual_seed(0)
    mlp = make_mlp([64, 128, 10], "tanh", None)
    head = ConvHead((8, 8), 10, "relu", periodic=False)
    layers = [m for m in (*mlp, *head.modules()) if hasattr(m, "weight")]
    assert len(layers) == 2 + 3
    for layer in layers:
        w = layer.weight
        receptive = w[0][0].numel()
        bound = _bound(w.shape[1] * receptive, w.shape[0] * receptive)
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
        assert not layer.bias.any()


@pytest.mark.parametrize(
    "Est, params",
    [
        (GSRAutoencoder, {}),
        (GSRClassifier, {}),
        (GSRClassifier, {"head": "conv"}),
        (GSRRegressor, {"activation": "logistic"}),
    ],
)
def test_estimators_start_from_glorot(Est, params):
    """Every layer of a fitted network starts Glorot-uniform with zero biases: a
    fit whose steps are negligible (learning rate 1e-12) keeps the start."""
    X, y = load_digits(return_X_y=True)
    X = X[:50] / 16.0
    est = Est(max_iter=1, learning_rate_init=1e-12, random_state=0, **params)
    est.fit(X, None if Est is GSRAutoencoder else y[:50])
    gain = 4.0 if params.get("activation") == "logistic" else 1.0
    layers = [m for m in est.module_.modules() if hasattr(m, "weight")]
    assert len(layers) >= 3
    for layer in layers:
        w = layer.weight.detach()
        receptive = w[0][0].numel()
        bound = _bound(w.shape[1] * receptive, w.shape[0] * receptive, gain)
        assert w.abs().max() <= bound * (1 + 1e-6)
        assert w.abs().max() > 0.5 * bound  # the draws fill the interval
        assert layer.bias.detach().abs().max() < 1e-9
