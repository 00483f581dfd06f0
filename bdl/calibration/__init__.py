"""Calibration metrics of predictive distributions (pure functions of ``(y_true, predictive)``)."""

from __future__ import annotations

from bdl.calibration.metrics import interval_coverage, mae, miscalibration_area, nll, point_prediction, rmse

__all__ = ["interval_coverage", "mae", "miscalibration_area", "nll", "point_prediction", "rmse"]
