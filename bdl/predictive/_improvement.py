"""Improvement and window numerics of the predictive kinds: ``log h`` of LogEI, window
probabilities without cancellation, the exact expected improvement of truncated normals.

Moved from :mod:`discovery_loop.acquisition` (which re-exports :func:`log_h`) so that every
kind can offer closed forms to the acquisition functions; numbers unchanged.

References
----------
.. [1] D. R. Jones, M. Schonlau and W. J. Welch, J. Global Optim. 13, 455-492 (1998).
.. [3] S. Ament, S. Daulton, D. Eriksson, M. Balandat and E. Bakshy, "Unexpected
   improvements to expected improvement for Bayesian optimization", NeurIPS 2023 (LogEI).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf, erfcx, log_ndtr, logsumexp, ndtr

from bdl.predictive._numerics import _INV_SQRT_2PI, _LOG_SQRT_2PI, _log1mexp

if TYPE_CHECKING:  # pragma: no cover
    from bdl.predictive.bounded import BoundedPredictive

FloatArray = NDArray[np.float64]

_LOG_SQRT_PI_DIV_2 = 0.5 * math.log(math.pi / 2.0)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
#: Below this z the log1mexp term of log h is replaced by its leading order -2 log|z| [3].
_NEG_INV_SQRT_EPS = -1.0 / math.sqrt(np.finfo(np.float64).eps)
#: Below this (flipped) upper bound a window probability is computed in log space.
_LOG_WINDOW_SWITCH = -20.0


def log_h(z: FloatArray) -> FloatArray:
    """``log(phi(z) + z * Phi(z))``, the log of the standardised expected improvement.

    Accurate and finite for ``z`` in about ``[-1e150, 1e300]`` (Ament et al. 2023, eq. 9 and
    the BoTorch helper ``_log_ei_helper``).

    Parameters
    ----------
    z : ndarray
        Standardised improvement ``(mean - best) / stddev``.

    Returns
    -------
    ndarray of the shape of ``z``
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu) * _INV_SQRT_2PI + zu * ndtr(zu))
    zl = z[~upper]
    if zl.size:
        with np.errstate(over="ignore"):
            log_phi = -0.5 * zl * zl - _LOG_SQRT_2PI
        z_eps = np.maximum(zl, _NEG_INV_SQRT_EPS)
        # w = log(|z| Phi(z) / phi(z)) < 0, through erfcx so nothing underflows
        w = np.log(erfcx(-z_eps * _INV_SQRT2) * np.abs(z_eps)) + _LOG_SQRT_PI_DIV_2
        out[~upper] = log_phi + np.where(zl > _NEG_INV_SQRT_EPS, _log1mexp(w), -2.0 * np.log(np.abs(zl)))
    return out


def _h(z: FloatArray) -> FloatArray:
    """``phi(z) + z Phi(z)``, exact on the upper side and via :func:`log_h` below ``z = -1``."""
    z = np.asarray(z, dtype=np.float64)
    upper = z > -1.0
    with np.errstate(over="ignore", under="ignore"):
        direct = np.exp(-0.5 * z * z) * _INV_SQRT_2PI + z * ndtr(z)
    return np.where(upper, direct, np.exp(log_h(np.minimum(z, -1.0))))


