"""Numeric tests of the spectral filters (skgsr.filters) through GraphPenalty.

Every penalty is checked against an independent dense numpy/scipy computation
(``numpy.linalg.eigh``, ``scipy.linalg.expm``, ``numpy.linalg.solve``) on several
graphs, for both ways of applying g(L):

- ``method="exact"`` (eigenbasis): within 1e-5 relative for float32 input and
  1e-10 for float64 input;
- ``method="chebyshev"``: at the default order 30, within 1e-6 relative for the
  heat filter and the default wavelet scales on these graphs, and converging as
  the order grows (5 -> 20 -> 60).

and against PyGSP's filtering of the same signals on the same graph (exact and
Chebyshev), where PyGSP is installed.
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import torch

from skgsr.filters import (
    _resolve_filter,
    chebyshev_coefficients,
    default_heat_scale,
    default_wavelet_scales,
    heat_response,
    mexican_hat,
)
from skgsr.graphs import laplacian, make_graph
from skgsr.penalty import GraphPenalty

# --------------------------------------------------------------------------- #
# Graphs, signals and the independent dense computations
# --------------------------------------------------------------------------- #


def random_weighted_graph(n, density, seed):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.1, 3.0, (n, n)) * (rng.random((n, n)) < density)
    W = np.triu(W, 1)
    return W + W.T


def disconnected_graph():
    # a 5-ring, a weighted triangle and an isolated node
    triangle = np.array([[0, 2.0, 0.5], [2.0, 0, 1.0], [0.5, 1.0, 0]])
    return sp.block_diag(
        [make_graph("ring", 5), triangle, sp.csr_array((1, 1))]
    ).toarray()


GRAPHS = {
    "grid": lambda: make_graph("grid", (4, 5)).toarray(),
    "ring": lambda: make_graph("ring", 12).toarray(),
    "weighted": lambda: random_weighted_graph(14, 0.35, seed=0),
    "disconnected": disconnected_graph,
}


def dense_laplacian(W, kind):
    d = W.sum(axis=1)
    if kind == "combinatorial":
        return np.diag(d) - W
    s = np.zeros_like(d)
    s[d > 0] = d[d > 0] ** -0.5
    return np.diag((d > 0) * 1.0) - s[:, None] * W * s[None, :]


def spectral_apply(L, response, X):
    """g(L) x_b for every row of X, by numpy.linalg.eigh."""
    lam, U = np.linalg.eigh(L)
    lam = np.clip(lam, 0.0, None)
    return X @ U @ np.diag(response(lam)) @ U.T


def signals(n, batch=6, seed=1):
    return np.random.default_rng(seed).standard_normal((batch, n))


def heat_expected(L, tau, X):
    # matrix exponential, no eigendecomposition
    H = np.eye(len(L)) - scipy.linalg.expm(-tau * L)
    return np.mean(np.sum((X @ H) ** 2, axis=1))


def wavelet_expected(L, scales, X):
    # low-pass scaling function exp(-1 - s_max lam), then the Mexican hats
    coarsest = max(scales)
    scaling = spectral_apply(L, lambda lam: np.exp(-1.0 - coarsest * lam), X)
    total = np.sum(np.abs(scaling), axis=1)
    for s in scales:
        coefficients = spectral_apply(L, lambda lam, s=s: s * lam * np.exp(-s * lam), X)
        total = total + np.sum(np.abs(coefficients), axis=1)
    return np.mean(total)


def mexican_hat_expected(L, scales, X):
    # the papers' penalty: the Mexican hats alone, no scaling function
    total = 0.0
    for s in scales:
        coefficients = spectral_apply(L, lambda lam, s=s: s * lam * np.exp(-s * lam), X)
        total = total + np.sum(np.abs(coefficients), axis=1)
    return np.mean(total)


def resolvent(lam):
    return 1.0 / (1.0 + lam)


def resolvent_expected(L, X):
    # ||(I + L)^{-1} x||^2 by a linear solve
    Y = np.linalg.solve(np.eye(len(L)) + L, X.T).T
    return np.mean(np.sum(Y**2, axis=1))


def lmax_of(L):
    return np.linalg.eigvalsh(L)[-1]


def expected_penalty(name, L, X):
    lmax = lmax_of(L)
    if name == "heat":
        return heat_expected(L, 10.0 / lmax, X)
    if name == "heat_tau":
        return heat_expected(L, 0.7, X)
    if name == "wavelet":
        return wavelet_expected(L, [1.3], X)
    if name == "wavelets":
        # default scales, computed here: 4 log-spaced from 40/lmax to 1/lmax
        return wavelet_expected(L, np.geomspace(40.0 / lmax, 1.0 / lmax, 4), X)
    if name == "mexican_hat":
        return mexican_hat_expected(L, [0.4, 1.3], X)
    if name == "mexican_hats":
        return mexican_hat_expected(L, np.geomspace(40.0 / lmax, 1.0 / lmax, 4), X)
    if name == "callable":
        return resolvent_expected(L, X)
    if name == "laplacian":
        return np.mean(np.sum((X @ L) * X, axis=1))
    raise AssertionError(name)


PENALTY_ARGS = {
    "heat": {"filter": "heat"},
    "heat_tau": {"filter": "heat", "scale": 0.7},
    "wavelet": {"filter": "wavelet", "scale": 1.3},
    "wavelets": {"filter": "wavelet"},
    "mexican_hat": {"filter": "mexican_hat", "scale": [0.4, 1.3]},
    "mexican_hats": {"filter": "mexican_hat"},
    "callable": {"filter": resolvent},
    # the Laplacian penalty through the spectral path: g = sqrt
    "laplacian": {"filter": np.sqrt},
}


# --------------------------------------------------------------------------- #
# Exact method against dense numpy
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("name", sorted(PENALTY_ARGS))
def test_exact_penalty_against_dense_numpy(name, graph, kind):
    W = GRAPHS[graph]()
    L = dense_laplacian(W, kind)
    X = signals(len(W))
    expected = expected_penalty(name, L, X)
    penalty = GraphPenalty(W, laplacian=kind, method="exact", **PENALTY_ARGS[name])
    assert penalty.method_ == "exact"
    value64 = float(penalty(torch.as_tensor(X)))
    value32 = float(penalty(torch.as_tensor(X, dtype=torch.float32)))
    np.testing.assert_allclose(value64, expected, rtol=1e-10)
    np.testing.assert_allclose(value32, expected, rtol=1e-5)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_laplacian_spectral_path_equals_sparse_quadratic_form(graph):
    W = GRAPHS[graph]()
    X = torch.as_tensor(signals(len(W)))
    sparse = GraphPenalty(W)
    spectral = GraphPenalty(W, filter=np.sqrt, method="exact")
    assert sparse.method_ == "sparse"
    np.testing.assert_allclose(float(spectral(X)), float(sparse(X)), rtol=1e-10)


# --------------------------------------------------------------------------- #
# Chebyshev method: stated tolerance and convergence
# --------------------------------------------------------------------------- #
def chebyshev_error(W, kind, args, order, X):
    exact = float(GraphPenalty(W, laplacian=kind, method="exact", **args)(X))
    approx = GraphPenalty(W, laplacian=kind, method="chebyshev", order=order, **args)
    return abs(float(approx(X)) - exact) / exact


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize(
    "name",
    [
        "heat",
        "heat_tau",
        "wavelet",
        "wavelets",
        "mexican_hat",
        "mexican_hats",
        "callable",
    ],
)
def test_chebyshev_order_30_within_stated_tolerance(name, graph, kind):
    W = GRAPHS[graph]()
    L = dense_laplacian(W, kind)
    X = signals(len(W))
    expected = expected_penalty(name, L, X)
    penalty = GraphPenalty(W, laplacian=kind, method="chebyshev", **PENALTY_ARGS[name])
    assert penalty.method_ == "chebyshev" and penalty.order == 30
    np.testing.assert_allclose(float(penalty(torch.as_tensor(X))), expected, rtol=1e-6)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("name", ["heat", "wavelets", "mexican_hats"])
@pytest.mark.parametrize("graph", ["grid", "weighted"])
def test_chebyshev_converges_with_order(name, graph, kind):
    W = GRAPHS[graph]()
    X = torch.as_tensor(signals(len(W)))
    errors = [
        chebyshev_error(W, kind, PENALTY_ARGS[name], order, X) for order in (5, 20, 60)
    ]
    # geometric convergence for these smooth responses, down to round-off
    assert errors[0] > 1e-5
    assert errors[1] < errors[0] / 10
    assert errors[2] < max(errors[1] / 10, 1e-12)


def test_chebyshev_of_square_root_converges_slowly():
    # sqrt is not smooth at 0: why "laplacian" is the sparse quadratic form
    W = GRAPHS["grid"]()
    X = torch.as_tensor(signals(len(W)))
    error = chebyshev_error(W, "combinatorial", {"filter": np.sqrt}, 30, X)
    assert 1e-8 < error < 1e-3


def test_chebyshev_with_larger_lmax_than_the_spectrum():
    # an overestimated lmax (as the ARPACK estimate x 1.01 is) changes the
    # approximation interval, not the filter, as long as the scale is fixed
    W = GRAPHS["weighted"]()
    L = dense_laplacian(W, "combinatorial")
    X = signals(len(W))
    penalty = GraphPenalty(
        W, filter="heat", scale=0.7, method="chebyshev", lmax=1.5 * lmax_of(L)
    )
    np.testing.assert_allclose(
        float(penalty(torch.as_tensor(X))), heat_expected(L, 0.7, X), rtol=1e-6
    )


def test_chebyshev_is_exact_for_a_polynomial_response():
    W = GRAPHS["weighted"]()
    L = dense_laplacian(W, "combinatorial")
    X = signals(len(W))
    P = L @ L - 3 * L + 2 * np.eye(len(L))
    expected = np.mean(np.sum((X @ P) ** 2, axis=1))
    for order in (2, 3, 9):
        penalty = GraphPenalty(
            W, filter=lambda lam: lam**2 - 3 * lam + 2, method="chebyshev", order=order
        )
        np.testing.assert_allclose(
            float(penalty(torch.as_tensor(X))), expected, rtol=1e-10
        )


@pytest.mark.parametrize("order", [2, 3, 7])
def test_chebyshev_coefficients_of_a_polynomial(order):
    # g(lam) = lam^2 - 3 lam + 2 with lam = a (t + 1), a = lmax / 2, and
    # t^2 = (T_0 + T_2) / 2:  g = (1.5 a^2 - 3a + 2) T_0 + (2a^2 - 3a) T_1 + a^2/2 T_2
    lmax = 6.4
    a = lmax / 2
    expected = np.zeros(order + 1)
    expected[:3] = [1.5 * a**2 - 3 * a + 2, 2 * a**2 - 3 * a, 0.5 * a**2]
    coefficients = chebyshev_coefficients(lambda lam: lam**2 - 3 * lam + 2, lmax, order)
    assert coefficients.shape == (order + 1,)
    np.testing.assert_allclose(coefficients, expected, atol=1e-12)


def test_chebyshev_coefficients_reproduce_the_kernel():
    lmax = 5.0
    coefficients = chebyshev_coefficients(lambda lam: mexican_hat(lam, 0.8), lmax, 40)
    lam = np.linspace(0, lmax, 101)
    approx = np.polynomial.chebyshev.chebval(2 * lam / lmax - 1, coefficients)
    np.testing.assert_allclose(approx, 0.8 * lam * np.exp(-0.8 * lam), atol=1e-12)


def test_chebyshev_order_must_be_positive():
    with pytest.raises(ValueError, match="order must be >= 1"):
        chebyshev_coefficients(np.exp, 2.0, 0)


# --------------------------------------------------------------------------- #
# Responses and default scales
# --------------------------------------------------------------------------- #
def test_responses():
    lam = np.array([0.0, 0.5, 2.0, 50.0])
    np.testing.assert_allclose(
        heat_response(lam, 2.0), 1 - np.exp(-2.0 * lam), rtol=1e-15
    )
    assert heat_response(0.0, 3.0) == 0.0  # constants are not penalised
    s = 0.25
    values = mexican_hat(np.linspace(0, 40, 4001), s)
    # vanishes at 0, peaks at 1/s with value 1/e
    assert values[0] == 0.0
    assert np.linspace(0, 40, 4001)[np.argmax(values)] == pytest.approx(1 / s, abs=0.01)
    assert values.max() == pytest.approx(np.exp(-1), rel=1e-6)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_default_scales_derive_from_lmax(graph, kind):
    W = GRAPHS[graph]()
    lmax = lmax_of(dense_laplacian(W, kind))
    heat = GraphPenalty(W, filter="heat", laplacian=kind)
    wavelet = GraphPenalty(W, filter="wavelet", laplacian=kind)
    np.testing.assert_allclose(heat.lmax, lmax, rtol=1e-12)
    np.testing.assert_allclose(heat.spectral_filter.scales, [10.0 / lmax], rtol=1e-12)
    np.testing.assert_allclose(
        wavelet.spectral_filter.scales,
        [
            40.0 / lmax,
            40.0 / lmax / 40 ** (1 / 3),
            40.0 / lmax / 40 ** (2 / 3),
            1.0 / lmax,
        ],
        rtol=1e-12,
    )


def test_default_wavelet_scales_properties():
    scales = default_wavelet_scales(8.0, n_scales=5, lpfactor=10.0)
    assert scales.shape == (5,)
    # from 2 / lmin = 2 lpfactor / lmax down to 1 / lmax, geometrically
    np.testing.assert_allclose(
        [scales[0], scales[-1]], [20.0 / 8.0, 1.0 / 8.0], rtol=1e-12
    )
    ratios = scales[1:] / scales[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    assert np.all(ratios < 1)
    assert default_heat_scale(4.0) == 2.5
    with pytest.raises(ValueError, match="lmax must be positive"):
        default_wavelet_scales(0.0)


def test_resolve_filter():
    heat = _resolve_filter("heat", None, lmax=5.0)
    assert heat.name == "heat" and heat.norm == "l2" and heat.scales == (2.0,)
    wavelet = _resolve_filter("wavelet", [1.0, 2.0], lmax=5.0)
    assert wavelet.norm == "l1" and len(wavelet.kernels) == 3
    # the scaling function at the coarsest scale, then each kernel at its own
    # scale (no late binding of the loop variable)
    np.testing.assert_allclose(
        [k(np.array([1.0]))[0] for k in wavelet.kernels],
        [np.exp(-3.0), np.exp(-1.0), 2 * np.exp(-2.0)],
    )
    # the papers' bank: the same Mexican hats, without the scaling function
    hats = _resolve_filter("mexican_hat", [1.0, 2.0], lmax=5.0)
    assert hats.name == "mexican_hat" and hats.norm == "l1"
    assert hats.scales == (1.0, 2.0) and len(hats.kernels) == 2
    np.testing.assert_allclose(
        [k(np.array([1.0]))[0] for k in hats.kernels],
        [np.exp(-1.0), 2 * np.exp(-2.0)],
    )
    assert _resolve_filter("mexican_hat", None, 5.0).scales == tuple(
        default_wavelet_scales(5.0)
    )
    assert _resolve_filter("laplacian", None, 1.0).is_quadratic_form
    assert not _resolve_filter(np.exp, None, 1.0).is_quadratic_form
    with pytest.raises(ValueError, match="Unknown filter 'gauss'"):
        _resolve_filter("gauss", None, 1.0)


def test_resolve_filter_checks_a_callable_response():
    """The response of a callable is checked where it is evaluated."""
    (kernel,) = _resolve_filter(np.sqrt, None, 1.0).kernels
    np.testing.assert_array_equal(kernel(np.array([0.0, 4.0])), [0.0, 2.0])
    (kernel,) = _resolve_filter(lambda lam: lam > 1, None, 1.0).kernels
    np.testing.assert_array_equal(kernel(np.array([0.0, 4.0])), [0.0, 1.0])

    def response(lam):
        return np.sqrt(lam - 1)  # NaN below 1

    (kernel,) = _resolve_filter(response, None, 1.0).kernels
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(ValueError, match=r"'response' is not finite at .*\[0.0\]"),
    ):
        kernel(np.array([0.0, 4.0]))


@pytest.mark.parametrize("scale", [["a"], "a", 1j, [[1.0], [2.0, 3.0]]])
def test_scales_that_are_not_numbers_name_the_parameter(scale):
    with pytest.raises(ValueError, match="filter_scale.* positive and finite"):
        _resolve_filter("wavelet", scale, 1.0)


# --------------------------------------------------------------------------- #
# PyGSP: the same filters on the same graph and signals
# --------------------------------------------------------------------------- #
PYGSP_GRAPHS = ["grid", "ring", "weighted"]


def pygsp_graph(W, kind="combinatorial"):
    pygsp = pytest.importorskip("pygsp")
    G = pygsp.graphs.Graph(W, lap_type=kind)
    G.compute_fourier_basis()
    return G


def ours(W, X, kind="combinatorial", **kwargs):
    """Our filtered signals, shaped (n, B, K) like PyGSP's output."""
    penalty = GraphPenalty(W, laplacian=kind, **kwargs)
    return penalty.filter_signal(torch.as_tensor(X)).numpy().transpose(2, 1, 0)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", PYGSP_GRAPHS)
