"""Tests of skgsr.penalty.GraphPenalty: values against edge sums, gradients, API.

The spectral filters' values against dense eigendecompositions and PyGSP are in
test_filters.py; here the quadratic-form penalties are checked against the edge
sums of SPEC section 1, computed by a loop over edges.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skgsr.graphs import make_graph
from skgsr.penalty import _EXACT_MAX_NODES, GraphPenalty, largest_eigenvalue

FILTERS = ["laplacian", "rayleigh", "heat", "wavelet", "mexican_hat", np.sqrt]


def filter_id(f):
    return f if isinstance(f, str) else "callable"


def random_weighted_graph(n, density, seed, isolated=()):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.1, 3.0, (n, n)) * (rng.random((n, n)) < density)
    W = np.triu(W, 1)
    W = W + W.T
    for i in isolated:
        W[i, :] = W[:, i] = 0.0
    return W


def signals(batch, n, seed=0, dtype=torch.float64):
    return torch.as_tensor(
        np.random.default_rng(seed).standard_normal((batch, n)), dtype=dtype
    )


def edge_sum(W, X):
    """Mean over the batch of sum_{i<j} W_ij (x_i - x_j)^2, by a loop over edges."""
    total = np.zeros(len(X))
    for i, j in zip(*np.nonzero(np.triu(W, 1)), strict=True):
        total += W[i, j] * (X[:, i] - X[:, j]) ** 2
    return total


def normalized_edge_sum(W, X):
    """sum_{i<j} W_ij (x_i / sqrt(d_i) - x_j / sqrt(d_j))^2 per sample."""
    d = W.sum(axis=1)
    total = np.zeros(len(X))
    for i, j in zip(*np.nonzero(np.triu(W, 1)), strict=True):
        total += W[i, j] * (X[:, i] / np.sqrt(d[i]) - X[:, j] / np.sqrt(d[j])) ** 2
    return total


# --------------------------------------------------------------------------- #
# Values
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_laplacian_penalty_is_mean_edge_sum(seed):
    W = random_weighted_graph(15, 0.3, seed, isolated=(4,))
    X = signals(8, 15, seed)
    penalty = GraphPenalty(W)
    assert penalty.method_ == "sparse"
    expected = edge_sum(W, X.numpy())
    np.testing.assert_allclose(penalty.per_sample(X).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(float(penalty(X)), expected.mean(), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_normalized_laplacian_penalty_is_normalized_edge_sum(seed):
    W = random_weighted_graph(15, 0.3, seed, isolated=(4, 9))
    X = signals(8, 15, seed)
    penalty = GraphPenalty(sp.csr_array(W), laplacian="normalized")
    expected = normalized_edge_sum(W, X.numpy())
    np.testing.assert_allclose(penalty.per_sample(X).numpy(), expected, rtol=1e-12)
    # an isolated node carries no penalty whatever its activation
    X2 = X.clone()
    X2[:, 4] += 100.0
    np.testing.assert_allclose(float(penalty(X2)), float(penalty(X)), rtol=1e-12)


@pytest.mark.parametrize("filter", ["heat", "wavelet", "mexican_hat"])
@pytest.mark.parametrize("method", ["exact", "chebyshev"])
@pytest.mark.parametrize("weight", [1.1e-308, 1e-100, 1e-40])
def test_vanishing_edge_weights_count_as_no_edges(filter, method, weight):
    """A valid graph whose weights vanish in float32 (hypothesis found 1e-308)
    has an lmax the default scales and the Chebyshev rescaling divide by: it
    raised 'filter_scale must be finite, got inf' (1e-308) or gave a NaN
    penalty (float32: 0 * inf). It is treated as a graph without edges."""
    A = np.array([[0.0, weight], [weight, 0.0]])
    penalty = GraphPenalty(A, filter=filter, method=method)
    assert penalty.lmax == 1.0
    edgeless = GraphPenalty(np.zeros((2, 2)), filter=filter, method=method)
    x = torch.randn(3, 2)
    for dtype in (torch.float32, torch.float64):
        value = penalty(x.to(dtype))
        assert torch.isfinite(value)
        torch.testing.assert_close(value, edgeless(x.to(dtype)))
    # the smallest weights that still count: finite too
    small = GraphPenalty(A / weight * 1e-36, filter=filter, method=method)
    assert small.lmax == pytest.approx(2e-36) and torch.isfinite(small(x))


def test_grid_penalty_of_known_signals():
    penalty = GraphPenalty(make_graph("grid", (3, 4)))
    # a constant signal is perfectly smooth
    assert float(penalty(torch.ones(2, 12))) == 0.0
    # a ramp along the columns: 3 rows x 3 horizontal edges of difference 1
    ramp = torch.arange(4.0).repeat(3)[None, :]
    assert float(penalty(ramp)) == pytest.approx(9.0)
    # the docstring's line example
    line = GraphPenalty(make_graph("line", 3))
    assert float(line(torch.tensor([[0.0, 1.0, 3.0]]))) == 5.0


@pytest.mark.parametrize("laplacian", ["combinatorial", "normalized"])
def test_rayleigh_penalty_formula_and_scale_invariance(laplacian):
    W = random_weighted_graph(12, 0.4, seed=3)
    X = signals(6, 12, seed=3)
    penalty = GraphPenalty(W, filter="rayleigh", laplacian=laplacian)
    sums = edge_sum(W, X.numpy()) if laplacian == "combinatorial" else None
    if sums is None:
        sums = normalized_edge_sum(W, X.numpy())
    expected = sums / (np.sum(X.numpy() ** 2, axis=1) + 1e-12)
    np.testing.assert_allclose(penalty.per_sample(X).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(float(penalty(X)), expected.mean(), rtol=1e-12)
    # scale-free: shrinking the layer does not lower the penalty (up to the 1e-12
    # in the denominator, ~1e-7 relative at this scale)
    np.testing.assert_allclose(float(penalty(1e-3 * X)), float(penalty(X)), rtol=1e-6)
    # and the all-zero sample gives 0, not NaN
    assert float(penalty(torch.zeros(1, 12, dtype=torch.float64))) == 0.0


def test_laplacian_gradient_is_2Lx_over_batch():
    W = random_weighted_graph(10, 0.5, seed=4)
    L = np.diag(W.sum(1)) - W
    X = signals(5, 10, seed=4).requires_grad_()
    GraphPenalty(W)(X).backward()
    np.testing.assert_allclose(
        X.grad.numpy(), 2 * X.detach().numpy() @ L / 5, rtol=1e-12
    )


# --------------------------------------------------------------------------- #
# Gradients (float64 finite differences)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("laplacian", ["combinatorial", "normalized"])
@pytest.mark.parametrize("method", ["exact", "chebyshev"])
@pytest.mark.parametrize("filter", FILTERS, ids=filter_id)
def test_gradcheck(filter, method, laplacian):
    W = random_weighted_graph(7, 0.6, seed=5, isolated=(3,))
    penalty = GraphPenalty(
        W, filter=filter, laplacian=laplacian, method=method, order=8
    )
    X = signals(3, 7, seed=5).requires_grad_()
    # per-sample values: the Jacobian of every output, not only of their mean
    assert torch.autograd.gradcheck(penalty.per_sample, (X,), eps=1e-6, atol=1e-6)


def test_gradcheck_weighted_mean():
    penalty = GraphPenalty(make_graph("grid", (2, 3)), filter="wavelet")
    X = signals(3, 6, seed=5).requires_grad_()
    weights = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: penalty(x, weights), (X,), eps=1e-6, atol=1e-6
    )


# --------------------------------------------------------------------------- #
# dtypes, sample weights, per-sample values
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("method", ["exact", "chebyshev"])
@pytest.mark.parametrize("filter", FILTERS, ids=filter_id)
def test_output_dtype_follows_input(filter, method):
    penalty = GraphPenalty(make_graph("grid", (3, 4)), filter=filter, method=method)
    X64 = signals(4, 12, seed=6)
    out64 = penalty(X64)
    out32 = penalty(X64.float())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    assert out64.ndim == 0 and out32.ndim == 0
    np.testing.assert_allclose(float(out32), float(out64), rtol=1e-5)
    X32 = X64.float().requires_grad_()
    penalty(X32).backward()
    assert X32.grad.dtype == torch.float32


@pytest.mark.parametrize("filter", FILTERS, ids=filter_id)
def test_sample_weight_is_weighted_mean(filter):
    penalty = GraphPenalty(make_graph("ring", 8), filter=filter)
    X = signals(4, 8, seed=7)
    per_sample = penalty.per_sample(X).numpy()
    w = np.array([0.5, 2.0, 0.0, 1.5])
    expected = np.sum(w * per_sample) / np.sum(w)
    np.testing.assert_allclose(
        float(penalty(X, torch.as_tensor(w))), expected, rtol=1e-12
    )
    np.testing.assert_allclose(float(penalty(X, w)), expected, rtol=1e-12)  # array-like
    # integer weights = repeating samples
    repeated = X[[0, 1, 1, 3, 3, 3]]
    np.testing.assert_allclose(
        float(penalty(X, torch.tensor([1, 2, 0, 3]))),
        float(penalty(repeated)),
        rtol=1e-12,
    )
    # uniform weights = the plain mean
    np.testing.assert_allclose(
        float(penalty(X, torch.full((4,), 7.0))), float(penalty(X)), rtol=1e-12
    )


def test_sample_weight_of_wrong_shape_is_value_error():
    # a (B, 1) weight used to broadcast against (B,) into a B x B sum
    penalty = GraphPenalty(make_graph("ring", 8))
    X = signals(4, 8, seed=8)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\)"):
        penalty(X, torch.ones(4, 1))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        penalty(X, torch.ones(3))


@pytest.mark.parametrize("filter", FILTERS, ids=filter_id)
def test_per_sample_shape_and_mean(filter):
    penalty = GraphPenalty(make_graph("grid", (3, 3)), filter=filter)
    X = signals(5, 9, seed=9)
    values = penalty.per_sample(X)
    assert values.shape == (5,)
    assert torch.all(values >= 0)
    np.testing.assert_allclose(float(values.mean()), float(penalty(X)), rtol=1e-12)
    # per-sample values do not depend on the rest of the batch
    np.testing.assert_allclose(
        penalty.per_sample(X[2:3]).numpy(), values[2:3].numpy(), rtol=1e-12
    )


@pytest.mark.parametrize("shape", [(4, 10), (4,), (2, 3, 9), (9, 4)])
def test_shape_error_message(shape):
    penalty = GraphPenalty(make_graph("grid", (3, 3)))
    with pytest.raises(ValueError, match=r"expects activations of shape \(batch, 9\)"):
        penalty(torch.zeros(shape))


# --------------------------------------------------------------------------- #
# set_graph
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("filter", FILTERS, ids=filter_id)
def test_set_graph_swaps_in_place(filter):
    grid, ring = make_graph("grid", (3, 4)), make_graph("ring", 12)
    penalty = GraphPenalty(grid, filter=filter)
    X = signals(4, 12, seed=10)
    before = float(penalty(X))
    assert penalty.set_graph(ring) is penalty
    after = float(penalty(X))
    assert after != pytest.approx(before)
    np.testing.assert_allclose(
        after, float(GraphPenalty(ring, filter=filter)(X)), rtol=1e-12
    )
    # swapping back restores the original value
    penalty.set_graph(grid)
    np.testing.assert_allclose(float(penalty(X)), before, rtol=1e-12)


def test_set_graph_keeps_device():
    # the meta device stands for "not the default device" on a CPU-only machine
    penalty = GraphPenalty(make_graph("grid", (3, 4)), filter="heat").to("meta")
    penalty.set_graph(make_graph("ring", 12))
    devices = {buffer.device.type for buffer in penalty.buffers()}
    assert devices == {"meta"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("filter", ["laplacian", "heat", "wavelet"])
@pytest.mark.parametrize("method", ["exact", "chebyshev"])
def test_cuda_matches_cpu_and_set_graph_keeps_cuda(filter, method):
    penalty = GraphPenalty(make_graph("grid", (4, 5)), filter=filter, method=method)
    X = signals(6, 20, seed=11)
    expected = float(penalty(X))
    penalty.cuda()
    np.testing.assert_allclose(float(penalty(X.cuda())), expected, rtol=1e-10)
    penalty.set_graph(make_graph("torus", (4, 5)))
    assert {b.device.type for b in penalty.buffers()} == {"cuda"}
    cpu_value = float(
        GraphPenalty(make_graph("torus", (4, 5)), filter=filter, method=method)(X)
    )
    np.testing.assert_allclose(float(penalty(X.cuda())), cpu_value, rtol=1e-10)


def test_set_graph_drops_the_previous_methods_operators():
    small = make_graph("grid", (4, 4))
    large = make_graph("grid", (_EXACT_MAX_NODES // 16 + 1, 16))
    penalty = GraphPenalty(small, filter="heat")
    assert penalty.method_ == "exact"
    penalty.set_graph(large)
    assert penalty.method_ == "chebyshev"
    # no n x n eigenbasis of the old graph left behind
    assert set(dict(penalty.named_buffers())) == {
        "_crow",
        "_col",
        "_val",
        "_coefficients",
    }
    penalty.set_graph(small)
    assert penalty.method_ == "exact"
    assert "_coefficients" not in dict(penalty.named_buffers())


def test_buffers_are_not_persistent_state():
    # derived from the graph: nothing to save in a state_dict
    assert GraphPenalty(make_graph("grid", (3, 3)), filter="heat").state_dict() == {}


# --------------------------------------------------------------------------- #
# lmax and methods
# --------------------------------------------------------------------------- #
def test_auto_method_switches_at_exact_max_nodes():
    at_limit = make_graph("lines", (_EXACT_MAX_NODES // 16, 16))
    above = make_graph("lines", (_EXACT_MAX_NODES // 16 + 1, 16))
    assert GraphPenalty(at_limit, filter="heat").method_ == "exact"
    assert GraphPenalty(above, filter="heat").method_ == "chebyshev"
    assert GraphPenalty(above, filter="heat", method="exact").method_ == "exact"
    assert (
        GraphPenalty(at_limit, filter="wavelet", method="chebyshev").method_
        == "chebyshev"
    )
    # the quadratic forms are always the sparse product
    assert GraphPenalty(at_limit, method="exact").method_ == "sparse"
    assert (
        GraphPenalty(at_limit, filter="rayleigh", method="chebyshev").method_
        == "sparse"
    )


def test_largest_eigenvalue_bounds_the_spectrum():
    for name, shape in [("grid", (20, 20)), ("grid", (8, 8)), ("ring", 301)]:
        A = make_graph(name, shape)
        from skgsr.graphs import laplacian

        L = laplacian(A)
        true = np.linalg.eigvalsh(L.toarray())[-1]
        estimate = largest_eigenvalue(L)
        assert true - 1e-9 <= estimate <= 1.02 * true
    assert largest_eigenvalue(sp.csr_array((5, 5))) == 1.0  # no edges


def test_largest_eigenvalue_is_deterministic():
    # ARPACK's default start vector used to change from call to call, and with it
    # lmax, the default scales and the Chebyshev penalty of two identical fits
    from skgsr.graphs import laplacian

    L = laplacian(make_graph("grid", (20, 20)))
    assert len({largest_eigenvalue(L) for _ in range(4)}) == 1
    X = signals(3, 400, seed=12)
    values = {
        float(GraphPenalty(make_graph("grid", (20, 20)), filter="heat")(X))
        for _ in range(3)
    }
    assert len(values) == 1


def test_lmax_parameter_is_used():
    penalty = GraphPenalty(make_graph("grid", (3, 3)), filter="heat", lmax=10.0)
    assert penalty.lmax == 10.0
    assert penalty.spectral_filter.scales == (1.0,)  # default tau = 10 / lmax
    assert GraphPenalty(make_graph("grid", (3, 3))).lmax is None


def test_filter_signal_shape_and_errors():
    X = signals(5, 12, seed=13)
    graph = make_graph("grid", (3, 4))
    for method in ["exact", "chebyshev"]:
        heat = GraphPenalty(graph, filter="heat", method=method)
        assert heat.filter_signal(X).shape == (1, 5, 12)
        wavelet = GraphPenalty(
            graph, filter="wavelet", scale=[1.0, 2.0, 3.0], method=method
        )
        filtered = wavelet.filter_signal(X)
        assert filtered.shape == (4, 5, 12)  # scaling function + 3 wavelets
        # the wavelet penalty is the L1 norm of these coefficients
        np.testing.assert_allclose(
            float(wavelet(X)), float(filtered.abs().sum(dim=(0, 2)).mean()), rtol=1e-12
        )
        # the papers' bank is the same wavelets without the scaling function
        hats = GraphPenalty(
            graph, filter="mexican_hat", scale=[1.0, 2.0, 3.0], method=method
        )
        np.testing.assert_allclose(
            hats.filter_signal(X).numpy(), filtered[1:].numpy(), atol=1e-12
        )
        np.testing.assert_allclose(
            float(hats(X)), float(filtered[1:].abs().sum(dim=(0, 2)).mean()), rtol=1e-12
        )
    for name in ["laplacian", "rayleigh"]:
        with pytest.raises(ValueError, match="quadratic form"):
            GraphPenalty(graph, filter=name).filter_signal(X)
    with pytest.raises(ValueError, match=r"shape \(batch, 12\)"):
        GraphPenalty(graph, filter="heat").filter_signal(X[:, :5])


# --------------------------------------------------------------------------- #
# Invalid parameters
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filter": "smooth"}, "Unknown filter 'smooth'"),
        ({"filter": None}, "Unknown filter None"),
        ({"laplacian": "symmetric"}, "Unknown laplacian 'symmetric'"),
        ({"method": "lanczos"}, "Unknown method 'lanczos'"),
        ({"order": 0}, "order must be a positive integer"),
        ({"order": 2.5}, "order must be a positive integer"),
        ({"order": True}, "order must be a positive integer"),
        ({"filter": "laplacian", "scale": 1.0}, "has no scale"),
        ({"filter": "heat", "scale": [1.0, 2.0]}, "one diffusion time"),
        ({"filter": "heat", "scale": -1.0}, "positive and finite"),
        ({"filter": "wavelet", "scale": [1.0, np.nan]}, "positive and finite"),
        ({"filter": "wavelet", "scale": []}, "positive and finite"),
        ({"filter": np.sqrt, "scale": 2.0}, "callable filter carries its own"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GraphPenalty(make_graph("grid", (3, 3)), **kwargs)


@settings(max_examples=20, deadline=None)
@given(
    method=st.sampled_from(["exact", "chebyshev"]),
    shape=st.sampled_from(["short", "long", "scalar", "2-D", "ok"]),
    value=st.sampled_from(["real", "complex", "nan", "inf"]),
)
def test_callable_response_is_validated_once_per_graph(method, shape, value):
    """Responses are checked on the eigenvalues (exact) or the Chebyshev nodes."""

    def g(lam):
        out = {
            "short": lam[:-1],
            "long": np.append(lam, 1.0),
            "scalar": np.float64(lam.mean()),
            "2-D": np.stack([lam, lam]),
            "ok": lam,
        }[shape]
        if value == "complex":
            return out + 1j
        return out * {"real": 1.0, "nan": np.nan, "inf": np.inf}[value]

    graph = make_graph("grid", (3, 3))
    if shape == "ok" and value == "real":
        penalty = GraphPenalty(graph, filter=g, method=method)
        assert torch.isfinite(penalty(torch.ones(2, 9))).all()
        return
    problem = "returned an array of shape" if shape != "ok" else ""
    if not problem:
        problem = "dtype complex" if value == "complex" else "not finite"
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(ValueError, match=f"callable filter 'g' .*{problem}"),
    ):
        GraphPenalty(graph, filter=g, method=method)


def test_invalid_graph_is_value_error():
    with pytest.raises(ValueError, match="not symmetric"):
        GraphPenalty(np.array([[0, 1.0], [0, 0]]))
    with pytest.raises(ValueError, match="negative"):
        GraphPenalty(make_graph("grid", (3, 3))).set_graph(-make_graph("grid", (3, 3)))


def test_repr_names_the_method():
    text = repr(GraphPenalty(make_graph("grid", (3, 3)), filter="wavelet"))
    assert "n_nodes=9" in text and "'wavelet'" in text and "method='exact'" in text


def test_penalty_never_builds_a_dense_laplacian():
    """A 500 x 500 grid has 250 000 nodes: a dense L would take 500 GB (float64),
    its eigenbasis as much. The sparse quadratic form and the Chebyshev filters
    (40 000 nodes) run in well under a second and a few MB."""
    P = GraphPenalty(make_graph("grid", (500, 500)))
    x = torch.randn(4, 250_000, requires_grad=True)
    P(x).backward()
    assert P.method_ == "sparse" and torch.isfinite(x.grad).all()
    W = GraphPenalty(make_graph("grid", (200, 200)), filter="wavelet")
    assert W.method_ == "chebyshev"  # "auto" above _EXACT_MAX_NODES
    z = torch.randn(4, 40_000, requires_grad=True)
    W(z).backward()
    assert torch.isfinite(z.grad).all()
    assert all(t.numel() < 10 * 40_000 * 5 for t in W.buffers())


# The quadratic-form filters compute their gradient themselves (_QuadraticPenalty,
# and a hook on the activations in GraphPenalty._add_to); these tests hold them
# to torch's autograd of the plain formula on a dense Laplacian, on each kind of
# product: dense (up to 128 nodes), sparse, and the shifts of a lattice.
QUADRATIC_GRAPHS = {
    "dense": lambda: random_weighted_graph(12, 0.4, seed=3, isolated=(5,)),
    "sparse": lambda: random_weighted_graph(150, 0.05, seed=4),
    "grid": lambda: make_graph("grid", (12, 13)),
    "torus": lambda: make_graph("torus", (10, 15)),
    "lines": lambda: make_graph("lines", (3, 50)),
    "rings": lambda: make_graph("rings", (5, 30)),
}


def formula_penalty(x, L, filter, center, weight=None):
    """The quadratic-form penalty written out, for torch's autograd."""
    if center:
        x = x - x.mean(dim=1, keepdim=True)
    values = (x * (x @ L)).sum(dim=1)
    if filter == "rayleigh":
        values = values / ((x * x).sum(dim=1) + 1e-12)
    if weight is None:
        return values
    return (values * weight).sum() / weight.sum()


