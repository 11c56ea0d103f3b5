"""Property-based tests (hypothesis) of the graph validators and of ``transform``."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skgsr import GSRAutoencoder, GSRClassifier, GSRRegressor
from skgsr.graphs import check_adjacency

FAST = settings(max_examples=20, deadline=None)

weights = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, width=64)


@st.composite
def symmetric_adjacencies(draw, min_nodes=1, max_nodes=12):
    """A symmetric non-negative matrix with a random sparsity pattern and diagonal."""
    n = draw(st.integers(min_nodes, max_nodes))
    values = draw(arrays(np.float64, (n, n), elements=weights))
    mask = draw(arrays(np.bool_, (n, n)))
    upper = np.triu(values * mask)
    return upper + np.triu(upper, 1).T


def _as(fmt, A):
    return sp.csr_matrix(A) if fmt == "sparse" else A


def _off_diagonal(A):
    return A - np.diag(np.diag(A))


@FAST
@given(A=symmetric_adjacencies(), fmt=st.sampled_from(["dense", "sparse"]))
def test_valid_adjacency_is_accepted_unchanged_off_the_diagonal(A, fmt):
    checked = check_adjacency(_as(fmt, A), n_nodes=A.shape[0])
    assert sp.issparse(checked) and checked.format == "csr"
    assert checked.dtype == np.float64 and checked.shape == A.shape
    dense = checked.toarray()
    np.testing.assert_array_equal(dense, _off_diagonal(A))
    assert not np.any(checked.data == 0)  # explicit zeros dropped
    np.testing.assert_array_equal(dense, dense.T)


@st.composite
def perturbed(draw):
    """A valid adjacency, an off-diagonal position and a fresh weight for it."""
    A = draw(symmetric_adjacencies(min_nodes=2))
    n = A.shape[0]
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(0, n - 2))
    j = j + 1 if j >= i else j  # j != i
    return A, i, j


@FAST
@given(
    case=perturbed(),
    factor=st.floats(1e-3, 1e3),
    fmt=st.sampled_from(["dense", "sparse"]),
)
def test_asymmetric_adjacency_is_rejected(case, factor, fmt):
    A, i, j = case
    A = A.copy()
    A[i, j] += factor * max(1.0, A.max())
    with pytest.raises(ValueError, match="not symmetric.*\\(A \\+ A.T\\) / 2"):
        check_adjacency(_as(fmt, A))


@FAST
@given(
    case=perturbed(),
    value=st.floats(max_value=-1e-300, allow_infinity=False, allow_nan=False),
    diagonal=st.booleans(),
    fmt=st.sampled_from(["dense", "sparse"]),
)
def test_negative_weight_is_rejected(case, value, diagonal, fmt):
    A, i, j = case
    A = A.copy()
    if diagonal:
        A[i, i] = value
    else:
        A[i, j] = A[j, i] = value
    with pytest.raises(ValueError, match="negative edge weights.*non-negative"):
        check_adjacency(_as(fmt, A))


@FAST
@given(
    case=perturbed(),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    symmetric=st.booleans(),
    fmt=st.sampled_from(["dense", "sparse"]),
)
def test_non_finite_weight_is_rejected(case, value, symmetric, fmt):
    A, i, j = case
    A = A.copy()
    A[i, j] = value
    if symmetric:
        A[j, i] = value
    with pytest.raises(ValueError, match="non-finite \\(NaN or infinite\\)"):
        check_adjacency(_as(fmt, A))


@FAST
@given(A=symmetric_adjacencies(), extra=st.integers(1, 3))
def test_wrong_number_of_nodes_is_rejected(A, extra):
    n = A.shape[0]
    with pytest.raises(ValueError, match=f"has {n} nodes.*n_components={n + extra}"):
        check_adjacency(A, n_nodes=n + extra)


def _is_prime(n):
    return n > 1 and all(n % k for k in range(2, int(n**0.5) + 1))


@st.composite
def transform_cases(draw):
    n_samples = draw(st.integers(1, 20))
    n_features = draw(st.integers(1, 6))
    n_components = draw(st.integers(2, 12))
    graphs = ["line", "ring", "star", "adjacency", "learned"]
    if not _is_prime(n_components):
        graphs += ["grid", "torus"]
    graph = draw(st.sampled_from(graphs))
    params = {"graph": graph}
    if graph == "adjacency":
        A = draw(symmetric_adjacencies(n_components, n_components))
        params["graph"] = A / max(1.0, A.max())
    elif graph == "learned":
        params.update(
            n_neighbors=draw(st.integers(1, n_components - 1)), graph_warmup=0
        )
    params["filter"] = draw(
        st.sampled_from(["laplacian", "rayleigh", "heat", "wavelet"])
    )
    Est = draw(st.sampled_from([GSRAutoencoder, GSRRegressor, GSRClassifier]))
    if Est is GSRClassifier and n_samples < 2:
        Est = GSRRegressor  # two classes need two samples
    seed = draw(st.integers(0, 2**16))
    return Est, n_samples, n_features, n_components, params, seed


@FAST
@given(case=transform_cases())
def test_transform_shape_and_finiteness(case):
    Est, n_samples, n_features, n_components, params, seed = case
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = np.arange(n_samples) % 2
    est = Est(
        n_components=n_components,
        hidden_layer_sizes=(4,),
        max_iter=2,
        random_state=seed,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 2 epochs
        est.fit(X) if Est is GSRAutoencoder else est.fit(X, y)
    Z = est.transform(X)
    assert Z.shape == (n_samples, n_components) and Z.dtype == np.float32
    assert np.all(np.isfinite(Z))
    assert est.feature_graph_.shape == (n_components, n_components)
    h, w = est.graph_shape_
    assert h * w == n_components
    assert np.all(np.isfinite(est.loss_curve_))
