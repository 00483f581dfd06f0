"""Tests of :mod:`discovery_loop.batch`: top-k against a brute-force reference, exclusion and
invalid scores, and the two diversity methods keeping near-duplicates out of a batch."""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdl.errors import InputError
from bdl.predictive import GaussianPredictive
from discovery_loop.acquisition import log_expected_improvement
from discovery_loop.batch import estimate_lipschitz, select_batch, standardize_descriptors

# ------------------------------------------------------------------------------------------
# top-k
# ------------------------------------------------------------------------------------------


def reference_topk(scores: np.ndarray, k: int, excluded: set[int]) -> list[int]:
    valid = [i for i, s in enumerate(scores) if not np.isnan(s) and s != -np.inf and i not in excluded]
    return sorted(valid, key=lambda i: (-scores[i], i))[:k]


score_lists = st.lists(
    st.one_of(
        st.sampled_from([0.0, 1.0, 2.0, np.nan, -np.inf, np.inf]),  # plenty of ties
        st.floats(-1e6, 1e6),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(scores=score_lists, k=st.integers(1, 60), data=st.data())
def test_topk_matches_a_brute_force_reference(scores: list[float], k: int, data) -> None:
    s = np.array(scores)
    excluded = set(data.draw(st.lists(st.integers(0, len(s) - 1), max_size=10)))
    ref = reference_topk(s, k, excluded)
    if len(ref) < k:
        with pytest.raises(InputError, match="allow_fewer"):
            select_batch(s, k, exclude=sorted(excluded))
        got = select_batch(s, k, exclude=sorted(excluded), allow_fewer=True)
    else:
        got = select_batch(s, k, exclude=sorted(excluded))
    assert got.tolist() == ref
    assert got.dtype == np.intp


def test_topk_large_pool_uses_partition_but_keeps_lowest_index_ties() -> None:
    s = np.zeros(10_000)
    s[[5, 17, 9000]] = 3.0
    got = select_batch(s, 6)
    assert got.tolist() == [5, 17, 9000, 0, 1, 2]


def test_exclude_as_mask_and_bad_excludes() -> None:
    s = np.arange(5.0)
    mask = np.array([False, False, False, True, True])
    assert select_batch(s, 2, exclude=mask).tolist() == [2, 1]
    assert select_batch(s, 2, exclude=[]).tolist() == [4, 3]
    with pytest.raises(InputError, match=r"outside \[0, 5\)"):
        select_batch(s, 2, exclude=[7])
    with pytest.raises(InputError, match="shape"):
        select_batch(s, 2, exclude=np.array([True, False]))
    with pytest.raises(InputError, match="integer"):
        select_batch(s, 2, exclude=[0.5])


def test_too_few_candidates_is_an_error_that_counts_them() -> None:
    s = np.array([1.0, np.nan, -np.inf, 2.0])
    with pytest.raises(InputError, match=r"only 1 of 4 candidates .*1 excluded, 2 more with a NaN"):
        select_batch(s, 2, exclude=[3])
    assert select_batch(s, 3, allow_fewer=True).tolist() == [3, 0]
    assert select_batch(s, 3, exclude=[0, 3], allow_fewer=True).tolist() == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "positive int"),
        ({"k": 2.0}, "positive int"),
        ({"k": 1, "method": "kriging"}, "valid names are local_penalization, min_distance, topk"),
        ({"k": 1, "min_distance": 1.0}, "accepts: none"),
        ({"k": 1, "method": "min_distance"}, "needs the descriptors X"),
        ({"k": 1, "method": "min_distance", "X": np.zeros((3, 2))}, "X has 3 rows but there are 4"),
        ({"k": 1, "method": "min_distance", "X": [[0, 1], [1, np.nan], [2, 2], [3, 3]]}, r"row\(s\) 1"),
        ({"k": 1, "method": "min_distance", "X": np.zeros((4, 2)), "min_distance": -1}, "non-negative"),
        ({"k": 1, "method": "local_penalization", "X": np.zeros((4, 2))}, "needs the predictive"),
    ],
)
def test_bad_arguments_raise_input_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        select_batch(np.arange(4.0), **kwargs)


# ------------------------------------------------------------------------------------------
# diversity
# ------------------------------------------------------------------------------------------


