"""One contract every model passes: fit/predict/predict_dist, predictive kinds, determinism,
save/load without pickle, clear errors, calibration on a known heteroscedastic function."""

from __future__ import annotations

import numpy as np
import pytest

from bdl.errors import InputError, NotFittedError
from bdl.models import (
    BayesianLinearRegression,
    DeepEnsembleRegressor,
    HMCRegressor,
    MCDropoutRegressor,
    MixtureDensityRegressor,
    VariationalBNN,
    load_model,
)
from bdl.predictive import Predictive

FAST = dict(epochs=60, batch_size=64, progress=False)
FACTORIES = {
    "mc_dropout": lambda seed: MCDropoutRegressor(hidden_units=(32, 32), n_passes=30, random_state=seed, **FAST),
    "variational_flipout": lambda seed: VariationalBNN(hidden_units=(32, 32), n_passes=30, random_state=seed, **FAST),
    "variational_reparam_mixture": lambda seed: VariationalBNN(
        hidden_units=(32,), estimator="reparameterization", prior="scale_mixture", noise="homoscedastic",
        n_passes=30, random_state=seed, **FAST),
    "mdn": lambda seed: MixtureDensityRegressor(n_components=3, hidden_units=(32, 32), random_state=seed, **FAST),
    "ensemble": lambda seed: DeepEnsembleRegressor(n_members=3, hidden_units=(32, 32), random_state=seed, **FAST),
    "ensemble_mdn": lambda seed: DeepEnsembleRegressor(member="mdn", n_members=2, n_components=2,
                                                      hidden_units=(16,), random_state=seed, **FAST),
    "bayes_linear": lambda seed: BayesianLinearRegression(),
    "hmc": lambda seed: HMCRegressor(hidden_units=5, n_samples=40, n_burnin=60, n_chains=1, random_state=seed),
}
KINDS = {"mc_dropout": "samples", "variational_flipout": "samples", "variational_reparam_mixture": "samples",
         "mdn": "mixture", "ensemble": "samples", "ensemble_mdn": "mixture", "bayes_linear": "gaussian", "hmc": "samples"}


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    y = 1.5 * X[:, 0] - X[:, 1] + np.sin(2 * X[:, 0]) + rng.normal(size=n) * (0.2 + 0.2 * np.abs(X[:, 0]))
    return X, y


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def fitted(request):
    name = request.param
    n = 150 if name == "hmc" else 600
    X, y = _data(n, 0)
    return name, FACTORIES[name](0).fit(X, y)


def test_predictive_contract(fitted):
    name, model = fitted
    X, y = _data(500, 1)
    dist = model.predict_dist(X)
    assert isinstance(dist, Predictive) and dist.kind == KINDS[name] == model.predictive_kind
    assert len(dist) == 500 and model.predict(X).shape == (500,)
    assert np.isfinite(dist.mean).all() and (dist.stddev > 0).all()
    lo, hi = dist.interval(0.9)
    coverage = np.mean((y >= lo) & (y <= hi))
    assert 0.75 <= coverage <= 0.99, coverage
    rmse = np.sqrt(np.mean((dist.mean - y) ** 2))
    assert rmse < 0.8 * y.std()  # it learned something
    if name != "mdn":
        np.testing.assert_allclose(dist.epistemic_variance + dist.aleatoric_variance, dist.variance, rtol=1e-8)


def test_determinism_and_save_load(fitted, tmp_path):
    name, model = fitted
    X, _ = _data(50, 2)
    first = model.predict_dist(X)
    np.testing.assert_array_equal(first.mean, model.predict_dist(X).mean)
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.predict_dist(X).mean, first.mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(loaded.predict_dist(X).stddev, first.stddev, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["variational_flipout", "mdn", "ensemble"])
def test_same_seed_same_numbers(name):
    X, y = _data(200, 3)
    a = FACTORIES[name](4).set_params(epochs=5).fit(X, y).predict_dist(X[:10])
    b = FACTORIES[name](4).set_params(epochs=5).fit(X, y).predict_dist(X[:10])
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.stddev, b.stddev)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_errors_are_clear(name):
    model = FACTORIES[name](0)
    X, y = _data(20, 5)
    with pytest.raises(NotFittedError):
        model.predict(X)
    with pytest.raises(InputError, match="rows"):
        model.fit(X, y[:-2])
    bad = X.copy()
    bad[4, 0] = np.inf
    with pytest.raises(InputError, match="row.*4"):
        model.fit(bad, y)
