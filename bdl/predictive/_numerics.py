"""Shared numerics of the predictive kinds: validation of arrays, Gaussian-mixture and
truncated-normal maths (numpy / scipy only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, logsumexp, ndtr, ndtri, ndtri_exp

from bdl._validation import rows_text
from bdl.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass

FloatArray = NDArray[np.float64]
P = TypeVar("P", bound="Predictive")

#: Relative tolerance of the check ``0 <= epistemic_variance <= variance``.
_SPLIT_RTOL = 1e-9
#: Tolerance of the check that mixture weights sum to one per row.
_WEIGHT_ATOL = 1e-6
#: The quantile bracket reaches this many component scales beyond the outermost components.
_BRACKET_SCALES = 40.0
#: Root-finding stops once the bracket (or the Newton step) is below this many scales.
_QUANTILE_RTOL = 1e-11
_QUANTILE_MAX_ITER = 400
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _bad_rows(mask: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Row numbers where ``mask`` (1-D or 2-D) is true anywhere."""
    if mask.ndim > 1:
        mask = mask.reshape(mask.shape[0], -1).any(axis=1)
    return np.flatnonzero(mask)


def _as_float_array(name: str, value: ArrayLike, ndim: int, shape_text: str) -> FloatArray:
    """Convert ``value`` to a fresh float64 array and check its ndim, size and finiteness.

    Parameters
    ----------
    name : str
        Argument name quoted in error messages.
    value : array_like
        What the caller passed.
    ndim : int
        Required number of dimensions (1 or 2).
    shape_text : str
        The expected shape in words, e.g. ``"(n_points, n_components)"``.

    Returns
    -------
    ndarray of float64 with ``ndim`` dimensions
        A copy, never a view of the caller's array.
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be a numeric array of shape {shape_text}, but it could not be "
            f"converted to float64 ({exc}); pass a numpy array of numbers."
        ) from None
    if arr.ndim != ndim:
        hint = " (use .ravel() for a column vector)" if ndim == 1 else ""
        raise InputError(
            f"{name} must be a {ndim}-D array of shape {shape_text}, but it has shape "
            f"{arr.shape}; reshape it{hint}."
        )
    if arr.size == 0:
        raise InputError(
            f"{name} is empty (shape {arr.shape}); a predictive needs at least one point "
            "and, for 2-D arguments, at least one column."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = _bad_rows(bad)
        raise InputError(
            f"{name} has non-finite values (NaN or inf) in {rows_text(rows)} "
            f"(row {int(rows[0])} has {float(arr[bad][0])!r}); "
            "remove those points or fix the model output."
        )
    return arr


def _check_positive(name: str, arr: FloatArray) -> None:
    """Raise :class:`InputError` unless every entry of ``arr`` is strictly positive."""
    bad = arr <= 0.0
    if bad.any():
        rows = _bad_rows(bad)
        first = float(arr[bad][0])  # row-major: the first bad value lies in rows[0]
        raise InputError(
            f"{name} must be strictly positive, but has values <= 0 in {rows_text(rows)} "
            f"(row {int(rows[0])} has {first!r}); pass standard deviations (not variances "
            "or log-scales) with a small positive floor, e.g. softplus(x) + 1e-6."
        )


def _check_same_shape(name: str, arr: FloatArray, ref_name: str, ref: FloatArray) -> None:
    if arr.shape != ref.shape:
        raise InputError(
            f"{name} has shape {arr.shape} but {ref_name} has shape {ref.shape}; pass them "
            "with the same shape (one entry per point, and per component or draw)."
        )


def _check_mixture_arrays(
    weights: ArrayLike, locs: ArrayLike, scales: ArrayLike, negative_hint: str, sum_hint: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validate per-point component arrays of a mixture (weights, locs, scales of one shape).

    ``negative_hint`` / ``sum_hint`` end the messages for negative weights and rows that do not
    sum to one, in the words of the kind. Returns the three arrays and the row sums of the weights.
    """
    shape = "(n_points, n_components)"
    w = _as_float_array("weights", weights, 2, shape)
    loc = _as_float_array("locs", locs, 2, shape)
    scale = _as_float_array("scales", scales, 2, shape)
    _check_same_shape("locs", loc, "weights", w)
    _check_same_shape("scales", scale, "weights", w)
    _check_positive("scales", scale)
    negative = w < 0.0
    if negative.any():
        rows = _bad_rows(negative)
        raise InputError(
            f"weights must be non-negative, but has negative values in {rows_text(rows)} "
            f"(row {int(rows[0])} has {float(w[rows[0]].min())!r}); {negative_hint}"
        )
    sums = w.sum(axis=1)
    off = np.abs(sums - 1.0) > _WEIGHT_ATOL
    if off.any():
        rows = np.flatnonzero(off)
        raise InputError(
            f"weights must sum to 1 in every row (within {_WEIGHT_ATOL:g}), but not in "
            f"{rows_text(rows)} (row {int(rows[0])} sums to {float(sums[rows[0]])!r}); {sum_hint}"
        )
    return w, loc, scale, sums


