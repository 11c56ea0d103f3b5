"""Descrambling: post-hoc reorderings of a trained layer's neurons onto a graph.

The neurons of a fully connected layer have no order. Descrambling (Sule, Spencer
& Czaja [1]_) looks, after training and without retraining, for the arrangement of
a layer's neurons on a graph that makes its activations smoothest. With ``H`` the
activations (``m`` samples x ``n`` neurons), ``C = H^T H / m`` their second-moment
matrix (the covariance when centred) and ``L`` the Laplacian of a graph over ``n``
nodes, a descrambler ``P`` maps the activations of a sample, a column vector
``h``, to ``P h``: node ``i`` of the graph receives :math:`\\sum_j P_{ij} h_j`. The
descrambled layer is ``H @ P.T`` and its mean Dirichlet energy is

.. math:: \\mathrm{mean}_b\\, (P h_b)^T L (P h_b) = \\mathrm{tr}(L P C P^T).

- Over **orthogonal** ``P`` the minimum has a closed form
  (:func:`orthogonal_descrambler`): ``P* = T U^T`` with ``U`` the eigenvectors
  of ``C`` by decreasing eigenvalue :math:`\\mu_1 \\ge \\dots \\ge \\mu_n` and
  ``T`` those of ``L`` by increasing eigenvalue
  :math:`\\lambda_1 \\le \\dots \\le \\lambda_n`: the largest-variance
  principal component goes to the lowest graph frequency. The minimum is
  :math:`\\sum_i \\mu_i \\lambda_i` (eigenvalues paired in opposite orders, von
  Neumann's trace inequality). A rotation mixes neurons, so it does not commute
  with the activation function: it is a view for explanation.
- Over **permutations** (:func:`permutation_descrambler`) the problem is a
  quadratic assignment problem, NP-hard: exact by enumeration for ``n <= 8``,
  otherwise :func:`scipy.optimize.quadratic_assignment` (FAQ) with restarts,
  then tabu search, never worse than the input order. A permutation preserves
  the network's function (reorder the rows of the layer's weights and the
  columns of the next layer's). Permutations are orthogonal, so the
  permutation objective can never go below the orthogonal bound.

Descrambling an unregularized network is the natural baseline for what GSR
trains in: the best any relabelling of the neurons can do.

References
----------
.. [1] S. Sule, R. G. Spencer and W. Czaja, "On the limits of neural network
   explainability via descrambling", arXiv:2301.07820, 2023.
"""

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import quadratic_assignment
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from . import graphs

__all__ = [
    "EXACT_MAX_NODES",
    "NonUniqueDescramblerWarning",
    "OrthogonalDescrambling",
    "descramble",
    "descrambling_bound",
    "descrambling_objective",
    "orthogonal_descrambler",
    "permutation_descrambler",
]

#: :func:`permutation_descrambler` enumerates all ``n!`` permutations up to this
#: many neurons (8! = 40320 objectives, vectorized, a few tens of ms) and solves
#: the quadratic assignment problem approximately above.
EXACT_MAX_NODES = 8

# Eigenvalues closer than this, relative to the largest magnitude, are treated as
# equal when flagging degenerate eigenspaces (float64 eigh is accurate to ~1e-15
# relative; repeated eigenvalues of a grid come out ~1e-15 apart).
_DEGENERACY_RTOL = 1e-8

# Above EXACT_MAX_NODES, the tabu search runs from this many of the best distinct
# starting permutations (FAQ solutions and the input order).
_TABU_STARTS = 3


class NonUniqueDescramblerWarning(UserWarning):
    """The orthogonal descrambler is one of a continuous family of optima."""


