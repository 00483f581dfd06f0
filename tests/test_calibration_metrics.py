"""Calibration metrics: reference implementations, closed form vs quadrature, statistical and
property-based checks, and the errors a user sees for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from bdl.calibration import metrics as M
from bdl.errors import InputError
from bdl.predictive import GaussianPredictive, MixturePredictive, Predictive, SamplePredictive
from bdl.predictive import _crps as crps_numerics

# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def _gaussian_case(n: int = 400, scale: float = 1.6, bias: float = 0.3, seed: int = 0):
    """Predicted mean / std and truths with std ``scale`` times too small and a bias."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    sd = rng.uniform(0.3, 2.0, size=n)
    y = mu + bias + scale * sd * rng.normal(size=n)
    return mu, sd, y


def _mixture(n: int, k: int = 3, seed: int = 0) -> MixturePredictive:
    rng = np.random.default_rng(seed)
    return MixturePredictive(
        rng.dirichlet(np.ones(k), size=n), rng.normal(scale=2.0, size=(n, k)), rng.uniform(0.2, 1.5, size=(n, k))
    )


def _ensemble(n: int, s: int = 20, seed: int = 0) -> SamplePredictive:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(n, 1))
    return SamplePredictive(centre + 0.7 * rng.normal(size=(n, s)), rng.uniform(0.3, 1.0, size=(n, s)))


def _plain(n: int, s: int = 50, seed: int = 0) -> SamplePredictive:
    rng = np.random.default_rng(seed)
    return SamplePredictive(rng.normal(size=(n, 1)) + rng.gamma(2.0, size=(n, s)))


def _all_kinds(n: int = 60) -> list[Predictive]:
    rng = np.random.default_rng(7)
    return [
        GaussianPredictive(rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)),
        _mixture(n, seed=1),
        _ensemble(n, seed=2),
        _plain(n, seed=3),
    ]


KIND_IDS = ["gaussian", "mixture", "samples_scales", "samples_plain"]


# --------------------------------------------------------------------------------------------
# uncertainty-toolbox and properscoring on Gaussian inputs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uct_cal():
    return pytest.importorskip("uncertainty_toolbox.metrics_calibration")


@pytest.fixture(scope="module")
def uct_score():
    return pytest.importorskip("uncertainty_toolbox.metrics_scoring_rule")


@pytest.mark.parametrize("seed,scale,bias", [(0, 1.6, 0.3), (1, 1.0, 0.0), (2, 0.6, -0.2)])
def test_calibration_errors_equal_uncertainty_toolbox(uct_cal, seed, scale, bias):
    mu, sd, y = _gaussian_case(scale=scale, bias=bias, seed=seed)
    p = GaussianPredictive(mu, sd)
    assert M.miscalibration_area(y, p) == pytest.approx(uct_cal.miscalibration_area(mu, sd, y), abs=1e-6)
    assert M.miscalibration_area(y, p) == pytest.approx(
        uct_cal.miscalibration_area(mu, sd, y, vectorized=True), abs=1e-6
    )
    assert M.rms_calibration_error(y, p) == pytest.approx(
        uct_cal.root_mean_squared_calibration_error(mu, sd, y), abs=1e-6
    )
    assert M.mean_absolute_calibration_error(y, p) == pytest.approx(
        uct_cal.mean_absolute_calibration_error(mu, sd, y), abs=1e-6
    )
    assert M.sharpness(p) == pytest.approx(uct_cal.sharpness(sd), abs=1e-12)
    exp_u, obs_u = uct_cal.get_proportion_lists_vectorized(mu, sd, y, num_bins=37)
    expected, observed = M.calibration_curve(y, p, n_levels=37)
    np.testing.assert_allclose(expected, exp_u, atol=1e-12)
    np.testing.assert_allclose(observed, obs_u, atol=1e-12)


