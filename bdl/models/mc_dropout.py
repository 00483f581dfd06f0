"""Monte Carlo dropout regressor with a heteroscedastic head.

Gal & Ghahramani, "Dropout as a Bayesian approximation", ICML 2016; Kendall & Gal, "What
uncertainties do we need in Bayesian deep learning for computer vision?", NeurIPS 2017 (the
mean + aleatoric-scale head trained on the Gaussian negative log-likelihood).

At prediction time the network is run with dropout switched on for ``n_passes`` stochastic
passes, all in one batched call (the passes are stacked into large matrix products, no Python
loop over passes). Each pass gives a Gaussian N(mu_t, sigma_t^2); the predictive is the
equal-weight mixture of these Gaussians (:class:`bdl.predictive.SamplePredictive`), whose
variance splits by the law of total variance into epistemic (spread of the mu_t) and
aleatoric (mean of the sigma_t^2) parts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, register
from bdl.predictive import SamplePredictive

__all__ = ["MCDropoutRegressor"]

# Largest number of float32 activations one prediction chunk may hold (about 128 MB).
_MAX_ACTIVATIONS = 32_000_000


@register
class MCDropoutRegressor(BayesianRegressor):
    """MC-dropout network predicting a mean and an aleatoric scale.

    Parameters
    ----------
    hidden_units : tuple of int, default (256, 128)
        Widths of the hidden ReLU layers.
    dropout_rate : float, default 0.1
        Probability of dropping a hidden unit, in training and in the MC passes.
    input_dropout : bool, default False
        Also drop input features (Gal's UCI set-up). Off by default, which lets prediction
        compute the first layer once for all passes.
    noise : {"heteroscedastic", "fixed"}, default "heteroscedastic"
        Predict the aleatoric scale per input, or use the known ``noise_std`` everywhere
        (Gal & Ghahramani's UCI protocol, noise precision tau = 1 / noise_std^2).
    noise_std : float or None
        Noise standard deviation in target units for ``noise="fixed"``.
    beta_nll : float, default 0.0
        Weight each point's NLL by sigma^(2 beta) with the gradient stopped (beta-NLL, Seitzer
        et al., ICLR 2022). 0 is the plain Gaussian NLL; 0.5 keeps high-noise points from
        being ignored by the mean, which usually improves its accuracy.
    weight_decay : float, default 1e-5
        L2 penalty on the weights (not biases), added to the mean NLL per point.
    learning_rate : float, default 1e-3
    optimizer : {"adam", "sgd"}, default "adam"
    epochs : int, default 300
        Maximum number of passes over the training data.
    batch_size : int, default 64
    n_passes : int, default 100
        Stochastic forward passes T used by ``predict_dist``.
    validation_fraction : float, default 0.1
        Share of the training rows held out for early stopping on validation NLL (0 disables
        early stopping; then all ``epochs`` run).
    patience : int, default 30
        Epochs without improvement of validation NLL before stopping; the best weights are kept.
    min_scale : float, default 1e-3
        Floor of the predicted aleatoric standard deviation, in units of the target's std.
    random_state : int or None, default None
        Seeds weight initialisation, shuffling, dropout masks and prediction; the same value
        gives the same numbers.
    progress : bool or None, default None
        Show a progress bar over epochs (None: only when writing to a terminal or notebook).

    Attributes
    ----------
    trace_ : DataFrame
        One row per epoch from :func:`bdl.models.svi.fit_svi`: ``elbo`` (mean log-likelihood
        minus the weight-decay term, standardised units), ``expected_loglik``, ``kl`` (the
        weight-decay term times N), ``grad_snr``, ``val_nll`` and ``val_rmse`` (target units).
    best_epoch_ : int
    n_features_in_ : int
    feature_names_in_ : list of str or None
    """

    predictive_kind = "samples"

    def __init__(
        self,
        hidden_units: tuple[int, ...] = (256, 128),
        dropout_rate: float = 0.1,
        input_dropout: bool = False,
        noise: str = "heteroscedastic",
        noise_std: float | None = None,
        beta_nll: float = 0.0,
        weight_decay: float = 1e-5,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        epochs: int = 300,
        batch_size: int = 64,
        n_passes: int = 100,
        validation_fraction: float = 0.1,
        patience: int = 30,
        min_scale: float = 1e-3,
        random_state: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout_rate = dropout_rate
        self.input_dropout = input_dropout
        self.noise = noise
        self.noise_std = noise_std
        self.beta_nll = beta_nll
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_passes = n_passes
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_scale = min_scale
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        self._check_network_params()
        if not 0.0 <= self.dropout_rate < 1.0:
            raise InputError(f"dropout_rate must be in [0, 1), got {self.dropout_rate!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.n_passes < 1:
            raise InputError("epochs, batch_size and n_passes must all be positive integers.")
        if self.optimizer not in ("adam", "sgd"):
            raise InputError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}.")
        if not 0.0 <= self.beta_nll <= 1.0:
            raise InputError(f"beta_nll must be in [0, 1] (0: plain NLL, 0.5: beta-NLL), got {self.beta_nll!r}.")
        if self.noise not in ("heteroscedastic", "fixed"):
            raise InputError(f"noise must be 'heteroscedastic' or 'fixed', got {self.noise!r}.")
        if self.noise == "fixed" and (self.noise_std is None or self.noise_std <= 0):
            raise InputError("noise='fixed' needs a positive noise_std (in target units).")

    # ------------------------------------------------------------------ network
    def _init_weights(self, n_in: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Glorot-uniform weights and zero biases: [W0, b0, W1, b1, ..., W_out, b_out]."""
        sizes = [n_in, *map(int, self.hidden_units), 2 if self.noise == "heteroscedastic" else 1]
        arrays: list[np.ndarray] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            limit = math.sqrt(6.0 / (a + b))
            arrays.append(rng.uniform(-limit, limit, size=(a, b)).astype(np.float32))
            arrays.append(np.zeros(b, dtype=np.float32))
        return arrays

    def _build(self, arrays: list[np.ndarray]) -> None:
        from bdl.models._tf import tf

        self._vars = [tf.Variable(a, trainable=True) for a in arrays]
        self._predict_fn = None

    def _head(self, out: Any) -> tuple[Any, Any]:
        from bdl.models._tf import tf

        mu = out[..., 0]
        if self.noise == "fixed":
            return mu, tf.ones_like(mu) * float(self.noise_std / self.y_scale_)
        scale = tf.nn.softplus(out[..., 1]) + tf.constant(self.min_scale, tf.float32)
        return mu, scale

    def _forward_train(self, x: Any, seed: Any) -> Any:
        """One stochastic pass over a minibatch x of shape (b, d) -> raw outputs (b, 2)."""
        from bdl.models._tf import tf

        p = float(self.dropout_rate)
        h = x
        n_layers = len(self._vars) // 2
        for layer in range(n_layers):
            drop = p > 0 and (layer > 0 or self.input_dropout)
            if drop:
                keep = tf.random.stateless_uniform(tf.shape(h), seed=seed + [0, 1 + layer]) >= p
                h = tf.where(keep, h / (1.0 - p), 0.0)
            h = tf.matmul(h, self._vars[2 * layer]) + self._vars[2 * layer + 1]
            if layer < n_layers - 1:
                h = tf.nn.relu(h)
        return h

    def _mc_passes(self, x: Any, seed: Any, n_passes: int) -> tuple[Any, Any]:
        """All passes at once for x of shape (m, d) -> mu, scale of shape (T, m)."""
        from bdl.models._tf import tf

        p = float(self.dropout_rate)
        m = tf.shape(x)[0]
        n_layers = len(self._vars) // 2
        if self.input_dropout and p > 0:
            h = tf.tile(x[None], [n_passes, 1, 1])
            keep = tf.random.stateless_uniform(tf.shape(h), seed=seed + [0, 1]) >= p
            h = tf.reshape(tf.where(keep, h / (1.0 - p), 0.0), [n_passes * m, -1])
            h = tf.nn.relu(tf.matmul(h, self._vars[0]) + self._vars[1])
        else:
            # the first layer does not depend on the pass: compute it once, then tile
            h1 = tf.nn.relu(tf.matmul(x, self._vars[0]) + self._vars[1])
            h = tf.reshape(tf.tile(h1[None], [n_passes, 1, 1]), [n_passes * m, -1])
        for layer in range(1, n_layers):
            if p > 0:
                keep = tf.random.stateless_uniform(tf.shape(h), seed=seed + [0, 1 + layer]) >= p
                h = tf.where(keep, h / (1.0 - p), 0.0)
            h = tf.matmul(h, self._vars[2 * layer]) + self._vars[2 * layer + 1]
            if layer < n_layers - 1:
                h = tf.nn.relu(h)
        mu, scale = self._head(tf.reshape(h, [n_passes, m, -1]))
        return mu, scale

    def _get_predict_fn(self) -> Any:
        from bdl.models._tf import tf

        if getattr(self, "_predict_fn", None) is None:
            d = int(self._vars[0].shape[0])

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None, d], tf.float32),
                    tf.TensorSpec([2], tf.int64),
                    tf.TensorSpec([], tf.int32),
                ],
                reduce_retracing=True,
            )
            def predict_fn(x: Any, seed: Any, n_passes: Any) -> tuple[Any, Any]:
                return self._mc_passes(x, seed, n_passes)

            self._predict_fn = predict_fn
        return self._predict_fn

    def _passes_standardised(self, Xs: np.ndarray, n_passes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """mu, scale of shape (n, T) in standardised target units, computed in row chunks."""
        from bdl.models._tf import tf

        fn = self._get_predict_fn()
        width = max([Xs.shape[1], *map(int, self.hidden_units)])
        chunk = max(1, _MAX_ACTIVATIONS // (n_passes * width))
        mus, scales = [], []
        for i, start in enumerate(range(0, Xs.shape[0], chunk)):
            xb = tf.constant(Xs[start : start + chunk])
            mu, sc = fn(xb, tf.constant([seed, 16 * i], tf.int64), tf.constant(n_passes, tf.int32))
            mus.append(mu.numpy().T)
            scales.append(sc.numpy().T)
        return np.concatenate(mus).astype(np.float64), np.concatenate(scales).astype(np.float64)

    # ------------------------------------------------------------------ public API
    @property
    def trainable_variables(self) -> list[Any]:
        return list(self._vars)

    def elbo_terms(self, x: Any, y: Any, seed: Any) -> tuple[Any, Any]:
        """Mean Gaussian log-likelihood of a dropout pass over the minibatch, and the KL term.

        Gal & Ghahramani's reading of dropout as variational inference: the L2 penalty
        ``weight_decay * sum ||W||^2`` per training point is the KL term, so the engine's
        KL / N gives back exactly the weight-decay objective.
        """
        from bdl.models._tf import tf

        mu, scale = self._head(self._forward_train(x, seed))
        point = -tf.math.log(scale) - 0.5 * tf.square((y - mu) / scale) - 0.5 * math.log(2 * math.pi)
        if self.beta_nll > 0:
            # beta-NLL (Seitzer et al. 2022): weight each point by stop_gradient(sigma^(2 beta))
            point = point * tf.stop_gradient(tf.pow(scale, 2.0 * self.beta_nll))
        loglik = tf.reduce_mean(point)
        penalty = tf.add_n([tf.reduce_sum(tf.square(w)) for w in self._vars[0::2]])
        return loglik, self._n_train * self.weight_decay * penalty

    def mc_predict(self, x: np.ndarray, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """mu, scale of shape (n, T) in standardised units (the engine's prediction hook)."""
        return self._passes_standardised(x, n_samples, seed)

    def fit(self, X: Any, y: Any) -> MCDropoutRegressor:
        """Train on features X of shape (n_samples, n_features) and targets y of shape (n_samples,).

        Uses the shared minibatch engine :func:`bdl.models.svi.fit_svi` (Adam/SGD, early stopping
        on validation NLL with the best weights kept, per-epoch trace, progress bar).

        Returns
        -------
        self
        """
        self._check_params()
        Xs, ys = self._prepare_fit(X, y)
        rng = np.random.default_rng(self.random_state)
        self._fit_engine(
            Xs,
            ys,
            rng,
            lambda r: self._build(self._init_weights(Xs.shape[1], r)),
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            optimizer=self.optimizer,
            learning_rate=float(self.learning_rate),
            patience=int(self.patience),
            val_samples=min(int(self.n_passes), 30),
            progress=self.progress,
        )
        self._predict_seed = int(rng.integers(2**31))
        return self

    def predict_dist(self, X: Any, n_passes: int | None = None, seed: int | None = None) -> SamplePredictive:
        """Predictive distribution: the mixture of the T per-pass Gaussians.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        n_passes : int, optional
            Number of stochastic passes T (default ``self.n_passes``).
        seed : int, optional
            Seed of the dropout masks (default: derived from ``random_state``, so repeated
            calls give identical numbers).

        Returns
        -------
        SamplePredictive
            ``locs`` and ``scales`` of shape (n_samples, T), in target units.
        """
        Xs = self._prepare_predict(X)
        T = int(self.n_passes if n_passes is None else n_passes)
        if T < 1:
            raise InputError(f"n_passes must be a positive integer, got {n_passes!r}.")
        mu, sc = self._passes_standardised(Xs, T, self._predict_seed if seed is None else int(seed))
        return SamplePredictive(mu * self.y_scale_ + self.y_mean_, sc * self.y_scale_)

    # ------------------------------------------------------------------ persistence hooks
    def _get_extra(self) -> dict[str, Any]:
        return {"predict_seed": self._predict_seed, "best_epoch": self.best_epoch_}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        self._predict_seed = int(extra["predict_seed"])
        self.best_epoch_ = int(extra["best_epoch"])

