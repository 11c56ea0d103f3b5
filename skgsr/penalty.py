"""The GSR penalty: a graph filter applied to a batch of activations (PyTorch).

For a batch ``X`` of shape ``(B, n)`` of structured-layer activations and a graph
Laplacian ``L`` over the ``n`` neurons, :class:`GraphPenalty` returns

.. math:: \\mathrm{mean}_b\\; \\rho\\big(g(L)\\, x_b\\big)

(never divided by ``n``, and without ``alpha``), with the filters of
:mod:`skgsr.filters`. The cost is linear in the number of edges:

- ``"laplacian"`` and ``"rayleigh"`` are quadratic forms :math:`x^T L x`,
  computed with one sparse product ``L @ X^T`` whose result is also the gradient
  (:math:`\\nabla_x\\, x^T L x = 2Lx`): ``O(B·|E|)``, no dense ``n x n`` matrix.
- the other filters apply :math:`g(L)` either exactly (``method="exact"``:
  eigendecomposition once per graph, then dense products per batch,
  O(B·n²)) or with a Chebyshev polynomial of degree ``order`` in the rescaled
  Laplacian (``method="chebyshev"``: ``order`` sparse products, ``O(B·order·|E|)``).
  The L2 filters (``"heat"``, callables) are quadratic forms too,
  :math:`x^T M x` with :math:`M = \\sum_k g_k(L)^2`: one product ``M x`` per
  batch, which is also the gradient, without autograd (dense ``M`` for
  ``"exact"``; for ``"chebyshev"`` the square of the degree-``order``
  polynomial, less the terms below the input dtype's round-off).
"""

import warnings

import numpy as np
import torch
from numpy.polynomial import chebyshev
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from torch import nn

from . import graphs
from .filters import _FILTER_NAMES, _resolve_filter, chebyshev_coefficients

__all__ = ["GraphPenalty", "TopographicPenalty", "largest_eigenvalue"]

# method="auto" applies g(L) exactly (an eigendecomposition per graph, then
# dense products per batch) up to this many nodes, and by a Chebyshev
# polynomial (sparse products, no eigendecomposition) above; benchmarks/README.rst
# ("bench_penalty.py") has the crossover.
_EXACT_MAX_NODES = 1024
# A largest eigenvalue below float32's smallest normal number counts as a
# graph without edges: the penalty runs in float32, where such a Laplacian is
# zero or subnormal and the default filter scales and the Chebyshev rescaling,
# which divide by lmax, overflow (inf, then NaN).
_LMAX_FLOOR = float(np.finfo(np.float32).tiny)

# The quadratic-form filters multiply by a dense Laplacian up to this many nodes:
# below it one dense product costs less than the fixed costs of a sparse one, and
# more above (benchmarks/README.rst, "Fit speed").
_DENSE_MAX_NODES = 128

_METHODS = ("auto", "exact", "chebyshev")

# The operators one graph's method keeps (set_graph drops the previous ones).
_METHOD_BUFFERS = (
    "_eigenvectors",
    "_responses",
    "_coefficients",
    "_form",
    "_dense",
    "_degree",
)

# filter="topographic" holds an n x n distance matrix and costs O(B n^2) a batch.
_TOPOGRAPHIC_MAX_NODES = 4096


def largest_eigenvalue(L):
    """Largest eigenvalue of a symmetric PSD Laplacian (or a safe upper estimate).

    Exact (dense ``eigvalsh``) up to 1024 nodes; above, ARPACK's Lanczos
    estimate times 1.01, so that the Chebyshev interval ``[0, lmax]`` covers the
    spectrum (PyGSP does the same). A graph without edges gets ``lmax = 1`` (every
    interval containing 0 will do), and so does one whose largest eigenvalue is
    below float32's smallest normal number, about ``1.2e-38`` (weights so small
    that the default filter scales and the Chebyshev rescaling, which divide by
    ``lmax``, would overflow in float32).

    Parameters
    ----------
    L : scipy sparse matrix of shape (n, n)

    Returns
    -------
    lmax : float
    """
    return _largest_eigenvalue(L, _EXACT_MAX_NODES)


def _largest_eigenvalue(L, dense_max_nodes):
    """:func:`largest_eigenvalue`, dense up to ``dense_max_nodes`` nodes. The
    Chebyshev method asks for ``_DENSE_MAX_NODES``: no dense decomposition
    where it would cost more than microseconds."""
    if L.nnz == 0:
        return 1.0
    if L.shape[0] <= dense_max_nodes:
        return _usable_lmax(float(np.linalg.eigvalsh(L.toarray())[-1]))
    # A fixed start vector: ARPACK's default one comes from its own generator,
    # whose state persists between calls, so lmax (hence the default scales and
    # the Chebyshev penalty) would change from one fit to the next in a process.
    v0 = np.random.default_rng(0).standard_normal(L.shape[0])
    try:
        lmax = 1.01 * float(
            eigsh(L, k=1, which="LA", tol=1e-4, v0=v0, return_eigenvectors=False)[0]
        )
    except ArpackNoConvergence:
        # Gershgorin: every eigenvalue is below the largest absolute row sum
        lmax = float(abs(L).sum(axis=1).max())
    return _usable_lmax(lmax)


def _usable_lmax(lmax):
    """``lmax``, or 1 for a graph without edges (or with vanishing weights)."""
    return lmax if lmax > _LMAX_FLOOR else 1.0


def _eigendecomposition(L, dtype):
    """Eigenvalues and eigenvectors (float64 arrays) of a sparse Laplacian,
    decomposed in ``dtype``; the largest eigenvalue is the float64 Rayleigh
    quotient of its eigenvector (at most the true one, to float64 round-off)."""
    # torch's LAPACK (MKL) is faster than numpy's here, which counts for a
    # learned graph decomposed anew at every rebuild
    dense = torch.from_numpy(L.toarray()).to(dtype)
    eigenvalues, eigenvectors = (t.double().numpy() for t in torch.linalg.eigh(dense))
    if dtype != torch.float64 and L.nnz:
        top = eigenvectors[:, -1]
        eigenvalues[-1] = float(top @ (L @ top)) / float(top @ top)
    return eigenvalues, eigenvectors


