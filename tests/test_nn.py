"""Tests of skgsr.nn.GraphRegularizer: the penalty on a layer of any network."""

import numpy as np
import pytest
import torch
from torch import nn

from skgsr.graphs import make_graph
from skgsr.nn import GraphRegularizer
from skgsr.penalty import GraphPenalty


def _model(width=16, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, width), nn.Tanh(), nn.Linear(width, 3))


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(20, 6, generator=generator)


def test_penalty_is_alpha_times_the_graph_penalty_of_the_layer_output(batch):
    model = _model()
    reg = GraphRegularizer(model[1], graph="grid", alpha=0.3)
    model(batch)
    value = reg.penalty().detach()
    with torch.no_grad():
        z = model[1](model[0](batch))
    expected = 0.3 * GraphPenalty(make_graph("grid", (4, 4)))(z)
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
    assert float(reg.last_penalty_) == pytest.approx(float(expected) / 0.3, rel=1e-6)


def test_gradient_reaches_the_layer_weights(batch):
    model = _model()
    reg = GraphRegularizer(model[1], graph="ring", alpha=1.0)
    model(batch)
    reg.penalty().backward()
    grad = model[0].weight.grad.clone()
    model.zero_grad()
    z = model[1](model[0](batch))
    GraphPenalty(make_graph("ring", 16))(z).backward()
    torch.testing.assert_close(grad, model[0].weight.grad)


def test_evaluation_passes_under_no_grad_are_ignored(batch):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=1.0)
    model(batch)
    with torch.no_grad():
        model(batch * 10)  # an evaluation pass in between
    with_eval = float(reg.penalty().detach())
    model(batch)
    assert with_eval == pytest.approx(float(reg.penalty().detach()))


def test_several_forwards_average_over_all_their_samples(batch):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=1.0)
    model(batch[:5])
    model(batch[5:])
    two_passes = float(reg.penalty().detach())
    model(batch)
    assert two_passes == pytest.approx(float(reg.penalty().detach()), rel=1e-6)
    # nothing seen since the last call: zero, not the previous value
    assert float(reg.penalty().detach()) == 0.0


def test_sample_weight_gives_a_weighted_mean(batch):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=1.0)
    weights = torch.zeros(len(batch))
    weights[:3] = 1.0
    model(batch)
    weighted = float(reg.penalty(weights).detach())
    model(batch[:3])
    assert weighted == pytest.approx(float(reg.penalty().detach()), rel=1e-6)
    model(batch[:5])
    model(batch[5:])
    with pytest.raises(ValueError, match="one weight per sample .* shape \\(20,\\)"):
        reg.penalty(torch.ones(5))


def test_alpha_zero_returns_zero_without_computing(batch):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=0.0)
    model(batch)
    assert float(reg.penalty().detach()) == 0.0 and reg.last_penalty_ is None


def test_layer_by_name_in_a_model_and_context_manager(batch):
    model = _model()
    with GraphRegularizer("1", model=model, graph="line", alpha=1.0) as reg:
        assert len(model[1]._forward_hooks) == 1
        model(batch)
        assert float(reg.penalty().detach()) > 0
    assert len(model[1]._forward_hooks) == 0
    with pytest.raises(RuntimeError, match="was removed"):
        reg.penalty()
    with pytest.raises(ValueError, match="pass the model"):
        GraphRegularizer("1", graph="line")


def test_penalty_before_any_forward_is_an_error():
    reg = GraphRegularizer(_model()[1])
    with pytest.raises(RuntimeError, match="before any training forward pass"):
        reg.penalty()


def test_width_comes_from_out_features_or_the_first_output(batch):
    model = _model(width=12)
    assert GraphRegularizer(model[0]).n_nodes_ == 12  # nn.Linear.out_features
    reg = GraphRegularizer(model[1], graph="lines", graph_shape=(3, 4))
    assert reg.n_nodes_ is None
    model(batch)
    assert reg.n_nodes_ == 12 and reg.graph_shape_ == (3, 4)


