"""Train/test splits used by the benchmarks (numpy only)."""

from __future__ import annotations

import numpy as np

from bdl.errors import InputError

__all__ = ["MATBENCH_SEED", "kfold_indices"]

#: Seed of Matbench v0.1's ``KFold(5, shuffle=True, random_state=18012019)``.
MATBENCH_SEED = 18012019


def kfold_indices(n_samples: int, n_splits: int = 5, seed: int = MATBENCH_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold (train, test) index pairs, identical to scikit-learn's
    ``KFold(n_splits, shuffle=True, random_state=seed).split(range(n_samples))``.

    With the defaults these are Matbench v0.1's folds.

    Returns
    -------
    list of (train_idx, test_idx)
        Each an ndarray of int; the test folds partition ``range(n_samples)``.
    """
    if n_splits < 2 or n_splits > n_samples:
        raise InputError(f"n_splits must be between 2 and n_samples={n_samples}, got {n_splits}.")
    indices = np.arange(n_samples)
    np.random.RandomState(seed).shuffle(indices)
    sizes = np.full(n_splits, n_samples // n_splits, dtype=int)
    sizes[: n_samples % n_splits] += 1
    folds = []
    start = 0
    for size in sizes:
        test = np.sort(indices[start : start + size])
        mask = np.ones(n_samples, dtype=bool)
        mask[test] = False
        folds.append((np.arange(n_samples)[mask], test))
        start += size
    return folds
