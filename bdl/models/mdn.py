"""Mixture density network (Bishop, "Mixture density networks", NCRG/94/004, 1994).

The net maps x to K Gaussian components: weights as logits (softmax), means, and scales as
softplus + a floor; the loss is the negative log of the mixture density computed with
log-sum-exp; gradients are clipped by norm. These are the standard cures for MDNs that
produce NaN. The predictive is a :class:`bdl.predictive.MixturePredictive`; an MDN has no
epistemic part (its spread is the noise model), so ``epistemic_variance`` raises on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, register
from bdl.predictive import MixturePredictive

__all__ = ["MixtureDensityRegressor", "effective_components"]


def effective_components(weights: np.ndarray) -> np.ndarray:
    """Effective number of mixture components per row, exp(entropy of the weights).

    1 for a single component carrying all weight, K for K equal weights.

    Parameters
    ----------
    weights : ndarray of shape (n, K)

    Returns
    -------
    ndarray of shape (n,)
    """
    w = np.clip(np.asarray(weights, dtype=float), 1e-300, 1.0)
    return np.exp(-(w * np.log(w)).sum(axis=1))


@register
class MixtureDensityRegressor(BayesianRegressor):
    """Mixture density network with K Gaussian components.

    Parameters
    ----------
    n_components : int, default 5
    hidden_units : tuple of int, default (128, 64)
    min_scale : float, default 1e-3
        Floor of every component scale (standardised units).
    clipnorm : float, default 1.0
        Gradient-norm clipping.
    weight_decay : float, default 1e-5
    learning_rate : float, default 1e-3
    epochs, batch_size, validation_fraction, patience : training settings
    warm_start : bool, default False
        When True and the model is already fitted, ``fit`` continues from the fitted weights
        instead of a new random initialisation (scikit-learn's meaning), e.g. when a campaign
        round adds a few measurements. The input and target scaling of the first (cold) fit is
        kept, because the weights are only meaningful in those standardised units; the optimiser
        state restarts. The data must have the same feature columns and the settings the
        same architecture, else InputError. Lower ``epochs`` with ``set_params`` for a short
        refresh. Deterministic under ``random_state``.
    random_state : int or None
    progress : bool or None

    Attributes
    ----------
    trace_ : DataFrame
    best_epoch_ : int
    effective_components_ : float
        exp(entropy) of the mean component weights over the training inputs: how many
        components the fitted model really uses (1 means it collapsed to one Gaussian).
    """

    predictive_kind = "mixture"

    def __init__(
        self,
        n_components: int = 5,
        hidden_units: tuple[int, ...] = (128, 64),
        min_scale: float = 1e-3,
        clipnorm: float = 1.0,
        weight_decay: float = 1e-5,
        learning_rate: float = 1e-3,
        epochs: int = 300,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        patience: int = 30,
        warm_start: bool = False,
        random_state: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.n_components = n_components
        self.hidden_units = hidden_units
        self.min_scale = min_scale
        self.clipnorm = clipnorm
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.warm_start = warm_start
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        if int(self.n_components) != self.n_components or self.n_components < 1:
            raise InputError(f"n_components must be a positive integer, got {self.n_components!r}.")
        self._check_network_params()

    def _init_weights(self, n_in: int, rng: np.random.Generator) -> list[np.ndarray]:
        k = int(self.n_components)
        sizes = [n_in, *map(int, self.hidden_units), 3 * k]
        arrays: list[np.ndarray] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            limit = math.sqrt(6.0 / (a + b))
            arrays.append(rng.uniform(-limit, limit, size=(a, b)).astype(np.float32))
            arrays.append(np.zeros(b, dtype=np.float32))
        # spread the initial component means over the standardised target range so that the
        # components start apart (a mixture whose components start equal tends to stay collapsed)
        arrays[-1][k : 2 * k] = np.linspace(-1.5, 1.5, k) if k > 1 else 0.0
        return arrays

    def _build(self, arrays: list[np.ndarray]) -> None:
        from bdl.models._tf import tf

        self._vars = [tf.Variable(a, trainable=True) for a in arrays]
        self._predict_fn = None

    @property
    def trainable_variables(self) -> list[Any]:
        return list(self._vars)

    def _outputs(self, x: Any) -> tuple[Any, Any, Any]:
        """x (m, d) -> log-weights, means, scales, each (m, K)."""
        from bdl.models._tf import tf

        h = x
        n_layers = len(self._vars) // 2
        for layer in range(n_layers):
            h = tf.matmul(h, self._vars[2 * layer]) + self._vars[2 * layer + 1]
            if layer < n_layers - 1:
                h = tf.nn.relu(h)
        k = int(self.n_components)
        logits, means, raw = h[:, :k], h[:, k : 2 * k], h[:, 2 * k :]
        return tf.nn.log_softmax(logits, axis=-1), means, tf.nn.softplus(raw) + self.min_scale

    def elbo_terms(self, x: Any, y: Any, seed: Any) -> tuple[Any, Any]:
        """Mean mixture log-likelihood (log-sum-exp) and the weight-decay term times N."""
        from bdl.models._tf import tf

        log_w, means, scales = self._outputs(x)
        z = (y[:, None] - means) / scales
        comp = -0.5 * tf.square(z) - tf.math.log(scales) - 0.5 * math.log(2 * math.pi)
        loglik = tf.reduce_mean(tf.reduce_logsumexp(log_w + comp, axis=-1))
        penalty = tf.add_n([tf.reduce_sum(tf.square(w)) for w in self._vars[0::2]])
        return loglik, self._n_train * self.weight_decay * penalty

    def _mixture_standardised(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from bdl.models._tf import tf

        if getattr(self, "_predict_fn", None) is None:
            d = int(self._vars[0].shape[0])

            @tf.function(input_signature=[tf.TensorSpec([None, d], tf.float32)], reduce_retracing=True)
            def fn(xx: Any) -> tuple[Any, Any, Any]:
                log_w, m, s = self._outputs(xx)
                return tf.nn.softmax(log_w, axis=-1), m, s

            self._predict_fn = fn
        parts = [self._predict_fn(tf.constant(x[i : i + 65536])) for i in range(0, len(x), 65536)]
        w, m, s = (np.concatenate([p[j].numpy() for p in parts]).astype(np.float64) for j in range(3))
        w /= w.sum(axis=1, keepdims=True)  # float32 softmax -> exact normalisation in float64
        return w, m, s

    def validation_scores(self, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
        """Engine hook: exact mixture NLL and RMSE of the mixture mean, standardised units."""
        from scipy.special import logsumexp

        w, m, s = self._mixture_standardised(x)
        z = (y[:, None] - m) / s
        logp = logsumexp(np.log(np.maximum(w, 1e-300)) - 0.5 * z**2 - np.log(s), axis=1) - 0.5 * math.log(2 * math.pi)
        rmse = float(np.sqrt(np.mean(((w * m).sum(axis=1) - y) ** 2)))
        return float(-logp.mean()), rmse

    def fit(self, X: Any, y: Any) -> MixtureDensityRegressor:
        """Train on X of shape (n_samples, n_features) and y of shape (n_samples,)."""
        self._check_params()
        Xs, ys, rng, build = self._start_fit(X, y, self._init_weights)
        tr_idx = self._fit_engine(
            Xs,
            ys,
            rng,
            build,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            clipnorm=float(self.clipnorm) if self.clipnorm else None,
            patience=int(self.patience),
            progress=self.progress,
        )
        w, _, _ = self._mixture_standardised(Xs[tr_idx[:5000]])
        self.effective_components_ = float(effective_components(w.mean(axis=0, keepdims=True))[0])
        return self

    def predict_dist(self, X: Any) -> MixturePredictive:
        """Predictive Gaussian mixture per row (weights, locs, scales of shape (n, K))."""
        Xs = self._prepare_predict(X)
        w, m, s = self._mixture_standardised(Xs)
        return MixturePredictive(w, m * self.y_scale_ + self.y_mean_, s * self.y_scale_)

    def _get_extra(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch_, "effective_components": self.effective_components_}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        self.best_epoch_ = int(extra["best_epoch"])
        self.effective_components_ = float(extra["effective_components"])
