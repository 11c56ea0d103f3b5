"""Tests of skgsr.nn.GraphRegularizer: the penalty on a layer of any network."""

import copy
import pickle

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
        1e-3 * float(expected.detach()), rel=1e-6
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
        GraphRegularizer(graph="learned", n_nodes=4, n_neighbors=5)
    with pytest.raises(ValueError, match="learned_objective"):
        GraphRegularizer(graph="learned", learned_objective="smoothest")
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


def test_the_hook_keeps_the_output_itself_not_a_copy(batch):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=1.0)
    seen = []
    model[1].register_forward_hook(lambda module, args, output: seen.append(output))
    model(batch)
    (kept,) = reg._activations
    assert kept is seen[0]
    reg.penalty()
    assert reg._activations == []  # released by penalty()


def test_sequence_outputs_are_refused_unless_flatten_and_channels_last_order():
    layer = nn.Linear(3, 4)  # applied to (batch, T, 3): a (batch, T, 4) output
    sequences = torch.randn(5, 2, 3)
    reg = GraphRegularizer(layer, graph="grid")  # 4 nodes: out_features
    with pytest.raises(ValueError, match=r"\(5, 2, 4\).*\(batch, n_nodes\)"):
        layer(sequences)
    reg.remove()
    reg = GraphRegularizer(layer, graph="grid", graph_shape=(2, 4), flatten=True)
    out = layer(sequences)
    # node (t * D + d): the row-major order of a channels-last map
    grid = make_graph("grid", (2, 4))
    expected = GraphPenalty(grid)(out.detach().reshape(5, 8))
    assert float(reg.penalty().detach()) == pytest.approx(
        1e-3 * float(expected), rel=1e-6
    )


def test_penalty_needs_an_attached_regularizer():
    reg = GraphRegularizer(graph="ring", n_nodes=4)
    with pytest.raises(RuntimeError, match="not attached to a layer"):
        reg.penalty()
    layer = nn.Linear(2, 4)
    reg.attach(layer)
    reg.remove()
    for use in (reg.penalty, lambda: reg.attach(layer), reg.epoch_end):
        with pytest.raises(RuntimeError, match="was removed"):
            use()


def test_a_layer_name_not_in_the_model_lists_the_names():
    with pytest.raises(ValueError, match="no layer named 'hiden'.* '0', '1', '2'"):
        GraphRegularizer("hiden", model=_model())


@pytest.mark.parametrize(
    "copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))]
)
def test_a_copied_model_carries_an_inert_hook(batch, copier):
    model = _model()
    reg = GraphRegularizer(model[1], alpha=1.0)
    twin = copier(model)
    twin(batch)  # the copy's hook must not feed this regularizer, nor a hidden one
    (copied_hook,) = twin[1]._forward_hooks.values()
    assert copied_hook.__self__._activations == []
    with pytest.raises(RuntimeError, match="before any training forward"):
        reg.penalty()
    # the copied regularizer attaches again, with its graph
    copied = copied_hook.__self__
    copied.attach(twin[1])
    twin(batch)
    assert float(copied.penalty().detach()) > 0
    assert copied.penalty_.n_nodes == 16


def test_half_precision_activations_are_penalized_in_float32(batch):
    layer = nn.Linear(6, 16).to(torch.bfloat16)
    reg = GraphRegularizer(layer, alpha=1.0)
    out = layer(batch.to(torch.bfloat16))
    value = reg.penalty()
    expected = GraphPenalty(make_graph("grid", (4, 4)))(out.detach().float())
    assert value.dtype == torch.float32
    assert float(value.detach()) == pytest.approx(float(expected), rel=1e-6)
    value.backward()
    assert layer.weight.grad.dtype == torch.bfloat16