def _squared_form(eigenvectors, responses, dtype):
    """:math:`U \\mathrm{diag}(\\sum_k g_k^2) U^T` (float64 array), the matrix of
    an L2 filter's quadratic form, computed in ``dtype`` and symmetrized."""
    U = torch.from_numpy(eigenvectors).to(dtype)
    energy = torch.from_numpy((responses**2).sum(axis=0)).to(dtype)
    form = (U * energy) @ U.T
    return ((form + form.T) / 2).double().numpy()


def _truncated_series(coefficients, dtype):
    """The Chebyshev coefficients as floats, less the trailing ones whose sum of
    magnitudes (a bound on what they add anywhere on the interval) is within
    ``dtype``'s round-off of the series' scale: terms a penalty computed in
    ``dtype`` could not tell from zero, each a sparse product saved (about a
    third of an order-30 series in float32 for the default heat filter)."""
    coefficients = np.asarray(coefficients, dtype=float)
    tail = np.cumsum(np.abs(coefficients[::-1]))[::-1]  # tail[k] = sum_{j>=k} |c_j|
    keep = np.flatnonzero(tail > torch.finfo(dtype).eps * tail[0])
    return tuple(coefficients[: keep[-1] + 1 if keep.size else 1].tolist())


def _csr(crow, col, val, n):
    # the indices come from scipy and are valid: skip torch's invariant checks
    return torch.sparse_csr_tensor(crow, col, val, (n, n), check_invariants=False)


class _SymmetricSpMM(torch.autograd.Function):
    """``L @ x`` for a symmetric sparse ``L`` given as CSR; backward is ``L @ g``.

    Using the symmetry saves torch the transposition of ``L`` in the backward pass.
    """

    @staticmethod
    def forward(ctx, x, crow, col, val, n):
        ctx.save_for_backward(crow, col, val)
        ctx.n = n
        return _csr(crow, col, val, n) @ x

    @staticmethod
    def backward(ctx, grad):
        crow, col, val = ctx.saved_tensors
        return _csr(crow, col, val, ctx.n) @ grad.contiguous(), None, None, None, None


def _checked_weight(sample_weight, x):
    """``sample_weight`` as a tensor like ``x``'s, one weight per sample."""
    sample_weight = torch.as_tensor(sample_weight, dtype=x.dtype, device=x.device)
    # a (B, 1) weight would broadcast against (B,) into a silent B x B sum
    if sample_weight.shape != x.shape[:1]:
        raise ValueError(
            f"sample_weight must have shape ({x.shape[0]},), one weight "
            f"per sample; got {tuple(sample_weight.shape)}."
        )
    return sample_weight


def _quadratic_values(x, y, weight, rayleigh):
    """The per-sample values (``weight`` None) or their weighted sum, and their parts.

    ``y`` is :math:`L x`. Returns ``(value, ratio, norm)``: the output and, for
    the Rayleigh quotient (else None), the per-sample quotients and
    :math:`x_b^T x_b + 10^{-12}`.
    """
    if not rayleigh and isinstance(weight, float):
        # the plain mean: one dot product, no per-sample vector
        return torch.vdot(x.reshape(-1), y.reshape(-1)) * weight, None, None
    values = (x * y).sum(dim=1)
    ratio = norm = None
    if rayleigh:
        # one pass over x, where (x * x).sum(1) writes and reads a temporary
        norm = torch.linalg.vector_norm(x, dim=1).square_().add_(1e-12)
        values = ratio = values / norm
    if weight is None:
        return values, ratio, norm
    if isinstance(weight, float):
        return values.sum() * weight, ratio, norm
    return (values * weight).sum(), ratio, norm


def _quadratic_gradient(y, xc, ratio, norm, weight, project, grad, into=None):
    """The gradient with respect to ``x`` of ``grad`` times the quadratic penalty.

    ``y``, ``xc``, ``ratio``, ``norm`` and ``weight`` are the parts of
    :func:`_quadratic_values` (``xc`` the centred ``x`` with ``center``; ``ratio``
    and ``norm`` None unless Rayleigh); ``grad`` is a number or a 0-d tensor for
    a weighted sum, a ``(B,)`` tensor for the per-sample values (``weight``
    None). ``project``: the gradient goes through the centring ``x - mean(x)``
    (a symmetric projection), which only the normalized Laplacian needs: the
    combinatorial one sums to zero over each row, so that ``L x`` and the
    centred ``x`` already have zero mean. With ``into``, the gradient is added
    to it (a new tensor).
    """
    if norm is None and isinstance(weight, float):
        # the plain mean of x^T L x: 2 L x times one number
        if isinstance(grad, float) and not project:
            factor = 2.0 * weight * grad
            if into is None:
                return y * factor
            if abs(factor) <= torch.finfo(y.dtype).max:
                return torch.add(into, y, alpha=factor, out=_over(y, into))
            return into + y * factor  # add's alpha refuses an overflow: inf here
        grad_x = y * (2.0 * weight * grad)
    else:
        # the gradient of the output with respect to each sample's value
        per_sample = grad if weight is None else grad * weight
        if norm is not None:
            # Rayleigh: d(q / s) = (2 L x - 2 (q / s) x) / s
            factor = torch.div(2.0 * per_sample, norm)
        else:
            factor = torch.as_tensor(2.0 * per_sample, dtype=y.dtype, device=y.device)
        factor = factor.reshape(-1, 1)
        if project or into is None:
            grad_x = y * factor
        else:
            # added to the gradient at once: one pass over the batch fewer
            grad_x, into = torch.addcmul(into, y, factor, out=_over(y, into)), None
        if norm is not None:
            grad_x.addcmul_(xc, factor * ratio[:, None], value=-1.0)
    if project:
        grad_x = grad_x.sub_(grad_x.mean(dim=1, keepdim=True))
    return grad_x if into is None else into + grad_x


def _over(y, into):
    """Where the hook may write ``into`` plus a multiple of ``y``: over ``y``,
    the penalty's own ``L x`` of this step (used by this gradient alone), when
    it is laid out as ``into``; else None (a new tensor). A batch-sized tensor
    written over memory already in use is faster than a fresh one, whose pages
    the system must first map (about 3 ms of 5 for 200 x 16384 floats)."""
    if y.dtype == into.dtype and y.shape == into.shape and y.is_contiguous():
        return y
    return None


