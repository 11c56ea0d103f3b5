"""The synthetic data sets: shapes, seeding, and that their structure is there."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.decomposition import PCA
from sklearn.manifold import Isomap
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from skgsr.datasets import (
    make_factor_modules,
    make_feature_modules,
    make_hierarchical_clusters,
    make_latent_curve,
    make_rotated_images,
)

GENERATORS = {
    "modules": make_feature_modules,
    "hierarchical": make_hierarchical_clusters,
    "factor_modules": make_factor_modules,
    "rotations": make_rotated_images,
    "curve": make_latent_curve,
}


def _nearest_neighbour(X):
    return NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X)[1][:, 1]


def _circular_distance(a, b):
    d = np.abs(a - b) % (2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


# ------------------------------------------------------------------ common
@pytest.mark.parametrize("name", GENERATORS)
def test_seeding(name):
    make = GENERATORS[name]
    first, again, other = (
        make(random_state=0),
        make(random_state=0),
        make(random_state=1),
    )
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[0], other[0])
    # a RandomState instance is consumed like scikit-learn's generators do
    from_instance = make(random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(first[0], from_instance[0])


def test_shapes():
    X, y, info = make_feature_modules(
        250, 37, n_modules=5, n_clusters=4, n_subclusters=3, random_state=0
    )
    assert X.shape == (250, 37) and y.shape == (250,)
    assert info.subclusters.shape == (250,) and info.modules.shape == (37,)
    assert info.module_activity.shape == (250, 5)
    assert info.cluster_centers.shape == (4, 5)
    assert info.subcluster_centers.shape == (12, 5)
    # as even as possible: 250 samples over 12 sub-clusters, 37 features over 5
    assert set(np.bincount(info.subclusters)) == {20, 21}
    assert set(np.bincount(info.modules)) == {7, 8}
    # modules are contiguous blocks of features
    assert np.all(np.diff(info.modules) >= 0)

    X, theta = make_rotated_images(30, size=12, random_state=0)
    assert X.shape == (30, 144) and theta.shape == (30,)
    assert np.all((theta >= 0) & (theta < 2 * np.pi))

    X, t = make_latent_curve(40, 7, degree=3, random_state=0)
    assert X.shape == (40, 7) and t.shape == (40,)
    assert np.all((t >= 0) & (t <= 1))


# ------------------------------------------------------------ hierarchical
def test_hierarchical_noiseless_model():
    X, y, info = make_hierarchical_clusters(
        12,
        n_clusters=2,
        n_subclusters=3,
        block_size=2,
        level_std=0.0,
        noise=0.0,
        random_state=0,
    )
    assert X.shape == (12, 2 * 2 * (1 + 3))
    np.testing.assert_array_equal(info.subclusters // 3, y)
    # each sample: its cluster's block and its sub-cluster's block on, no other
    on = np.zeros((12, 8), dtype=bool)
    on[np.arange(12), y] = True
    on[np.arange(12), 2 + info.subclusters] = True
    np.testing.assert_array_equal(X[:, ::2] > 0, on)
    np.testing.assert_array_equal(X[:, 1::2] > 0, on)
    np.testing.assert_array_equal(info.blocks, np.repeat(np.arange(8), 2))
    # with level_std=0 a feature takes one value (its loading) when on
    for j in range(X.shape[1]):
        assert len(np.unique(X[X[:, j] > 0, j])) == 1


def test_hierarchical_levels_are_found_by_kmeans():
    X, y, info = make_hierarchical_clusters(random_state=0)
    clusters = KMeans(2, n_init=10, random_state=0).fit_predict(X)
    subclusters = KMeans(4, n_init=10, random_state=0).fit_predict(X)
    # measured: 1.0 and 0.991 (a few samples of levels far from 1)
    assert adjusted_rand_score(y, clusters) == 1.0
    assert adjusted_rand_score(info.subclusters, subclusters) > 0.95


def test_hierarchical_errors():
    with pytest.raises(ValueError, match="every sub-cluster needs a sample"):
        make_hierarchical_clusters(3, n_clusters=2, n_subclusters=2)
    with pytest.raises(ValueError, match="block_size"):
        make_hierarchical_clusters(block_size=0)


# ------------------------------------------------------------------ modules
def test_modules_noiseless_model():
    """With noise=0 the features are exactly the loadings times module activity."""
    X, y, info = make_feature_modules(noise=0.0, random_state=3)
    np.testing.assert_allclose(
        X, info.module_activity[:, info.modules] * info.loadings, rtol=0, atol=1e-12
    )
    assert np.all((info.loadings >= 0.5) & (info.loadings <= 1.5))


def test_modules_correlate_within_more_than_across():
    """Features of a module correlate more with each other than with others.

    Seed 0, defaults: mean within-module correlation 0.95, mean absolute
    across-module correlation 0.40; every feature's most correlated feature is in
    its module, and spectral clustering of |corr| recovers the modules (ARI 1.0).
    """
    X, _, info = make_feature_modules(random_state=0)
    corr = np.corrcoef(X.T)
    modules = info.modules
    same = modules[:, None] == modules[None, :]
    off_diagonal = ~np.eye(len(modules), dtype=bool)
    within = corr[same & off_diagonal].mean()
    across = np.abs(corr[~same]).mean()
    assert within > 0.9 and across < 0.5, (within, across)
    np.fill_diagonal(corr, -np.inf)
    assert np.all(modules[corr.argmax(axis=1)] == modules)
    np.fill_diagonal(corr, 1.0)
    found = SpectralClustering(4, affinity="precomputed", random_state=0).fit_predict(
        np.abs(corr)
    )
    assert adjusted_rand_score(modules, found) == 1.0


def test_subclusters_nested_in_clusters():
    """Sub-clusters lie in their cluster, and k-means finds both levels.

    Seed 0, defaults: k-means on X recovers the 3 clusters with ARI 1.0 and the
    6 sub-clusters with ARI 0.81. Every sub-cluster's centroid (in X) is nearer
    to its sibling than to any sub-cluster of another cluster.
    """
    X, y, info = make_feature_modules(random_state=0)
    sub = info.subclusters
    # each sub-cluster belongs to exactly one cluster, the one its label says
    for g in np.unique(sub):
        assert set(y[sub == g]) == {g // 2}
    # the centres are equidistant at the requested distances
    np.testing.assert_allclose(pdist(info.cluster_centers), 8.0)
    sub_centres = info.subcluster_centers.reshape(3, 2, -1)
    for k in range(3):
        np.testing.assert_allclose(pdist(sub_centres[k]), 3.0)
        np.testing.assert_allclose(sub_centres[k].mean(axis=0), info.cluster_centers[k])
    # in the data
    centroids = np.array([X[sub == g].mean(axis=0) for g in range(6)])
    distances = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
    parent = np.arange(6) // 2
    for g in range(6):
        sibling = distances[g, g ^ 1]
        assert sibling < distances[g, parent != parent[g]].min()
    clusters = KMeans(3, n_init=10, random_state=0).fit_predict(X)
    subclusters = KMeans(6, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, clusters) > 0.95
    assert adjusted_rand_score(sub, subclusters) > 0.7


def test_modules_many_clusters_fall_back_to_gaussian_centres():
    """More clusters than modules: no equidistant simplex, Gaussian centres."""
    _, y, info = make_feature_modules(
        120, 12, n_modules=2, n_clusters=5, n_subclusters=1, random_state=0
    )
    assert info.cluster_centers.shape == (5, 2)
    assert not np.allclose(pdist(info.cluster_centers), 8.0)
    np.testing.assert_allclose(info.cluster_centers.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_array_equal(info.subclusters, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_samples": 5}, "every sub-cluster needs a sample"),
        ({"n_features": 3}, "every module needs a feature"),
        ({"module_std": 0.0}, "module_std must be positive"),
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
        ({"n_clusters": 0}, "n_clusters must be an integer >= 1"),
        ({"n_modules": 2.5}, "n_modules must be an integer"),
    ],
)
def test_modules_errors(params, message):
    with pytest.raises(ValueError, match=message):
        make_feature_modules(**params)


# ------------------------------------------------------------ factor modules
@pytest.mark.parametrize("sizes", ["equal", "unequal"])
def test_factor_module_sizes(sizes):
    X, modules, info = make_factor_modules(
        200, 47, n_modules=6, module_sizes=sizes, random_state=2
    )
    assert X.shape == (200, 47) and modules.shape == (47,)
    assert info.factors.shape == (200, 6)
    counts = np.bincount(modules, minlength=6)
    assert counts.sum() == 47 and np.all(np.diff(modules) >= 0)  # contiguous
    if sizes == "equal":
        assert counts.max() - counts.min() <= 1
    else:
        assert counts.min() >= 3 and counts.max() - counts.min() > 1


def test_factor_modules_noiseless_linear_model():
    """noise=0, no overlap, no nonlinearity: x_ij = w_j a_{i m(j)} exactly."""
    X, modules, info = make_factor_modules(noise=0.0, random_state=4)
    np.testing.assert_allclose(X, info.factors[:, modules] * info.loadings, atol=1e-12)
    assert np.all((info.loadings >= 0.5) & (info.loadings <= 1.5))
    np.testing.assert_array_equal(info.second_module, -1)
    np.testing.assert_array_equal(info.second_loadings, 0.0)


def test_sparse_factors_switch_on_at_their_rates():
    """Module k is on (non-zero) in a share p_k of the samples, p_k within
    [0.5, 1.5] x p_active; its strength when on has mean 1 (Gamma(2, 1/2))."""
    _, _, info = make_factor_modules(20000, 8, n_modules=4, random_state=5)
    assert np.all((info.p_active >= 0.15) & (info.p_active <= 0.45))
    on = info.factors > 0
    np.testing.assert_allclose(on.mean(axis=0), info.p_active, atol=0.015)
    assert info.factors[on].mean() == pytest.approx(1.0, abs=0.02)
    # independent programs: co-activation at the product of the rates
    both = (on[:, 0] & on[:, 1]).mean()
    assert both == pytest.approx(info.p_active[0] * info.p_active[1], abs=0.01)


def test_gaussian_factors_have_the_requested_correlation():
    _, _, info = make_factor_modules(
        20000,
        10,
        n_modules=5,
        factors="gaussian",
        factor_correlation=0.3,
        random_state=6,
    )
    corr = np.corrcoef(info.factors.T)[np.triu_indices(5, 1)]
    np.testing.assert_allclose(corr, 0.3, atol=0.03)
    np.testing.assert_array_equal(np.isnan(info.p_active), True)


def test_overlapping_features_load_on_another_module():
    X, modules, info = make_factor_modules(
        300, 400, n_modules=5, overlap=0.3, noise=0.0, random_state=7
    )
    shared = info.second_module >= 0
    assert shared.mean() == pytest.approx(0.3, abs=0.06)
    assert np.all(info.second_module[shared] != modules[shared])
    assert np.all(
        (info.second_loadings[shared] >= 0.25) & (info.second_loadings[shared] <= 0.75)
    )
    drive = info.factors[:, modules] * info.loadings
    drive[:, shared] += (
        info.factors[:, info.second_module[shared]] * info.second_loadings[shared]
    )
    np.testing.assert_allclose(X, drive, atol=1e-12)


def test_sigmoid_features_are_bounded_monotone_responses():
    """Without noise each feature lies in (0, 2) and is an increasing function of
    its factor (Spearman correlation 1), though not a linear one."""
    X, modules, info = make_factor_modules(
        500,
        20,
        n_modules=4,
        factors="gaussian",
        nonlinearity="sigmoid",
        noise=0.0,
        random_state=8,
    )
    assert np.all((X > 0) & (X < 2))
    for j in range(20):
        a = info.factors[:, modules[j]]
        assert spearmanr(a, X[:, j]).statistic == pytest.approx(1.0)
        assert abs(np.corrcoef(a, X[:, j])[0, 1]) < 0.999


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, 1.0),
        (
            {
                "factors": "gaussian",
                "nonlinearity": "sigmoid",
                "factor_correlation": 0.3,
            },
            1.0,
        ),
        # a feature with a strong second module sits between two modules
        ({"overlap": 0.3}, 0.95),
    ],
)
def test_factor_modules_are_in_the_feature_correlations(params, expected):
    """The modules are the structure of the data: spectral clustering of the
    features' absolute correlations recovers them (seed 0, 1000 samples; with
    overlap=0.3, ARI 0.967: one feature goes to its second module)."""
    X, modules, _ = make_factor_modules(1000, 50, n_modules=5, random_state=0, **params)
    corr = np.abs(np.corrcoef(X.T))
    found = SpectralClustering(5, affinity="precomputed", random_state=0).fit_predict(
        corr
    )
    assert adjusted_rand_score(modules, found) >= expected


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_features": 3}, "every module needs a feature"),
        ({"factors": "laplace"}, "factors must be 'sparse' or 'gaussian'"),
        ({"nonlinearity": "tanh"}, "nonlinearity must be None or 'sigmoid'"),
        ({"p_active": 0.0}, "p_active must be in"),
        ({"factor_correlation": 1.0}, "factor_correlation must be in"),
        ({"overlap": 1.5}, "overlap must be a probability"),
        ({"overlap": 0.5, "n_modules": 1}, "needs n_modules >= 2"),
        ({"module_sizes": "random"}, "module_sizes must be"),
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
    ],
)
def test_factor_modules_errors(params, message):
    with pytest.raises(ValueError, match=message):
        make_factor_modules(**params)


# ------------------------------------------------------------------ rotations
@pytest.mark.parametrize("image", ["pattern", 3, "array"])
def test_rotation_by_quarter_turns_is_exact(image):
    """A quarter turn maps the pixel grid onto itself: it equals numpy.rot90."""
    if image == "array":
        image = np.random.RandomState(0).rand(5, 7)
    X, theta = make_rotated_images(4, image=image, size=15, angles="even", noise=0)
    np.testing.assert_allclose(np.degrees(theta), [0, 90, 180, 270])
    images = X.reshape(4, 15, 15)
    for k in range(1, 4):
        np.testing.assert_allclose(images[k], np.rot90(images[0], k), atol=1e-12)
    assert images[0].max() > 0.5  # something is drawn


def test_rotations_stay_inside_the_disc():
    X, _ = make_rotated_images(20, image=8, size=16, noise=0.0, random_state=0)
    centres = (np.arange(16) + 0.5) / 8 - 1
    outside = (centres[None, :] ** 2 + centres[:, None] ** 2 > 1).ravel()
    assert np.all(X[:, outside] == 0)
    # digits are scaled to [0, 1] and the spline's ringing is clipped
    assert X.min() >= 0 and X.max() <= 1


def test_rotations_are_periodic():
    """The image at 359 degrees is as close to the one at 0 as the one at 1.

    size=16, noise=0, 360 even angles: |x(0) - x(359)| / |x(0) - x(1)| = 1.0
    (the pixel grid is mirror-symmetric) and |x(0) - x(1)| / |x(0) - x(180)| = 0.036.
    """
    X, _ = make_rotated_images(360, angles="even", noise=0.0)
    d = np.linalg.norm(X - X[0], axis=1)
    # exactly: the arrow and the pixel grid are both mirror-symmetric
    assert d[359] == pytest.approx(d[1], rel=1e-9)
    assert d[1] < 0.1 * d[180]
    # the distance grows with the angle up to half a turn
    assert np.all(np.diff(d[1:60]) > 0)


@pytest.mark.parametrize("image", ["pattern", 3])
def test_neighbouring_angles_give_nearby_images(image):
    """Each image's nearest neighbour has a nearby angle, across 0/360 too.

    180 random angles, noise 0.05: the largest angle to the nearest neighbour is
    7.9 degrees for the pattern and 7.1 for the digit 3 (the largest gap between
    consecutive random angles is 12.6 degrees).
    """
    X, theta = make_rotated_images(image=image, random_state=0)
    gaps = np.degrees(_circular_distance(theta, theta[_nearest_neighbour(X)]))
    assert gaps.max() < 12.0, gaps.max()


def test_pattern_angle_recovered_by_pca():
    """The default pattern's rotations lie on a ring in their first two PCs.

    The angle of (PC1, PC2) equals the rotation angle up to an offset and a
    reflection: resultant length of their difference 0.984 (1 is exact).
    """
    X, theta = make_rotated_images(random_state=0)
    pcs = PCA(2).fit_transform(X)
    phi = np.arctan2(pcs[:, 1], pcs[:, 0])
    resultant = max(
        abs(np.mean(np.exp(1j * (phi - theta)))),
        abs(np.mean(np.exp(1j * (phi + theta)))),
    )
    assert resultant > 0.97, resultant


@pytest.mark.parametrize(
    "params, message",
    [
        ({"image": "cat"}, "image must be 'pattern'"),
        ({"image": 10}, "in 0-9"),
        ({"image": np.ones(5)}, "2-D array"),
        ({"image": np.full((3, 3), np.nan)}, "non-finite"),
        ({"angles": "linear"}, "angles must be 'random' or 'even'"),
        ({"size": 1}, "size must be an integer >= 2"),
    ],
)
def test_rotation_errors(params, message):
    with pytest.raises(ValueError, match=message):
        make_rotated_images(**params)


# ------------------------------------------------------------------ curve
def test_curve_dimension_and_scale():
    X, _ = make_latent_curve(noise=0.0, curvature=0.0, random_state=0)
    assert np.linalg.matrix_rank(X - X.mean(axis=0), tol=1e-8) == 1
    X, _ = make_latent_curve(noise=0.0, degree=5, random_state=0)
    assert np.linalg.matrix_rank(X - X.mean(axis=0), tol=1e-8) == 5
    # beta gives the features' signal unit variance on average (measured 1.013)
    X, _ = make_latent_curve(20000, noise=0.0, curvature=2.0, random_state=0)
    assert X.var(axis=0).mean() == pytest.approx(1.0, rel=0.02)


def test_curve_never_comes_back_near_itself():
    """|gamma(t) - gamma(s)| >= beta sqrt(12) |t - s|, beta = sqrt(d / sum w^2)."""
    c, d, degree = 2.0, 30, 4
    X, t = make_latent_curve(
        200, d, curvature=c, degree=degree, noise=0.0, random_state=0
    )
    weights = np.concatenate([[1.0], c / np.arange(1, degree)])
    beta = np.sqrt(d / np.sum(weights**2))
    gaps = pdist(X) / pdist(t[:, None])
    assert gaps.min() >= beta * np.sqrt(12) * (1 - 1e-9)


def test_linear_latent_recovered_by_pca():
    """curvature=0, noise 0.3: |Spearman(PC1, t)| = 0.998 (seed 0)."""
    X, t = make_latent_curve(curvature=0.0, random_state=0)
    rho = abs(spearmanr(PCA(1).fit_transform(X)[:, 0], t)[0])
    assert rho > 0.99, rho


def test_curved_latent_needs_a_neighbourhood_graph():
    """curvature=2, noise 0.3: PCA loses the order, a kNN graph keeps it.

    Seed 0: |Spearman(PC1, t)| = 0.06, |Spearman(Isomap, t)| = 0.999; the
    nearest neighbour in X is at median |dt| 0.012.
    """
    X, t = make_latent_curve(curvature=2.0, random_state=0)
    pca = abs(spearmanr(PCA(1).fit_transform(X)[:, 0], t)[0])
    isomap = Isomap(n_neighbors=10, n_components=1).fit_transform(X)[:, 0]
    assert pca < 0.3, pca
    assert abs(spearmanr(isomap, t)[0]) > 0.99
    assert np.median(np.abs(t - t[_nearest_neighbour(X)])) < 0.03


def test_curve_errors():
    with pytest.raises(ValueError, match="at least degree"):
        make_latent_curve(n_features=3, degree=4)
    with pytest.raises(ValueError, match="curvature must be a finite number"):
        make_latent_curve(curvature=-1)