@dataclass(frozen=True)
class OrthogonalDescrambling:
    """The orthogonal descrambler and what certifies it.

    Attributes
    ----------
    P : ndarray of shape (n, n)
        ``P* = T U^T``; the descrambled layer is ``H @ P.T``.
    objective : float
        :math:`\\mathrm{tr}(L P^* C P^{*T})`.
    bound : float
        :math:`\\sum_i \\mu_i^{\\downarrow} \\lambda_i^{\\uparrow}`, the minimum of
        the objective over all orthogonal matrices (equal to ``objective`` up to
        round-off).
    covariance_eigenvalues : ndarray of shape (n,)
        :math:`\\mu`, decreasing.
    laplacian_eigenvalues : ndarray of shape (n,)
        :math:`\\lambda`, increasing.
    degenerate_covariance : list of ndarray
        Groups (positions in ``covariance_eigenvalues``) of repeated eigenvalues
        of ``C``, e.g. several dead neurons with zero variance.
    degenerate_laplacian : list of ndarray
        Groups (positions in ``laplacian_eigenvalues``) of repeated Laplacian
        eigenvalues, e.g. the symmetric pairs of a square grid.
    """

    P: np.ndarray
    objective: float
    bound: float
    covariance_eigenvalues: np.ndarray
    laplacian_eigenvalues: np.ndarray
    degenerate_covariance: list
    degenerate_laplacian: list

    @property
    def is_unique(self):
        """Whether ``P*`` is unique up to the signs of its eigenvector pairs.

        Even with simple eigenvalues every pair ``(t_i, u_i)`` can flip sign
        independently (``2^n`` optima); a repeated eigenvalue of ``C`` or ``L``
        makes any rotation within its eigenspace optimal too.
        """
        return not (self.degenerate_covariance or self.degenerate_laplacian)


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #
def _check_activations(activations, n_nodes=None):
    H = check_array(activations, dtype=np.float64, ensure_min_features=1)
    if n_nodes is not None and H.shape[1] != n_nodes:
        raise ValueError(
            f"activations have {H.shape[1]} neurons (columns) but the graph has "
            f"{n_nodes} nodes; descrambling places one neuron on each node."
        )
    return H


def _second_moment(H, center):
    """``C = H^T H / m``, of the centred activations when ``center``."""
    if center:
        H = H - H.mean(axis=0)
    return (H.T @ H) / H.shape[0]


def _problem(activations, graph, center, laplacian, dense=True):
    """Validated ``(C, L)``, float64; ``L`` dense or scipy sparse."""
    adjacency = graphs.check_adjacency(graph)
    L = graphs.laplacian(adjacency, laplacian)
    if dense:
        L = L.toarray()
    H = _check_activations(activations, n_nodes=L.shape[0])
    return _second_moment(H, center), L


