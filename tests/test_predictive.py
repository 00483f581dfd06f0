"""Tests of :mod:`bdl.predictive`: closed forms against Monte Carlo and brute force, the
quantile solver against scipy's brentq, validation messages, seeds, and the TFP bridge."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from scipy.special import log_ndtr, ndtri

from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import (
    GaussianPredictive,
    MixturePredictive,
    Predictive,
    SamplePredictive,
    concat,
)

N_MC = 200_000


# ------------------------------------------------------------------------------------------
# fixtures: one predictive of every kind (plus both sorts of sample predictive)
# ------------------------------------------------------------------------------------------


def make_gaussian() -> GaussianPredictive:
    return GaussianPredictive(
        mean=[-1.0, 0.0, 2.5, 10.0],
        stddev=[0.5, 1.0, 2.0, 0.1],
        epistemic_variance=[0.1, 0.5, 1.0, 0.001],
    )


def make_mixture() -> MixturePredictive:
    weights = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    locs = np.array([[-2.0, 0.0, 3.0], [1.0, 5.0, -5.0], [0.0, 0.1, 0.2], [-10.0, 10.0, 0.0]])
    scales = np.array([[0.5, 1.0, 0.3], [1.0, 0.2, 2.0], [1.0, 1.0, 1.0], [0.1, 3.0, 1.0]])
    return MixturePredictive(weights, locs, scales)


def make_scaled_samples() -> SamplePredictive:
    rng = np.random.default_rng(42)
    locs = rng.normal(0.0, 1.0, size=(4, 20)) * np.array([[0.1], [1.0], [3.0], [0.5]])
    locs[3, :10] += 4.0  # a two-mode ensemble
    scales = rng.uniform(0.2, 1.5, size=(4, 20))
    return SamplePredictive(locs, scales)


def make_plain_samples() -> SamplePredictive:
    rng = np.random.default_rng(7)
    samples = rng.normal(0.0, 1.0, size=(4, 50)) * np.array([[0.3], [1.0], [5.0], [1.0]])
    samples[3, :25] += 6.0  # bimodal
    return SamplePredictive(samples)


MAKERS: dict[str, Callable[[], Predictive]] = {
    "gaussian": make_gaussian,
    "mixture": make_mixture,
    "scaled_samples": make_scaled_samples,
    "plain_samples": make_plain_samples,
}


@pytest.fixture(params=list(MAKERS))
def pred(request: pytest.FixtureRequest) -> Predictive:
    return MAKERS[request.param]()


@pytest.fixture(params=["mixture", "scaled_samples", "plain_samples"])
def mix_pred(request: pytest.FixtureRequest) -> Predictive:
    return MAKERS[request.param]()


def mixture_moments(p: Predictive) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the distribution actually used by cdf / sample (brute force)."""
    w, loc, scale = p.as_mixture()
    mean = (w * loc).sum(1)
    second = (w * (scale**2 + loc**2)).sum(1)
    return mean, second - mean**2


def brute_pdf(p: Predictive, y: np.ndarray) -> np.ndarray:
    w, loc, scale = p.as_mixture()
    return np.array(
        [np.sum(w[i] * stats.norm.pdf(y[i], loc[i], scale[i])) for i in range(len(y))]
    )


def brute_cdf_row(p: Predictive, i: int) -> Callable[[float], float]:
    w, loc, scale = p.as_mixture()
    return lambda x: float(np.sum(w[i] * stats.norm.cdf(x, loc[i], scale[i])))


# ------------------------------------------------------------------------------------------
# closed form vs Monte Carlo
# ------------------------------------------------------------------------------------------


