"""Tests of :class:`bdl.predictive.BoundedPredictive` (truncated components plus point masses)
and of everything that does maths on it: closed forms against ``scipy.integrate.quad`` and
Monte Carlo, the untruncated case against the Gaussian / mixture kinds, bounds never crossed,
randomised PIT uniformity, ledger records for every kind, and error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from bdl.calibration import metrics as M
from bdl.calibration.recalibration import IsotonicRecalibration, StdScaling
from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import (
    BoundedPredictive,
    GaussianPredictive,
    MixturePredictive,
    Predictive,
    SamplePredictive,
    concat,
    predictive_from_records,
)
from discovery_loop import acquisition as A

N_MC = 400_000


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------


def make_bounded() -> BoundedPredictive:
    """Five rows: a band gap with P(metal), a two-sided window with both atoms, a narrow
    component near a bound, a deep truncation (loc 30 scales below the bound), no bounds."""
    w = np.array([[0.3, 0.7], [1.0, 0.0], [0.5, 0.5], [0.6, 0.4], [0.25, 0.75]])
    loc = np.array([[1.0, 2.0], [0.5, 3.0], [-3.0, 0.2], [-30.0, 1.0], [-1.0, 2.0]])
    scale = np.array([[1.0, 0.5], [2.0, 1.0], [0.3, 0.05], [1.0, 0.5], [0.5, 1.5]])
    lower = np.array([0.0, -1.0, 0.0, 0.0, -np.inf])
    upper = np.array([np.inf, 2.0, 0.25, np.inf, np.inf])
    p_lower = np.array([0.53, 0.2, 0.1, 0.3, 0.0])
    p_upper = np.array([0.0, 0.3, 0.05, 0.0, 0.0])
    return BoundedPredictive(w, loc, scale, lower, upper, p_lower, p_upper)


def make_gaussian_pair() -> tuple[GaussianPredictive, BoundedPredictive]:
    g = GaussianPredictive([0.0, 1.0, 5.0, -2.0], [1.0, 2.0, 0.1, 0.7], epistemic_variance=[0.3, 1.0, 0.001, 0.2])
    b = BoundedPredictive(np.ones((4, 1)), g.mean[:, None], g.stddev[:, None], epistemic_variance=g.epistemic_variance)
    return g, b


def make_mixture_pair() -> tuple[MixturePredictive, BoundedPredictive]:
    m = MixturePredictive(
        [[0.2, 0.5, 0.3], [0.9, 0.05, 0.05], [0.5, 0.5, 0.0]],
        [[-2.0, 0.0, 3.0], [1.0, 5.0, -5.0], [-1.0, 1.0, 0.0]],
        [[0.5, 1.0, 0.3], [1.0, 0.2, 2.0], [0.1, 3.0, 1.0]],
    )
    return m, BoundedPredictive(m.weights, m.locs, m.scales)


def _row_bounds(p: BoundedPredictive, i: int) -> tuple[float, float]:
    lo, hi = float(p.lower[i]), float(p.upper[i])
    mu, sd = float(p.mean[i]), float(p.stddev[i])
    return (lo if np.isfinite(lo) else mu - 60 * sd - 60, hi if np.isfinite(hi) else mu + 60 * sd + 60)


def _density(p: BoundedPredictive, i: int):  # the continuous part, times its mass
    row = p[i]
    lo, hi = float(p.lower[i]), float(p.upper[i])
    return lambda x: float(np.exp(row.log_prob(x)[0])) if lo < x < hi else 0.0


def _breaks(p: BoundedPredictive, i: int, *extra: float) -> list[float]:
    lo, hi = _row_bounds(p, i)
    pts = [float(v) for v in np.concatenate([p.component_means[i], list(extra)])]
    return sorted({min(max(v, lo), hi) for v in pts})


def _expect(p: BoundedPredictive, i: int, g, *extra: float) -> float:
    """E[g(Y)] by quad over the continuous part plus the atoms."""
    lo, hi = _row_bounds(p, i)
    f = _density(p, i)
    val = integrate.quad(lambda x: g(x) * f(x), lo, hi, points=_breaks(p, i, *extra), limit=500,
                         epsabs=1e-13, epsrel=1e-12)[0]
    if p.p_lower[i] > 0:
        val += p.p_lower[i] * g(float(p.lower[i]))
    if p.p_upper[i] > 0:
        val += p.p_upper[i] * g(float(p.upper[i]))
    return val


# ------------------------------------------------------------------------------------------
# construction and validation
# ------------------------------------------------------------------------------------------


def test_kind_and_structure():
    p = make_bounded()
    assert p.kind == "bounded" and len(p) == 5 and p.n_components == 2
    assert np.all(p.continuous_mass == 1 - p.p_lower - p.p_upper)
    assert repr(p) == "<BoundedPredictive n=5 K=2>"
    with pytest.raises(UnsupportedOperationError, match="bounded"):
        p.as_mixture()
    with pytest.raises(UnsupportedOperationError, match="bounded"):
        p.to_tfp()
    with pytest.raises(UnsupportedOperationError, match="bounded"):
        _ = p.epistemic_variance
    with pytest.raises(ValueError):
        p.weights[0, 0] = 0.5  # read-only


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lower": [0.0, 2.0], "upper": 1.0}, r"lower must be below upper.*row \[1\]"),
        ({"upper": [1.0, -5.0], "lower": 0.0}, r"lower must be below upper.*row \[1\]"),
        ({"p_lower": [0.1, 0.2]}, r"p_lower puts a point mass at lower.*rows \[0, 1\].*lower=0.0"),
        ({"lower": 0.0, "p_lower": [0.1, 1.5]}, r"p_lower must lie in \[0, 1\].*row \[1\]"),
        ({"lower": 0.0, "upper": 5.0, "p_lower": 0.6, "p_upper": [0.1, 0.5]}, r"p_lower \+ p_upper.*row \[1\]"),
        ({"lower": [0.0, np.nan]}, r"lower is NaN.*row \[1\]"),
        ({"upper": [-np.inf, 3.0]}, r"upper is NaN or -inf.*row \[0\]"),
        ({"lower": [0.0, 1.0, 2.0]}, r"lower must be None, a number or an array of shape \(n_points,\) = \(2,\)"),
        ({"p_upper": "x"}, r"p_upper must be None"),
        ({"lower": 1e200}, r"no probability inside \[lower, upper\].*row \[0\].*component 0"),
    ],
)
def test_validation_messages_name_the_argument_and_rows(kwargs, match):
    w = [[1.0, 0.0], [0.5, 0.5]]
    loc = [[0.0, 1.0], [0.0, 1.0]]
    scale = [[1.0, 1.0], [1.0, 1.0]]
    if kwargs.get("lower") == 1e200:
        w, loc, scale = [[1.0]], [[0.0]], [[1.0]]
    with pytest.raises(InputError, match=match):
        BoundedPredictive(w, loc, scale, **kwargs)


def test_validation_of_arrays_uses_the_module_messages():
    with pytest.raises(InputError, match=r"weights must sum to 1.*row \[1\].*p_lower / p_upper"):
        BoundedPredictive([[0.5, 0.5], [0.5, 0.4]], [[0, 1], [0, 1]], [[1, 1], [1, 1]])
    with pytest.raises(InputError, match=r"scales must be strictly positive.*row \[0\]"):
        BoundedPredictive([[1.0]], [[0.0]], [[0.0]])
    with pytest.raises(InputError, match=r"weights must be non-negative.*row \[0\]"):
        BoundedPredictive([[1.5, -0.5]], [[0.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(InputError, match=r"locs has shape"):
        BoundedPredictive([[1.0]], [[0.0, 1.0]], [[1.0]])
    with pytest.raises(InputError, match="epistemic_variance must lie in"):
        BoundedPredictive([[1.0]], [[0.0]], [[1.0]], lower=0.0, epistemic_variance=[5.0])


def test_zero_weight_component_may_lie_outside_the_support():
    p = BoundedPredictive([[1.0, 0.0]], [[1.0, -1e9]], [[1.0, 1.0]], lower=0.0)
    q = BoundedPredictive([[1.0]], [[1.0]], [[1.0]], lower=0.0)
    assert p.mean[0] == pytest.approx(q.mean[0], rel=1e-14)
    assert p.cdf(1.3)[0] == pytest.approx(q.cdf(1.3)[0], rel=1e-14)
    assert np.all(p.sample(100, seed=1) >= 0.0)


def test_a_row_that_is_all_atoms():
    p = BoundedPredictive([[1.0]], [[0.5]], [[1.0]], lower=0.0, upper=1.0, p_lower=0.4, p_upper=0.6)
    assert p.mean[0] == pytest.approx(0.6) and p.variance[0] == pytest.approx(0.24)
    assert np.array_equal(p.quantile([0.1, 0.4, 0.41, 0.9])[:, 0], [0.0, 0.0, 1.0, 1.0])
    assert p.log_prob(0.5)[0] == -np.inf
    assert set(np.unique(p.sample(1000, seed=0))) == {0.0, 1.0}


# ------------------------------------------------------------------------------------------
# exact values against quadrature and Monte Carlo
# ------------------------------------------------------------------------------------------


def test_total_probability_is_one():
    p = make_bounded()
    for i in range(len(p)):
        assert _expect(p, i, lambda x: 1.0) == pytest.approx(1.0, abs=1e-9)


def test_mean_and_variance_against_quadrature():
    p = make_bounded()
    for i in range(len(p)):
        mean = _expect(p, i, lambda x: x)
        assert p.mean[i] == pytest.approx(mean, rel=1e-8, abs=1e-10)
        var = _expect(p, i, lambda x, m=mean: (x - m) ** 2)
        assert p.variance[i] == pytest.approx(var, rel=1e-7, abs=1e-10)


def test_mean_variance_and_atoms_against_monte_carlo():
    p = make_bounded()
    s = p.sample(N_MC, seed=11)
    se = np.sqrt(p.variance / N_MC)
    assert np.all(np.abs(s.mean(axis=0) - p.mean) < 5 * se)
    assert np.allclose(s.var(axis=0), p.variance, rtol=0.02)
    for atom, mass in ((p.lower, p.p_lower), (p.upper, p.p_upper)):
        freq = (s == atom).mean(axis=0)
        assert np.all(np.abs(freq - mass) < 5 * np.sqrt(mass * (1 - mass) / N_MC) + 1e-12)


def test_samples_follow_the_cdf():
    p = make_bounded()
    s = p.sample(20_000, seed=5)
    for i in range(len(p)):
        row = p[i]
        inside = s[:, i][(s[:, i] > p.lower[i]) & (s[:, i] < p.upper[i])]
        c = p.continuous_mass[i]
        res = stats.kstest(inside, lambda x: (row.cdf(x[:, None])[:, 0] - p.p_lower[i]) / c)
        assert res.pvalue > 1e-3


def test_cdf_against_quadrature_and_sf_complements():
    p = make_bounded()
    for i in range(len(p)):
        lo, _ = _row_bounds(p, i)
        f = _density(p, i)
        for y in np.quantile(p.sample(2000, seed=i)[:, i], [0.05, 0.3, 0.6, 0.95]):
            if not (p.lower[i] < y < p.upper[i]):
                continue
            ref = p.p_lower[i] + integrate.quad(f, lo, y, points=_breaks(p, i, y)[:-1] or None, limit=400, epsabs=1e-13)[0]
            assert p[i].cdf(y)[0] == pytest.approx(ref, abs=1e-9)
    y = np.linspace(-3, 4, 57)[:, None] * np.ones(len(p))
    assert np.allclose(p.cdf(y) + p.sf(y), 1.0, atol=1e-14)
    with np.errstate(divide="ignore"):
        assert np.allclose(np.exp(p.log_cdf(y)), p.cdf(y), atol=1e-15, rtol=1e-12)
        assert np.allclose(np.exp(p.log_sf(y)), p.sf(y), atol=1e-15, rtol=1e-12)


def test_atoms_in_cdf_log_prob_and_left_limit():
    p = make_bounded()
    assert np.allclose(p.cdf(p.lower)[:4], p.p_lower[:4])
    assert np.all(p._cdf_left(p.lower)[:4] == 0.0)
    assert np.allclose(p.log_prob(p.lower)[:4], np.log(p.p_lower[:4]))
    assert p.log_prob(p.upper)[1] == pytest.approx(np.log(0.3))
    assert p.sf(p.upper)[1] == 0.0 and p.sf(np.nextafter(2.0, 0.0))[1] == pytest.approx(0.3, abs=1e-12)
    below = np.where(np.isfinite(p.lower), p.lower - 1e-9, -1e300)
    assert np.all(p.log_prob(below)[:4] == -np.inf) and np.all(p.cdf(below)[:4] == 0.0)
    above = np.where(np.isfinite(p.upper), p.upper + 1e-9, 1e300)
    assert p.log_prob(above)[1] == -np.inf and p.cdf(above)[1] == 1.0
    # inside: log c + log of the truncated density
    row = p[0]
    comp = stats.truncnorm((0 - p.locs[0]) / p.scales[0], np.inf, loc=p.locs[0], scale=p.scales[0])
    dens = 0.47 * np.sum(p.weights[0] * comp.pdf(1.3))
    assert row.log_prob(1.3)[0] == pytest.approx(np.log(dens), rel=1e-12)


def test_deep_truncation_stays_finite_and_exact():
    # component 0 of row 3 has loc 30 scales below the bound: an exponential of rate 30
    p = BoundedPredictive([[1.0]], [[-30.0]], [[1.0]], lower=0.0)
    ref = stats.truncnorm(30.0, np.inf, loc=-30.0, scale=1.0)
    assert p.mean[0] == pytest.approx(ref.mean(), rel=1e-12)
    assert p.variance[0] == pytest.approx(ref.var(), rel=1e-8)
    assert p.cdf(0.01)[0] == pytest.approx(ref.cdf(0.01), rel=1e-12)
    assert p.log_sf(1.0)[0] == pytest.approx(ref.logsf(1.0), rel=1e-10)
    assert p.quantile(0.5)[0] == pytest.approx(ref.ppf(0.5), rel=1e-12)
    assert np.isfinite(p.log_prob(0.5)[0])


def test_log_tails_are_finite_far_out():
    p = BoundedPredictive([[1.0]], [[1.0]], [[0.5]], lower=0.0, p_lower=0.3)
    assert np.isfinite(p.log_sf(40.0)[0]) and p.log_sf(40.0)[0] < -2000
    ref = np.log(0.7) + stats.norm.logsf(40.0, 1.0, 0.5) - stats.norm.logsf(0.0, 1.0, 0.5)
    assert p.log_sf(40.0)[0] == pytest.approx(ref, rel=1e-12)
    assert p.log_cdf(1e-300)[0] == pytest.approx(np.log(0.3), rel=1e-12)


# ------------------------------------------------------------------------------------------
# quantiles: atoms respected, bounds never crossed
# ------------------------------------------------------------------------------------------


def test_quantile_inverts_the_cdf_and_respects_atoms():
    p = make_bounded()
    q = np.array([1e-6, 0.05, 0.1, 0.2, 0.3, 0.53, 0.531, 0.6, 0.69, 0.7, 0.75, 0.9, 0.97, 1 - 1e-9])
    x = p.quantile(q)
    assert np.all(x >= p.lower) and np.all(x <= p.upper)
    at_lo = q[:, None] <= p.p_lower
    assert np.all(x[at_lo] == np.broadcast_to(p.lower, x.shape)[at_lo])
    at_hi = (q[:, None] >= 1 - p.p_upper) & ~at_lo & (p.p_upper > 0)
    assert np.all(x[at_hi] == np.broadcast_to(p.upper, x.shape)[at_hi])
    free = ~(at_lo | at_hi)
    F = p.cdf(x)
    assert np.allclose(F[free], np.broadcast_to(q[:, None], x.shape)[free], rtol=1e-9, atol=1e-12)
    lo, hi = p.interval(0.9)
    assert np.allclose(lo, p.quantile(0.05)) and np.allclose(hi, p.quantile(0.95))


@settings(max_examples=60, deadline=None)
@given(
    locs=st.lists(st.floats(-20, 20), min_size=2, max_size=2),
    scales=st.lists(st.floats(0.01, 10), min_size=2, max_size=2),
    w0=st.floats(0.0, 1.0),
    lower=st.floats(-5, 5),
    width=st.one_of(st.just(np.inf), st.floats(0.01, 10)),
    pl=st.floats(0.0, 0.6),
    pu=st.floats(0.0, 0.39),
    q=st.lists(st.floats(1e-12, 1 - 1e-12), min_size=1, max_size=8),
)
def test_quantiles_and_samples_never_cross_the_bounds(locs, scales, w0, lower, width, pl, pu, q):
    upper = lower + width
    if not np.isfinite(upper):
        pu = 0.0
    try:
        p = BoundedPredictive([[w0, 1 - w0]], [locs], [scales], lower, upper, pl, pu)
    except InputError as exc:  # a component with no mass left in double precision
        assert "no probability inside" in str(exc)
        return
    x = p.quantile(np.array(q))
    assert np.all(x >= lower) and np.all(x <= upper)
    assert np.all(np.diff(x[np.argsort(q), 0]) >= -1e-9 * (1 + np.abs(x).max()))
    lo, hi = p.interval(0.95)
    assert lower <= lo[0] <= hi[0] <= upper
    s = p.sample(200, seed=0)
    assert np.all(s >= lower) and np.all(s <= upper)
    assert lower <= p.mean[0] <= upper


# ------------------------------------------------------------------------------------------
# no bounds, no atoms: the Gaussian and mixture kinds exactly
# ------------------------------------------------------------------------------------------


def _assert_same(a, b, tol=1e-10):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))
    assert np.all(both_inf | close)


@pytest.mark.parametrize("pair", [make_gaussian_pair, make_mixture_pair])
def test_untruncated_equals_the_reference_kind_in_the_distribution(pair):
    ref, b = pair()
    y = np.linspace(-8, 9, 35)[:, None] * np.ones(len(ref))
    for name in ("mean", "variance", "stddev"):
        _assert_same(getattr(b, name), getattr(ref, name))
    for name in ("log_prob", "cdf", "sf", "log_cdf", "log_sf"):
        _assert_same(getattr(b, name)(y), getattr(ref, name)(y))
    q = np.array([1e-8, 0.01, 0.3, 0.5, 0.77, 0.99, 1 - 1e-8])
    _assert_same(b.quantile(q), ref.quantile(q), tol=1e-9)
    _assert_same(b.interval(0.8), ref.interval(0.8), tol=1e-9)
    _assert_same(b.sample(50, seed=3), ref.sample(50, seed=3))


@pytest.mark.parametrize("pair", [make_gaussian_pair, make_mixture_pair])
def test_untruncated_equals_the_reference_kind_in_every_metric(pair):
    ref, b = pair()
    y = ref.sample(1, seed=9)[0] + 0.3
    for name in ("nll", "crps", "mae", "rmse", "interval_coverage", "interval_score",
                 "check_score", "mean_interval_score", "miscalibration_area",
                 "rms_calibration_error", "mean_absolute_calibration_error"):
        _assert_same(getattr(M, name)(y, b), getattr(M, name)(y, ref))
    for name in ("nll_per_point", "crps_per_point", "pit", "z_scores", "interval_score_per_point",
                 "check_score_per_point"):
        _assert_same(getattr(M, name)(y, b), getattr(M, name)(y, ref))
    _assert_same(M.coverage(y, b), M.coverage(y, ref))
    _assert_same(M.calibration_curve(y, b)[1], M.calibration_curve(y, ref)[1])
    _assert_same(M.sharpness(b), M.sharpness(ref))
    _assert_same(M.ence(y, b, 2), M.ence(y, ref, 2))
    sb, sr = M.summary(y, b), M.summary(y, ref)
    _assert_same(sb["value"].to_numpy(), sr["value"].to_numpy())


@pytest.mark.parametrize("pair", [make_gaussian_pair, make_mixture_pair])
@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("best", [-30.0, -1.0, 0.4, 3.0, 60.0])
def test_untruncated_equals_the_reference_kind_in_every_acquisition(pair, maximize, best):
    ref, b = pair()
    for name, func in A.ACQUISITIONS.items():
        kw = {"best": best, "seed": 4, "maximize": maximize}
        if name in ("window", "log_window"):
            kw.update(low=best, high=best + 1.5)
        if name == "max_epistemic" and not ref.has_split:
            continue
        if name in ("ei", "pi", "window"):
            _assert_same(func(b, **kw), func(ref, **kw), tol=1e-10)
        else:
            _assert_same(func(b, **kw), func(ref, **kw), tol=1e-10)


# ------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------


def _crps_quad(p: BoundedPredictive, i: int, y: float) -> float:
    row = p[i]
    lo, hi = _row_bounds(p, i)
    a, b = min(lo, y) - 1.0, max(hi, y) + 1.0
    pts = sorted({v for v in [y, float(p.lower[i]), float(p.upper[i]), *p.component_means[i]]
                  if np.isfinite(v) and a < v < b})
    val = integrate.quad(lambda x: (row.cdf(x)[0] - (x >= y)) ** 2, a, b, points=pts, limit=800,
                         epsabs=1e-13, epsrel=1e-12)[0]
    return val


@pytest.mark.parametrize("y", [-2.0, 0.0, 0.1, 0.25, 1.0, 2.0, 7.0])
def test_crps_against_quad(y):
    p = make_bounded()
    got = M.crps_per_point(np.full(len(p), y), p)
    ref = [_crps_quad(p, i, y) for i in range(len(p))]
    assert np.allclose(got, ref, atol=1e-9, rtol=1e-8)


def test_crps_against_monte_carlo_energy_form():
    p = make_bounded()
    y = np.array([0.0, 1.2, 0.1, 0.02, 0.5])
    s = p.sample(200_000, seed=21)
    s2 = p.sample(200_000, seed=22)
    mc = np.mean(np.abs(s - y), axis=0) - 0.5 * np.mean(np.abs(s - s2), axis=0)
    se = np.std(np.abs(s - y) - 0.5 * np.abs(s - s2), axis=0) / np.sqrt(len(s))
    assert np.all(np.abs(M.crps_per_point(y, p) - mc) < 5 * se + 1e-12)


def test_nll_uses_the_atom():
    p = make_bounded()
    y = np.where(np.isfinite(p.lower), p.lower, 0.0)
    assert M.nll_per_point(y, p)[0] == pytest.approx(-np.log(0.53))


def test_randomised_pit_is_uniform_for_data_from_the_predictive():
    rng = np.random.default_rng(3)
    n = 4000
    p = BoundedPredictive(
        rng.dirichlet([1, 1], size=n), rng.normal(0.5, 1.5, (n, 2)), rng.uniform(0.2, 2.0, (n, 2)),
        lower=0.0, upper=np.where(rng.random(n) < 0.5, 4.0, np.inf),
        p_lower=rng.uniform(0, 0.6, n), p_upper=0.0,
    )
    y = p.sample(1, seed=rng)[0]
    assert np.mean(y == 0.0) > 0.2  # many truths sit on the atom
    u = M.pit(y, p)
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert M.pit_uniformity(y, p)["uniform"]
    # the plain F(y) is not uniform, which is why the randomised PIT exists
    assert stats.kstest(p.cdf(y), "uniform").pvalue < 1e-6
    # deterministic by default, seeded otherwise; continuous points untouched
    assert np.array_equal(M.pit(y, p), M.pit(y, p))
    assert not np.array_equal(M.pit(y, p, seed=1), M.pit(y, p, seed=2))
    free = y > 0.0
    assert np.array_equal(M.pit(y, p, seed=1)[free], p.cdf(y)[free])
    lo, hi = p._cdf_left(y), p.cdf(y)
    assert np.all((u >= lo) & (u <= hi))


def test_coverage_and_quantile_scores_on_data_from_the_predictive():
    rng = np.random.default_rng(8)
    n = 8_000
    p = BoundedPredictive(np.ones((n, 1)), rng.normal(0.8, 1.0, (n, 1)), np.full((n, 1), 0.7),
                          lower=0.0, p_lower=0.2)
    y = p.sample(1, seed=9)[0]
    # central intervals hold at least their level (the atom can make them hold more)
    cov = M.coverage(y, p, [0.5, 0.9])
    prob = p.cdf(p.interval(0.9)[1]) - p._cdf_left(p.interval(0.9)[0])
    assert cov[1] == pytest.approx(np.mean(prob), abs=4 * np.sqrt(0.9 * 0.1 / n))
    assert M.miscalibration_area(y, p) < 0.02
    assert M.check_score(y, p) > 0 and M.interval_score(y, p) > 0
    assert abs(M.z_score_stats(y, p)["mean"]) < 0.05
    assert M.ence(y, p) < 0.1
    table = M.summary(y, p)
    assert np.all(np.isfinite(table["value"].to_numpy()))


# ------------------------------------------------------------------------------------------
# acquisition
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("best", [-2.0, 0.0, 0.1, 0.24, 1.0, 1.99, 3.0])
def test_expected_improvement_against_quad(best, maximize):
    p = make_bounded()
    got = A.expected_improvement(p, best=best, maximize=maximize)
    g = (lambda x: max(x - best, 0.0)) if maximize else (lambda x: max(best - x, 0.0))
    ref = np.array([_expect(p, i, g, best) for i in range(len(p))])
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-13)
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    _assert_same(A.log_expected_improvement(p, best=best, maximize=maximize), log_ref, tol=1e-8)


def test_expected_improvement_against_monte_carlo_with_xi():
    p = make_bounded()
    s = p.sample(N_MC, seed=13)
    for maximize, best in ((True, 0.5), (False, 0.8)):
        imp = np.maximum(s - best - 0.1, 0.0) if maximize else np.maximum(best - 0.1 - s, 0.0)
        got = A.expected_improvement(p, best=best, maximize=maximize, xi=0.1)
        assert np.all(np.abs(got - imp.mean(axis=0)) < 5 * imp.std(axis=0) / np.sqrt(N_MC) + 1e-12)


def test_log_ei_is_finite_and_monotone_far_from_best():
    locs = np.linspace(-40.0, 0.0, 9)[:, None]
    p = BoundedPredictive(np.ones((9, 1)), locs, np.full((9, 1), 0.5), lower=-60.0, upper=3.0)
    lei = A.log_expected_improvement(p, best=2.0)
    assert np.all(np.isfinite(lei)) and np.all(np.diff(lei) > 0)
    assert A.expected_improvement(p, best=2.0)[0] == 0.0  # underflows; the log does not
    # a threshold just below the upper bound: the short-window branch
    p2 = BoundedPredictive([[1.0]], [[0.0]], [[1.0]], upper=1.0)
    for t in (1.0 - 1e-3, 1.0 - 1e-7):
        ref = integrate.quad(lambda x: (x - t) * stats.norm.pdf(x), t, 1.0, epsabs=0, epsrel=1e-13)[0]
        ref /= stats.norm.cdf(1.0)
        assert np.exp(A.log_expected_improvement(p2, best=t)[0]) == pytest.approx(ref, rel=1e-9)
    # nothing above the upper bound, the atom below the lower bound counts fully when minimising
    assert A.log_expected_improvement(p2, best=1.0)[0] == -np.inf
    p3 = BoundedPredictive([[1.0]], [[1.0]], [[1.0]], lower=0.0, p_lower=0.4)
    assert A.expected_improvement(p3, best=0.0, maximize=False)[0] == 0.0


def test_probability_of_improvement_and_window_with_atoms():
    p = BoundedPredictive([[1.0]], [[1.0]], [[1.0]], lower=0.0, upper=3.0, p_lower=0.4, p_upper=0.1)
    # strict improvement: the atom at the best value is no improvement
    assert A.probability_of_improvement(p, best=0.0, maximize=False)[0] == 0.0
    assert A.log_probability_of_improvement(p, best=0.0, maximize=False)[0] == -np.inf
    assert A.probability_of_improvement(p, best=1e-12, maximize=False)[0] == pytest.approx(0.4, abs=1e-11)
    assert A.probability_of_improvement(p, best=3.0)[0] == 0.0
    assert A.probability_of_improvement(p, best=2.999)[0] == pytest.approx(0.1 + p.sf(2.999)[0] - 0.1)
    # windows count atoms inside the closed window
    cont = stats.truncnorm(-1.0, 2.0, loc=1.0, scale=1.0)
    assert A.window_probability(p, low=0.0, high=1.0)[0] == pytest.approx(0.4 + 0.5 * cont.cdf(1.0), rel=1e-12)
    assert A.window_probability(p, low=1e-9, high=1.0)[0] == pytest.approx(0.5 * (cont.cdf(1.0) - cont.cdf(1e-9)), rel=1e-9)
    assert A.window_probability(p, low=2.0, high=np.inf)[0] == pytest.approx(0.1 + 0.5 * cont.sf(2.0), rel=1e-12)
    assert A.window_probability(p, low=-np.inf, high=-0.1)[0] == 0.0
    assert A.log_window_probability(p, low=-np.inf, high=-0.1)[0] == -np.inf
    far = BoundedPredictive([[1.0]], [[0.0]], [[0.1]], lower=-1.0)
    lw = A.log_window_probability(far, low=5.0, high=6.0)[0]
    ref = stats.norm.logsf(5.0, 0, 0.1) - stats.norm.logsf(-1.0, 0, 0.1)
    assert lw == pytest.approx(ref, rel=1e-10)


def test_window_against_monte_carlo_and_other_acquisitions_run():
    p = make_bounded()
    s = p.sample(N_MC, seed=17)
    for low, high in ((0.0, 0.5), (0.1, 1.5), (-1.0, 0.0), (1.9, 2.0)):
        hit = (s >= low) & (s <= high)
        got = A.window_probability(p, low=low, high=high)
        assert np.all(np.abs(got - hit.mean(axis=0)) < 5 * np.sqrt(got * (1 - got) / N_MC) + 1e-9)
    for name in A.ACQUISITIONS:
        kw = {"best": 0.5, "seed": 1}
        if "window" in name:
            kw.update(low=1.1, high=1.7)
        if name == "max_epistemic":
            with pytest.raises(UnsupportedOperationError, match="bounded"):
                A.ACQUISITIONS[name](p, **kw)
            continue
        out = A.ACQUISITIONS[name](p, **kw)
        assert out.shape == (len(p),)
    draws = np.array([A.thompson_sampling(p, seed=i) for i in range(200)])
    assert np.all(draws >= p.lower) and np.all(draws <= p.upper)
    with pytest.raises(UnsupportedOperationError, match="bounded"):
        A.thompson_sampling(p, shared_draw=True)


def test_max_epistemic_with_a_split():
    p = BoundedPredictive([[1.0], [1.0]], [[1.0], [2.0]], [[1.0], [1.0]], lower=0.0, p_lower=[0.2, 0.1],
                          epistemic_variance=[0.1, 0.2])
    assert np.array_equal(A.max_epistemic_variance(p), [0.1, 0.2])
    assert np.allclose(p.aleatoric_variance, p.variance - [0.1, 0.2])


# ------------------------------------------------------------------------------------------
# selection, concat, frames
# ------------------------------------------------------------------------------------------


def test_take_concat_and_frame():
    p = make_bounded()
    sub = p[[3, 0]]
    assert np.array_equal(sub.mean, p.mean[[3, 0]]) and np.array_equal(sub.p_lower, p.p_lower[[3, 0]])
    joined = concat([p[:2], p[2:]])
    for name in ("mean", "variance", "lower", "upper", "p_lower", "p_upper"):
        assert np.array_equal(getattr(joined, name), getattr(p, name))
    with pytest.raises(InputError, match="different numbers of components"):
        concat([p, BoundedPredictive([[1.0]], [[0.0]], [[1.0]])])
    with pytest.raises(InputError, match="one kind only"):
        concat([p, GaussianPredictive([0.0], [1.0])])
    frame = p.to_frame()
    assert list(frame.columns) == ["mean", "std", "lower_90", "upper_90", "p_lower", "p_upper"]
    assert np.all(frame["lower_90"].to_numpy() >= p.lower)


# ------------------------------------------------------------------------------------------
# ledger records
# ------------------------------------------------------------------------------------------


def _every_kind() -> list[Predictive]:
    g, _ = make_gaussian_pair()
    m, _ = make_mixture_pair()
    rng = np.random.default_rng(0)
    return [
        g,
        GaussianPredictive([0.0, 1.0], [1.0, 2.0]),
        m,
        MixturePredictive(m.weights, m.locs, m.scales, epistemic_variance=0.1 * m.variance),
        SamplePredictive(rng.normal(size=(3, 6)), rng.uniform(0.5, 1.0, (3, 6))),
        SamplePredictive(rng.normal(size=(3, 6))),
        make_bounded(),
        BoundedPredictive([[1.0]], [[0.5]], [[1.0]], lower=0.0, p_lower=0.3, epistemic_variance=[0.1]),
    ]


def _recalibrated(base: Predictive) -> Predictive:
    from bdl.calibration.recalibration import MonotoneMap, RecalibratedPredictive

    return RecalibratedPredictive(base, MonotoneMap([0.0, 0.3, 1.0], [0.0, 0.5, 1.0]))


@pytest.mark.parametrize("index", range(10))
def test_records_round_trip_for_every_kind(index):
    kinds = _every_kind()
    kinds += [_recalibrated(kinds[2]), _recalibrated(kinds[6])]
    p = kinds[index]
    positions = np.arange(len(p))[::-1]
    records = p.to_records(positions)
    assert len(records) == len(p)
    for r in records:
        rec = json.loads(r)
        assert rec["kind"] == p.kind
    back = predictive_from_records(records)
    expected = p[positions]
    assert type(back) is type(p)
    if p.kind == "recalibrated":
        assert type(back.base) is type(p.base)
        assert np.array_equal(back.mapping.knots_y, p.mapping.knots_y)
    assert np.array_equal(back.mean, expected.mean) and np.array_equal(back.variance, expected.variance)
    assert back.has_split == expected.has_split
    y = np.linspace(-1, 2, 5)[:, None] * np.ones(len(p))
    assert np.array_equal(back.cdf(y), expected.cdf(y))
    assert np.array_equal(back.quantile([0.1, 0.7]), expected.quantile([0.1, 0.7]))
    # a single position, and strict JSON (no Infinity / NaN)
    one = p.to_records(0)
    assert len(one) == 1 and "Infinity" not in one[0]


def test_records_read_the_old_ledger_format_as_a_mixture():
    old = [
        json.dumps({"w": [0.4, 0.6], "loc": [0.0, 1.0], "scale": [1.0, 0.5]}),
        json.dumps({"w": [1.0], "loc": [2.0], "scale": [0.3]}),
    ]
    p = predictive_from_records(old)
    assert isinstance(p, MixturePredictive) and p.n_components == 2
    assert p.mean == pytest.approx([0.6, 2.0])
    assert p.cdf([0.0, 2.0])[1] == pytest.approx(0.5)


def test_record_errors():
    with pytest.raises(InputError, match="empty"):
        predictive_from_records([])
    with pytest.raises(InputError, match=r"records\[1\] is not valid JSON"):
        predictive_from_records(['{"kind": "gaussian", "mean": 0, "std": 1}', "nope"])
    with pytest.raises(InputError, match="more than one kind"):
        predictive_from_records(GaussianPredictive([0.0], [1.0]).to_records([0]) + make_bounded().to_records([0]))
    with pytest.raises(InputError, match="unknown kind 'weird'"):
        predictive_from_records(['{"kind": "weird"}'])
    with pytest.raises(InputError, match=r"records\[0\] \(gaussian\) has no 'std' field"):
        predictive_from_records(['{"kind": "gaussian", "mean": 0}'])
    with pytest.raises(InputError, match="list of JSON strings"):
        predictive_from_records('{"kind": "gaussian"}')  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# recalibration
# ------------------------------------------------------------------------------------------


def test_std_scaling_on_the_bounded_kind():
    rng = np.random.default_rng(2)
    n = 3000
    locs = rng.normal(1.0, 1.0, (n, 1))
    truth = BoundedPredictive(np.ones((n, 1)), locs, np.full((n, 1), 1.0), lower=0.0, p_lower=0.3)
    y = truth.sample(1, seed=3)[0]
    over = BoundedPredictive(np.ones((n, 1)), locs, np.full((n, 1), 0.5), lower=0.0, p_lower=0.3)
    scaler = StdScaling().fit(y, over)
    assert scaler.factor_ == pytest.approx(2.0, rel=0.1)
    out = scaler.transform(over)
    assert isinstance(out, BoundedPredictive)
    assert np.array_equal(out.p_lower, over.p_lower) and np.array_equal(out.lower, over.lower)
    assert scaler.nll_after_ < scaler.nll_before_
    # without bounds and atoms the rule is the mixture rule
    m, b = make_mixture_pair()
    _assert_same(StdScaling.transform(_fitted(1.7), b).cdf(0.3), StdScaling.transform(_fitted(1.7), m).cdf(0.3))
    # the split keeps its share
    e = BoundedPredictive([[1.0]], [[1.0]], [[1.0]], lower=0.0, p_lower=0.2, epistemic_variance=[0.3])
    se = _fitted(1.5).transform(e)
    assert se.epistemic_variance[0] / se.variance[0] == pytest.approx(0.3 / e.variance[0])


def _fitted(s: float) -> StdScaling:
    scaler = StdScaling()
    scaler.factor_ = s
    return scaler


def test_isotonic_recalibration_on_the_bounded_kind():
    rng = np.random.default_rng(4)
    n = 3000
    locs = rng.normal(1.0, 1.0, (n, 1))
    truth = BoundedPredictive(np.ones((n, 1)), locs, np.full((n, 1), 1.0), lower=0.0, p_lower=0.3)
    y = truth.sample(1, seed=5)[0]
    over = BoundedPredictive(np.ones((n, 1)), locs, np.full((n, 1), 0.4), lower=0.0, p_lower=0.3)
    iso = IsotonicRecalibration().fit(y, over)
    rec = iso.transform(over)
    y2 = truth.sample(1, seed=6)[0]
    assert M.miscalibration_area(y2, rec) < M.miscalibration_area(y2, over)
    q = rec.quantile([0.01, 0.5, 0.99])
    assert np.all(q >= 0.0)
    assert np.all(np.isfinite(M.crps_per_point(y2, rec)))


def test_recalibrated_bounded_atom_has_the_recalibrated_mass():
    from bdl.calibration.recalibration import MonotoneMap, RecalibratedPredictive

    base = BoundedPredictive([[1.0]], [[1.0]], [[1.0]], lower=0.0, p_lower=0.3)
    mapping = MonotoneMap([0.0, 0.3, 1.0], [0.0, 0.5, 1.0])
    rec = RecalibratedPredictive(base, mapping)
    assert rec.log_prob(0.0)[0] == pytest.approx(np.log(mapping(0.3)))
    assert rec._cdf_left(0.0)[0] == 0.0 and rec.cdf(0.0)[0] == pytest.approx(mapping(0.3))
    assert rec.quantile(0.2)[0] == 0.0
    # the density part is unchanged inside the support
    y = 1.2
    assert rec.log_prob(y)[0] == pytest.approx(np.log(mapping.derivative(base.cdf(y))[0]) + base.log_prob(y)[0])


def test_recalibrated_moments_of_a_bounded_base():
    from bdl.calibration.recalibration import MonotoneMap, RecalibratedPredictive

    p = make_bounded()
    ident = RecalibratedPredictive(p, MonotoneMap.identity())
    assert np.allclose(ident.mean, p.mean, rtol=1e-10, atol=1e-12)
    assert np.allclose(ident.variance, p.variance, rtol=1e-9, atol=1e-12)
    curved = RecalibratedPredictive(p, MonotoneMap([0.0, 0.3, 1.0], [0.0, 0.5, 1.0]))
    n_mc = 200_000
    s = curved.sample(n_mc, seed=8)
    assert np.all(s >= p.lower) and np.all(s <= p.upper)
    # draws at the atoms carry the recalibrated atom masses R(F(lower)) and 1 - R(F(upper-))
    for freq, mass in (((s == p.lower).mean(axis=0), curved.cdf(p.lower)),
                       ((s == p.upper).mean(axis=0), 1.0 - curved._cdf_left(p.upper))):
        assert np.all(np.abs(freq - mass) < 5 * np.sqrt(mass * (1 - mass) / n_mc) + 1e-12)
    se = np.sqrt(curved.variance / n_mc)
    assert np.all(np.abs(s.mean(axis=0) - curved.mean) < 5 * se + 1e-4 * np.abs(curved.mean))
    assert np.allclose(s.var(axis=0), curved.variance, rtol=0.03)


def test_crps_in_chunks_equals_one_block(monkeypatch):
    import bdl.predictive.bounded as P

    p = make_bounded()
    y = np.array([0.0, 1.2, 0.1, 0.02, 0.5])
    whole = M.crps_per_point(y, p)
    monkeypatch.setattr(P, "_CRPS_BUDGET", 1)  # one row per chunk
    assert np.allclose(M.crps_per_point(y, p), whole, rtol=1e-13, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    loc=st.floats(-5, 5),
    scale=st.floats(0.05, 5),
    pl=st.floats(0.0, 0.9),
    y=st.floats(-3, 8),
    best=st.floats(-3, 8),
    maximize=st.booleans(),
)
def test_scores_are_consistent_for_random_bounded_predictives(loc, scale, pl, y, best, maximize):
    p = BoundedPredictive([[0.4, 0.6]], [[loc, loc + 1.0]], [[scale, 2 * scale]], lower=0.0, p_lower=pl)
    yy = np.array([max(y, 0.0)])
    c = M.crps_per_point(yy, p)[0]
    assert c >= 0.0
    # the 512-level quantile quadrature of the generic path agrees to its own accuracy
    assert c == pytest.approx(M._crps_quantile_quadrature(p, yy)[0], rel=2e-2, abs=2e-3 * (1 + scale))
    u = M.pit(yy, p, seed=1)[0]
    assert p._cdf_left(yy)[0] <= u <= p.cdf(yy)[0]
    ei = A.expected_improvement(p, best=best, maximize=maximize)[0]
    lei = A.log_expected_improvement(p, best=best, maximize=maximize)[0]
    assert ei >= 0.0
    if ei > 1e-300:
        assert lei == pytest.approx(np.log(ei), rel=1e-9, abs=1e-12)
    pi = A.probability_of_improvement(p, best=best, maximize=maximize)[0]
    assert 0.0 <= pi <= 1.0
    if pi > 1e-200:  # a chance of improving means a positive expected improvement (in log space:
        assert np.isfinite(lei)  # pi * gap can underflow, e.g. 1e-179 * 1e-179, while log-EI stays finite)
    if pi == 0.0:
        assert ei == 0.0
    assert A.log_probability_of_improvement(p, best=best, maximize=maximize)[0] <= 0.0


def test_local_penalisation_batch_reads_a_bounded_predictive():
    from discovery_loop.batch import select_batch

    rng = np.random.default_rng(12)
    n = 60
    X = rng.normal(size=(n, 3))
    args = (np.ones((n, 1)), X[:, :1] + 1.0, np.full((n, 1), 0.4), 0.0, None, rng.uniform(0, 0.5, n))
    p = BoundedPredictive(*args, epistemic_variance=0.3 * BoundedPredictive(*args).variance)
    scores = A.log_expected_improvement(p, best=1.5)
    chosen = select_batch(scores, 5, method="local_penalization", X=X, pred=p, best=1.5, log_scores=True)
    assert len(set(chosen.tolist())) == 5 and chosen[0] == int(np.argmax(scores))