def _check_split(
    kind: str, epistemic: ArrayLike, variance: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Validate ``epistemic_variance`` against the total variance; return (epistemic, aleatoric).

    Values within a relative tolerance of ``_SPLIT_RTOL`` outside ``[0, variance]`` are
    clipped into it, so that ``epistemic + aleatoric == variance`` and both are >= 0.
    """
    epi = _as_float_array("epistemic_variance", epistemic, 1, "(n_points,)")
    if epi.shape != variance.shape:
        raise InputError(
            f"epistemic_variance has shape {epi.shape} but the {kind} predictive has "
            f"{variance.shape[0]} points; pass one epistemic variance per point."
        )
    slack = _SPLIT_RTOL * variance
    bad = (epi < -slack) | (epi > variance + slack)
    if bad.any():
        rows = _bad_rows(bad)
        r = int(rows[0])
        raise InputError(
            f"epistemic_variance must lie in [0, variance] (it is part of the total "
            f"variance), but not in {rows_text(rows)} (row {r} has epistemic_variance "
            f"{float(epi[r])!r} and total variance {float(variance[r])!r}); pass a variance, "
            "not a standard deviation, computed from the same model."
        )
    epi = np.clip(epi, 0.0, variance)
    return epi, variance - epi


def _check_y(y: ArrayLike, n: int) -> FloatArray:
    """Validate an evaluation point: a scalar, shape ``(n,)`` or ``(m, n)``."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"y must be a number or a numeric array of shape (n_points,) = ({n},), but it "
            f"could not be converted to float64 ({exc})."
        ) from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape[-1] != n or arr.ndim > 2:
        raise InputError(
            f"y must be a scalar or have shape (n_points,) = ({n},) or (m, {n}), but it has "
            f"shape {arr.shape}; pass one value per point."
        )
    bad = np.isnan(arr)
    if bad.any():
        cols = np.flatnonzero(bad.reshape(-1, n).any(axis=0))
        raise InputError(
            f"y has NaN for {rows_text(cols, 'point')} (row numbers); remove or fill those values."
        )
    return arr


def _check_q(q: ArrayLike) -> tuple[FloatArray, bool]:
    """Validate probability levels; return them as 1-D and whether ``q`` was a scalar."""
    try:
        arr = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"q must be a probability or a 1-D array of them ({exc}).") from None
    scalar = arr.ndim == 0
    if arr.ndim > 1:
        raise InputError(f"q must be a scalar or a 1-D array of shape (m,), got shape {arr.shape}.")
    flat = np.atleast_1d(arr)
    if flat.size == 0:
        raise InputError("q is empty; pass at least one probability level.")
    bad = ~((flat > 0.0) & (flat < 1.0))
    if bad.any():
        idx = np.flatnonzero(bad)
        raise InputError(
            f"q must lie strictly inside (0, 1), but not at {rows_text(idx, 'position')} "
            f"(q[{int(idx[0])}] = {float(flat[idx[0]])!r}); quantiles at 0 or 1 are infinite."
        )
    return flat, scalar


