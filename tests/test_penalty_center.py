"""GraphPenalty(center=True): the filters applied to the centred signal."""

import numpy as np
import pytest
import torch

from skgsr.graphs import coactivation_graph, laplacian, make_graph
from skgsr.penalty import GraphPenalty


def graphs_under_test():
    rng = np.random.RandomState(0)
    learned = coactivation_graph(rng.normal(size=(40, 16)), 3)
    return {"grid": make_graph("grid", (4, 4)), "learned": learned}


@pytest.mark.parametrize("name", ["grid", "learned"])
@pytest.mark.parametrize("kind", ["combinatorial", "normalized"])
def test_centred_rayleigh_against_its_formula(name, kind):
    """mean_b xc^T L xc / (xc^T xc + 1e-12), xc = x - mean(x) 1; and without
    centring SPEC.md's rayleigh, mean_b x^T L x / (x^T x + 1e-12)."""
    A = graphs_under_test()[name]
    L = laplacian(A, kind).toarray()
    X = np.random.RandomState(1).normal(size=(7, 16)) + 3.0
    Xc = X - X.mean(axis=1, keepdims=True)

    def rayleigh(Z):
        energy = np.einsum("bi,ij,bj->b", Z, L, Z)
        return np.mean(energy / (np.einsum("bi,bi->b", Z, Z) + 1e-12))

    x = torch.from_numpy(X)
    centred = GraphPenalty(A, "rayleigh", laplacian=kind, center=True)
    plain = GraphPenalty(A, "rayleigh", laplacian=kind)
    assert float(centred(x)) == pytest.approx(rayleigh(Xc), rel=1e-10)
    assert float(plain(x)) == pytest.approx(rayleigh(X), rel=1e-10)
    assert float(centred(x)) != pytest.approx(float(plain(x)), rel=1e-3)


def test_centred_rayleigh_ignores_offset_and_scale():
    """A common offset of all neurons lowers the plain Rayleigh quotient (it
    grows the denominator) but leaves the centred one unchanged, as does a
    rescaling."""
    A = graphs_under_test()["learned"]
    x = torch.randn(5, 16, dtype=torch.float64)
    centred = GraphPenalty(A, "rayleigh", laplacian="normalized", center=True)
    plain = GraphPenalty(A, "rayleigh", laplacian="normalized")
    base = float(centred(x))
    assert float(centred(3.0 * x + 10.0)) == pytest.approx(base, rel=1e-10)
    assert float(plain(x + 10.0)) < 0.1 * float(plain(x))


@pytest.mark.parametrize("filt", ["laplacian", "heat", "wavelet"])
def test_centring_other_filters(filt):
    """Any filter sees the centred signal: equal to the uncentred penalty of the
    centred batch; on a combinatorial Laplacian (L 1 = 0) centring changes nothing
    when g(0) = 0, and changes the wavelet penalty, whose low-pass scaling
    function sees the mean."""
    A = make_graph("ring", 12)
    X = torch.randn(4, 12, dtype=torch.float64) + 2.0
    Xc = X - X.mean(dim=1, keepdim=True)
    for kind in ("combinatorial", "normalized"):
        centred = GraphPenalty(A, filt, laplacian=kind, center=True)
        plain = GraphPenalty(A, filt, laplacian=kind)
        assert float(centred(X)) == pytest.approx(float(plain(Xc)), rel=1e-10)
    centred = GraphPenalty(A, filt, center=True)
    plain = GraphPenalty(A, filt)
    if filt == "wavelet":
        assert float(centred(X)) < float(plain(X))
    else:
        assert float(centred(X)) == pytest.approx(float(plain(X)), rel=1e-8, abs=1e-10)


def test_centred_penalty_gradient():
    A = graphs_under_test()["learned"]
    penalty = GraphPenalty(A, "rayleigh", laplacian="normalized", center=True)
    x = torch.randn(3, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(penalty, (x,))
    assert "center=True" in repr(penalty)