def test_mean_and_variance_match_monte_carlo(pred: Predictive) -> None:
    draws = pred.sample(N_MC, seed=1)
    assert draws.shape == (N_MC, len(pred))
    mean, var = mixture_moments(pred)
    if isinstance(pred, SamplePredictive) and pred.is_plain:
        # the smoothed (KDE) distribution has the sample variance plus the bandwidth squared
        np.testing.assert_allclose(var, pred.variance + pred.bandwidth**2, rtol=1e-12)
        np.testing.assert_allclose(pred.variance, pred.locs.var(axis=1), rtol=1e-12)
    else:
        np.testing.assert_allclose(var, pred.variance, rtol=1e-12)
    np.testing.assert_allclose(mean, pred.mean, rtol=1e-12, atol=1e-12)
    sd = np.sqrt(var)
    mc_mean = draws.mean(0)
    assert np.all(np.abs(mc_mean - pred.mean) < 5 * sd / np.sqrt(N_MC))
    centred_sq = (draws - mc_mean) ** 2
    se_var = centred_sq.std(0) / np.sqrt(N_MC)
    assert np.all(np.abs(centred_sq.mean(0) - var) < 6 * se_var)


def test_cdf_matches_empirical_fraction(pred: Predictive) -> None:
    draws = pred.sample(N_MC, seed=2)
    for c in (-1.5, -0.3, 0.0, 0.8, 2.0):
        y = pred.mean + c * pred.stddev
        p = pred.cdf(y)
        frac = (draws <= y).mean(0)
        tol = 5 * np.sqrt(p * (1 - p) / N_MC) + 1e-4
        assert np.all(np.abs(frac - p) < tol), (c, frac, p)


def test_interval_coverage_on_own_draws(pred: Predictive) -> None:
    draws = pred.sample(N_MC, seed=3)
    lower, upper = pred.interval(0.9)
    assert np.all(lower < upper)
    inside = ((draws >= lower) & (draws <= upper)).mean(0)
    assert np.all(np.abs(inside - 0.9) < 5 * np.sqrt(0.09 / N_MC))


# ------------------------------------------------------------------------------------------
# closed forms against scipy / brute force
# ------------------------------------------------------------------------------------------


def test_gaussian_matches_scipy_norm() -> None:
    g = make_gaussian()
    y = np.array([-1.3, 4.0, 2.5, 9.0])
    sd = np.array([0.5, 1.0, 2.0, 0.1])
    np.testing.assert_allclose(g.log_prob(y), stats.norm.logpdf(y, g.mean, sd), rtol=1e-12)
    np.testing.assert_allclose(g.cdf(y), stats.norm.cdf(y, g.mean, sd), rtol=1e-12)
    np.testing.assert_allclose(g.sf(y), stats.norm.sf(y, g.mean, sd), rtol=1e-12)
    np.testing.assert_allclose(g.log_sf(y), stats.norm.logsf(y, g.mean, sd), rtol=1e-12)
    np.testing.assert_allclose(g.log_cdf(y), stats.norm.logcdf(y, g.mean, sd), rtol=1e-12)
    q = np.array([0.01, 0.5, 0.975])
    np.testing.assert_allclose(g.quantile(q), stats.norm.ppf(q[:, None], g.mean, sd), rtol=1e-12)
    np.testing.assert_allclose(g.stddev, sd)
    np.testing.assert_allclose(g.variance, sd**2)


def test_mixture_log_prob_matches_brute_force(mix_pred: Predictive) -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = mix_pred.mean + rng.normal(0, 2, size=len(mix_pred)) * mix_pred.stddev
        expected = np.log(brute_pdf(mix_pred, y))
        np.testing.assert_allclose(mix_pred.log_prob(y), expected, rtol=1e-10)
        expected_cdf = np.array([brute_cdf_row(mix_pred, i)(y[i]) for i in range(len(y))])
        np.testing.assert_allclose(mix_pred.cdf(y), expected_cdf, rtol=1e-10, atol=1e-15)


def test_mixture_log_prob_stable_far_in_tail() -> None:
    m = MixturePredictive([[0.5, 0.5]], [[0.0, 1.0]], [[1.0, 1.0]])
    # pdf underflows to 0 at y=1e3, the log density must not
    lp = m.log_prob(1e3)
    expected = np.logaddexp(
        np.log(0.5) + stats.norm.logpdf(1e3, 0, 1), np.log(0.5) + stats.norm.logpdf(1e3, 1, 1)
    )
    np.testing.assert_allclose(lp, [expected], rtol=1e-12)
    assert np.isfinite(m.log_sf(60.0)).all() and np.isfinite(m.log_cdf(-60.0)).all()