def _check_level(level: float) -> float:
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level must be a number in (0, 1), got {level!r}.") from None
    if not 0.0 < value < 1.0:
        raise InputError(
            f"level must lie strictly inside (0, 1), got {value!r}; e.g. level=0.9 for a "
            "central 90% interval."
        )
    return value


def _check_n_samples(n_samples: int) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InputError(f"n_samples must be a positive int, got {n_samples!r}.")
    return int(n_samples)


def _frozen(arr: FloatArray) -> FloatArray:
    """Mark an internal array read-only so callers cannot change a predictive in place."""
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------------------------
# Gaussian-mixture numerics shared by every kind
# --------------------------------------------------------------------------------------------


def _mixture_moments(
    w: FloatArray, loc: FloatArray, scale: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance, shape (n,), of mixtures given as (n, K) arrays."""
    mean = np.sum(w * loc, axis=1)
    var = np.sum(w * (scale**2 + (loc - mean[:, None]) ** 2), axis=1)
    return mean, var


def _log_weights(w: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return np.log(w)


def _standardise(y: FloatArray, loc: FloatArray, scale: FloatArray) -> FloatArray:
    """``(y - loc) / scale`` with y of shape (..., n) against (n, K): shape (..., n, K)."""
    return (y[..., None] - loc) / scale


def _mixture_log_prob(
    w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray
) -> FloatArray:
    z = _standardise(y, loc, scale)
    terms = _log_weights(w) - 0.5 * z * z - np.log(scale) - _LOG_SQRT_2PI
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(logsumexp(terms, axis=-1))


def _mixture_cdf(
    w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray
) -> FloatArray:
    return np.clip(np.sum(w * ndtr(_standardise(y, loc, scale)), axis=-1), 0.0, 1.0)


def _mixture_sf(
    w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray
) -> FloatArray:
    return np.clip(np.sum(w * ndtr(-_standardise(y, loc, scale)), axis=-1), 0.0, 1.0)


def _mixture_log_cdf(
    w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray
) -> FloatArray:
    terms = _log_weights(w) + log_ndtr(_standardise(y, loc, scale))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(np.asarray(logsumexp(terms, axis=-1)), 0.0)


def _mixture_log_sf(
    w: FloatArray, loc: FloatArray, scale: FloatArray, y: FloatArray
) -> FloatArray:
    terms = _log_weights(w) + log_ndtr(-_standardise(y, loc, scale))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(np.asarray(logsumexp(terms, axis=-1)), 0.0)


def _rtsafe(
    f_and_density: Callable[[NDArray[np.intp], FloatArray], tuple[FloatArray, FloatArray]],
    x: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    abs_tol: FloatArray,
) -> FloatArray:
    """Roots of many increasing functions at once by safeguarded Newton / bisection.

    ``rtsafe`` of Numerical Recipes, ch. 9.4, vectorised: root ``i`` keeps a bracket
    ``[lo[i], hi[i]]`` (``F < 0`` below the root, ``> 0`` above) that shrinks every step; a
    Newton step is taken when it stays inside the bracket and at least halves the step before
    last, otherwise the bracket is bisected. A root stops once the Newton step or the bracket is
    below ``abs_tol[i]`` (or a few ulps of the root, if larger). The quantile solver of the
    mixture kinds and of the bounded kind's continuous part (one loop instead of two).

    Parameters
    ----------
    f_and_density : callable
        ``f_and_density(active, x_active) -> (F, F')`` for the roots numbered ``active``.
    x, lo, hi : ndarray of shape (N,)
        Starting points and brackets; changed in place.
    abs_tol : ndarray of shape (N,)

    Returns
    -------
    ndarray of shape (N,)
    """
    dx_old = hi - lo
    dx = dx_old.copy()
    result = np.empty(x.shape[0])
    active = np.arange(x.shape[0])

    for _ in range(_QUANTILE_MAX_ITER):
        xa = x[active]
        f_val, dens = f_and_density(active, xa)

        lo_a = np.where(f_val < 0.0, xa, lo[active])
        hi_a = np.where(f_val > 0.0, xa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = xa - f_val / dens
            use_newton = (
                (dens > 0.0)
                & np.isfinite(newton)
                & (newton >= lo_a)  # closed: a root within an ulp of an end is fine
                & (newton <= hi_a)
                & (np.abs(2.0 * f_val) <= np.abs(dx_old[active] * dens))
            )
        x_new = np.where(use_newton, newton, 0.5 * (lo_a + hi_a))
        x_new = np.where(f_val == 0.0, xa, x_new)
        step = x_new - xa

        tol = np.maximum(abs_tol[active], 4.0 * _EPS * np.maximum(np.abs(lo_a), np.abs(hi_a)))
        # a tiny Newton step means converged; a tiny bisection step means nothing
        done = (f_val == 0.0) | (use_newton & (np.abs(step) <= tol)) | (hi_a - lo_a <= tol)

        x[active] = x_new
        lo[active] = lo_a
        hi[active] = hi_a
        dx_old[active] = dx[active]
        dx[active] = step
        result[active[done]] = x_new[done]
        active = active[~done]
        if active.size == 0:
            break
    else:  # pragma: no cover - the bracket halves at least every other step
        result[active] = x[active]
    return result


def _mixture_quantile(
    w: FloatArray, loc: FloatArray, scale: FloatArray, q: FloatArray
) -> FloatArray:
    """Quantiles of n Gaussian mixtures at m levels by vectorised safeguarded Newton.

    All ``m * n`` roots are solved at once (no Python loop over rows); each keeps a bracket
    ``[lo, hi]`` that starts at ``min(loc - 40 scale)`` .. ``max(loc + 40 scale)`` of its row
    and shrinks every step (:func:`_rtsafe`, Numerical Recipes' ``rtsafe``). Levels above 0.5
    are solved on the survival function, so the upper tail is as accurate as the lower one. A root stops once the step or the bracket is
    below ``1e-11 * min(scale)`` of its row (or a few ulps of the root, if larger).

    Parameters
    ----------
    w, loc, scale : ndarray of shape (n, K)
    q : ndarray of shape (m,)
        Levels strictly inside (0, 1).

    Returns
    -------
    ndarray of shape (m, n)
    """
    n = loc.shape[0]
    m = q.shape[0]
    rows = np.tile(np.arange(n), m)  # flat index i * n + j solves row j at level q[i]
    qq = np.repeat(q, n)
    lower = qq <= 0.5
    target = np.where(lower, qq, 1.0 - qq)  # exact for q in [0.5, 1) (Sterbenz)
    sign = np.where(lower, 1.0, -1.0)

    row_lo = np.min(loc - _BRACKET_SCALES * scale, axis=1)
    row_hi = np.max(loc + _BRACKET_SCALES * scale, axis=1)
    row_tol = _QUANTILE_RTOL * np.min(scale, axis=1)
    mean, var = _mixture_moments(w, loc, scale)

    lo = row_lo[rows]
    hi = row_hi[rows]
    x = np.clip(mean[rows] + np.sqrt(var[rows]) * ndtri(qq), lo, hi)

    def f_and_density(active: NDArray[np.intp], xa: FloatArray) -> tuple[FloatArray, FloatArray]:
        r = rows[active]
        wa, la, sa = w[r], loc[r], scale[r]
        z = (xa[:, None] - la) / sa
        # F is increasing in x with root at the quantile: cdf - q, or (1 - q) - sf.
        tail = np.sum(wa * ndtr(sign[active][:, None] * z), axis=1)
        f_val = np.where(lower[active], tail - target[active], target[active] - tail)
        dens = np.sum(wa * np.exp(-0.5 * z * z) / sa, axis=1) * _INV_SQRT_2PI
        return f_val, dens

    return _rtsafe(f_and_density, x, lo, hi, row_tol[rows]).reshape(m, n)


def _mixture_sample(
    w: FloatArray | None,
    loc: FloatArray,
    scale: FloatArray,
    n_samples: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Draw ``(n_samples, n)`` values; ``w=None`` means equal weights."""
    n, k = loc.shape
    if w is None:
        comp = rng.integers(0, k, size=(n_samples, n))
    else:
        u = rng.random((n_samples, n))
        cw = np.cumsum(w, axis=1)
        cw = cw / cw[:, -1:]
        comp = np.zeros((n_samples, n), dtype=np.intp)
        for j in range(k - 1):  # a loop over components, not rows; K is small
            comp += u >= cw[:, j]
    z = rng.standard_normal((n_samples, n))
    cols = np.arange(n)[None, :]
    return loc[cols, comp] + scale[cols, comp] * z


def _normalise_index(index: Any, n: int) -> NDArray[np.intp]:
    """Turn an int, int array, slice or boolean mask into positions in ``range(n)``."""
    if isinstance(index, slice):
        positions = np.arange(n)[index]
    else:
        arr = np.asarray(index)
        if arr.size == 0:
            raise InputError("the index selects no points; a predictive needs at least one point.")
        if arr.dtype == np.bool_:
            if arr.shape != (n,):
                raise InputError(
                    f"a boolean index must have shape ({n},) (one flag per point), got {arr.shape}."
                )
            positions = np.flatnonzero(arr)
        elif np.issubdtype(arr.dtype, np.integer) and arr.ndim <= 1:
            positions = np.atleast_1d(arr).astype(np.intp)
            out = (positions < -n) | (positions >= n)
            if out.any():
                bad = positions[out]
                raise InputError(
                    f"index {int(bad[0])} is out of range for a predictive with {n} points "
                    f"({out.sum()} bad position(s)); use positions in [-{n}, {n})."
                )
            positions = np.where(positions < 0, positions + n, positions)
        else:
            raise InputError(
                "a predictive can be indexed by an int, a 1-D int array, a slice or a boolean "
                f"mask of shape ({n},); got {type(index).__name__} with dtype {arr.dtype} and "
                f"shape {arr.shape}."
            )
    if positions.size == 0:
        raise InputError("the index selects no points; a predictive needs at least one point.")
    return positions


def _import_tfd() -> Any:
    try:
        import tensorflow_probability as tfp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_tfp() needs tensorflow-probability (and tf-keras); install them with "
            "`pip install tensorflow-probability tf-keras`."
        ) from exc
    return tfp.distributions


# --------------------------------------------------------------------------------------------
# truncated normals with point masses at the bounds
# --------------------------------------------------------------------------------------------

#: Gauss-Legendre nodes per sub-interval of the CRPS quadrature of the bounded kind.
_CRPS_GL_NODES = 24
#: Most integrand evaluations (points x components) of one chunk of the CRPS quadrature.
_CRPS_BUDGET = 4_000_000
#: Break points of the CRPS quadrature: component mean +- these many component stddevs.
_CRPS_BREAKS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 40.0)


def _log1mexp(x: FloatArray) -> FloatArray:
    """``log(1 - exp(x))`` for ``x <= 0`` (Maechler 2012); ``-inf`` at 0, 0 at ``-inf``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_ndtr_diff(a: FloatArray, b: FloatArray) -> FloatArray:
    """``log(Phi(b) - Phi(a))``, relatively accurate in both tails; ``-inf`` where ``a >= b``.

    Intervals wholly above 0 are mirrored below 0, where ``log_ndtr`` keeps its precision;
    then ``log Phi(b) + log1mexp(log Phi(a) - log Phi(b))``. Broadcasts ``a`` against ``b``.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    flip = a > 0.0
    a2 = np.where(flip, -b, a)
    b2 = np.where(flip, -a, b)
    with np.errstate(invalid="ignore"):
        lb = log_ndtr(b2)
        la = log_ndtr(a2)
        out = lb + _log1mexp(np.minimum(la - lb, 0.0))
    return np.where(a < b, out, -np.inf)


def _log_normal_pdf(z: FloatArray) -> FloatArray:
    """``log phi(z)``; ``-inf`` at ``+-inf``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return -0.5 * z * z - _LOG_SQRT_2PI


def _truncnorm_ppf(
    loc: FloatArray,
    scale: FloatArray,
    alpha: FloatArray,
    beta: FloatArray,
    u: FloatArray,
    uc: FloatArray,
) -> FloatArray:
    """Quantile of ``N(loc, scale)`` truncated to standardised bounds ``[alpha, beta]``.

    ``u`` is the level and ``uc = 1 - u`` (passed separately so both tails keep their
    precision). Components truncated above the mean (``alpha >= 0``) and upper levels of a
    straddling component are solved on the mirrored variable, and everything is done in log
    space with ``ndtri_exp``, so components far in a tail (``alpha = 30``) stay exact. The
    result is clipped into ``[loc + scale alpha, loc + scale beta]``. All arrays broadcast.
    """
    mirror = (alpha >= 0.0) | ((beta > 0.0) & (u > 0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_u = np.log(u)
        log_uc = np.log(uc)
        direct = np.logaddexp(log_uc + log_ndtr(alpha), log_u + log_ndtr(beta))
        flipped = np.logaddexp(log_u + log_ndtr(-beta), log_uc + log_ndtr(-alpha))
        z = np.where(mirror, -ndtri_exp(np.minimum(flipped, 0.0)), ndtri_exp(np.minimum(direct, 0.0)))
        z = np.clip(z, alpha, beta)
        return loc + scale * z


def _per_point(name: str, value: ArrayLike, n: int, what: str, hint: str) -> FloatArray:
    """``value`` (not None) as float64 of shape (n,), a scalar broadcast; ``what`` and ``hint``
    word the messages (the shared part of :func:`_optional_bound` and :func:`_optional_mass`)."""
    expected = f"{name} must be None, {what} or an array of shape (n_points,) = ({n},), but"
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{expected} it could not be converted to float64 ({exc}).") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{expected} it has shape {arr.shape}; {hint}.")
    return arr


def _optional_bound(name: str, value: ArrayLike | None, n: int, default: float) -> FloatArray:
    """A bound as an array of shape (n,): None -> ``default`` (an infinity), scalar broadcast."""
    if value is None:
        return np.full(n, default)
    arr = _per_point(name, value, n, "a number", "pass one bound per point or one for all")
    bad = np.isnan(arr) | (arr == -default)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} is NaN or {-default!r} in {rows_text(rows)} (row {int(rows[0])} has "
            f"{float(arr[rows[0]])!r}); pass a number, or None (or {default!r}) for no bound."
        )
    return arr


def _optional_mass(name: str, value: ArrayLike | None, n: int) -> FloatArray:
    """A point-mass probability as an array of shape (n,) in [0, 1]; None -> zeros."""
    if value is None:
        return np.zeros(n)
    arr = _per_point(name, value, n, "a probability", "pass one probability per point")
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} must lie in [0, 1], but not in {rows_text(rows)} (row {int(rows[0])} has "
            f"{float(arr[rows[0]])!r}); pass the probability of the point mass, e.g. "
            "P(metal) for a band gap of exactly 0."
        )
    return arr



def _silverman_bandwidth(samples: FloatArray, mean: FloatArray) -> FloatArray:
    """Per-row Silverman bandwidth ``0.9 min(sd, IQR/1.34) S^(-1/5)`` with floors.

    Parameters
    ----------
    samples : ndarray of shape (n, S), S >= 2
    mean : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (n,), strictly positive
    """
    s = samples.shape[1]
    sd = samples.std(axis=1, ddof=1)
    q75, q25 = np.percentile(samples, [75.0, 25.0], axis=1)
    iqr = (q75 - q25) / 1.34
    spread = np.where(iqr > 0.0, np.minimum(sd, iqr), sd)
    h = 0.9 * spread * s ** (-0.2)
    floor = 1e-12 * np.maximum(1.0, np.abs(mean))
    return np.maximum(h, floor)

