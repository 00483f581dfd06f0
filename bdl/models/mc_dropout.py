"""Monte Carlo dropout regressor with a heteroscedastic head.

Gal & Ghahramani, "Dropout as a Bayesian approximation", ICML 2016; Kendall & Gal, "What
uncertainties do we need in Bayesian deep learning for computer vision?", NeurIPS 2017 (the
mean + aleatoric-scale head trained on the Gaussian negative log-likelihood).

At prediction time the network is run with dropout switched on for ``n_passes`` stochastic
passes. A pass is one sampled network: its dropout masks are drawn once and shared by every
candidate, so the T passes are joint function samples (what Thompson sampling and batch
acquisition need) and each candidate's marginal is the same as with per-candidate masks. A mask
on a layer's inputs is a mask on the rows of its weight matrix, so the first layer X W_1 is
computed once for all passes (unless ``input_dropout``) and every later layer is one batched
float32 matrix product over the T masked weight matrices, in row chunks, with no Python loop
over passes and no retracing between calls. Each pass gives a Gaussian N(mu_t, sigma_t^2); the predictive is the
equal-weight mixture of these Gaussians (:class:`bdl.predictive.SamplePredictive`), whose
variance splits by the law of total variance into epistemic (spread of the mu_t) and
aleatoric (mean of the sigma_t^2) parts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import _MAX_ACTIVATIONS_MC_DROPOUT, BayesianRegressor, register
from bdl.predictive import SamplePredictive

__all__ = ["MCDropoutRegressor"]


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
    warm_start : bool, default False
        When True and the model is already fitted, ``fit`` continues from the fitted weights
        instead of a new random initialisation (scikit-learn's meaning), e.g. when a campaign
        round adds a few measurements. The input and target scaling of the first (cold) fit is
        kept, because the weights are only meaningful in those standardised units; the optimiser
        state restarts. The data must have the same feature columns and the settings the
        same architecture, else InputError. Lower ``epochs`` with ``set_params`` for a short
        refresh. Deterministic under ``random_state``.
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
        warm_start: bool = False,
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
        self.warm_start = warm_start
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

    def _pass_layers(self, seed: Any, n_passes: Any) -> list[tuple[Any, Any]]:
        """The T sampled networks of one prediction call, as :func:`stacked_forward` layers.

        A pass is one sampled network: its dropout mask is drawn once per pass and shared by
        every candidate (Gal & Ghahramani's MC dropout samples weights, and a mask on a layer's
        input units is a mask on the rows of its weight matrix). Each candidate's marginal
        predictive is the same as with independent masks per candidate, and across candidates
        the T passes are proper joint function samples, which Thompson sampling and batch
        acquisition need. Dropping the input units of layer l zeroes rows of W_l, so the masked
        weights diag(m_t) W_l / (1 - p) of all passes form one (T, a, b) stack and every layer
        after the first becomes one batched matrix product; the first layer is shared by all
        passes (computed once) unless ``input_dropout`` is on.

        Returns
        -------
        list of (W, b)
            W of shape (T, a, b) for dropped layers, (a, b) otherwise; b of shape (b,).
        """
        from bdl.models._tf import tf

        p = float(self.dropout_rate)
        layers = []
        for layer in range(len(self._vars) // 2):
            w, b = self._vars[2 * layer], self._vars[2 * layer + 1]
            if p > 0 and (layer > 0 or self.input_dropout):
                shape = tf.stack([n_passes, tf.shape(w)[0]])
                keep = tf.random.stateless_uniform(shape, seed=seed + [0, 1 + layer]) >= p
                w = tf.where(keep[:, :, None], w[None] * (1.0 / (1.0 - p)), 0.0)
            else:
                w = tf.convert_to_tensor(w)
            layers.append((w, tf.convert_to_tensor(b)))
        if all(w.shape.rank == 2 for w, _ in layers):
            # dropout_rate 0: all passes are one network; give the small output layer the
            # pass axis so the result still has T columns
            w = layers[-1][0]
            layers[-1] = (tf.broadcast_to(w[None], tf.concat([[n_passes], tf.shape(w)], 0)), layers[-1][1])
        return layers

    def _chunk_passes(self, x: Any, layers: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """x of shape (m, d) through the T sampled networks -> mu, scale of shape (m, T)."""
        from bdl.models._tf import stacked_forward, tf

        mu, scale = self._head(stacked_forward(x, layers))
        return tf.transpose(mu), tf.transpose(scale)

    def _compiled(self) -> tuple[Any, Any]:
        """The two compiled functions of prediction, traced once per model: the pass weights
        (seed, T) and the chunk function (x, weights) with the pass and row axes left open."""
        from bdl.models._tf import layer_specs, tf

        if getattr(self, "_predict_fn", None) is None:
            weights_fn = tf.function(
                self._pass_layers,
                input_signature=[tf.TensorSpec([2], tf.int64), tf.TensorSpec([], tf.int32)],
            )
            d = int(self._vars[0].shape[0])
            specs = layer_specs(weights_fn.get_concrete_function().structured_outputs)
            chunk_fn = tf.function(self._chunk_passes, input_signature=[tf.TensorSpec([None, d], tf.float32), specs])
            self._predict_fn = (weights_fn, chunk_fn)
        return self._predict_fn

    def _passes_standardised(self, Xs: np.ndarray, n_passes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """mu, scale of shape (n, T) in standardised target units, computed in row chunks.

        The pass weights (masks) are drawn once from ``seed`` for the whole call, so a row's
        numbers do not depend on how the rows are chunked or split across workers.
        """
        from bdl.models._tf import chunk_rows, run_passes_in_chunks, tf

        weights_fn, chunk_fn = self._compiled()
        layers = weights_fn(tf.constant([seed, 0], tf.int64), tf.constant(n_passes, tf.int32))
        chunk = chunk_rows(n_passes, [int(u) for u in self.hidden_units], _MAX_ACTIVATIONS_MC_DROPOUT)
        return run_passes_in_chunks(chunk_fn, np.asarray(Xs, np.float32), layers, n_passes, chunk)

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

    def mc_predict(self, x: np.ndarray, n_passes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """mu, scale of shape (n, T) in standardised units (the engine's prediction hook)."""
        return self._passes_standardised(x, n_passes, seed)

    def fit(self, X: Any, y: Any, *, strategy: Any = None) -> MCDropoutRegressor:
        """Train on features X of shape (n_samples, n_features) and targets y of shape (n_samples,).

        Uses the shared minibatch engine :func:`bdl.models.svi.fit_svi` (Adam/SGD, early stopping
        on validation NLL with the best weights kept, per-epoch trace, progress bar).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        strategy : tf.distribute.Strategy, optional
            Data-parallel training, e.g. ``tf.distribute.MirroredStrategy()`` over the local
            GPUs; each batch is split across the replicas. None (default): TensorFlow places the
            work itself (on a GPU when it sees one). Create one strategy per process and reuse
            it for every fit (two MirroredStrategy objects in one process can clash on their
            collective-op keys in TensorFlow 2.21).

        Returns
        -------
        self
        """
        self._check_params()
        Xs, ys, rng, build = self._start_fit(X, y, self._init_weights)
        self._fit_engine(
            Xs,
            ys,
            rng,
            build,
            strategy=strategy,
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

    @classmethod
    def from_population(
        cls,
        weights: Any,
        member: int,
        *,
        x_mean: Any,
        x_scale: Any,
        y_mean: float,
        y_scale: float,
        noise_std: float,
        n_train: int | None = None,
        n_passes: int = 100,
        random_state: int | None = None,
    ) -> MCDropoutRegressor:
        """A fitted model from one member of a population trained by the batched engine.

        :func:`bdl.models._population.train_population` trains P of Gal and Ghahramani's
        one-hidden-layer nets together in one graph (the engine of ``bdl bench uci``); this
        turns member ``member`` into the :class:`MCDropoutRegressor` a user gets -- hidden
        units ``(n_hidden,)``, dropout on the inputs and the hidden units
        (``input_dropout=True``), fixed noise ``noise_std`` -- so that the benchmark scores
        through this class's ``predict_dist``.

        Parameters
        ----------
        weights : bdl.models._population.PopulationWeights
        member : int
            Which of the P members.
        x_mean, x_scale : array_like of shape (n_features,)
            The standardisation the member was trained in (``X_std = (X - x_mean) / x_scale``).
        y_mean, y_scale : float
            Likewise for the target.
        noise_std : float
            Standard deviation of the per-pass Gaussians in target units (Gal's ``tau**-0.5``).
        n_train : int, optional
            Number of training rows (kept for the weight-decay reading of ``elbo_terms``).
        n_passes : int, default 100
        random_state : int, optional
            Seeds the default prediction seed.

        Returns
        -------
        MCDropoutRegressor
            Fitted: ``predict_dist`` works at once.
        """
        i = int(member)
        if not 0 <= i < weights.n_members:
            raise InputError(f"member must be in [0, {weights.n_members}), got {member!r}.")
        model = cls(
            hidden_units=(int(weights.W0.shape[2]),),
            dropout_rate=float(weights.dropout_rate[i]),
            input_dropout=True,
            noise="fixed",
            noise_std=float(noise_std),
            n_passes=n_passes,
            random_state=random_state,
            progress=False,
        )
        model._check_params()
        d = int(weights.W0.shape[1])
        model.feature_names_in_ = None
        model.n_features_in_ = d
        model.x_mean_ = np.asarray(x_mean, dtype=np.float64).reshape(d)
        model.x_scale_ = np.asarray(x_scale, dtype=np.float64).reshape(d)
        model.y_mean_ = float(y_mean)
        model.y_scale_ = float(y_scale)
        model._n_train = float(n_train) if n_train is not None else float("nan")
        f32 = np.float32
        model._build([
            np.asarray(weights.W0[i], f32), np.asarray(weights.b0[i], f32),
            np.asarray(weights.W1[i], f32)[:, None], np.asarray([weights.b1[i]], f32),
        ])
        model.best_epoch_ = -1  # trained by the population engine, which has no early stopping
        model._predict_seed = int(np.random.default_rng(random_state).integers(2**31))
        return model

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

