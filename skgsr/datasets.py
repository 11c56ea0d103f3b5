"""Synthetic data sets with known structure, for tests and examples.

Each generator is seeded by ``random_state`` and made locally (no download), in
the manner of :mod:`sklearn.datasets`:

- :func:`make_feature_modules`: samples in clusters and nested sub-clusters whose
  features come in modules (groups of features driven together), the papers'
  "data generated with a structure containing sub-clusters". The module labels
  of the features are returned, so that a learned feature graph can be scored
  against them.
- :func:`make_hierarchical_clusters`: clusters and nested sub-clusters whose
  features are blocks switched on by a cluster or by a sub-cluster, the first
  paper's "features correspond to hierarchical cluster structure in the data".
- :func:`make_factor_modules`: modules of features driven by latent factors:
  sparse on/off programs (as gene programs in single cells) or Gaussian ones,
  modules of unequal sizes, features that load on a second module, features that
  respond to their factor through a saturating nonlinearity. The module labels
  of the features are returned.
- :func:`make_rotated_images`: one image rotated through 360 degrees; the
  rotation angle is the latent, which lies on a ring.
- :func:`make_latent_curve`: a smooth curve in high dimension plus noise; the
  position along the curve is a one-dimensional latent.
"""

import numbers

import numpy as np
from numpy.polynomial import legendre
from scipy import ndimage, special
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "make_factor_modules",
    "make_feature_modules",
    "make_hierarchical_clusters",
    "make_latent_curve",
    "make_rotated_images",
]


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_nonnegative(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}.")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _equidistant_points(n_points, dim, distance, rng):
    """``n_points`` points of ``R^dim`` at pairwise distance ``distance``, mean 0.

    Random orthonormal directions scaled by ``distance / sqrt(2)`` and centred
    (a regular simplex in a random orientation) when ``n_points <= dim``;
    otherwise, with no room for equidistant points, Gaussian points with that
    expected pairwise distance.
    """
    if n_points <= dim:
        directions, _ = np.linalg.qr(rng.standard_normal((dim, n_points)))
        points = distance / np.sqrt(2.0) * directions.T
    else:
        points = distance / np.sqrt(2.0 * dim) * rng.standard_normal((n_points, dim))
    return points - points.mean(axis=0)