def _ndtr_diff(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``Phi(b) - Phi(a)`` for ``a < b`` without cancellation, plus the flipped bounds.

    Windows that straddle 0 use ``(erf(b/sqrt2) + erf(-a/sqrt2)) / 2`` (two positive terms);
    windows wholly above 0 are mirrored to lie below 0, where ``ndtr`` is relatively accurate.

    Returns
    -------
    diff, a2, b2 : ndarray
        The difference and the mirrored bounds (``b2 <= 0`` unless the window straddles 0).
    """
    flip = a > 0.0
    a2 = np.where(flip, -b, a)
    b2 = np.where(flip, -a, b)
    straddle = (a2 <= 0.0) & (b2 > 0.0)
    # each branch evaluated only where it applies (special functions dominate the cost)
    diff = np.empty(straddle.shape)
    diff[straddle] = 0.5 * (erf(b2[straddle] * _INV_SQRT2) + erf(-a2[straddle] * _INV_SQRT2))
    other = ~straddle
    diff[other] = ndtr(b2[other]) - ndtr(a2[other])
    return np.maximum(diff, 0.0, out=diff), a2, b2


def _log_ndtr_diff(a: FloatArray, b: FloatArray) -> FloatArray:
    """``log(Phi(b) - Phi(a))`` for ``a < b``, finite far into both tails."""
    diff, a2, b2 = _ndtr_diff(a, b)
    deep = b2 < _LOG_WINDOW_SWITCH
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(diff)
        if deep.any():  # the deep lower tail only, where log(diff) would lose everything
            lb = log_ndtr(b2[deep])
            out[deep] = lb + _log1mexp(np.minimum(log_ndtr(a2[deep]) - lb, -1e-300))
    return out


#: Gauss-Legendre nodes of the short-interval branch of :func:`_log_partial_h`.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(32)


def _log_partial_h(tau: FloatArray, beta: FloatArray) -> FloatArray:
    """``log int_tau^beta (z - tau) phi(z) dz`` for ``tau < beta`` (``beta`` may be ``inf``).

    The integral is ``h(-tau) - h(-beta) - (beta - tau) Phi(-beta)`` with ``h`` of
    :func:`log_h`; it is evaluated as ``log h(-tau) + log1mexp(log(h(-beta) + (beta - tau)
    Phi(-beta)) - log h(-tau))`` where the subtracted part is below half of ``h(-tau)``, and
    otherwise (a window so short that the difference would cancel) by 32-point Gauss-Legendre
    in log space of ``phi(tau) int_0^g u exp(-tau u - u^2 / 2) du``, ``g = beta - tau``,
    where the integrand is smooth (``tau g`` is at most of order one there).
    """
    tau = np.asarray(tau, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    out = np.asarray(log_h(-tau), dtype=np.float64).copy()
    fin = np.isfinite(beta)
    if not fin.any():
        return out
    t, b = tau[fin], beta[fin]
    gap = b - t
    with np.errstate(divide="ignore", invalid="ignore"):
        sub = np.logaddexp(log_h(-b), np.log(gap) + log_ndtr(-b))
        d = np.minimum(sub - out[fin], 0.0)
        direct = out[fin] + _log1mexp(d)
    short = d > -math.log(2.0)
    res = direct
    if short.any():
        ts, gs = t[short], gap[short]
        u = 0.5 * gs[:, None] * (_GL_NODES + 1.0)  # nodes on (0, g)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            log_f = np.log(u) - ts[:, None] * u - 0.5 * u * u + np.log(_GL_WEIGHTS)
            quad = np.log(0.5 * gs) + logsumexp(log_f, axis=1)
            res = res.copy()
            res[short] = -0.5 * ts * ts - _LOG_SQRT_2PI + quad
    out[fin] = res
    return out


def _bounded_log_ei(pred: BoundedPredictive, threshold: float, maximize: bool) -> FloatArray:
    """``log E[max(Y - t, 0)]`` (``log E[max(t - Y, 0)]`` when minimising), exact, shape (n,).

    For a component ``N(m, s^2)`` truncated to standardised ``[alpha, beta]`` with mass ``Z``
    and ``tau = (t - m) / s``, ``E[max(X - t, 0)] = (s / Z) G`` with
    ``G = int_max(tau, alpha)^beta (z - tau) phi(z) dz``, which is ``I(tau, beta)`` for
    ``tau >= alpha`` and ``I(alpha, beta) + (alpha - tau) Z`` below (:func:`_log_partial_h`
    gives ``log I``). The atoms add ``p_lower (lower - t)^+ + p_upper (upper - t)^+``; all
    terms are summed by log-sum-exp. Minimising mirrors ``Y -> -Y``.

    Parameters
    ----------
    pred : BoundedPredictive
    threshold : float
        ``best + xi`` when maximising, ``best - xi`` when minimising.
    maximize : bool
    """
    w, loc, scale = pred.weights, pred.locs, pred.scales
    alpha = (pred.lower[:, None] - loc) / scale
    beta = (pred.upper[:, None] - loc) / scale
    lo, hi, p_lo, p_hi = pred.lower, pred.upper, pred.p_lower, pred.p_upper
    t = threshold
    if not maximize:  # E[max(t - Y, 0)] = E[max(Y' - t', 0)] with Y' = -Y, t' = -t
        loc, alpha, beta = -loc, -beta, -alpha
        lo, hi, p_lo, p_hi = -pred.upper, -pred.lower, pred.p_upper, pred.p_lower
        t = -t
    with np.errstate(over="ignore", invalid="ignore"):
        tau = (t - loc) / scale
    log_z = pred.log_normalisers
    above = tau >= alpha  # the threshold inside or above the support of the component
    inside = above & (tau < beta)
    log_g = np.full(tau.shape, -np.inf)
    if inside.any():
        log_g[inside] = _log_partial_h(tau[inside], beta[inside])
    below = ~above
    if below.any():
        with np.errstate(divide="ignore"):
            log_g[below] = np.logaddexp(
                _log_partial_h(alpha[below], beta[below]),
                np.log(alpha[below] - tau[below]) + log_z[below],
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        comp = np.where(
            w > 0.0,
            np.log(pred.continuous_mass)[:, None] + np.log(w) + np.log(scale) + log_g - log_z,
            -np.inf,
        )
        atom_lo = np.where((p_lo > 0.0) & (lo > t), np.log(p_lo) + np.log(lo - t), -np.inf)
        atom_hi = np.where((p_hi > 0.0) & (hi > t), np.log(p_hi) + np.log(hi - t), -np.inf)
        terms = np.concatenate([comp, atom_lo[:, None], atom_hi[:, None]], axis=1)
        return np.asarray(logsumexp(terms, axis=1), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# the acquisition functions
# --------------------------------------------------------------------------------------------
