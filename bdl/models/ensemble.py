"""Deep ensemble of heteroscedastic networks (Lakshminarayanan, Pritzel & Blundell, "Simple and
scalable predictive uncertainty estimation using deep ensembles", NeurIPS 2017).

M networks, each predicting a mean and a noise scale and trained on the Gaussian NLL from its
own random initialisation and data order. The predictive is the equal-weight mixture of the M
Gaussians (:class:`bdl.predictive.SamplePredictive`); the spread of the member means is the
epistemic part. Each member is an :class:`~bdl.models.mc_dropout.MCDropoutRegressor` with
dropout switched off, so the members share the tested network and training code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, load_model, register
from bdl.models.mc_dropout import MCDropoutRegressor
from bdl.models.mdn import MixtureDensityRegressor
from bdl.predictive import MixturePredictive, SamplePredictive

__all__ = ["DeepEnsembleRegressor"]


@register
class DeepEnsembleRegressor(BayesianRegressor):
    """Deep ensemble of M heteroscedastic MLPs.

    Parameters
    ----------
    n_members : int, default 5
    member : {"gaussian", "mdn"}, default "gaussian"
        Heteroscedastic Gaussian nets (Lakshminarayanan et al.), or mixture density networks
        (the ensemble predictive is then the mixture of all members' components, weights / M).
    n_components : int, default 5
        Components per MDN member.
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

    @property
    def predictive_kind(self) -> str:  # type: ignore[override]
        return "mixture" if self.member == "mdn" else "samples"

    def __init__(
        self,
        n_members: int = 5,
        member: str = "gaussian",
        n_components: int = 5,
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
        self.member = member
        self.n_components = n_components
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

    def _member(self, seed: int) -> MCDropoutRegressor | MixtureDensityRegressor:
        shared = dict(
            hidden_units=self.hidden_units,
            min_scale=self.min_scale,
            weight_decay=self.weight_decay,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            random_state=seed,
            progress=self.progress,
        )
        if self.member == "mdn":
            return MixtureDensityRegressor(n_components=self.n_components, **shared)
        return MCDropoutRegressor(dropout_rate=0.0, n_passes=1, **shared)

    def fit(self, X: Any, y: Any) -> DeepEnsembleRegressor:
        """Train the M members on X of shape (n_samples, n_features) and y of shape (n_samples,)."""
        if int(self.n_members) != self.n_members or self.n_members < 1:
            raise InputError(f"n_members must be a positive integer, got {self.n_members!r}.")
        if self.member not in ("gaussian", "mdn"):
            raise InputError(f"member must be 'gaussian' or 'mdn', got {self.member!r}.")
        Xs, ys = self._prepare_fit(X, y)
        seeds = np.random.default_rng(self.random_state).integers(2**31, size=int(self.n_members))
        self.members_ = []
        for seed in seeds:
            # members see standardised data; the ensemble owns the scaling
            self.members_.append(self._member(int(seed)).fit(Xs, ys))
        self.traces_ = [m.trace_ for m in self.members_]
        return self

    def predict_dist(self, X: Any) -> SamplePredictive | MixturePredictive:
        """Equal-weight mixture of the members' predictives.

        Gaussian members: a SamplePredictive with locs, scales of shape (n, M). MDN members: a
        MixturePredictive with all M*K components (weights divided by M) and, as epistemic
        variance, the spread of the member means (law of total variance over members).
        """
        Xs = self._prepare_predict(X)
        if self.member == "mdn":
            parts = [m.predict_dist(Xs) for m in self.members_]
            w = np.concatenate([p.weights for p in parts], axis=1) / len(parts)
            loc = np.concatenate([p.locs for p in parts], axis=1) * self.y_scale_ + self.y_mean_
            sc = np.concatenate([p.scales for p in parts], axis=1) * self.y_scale_
            member_means = np.column_stack([p.mean for p in parts]) * self.y_scale_
            return MixturePredictive(w, loc, sc, epistemic_variance=member_means.var(axis=1))
        locs, scales = [], []
        for m in self.members_:
            d = m.predict_dist(Xs, n_passes=1)  # deterministic: dropout is off
            locs.append(d.locs[:, 0])
            scales.append(d.scales[:, 0])
        loc = np.column_stack(locs) * self.y_scale_ + self.y_mean_
        return SamplePredictive(loc, np.column_stack(scales) * self.y_scale_)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        return None

    def _save_parts(self, path: Path) -> None:
        for i, m in enumerate(self.members_):
            m.save(path / f"member_{i:03d}")

    def _load_parts(self, path: Path) -> None:
        self.members_ = [load_model(path / f"member_{i:03d}") for i in range(int(self.n_members))]
        self.traces_ = []