def test_plain_samples_are_a_silverman_kde() -> None:
    p = make_plain_samples()
    x = p.locs
    sd = x.std(axis=1, ddof=1)
    iqr = np.subtract(*np.percentile(x, [75, 25], axis=1))
    h = 0.9 * np.minimum(sd, iqr / 1.34) * x.shape[1] ** (-0.2)
    np.testing.assert_allclose(p.bandwidth, h, rtol=1e-12)
    y = np.array([0.1, -1.0, 3.0, 2.5])
    for i in range(len(p)):
        kde = stats.gaussian_kde(x[i], bw_method=h[i] / sd[i])
        np.testing.assert_allclose(p.log_prob(y)[i], kde.logpdf(y[i])[0], rtol=1e-10)
    np.testing.assert_allclose(p.mean, x.mean(1))
    np.testing.assert_allclose(p.variance, x.var(1))


def test_plain_samples_all_equal_get_a_tiny_positive_bandwidth() -> None:
    p = SamplePredictive(np.full((2, 10), 3.0))
    assert np.all(p.bandwidth > 0) and np.all(p.bandwidth < 1e-9)
    np.testing.assert_allclose(p.quantile([0.05, 0.5, 0.95]), 3.0, atol=1e-9)
    np.testing.assert_allclose(p.variance, 0.0)


def test_plain_samples_zero_iqr_falls_back_to_sd() -> None:
    row = np.zeros(20)
    row[0] = 5.0  # IQR 0, sd > 0
    p = SamplePredictive(row[None, :])
    np.testing.assert_allclose(p.bandwidth, 0.9 * row.std(ddof=1) * 20 ** (-0.2), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# quantiles
# ------------------------------------------------------------------------------------------

LEVELS = np.array([1e-6, 0.01, 0.1, 0.37, 0.5, 0.63, 0.9, 0.99, 1 - 1e-6])


def test_quantile_matches_brentq_row_by_row(mix_pred: Predictive) -> None:
    got = mix_pred.quantile(LEVELS)
    assert got.shape == (len(LEVELS), len(mix_pred))
    w, loc, scale = mix_pred.as_mixture()
    for i in range(len(mix_pred)):
        cdf = brute_cdf_row(mix_pred, i)
        lo = (loc[i] - 40 * scale[i]).min()
        hi = (loc[i] + 40 * scale[i]).max()
        for j, q in enumerate(LEVELS):
            ref = optimize.brentq(lambda x: cdf(x) - q, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=500)
            assert abs(got[j, i] - ref) < 1e-7, (i, q, got[j, i], ref)


def test_quantile_scalar_shape_and_cdf_round_trip(pred: Predictive) -> None:
    assert pred.quantile(0.3).shape == (len(pred),)
    y = pred.mean + 0.4 * pred.stddev
    # quantile solves every level for every row: feed each row's cdf value, read the diagonal
    levels = pred.cdf(y)
    sol = pred.quantile(levels)
    np.testing.assert_allclose(np.diag(sol), y, atol=1e-8 * pred.stddev.max())
    levels_grid = np.repeat(LEVELS[:, None], len(pred), axis=1)
    np.testing.assert_allclose(pred.cdf(pred.quantile(LEVELS)), levels_grid, rtol=1e-9, atol=1e-15)


def test_quantile_accuracy_well_separated_narrow_components() -> None:
    scale = 1e-3
    m = MixturePredictive([[0.5, 0.5]], [[0.0, 100.0]], [[scale, scale]])
    q = np.array([0.1, 0.25, 0.75, 0.9])
    got = m.quantile(q)[:, 0]
    expected = np.where(q < 0.5, 0.0, 100.0) + scale * ndtri(np.where(q < 0.5, 2 * q, 2 * q - 1))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * scale)


