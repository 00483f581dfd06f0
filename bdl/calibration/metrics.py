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

__all__ = ["interval_coverage", "mae", "nll", "rmse"]


def _y(y_true: ArrayLike, predictive: Predictive) -> np.ndarray:
    if not isinstance(predictive, Predictive):
        raise InputError(
            f"predictive must be a bdl.predictive object (from model.predict_dist), got {type(predictive).__name__}."
        )
    return check_y(y_true, len(predictive), name="y_true")


def mae(y_true: ArrayLike, predictive: Predictive) -> float:
    """Mean absolute error of the predictive mean."""
    y = _y(y_true, predictive)
    return float(np.mean(np.abs(predictive.mean - y)))


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
