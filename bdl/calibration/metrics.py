"""Scores of a predictive distribution against observed values.

Every metric is a pure function ``metric(y_true, predictive, ...) -> float`` with the true
values first; it works for every predictive kind of :mod:`bdl.predictive` (Gaussian, Gaussian
mixture, samples, bounded with point masses) and for any other
:class:`~bdl.predictive.Predictive` subclass that offers
``cdf`` / ``quantile`` / ``log_prob`` (e.g. the recalibrated predictive of
:mod:`bdl.calibration.recalibration`). Where a per-point value makes sense there is a twin
``metric_per_point(y_true, predictive, ...) -> ndarray of shape (n,)`` whose mean is the metric.

Closed forms are used where they exist: the CRPS of a Gaussian [1]_ and of a Gaussian mixture
[2]_ (which covers MC dropout and ensembles, whose predictive is the mixture of the per-pass
Gaussians); plain samples use the empirical-distribution CRPS of properscoring's
``crps_ensemble``. The calibration curve, miscalibration area, RMS / mean absolute
calibration error, sharpness, check score and interval score follow the definitions of
uncertainty-toolbox [3]_ (and equal it for Gaussian predictives); ENCE and the RMV-vs-RMSE
curve follow Levi et al. [4]_.

References
----------
.. [1] T. Gneiting and A. E. Raftery, "Strictly proper scoring rules, prediction, and
   estimation", J. Amer. Statist. Assoc. 102 (2007) 359-378 (CRPS: eq. 20-21; interval score:
   eq. 43).
.. [2] E. P. Grimit, T. Gneiting, V. J. Berrocal and N. A. Johnson, "The continuous ranked
   probability score for circular variables and its application to mesoscale forecast
   ensemble verification", Q. J. R. Meteorol. Soc. 132 (2006) 2925-2942 (the CRPS of a
   Gaussian mixture, eq. 5 and appendix A).
.. [3] Y. Chung, I. Char, H. Guo, J. Schneider and W. Neiswanger, "Uncertainty Toolbox: an
   open-source library for assessing, visualizing, and improving uncertainty
   quantification", arXiv:2109.10254 (2021).
.. [4] D. Levi, L. Gispan, N. Giladi and E. Fetaya, "Evaluating and calibrating uncertainty
   prediction in regression tasks", Sensors 22 (2022) 5540.
.. [5] T. Gneiting, F. Balabdaoui and A. E. Raftery, "Probabilistic forecasts, calibration and
   sharpness", J. R. Statist. Soc. B 69 (2007) 243-268 (PIT histograms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bdl._random import Seed, make_rng
from bdl._validation import check_int, check_predictive, format_rows
from bdl.errors import InputError
from bdl.predictive import Predictive
from bdl.predictive._crps import (  # noqa: F401  (re-exported: tests and older callers)
    _CRPS_QUADRATURE_LEVELS,
    _PAIR_BUDGET,
    _abs_normal_mean,
    _crps_ensemble,
    _crps_gaussian,
    _crps_mixture,
    _crps_quantile_quadrature,
)

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    import pandas as pd

__all__ = [
    "point_prediction",
    "mae",
    "rmse",
    "nll",
    "nll_per_point",
    "crps",
    "crps_per_point",
    "pit",
    "pit_uniformity",
    "interval_coverage",
    "coverage",
    "calibration_curve",
    "miscalibration_area",
    "rms_calibration_error",
    "mean_absolute_calibration_error",
    "sharpness",
    "rmv_rmse_curve",
    "ence",
    "z_scores",
    "z_score_stats",
    "interval_score",
    "interval_score_per_point",
    "mean_interval_score",
    "check_score",
    "check_score_per_point",
    "summary",
]

FloatArray = NDArray[np.float64]

#: uncertainty-toolbox's default grid of quantile / interval levels for the check score and the
#: mean interval score (``np.linspace(0.01, 0.99, 99)``).
DEFAULT_SCORE_LEVELS: FloatArray = np.linspace(0.01, 0.99, 99)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_predictive(predictive: Any, y_true: Any = None) -> Predictive:
    hint = ""
    if isinstance(y_true, Predictive):
        hint = " The arguments look swapped: metrics take (y_true, predictive), true values first."
    return check_predictive(predictive, hint=hint)


def _check_inputs(y_true: ArrayLike, predictive: Predictive, name: str = "y_true") -> FloatArray:
    """Validate ``(y_true, predictive)``; return ``y_true`` as float64 of shape (n,).

    Raises
    ------
    InputError
        If ``predictive`` is not a :class:`~bdl.predictive.Predictive`, ``y_true`` is not
        numeric and 1-D (a column ``(n, 1)`` is accepted), its length differs from the number
        of predicted points, or it holds NaN / inf (the rows are listed).
    """
    predictive = _check_predictive(predictive, y_true)
    n = len(predictive)
    try:
        y = np.array(y_true, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be a numeric array of shape (n_points,) = ({n},), but it could not be "
            f"converted to float64 ({exc})."
        ) from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(
            f"{name} must be 1-D of shape (n_points,) = ({n},), got shape {y.shape}; pass one "
            "true value per predicted point."
        )
    if len(y) != n:
        raise InputError(
            f"{name} has {len(y)} values but the {predictive.kind} predictive has {n} points; "
            "pass one true value per predicted point, in the same order."
        )
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} has NaN or infinite values at row(s) {format_rows(rows)} (row "
            f"{int(rows[0])} is {float(y[rows[0]])!r}); drop those rows from both {name} and "
            "the predictive (predictive[mask])."
        )
    return y


def _check_levels(levels: ArrayLike, name: str = "levels") -> FloatArray:
    """Probability levels as a non-empty 1-D float array, each strictly inside (0, 1)."""
    try:
        arr = np.array(levels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a probability or a 1-D array of them ({exc}).") from None
    if arr.ndim == 0:
        value = float(arr)
        if not 0.0 < value < 1.0:
            raise InputError(
                f"{name} must lie strictly inside (0, 1), got {value!r}; e.g. 0.9 for a central "
                "90 % interval, not 90."
            )
        return arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of probabilities, got shape {arr.shape}.")
    if arr.size == 0:
        raise InputError(f"{name} is empty; pass at least one level in (0, 1).")
    bad = ~((arr > 0.0) & (arr < 1.0))
    if bad.any():
        pos = np.flatnonzero(bad)
        raise InputError(
            f"{name} must lie strictly inside (0, 1), but not at position(s) {format_rows(pos)} "
            f"({name}[{int(pos[0])}] = {float(arr[pos[0]])!r}); e.g. 0.9 for a central 90 % "
            "interval, not 90."
        )
    return arr


def _check_kind(kind: str) -> str:
    if kind not in ("interval", "quantile"):
        raise InputError(
            f"kind must be 'interval' (central intervals) or 'quantile' (share below a "
            f"quantile), got {kind!r}."
        )
    return kind


# --------------------------------------------------------------------------------------------
# accuracy of the point prediction
# --------------------------------------------------------------------------------------------


def point_prediction(predictive: Predictive, point: str = "mean") -> FloatArray:
    """The predictive mean or median, ndarray of shape (n,).

    The median is the point prediction that minimises the expected absolute error, and it
    differs from the mean where the predictive is skewed or multimodal (a zero-inflated band
    gap: a metal's median is 0 eV, its mean is not).
    """
    predictive = _check_predictive(predictive)
    if point == "mean":
        return predictive.mean
    if point == "median":
        return predictive.quantile(0.5)
    raise InputError(f"point must be 'mean' or 'median', got {point!r}.")


def mae(y_true: ArrayLike, predictive: Predictive, point: str = "mean") -> float:
    """Mean absolute error of the predictive mean (or of the median with ``point="median"``).

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    point : {"mean", "median"}

    Returns
    -------
    float
    """
    y = _check_inputs(y_true, predictive)
    return float(np.mean(np.abs(point_prediction(predictive, point) - y)))


def rmse(y_true: ArrayLike, predictive: Predictive) -> float:
    """Root mean squared error of the predictive mean."""
    y = _check_inputs(y_true, predictive)
    return float(np.sqrt(np.mean((predictive.mean - y) ** 2)))


# --------------------------------------------------------------------------------------------
# proper scoring rules: NLL and CRPS
# --------------------------------------------------------------------------------------------


def nll_per_point(y_true: ArrayLike, predictive: Predictive) -> FloatArray:
    """Negative log predictive density of every point, ndarray of shape (n,) (nats)."""
    y = _check_inputs(y_true, predictive)
    return -np.asarray(predictive.log_prob(y), dtype=np.float64)


def nll(y_true: ArrayLike, predictive: Predictive) -> float:
    """Mean negative log predictive density (nats per point; lower is better).

    For plain samples this is the density of the kernel density estimate of
    :class:`~bdl.predictive.SamplePredictive`.
    """
    return float(np.mean(nll_per_point(y_true, predictive)))


def crps_per_point(y_true: ArrayLike, predictive: Predictive) -> FloatArray:
    """Continuous ranked probability score of every point, ndarray of shape (n,).

    ``CRPS(F, y) = int (F(x) - 1{x >= y})^2 dx = E|X - y| - 1/2 E|X - X'|`` [1]_, in the units
    of ``y``; lower is better, 0 only for a point mass at the truth.

    * Gaussian: closed form of Gneiting & Raftery [1]_ (equal to properscoring's
      ``crps_gaussian``).
    * Gaussian mixture and samples with per-pass ``scales`` (MC dropout, ensembles): closed
      form of Grimit et al. [2]_, pair term between components included.
    * Plain samples (``scales=None``): the empirical distribution of the samples, as
      properscoring's ``crps_ensemble`` -- not the kernel density estimate that ``cdf`` and
      ``log_prob`` use.
    * Kinds with their own exact CRPS (the predictive's ``_crps`` hook): the bounded kind
      (truncated components plus point masses), by composite Gauss-Legendre quadrature of
      ``(F(x) - 1{x >= y})^2`` between the jumps of ``F`` (error ~1e-12).
    * Any other kind: quantile quadrature ``2 int_0^1 rho_q(y - Q(q)) dq`` on 512 midpoints.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points

    Returns
    -------
    ndarray of shape (n,)
    """
    y = _check_inputs(y_true, predictive)
    return np.asarray(predictive._crps(y), dtype=np.float64)


def crps(y_true: ArrayLike, predictive: Predictive) -> float:
    """Mean continuous ranked probability score (units of ``y``; lower is better).

    See :func:`crps_per_point` for the closed forms used per kind.
    """
    return float(np.mean(crps_per_point(y_true, predictive)))


# --------------------------------------------------------------------------------------------
# probability integral transform
# --------------------------------------------------------------------------------------------


def pit(y_true: ArrayLike, predictive: Predictive, seed: Seed = 0) -> FloatArray:
    """Probability integral transform ``F_i(y_i)`` of every point, ndarray of shape (n,).

    Uniform on [0, 1] when the predictive is calibrated [5]_: a U-shaped histogram means
    over-confidence, a hump under-confidence, a slope bias.

    Where the predictive has a point mass at ``y_i`` (the bounded kind: a metal's band gap
    of exactly 0) ``F`` jumps there and ``F(y_i)`` alone is not uniform; the *randomised*
    PIT ``F(y-) + V (F(y) - F(y-))``, ``V ~ U(0, 1)``, is used instead (Czado, Gneiting and
    Held 2009, eq. 1), which is uniform for a calibrated predictive. Points without a jump
    (every point of the continuous kinds) get ``F(y)`` exactly and draw no random numbers.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    seed : int, numpy.random.Generator or None, default 0
        Randomness of the randomised PIT; the default gives the same values on every call.

    References
    ----------
    .. [6] C. Czado, T. Gneiting and L. Held, "Predictive model assessment for count data",
       Biometrics 65 (2009) 1254-1261.
    """
    y = _check_inputs(y_true, predictive)
    upper = np.asarray(predictive.cdf(y), dtype=np.float64)
    if not predictive._has_atoms:  # no atoms: F(y-) == F(y)
        return upper
    lower = np.asarray(predictive._cdf_left(y), dtype=np.float64)
    jump = upper > lower
    if not jump.any():
        return upper
    v = make_rng(seed).random(int(jump.sum()))
    out = upper.copy()
    out[jump] = lower[jump] + v * (upper[jump] - lower[jump])
    return out


def pit_uniformity(
    y_true: ArrayLike, predictive: Predictive, alpha: float = 0.05, seed: Seed = 0
) -> dict[str, Any]:
    """Kolmogorov-Smirnov test of the PIT values against U(0, 1), with a reading in words.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    alpha : float, default 0.05
        Significance level for the ``uniform`` flag and the wording.
    seed : int, numpy.random.Generator or None, default 0
        Randomness of the randomised PIT at point masses (see :func:`pit`).

    Returns
    -------
    dict
        ``ks_statistic`` (float, 0 is ideal), ``p_value`` (float, of
        ``scipy.stats.kstest(pit, "uniform")``), ``n`` (int), ``uniform`` (bool,
        ``p_value >= alpha``), ``tail_share`` (share of PIT values below 0.1 or above 0.9;
        0.2 when calibrated), ``pit_mean`` (0.5 when calibrated) and ``interpretation`` (one
        plain sentence: uniform, or over-confident / under-confident / biased high or low).
    """
    from scipy.stats import kstest

    alpha = float(_check_levels(alpha, "alpha")[0])
    u = pit(y_true, predictive, seed)
    n = len(u)
    res = kstest(u, "uniform")
    stat, p_value = float(res.statistic), float(res.pvalue)
    tails = float(np.mean((u < 0.1) | (u > 0.9)))
    mean_u = float(np.mean(u))
    if p_value >= alpha:
        text = (
            f"PIT values are consistent with uniform (KS p = {p_value:.3g} >= {alpha:g}): "
            f"no evidence of miscalibration in these {n} points."
        )
    else:
        reasons = []
        se_tail = 3.0 * np.sqrt(0.2 * 0.8 / n)
        se_mean = 3.0 * np.sqrt(1.0 / 12.0 / n)
        if tails > 0.2 + se_tail:
            reasons.append(
                f"{tails:.0%} of the truths fall in the outer 20 % of their predictive "
                "(over-confident: intervals too narrow)"
            )
        elif tails < 0.2 - se_tail:
            reasons.append(
                f"only {tails:.0%} of the truths fall in the outer 20 % of their predictive "
                "(under-confident: intervals too wide)"
            )
        if mean_u > 0.5 + se_mean:
            reasons.append(f"mean PIT {mean_u:.2f} > 0.5 (truths tend to lie above: predictions too low)")
        elif mean_u < 0.5 - se_mean:
            reasons.append(f"mean PIT {mean_u:.2f} < 0.5 (truths tend to lie below: predictions too high)")
        why = "; ".join(reasons) if reasons else "the shape of the PIT histogram is off"
        text = f"PIT values are not uniform (KS p = {p_value:.3g} < {alpha:g}): {why}."
    return {
        "ks_statistic": stat,
        "p_value": p_value,
        "n": int(n),
        "uniform": bool(p_value >= alpha),
        "tail_share": tails,
        "pit_mean": mean_u,
        "interpretation": text,
    }


# --------------------------------------------------------------------------------------------
# coverage and calibration curves
# --------------------------------------------------------------------------------------------


def interval_coverage(y_true: ArrayLike, predictive: Predictive, level: float = 0.9) -> float:
    """Fraction of observations inside the central ``level`` predictive interval.

    A calibrated predictive gives a value near ``level``; below means over-confident.
    """
    y = _check_inputs(y_true, predictive)
    level = float(_check_levels(level, "level")[0])
    lower, upper = predictive.interval(level)
    return float(np.mean((y >= lower) & (y <= upper)))


def coverage(y_true: ArrayLike, predictive: Predictive, levels: ArrayLike = (0.5, 0.9, 0.95)) -> FloatArray:
    """Observed coverage of central predictive intervals at many levels.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    levels : array_like of shape (m,)
        Nominal levels strictly inside (0, 1).

    Returns
    -------
    ndarray of shape (m,)
        Share of ``y_true`` inside ``predictive.interval(l)``, the central interval
        ``[Q((1 - l) / 2), Q((1 + l) / 2)]``, for each level ``l``;
        ``coverage(y, p, [l])[0] == interval_coverage(y, p, l)``.
    """
    y = _check_inputs(y_true, predictive)
    lv = _check_levels(levels)
    inside = [(y >= lo) & (y <= hi) for lo, hi in (predictive.interval(float(level)) for level in lv)]
    return np.mean(np.array(inside), axis=1)


def _observed_proportions(u: FloatArray, expected: FloatArray, kind: str) -> FloatArray:
    """Share of PIT values ``u`` inside central ``expected`` intervals, or below ``expected``."""
    if kind == "interval":
        d = np.sort(np.abs(u - 0.5))
        return np.searchsorted(d, expected / 2.0, side="right") / len(u)
    return np.searchsorted(np.sort(u), expected, side="right") / len(u)


def calibration_curve(
    y_true: ArrayLike,
    predictive: Predictive,
    n_levels: int = 100,
    kind: str = "interval",
    seed: Seed = 0,
) -> tuple[FloatArray, FloatArray]:
    """Expected vs observed proportions, the calibration curve of uncertainty-toolbox [3]_.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    n_levels : int, default 100
        Number of expected proportions, ``np.linspace(0, 1, n_levels)`` (both ends included,
        as in uncertainty-toolbox's ``num_bins``).
    kind : {"interval", "quantile"}
        ``"interval"``: the share of points inside the central ``p`` interval, i.e. with
        ``|F(y) - 1/2| <= p / 2``. ``"quantile"``: the share with ``F(y) <= p``.
    seed : int, numpy.random.Generator or None, default 0
        At point masses ``F(y)`` is the randomised PIT of :func:`pit` (continuous kinds are
        unaffected).

    Returns
    -------
    expected, observed : ndarray of shape (n_levels,)

    Notes
    -----
    For ``kind="quantile"`` uncertainty-toolbox counts ``(mean - y) / std <= z_p``, i.e. the
    share *above* the ``1 - p`` quantile; that is this curve mirrored through the point
    (0.5, 0.5). The two agree for a calibrated predictive, and the scalar summaries (area,
    RMS and mean absolute error) are the same on the symmetric grid.
    """
    y = _check_inputs(y_true, predictive)
    n_levels = check_int("n_levels", n_levels, 2)
    kind = _check_kind(kind)
    expected = np.linspace(0.0, 1.0, n_levels)
    u = pit(y, predictive, seed)
    return expected, _observed_proportions(u, expected, kind)


def _area_between(expected: FloatArray, observed: FloatArray) -> float:
    """Exact area between two piecewise-linear curves on the same x grid (``expected``).

    On each segment the gap ``d = observed - expected`` is linear; where it changes sign the
    segment is split at the crossing, so the area is ``h (d_l^2 + d_r^2) / (2 (|d_l| + |d_r|))``
    instead of the trapezoid ``h |d_l + d_r| / 2``. This is the polygon area that
    uncertainty-toolbox's ``miscalibration_area`` computes with its ``trapezoid_area``.
    """
    d = observed - expected
    dl, dr = d[:-1], d[1:]
    h = np.diff(expected)
    cross = dl * dr < 0.0
    same = h * np.abs(dl + dr) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        split = h * (dl * dl + dr * dr) / (2.0 * (np.abs(dl) + np.abs(dr)))
    return float(np.sum(np.where(cross, split, same)))


def miscalibration_area(
    y_true: ArrayLike, predictive: Predictive, n_levels: int = 100, kind: str = "interval"
) -> float:
    """Area between the calibration curve and the diagonal (uncertainty-toolbox [3]_).

    Expected proportions ``p = linspace(0, 1, n_levels)``; observed: the share of points in
    the central ``p`` interval (or below the ``p`` quantile with ``kind="quantile"``), see
    :func:`calibration_curve`. The area between the two piecewise-linear curves is exact,
    segments where they cross split at the crossing; with the defaults it equals
    ``uncertainty_toolbox.metrics_calibration.miscalibration_area(mean, std, y)`` for a
    Gaussian predictive. 0 is perfect calibration, 0.5 the worst.

    Returns
    -------
    float
    """
    expected, observed = calibration_curve(y_true, predictive, n_levels, kind)
    return _area_between(expected, observed)


def rms_calibration_error(
    y_true: ArrayLike, predictive: Predictive, n_levels: int = 100, kind: str = "interval"
) -> float:
    """Root mean squared gap ``sqrt(mean((observed - expected)^2))`` of the calibration curve.

    uncertainty-toolbox's ``root_mean_squared_calibration_error`` [3]_ with ``num_bins =
    n_levels``; 0 is ideal.
    """
    expected, observed = calibration_curve(y_true, predictive, n_levels, kind)
    return float(np.sqrt(np.mean((observed - expected) ** 2)))


def mean_absolute_calibration_error(
    y_true: ArrayLike, predictive: Predictive, n_levels: int = 100, kind: str = "interval"
) -> float:
    """Mean absolute gap ``mean(|observed - expected|)`` of the calibration curve (ECE).

    uncertainty-toolbox's ``mean_absolute_calibration_error`` [3]_ with ``num_bins =
    n_levels``; 0 is ideal.
    """
    expected, observed = calibration_curve(y_true, predictive, n_levels, kind)
    return float(np.mean(np.abs(observed - expected)))


def sharpness(predictive: Predictive) -> float:
    """Root mean predictive variance ``sqrt(mean(std^2))`` (uncertainty-toolbox [3]_).

    Depends on the predictive alone (no ``y_true``); smaller is sharper, which is only a
    virtue in a calibrated predictive. Plain samples use their sample variance.
    """
    predictive = _check_predictive(predictive)
    return float(np.sqrt(np.mean(predictive.variance)))


# --------------------------------------------------------------------------------------------
# error-based calibration (Levi et al.) and z-scores
# --------------------------------------------------------------------------------------------


def rmv_rmse_curve(y_true: ArrayLike, predictive: Predictive, n_bins: int = 10) -> pd.DataFrame:
    """Root mean variance vs RMSE in bins of predicted standard deviation (Levi et al. [4]_).

    Points are sorted by predicted std and split into ``n_bins`` bins of (almost) equal count
    (``numpy.array_split``; ties kept in input order). For a calibrated predictive every bin
    has ``rmv == rmse``.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    n_bins : int, default 10
        Between 1 and n.

    Returns
    -------
    pandas.DataFrame with n_bins rows
        Columns ``bin`` (0-based, increasing std), ``n`` (points in the bin), ``rmv``
        (``sqrt(mean(std^2))``), ``rmse`` (of the predictive mean) and ``mean_std``.
    """
    import pandas as pd

    y = _check_inputs(y_true, predictive)
    n_bins = check_int("n_bins", n_bins, 1)
    if n_bins > len(y):
        raise InputError(
            f"n_bins = {n_bins} is more than the {len(y)} points; pass n_bins <= {len(y)}."
        )
    var = np.asarray(predictive.variance)
    sq_err = (np.asarray(predictive.mean) - y) ** 2
    order = np.argsort(var, kind="stable")
    groups = np.array_split(order, n_bins)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "n": np.array([len(g) for g in groups], dtype=np.int64),
            "rmv": np.array([np.sqrt(np.mean(var[g])) for g in groups]),
            "rmse": np.array([np.sqrt(np.mean(sq_err[g])) for g in groups]),
            "mean_std": np.array([np.mean(np.sqrt(var[g])) for g in groups]),
        }
    )


def ence(y_true: ArrayLike, predictive: Predictive, n_bins: int = 10) -> float:
    """Expected normalised calibration error ``mean_j |RMV_j - RMSE_j| / RMV_j`` [4]_.

    Bins as in :func:`rmv_rmse_curve`. 0 is ideal; a std half the actual error gives 1, a std
    twice the actual error gives 0.5.
    """
    curve = rmv_rmse_curve(y_true, predictive, n_bins)
    rmv = curve["rmv"].to_numpy()
    return float(np.mean(np.abs(rmv - curve["rmse"].to_numpy()) / rmv))


def z_scores(y_true: ArrayLike, predictive: Predictive) -> FloatArray:
    """Standardised errors ``(y - mean) / std``, ndarray of shape (n,)."""
    y = _check_inputs(y_true, predictive)
    return (y - np.asarray(predictive.mean)) / np.asarray(predictive.stddev)


def z_score_stats(y_true: ArrayLike, predictive: Predictive) -> dict[str, float]:
    """Mean and variance of the z-scores ``(y - mean) / std``.

    Returns
    -------
    dict
        ``mean`` (ideal 0; the sign shows a bias) and ``variance`` (population variance,
        ``ddof=0``; ideal 1, above 1 is over-confident, below 1 under-confident).
    """
    z = z_scores(y_true, predictive)
    return {"mean": float(np.mean(z)), "variance": float(np.var(z))}


# --------------------------------------------------------------------------------------------
# quantile-based scores
# --------------------------------------------------------------------------------------------


def interval_score_per_point(y_true: ArrayLike, predictive: Predictive, level: float = 0.9) -> FloatArray:
    """Interval score of the central ``level`` interval per point (Gneiting & Raftery, eq. 43).

    ``(u - l) + (2 / a) (l - y) 1{y < l} + (2 / a) (y - u) 1{y > u}`` with ``a = 1 - level``
    and ``[l, u]`` the central interval: width plus a penalty for misses (negatively oriented,
    lower is better).

    Returns
    -------
    ndarray of shape (n,)
    """
    y = _check_inputs(y_true, predictive)
    level = float(_check_levels(level, "level")[0])
    lower, upper = predictive.interval(level)
    a = 1.0 - level
    return (
        (upper - lower)
        + (2.0 / a) * (lower - y) * (lower > y)
        + (2.0 / a) * (y - upper) * (y > upper)
    )


def interval_score(y_true: ArrayLike, predictive: Predictive, level: float = 0.9) -> float:
    """Mean interval score of the central ``level`` interval (see :func:`interval_score_per_point`)."""
    return float(np.mean(interval_score_per_point(y_true, predictive, level)))


def mean_interval_score(y_true: ArrayLike, predictive: Predictive, levels: ArrayLike | None = None) -> float:
    """Interval score averaged over levels and points, as uncertainty-toolbox's ``interval_score``.

    Parameters
    ----------
    levels : array_like of shape (m,), optional
        Default :data:`DEFAULT_SCORE_LEVELS` = ``linspace(0.01, 0.99, 99)``, uncertainty-toolbox's
        ``start_p, end_p, resolution``.
    """
    y = _check_inputs(y_true, predictive)
    lv = DEFAULT_SCORE_LEVELS if levels is None else _check_levels(levels)
    bounds = predictive.quantile(np.concatenate([(1.0 - lv) / 2.0, (1.0 + lv) / 2.0]))
    lower, upper = bounds[: len(lv)], bounds[len(lv) :]
    scale = (2.0 / (1.0 - lv))[:, None]
    score = (upper - lower) + scale * (lower - y) * (lower > y) + scale * (y - upper) * (y > upper)
    return float(np.mean(score))


def check_score_per_point(
    y_true: ArrayLike, predictive: Predictive, quantiles: ArrayLike | None = None
) -> FloatArray:
    """Pinball (check) loss averaged over quantile levels, per point.

    ``mean_q (1{y <= Q(q)} - q) (Q(q) - y)`` (lower is better); twice its integral over ``q``
    is the CRPS.

    Parameters
    ----------
    quantiles : array_like of shape (m,), optional
        Default :data:`DEFAULT_SCORE_LEVELS` = ``linspace(0.01, 0.99, 99)`` as in
        uncertainty-toolbox's ``check_score``.

    Returns
    -------
    ndarray of shape (n,)
    """
    y = _check_inputs(y_true, predictive)
    q = DEFAULT_SCORE_LEVELS if quantiles is None else _check_levels(quantiles, "quantiles")
    diff = predictive.quantile(q) - y  # (m, n)
    return np.mean(((diff >= 0.0) - q[:, None]) * diff, axis=0)


def check_score(y_true: ArrayLike, predictive: Predictive, quantiles: ArrayLike | None = None) -> float:
    """Mean check score, equal to uncertainty-toolbox's ``check_score`` for Gaussians."""
    return float(np.mean(check_score_per_point(y_true, predictive, quantiles)))


# --------------------------------------------------------------------------------------------
# everything in one table
# --------------------------------------------------------------------------------------------


def summary(
    y_true: ArrayLike, predictive: Predictive, levels: Sequence[float] = (0.5, 0.9, 0.95)
) -> pd.DataFrame:
    """Every metric of this module in one table.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive with n points
    levels : sequence of float, default (0.5, 0.9, 0.95)
        Levels of the central intervals whose coverage is reported.

    Returns
    -------
    pandas.DataFrame
        One row per metric with columns ``metric`` (name), ``value`` (float), ``ideal``
        (float; NaN where there is no single target value, e.g. NLL or a p-value) and
        ``meaning`` (one short plain sentence).
    """
    import pandas as pd

    y = _check_inputs(y_true, predictive)
    lv = _check_levels(levels)
    nan = float("nan")
    pu = pit_uniformity(y, predictive)
    expected, observed = calibration_curve(y, predictive)
    zs = z_score_stats(y, predictive)
    rows: list[tuple[str, float, float, str]] = [
        ("mae", mae(y, predictive), 0.0,
         "Mean absolute error of the predictive mean; lower is better."),
        ("rmse", rmse(y, predictive), 0.0,
         "Root mean squared error of the predictive mean; lower is better."),
        ("nll", nll(y, predictive), nan,
         "Mean negative log density of the truth; lower is better."),
        ("crps", crps(y, predictive), 0.0,
         "Mean CRPS, accuracy and spread in units of y; lower is better."),
        ("pit_ks_statistic", pu["ks_statistic"], 0.0,
         "Largest gap between the PIT distribution and uniform."),
        ("pit_ks_pvalue", pu["p_value"], nan,
         "Small (< 0.05) means the PIT values are not uniform: miscalibrated."),
    ]
    for level, c in zip(lv, coverage(y, predictive, lv)):
        pct = f"{level * 100:g}"
        rows.append((f"coverage_{pct}", float(c), float(level),
                     f"Share of truths inside the central {pct} % interval."))
    rows += [
        ("miscalibration_area", _area_between(expected, observed), 0.0,
         "Area between the calibration curve and the diagonal; 0 is calibrated."),
        ("rms_calibration_error", float(np.sqrt(np.mean((observed - expected) ** 2))), 0.0,
         "RMS gap between observed and expected interval coverage."),
        ("mean_absolute_calibration_error", float(np.mean(np.abs(observed - expected))), 0.0,
         "Mean absolute gap between observed and expected interval coverage."),
        ("sharpness", sharpness(predictive), nan,
         "Root mean predicted variance; smaller is sharper, if calibrated."),
        ("ence", ence(y, predictive, min(10, len(y))), 0.0,
         "Mean relative gap between predicted std and actual error in std bins."),
        ("z_mean", zs["mean"], 0.0,
         "Mean standardised error; away from 0 means biased."),
        ("z_variance", zs["variance"], 1.0,
         "Variance of standardised errors; above 1 over-confident, below under-."),
        ("interval_score_90", interval_score(y, predictive, 0.9), 0.0,
         "Width of the 90 % interval plus a penalty for misses; lower is better."),
        ("check_score", check_score(y, predictive), 0.0,
         "Pinball loss averaged over quantiles 0.01-0.99; lower is better."),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "ideal", "meaning"])