def duplicate_pool(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """A pool of 300 points in 5-D where the 6 best have a near-duplicate twin each.

    Scores: the 6 originals 10.0, 9.9, ...; each twin (distance 1e-3) scores just below its
    original; 20 far-apart points score between 9.0 and 9.5; the rest lower.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 3.0, size=(300, 5))
    s = rng.uniform(0.0, 5.0, size=300)
    pairs = []
    for j in range(6):
        a, b = 2 * j, 2 * j + 1
        X[b] = X[a] + 1e-3 * rng.normal(size=5)
        s[a] = 10.0 - 0.1 * j
        s[b] = s[a] - 0.01
        pairs.append((a, b))
    s[12:32] = np.linspace(9.5, 9.0, 20)
    return X, s, pairs


def assert_no_pair(batch: np.ndarray, pairs: list[tuple[int, int]]) -> None:
    chosen = set(batch.tolist())
    both = [p for p in pairs if set(p) <= chosen]
    assert not both, f"near-duplicate pairs chosen together: {both}"


def test_topk_takes_near_duplicates_and_the_diversity_methods_do_not() -> None:
    X, s, pairs = duplicate_pool()
    top = select_batch(s, 10)
    assert {0, 1} <= set(top.tolist())  # the baseline does pick twins
    mean = s / 2.0
    for method, extra in [
        ("min_distance", {}),
        ("local_penalization", {"mean": mean, "stddev": np.full(300, 0.5), "best": 4.0}),
        ("local_penalization", {"pred": GaussianPredictive(mean, np.full(300, 0.5))}),
    ]:
        batch = select_batch(s, 10, method=method, X=X, **extra)
        assert len(set(batch.tolist())) == 10
        assert_no_pair(batch, pairs)
        # the originals still come first: diversity costs no quality here
        assert batch[:6].tolist() == [0, 2, 4, 6, 8, 10]
        assert set(batch[6:].tolist()) <= set(range(12, 32))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 12))
def test_min_distance_batches_respect_the_radius(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(150, 4))
    X[75:] = X[:75] + 1e-4 * rng.normal(size=(75, 4))  # every point has a twin
    s = rng.normal(size=150)
    radius = 0.5
    batch = select_batch(s, k, method="min_distance", X=X, min_distance=radius)
    Z = standardize_descriptors(X).astype(np.float64)
    d = np.linalg.norm(Z[batch][:, None, :] - Z[batch][None, :, :], axis=-1)
    assert np.all(d[~np.eye(k, dtype=bool)] >= radius * (1 - 1e-5))
    # and greedy: the first pick is the best score
    assert batch[0] == int(np.argmax(s))


def test_min_distance_fills_an_exhausted_batch_by_score_with_a_warning() -> None:
    X = np.zeros((5, 2))
    X[:, 0] = [0.0, 0.01, 0.02, 0.03, 10.0]
    s = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    with pytest.warns(UserWarning, match="filled by score"):
        batch = select_batch(s, 3, method="min_distance", X=X, min_distance=1.0, standardize=False)
    assert batch.tolist() == [0, 4, 1]


def test_local_penalization_with_log_scores_spreads_a_one_dimensional_batch() -> None:
    # 1-D pool, smooth mean with one peak at x = 0: top-k of log-EI clusters around the peak
    x = np.linspace(-5.0, 5.0, 1001)
    pred = GaussianPredictive(-(x**2), np.full_like(x, 0.3))
    scores = log_expected_improvement(pred, best=-0.5)
    top = select_batch(scores, 5)
    assert np.ptp(x[top]) < 0.05
    batch = select_batch(scores, 5, method="local_penalization", X=x[:, None], pred=pred, best=-0.5, log_scores=True)
    assert batch[0] == 500
    # top-k takes neighbouring grid points (spacing 0.01); with L ~ 10 the balls are
    # small near the peak, but the batch is still several grid steps apart
    gaps = np.diff(np.sort(x[batch]))
    assert gaps.min() > 0.05


def test_lipschitz_estimate_of_a_linear_mean() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    mean = 2.0 * X[:, 0].astype(np.float64)
    L = estimate_lipschitz(X, mean)
    assert 1.0 < L <= 2.0 + 1e-4  # slope along the neighbour direction is at most |grad| = 2
    assert estimate_lipschitz(X, np.zeros(500), np.ones(500)) > 0.0  # flat mean: fallback


def test_diversity_methods_are_deterministic() -> None:
    X, s, _ = duplicate_pool(3)
    kw = {"mean": s, "stddev": np.ones(300)}
    a = select_batch(s, 8, method="local_penalization", X=X, **kw)
    np.testing.assert_array_equal(a, select_batch(s, 8, method="local_penalization", X=X, **kw))
    np.testing.assert_array_equal(
        select_batch(s, 8, method="min_distance", X=X), select_batch(s, 8, method="min_distance", X=X)
    )


def test_a_large_pool_is_fast_and_memory_linear() -> None:
    rng = np.random.default_rng(0)
    n, d, k = 100_000, 150, 100
    X = rng.standard_normal((n, d), dtype=np.float32)
    s = rng.standard_normal(n)
    exclude = np.arange(0, n, 50)
    tracemalloc.start()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = select_batch(s, k, method="local_penalization", X=X, mean=s, stddev=np.ones(n), exclude=exclude)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(set(batch.tolist())) == k and not set(batch.tolist()) & set(exclude.tolist())
    assert peak < 400e6  # about 2 float32 copies of X; an n x n matrix would be 40 GB
    assert elapsed < 30.0  # about 2 s on a shared 2-core machine