def quadratic_cases():
    for graph in QUADRATIC_GRAPHS:
        for filter in ("laplacian", "rayleigh"):
            for laplacian in ("combinatorial", "normalized"):
                for center in (False, True):
                    yield graph, filter, laplacian, center


@pytest.mark.parametrize("graph, filter, laplacian, center", list(quadratic_cases()))
def test_quadratic_gradient_matches_autograd_of_the_formula(
    graph, filter, laplacian, center
):
    W = QUADRATIC_GRAPHS[graph]()
    penalty = GraphPenalty(W, filter=filter, laplacian=laplacian, center=center)
    if graph in ("grid", "torus", "lines", "rings") and laplacian == "combinatorial":
        assert penalty._lattice is not None  # the shifted-map product is tested
    L = torch.as_tensor(penalty.L.toarray())
    n = penalty.n_nodes
    weight = torch.as_tensor(np.random.default_rng(1).uniform(0.1, 2.0, 7))
    upstream = signals(7, 1, seed=2)[:, 0]  # a gradient for the per-sample values
    for w in (None, weight):
        x = signals(7, n, seed=5).requires_grad_(True)
        x_ref = x.detach().clone().requires_grad_(True)
        if w is None:
            mean = penalty(x)
            expected = formula_penalty(x_ref, L, filter, center).mean()
        else:
            mean = penalty(x, w)
            expected = formula_penalty(x_ref, L, filter, center, w)
        torch.testing.assert_close(mean, expected, rtol=1e-10, atol=1e-12)
        (grad,) = torch.autograd.grad(mean, x)
        (grad_ref,) = torch.autograd.grad(expected, x_ref)
        torch.testing.assert_close(grad, grad_ref, rtol=1e-9, atol=1e-12)
    # per sample, with an arbitrary gradient for each value
    x = signals(7, n, seed=6).requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(penalty.per_sample(x), x, upstream)
    values = formula_penalty(x_ref, L, filter, center)
    (grad_ref,) = torch.autograd.grad(values, x_ref, upstream)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("graph, filter, laplacian, center", list(quadratic_cases()))