def test_quantile_kind_scalars_equal_uncertainty_toolbox(uct_cal):
    """uct's quantile curve is ours mirrored through (0.5, 0.5); the scalar summaries agree."""
    mu, sd, y = _gaussian_case(seed=4)
    p = GaussianPredictive(mu, sd)
    kw = {"prop_type": "quantile"}
    assert M.miscalibration_area(y, p, kind="quantile") == pytest.approx(
        uct_cal.miscalibration_area(mu, sd, y, **kw), abs=1e-6
    )
    assert M.rms_calibration_error(y, p, kind="quantile") == pytest.approx(
        uct_cal.root_mean_squared_calibration_error(mu, sd, y, **kw), abs=1e-6
    )
    assert M.mean_absolute_calibration_error(y, p, kind="quantile") == pytest.approx(
        uct_cal.mean_absolute_calibration_error(mu, sd, y, **kw), abs=1e-6
    )
    expected, observed = M.calibration_curve(y, p, kind="quantile")
    np.testing.assert_allclose(observed, [np.mean(p.cdf(y) <= e) for e in expected])
    _, obs_u = uct_cal.get_proportion_lists_vectorized(mu, sd, y, prop_type="quantile")
    np.testing.assert_allclose(observed[1:-1], 1.0 - obs_u[::-1][1:-1], atol=1e-12)


def test_miscalibration_area_is_the_polygon_area_where_curves_cross(uct_cal):
    """On calibrated data the curves cross; the plain trapezoid of |gap| would then differ."""
    rng = np.random.default_rng(11)
    mu, sd = rng.normal(size=300), rng.uniform(0.5, 1.5, size=300)
    y = mu + sd * rng.normal(size=300)
    p = GaussianPredictive(mu, sd)
    expected, observed = M.calibration_curve(y, p)
    gap = observed - expected
    assert np.any(gap[:-1] * gap[1:] < 0)  # the curves do cross
    trapezoid = np.sum((np.abs(gap[1:]) + np.abs(gap[:-1])) / 2 * np.diff(expected))
    area = M.miscalibration_area(y, p)
    assert area == pytest.approx(uct_cal.miscalibration_area(mu, sd, y), abs=1e-9)
    assert area < trapezoid - 1e-6


def test_scores_equal_uncertainty_toolbox(uct_score):
    mu, sd, y = _gaussian_case(seed=5)
    p = GaussianPredictive(mu, sd)
    assert M.check_score(y, p) == pytest.approx(uct_score.check_score(mu, sd, y), abs=1e-6)
    assert M.mean_interval_score(y, p) == pytest.approx(uct_score.interval_score(mu, sd, y), abs=1e-6)
    assert M.check_score(y, p, np.linspace(0.05, 0.95, 19)) == pytest.approx(
        uct_score.check_score(mu, sd, y, start_q=0.05, end_q=0.95, resolution=19), abs=1e-6
    )
    assert M.mean_interval_score(y, p, [0.9]) == pytest.approx(M.interval_score(y, p, 0.9), rel=1e-12)
    assert M.interval_score(y, p, 0.9) == pytest.approx(
        uct_score.interval_score(mu, sd, y, start_p=0.9, end_p=0.9, resolution=1), abs=1e-6
    )
    assert M.crps(y, p) == pytest.approx(uct_score.crps_gaussian(mu, sd, y), abs=1e-6)
    assert M.nll(y, p) == pytest.approx(uct_score.nll_gaussian(mu, sd, y), abs=1e-6)


def test_accuracy_equals_uncertainty_toolbox():
    acc = pytest.importorskip("uncertainty_toolbox.metrics_accuracy")
    mu, sd, y = _gaussian_case(seed=6)
    ref = acc.prediction_error_metrics(mu, y)
    p = GaussianPredictive(mu, sd)
    assert M.mae(y, p) == pytest.approx(ref["mae"], abs=1e-12)
    assert M.rmse(y, p) == pytest.approx(ref["rmse"], abs=1e-12)


def test_crps_equals_properscoring():
    ps = pytest.importorskip("properscoring")
    mu, sd, y = _gaussian_case(seed=7)
    np.testing.assert_allclose(
        M.crps_per_point(y, GaussianPredictive(mu, sd)), ps.crps_gaussian(y, mu, sd), atol=1e-6, rtol=0
    )
    plain = _plain(len(y), s=40, seed=8)
    np.testing.assert_allclose(M.crps_per_point(y, plain), ps.crps_ensemble(y, plain.locs), atol=1e-6, rtol=0)
    # a single point with ties among the samples
    tied = SamplePredictive([[0.0, 0.0, 1.0, 1.0, 1.0, 3.0]])
    assert M.crps([0.5], tied) == pytest.approx(float(ps.crps_ensemble(0.5, tied.locs[0])), abs=1e-12)


