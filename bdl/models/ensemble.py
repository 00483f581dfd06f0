"""Deep ensemble of heteroscedastic networks (Lakshminarayanan, Pritzel & Blundell, "Simple and
scalable predictive uncertainty estimation using deep ensembles", NeurIPS 2017).

M networks, each predicting a mean and a noise scale and trained on the Gaussian NLL from its
own random initialisation and data order. The predictive is the equal-weight mixture of the M
Gaussians (:class:`bdl.predictive.SamplePredictive`); the spread of the member means is the
epistemic part. Each member is an :class:`~bdl.models.mc_dropout.MCDropoutRegressor` with
dropout switched off, so the members share the tested network and training code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, register
from bdl.models.mc_dropout import MCDropoutRegressor
from bdl.predictive import SamplePredictive

__all__ = ["DeepEnsembleRegressor"]


@register
class DeepEnsembleRegressor(BayesianRegressor):
    """Deep ensemble of M heteroscedastic MLPs.

    Parameters
    ----------
    n_members : int, default 5
    hidden_units : tuple of int, default (256, 128)
    weight_decay, learning_rate, epochs, batch_size, validation_fraction, patience, min_scale :
        member training settings (see :class:`MCDropoutRegressor`).
    random_state : int or None
        Member m is seeded with a number drawn from this seed.
    progress : bool or None

    Attributes
    ----------
    members_ : list of MCDropoutRegressor
    traces_ : list of DataFrame
    """

    predictive_kind = "samples"

    def __init__(
        self,
        n_members: int = 5,
        hidden_units: tuple[int, ...] = (256, 128),
        weight_decay: float = 1e-5,
        learning_rate: float = 1e-3,
        epochs: int = 300,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        patience: int = 30,
        min_scale: float = 1e-3,
        random_state: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.n_members = n_members
        self.hidden_units = hidden_units
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_scale = min_scale
        self.random_state = random_state
        self.progress = progress

    def _member(self, seed: int) -> MCDropoutRegressor:
        return MCDropoutRegressor(
            hidden_units=self.hidden_units,
            dropout_rate=0.0,
            weight_decay=self.weight_decay,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            n_passes=1,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            min_scale=self.min_scale,
            random_state=seed,
            progress=self.progress,
        )

    def fit(self, X: Any, y: Any) -> DeepEnsembleRegressor:
        """Train the M members on X of shape (n_samples, n_features) and y of shape (n_samples,)."""
        if int(self.n_members) != self.n_members or self.n_members < 1:
            raise InputError(f"n_members must be a positive integer, got {self.n_members!r}.")
        Xs, ys = self._prepare_fit(X, y)
        seeds = np.random.default_rng(self.random_state).integers(2**31, size=int(self.n_members))
        self.members_ = []
        for seed in seeds:
            # members see standardised data; the ensemble owns the scaling
            self.members_.append(self._member(int(seed)).fit(Xs, ys))
        self.traces_ = [m.trace_ for m in self.members_]
        return self

    def predict_dist(self, X: Any) -> SamplePredictive:
        """Equal-weight mixture of the M member Gaussians; locs, scales of shape (n, M)."""
        Xs = self._prepare_predict(X)
        locs, scales = [], []
        for m in self.members_:
            d = m.predict_dist(Xs, n_passes=1)  # deterministic: dropout is off
            locs.append(d.locs[:, 0])
            scales.append(d.scales[:, 0])
        loc = np.column_stack(locs) * self.y_scale_ + self.y_mean_
        return SamplePredictive(loc, np.column_stack(scales) * self.y_scale_)

    def predict(self, X: Any) -> np.ndarray:
        """Predictive mean, ndarray of shape (n_samples,)."""
        return self.predict_dist(X).mean

    def _get_arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for i, m in enumerate(self.members_):
            for k, v in m._get_arrays().items():
                arrays[f"m{i:03d}/{k}"] = v
            arrays[f"m{i:03d}/scaling_mean"] = m.x_mean_
            arrays[f"m{i:03d}/scaling_scale"] = m.x_scale_
            arrays[f"m{i:03d}/y"] = np.array([m.y_mean_, m.y_scale_, m._predict_seed, m.best_epoch_], dtype=np.float64)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.members_ = []
        for i in range(int(self.n_members)):
            p = f"m{i:03d}/"
            m = self._member(0)
            m.feature_names_in_ = None
            m.n_features_in_ = int(self.n_features_in_)
            m.x_mean_, m.x_scale_ = arrays[p + "scaling_mean"], arrays[p + "scaling_scale"]
            y_mean, y_scale, seed, best = arrays[p + "y"]
            m.y_mean_, m.y_scale_, m._predict_seed, m.best_epoch_ = float(y_mean), float(y_scale), int(seed), int(best)
            m._set_arrays({k[len(p):]: v for k, v in arrays.items() if k.startswith(p + "var_")})
            self.members_.append(m)