def test_quantile_tails_of_one_component_mixture_match_closed_form() -> None:
    g = GaussianPredictive([3.0, -2.0], [2.0, 1e-4])
    m = MixturePredictive(*g.as_mixture())
    q = np.array([1e-12, 1e-6, 0.3, 0.7, 1 - 1e-6, 1 - 1e-12])
    got, expected = m.quantile(q), g.quantile(q)
    np.testing.assert_allclose(got[:, 0], expected[:, 0], rtol=0, atol=1e-9 * 2.0)
    np.testing.assert_allclose(got[:, 1], expected[:, 1], rtol=0, atol=1e-9 * 1e-4)


def test_interval_is_central() -> None:
    m = make_mixture()
    lower, upper = m.interval(0.8)
    np.testing.assert_allclose(m.cdf(lower), 0.1, atol=1e-12)
    np.testing.assert_allclose(m.cdf(upper), 0.9, atol=1e-12)


# ------------------------------------------------------------------------------------------
# decompositions and agreement between kinds
# ------------------------------------------------------------------------------------------


def test_law_of_total_variance_for_ensembles() -> None:
    p = make_scaled_samples()
    np.testing.assert_allclose(p.epistemic_variance + p.aleatoric_variance, p.variance, rtol=1e-14)
    np.testing.assert_allclose(p.epistemic_variance, p.locs.var(axis=1, ddof=0), rtol=1e-14)
    np.testing.assert_allclose(p.aleatoric_variance, (p.scales**2).mean(axis=1), rtol=1e-14)
    # and it is the variance of the mixture of per-pass Gaussians, not a Gaussian
    np.testing.assert_allclose(mixture_moments(p)[1], p.variance, rtol=1e-12)


def test_gaussian_split() -> None:
    g = make_gaussian()
    np.testing.assert_allclose(g.epistemic_variance, [0.1, 0.5, 1.0, 0.001])
    np.testing.assert_allclose(g.aleatoric_variance, g.variance - g.epistemic_variance)
    # rounding slack is clipped, not rejected
    g2 = GaussianPredictive([0.0], [1.0], epistemic_variance=[1.0 + 1e-12])
    assert g2.epistemic_variance[0] == 1.0 and g2.aleatoric_variance[0] == 0.0


def test_gaussian_and_one_component_mixture_agree() -> None:
    g = make_gaussian()
    w, loc, scale = g.as_mixture()
    assert w.shape == loc.shape == scale.shape == (4, 1)
    m = MixturePredictive(w, loc, scale)
    y = np.array([-0.5, 1.0, -3.0, 10.2])
    np.testing.assert_allclose(m.log_prob(y), g.log_prob(y), rtol=1e-13)
    np.testing.assert_allclose(m.cdf(y), g.cdf(y), rtol=1e-13)
    np.testing.assert_allclose(m.quantile(LEVELS), g.quantile(LEVELS), rtol=0, atol=1e-9 * 0.1)
    np.testing.assert_allclose(m.mean, g.mean)
    np.testing.assert_allclose(m.variance, g.variance)


def test_zero_weight_component_is_ignored() -> None:
    m = MixturePredictive([[1.0, 0.0]], [[0.0, 50.0]], [[1.0, 1.0]])
    g = GaussianPredictive([0.0], [1.0])
    np.testing.assert_allclose(m.log_prob([0.7]), g.log_prob([0.7]), rtol=1e-14)
    np.testing.assert_allclose(m.quantile(LEVELS), g.quantile(LEVELS), atol=1e-9)
    assert np.all(m.sample(10_000, seed=0) < 10)


def test_as_mixture_rows_are_distributions(pred: Predictive) -> None:
    w, loc, scale = pred.as_mixture()
    assert w.shape == loc.shape == scale.shape and w.shape[0] == len(pred)
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-14)
    assert np.all(scale > 0) and np.all(w >= 0)
    again = MixturePredictive(w, loc, scale)
    y = pred.mean + 0.3
    np.testing.assert_allclose(again.log_prob(y), pred.log_prob(y), rtol=1e-12)
    np.testing.assert_allclose(again.quantile(0.2), pred.quantile(0.2), atol=1e-9)


