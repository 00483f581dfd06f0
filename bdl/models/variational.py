"""Mean-field variational Bayesian neural network ("Bayes by Backprop").

Blundell, Cornebise, Kavukcuoglu & Wierstra, "Weight uncertainty in neural networks", ICML
2015: every weight and bias has an independent Gaussian posterior q(w) = N(mu, softplus(rho)^2),
trained by maximising the ELBO with the engine in :mod:`bdl.models.svi`.

Gradient estimators of the expected log-likelihood:

``"reparameterization"``
    one weight sample w = mu + sigma * eps per minibatch, shared by its examples (Kingma &
    Welling 2014; Blundell et al. 2015).
``"flipout"``
    pseudo-independent perturbations per example from random sign flips, x W_mu +
    ((x * s_in) (sigma * eps)) * s_out, which decorrelates the gradients within a minibatch at
    about twice the cost (Wen, Vicol, Ba, Tran & Grosse, ICLR 2018).

Priors: ``"normal"`` N(0, prior_scale^2) with the KL in closed form, or Blundell's
``"scale_mixture"`` pi N(0, s1^2) + (1 - pi) N(0, s2^2), whose KL has no closed form and is
estimated from a posterior sample (log q(w) - log p(w)).

Noise: ``"heteroscedastic"`` (the net outputs a mean and a scale) or ``"homoscedastic"`` (one
learned noise scale, a point estimate).

Prediction draws S weight samples and runs them as one batched computation; the predictive is
the equal-weight mixture of the S Gaussians (:class:`bdl.predictive.SamplePredictive`), so the
epistemic part is the spread of the per-sample means.
"""

from __future__ import annotations

import warnings

import math
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import _MAX_ACTIVATIONS_VARIATIONAL, BayesianRegressor, register
from bdl.models.svi import diagnose_underfitting, warn_if_underfitting
from bdl.predictive import SamplePredictive

__all__ = ["VariationalBNN"]

_ESTIMATORS = ("flipout", "reparameterization")
_PRIORS = ("normal", "scale_mixture")
_NOISES = ("heteroscedastic", "homoscedastic", "fixed")


def _inv_softplus(x: float) -> float:
    return float(x + math.log(-math.expm1(-x)))


def _warn_n_samples() -> None:
    warnings.warn(
        "VariationalBNN's n_samples is deprecated: the number of weight samples is called "
        "n_passes, as in MCDropoutRegressor; pass n_passes=... instead.",
        FutureWarning,
        stacklevel=3,
    )


