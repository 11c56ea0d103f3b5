"""Spectral responses of the GSR graph filters (numpy only).

A graph filter is a spectral response :math:`g(\\lambda)` applied to the graph
Laplacian, :math:`g(L) = U g(\\Lambda) U^T`, and a GSR penalty is
:math:`\\mathrm{mean}_b\\, \\rho(g(L) x_b)` with :math:`\\rho` the squared L2 norm or
the L1 norm. This module holds the *math* of the filters (the responses, their
default scales and their Chebyshev coefficients); *how* ``g(L) x`` is computed
(exactly in the eigenbasis, or by a Chebyshev polynomial in ``L``) is the business
of :class:`skgsr.penalty.GraphPenalty`.

======================  ==================================================  =====
``filter``              response(s) :math:`g`                               ρ
======================  ==================================================  =====
``"laplacian"``         :math:`\\sqrt{\\lambda}` (so ρ = :math:`x^T L x`)      L2²
``"rayleigh"``          :math:`x^T L x / (x^T x + 10^{-12})`                 --
``"heat"``              :math:`1 - e^{-\\tau \\lambda}`                       L2²
``"wavelet"``           scaling function :math:`h(\\lambda)`, then           L1
                        :math:`s\\lambda e^{-s\\lambda}` for each scale s
``"mexican_hat"``       :math:`s\\lambda e^{-s\\lambda}` for each scale s      L1
                        (the papers' penalty: no scaling function)
callable ``g``          ``g(eigenvalues)``                                   L2²
======================  ==================================================  =====
"""

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import chebyshev

__all__ = [
    "SpectralFilter",
    "chebyshev_coefficients",
    "default_heat_scale",
    "default_wavelet_scales",
    "heat_response",
    "mexican_hat",
    "wavelet_scaling_function",
]

# Names accepted as filter=; a callable g(eigenvalues) is accepted too.
_FILTER_NAMES = ("laplacian", "rayleigh", "heat", "wavelet", "mexican_hat")


def heat_response(eigenvalues, scale):
    """High-pass complement of the heat kernel, :math:`1 - e^{-\\tau\\lambda}`.

    ``||(I - e^{-\\tau L}) x||^2`` is the energy that heat diffusion for time
    :math:`\\tau` removes from ``x``: zero for a constant signal, large for a rough
    one.

    Parameters
    ----------
    eigenvalues : ndarray
        Laplacian eigenvalues :math:`\\lambda \\ge 0`.
    scale : float
        Diffusion time :math:`\\tau > 0`.

    Returns
    -------
    response : ndarray
        Same shape as ``eigenvalues``.
    """
    return -np.expm1(-scale * np.asarray(eigenvalues, dtype=float))


def mexican_hat(eigenvalues, scale):
    """Mexican-hat wavelet kernel :math:`g(s\\lambda) = s\\lambda e^{-s\\lambda}`.

    The band-pass kernel of spectral graph wavelets (Hammond, Vandergheynst &
    Gribonval, 2011) as in PyGSP's ``MexicanHat``: it vanishes at
    :math:`\\lambda = 0`, peaks at :math:`\\lambda = 1/s` with value :math:`1/e`,
    and its atoms :math:`\\psi_{s,i} = g_s(L)\\delta_i` are localized around node
    :math:`i`, the more so the smaller the scale.

    Parameters
    ----------
    eigenvalues : ndarray
        Laplacian eigenvalues.
    scale : float
        Wavelet scale :math:`s > 0`.

    Returns
    -------
    response : ndarray
    """
    t = scale * np.asarray(eigenvalues, dtype=float)
    return t * np.exp(-t)


def wavelet_scaling_function(eigenvalues, coarsest_scale):
    """Low-pass scaling kernel that completes a Mexican-hat wavelet frame.

    .. math:: h(\\lambda) = e^{-1}\\, e^{-s_{max} \\lambda},

    the heat kernel at the coarsest wavelet scale :math:`s_{max}`, scaled to the
    wavelets' common peak :math:`1/e`. Band-pass kernels vanish at
    :math:`\\lambda = 0`, so wavelets alone cannot represent (nor penalise) a
    signal's mean or its lowest frequencies; spectral graph wavelet transforms add
    a low-pass scaling function to fill that gap (Hammond, Vandergheynst &
    Gribonval, 2011). Any low-pass kernel with :math:`h(0) > 0` does; this one is

    - mass-preserving: with the combinatorial Laplacian,
      :math:`\\mathbf{1}^T h(L) x = e^{-1}\\,\\mathbf{1}^T x`, so for a
      non-negative (e.g. ReLU) layer :math:`\\|h(L) x\\|_1 = e^{-1} \\|x\\|_1`: in
      the L1 ``"wavelet"`` penalty it is a plain sparsity term;
    - as easy for Chebyshev polynomials as the wavelets themselves (max error
      7e-11 at order 30 for the default scales), where PyGSP's
      :math:`\\exp(-\\lambda^4)`-type low-pass needs order 80 for 1e-3.

    Parameters
    ----------
    eigenvalues : ndarray
        Laplacian eigenvalues.
    coarsest_scale : float
        The largest wavelet scale :math:`s_{max} > 0`.

    Returns
    -------
    response : ndarray
    """
    return np.exp(-1.0 - coarsest_scale * np.asarray(eigenvalues, dtype=float))