class _QuadraticPenalty(torch.autograd.Function):
    """The quadratic-form penalty of a batch, with its gradient in one step.

    ``forward(x, penalty, weight)`` returns the per-sample :math:`x_b^T L x_b`
    (or its Rayleigh quotient; of the centred :math:`x_b` with ``center``) when
    ``weight`` is None, else their sum weighted by ``weight`` (a float for the
    plain mean, ``1 / B``, or a tensor of shape ``(B,)`` summing to one).

    The product :math:`y = L x` of the forward pass is also the gradient,
    :math:`\\nabla_x\\, x^T L x = 2 L x` (:math:`L` is symmetric), so the
    backward pass is a few elementwise operations and no second product.
    """

    @staticmethod
    def forward(ctx, x, penalty, weight):
        value, parts = penalty._quadratic_parts(x, weight)
        ctx.project, ctx.weight = penalty._projects_gradient, weight
        if isinstance(weight, torch.Tensor):
            ctx.weight = None
            parts = (*parts, weight)
        ctx.save_for_backward(*parts)
        return value

    @staticmethod
    def backward(ctx, grad):
        y, xc, ratio, norm, *weight = ctx.saved_tensors
        weight = weight[0] if weight else ctx.weight
        if grad.device.type == "cpu" and grad.ndim == 0:
            grad = grad.item()  # no device to wait for: one operation fewer
        grad_x = _quadratic_gradient(y, xc, ratio, norm, weight, ctx.project, grad)
        return grad_x, None, None


class _AddGradient:
    """A tensor hook that adds ``scale`` times a quadratic penalty's gradient."""

    def __init__(self, parts, weight, project, scale):
        self.parts, self.weight, self.project, self.scale = (
            parts,
            weight,
            project,
            scale,
        )

    def __call__(self, grad):
        parts, self.parts = self.parts, None  # one backward pass, then freed
        if parts is None:
            return None  # a second backward through the same tensor adds nothing
        return _quadratic_gradient(
            *parts, self.weight, self.project, self.scale, into=grad
        )


def _lattice_of(L):
    """The lattice whose combinatorial Laplacian ``L`` is, or None.

    Returns ``(h, w, vertical, wrap_rows, wrap_columns, weight)`` when ``L`` is
    ``weight`` times the Laplacian of :func:`skgsr.graphs.make_graph`'s
    ``"grid"``, ``"torus"``, ``"lines"`` or ``"rings"`` of shape ``(h, w)``
    (nodes in row-major order): every node linked to its left and right
    neighbours in its row (around the row with ``wrap_rows``, for rows of more
    than 2 nodes), and with ``vertical`` to the nodes above and below (around
    the column with ``wrap_columns``).
    """
    n = L.shape[0]
    off = L.data[L.indices != np.repeat(np.arange(n), np.diff(L.indptr))]
    if n < 2 or off.size == 0 or not np.all(off == off[0]) or off[0] >= 0:
        return None
    n_edges = off.size // 2
    for h in range(1, n + 1):
        if n % h:
            continue
        w = n // h
        for name, vertical, periodic in _LATTICES:
            row_edges = w - 1 + (periodic and w > 2)
            column_edges = (h - 1 + (periodic and h > 2)) if vertical else 0
            if h * row_edges + w * column_edges != n_edges:
                continue
            candidate = graphs.laplacian(
                graphs.make_graph(name, (h, w)), validate=False
            )
            if np.array_equal(candidate.indptr, L.indptr) and np.array_equal(
                candidate.indices, L.indices
            ):
                wrap_columns = vertical and periodic and h > 2
                wrap_rows = periodic and w > 2
                return h, w, vertical and h > 1, wrap_rows, wrap_columns, -float(off[0])
    return None


# (name, vertical edges, periodic) of the lattices make_graph builds
_LATTICES = (
    ("grid", True, False),
    ("torus", True, True),
    ("lines", False, False),
    ("rings", False, True),
)


class _Operators(nn.Module):
    """A module whose operators are float64 buffers, cast to the input's dtype
    once and reused (:meth:`_cast`)."""

    def _cast(self, name, dtype):
        """Buffer ``name`` in ``dtype``: cast once, then reused while it lives.

        The operators are kept in float64; casting them per call (an n x n
        eigenbasis for ``method="exact"``, the topographic penalty's n x n
        weights) would cost as much as using them.
        """
        source = self._buffers[name]
        if source.dtype == dtype:
            return source
        casts = self.__dict__.setdefault("_casts", {})
        cached = casts.get((name, dtype))
        if cached is not None and cached[0] is source:
            return cached[1]
        cast = source.to(dtype)
        casts[(name, dtype)] = (source, cast)
        return cast

    def __getstate__(self):
        # pickles and deep copies carry the float64 operators, not their casts
        state = self.__dict__.copy()
        state["_casts"] = {}
        return state

    def _apply(self, fn, *args, **kwargs):
        # a move or cast of the module replaces the buffers: drop their casts
        self._casts = {}
        return super()._apply(fn, *args, **kwargs)


