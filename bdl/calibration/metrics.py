"""Scores of a predictive distribution against observed values.

Every metric is a pure function ``metric(y_true, predictive, ...) -> float`` with the true
values first; it works for every predictive kind of :mod:`bdl.predictive`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bdl._validation import check_y
from bdl.errors import InputError
from bdl.predictive import Predictive

__all__ = ["interval_coverage", "mae", "miscalibration_area", "nll", "point_prediction", "rmse"]


def _y(y_true: ArrayLike, predictive: Predictive) -> np.ndarray:
    if not isinstance(predictive, Predictive):
        raise InputError(
            f"predictive must be a bdl.predictive object (from model.predict_dist), got {type(predictive).__name__}."
        )
    return check_y(y_true, len(predictive), name="y_true")


def point_prediction(predictive: Predictive, point: str = "mean") -> np.ndarray:
    """The predictive mean or median, ndarray of shape (n,).

    The median is the point prediction that minimises the expected absolute error, and it
    differs from the mean where the predictive is skewed or multimodal (a zero-inflated band
    gap: a metal's median is 0 eV, its mean is not).
    """
    if point == "mean":
        return predictive.mean
    if point == "median":
        return predictive.quantile(0.5)
    raise InputError(f"point must be 'mean' or 'median', got {point!r}.")


def mae(y_true: ArrayLike, predictive: Predictive, point: str = "mean") -> float:
    """Mean absolute error of the predictive mean (or of the median with ``point="median"``)."""
    y = _y(y_true, predictive)
    return float(np.mean(np.abs(point_prediction(predictive, point) - y)))


def rmse(y_true: ArrayLike, predictive: Predictive) -> float:
    """Root mean squared error of the predictive mean."""
    y = _y(y_true, predictive)
    return float(np.sqrt(np.mean((predictive.mean - y) ** 2)))


def nll(y_true: ArrayLike, predictive: Predictive) -> float:
    """Mean negative log predictive density (nats per point; lower is better)."""
    y = _y(y_true, predictive)
    return float(-np.mean(predictive.log_prob(y)))


def interval_coverage(y_true: ArrayLike, predictive: Predictive, level: float = 0.9) -> float:
    """Fraction of observations inside the central ``level`` predictive interval.

    A calibrated predictive gives a value near ``level``; below means over-confident.
    """
    y = _y(y_true, predictive)
    lower, upper = predictive.interval(level)
    return float(np.mean((y >= lower) & (y <= upper)))


def miscalibration_area(y_true: ArrayLike, predictive: Predictive, n_levels: int = 100) -> float:
    """Area between the observed and the expected share of points inside central intervals.

    Expected levels p = linspace(0.01, 0.99, n_levels) as in uncertainty-toolbox; observed:
    the share of y inside the central p-interval. 0 is perfect calibration, 0.5 the worst.
    Computed as the trapezoid integral of |observed - expected| over p.
    """
    y = _y(y_true, predictive)
    levels = np.linspace(0.01, 0.99, n_levels)
    pit = predictive.cdf(y)
    observed = np.array([np.mean(np.abs(pit - 0.5) <= p / 2) for p in levels])
    gap = np.abs(observed - levels)
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(levels)))
