"""Acquisition maths for any predictive, from its cdf, log-cdf / log-sf and quantiles.

Kinds with no closed form (a recalibrated predictive, whose cdf is ``R(F(y))``) use these
for expected improvement and window probabilities: exact one-dimensional quadrature of
``E[(Y - t)^+] = int_t^inf P(Y > y) dy`` and a cancellation-free difference of cdfs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp, ndtr

from bdl.predictive._numerics import _log1mexp

if TYPE_CHECKING:  # pragma: no cover
    from bdl.predictive.base import Predictive

FloatArray = NDArray[np.float64]

#: Cut points of the improvement quadrature: ``t`` (and the outermost quantile) plus these
#: many standard deviations.
_EI_OFFSETS = np.array([0.0, 0.125, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0])
#: Cut points at the quantiles ``Q(Phi(u))`` for these ``u`` (the jumps of a cdf with atoms).
_EI_LEVELS = ndtr(np.linspace(-8.0, 8.0, 65))
#: Gauss-Legendre nodes per piece.
_EI_NODES, _EI_WEIGHTS = np.polynomial.legendre.leggauss(24)
_LOG_HALF = float(np.log(0.5))


def _generic_log_ei(pred: Predictive, best: float, xi: float, maximize: bool) -> FloatArray:
    """``log E[max(Y - best - xi, 0)]`` (``log E[max(best - xi - Y, 0)]``), shape (n,).

    Composite Gauss-Legendre on ``int_t^inf S(y) dy`` (``int_-inf^t F(y) dy`` when
    minimising), summed in log space; see :meth:`Predictive._generic_log_expected_improvement`.
    """
    n = pred.n_points
    t = best + xi if maximize else best - xi
    sd = np.asarray(pred.stddev, dtype=np.float64)
    sd = np.where(np.isfinite(sd) & (sd > 0.0), sd, 1.0)
    q = np.asarray(pred.quantile(_EI_LEVELS), dtype=np.float64)  # (L, n)
    offs = _EI_OFFSETS[:, None] * sd[None, :]
    if maximize:
        pts = np.concatenate([t + offs, np.maximum(q, t), np.maximum(q[-1] + offs, t)])
    else:
        pts = np.concatenate([t - offs, np.minimum(q, t), np.minimum(q[0] - offs, t)])
    pts = np.sort(pts, axis=0)
    half = 0.5 * (pts[1:] - pts[:-1])  # (J, n)
    mid = 0.5 * (pts[1:] + pts[:-1])
    x = mid[:, None, :] + half[:, None, :] * _EI_NODES[None, :, None]  # (J, G, n)
    flat = x.reshape(-1, n)
    log_f = pred._log_sf(flat) if maximize else pred._log_cdf(flat)
    log_f = np.asarray(log_f, dtype=np.float64).reshape(x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log(half)[:, None, :] + np.log(_EI_WEIGHTS)[None, :, None] + log_f
        terms = np.where(np.isnan(terms), -np.inf, terms)
        return np.asarray(logsumexp(terms.reshape(-1, n), axis=0), dtype=np.float64)


def _generic_log_window(pred: Predictive, low: float, high: float) -> FloatArray:
    """``log P(low <= Y <= high) = log(F(high) - F(low-))``, shape (n,), without cancellation.

    Below the median the difference is taken of the lower tails, ``log F(high) +
    log1mexp(log F(low-) - log F(high))``; above it of the upper tails; a window holding the
    median is ``log1p(-(F(low-) + S(high)))``.
    """
    n = pred.n_points
    lo = np.full(n, float(low))
    hi = np.full(n, float(high))
    with np.errstate(divide="ignore", invalid="ignore"):
        l_below = np.asarray(pred._log_left_cdf(lo), dtype=np.float64)  # log P(Y < low)
        l_le_hi = np.asarray(pred._log_cdf(hi), dtype=np.float64)  # log P(Y <= high)
        l_above = np.asarray(pred._log_sf(hi), dtype=np.float64)  # log P(Y > high)
        # log P(Y >= low) = log(P(Y > low) + P(Y = low)), from the upper tail (keeps precision)
        atom = np.maximum(np.asarray(pred._cdf(lo)) - np.asarray(pred._left_cdf(lo)), 0.0)
        l_ge_lo = np.logaddexp(np.asarray(pred._log_sf(lo), dtype=np.float64), np.log(atom))
        lower_form = l_le_hi + _log1mexp(np.minimum(l_below - l_le_hi, 0.0))
        upper_form = l_ge_lo + _log1mexp(np.minimum(l_above - l_ge_lo, 0.0))
        middle = np.log1p(-np.minimum(np.exp(l_below) + np.exp(l_above), 1.0))
        out = np.where(l_le_hi < _LOG_HALF, lower_form, np.where(l_below > _LOG_HALF, upper_form, middle))
    out = np.where(np.isnan(out), -np.inf, out)
    return np.minimum(out, 0.0)