class GraphPenalty(_Operators):
    """Graph Spectral Regularization penalty of a batch of activations.

    ``forward(x)`` returns :math:`\\mathrm{mean}_b\\, \\rho(g(L) x_b)` for ``x`` of
    shape ``(B, n)``:

    - ``"laplacian"``: :math:`\\mathrm{mean}_b\\, x_b^T L x_b`
      (with :math:`L = D - A`, :math:`= \\sum_{i<j} A_{ij} (x_{bi} - x_{bj})^2`);
    - ``"rayleigh"``: :math:`\\mathrm{mean}_b\\, x_b^T L x_b / (x_b^T x_b + 10^{-12})`;
    - ``"heat"``: :math:`\\mathrm{mean}_b \\|(I - e^{-\\tau L}) x_b\\|_2^2`;
    - ``"wavelet"``: :math:`\\mathrm{mean}_b \\big(\\|h(L) x_b\\|_1 + \\sum_s
      \\|g_s(L) x_b\\|_1\\big)`, the L1 norm of the spectral graph wavelet
      coefficients: Mexican-hat kernels :math:`g_s(\\lambda) = s\\lambda
      e^{-s\\lambda}` and the low-pass scaling function :math:`h(\\lambda) =
      e^{-1-s_{max}\\lambda}` (:func:`skgsr.filters.wavelet_scaling_function`);
    - ``"mexican_hat"``: :math:`\\mathrm{mean}_b \\sum_s \\|g_s(L) x_b\\|_1`, the
      papers' wavelet penalty: the same Mexican hats without the scaling
      function (see :ref:`filters` for when to use which);
    - a callable ``g``: :math:`\\mathrm{mean}_b \\|g(L) x_b\\|_2^2`.

    With ``center=True`` every filter sees the centred signal
    :math:`\\bar x_b = x_b - \\tfrac{1}{n} (\\mathbf 1^T x_b) \\mathbf 1` instead of
    :math:`x_b`. The centred Rayleigh quotient :math:`\\bar x_b^T L \\bar x_b /
    (\\bar x_b^T \\bar x_b + 10^{-12})` is then a pure measure of how the neurons
    differ across the graph: neither shrinking the layer nor adding a common
    offset to every neuron lowers it (on a learned graph, where nothing ties the
    neurons to fixed positions, a common offset is an easy way to make all
    neurons look alike).

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
        Symmetric non-negative adjacency over the neurons (see
        :func:`skgsr.graphs.check_adjacency`).
    filter : {"laplacian", "rayleigh", "heat", "wavelet", "mexican_hat"} or \
callable, default="laplacian"
        The graph filter; see :mod:`skgsr.filters`.
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        Which Laplacian the filter is a function of.
    scale : float, sequence of float or None, default=None
        :math:`\\tau` for ``"heat"``, the scale(s) :math:`s` for ``"wavelet"`` and
        ``"mexican_hat"``; None picks the defaults of :mod:`skgsr.filters` from
        :math:`\\lambda_{max}`.
    method : {"auto", "exact", "chebyshev"}, default="auto"
        How :math:`g(L)` is applied (ignored by the quadratic-form filters
        ``"laplacian"`` and ``"rayleigh"``, which are always sparse and exact).
        ``"auto"`` is exact up to 1024 nodes. ``"chebyshev"`` needs no dense
        decomposition at any size: its :math:`\\lambda_{max}` is a Lanczos
        estimate times 1.01 above 128 nodes.
    order : int, default=30
        Degree of the Chebyshev polynomial. At 30 the Chebyshev penalty agrees
        with the exact one to 1e-6 relative for ``"heat"`` and the default
        ``"wavelet"`` and ``"mexican_hat"`` scales, the error falling
        geometrically with the order for such smooth responses (a non-smooth
        one such as :math:`\\sqrt{\\lambda}` converges slowly, hence the quadratic
        form for ``"laplacian"``).
    center : bool, default=False
        Subtract each sample's mean over the neurons before filtering. False
        gives the penalties above exactly.
    lmax : float, optional
        Largest Laplacian eigenvalue to use (for the Chebyshev interval and the
        default scales); estimated by :func:`largest_eigenvalue` when None.
    decomposition_dtype : torch.float64 or torch.float32, default=torch.float64
        The precision of the eigendecomposition behind ``method="exact"``
        (used by no other method). ``torch.float32`` takes about half the time
        (0.07 against 0.13 s at 1024 nodes, one thread), which counts for a
        learned graph decomposed anew at every rebuild (the estimators use it
        there); the penalty then agrees with the float64 one to about 1e-6
        relative for smooth responses (a response with an infinite slope at 0,
        such as :math:`\\sqrt{\\lambda}`, sees the round-off of the zero
        eigenvalues: an error of about :math:`\\sqrt{10^{-7} \\lambda_{max}}`).
        :attr:`lmax` stays exact either way: the largest eigenvalue is the
        float64 Rayleigh quotient of its eigenvector.

    Attributes
    ----------
    n_nodes : int
        Number of neurons the graph is over.
    adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        The graph, as :func:`skgsr.graphs.check_adjacency` returned it.
    L : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        Its Laplacian of kind ``laplacian``, the one the filter is a function of.
    device : torch.device
        Where the penalty's operators are (moved with ``.to(device)``).
    lmax : float or None
        :math:`\\lambda_{max}` in use (None for the quadratic-form filters, which
        need none).
    spectral_filter : skgsr.filters.SpectralFilter
        The resolved filter (responses, norm, scales).
    method_ : {"sparse", "exact", "chebyshev"}
        How the penalty is computed for the current graph.

    Examples
    --------
    >>> import torch
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.penalty import GraphPenalty
    >>> penalty = GraphPenalty(make_graph("line", 3))
    >>> float(penalty(torch.tensor([[0.0, 1.0, 3.0]])))  # (0-1)^2 + (1-3)^2
    5.0
    """

    def __init__(
        self,
        adjacency,
        filter="laplacian",
        laplacian="combinatorial",
        scale=None,
        method="auto",
        order=30,
        lmax=None,
        center=False,
        decomposition_dtype=torch.float64,
    ):
        super().__init__()
        self._casts = {}
        if decomposition_dtype not in (torch.float64, torch.float32):
            raise ValueError(
                "decomposition_dtype must be torch.float64 or torch.float32, got "
                f"{decomposition_dtype!r}."
            )
        if not callable(filter) and filter not in _FILTER_NAMES:
            raise ValueError(
                f"Unknown filter {filter!r}. Use one of {', '.join(_FILTER_NAMES)} or "
                "a callable g(eigenvalues) -> response."
            )
        if laplacian not in graphs._LAPLACIAN_KINDS:
            raise ValueError(
                f"Unknown laplacian {laplacian!r}; use 'combinatorial' or 'normalized'."
            )
        if method not in _METHODS:
            raise ValueError(
                f"Unknown method {method!r}; use 'auto', 'exact' or 'chebyshev'."
            )
        if isinstance(order, bool) or not isinstance(order, int | np.integer):
            raise ValueError(f"order must be a positive integer, got {order!r}.")
        if order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}.")
        self.filter = filter
        self.laplacian = laplacian
        self.scale = scale
        self.method = method
        self.order = int(order)
        self.center = bool(center)
        self.decomposition_dtype = decomposition_dtype
        self.set_graph(adjacency, lmax=lmax)

    # ------------------------------------------------------------------ graph
    def set_graph(self, adjacency, lmax=None):
        """Swap the graph in place (same device), recomputing derived operators.

        Parameters
        ----------
        adjacency : array-like, scipy sparse matrix or networkx.Graph
            The new graph; it must have as many nodes as the old one once the
            penalty is attached to a layer (not checked here).
        lmax : float, optional
            :math:`\\lambda_{max}` of the new Laplacian, estimated when None.

        Returns
        -------
        self : GraphPenalty
        """
        device = self.device
        self._casts = {}
        self.adjacency = graphs.check_adjacency(adjacency)
        self.L = L = graphs.laplacian(self.adjacency, self.laplacian, validate=False)
        self.n_nodes = L.shape[0]
        self._lattice = None
        if not callable(self.filter) and self.filter in ("laplacian", "rayleigh"):
            self.lmax = float(lmax) if lmax is not None else None
            self.spectral_filter = _resolve_filter(self.filter, self.scale, 1.0)
            self.method_ = "sparse"
            if self.n_nodes > _DENSE_MAX_NODES and self.laplacian == "combinatorial":
                self._lattice = _lattice_of(L)
        else:
            exact = self.method == "exact" or (
                self.method == "auto" and self.n_nodes <= _EXACT_MAX_NODES
            )
            self.method_ = "exact" if exact else "chebyshev"
            if exact:
                eigenvalues, eigenvectors = _eigendecomposition(
                    L, self.decomposition_dtype
                )
                if lmax is None:  # the decomposition gives it: no second one
                    top = float(eigenvalues[-1]) if L.nnz else 0.0
                    lmax = _usable_lmax(top)
                eigenvalues = np.clip(eigenvalues, 0.0, None)  # round-off below 0
            elif lmax is None:
                # no dense decomposition at any size: what Chebyshev is for
                lmax = _largest_eigenvalue(L, _DENSE_MAX_NODES)
            self.lmax = float(lmax)
            self.spectral_filter = _resolve_filter(self.filter, self.scale, self.lmax)

        def buffer(name, array, dtype=torch.float64):
            tensor = torch.as_tensor(np.ascontiguousarray(array), dtype=dtype)
            self.register_buffer(name, tensor.to(device), persistent=False)

        # Laplacian as CSR (int64 indices: torch's sparse kernels accept them on
        # every device); kept in float64 and cast to the input's dtype per call.
        buffer("_crow", L.indptr, torch.int64)
        buffer("_col", L.indices, torch.int64)
        buffer("_val", L.data)
        # drop the operators of the previous graph's method (e.g. an n x n
        # eigenbasis) so that a swap to a Chebyshev graph does not keep them alive
        for name in _METHOD_BUFFERS:
            if name in self._buffers:
                delattr(self, name)
        self._form_coefficients, self._form_series = None, {}
        kernels = self.spectral_filter.kernels
        # An L2 filter's penalty is the quadratic form x^T M x with
        # M = sum_k g_k(L)^2: one product M x a batch, which is also the
        # gradient (2 M x), as for the Laplacian
        l2 = self.method_ != "sparse" and self.spectral_filter.norm == "l2"
        if self.method_ == "sparse" and self.n_nodes <= _DENSE_MAX_NODES:
            buffer("_dense", L.toarray())
        elif self._lattice is not None:
            buffer("_degree", L.diagonal())
        elif self.method_ == "exact":
            responses = np.stack([np.asarray(g(eigenvalues)) for g in kernels])
            buffer("_eigenvectors", eigenvectors)
            buffer("_responses", responses)
            if l2:
                buffer(
                    "_form",
                    _squared_form(eigenvectors, responses, self.decomposition_dtype),
                )
        elif self.method_ == "chebyshev":
            coefficients = np.stack(
                [chebyshev_coefficients(g, self.lmax, self.order) for g in kernels]
            )
            buffer("_coefficients", coefficients)
            if l2:
                # sum_k p_k(L~)^2 for the degree-`order` interpolants p_k of
                # the g_k: the same penalty as ||p_k(L~) x||^2, exactly
                self._form_coefficients = sum(
                    chebyshev.chebmul(c, c) for c in coefficients
                )  # truncated per dtype when first used (_form_series)
        return self

    @property
    def device(self):
        """The device the penalty's operators are on."""
        crow = self._buffers.get("_crow")
        return crow.device if crow is not None else torch.device("cpu")

    # ---------------------------------------------------------------- forward
    def _laplacian_product(self, x):
        """``L @ x`` for ``x`` of shape ``(n, B)``."""
        return _SymmetricSpMM.apply(
            x, self._crow, self._col, self._cast("_val", x.dtype), self.n_nodes
        )

    def _laplacian_times(self, x):
        """:math:`L x_b` for every row of ``x`` of shape ``(B, n)``, shape ``(B, n)``.

        A dense product for small graphs, shifts of the ``(h, w)`` map for a
        lattice (grid, torus, lines, rings), else a sparse product.
        """
        if "_dense" in self._buffers:
            return x @ self._cast("_dense", x.dtype)
        if self._lattice is not None:
            return self._lattice_times(x)
        crow, col, val = self._crow, self._col, self._cast("_val", x.dtype)
        return (_csr(crow, col, val, self.n_nodes) @ x.T.contiguous()).T

    def _lattice_times(self, x):
        """:math:`L x` on a lattice: degree times ``x`` minus the shifted neighbours."""
        h, w, vertical, wrap_rows, wrap_columns, weight = self._lattice
        x = x.contiguous()
        y = x * self._cast("_degree", x.dtype)
        maps, out = x.view(-1, h, w), y.view(-1, h, w)
        # the neighbour to the left, to the right (and around the row)
        out[:, :, 1:].sub_(maps[:, :, :-1], alpha=weight)
        out[:, :, :-1].sub_(maps[:, :, 1:], alpha=weight)
        if wrap_rows:
            out[:, :, 0].sub_(maps[:, :, -1], alpha=weight)
            out[:, :, -1].sub_(maps[:, :, 0], alpha=weight)
        if vertical:
            # the node above and below: w apart in row-major order
            y[:, w:].sub_(x[:, :-w], alpha=weight)
            y[:, :-w].sub_(x[:, w:], alpha=weight)
        if wrap_columns:
            y[:, :w].sub_(x[:, -w:], alpha=weight)
            y[:, -w:].sub_(x[:, :w], alpha=weight)
        return y

    def _polynomial_times(self, x, coefficients):
        """:math:`\\sum_k c_k T_k(\\tilde L) x_b` for every row of ``x`` (B, n).

        The Chebyshev recurrence in :math:`\\tilde L = 2 L / \\lambda_{max} - I`,
        without autograd: the quadratic form's product, whose gradient needs no
        graph of it. It works on ``x^T`` (n, B), one fused sparse ``addmm`` a
        term (a spectral filter's graph is never taken as a lattice).
        """
        scale = 2.0 / self.lmax
        S = _csr(self._crow, self._col, self._cast("_val", x.dtype), self.n_nodes)

        def recur(t_curr, t_prev, factor):  # factor * L t_curr - t_prev
            return torch.addmm(t_prev, S, t_curr, beta=-1.0, alpha=factor)

        t_prev = x.T.contiguous()
        out = t_prev * coefficients[0]
        if len(coefficients) > 1:
            t_curr = recur(t_prev, t_prev, scale)  # T_1 = L~ x
            out.add_(t_curr, alpha=coefficients[1])
            for c in coefficients[2:]:
                # T_{k+1} = 2 L~ T_k - T_{k-1}
                t_next = recur(t_curr, t_prev, 2.0 * scale).sub_(t_curr, alpha=2.0)
                out.add_(t_next, alpha=c)
                t_prev, t_curr = t_curr, t_next
        return out.T.contiguous()

    def _form_times(self, x):
        """:math:`M x_b` for every row of ``x``, the quadratic form's matrix
        :math:`M`: ``L`` for ``"laplacian"`` and ``"rayleigh"``,
        :math:`\\sum_k g_k(L)^2` for an L2 filter (dense in the eigenbasis, or a
        Chebyshev polynomial)."""
        if self.method_ == "sparse":
            return self._laplacian_times(x)
        if self.method_ == "exact":
            return x @ self._cast("_form", x.dtype)
        series = self._form_series.get(x.dtype)
        if series is None:
            series = _truncated_series(self._form_coefficients, x.dtype)
            self._form_series[x.dtype] = series
        return self._polynomial_times(x, series)

    @property
    def _is_form(self):
        """Whether the penalty is a quadratic form (every filter but the L1 ones)."""
        return self.method_ == "sparse" or self.spectral_filter.norm == "l2"

    def _filtered(self, x):
        """Stacked :math:`g_k(L) x_b`, shape ``(K, B, n)``, for ``x`` of ``(B, n)``."""
        if self.method_ == "exact":
            U = self._cast("_eigenvectors", x.dtype)
            responses = self._cast("_responses", x.dtype)
            coefficients = x @ U  # (B, n): the signal in the graph Fourier basis
            return (coefficients.unsqueeze(0) * responses.unsqueeze(1)) @ U.T
        # Chebyshev recurrence on x^T (n, B) with the rescaled Laplacian
        # L~ = 2 L / lmax - I, whose spectrum lies in [-1, 1].
        c = self._cast("_coefficients", x.dtype)  # (K, order + 1)
        t_prev = x.T.contiguous()
        t_curr = self._laplacian_product(t_prev) * (2.0 / self.lmax) - t_prev
        out = c[:, 0, None, None] * t_prev + c[:, 1, None, None] * t_curr
        for k in range(2, c.shape[1]):
            t_next = (
                self._laplacian_product(t_curr) * (4.0 / self.lmax) - 2.0 * t_curr
            ) - t_prev
            out = out + c[:, k, None, None] * t_next
            t_prev, t_curr = t_curr, t_next
        return out.transpose(1, 2)

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_nodes:
            raise ValueError(
                f"GraphPenalty expects activations of shape (batch, {self.n_nodes}); "
                f"got {tuple(x.shape)}."
            )

    def filter_signal(self, x):
        """The filtered signals :math:`g_k(L)\\, x_b` that the penalty measures.

        One band per spectral response of the filter (one for ``"heat"`` and
        callables, one per scale for ``"mexican_hat"``, and the scaling function
        before them for ``"wavelet"``), computed with the method in use
        (:attr:`method_`), differentiably.

        Parameters
        ----------
        x : torch.Tensor of shape (B, n)
            Activations of the structured layer (signals on the graph).

        Returns
        -------
        filtered : torch.Tensor of shape (K, B, n)
            ``filtered[k, b]`` is :math:`g_k(L)\\, x_b`, in the dtype of ``x``.

        Raises
        ------
        ValueError
            For ``filter="laplacian"`` and ``"rayleigh"``, which are computed as
            the quadratic form :math:`x^T L x` without ever forming
            :math:`L^{1/2} x` (use ``filter=numpy.sqrt, method="exact"`` for it).
        """
        self._check_input(x)
        if self.method_ == "sparse":
            raise ValueError(
                f"filter={self.filter!r} is the quadratic form x^T L x and applies no "
                "g(L); filter_signal needs 'heat', 'wavelet', 'mexican_hat' or a "
                "callable (e.g. filter=numpy.sqrt, method='exact' gives L^(1/2) x)."
            )
        if self.center:
            x = x - x.mean(dim=1, keepdim=True)
        return self._filtered(x)

    def per_sample(self, x):
        """The penalty of each sample, :math:`\\rho(g(L) x_b)`, shape ``(B,)``.

        Parameters
        ----------
        x : torch.Tensor of shape (B, n)

        Returns
        -------
        penalties : torch.Tensor of shape (B,)
        """
        self._check_input(x)
        if self._is_form:
            return self._quadratic(x, None)
        if self.center:
            x = x - x.mean(dim=1, keepdim=True)
        return self._filtered(x).abs().sum(dim=(0, 2))

    def forward(self, x, sample_weight=None):
        """The penalty of a batch: the (weighted) mean of :meth:`per_sample`.

        Parameters
        ----------
        x : torch.Tensor of shape (B, n)
            Activations of the structured layer.
        sample_weight : torch.Tensor or array-like of shape (B,), optional
            Non-negative weights of a weighted mean over the batch.

        Returns
        -------
        penalty : torch.Tensor
            A scalar (0-dimensional tensor).
        """
        if self._is_form:
            self._check_input(x)
            if sample_weight is None:
                return self._quadratic(x, 1.0 / len(x) if len(x) else float("nan"))
            sample_weight = self._check_weight(sample_weight, x)
            return self._quadratic(x, sample_weight / sample_weight.sum())
        penalties = self.per_sample(x)
        if sample_weight is None:
            return penalties.mean()
        sample_weight = self._check_weight(sample_weight, x)
        return (penalties * sample_weight).sum() / sample_weight.sum()

    def _check_weight(self, sample_weight, x):
        return _checked_weight(sample_weight, x)

    def _add_to(self, loss, x, scale, sample_weight=None):
        """``loss + scale * self(x, sample_weight)`` and the penalty (detached).

        The estimators' training step, whose total is backpropagated once with
        ``total.backward()``. For the quadratic-form filters the penalty is
        computed without autograd and a hook on ``x`` adds its gradient to the
        one ``x`` receives: no autograd node, and one operation in the backward
        pass. A plain sum for the other filters.
        """
        if not self._is_form or not (x.requires_grad and torch.is_grad_enabled()):
            value = self(x, sample_weight)
            return loss + scale * value, value.detach()
        self._check_input(x)
        if sample_weight is None:
            weight = 1.0 / len(x) if len(x) else float("nan")
        else:
            sample_weight = self._check_weight(sample_weight, x)
            weight = sample_weight / sample_weight.sum()
        value, parts = self._quadratic_parts(x.detach(), weight)
        hook = _AddGradient(parts, weight, self._projects_gradient, float(scale))
        x.register_hook(hook)
        # loss + scale * value as the other filters' sum (no alpha=: an
        # overflowing scale must give inf, which the training loop catches)
        return loss + value * scale, value

    @property
    def _projects_gradient(self):
        # see _quadratic_gradient: only a centred signal on a normalized
        # Laplacian (1 is an eigenvector of the combinatorial one, hence of any
        # g(L) and of a polynomial in L: M 1 is parallel to 1, and the centred
        # signal's gradient M x_c has zero mean)
        return self.center and self.laplacian != "combinatorial"

    def _quadratic_parts(self, x, weight):
        """The penalty (see :func:`_quadratic_values`) and what its gradient needs:
        ``(value, (L x, centred x, energies, norms))``."""
        xc = x - x.mean(dim=1, keepdim=True) if self.center else x
        y = self._form_times(xc)
        rayleigh = self.filter == "rayleigh"
        value, ratio, norm = _quadratic_values(xc, y, weight, rayleigh)
        return value, (y, xc if rayleigh else None, ratio, norm)

    def _sum(self, x):
        """The sum of :meth:`per_sample` over the batch (no gradient needed)."""
        if self._is_form:
            self._check_input(x)
            return self._quadratic(x, 1.0)
        return self.per_sample(x).sum()

    def _quadratic(self, x, weight):
        """The quadratic-form filters: per sample (``weight`` None) or weighted sum."""
        if x.requires_grad and torch.is_grad_enabled():
            return _QuadraticPenalty.apply(x, self, weight)
        return self._quadratic_parts(x, weight)[0]

    def extra_repr(self):
        name = "callable" if callable(self.filter) else repr(self.filter)
        return (
            f"n_nodes={self.n_nodes}, filter={name}, laplacian={self.laplacian!r}, "
            f"method={self.method_!r}" + (", center=True" if self.center else "")
        )


