"""Conformal prediction: equality with MAPIE and crepes where they compute the same quantity,
finite-sample coverage on exchangeable data, and the predictive contract of the results."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from bdl.calibration import metrics as M
from bdl.calibration.conformal import (
    ConformalizedQuantileRegression,
    ConformalPredictive,
    ConformalPredictiveSystem,
    SplitConformal,
    WarpedPredictive,
    conformal_quantile,
)
from bdl.calibration.recalibration import RecalibrationNotFittedError
from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import GaussianPredictive, MixturePredictive

ALPHA = 0.1
M_CAL = 137  # alpha (m + 1) = 13.8 is not an integer: no floating-point tie in the quantile index


def _data(seed: int, m: int, heteroscedastic: bool = True) -> tuple[np.ndarray, GaussianPredictive]:
    """Truth ``N(mu, (1.5 s)^2)`` predicted as ``N(mu, s^2)``: an over-confident model."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=m)
    s = rng.uniform(0.5, 2.0, size=m) if heteroscedastic else np.ones(m)
    return mu + 1.5 * s * rng.standard_normal(m), GaussianPredictive(mu, s)


# --------------------------------------------------------------------------------------------
# equality with crepes and MAPIE
# --------------------------------------------------------------------------------------------


def test_split_conformal_equals_crepes_normalised_conformal_regressor() -> None:
    crepes = pytest.importorskip("crepes")
    y, cal = _data(0, M_CAL)
    _, test = _data(1, 40)
    ours = SplitConformal(ALPHA).fit(y, cal).predict_interval(test)
    cr = crepes.ConformalRegressor().fit(y - cal.mean, sigmas=cal.stddev)
    ref = cr.predict_int(test.mean, sigmas=test.stddev, confidence=1 - ALPHA)
    np.testing.assert_allclose(ours[0], ref[:, 0], rtol=1e-14)
    np.testing.assert_allclose(ours[1], ref[:, 1], rtol=1e-14)


