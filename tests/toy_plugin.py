"""A plugin from outside the package (issue 15): a toy model and a toy acquisition function,
registered by name when this module is imported (``discovery-loop run --plugin tests.toy_plugin``).

Nothing in ``bdl`` or ``discovery_loop`` knows about this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bdl.models.base import BayesianRegressor, register as register_class
from bdl.predictive import GaussianPredictive
from bdl.registry import register
from discovery_loop.acquisition import register_acquisition

#: Every call of the toy acquisition function, so a test can see it was the one used.
CALLS: list[int] = []


@register_class
class NearestNeighbourMean(BayesianRegressor):
    """Mean of the k nearest measured points, their spread (plus a floor) as the std."""

    predictive_kind = "gaussian"
    _input_dtype = np.float64

    def __init__(self, k: int = 3, random_state: int | None = None) -> None:
        self.k = k
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NearestNeighbourMean:
        self.X_, self.yz_ = self._prepare_fit(X, y)
        return self

    def _is_fitted(self) -> bool:
        return hasattr(self, "X_")

    def predict_dist(self, X: Any) -> GaussianPredictive:
        Z = self._prepare_predict(X)
        d = ((Z[:, None, :] - self.X_[None, :, :]) ** 2).sum(axis=2)
        near = np.argsort(d, axis=1)[:, : min(self.k, self.X_.shape[0])]
        vals = self.yz_[near]
        mean = vals.mean(axis=1) * self.y_scale_ + self.y_mean_
        std = (vals.std(axis=1) + 0.1 + np.sqrt(d.min(axis=1))) * self.y_scale_
        return GaussianPredictive(mean, std)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"X": self.X_, "y": self.yz_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.X_, self.yz_ = arrays["X"], arrays["y"]


def lower_confidence_bound(pred: Any, *, best: Any = None, maximize: bool = True, seed: Any = None,
                           kappa: float = 1.0) -> np.ndarray:
    """Optimistic score: mean + kappa std (maximise) or -(mean - kappa std) (minimise)."""
    CALLS.append(pred.n_points)
    sign = 1.0 if maximize else -1.0
    return sign * np.asarray(pred.mean) + float(kappa) * np.asarray(pred.stddev)


register("model", "toy_knn", NearestNeighbourMean)
register_acquisition("toy_lcb", lower_confidence_bound, defaults={"kappa": 1.0})