def test_output_width_must_match_the_graph(batch):
    model = _model(width=16)
    reg = GraphRegularizer(model[1], graph=make_graph("ring", 10))
    with pytest.raises(ValueError, match="graph has 10 nodes .* n_nodes=16"):
        model(batch)
    reg.remove()
    reg = GraphRegularizer(model[1], graph="grid", n_nodes=9)
    with pytest.raises(ValueError, match="outputs 16 units per sample but .* has 9"):
        model(batch)


def test_maps_with_more_axes_need_flatten():
    conv = nn.Conv2d(1, 2, 3, padding=1)
    images = torch.randn(4, 1, 3, 4)
    reg = GraphRegularizer(conv, graph="lines", graph_shape=(6, 4))
    with pytest.raises(ValueError, match=r"shape \(4, 2, 3, 4\).*flatten=True"):
        conv(images)
    reg.remove()
    reg = GraphRegularizer(conv, graph="lines", graph_shape=(6, 4), flatten=True)
    out = conv(images)
    expected = GraphPenalty(make_graph("lines", (6, 4)))(out.flatten(1))
    assert float(reg.penalty().detach()) == pytest.approx(
        1e-3 * float(expected), rel=1e-6
    )


def test_a_tuple_output_is_a_clear_error():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    layer = Pair()
    GraphRegularizer(layer, n_nodes=4)
    with pytest.raises(TypeError, match="returned a tuple"):
        layer(torch.randn(2, 4))


def test_invalid_parameters_name_themselves():
    with pytest.raises(ValueError, match="alpha"):
        GraphRegularizer(alpha=-1)
    with pytest.raises(ValueError, match="n_neighbors=5 .* smaller than n_nodes=4"):
        GraphRegularizer(graph="learned", n_nodes=4)
    with pytest.raises(RuntimeError, match="already attached"):
        layer = nn.Linear(2, 4)
        GraphRegularizer(layer).attach(layer)


def _two_module_data(n=300, seed=0):
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(n, 2))
    X = np.repeat(factors, 3, axis=1) + 0.1 * rng.normal(size=(n, 6))
    return torch.as_tensor(X, dtype=torch.float32)


def test_learned_graph_follows_the_warmup_and_rebuild_schedule():
    X = _two_module_data()
    model = _model(width=8)
    reg = GraphRegularizer(
        model[1],
        graph="learned",
        model=model,
        alpha=1.0,
        n_neighbors=3,
        graph_warmup=2,
        graph_update_interval=2,
        random_state=0,
    )
    rebuilt = []
    for _ in range(6):
        model(X[:32])
        penalty = float(reg.penalty().detach())
        assert (penalty > 0) == reg.active
        rebuilt.append(reg.epoch_end(X))
    # a graph after epochs 2 and 4 and 6 (warm-up 2, every 2 after)
    assert rebuilt == [False, True, False, True, False, True]
    assert reg.learned_.history_epochs == [2, 4, 6]
    assert len(reg.graph_history_) == 3 and reg.penalty_.n_nodes == 8
    assert reg.laplacian_kind() == "normalized"
    assert reg.adjacency_ is reg.penalty_.adjacency


def test_learned_graph_without_inputs_stays_due_until_update_graph():
    model = _model(width=8)
    reg = GraphRegularizer(model[1], graph="learned", n_neighbors=2, graph_warmup=1)
    assert not reg.epoch_end()  # no inputs: nothing built
    assert reg.update_due and not reg.active
    with torch.no_grad():
        activations = model[1](model[0](_two_module_data()))
    adjacency = reg.update_graph(activations)
    assert adjacency.shape == (8, 8) and reg.active and not reg.update_due
    with pytest.raises(ValueError, match="epoch_end\\(inputs\\) runs the inputs"):
        reg.learned_.n_epochs = 5  # due again at epoch 6 (warm-up 1, every 5)
        reg.epoch_end(_two_module_data())


def test_update_graph_needs_a_learned_graph():
    reg = GraphRegularizer(nn.Linear(3, 4), graph="ring")
    with pytest.raises(ValueError, match="use graph='learned'"):
        reg.update_graph(np.zeros((5, 4)))