def default_heat_scale(lmax):
    """Default diffusion time :math:`\\tau = 10 / \\lambda_{max}`.

    This is PyGSP's ``Heat`` default (``scale=10`` on eigenvalues normalized by
    :math:`\\lambda_{max}`), so that the filter is graph-size independent.
    """
    return 10.0 / lmax


def default_wavelet_scales(lmax, n_scales=4, lpfactor=20.0):
    """Log-spaced wavelet scales covering the spectrum, as spectral graph wavelets do.

    With :math:`\\lambda_{min} = \\lambda_{max} / \\text{lpfactor}`, the scales run
    geometrically from :math:`s_{max} = 2/\\lambda_{min}` down to
    :math:`s_{min} = 1/\\lambda_{max}` (the SGWT toolbox's and PyGSP's
    ``compute_log_scales``): the coarsest wavelet peaks near the bottom of the
    spectrum, the finest at its top.

    Parameters
    ----------
    lmax : float
        Largest Laplacian eigenvalue (or an upper bound).
    n_scales : int, default=4
    lpfactor : float, default=20

    Returns
    -------
    scales : ndarray of shape (n_scales,)
        Decreasing scales.
    """
    if lmax <= 0:
        raise ValueError(f"lmax must be positive, got {lmax}.")
    lmin = lmax / lpfactor
    return np.exp(np.linspace(np.log(2.0 / lmin), np.log(1.0 / lmax), n_scales))


@dataclass(frozen=True)
class SpectralFilter:
    """A GSR filter: spectral responses and the norm that penalises them.

    Attributes
    ----------
    name : str
        ``"laplacian"``, ``"rayleigh"``, ``"heat"``, ``"wavelet"``,
        ``"mexican_hat"`` or ``"callable"``.
    kernels : tuple of callable
        One response :math:`g_k(\\lambda)` per band (for ``"wavelet"``, the
        scaling function then one Mexican hat per scale; for ``"mexican_hat"``,
        the Mexican hats alone); the penalty sums
        :math:`\\rho(g_k(L) x)` over them.
    norm : {"l2", "l1"}
        ``"l2"``: squared Euclidean norm; ``"l1"``: sum of absolute values.
    scales : tuple of float or None
        The resolved scale(s), for display.
    """

    name: str
    kernels: tuple
    norm: str
    scales: tuple | None = None

    @property
    def is_quadratic_form(self):
        """Whether the penalty is :math:`x^T L x` (possibly normalized)."""
        return self.name in ("laplacian", "rayleigh")


def _as_scales(scale):
    try:
        scales = np.atleast_1d(np.asarray(scale, dtype=float)).ravel()
    except (TypeError, ValueError):  # strings, complex numbers, ragged lists
        scales = np.array([np.nan])
    if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(
            "Filter scale(s) (filter_scale) must be positive and finite numbers, got "
            f"{scale!r}."
        )
    return tuple(float(s) for s in scales)


def _checked_response(g):
    """A user's response ``g``, its values checked wherever it is evaluated.

    The penalty evaluates a response once per graph, on the Laplacian's
    eigenvalues or on Chebyshev nodes; a response of the wrong shape, complex
    or not finite would otherwise surface as a shape error deep in torch, or as
    a NaN loss blamed on the learning rate.
    """

    def response(eigenvalues):
        eigenvalues = np.asarray(eigenvalues, dtype=float)
        values = np.asarray(g(eigenvalues))
        problem = None
        if values.shape != eigenvalues.shape:
            problem = (
                f"returned an array of shape {values.shape} for {eigenvalues.size} "
                "eigenvalues"
            )
        elif values.dtype.kind not in "biuf":
            problem = f"returned values of dtype {values.dtype}"
        elif not np.all(np.isfinite(values)):
            bad = eigenvalues[~np.isfinite(values)]
            problem = f"is not finite at the eigenvalue(s) {bad[:3].tolist()}"
        if problem is not None:
            raise ValueError(
                f"The callable filter {getattr(g, '__name__', g)!r} {problem}. A "
                "filter g(eigenvalues) must return one real, finite response per "
                "eigenvalue: an array of the same shape as its 1-D input."
            )
        return values.astype(float)

    return response


