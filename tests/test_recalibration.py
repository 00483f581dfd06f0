"""Recalibration: std scaling and isotonic recalibration fitted on one split, checked on fresh
data; the recalibrated predictive honours the whole Predictive API."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import kstest

from bdl.calibration import metrics as M
from bdl.calibration.recalibration import (
    IsotonicRecalibration,
    MonotoneMap,
    RecalibratedPredictive,
    RecalibrationNotFittedError,
    StdScaling,
)
from bdl.errors import InputError, NotFittedError, UnsupportedOperationError
from bdl.predictive import GaussianPredictive, MixturePredictive, Predictive, SamplePredictive

LEVELS = np.array([0.5, 0.8, 0.9, 0.95])


def _inflate(pred: Predictive, factor: float) -> Predictive:
    """The same predictive with its spread about the mean multiplied by ``factor``."""
    if isinstance(pred, GaussianPredictive):
        return GaussianPredictive(pred.mean, pred.stddev * factor)
    m = pred.mean[:, None]
    if isinstance(pred, MixturePredictive):
        return MixturePredictive(pred.weights, m + factor * (pred.locs - m), pred.scales * factor)
    assert isinstance(pred, SamplePredictive) and pred.scales is not None
    return SamplePredictive(m + factor * (pred.locs - m), pred.scales * factor)


def _gaussian(n: int, seed: int) -> GaussianPredictive:
    rng = np.random.default_rng(seed)
    return GaussianPredictive(rng.normal(size=n), rng.uniform(0.3, 2.0, size=n))


def _mixture(n: int, seed: int) -> MixturePredictive:
    rng = np.random.default_rng(seed)
    return MixturePredictive(
        rng.dirichlet([2.0, 2.0], size=n), rng.normal(scale=1.5, size=(n, 2)), rng.uniform(0.3, 1.0, size=(n, 2))
    )


def _ensemble(n: int, seed: int, s: int = 16) -> SamplePredictive:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(n, 1))
    return SamplePredictive(centre + 0.5 * rng.normal(size=(n, s)), rng.uniform(0.3, 0.8, size=(n, s)))


MAKERS = {"gaussian": _gaussian, "mixture": _mixture, "samples": _ensemble}


def _overconfident(make, n: int, seed: int, factor: float = 2.0) -> tuple[np.ndarray, Predictive]:
    """Truths drawn from the predictive with its spread ``factor`` times wider."""
    pred = make(n, seed)
    y = _inflate(pred, factor).sample(1, seed=seed + 1000)[0]
    return y, pred


# --------------------------------------------------------------------------------------------
# std scaling
# --------------------------------------------------------------------------------------------


def test_std_scaling_finds_the_factor_and_restores_coverage():
    y_val, p_val = _overconfident(_gaussian, 2000, seed=1)
    scaler = StdScaling().fit(y_val, p_val)
    assert scaler.factor_ == pytest.approx(2.0, rel=0.05)
    # for a Gaussian the NLL optimum is sqrt(mean(z^2))
    z = (y_val - p_val.mean) / p_val.stddev
    assert scaler.factor_ == pytest.approx(np.sqrt(np.mean(z**2)), rel=1e-6)
    assert scaler.nll_after_ < scaler.nll_before_
    y_new, p_new = _overconfident(_gaussian, 4000, seed=2)
    assert M.interval_coverage(y_new, p_new, 0.9) < 0.65
    fixed = scaler.transform(p_new)
    assert isinstance(fixed, GaussianPredictive)
    assert M.interval_coverage(y_new, fixed, 0.9) == pytest.approx(0.9, abs=0.02)
    np.testing.assert_allclose(fixed.mean, p_new.mean)
    np.testing.assert_allclose(fixed.stddev, p_new.stddev * scaler.factor_)


@pytest.mark.parametrize("kind", ["mixture", "samples"])
def test_std_scaling_on_mixtures_and_samples(kind):
    y_val, p_val = _overconfident(MAKERS[kind], 1500, seed=3)
    scaler = StdScaling().fit(y_val, p_val)
    assert scaler.factor_ == pytest.approx(2.0, rel=0.05)
    y_new, p_new = _overconfident(MAKERS[kind], 1500, seed=4)
    fixed = scaler.transform(p_new)
    assert type(fixed) is type(p_new)
    s = scaler.factor_
    np.testing.assert_allclose(fixed.mean, p_new.mean, atol=1e-12)
    np.testing.assert_allclose(fixed.variance, p_new.variance * s * s, rtol=1e-10)
    assert M.interval_coverage(y_new, fixed, 0.9) == pytest.approx(0.9, abs=0.03)
    assert M.nll(y_new, fixed) < M.nll(y_new, p_new)


def test_std_scaling_keeps_and_scales_the_epistemic_split():
    rng = np.random.default_rng(5)
    sd = rng.uniform(0.5, 1.0, size=10)
    gauss = GaussianPredictive(np.zeros(10), sd, epistemic_variance=0.3 * sd**2)
    mix = MixturePredictive(np.full((10, 2), 0.5), rng.normal(size=(10, 2)), np.ones((10, 2)), 0.2 * np.ones(10))
    ens = _ensemble(10, seed=6)
    plain = SamplePredictive(rng.normal(size=(10, 30)))
    scaler = StdScaling()
    scaler.factor_ = 1.7  # as if fitted
    for pred in (gauss, mix, ens):
        out = scaler.transform(pred)
        np.testing.assert_allclose(out.epistemic_variance, pred.epistemic_variance * 1.7**2, rtol=1e-10)
        np.testing.assert_allclose(out.aleatoric_variance, pred.aleatoric_variance * 1.7**2, rtol=1e-10)
    out = scaler.transform(plain)
    assert out.is_plain and not out.has_split
    np.testing.assert_allclose(out.variance, plain.variance * 1.7**2, rtol=1e-10)
    np.testing.assert_allclose(out.bandwidth, plain.bandwidth * 1.7, rtol=1e-10)


def test_std_scaling_mapping_is_exact_for_gaussians():
    y, pred = _overconfident(_gaussian, 300, seed=7)
    scaler = StdScaling().fit(y, pred)
    np.testing.assert_allclose(scaler.mapping(pred.cdf(y)), scaler.transform(pred).cdf(y), atol=1e-12)
    assert scaler.mapping([0.0, 0.5, 1.0]).tolist() == [0.0, 0.5, 1.0]


# --------------------------------------------------------------------------------------------
# isotonic recalibration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "mixture", "samples"])
def test_isotonic_fixes_coverage_and_miscalibration_on_the_other_half(kind):
    y, pred = _overconfident(MAKERS[kind], 4000, seed=8, factor=2.0)
    half = np.arange(len(y)) < 2000
    iso = IsotonicRecalibration().fit(y[half], pred[half])
    y_test, p_test = y[~half], pred[~half]
    fixed = iso.transform(p_test)
    assert isinstance(fixed, RecalibratedPredictive) and fixed.kind == "recalibrated"
    before = M.coverage(y_test, p_test, LEVELS)
    after = M.coverage(y_test, fixed, LEVELS)
    assert np.all(before < LEVELS - 0.15)
    np.testing.assert_allclose(after, LEVELS, atol=0.05)
    area_before, area_after = M.miscalibration_area(y_test, p_test), M.miscalibration_area(y_test, fixed)
    assert area_after < 0.03 and area_after < area_before / 4
    assert M.nll(y_test, fixed) < M.nll(y_test, p_test)
    some = slice(0, 300)  # the CRPS of a recalibrated predictive needs 512 quantiles per point
    assert M.crps(y_test[some], fixed[some]) < M.crps(y_test[some], p_test[some])


def test_isotonic_on_calibrated_data_is_nearly_the_identity():
    pred = _gaussian(3000, seed=9)
    y = pred.sample(1, seed=10)[0]
    iso = IsotonicRecalibration().fit(y, pred)
    grid = np.linspace(0, 1, 101)
    assert np.max(np.abs(iso.mapping(grid) - grid)) < 0.04
    x, r = iso.knots_
    assert x[0] == 0 and x[-1] == 1 and r[0] == 0 and r[-1] == 1
    assert np.all(np.diff(x) > 0) and np.all(np.diff(r) > 0)
    assert len(x) == int(np.ceil(np.sqrt(3000))) + 2
    assert iso.pit_.shape == (3000,)


def test_the_map_is_continuous_strictly_increasing_and_invertible():
    y, pred = _overconfident(_gaussian, 500, seed=11)
    iso = IsotonicRecalibration(n_knots=15).fit(y, pred)
    grid = np.linspace(0, 1, 20001)
    r = iso.mapping(grid)
    assert r[0] == 0.0 and r[-1] == 1.0
    assert np.all(np.diff(r) > 0)
    assert np.max(np.diff(r)) < 0.01  # continuous: no jumps on a fine grid
    assert np.all(iso.map_.derivative(grid) >= iso.slope_floor)
    np.testing.assert_allclose(iso.inverse_mapping(r), grid, atol=1e-12)
    # the survival form agrees with 1 - R(1 - s) and keeps precision in the tail
    s = np.array([1e-3, 1e-6, 1e-12, 1e-200])
    np.testing.assert_allclose(iso.map_.sf(s[:1]), 1 - iso.mapping(1 - s[:1]), rtol=1e-9)
    np.testing.assert_allclose(iso.map_.sf(s[2:]) / s[2:], iso.map_.derivative(1.0), rtol=1e-3)


def test_ties_and_extreme_pit_values_are_pooled():
    pred = GaussianPredictive(np.zeros(8), np.ones(8))
    y = np.array([0.0, 0.0, 0.0, 1.0, -1.0, 60.0, -60.0, 0.5])  # PIT 0.5 three times, 0 and 1
    iso = IsotonicRecalibration().fit(y, pred)
    x, r = iso.knots_
    assert np.all(np.diff(x) > 0) and np.all(np.diff(r) > 0)
    # sorted PIT: 0, 0.16, 0.5, 0.5, 0.5, ...: the tied ranks 3, 4, 5 pool to 4, over N + 1 = 9
    assert r[np.flatnonzero(x == 0.5)[0]] == pytest.approx(4 / 9)


# --------------------------------------------------------------------------------------------
# the recalibrated predictive
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recal() -> tuple[RecalibratedPredictive, Predictive, np.ndarray]:
    y, pred = _overconfident(_mixture, 600, seed=12)
    iso = IsotonicRecalibration().fit(y[:400], pred[:400])
    return iso.transform(pred[400:]), pred[400:], y[400:]


def test_quantile_cdf_round_trip(recal):
    r, _, y = recal
    levels = np.array([1e-6, 0.01, 0.3, 0.5, 0.77, 0.99, 1 - 1e-6])
    q = r.quantile(levels)
    assert q.shape == (7, len(r))
    np.testing.assert_allclose(r.cdf(q), np.repeat(levels[:, None], len(r), axis=1), atol=1e-10)
    for i in range(0, len(r), 20):
        one = r[i]
        assert one.quantile(float(one.cdf(y[i])[0]))[0] == pytest.approx(y[i], abs=1e-7)
    lo, hi = r.interval(0.9)
    np.testing.assert_allclose(lo, r.quantile(0.05), rtol=1e-12)
    np.testing.assert_allclose(hi, r.quantile(0.95), rtol=1e-12)


def test_density_is_the_derivative_of_the_cdf_and_integrates_to_one(recal):
    r, _, y = recal
    h = 1e-4
    upper = r.cdf(y) > 0.5  # difference the smaller of cdf and sf, to keep the digits
    fd = np.where(
        upper, (r.sf(y - h) - r.sf(y + h)) / (2 * h), (r.cdf(y + h) - r.cdf(y - h)) / (2 * h)
    )
    np.testing.assert_allclose(np.exp(r.log_prob(y)), fd, rtol=1e-5)
    one = r[3]
    total = _integrate_density(one, lambda x: 1.0, 1e-12)
    assert total == pytest.approx(1.0, abs=1e-6)


def _integrate_density(one: RecalibratedPredictive, func, tail: float) -> float:
    """``int func(x) g(x) dx`` over the ``[tail, 1 - tail]`` quantile range of a one-point
    recalibrated predictive, split where the map has knots (its density has kinks there)."""
    levels = np.concatenate([[tail], one.mapping.knots_x[1:-1], [1 - tail]])
    cuts = one.base.quantile(np.clip(levels, tail, 1 - tail))[:, 0]
    cuts = np.concatenate([[one.quantile(tail)[0]], cuts[1:-1], [one.quantile(1 - tail)[0]]])
    total = 0.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        part, _ = integrate.quad(
            lambda x: func(x) * float(np.exp(one.log_prob(x)[0])), a, b, epsabs=1e-13, epsrel=1e-11, limit=100
        )
        total += part
    return total


def test_moments_match_the_distribution(recal):
    r, _, _ = recal
    one = r[5]
    mean = _integrate_density(one, lambda x: x, 1e-13)
    second = _integrate_density(one, lambda x: (x - mean) ** 2, 1e-13)
    assert one.mean[0] == pytest.approx(mean, abs=1e-4 * np.sqrt(second))
    assert one.variance[0] == pytest.approx(second, rel=5e-4)
    np.testing.assert_allclose(r.stddev, np.sqrt(r.variance))


def test_sampling_is_inverse_transform_and_seeded(recal):
    r, _, _ = recal
    draws = r.sample(400, seed=13)
    assert draws.shape == (400, len(r))
    np.testing.assert_array_equal(draws, r.sample(400, seed=13))
    assert not np.array_equal(draws, r.sample(400, seed=14))
    assert kstest(r.cdf(draws).ravel(), "uniform").pvalue > 0.01
    np.testing.assert_allclose(draws.mean(axis=0), r.mean, atol=5 * np.max(r.stddev) / np.sqrt(400))
    assert np.median(draws.std(axis=0) / r.stddev) == pytest.approx(1.0, abs=0.03)
    assert M.pit_uniformity(draws[0], r)["p_value"] > 0.01


def test_the_rest_of_the_predictive_api(recal):
    r, base, y = recal
    assert len(r) == len(base) and r.n_points == len(base)
    frame = r.to_frame()
    assert list(frame.columns) == ["mean", "std", "lower_90", "upper_90"] and len(frame) == len(r)
    sub = r[2:7]
    assert isinstance(sub, RecalibratedPredictive) and len(sub) == 5
    np.testing.assert_allclose(sub.cdf(y[2:7]), r.cdf(y)[2:7])
    np.testing.assert_allclose(r.sf(y), 1 - r.cdf(y), atol=1e-12)
    np.testing.assert_allclose(np.exp(r.log_cdf(y)), r.cdf(y), rtol=1e-10)
    np.testing.assert_allclose(np.exp(r.log_sf(y)), r.sf(y), rtol=1e-10)
    far = r.log_sf(np.full(len(r), 1e3))  # far beyond float64 probabilities: still finite
    assert np.all(np.isfinite(far)) and np.all(far < -1e4)
    assert np.all(np.isfinite(r.log_cdf(np.full(len(r), -1e3))))
    two = r.cdf(np.vstack([y, y + 1]))
    assert two.shape == (2, len(r)) and np.all(two[1] > two[0])
    assert np.all(np.isfinite(M.summary(y, r)["value"]))
    assert not r.has_split
    for attr in ("epistemic_variance", "aleatoric_variance"):
        with pytest.raises(UnsupportedOperationError, match="recalibrated predictive"):
            getattr(r, attr)
    with pytest.raises(UnsupportedOperationError, match="recalibrated predictive"):
        r.as_mixture()
    with pytest.raises(UnsupportedOperationError, match="recalibrated predictive"):
        r.to_tfp()
    with pytest.raises(UnsupportedOperationError, match="recalibrated"):
        _fitted_scaler().transform(r)
    with pytest.raises(InputError, match="q must lie strictly inside"):
        r.quantile(1.0)
    with pytest.raises(InputError, match="n_samples"):
        r.sample(0)


def _fitted_scaler() -> StdScaling:
    scaler = StdScaling()
    scaler.factor_ = 2.0
    return scaler


def test_identity_map_reproduces_the_base():
    base = _mixture(40, seed=15)
    y = base.sample(1, seed=16)[0]
    r = RecalibratedPredictive(base, MonotoneMap.identity())
    np.testing.assert_allclose(r.cdf(y), base.cdf(y), atol=1e-15)
    np.testing.assert_allclose(r.log_prob(y), base.log_prob(y), atol=1e-12)
    np.testing.assert_allclose(r.quantile([0.1, 0.9]), base.quantile([0.1, 0.9]), atol=1e-9)
    np.testing.assert_allclose(r.mean, base.mean, atol=1e-12)
    np.testing.assert_allclose(r.variance, base.variance, rtol=1e-12)
    # the CRPS of a non-mixture kind falls back to quantile quadrature
    np.testing.assert_allclose(M.crps_per_point(y, r), M.crps_per_point(y, base), rtol=3e-3, atol=1e-4)


def test_recalibrating_a_recalibrated_predictive_composes():
    y, pred = _overconfident(_gaussian, 800, seed=17)
    once = IsotonicRecalibration().fit(y[:400], pred[:400])
    r1 = once.transform(pred)
    twice = IsotonicRecalibration().fit(y[:400], r1[:400]).transform(r1[400:])
    assert isinstance(twice.base, RecalibratedPredictive)
    assert M.interval_coverage(y[400:], twice, 0.9) == pytest.approx(0.9, abs=0.05)


# --------------------------------------------------------------------------------------------
# misuse
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("recalibrator", [StdScaling(), IsotonicRecalibration()], ids=repr)
def test_unfitted_use_raises(recalibrator):
    pred = _gaussian(5, seed=18)
    for call in (lambda: recalibrator.transform(pred), lambda: recalibrator.mapping([0.5])):
        with pytest.raises(InputError, match="not fitted yet") as info:
            call()
        assert isinstance(info.value, NotFittedError) and isinstance(info.value, RecalibrationNotFittedError)


def test_bad_fit_and_transform_input():
    pred = _gaussian(6, seed=19)
    for recalibrator in (StdScaling(), IsotonicRecalibration()):
        with pytest.raises(InputError, match="y_val has 5 values but the gaussian predictive has 6 points"):
            recalibrator.fit(np.zeros(5), pred)
        with pytest.raises(InputError, match=r"y_val has NaN or infinite values at row\(s\) 2"):
            recalibrator.fit([0, 0, np.nan, 0, 0, 0], pred)
        with pytest.raises(InputError, match="predictive must be"):
            recalibrator.fit(np.zeros(6), np.zeros(6))
        recalibrator.fit(pred.sample(1, seed=0)[0], pred)
        with pytest.raises(InputError, match="predictive must be"):
            recalibrator.transform(np.zeros(6))
        with pytest.raises(InputError, match=r"p must lie in \[0, 1\]"):
            recalibrator.mapping([0.5, 1.5])
    with pytest.raises(InputError, match="n_knots"):
        IsotonicRecalibration(n_knots=0).fit(np.zeros(6), pred)
    with pytest.raises(InputError, match="bounds"):
        StdScaling(bounds=(2.0, 3.0)).fit(np.zeros(6), pred)
    with pytest.raises(InputError, match="slope_floor"):
        MonotoneMap([0, 1], [0, 1], slope_floor=0.0)
    with pytest.raises(InputError, match=r"start at \(0, 0\)"):
        MonotoneMap([0.1, 1], [0, 1])
    with pytest.raises(InputError, match="base must be"):
        RecalibratedPredictive(np.zeros(3), MonotoneMap.identity())  # type: ignore[arg-type]
