"""Campaign metrics: how fast a strategy finds what it looks for, compared with random picking.

Definitions follow Rohr et al., "Benchmarking the acceleration of materials discovery by
sequential learning", Chem. Sci. 11, 2696 (2020), and Liang et al., "Benchmarking the
performance of Bayesian optimization across multiple experimental materials science domains",
npj Comput. Mater. 7, 188 (2021):

- the *targets* are the top 1 % of the pool (or the pool's members inside a target window);
- ``found(n)``: fraction of the targets among the first ``n`` experiments;
- the *acceleration factor* for a fraction ``f``: experiments random picking needs to find
  ``f`` of the targets, divided by the experiments the strategy needed;
- the *enhancement factor* at ``n`` experiments: ``found(n)`` over random picking's ``found(n)``.

Random picking without replacement has closed forms: among ``N`` candidates with ``M`` targets,
the expected fraction found after ``n`` experiments is ``n / N``, and the expected number of
experiments until the ``m``-th target is ``m (N + 1) / (M + 1)`` (the expected ``m``-th order
statistic of ``M`` positions drawn without replacement from ``1..N``). These are the references
here; the benchmarks also run random picking itself over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from bdl.errors import InputError

__all__ = [
    "acceleration_factor",
    "best_so_far",
    "enhancement_factor",
    "experiments_to_find",
    "found_curve",
    "random_experiments_to_find",
    "random_found_band",
]


def found_curve(order: Sequence[int] | np.ndarray, targets: Sequence[int] | np.ndarray) -> np.ndarray:
    """Fraction of the targets found after each experiment.

    Parameters
    ----------
    order : array of int of shape (n_experiments,)
        Pool positions in the order they were measured.
    targets : array of int of shape (n_targets,)

    Returns
    -------
    ndarray of shape (n_experiments,)
    """
    targets = np.asarray(targets, dtype=np.int64)
    if targets.size == 0:
        raise InputError("the campaign has no targets (top 1 % or window members) to count; is this a simulated campaign?")
    hit = np.isin(np.asarray(order, dtype=np.int64), targets)
    return np.cumsum(hit) / targets.size


def best_so_far(values: Sequence[float] | np.ndarray, utility: np.ndarray | None = None) -> np.ndarray:
    """Running best value: by ``utility`` (higher is better) when given, else the running maximum.

    Parameters
    ----------
    values : array of shape (n_experiments,)
        Measured values in order.
    utility : array of shape (n_experiments,), optional
        e.g. ``Goal.utility(values)``; the returned values are in the target's units.
    """
    v = np.asarray(values, dtype=np.float64)
    u = v if utility is None else np.asarray(utility, dtype=np.float64)
    if u.size == 0:
        return v.copy()
    arg = np.zeros(u.size, dtype=np.int64)
    best = 0
    for i in range(1, u.size):
        if u[i] > u[best]:
            best = i
        arg[i] = best
    return v[arg]


def experiments_to_find(curve: np.ndarray, fraction: float) -> float:
    """First experiment count at which ``curve`` reaches ``fraction`` (NaN if it never does)."""
    if not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction!r}.")
    reached = np.flatnonzero(np.asarray(curve) >= fraction - 1e-12)
    return float(reached[0] + 1) if reached.size else float("nan")


def random_experiments_to_find(n_pool: int, n_targets: int, fraction: float) -> float:
    """Expected experiments random picking needs to find ``fraction`` of ``n_targets`` targets."""
    m = max(1, int(math.ceil(fraction * n_targets - 1e-9)))
    return m * (n_pool + 1) / (n_targets + 1)


def acceleration_factor(n_strategy: float, n_pool: int, n_targets: int, fraction: float) -> float:
    """Random picking's expected experiments over the strategy's, to find ``fraction`` of the targets."""
    if not np.isfinite(n_strategy):
        return float("nan")
    return random_experiments_to_find(n_pool, n_targets, fraction) / float(n_strategy)


def enhancement_factor(curve: np.ndarray, n_pool: int) -> np.ndarray:
    """``found(n)`` divided by random picking's expected ``n / N``; shape (n_experiments,)."""
    n = np.arange(1, len(curve) + 1)
    return np.asarray(curve, dtype=np.float64) / (n / n_pool)


def random_found_band(n_pool: int, n_targets: int, n_experiments: int, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random picking's found fraction: mean and a central ``level`` band (hypergeometric).

    Returns
    -------
    mean, low, high : ndarray of shape (n_experiments,)
    """
    n = np.arange(1, n_experiments + 1)
    dist = stats.hypergeom(n_pool, n_targets, n)
    a = (1 - level) / 2
    return n * n_targets / n_pool / n_targets, dist.ppf(a) / n_targets, dist.ppf(1 - a) / n_targets
