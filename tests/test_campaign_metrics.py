"""Campaign metrics against closed forms and Monte Carlo of random picking."""

from __future__ import annotations

import numpy as np
import pytest

from bdl.errors import InputError
from discovery_loop.metrics import (
    acceleration_factor,
    best_so_far,
    enhancement_factor,
    experiments_to_find,
    found_curve,
    random_experiments_to_find,
    random_found_band,
)


def test_found_curve_and_experiments_to_find() -> None:
    curve = found_curve([5, 1, 7, 2, 9], targets=[2, 7])
    np.testing.assert_allclose(curve, [0, 0, 0.5, 1.0, 1.0])
    assert experiments_to_find(curve, 0.5) == 3
    assert experiments_to_find(curve, 1.0) == 4
    assert np.isnan(experiments_to_find(found_curve([1, 2], [3, 4]), 1.0))
    with pytest.raises(InputError, match="no targets"):
        found_curve([1, 2], [])


def test_random_expectations_match_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    n_pool, n_targets = 200, 5
    firsts, alls = [], []
    for _ in range(4000):
        order = rng.permutation(n_pool)
        c = found_curve(order, np.arange(n_targets))
        firsts.append(experiments_to_find(c, 1 / n_targets))
        alls.append(experiments_to_find(c, 1.0))
    # E[first] = (N+1)/(M+1) = 33.5; E[all] = M(N+1)/(M+1) = 167.5; MC s.e. about 0.5
    assert np.mean(firsts) == pytest.approx(random_experiments_to_find(n_pool, n_targets, 1 / n_targets), abs=1.5)
    assert np.mean(alls) == pytest.approx(random_experiments_to_find(n_pool, n_targets, 1.0), abs=1.5)


def test_random_band_covers_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    n_pool, n_targets, n_exp = 300, 10, 120
    mean, lo, hi = random_found_band(n_pool, n_targets, n_exp, level=0.9)
    np.testing.assert_allclose(mean, np.arange(1, n_exp + 1) / n_pool)
    curves = np.array([found_curve(rng.permutation(n_pool)[:n_exp], np.arange(n_targets)) for _ in range(2000)])
    inside = np.mean((curves >= lo - 1e-12) & (curves <= hi + 1e-12))
    assert inside >= 0.88  # a discrete 90 % band holds at least 90 %, up to Monte Carlo error


def test_acceleration_and_enhancement_of_a_perfect_order() -> None:
    n_pool, n_targets = 1000, 10
    curve = found_curve(np.arange(50), np.arange(n_targets))
    n_all = experiments_to_find(curve, 1.0)
    assert n_all == n_targets
    assert acceleration_factor(n_all, n_pool, n_targets, 1.0) == pytest.approx(n_targets * 1001 / 11 / 10)
    ef = enhancement_factor(curve, n_pool)
    assert ef[n_targets - 1] == pytest.approx(1.0 / (n_targets / n_pool))
    assert np.isnan(acceleration_factor(float("nan"), n_pool, n_targets, 1.0))


def test_best_so_far_follows_the_utility() -> None:
    values = np.array([3.0, 1.0, 2.0, 0.5, 4.0])
    np.testing.assert_array_equal(best_so_far(values), [3, 3, 3, 3, 4])
    np.testing.assert_array_equal(best_so_far(values, -values), [3, 1, 1, 0.5, 0.5])