@register
class VariationalBNN(BayesianRegressor):
    """Mean-field Gaussian variational Bayesian neural network.

    Parameters
    ----------
    hidden_units : tuple of int, default (128, 64)
        Hidden ReLU layers; ``()`` gives mean-field Bayesian linear regression.
    estimator : {"flipout", "reparameterization"}, default "flipout"
    prior : {"normal", "scale_mixture"}, default "normal"
    prior_scale : float, default 1.0
        Standard deviation of the Normal prior on every weight and bias (inputs and targets are
        standardised inside the model, so 1 is a unit-scale prior).
    mixture_scales : tuple of float, default (1.0, 0.0025)
        (s1, s2) of the scale-mixture prior (Blundell et al. use s2 = exp(-6)).
    mixture_weight : float, default 0.5
        pi of the scale-mixture prior.
    noise : {"heteroscedastic", "homoscedastic", "fixed"}, default "heteroscedastic"
        The net predicts the noise scale per input, or learns one scale, or uses ``noise_std``.
    noise_std : float or None
        Known noise standard deviation in target units, for ``noise="fixed"``.
    posterior_init_std : float, default 0.01
        Initial posterior standard deviation of every weight.
    kl_scale : float or None, default None
        Factor on the KL in the per-point loss. None: 1 / n_train, the correct ELBO. Anything
        else is for experiments (1.0 leaves the KL unscaled against a per-point likelihood and
        makes the net collapse to its prior; the fit then warns).
    kl_warmup_epochs : int, default 0
        Linearly raise the KL weight from 1/warmup to 1 over this many epochs.
    learning_rate, optimizer, momentum, clipnorm : optimiser settings ("adam" or "sgd").
    epochs, batch_size : int
    adaptive_batch_size : bool, default False
        Double the batch size whenever the epoch's gradient SNR falls below ``snr_threshold``
        (up to ``max_batch_size``).
    snr_threshold : float, default 0.05
        Threshold on ||mean gradient||^2 / total gradient variance over the epoch's minibatches.
    max_batch_size : int, default 1024
    n_passes : int, default 100
        Weight samples S used by ``predict_dist`` (one stochastic pass per sample; the name
        :class:`~bdl.models.MCDropoutRegressor` uses for the same thing).
    validation_fraction : float, default 0.1
        Rows held out for early stopping on validation NLL (0: no early stopping).
    patience : int, default 30
    min_scale : float, default 1e-3
        Floor of the predicted noise scale (standardised units).
    warm_start : bool, default False
        When True and the model is already fitted, ``fit`` continues from the fitted weights
        instead of a new random initialisation (scikit-learn's meaning), e.g. when a campaign
        round adds a few measurements. The input and target scaling of the first (cold) fit is
        kept, because the weights are only meaningful in those standardised units; the optimiser
        state restarts and KL warm-up is skipped (the posterior is already trained). The data must have the same feature columns and the settings the
        same architecture, else InputError. Lower ``epochs`` with ``set_params`` for a short
        refresh. Deterministic under ``random_state``.
    random_state : int or None
    progress : bool or None

    Attributes
    ----------
    trace_ : DataFrame
        Per-epoch trace from :func:`bdl.models.svi.fit_svi` (ELBO, expected log-likelihood,
        KL, gradient SNR, validation NLL and RMSE, batch size).
    best_epoch_ : int
    underfitting_ : dict
        The variational-underfitting diagnosis of the fit (see
        :func:`bdl.models.svi.diagnose_underfitting`).
    """

    predictive_kind = "samples"

    def __init__(
        self,
        hidden_units: tuple[int, ...] = (128, 64),
        estimator: str = "flipout",
        prior: str = "normal",
        prior_scale: float = 1.0,
        mixture_scales: tuple[float, float] = (1.0, 0.0025),
        mixture_weight: float = 0.5,
        noise: str = "heteroscedastic",
        noise_std: float | None = None,
        posterior_init_std: float = 0.01,
        kl_scale: float | None = None,
        kl_warmup_epochs: int = 0,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        clipnorm: float | None = None,
        epochs: int = 300,
        batch_size: int = 64,
        adaptive_batch_size: bool = False,
        snr_threshold: float = 0.05,
        max_batch_size: int = 1024,
        n_passes: int = 100,
        validation_fraction: float = 0.1,
        patience: int = 30,
        min_scale: float = 1e-3,
        warm_start: bool = False,
        random_state: int | None = None,
        progress: bool | None = None,
        n_samples: int | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.estimator = estimator
        self.prior = prior
        self.prior_scale = prior_scale
        self.mixture_scales = mixture_scales
        self.mixture_weight = mixture_weight
        self.noise = noise
        self.noise_std = noise_std
        self.posterior_init_std = posterior_init_std
        self.kl_scale = kl_scale
        self.kl_warmup_epochs = kl_warmup_epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.momentum = momentum
        self.clipnorm = clipnorm
        self.epochs = epochs
        self.batch_size = batch_size
        self.adaptive_batch_size = adaptive_batch_size
        self.snr_threshold = snr_threshold
        self.max_batch_size = max_batch_size
        self.n_passes = n_passes
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_scale = min_scale
        self.warm_start = warm_start
        self.random_state = random_state
        self.progress = progress
        self.n_samples = n_samples

    @property
    def _passes(self) -> int:
        """The number of weight samples: ``n_passes``, or the deprecated ``n_samples`` if set."""
        if self.n_samples is not None:
            _warn_n_samples()
            return self.n_samples
        return self.n_passes

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        self._check_network_params(allow_linear=True)
        if self.noise == "fixed" and (self.noise_std is None or self.noise_std <= 0):
            raise InputError("noise='fixed' needs a positive noise_std (in target units).")
        if self.estimator not in _ESTIMATORS:
            raise InputError(f"estimator must be one of {_ESTIMATORS}, got {self.estimator!r}.")
        if self.prior not in _PRIORS:
            raise InputError(f"prior must be one of {_PRIORS}, got {self.prior!r}.")
        if self.noise not in _NOISES:
            raise InputError(f"noise must be one of {_NOISES}, got {self.noise!r}.")
        if self.prior_scale <= 0 or min(self.mixture_scales) <= 0 or not 0 < self.mixture_weight < 1:
            raise InputError("prior_scale and mixture_scales must be positive and mixture_weight in (0, 1).")
        if self.posterior_init_std <= 0 or self.min_scale <= 0:
            raise InputError("posterior_init_std and min_scale must be positive.")
        if self._passes < 1:
            raise InputError(f"n_passes must be a positive integer, got {self._passes!r}.")

    # ------------------------------------------------------------------ variables
    def _layer_sizes(self, n_in: int) -> list[int]:
        n_out = 2 if self.noise == "heteroscedastic" else 1
        return [n_in, *map(int, self.hidden_units), n_out]

    def _init_arrays(self, n_in: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        rho = _inv_softplus(self.posterior_init_std)
        arrays: dict[str, np.ndarray] = {}
        sizes = self._layer_sizes(n_in)
        for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            limit = math.sqrt(6.0 / (a + b))
            arrays[f"l{layer}_w_loc"] = rng.uniform(-limit, limit, size=(a, b)).astype(np.float32)
            arrays[f"l{layer}_w_rho"] = np.full((a, b), rho, dtype=np.float32)
            arrays[f"l{layer}_b_loc"] = np.zeros(b, dtype=np.float32)
            arrays[f"l{layer}_b_rho"] = np.full(b, rho, dtype=np.float32)
        if self.noise == "homoscedastic":
            arrays["noise_rho"] = np.array(_inv_softplus(0.5), dtype=np.float32)
        return arrays

    def _build(self, arrays: dict[str, np.ndarray]) -> None:
        from bdl.models._tf import tf

        self._names = sorted(arrays)
        self._v = {k: tf.Variable(arrays[k], trainable=True, name=k.replace("/", "_")) for k in self._names}
        self._n_layers = sum(1 for k in self._names if k.endswith("_w_loc"))
        self._predict_fn = None

    @property
    def trainable_variables(self) -> list[Any]:
        return [self._v[k] for k in self._names]

    # ------------------------------------------------------------------ maths
    def _sigma(self, rho: Any) -> Any:
        from bdl.models._tf import tf

        return tf.nn.softplus(rho) + 1e-6

    def _kl_closed_form(self) -> Any:
        """Sum of KL(N(mu, s^2) || N(0, p^2)) over all weights and biases."""
        from bdl.models._tf import tf

        p = float(self.prior_scale)
        total = tf.constant(0.0)
        for layer in range(self._n_layers):
            for part in ("w", "b"):
                mu = self._v[f"l{layer}_{part}_loc"]
                s = self._sigma(self._v[f"l{layer}_{part}_rho"])
                total += tf.reduce_sum(math.log(p) - tf.math.log(s) + (tf.square(s) + tf.square(mu)) / (2 * p * p) - 0.5)
        return total

    def _log_prior(self, w: Any) -> Any:
        """Log prior density of a parameter sample, summed (Normal or scale mixture)."""
        from bdl.models._tf import tf, tfd

        if self.prior == "normal":
            return tf.reduce_sum(tfd.Normal(0.0, float(self.prior_scale)).log_prob(w))
        s1, s2 = (float(s) for s in self.mixture_scales)
        pi = float(self.mixture_weight)
        lp1 = tfd.Normal(0.0, s1).log_prob(w) + math.log(pi)
        lp2 = tfd.Normal(0.0, s2).log_prob(w) + math.log(1 - pi)
        return tf.reduce_sum(tf.reduce_logsumexp(tf.stack([lp1, lp2]), axis=0))

    def _kl_sampled(self, samples: dict[str, Any]) -> Any:
        """Monte Carlo KL: log q(w) - log p(w) at one posterior sample per parameter."""
        from bdl.models._tf import tf, tfd

        total = tf.constant(0.0)
        for key, w in samples.items():
            mu = self._v[f"{key}_loc"]
            s = self._sigma(self._v[f"{key}_rho"])
            total += tf.reduce_sum(tfd.Normal(mu, s).log_prob(w)) - self._log_prior(w)
        return total

    def _sample_params(self, seed: Any) -> dict[str, Any]:
        from bdl.models._tf import tf

        out = {}
        k = 0
        for layer in range(self._n_layers):
            for part in ("w", "b"):
                key = f"l{layer}_{part}"
                mu, rho = self._v[f"{key}_loc"], self._v[f"{key}_rho"]
                eps = tf.random.stateless_normal(tf.shape(mu), seed=seed + [0, 1 + k])
                out[key] = mu + self._sigma(rho) * eps
                k += 1
        return out

    def _head(self, out: Any) -> tuple[Any, Any]:
        from bdl.models._tf import tf

        mu = out[..., 0]
        if self.noise == "heteroscedastic":
            scale = tf.nn.softplus(out[..., 1]) + self.min_scale
        elif self.noise == "fixed":
            scale = tf.ones_like(mu) * float(self.noise_std / self.y_scale_)
        else:
            scale = tf.ones_like(mu) * (tf.nn.softplus(self._v["noise_rho"]) + self.min_scale)
        return mu, scale

    def elbo_terms(self, x: Any, y: Any, seed: Any) -> tuple[Any, Any]:
        """Mean log-likelihood of the minibatch under one stochastic pass, and the KL."""
        from bdl.models._tf import tf

        h = x
        samples = None
        if self.estimator == "reparameterization" or self.prior == "scale_mixture":
            samples = self._sample_params(seed + [1, 0])
        batch = tf.shape(x)[0]
        for layer in range(self._n_layers):
            key = f"l{layer}"
            if self.estimator == "reparameterization":
                h = tf.matmul(h, samples[f"{key}_w"]) + samples[f"{key}_b"]
            else:
                w_mu, w_rho = self._v[f"{key}_w_loc"], self._v[f"{key}_w_rho"]
                n_in, n_out = tf.shape(w_mu)[0], tf.shape(w_mu)[1]
                s_in = tf.sign(tf.random.stateless_uniform([batch, n_in], seed=seed + [2, 3 * layer]) - 0.5)
                s_out = tf.sign(tf.random.stateless_uniform([batch, n_out], seed=seed + [2, 3 * layer + 1]) - 0.5)
                eps = tf.random.stateless_normal(tf.shape(w_mu), seed=seed + [2, 3 * layer + 2])
                delta = self._sigma(w_rho) * eps
                b_eps = tf.random.stateless_normal(tf.shape(self._v[f"{key}_b_loc"]), seed=seed + [3, layer])
                b = self._v[f"{key}_b_loc"] + self._sigma(self._v[f"{key}_b_rho"]) * b_eps
                h = tf.matmul(h, w_mu) + tf.matmul(h * s_in, delta) * s_out + b
            if layer < self._n_layers - 1:
                h = tf.nn.relu(h)
        mu, scale = self._head(h)
        loglik = tf.reduce_mean(-tf.math.log(scale) - 0.5 * tf.square((y - mu) / scale)) - 0.5 * math.log(2 * math.pi)
        if self.prior == "normal":
            kl = self._kl_closed_form()
        else:
            kl = self._kl_sampled(samples)
        return loglik, kl

    def _pass_layers(self, seed: Any, n_passes: Any) -> list[tuple[Any, Any]]:
        """S posterior weight samples as :func:`bdl.models._tf.stacked_forward` layers.

        Drawn once per prediction call and shared by every candidate, so the S passes are joint
        function samples and a row's numbers do not depend on the chunk it is computed in.

        Returns
        -------
        list of (W, b)
            W of shape (S, a, b), b of shape (S, b).
        """
        from bdl.models._tf import tf

        layers = []
        for layer in range(self._n_layers):
            pair = []
            for j, part in enumerate(("w", "b")):
                loc = self._v[f"l{layer}_{part}_loc"]
                eps = tf.random.stateless_normal(
                    tf.concat([[n_passes], tf.shape(loc)], 0), seed=seed + [0, 2 * layer + 1 + j]
                )
                pair.append(loc[None] + self._sigma(self._v[f"l{layer}_{part}_rho"])[None] * eps)
            layers.append((pair[0], pair[1]))
        return layers

    def _chunk_passes(self, x: Any, layers: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """x of shape (m, d) through the S sampled networks -> mu, scale of shape (m, S).

        The first layer is a product of the shared x with the stack of S sampled matrices, the
        others batched products over the samples, all in float32.
        """
        from bdl.models._tf import stacked_forward, tf

        mu, scale = self._head(stacked_forward(x, layers))
        return tf.transpose(mu), tf.transpose(scale)

    def _compiled(self) -> tuple[Any, Any]:
        """Compiled (weights, chunk) functions, traced once per model (pass and row axes open)."""
        from bdl.models._tf import layer_specs, tf

        if getattr(self, "_predict_fn", None) is None:
            weights_fn = tf.function(
                self._pass_layers,
                input_signature=[tf.TensorSpec([2], tf.int64), tf.TensorSpec([], tf.int32)],
            )
            d = int(self._v["l0_w_loc"].shape[0])
            specs = layer_specs(weights_fn.get_concrete_function().structured_outputs)
            chunk_fn = tf.function(self._chunk_passes, input_signature=[tf.TensorSpec([None, d], tf.float32), specs])
            self._predict_fn = (weights_fn, chunk_fn)
        return self._predict_fn

    def mc_predict(self, x: np.ndarray, n_passes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """mu, scale of shape (n, S) in standardised units, computed in row chunks."""
        from bdl.models._tf import chunk_rows, run_passes_in_chunks, tf

        weights_fn, chunk_fn = self._compiled()
        layers = weights_fn(tf.constant([seed, 0], tf.int64), tf.constant(n_passes, tf.int32))
        chunk = chunk_rows(n_passes, [2, *map(int, self.hidden_units)], _MAX_ACTIVATIONS_VARIATIONAL)
        return run_passes_in_chunks(chunk_fn, np.asarray(x, np.float32), layers, n_passes, chunk)

    # ------------------------------------------------------------------ public API
    def fit(self, X: Any, y: Any, *, strategy: Any = None) -> VariationalBNN:
        """Maximise the ELBO on X of shape (n_samples, n_features) and y of shape (n_samples,).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        strategy : tf.distribute.Strategy, optional
            Data-parallel training (see :meth:`MCDropoutRegressor.fit`); None: default placement.

        Returns
        -------
        self
        """
        self._check_params()
        warm = bool(self.warm_start) and self._is_fitted()  # a warm fit skips the KL warm-up
        Xs, ys, rng, build = self._start_fit(X, y, self._init_arrays)
        tr_idx = self._fit_engine(
            Xs,
            ys,
            rng,
            build,
            strategy=strategy,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            optimizer=self.optimizer,
            learning_rate=float(self.learning_rate),
            momentum=float(self.momentum),
            clipnorm=self.clipnorm,
            kl_scale=self.kl_scale,
            kl_warmup_epochs=0 if warm else int(self.kl_warmup_epochs),
            adaptive_batch_size=bool(self.adaptive_batch_size),
            snr_threshold=float(self.snr_threshold),
            max_batch_size=int(self.max_batch_size),
            patience=int(self.patience),
            progress=self.progress,
        )
        self._predict_seed = int(rng.integers(2**31))
        probe = Xs[tr_idx[: min(len(tr_idx), 2000)]]
        mu, _ = self.mc_predict(probe, 20, self._predict_seed)
        spread = float(mu.mean(axis=1).std() / max(ys[tr_idx[: len(probe)]].std(), 1e-12))
        self.underfitting_ = diagnose_underfitting(self.trace_, spread)
        warn_if_underfitting(self.underfitting_, type(self).__name__)
        return self

    def predict_dist(
        self, X: Any, n_passes: int | None = None, seed: int | None = None, *, n_samples: int | None = None
    ) -> SamplePredictive:
        """Predictive distribution: equal-weight mixture over S posterior weight samples.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples_X, n_features)
        n_passes : int, optional
            Weight samples S (default ``self.n_passes``).
        seed : int, optional
        n_samples : int, optional
            Deprecated alias of ``n_passes`` (warns).

        Returns
        -------
        SamplePredictive
            ``locs``, ``scales`` of shape (n_samples_X, S) in target units.
        """
        Xs = self._prepare_predict(X)
        if n_samples is not None:
            _warn_n_samples()
            if n_passes is None:
                n_passes = n_samples
        S = int(self._passes if n_passes is None else n_passes)
        if S < 1:
            raise InputError(f"n_passes must be a positive integer, got {n_passes!r}.")
        mu, sc = self.mc_predict(Xs, S, self._predict_seed if seed is None else int(seed))
        return SamplePredictive(mu * self.y_scale_ + self.y_mean_, sc * self.y_scale_)

    def posterior(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Posterior means and standard deviations per parameter, in standardised units."""
        self._check_fitted()
        out = {}
        for k in self._names:
            if k.endswith("_loc"):
                base = k[: -len("_loc")]
                out[base] = (self._v[k].numpy(), self._sigma(self._v[f"{base}_rho"]).numpy())
        return out

    # ------------------------------------------------------------------ persistence hooks
    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {k: self._v[k].numpy() for k in self._names}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._build(arrays)

    def _get_extra(self) -> dict[str, Any]:
        return {"predict_seed": self._predict_seed, "best_epoch": self.best_epoch_}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        self._predict_seed = int(extra["predict_seed"])
        self.best_epoch_ = int(extra["best_epoch"])

