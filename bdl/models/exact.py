"""Gold standards for small problems: exact Bayesian linear regression and HMC/NUTS for a tiny BNN.

These exist to check the approximate methods against the truth: mean-field VI recovers the
exact posterior means of a linear-Gaussian model but not its correlations, and under-states
its marginal variances (Bishop, "Pattern Recognition and Machine Learning", sections 3.3 and
10.1.2; MacKay 2003, section 33.2); and sampling a posterior with Hamiltonian Monte Carlo
(Neal 2011; the No-U-Turn sampler of Hoffman & Gelman 2014, from ``tfp.mcmc``) is exact but
costs a full sampling run where an amortised network answers a new input in one pass.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import BayesianRegressor, register
from bdl.predictive import GaussianPredictive, SamplePredictive

__all__ = ["BayesianLinearRegression", "HMCRegressor"]


@register
class BayesianLinearRegression(BayesianRegressor):
    """Exact conjugate Bayesian linear regression with a Gaussian prior and Gaussian noise.

    Model, on standardised inputs and targets: y = x^T w + b + eps, eps ~ N(0, s^2), with
    independent N(0, prior_scale^2) priors on w and b. The posterior over (w, b) is Gaussian with
    precision A = I / prior_scale^2 + Phi^T Phi / s^2 and mean A^-1 Phi^T y / s^2.

    Parameters
    ----------
    prior_scale : float, default 1.0
    noise_std : float or None, default None
        Noise standard deviation in target units. None: chosen by maximising the marginal
        likelihood (type-II maximum likelihood, MacKay's fixed-point updates).

    Attributes
    ----------
    coef_mean_, coef_cov_ : ndarray of shape (d + 1,) and (d + 1, d + 1)
        Posterior mean and covariance of (w, b) in standardised units (bias last).
    noise_std_ : float
        Noise standard deviation in target units.
    """

    predictive_kind = "gaussian"
    _input_dtype = np.float64

    def __init__(self, prior_scale: float = 1.0, noise_std: float | None = None) -> None:
        self.prior_scale = prior_scale
        self.noise_std = noise_std

    @staticmethod
    def _design(Xs: np.ndarray) -> np.ndarray:
        return np.column_stack([Xs.astype(np.float64), np.ones(len(Xs))])

    def fit(self, X: Any, y: Any) -> BayesianLinearRegression:
        """Compute the exact posterior for X of shape (n, d) and y of shape (n,)."""
        if self.prior_scale <= 0 or (self.noise_std is not None and self.noise_std <= 0):
            raise InputError("prior_scale and noise_std must be positive.")
        Xs, ys = self._prepare_fit(X, y)
        phi, t = self._design(Xs), ys.astype(np.float64)
        alpha = 1.0 / self.prior_scale**2
        if self.noise_std is not None:
            beta = (self.y_scale_ / self.noise_std) ** 2
        else:
            beta = 1.0
            eig = np.linalg.eigvalsh(phi.T @ phi)
            for _ in range(200):
                A = alpha * np.eye(phi.shape[1]) + beta * phi.T @ phi
                m = beta * np.linalg.solve(A, phi.T @ t)
                gamma = float(np.sum(beta * eig / (alpha + beta * eig)))
                new_beta = max(len(t) - gamma, 1e-6) / max(float(np.sum((t - phi @ m) ** 2)), 1e-12)
                if abs(new_beta - beta) < 1e-10 * beta:
                    beta = new_beta
                    break
                beta = new_beta
        A = alpha * np.eye(phi.shape[1]) + beta * phi.T @ phi
        self.coef_cov_ = np.linalg.inv(A)
        self.coef_mean_ = beta * self.coef_cov_ @ phi.T @ t
        self.noise_std_ = float(self.y_scale_ / math.sqrt(beta))
        return self

    def predict_dist(self, X: Any) -> GaussianPredictive:
        """Exact Gaussian predictive; epistemic variance = x^T Sigma x, aleatoric = noise."""
        phi = self._design(self._prepare_predict(X))
        mean = phi @ self.coef_mean_
        epi = np.einsum("ij,jk,ik->i", phi, self.coef_cov_, phi) * self.y_scale_**2
        total = epi + self.noise_std_**2
        return GaussianPredictive(mean * self.y_scale_ + self.y_mean_, np.sqrt(total), epistemic_variance=epi)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"coef_mean": self.coef_mean_, "coef_cov": self.coef_cov_, "noise_std": np.array(self.noise_std_)}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.coef_mean_, self.coef_cov_ = arrays["coef_mean"], arrays["coef_cov"]
        self.noise_std_ = float(arrays["noise_std"])


@register
class HMCRegressor(BayesianRegressor):
    """A tiny one-hidden-layer BNN sampled exactly with NUTS (``tfp.mcmc``).

    Prior N(0, prior_scale^2) on every weight and bias, a log-normal prior on the noise scale
    (homoscedastic), tanh hidden units. Meant for small problems (hundreds of points, tens of
    units) as a reference for the approximate methods.

    Parameters
    ----------
    hidden_units : int, default 10
    prior_scale : float, default 1.0
    n_samples : int, default 200
        Posterior samples kept (after ``n_burnin``), thinned from one chain.
    n_burnin : int, default 300
        Warm-up steps with dual-averaging step-size adaptation.
    n_chains : int, default 2
    max_tree_depth : int, default 6
    random_state : int or None

    Attributes
    ----------
    samples_ : dict of ndarray
        Posterior samples, each with leading dimension S = n_samples * n_chains.
    sampling_seconds_ : float
    accept_rate_ : float
        Mean NUTS acceptance probability after warm-up (dual averaging targets 0.75 or so).
    """

    predictive_kind = "samples"
    _input_dtype = np.float64

    def __init__(
        self,
        hidden_units: int = 10,
        prior_scale: float = 1.0,
        n_samples: int = 200,
        n_burnin: int = 300,
        n_chains: int = 2,
        max_tree_depth: int = 6,
        random_state: int | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.prior_scale = prior_scale
        self.n_samples = n_samples
        self.n_burnin = n_burnin
        self.n_chains = n_chains
        self.max_tree_depth = max_tree_depth
        self.random_state = random_state

    def _shapes(self, d: int) -> list[tuple[int, ...]]:
        h = int(self.hidden_units)
        return [(d, h), (h,), (h, 1), (1,), ()]

    def fit(self, X: Any, y: Any) -> HMCRegressor:
        """Run NUTS on X of shape (n, d) and y of shape (n,)."""
        from bdl.models._tf import tf, tfd, tfp

        if self.hidden_units < 1 or self.n_samples < 1 or self.n_chains < 1:
            raise InputError("hidden_units, n_samples and n_chains must be positive integers.")
        Xs, ys = self._prepare_fit(X, y)
        x = tf.constant(Xs, tf.float64)
        t = tf.constant(ys, tf.float64)
        p = float(self.prior_scale)
        shapes = self._shapes(Xs.shape[1])

        def log_post(w1: Any, b1: Any, w2: Any, b2: Any, log_s: Any) -> Any:
            # leading batch dimension: chains
            h = tf.tanh(tf.einsum("nd,cdh->cnh", x, w1) + b1[:, None, :])
            mu = tf.einsum("cnh,cho->cno", h, w2)[..., 0] + b2
            s = tf.exp(log_s)[:, None]
            ll = tf.reduce_sum(tfd.Normal(mu, s).log_prob(t[None, :]), axis=1)
            prior = sum(
                tf.reduce_sum(tfd.Normal(tf.constant(0.0, tf.float64), p).log_prob(v), axis=list(range(1, len(v.shape))))
                for v in (w1, b1, w2, b2)
            )
            prior += tfd.Normal(tf.constant(math.log(0.3), tf.float64), 1.0).log_prob(log_s)
            return ll + prior

        rng = np.random.default_rng(self.random_state)
        c = int(self.n_chains)
        init = [tf.constant(rng.normal(scale=0.3, size=(c, *s)), tf.float64) for s in shapes[:-1]]
        init.append(tf.constant(np.full(c, math.log(0.5)), tf.float64))
        kernel = tfp.mcmc.NoUTurnSampler(log_post, step_size=0.05, max_tree_depth=int(self.max_tree_depth))
        kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(kernel, num_adaptation_steps=int(0.8 * self.n_burnin))
        seed = tf.constant(rng.integers(2**31, size=2), tf.int32)

        @tf.function(autograph=False, jit_compile=False)
        def run() -> Any:
            return tfp.mcmc.sample_chain(
                num_results=int(self.n_samples),
                num_burnin_steps=int(self.n_burnin),
                current_state=init,
                kernel=kernel,
                trace_fn=lambda _, r: r.inner_results.log_accept_ratio,
                seed=seed,
            )

        t0 = time.perf_counter()
        states, log_accept = run()
        self.sampling_seconds_ = time.perf_counter() - t0
        names = ["w1", "b1", "w2", "b2", "log_noise"]
        self.samples_ = {
            n: s.numpy().reshape(-1, *s.shape[2:]) for n, s in zip(names, states)
        }  # (S*chains, ...)
        self.accept_rate_ = float(np.mean(np.exp(np.minimum(0.0, log_accept.numpy()))))
        return self

    def predict_dist(self, X: Any) -> SamplePredictive:
        """Mixture over the posterior samples of the per-sample Gaussians; (n, S) components."""
        Xs = self._prepare_predict(X).astype(np.float64)
        s = self.samples_
        h = np.tanh(np.einsum("nd,sdh->snh", Xs, s["w1"]) + s["b1"][:, None, :])
        mu = np.einsum("snh,sho->sno", h, s["w2"])[..., 0] + s["b2"]
        scale = np.broadcast_to(np.exp(s["log_noise"])[:, None], mu.shape)
        return SamplePredictive(mu.T * self.y_scale_ + self.y_mean_, scale.T * self.y_scale_)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.samples_)

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.samples_ = dict(arrays)
