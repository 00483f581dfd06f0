"""Gold standards: exact Bayesian linear regression and NUTS, against the approximations."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bdl.models import BayesianLinearRegression, HMCRegressor, MCDropoutRegressor, VariationalBNN


def _correlated_linear(n=100, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    X = np.column_stack([z + 0.3 * rng.normal(size=n), z + 0.3 * rng.normal(size=n)])
    y = X @ np.array([1.0, -0.5]) + rng.normal(size=n)
    # standardise exactly so the models' internal scaling is the identity
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


def test_exact_posterior_matches_textbook_formula_and_predictive_split():
    X, y = _correlated_linear()
    m = BayesianLinearRegression(prior_scale=1.0, noise_std=0.8).fit(X, y)
    phi = np.column_stack([X, np.ones(len(X))])
    A = np.eye(3) + phi.T @ phi / 0.8**2
    np.testing.assert_allclose(m.coef_cov_, np.linalg.inv(A), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m.coef_mean_, np.linalg.solve(A, phi.T @ y) / 0.8**2, rtol=1e-10, atol=1e-14)
    d = m.predict_dist(X[:5])
    np.testing.assert_allclose(d.aleatoric_variance, 0.8**2, rtol=1e-10)
    # evidence maximisation recovers the noise level of data with known noise
    rng = np.random.default_rng(1)
    Xb = rng.normal(size=(2000, 3))
    yb = Xb @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=2000) * 0.5
    assert BayesianLinearRegression().fit(Xb, yb).noise_std_ == pytest.approx(0.5, rel=0.05)


def test_mean_field_vi_recovers_means_drops_correlation_and_understates_variance():
    X, y = _correlated_linear()
    exact = BayesianLinearRegression(prior_scale=1.0, noise_std=0.8).fit(X, y)
    vi = VariationalBNN(hidden_units=(), noise="fixed", noise_std=0.8, prior_scale=1.0, estimator="reparameterization",
                        epochs=800, batch_size=100, learning_rate=2e-2, posterior_init_std=0.05,
                        validation_fraction=0, random_state=0, progress=False).fit(X, y)
    post = vi.posterior()
    vi_mean = np.r_[post["l0_w"][0].ravel(), post["l0_b"][0]]
    vi_sd = np.r_[post["l0_w"][1].ravel(), post["l0_b"][1]]
    exact_sd = np.sqrt(np.diag(exact.coef_cov_))
    corr = exact.coef_cov_[0, 1] / (exact_sd[0] * exact_sd[1])
    # 1. means: within a quarter of an exact posterior standard deviation
    assert np.all(np.abs(vi_mean - exact.coef_mean_) < 0.25 * exact_sd)
    # 2. the exact posterior has a strong correlation that a mean-field q cannot carry
    assert corr < -0.8
    # 3. marginal sds shrink to the mean-field optimum 1/sqrt(diag(precision)), far below the truth
    mf_optimum = 1 / np.sqrt(np.diag(np.linalg.inv(exact.coef_cov_)))
    np.testing.assert_allclose(vi_sd, mf_optimum, rtol=0.2)
    assert np.all(vi_sd[:2] < 0.6 * exact_sd[:2])


def test_nuts_posterior_predicts_well_and_amortised_prediction_is_far_cheaper():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(80, 1))
    y = np.sin(2 * X[:, 0]) + rng.normal(size=80) * 0.1
    t0 = time.perf_counter()
    hmc = HMCRegressor(hidden_units=8, n_samples=100, n_burnin=150, n_chains=2, random_state=0).fit(X, y)
    X_new = np.linspace(-1.5, 1.5, 200)[:, None]
    hmc_pred = hmc.predict_dist(X_new)
    hmc_seconds = time.perf_counter() - t0
    assert 0.4 < hmc.accept_rate_ <= 1.0
    assert np.sqrt(np.mean((hmc_pred.mean - np.sin(2 * X_new[:, 0])) ** 2)) < 0.25

    net = MCDropoutRegressor(hidden_units=(32, 32), epochs=150, n_passes=100, random_state=0, progress=False).fit(X, y)
    net.predict_dist(X_new)  # trace once
    t0 = time.perf_counter()
    net.predict_dist(X_new)
    amortised_seconds = time.perf_counter() - t0
    # per new input: the sampler's run (what answering from scratch costs) vs one batched pass
    ratio = hmc_seconds / amortised_seconds
    assert ratio > 100, f"HMC {hmc_seconds:.2f} s vs amortised {amortised_seconds * 1e3:.2f} ms"