def resistance_distances(adjacency):
    """Effective resistances between the nodes of a graph, edge weights as conductances.

    :math:`R_{ij} = (e_i - e_j)^T L^+ (e_i - e_j)` with :math:`L` the
    combinatorial Laplacian; on a tree with unit weights, the number of edges
    between ``i`` and ``j``. Nodes in different connected components have no
    finite resistance between them: their entries are ``inf``.

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)

    Returns
    -------
    distances : ndarray of shape (n, n)
        Symmetric, zero on the diagonal.

    Examples
    --------
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.penalty import resistance_distances
    >>> resistance_distances(make_graph("line", 3)).round(6)
    array([[0., 1., 2.],
           [1., 0., 1.],
           [2., 1., 0.]])
    """
    adjacency = graphs.check_adjacency(adjacency)
    L = graphs.laplacian(adjacency, "combinatorial", validate=False).toarray()
    n_components, labels = connected_components(adjacency, directed=False)
    same = labels[:, None] == labels[None, :]
    sizes = np.bincount(labels, minlength=n_components)
    # L + (1/|c|) 1_c 1_c^T over each component c is positive definite, and its
    # inverse differs from L^+ by that same term, which cancels in R
    inverse = np.linalg.inv(L + same / sizes[labels][:, None])
    diagonal = np.diag(inverse)
    distances = diagonal[:, None] + diagonal[None, :] - 2.0 * inverse
    distances = (distances + distances.T) / 2.0
    np.fill_diagonal(distances, 0.0)
    distances = np.maximum(distances, 0.0)  # round-off
    distances[~same] = np.inf
    return distances