def test_pygsp_laplacian_equals_ours(graph, kind):
    W = GRAPHS[graph]()
    G = pygsp_graph(W, kind)
    np.testing.assert_allclose(G.L.toarray(), laplacian(W, kind).toarray(), atol=1e-14)
    np.testing.assert_allclose(G.lmax, GraphPenalty(W, "heat", kind).lmax, rtol=1e-10)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", PYGSP_GRAPHS)
@pytest.mark.parametrize("t", [1.0, 4.0, 10.0])
def test_pygsp_heat_exact(t, graph, kind):
    # PyGSP's Heat(G, scale=t) is exp(-t lam / lmax): our tau is t / lmax, and our
    # response is its complement 1 - heat
    W = GRAPHS[graph]()
    G = pygsp_graph(W, kind)
    X = signals(G.N)
    heat = __import__("pygsp").filters.Heat(G, scale=t)
    expected = X.T - heat.filter(X.T, method="exact")
    got = ours(W, X, kind, filter="heat", scale=t / G.lmax, method="exact")
    np.testing.assert_allclose(got[:, :, 0], expected, atol=1e-12)
    if t == 10.0:  # PyGSP's default scale is our default tau
        default = ours(W, X, kind, filter="heat", method="exact")
        np.testing.assert_allclose(default[:, :, 0], expected, atol=1e-12)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", PYGSP_GRAPHS)
