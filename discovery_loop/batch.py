"""Batch selection: which ``k`` candidates to measure next, given their acquisition scores.

Scoring (:mod:`discovery_loop.acquisition`) and choosing are separate steps. One entry point,
:func:`select_batch`, with three methods:

``"topk"``
    The ``k`` highest scores. Ties go to the lower index, so the choice is deterministic.
``"local_penalization"``
    Greedy batch building with the local penalisation of González et al. [1]_: after each
    pick ``x_j`` every candidate's (log) acquisition is multiplied by the probability that it
    lies outside the ball around ``x_j`` in which, by a Lipschitz bound ``L`` on the
    predictive mean, no point can beat the best value ``M``. Needs the descriptors ``X`` and
    the predictive (mean and standard deviation).
``"min_distance"``
    Greedy by score, skipping every candidate closer than ``min_distance`` (in standardised
    descriptor units) to one already chosen: a hard exclusion radius, the simplest guarantee
    that a batch holds no near-duplicates (polymorphs of one composition, neighbouring grid
    points of a composition spread).

What is never chosen: indices in ``exclude`` (already measured, or pending), and candidates
whose score is NaN or ``-inf``. When fewer than ``k`` candidates remain, :func:`select_batch`
raises :class:`~bdl.errors.InputError` unless ``allow_fewer=True``, which returns all of them.

Both diversity methods work on standardised descriptors in float32 and update one distance
vector of shape ``(n,)`` per pick (one matrix-vector product), so memory is ``O(n d)`` and time
``O(k n d)``: a pool of 100 000 x 150 descriptors and ``k = 100`` takes about a second.

References
----------
.. [1] J. González, Z. Dai, P. Hennig and N. Lawrence, "Batch Bayesian optimization via local
   penalization", AISTATS 2016.
.. [2] T. Desautels, A. Krause and J. W. Burdick, "Parallelizing exploration-exploitation
   tradeoffs in Gaussian process bandit optimization", JMLR 15 (2014) (the hallucinated
   observations of kriging-believer style batches, not implemented here).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr

from bdl._random import Seed, make_rng
from bdl._validation import check_bool, check_predictive, check_real, format_rows
from bdl.errors import InputError
from bdl.predictive import Predictive
from bdl.registry import get, register, view

__all__ = ["BATCH_METHODS", "estimate_lipschitz", "register_selector", "select_batch", "standardize_descriptors"]

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]

#: Largest subsample of the pool used to estimate a Lipschitz constant or a typical spacing.
_SUBSAMPLE = 2000
#: Pairs closer than this (standardised units) are duplicates, not slopes.
_MIN_PAIR_DISTANCE = 1e-6
#: Rows per block when summing squares in float64.
_CHUNK = 8192


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


def _check_scores(scores: ArrayLike) -> FloatArray:
    try:
        s = np.array(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"scores must be a 1-D numeric array of shape (n_candidates,) ({exc})."
        ) from None
    if s.ndim != 1:
        raise InputError(
            f"scores must be 1-D of shape (n_candidates,), got shape {s.shape}; pass one "
            "score per candidate."
        )
    if s.size == 0:
        raise InputError("scores is empty; there are no candidates to choose from.")
    return s


def _check_k(k: Any) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k (the batch size) must be a positive int, got {k!r}.")
    return int(k)


def _check_exclude(exclude: ArrayLike | None, n: int) -> NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    if exclude is None:
        return mask
    arr = np.asarray(exclude)
    if arr.dtype == np.bool_:
        if arr.shape != (n,):
            raise InputError(
                f"exclude as a boolean mask must have shape ({n},), one flag per candidate, "
                f"got {arr.shape}."
            )
        return arr.copy()
    if arr.size == 0:
        return mask
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            "exclude must be a 1-D array of integer candidate indices or a boolean mask of "
            f"shape ({n},), got dtype {arr.dtype} and shape {arr.shape}."
        )
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise InputError(
            f"exclude holds indices outside [0, {n}) at position(s) {format_rows(np.flatnonzero(bad))} "
            f"(e.g. {int(arr[bad][0])}); pass positions into the scores array."
        )
    mask[arr] = True
    return mask


def _make_rng(seed: Seed) -> np.random.Generator:
    """As :func:`bdl._random.make_rng`, but None means seed 0: batch selection is deterministic by default."""
    return make_rng(0 if seed is None else seed)


def _check_vector(name: str, value: Any, n: int) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array of shape ({n},) ({exc}).") from None
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), one value per candidate, got {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(f"{name} has NaN or infinite values at row(s) {format_rows(np.flatnonzero(bad))}.")
    return arr


def standardize_descriptors(X: Any, n: int | None = None, standardize: bool = True) -> NDArray[np.float32]:
    """Descriptors as a float32 array, each column centred and scaled to unit variance.

    Constant columns are centred only. The arithmetic is done in place in float32, so the
    memory is one float32 copy of ``X``.

    Parameters
    ----------
    X : array_like or DataFrame of shape (n, d)
        Finite numeric descriptors of the whole pool.
    n : int, optional
        Expected number of rows (the number of scores).
    standardize : bool, default True
        False leaves the values as they are (only converted to float32).

    Returns
    -------
    ndarray of float32, shape (n, d)

    Raises
    ------
    InputError
        For a missing ``X``, a wrong shape or non-finite values (the rows are named).
    """
    if X is None:
        raise InputError(
            "this batch method needs the descriptors X of shape (n_candidates, n_features) to "
            "measure how close candidates are; pass X=... (the pool's feature matrix)."
        )
    try:
        if hasattr(X, "to_numpy"):
            Xs = np.array(X.to_numpy(dtype=np.float32), dtype=np.float32, copy=True)
        else:
            Xs = np.array(X, dtype=np.float32, copy=True)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"X must be a numeric array or DataFrame of shape (n_candidates, n_features) ({exc}); "
            "drop text columns first."
        ) from None
    if Xs.ndim != 2 or Xs.shape[1] == 0:
        raise InputError(f"X must be 2-D of shape (n_candidates, n_features), got shape {Xs.shape}.")
    if n is not None and Xs.shape[0] != n:
        raise InputError(
            f"X has {Xs.shape[0]} rows but there are {n} scores; pass the descriptors of the "
            "same candidates, in the same order."
        )
    bad = ~np.isfinite(Xs)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(
            f"X has NaN or infinite values (or values beyond float32) in row(s) {format_rows(rows)}; "
            "impute or drop those candidates."
        )
    if standardize:
        mu = Xs.mean(axis=0, dtype=np.float64)
        Xs -= mu.astype(np.float32)
        sumsq = np.zeros(Xs.shape[1])
        for start in range(0, Xs.shape[0], _CHUNK):  # float64 sums without a float64 copy
            block = Xs[start : start + _CHUNK].astype(np.float64)
            sumsq += np.einsum("ij,ij->j", block, block)
        sd = np.sqrt(sumsq / Xs.shape[0])
        sd[sd <= 0.0] = 1.0
        Xs /= sd.astype(np.float32)
    return Xs


class _Distances:
    """Squared Euclidean distances from one row of ``X`` to all rows, O(n d) per call."""

    def __init__(self, X: NDArray[np.float32]) -> None:
        self.X = X
        self.sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)

    def sq_to(self, j: int) -> FloatArray:
        d2 = self.sq + self.sq[j] - 2.0 * (self.X @ self.X[j]).astype(np.float64)
        d2[j] = 0.0
        return np.maximum(d2, 0.0)


def _nearest_neighbours(
    X: NDArray[np.float32], rows: IndexArray
) -> tuple[IndexArray, FloatArray]:
    """Nearest neighbour (among ``rows``) of each of ``rows``, ignoring exact duplicates."""
    Y = X[rows].astype(np.float64)
    sq = np.einsum("ij,ij->i", Y, Y)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (Y @ Y.T), 0.0)
    d2[d2 < _MIN_PAIR_DISTANCE**2] = np.inf  # itself and duplicates
    nn = np.argmin(d2, axis=1)
    return rows[nn], np.sqrt(d2[np.arange(len(rows)), nn])


def _subsample(n: int, rng: np.random.Generator) -> IndexArray:
    if n <= _SUBSAMPLE:
        return np.arange(n)
    return np.sort(rng.choice(n, size=_SUBSAMPLE, replace=False))


def estimate_lipschitz(
    X: NDArray[np.float32], mean: FloatArray, stddev: FloatArray | None = None, seed: Seed = None
) -> float:
    """Lipschitz constant of the predictive mean over standardised descriptors.

    The largest finite-difference slope ``|mean_i - mean_j| / ||x_i - x_j||`` between each
    point of a subsample (at most 2000 points, drawn with ``seed``) and its nearest neighbour
    in that subsample; González et al. [1]_ take the largest gradient norm of the mean. Exact
    duplicates (distance below 1e-6) are skipped. For a flat mean, where no slope is positive,
    ``median(stddev) / median(nearest-neighbour distance)`` is used, or 1.0.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Standardised descriptors (see :func:`standardize_descriptors`).
    mean : ndarray of shape (n,)
    stddev : ndarray of shape (n,), optional
        Only for the flat-mean fallback.
    seed : int, numpy.random.Generator or None
        None means a fixed subsample (seed 0).

    Returns
    -------
    float, positive

    References
    ----------
    .. [1] J. González et al., "Batch Bayesian optimization via local penalization", AISTATS 2016.
    """
    rng = _make_rng(seed)
    rows = _subsample(X.shape[0], rng)
    if len(rows) < 2:
        return 1.0
    nn, dist = _nearest_neighbours(X, rows)
    finite = np.isfinite(dist)
    if not finite.any():
        return 1.0
    slopes = np.abs(mean[rows] - mean[nn])[finite] / dist[finite]
    top = float(np.max(slopes)) if slopes.size else 0.0
    if top > 0.0 and math.isfinite(top):
        return top
    spacing = float(np.median(dist[finite]))
    if stddev is not None and spacing > 0.0:
        fallback = float(np.median(stddev)) / spacing
        if fallback > 0.0 and math.isfinite(fallback):
            return fallback
    return 1.0


def _log_softplus(s: FloatArray) -> FloatArray:
    """``log(log(1 + exp(s)))``, the positive transform of González et al., in log space."""
    with np.errstate(over="ignore", divide="ignore"):
        mid = np.log(np.log1p(np.exp(np.clip(s, -40.0, 40.0))))
        return np.where(s > 40.0, np.log(np.maximum(s, 1.0)), np.where(s < -40.0, s, mid))


# --------------------------------------------------------------------------------------------
# the methods
# --------------------------------------------------------------------------------------------


def _topk(scores: FloatArray, valid: NDArray[np.bool_], k: int, X: Any = None, rng: Any = None) -> IndexArray:
    idx = np.flatnonzero(valid)
    vals = scores[idx]
    if len(idx) > 4 * k:
        threshold = np.partition(vals, len(vals) - k)[len(vals) - k]
        keep = vals >= threshold
        idx, vals = idx[keep], vals[keep]
    order = np.argsort(-vals, kind="stable")  # idx is increasing: ties go to the lower index
    return idx[order[:k]].astype(np.intp)


def _local_penalization(
    scores: FloatArray,
    valid: NDArray[np.bool_],
    k: int,
    X: Any,
    rng: np.random.Generator,
    *,
    pred: Predictive | None = None,
    mean: ArrayLike | None = None,
    stddev: ArrayLike | None = None,
    maximize: bool = True,
    best: float | None = None,
    lipschitz: float | None = None,
    log_scores: bool = False,
    standardize: bool = True,
) -> IndexArray:
    n = scores.shape[0]
    maximize = check_bool("maximize", maximize)
    log_scores = check_bool("log_scores", log_scores)
    standardize = check_bool("standardize", standardize)
    if pred is not None:
        pred = check_predictive(pred, "pred")
        if mean is not None or stddev is not None:
            raise InputError("pass either pred=... or mean=... and stddev=..., not both.")
        mu = np.array(pred.mean, dtype=np.float64)
        sig = np.sqrt(pred.epistemic_variance) if pred.has_split else np.array(pred.stddev)
        if mu.shape != (n,):
            raise InputError(f"pred has {mu.shape[0]} candidates but there are {n} scores; they must match.")
    elif mean is not None and stddev is not None:
        mu = _check_vector("mean", mean, n)
        sig = _check_vector("stddev", stddev, n)
    else:
        raise InputError(
            "method 'local_penalization' needs the predictive of the candidates: pass pred=... "
            "(a Predictive) or mean=... and stddev=... (arrays of shape (n,)), or use "
            "method='min_distance', which needs descriptors only."
        )
    Xs = standardize_descriptors(X, n, standardize)
    if not maximize:
        mu = -mu
    m_value = float(np.max(mu[valid]))
    if best is not None:
        try:
            b = float(best)
        except (TypeError, ValueError):
            raise InputError(f"best must be a number, got {best!r}.") from None
        if not math.isfinite(b):
            raise InputError(f"best must be finite, got {b!r}.")
        m_value = max(m_value, b if maximize else -b)
    L = (
        check_real("lipschitz", lipschitz, above=0.0)
        if lipschitz is not None
        else estimate_lipschitz(Xs, mu, sig, rng)
    )
    radius = (m_value - mu) / L  # >= 0: the ball in which the mean cannot reach M
    spread = np.maximum(sig, 1e-12 * max(1.0, float(np.max(np.abs(mu))))) / L
    base = scores.copy() if log_scores else _log_softplus(scores)
    penalty = np.zeros(n)
    eligible = valid.copy()
    dist = _Distances(Xs)
    chosen: list[int] = []
    for _ in range(k):
        total = np.where(eligible, base + penalty, -np.inf)
        j = int(np.argmax(total))
        if not eligible[j]:
            break
        chosen.append(j)
        eligible[j] = False
        d = np.sqrt(dist.sq_to(j))
        penalty += log_ndtr((d - radius[j]) / spread[j])
    return np.asarray(chosen, dtype=np.intp)


def _min_distance(
    scores: FloatArray,
    valid: NDArray[np.bool_],
    k: int,
    X: Any,
    rng: np.random.Generator,
    *,
    min_distance: float | None = None,
    standardize: bool = True,
) -> IndexArray:
    n = scores.shape[0]
    standardize = check_bool("standardize", standardize)
    Xs = standardize_descriptors(X, n, standardize)
    if min_distance is None:
        rows = _subsample(n, rng)
        _, nn_d = _nearest_neighbours(Xs, rows)
        finite = nn_d[np.isfinite(nn_d)]
        radius = float(np.median(finite)) if finite.size else 0.0
    else:
        radius = float(min_distance)
        if isinstance(min_distance, (bool, np.bool_)) or not math.isfinite(radius) or radius < 0.0:
            raise InputError(f"min_distance must be a non-negative finite number, got {min_distance!r}.")
    r2 = radius * radius
    dist = _Distances(Xs)
    nearest = np.full(n, np.inf)
    available = valid.copy()
    chosen: list[int] = []
    for _ in range(k):
        eligible = available & (nearest >= r2)
        if not eligible.any():
            break
        j = int(np.argmax(np.where(eligible, scores, -np.inf)))
        chosen.append(j)
        available[j] = False
        np.minimum(nearest, dist.sq_to(j), out=nearest)
    if len(chosen) < k:
        rest = _topk(scores, available, k - len(chosen))
        if rest.size:
            warnings.warn(
                f"only {len(chosen)} candidates lie at least min_distance={radius:.4g} apart; "
                f"the other {rest.size} of the batch were filled by score alone. Lower "
                "min_distance for a fully diverse batch.",
                UserWarning,
                stacklevel=3,
            )
        chosen.extend(int(i) for i in rest)
    return np.asarray(chosen, dtype=np.intp)


def select_batch(
    scores: ArrayLike,
    k: int,
    *,
    method: str = "topk",
    X: Any = None,
    exclude: ArrayLike | Sequence[int] | None = None,
    seed: Seed = None,
    allow_fewer: bool = False,
    **params: Any,
) -> IndexArray:
    """Choose the indices of the next batch of ``k`` candidates.

    Parameters
    ----------
    scores : array_like of shape (n,)
        Acquisition scores, higher is better. NaN and ``-inf`` mark candidates never chosen.
    k : int
        Batch size, >= 1.
    method : {"topk", "local_penalization", "min_distance"}, default "topk"
        See the module docstring.
    X : array_like or DataFrame of shape (n, d), optional
        Descriptors of the candidates; required by the diversity methods. They are
        standardised per column over the whole pool (``standardize=False`` to skip).
    exclude : array_like of int or bool mask of shape (n,), optional
        Candidates never chosen (already measured, or pending in the lab).
    seed : int, numpy.random.Generator or None
        Only for the subsample behind the Lipschitz constant / spacing estimates of the
        diversity methods; None means a fixed subsample, so the result is deterministic.
    allow_fewer : bool, default False
        When fewer than ``k`` candidates are selectable: False raises, True returns them all.
    **params
        ``local_penalization``: ``pred`` (a Predictive of the same candidates; its epistemic
        standard deviation is used when it has the split, else the total one) or ``mean`` and
        ``stddev`` arrays; ``maximize`` (default True); ``best`` (best value so far; ``M`` is
        the larger of it and the largest predicted mean, so every ball has radius >= 0);
        ``lipschitz`` (default: :func:`estimate_lipschitz`); ``log_scores`` (True when the
        scores are logs of a positive acquisition such as ``log_ei``; otherwise the
        softplus transform ``log(1 + exp(s))`` of [1]_ makes them positive, so the penalty
        depends on the scale of the scores); ``standardize``.
        ``min_distance``: ``min_distance`` (default: the median nearest-neighbour distance in
        a subsample of at most 2000 candidates, in standardised units); ``standardize``. If
        fewer than ``k`` candidates lie that far apart, the rest of the batch is filled by
        score and a ``UserWarning`` says so.

    Returns
    -------
    ndarray of intp, shape (k,)
        Candidate indices in the order they were chosen (shorter only with ``allow_fewer``).

    Raises
    ------
    InputError
        For an unknown method or parameter, bad scores, ``X`` or ``exclude``, or fewer
        selectable candidates than ``k`` (without ``allow_fewer``).

    References
    ----------
    .. [1] J. González, Z. Dai, P. Hennig and N. Lawrence, "Batch Bayesian optimization via
       local penalization", AISTATS 2016.

    Examples
    --------
    >>> select_batch([0.1, 0.9, 0.5, 0.9], 2, exclude=[1])
    array([3, 2])
    """
    s = _check_scores(scores)
    k = _check_k(k)
    allow_fewer = check_bool("allow_fewer", allow_fewer)
    if not isinstance(method, str):
        raise InputError(f"the batch method must be a string such as 'topk', got {method!r}.")
    entry = get("selector", method)
    unknown = sorted(set(params) - set(entry.meta["params"]))
    if unknown:
        accepted = ", ".join(entry.meta["params"]) or "none"
        raise InputError(
            f"batch method {method!r} takes no parameter(s) {', '.join(unknown)}; it accepts: {accepted}."
        )
    excluded = _check_exclude(exclude, s.shape[0])
    invalid = np.isnan(s) | (s == -np.inf)
    valid = ~invalid & ~excluded
    n_valid = int(valid.sum())
    if n_valid < k and not allow_fewer:
        raise InputError(
            f"only {n_valid} of {s.shape[0]} candidates can be chosen "
            f"({int(excluded.sum())} excluded, {int((invalid & ~excluded).sum())} more with a NaN "
            f"or -inf score) but k={k}; lower k, or pass allow_fewer=True to take all {n_valid}."
        )
    k_eff = min(k, n_valid)
    if k_eff == 0:
        return np.zeros(0, dtype=np.intp)
    rng = _make_rng(seed)
    return np.asarray(entry.obj(s, valid, k_eff, X, rng, **params), dtype=np.intp)


def register_selector(name: str, func: Any, *, params: Sequence[str] = (), needs_predictive: bool = False,
                      replace: bool = False) -> Any:
    """Add a batch selector to the registry (:mod:`bdl.registry`) under ``name``.

    Parameters
    ----------
    func : callable
        ``func(scores, valid, k, X, rng, **params) -> indices``: ``scores`` are the checked
        acquisition scores, ``valid`` the mask of selectable candidates (at least ``k``).
    params : sequence of str
        The parameters it accepts.
    needs_predictive : bool
        Whether a campaign passes it the round's ``pred``, ``maximize``, ``best`` and
        ``log_scores`` (as local penalisation needs).
    """
    return register("selector", name, func, replace=replace, params=tuple(params), needs_predictive=needs_predictive)


register_selector("topk", _topk)
register_selector("local_penalization", _local_penalization,
                  params=("pred", "mean", "stddev", "maximize", "best", "lipschitz", "log_scores", "standardize"),
                  needs_predictive=True)
register_selector("min_distance", _min_distance, params=("min_distance", "standardize"))

#: The methods :func:`select_batch` knows (a live view of the registry's selectors).
BATCH_METHODS = view("selector")
