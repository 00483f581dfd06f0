"""Closed-form and quadrature CRPS of the predictive kinds (moved from
:mod:`bdl.calibration.metrics`, which re-exports them; numbers unchanged).

References
----------
.. [1] T. Gneiting and A. E. Raftery, "Strictly proper scoring rules, prediction, and
   estimation", JASA 102, 359-378 (2007).
.. [2] E. P. Grimit, T. Gneiting, V. J. Berrocal and N. A. Johnson, "The continuous ranked
   probability score for circular variables and its application to mesoscale forecast ensemble
   verification", Q. J. R. Meteorol. Soc. 132, 2925-2942 (2006).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from bdl.predictive._numerics import _INV_SQRT_2PI

if TYPE_CHECKING:  # pragma: no cover
    from bdl.predictive.base import Predictive

FloatArray = NDArray[np.float64]

#: Levels of the quantile quadrature used for the CRPS of kinds with no mixture form.
_CRPS_QUADRATURE_LEVELS = 512
#: Most entries of the (rows, K, K) pairwise array built at once by the mixture CRPS.
_PAIR_BUDGET = 2_000_000
_INV_SQRT_PI = 1.0 / np.sqrt(np.pi)


def _abs_normal_mean(mu: FloatArray, var: FloatArray) -> FloatArray:
    """``E|X|`` for ``X ~ N(mu, var)``: ``mu (2 Phi(mu/sd) - 1) + 2 sd phi(mu/sd)``."""
    sd = np.sqrt(var)
    z = mu / sd
    return mu * (2.0 * ndtr(z) - 1.0) + 2.0 * sd * _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def _crps_gaussian(y: FloatArray, mean: FloatArray, sd: FloatArray) -> FloatArray:
    """Closed-form CRPS of ``N(mean, sd^2)`` at ``y`` (Gneiting & Raftery 2007, eq. 21)."""
    z = (y - mean) / sd
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    return sd * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - _INV_SQRT_PI)


def _crps_mixture(w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray) -> FloatArray:
    """Closed-form CRPS of Gaussian mixtures (Grimit et al. 2006).

    ``CRPS = sum_i w_i A(y - mu_i, s_i^2) - 1/2 sum_ij w_i w_j A(mu_i - mu_j, s_i^2 + s_j^2)``
    with ``A(mu, var) = E|N(mu, var)|``; rows are processed in chunks so the (rows, K, K)
    pairwise array stays below ``_PAIR_BUDGET`` entries.

    Parameters
    ----------
    w, loc, scale : ndarray of shape (n, K)
    y : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (n,)
    """
    n, k = loc.shape
    var = scale * scale
    out = np.empty(n)
    chunk = max(1, _PAIR_BUDGET // (k * k))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        ws, ls, vs = w[sl], loc[sl], var[sl]
        to_y = np.sum(ws * _abs_normal_mean(y[sl, None] - ls, vs), axis=1)
        pair = _abs_normal_mean(ls[:, :, None] - ls[:, None, :], vs[:, :, None] + vs[:, None, :])
        spread = np.einsum("ni,nj,nij->n", ws, ws, pair)
        out[sl] = to_y - 0.5 * spread
    return np.maximum(out, 0.0)  # rounding can leave -1e-17 where the score is ~0


def _crps_ensemble(x: FloatArray, y: FloatArray) -> FloatArray:
    """CRPS of the empirical distribution of ``x`` (n, S): ``E|X - y| - 1/2 E|X - X'|``.

    The pair term uses the sorted-sample identity
    ``sum_ij |x_i - x_j| = 2 sum_i (2 i - S - 1) x_(i)`` (``i = 1..S``), so the cost is
    ``O(S log S)`` per row; the result equals properscoring's ``crps_ensemble``.
    """
    s = x.shape[1]
    xs = np.sort(x, axis=1)
    to_y = np.mean(np.abs(xs - y[:, None]), axis=1)
    coef = 2.0 * np.arange(1, s + 1) - s - 1.0
    half_spread = (xs @ coef) / (s * s)
    return np.maximum(to_y - half_spread, 0.0)


def _crps_quantile_quadrature(predictive: Predictive, y: FloatArray) -> FloatArray:
    """CRPS as ``2 int_0^1 rho_q(y - Q(q)) dq`` on ``_CRPS_QUADRATURE_LEVELS`` midpoints.

    Used for kinds that are not a Gaussian mixture (e.g. a recalibrated predictive).
    """
    m = _CRPS_QUADRATURE_LEVELS
    q = (np.arange(m) + 0.5) / m
    quant = predictive.quantile(q)  # (m, n)
    u = y[None, :] - quant
    pinball = u * (q[:, None] - (u < 0.0))
    return 2.0 * np.mean(pinball, axis=0)