def test_pygsp_mexican_hat_exact(graph, kind):
    pygsp = pytest.importorskip("pygsp")
    W = GRAPHS[graph]()
    G = pygsp_graph(W, kind)
    X = signals(G.N)
    # Nf=5: one low-pass kernel, then 4 band-pass kernels at our default scales
    bank = pygsp.filters.MexicanHat(G, Nf=5, normalize=False)
    np.testing.assert_allclose(bank.scales, default_wavelet_scales(G.lmax), rtol=1e-12)
    expected = bank.filter(X.T, method="exact")[:, :, 1:]
    got = ours(W, X, kind, filter="wavelet", scale=bank.scales, method="exact")
    # band 0 is our own scaling function (not PyGSP's low-pass), then the wavelets
    np.testing.assert_allclose(got[:, :, 1:], expected, atol=1e-12)
    scaling = spectral_apply(
        G.L.toarray(), lambda lam: np.exp(-1.0 - max(bank.scales) * lam), X
    )
    np.testing.assert_allclose(got[:, :, 0], scaling.T, atol=1e-12)
    default = ours(W, X, kind, filter="wavelet", method="exact")
    np.testing.assert_allclose(default, got, atol=1e-12)


@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
@pytest.mark.parametrize("graph", PYGSP_GRAPHS)
@pytest.mark.parametrize("order", [10, 30])
def test_pygsp_chebyshev(order, graph, kind):
    pygsp = pytest.importorskip("pygsp")
    W = GRAPHS[graph]()
    G = pygsp_graph(W, kind)
    X = signals(G.N)
    # pin lmax on both sides (above the spectrum, as an estimate would be)
    lmax = 1.05 * G.lmax
    G._lmax = lmax
    heat = pygsp.filters.Heat(G, scale=3.0)
    expected = X.T - heat.filter(X.T, method="chebyshev", order=order)
    got = ours(
        W,
        X,
        kind,
        filter="heat",
        scale=3.0 / lmax,
        method="chebyshev",
        order=order,
        lmax=lmax,
    )
    np.testing.assert_allclose(got[:, :, 0], expected, atol=1e-10)

    bank = pygsp.filters.MexicanHat(G, Nf=4, normalize=False)
    expected = bank.filter(X.T, method="chebyshev", order=order)[:, :, 1:]
    got = ours(
        W,
        X,
        kind,
        filter="wavelet",
        scale=bank.scales,
        method="chebyshev",
        order=order,
        lmax=lmax,
    )
    np.testing.assert_allclose(got[:, :, 1:], expected, atol=1e-10)


def test_pygsp_chebyshev_coefficients():
    pygsp = pytest.importorskip("pygsp")
    from pygsp.filters.approximations import compute_cheby_coeff

    G = pygsp_graph(GRAPHS["weighted"]())
    G._lmax = lmax = 1.05 * G.lmax
    bank = pygsp.filters.MexicanHat(G, Nf=3, normalize=False)
    theirs = np.asarray(compute_cheby_coeff(bank, m=25))  # one row per kernel
    for k, s in enumerate(bank.scales, start=1):
        mine = chebyshev_coefficients(lambda lam, s=s: mexican_hat(lam, s), lmax, 25)
        # PyGSP stores 2 c_0 (and halves it in cheby_op)
        np.testing.assert_allclose(mine[0], theirs[k, 0] / 2, atol=1e-13)
        np.testing.assert_allclose(mine[1:], theirs[k, 1:], atol=1e-13)
