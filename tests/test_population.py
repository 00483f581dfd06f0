"""The population trainer of Gal's MC-dropout net (bdl.models._population)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bdl.errors import InputError
from bdl.models._population import (
    gal_weight_decay,
    population_passes,
    population_scores,
    train_population,
)
from bdl.predictive import SamplePredictive


def _toy(P: int, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(P, n, 1))
    f = np.sin(2 * X[..., 0])
    return X, f + 0.1 * rng.normal(size=f.shape), f


@pytest.fixture(scope="module")
def trained():
    X, y, f = _toy(3)
    w = train_population(X, y, dropout_rate=[0.0, 0.01, 0.1], weight_decay=1e-6, learning_rate=1e-2,
                         epochs=300, seed=1)
    return X, y, f, w


def test_each_member_fits_the_noise_free_function(trained):
    X, _, f, w = trained
    grid = np.linspace(-1.8, 1.8, 50)[None, :, None].repeat(3, axis=0)
    truth = np.sin(2 * grid[..., 0])
    mean = np.concatenate(list(population_passes(w, grid, n_passes=200, seed=0)), axis=1).mean(axis=1)
    rmse = np.sqrt(np.mean((mean - truth) ** 2, axis=1))
    assert np.all(rmse < 0.15), rmse
    assert np.all(np.isfinite(w.final_loss))


def test_members_with_different_dropout_rates_differ(trained):
    X, _, _, w = trained
    passes = np.concatenate(list(population_passes(w, X[:, :40], n_passes=100, seed=3)), axis=1)
    spread = passes.std(axis=1).mean(axis=1)  # (P,)
    assert spread[0] == pytest.approx(0.0, abs=1e-6)  # p = 0: every pass is the same net
    assert 0 < spread[1] < spread[2]  # more dropout, more spread between passes


def test_members_are_independent_and_seeded():
    """Member 0 learns the same weights whatever the other members train on; the seed is threaded."""
    X, y, _ = _toy(2, n=150, seed=2)
    kw = dict(dropout_rate=0.05, weight_decay=1e-5, learning_rate=3e-3, epochs=10)
    a = train_population(X, y, seed=5, **kw)
    X2, y2 = X.copy(), y.copy()
    X2[1], y2[1] = -X2[1], 3 * y2[1] + 1
    b = train_population(X2, y2, seed=5, **kw)
    np.testing.assert_allclose(a.W0[0], b.W0[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.W1[0], b.W1[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a.W0[1], b.W0[1])
    c = train_population(X, y, seed=6, **kw)
    assert not np.allclose(a.W0[0], c.W0[0])
    np.testing.assert_array_equal(a.W0, train_population(X, y, seed=5, **kw).W0)


def test_scores_match_the_sample_predictive(trained):
    """Gal's streamed logsumexp log-likelihood equals the mixture of per-pass Gaussians."""
    X, y, _, w = trained
    Xs, ys = X[:, :30], y[:, :30]
    tau, y_mean, y_std = np.array([4.0, 25.0, 100.0]), 0.5, 2.0
    rmse, ll = population_scores(w, Xs, ys * y_std + y_mean, tau, y_mean, y_std, n_passes=64, seed=9)
    passes = np.concatenate(list(population_passes(w, Xs, 64, seed=9)), axis=1) * y_std + y_mean
    for i in range(3):
        pred = SamplePredictive(passes[i].T, np.full((30, 64), 1 / math.sqrt(tau[i])))
        yt = ys[i] * y_std + y_mean
        assert ll[i] == pytest.approx(np.mean(pred.log_prob(yt)), rel=1e-6)
        assert rmse[i] == pytest.approx(np.sqrt(np.mean((pred.mean - yt) ** 2)), rel=1e-6)
    # several taus per member score the same passes: column j equals a call with tau[:, j]
    taus = np.stack([tau, 2 * tau], axis=1)
    _, ll2 = population_scores(w, Xs, ys * y_std + y_mean, taus, y_mean, y_std, n_passes=64, seed=9)
    _, ll_b = population_scores(w, Xs, ys * y_std + y_mean, 2 * tau, y_mean, y_std, n_passes=64, seed=9)
    np.testing.assert_allclose(ll2, np.stack([ll, ll_b], axis=1), rtol=1e-10)


def test_gal_weight_decay_and_bad_input():
    assert gal_weight_decay(0.05, 0.5, 400) == pytest.approx(1e-4 * 0.95 / (2 * 400 * 0.5))
    X, y, _ = _toy(2, n=20)
    with pytest.raises(InputError, match="shape"):
        train_population(X[0], y, 0.1, 1e-4)
    with pytest.raises(InputError, match="dropout_rate"):
        train_population(X, y, [0.1, 1.0], 1e-4)
    with pytest.raises(InputError, match="one value per member"):
        train_population(X, y, 0.1, [1e-4, 1e-4, 1e-4])
    with pytest.raises(InputError, match="epochs"):
        train_population(X, y, 0.1, 1e-4, epochs=0)
    with pytest.raises(InputError, match="tau"):
        gal_weight_decay(0.1, 0.0, 10)


def test_a_member_becomes_the_mc_dropout_regressor_users_get(trained):
    """MCDropoutRegressor.from_population: member 0 (no dropout) predicts exactly what the
    population predicts; member 2 (p = 0.1) agrees in distribution (MC mean and spread)."""
    from bdl.models import MCDropoutRegressor

    X, _, _, w = trained
    grid = np.linspace(-1.8, 1.8, 40)[None, :, None].repeat(3, axis=0)
    passes = np.concatenate(list(population_passes(w, grid, n_passes=4000, seed=0)), axis=1)  # (P, T, m)
    # standardisation: identity, so target units are the population's standardised units
    for i in (0, 2):
        model = MCDropoutRegressor.from_population(
            w, i, x_mean=[0.0], x_scale=[1.0], y_mean=0.0, y_scale=1.0, noise_std=0.1, n_passes=4000
        )
        assert model.get_params()["input_dropout"] and model.hidden_units == (w.W0.shape[2],)
        dist = model.predict_dist(grid[i], seed=3)
        assert isinstance(dist, SamplePredictive) and dist.n_draws == 4000
        np.testing.assert_allclose(dist.scales, 0.1, rtol=1e-6)
        ref_mean, ref_sd = passes[i].mean(axis=0), passes[i].std(axis=0)
        if i == 0:
            np.testing.assert_allclose(dist.locs[:, 0], ref_mean, rtol=1e-4, atol=1e-5)
        else:
            se = ref_sd / math.sqrt(4000)
            assert np.all(np.abs(dist.mean - ref_mean) < 6 * np.sqrt(2) * se + 1e-6)
            np.testing.assert_allclose(dist.locs.std(axis=1), ref_sd, rtol=0.1, atol=1e-3)
    with pytest.raises(InputError, match="member"):
        MCDropoutRegressor.from_population(w, 3, x_mean=[0.0], x_scale=[1.0], y_mean=0.0, y_scale=1.0, noise_std=0.1)