def test_tail_functions_are_consistent(pred: Predictive) -> None:
    y = pred.mean + np.array([-1.0, 0.5, 2.0, 0.0])[: len(pred)] * pred.stddev
    np.testing.assert_allclose(pred.cdf(y) + pred.sf(y), 1.0, rtol=1e-13)
    np.testing.assert_allclose(np.exp(pred.log_cdf(y)), pred.cdf(y), rtol=1e-12)
    np.testing.assert_allclose(np.exp(pred.log_sf(y)), pred.sf(y), rtol=1e-12)


def test_log_sf_far_in_upper_tail_matches_log_ndtr() -> None:
    m = MixturePredictive([[1.0]], [[0.0]], [[1.0]])
    np.testing.assert_allclose(m.log_sf(40.0), log_ndtr(-40.0), rtol=1e-12)
    np.testing.assert_allclose(m.log_cdf(-40.0), log_ndtr(-40.0), rtol=1e-12)


def test_y_broadcasting(pred: Predictive) -> None:
    n = len(pred)
    assert pred.log_prob(0.5).shape == (n,)
    np.testing.assert_allclose(pred.cdf(0.5), pred.cdf(np.full(n, 0.5)))
    grid = np.linspace(-3, 3, 7)[:, None] + pred.mean
    out = pred.log_prob(grid)
    assert out.shape == (7, n)
    np.testing.assert_allclose(out[3], pred.log_prob(grid[3]))


# ------------------------------------------------------------------------------------------
# unsupported operations
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "kind"),
    [
        (lambda: GaussianPredictive([0.0], [1.0]), "gaussian"),
        (make_mixture, "mixture"),
        (make_plain_samples, "samples"),
    ],
)
@pytest.mark.parametrize("attr", ["epistemic_variance", "aleatoric_variance"])
def test_missing_split_raises_naming_the_kind(
    maker: Callable[[], Predictive], kind: str, attr: str
) -> None:
    p = maker()
    assert p.kind == kind
    assert not p.has_split
    with pytest.raises(UnsupportedOperationError, match=kind) as info:
        getattr(p, attr)
    assert "epistemic" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_mixture_with_given_split() -> None:
    m = make_mixture()
    epi = 0.25 * m.variance
    m2 = MixturePredictive(m.weights, m.locs, m.scales, epistemic_variance=epi)
    np.testing.assert_allclose(m2.aleatoric_variance, 0.75 * m.variance, rtol=1e-12)
    columns = ["mean", "std", "epistemic_std", "aleatoric_std", "lower_90", "upper_90"]
    assert list(m2.to_frame().columns) == columns


def test_other_unsupported_operations() -> None:
    with pytest.raises(UnsupportedOperationError, match="samples"):
        make_scaled_samples().bandwidth
    with pytest.raises(UnsupportedOperationError, match="mixture"):
        iter(make_mixture())


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------

_W = np.array([[0.5, 0.5], [0.3, 0.7], [1.0, 0.0]])
_L = np.zeros((3, 2))
_S = np.ones((3, 2))


