"""Measured interpretability claims of GSR, with their numbers.

Each test trains small networks on scikit-learn's digits (8x8 images, 64 inputs)
with a fixed seed and asserts a claim of the papers in the measures of
:mod:`skgsr.metrics`. The numbers in the docstrings were measured on one CPU
thread (``OMP_NUM_THREADS=1``); the study behind the chosen settings (several
seeds and strengths) is ``benchmarks/study_interpretability.py``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skgsr import GSRAutoencoder, GSRClassifier
from skgsr.descramble import descrambling_bound, permutation_descrambler
from skgsr.graphs import make_graph
from skgsr.metrics import (
    participation_ratio,
    shuffled_dirichlet_energy,
    smoothness_score,
    spatial_spread,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = make_graph("grid", (8, 8))


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.33, random_state=0, stratify=y)


def test_gsr_is_smoother_than_the_best_relabelling_of_an_unregularized_network(
    digits_split,
):
    """GSR trains in more smoothness than any reordering finds afterwards.

    The comparison the papers could not make: an unregularized network's
    neurons can be reordered after training (descrambling) to look smooth on
    the grid, so GSR's maps must beat the *best* reordering, not the arbitrary
    order of training. Same architecture (64-128-64 grid-64-10 classifier),
    same seed, same 60 epochs; activations of the 594 held-out digits.

    Measured (seed 0, the raw Laplacian penalty, Glorot initialization):
    held-out accuracy 0.971 (alpha=0) and 0.975 (alpha=0.1); smoothness score
    of the alpha=0 layer -0.014 as trained, 0.643 after the permutation
    descrambler (FAQ, then 1000 tabu iterations from each of the 3 best starts,
    the input order among them; center=False so that it maximises this very
    score); GSR alpha=0.1: 0.720. Over seeds 0-4 (study script) the
    descrambled baseline scored 0.625-0.653 and GSR 0.640-0.750: GSR ahead on
    every seed, by 0.001 (seed 1, a tie) to 0.125, so this seed's margin of
    0.077 is not a general one. With PyTorch's default initialization (before)
    the margin was 0.07-0.11 on every seed (descrambled 0.687-0.718, GSR
    0.758-0.827). A rotation is not a reordering: the orthogonal descrambler's
    bound allows 0.937, so GSR's advantage is over what preserves the
    network's function (a permutation), not over every linear view.

    alpha=0.1: on the grid {0.03, 0.1, 0.3} at 60 epochs and seeds 0-4, the
    strength with the highest smoothness and no loss of accuracy (0.3 loses up
    to 7 points and scores 0.46-0.62; 0.03 scores 0.61-0.65).
    """
    X_train, X_test, y_train, y_test = digits_split
    fitted = {}
    for alpha in (0.0, 0.1):
        est = GSRClassifier(
            filter="laplacian", alpha=alpha, max_iter=60, random_state=0
        )
        fitted[alpha] = est.fit(X_train, y_train)
        assert est.n_iter_ == 60  # same number of epochs for both
    Z0 = fitted[0.0].transform(X_test).astype(np.float64)
    Z_gsr = fitted[0.1].transform(X_test).astype(np.float64)

    perm = permutation_descrambler(Z0, GRID, center=False, random_state=0)
    descrambled = smoothness_score(Z0[:, perm], GRID)
    as_trained = smoothness_score(Z0, GRID)
    gsr = smoothness_score(Z_gsr, GRID)
    print(f"alpha=0: {as_trained:.3f} as trained, {descrambled:.3f} descrambled")
    print(f"alpha=0.1: {gsr:.3f}")
    assert as_trained < 0.2 < descrambled  # descrambling does find structure
    assert gsr > descrambled + 0.05
    # and GSR does not pay for it in accuracy
    accuracy = {a: est.score(X_test, y_test) for a, est in fitted.items()}
    assert accuracy[0.1] >= accuracy[0.0] - 0.01
    # the rotation bound is out of reach of both: a permutation is far from it
    rotation = 1 - descrambling_bound(Z0, GRID, center=False) / (
        shuffled_dirichlet_energy(Z0, GRID)
    )
    assert rotation > gsr


def test_wavelet_filter_gives_localized_activation_maps(digits_split):
    """Wavelet GSR gives sparser maps, more compact than their own neurons
    relabelled at random.

    Autoencoder 64-128-64 grid-128-64, identity embedding, seed 0, 30 epochs, on
    the 1203 training digits; maps of the 594 held-out digits. The papers' raw
    penalties (``scale_alpha=False``) at the same strength alpha=0.003 for both
    filters.

    Measured (Glorot initialization) spatial spread (1 = as spread as a constant
    map, 0 = one neuron), the same with the neurons relabelled at random (mean
    over 30 permutations, RandomState(0)), participation ratio (share of neurons
    carrying the energy) and test MSE: unregularized 1.007 / 0.985 / 0.389 /
    0.0114, Laplacian 0.926 / 0.983 / 0.393 / 0.0163, wavelet 0.943 / 0.974 /
    0.280 / 0.0150. Seeds 0-4 (``/tmp``-free re-run of the same code): the
    wavelet maps are below their shuffled spread on every seed, by 0.030-0.096,
    with participation 0.27-0.31 (0.68-0.87x the lower of the two others,
    0.34-0.42) and MSE 0.0135-0.0153 (Laplacian 0.0146-0.0163); the
    unregularized maps are -0.085 to +0.035 from their shuffled spread, the
    Laplacian ones -0.085 to +0.096.

    What no longer holds since the Glorot initialization: with PyTorch's default
    initialization the Laplacian maps were as spread as their shuffled copy and
    the wavelet maps 0.05 more compact than both other models (spread 0.885
    against 0.976-0.978); now the Laplacian maps are compact on some seeds too
    (0.926 on seed 0), so the claim is the wavelet's own: sparser, and compact
    for its sparsity on every seed.

    Before the fix (the L1 norm of the Mexican-hat band-pass coefficients alone,
    without the low-pass scaling function) the wavelet maps were not localized
    (see :func:`skgsr.filters.wavelet_scaling_function`).
    """
    X_train, X_test, _, _ = digits_split
    results = {}
    for name, filter, alpha in [
        ("none", "laplacian", 0.0),
        ("laplacian", "laplacian", 0.003),
        ("wavelet", "wavelet", 0.003),
    ]:
        est = GSRAutoencoder(
            filter=filter, alpha=alpha, scale_alpha=False, max_iter=30, random_state=0
        )
        Z = est.fit(X_train).transform(X_test)
        rng = np.random.RandomState(0)  # the same 30 relabellings for each model
        shuffled = float(
            np.mean(
                [
                    spatial_spread(Z[:, rng.permutation(Z.shape[1])], est.graph_shape_)
                    for _ in range(30)
                ]
            )
        )
        results[name] = (
            spatial_spread(Z, est.graph_shape_),
            participation_ratio(Z),
            -est.score(X_test),
            shuffled,
        )
    print({k: tuple(round(v, 3) for v in r) for k, r in results.items()})
    spread = {k: r[0] for k, r in results.items()}
    ratio = {k: r[1] for k, r in results.items()}
    shuffled = {k: r[3] for k, r in results.items()}
    # localized by the layout, not only sparse: below its own shuffled baseline
    # (measured 0.031 below on this seed, 0.030 on the worst of seeds 0-4; the
    # bound was 0.03 when the margin was 0.07, and keeps half of it now)
    assert spread["wavelet"] < shuffled["wavelet"] - 0.015
    # sparser than both others (0.72x here, 0.68-0.87x on seeds 0-4; the bound
    # was 0.7x with PyTorch's initialization, under which the others were less
    # sparse)
    assert ratio["wavelet"] < 0.8 * min(ratio["none"], ratio["laplacian"])
    # at a reconstruction cost comparable to the Laplacian penalty's
    assert results["wavelet"][2] <= 1.1 * results["laplacian"][2]


def test_estimators_are_grid_searchable_over_filter_parameters(digits_split):
    """GridSearchCV over filter, filter_scale and filter_method (issue 4)."""
    X_train, _, y_train, _ = digits_split
    X, y = X_train[:240], y_train[:240]
    grid = [
        {"filter": ["laplacian", "rayleigh"]},
        {
            "filter": ["heat", "wavelet"],
            "filter_scale": [None, 0.5],
            "filter_method": ["exact", "chebyshev"],
        },
    ]
    for Est, target in ((GSRAutoencoder, None), (GSRClassifier, y)):
        est = Est(n_components=16, hidden_layer_sizes=(16,), max_iter=2, alpha=0.01)
        search = GridSearchCV(est, grid, cv=2, error_score="raise")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, target)
        params = search.cv_results_["params"]
        assert len(params) == 2 + 8
        assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
        # every candidate was fitted with its own filter: refit each and look
        for candidate in (params[0], params[5], params[-1]):
            fitted = Est(**{**est.get_params(), **candidate}).fit(X, target)
            penalty = fitted.penalty_
            assert penalty.filter == candidate["filter"]
            if candidate["filter"] in ("heat", "wavelet"):
                assert penalty.method_ == candidate["filter_method"]
                if candidate["filter_scale"] is not None:
                    assert penalty.spectral_filter.scales == (
                        candidate["filter_scale"],
                    )
        # the refitted best estimator carries the chosen filter
        assert search.best_estimator_.penalty_.filter == search.best_params_["filter"]
