"""Post-hoc recalibration of predictive distributions, fitted on held-out data.

Two recalibrators with one shape: ``fit(y_val, pred_val)`` on a validation split returns
``self``, ``transform(pred)`` applies the learned correction to any predictive and returns a
:class:`~bdl.predictive.Predictive` again, and ``mapping(p)`` is the learned map from nominal
to recalibrated probability (for plots).

:class:`StdScaling`
    One factor ``s > 0`` multiplies the spread about the predictive mean, chosen to minimise
    the validation NLL (std / temperature scaling [1]_ [2]_). The result keeps its kind.
:class:`IsotonicRecalibration`
    A monotone map ``R`` of the PIT, ``R(p) ~ P(F(Y) <= p)``, fitted by isotonic regression of
    the empirical frequency on the PIT values [3]_; the result is a
    :class:`RecalibratedPredictive` with ``cdf = R(F(y))``.

The module uses numpy and scipy only (no scikit-learn, no TensorFlow).

References
----------
.. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural
   networks", ICML 2017 (temperature scaling).
.. [2] M.-H. Laves, S. Ihler, J. F. Fast, L. A. Kahrs and T. Ortmaier, "Well-calibrated
   regression uncertainty in medical imaging with deep learning", MIDL 2020 (sigma scaling).
.. [3] V. Kuleshov, N. Fenner and S. Ermon, "Accurate uncertainties for deep learning using
   calibrated regression", ICML 2018 (Algorithm 1).
.. [4] F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation", SIAM J.
   Numer. Anal. 17 (1980) 238-246 (PCHIP).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from bdl.calibration.metrics import _check_inputs, _check_predictive
from bdl.errors import InputError, NotFittedError, UnsupportedOperationError
from bdl.predictive import BoundedPredictive, Predictive
from bdl.predictive.base import QuadratureScores

__all__ = [
    "StdScaling",
    "IsotonicRecalibration",
    "MonotoneMap",
    "RecalibratedPredictive",
    "RecalibrationNotFittedError",
]

FloatArray = NDArray[np.float64]

#: Nodes of the quadrature (and of the quantile table) of a recalibrated predictive: levels
#: ``Phi(t)`` for ``t`` evenly spaced in ``[-_T_MAX, _T_MAX]`` (tails beyond hold 1e-15).
_N_QUAD = 512
_T_MAX = 8.0
#: Below this tail probability ``sf`` / ``log_cdf`` / ``log_sf`` use the map's end slope.
_TAIL = 1e-300
_EPS = np.finfo(np.float64).eps


class RecalibrationNotFittedError(NotFittedError, InputError):
    """A recalibrator was used before ``fit`` (both an ``InputError`` and a ``NotFittedError``)."""


def _fitted(obj: Any, attr: str) -> Any:
    """``obj.<attr>``, the learned state of a recalibrator or conformal method.

    Raises
    ------
    RecalibrationNotFittedError
        Before ``fit`` (when ``obj`` has no ``attr``).
    """
    if not hasattr(obj, attr):
        raise RecalibrationNotFittedError(
            f"this {type(obj).__name__} is not fitted yet; call .fit(y_val, pred_val) on held-out "
            "data before .transform(pred) or .mapping(p)."
        )
    return getattr(obj, attr)


def _check_probabilities(p: ArrayLike, name: str) -> FloatArray:
    """Probabilities in the closed interval [0, 1] as a float array of any shape."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a probability or an array of them ({exc}).") from None
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        first = float(arr[bad].ravel()[0])
        raise InputError(f"{name} must lie in [0, 1], got {first!r} ({int(bad.sum())} bad value(s)).")
    return arr


def _solve_increasing(
    func: Callable[[FloatArray], FloatArray],
    deriv: Callable[[FloatArray], FloatArray],
    target: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    x0: FloatArray,
    tol: FloatArray | float,
    ftol: float = 2.0 * _EPS,
    max_iter: int = 100,
) -> FloatArray:
    """Solve ``func(x) = target`` elementwise for an increasing ``func``.

    Every entry keeps a bracket ``[lo, hi]`` with residuals ``f_lo <= 0 <= f_hi``. A Newton
    step is taken when it stays inside the bracket; otherwise a false-position step, kept at
    least 5 % of the bracket away from either end so the bracket shrinks by 5 % or more
    (a bracketed Newton in the spirit of ``rtsafe``, Numerical Recipes ch. 9.4, which bisects
    instead -- too slow when one end of the bracket already sits on the root). ``func`` and
    ``deriv`` are always called on the full array (its shape may encode which distribution
    an entry belongs to); an entry is frozen once its step or bracket is below ``tol`` or its
    residual below ``ftol`` (the resolution of a probability near 1).
    """
    x = np.clip(x0, lo, hi)
    lo, hi = lo.copy(), hi.copy()
    f_lo = np.minimum(f_lo, 0.0)
    f_hi = np.maximum(f_hi, 0.0)
    frozen = np.zeros(x.shape, dtype=bool)
    for _ in range(max_iter):
        fx = func(x) - target
        left, right = fx < 0.0, fx > 0.0
        lo, f_lo = np.where(left, x, lo), np.where(left, fx, f_lo)
        hi, f_hi = np.where(right, x, hi), np.where(right, fx, f_hi)
        d = deriv(x)
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = x - fx / d
            false_pos = lo - f_lo * width / (f_hi - f_lo)
        ok = (d > 0.0) & np.isfinite(newton) & (newton >= lo) & (newton <= hi)
        false_pos = np.where(np.isfinite(false_pos), false_pos, lo + 0.5 * width)
        false_pos = np.clip(false_pos, lo + 0.05 * width, hi - 0.05 * width)
        x_new = np.where(ok, newton, false_pos)
        converged = np.abs(fx) <= ftol
        done = converged | (np.abs(x_new - x) <= tol) | (width <= tol)
        x = np.where(frozen | converged, x, x_new)
        frozen |= done
        if frozen.all():
            break
    return x


