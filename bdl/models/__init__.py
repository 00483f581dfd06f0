"""Bayesian neural network regressors (TensorFlow is imported only when a model is fitted or loaded).

Every model has ``fit(X, y)``, ``predict(X)`` and ``predict_dist(X)`` (a
:mod:`bdl.predictive` object), and ``save(path)`` / :func:`load_model` without pickle.
"""

from __future__ import annotations

from bdl.models.base import BayesianRegressor, load_model
from bdl.models.mc_dropout import MCDropoutRegressor

__all__ = ["BayesianRegressor", "MCDropoutRegressor", "load_model"]