# --------------------------------------------------------------------------------------------
# closed forms against numerical integration
# --------------------------------------------------------------------------------------------


def _crps_by_quadrature(p: Predictive, y: float) -> float:
    """``int (F(x) - 1{x >= y})^2 dx`` with scipy.integrate.quad, split at y."""

    def cdf(x: float) -> float:
        return float(p.cdf(x)[0])

    left, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, epsabs=1e-11, epsrel=1e-10, limit=200)
    right, _ = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, np.inf, epsabs=1e-11, epsrel=1e-10, limit=200)
    return left + right


def test_mixture_crps_equals_numerical_integration():
    mix = _mixture(4, k=3, seed=12)
    ys = np.array([-1.0, 0.3, 2.5, 7.0])
    closed = M.crps_per_point(ys, mix)
    for i in range(4):
        assert closed[i] == pytest.approx(_crps_by_quadrature(mix[i], ys[i]), rel=1e-7, abs=1e-9)


def test_samples_with_scales_crps_is_the_mixture_closed_form():
    ens = _ensemble(30, s=12, seed=13)
    y = np.random.default_rng(14).normal(size=30)
    as_mix = MixturePredictive(*ens.as_mixture())
    np.testing.assert_allclose(M.crps_per_point(y, ens), M.crps_per_point(y, as_mix), rtol=1e-12)
    assert M.crps_per_point(y[:1], ens[0])[0] == pytest.approx(_crps_by_quadrature(ens[0], y[0]), rel=1e-7)


def test_one_component_mixture_equals_gaussian_and_chunking_is_invisible(monkeypatch):
    rng = np.random.default_rng(15)
    mu, sd, y = rng.normal(size=50), rng.uniform(0.5, 2.0, size=50), rng.normal(size=50)
    gauss = M.crps_per_point(y, GaussianPredictive(mu, sd))
    one = M.crps_per_point(y, MixturePredictive(np.ones((50, 1)), mu[:, None], sd[:, None]))
    np.testing.assert_allclose(one, gauss, rtol=1e-12, atol=1e-14)
    mix = _mixture(50, k=4, seed=16)
    whole = M.crps_per_point(y, mix)
    monkeypatch.setattr(crps_numerics, "_PAIR_BUDGET", 3 * 16)  # three rows per chunk
    np.testing.assert_allclose(M.crps_per_point(y, mix), whole, rtol=1e-13)


# --------------------------------------------------------------------------------------------
# PIT, coverage, ENCE and z-scores on data drawn from a known predictive
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pred", _all_kinds(400), ids=KIND_IDS)
def test_pit_uniform_on_data_drawn_from_the_predictive(pred):
    y = pred.sample(1, seed=21)[0]
    u = M.pit(y, pred)
    assert u.shape == (len(pred),) and np.all((u >= 0) & (u <= 1))
    res = M.pit_uniformity(y, pred)
    assert res["p_value"] > 0.01 and res["uniform"]
    assert res["ks_statistic"] < 0.1
    assert "consistent with uniform" in res["interpretation"]


def test_pit_clearly_non_uniform_when_over_or_under_confident():
    mu, sd, y = _gaussian_case(n=1000, scale=2.0, bias=0.0, seed=22)
    over = M.pit_uniformity(y, GaussianPredictive(mu, sd))
    assert over["p_value"] < 1e-6 and not over["uniform"]
    assert "over-confident" in over["interpretation"]
    under = M.pit_uniformity(y, GaussianPredictive(mu, 5.0 * sd))
    assert under["p_value"] < 1e-6 and "under-confident" in under["interpretation"]
    biased = M.pit_uniformity(y + 3.0 * sd, GaussianPredictive(mu, 2.0 * sd))
    assert biased["p_value"] < 1e-6 and "predictions too low" in biased["interpretation"]


@pytest.mark.parametrize("pred", _all_kinds(300), ids=KIND_IDS)
def test_coverage_matches_interval_coverage_and_is_near_nominal(pred):
    y = pred.sample(1, seed=23)[0]
    levels = [0.5, 0.8, 0.9]
    cov = M.coverage(y, pred, levels)
    assert cov.shape == (3,)
    for level, c in zip(levels, cov):
        assert c == M.interval_coverage(y, pred, level)
        assert abs(c - level) < 4 * np.sqrt(level * (1 - level) / len(y))


