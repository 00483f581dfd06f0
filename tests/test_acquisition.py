"""Tests of :mod:`discovery_loop.acquisition`: closed forms, quadrature, log-space accuracy,
maximise / minimise symmetry, Thompson sampling against the predictive, and the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import GaussianPredictive, MixturePredictive, Predictive, SamplePredictive
from discovery_loop.acquisition import (
    ACQUISITIONS,
    BoundAcquisition,
    expected_improvement,
    get_acquisition,
    greedy_mean,
    log_expected_improvement,
    log_h,
    log_probability_of_improvement,
    log_window_probability,
    max_epistemic_variance,
    max_variance,
    probability_of_improvement,
    random_scores,
    thompson_sampling,
    upper_confidence_bound,
    window_probability,
)


def mixture() -> MixturePredictive:
    weights = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    locs = np.array([[-2.0, 0.0, 3.0], [1.0, 5.0, -5.0], [-10.0, 10.0, 0.0], [0.0, 0.1, 0.2]])
    scales = np.array([[0.5, 1.0, 0.3], [1.0, 0.2, 2.0], [0.1, 3.0, 1.0], [1.0, 1.0, 1.0]])
    return MixturePredictive(weights, locs, scales)


def ensemble() -> SamplePredictive:
    rng = np.random.default_rng(3)
    locs = rng.normal(0.0, 1.0, size=(3, 8))
    locs[2, :4] += 4.0  # two modes
    return SamplePredictive(locs, rng.uniform(0.2, 1.0, size=(3, 8)))


def negated(pred: Predictive) -> MixturePredictive:
    w, loc, scale = pred.as_mixture()
    return MixturePredictive(w, -loc, scale)


def density(pred: Predictive, i: int):
    w, loc, scale = (a[i] for a in pred.as_mixture())
    return lambda y: float(np.sum(w * stats.norm.pdf(y, loc, scale)))


def quad_ei(pred: Predictive, i: int, best: float) -> float:
    """E[max(Y - best, 0)] by adaptive quadrature, splitting at every component mean."""
    w, loc, scale = (a[i] for a in pred.as_mixture())
    pdf = density(pred, i)
    points = sorted({best, *[float(m) for m in loc if m > best]})
    total = 0.0
    for a, b in zip(points, points[1:]):
        total += integrate.quad(lambda y: (y - best) * pdf(y), a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
    total += integrate.quad(lambda y: (y - best) * pdf(y), points[-1], np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    return total


# ------------------------------------------------------------------------------------------
# expected improvement
# ------------------------------------------------------------------------------------------


def test_ei_of_a_gaussian_matches_the_closed_form() -> None:
    mu = np.array([-3.0, -0.5, 0.0, 0.7, 2.0, 12.0])
    sd = np.array([1.0, 1.0, 2.0, 0.3, 5.0, 1.0])
    best = 0.4
    z = (mu - best) / sd
    expected = (mu - best) * stats.norm.cdf(z) + sd * stats.norm.pdf(z)
    got = expected_improvement(GaussianPredictive(mu, sd), best=best)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_ei_deep_in_the_tail_avoids_the_cancellation_of_the_textbook_formula() -> None:
    # z = -34: (mu - best) Phi(z) + sd phi(z) cancels to ~1e-10 relative error; we do not
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    z = mpmath.mpf(-34)
    ref = float(mpmath.mpf("0.1") * (mpmath.npdf(z) + z * mpmath.ncdf(z)))
    got = expected_improvement(GaussianPredictive([-3.0], [0.1]), best=0.4)[0]
    assert got == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("best", [-3.0, 0.5, 4.0])
def test_ei_of_a_mixture_matches_quadrature(best: float) -> None:
    for pred in (mixture(), ensemble()):
        got = expected_improvement(pred, best=best)
        ref = np.array([quad_ei(pred, i, best) for i in range(len(pred))])
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-14)


def test_ei_of_a_mixture_is_not_the_ei_of_its_moment_matched_gaussian() -> None:
    # a bimodal ensemble: the Gaussian with the same mean and variance gets EI wrong
    pred = SamplePredictive([[0.0, 0.0, 0.0, 4.0]], [[0.1, 0.1, 0.1, 0.1]])
    moment = GaussianPredictive(pred.mean, pred.stddev)
    exact = quad_ei(pred, 0, 3.0)
    assert expected_improvement(pred, best=3.0)[0] == pytest.approx(exact, rel=1e-8)
    assert abs(expected_improvement(moment, best=3.0)[0] - exact) > 0.1 * exact


@settings(max_examples=200, deadline=None)
@given(z=st.floats(-37.0, 30.0), sd=st.floats(1e-3, 1e3))
def test_log_ei_equals_log_of_ei_where_ei_is_representable(z: float, sd: float) -> None:
    pred = GaussianPredictive([z * sd], [sd])
    ei = expected_improvement(pred, best=0.0)[0]
    assert ei > 0.0
    assert log_expected_improvement(pred, best=0.0)[0] == pytest.approx(math.log(ei), rel=1e-9, abs=1e-12)


def test_log_ei_of_mixtures_equals_log_of_ei() -> None:
    for pred in (mixture(), ensemble()):
        for best in (-3.0, 0.5, 4.0):
            np.testing.assert_allclose(
                log_expected_improvement(pred, best=best),
                np.log(expected_improvement(pred, best=best)),
                rtol=1e-10,
            )


def test_log_ei_is_finite_and_monotone_where_ei_underflows() -> None:
    # z = -40: phi(40) ~ 1e-348 is below the smallest double, so EI is exactly 0
    pred = GaussianPredictive([-40.0], [1.0])
    assert expected_improvement(pred, best=0.0)[0] == 0.0
    value = log_expected_improvement(pred, best=0.0)[0]
    # asymptotics: log h(z) = log phi(z) - 2 log|z| + log(1 - 3/z^2 + ...)
    approx = -0.5 * 40.0**2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(40.0) + math.log(1 - 3 / 1600 + 15 / 1600**2)
    assert value == pytest.approx(approx, abs=1e-6)
    # strictly increasing in the mean all the way down to z = -1e8
    z = -np.logspace(0.0, 8.0, 400)[::-1]
    scores = log_expected_improvement(GaussianPredictive(z, np.ones_like(z)), best=0.0)
    assert np.all(np.isfinite(scores))
    assert np.all(np.diff(scores) > 0.0)


def test_log_h_matches_high_precision_reference() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    zs = [-1e6, -3e3, -40.0, -12.5, -1.0000001, -1.0, -0.9999999, 0.0, 2.0, 35.0]
    for z in zs:
        zz = mpmath.mpf(z)
        ref = float(mpmath.log(mpmath.npdf(zz) + zz * mpmath.ncdf(zz)))
        assert log_h(np.array([z]))[0] == pytest.approx(ref, rel=1e-12), z


def test_ei_with_a_margin_and_validation() -> None:
    pred = GaussianPredictive([0.0, 1.0], [1.0, 1.0])
    np.testing.assert_allclose(
        expected_improvement(pred, best=0.5, xi=0.2), expected_improvement(pred, best=0.7)
    )
    with pytest.raises(InputError, match="best"):
        expected_improvement(pred)
    with pytest.raises(InputError, match="finite"):
        expected_improvement(pred, best=float("nan"))
    with pytest.raises(InputError, match="xi"):
        expected_improvement(pred, best=0.0, xi=-1.0)
    with pytest.raises(InputError, match="Predictive"):
        expected_improvement(np.zeros(3), best=0.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# maximise / minimise symmetry
# ------------------------------------------------------------------------------------------

mixtures = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k),
        st.lists(st.floats(-10.0, 10.0), min_size=k, max_size=k),
        st.lists(st.floats(0.05, 5.0), min_size=k, max_size=k),
    )
)


@settings(max_examples=100, deadline=None)
@given(parts=mixtures, best=st.floats(-12.0, 12.0))
def test_minimising_is_maximising_the_negated_predictive(parts, best: float) -> None:
    w, loc, scale = (np.array([p]) for p in parts)
    pred = MixturePredictive(w / w.sum(), loc, scale)
    neg = negated(pred)
    # ``negated`` re-normalises the weights, which can move them by an ulp. On the probability
    # scale that is a relative error; on the log scale it is an absolute one (log PI near 0).
    for name, atol in (("ei", 1e-300), ("pi", 1e-300), ("log_ei", 1e-13), ("log_pi", 1e-13)):
        f = ACQUISITIONS[name]
        np.testing.assert_allclose(
            f(pred, best=best, maximize=False), f(neg, best=-best, maximize=True), rtol=1e-12, atol=atol
        )
    for name in ("greedy", "ucb"):
        f = ACQUISITIONS[name]
        np.testing.assert_allclose(f(pred, maximize=False), f(neg, maximize=True), rtol=1e-12, atol=1e-12)


def test_higher_is_better_in_both_directions() -> None:
    pred = GaussianPredictive([0.0, 5.0, -5.0], [1.0, 1.0, 1.0])
    assert np.argmax(greedy_mean(pred)) == 1
    assert np.argmax(greedy_mean(pred, maximize=False)) == 2
    assert np.argmax(expected_improvement(pred, best=0.0, maximize=False)) == 2
    assert np.argmax(upper_confidence_bound(pred, maximize=False)) == 2
    np.testing.assert_allclose(upper_confidence_bound(pred, beta=9.0), [3.0, 8.0, -2.0])


# ------------------------------------------------------------------------------------------
# probabilities
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [mixture, ensemble])
def test_pi_matches_the_cdf(make) -> None:
    pred = make()
    for best in (-1.0, 0.5, 3.0):
        np.testing.assert_allclose(probability_of_improvement(pred, best=best), 1.0 - pred.cdf(best), atol=1e-14)
        np.testing.assert_allclose(
            probability_of_improvement(pred, best=best, maximize=False), pred.cdf(best), atol=1e-14
        )
        np.testing.assert_allclose(
            log_probability_of_improvement(pred, best=best),
            np.log(probability_of_improvement(pred, best=best)),
            rtol=1e-10,
        )
    far = GaussianPredictive([0.0], [1.0])
    assert probability_of_improvement(far, best=50.0)[0] == 0.0
    assert log_probability_of_improvement(far, best=50.0)[0] == pytest.approx(stats.norm.logsf(50.0), rel=1e-12)


@pytest.mark.parametrize("make", [mixture, ensemble])
def test_window_probability_matches_cdf_differences(make) -> None:
    pred = make()
    for low, high in [(1.1, 1.7), (-np.inf, 0.0), (2.0, np.inf), (-0.01, 0.01)]:
        got = window_probability(pred, low=low, high=high)
        hi = pred.cdf(high) if np.isfinite(high) else 1.0
        lo = pred.cdf(low) if np.isfinite(low) else 0.0
        np.testing.assert_allclose(got, hi - lo, atol=1e-14)
        np.testing.assert_allclose(
            log_window_probability(pred, low=low, high=high), np.log(got), rtol=1e-9
        )


def test_window_far_in_the_tail_keeps_its_ranking_in_log_space() -> None:
    pred = GaussianPredictive([0.0, -1.0], [1.0, 1.0])
    assert np.all(window_probability(pred, low=60.0, high=61.0) == 0.0)
    logs = log_window_probability(pred, low=60.0, high=61.0)
    assert logs[0] == pytest.approx(stats.norm.logsf(60.0), rel=1e-10)  # P(60<Y<61) ~ P(Y>60)
    assert np.all(np.isfinite(logs)) and logs[0] > logs[1]
    # narrow window in the far lower tail: no cancellation
    narrow = log_window_probability(GaussianPredictive([0.0], [1.0]), low=-30.001, high=-30.0)[0]
    ref = math.log(stats.norm.cdf(-30.0) - stats.norm.cdf(-30.001))
    assert narrow == pytest.approx(ref, rel=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    mu=st.floats(-5.0, 5.0), sd=st.floats(0.01, 5.0), low=st.floats(-6.0, 6.0), width=st.floats(1e-3, 5.0)
)
def test_window_probability_is_a_probability(mu: float, sd: float, low: float, width: float) -> None:
    pred = GaussianPredictive([mu], [sd])
    p = window_probability(pred, low=low, high=low + width)[0]
    ref = stats.norm.cdf(low + width, mu, sd) - stats.norm.cdf(low, mu, sd)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(ref, rel=1e-7, abs=1e-15)


# ------------------------------------------------------------------------------------------
# Thompson sampling, random, variance
# ------------------------------------------------------------------------------------------


def test_thompson_is_deterministic_under_a_seed() -> None:
    pred = mixture()
    a = thompson_sampling(pred, seed=11)
    np.testing.assert_array_equal(a, thompson_sampling(pred, seed=11))
    assert not np.array_equal(a, thompson_sampling(pred, seed=12))
    np.testing.assert_array_equal(
        thompson_sampling(pred, seed=np.random.default_rng(5)),
        thompson_sampling(pred, seed=np.random.default_rng(5)),
    )
    np.testing.assert_array_equal(thompson_sampling(pred, seed=11, maximize=False), -a)


def test_thompson_draws_follow_the_predictive() -> None:
    # 4000 candidates with the same bimodal predictive: one call, 4000 independent draws
    n = 4000
    w = np.tile([0.3, 0.7], (n, 1))
    loc = np.tile([-2.0, 1.5], (n, 1))
    scale = np.tile([0.5, 1.0], (n, 1))
    pred = MixturePredictive(w, loc, scale)
    draws = thompson_sampling(pred, seed=2024)
    one = pred[0]
    assert stats.kstest(draws, lambda y: one.cdf(np.atleast_1d(y)[:, None]).ravel()).pvalue > 1e-3
    # and the moment-matched Gaussian is rejected
    g = stats.norm(one.mean[0], one.stddev[0])
    assert stats.kstest(draws, g.cdf).pvalue < 1e-3


def test_shared_draw_thompson_follows_each_marginal_and_is_coherent() -> None:
    pred = ensemble()
    draws = np.array([thompson_sampling(pred, seed=s, shared_draw=True) for s in range(1500)])
    for i in range(len(pred)):
        cdf = lambda y, i=i: pred[i].cdf(np.atleast_1d(y)[:, None]).ravel()  # noqa: E731
        assert stats.kstest(draws[:, i], cdf).pvalue > 1e-3
    with pytest.raises(UnsupportedOperationError, match="mixture"):
        thompson_sampling(mixture(), seed=0, shared_draw=True)


def test_random_scores_are_seeded_uniforms() -> None:
    pred = GaussianPredictive(np.zeros(500), np.ones(500))
    a = random_scores(pred, seed=1)
    np.testing.assert_array_equal(a, random_scores(pred, seed=1))
    assert a.shape == (500,) and np.all((a >= 0.0) & (a < 1.0))
    assert stats.kstest(a, "uniform").pvalue > 1e-3


def test_variance_acquisitions_and_the_split() -> None:
    g = GaussianPredictive([0.0, 1.0], [1.0, 2.0], epistemic_variance=[0.5, 1.0])
    np.testing.assert_allclose(max_variance(g), [1.0, 4.0])
    np.testing.assert_allclose(max_epistemic_variance(g), [0.5, 1.0])
    np.testing.assert_allclose(max_epistemic_variance(ensemble()), ensemble().epistemic_variance)
    for pred in (mixture(), GaussianPredictive([0.0], [1.0]), SamplePredictive([[0.0, 1.0, 2.0]])):
        with pytest.raises(UnsupportedOperationError, match=f"{pred.kind} predictive") as info:
            max_epistemic_variance(pred)
        assert "max_variance" in str(info.value)


# ------------------------------------------------------------------------------------------
# the registry
# ------------------------------------------------------------------------------------------


def test_every_acquisition_runs_on_every_kind() -> None:
    preds = [
        GaussianPredictive([0.0, 1.0, 2.0], [1.0, 0.5, 2.0], epistemic_variance=[0.5, 0.1, 1.0]),
        MixturePredictive(np.full((3, 2), 0.5), [[0.0, 1.0], [1.0, 2.0], [-1.0, 3.0]], np.ones((3, 2)), [0.1, 0.2, 0.3]),
        ensemble(),
    ]
    extra = {"window": {"low": 1.1, "high": 1.7}, "log_window": {"low": 1.1, "high": 1.7}}
    for name in ACQUISITIONS:
        score = get_acquisition(name, **extra.get(name, {}))
        assert isinstance(score, BoundAcquisition)
        for pred in preds:
            for maximize in (True, False):
                out = score(pred, 1.0, maximize, 0)
                assert out.shape == (3,) and out.dtype == np.float64, name
                assert np.all(np.isfinite(out)), name
                np.testing.assert_array_equal(out, score(pred, best=1.0, maximize=maximize, seed=0))


def test_bound_acquisition_matches_the_function_and_reports_itself() -> None:
    pred = mixture()
    score = get_acquisition("Log-EI", xi=0.1)
    assert score.name == "log_ei" and score.needs_best and score.is_log and not score.uses_seed
    np.testing.assert_array_equal(score(pred, 0.5), log_expected_improvement(pred, best=0.5, xi=0.1))
    assert dict(get_acquisition("ucb").params) == {"beta": 4.0}
    assert get_acquisition("thompson").uses_seed
    assert "low=1.1" in repr(get_acquisition("window", low=1.1, high=1.7))


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("expected_improvement", {}, "valid names are ei, greedy"),
        ("ucb", {"beta": -1.0}, "beta"),
        ("ucb", {"kappa": 2.0}, "accepts: beta"),
        ("ei", {"xi": "big"}, "xi"),
        ("greedy", {"beta": 1.0}, "accepts: none"),
        ("window", {"low": 1.1}, "needs low=... and high"),
        ("window", {"low": 1.7, "high": 1.1}, "low < high"),
        ("window", {"low": -np.inf, "high": np.inf}, "finite bound"),
        ("thompson", {"shared_draw": "yes"}, "shared_draw"),
    ],
)
def test_get_acquisition_rejects_bad_names_and_parameters(name: str, params: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        get_acquisition(name, **params)


def test_scores_are_fresh_writable_arrays() -> None:
    pred = GaussianPredictive([0.0, 1.0], [1.0, 1.0])
    out = greedy_mean(pred)
    out[0] = 99.0
    assert pred.mean[0] == 0.0


def test_the_discovery_loop_modules_do_not_import_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, discovery_loop.acquisition, discovery_loop.batch, discovery_loop.oracles; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
