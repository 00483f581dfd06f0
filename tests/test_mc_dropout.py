"""MC-dropout regressor: the model contract, calibration on a known heteroscedastic function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bdl.errors import InputError, NotFittedError
from bdl.models import MCDropoutRegressor, load_model
from bdl.predictive import SamplePredictive


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    noise = 0.1 + 0.25 * np.abs(X[:, 0])
    y = np.sin(X[:, 0]) * 2 + 0.5 * X[:, 1] + rng.normal(size=n) * noise
    return X, y


SMALL = dict(hidden_units=(32, 32), epochs=120, batch_size=64, n_passes=50, patience=20, progress=False)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data(1500, 0)
    return MCDropoutRegressor(random_state=0, **SMALL).fit(X, y)


def test_shapes_kinds_and_history(fitted):
    X, _ = _data(40, 1)
    dist = fitted.predict_dist(X)
    assert isinstance(dist, SamplePredictive) and dist.kind == "samples"
    assert dist.locs.shape == (40, 50) and dist.scales.shape == (40, 50)
    assert fitted.predict(X).shape == (40,)
    assert fitted.predict_dist(X, n_passes=7).locs.shape == (40, 7)
    np.testing.assert_allclose(dist.epistemic_variance + dist.aleatoric_variance, dist.variance, rtol=1e-10)
    hist = fitted.trace_
    assert {"epoch", "elbo", "expected_loglik", "kl", "grad_snr", "val_nll", "val_rmse"} <= set(hist.columns)
    assert hist["expected_loglik"].iloc[-1] > hist["expected_loglik"].iloc[0]
    assert 0 <= fitted.best_epoch_ < len(hist)


def test_interval_coverage_near_nominal_on_known_heteroscedastic_data(fitted):
    X, y = _data(3000, 2)
    dist = fitted.predict_dist(X)
    lo, hi = dist.interval(0.9)
    coverage = np.mean((y >= lo) & (y <= hi))
    assert 0.8 <= coverage <= 0.97
    # the aleatoric head follows the true noise: larger where |x0| is large
    ale = np.sqrt(dist.aleatoric_variance)
    edge, centre = np.abs(X[:, 0]) > 2.2, np.abs(X[:, 0]) < 0.8
    assert ale[edge].mean() > 2 * ale[centre].mean()


def test_epistemic_uncertainty_grows_away_from_the_data(fitted):
    inside = np.column_stack([np.linspace(-2, 2, 50), np.zeros(50)])
    outside = np.column_stack([np.linspace(8, 12, 50), np.zeros(50)])
    epi_in = fitted.predict_dist(inside).epistemic_variance.mean()
    epi_out = fitted.predict_dist(outside).epistemic_variance.mean()
    assert epi_out > 3 * epi_in


def test_same_random_state_gives_identical_numbers_and_different_state_does_not():
    X, y = _data(300, 3)
    kw = dict(SMALL, epochs=10)
    a = MCDropoutRegressor(random_state=5, **kw).fit(X, y).predict_dist(X[:20])
    b = MCDropoutRegressor(random_state=5, **kw).fit(X, y).predict_dist(X[:20])
    c = MCDropoutRegressor(random_state=6, **kw).fit(X, y).predict_dist(X[:20])
    np.testing.assert_array_equal(a.locs, b.locs)
    np.testing.assert_array_equal(a.scales, b.scales)
    assert not np.allclose(a.locs, c.locs)


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    X, _ = _data(30, 4)
    fitted.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, MCDropoutRegressor)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict_dist(X).locs, fitted.predict_dist(X).locs)
    assert MCDropoutRegressor.load(tmp_path / "m").n_features_in_ == 2


def test_dataframe_columns_are_checked_and_reordered():
    X, y = _data(200, 5)
    df = pd.DataFrame(X, columns=["a", "b"])
    m = MCDropoutRegressor(random_state=0, **dict(SMALL, epochs=3)).fit(df, y)
    np.testing.assert_allclose(m.predict(df[["b", "a"]]), m.predict(df), rtol=1e-6)
    with pytest.raises(InputError, match="lacks"):
        m.predict(df[["a"]].rename(columns={"a": "c"}))


def test_user_mistakes_give_clear_errors(tmp_path):
    X, y = _data(50, 6)
    m = MCDropoutRegressor(random_state=0, **dict(SMALL, epochs=2))
    with pytest.raises(NotFittedError, match="fit"):
        m.predict(X)
    Xn = X.copy()
    Xn[[3, 7], 1] = np.nan
    with pytest.raises(InputError, match="row.*3, 7"):
        m.fit(Xn, y)
    with pytest.raises(InputError, match="50 rows"):
        m.fit(X, y[:-1])
    with pytest.raises(InputError, match="dropout_rate"):
        MCDropoutRegressor(dropout_rate=1.5).fit(X, y)
    with pytest.raises(InputError, match="beta_nll"):
        MCDropoutRegressor(beta_nll=-1).fit(X, y)
    with pytest.raises(InputError, match="noise_std"):
        MCDropoutRegressor(noise="fixed").fit(X, y)
    m.fit(X, y)
    with pytest.raises(InputError, match="features"):
        m.predict(X[:, :1])
    with pytest.raises(Exception, match="not a saved model"):
        load_model(tmp_path / "nothing")


def test_nearly_constant_training_feature_cannot_blow_up_predictions():
    # the Fe9Co7 case: a feature that is ~0 on every training row but 1.5 on a new row
    X, y = _data(400, 7)
    rng = np.random.default_rng(0)
    X = np.column_stack([X, rng.normal(scale=1e-7, size=len(X))])
    m = MCDropoutRegressor(random_state=0, **dict(SMALL, epochs=20)).fit(X, y)
    new = np.array([[0.5, 0.5, 1.5]])
    dist = m.predict_dist(new)
    assert np.isfinite(dist.mean).all()
    assert abs(dist.mean[0]) < 10 * np.abs(y).max()


def test_holdout_metrics_median_and_miscalibration_area():
    from bdl.calibration import mae, miscalibration_area
    from bdl.predictive import GaussianPredictive

    rng = np.random.default_rng(0)
    mean = rng.normal(size=4000)
    pred = GaussianPredictive(mean, np.ones(4000))
    y = mean + rng.normal(size=4000)
    assert miscalibration_area(y, pred) < 0.02
    assert miscalibration_area(mean + 3 * rng.normal(size=4000), pred) > 0.15  # over-confident
    skew = SamplePredictive(np.column_stack([np.zeros(4000)] * 3 + [np.full(4000, 10.0)]), np.full((4000, 4), 0.1))
    zeros = np.zeros(4000)
    assert mae(zeros, skew, point="median") < 0.2 < mae(zeros, skew) - 2