def _resolve_filter(filter, scale, lmax):
    """Turn a ``filter=`` hyperparameter into a :class:`SpectralFilter`.

    Parameters
    ----------
    filter : str or callable
        One of ``"laplacian"``, ``"rayleigh"``, ``"heat"``, ``"wavelet"``,
        ``"mexican_hat"``, or a callable ``g(eigenvalues) -> response``
        (vectorized over a 1-D array of eigenvalues).
    scale : float, sequence of float or None
        :math:`\\tau` for ``"heat"`` (default :func:`default_heat_scale`), the
        scale(s) :math:`s` for ``"wavelet"`` and ``"mexican_hat"`` (default
        :func:`default_wavelet_scales`); must be None for the other filters.
    lmax : float
        Largest Laplacian eigenvalue, for the default scales.

    Returns
    -------
    spectral_filter : SpectralFilter
    """
    if callable(filter):
        if scale is not None:
            raise ValueError(
                "filter_scale is only used by filter='heat', 'wavelet' and "
                "'mexican_hat'; a "
                "callable filter carries its own parameters (use functools.partial)."
            )
        return SpectralFilter("callable", (_checked_response(filter),), "l2")
    if filter not in _FILTER_NAMES:
        raise ValueError(
            f"Unknown filter {filter!r}. Use one of {', '.join(_FILTER_NAMES)} or a "
            "callable g(eigenvalues) -> response."
        )
    if filter in ("laplacian", "rayleigh"):
        if scale is not None:
            raise ValueError(
                f"filter={filter!r} has no scale; filter_scale must be None (it is "
                "the diffusion time of 'heat' and the scales of 'wavelet' and "
                "'mexican_hat')."
            )
        return SpectralFilter(filter, (np.sqrt,), "l2")
    if filter == "heat":
        if scale is not None and np.size(scale) != 1:
            raise ValueError(
                f"filter='heat' takes one diffusion time, got filter_scale={scale!r}."
            )
        (tau,) = _as_scales(default_heat_scale(lmax) if scale is None else scale)
        return SpectralFilter(
            "heat", (lambda lam, t=tau: heat_response(lam, t),), "l2", (tau,)
        )
    scales = _as_scales(default_wavelet_scales(lmax) if scale is None else scale)
    hats = tuple(lambda lam, s=s: mexican_hat(lam, s) for s in scales)
    if filter == "mexican_hat":
        # the papers' penalty: the band-pass wavelet coefficients alone
        return SpectralFilter("mexican_hat", hats, "l1", scales)
    # The scaling function comes first, as in PyGSP's filter banks. Without it
    # the L1 penalty leaves the mean of a map free and weighs the highest
    # frequencies least, and the maps were not localized (benchmarks/README.rst,
    # "Design measurements"; tests/test_interpretability.py).
    coarsest = max(scales)
    kernels = (lambda lam: wavelet_scaling_function(lam, coarsest),) + hats
    return SpectralFilter("wavelet", kernels, "l1", scales)


def chebyshev_coefficients(kernel, lmax, order):
    """Chebyshev coefficients of ``kernel`` on ``[0, lmax]``.

    Interpolates :math:`g(\\lambda)` at the ``order + 1`` Chebyshev points of the
    first kind after the change of variable :math:`\\lambda = (t + 1)\\,
    \\lambda_{max} / 2`, with :func:`numpy.polynomial.chebyshev.chebinterpolate`,
    so that :math:`g(L) \\approx \\sum_k c_k T_k(\\tilde L)` with
    :math:`\\tilde L = 2L/\\lambda_{max} - I`. These are the coefficients of the
    SGWT toolbox and of PyGSP's ``compute_cheby_coeff`` (which stores
    :math:`2c_0`).

    Parameters
    ----------
    kernel : callable
        Vectorized response :math:`g(\\lambda)`.
    lmax : float
        Upper end of the spectrum.
    order : int
        Polynomial degree.

    Returns
    -------
    coefficients : ndarray of shape (order + 1,)
    """
    if order < 1:
        raise ValueError(f"Chebyshev order must be >= 1, got {order}.")
    half = lmax / 2.0

    def on_unit_interval(t):
        return np.asarray(kernel((t + 1.0) * half), dtype=float)

    return chebyshev.chebinterpolate(on_unit_interval, order)