def test_ence_and_z_scores_on_calibrated_and_mis_scaled_data():
    rng = np.random.default_rng(24)
    n = 5000
    mu, sd = rng.normal(size=n), rng.uniform(0.2, 3.0, size=n)
    y = mu + sd * rng.normal(size=n)
    good = GaussianPredictive(mu, sd)
    assert M.ence(y, good) < 0.08
    half = GaussianPredictive(mu, sd / 2)  # std half the actual error: ENCE ~ 1
    assert M.ence(y, half) > 0.8
    assert M.ence(y, GaussianPredictive(mu, 2 * sd)) == pytest.approx(0.5, abs=0.05)
    z_good, z_half = M.z_score_stats(y, good), M.z_score_stats(y, half)
    assert abs(z_good["mean"]) < 0.05 and z_good["variance"] == pytest.approx(1.0, abs=0.06)
    assert z_half["variance"] == pytest.approx(4.0, rel=0.06)
    np.testing.assert_allclose(M.z_scores(y, good), (y - mu) / sd)


def test_rmv_rmse_curve_bins():
    mu, sd, y = _gaussian_case(n=103, seed=25)
    p = GaussianPredictive(mu, sd)
    curve = M.rmv_rmse_curve(y, p, n_bins=10)
    assert list(curve.columns) == ["bin", "n", "rmv", "rmse", "mean_std"]
    assert len(curve) == 10 and curve["n"].sum() == 103 and set(curve["n"]) <= {10, 11}
    assert np.all(np.diff(curve["rmv"]) > 0) and np.all(np.diff(curve["mean_std"]) > 0)
    first = np.argsort(sd, kind="stable")[: curve["n"][0]]
    assert curve["rmv"][0] == pytest.approx(np.sqrt(np.mean(sd[first] ** 2)))
    assert curve["rmse"][0] == pytest.approx(np.sqrt(np.mean((y[first] - mu[first]) ** 2)))
    rmv, rmse = curve["rmv"].to_numpy(), curve["rmse"].to_numpy()
    assert M.ence(y, p) == pytest.approx(np.mean(np.abs(rmv - rmse) / rmv))


@pytest.mark.parametrize("pred", _all_kinds(), ids=KIND_IDS)
def test_summary_has_every_metric_for_every_kind(pred):
    y = pred.sample(1, seed=26)[0]
    table = M.summary(y, pred)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["metric", "value", "ideal", "meaning"]
    names = list(table["metric"])
    for name in [
        "mae", "rmse", "nll", "crps", "pit_ks_statistic", "pit_ks_pvalue", "coverage_50", "coverage_90",
        "coverage_95", "miscalibration_area", "rms_calibration_error", "mean_absolute_calibration_error",
        "sharpness", "ence", "z_mean", "z_variance", "interval_score_90", "check_score",
    ]:
        assert name in names
    assert len(names) == len(set(names))
    assert np.all(np.isfinite(table["value"]))
    assert all(isinstance(m, str) and m.endswith(".") and len(m) < 90 for m in table["meaning"])
    value = dict(zip(table["metric"], table["value"]))
    assert value["crps"] == pytest.approx(M.crps(y, pred))
    assert value["miscalibration_area"] == pytest.approx(M.miscalibration_area(y, pred))
    assert value["coverage_90"] == M.interval_coverage(y, pred, 0.9)
    ideal = dict(zip(table["metric"], table["ideal"]))
    assert ideal["coverage_95"] == 0.95 and ideal["z_variance"] == 1.0 and np.isnan(ideal["nll"])
    assert list(M.summary(y, pred, levels=[0.8])["metric"]).count("coverage_80") == 1


