"""Every acquisition function scores every predictive kind through the one contract:
isotonic-recalibrated, conformal (split, CQR, conformal predictive distributions) and bounded
predictives included; the generic quadrature paths agree with the closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from bdl.calibration import metrics as M
from bdl.calibration.conformal import (
    ConformalizedQuantileRegression,
    ConformalPredictive,
    ConformalPredictiveSystem,
    SplitConformal,
)
from bdl.calibration.recalibration import IsotonicRecalibration, MonotoneMap, RecalibratedPredictive
from bdl.errors import UnsupportedOperationError
from bdl.predictive import BoundedPredictive, GaussianPredictive, MixturePredictive, Predictive, concat
from discovery_loop.acquisition import ACQUISITIONS, get_acquisition

N = 7


def _calibration(seed: int = 0, m: int = 300) -> tuple[np.ndarray, GaussianPredictive]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=m)
    y = mu + 1.6 * rng.standard_normal(m)  # the predictive is over-confident (sd 1 vs 1.6)
    return y, GaussianPredictive(mu, np.ones(m))


def _test_pred() -> GaussianPredictive:
    return GaussianPredictive(np.linspace(-2.0, 2.0, N), np.linspace(0.5, 1.5, N))


def _bounded() -> BoundedPredictive:
    return BoundedPredictive(
        np.tile([0.4, 0.6], (N, 1)),
        np.stack([np.linspace(-1, 1, N), np.linspace(0.5, 2.5, N)], axis=1),
        np.tile([0.5, 1.0], (N, 1)),
        lower=0.0,
        p_lower=np.linspace(0.0, 0.5, N),
        epistemic_variance=None,
    )


def _kinds() -> dict[str, Predictive]:
    y, cal = _calibration()
    test = _test_pred()
    bounded_cal = BoundedPredictive(np.ones((len(y), 1)), cal.mean[:, None], cal.stddev[:, None], lower=-10.0)
    return {
        "isotonic": IsotonicRecalibration().fit(y, cal).transform(test),
        "split_conformal": SplitConformal(0.1).fit(y, cal).transform(test),
        "cqr": ConformalizedQuantileRegression(0.1).fit(y, cal).transform(test),
        "cpd": ConformalPredictiveSystem().fit(y, cal).transform(test),
        "bounded": _bounded(),
        "isotonic_bounded": IsotonicRecalibration().fit(y, bounded_cal).transform(_bounded()),
    }


KINDS = _kinds()


def _params(name: str) -> dict[str, float]:
    return {"low": 0.5, "high": 1.5} if "window" in name else {}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
@pytest.mark.parametrize("maximize", [True, False])
def test_every_acquisition_scores_every_kind(kind: str, name: str, maximize: bool) -> None:
    pred = KINDS[kind]
    score = get_acquisition(name, **_params(name))
    if name == "max_epistemic" and not pred.has_split:
        # the one function that needs the epistemic split refuses, naming the kind (as it does
        # for a Gaussian built without one)
        with pytest.raises(UnsupportedOperationError, match=pred.kind):
            score(pred, best=0.7, maximize=maximize, seed=0)
        return
    out = score(pred, best=0.7, maximize=maximize, seed=0)
    assert out.shape == (N,)
    assert not np.any(np.isnan(out))
    if not name.startswith("log_"):
        assert np.all(np.isfinite(out))
    # same seed, same scores
    np.testing.assert_array_equal(out, score(pred, best=0.7, maximize=maximize, seed=0))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ei_and_pi_agree_with_monte_carlo(kind: str) -> None:
    pred = KINDS[kind]
    draws = pred.sample(200_000, seed=1)
    best = 0.7
    for maximize in (True, False):
        gain = np.maximum(draws - best, 0.0) if maximize else np.maximum(best - draws, 0.0)
        ei = ACQUISITIONS["ei"](pred, best=best, maximize=maximize)
        se = gain.std(axis=0) / np.sqrt(len(draws))
        assert np.all(np.abs(ei - gain.mean(axis=0)) < 5 * se + 2e-3 * (1 + ei)), (kind, maximize)
        pi = ACQUISITIONS["pi"](pred, best=best, maximize=maximize)
        hit = (draws > best) if maximize else (draws < best)
        assert np.all(np.abs(pi - hit.mean(axis=0)) < 5 * np.sqrt(pi * (1 - pi) / len(draws)) + 1e-3)
        win = ACQUISITIONS["window"](pred, low=0.5, high=1.5)
        inside = ((draws >= 0.5) & (draws <= 1.5)).mean(axis=0)
        assert np.all(np.abs(win - inside) < 5 * np.sqrt(win * (1 - win) / len(draws)) + 1e-3)


def _identity(base: Predictive) -> RecalibratedPredictive:
    return RecalibratedPredictive(base, MonotoneMap.identity())


@pytest.mark.parametrize(
    "base",
    [
        GaussianPredictive(np.array([0.0, 1.0, -3.0, 2.0]), np.array([1.0, 0.3, 2.0, 0.5])),
        MixturePredictive([[0.3, 0.7]] * 4, [[-1.0, 1.0], [0.0, 3.0], [-2.0, -1.0], [1.0, 1.5]],
                          [[0.5, 0.8], [1.0, 0.2], [0.3, 0.3], [2.0, 0.1]]),
        BoundedPredictive([[0.5, 0.5]] * 4, [[0.2, 1.5], [-1.0, 0.5], [1.0, 2.0], [0.0, 0.1]],
                          [[0.5, 1.0]] * 4, lower=0.0, upper=[3.0, np.inf, 4.0, np.inf],
                          p_lower=[0.3, 0.0, 0.6, 0.1]),
    ],
    ids=["gaussian", "mixture", "bounded"],
)
@pytest.mark.parametrize("maximize", [True, False])
def test_generic_quadrature_equals_the_closed_forms(base: Predictive, maximize: bool) -> None:
    """An identity-recalibrated predictive is the base; its quadrature EI / window must agree."""
    same = _identity(base)
    for best in (-1.0, 0.0, 0.7, 2.5):
        for fn in ("ei", "pi", "window"):
            kw = _params(fn)
            ref = ACQUISITIONS[fn](base, best=best, maximize=maximize, **kw)
            got = ACQUISITIONS[fn](same, best=best, maximize=maximize, **kw)
            np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-12, err_msg=f"{fn} best={best}")
        ref = ACQUISITIONS["log_ei"](base, best=best, maximize=maximize)
        got = ACQUISITIONS["log_ei"](same, best=best, maximize=maximize)
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6)


def test_generic_log_ei_stays_finite_and_monotone_far_in_the_tail() -> None:
    base = GaussianPredictive(np.full(6, 0.0), np.ones(6))
    same = _identity(base)
    for best in (8.0, 20.0, 30.0):
        ref = ACQUISITIONS["log_ei"](base, best=best)
        got = ACQUISITIONS["log_ei"](same, best=best)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, ref, rtol=1e-4)
    # a higher mean ranks higher even where EI itself underflows
    shifted = _identity(GaussianPredictive(np.linspace(0.0, 1.0, 6), np.ones(6)))
    scores = ACQUISITIONS["log_ei"](shifted, best=30.0)
    assert np.all(np.diff(scores) > 0)
    np.testing.assert_allclose(np.log(ACQUISITIONS["ei"](shifted, best=30.0)), scores, rtol=1e-12)


def test_log_window_of_a_far_window_is_finite_for_recalibrated() -> None:
    base = GaussianPredictive(np.zeros(3), np.ones(3))
    got = ACQUISITIONS["log_window"](_identity(base), low=12.0, high=13.0)
    ref = ACQUISITIONS["log_window"](base, low=12.0, high=13.0)
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_conformal_predictive_ei_is_the_exact_sum_over_atoms() -> None:
    p = KINDS["cpd"]
    assert isinstance(p, ConformalPredictive)
    atoms = p.atoms
    for maximize, gain in ((True, np.maximum(atoms - 0.7, 0.0)), (False, np.maximum(0.7 - atoms, 0.0))):
        np.testing.assert_allclose(ACQUISITIONS["ei"](p, best=0.7, maximize=maximize), gain.mean(axis=1), rtol=1e-14)
    # crps: the closed form equals the energy form over the atoms
    y = np.linspace(-1, 1, N)
    energy = np.mean(np.abs(atoms - y[:, None]), axis=1) - 0.5 * np.mean(
        np.abs(atoms[:, :, None] - atoms[:, None, :]), axis=(1, 2)
    )
    np.testing.assert_allclose(M.crps_per_point(y, p), energy, rtol=1e-10, atol=1e-12)


def test_shared_draw_thompson_needs_a_samples_predictive() -> None:
    for pred in KINDS.values():
        with pytest.raises(UnsupportedOperationError, match="shared_draw"):
            ACQUISITIONS["thompson"](pred, seed=0, shared_draw=True)


def test_concat_joins_conformal_predictives() -> None:
    p = KINDS["cpd"]
    both = concat([p[:3], p[3:]])
    np.testing.assert_array_equal(both.atoms, p.atoms)
    with pytest.raises(UnsupportedOperationError, match="RecalibratedPredictive"):
        concat([KINDS["isotonic"], KINDS["isotonic"]])
