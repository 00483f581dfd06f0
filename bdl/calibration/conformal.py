"""Conformal prediction beside std scaling and isotonic recalibration.

Three recalibrators with the shape of :mod:`bdl.calibration.recalibration`:
``fit(y_cal, pred_cal)`` on a held-out calibration split returns ``self``, ``transform(pred)``
returns a :class:`~bdl.predictive.Predictive` that every metric, plot and acquisition function
accepts, and ``predict_interval(pred)`` gives the conformal interval itself.

:class:`SplitConformal`
    Split conformal prediction normalised by the predictive's standard deviation [1]_ [2]_:
    scores ``|y - mean| / std``; the interval is ``mean +- q_hat std`` with ``q_hat`` the
    ``ceil((m + 1)(1 - alpha))``-th smallest of the ``m`` calibration scores (infinite when
    that exceeds ``m``). Valid: ``P(Y in interval) >= 1 - alpha`` for exchangeable data.
:class:`ConformalizedQuantileRegression`
    CQR (Romano, Patterson and Candes [3]_): the predictive's ``alpha/2`` and ``1 - alpha/2``
    quantiles are widened (or narrowed) by the conformal quantile of the scores
    ``max(q_lo - y, y - q_hi)``.
:class:`ConformalPredictiveSystem`
    Split conformal predictive distributions (Vovk et al. [4]_ [5]_): the calibration scores
    ``(y - mean) / std`` give the predictive distribution of every new point, ``mean + std
    R`` with ``R`` on the ``m`` scores -- a full distribution (:class:`ConformalPredictive`),
    so it can drive expected improvement.

The interval-producing recalibrators return a :class:`WarpedPredictive`: the base predictive
pushed through an increasing piecewise-linear map of ``y`` that sends its central
``1 - alpha`` interval onto the conformal interval (linear in between, a shift outside), so its
``interval(1 - alpha)`` *is* the conformal interval and every other quantity is that of one
proper distribution.

References
----------
.. [1] V. Vovk, A. Gammerman and G. Shafer, "Algorithmic Learning in a Random World",
   Springer, 2005.
.. [2] J. Lei, M. G'Sell, A. Rinaldo, R. J. Tibshirani and L. Wasserman, "Distribution-free
   predictive inference for regression", JASA 113, 1094-1111 (2018) (split conformal; the
   normalised score, sec. 5.2).
.. [3] Y. Romano, E. Patterson and E. J. Candes, "Conformalized quantile regression",
   NeurIPS 2019.
.. [4] V. Vovk, J. Shen, V. Manokhin and M. Xie, "Nonparametric predictive distributions
   based on conformal prediction", Machine Learning 108, 445-474 (2019).
.. [5] V. Vovk, I. Petej, I. Nouretdinov, V. Manokhin and A. Gammerman, "Computationally
   efficient versions of conformal predictive distributions", Neurocomputing 397, 292-308
   (2020) (split conformal predictive systems).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from bdl.calibration.metrics import _check_inputs, _check_predictive
from bdl.calibration.recalibration import _fitted
from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import Predictive
from bdl.predictive.base import QuadratureScores
from bdl.predictive._numerics import _frozen

__all__ = [
    "ConformalPredictive",
    "ConformalPredictiveSystem",
    "ConformalizedQuantileRegression",
    "SplitConformal",
    "WarpedPredictive",
    "conformal_quantile",
]

FloatArray = NDArray[np.float64]

#: Levels ``Phi(t)``, ``t`` evenly spaced in [-8, 8], of the moment quadrature of a warped kind.
_T_GRID = np.linspace(-8.0, 8.0, 513)


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}.")
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise InputError(f"alpha must lie in (0, 1) (the miscoverage rate, e.g. 0.1), got {a!r}.")
    return a


def conformal_quantile(scores: ArrayLike, alpha: float) -> float:
    """The ``ceil((m + 1)(1 - alpha))``-th smallest of ``m`` scores; ``inf`` past ``m``.

    The finite-sample conformal quantile (Vovk et al. 2005; Lei et al. 2018): for scores
    exchangeable with a new one, ``P(new score <= q) >= 1 - alpha``.

    Parameters
    ----------
    scores : array_like of shape (m,)
    alpha : float in (0, 1)

    Returns
    -------
    float
    """
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    alpha = _check_alpha(alpha)
    k = math.ceil((s.size + 1) * (1.0 - alpha))
    return float(s[k - 1]) if k <= s.size else math.inf


# --------------------------------------------------------------------------------------------
# the predictive kinds
# --------------------------------------------------------------------------------------------


class ConformalPredictive(Predictive):
    """A split conformal predictive distribution: ``Y = mean + scale R`` per point.

    ``R`` is the discrete distribution putting probability ``1/m`` on each of the ``m``
    calibration scores ``r_(1) <= ... <= r_(m)``; point ``j`` has atoms
    ``C_ij = mean_j + scale_j r_(i)`` (crepes' ``return_cpds``). Vovk's randomised CPD puts
    ``(i + tau) / (m + 1)`` on ``(C_i, C_{i+1})`` and leaves ``1/(m + 1)`` at infinity; this
    kind's cdf ``i / m`` lies inside that band for every ``y`` (``i/(m+1) <= i/m <=
    (i+1)/(m+1)``) and is a proper distribution with finite moments, so expected improvement,
    CRPS and sampling are exact sums. The finite-sample valid CPD values and intervals are
    :meth:`cpd` and :meth:`conformal_interval`.

    Parameters
    ----------
    mean, scale : array_like of shape (n,)
        Centre and (strictly positive) scale of every point.
    scores : array_like of shape (m,)
        Calibration scores ``(y - mean) / scale``, ``m >= 1``, finite.

    Notes
    -----
    ``log_prob`` is the log-probability of an atom (``-inf`` between atoms): a discrete
    distribution has no density, so the NLL of a continuous truth is infinite.
    """

    kind: ClassVar[str] = "conformal"

    def __init__(self, mean: ArrayLike, scale: ArrayLike, scores: ArrayLike) -> None:
        mu = np.asarray(mean, dtype=np.float64)
        sd = np.asarray(scale, dtype=np.float64)
        r = np.sort(np.asarray(scores, dtype=np.float64).ravel())
        if mu.ndim != 1 or mu.shape != sd.shape or mu.size == 0:
            raise InputError(
                f"mean and scale must be non-empty arrays of one shape (n_points,), got {mu.shape} and {sd.shape}."
            )
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sd)) and np.all(sd > 0.0)):
            raise InputError("mean must be finite and scale finite and > 0 in every row.")
        if r.size == 0 or not np.all(np.isfinite(r)):
            raise InputError(f"scores must be a non-empty array of finite numbers, got {r.size} values.")
        self._centre = _frozen(mu)
        self._scale = _frozen(sd)
        self._scores = _frozen(r)
        m1 = float(np.mean(r))
        var_r = float(np.mean((r - m1) ** 2))
        self._mean = _frozen(mu + sd * m1)
        self._variance = _frozen(sd * sd * var_r)
        self._epistemic = None
        self._aleatoric = None

    # -- structure -----------------------------------------------------------------------

    @property
    def scores(self) -> FloatArray:
        """Sorted calibration scores, ndarray of shape (m,)."""
        return self._scores

    @property
    def n_scores(self) -> int:
        """Number of calibration scores ``m``."""
        return int(self._scores.size)

    @property
    def atoms(self) -> FloatArray:
        """``C_ij = mean_j + scale_j r_(i)``, ndarray of shape (n, m), sorted along axis 1."""
        return self._centre[:, None] + self._scale[:, None] * self._scores[None, :]

    def _no_split_reason(self) -> str:
        return "a conformal predictive distribution carries no epistemic/aleatoric split"

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        raise UnsupportedOperationError(
            "a conformal predictive distribution is discrete, not a Gaussian mixture; use cdf / "
            "quantile / sample / atoms."
        )

    def to_tfp(self) -> Any:
        raise UnsupportedOperationError("a conformal predictive distribution has no TensorFlow Probability export.")

    def _take(self, positions: NDArray[np.intp]) -> ConformalPredictive:
        return ConformalPredictive(self._centre[positions], self._scale[positions], self._scores)

    @classmethod
    def _concat(cls, parts: list[ConformalPredictive]) -> ConformalPredictive:  # type: ignore[override]
        if any(not np.array_equal(p.scores, parts[0].scores) for p in parts):
            raise InputError("conformal predictives with different calibration scores cannot be joined.")
        return ConformalPredictive(
            np.concatenate([p._centre for p in parts]), np.concatenate([p._scale for p in parts]), parts[0].scores
        )

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "conformal", "mean", "scale", "scores": [...]}`` per point."""
        scores = self._scores.tolist()
        return [
            {"kind": self.kind, "mean": float(self._centre[i]), "scale": float(self._scale[i]), "scores": scores}
            for i in range(self.n_points)
        ]

    def __repr__(self) -> str:
        return f"<ConformalPredictive n={self.n_points} m={self.n_scores}>"

    # -- probabilities -------------------------------------------------------------------

    def _count_le(self, y: FloatArray) -> FloatArray:
        """``#{C_i <= y}`` per entry, comparing with the atoms themselves (as crepes does)."""
        return np.sum(self.atoms <= y[..., None], axis=-1).astype(np.float64)

    def _count_lt(self, y: FloatArray) -> FloatArray:
        return np.sum(self.atoms < y[..., None], axis=-1).astype(np.float64)

    @property
    def _has_atoms(self) -> bool:
        return True

    def _cdf(self, y: FloatArray) -> FloatArray:
        return self._count_le(y) / self.n_scores

    def _left_cdf(self, y: FloatArray) -> FloatArray:
        return self._count_lt(y) / self.n_scores

    def _sf(self, y: FloatArray) -> FloatArray:
        return (self.n_scores - self._count_le(y)) / self.n_scores

    def _log_cdf(self, y: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log(self._cdf(y))

    def _log_left_cdf(self, y: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log(self._left_cdf(y))

    def _log_sf(self, y: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log(self._sf(y))

    def _log_prob(self, y: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log((self._count_le(y) - self._count_lt(y)) / self.n_scores)

    def _quantile(self, levels: FloatArray) -> FloatArray:
        """The smallest atom with ``cdf >= q``: atom ``ceil(q m)``."""
        m = self.n_scores
        k = np.clip(np.ceil(levels * m - 1e-12 * m).astype(np.intp), 1, m)
        return self._centre[None, :] + self._scale[None, :] * self._scores[k - 1][:, None]

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        idx = rng.integers(0, self.n_scores, size=(n_samples, self.n_points))
        return self._centre + self._scale * self._scores[idx]

    # -- exact scores --------------------------------------------------------------------

    def _crps(self, y: FloatArray) -> FloatArray:
        """``E|X - y| - 1/2 E|X - X'|`` of the discrete distribution (sorted-atom identity)."""
        m = self.n_scores
        atoms = self.atoms
        to_y = np.mean(np.abs(atoms - y[:, None]), axis=1)
        coef = 2.0 * np.arange(1, m + 1) - m - 1.0
        return np.maximum(to_y - (atoms @ coef) / (m * m), 0.0)

    def _excess(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """``(C_ij - t)^+`` (or ``(t - C_ij)^+``), shape (n, m)."""
        atoms = self.atoms
        return np.maximum(atoms - (best + xi), 0.0) if maximize else np.maximum((best - xi) - atoms, 0.0)

    def _expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        return np.mean(self._excess(best, xi, maximize), axis=1)

    def _log_expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """Exact; ``-inf`` where no atom improves (the support is bounded)."""
        with np.errstate(divide="ignore"):
            return np.log(self._expected_improvement(best, xi, maximize))

    def _window_probability(self, low: float, high: float) -> FloatArray:
        n = self.n_points
        return np.clip(self._cdf(np.full(n, high)) - self._left_cdf(np.full(n, low)), 0.0, 1.0)

    def _log_window_probability(self, low: float, high: float) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log(self._window_probability(low, high))

    def _spread_scaled(self, s: float) -> ConformalPredictive:
        m = float(np.mean(self._scores))
        return ConformalPredictive(self._centre + self._scale * m, self._scale * s, self._scores - m)

    def _prediction_columns(self) -> dict[str, FloatArray]:
        atoms = self.atoms
        return {f"s_{k}": atoms[:, k] for k in range(atoms.shape[1])}

    # -- the finite-sample conformal quantities -----------------------------------------

    def cpd(self, y: ArrayLike, tau: float | ArrayLike = 1.0) -> FloatArray:
        """Vovk's split CPD ``(#{C_i < y} + tau (#{C_i = y} + 1)) / (m + 1)``.

        ``tau = 1`` is crepes' unsmoothed value ``(#{C_i <= y} + 1) / (m + 1)``; a uniform
        ``tau`` gives the smoothed (exactly uniform) conformal p-value.

        Parameters
        ----------
        y : float or array_like of shape (n,)
        tau : float or array_like of shape (n,) in [0, 1]
        """
        from bdl.predictive._numerics import _check_y

        yy = _check_y(y, self.n_points)
        ties = self._count_le(yy) - self._count_lt(yy)
        return (self._count_lt(yy) + np.asarray(tau, dtype=np.float64) * (ties + 1.0)) / (self.n_scores + 1)

    def conformal_interval(self, alpha: float = 0.1) -> tuple[FloatArray, FloatArray]:
        """Equal-tailed interval valid in finite samples: ``P(Y in it) >= 1 - alpha``.

        Lower end the ``floor(alpha/2 (m + 1))``-th atom (``-inf`` below 1), upper end the
        ``ceil((1 - alpha/2)(m + 1))``-th (``+inf`` past ``m``); each tail misses at most
        ``alpha/2`` for exchangeable data.
        """
        alpha = _check_alpha(alpha)
        m = self.n_scores
        k_hi = math.ceil((1.0 - alpha / 2.0) * (m + 1))
        k_lo = math.floor(alpha / 2.0 * (m + 1))
        hi = self._centre + self._scale * self._scores[k_hi - 1] if k_hi <= m else np.full(self.n_points, np.inf)
        lo = self._centre + self._scale * self._scores[k_lo - 1] if k_lo >= 1 else np.full(self.n_points, -np.inf)
        return lo, hi


class WarpedPredictive(QuadratureScores, Predictive):
    """A base predictive pushed through an increasing piecewise-linear map ``g`` of ``y``.

    ``g`` sends ``[lower_in, upper_in]`` linearly onto ``[lower_out, upper_out]`` and shifts
    the tails (slope 1 outside): ``g(y) = y + (lower_out - lower_in)`` below and
    ``y + (upper_out - upper_in)`` above. So ``cdf(y) = F(g^{-1}(y))``, ``quantile(q) =
    g(Q(q))``, ``log_prob(y) = log f(g^{-1}(y)) - log g'``, and a sample is ``g`` of a base
    sample. With ``[lower_in, upper_in]`` the base's central ``1 - alpha`` interval and
    ``[lower_out, upper_out]`` a conformal interval, ``interval(1 - alpha)`` is the conformal
    interval exactly. Mean and variance: 513-level quadrature in ``t = Phi^{-1}(p)``.

    Parameters
    ----------
    base : Predictive
    lower_in, upper_in, lower_out, upper_out : array_like of shape (n,)
        Finite, ``lower_in < upper_in`` and ``lower_out < upper_out`` in every row.
    """

    kind: ClassVar[str] = "warped"

    def __init__(
        self, base: Predictive, lower_in: ArrayLike, upper_in: ArrayLike, lower_out: ArrayLike, upper_out: ArrayLike
    ) -> None:
        if not isinstance(base, Predictive):
            raise InputError(f"base must be a bdl.predictive.Predictive, got {type(base).__name__}.")
        n = base.n_points
        arrs = []
        for name, v in (("lower_in", lower_in), ("upper_in", upper_in), ("lower_out", lower_out), ("upper_out", upper_out)):
            a = np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
            if not np.all(np.isfinite(a)):
                raise InputError(f"{name} must be finite in every row (row {int(np.flatnonzero(~np.isfinite(a))[0])}).")
            arrs.append(_frozen(a))
        self._base = base
        self._li, self._ui, self._lo, self._uo = arrs
        for a, b, what in ((self._li, self._ui, "in"), (self._lo, self._uo, "out")):
            bad = ~(a < b)
            if bad.any():
                raise InputError(f"lower_{what} must be below upper_{what} in every row (row {int(np.flatnonzero(bad)[0])}).")
        self._slope = _frozen((self._uo - self._lo) / (self._ui - self._li))
        self._epistemic = None
        self._aleatoric = None
        self._moments: tuple[FloatArray, FloatArray] | None = None

    @property
    def base(self) -> Predictive:
        """The predictive before the warp."""
        return self._base

    @property
    def n_points(self) -> int:
        return self._base.n_points

    def _no_split_reason(self) -> str:
        return "a warped (conformalised) predictive carries no epistemic/aleatoric split; read p.base"

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        raise UnsupportedOperationError(
            "a warped (conformalised) predictive is not a Gaussian mixture; use cdf / quantile / sample."
        )

    def to_tfp(self) -> Any:
        raise UnsupportedOperationError("a warped (conformalised) predictive has no TensorFlow Probability export.")

    def _take(self, positions: NDArray[np.intp]) -> WarpedPredictive:
        return WarpedPredictive(
            self._base[positions], self._li[positions], self._ui[positions], self._lo[positions], self._uo[positions]
        )

    @property
    def _has_atoms(self) -> bool:
        return self._base._has_atoms

    # -- the map -------------------------------------------------------------------------

    def _forward(self, x: FloatArray) -> FloatArray:
        return np.where(
            x < self._li, x + (self._lo - self._li),
            np.where(x > self._ui, x + (self._uo - self._ui), self._lo + self._slope * (x - self._li)),
        )

    def _inverse(self, y: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore"):
            out = np.where(
                y < self._lo, y - (self._lo - self._li),
                np.where(y > self._uo, y - (self._uo - self._ui), self._li + (y - self._lo) / self._slope),
            )
        return np.where(np.isinf(y), y, out)

    def _log_slope(self, y: FloatArray) -> FloatArray:
        return np.where((y >= self._lo) & (y <= self._uo), np.log(self._slope), 0.0)

    # -- hooks ---------------------------------------------------------------------------

    def _cdf(self, y: FloatArray) -> FloatArray:
        return self._base._cdf(self._inverse(y))

    def _left_cdf(self, y: FloatArray) -> FloatArray:
        return self._base._left_cdf(self._inverse(y))

    def _sf(self, y: FloatArray) -> FloatArray:
        return self._base._sf(self._inverse(y))

    def _log_cdf(self, y: FloatArray) -> FloatArray:
        return self._base._log_cdf(self._inverse(y))

    def _log_left_cdf(self, y: FloatArray) -> FloatArray:
        return self._base._log_left_cdf(self._inverse(y))

    def _log_sf(self, y: FloatArray) -> FloatArray:
        return self._base._log_sf(self._inverse(y))

    def _log_prob(self, y: FloatArray) -> FloatArray:
        return self._base._log_prob(self._inverse(y)) - self._log_slope(y)

    def _quantile(self, levels: FloatArray) -> FloatArray:
        return self._forward(np.asarray(self._base._quantile(levels), dtype=np.float64))

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        return self._forward(np.asarray(self._base._sample(n_samples, rng), dtype=np.float64))

    def _moments_table(self) -> tuple[FloatArray, FloatArray]:
        if self._moments is None:
            q = self._quantile(ndtr(_T_GRID))
            w = np.exp(-0.5 * _T_GRID**2)
            w = w / np.sum(w)
            mean = w @ q
            var = w @ (q - mean) ** 2
            self._moments = (_frozen(mean), _frozen(var))
        return self._moments

    @property
    def mean(self) -> FloatArray:
        """Mean (quadrature over 513 levels), ndarray of shape (n,)."""
        return self._moments_table()[0]

    @property
    def variance(self) -> FloatArray:
        """Variance (quadrature over 513 levels), ndarray of shape (n,)."""
        return self._moments_table()[1]

    @property
    def stddev(self) -> FloatArray:
        return np.sqrt(self.variance)

    def _prediction_columns(self) -> dict[str, FloatArray]:
        raise UnsupportedOperationError("a warped (conformalised) predictive has no PRED.csv layout; write p.base.")

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "warped", "base": <record of the base>, "lower_in", "upper_in",
        "lower_out", "upper_out"}`` per point."""
        return [
            {"kind": self.kind, "base": base, "lower_in": float(self._li[i]), "upper_in": float(self._ui[i]),
             "lower_out": float(self._lo[i]), "upper_out": float(self._uo[i])}
            for i, base in enumerate(self._base._records())
        ]

    def __repr__(self) -> str:
        return f"<WarpedPredictive n={self.n_points} base={self._base.kind}>"


# --------------------------------------------------------------------------------------------
# the recalibrators
# --------------------------------------------------------------------------------------------


class SplitConformal:
    """Split conformal prediction with scores normalised by the predictive's std [2]_.

    Parameters
    ----------
    alpha : float in (0, 1), default 0.1
        Miscoverage rate: intervals hold ``1 - alpha`` of exchangeable new points.

    Attributes
    ----------
    scores_ : ndarray of shape (m,)
        Sorted calibration scores ``|y - mean| / std``.
    q_hat_ : float
        Their conformal quantile (:func:`conformal_quantile`); ``inf`` when ``m`` is too small
        for ``alpha`` (``m < 1/alpha - 1``).

    Examples
    --------
    >>> cp = SplitConformal(alpha=0.1).fit(y_cal, model.predict_dist(X_cal))   # doctest: +SKIP
    >>> lo, hi = cp.predict_interval(model.predict_dist(X_test))                # doctest: +SKIP
    """

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha

    def fit(self, y_cal: ArrayLike, pred_cal: Predictive) -> SplitConformal:
        """Compute the calibration scores; returns ``self``."""
        alpha = _check_alpha(self.alpha)
        y = _check_inputs(y_cal, pred_cal, "y_cal")
        self.scores_ = np.sort(np.abs(y - pred_cal.mean) / pred_cal.stddev)
        self.q_hat_ = conformal_quantile(self.scores_, alpha)
        return self

    def predict_interval(self, pred: Predictive) -> tuple[FloatArray, FloatArray]:
        """``mean -+ q_hat std``, two ndarrays of shape (n,)."""
        q: float = _fitted(self, "q_hat_")
        pred = _check_predictive(pred)
        mean, sd = np.asarray(pred.mean), np.asarray(pred.stddev)
        return mean - q * sd, mean + q * sd

    def transform(self, pred: Predictive) -> Predictive:
        """The predictive warped so that ``interval(1 - alpha)`` is :meth:`predict_interval`.

        Raises
        ------
        UnsupportedOperationError
            When ``q_hat_`` is infinite (too few calibration points for ``alpha``).
        """
        q: float = _fitted(self, "q_hat_")
        pred = _check_predictive(pred)
        if not math.isfinite(q):
            raise UnsupportedOperationError(
                f"{len(self.scores_)} calibration points are too few for alpha={self.alpha}: the "
                "conformal interval is infinite; use more points or a larger alpha."
            )
        lo_in, hi_in = pred.interval(1.0 - float(self.alpha))
        lo, hi = self.predict_interval(pred)
        return WarpedPredictive(pred, lo_in, hi_in, lo, hi)

    def __repr__(self) -> str:
        return f"SplitConformal(alpha={self.alpha!r})"


class ConformalizedQuantileRegression:
    """Conformalised quantile regression (CQR, Romano et al. 2019 [3]_).

    The quantile regressor is the predictive itself: its ``alpha/2`` and ``1 - alpha/2``
    quantiles ``q_lo``, ``q_hi``. Scores ``E = max(q_lo - y, y - q_hi)``; the interval is
    ``[q_lo - Q, q_hi + Q]`` with ``Q`` the conformal quantile of ``E`` (negative ``Q``
    narrows an over-wide interval). Valid for exchangeable data (Theorem 1 of [3]_).

    Parameters
    ----------
    alpha : float in (0, 1), default 0.1

    Attributes
    ----------
    scores_ : ndarray of shape (m,)
    q_hat_ : float
    """

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha

    def _bounds(self, pred: Predictive) -> tuple[FloatArray, FloatArray]:
        a = float(self.alpha)
        q = np.asarray(pred.quantile([a / 2.0, 1.0 - a / 2.0]), dtype=np.float64)
        return q[0], q[1]

    def fit(self, y_cal: ArrayLike, pred_cal: Predictive) -> ConformalizedQuantileRegression:
        """Compute the calibration scores; returns ``self``."""
        alpha = _check_alpha(self.alpha)
        y = _check_inputs(y_cal, pred_cal, "y_cal")
        lo, hi = self._bounds(pred_cal)
        self.scores_ = np.sort(np.maximum(lo - y, y - hi))
        self.q_hat_ = conformal_quantile(self.scores_, alpha)
        return self

    def predict_interval(self, pred: Predictive) -> tuple[FloatArray, FloatArray]:
        """``[q_lo - Q, q_hi + Q]``, two ndarrays of shape (n,)."""
        q: float = _fitted(self, "q_hat_")
        lo, hi = self._bounds(_check_predictive(pred))
        return lo - q, hi + q

    def transform(self, pred: Predictive) -> Predictive:
        """The predictive warped so that ``interval(1 - alpha)`` is :meth:`predict_interval`.

        Raises
        ------
        UnsupportedOperationError
            When ``q_hat_`` is infinite, or so negative that an interval would be empty.
        """
        q: float = _fitted(self, "q_hat_")
        pred = _check_predictive(pred)
        lo_in, hi_in = self._bounds(pred)
        lo, hi = lo_in - q, hi_in + q
        if not math.isfinite(q) or np.any(lo >= hi):
            raise UnsupportedOperationError(
                f"the CQR correction {q!r} leaves an infinite or empty interval; use more "
                "calibration points or another alpha."
            )
        return WarpedPredictive(pred, lo_in, hi_in, lo, hi)

    def __repr__(self) -> str:
        return f"ConformalizedQuantileRegression(alpha={self.alpha!r})"


class ConformalPredictiveSystem:
    """Split conformal predictive distributions normalised by the std (Vovk et al. [4]_ [5]_).

    Calibration scores ``r = (y - mean) / std``; :meth:`transform` returns a
    :class:`ConformalPredictive` with atoms ``mean + std r_(i)`` for every new point: a full
    predictive distribution (expected improvement, CRPS, sampling), equal in its atoms to
    crepes' normalised ``ConformalPredictiveSystem``.

    Attributes
    ----------
    scores_ : ndarray of shape (m,)
        Sorted calibration scores.
    """

    def fit(self, y_cal: ArrayLike, pred_cal: Predictive) -> ConformalPredictiveSystem:
        """Compute the calibration scores; returns ``self``."""
        y = _check_inputs(y_cal, pred_cal, "y_cal")
        self.scores_ = np.sort((y - pred_cal.mean) / pred_cal.stddev)
        return self

    def transform(self, pred: Predictive) -> ConformalPredictive:
        """The conformal predictive distribution of every point of ``pred``."""
        scores = _fitted(self, "scores_")
        pred = _check_predictive(pred)
        return ConformalPredictive(pred.mean, pred.stddev, scores)

    def __repr__(self) -> str:
        return "ConformalPredictiveSystem()"