def _split_evenly(total, parts):
    """Sizes of ``parts`` groups summing to ``total``, differing by at most one."""
    sizes = np.full(parts, total // parts)
    sizes[: total % parts] += 1
    return sizes


# --------------------------------------------------------------------------- #
# Feature modules with sub-clusters
# --------------------------------------------------------------------------- #
def make_feature_modules(
    n_samples=300,
    n_features=40,
    *,
    n_modules=4,
    n_clusters=3,
    n_subclusters=2,
    cluster_separation=8.0,
    subcluster_separation=3.0,
    module_std=1.0,
    noise=0.5,
    shuffle=True,
    random_state=None,
):
    """Clusters and nested sub-clusters of samples over modules of features.

    The features are split into ``n_modules`` contiguous modules of (nearly)
    equal size; every feature of module ``m`` is driven by the same latent
    *module activity* :math:`a_m`. A sample ``i`` of sub-cluster ``s`` of
    cluster ``k`` has module activities

    .. math::

        a_i = c_k + o_{ks} + \\sigma_a \\varepsilon_i, \\qquad
        \\varepsilon_i \\sim \\mathcal N(0, I),

    vectors of length ``n_modules``: a cluster centre :math:`c_k`, a sub-cluster
    offset :math:`o_{ks}` and a per-sample, per-module fluctuation. The cluster
    centres are equidistant, :math:`\\|c_k - c_l\\| = \\delta_c`, and centred at
    the origin (a regular simplex in a random orientation); the offsets of the
    sub-clusters of a cluster likewise, :math:`\\|o_{ks} - o_{kt}\\| =
    \\delta_s`, centred on their cluster's centre. (With more clusters, or
    sub-clusters per cluster, than modules there is no room for equidistant
    points: they are then Gaussian with that expected distance.) The features are

    .. math::

        x_{ij} = w_j \\, a_{i, m(j)} + \\sigma \\eta_{ij}, \\qquad
        w_j \\sim \\mathcal U(0.5, 1.5), \\quad \\eta_{ij} \\sim \\mathcal N(0, 1),

    where :math:`m(j)` is the module of feature ``j``. Features of one module
    are therefore strongly correlated (they share :math:`a_m`); features of two
    modules are less so, since :math:`\\sigma_a \\varepsilon_i` is independent
    across modules (they still co-vary through the cluster centres). Sub-clusters
    are nested in their cluster when ``subcluster_separation`` is well below
    ``cluster_separation``, and separated from each other when it is well above
    the per-sample spread ``module_std * sqrt(2 * n_modules)``.

    With the defaults (10 seeds measured): features of one module correlate at
    0.95 on average and those of different modules at 0.34 (absolute); spectral
    clustering of the absolute correlations recovers the modules exactly
    (adjusted Rand index 1.0); k-means on X recovers the clusters with ARI
    0.98-1.0 and the sub-clusters with ARI 0.75-0.91.

    Parameters
    ----------
    n_samples : int, default=300
        Number of samples, split as evenly as possible over the
        ``n_clusters * n_subclusters`` sub-clusters.
    n_features : int, default=40
        Number of features, split as evenly as possible over the modules.
    n_modules : int, default=4
        Number of feature modules.
    n_clusters : int, default=3
        Number of sample clusters.
    n_subclusters : int, default=2
        Number of sub-clusters in each cluster.
    cluster_separation : float, default=8.0
        :math:`\\delta_c`, distance between two cluster centres in
        module-activity space.
    subcluster_separation : float, default=3.0
        :math:`\\delta_s`, distance between two sub-cluster centres of one
        cluster.
    module_std : float, default=1.0
        :math:`\\sigma_a`, standard deviation of each sample's module activities
        around its sub-cluster centre, independent across modules: what makes
        the modules distinguishable. Must be positive.
    noise : float, default=0.5
        :math:`\\sigma`, standard deviation of the independent noise on each
        feature.
    shuffle : bool, default=True
        Shuffle the samples (the features always stay in module order).
    random_state : int, RandomState instance or None, default=None
        Seed of all the draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples.
    y : ndarray of shape (n_samples,)
        Cluster label of each sample, in ``range(n_clusters)``.
    info : sklearn.utils.Bunch
        - ``subclusters``: ndarray of shape (n_samples,), sub-cluster label of each
          sample, ``k * n_subclusters + s`` for sub-cluster ``s`` of cluster ``k``
          (so ``subclusters // n_subclusters == y``).
        - ``modules``: ndarray of shape (n_features,), module label of each
          feature, in ``range(n_modules)``: the ground truth against which a
          feature graph (or a clustering of neurons) is scored.
        - ``module_activity``: ndarray of shape (n_samples, n_modules), the latent
          :math:`a_i`. A neuron of a trained network can be assigned to the
          module whose activity it correlates with most.
        - ``loadings``: ndarray of shape (n_features,), the weights :math:`w_j`.
        - ``cluster_centers``: ndarray of shape (n_clusters, n_modules).
        - ``subcluster_centers``: ndarray of shape
          (n_clusters * n_subclusters, n_modules), :math:`c_k + o_{ks}`.

    See Also
    --------
    sklearn.datasets.make_blobs : Isotropic Gaussian clusters.
    sklearn.datasets.make_biclusters : Constant biclusters.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.datasets import make_feature_modules
    >>> X, y, info = make_feature_modules(random_state=0)
    >>> X.shape, np.bincount(y), np.bincount(info.modules)
    ((300, 40), array([100, 100, 100]), array([10, 10, 10, 10]))
    >>> bool(np.all(info.subclusters // 2 == y))
    True
    """
    n_modules = _check_int(n_modules, "n_modules", 1)
    n_clusters = _check_int(n_clusters, "n_clusters", 1)
    n_subclusters = _check_int(n_subclusters, "n_subclusters", 1)
    n_groups = n_clusters * n_subclusters
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    if n_samples < n_groups:
        raise ValueError(
            f"n_samples={n_samples} is smaller than the number of sub-clusters "
            f"n_clusters * n_subclusters = {n_groups}; every sub-cluster needs a "
            "sample."
        )
    if n_features < n_modules:
        raise ValueError(
            f"n_features={n_features} is smaller than n_modules={n_modules}; every "
            "module needs a feature."
        )
    delta_c = _check_nonnegative(cluster_separation, "cluster_separation")
    delta_s = _check_nonnegative(subcluster_separation, "subcluster_separation")
    sigma_a = _check_nonnegative(module_std, "module_std")
    sigma = _check_nonnegative(noise, "noise")
    if sigma_a == 0:
        raise ValueError(
            "module_std must be positive: with module_std=0 the module activities "
            "only vary between sub-clusters, so different modules can be perfectly "
            "correlated and are no longer defined by the data."
        )
    rng = check_random_state(random_state)

    cluster_centers = _equidistant_points(n_clusters, n_modules, delta_c, rng)
    offsets = np.stack(
        [
            _equidistant_points(n_subclusters, n_modules, delta_s, rng)
            for _ in range(n_clusters)
        ]
    )
    subcluster_centers = (cluster_centers[:, None, :] + offsets).reshape(
        n_groups, n_modules
    )
    subclusters = np.repeat(np.arange(n_groups), _split_evenly(n_samples, n_groups))
    if shuffle:
        subclusters = subclusters[rng.permutation(n_samples)]
    y = subclusters // n_subclusters

    activity = subcluster_centers[subclusters] + sigma_a * rng.standard_normal(
        (n_samples, n_modules)
    )
    modules = np.repeat(np.arange(n_modules), _split_evenly(n_features, n_modules))
    loadings = rng.uniform(0.5, 1.5, size=n_features)
    X = activity[:, modules] * loadings + sigma * rng.standard_normal(
        (n_samples, n_features)
    )
    info = Bunch(
        subclusters=subclusters,
        modules=modules,
        module_activity=activity,
        loadings=loadings,
        cluster_centers=cluster_centers,
        subcluster_centers=subcluster_centers,
    )
    return X, y, info


def make_hierarchical_clusters(
    n_samples=600,
    *,
    n_clusters=2,
    n_subclusters=2,
    block_size=6,
    level_std=0.3,
    noise=0.3,
    shuffle=True,
    random_state=None,
):
    """Clusters and nested sub-clusters, each switching on its own block of features.

    The features come in ``n_clusters`` *cluster blocks* followed by
    ``n_clusters * n_subclusters`` *sub-cluster blocks*, ``block_size`` features
    each. A sample of sub-cluster ``s`` of cluster ``k`` has its cluster's block
    and its sub-cluster's block on, every other block off:

    .. math::

        x_{ij} = w_j \\, \\big(a_i [j \\in B_k] + b_i [j \\in B_{ks}]\\big)
                 + \\sigma \\eta_{ij},

    with per-sample levels :math:`a_i, b_i \\sim \\mathcal N(1, \\sigma_l^2)`,
    loadings :math:`w_j \\sim \\mathcal U(0.5, 1.5)` and noise
    :math:`\\eta_{ij} \\sim \\mathcal N(0, 1)`. The features thus correspond to
    the levels of the hierarchy (the first paper's synthetic data for a tree
    graph): the two sub-clusters of a cluster share its block and differ by
    their own, two clusters share nothing.

    Parameters
    ----------
    n_samples : int, default=600
        Number of samples, split as evenly as possible over the
        ``n_clusters * n_subclusters`` sub-clusters.
    n_clusters : int, default=2
    n_subclusters : int, default=2
        Sub-clusters in each cluster.
    block_size : int, default=6
        Features per block; ``n_features = block_size * n_clusters * (1 +
        n_subclusters)``.
    level_std : float, default=0.3
        :math:`\\sigma_l`, spread of the per-sample levels of the two blocks.
    noise : float, default=0.3
        :math:`\\sigma`, standard deviation of the noise on every feature.
    shuffle : bool, default=True
        Shuffle the samples.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,)
        Cluster of each sample.
    info : sklearn.utils.Bunch
        - ``subclusters``: ndarray of shape (n_samples,), ``k * n_subclusters + s``
          for sub-cluster ``s`` of cluster ``k``;
        - ``blocks``: ndarray of shape (n_features,), the block of each feature:
          ``k`` for cluster ``k``'s block, ``n_clusters + g`` for sub-cluster
          ``g``'s.

    See Also
    --------
    make_feature_modules : Clusters as random directions over feature modules.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.datasets import make_hierarchical_clusters
    >>> X, y, info = make_hierarchical_clusters(random_state=0)
    >>> X.shape, np.bincount(info.subclusters)
    ((600, 36), array([150, 150, 150, 150]))
    >>> np.bincount(info.blocks)
    array([6, 6, 6, 6, 6, 6])
    """
    n_clusters = _check_int(n_clusters, "n_clusters", 1)
    n_subclusters = _check_int(n_subclusters, "n_subclusters", 1)
    block_size = _check_int(block_size, "block_size", 1)
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_groups = n_clusters * n_subclusters
    if n_samples < n_groups:
        raise ValueError(
            f"n_samples={n_samples} is smaller than the number of sub-clusters "
            f"n_clusters * n_subclusters = {n_groups}; every sub-cluster needs a "
            "sample."
        )
    level_std = _check_nonnegative(level_std, "level_std")
    sigma = _check_nonnegative(noise, "noise")
    rng = check_random_state(random_state)

    subclusters = np.repeat(np.arange(n_groups), _split_evenly(n_samples, n_groups))
    if shuffle:
        subclusters = subclusters[rng.permutation(n_samples)]
    y = subclusters // n_subclusters
    n_blocks = n_clusters + n_groups
    blocks = np.repeat(np.arange(n_blocks), block_size)
    levels = 1.0 + level_std * rng.standard_normal((n_samples, 2))
    on = np.zeros((n_samples, n_blocks))
    rows = np.arange(n_samples)
    on[rows, y] = levels[:, 0]
    on[rows, n_clusters + subclusters] = levels[:, 1]
    loadings = rng.uniform(0.5, 1.5, size=len(blocks))
    X = on[:, blocks] * loadings + sigma * rng.standard_normal((n_samples, len(blocks)))
    return X.astype(np.float32), y, Bunch(subclusters=subclusters, blocks=blocks)


# --------------------------------------------------------------------------- #
# Feature modules driven by latent factors
# --------------------------------------------------------------------------- #
def _module_sizes(n_features, n_modules, sizes, rng):
    """Feature count of each module: equal, or 3 each plus a Dirichlet share."""
    if isinstance(sizes, str) and sizes == "equal":
        return _split_evenly(n_features, n_modules)
    if isinstance(sizes, str) and sizes == "unequal":
        minimum = min(3, n_features // n_modules)
        rest = n_features - minimum * n_modules
        return minimum + rng.multinomial(rest, rng.dirichlet(np.ones(n_modules)))
    raise ValueError(f"module_sizes must be 'equal' or 'unequal', got {sizes!r}.")


def make_factor_modules(
    n_samples=500,
    n_features=50,
    *,
    n_modules=5,
    module_sizes="unequal",
    factors="sparse",
    p_active=0.3,
    factor_correlation=0.0,
    overlap=0.0,
    nonlinearity=None,
    noise=0.3,
    random_state=None,
):
    """Modules of features driven by latent factors, one factor per module.

    Each sample ``i`` has one latent factor :math:`a_{ik}` per module ``k``,
    built from a Gaussian :math:`u_{ik} = \\sqrt{1 - \\rho}\\, e_{ik} +
    \\sqrt{\\rho}\\, c_i` (``factor_correlation`` :math:`\\rho`: a component
    :math:`c_i` shared by all modules; :math:`e_{ik}, c_i \\sim \\mathcal N(0,
    1)`):

    - ``factors="sparse"``: on/off programs, :math:`a_{ik} = \\mathbb 1[\\Phi(u_{ik})
      > 1 - p_k]\\, g_{ik}` with :math:`g_{ik} \\sim \\mathrm{Gamma}(2, 1/2)` (mean
      1) its strength when on, and :math:`p_k \\sim \\mathcal U(0.5, 1.5) \\cdot`
      ``p_active`` (at most 1) how often module ``k`` is on, so that modules
      differ in frequency; :math:`\\Phi` is the standard normal distribution
      function.
    - ``factors="gaussian"``: :math:`a_{ik} = u_{ik}`.

    Feature ``j`` belongs to module :math:`m(j)` (modules are contiguous blocks of
    features, of ``module_sizes``) and is driven by its factor with loading
    :math:`w_j \\sim \\mathcal U(0.5, 1.5)`; with probability ``overlap`` it is
    also driven by a second, random other module :math:`m'(j)` with half that
    loading, :math:`v_j = w'_j / 2`, :math:`w'_j \\sim \\mathcal U(0.5, 1.5)`
    (its label stays :math:`m(j)`, the stronger driver). The drive
    :math:`s_{ij} = w_j a_{i m(j)} + v_j a_{i m'(j)}` becomes the feature

    .. math:: x_{ij} = f_j(s_{ij}) + \\sigma \\eta_{ij}, \\qquad
              \\eta_{ij} \\sim \\mathcal N(0, 1),

    with :math:`f_j` the identity (``nonlinearity=None``) or, with
    ``nonlinearity="sigmoid"``, a saturating response
    :math:`f_j(s) = 2\\,\\mathrm{expit}(\\gamma_j (s - t_j) / \\mathrm{sd}(s_{\\cdot
    j}))` of gain :math:`\\gamma_j \\sim \\mathcal U(1, 4)` and threshold
    :math:`t_j` the :math:`q_j`-quantile of the drive, :math:`q_j \\sim
    \\mathcal U(0.2, 0.8)` (each feature switches on at its own level of its
    factor).

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples.
    n_features : int, default=50
        Number of features.
    n_modules : int, default=5
        Number of modules (and latent factors).
    module_sizes : {"unequal", "equal"}, default="unequal"
        ``"equal"``: sizes differing by at most one. ``"unequal"``: every module
        gets ``min(3, n_features // n_modules)`` features and the rest are
        shared out by a multinomial draw with Dirichlet(1, ..., 1) proportions.
    factors : {"sparse", "gaussian"}, default="sparse"
        The distribution of the factors (see above).
    p_active : float, default=0.3
        Mean probability that a sparse module is on in a sample, in (0, 1].
    factor_correlation : float, default=0.0
        :math:`\\rho \\in [0, 1)`, correlation of the Gaussian variables behind
        the factors of two modules.
    overlap : float, default=0.0
        Probability, in [0, 1], that a feature also loads on a second module.
    nonlinearity : {None, "sigmoid"}, default=None
        Response of a feature to its drive.
    noise : float, default=0.3
        :math:`\\sigma`, standard deviation of the noise on each feature.
    random_state : int, RandomState instance or None, default=None
        Seed of all the draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples.
    modules : ndarray of shape (n_features,)
        Module of each feature, in ``range(n_modules)``, in contiguous blocks.
    info : sklearn.utils.Bunch
        - ``factors``: ndarray of shape (n_samples, n_modules), the :math:`a_{ik}`.
        - ``loadings``: ndarray of shape (n_features,), :math:`w_j`.
        - ``second_module``: ndarray of shape (n_features,), :math:`m'(j)`, or -1
          for a feature driven by its own module only.
        - ``second_loadings``: ndarray of shape (n_features,), :math:`v_j` (0
          without a second module).
        - ``p_active``: ndarray of shape (n_modules,), :math:`p_k` (sparse
          factors; NaN for Gaussian ones).

    See Also
    --------
    make_feature_modules : Modules whose activities form clusters and sub-clusters
        of samples.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.datasets import make_factor_modules
    >>> X, modules, info = make_factor_modules(random_state=0)
    >>> X.shape, np.bincount(modules)
    ((500, 50), array([10, 13, 13,  5,  9]))
    >>> round(float(np.mean(info.factors == 0)), 2)  # sparse programs: mostly off
    0.75
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_modules = _check_int(n_modules, "n_modules", 1)
    if n_features < n_modules:
        raise ValueError(
            f"n_features={n_features} is smaller than n_modules={n_modules}; every "
            "module needs a feature."
        )
    if factors not in ("sparse", "gaussian"):
        raise ValueError(f"factors must be 'sparse' or 'gaussian', got {factors!r}.")
    if nonlinearity not in (None, "sigmoid"):
        raise ValueError(
            f"nonlinearity must be None or 'sigmoid', got {nonlinearity!r}."
        )
    p = _check_nonnegative(p_active, "p_active")
    if not 0 < p <= 1:
        raise ValueError(f"p_active must be in (0, 1], got {p_active!r}.")
    rho = _check_nonnegative(factor_correlation, "factor_correlation")
    if rho >= 1:
        raise ValueError(
            f"factor_correlation must be in [0, 1), got {factor_correlation!r}: "
            "with 1 every module has the same factor."
        )
    overlap = _check_nonnegative(overlap, "overlap")
    if overlap > 1:
        raise ValueError(f"overlap must be a probability in [0, 1], got {overlap!r}.")
    if overlap > 0 and n_modules < 2:
        raise ValueError("overlap > 0 needs n_modules >= 2 (a second module).")
    sigma = _check_nonnegative(noise, "noise")
    rng = check_random_state(random_state)

    sizes = _module_sizes(n_features, n_modules, module_sizes, rng)
    modules = np.repeat(np.arange(n_modules), sizes)
    u = np.sqrt(1 - rho) * rng.standard_normal((n_samples, n_modules))
    u += np.sqrt(rho) * rng.standard_normal((n_samples, 1))
    if factors == "sparse":
        p_k = np.minimum(p * rng.uniform(0.5, 1.5, n_modules), 1.0)
        on = special.ndtr(u) > 1 - p_k
        activity = on * rng.gamma(2.0, 0.5, (n_samples, n_modules))
    else:
        p_k = np.full(n_modules, np.nan)
        activity = u
    loadings = rng.uniform(0.5, 1.5, n_features)
    second = np.full(n_features, -1)
    second_loadings = np.zeros(n_features)
    shared = rng.uniform(size=n_features) < overlap
    if shared.any():
        # a random module other than the feature's own
        shift = rng.randint(1, n_modules, size=int(shared.sum()))
        second[shared] = (modules[shared] + shift) % n_modules
        second_loadings[shared] = rng.uniform(0.5, 1.5, int(shared.sum())) / 2
    drive = activity[:, modules] * loadings
    drive[:, shared] += activity[:, second[shared]] * second_loadings[shared]
    if nonlinearity == "sigmoid":
        gain = rng.uniform(1.0, 4.0, n_features)
        level = rng.uniform(0.2, 0.8, n_features)
        threshold = np.array(
            [np.quantile(drive[:, j], level[j]) for j in range(n_features)]
        )
        spread = drive.std(axis=0)
        spread[spread == 0] = 1.0
        drive = 2 * special.expit(gain * (drive - threshold) / spread)
    X = drive + sigma * rng.standard_normal((n_samples, n_features))
    info = Bunch(
        factors=activity,
        loadings=loadings,
        second_module=second,
        second_loadings=second_loadings,
        p_active=p_k,
    )
    return X, modules, info


# --------------------------------------------------------------------------- #
# Rotated images: a latent on a ring
# --------------------------------------------------------------------------- #
def _canvas_coordinates(size):
    """Pixel centres of a ``size x size`` canvas in ``[-1, 1]^2``, ``v`` upwards."""
    centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    u = np.broadcast_to(centres[None, :], (size, size))  # column -> u
    v = np.broadcast_to(-centres[:, None], (size, size))  # row 0 is the top
    return u, v


def _arrow(u, v):
    """The default pattern: an arrow from the centre to a blob, pointing at +u.

    Its mass is off centre, so its rotations trace a ring whose first angular
    harmonic dominates (the first two principal components give the angle).
    """
    head = np.exp(-((u - 0.55) ** 2 + v**2) / (2 * 0.15**2))
    shaft = np.exp(-(v**2) / (2 * 0.06**2)) * (u > -0.05) * (u < 0.55)
    return np.maximum(head, 0.8 * shaft)


def _base_image(image):
    """The image to rotate as a 2-D float array, or None for the default pattern."""
    if isinstance(image, str):
        if image != "pattern":
            raise ValueError(
                f"image must be 'pattern', a digit 0-9 or a 2-D array; got {image!r}."
            )
        return None
    if isinstance(image, numbers.Integral) and not isinstance(image, bool):
        if not 0 <= image <= 9:
            raise ValueError(f"A digit image must be in 0-9, got {image}.")
        from sklearn.datasets import load_digits

        digits = load_digits()
        first = np.flatnonzero(digits.target == image)[0]
        return digits.images[first] / 16.0
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or min(array.shape) < 2:
        raise ValueError(
            f"image must be a 2-D array of at least 2 x 2 pixels; got shape "
            f"{array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("image has non-finite (NaN or infinite) pixels.")
    return array


def make_rotated_images(
    n_samples=180,
    *,
    image="pattern",
    size=16,
    angles="random",
    noise=0.05,
    random_state=None,
):
    """An image rotated through 360 degrees: a data set whose latent is a ring.

    Sample ``i`` is the image rotated counter-clockwise by :math:`\\theta_i` about
    the centre of a ``size x size`` canvas, plus Gaussian pixel noise:
    :math:`x_i(p) = I(R_{-\\theta_i} p) + \\sigma \\eta_i(p)`. The image fills the
    disc inscribed in the canvas, so no part of it leaves the canvas as it turns,
    and :math:`x(\\theta)` is a continuous, :math:`2\\pi`-periodic function of the
    angle: the samples lie near a closed curve, the ring of the rotation group.

    Parameters
    ----------
    n_samples : int, default=180
        Number of rotated images.
    image : "pattern", int or array-like of shape (h, w), default="pattern"
        The image to rotate. ``"pattern"``: a synthetic arrow (a bar from the
        centre to an off-centre blob), rendered exactly at every angle. An int
        ``k`` in 0-9: the first scikit-learn digit ``k`` (8 x 8 pixels, shipped
        with scikit-learn), scaled to [0, 1]. An array: any grey-level image. An
        image is scaled to the square inscribed in the canvas's disc and sampled
        with cubic spline interpolation (:func:`scipy.ndimage.map_coordinates`).
    size : int, default=16
        Side of the square canvas; each sample has ``size * size`` features
        (row-major pixels).
    angles : {"random", "even"}, default="random"
        ``"random"``: angles drawn uniformly in :math:`[0, 2\\pi)`. ``"even"``:
        :math:`\\theta_i = 2\\pi i / n`, in order.
    noise : float, default=0.05
        :math:`\\sigma`, standard deviation of the Gaussian noise on each pixel.
    random_state : int, RandomState instance or None, default=None
        Seed of the angles and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, size * size)
        The rotated images, row-major; ``X.reshape(-1, size, size)`` gives
        images whose row 0 is the top.
    angles : ndarray of shape (n_samples,)
        The rotation angle :math:`\\theta_i` of each sample in radians, in
        :math:`[0, 2\\pi)`, counter-clockwise.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.datasets import make_rotated_images
    >>> X, theta = make_rotated_images(4, angles="even", noise=0.0)
    >>> X.shape, np.degrees(theta)
    ((4, 256), array([  0.,  90., 180., 270.]))
    >>> images = X.reshape(-1, 16, 16)
    >>> bool(np.allclose(images[1], np.rot90(images[0])))
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    size = _check_int(size, "size", 2)
    sigma = _check_nonnegative(noise, "noise")
    base = _base_image(image)
    rng = check_random_state(random_state)
    if isinstance(angles, str) and angles == "random":
        theta = rng.uniform(0.0, 2 * np.pi, size=n_samples)
    elif isinstance(angles, str) and angles == "even":
        theta = 2 * np.pi * np.arange(n_samples) / n_samples
    else:
        raise ValueError(f"angles must be 'random' or 'even', got {angles!r}.")

    u, v = _canvas_coordinates(size)
    inside = u**2 + v**2 <= 1.0
    X = np.empty((n_samples, size, size))
    for i, t in enumerate(theta):
        # the pixel at p shows the image at R(-theta) p
        c, s = np.cos(t), np.sin(t)
        su, sv = c * u + s * v, -s * u + c * v
        if base is None:
            X[i] = _arrow(su, sv)
        else:
            h, w = base.shape
            # the image spans [-1/sqrt 2, 1/sqrt 2]^2: its corners touch the disc
            half = 1.0 / np.sqrt(2.0)
            col = (su + half) / (2 * half) * w - 0.5
            row = (half - sv) / (2 * half) * h - 0.5
            sampled = ndimage.map_coordinates(
                base, [row, col], order=3, mode="constant", cval=0.0
            )
            # cubic splines ring at sharp edges: keep the image's own range
            X[i] = np.clip(sampled, min(base.min(), 0.0), max(base.max(), 0.0))
    # outside the disc the canvas stays empty, so the rotation never crops content
    X *= inside
    X = X.reshape(n_samples, size * size)
    if sigma > 0:
        X += sigma * rng.standard_normal(X.shape)
    return X, theta


# --------------------------------------------------------------------------- #
# A one-dimensional latent in high dimension
# --------------------------------------------------------------------------- #
def make_latent_curve(
    n_samples=300,
    n_features=30,
    *,
    curvature=1.0,
    degree=4,
    noise=0.3,
    random_state=None,
):
    """A smooth curve in high dimension plus noise: a one-dimensional latent.

    The latent :math:`t_i \\sim \\mathcal U(0, 1)` is embedded by a polynomial
    curve of degree :math:`K`,

    .. math::

        \\gamma(t) = \\beta \\Big( \\phi_1(t)\\, q_1 + c \\sum_{n=2}^{K}
        \\frac{\\phi_n(t)}{n - 1}\\, q_n \\Big), \\qquad
        \\phi_n(t) = \\sqrt{2n + 1}\\, P_n(2t - 1),

    with :math:`P_n` the Legendre polynomials (so the :math:`\\phi_n` are
    orthonormal under :math:`\\mathcal U(0, 1)` and :math:`\\phi_1(t) =
    \\sqrt{12}(t - \\tfrac12)` is the straight part), :math:`q_1, \\dots, q_K`
    random orthonormal directions of :math:`\\mathbb R^d`, the curvature
    :math:`c`, and :math:`\\beta` such that the features' signal has unit mean
    variance; then :math:`x_i = \\gamma(t_i) + \\sigma \\eta_i`, :math:`\\eta_i
    \\sim \\mathcal N(0, I_d)`.

    With ``curvature=0`` (or ``degree=1``) the latent is linear, a segment that
    the first principal component recovers. As ``curvature`` grows the curve
    bends into ``degree`` dimensions (mostly through the parabola
    :math:`\\phi_2`) and a linear projection no longer orders the samples, while
    a neighbourhood graph still does. The curve never comes back near itself:
    its component along :math:`q_1` is monotone, so :math:`\\|\\gamma(t) -
    \\gamma(s)\\| \\ge \\beta \\sqrt{12}\\, |t - s|`.

    Parameters
    ----------
    n_samples : int, default=300
        Number of samples.
    n_features : int, default=30
        Dimension :math:`d` of the ambient space; at least ``degree``.
    curvature : float, default=1.0
        :math:`c`, weight of the bending terms relative to the straight part.
    degree : int, default=4
        :math:`K`, degree of the polynomial curve (1 is a straight line).
    noise : float, default=0.3
        :math:`\\sigma`, standard deviation of the isotropic Gaussian noise, in
        units of the features' mean signal standard deviation.
    random_state : int, RandomState instance or None, default=None
        Seed of the directions, the latent and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples.
    t : ndarray of shape (n_samples,)
        The latent position of each sample along the curve, in [0, 1].

    See Also
    --------
    sklearn.datasets.make_swiss_roll : A two-dimensional latent in 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.datasets import make_latent_curve
    >>> X, t = make_latent_curve(noise=0.0, random_state=0)
    >>> X.shape, t.shape
    ((300, 30), (300,))
    >>> int(np.linalg.matrix_rank(X - X.mean(axis=0), tol=1e-8))  # degree dimensions
    4
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    degree = _check_int(degree, "degree", 1)
    c = _check_nonnegative(curvature, "curvature")
    sigma = _check_nonnegative(noise, "noise")
    if n_features < degree:
        raise ValueError(
            f"n_features={n_features} must be at least degree={degree}: the curve "
            "spans one direction per polynomial degree."
        )
    rng = check_random_state(random_state)
    directions, _ = np.linalg.qr(rng.standard_normal((n_features, degree)))
    t = rng.uniform(0.0, 1.0, size=n_samples)
    n = np.arange(1, degree + 1)
    basis = legendre.legvander(2.0 * t - 1.0, degree)[:, 1:] * np.sqrt(2 * n + 1)
    weights = np.concatenate([[1.0], c / (n[1:] - 1)])
    # orthonormal basis functions along orthonormal directions: the total signal
    # variance is sum(weights**2); beta spreads it as unit variance per feature
    beta = np.sqrt(n_features / np.sum(weights**2))
    X = beta * (basis * weights) @ directions.T
    if sigma > 0:
        X += sigma * rng.standard_normal(X.shape)
    return X, t
