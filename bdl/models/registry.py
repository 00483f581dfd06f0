"""The toolkit's surrogates in the one registry (:mod:`bdl.registry`), the recommended default, and prior features for any model.

``make_model(name, **params)`` builds any surrogate by its short name (the names the command
lines, ``bench`` and campaigns use; :data:`MODEL_NAMES` lists them); :func:`recommended` is the
default a new user gets; :class:`WithDFTPrior` gives any network the DFT band-gap prior's
features (:mod:`bdl.prior`) as extra inputs.

Each model's registry entry carries, as ``defaults``, the settings a campaign trains it with:
sized for the small training sets of a campaign (tens to a few hundred measurements).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, load_model, register
from bdl.registry import get, register as register_part, view

__all__ = ["MODEL_NAMES", "WithDFTPrior", "make_model", "model_class", "recommended"]

#: The registered surrogates, short name -> class (a live view of :mod:`bdl.registry`'s models).
MODEL_NAMES = view("model")

_NET = {"hidden_units": [64, 64], "epochs": 300, "batch_size": 32, "patience": 40, "learning_rate": 3e-3}


def _register_builtins() -> None:
    from bdl.models.ensemble import DeepEnsembleRegressor
    from bdl.models.gp import PriorGPRegressor
    from bdl.models.mc_dropout import MCDropoutRegressor
    from bdl.models.mdn import MixtureDensityRegressor
    from bdl.models.variational import VariationalBNN

    # the default (recommended()): exact GP on the DFT prior's features when the pool is a set of
    # compositions; every setting is chosen by evidence maximisation each round
    # takes prior="dft_gap" on compositions; its smooth posterior mean is the best campaign
    # strategy measured for extreme-value goals (benchmarks/results/campaigns_vs_peers.md)
    register_part("model", "prior_gp", PriorGPRegressor, dft_prior=True, default_strategy="greedy")
    register_part("model", "mc_dropout", MCDropoutRegressor,
                  defaults={**_NET, "dropout_rate": 0.1, "n_passes": 100, "weight_decay": 1e-4})
    register_part("model", "ensemble", DeepEnsembleRegressor, defaults={**_NET, "n_members": 5, "weight_decay": 1e-4})
    register_part("model", "variational", VariationalBNN, defaults={**_NET, "epochs": 600, "patience": 60, "n_passes": 100})
    # the diagnostics' mixture density network
    register_part("model", "mdn", MixtureDensityRegressor, defaults={**_NET, "n_components": 5, "weight_decay": 1e-4})
    register_part("model", "with_prior", WithDFTPrior)


def model_class(name: str) -> type[BayesianRegressor]:
    """The class behind a short model name; an unknown name is an InputError listing the names."""
    return get("model", name).obj  # type: ignore[no-any-return]


def make_model(name: str, **params: Any) -> BayesianRegressor:
    """Build the surrogate ``name`` with ``params``; settings it does not take are an InputError naming them."""
    cls = model_class(name)
    valid = set(cls._param_names())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise InputError(
            f"model {name!r} does not take the setting(s) {', '.join(unknown)}; it takes {', '.join(sorted(valid))}."
        )
    return cls(**params)


def recommended(
    lower_bound: float | None = None,
    upper_bound: float | None = None,
    random_state: int | None = None,
) -> BayesianRegressor:
    """The surrogate a new user should start with, for 20 to a few thousand measurements.

    It is :class:`~bdl.models.PriorGPRegressor`: exact Gaussian-process inference (nothing to
    tune by hand: every kernel setting is chosen by evidence maximisation on the data at hand,
    so it adapts to n and d), with the DFT band-gap prior's features when X holds Magpie
    composition descriptors, and a bounded (and, when the data put mass on the lower bound,
    zero-inflated) predictive; from 500 rows of Magpie descriptors it also takes two random
    forests' cross-fitted predictions as kernel inputs. On ``matbench_expt_gap`` its median has a
    lower MAE than a random forest on the same descriptors from 50 to 3000 training rows, and its
    90 % intervals a lower interval score up to 1000 rows (``benchmarks/results/small_data.md``;
    on three fresh splits, ``small_data_fresh7.md`` to ``small_data_fresh9.md``, at every size up
    to 3000).

    Parameters
    ----------
    lower_bound, upper_bound : float or None
        Physical bounds of the target (``lower_bound=0`` for band gaps).
    random_state : int or None
    """
    return make_model("prior_gp", lower_bound=lower_bound, upper_bound=upper_bound, random_state=random_state)


@register
class WithDFTPrior(BayesianRegressor):
    """Any surrogate with the DFT band-gap prior's 37 features appended to its Magpie inputs.

    The prior (:class:`bdl.prior.DFTGapPrior`: predicted PBE gap, metal log-odds, the PBE gaps
    computed for the composition where there are any, 32-unit embedding) is computed from the
    132 Magpie descriptors and appended to them, so a network starts from what 106k DFT
    calculations say about each composition (Delta-learning with the DFT gap as an input).
    Models saved before the lookup columns existed keep their 34.

    Parameters
    ----------
    model : str, default "mc_dropout"
        Short name of the wrapped surrogate (see :data:`MODEL_NAMES`).
    model_params : dict or None
        Its settings.
    random_state : int or None
    progress : bool or None
    """

    def __init__(
        self,
        model: str = "mc_dropout",
        model_params: dict[str, Any] | None = None,
        random_state: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.random_state = random_state
        self.progress = progress

    @property
    def predictive_kind(self) -> str:  # type: ignore[override]
        return str(model_class(self.model).predictive_kind)

    def _inner(self) -> BayesianRegressor:
        if self.model in ("with_prior",):
            raise InputError("WithDFTPrior cannot wrap itself; name a network such as 'mc_dropout'.")
        params = {k: tuple(v) if k == "hidden_units" else v for k, v in dict(self.model_params or {}).items()}
        params.setdefault("random_state", self.random_state)
        if "progress" in model_class(self.model)._param_names():
            params.setdefault("progress", self.progress)
        return make_model(self.model, **params)

    def _augment(self, X: np.ndarray, lookup: bool | None = None) -> np.ndarray:
        """[X, prior features]; ``lookup=None``: the columns the fitted model was fitted on (34 if saved before the lookup)."""
        from bdl.prior import load_dft_gap_prior

        prior = load_dft_gap_prior()
        if lookup is None:
            lookup = self.inner_.n_features_in_ == X.shape[1] + len(prior.names(True))
        return np.column_stack([X, prior.transform(X, lookup=lookup).to_numpy()])

    def fit(self, X: Any, y: Any) -> WithDFTPrior:
        """Fit the wrapped model on [Magpie descriptors, prior features]."""
        from bdl.prior import N_MAGPIE

        if np.ndim(X) != 2 or np.shape(X)[1] != N_MAGPIE:
            raise InputError(
                f"WithDFTPrior needs the {N_MAGPIE} Magpie descriptors of bdl.features.featurize, but X has shape "
                f"{np.shape(X)}; featurize the compositions, or use the model without the prior."
            )
        Xs, _ = self._prepare_fit(X, y)
        X_raw = np.asarray(Xs, dtype=np.float64) * self.x_scale_ + self.x_mean_
        self.inner_ = self._inner().fit(self._augment(X_raw, lookup=True), np.asarray(y, dtype=np.float64).ravel())
        return self

    def predict_dist(self, X: Any) -> Any:
        """The wrapped model's predictive on the augmented inputs."""
        Xs = self._prepare_predict(X)
        X_raw = np.asarray(Xs, dtype=np.float64) * self.x_scale_ + self.x_mean_
        return self.inner_.predict_dist(self._augment(X_raw))

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        return None

    def _save_parts(self, path: Path) -> None:
        self.inner_.save(path / "inner")

    def _load_parts(self, path: Path) -> None:
        self.inner_ = load_model(path / "inner")


_register_builtins()
