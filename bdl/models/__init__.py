"""Bayesian neural network regressors (TensorFlow is imported only when a model is fitted or loaded).

:func:`recommended` is the default surrogate for small data (20 to a few thousand rows);
:func:`make_model` builds any surrogate by its short name (:data:`MODEL_NAMES`).

Every model has ``fit(X, y)``, ``predict(X)`` and ``predict_dist(X)`` (a
:mod:`bdl.predictive` object), and ``save(path)`` / :func:`load_model` without pickle.
"""

from __future__ import annotations

from bdl.models.base import BayesianRegressor, load_model
from bdl.models.ensemble import DeepEnsembleRegressor
from bdl.models.exact import BayesianLinearRegression, HMCRegressor
from bdl.models.gp import PriorGPRegressor
from bdl.models.mc_dropout import MCDropoutRegressor
from bdl.models.mdn import MixtureDensityRegressor, effective_components
from bdl.models.registry import MODEL_NAMES, WithDFTPrior, make_model, model_class, recommended
from bdl.models.svi import SVIConfig, VariationalUnderfittingWarning, fit_svi
from bdl.models.variational import VariationalBNN

__all__ = [
    "BayesianLinearRegression",
    "BayesianRegressor",
    "HMCRegressor",
    "DeepEnsembleRegressor",
    "MCDropoutRegressor",
    "MixtureDensityRegressor",
    "MODEL_NAMES",
    "PriorGPRegressor",
    "SVIConfig",
    "VariationalBNN",
    "VariationalUnderfittingWarning",
    "WithDFTPrior",
    "effective_components",
    "fit_svi",
    "load_model",
    "make_model",
    "model_class",
    "recommended",
]