# ------------------------------------------------------ learned_objective
def _correlations(A, B, weights=None):
    """Pearson correlations of the columns of A with those of B (numpy)."""
    w = np.ones(len(A)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    Ac, Bc = A - w @ A, B - w @ B
    cov = (Ac * w[:, None]).T @ Bc
    a_sd = np.sqrt(w @ Ac**2)
    b_sd = np.sqrt(w @ Bc**2)
    return cov / np.outer(a_sd, b_sd)


def modules_objective_numpy(Z, X, adjacency, weights=None, smoothing=0.0):
    """learned_objective="modules" from its formulas, the far pairs by scipy's
    shortest paths."""
    from scipy.sparse.csgraph import shortest_path

    A = adjacency.toarray()
    far = shortest_path(A, unweighted=True) > 2
    r = _correlations(Z, Z, weights)
    rho2 = _correlations(X, Z, weights) ** 2  # (d, n)
    d, n = rho2.shape
    repulsion = (r[far] ** 2).mean()
    varimax = -np.mean((rho2**2).mean(axis=0) - rho2.mean(axis=0) ** 2)
    covered = (rho2 / rho2.sum(axis=0)).sum(axis=1)
    coverage = d * (covered**2).sum() / n**2
    smooth = (A * (1 - r)).sum() / A.sum()
    return repulsion + 4 * varimax + coverage + smoothing * smooth


def _learned_regularizer(net, **params):
    """A learned-graph regularizer with a graph built from the layer on data
    with two modules, the penalty on at once."""
    params = {"n_neighbors": 2, "graph_warmup": 0, "alpha": 0.5, **params}
    reg = GraphRegularizer(net[1], graph="learned", **params)
    data = _two_module_data().to(net[0].weight.dtype)
    with torch.no_grad():
        reg.update_graph(net[1](net[0](data)))
    return reg


@pytest.mark.parametrize("near_share", [0.0, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_modules_objective_against_its_formulas(monkeypatch, near_share, weighted):
    """alpha x (repulsion + 4 varimax + coverage), from np.corrcoef-style
    correlations and a brute-force far-pair mask; both ways of computing the
    repulsion (the n x n correlations, or the Gram matrix minus the near pairs),
    with and without sample weights."""
    import skgsr.nn

    monkeypatch.setattr(skgsr.nn, "_SPARSE_NEAR_SHARE", near_share)
    model = _model(width=12).double()
    reg = _learned_regularizer(model)
    assert reg._objective[1].sparse == (near_share == 1.0)
    # a graph with far pairs, so that the repulsion counts
    assert reg._objective[1].n_far > 0
    x = torch.randn(
        40, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    weights = torch.rand(40, dtype=torch.float64) + 0.2 if weighted else None
    with torch.no_grad():
        z = model[1](model[0](x))
    model(x)
    got = float(reg.penalty(weights, inputs=x).detach())
    expected = modules_objective_numpy(
        z.detach().numpy(), x.numpy(), reg.adjacency_, weights
    )
    assert got == pytest.approx(0.5 * expected, rel=1e-6)
    # the smoothing term, weighted 0 by default, against its formula too
    monkeypatch.setitem(skgsr.nn._MODULES_WEIGHTS, "smoothing", 0.3)
    model(x)
    got = float(reg.penalty(weights, inputs=x).detach())
    expected = modules_objective_numpy(
        z.detach().numpy(), x.numpy(), reg.adjacency_, weights, smoothing=0.3
    )
    assert got == pytest.approx(0.5 * expected, rel=1e-6)


def test_modules_objective_is_scale_free_and_trains(batch):
    """Scaling the layer's output changes nothing (correlations); the gradient
    reaches the layer's weights."""
    model = _model(width=12)
    reg = _learned_regularizer(model)
    model(batch)
    value = reg.penalty(inputs=batch)
    value.backward()
    assert model[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        z = model[1](model[0](batch))
    scaled = reg.measure(5.0 * z + 1.0, inputs=batch)
    assert float(scaled) == pytest.approx(float(value.detach()) / reg.alpha, rel=1e-4)


def test_modules_objective_needs_the_inputs(batch):
    model = _model(width=12)
    reg = GraphRegularizer(
        model[1], graph="learned", n_neighbors=2, graph_warmup=3, alpha=0.1
    )
    model(batch)
    # refused from the first step, though the warm-up has no penalty yet
    with pytest.raises(ValueError, match="penalty\\(inputs=x\\).*model="):
        reg.penalty()
    model(batch)
    with pytest.raises(ValueError, match="inputs has 5 rows but .* saw 20 samples"):
        reg.penalty(inputs=batch[:5])
    # at alpha=0 nothing is computed, so nothing is needed
    reg.alpha = 0.0
    model(batch)
    assert float(reg.penalty().detach()) == 0.0
    # the papers' objective needs none either
    smooth = GraphRegularizer(
        nn.Linear(6, 12), graph="learned", learned_objective="smooth", alpha=0.1
    )
    smooth._layer(batch)
    assert float(smooth.penalty()) == 0.0  # in its warm-up


def test_modules_objective_reads_the_inputs_of_the_model(batch):
    """Given model=, the regularizer reads the model's input of each training
    pass (several passes: concatenated), not of passes under no_grad."""
    model = _model(width=12)
    reg = _learned_regularizer(model, model=model)
    with torch.no_grad():
        model(torch.randn(7, 6))  # evaluation: ignored
    model(batch[:12])
    model(batch[12:])
    got = float(reg.penalty().detach())
    with torch.no_grad():
        z = model[1](model[0](batch))
    assert got == pytest.approx(float(0.5 * reg.measure(z, inputs=batch)), rel=1e-6)
    reg.remove()
    assert not model._forward_pre_hooks


def test_smooth_objective_is_the_filter_penalty_on_the_learned_graph(batch):
    """learned_objective="smooth": alpha x the filter penalty on the learned
    graph's normalized Laplacian, no inputs."""
    model = _model(width=12)
    reg = _learned_regularizer(model, learned_objective="smooth", filter="rayleigh")
    model(batch)
    got = float(reg.penalty().detach())
    z = model[1](model[0](batch)).detach()
    # filter_center="auto": the Rayleigh quotient is the centred one
    penalty = GraphPenalty(
        reg.adjacency_, filter="rayleigh", laplacian="normalized", center=True
    )
    assert got == pytest.approx(0.5 * float(penalty(z)), rel=1e-6)
    assert reg._objective is None


@pytest.mark.parametrize(
    "width, expected", [(2, 1), (3, 2), (8, 2), (32, 5), (64, 11), (100, 17)]
)
def test_auto_neighbors_is_a_sixth_of_the_width(width, expected):
    reg = GraphRegularizer(graph="learned", n_nodes=width)
    assert reg.n_neighbors_ == reg.learned_.n_neighbors == expected
    fixed = GraphRegularizer(graph="learned", n_nodes=width, n_neighbors=1)
    assert fixed.n_neighbors_ == 1


def test_pair_sums_gradient_is_autograds():
    """The repulsion's hand-written backward (one product instead of two)
    against finite differences."""
    from skgsr.nn import _PairSums

    generator = torch.Generator().manual_seed(0)
    zs = torch.randn(5, 7, dtype=torch.float64, generator=generator)
    far = (torch.rand(7, 7, generator=generator) < 0.5).double()
    far = ((far + far.T) > 0).double()
    adjacency = torch.rand(7, 7, dtype=torch.float64, generator=generator)
    adjacency = adjacency + adjacency.T
    assert torch.autograd.gradcheck(
        lambda z: _PairSums.apply(z, far, adjacency), (zs.requires_grad_(),)
    )


def test_auto_method_of_a_learned_graph_avoids_decompositions_above_512():
    """filter_method="auto" on a learned graph: Chebyshev for an L2 filter above
    512 neurons (no eigendecomposition at each rebuild), exact below and for the
    L1 filters; a predefined graph keeps the penalty's own rule."""

    def method(n, filter, graph="learned"):
        layer = torch.nn.Linear(3, n)
        reg = GraphRegularizer(layer, graph=graph, filter=filter)
        return reg.make_penalty(make_graph("ring", n)).method_

    assert method(513, "heat") == "chebyshev"
    assert method(513, np.exp) == "chebyshev"
    assert method(512, "heat") == "exact"
    assert method(513, "wavelet") == "exact"
    assert method(513, "laplacian") == "sparse"
    assert method(513, "heat", graph="ring") == "exact"