class TopographicPenalty(_Operators):
    """A topographic penalty: correlated units close on the graph, anti-correlated
    ones far apart.

    For a batch ``x`` of shape ``(B, n)``, with :math:`r_{ij}` the Pearson
    correlation of units ``i`` and ``j`` over the batch and :math:`d_{ij}` their
    effective resistance on the graph (:func:`resistance_distances`, the number
    of edges between them on a tree) over the largest one,

    .. math:: P(x) = \\frac{1}{n^2} \\sum_{i,j} (r_{ij} - \\bar r)\\, d_{ij},

    :math:`\\bar r` the mean of :math:`r`. Lowering it brings units that vary
    together near each other and pushes units that vary oppositely apart, which
    the per-sample smoothness penalties (:class:`GraphPenalty`) never ask: a
    sample's penalty only compares units active *in that sample*, so it
    cannot tell where units that are never active together sit (e.g. two
    clusters' units on a tree). Every term is a correlation over the batch:
    the penalty is blind to each unit's scale and offset, and is not a mean over
    samples (it needs batches of several samples). Units in different connected
    components count as the farthest apart (:math:`d = 1`); a unit that does not
    vary over the batch correlates with nothing.

    The measured case: ``graph="tree"`` over hierarchical clusters (the root's
    split tells the clusters apart; benchmarks/README.rst, "bench_tree.py").
    It costs :math:`O(B n^2)` a batch and holds an :math:`n \\times n` matrix,
    so graphs are limited to 4096 nodes.

    Parameters
    ----------
    adjacency : array-like, scipy sparse matrix or networkx.Graph of shape (n, n)
        Symmetric non-negative adjacency over the units; the weights are
        conductances.
    laplacian : {"combinatorial", "normalized"}, default="combinatorial"
        The Laplacian kept as :attr:`L` (the distances always come from the
        combinatorial one).

    Attributes
    ----------
    n_nodes : int
    adjacency : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
    L : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        The graph's Laplacian of kind ``laplacian``.
    distances : ndarray of shape (n_nodes, n_nodes)
        :math:`d_{ij}`, in ``[0, 1]``.
    filter : str
        ``"topographic"``.
    lmax : None
        No spectral interval is involved.
    method_ : str
        ``"exact"``.

    Examples
    --------
    >>> import torch
    >>> from skgsr.graphs import make_graph
    >>> from skgsr.penalty import TopographicPenalty
    >>> penalty = TopographicPenalty(make_graph("line", 4))
    >>> a = torch.tensor([0.0, 1.0, 2.0, 3.0])
    >>> together = torch.stack([a, a, -a, -a], dim=1)  # units 0, 1 vs 2, 3
    >>> apart = torch.stack([a, -a, -a, a], dim=1)  # units 0, 3 vs 1, 2
    >>> bool(penalty(together) < penalty(apart))
    True
    """

    batch_level = True
    filter = "topographic"
    center = False
    lmax = None
    spectral_filter = None
    method_ = "exact"

    def __init__(self, adjacency, laplacian="combinatorial"):
        super().__init__()
        self._casts = {}
        if laplacian not in graphs._LAPLACIAN_KINDS:
            raise ValueError(
                f"Unknown laplacian {laplacian!r}; use 'combinatorial' or 'normalized'."
            )
        self.laplacian = laplacian
        self.set_graph(adjacency)

    def set_graph(self, adjacency, lmax=None):
        """Swap the graph in place (same device).

        Parameters
        ----------
        adjacency : array-like, scipy sparse matrix or networkx.Graph
        lmax : ignored
            Accepted for the interface of :meth:`GraphPenalty.set_graph`.

        Returns
        -------
        self : TopographicPenalty
        """
        adjacency = graphs.check_adjacency(adjacency)
        n = adjacency.shape[0]
        if n > _TOPOGRAPHIC_MAX_NODES:
            raise ValueError(
                f"filter='topographic' holds an n x n matrix of distances and costs "
                f"O(batch x n^2) a step: graphs of at most {_TOPOGRAPHIC_MAX_NODES} "
                f"nodes, got {n}."
            )
        device = self.device
        self._casts = {}
        self.adjacency = adjacency
        self.L = graphs.laplacian(adjacency, self.laplacian, validate=False)
        self.n_nodes = n
        distances = resistance_distances(adjacency)
        finite = np.isfinite(distances)
        largest = distances[finite].max() if finite.any() else 0.0
        distances = np.where(finite, distances / largest if largest > 0 else 0.0, 1.0)
        np.fill_diagonal(distances, 0.0)
        self.distances = distances
        # sum_ij (r_ij - mean r) d_ij = sum_ij r_ij (d_ij - mean d)
        weights = (distances - distances.mean()) / n**2
        self.register_buffer(
            "_weights", torch.as_tensor(weights).to(device), persistent=False
        )
        return self

    @property
    def device(self):
        """The device the penalty's operator is on."""
        weights = self._buffers.get("_weights")
        return weights.device if weights is not None else torch.device("cpu")

    def forward(self, x, sample_weight=None):
        """The penalty of a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (B, n)
            Activations of the structured layer.
        sample_weight : torch.Tensor or array-like of shape (B,), optional
            Non-negative weights of the samples in the correlations (weighted
            means and covariances).

        Returns
        -------
        penalty : torch.Tensor
            A scalar (0-dimensional tensor).
        """
        if x.ndim != 2 or x.shape[1] != self.n_nodes:
            raise ValueError(
                f"TopographicPenalty expects activations of shape (batch, "
                f"{self.n_nodes}); got {tuple(x.shape)}."
            )
        if sample_weight is None:
            xc = x - x.mean(dim=0)
        else:
            weight = _checked_weight(sample_weight, x)
            weight = weight / weight.sum()
            xc = (x - weight @ x) * weight.sqrt()[:, None]
        # standardized columns: (xs^T xs)_ij is the correlation r_ij
        xs = xc / (xc * xc).sum(dim=0).add(1e-12).sqrt()
        weights = self._cast("_weights", x.dtype)
        return ((xs @ weights) * xs).sum()

    def per_sample(self, x):
        raise ValueError(
            "filter='topographic' is a penalty of the whole batch (correlations "
            "over its samples), not a mean of per-sample penalties."
        )

    def extra_repr(self):
        return f"n_nodes={self.n_nodes}, filter='topographic'"


def _consume_sparse_beta_warning():
    # torch warns once per process that sparse CSR support is "beta"; the products
    # used here (CSR @ dense) are long stable on CPU and CUDA. Building one CSR
    # tensor here, with the warning silenced, uses up that one warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = torch.ones(1, dtype=torch.int64)
        _csr(torch.tensor([0, 1]), one - 1, torch.ones(1), 1)


_consume_sparse_beta_warning()