def test_conformal_predictive_system_equals_crepes() -> None:
    crepes = pytest.importorskip("crepes")
    y, cal = _data(2, M_CAL)
    _, test = _data(3, 25)
    cpd = ConformalPredictiveSystem().fit(y, cal).transform(test)
    cps = crepes.ConformalPredictiveSystem().fit(y - cal.mean, sigmas=cal.stddev)
    atoms = cps.predict(test.mean, sigmas=test.stddev, return_cpds=True)
    np.testing.assert_allclose(cpd.atoms, atoms, rtol=1e-14)
    y_test = test.mean + 0.7 * test.stddev
    y_test[:3] = cpd.atoms[:3, 10]  # ties with an atom
    p_ref = cps.predict(test.mean, sigmas=test.stddev, y=y_test, smoothing=False)
    np.testing.assert_allclose(cpd.cpd(y_test, tau=1.0), p_ref, rtol=1e-14)
    # the proper distribution's cdf lies inside Vovk's band for every y
    assert np.all(cpd.cpd(y_test, tau=0.0) <= cpd.cdf(y_test) + 1e-15)
    assert np.all(cpd.cdf(y_test) <= cpd.cpd(y_test, tau=1.0) + 1e-15)
    # finite-sample intervals equal crepes' percentiles
    lo, hi = cpd.conformal_interval(ALPHA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cps.predict(test.mean, sigmas=test.stddev, lower_percentiles=100 * ALPHA / 2,
                          higher_percentiles=100 * (1 - ALPHA / 2))
    np.testing.assert_allclose(lo, ref[:, 0], rtol=1e-14)
    np.testing.assert_allclose(hi, ref[:, 1], rtol=1e-14)


class _Column:
    """A prefit scikit-learn regressor that returns one column of X (MAPIE's prefit path)."""

    def __init__(self, col: int = 0) -> None:
        self.col = col

    def fit(self, X, y):  # noqa: ANN001, ANN201 - scikit-learn signature
        self.fitted_ = True
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.asarray(X)[:, self.col]

    def get_params(self, deep: bool = True) -> dict:
        return {"col": self.col}

    def set_params(self, **params):  # noqa: ANN003, ANN201
        self.col = params.get("col", self.col)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True


def test_split_conformal_with_unit_std_equals_mapie_absolute_score() -> None:
    mapie = pytest.importorskip("mapie.regression")
    y, cal = _data(4, M_CAL, heteroscedastic=False)
    _, test = _data(5, 30, heteroscedastic=False)
    ours = SplitConformal(ALPHA).fit(y, cal).predict_interval(test)
    reg = mapie.SplitConformalRegressor(_Column(0).fit(None, None), confidence_level=1 - ALPHA, prefit=True)
    reg.conformalize(cal.mean[:, None], y)
    _, bounds = reg.predict_interval(test.mean[:, None])
    np.testing.assert_allclose(ours[0], bounds[:, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], bounds[:, 1, 0], rtol=1e-12)


def test_cqr_equals_mapie_symmetric_correction() -> None:
    mapie = pytest.importorskip("mapie.regression")
    y, cal = _data(6, M_CAL)
    _, test = _data(7, 30)
    cqr = ConformalizedQuantileRegression(ALPHA).fit(y, cal)
    ours = cqr.predict_interval(test)

    def columns(p: GaussianPredictive) -> np.ndarray:
        q = p.quantile([ALPHA / 2, 1 - ALPHA / 2])
        return np.stack([q[0], q[1], p.mean], axis=1)

    reg = mapie.ConformalizedQuantileRegressor(
        [_Column(0).fit(None, None), _Column(1).fit(None, None), _Column(2).fit(None, None)],
        confidence_level=1 - ALPHA, prefit=True,
    )
    reg.conformalize(columns(cal), y)
    _, bounds = reg.predict_interval(columns(test), symmetric_correction=True)
    np.testing.assert_allclose(ours[0], bounds[:, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], bounds[:, 1, 0], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# finite-sample coverage on exchangeable data
# --------------------------------------------------------------------------------------------


def _coverage(method: str, reps: int, m: int, seed: int) -> float:
    """Fraction of ``reps`` fresh test points (one per fresh calibration set) covered."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        y, cal = _data(int(rng.integers(2**31)), m + 1)
        y_test, test = y[m:], cal[m:]
        y, cal = y[:m], cal[:m]
        if method == "split":
            lo, hi = SplitConformal(ALPHA).fit(y, cal).predict_interval(test)
        elif method == "cqr":
            lo, hi = ConformalizedQuantileRegression(ALPHA).fit(y, cal).predict_interval(test)
        elif method == "cpd":
            lo, hi = ConformalPredictiveSystem().fit(y, cal).transform(test).conformal_interval(ALPHA)
        elif method == "warped":
            lo, hi = SplitConformal(ALPHA).fit(y, cal).transform(test).interval(1 - ALPHA)
        else:  # the uncalibrated model: the negative control
            lo, hi = test.interval(1 - ALPHA)
        hits += int(lo[0] <= y_test[0] <= hi[0])
    return hits / reps


def _binomial_floor(p: float, n: int, z: float = 3.0) -> float:
    return p - z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("method", ["split", "cqr", "cpd", "warped"])
def test_finite_sample_coverage_is_at_least_nominal(method: str) -> None:
    reps, m = 3000, 19  # m = 19: the conformal quantile is the largest-but-one score
    cov = _coverage(method, reps, m, seed=11)
    # coverage >= 1 - alpha, within a 3-sigma binomial tolerance (fails ~0.1 % of the time for a
    # valid method) ...
    assert cov >= _binomial_floor(1 - ALPHA, reps), cov
    # ... and at most 1 - alpha + 1 / (m + 1) for continuous scores (split / CQR are tight)
    if method in ("split", "cqr", "warped"):
        assert cov <= 1 - ALPHA + 1 / (m + 1) + 3 * math.sqrt(0.25 / reps), cov


def test_the_coverage_check_can_fail() -> None:
    """The over-confident model itself (sd too small by 1.5) must fail the same check."""
    reps = 3000
    cov = _coverage("none", reps, 19, seed=12)
    assert cov < _binomial_floor(1 - ALPHA, reps)


# --------------------------------------------------------------------------------------------
# the predictive contract of the results
# --------------------------------------------------------------------------------------------


def test_warped_predictive_interval_is_the_conformal_interval() -> None:
    y, cal = _data(8, M_CAL)
    _, test = _data(9, 12)
    for rec in (SplitConformal(ALPHA), ConformalizedQuantileRegression(ALPHA)):
        out = rec.fit(y, cal).transform(test)
        assert isinstance(out, WarpedPredictive)
        lo, hi = out.interval(1 - ALPHA)
        ref = rec.predict_interval(test)
        np.testing.assert_allclose(lo, ref[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hi, ref[1], rtol=1e-10, atol=1e-12)
        # cdf and quantile are inverse; log_prob integrates to one; moments match samples
        q = out.quantile([0.05, 0.3, 0.5, 0.8])
        np.testing.assert_allclose(out.cdf(q), np.array([0.05, 0.3, 0.5, 0.8])[:, None] * np.ones((1, 12)),
                                   rtol=1e-9)
        grid = np.linspace(-30, 30, 60001)[:, None] * np.ones((1, 12))
        dens = np.exp(out.log_prob(grid))
        np.testing.assert_allclose(np.trapezoid(dens, grid, axis=0), 1.0, rtol=1e-4)
        s = out.sample(100_000, seed=0)
        np.testing.assert_allclose(s.mean(axis=0), out.mean, atol=5 * np.sqrt(out.variance.max() / 1e5))
        assert np.all(np.isfinite(M.crps_per_point(y[:12], out)))


def test_warped_mixture_base_keeps_the_interval() -> None:
    rng = np.random.default_rng(13)
    m = 200
    w = np.tile([0.5, 0.5], (m, 1))
    locs = np.stack([rng.normal(size=m) - 1, rng.normal(size=m) + 1], axis=1)
    cal = MixturePredictive(w, locs, np.ones((m, 2)))
    y = cal.sample(1, seed=1)[0] * 1.3
    out = SplitConformal(0.2).fit(y, cal).transform(cal[:5])
    np.testing.assert_allclose(out.interval(0.8)[1], SplitConformal(0.2).fit(y, cal).predict_interval(cal[:5])[1],
                               rtol=1e-9)


def test_conformal_predictive_distribution_contract() -> None:
    y, cal = _data(10, 50)
    p = ConformalPredictiveSystem().fit(y, cal).transform(cal[:4])
    assert isinstance(p, ConformalPredictive) and p.kind == "conformal" and p.n_scores == 50
    atoms = p.atoms
    np.testing.assert_allclose(p.cdf(atoms[:, 9]), 10 / 50)
    np.testing.assert_allclose(p._cdf_left(atoms[:, 9]), 9 / 50)
    np.testing.assert_allclose(p.quantile(0.2), atoms[:, 9])
    np.testing.assert_allclose(np.exp(p.log_prob(atoms[:, 3])), 1 / 50)
    np.testing.assert_allclose(p.mean, atoms.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(p.variance, atoms.var(axis=1), rtol=1e-10)
    s = p.sample(10, seed=3)
    assert np.all(np.isin(s[:, 0], atoms[0]))
    np.testing.assert_array_equal(s, p.sample(10, seed=3))
    u = M.pit(y[:4], p)  # randomised PIT over the atoms
    assert np.all((u >= 0) & (u <= 1))
    assert p[1:3].n_points == 2


def test_conformal_quantile_and_errors() -> None:
    assert conformal_quantile([3.0, 1.0, 2.0], 0.5) == 2.0  # ceil(4 * 0.5) = 2nd smallest
    assert conformal_quantile([1.0, 2.0], 0.1) == math.inf  # ceil(3 * 0.9) = 3 > 2
    y, cal = _data(0, 10)
    with pytest.raises(InputError, match="alpha"):
        SplitConformal(1.5).fit(y, cal)
    with pytest.raises(RecalibrationNotFittedError):
        SplitConformal().predict_interval(_data(0, 3)[1])
    with pytest.raises(RecalibrationNotFittedError):
        ConformalPredictiveSystem().transform(_data(0, 3)[1])
    y, cal = _data(0, 5)
    with pytest.raises(UnsupportedOperationError, match="too few"):
        SplitConformal(0.1).fit(y, cal).transform(cal)


def test_conformal_and_warped_predictives_round_trip_through_ledger_records() -> None:
    from bdl.predictive import predictive_from_records

    y, cal = _data(14, 60)
    _, test = _data(15, 5)
    for out in (ConformalPredictiveSystem().fit(y, cal).transform(test),
                SplitConformal(0.2).fit(y, cal).transform(test),
                ConformalizedQuantileRegression(0.2).fit(y, cal).transform(test)):
        back = predictive_from_records(out.to_records(slice(None)))
        assert type(back) is type(out)
        grid = np.linspace(-4, 4, 17)[:, None] * np.ones((1, 5))
        np.testing.assert_array_equal(back.cdf(grid), out.cdf(grid))
        np.testing.assert_array_equal(back.quantile([0.1, 0.9]), out.quantile([0.1, 0.9]))
        sub = predictive_from_records(out.to_records([3, 1]))
        np.testing.assert_array_equal(sub.cdf(grid[:, [3, 1]]), out[[3, 1]].cdf(grid[:, [3, 1]]))