@pytest.mark.parametrize("pred", _all_kinds(), ids=KIND_IDS)
def test_every_metric_returns_a_finite_float_for_every_kind(pred):
    y = pred.sample(1, seed=27)[0]
    for fn in [
        M.mae, M.rmse, M.nll, M.crps, M.miscalibration_area, M.rms_calibration_error,
        M.mean_absolute_calibration_error, M.ence, M.interval_score, M.mean_interval_score, M.check_score,
        M.interval_coverage,
    ]:
        value = fn(y, pred)
        assert isinstance(value, float) and np.isfinite(value), fn.__name__
    for fn in [M.nll_per_point, M.crps_per_point, M.interval_score_per_point, M.check_score_per_point]:
        per = fn(y, pred)
        assert per.shape == (len(y),)
    assert M.crps(y, pred) == pytest.approx(np.mean(M.crps_per_point(y, pred)))
    assert M.check_score(y, pred) == pytest.approx(np.mean(M.check_score_per_point(y, pred)))


def test_check_score_approaches_half_the_crps():
    """CRPS = 2 int_0^1 pinball_q dq, so a fine quantile grid gives half the CRPS."""
    mix = _mixture(20, seed=28)
    y = mix.sample(1, seed=29)[0]
    grid = (np.arange(2000) + 0.5) / 2000
    np.testing.assert_allclose(
        2 * M.check_score_per_point(y, mix, grid), M.crps_per_point(y, mix), rtol=2e-3, atol=1e-4
    )


# --------------------------------------------------------------------------------------------
# property-based: CRPS is non-negative and proper
# --------------------------------------------------------------------------------------------

_finite = st.floats(-50.0, 50.0, allow_nan=False)
_scale = st.floats(0.01, 20.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    y=_finite,
    locs=st.lists(_finite, min_size=1, max_size=5),
    scales=st.lists(_scale, min_size=5, max_size=5),
    raw_w=st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5),
)
def test_crps_is_non_negative_for_every_kind(y, locs, scales, raw_w):
    k = len(locs)
    w = np.array(raw_w[:k]) / np.sum(raw_w[:k])
    loc, sc = np.array(locs)[None, :], np.array(scales[:k])[None, :]
    preds: list[Predictive] = [
        GaussianPredictive(loc[0, :1], sc[0, :1]),
        MixturePredictive(w[None, :], loc, sc),
        SamplePredictive(loc, sc),
    ]
    if k >= 2:
        preds.append(SamplePredictive(loc))
    for p in preds:
        value = M.crps([y], p)
        assert value >= 0.0 and np.isfinite(value)


@settings(max_examples=60, deadline=None)
@given(y=_finite, sd=_scale, shift=st.floats(-10.0, 10.0).filter(lambda d: abs(d) > 1e-6))
def test_crps_is_smallest_when_the_predictive_is_centred_on_the_truth(y, sd, shift):
    centred = M.crps([y], GaussianPredictive([y], [sd]))
    assert centred == pytest.approx(sd * (np.sqrt(2) - 1) / np.sqrt(np.pi), rel=1e-9)
    assert centred < M.crps([y], GaussianPredictive([y + shift], [sd]))


_GRID = (np.arange(4000) + 0.5) / 4000


@settings(max_examples=40, deadline=None)
@given(m=st.floats(-2.0, 2.0), s=st.floats(0.3, 3.0), w=st.floats(0.1, 0.9))
def test_expected_crps_is_minimised_by_the_true_distribution(m, s, w):
    """Propriety: under Y ~ G (a two-component mixture), E CRPS(F, Y) >= E CRPS(G, Y)."""
    true = MixturePredictive([[w, 1 - w]], [[-1.0, 2.0]], [[0.5, 1.0]])
    ys = true.quantile(_GRID)[:, 0]  # quantile grid: a deterministic sample of G
    n = len(ys)

    def expected(weights, locs, scales) -> float:
        p = MixturePredictive(np.repeat([weights], n, 0), np.repeat([locs], n, 0), np.repeat([scales], n, 0))
        return M.crps(ys, p)

    best = expected([w, 1 - w], [-1.0, 2.0], [0.5, 1.0])
    assert best <= expected([w, 1 - w], [-1.0 + m, 2.0], [0.5 * s, 1.0]) + 1e-7
    assert best <= expected([1.0], [m], [s]) + 1e-7


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.fixture
def gauss() -> GaussianPredictive:
    return GaussianPredictive(np.zeros(6), np.ones(6))