def _with(arr: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    out = np.array(arr, dtype=float)
    out[index] = value
    return out


G = GaussianPredictive
M = MixturePredictive
S = SamplePredictive

BAD_INPUTS: list[tuple[str, Callable[[], object], list[str]]] = [
    # Gaussian
    ("gauss 2-D mean", lambda: G(np.zeros((3, 1)), np.ones(3)), ["mean", "1-D"]),
    ("gauss shape mismatch", lambda: G(np.zeros(3), np.ones(4)), ["stddev", "mean", "(4,)"]),
    ("gauss NaN mean", lambda: G([0.0, np.nan, 1.0], np.ones(3)), ["mean", "row [1]", "nan"]),
    ("gauss inf stddev", lambda: G(np.zeros(3), [1.0, 1.0, np.inf]), ["stddev", "row [2]"]),
    ("gauss zero stddev", lambda: G([0.0, 0.0], [1.0, 0.0]), ["stddev", "row [1]", "positive"]),
    ("gauss negative stddev", lambda: G([0.0, 0.0], [-1.0, 1.0]), ["stddev", "row [0]", "-1.0"]),
    ("gauss empty", lambda: G([], []), ["mean", "empty"]),
    ("gauss text", lambda: G(["a"], [1.0]), ["mean", "float64"]),
    (
        "epistemic above variance",
        lambda: G([0.0, 0.0], [1.0, 1.0], epistemic_variance=[0.5, 1.5]),
        ["epistemic_variance", "row [1]", "1.5"],
    ),
    (
        "epistemic negative",
        lambda: G([0.0, 0.0], [1.0, 1.0], epistemic_variance=[-0.1, 0.5]),
        ["epistemic_variance", "row [0]"],
    ),
    (
        "epistemic wrong length",
        lambda: G([0.0, 0.0], [1.0, 1.0], epistemic_variance=[0.1]),
        ["epistemic_variance", "(1,)"],
    ),
    # mixture
    ("mix 1-D weights", lambda: M([1.0], [0.0], [1.0]), ["weights", "2-D"]),
    ("mix locs shape", lambda: M(_W, np.zeros((3, 3)), _S), ["locs", "weights", "(3, 3)"]),
    ("mix scales shape", lambda: M(_W, _L, np.ones((2, 2))), ["scales", "(2, 2)"]),
    ("mix NaN locs", lambda: M(_W, _with(_L, (2, 1), np.nan), _S), ["locs", "row [2]"]),
    ("mix inf weights", lambda: M(_with(_W, (0, 0), np.inf), _L, _S), ["weights", "row [0]"]),
    ("mix zero scale", lambda: M(_W, _L, _with(_S, (1, 0), 0.0)), ["scales", "row [1]"]),
    (
        "mix negative weight",
        lambda: M([[0.5, 0.5], [1.2, -0.2]], np.zeros((2, 2)), np.ones((2, 2))),
        ["weights", "negative", "row [1]", "-0.2"],
    ),
    (
        "mix weights not summing to one",
        lambda: M([[0.5, 0.5], [0.5, 0.6]], np.zeros((2, 2)), np.ones((2, 2))),
        ["weights", "sum to 1", "row [1]", "1.1"],
    ),
    ("mix empty K", lambda: M(np.zeros((3, 0)), _L[:, :0], _S[:, :0]), ["weights", "empty"]),
    (
        "logits NaN",
        lambda: M.from_logits(_with(_L, (1, 1), np.nan), _L, _S),
        ["logits", "row [1]"],
    ),
    # samples
    ("samples one plain draw", lambda: S(np.zeros((3, 1))), ["locs", "at least 2"]),
    ("samples 1-D", lambda: S(np.zeros(5)), ["locs", "2-D"]),
    ("samples scales shape", lambda: S(np.zeros((3, 4)), np.ones((3, 5))), ["scales", "locs"]),
    (
        "samples negative scale",
        lambda: S(np.zeros((3, 4)), _with(np.ones((3, 4)), (2, 3), -1.0)),
        ["scales", "row [2]"],
    ),
    ("samples NaN", lambda: S(_with(np.zeros((3, 4)), (0, 2), np.nan)), ["locs", "row [0]"]),
    ("samples empty", lambda: S(np.zeros((0, 4))), ["locs", "empty"]),
    # methods
    ("quantile q=0", lambda: make_mixture().quantile(0.0), ["q", "(0, 1)"]),
    ("quantile q>1", lambda: make_gaussian().quantile([0.5, 1.5]), ["q", "position [1]", "1.5"]),
    ("quantile q NaN", lambda: make_plain_samples().quantile(np.nan), ["q"]),
    ("quantile q 2-D", lambda: make_mixture().quantile([[0.5]]), ["q", "1-D"]),
    ("interval level", lambda: make_mixture().interval(1.5), ["level"]),
    ("sample n_samples", lambda: make_gaussian().sample(0), ["n_samples"]),
    ("sample seed", lambda: make_mixture().sample(5, seed="abc"), ["seed"]),
    ("y wrong length", lambda: make_mixture().log_prob(np.zeros(3)), ["y", "(4,)"]),
    ("y NaN", lambda: make_gaussian().cdf([0.0, 0.0, np.nan, 0.0]), ["y", "point [2]"]),
    ("index out of range", lambda: make_gaussian()[np.array([0, 7])], ["index", "7"]),
    ("index mask length", lambda: make_gaussian()[np.array([True, False])], ["boolean", "(4,)"]),
    ("index float", lambda: make_mixture()[np.array([0.5])], ["index"]),
    ("index selects nothing", lambda: make_mixture()[np.zeros(4, dtype=bool)], ["no points"]),
    ("index empty list", lambda: make_mixture()[[]], ["no points"]),
    # concat
    ("concat empty", lambda: concat([]), ["concat", "empty"]),
    (
        "concat kinds",
        lambda: concat([make_gaussian(), make_mixture()]),
        ["predictives[1]", "mixture", "gaussian"],
    ),
    (
        "concat K",
        lambda: concat([make_mixture(), M([[1.0]], [[0.0]], [[1.0]])]),
        ["components", "[1, 3]"],
    ),
    (
        "concat split",
        lambda: concat([make_gaussian(), G([0.0], [1.0])]),
        ["epistemic_variance"],
    ),
    (
        "concat plain/scaled",
        lambda: concat([make_plain_samples(), S(np.zeros((1, 50)), np.ones((1, 50)))]),
        ["plain"],
    ),
]


@pytest.mark.parametrize(("case", "call", "needles"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises_input_error(
    case: str, call: Callable[[], object], needles: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_error_message_shows_at_most_ten_rows() -> None:
    stddev = -np.ones(30)
    with pytest.raises(InputError) as info:
        GaussianPredictive(np.zeros(30), stddev)
    message = str(info.value)
    assert "rows [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] and 20 more" in message
    assert "29" not in message


# ------------------------------------------------------------------------------------------
# seeds
# ------------------------------------------------------------------------------------------


def test_sampling_is_deterministic_and_leaves_global_state_alone(pred: Predictive) -> None:
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = pred.sample(500, seed=11)
    b = pred.sample(500, seed=11)
    c = pred.sample(500, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    # a Generator is used as is and advanced
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(pred.sample(500, seed=rng), a)
    assert not np.allclose(pred.sample(500, seed=rng), a)


# ------------------------------------------------------------------------------------------
# property test
# ------------------------------------------------------------------------------------------


@st.composite
def mixtures(draw: st.DrawFn) -> tuple[MixturePredictive, np.ndarray]:
    n = draw(st.integers(1, 4))
    k = draw(st.integers(1, 5))
    floats = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731

    def table(lo: float, hi: float) -> np.ndarray:
        values = draw(st.lists(floats(lo, hi), min_size=n * k, max_size=n * k))
        return np.array(values).reshape(n, k)

    raw_w, locs, scales = table(0.05, 1.0), table(-10.0, 10.0), table(0.01, 5.0)
    comp = draw(st.integers(0, k - 1))
    t = np.array(draw(st.lists(floats(-3.0, 3.0), min_size=n, max_size=n)))
    y = locs[:, comp] + t * scales[:, comp]  # a point where the density is not negligible
    return MixturePredictive(raw_w / raw_w.sum(1, keepdims=True), locs, scales), y


@settings(max_examples=60, deadline=None)
@given(mixtures(), st.floats(0.01, 2.0))
def test_cdf_monotone_and_quantile_inverts_cdf(
    case: tuple[MixturePredictive, np.ndarray], dy: float
) -> None:
    m, y = case
    grid = y + np.linspace(-3 * dy, 3 * dy, 9)[:, None]
    c = m.cdf(grid)
    assert np.all(np.diff(c, axis=0) >= 0)
    levels = m.cdf(y)
    back = np.diag(m.quantile(levels)) if len(m) > 1 else m.quantile(levels)[0]
    tol = 1e-8 * m.scales.max()
    np.testing.assert_allclose(back, y, rtol=0, atol=tol)


# ------------------------------------------------------------------------------------------
# rows, frames, repr, concat
# ------------------------------------------------------------------------------------------


def test_getitem_selects_rows_of_the_same_kind(pred: Predictive) -> None:
    y = pred.mean + 0.25
    full_lp = pred.log_prob(y)
    for index in (np.array([2, 0]), slice(1, 3), np.array([True, False, False, True]), -1, [3]):
        sub = pred[index]
        assert type(sub) is type(pred) and sub.kind == pred.kind
        positions = np.arange(len(pred))[index]
        positions = np.atleast_1d(positions)
        assert len(sub) == len(positions)
        np.testing.assert_allclose(sub.log_prob(y[positions]), full_lp[positions], rtol=1e-12)
        np.testing.assert_allclose(sub.variance, pred.variance[positions], rtol=1e-12)


def test_concat_round_trip(pred: Predictive) -> None:
    joined = concat([pred[:1], pred[1:3], pred[3:]])
    assert type(joined) is type(pred) and len(joined) == len(pred)
    y = pred.mean - 0.1
    np.testing.assert_allclose(joined.log_prob(y), pred.log_prob(y), rtol=1e-12)
    np.testing.assert_allclose(joined.variance, pred.variance, rtol=1e-12)
    assert joined.has_split == pred.has_split


def test_to_frame(pred: Predictive) -> None:
    frame = pred.to_frame()
    split = ["epistemic_std", "aleatoric_std"] if pred.has_split else []
    expected = ["mean", "std", *split, "lower_90", "upper_90"]
    assert list(frame.columns) == expected
    assert len(frame) == len(pred)
    lower, upper = pred.interval(0.9)
    np.testing.assert_allclose(frame["lower_90"], lower)
    np.testing.assert_allclose(frame["upper_90"], upper)
    np.testing.assert_allclose(frame["std"], pred.stddev)
    if pred.has_split:
        total = frame["epistemic_std"] ** 2 + frame["aleatoric_std"] ** 2
        np.testing.assert_allclose(total, pred.variance, rtol=1e-12)
    assert "lower_95" in pred.to_frame(level=0.95).columns


def test_repr_and_sizes() -> None:
    assert repr(make_gaussian()) == "<GaussianPredictive n=4>"
    assert repr(make_mixture()) == "<MixturePredictive n=4 K=3>"
    assert repr(make_scaled_samples()) == "<SamplePredictive n=4 S=20>"
    assert repr(make_plain_samples()) == "<SamplePredictive n=4 S=50 plain>"
    assert make_mixture().n_components == 3 and make_plain_samples().n_draws == 50
    assert len(make_gaussian()) == make_gaussian().n_points == 4


def test_state_is_read_only(pred: Predictive) -> None:
    with pytest.raises(ValueError):
        pred.mean[0] = 1.0
    with pytest.raises(ValueError):
        pred.variance[0] = 1.0


def test_inputs_are_copied() -> None:
    mean = np.zeros(3)
    g = GaussianPredictive(mean, np.ones(3))
    mean[0] = 5.0
    assert g.mean[0] == 0.0


def test_from_logits_is_a_stable_softmax() -> None:
    logits = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    m = MixturePredictive.from_logits(logits, np.zeros((2, 3)), np.ones((2, 3)))
    e = np.exp(np.array([-1.0, 0.0, -2.0]))
    np.testing.assert_allclose(m.weights[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(m.weights[1], 1 / 3, rtol=1e-14)


# ------------------------------------------------------------------------------------------
# TensorFlow Probability bridge and import hygiene
# ------------------------------------------------------------------------------------------


def test_importing_predictive_does_not_import_tensorflow() -> None:
    code = (
        "import sys, bdl.predictive, numpy as np\n"
        "p = bdl.predictive.MixturePredictive([[1.0]], [[0.0]], [[1.0]])\n"
        "p.quantile(0.3); p.to_frame()\n"
        "heavy = ('tensorflow', 'tensorflow_probability', 'keras', 'tf_keras')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_to_tfp_log_prob_matches() -> None:
    pytest.importorskip("tensorflow_probability")
    for maker in MAKERS.values():
        p = maker()
        dist = p.to_tfp()
        assert tuple(dist.batch_shape) == (len(p),)
        y = p.mean + 0.3 * p.stddev
        np.testing.assert_allclose(np.asarray(dist.log_prob(y)), p.log_prob(y), rtol=1e-9)
        np.testing.assert_allclose(np.asarray(dist.mean()), p.mean, rtol=1e-9, atol=1e-12)