# --------------------------------------------------------------------------------------------
# the monotone map
# --------------------------------------------------------------------------------------------


class MonotoneMap:
    """A continuous, strictly increasing map ``R`` of [0, 1] onto itself.

    ``R(p) = (1 - floor) * C(p) + floor * p`` where ``C`` is the monotone piecewise-cubic
    (PCHIP [4]_) interpolant through the knots; the small identity share ``floor`` keeps the
    slope ``R' >= floor`` everywhere, so ``R`` is invertible and ``log R'`` is finite.

    Parameters
    ----------
    knots_x, knots_y : array_like of shape (k,), k >= 2
        Non-decreasing knots with ``knots_x[0] = knots_y[0] = 0`` and ``knots_x[-1] =
        knots_y[-1] = 1``; ``knots_x`` strictly increasing.
    slope_floor : float in (0, 1), default 1e-3

    Notes
    -----
    ``1 - R(1 - s)`` (:meth:`sf`) is evaluated on the mirrored interpolant (PCHIP commutes
    with the reflection ``(x, y) -> (1 - x, 1 - y)``), so upper tails keep full relative
    precision.
    """

    def __init__(self, knots_x: ArrayLike, knots_y: ArrayLike, slope_floor: float = 1e-3) -> None:
        from scipy.interpolate import PchipInterpolator

        x = np.array(knots_x, dtype=np.float64)
        y = np.array(knots_y, dtype=np.float64)
        if x.ndim != 1 or y.shape != x.shape or len(x) < 2:
            raise InputError(
                f"knots_x and knots_y must be 1-D of the same length >= 2, got shapes {x.shape} "
                f"and {y.shape}."
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise InputError("knots_x and knots_y must be finite.")
        if x[0] != 0.0 or x[-1] != 1.0 or y[0] != 0.0 or y[-1] != 1.0:
            raise InputError(
                "the knots must start at (0, 0) and end at (1, 1); got "
                f"({x[0]!r}, {y[0]!r}) and ({x[-1]!r}, {y[-1]!r})."
            )
        if np.any(np.diff(x) <= 0.0) or np.any(np.diff(y) < 0.0):
            raise InputError("knots_x must be strictly increasing and knots_y non-decreasing.")
        floor = float(slope_floor)
        if not 0.0 < floor < 1.0:
            raise InputError(f"slope_floor must lie strictly inside (0, 1), got {slope_floor!r}.")
        self.knots_x = x
        self.knots_y = y
        self.slope_floor = floor
        self._cdf = PchipInterpolator(x, y)
        self._sf = PchipInterpolator(1.0 - x[::-1], 1.0 - y[::-1])
        self._dcdf = self._cdf.derivative()
        # images of the knots under R: brackets for the inverse
        self._images = (1.0 - floor) * y + floor * x

    @classmethod
    def identity(cls, slope_floor: float = 1e-3) -> MonotoneMap:
        """The identity map (two knots)."""
        return cls([0.0, 1.0], [0.0, 1.0], slope_floor)

    def __call__(self, p: ArrayLike) -> FloatArray:
        """``R(p)`` for ``p`` in [0, 1]; same shape as ``p``."""
        pp = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        out = (1.0 - self.slope_floor) * self._cdf(pp) + self.slope_floor * pp
        return np.clip(out, 0.0, 1.0)

    def sf(self, s: ArrayLike) -> FloatArray:
        """``1 - R(1 - s)`` for ``s`` in [0, 1], accurate for tiny ``s``."""
        ss = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
        out = (1.0 - self.slope_floor) * self._sf(ss) + self.slope_floor * ss
        return np.clip(out, 0.0, 1.0)

    def derivative(self, p: ArrayLike) -> FloatArray:
        """``R'(p) >= slope_floor``; same shape as ``p``."""
        pp = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        d = (1.0 - self.slope_floor) * self._dcdf(pp) + self.slope_floor
        return np.maximum(d, self.slope_floor)

    def inverse(self, q: ArrayLike) -> FloatArray:
        """``R^{-1}(q)`` for ``q`` in [0, 1] by bracketed Newton; same shape as ``q``."""
        qq = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0)
        flat = qq.ravel()
        j = np.clip(np.searchsorted(self._images, flat, side="right"), 1, len(self.knots_x) - 1)
        lo = self.knots_x[j - 1]
        hi = self.knots_x[j]
        span = self._images[j] - self._images[j - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            x0 = np.where(span > 0, lo + (flat - self._images[j - 1]) / span * (hi - lo), 0.5 * (lo + hi))
        f_lo = self._images[j - 1] - flat
        f_hi = self._images[j] - flat
        x = _solve_increasing(self, self.derivative, flat, lo, hi, f_lo, f_hi, x0, tol=4.0 * _EPS)
        x = np.where(flat <= 0.0, 0.0, np.where(flat >= 1.0, 1.0, x))
        return x.reshape(qq.shape)

    def __repr__(self) -> str:
        return f"<MonotoneMap knots={len(self.knots_x)} slope_floor={self.slope_floor:g}>"


def _phi(x: FloatArray) -> FloatArray:
    """Standard normal density, 0 at +-inf."""
    finite = np.isfinite(x)
    xf = np.where(finite, x, 0.0)
    return np.where(finite, np.exp(-0.5 * xf * xf) / np.sqrt(2.0 * np.pi), 0.0)


def _sliced_moments(
    table: FloatArray,
    levels: FloatArray,
    mapping: MonotoneMap,
    centre: FloatArray,
    k: int,
    slice_moments: Callable[[slice], tuple[FloatArray, FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of ``R(F)`` from the base's moments on its M + 1 probability slices.

    The driver shared by :func:`_interval_moments` and :func:`_bounded_interval_moments`:
    slice ``k`` gets recalibrated probability ``R(p_{k+1}) - R(p_k)``, spread inside it as the
    base is. ``slice_moments(sl)`` gives the base's partial moments ``m0, m1, m2`` (about
    ``centre``), shape (M + 1, r) each, of the points ``sl``; points go in chunks of about a
    million (slice, component) cells.
    """
    m, n = table.shape
    d_g = np.diff(np.concatenate([[0.0], mapping(levels), [1.0]]))  # (M + 1,)
    mean = np.empty(n)
    second = np.empty(n)
    chunk = max(1, 1_000_000 // ((m + 1) * k))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        m0, m1, m2 = slice_moments(sl)
        with np.errstate(divide="ignore", invalid="ignore"):
            cm1 = np.where(m0 > 0.0, m1 / m0, 0.0)
            cm2 = np.where(m0 > 0.0, m2 / m0, 0.0)
        mean[sl] = d_g @ cm1
        second[sl] = d_g @ cm2
    var = np.maximum(second - mean * mean, 0.0)
    return centre + mean, var


def _interval_moments(
    w: FloatArray,
    loc: FloatArray,
    scale: FloatArray,
    centre: FloatArray,
    table: FloatArray,
    levels: FloatArray,
    mapping: MonotoneMap,
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of ``R(F)`` for Gaussian-mixture bases ``F``, shape (n,) each.

    The real line is cut at the base quantiles ``table`` (shape (M, n), at the shared
    ``levels``) into M + 1 intervals. Interval ``k`` holds recalibrated probability
    ``R(p_{k+1}) - R(p_k)`` exactly; inside it the recalibrated distribution is approximated by
    the base one, whose partial moments ``E[Y^j 1{a < Y < b}]`` have a closed form for every
    Gaussian component. Exact for the identity map; otherwise the error comes only from the
    variation of ``R'`` inside an interval (the intervals hold at most ~1.3 % of base
    probability each, and far less in the tails). Moments are taken about ``centre`` (the
    base mean) to avoid cancellation.
    """

    def slice_moments(sl: slice) -> tuple[FloatArray, FloatArray, FloatArray]:
        rows = table[:, sl]
        edges = np.vstack([np.full(rows.shape[1], -np.inf), rows, np.full(rows.shape[1], np.inf)])
        ws, ss = w[sl][None], scale[sl][None]
        mu = (loc[sl] - centre[sl, None])[None]
        a = (edges[:-1, :, None] - loc[sl][None]) / ss
        b = (edges[1:, :, None] - loc[sl][None]) / ss
        # P(a < Z < b), from the upper tail where a > 0 to keep precision
        d_phi = np.where(a > 0.0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
        pa, pb = _phi(a), _phi(b)
        d1 = pa - pb  # E[Z 1{a < Z < b}]
        d2 = np.where(np.isfinite(a), a, 0.0) * pa - np.where(np.isfinite(b), b, 0.0) * pb
        m0 = np.sum(ws * d_phi, axis=-1)
        m1 = np.sum(ws * (mu * d_phi + ss * d1), axis=-1)
        m2 = np.sum(ws * (mu * mu * d_phi + 2.0 * mu * ss * d1 + ss * ss * (d_phi + d2)), axis=-1)
        return m0, m1, m2

    return _sliced_moments(table, levels, mapping, centre, loc.shape[1], slice_moments)


def _bounded_interval_moments(
    base: BoundedPredictive, table: FloatArray, levels: FloatArray, mapping: MonotoneMap
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of ``R(F)`` for a bounded base ``F`` (truncated parts plus atoms).

    The scheme of :func:`_interval_moments` on probability slices: slice ``k`` holds base
    levels ``(p_k, p_{k+1}]`` (``p_0 = 0``, ``p_{M+1} = 1``) and recalibrated probability
    ``R(p_{k+1}) - R(p_k)``; inside it the recalibrated distribution is the base one, whose
    moments on the slice are exact: the share of the slice on an atom (``(0, p_lower]`` or
    ``[1 - p_upper, 1)``) sits at the bound, the rest is the closed-form partial moment of the
    truncated components between the base quantiles ``table`` (which never leave the bounds).
    Exact for the identity map. Moments are taken about the base mean; probabilities and
    partial moments use log-space normal differences, so deeply truncated components keep
    their precision.
    """
    from bdl.predictive import _log_ndtr_diff

    w, loc, scale = base.weights, base.locs, base.scales
    lo_b, hi_b = base.lower, base.upper
    p_lo, p_hi, cont = base.p_lower, base.p_upper, base.continuous_mass
    centre = np.asarray(base.mean)
    log_z = base.log_normalisers
    p_edges = np.concatenate([[0.0], levels, [1.0]])

    def slice_moments(sl: slice) -> tuple[FloatArray, FloatArray, FloatArray]:
        rows = np.clip(table[:, sl], lo_b[sl], hi_b[sl])
        edges = np.vstack([lo_b[sl], rows, hi_b[sl]])  # (M + 2, r)
        # the atoms' share of each slice
        pk, pk1 = p_edges[:-1, None], p_edges[1:, None]
        on_lo = np.maximum(np.minimum(pk1, p_lo[sl]) - pk, 0.0)
        on_hi = np.maximum(pk1 - np.maximum(pk, 1.0 - p_hi[sl]), 0.0)
        a_dev = np.where(p_lo[sl] > 0.0, lo_b[sl] - centre[sl], 0.0)
        b_dev = np.where(p_hi[sl] > 0.0, hi_b[sl] - centre[sl], 0.0)
        # the continuous part between consecutive quantiles, per component
        ls, ss, ws, lz = loc[sl][None], scale[sl][None], w[sl][None], log_z[sl][None]
        alpha = (lo_b[sl][:, None] - loc[sl]) / scale[sl]
        beta = (hi_b[sl][:, None] - loc[sl]) / scale[sl]
        with np.errstate(invalid="ignore", over="ignore"):
            u0 = np.clip((edges[:-1, :, None] - ls) / ss, alpha, beta)
            u1 = np.clip((edges[1:, :, None] - ls) / ss, alpha, beta)
        mu = (loc[sl] - centre[sl, None])[None]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            d_phi = np.exp(_log_ndtr_diff(u0, u1) - lz)
            pa = np.where(np.isfinite(u0), np.exp(-0.5 * u0 * u0 - 0.5 * np.log(2.0 * np.pi) - lz), 0.0)
            pb = np.where(np.isfinite(u1), np.exp(-0.5 * u1 * u1 - 0.5 * np.log(2.0 * np.pi) - lz), 0.0)
            d1 = pa - pb
            d2 = np.where(np.isfinite(u0), u0 * pa, 0.0) - np.where(np.isfinite(u1), u1 * pb, 0.0)
        used = ws > 0.0
        c = cont[sl][None]
        m0 = on_lo + on_hi + c * np.sum(np.where(used, ws * d_phi, 0.0), axis=-1)
        m1 = on_lo * a_dev + on_hi * b_dev + c * np.sum(
            np.where(used, ws * (mu * d_phi + ss * d1), 0.0), axis=-1
        )
        m2 = on_lo * a_dev**2 + on_hi * b_dev**2 + c * np.sum(
            np.where(used, ws * (mu * mu * d_phi + 2.0 * mu * ss * d1 + ss * ss * (d_phi + d2)), 0.0),
            axis=-1,
        )
        return m0, m1, m2

    return _sliced_moments(table, levels, mapping, centre, loc.shape[1], slice_moments)


# --------------------------------------------------------------------------------------------
# the recalibrated predictive
# --------------------------------------------------------------------------------------------


class RecalibratedPredictive(QuadratureScores, Predictive):
    """A predictive whose probabilities pass through a monotone map: ``cdf = R(F(y))``.

    Parameters
    ----------
    base : Predictive
        The predictive being recalibrated (any kind, including another recalibrated one).
    mapping : MonotoneMap
        The map ``R`` from nominal to recalibrated probability.

    Notes
    -----
    * ``cdf(y) = R(F(y))``, ``log_prob(y) = log R'(F(y)) + log f(y)``,
      ``quantile(q) = F^{-1}(R^{-1}(q))``, ``sf`` / ``log_cdf`` / ``log_sf`` keep their tail
      precision through :meth:`MonotoneMap.sf` and the end slopes of ``R``.
    * ``mean`` and ``variance`` are computed once, on first use, from the base quantiles at
      the 512 levels ``Phi(t)``, ``t`` evenly spaced in [-8, 8] (so the tails are resolved):
      each of the 513 intervals between them carries the exact recalibrated probability
      ``R(p_{k+1}) - R(p_k)`` and the base's closed-form partial moments inside it (any
      base with a Gaussian-mixture form: exact for the identity map, relative error ~1e-4 in
      the variance for a strongly curved map). A bounded base (truncated components plus
      atoms) uses the same scheme with its exact slice moments (the atoms' share of a slice
      sits at the bound). A base with no mixture form (a recalibrated one) uses the trapezoid
      rule in ``t`` on ``Q(Phi(t)) R'(Phi(t)) phi(t)`` instead.
    * ``sample`` is inverse-transform sampling: ``u ~ U(0, 1)``, ``v = R^{-1}(u)``, then
      ``F^{-1}(v)`` per entry by bracketed Newton on the base ``cdf``.
    * There is no epistemic / aleatoric split (the map acts on the whole distribution), no
      Gaussian-mixture form and no TensorFlow Probability export; those raise
      :class:`~bdl.errors.UnsupportedOperationError` naming the kind.
    """

    kind: ClassVar[str] = "recalibrated"

    def __init__(self, base: Predictive, mapping: MonotoneMap) -> None:
        if not isinstance(base, Predictive):
            raise InputError(f"base must be a bdl.predictive.Predictive, got {type(base).__name__}.")
        if not isinstance(mapping, MonotoneMap):
            raise InputError(f"mapping must be a MonotoneMap, got {type(mapping).__name__}.")
        self._base = base
        self._map = mapping
        self._epistemic = None
        self._aleatoric = None
        self._table: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self._moments: tuple[FloatArray, FloatArray] | None = None

    # -- structure -----------------------------------------------------------------------

    @property
    def base(self) -> Predictive:
        """The predictive before recalibration."""
        return self._base

    @property
    def mapping(self) -> MonotoneMap:
        """The recalibration map ``R``."""
        return self._map

    @property
    def n_points(self) -> int:
        return self._base.n_points

    def _no_split_reason(self) -> str:
        return (
            "a recalibrated predictive carries no epistemic/aleatoric split: the recalibration "
            "map acts on the whole distribution; read the split of the base predictive "
            "(p.base.epistemic_variance) or recalibrate with StdScaling, which keeps it"
        )

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        raise UnsupportedOperationError(
            "a recalibrated predictive is not a Gaussian mixture, so as_mixture() is not "
            "available; use cdf / quantile / log_prob / sample, or p.base.as_mixture() for the "
            "distribution before recalibration."
        )

    def to_tfp(self) -> Any:
        raise UnsupportedOperationError(
            "a recalibrated predictive has no TensorFlow Probability equivalent; export "
            "p.base.to_tfp() and apply p.mapping to its cdf."
        )

    def _take(self, positions: NDArray[np.intp]) -> RecalibratedPredictive:
        return RecalibratedPredictive(self._base[positions], self._map)

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "recalibrated", "base": <record of the base>, "map": {...}}`` per point.

        ``"map"`` holds ``knots_x``, ``knots_y`` and ``slope_floor`` of the
        :class:`MonotoneMap`; :func:`bdl.predictive.predictive_from_records` rebuilds both.
        """
        mapping = {
            "knots_x": self._map.knots_x.tolist(),
            "knots_y": self._map.knots_y.tolist(),
            "slope_floor": self._map.slope_floor,
        }
        return [{"kind": self.kind, "base": base, "map": mapping} for base in self._base._records()]

    # -- quadrature table and moments ----------------------------------------------------

    def _quantile_table(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(t, levels, base quantiles)`` with shapes (M,), (M,), (M, n), computed once."""
        if self._table is None:
            t = np.linspace(-_T_MAX, _T_MAX, _N_QUAD)
            levels = ndtr(t)
            self._table = (t, levels, np.asarray(self._base.quantile(levels), dtype=np.float64))
        return self._table

    def _compute_moments(self) -> tuple[FloatArray, FloatArray]:
        if self._moments is None:
            t, levels, table = self._quantile_table()
            try:
                mixture = self._base.as_mixture()
            except UnsupportedOperationError:  # e.g. a recalibrated base: no mixture form
                mixture = None
            if isinstance(self._base, BoundedPredictive):
                mean, var = _bounded_interval_moments(self._base, table, levels, self._map)
            elif mixture is not None:
                mean, var = _interval_moments(*mixture, np.asarray(self._base.mean), table, levels, self._map)
            else:
                # trapezoid in t = Phi^{-1}(p) of int Q(p) R'(p) dp, weights R'(Phi(t)) phi(t)
                w = self._map.derivative(levels) * np.exp(-0.5 * t * t)
                w = w / np.sum(w)
                mean = w @ table
                var = w @ (table - mean) ** 2
            mean.setflags(write=False)
            var.setflags(write=False)
            self._moments = (mean, var)
        return self._moments

    @property
    def mean(self) -> FloatArray:
        """Mean of the recalibrated distribution (quadrature), ndarray of shape (n,)."""
        return self._compute_moments()[0]

    @property
    def variance(self) -> FloatArray:
        """Variance of the recalibrated distribution (quadrature), ndarray of shape (n,)."""
        return self._compute_moments()[1]

    @property
    def stddev(self) -> FloatArray:
        """Standard deviation of the recalibrated distribution, ndarray of shape (n,)."""
        return np.sqrt(self.variance)

    # -- probabilities -------------------------------------------------------------------

    def _cdf(self, y: FloatArray) -> FloatArray:
        return self._map(self._base._cdf(y))

    def _left_cdf(self, y: FloatArray) -> FloatArray:
        """``P(Y < y) = R(F(y-))``: keeps the jumps of a base with point masses."""
        return self._map(self._base._left_cdf(y))

    def _log_left_cdf(self, y: FloatArray) -> FloatArray:
        """``log R(F(y-))``, with the lower-tail slope of ``R`` where ``F(y-)`` is tiny."""
        return self._log_mapped_cdf(np.asarray(self._base._log_left_cdf(y), dtype=np.float64))

    @property
    def _has_atoms(self) -> bool:
        return self._base._has_atoms

    def _sf(self, y: FloatArray) -> FloatArray:
        return self._map.sf(self._base._sf(y))

    def _log_cdf(self, y: FloatArray) -> FloatArray:
        return self._log_mapped_cdf(np.asarray(self._base._log_cdf(y), dtype=np.float64))

    def _log_mapped_cdf(self, lc: FloatArray) -> FloatArray:
        u = np.exp(lc)
        with np.errstate(divide="ignore"):
            direct = np.log(self._map(u))
        slope = np.log(self._map.derivative(0.0)) + lc
        return np.minimum(np.where(u > _TAIL, direct, slope), 0.0)

    def _log_sf(self, y: FloatArray) -> FloatArray:
        ls = np.asarray(self._base._log_sf(y), dtype=np.float64)
        s = np.exp(ls)
        with np.errstate(divide="ignore"):
            direct = np.log(self._map.sf(s))
        slope = np.log(self._map.derivative(1.0)) + ls
        return np.minimum(np.where(s > _TAIL, direct, slope), 0.0)

    def _log_prob(self, y: FloatArray) -> FloatArray:
        """``log R'(F(y)) + log f(y)``; at a point mass of the base ``log(R(F(y)) - R(F(y-)))``.

        The second form is the log-probability of the recalibrated atom (a bounded base with
        ``p_lower > 0`` at ``y == lower``); it is only evaluated for kinds with atoms.
        """
        u = self._base._cdf(y)
        out = np.log(self._map.derivative(u)) + self._base._log_prob(y)
        if not self._base._has_atoms:
            return out
        left = np.asarray(self._base._left_cdf(y), dtype=np.float64)
        jump = np.asarray(u) > left
        if jump.any():
            with np.errstate(divide="ignore"):
                atom = np.log(np.maximum(self._map(u) - self._map(left), 0.0))
            out = np.where(jump, atom, out)
        return out

    def _quantile(self, levels: FloatArray) -> FloatArray:
        p = np.clip(self._map.inverse(levels), np.finfo(np.float64).tiny, 1.0 - _EPS / 2.0)
        return np.asarray(self._base.quantile(p), dtype=np.float64).reshape(len(levels), self.n_points)

    # -- sampling ------------------------------------------------------------------------

    def _base_quantile_entrywise(self, v: FloatArray) -> FloatArray:
        """``F_j^{-1}(v[i, j])`` for levels that differ per entry, ``v`` of shape (m, n)."""
        t_nodes, levels, table = self._quantile_table()
        v = np.clip(v, levels[0], levels[-1])
        cols = np.arange(self.n_points)[None, :]
        j = np.clip(np.searchsorted(levels, v, side="left"), 1, len(levels) - 1)
        lo = table[j - 1, cols]
        hi = table[j, cols]
        # start from linear interpolation in t = Phi^{-1}(v): exact for a Gaussian base
        t_v = ndtri(v)
        frac = (t_v - t_nodes[j - 1]) / (t_nodes[j] - t_nodes[j - 1])
        x0 = lo + np.clip(frac, 0.0, 1.0) * (hi - lo)
        tol = 1e-12 * (table[-1] - table[0])[None, :] + 4.0 * _EPS * np.abs(x0)
        base = self._base
        f_lo = levels[j - 1] - v
        f_hi = levels[j] - v
        if base._has_atoms:
            # a base with point masses: where v falls in the jump of F at an end of the
            # bracket, the quantile is that end exactly (the atom), with nothing to solve
            at_lo = np.asarray(base.cdf(lo)) >= v
            at_hi = ~at_lo & (np.asarray(base._cdf_left(hi)) < v)
            end = np.where(at_lo, lo, hi)
            pinned = at_lo | at_hi
            lo = np.where(pinned, end, lo)
            hi = np.where(pinned, end, hi)
            x0 = np.where(pinned, end, x0)
            f_lo = np.where(pinned, 0.0, f_lo)
            f_hi = np.where(pinned, 0.0, f_hi)
        return _solve_increasing(
            base.cdf, lambda x: np.exp(base.log_prob(x)), v, lo, hi, f_lo, f_hi, x0, tol=tol
        )

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        """Inverse-transform draws, ndarray of shape (n_samples, n).

        Levels beyond the quadrature table (probability ~6e-16 per tail) are clipped to it.
        """
        u = rng.random((int(n_samples), self.n_points))
        return self._base_quantile_entrywise(self._map.inverse(u))

    # -- scores and acquisition: QuadratureScores; no file layout ---------------------------

    def _prediction_columns(self) -> dict[str, FloatArray]:
        raise UnsupportedOperationError(
            "a recalibrated predictive has no PRED.csv layout; write the base predictive "
            "(p.base) and the map (p.mapping) instead."
        )

    def __repr__(self) -> str:
        return f"<RecalibratedPredictive n={self.n_points} base={self._base.kind} {self._map!r}>"


# --------------------------------------------------------------------------------------------
# the recalibrators
# --------------------------------------------------------------------------------------------


def _scale_spread(pred: Predictive, s: float) -> Predictive:
    """The same kind with every deviation from the predictive mean multiplied by ``s``."""
    return pred._spread_scaled(s)


class StdScaling:
    """Multiply the predictive spread by one factor fitted on held-out data (sigma scaling).

    ``fit`` finds ``s > 0`` minimising the mean validation NLL (``minimize_scalar`` on
    ``log s``, bounded method) [1]_ [2]_; ``transform`` returns the same kind with the spread
    scaled about the predictive mean:

    * Gaussian: ``stddev * s``;
    * mixture and samples: ``locs -> mean + s (locs - mean)``, ``scales * s`` (plain samples
      are scaled likewise; their kernel bandwidth scales with them);
    * bounded (truncated components plus point masses): the *untruncated* components are
      scaled about their weighted mean, ``locs -> m + s (locs - m)``, ``scales * s`` with
      ``m = sum_k w_k locs_k``, then truncated to the same bounds; the point masses and the
      bounds are kept (the factor calibrates the spread of the continuous part, not the
      probability of the atoms). Without bounds and atoms this is the mixture rule;
    * an epistemic split, when present, is multiplied by ``s**2`` (it is kept by
      construction for samples with per-pass scales; for the bounded kind it is multiplied
      by the ratio of the new to the old total variance, so its share is kept).

    Parameters
    ----------
    bounds : tuple of float, default (1e-3, 1e3)
        Search range of ``s``. A warning is given when the optimum sits on a bound.

    Attributes
    ----------
    factor_ : float
        The fitted ``s``; above 1 means the predictive was over-confident.
    nll_before_, nll_after_ : float
        Validation NLL with ``s = 1`` and with the fitted ``s``.

    Examples
    --------
    >>> scaler = StdScaling().fit(y_val, model.predict_dist(X_val))   # doctest: +SKIP
    >>> calibrated = scaler.transform(model.predict_dist(X_test))     # doctest: +SKIP
    """

    def __init__(self, bounds: tuple[float, float] = (1e-3, 1e3)) -> None:
        self.bounds = bounds

    def fit(self, y_val: ArrayLike, pred_val: Predictive) -> StdScaling:
        """Fit the factor on held-out ``(y_val, pred_val)``; returns ``self``.

        Parameters
        ----------
        y_val : array_like of shape (n,)
        pred_val : Predictive with n points (gaussian, mixture or samples)
        """
        from scipy.optimize import minimize_scalar

        from bdl.calibration.metrics import nll

        y = _check_inputs(y_val, pred_val, "y_val")
        try:
            lo, hi = (float(b) for b in self.bounds)
        except (TypeError, ValueError):
            raise InputError(f"bounds must be two positive numbers (low, high), got {self.bounds!r}.") from None
        if not 0.0 < lo < 1.0 < hi or not np.isfinite(hi):
            raise InputError(f"bounds must satisfy 0 < low < 1 < high < inf, got {self.bounds!r}.")
        _scale_spread(pred_val, 1.0)  # reject unsupported kinds before optimising

        def objective(log_s: float) -> float:
            return nll(y, _scale_spread(pred_val, float(np.exp(log_s))))

        res = minimize_scalar(
            objective, bounds=(np.log(lo), np.log(hi)), method="bounded", options={"xatol": 1e-9}
        )
        s = float(np.exp(res.x))
        if s < lo * 1.001 or s > hi / 1.001:
            warnings.warn(
                f"StdScaling: the fitted factor {s:.4g} sits on the search bound {self.bounds}; "
                "the predictive is badly mis-scaled or the NLL is flat. Check the inputs.",
                RuntimeWarning,
                stacklevel=2,
            )
        self.factor_ = s
        self.nll_before_ = objective(0.0)
        self.nll_after_ = float(res.fun)
        return self

    def transform(self, pred: Predictive) -> Predictive:
        """The predictive with its spread scaled by :attr:`factor_` (same kind)."""
        s: float = _fitted(self, "factor_")
        return _scale_spread(_check_predictive(pred), s)

    def mapping(self, p: ArrayLike) -> FloatArray:
        """Recalibrated probability ``Phi(Phi^{-1}(p) / s)`` of a nominal PIT value ``p``.

        Exact for a Gaussian predictive (``F_new(y) = Phi(z / s)``); for mixtures and samples
        it is the Gaussian picture of the same scaling.

        Parameters
        ----------
        p : array_like of probabilities in [0, 1]

        Returns
        -------
        ndarray of the shape of ``p``
        """
        s: float = _fitted(self, "factor_")
        pp = _check_probabilities(p, "p")
        with np.errstate(divide="ignore", invalid="ignore"):
            return ndtr(ndtri(pp) / s)

    def __repr__(self) -> str:
        fitted = f" factor_={self.factor_:.4g}" if hasattr(self, "factor_") else ""
        return f"StdScaling(bounds={self.bounds}){fitted}"


class IsotonicRecalibration:
    """Isotonic recalibration of the predictive CDF (Kuleshov, Fenner & Ermon 2018 [3]_).

    ``fit`` computes the PIT values ``p_i = F_i(y_i)`` on held-out data and the empirical
    frequency ``P(p_i) = #{j : p_j <= p_i} / (N + 1)`` (the ``N + 1`` keeps the map strictly
    inside (0, 1) at the data: the expected value of a uniform order statistic), pooled over
    tied PIT values by ``scipy.optimize.isotonic_regression``. Because the frequency is
    monotone in the PIT by construction, the isotonic fit is the (tie-pooled) empirical CDF of
    the PIT values; the regression only changes anything at ties.

    That step function is then made continuous, smooth and strictly increasing so that it can
    be inverted and differentiated: ``n_knots`` knots at evenly spaced ranks, plus (0, 0) and
    (1, 1), joined by PCHIP [4]_ and mixed with ``slope_floor`` times the identity
    (:class:`MonotoneMap`). Using fewer knots than points keeps the slope ``R'`` -- a factor
    of the recalibrated density -- from following the noise of single order statistics.

    Parameters
    ----------
    n_knots : int, optional
        Interior knots; default ``ceil(sqrt(N))`` clipped to [1, 100].
    slope_floor : float, default 1e-3
        Smallest slope of the map (share of the identity mixed in).

    Attributes
    ----------
    map_ : MonotoneMap
        The fitted map ``R``.
    knots_ : tuple of ndarray
        ``(x, y)`` knots of the map, for plots.
    pit_ : ndarray of shape (N,)
        The validation PIT values the map was fitted on.

    Notes
    -----
    The map is shared by all points (it is a function of the PIT only), so recalibration
    fixes average calibration, not calibration conditional on the input.
    """

    def __init__(self, n_knots: int | None = None, slope_floor: float = 1e-3) -> None:
        self.n_knots = n_knots
        self.slope_floor = slope_floor

    def fit(self, y_val: ArrayLike, pred_val: Predictive) -> IsotonicRecalibration:
        """Fit the map on held-out ``(y_val, pred_val)``; returns ``self``.

        Parameters
        ----------
        y_val : array_like of shape (N,)
        pred_val : Predictive with N points (any kind)
        """
        from scipy.optimize import isotonic_regression

        from bdl.calibration.metrics import pit

        y = _check_inputs(y_val, pred_val, "y_val")
        if self.n_knots is not None and (
            isinstance(self.n_knots, bool) or not isinstance(self.n_knots, (int, np.integer)) or self.n_knots < 1
        ):
            raise InputError(f"n_knots must be None or an int >= 1, got {self.n_knots!r}.")
        u = pit(y, pred_val)
        n = len(u)
        # empirical frequency of every PIT value, pooled over ties
        ux, inverse, counts = np.unique(np.sort(u), return_inverse=True, return_counts=True)
        freq = np.arange(1, n + 1) / (n + 1.0)
        pooled = np.bincount(inverse, weights=freq) / counts
        fitted = isotonic_regression(pooled, weights=counts.astype(np.float64), increasing=True).x
        inside = (ux > 0.0) & (ux < 1.0)
        ux, fitted = ux[inside], np.asarray(fitted)[inside]
        m = self.n_knots if self.n_knots is not None else int(np.clip(np.ceil(np.sqrt(n)), 1, 100))
        if len(ux) > m:
            pos = np.round(np.arange(1, m + 1) * (len(ux) + 1) / (m + 1)).astype(np.intp) - 1
            keep = np.unique(np.clip(pos, 0, len(ux) - 1))
            ux, fitted = ux[keep], fitted[keep]
        # strictly increasing knots (fitted is non-decreasing; drop repeats)
        if len(fitted) > 1:
            strict = np.concatenate([[True], np.diff(fitted) > 0.0])
            ux, fitted = ux[strict], fitted[strict]
        knots_x = np.concatenate([[0.0], ux, [1.0]])
        knots_y = np.concatenate([[0.0], fitted, [1.0]])
        self.map_ = MonotoneMap(knots_x, knots_y, self.slope_floor)
        self.knots_ = (knots_x, knots_y)
        self.pit_ = u
        return self

    def transform(self, pred: Predictive) -> RecalibratedPredictive:
        """``RecalibratedPredictive(pred, map_)``: ``cdf = R(F(y))``."""
        mapping: MonotoneMap = _fitted(self, "map_")
        return RecalibratedPredictive(_check_predictive(pred), mapping)

    def mapping(self, p: ArrayLike) -> FloatArray:
        """Recalibrated probability ``R(p)`` of a nominal PIT value ``p``; shape of ``p``."""
        mapping: MonotoneMap = _fitted(self, "map_")
        return mapping(_check_probabilities(p, "p"))

    def inverse_mapping(self, q: ArrayLike) -> FloatArray:
        """Nominal level ``R^{-1}(q)`` whose base quantile is the recalibrated ``q`` quantile."""
        mapping: MonotoneMap = _fitted(self, "map_")
        return mapping.inverse(_check_probabilities(q, "q"))

    def __repr__(self) -> str:
        fitted = f" knots={len(self.knots_[0])}" if hasattr(self, "knots_") else ""
        return f"IsotonicRecalibration(n_knots={self.n_knots}, slope_floor={self.slope_floor}){fitted}"