ALL_METRICS = [
    M.mae, M.rmse, M.nll, M.nll_per_point, M.crps, M.crps_per_point, M.pit, M.pit_uniformity,
    M.interval_coverage, M.coverage, M.calibration_curve, M.miscalibration_area, M.rms_calibration_error,
    M.mean_absolute_calibration_error, M.rmv_rmse_curve, M.ence, M.z_scores, M.z_score_stats,
    M.interval_score, M.interval_score_per_point, M.mean_interval_score, M.check_score,
    M.check_score_per_point, M.summary,
]


@pytest.mark.parametrize("fn", ALL_METRICS, ids=lambda f: f.__name__)
def test_length_mismatch_names_the_argument(fn, gauss):
    with pytest.raises(InputError, match=r"y_true has 5 values but the gaussian predictive has 6 points"):
        fn(np.zeros(5), gauss)


@pytest.mark.parametrize("fn", ALL_METRICS, ids=lambda f: f.__name__)
def test_non_finite_truth_lists_the_rows(fn, gauss):
    y = np.zeros(6)
    y[[1, 4]] = [np.nan, np.inf]
    with pytest.raises(InputError, match=r"y_true has NaN or infinite values at row\(s\) 1, 4"):
        fn(y, gauss)


@pytest.mark.parametrize("fn", ALL_METRICS, ids=lambda f: f.__name__)
def test_not_a_predictive(fn, gauss):
    with pytest.raises(InputError, match="predictive must be a bdl.predictive.Predictive"):
        fn(np.zeros(6), np.zeros(6))
    with pytest.raises(InputError, match="swapped"):
        fn(gauss, np.zeros(6))


def test_bad_shapes_and_text(gauss):
    with pytest.raises(InputError, match=r"y_true must be 1-D"):
        M.crps(np.zeros((3, 2)), gauss)
    with pytest.raises(InputError, match="could not be converted"):
        M.crps(["a"] * 6, gauss)
    assert M.crps(np.zeros((6, 1)), gauss) == M.crps(np.zeros(6), gauss)  # a column is fine
    with pytest.raises(InputError, match="predictive must be"):
        M.sharpness(np.ones(3))


@pytest.mark.parametrize("levels", [[0.5, 1.0], [0.0], [-0.1, 0.5], [90.0], [np.nan], []])
def test_levels_outside_the_unit_interval(levels, gauss):
    y = np.zeros(6)
    with pytest.raises(InputError, match="levels"):
        M.coverage(y, gauss, levels)
    with pytest.raises(InputError, match="levels"):
        M.summary(y, gauss, levels=levels)
    with pytest.raises(InputError, match="levels"):
        M.mean_interval_score(y, gauss, levels)
    with pytest.raises(InputError, match="quantiles"):
        M.check_score(y, gauss, levels)


def test_other_bad_arguments(gauss):
    y = np.zeros(6)
    with pytest.raises(InputError, match=r"level must lie strictly inside \(0, 1\), got 90.0"):
        M.interval_coverage(y, gauss, 90)
    with pytest.raises(InputError, match="level"):
        M.interval_score(y, gauss, 1.0)
    with pytest.raises(InputError, match="n_bins = 7 is more than the 6 points"):
        M.ence(y, gauss, n_bins=7)
    with pytest.raises(InputError, match="n_bins must be an int >= 1"):
        M.rmv_rmse_curve(y, gauss, n_bins=0)
    with pytest.raises(InputError, match="n_levels must be an int >= 2"):
        M.miscalibration_area(y, gauss, n_levels=1)
    with pytest.raises(InputError, match="kind must be 'interval'"):
        M.calibration_curve(y, gauss, kind="quantiles")
    with pytest.raises(InputError, match="point must be"):
        M.mae(y, gauss, point="mode")


def test_bad_predictives_are_rejected_when_built():
    """Non-positive std, weights not summing to one and single plain samples never reach a
    metric: the predictive constructors reject them (the metrics do not re-check)."""
    with pytest.raises(InputError, match=r"stddev must be strictly positive.*row \[2\]"):
        GaussianPredictive([0.0, 0.0, 0.0], [1.0, 1.0, 0.0])
    with pytest.raises(InputError, match="weights must sum to 1"):
        MixturePredictive([[0.5, 0.4]], [[0.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(InputError, match="scales must be strictly positive"):
        SamplePredictive([[0.0, 1.0]], [[1.0, -1.0]])
    with pytest.raises(InputError, match="at least 2"):
        SamplePredictive([[0.0], [1.0]])