def test_quadratic_penalty_passes_gradcheck(graph, filter, laplacian, center):
    W = QUADRATIC_GRAPHS[graph]()
    penalty = GraphPenalty(W, filter=filter, laplacian=laplacian, center=center)
    x = signals(3, penalty.n_nodes, seed=7).requires_grad_(True)
    weight = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(penalty, (x,))
    assert torch.autograd.gradcheck(lambda x: penalty(x, weight), (x,))
    assert torch.autograd.gradcheck(penalty.per_sample, (x,))


@pytest.mark.parametrize("graph, filter, laplacian, center", list(quadratic_cases()))
def test_add_to_hook_gradient_matches_autograd(graph, filter, laplacian, center):
    """GraphPenalty._add_to: the penalty's gradient added by a hook on x."""
    W = QUADRATIC_GRAPHS[graph]()
    penalty = GraphPenalty(W, filter=filter, laplacian=laplacian, center=center)
    L = torch.as_tensor(penalty.L.toarray())
    weight = torch.as_tensor(np.random.default_rng(8).uniform(0.1, 2.0, 5))
    head = signals(penalty.n_nodes, 3, seed=9)
    for w in (None, weight):
        leaf = signals(5, penalty.n_nodes, seed=10).requires_grad_(True)
        leaf_ref = leaf.detach().clone().requires_grad_(True)
        x = torch.tanh(leaf)  # a non-leaf, as a layer's activations are
        loss = (x @ head).square().mean()
        total, value = penalty._add_to(loss, x, 0.3, w)
        x_ref = torch.tanh(leaf_ref)
        loss_ref = (x_ref @ head).square().mean()
        value_ref = formula_penalty(x_ref, L, filter, center, w)
        if w is None:
            value_ref = value_ref.mean()
        total_ref = loss_ref + 0.3 * value_ref
        torch.testing.assert_close(total, total_ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(value, value_ref.detach(), rtol=1e-10, atol=1e-12)
        total.backward()
        total_ref.backward()
        torch.testing.assert_close(leaf.grad, leaf_ref.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("graph, filter, laplacian, center", list(quadratic_cases()))
def test_hook_gradient_leaves_the_incoming_gradient_alone(
    graph, filter, laplacian, center
):
    """The hook's sum is written over the penalty's own L x where it can (a
    batch-sized tensor fewer to allocate): the incoming gradient is not
    changed, and the sum is the incoming gradient plus the penalty's."""
    from skgsr.penalty import _quadratic_gradient

    penalty = GraphPenalty(
        QUADRATIC_GRAPHS[graph](), filter=filter, laplacian=laplacian, center=center
    )
    x = signals(6, penalty.n_nodes, seed=12)
    incoming = signals(6, penalty.n_nodes, seed=13)
    before = incoming.clone()
    parts = penalty._quadratic_parts(x, 1.0 / 6)[1]
    total = _quadratic_gradient(
        *parts, 1.0 / 6, penalty._projects_gradient, 0.7, into=incoming
    )
    assert torch.equal(incoming, before)
    x_ref = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(0.7 * penalty(x_ref), x_ref)
    torch.testing.assert_close(total, before + gradient, rtol=1e-9, atol=1e-12)


def test_add_to_on_a_reused_tensor_adds_each_step_once():
    """Two steps through one leaf (each with its own _add_to and backward): the
    first step's spent hook adds nothing to the second (it raised before)."""
    penalty = GraphPenalty(make_graph("grid", (3, 3)))
    x = signals(4, 9, seed=11).float().requires_grad_(True)
    for _ in range(2):
        x.grad = None
        total, _ = penalty._add_to(x.sum(), x, 0.5)
        total.backward()
    expected = torch.ones_like(x) + 0.5 * torch.autograd.functional.jacobian(
        lambda v: penalty(v), x.detach()
    )
    torch.testing.assert_close(x.grad, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# The precision of the exact eigendecomposition
# --------------------------------------------------------------------------- #
def _squared(eigenvalues):
    return eigenvalues**2


# a smooth callable: a response with an infinite slope at 0 (np.sqrt) sees the
# float32 round-off of the zero eigenvalues, about sqrt(1e-7 * lmax)
@pytest.mark.parametrize(
    "filter", ["heat", "wavelet", "mexican_hat", _squared], ids=filter_id
)
def test_float32_decomposition_agrees_with_float64(filter):
    W = random_weighted_graph(150, 0.05, seed=21, isolated=[3])
    X = signals(6, 150, seed=22)
    exact = GraphPenalty(W, filter=filter, method="exact")
    single = GraphPenalty(
        W, filter=filter, method="exact", decomposition_dtype=torch.float32
    )
    assert exact.decomposition_dtype == torch.float64
    # lmax (hence the default scales) is the float64 one: the Rayleigh quotient
    # of the float32 eigenvector, never above the true value beyond round-off
    assert single.lmax == pytest.approx(exact.lmax, rel=1e-10)
    assert single.lmax <= exact.lmax * (1 + 1e-12)
    np.testing.assert_allclose(
        single.per_sample(X).numpy(), exact.per_sample(X).numpy(), rtol=2e-5
    )
    np.testing.assert_allclose(
        single.filter_signal(X).numpy(),
        exact.filter_signal(X).numpy(),
        atol=2e-5 * float(exact.filter_signal(X).abs().max()),
    )
    # the operators are float64 arrays whatever the decomposition's precision
    assert single._eigenvectors.dtype == torch.float64


def test_decomposition_dtype_only_changes_the_exact_method():
    W = random_weighted_graph(40, 0.2, seed=23)
    X = signals(4, 40, seed=24)
    for kwargs in ({"filter": "heat", "method": "chebyshev"}, {"filter": "rayleigh"}):
        a = GraphPenalty(W, **kwargs)
        b = GraphPenalty(W, **kwargs, decomposition_dtype=torch.float32)
        assert torch.equal(a(X), b(X))


def test_decomposition_dtype_is_checked():
    with pytest.raises(ValueError, match="decomposition_dtype"):
        GraphPenalty(make_graph("ring", 5), decomposition_dtype=torch.float16)
    with pytest.raises(ValueError, match="decomposition_dtype"):
        GraphPenalty(make_graph("ring", 5), decomposition_dtype="float32")


# --------------------------------------------------------------------------- #
# L2 filters as quadratic forms x^T (sum_k g_k(L)^2) x
# --------------------------------------------------------------------------- #
def _offset_response(eigenvalues):
    # smooth, and not 0 at 0: (sum_k g_k(L)^2) 1 != 0
    return np.exp(-0.3 * eigenvalues) + 0.5


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("laplacian", ["combinatorial", "normalized"])
@pytest.mark.parametrize("method", ["exact", "chebyshev"])
@pytest.mark.parametrize("filter", ["heat", _offset_response], ids=filter_id)
def test_l2_filter_is_the_quadratic_form_of_its_bands(
    filter, method, laplacian, center
):
    """The penalty and the gradient the training step adds (a hook, no autograd
    of the product) equal autograd through ||g(L) x||^2 of the filtered bands."""
    W = random_weighted_graph(40, 0.15, seed=31, isolated=(5,))
    penalty = GraphPenalty(
        W, filter=filter, laplacian=laplacian, method=method, center=center
    )
    weight = torch.as_tensor(np.random.default_rng(32).uniform(0.1, 2.0, 6))
    head = signals(40, 3, seed=33)
    for w in (None, weight):
        leaf = signals(6, 40, seed=34).requires_grad_(True)
        leaf_ref = leaf.detach().clone().requires_grad_(True)
        x = torch.tanh(leaf)
        total, value = penalty._add_to((x @ head).square().mean(), x, 0.3, w)
        x_ref = torch.tanh(leaf_ref)
        values = penalty.filter_signal(x_ref).square().sum(dim=(0, 2))
        value_ref = values.mean() if w is None else (values * w).sum() / w.sum()
        total_ref = (x_ref @ head).square().mean() + 0.3 * value_ref
        torch.testing.assert_close(value, value_ref.detach(), rtol=1e-9, atol=1e-12)
        total.backward()
        total_ref.backward()
        torch.testing.assert_close(leaf.grad, leaf_ref.grad, rtol=1e-8, atol=1e-12)
    # per sample, with an arbitrary gradient for each value
    x = signals(6, 40, seed=35).requires_grad_(True)
    upstream = signals(6, 1, seed=36)[:, 0]
    (grad,) = torch.autograd.grad(penalty.per_sample(x), x, upstream)
    x_ref = x.detach().clone().requires_grad_(True)
    values = penalty.filter_signal(x_ref).square().sum(dim=(0, 2))
    (grad_ref,) = torch.autograd.grad(values, x_ref, upstream)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-8, atol=1e-12)


def test_chebyshev_series_is_truncated_to_the_precision_of_the_input():
    """A float32 penalty drops the terms float32 cannot see (fewer sparse
    products), and agrees with the float64 penalty to float32's round-off."""
    W = random_weighted_graph(200, 0.04, seed=37)
    penalty = GraphPenalty(W, filter="heat", method="chebyshev")
    x = signals(8, 200, seed=38)
    value64 = float(penalty(x))
    value32 = float(penalty(x.float()))
    short, full = (
        penalty._form_series[torch.float32],
        penalty._form_series[torch.float64],
    )
    # the square of the order-30 interpolant has degree 60
    assert len(short) < len(full) <= 2 * penalty.order + 1
    assert len(short) < penalty.order
    np.testing.assert_allclose(value32, value64, rtol=2e-6)


def test_chebyshev_needs_no_dense_decomposition(monkeypatch):
    """Chebyshev's lmax is a Lanczos estimate at every size above a dense
    product's (no O(n^3) step, which a learned graph would pay at every
    rebuild), and bounds the spectrum as the Chebyshev interval must."""
    W = random_weighted_graph(300, 0.03, seed=39)
    true_lmax = float(np.linalg.eigvalsh(np.diag(W.sum(1)) - W)[-1])

    def refuse(*args, **kwargs):
        raise AssertionError("a dense eigendecomposition")

    monkeypatch.setattr(np.linalg, "eigvalsh", refuse)
    monkeypatch.setattr(np.linalg, "eigh", refuse)
    monkeypatch.setattr(torch.linalg, "eigh", refuse)
    penalty = GraphPenalty(W, filter="heat", method="chebyshev")
    assert true_lmax <= penalty.lmax <= 1.02 * true_lmax
    assert np.isfinite(float(penalty(signals(4, 300, seed=40))))
