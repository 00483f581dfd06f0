"""Calibration of predictive distributions: metrics (pure functions of ``(y_true, predictive)``)
and post-hoc recalibration fitted on held-out data (std scaling, isotonic recalibration and
conformal prediction, :mod:`bdl.calibration.conformal`).

Plots live apart, in :mod:`bdl.calibration.plots` (imported on request, so that importing a
metric never imports matplotlib).
"""

from __future__ import annotations

from bdl.calibration.metrics import (
    calibration_curve,
    check_score,
    check_score_per_point,
    coverage,
    crps,
    crps_per_point,
    ence,
    interval_coverage,
    interval_score,
    interval_score_per_point,
    mae,
    mean_absolute_calibration_error,
    mean_interval_score,
    miscalibration_area,
    nll,
    nll_per_point,
    pit,
    pit_uniformity,
    point_prediction,
    rms_calibration_error,
    rmse,
    rmv_rmse_curve,
    sharpness,
    summary,
    z_score_stats,
    z_scores,
)
from bdl.calibration.conformal import (
    ConformalizedQuantileRegression,
    ConformalPredictive,
    ConformalPredictiveSystem,
    SplitConformal,
    WarpedPredictive,
)
from bdl.calibration.recalibration import (
    IsotonicRecalibration,
    MonotoneMap,
    RecalibratedPredictive,
    RecalibrationNotFittedError,
    StdScaling,
)

__all__ = [
    "calibration_curve",
    "check_score",
    "check_score_per_point",
    "coverage",
    "crps",
    "crps_per_point",
    "ence",
    "interval_coverage",
    "interval_score",
    "interval_score_per_point",
    "mae",
    "mean_absolute_calibration_error",
    "mean_interval_score",
    "miscalibration_area",
    "nll",
    "nll_per_point",
    "pit",
    "pit_uniformity",
    "point_prediction",
    "rms_calibration_error",
    "rmse",
    "rmv_rmse_curve",
    "sharpness",
    "summary",
    "z_score_stats",
    "z_scores",
    "ConformalizedQuantileRegression",
    "ConformalPredictive",
    "ConformalPredictiveSystem",
    "SplitConformal",
    "WarpedPredictive",
    "IsotonicRecalibration",
    "MonotoneMap",
    "RecalibratedPredictive",
    "RecalibrationNotFittedError",
    "StdScaling",
]

from bdl.registry import register as _register

# the recalibrators a campaign can refit each round (``--recalibrate NAME``): fit(y, pred), transform(pred)
_register("recalibrator", "isotonic", IsotonicRecalibration)
_register("recalibrator", "conformal", ConformalPredictiveSystem)
_register("recalibrator", "std_scaling", StdScaling)