def _degenerate_groups(values):
    """Runs of (sorted) ``values`` equal within :data:`_DEGENERACY_RTOL`."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    tol = _DEGENERACY_RTOL * scale
    groups, start = [], 0
    for i in range(1, values.size + 1):
        if i == values.size or abs(values[i] - values[i - 1]) > tol:
            if i - start > 1:
                groups.append(np.arange(start, i))
            start = i
    return groups


def _as_matrix(descrambler, n):
    """A permutation (1-D) or an ``n x n`` matrix as the matrix ``P``."""
    D = np.asarray(descrambler)
    if D.ndim == 1:
        if D.shape[0] != n or not np.array_equal(np.sort(D), np.arange(n)):
            raise ValueError(
                f"A permutation descrambler must be a permutation of range({n}); "
                f"got {descrambler!r}."
            )
        return np.eye(n)[D]
    if D.shape != (n, n):
        raise ValueError(
            f"A matrix descrambler must have shape ({n}, {n}); got {D.shape}."
        )
    return D.astype(np.float64)


# --------------------------------------------------------------------------- #
# Objective and bound
# --------------------------------------------------------------------------- #
def descrambling_objective(
    descrambler, activations, graph, center=True, *, laplacian="combinatorial"
):
    """Descrambling objective :math:`\\mathrm{tr}(L P C P^T)`.

    With ``center=False`` this is the mean Dirichlet energy of the descrambled
    layer, :math:`\\mathrm{mean}_b\\, (P h_b)^T L (P h_b)`
    (:func:`skgsr.metrics.dirichlet_energy` of ``H @ P.T``); with ``center=True``
    the same for the activations minus their mean over samples.

    Parameters
    ----------
    descrambler : ndarray of shape (n, n) or (n,)
        A matrix ``P`` (node ``i`` receives :math:`\\sum_j P_{ij} h_j`), or a
        permutation ``perm`` as returned by :func:`permutation_descrambler` (node
        ``i`` receives neuron ``perm[i]``, i.e. ``P = I[perm]``).
    activations : array-like of shape (m, n)
        Activations ``H`` of the layer, one row per sample.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
        Adjacency over the nodes, as accepted by
        :func:`skgsr.graphs.check_adjacency`.
    center : bool, default=True
        Centre the activations over samples (``C`` is then their covariance).
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        Kind of Laplacian ``L`` (:func:`skgsr.graphs.laplacian`).

    Returns
    -------
    objective : float
    """
    C, L = _problem(activations, graph, center, laplacian)
    P = _as_matrix(descrambler, L.shape[0])
    return float(np.sum(L * (P @ C @ P.T)))


def descrambling_bound(activations, graph, center=True, *, laplacian="combinatorial"):
    """Orthogonal lower bound :math:`\\sum_i \\mu_i^\\downarrow \\lambda_i^\\uparrow`.

    No orthogonal ``P``, hence no permutation, gives a descrambling objective
    below it (von Neumann's trace inequality); :func:`orthogonal_descrambler`
    attains it.

    Parameters
    ----------
    activations : array-like of shape (m, n)
    graph : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
    center : bool, default=True
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"

    Returns
    -------
    bound : float
    """
    C, L = _problem(activations, graph, center, laplacian)
    mu = np.linalg.eigvalsh(C)[::-1]
    lam = np.linalg.eigvalsh(L)
    return float(mu @ lam)


# --------------------------------------------------------------------------- #
# Orthogonal descrambler
# --------------------------------------------------------------------------- #
def orthogonal_descrambler(
    activations,
    graph,
    center=True,
    *,
    laplacian="combinatorial",
    return_info=False,
):
    """Closed-form orthogonal descrambler ``P* = T U^T``.

    Minimises :math:`\\mathrm{tr}(L P C P^T)` over orthogonal ``P``, with
    :math:`C = H^T H / m` (of the centred activations when ``center``). With
    :math:`C = U\\,\\mathrm{diag}(\\mu)\\,U^T`, :math:`\\mu` decreasing, and
    :math:`L = T\\,\\mathrm{diag}(\\lambda)\\,T^T`, :math:`\\lambda` increasing,

    .. math:: P^* = T U^T, \\qquad
              \\mathrm{tr}(L P^* C P^{*T}) = \\sum_i \\mu_i \\lambda_i,

    the principal components of the layer, by decreasing variance, matched to the
    graph's Fourier modes, by increasing frequency.

    ``P*`` is never unique: each eigenvector pair can flip sign, and a repeated
    eigenvalue of ``C`` or ``L`` (a square grid's symmetric modes, dead neurons)
    makes any rotation within its eigenspace optimal too. Such groups are
    reported in the info object; without ``return_info`` a
    :class:`NonUniqueDescramblerWarning` names them, since the particular ``P``
    returned is then an arbitrary member of a family with the same objective.

    Parameters
    ----------
    activations : array-like of shape (m, n)
        Activations ``H`` of the layer (any trained layer, any activation).
    graph : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
        Adjacency over the nodes, as accepted by
        :func:`skgsr.graphs.check_adjacency`.
    center : bool, default=True
        Use the covariance (activations centred over samples) rather than the
        raw second moment.
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        Kind of Laplacian ``L``.
    return_info : bool, default=False
        Also return an :class:`OrthogonalDescrambling` with the objective, the
        bound, the eigenvalues and the degenerate groups (and do not warn).

    Returns
    -------
    P : ndarray of shape (n, n)
        Orthogonal; the descrambled layer is ``H @ P.T``.
    info : OrthogonalDescrambling
        Only when ``return_info``.

    See Also
    --------
    permutation_descrambler : The best reordering of the neurons.
    descrambling_objective : :math:`\\mathrm{tr}(L P C P^T)` of any ``P``.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.descramble import orthogonal_descrambler
    >>> from skgsr.graphs import make_graph
    >>> H = np.random.RandomState(0).normal(size=(100, 5)) * [1, 2, 3, 4, 5]
    >>> P, info = orthogonal_descrambler(H, make_graph("line", 5), return_info=True)
    >>> np.allclose(P @ P.T, np.eye(5)), bool(np.isclose(info.objective, info.bound))
    (True, True)
    """
    C, L = _problem(activations, graph, center, laplacian)
    mu, U = np.linalg.eigh(C)
    mu, U = mu[::-1], U[:, ::-1]  # decreasing variance
    lam, T = np.linalg.eigh(L)  # increasing frequency
    P = T @ U.T
    info = OrthogonalDescrambling(
        P=P,
        objective=float(np.sum(L * (P @ C @ P.T))),
        bound=float(mu @ lam),
        covariance_eigenvalues=mu,
        laplacian_eigenvalues=lam,
        degenerate_covariance=_degenerate_groups(mu),
        degenerate_laplacian=_degenerate_groups(lam),
    )
    if return_info:
        return P, info
    if not info.is_unique:
        parts = []
        for what, groups in (
            ("covariance", info.degenerate_covariance),
            ("Laplacian", info.degenerate_laplacian),
        ):
            if groups:
                sizes = ", ".join(str(len(g)) for g in groups)
                parts.append(
                    f"{len(groups)} repeated {what} eigenvalue(s) ({sizes}-fold)"
                )
        warnings.warn(
            "The orthogonal descrambler is not unique: "
            + " and ".join(parts)
            + ". Any rotation within those eigenspaces gives the same objective, so "
            "this P is one arbitrary member of a family. Pass return_info=True to get "
            "the groups (and silence this warning).",
            NonUniqueDescramblerWarning,
            stacklevel=2,
        )
    return P


# --------------------------------------------------------------------------- #
# Permutation descrambler
# --------------------------------------------------------------------------- #
def _objectives(L, C, perms):
    """:math:`\\sum_{ik} L_{ik} C_{p_i p_k}` for each row ``p`` of ``perms``."""
    return np.einsum("ik,bik->b", L, C[perms[:, :, None], perms[:, None, :]])


def _objective(Ldense, C, perm):
    """:math:`\\sum_{ik} L_{ik} C_{p_i p_k}` of one permutation ``p``."""
    return float(np.sum(Ldense * C[np.ix_(perm, perm)]))


def _enumerate(C, L):
    n = L.shape[0]
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.intp)
    best, best_value = None, np.inf
    # chunks bound the memory of the (chunk, n, n) gather to a few MB
    for start in range(0, len(perms), 8192):
        chunk = perms[start : start + 8192]
        values = _objectives(L, C, chunk)
        k = int(np.argmin(values))
        if values[k] < best_value:
            best, best_value = chunk[k], float(values[k])
    return best


def _swap_deltas(L, Ldense, M):
    """Objective change :math:`\\Delta_{ab}` when nodes ``a`` and ``b`` swap neurons.

    ``M = C[perm][:, perm]`` is the second moment seen on the nodes; swapping the
    neurons of nodes ``a`` and ``b`` swaps rows and columns ``a, b`` of ``M``.
    With ``K = L M`` (both symmetric) and :math:`G_{ab} = K_{ab} + K_{ba} -
    K_{aa} - K_{bb}`, expanding the terms that change gives, for all pairs at
    once in O(n |E| + n^2),

    .. math:: \\Delta_{ab} = 2\\big[G_{ab} - (L_{aa} - L_{ab})(M_{ab} - M_{aa})
              - (L_{ab} - L_{bb})(M_{bb} - M_{ab})\\big]
              + (L_{aa} - L_{bb})(M_{bb} - M_{aa}).
    """
    K = np.asarray(L @ M)
    k = np.diag(K)
    G = K + K.T - k[:, None] - k[None, :]
    Ld = L.diagonal()
    Md = np.diag(M)
    return 2.0 * (
        G
        - (Ld[:, None] - Ldense) * (M - Md[:, None])
        - (Ldense - Ld[None, :]) * (Md[None, :] - M)
    ) + (Ld[:, None] - Ld[None, :]) * (Md[None, :] - Md[:, None])


def _tabu_search(C, L, Ldense, perm, n_iter, rng):
    """Robust tabu search over pairwise swaps (Taillard, 1991) from ``perm``.

    Each iteration makes the best swap of two nodes' neurons that is not tabu,
    even if it raises the objective, so that the search leaves local optima;
    moving a neuron back to a node it just left is tabu for a random tenure of
    about ``n`` iterations, unless it would beat the best objective found
    (aspiration). All swap deltas come from two matrix products
    (:func:`_swap_deltas`), O(n |E| + n^2) per iteration. Returns the best
    permutation seen.

    Why not FAQ alone, or scipy's ``method="2opt"``: a pure descent over swaps
    stops in local optima that cut a 1-D order into shifted segments (on 12
    neurons with bumps along a line, scrambled: objective 0.742 against 0.627
    for the true order, which the default 1000 tabu iterations recover); scipy's
    2-opt is such a descent, and recomputes the O(n^2) objective for every
    candidate swap (3-5 s per start on a 64-node grid, measured).
    """
    n = perm.shape[0]
    perm = perm.copy()
    value = float(np.sum(Ldense * C[np.ix_(perm, perm)]))
    best, best_value = perm.copy(), value
    tol = 1e-12 * max(1.0, abs(value))
    rows, cols = np.triu_indices(n, 1)
    tabu_until = np.zeros((n, n), dtype=np.int64)  # [node, neuron]
    low, high = max(1, int(0.9 * n)), int(1.1 * n) + 1
    for it in range(1, n_iter + 1):
        deltas = _swap_deltas(L, Ldense, C[np.ix_(perm, perm)])[rows, cols]
        tabu = (tabu_until[rows, perm[cols]] >= it) & (
            tabu_until[cols, perm[rows]] >= it
        )
        allowed = ~tabu | (value + deltas < best_value - tol)
        if not allowed.any():
            continue
        k = np.flatnonzero(allowed)[np.argmin(deltas[allowed])]
        a, b = rows[k], cols[k]
        tabu_until[a, perm[a]] = it + rng.randint(low, high)
        tabu_until[b, perm[b]] = it + rng.randint(low, high)
        perm[a], perm[b] = perm[b], perm[a]
        value += deltas[k]
        if value < best_value - tol:
            best, best_value = perm.copy(), value
    return best


def _qap(C, L, n_init, n_iter, random_state):
    """FAQ from several starts, then tabu search from the best few.

    Starts: the orthostochastic matrix ``P* o P*`` of the orthogonal descrambler
    (doubly stochastic since ``P*`` is orthogonal, it carries the spectral
    solution), the barycentre, and ``n_init`` random doubly stochastic matrices.
    The FAQ solutions and the input order (the identity permutation) form a
    pool; the tabu search runs from each of the ``_TABU_STARTS`` (3) best
    distinct permutations of the pool, and the best permutation seen is
    returned. The tabu search never returns a worse permutation than it starts
    from, so the result is never worse than the input order: a layer already in
    a good order (a GSR layer, trained on the graph) is kept or improved, never
    replaced by a worse relabelling.

    FAQ (Frank-Wolfe on the doubly stochastic relaxation) is run on
    ``L - (tr(L)/n) I``: on permutations the objective only shifts by the
    constant ``tr(L) tr(C) / n``, but the relaxation changes. With ``L`` itself
    (PSD, ``L 1 = 0``) the relaxed objective is convex and zero at the
    barycentre, so FAQ stops after one step wherever its first linear assignment
    lands (measured: no better than a random permutation); the traceless shift
    makes it indefinite, the relaxation FAQ is designed for. FAQ's rounded
    solutions are then not even swap-optimal, hence the tabu search: on
    scrambled smooth signals on an 8x8 grid (generating arrangement: 22.09,
    orthogonal bound 19.19), FAQ alone reached 24.6-25.8, FAQ then a swap
    descent 23.2-23.9, FAQ then 1280 tabu iterations 22.36.
    """
    rng = check_random_state(random_state)
    n = L.shape[0]
    _, U = np.linalg.eigh(C)
    Ldense = L.toarray()
    _, T = np.linalg.eigh(Ldense)
    P_star = T @ U[:, ::-1].T
    shifted = Ldense - (np.trace(Ldense) / n) * np.eye(n)
    starts = [P_star * P_star, "barycenter"] + ["randomized"] * n_init
    pool = [np.arange(n, dtype=np.intp)]  # the input order
    for P0 in starts:
        seed = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        result = quadratic_assignment(
            shifted, C, method="faq", options={"P0": P0, "rng": seed}
        )
        pool.append(np.asarray(result.col_ind, dtype=np.intp))
    values = [_objective(Ldense, C, perm) for perm in pool]
    chosen, seen = [], set()
    for k in np.argsort(values, kind="stable"):
        key = pool[k].tobytes()
        if key not in seen:
            seen.add(key)
            chosen.append(pool[k])
        if len(chosen) == _TABU_STARTS:
            break
    # the best start itself, so that round-off in the tabu search's running
    # objective can never return a permutation worse than the input order
    best, best_value = chosen[0], min(values)
    for perm in chosen:
        found = _tabu_search(C, L, Ldense, perm, n_iter, rng)
        value = _objective(Ldense, C, found)
        if value < best_value:
            best, best_value = found, value
    return best


def permutation_descrambler(
    activations,
    graph,
    center=True,
    random_state=None,
    *,
    laplacian="combinatorial",
    n_init=8,
    n_iter=1000,
):
    """Best reordering of the neurons on the graph (quadratic assignment).

    Finds the permutation ``perm`` minimising the descrambling objective of
    ``P = I[perm]``,

    .. math:: \\mathrm{tr}(L P C P^T) = \\sum_{i,k} L_{ik}\\,
              C_{\\mathrm{perm}[i], \\mathrm{perm}[k]},

    i.e. placing neuron ``perm[i]`` on node ``i``: **the descrambled layer is**
    ``H[:, perm]``. Up to :data:`EXACT_MAX_NODES` neurons all ``n!`` permutations
    are enumerated (exact; ties broken by the first in lexicographic order).
    Above, :func:`scipy.optimize.quadratic_assignment` (method ``"faq"``) runs
    from ``n_init + 2`` starts — the orthostochastic matrix ``P* o P*`` of the
    orthogonal descrambler, the barycentre and ``n_init`` random doubly
    stochastic matrices — and ``n_iter`` iterations of tabu search over pairwise
    swaps improve each of the 3 best distinct permutations among FAQ's solutions
    and the input order (the identity). The result is a heuristic solution of an
    NP-hard problem, never below :func:`descrambling_bound`, and never worse
    than the order the neurons came in (``perm = arange(n)``): a layer already
    in a good order is kept or improved. The search costs ``O(n |E| + n^2)`` per
    tabu iteration (about 0.15 ms for 64 neurons on one CPU thread; about 0.6 s
    in all with the defaults).

    Parameters
    ----------
    activations : array-like of shape (m, n)
        Activations ``H`` of the layer.
    graph : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
        Adjacency over the nodes, as accepted by
        :func:`skgsr.graphs.check_adjacency`.
    center : bool, default=True
        Use the covariance rather than the raw second moment. With
        ``center=False`` the objective is exactly the mean Dirichlet energy of
        ``H[:, perm]``, so the permutation maximises
        :func:`skgsr.metrics.smoothness_score` (whose denominator does not
        depend on the order of the neurons).
    random_state : int, RandomState instance or None, default=None
        Seeds the random FAQ starts and tabu tenures (unused by the exact
        enumeration).
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        Kind of Laplacian ``L``.
    n_init : int, default=8
        Random FAQ restarts above :data:`EXACT_MAX_NODES` neurons.
    n_iter : int, default=1000
        Tabu-search iterations above :data:`EXACT_MAX_NODES` neurons (0: FAQ
        only).

    Returns
    -------
    perm : ndarray of shape (n,)
        A permutation of ``range(n)``: node ``i`` receives neuron ``perm[i]``.

    See Also
    --------
    orthogonal_descrambler : The closed-form lower bound over rotations.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.descramble import permutation_descrambler
    >>> from skgsr.graphs import make_graph
    >>> t = np.linspace(0, 1, 200)[:, None]
    >>> H = np.sin(3 * t + np.arange(6) * 0.5)  # neurons phase-shifted along a line
    >>> perm = permutation_descrambler(H[:, [3, 0, 5, 1, 4, 2]], make_graph("line", 6))
    >>> perm.tolist() in ([1, 3, 5, 0, 4, 2], [2, 4, 0, 5, 3, 1])
    True
    """
    C, L = _problem(activations, graph, center, laplacian, dense=False)
    for name, value in (("n_init", n_init), ("n_iter", n_iter)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or value < 0
        ):
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    n = L.shape[0]
    if n <= EXACT_MAX_NODES:
        return _enumerate(C, L.toarray())
    return _qap(C, L, int(n_init), int(n_iter), random_state)


# --------------------------------------------------------------------------- #
# Convenience
# --------------------------------------------------------------------------- #
def _estimator_laplacian(estimator):
    """The Laplacian kind of a fitted estimator's penalty (``"auto"`` resolved)."""
    penalty = getattr(estimator, "penalty_", None)
    kind = getattr(penalty, "laplacian", None)
    return kind if kind in graphs.LAPLACIAN_KINDS else "combinatorial"


def descramble(
    estimator_or_activations,
    X=None,
    graph=None,
    method="permutation",
    *,
    center=True,
    laplacian=None,
    random_state=None,
    return_descrambler=False,
):
    """Descrambled activations of a fitted skgsr estimator or of any layer.

    Parameters
    ----------
    estimator_or_activations : fitted skgsr estimator or array-like of shape (m, n)
        An estimator with ``transform`` and ``feature_graph_`` (its structured
        layer's activations on ``X`` are descrambled onto its graph), or an
        activation matrix ``H``.
    X : array-like of shape (m, n_features), optional
        Input samples; required with an estimator, not allowed with activations.
    graph : array-like, scipy sparse matrix or networkx.Graph, optional
        Graph to descramble onto; defaults to the estimator's ``feature_graph_``
        and is required with activations.
    method : {"permutation", "orthogonal"}, default="permutation"
        :func:`permutation_descrambler` (a relabelling of the neurons, which
        preserves the network's function) or :func:`orthogonal_descrambler` (the
        closed-form rotation, a view for explanation).
    center : bool, default=True
        See :func:`permutation_descrambler`.
    laplacian : {"combinatorial", "normalized"} or None, default=None
        Kind of Laplacian of the objective. None: with an estimator, the
        Laplacian its penalty uses (its ``laplacian`` parameter, with ``"auto"``
        resolved: normalized for ``graph="learned"``, combinatorial otherwise),
        also when descrambling onto another ``graph``; with activations,
        ``"combinatorial"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutation search.
    return_descrambler : bool, default=False
        Also return ``perm`` (permutation) or ``P`` (orthogonal).

    Returns
    -------
    descrambled : ndarray of shape (m, n)
        ``H[:, perm]`` or ``H @ P.T``; with an estimator,
        ``descrambled.reshape(-1, *estimator.graph_shape_)`` are its maps.
    descrambler : ndarray
        ``perm`` of shape (n,) or ``P`` of shape (n, n), when
        ``return_descrambler``.

    Examples
    --------
    >>> import numpy as np
    >>> from skgsr.descramble import descramble
    >>> from skgsr.graphs import make_graph
    >>> H = np.random.RandomState(0).normal(size=(50, 6))
    >>> descramble(H, graph=make_graph("ring", 6)).shape
    (50, 6)
    """
    if method not in ("permutation", "orthogonal"):
        raise ValueError(
            f"Unknown method {method!r}; use 'permutation' or 'orthogonal'."
        )
    obj = estimator_or_activations
    if hasattr(obj, "transform") and hasattr(obj, "fit"):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(obj, "feature_graph_")
        if X is None:
            raise ValueError(
                "descramble(estimator, X): X is required to compute the estimator's "
                "activations."
            )
        H = np.asarray(obj.transform(X), dtype=np.float64)
        if graph is None:
            graph = obj.feature_graph_
        if laplacian is None:
            laplacian = _estimator_laplacian(obj)
    else:
        if X is not None:
            raise ValueError(
                "X is only used with a fitted estimator; pass activations alone with "
                "graph=."
            )
        if graph is None:
            raise ValueError("descramble(activations, graph=...): graph is required.")
        H = _check_activations(obj)
        if laplacian is None:
            laplacian = "combinatorial"
    if method == "permutation":
        perm = permutation_descrambler(
            H, graph, center, random_state, laplacian=laplacian
        )
        out = (H[:, perm], perm)
    else:
        P = orthogonal_descrambler(H, graph, center, laplacian=laplacian)
        out = (H @ P.T, P)
    return out if return_descrambler else out[0]
