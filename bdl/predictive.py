"""Predictive distribution objects: one object per call of a model's ``predict_dist``.

Every object describes ``n`` independent one-dimensional predictive distributions, one per
candidate / test point, and offers one API whatever model produced it:

``mean``, ``stddev``, ``variance``, ``epistemic_variance``, ``aleatoric_variance``,
``sample(n_samples, seed)``, ``log_prob(y)``, ``cdf(y)``, ``sf(y)``, ``log_cdf(y)``,
``log_sf(y)``, ``quantile(q)``, ``interval(level)``, ``to_frame()``, ``as_mixture()``,
``to_tfp()``, row selection with ``p[index]`` and :func:`concat`.

Four kinds exist (the ``kind`` class attribute):

``"gaussian"`` -- :class:`GaussianPredictive`
    A normal distribution per point (variational / mean-field nets, a moment-matched summary).
``"mixture"`` -- :class:`MixturePredictive`
    A Gaussian mixture per point, the output of a mixture density network [1]_.
``"samples"`` -- :class:`SamplePredictive`
    Either the equal-weight mixture of the per-pass Gaussians of MC dropout [2]_ or of the
    members of a deep ensemble [3]_ (``scales`` given; *not* a moment-matched Gaussian), or a
    set of plain samples smoothed by a Gaussian kernel density estimate (``scales=None``).
``"bounded"`` -- :class:`BoundedPredictive`
    Individually truncated Gaussian components on ``[lower, upper]`` plus point masses at the
    bounds: a band gap that is >= 0 and exactly 0 for a metal [6]_.

The first three kinds can be written as a Gaussian mixture (:meth:`Predictive.as_mixture`), so
metrics and acquisition functions share one code path for them; the bounded kind cannot (its
``as_mixture`` raises) and has exact paths of its own (its ``_cdf_left`` / ``_crps`` hooks and
the bounded branches of the acquisition functions). :meth:`Predictive.to_records` and
:func:`predictive_from_records` write and read one JSON string per point for a ledger. The
module uses numpy and scipy only;
TensorFlow Probability is imported lazily, inside :meth:`Predictive.to_tfp`, and nowhere else.

References
----------
.. [1] C. M. Bishop, "Mixture density networks", Aston University technical report
   NCRG/94/004, 1994.
.. [2] Y. Gal and Z. Ghahramani, "Dropout as a Bayesian approximation: representing model
   uncertainty in deep learning", ICML 2016.
.. [3] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and scalable predictive
   uncertainty estimation using deep ensembles", NeurIPS 2017.
.. [4] A. Kendall and Y. Gal, "What uncertainties do we need in Bayesian deep learning for
   computer vision?", NeurIPS 2017 (the epistemic / aleatoric split by the law of total
   variance).
.. [5] B. W. Silverman, "Density Estimation for Statistics and Data Analysis", Chapman & Hall,
   1986, eq. (3.31) (the bandwidth rule of thumb).
.. [6] N. L. Johnson, S. Kotz and N. Balakrishnan, "Continuous Univariate Distributions",
   vol. 1, 2nd ed., Wiley, 1994, sec. 10.1 (the truncated normal).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, logsumexp, ndtr, ndtri, ndtri_exp, softmax

from bdl._random import Seed, make_rng
from bdl.errors import InputError, UnsupportedOperationError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    import pandas as pd

__all__ = [
    "Predictive",
    "GaussianPredictive",
    "MixturePredictive",
    "SamplePredictive",
    "BoundedPredictive",
    "concat",
    "predictive_from_records",
    "truncate",
]

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
#: Most row numbers quoted in one error message.
_MAX_ROWS_SHOWN = 10
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _rows_text(rows: NDArray[np.intp], noun: str = "row") -> str:
    """Format row numbers for a message, at most ``_MAX_ROWS_SHOWN`` of them."""
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_ROWS_SHOWN])
    more = len(rows) - _MAX_ROWS_SHOWN
    suffix = f" and {more} more" if more > 0 else ""
    plural = "" if len(rows) == 1 else "s"
    return f"{noun}{plural} [{shown}]{suffix}"


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
            f"{name} has non-finite values (NaN or inf) in {_rows_text(rows)} "
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
            f"{name} must be strictly positive, but has values <= 0 in {_rows_text(rows)} "
            f"(row {int(rows[0])} has {first!r}); pass standard deviations (not variances "
            "or log-scales) with a small positive floor, e.g. softplus(x) + 1e-6."
        )


def _check_same_shape(name: str, arr: FloatArray, ref_name: str, ref: FloatArray) -> None:
    if arr.shape != ref.shape:
        raise InputError(
            f"{name} has shape {arr.shape} but {ref_name} has shape {ref.shape}; pass them "
            "with the same shape (one entry per point, and per component or draw)."
        )


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
            f"variance), but not in {_rows_text(rows)} (row {r} has epistemic_variance "
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
            f"y has NaN for {_rows_text(cols, 'point')} (row numbers); remove or fill those values."
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
            f"q must lie strictly inside (0, 1), but not at {_rows_text(idx, 'position')} "
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


def _mixture_quantile(
    w: FloatArray, loc: FloatArray, scale: FloatArray, q: FloatArray
) -> FloatArray:
    """Quantiles of n Gaussian mixtures at m levels by vectorised safeguarded Newton.

    All ``m * n`` roots are solved at once (no Python loop over rows); each keeps a bracket
    ``[lo, hi]`` that starts at ``min(loc - 40 scale)`` .. ``max(loc + 40 scale)`` of its row
    and shrinks every step. A Newton step is taken when it stays inside the bracket and at
    least halves the step before last, otherwise the bracket is bisected (``rtsafe`` of
    Numerical Recipes, ch. 9.4). Levels above 0.5 are solved on the survival function, so the
    upper tail is as accurate as the lower one. A root stops once the step or the bracket is
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
    dx_old = hi - lo
    dx = dx_old.copy()
    result = np.empty(m * n)
    active = np.arange(m * n)

    for _ in range(_QUANTILE_MAX_ITER):
        r = rows[active]
        wa, la, sa = w[r], loc[r], scale[r]
        xa = x[active]
        s = sign[active][:, None]
        z = (xa[:, None] - la) / sa
        # F is increasing in x with root at the quantile: cdf - q, or (1 - q) - sf.
        tail = np.sum(wa * ndtr(s * z), axis=1)
        f_val = np.where(lower[active], tail - target[active], target[active] - tail)
        dens = np.sum(wa * np.exp(-0.5 * z * z) / sa, axis=1) * _INV_SQRT_2PI

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

        tol = np.maximum(row_tol[r], 4.0 * _EPS * np.maximum(np.abs(lo_a), np.abs(hi_a)))
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

    return result.reshape(m, n)


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
# the classes
# --------------------------------------------------------------------------------------------


class Predictive(ABC):
    """Abstract base: ``n`` independent 1-D predictive distributions, one per point.

    Subclasses set the class attribute :attr:`kind` and the private arrays ``_mean``,
    ``_variance`` (shape ``(n,)``) and ``_epistemic`` / ``_aleatoric`` (shape ``(n,)`` or
    ``None`` when the kind carries no split), and implement :meth:`as_mixture`. Every other
    method has a Gaussian-mixture implementation here that a kind may override with a closed
    form.

    Notes
    -----
    Objects are immutable: the arrays they return are read-only views of their state.
    ``y`` arguments accept a scalar (broadcast to every point), an array of shape ``(n,)``
    or an array of shape ``(m, n)`` (``m`` evaluation values per point); outputs have the
    shape of the broadcast ``y``.
    """

    kind: ClassVar[str]
    _mean: FloatArray
    _variance: FloatArray
    _epistemic: FloatArray | None
    _aleatoric: FloatArray | None

    # -- sizes ---------------------------------------------------------------------------

    @property
    def n_points(self) -> int:
        """Number of points (rows), ``n``."""
        return int(self._mean.shape[0])

    def __len__(self) -> int:
        return self.n_points

    def __iter__(self) -> Any:
        raise UnsupportedOperationError(
            f"a {self.kind} predictive is not iterable; select rows with p[index] or use "
            "p.to_frame()."
        )

    # -- moments -------------------------------------------------------------------------

    @property
    def mean(self) -> FloatArray:
        """Predictive mean, ndarray of shape (n,)."""
        return self._mean

    @property
    def variance(self) -> FloatArray:
        """Total predictive variance, ndarray of shape (n,)."""
        return self._variance

    @property
    def stddev(self) -> FloatArray:
        """Total predictive standard deviation, ndarray of shape (n,)."""
        return np.sqrt(self._variance)

    @property
    def has_split(self) -> bool:
        """Whether :attr:`epistemic_variance` / :attr:`aleatoric_variance` are available."""
        return self._epistemic is not None

    def _no_split_reason(self) -> str:
        return (
            f"a {self.kind} predictive built without epistemic_variance carries no "
            "epistemic/aleatoric split; pass epistemic_variance=... or use an ensemble"
        )

    @property
    def epistemic_variance(self) -> FloatArray:
        """Epistemic (model) part of the variance, ndarray of shape (n,).

        Raises
        ------
        UnsupportedOperationError
            When this object carries no epistemic / aleatoric split.
        """
        if self._epistemic is None:
            raise UnsupportedOperationError(self._no_split_reason() + ".")
        return self._epistemic

    @property
    def aleatoric_variance(self) -> FloatArray:
        """Aleatoric (noise) part of the variance, ndarray of shape (n,).

        ``epistemic_variance + aleatoric_variance == variance`` (law of total variance).

        Raises
        ------
        UnsupportedOperationError
            When this object carries no epistemic / aleatoric split.
        """
        if self._aleatoric is None:
            raise UnsupportedOperationError(self._no_split_reason() + ".")
        return self._aleatoric

    # -- the mixture view ----------------------------------------------------------------

    @abstractmethod
    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The distribution as a Gaussian mixture per point.

        Returns
        -------
        weights : ndarray of shape (n, K)
            Non-negative, each row sums to one.
        locs : ndarray of shape (n, K)
        scales : ndarray of shape (n, K)
            Strictly positive component standard deviations.
        """

    @abstractmethod
    def _take(self: P, positions: NDArray[np.intp]) -> P:
        """A predictive of the same kind holding the rows at ``positions``."""

    def __getitem__(self: P, index: Any) -> P:
        """Select rows with an int, an int array, a slice or a boolean mask of shape (n,).

        Always returns a predictive of the same kind (an int gives one with one point).
        """
        return self._take(_normalise_index(index, self.n_points))

    # -- densities and probabilities -----------------------------------------------------

    def log_prob(self, y: ArrayLike) -> FloatArray:
        """Log predictive density at ``y``.

        Parameters
        ----------
        y : float or array_like of shape (n,) or (m, n)

        Returns
        -------
        ndarray of shape (n,) or (m, n)
        """
        return _mixture_log_prob(*self.as_mixture(), _check_y(y, self.n_points))

    def cdf(self, y: ArrayLike) -> FloatArray:
        """Predictive probability ``P(Y <= y)``; shapes as in :meth:`log_prob`."""
        return _mixture_cdf(*self.as_mixture(), _check_y(y, self.n_points))

    def sf(self, y: ArrayLike) -> FloatArray:
        """``P(Y > y)``, accurate in the upper tail; shapes as in :meth:`log_prob`."""
        return _mixture_sf(*self.as_mixture(), _check_y(y, self.n_points))

    def log_cdf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y <= y)``, finite far into the lower tail; shapes as in :meth:`log_prob`."""
        return _mixture_log_cdf(*self.as_mixture(), _check_y(y, self.n_points))

    def log_sf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y > y)``, finite far into the upper tail (log-space acquisition)."""
        return _mixture_log_sf(*self.as_mixture(), _check_y(y, self.n_points))

    def quantile(self, q: ArrayLike) -> FloatArray:
        """Inverse of :meth:`cdf`.

        Parameters
        ----------
        q : float or array_like of shape (m,)
            Levels strictly inside (0, 1).

        Returns
        -------
        ndarray of shape (n,) if ``q`` is a scalar, else of shape (m, n)

        Raises
        ------
        InputError
            If any level is outside (0, 1) or NaN.
        """
        levels, scalar = _check_q(q)
        out = self._quantile(levels)
        return out[0] if scalar else out

    def _quantile(self, levels: FloatArray) -> FloatArray:
        return _mixture_quantile(*self.as_mixture(), levels)

    def interval(self, level: float = 0.9) -> tuple[FloatArray, FloatArray]:
        """Central predictive interval holding probability ``level``.

        Parameters
        ----------
        level : float in (0, 1), default 0.9

        Returns
        -------
        lower, upper : ndarray of shape (n,)
            The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles.
        """
        level = _check_level(level)
        bounds = self._quantile(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
        return bounds[0], bounds[1]

    # -- sampling ------------------------------------------------------------------------

    def sample(self, n_samples: int, seed: Seed = None) -> FloatArray:
        """Draw independent samples from every point's distribution.

        Parameters
        ----------
        n_samples : int
            Number of draws per point.
        seed : int, numpy.random.Generator or None
            The same int gives the same numbers; a Generator is used (and advanced) as is.
            Global numpy random state is never touched.

        Returns
        -------
        ndarray of shape (n_samples, n)
        """
        n_samples = _check_n_samples(n_samples)
        rng = make_rng(seed)
        weights, locs, scales = self.as_mixture()
        return _mixture_sample(weights, locs, scales, n_samples, rng)

    # -- hooks for exact maths of kinds that are not Gaussian mixtures -------------------

    def _cdf_left(self, y: ArrayLike) -> FloatArray:
        """``P(Y < y)``, the left limit of :meth:`cdf`; equal to ``cdf`` for kinds with no atoms.

        Shapes as in :meth:`log_prob`. Kinds with point masses override it (randomised PIT,
        strict probability of improvement when minimising).
        """
        return self.cdf(y)

    def _log_cdf_left(self, y: ArrayLike) -> FloatArray:
        """``log P(Y < y)``; equal to :meth:`log_cdf` for kinds with no atoms."""
        return self.log_cdf(y)

    def _crps(self, y: FloatArray) -> FloatArray | None:
        """Exact CRPS per point for kinds whose maths is not a Gaussian mixture, else None.

        ``None`` lets :func:`bdl.calibration.metrics.crps_per_point` pick its closed form (the
        Gaussian and Gaussian-mixture kinds) or its quantile quadrature.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Validated, finite true values.
        """
        return None

    def to_records(self, positions: Any) -> list[str]:
        """One JSON string per selected point, for a campaign ledger.

        Parameters
        ----------
        positions : int, array_like of int, slice or boolean mask of shape (n,)
            The points to write, as accepted by ``p[index]``.

        Returns
        -------
        list of str
            One JSON object per selected point, in the order of ``positions``, each with a
            ``"kind"`` key; :func:`predictive_from_records` rebuilds the predictive. Infinite
            bounds are written as ``null`` so the strings are strict JSON.

        Raises
        ------
        UnsupportedOperationError
            For a kind that cannot be written (the message names it).
        """
        sub = self[positions]
        return [json.dumps(rec, allow_nan=False) for rec in sub._records()]

    def _records(self) -> list[dict[str, Any]]:
        """One plain-Python dict per point (JSON-serialisable), including ``"kind"``."""
        raise UnsupportedOperationError(
            f"a {self.kind} predictive cannot be written as ledger records; write the "
            "predictive it was built from."
        )

    # -- export --------------------------------------------------------------------------

    def to_frame(self, level: float = 0.9) -> pd.DataFrame:
        """Summary table, one row per point.

        Parameters
        ----------
        level : float, default 0.9
            Level of the central interval in the ``lower_*`` / ``upper_*`` columns.

        Returns
        -------
        pandas.DataFrame with n rows
            Columns ``mean``, ``std``, then ``epistemic_std`` and ``aleatoric_std`` when the
            split is available, then ``lower_90`` and ``upper_90`` (named after ``level``).
        """
        import pandas as pd

        level = _check_level(level)
        lower, upper = self.interval(level)
        pct = f"{level * 100:g}"
        columns: dict[str, FloatArray] = {"mean": self.mean, "std": self.stddev}
        if self.has_split:
            columns["epistemic_std"] = np.sqrt(self.epistemic_variance)
            columns["aleatoric_std"] = np.sqrt(self.aleatoric_variance)
        columns[f"lower_{pct}"] = lower
        columns[f"upper_{pct}"] = upper
        return pd.DataFrame({k: np.array(v) for k, v in columns.items()})

    def to_tfp(self) -> Any:
        """The same distribution as a ``tfp.distributions`` object with batch shape (n,).

        ``MixtureSameFamily(Categorical(probs=weights), Normal(locs, scales))`` here; a
        ``Normal`` for the Gaussian kind. TensorFlow Probability is imported only now.
        """
        tfd = _import_tfd()
        weights, locs, scales = self.as_mixture()
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(probs=weights),
            components_distribution=tfd.Normal(loc=locs, scale=scales),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} n={self.n_points}>"


class GaussianPredictive(Predictive):
    """A normal predictive distribution per point.

    Parameters
    ----------
    mean : array_like of shape (n,)
    stddev : array_like of shape (n,)
        Total predictive standard deviation, strictly positive.
    epistemic_variance : array_like of shape (n,), optional
        The model (epistemic) part of ``stddev**2``, e.g. the variance over weight samples of
        a variational net. Must satisfy ``0 <= epistemic_variance <= stddev**2`` (relative
        tolerance 1e-9); the aleatoric part is the rest. Without it the split is unavailable.

    Raises
    ------
    InputError
        For shape mismatches, wrong ndim, empty or non-finite input, ``stddev <= 0`` or an
        epistemic variance outside ``[0, stddev**2]``.

    Examples
    --------
    >>> p = GaussianPredictive([0.0, 1.0], [1.0, 2.0])
    >>> p.quantile(0.5)
    array([0., 1.])
    """

    kind: ClassVar[str] = "gaussian"

    def __init__(
        self,
        mean: ArrayLike,
        stddev: ArrayLike,
        epistemic_variance: ArrayLike | None = None,
    ) -> None:
        mu = _as_float_array("mean", mean, 1, "(n_points,)")
        sd = _as_float_array("stddev", stddev, 1, "(n_points,)")
        _check_same_shape("stddev", sd, "mean", mu)
        _check_positive("stddev", sd)
        self._mean = _frozen(mu)
        self._stddev = _frozen(sd)
        self._variance = _frozen(sd * sd)
        self._epistemic = None
        self._aleatoric = None
        if epistemic_variance is not None:
            epi, alea = _check_split(self.kind, epistemic_variance, self._variance)
            self._epistemic = _frozen(epi)
            self._aleatoric = _frozen(alea)

    def _no_split_reason(self) -> str:
        return (
            "a gaussian predictive built without epistemic_variance carries no "
            "epistemic/aleatoric split; pass epistemic_variance=... (e.g. the variance of the "
            "mean over weight samples) or use a samples predictive from an ensemble or MC dropout"
        )

    @property
    def stddev(self) -> FloatArray:
        """Predictive standard deviation, ndarray of shape (n,)."""
        return self._stddev

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """One component per point: ``(ones (n, 1), mean (n, 1), stddev (n, 1))``."""
        return np.ones((self.n_points, 1)), self._mean[:, None].copy(), self._stddev[:, None].copy()

    def _z(self, y: ArrayLike) -> FloatArray:
        return (_check_y(y, self.n_points) - self._mean) / self._stddev

    def log_prob(self, y: ArrayLike) -> FloatArray:
        z = self._z(y)
        return -0.5 * z * z - np.log(self._stddev) - _LOG_SQRT_2PI

    def cdf(self, y: ArrayLike) -> FloatArray:
        return ndtr(self._z(y))

    def sf(self, y: ArrayLike) -> FloatArray:
        return ndtr(-self._z(y))

    def log_cdf(self, y: ArrayLike) -> FloatArray:
        return log_ndtr(self._z(y))

    def log_sf(self, y: ArrayLike) -> FloatArray:
        return log_ndtr(-self._z(y))

    def _quantile(self, levels: FloatArray) -> FloatArray:
        return self._mean + self._stddev * ndtri(levels)[:, None]

    def sample(self, n_samples: int, seed: Seed = None) -> FloatArray:
        n_samples = _check_n_samples(n_samples)
        rng = make_rng(seed)
        return self._mean + self._stddev * rng.standard_normal((n_samples, self.n_points))

    def to_tfp(self) -> Any:
        """A ``tfp.distributions.Normal`` with batch shape (n,)."""
        tfd = _import_tfd()
        return tfd.Normal(loc=np.array(self._mean), scale=np.array(self._stddev))

    def _take(self, positions: NDArray[np.intp]) -> GaussianPredictive:
        epi = None if self._epistemic is None else self._epistemic[positions]
        return GaussianPredictive(self._mean[positions], self._stddev[positions], epi)

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "gaussian", "mean", "std"[, "epistemic_variance"]}`` per point."""
        out: list[dict[str, Any]] = []
        for i in range(self.n_points):
            rec: dict[str, Any] = {
                "kind": self.kind, "mean": float(self._mean[i]), "std": float(self._stddev[i])
            }
            if self._epistemic is not None:
                rec["epistemic_variance"] = float(self._epistemic[i])
            out.append(rec)
        return out


class MixturePredictive(Predictive):
    """A Gaussian mixture per point, e.g. the output of a mixture density network [1]_.

    Parameters
    ----------
    weights : array_like of shape (n, K)
        Non-negative; every row must sum to one within 1e-6 (rows are then renormalised).
        Use :meth:`from_logits` for raw network outputs.
    locs : array_like of shape (n, K)
        Component means.
    scales : array_like of shape (n, K)
        Component standard deviations, strictly positive.
    epistemic_variance : array_like of shape (n,), optional
        Epistemic part of the total variance, when the mixture comes from something that
        knows it (e.g. an ensemble of MDNs). An MDN alone carries no split.

    Raises
    ------
    InputError
        For shape mismatches, wrong ndim, empty or non-finite input, non-positive scales,
        negative weights, rows whose weights do not sum to one, or a bad epistemic variance.

    References
    ----------
    .. [1] C. M. Bishop, "Mixture density networks", NCRG/94/004, 1994.
    """

    kind: ClassVar[str] = "mixture"

    def __init__(
        self,
        weights: ArrayLike,
        locs: ArrayLike,
        scales: ArrayLike,
        epistemic_variance: ArrayLike | None = None,
    ) -> None:
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
                f"weights must be non-negative, but has negative values in {_rows_text(rows)} "
                f"(row {int(rows[0])} has {float(w[rows[0]].min())!r}); pass probabilities, or "
                "raw network outputs to MixturePredictive.from_logits."
            )
        sums = w.sum(axis=1)
        off = np.abs(sums - 1.0) > _WEIGHT_ATOL
        if off.any():
            rows = np.flatnonzero(off)
            raise InputError(
                f"weights must sum to 1 in every row (within {_WEIGHT_ATOL:g}), but "
                f"not in {_rows_text(rows)} (row {int(rows[0])} sums to {float(sums[rows[0]])!r}); "
                "normalise them or use MixturePredictive.from_logits."
            )
        self._weights = _frozen(w / sums[:, None])
        self._locs = _frozen(loc)
        self._scales = _frozen(scale)
        mean, var = _mixture_moments(self._weights, loc, scale)
        self._mean = _frozen(mean)
        self._variance = _frozen(var)
        self._epistemic = None
        self._aleatoric = None
        if epistemic_variance is not None:
            epi, alea = _check_split(self.kind, epistemic_variance, self._variance)
            self._epistemic = _frozen(epi)
            self._aleatoric = _frozen(alea)

    @classmethod
    def from_logits(
        cls,
        logits: ArrayLike,
        locs: ArrayLike,
        scales: ArrayLike,
        epistemic_variance: ArrayLike | None = None,
    ) -> MixturePredictive:
        """Build from unnormalised log-weights with a numerically stable softmax.

        Parameters
        ----------
        logits : array_like of shape (n, K)
            Finite log-weights, e.g. the mixing head of an MDN.
        locs, scales, epistemic_variance
            As in the constructor.
        """
        z = _as_float_array("logits", logits, 2, "(n_points, n_components)")
        return cls(softmax(z, axis=1), locs, scales, epistemic_variance)

    def _no_split_reason(self) -> str:
        return (
            "a mixture predictive from a mixture density network carries no "
            "epistemic/aleatoric split; pass epistemic_variance=... or use an ensemble"
        )

    @property
    def n_components(self) -> int:
        """Number of mixture components, ``K``."""
        return int(self._weights.shape[1])

    @property
    def weights(self) -> FloatArray:
        """Mixture weights, ndarray of shape (n, K)."""
        return self._weights

    @property
    def locs(self) -> FloatArray:
        """Component means, ndarray of shape (n, K)."""
        return self._locs

    @property
    def scales(self) -> FloatArray:
        """Component standard deviations, ndarray of shape (n, K)."""
        return self._scales

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self._weights, self._locs, self._scales

    def _take(self, positions: NDArray[np.intp]) -> MixturePredictive:
        epi = None if self._epistemic is None else self._epistemic[positions]
        return MixturePredictive(
            self._weights[positions], self._locs[positions], self._scales[positions], epi
        )

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "mixture", "w", "loc", "scale"[, "epistemic_variance"]}`` per point.

        Every component is written, zero-weight ones included, so all rows keep ``K``.
        """
        out: list[dict[str, Any]] = []
        for i in range(self.n_points):
            rec: dict[str, Any] = {
                "kind": self.kind,
                "w": self._weights[i].tolist(),
                "loc": self._locs[i].tolist(),
                "scale": self._scales[i].tolist(),
            }
            if self._epistemic is not None:
                rec["epistemic_variance"] = float(self._epistemic[i])
            out.append(rec)
        return out

    def __repr__(self) -> str:
        return f"<MixturePredictive n={self.n_points} K={self.n_components}>"


class SamplePredictive(Predictive):
    """A predictive built from ``S`` stochastic passes or ensemble members per point.

    With ``scales`` it is the equal-weight mixture of the per-pass Gaussians
    ``N(locs[:, s], scales[:, s]**2)`` -- what MC dropout [2]_ with a heteroscedastic head or a
    deep ensemble [3]_ predicts -- *not* a moment-matched Gaussian. By the law of total
    variance [4]_::

        epistemic_variance = locs.var(axis=1)            # ddof=0, spread of the pass means
        aleatoric_variance = (scales ** 2).mean(axis=1)  # mean noise variance
        variance           = epistemic_variance + aleatoric_variance

    Without ``scales`` the columns are plain samples (``S >= 2``): ``mean`` and ``variance``
    are the sample mean and population variance, while ``cdf``, ``log_prob``, ``quantile``,
    ``sample`` and :meth:`as_mixture` use a Gaussian kernel density estimate, i.e. the same
    equal-weight mixture with every scale equal to Silverman's bandwidth [5]_ of its row,
    ``h = 0.9 * min(sd, IQR / 1.34) * S**(-1/5)`` (``sd`` when the IQR is zero, and a floor of
    ``1e-12 * max(1, |mean|)`` when all samples are equal). The smoothed distribution has
    variance ``variance + h**2``. Plain samples cannot be split into epistemic and aleatoric
    parts.

    Parameters
    ----------
    locs : array_like of shape (n, S)
        Per-pass predicted means, or plain samples.
    scales : array_like of shape (n, S), optional
        Per-pass predicted standard deviations, strictly positive.

    Raises
    ------
    InputError
        For shape mismatches, wrong ndim, empty or non-finite input, non-positive scales, or
        fewer than two plain samples.
    """

    kind: ClassVar[str] = "samples"

    def __init__(self, locs: ArrayLike, scales: ArrayLike | None = None) -> None:
        shape = "(n_points, n_draws)"
        loc = _as_float_array("locs", locs, 2, shape)
        self._locs = _frozen(loc)
        n, s = loc.shape
        if scales is None:
            if s < 2:
                raise InputError(
                    f"locs holds {s} plain sample per point (shape {loc.shape}) but at least 2 "
                    "are needed for a density estimate; draw more samples, or pass scales=... "
                    "to treat each column as a Gaussian."
                )
            self._scales = None
            mean = loc.mean(axis=1)
            self._mean = _frozen(mean)
            self._variance = _frozen(loc.var(axis=1))
            self._bandwidth: FloatArray | None = _frozen(_silverman_bandwidth(loc, mean))
            self._mix_scales = _frozen(np.repeat(self._bandwidth[:, None], s, axis=1))
            self._epistemic = None
            self._aleatoric = None
        else:
            scale = _as_float_array("scales", scales, 2, shape)
            _check_same_shape("scales", scale, "locs", loc)
            _check_positive("scales", scale)
            self._scales = _frozen(scale)
            self._mix_scales = self._scales
            self._bandwidth = None
            epi = loc.var(axis=1)
            alea = np.mean(scale**2, axis=1)
            self._mean = _frozen(loc.mean(axis=1))
            self._epistemic = _frozen(epi)
            self._aleatoric = _frozen(alea)
            self._variance = _frozen(epi + alea)
        self._mix_weights = _frozen(np.full((n, s), 1.0 / s))

    def _no_split_reason(self) -> str:
        return (
            "a samples predictive built from plain samples (scales=None) cannot split its "
            "variance into epistemic and aleatoric parts; pass the per-pass scales=... of a "
            "heteroscedastic head or an ensemble"
        )

    @property
    def n_draws(self) -> int:
        """Number of passes / members / samples per point, ``S``."""
        return int(self._locs.shape[1])

    @property
    def is_plain(self) -> bool:
        """True for plain samples (``scales=None``, kernel density estimate)."""
        return self._scales is None

    @property
    def locs(self) -> FloatArray:
        """Per-pass means or plain samples, ndarray of shape (n, S)."""
        return self._locs

    @property
    def scales(self) -> FloatArray | None:
        """Per-pass standard deviations, ndarray of shape (n, S), or None for plain samples."""
        return self._scales

    @property
    def bandwidth(self) -> FloatArray:
        """Silverman kernel bandwidth per point, ndarray of shape (n,) (plain samples only)."""
        if self._bandwidth is None:
            raise UnsupportedOperationError(
                "a samples predictive with per-pass scales has no kernel bandwidth; the "
                "mixture uses the scales themselves."
            )
        return self._bandwidth

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Equal weights ``1/S``, the per-pass locs, and the per-pass (or kernel) scales."""
        return self._mix_weights, self._locs, self._mix_scales

    def sample(self, n_samples: int, seed: Seed = None) -> FloatArray:
        """Draw from the mixture (for plain samples: the kernel density estimate).

        Returns
        -------
        ndarray of shape (n_samples, n)
        """
        n_samples = _check_n_samples(n_samples)
        rng = make_rng(seed)
        return _mixture_sample(None, self._locs, self._mix_scales, n_samples, rng)

    def _take(self, positions: NDArray[np.intp]) -> SamplePredictive:
        scales = None if self._scales is None else self._scales[positions]
        return SamplePredictive(self._locs[positions], scales)

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "samples", "loc": [...], "scale": [...] or null}`` per point."""
        return [
            {
                "kind": self.kind,
                "loc": self._locs[i].tolist(),
                "scale": None if self._scales is None else self._scales[i].tolist(),
            }
            for i in range(self.n_points)
        ]

    def __repr__(self) -> str:
        plain = " plain" if self.is_plain else ""
        return f"<SamplePredictive n={self.n_points} S={self.n_draws}{plain}>"


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


def _optional_bound(name: str, value: ArrayLike | None, n: int, default: float) -> FloatArray:
    """A bound as an array of shape (n,): None -> ``default`` (an infinity), scalar broadcast."""
    if value is None:
        return np.full(n, default)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be None, a number or an array of shape (n_points,) = ({n},), but it "
            f"could not be converted to float64 ({exc})."
        ) from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(
            f"{name} must be None, a number or an array of shape (n_points,) = ({n},), but it "
            f"has shape {arr.shape}; pass one bound per point or one for all."
        )
    bad = np.isnan(arr) | (arr == -default)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} is NaN or {-default!r} in {_rows_text(rows)} (row {int(rows[0])} has "
            f"{float(arr[rows[0]])!r}); pass a number, or None (or {default!r}) for no bound."
        )
    return arr


def _optional_mass(name: str, value: ArrayLike | None, n: int) -> FloatArray:
    """A point-mass probability as an array of shape (n,) in [0, 1]; None -> zeros."""
    if value is None:
        return np.zeros(n)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be None, a probability or an array of shape (n_points,) = ({n},), but "
            f"it could not be converted to float64 ({exc})."
        ) from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(
            f"{name} must be None, a probability or an array of shape (n_points,) = ({n},), but "
            f"it has shape {arr.shape}; pass one probability per point."
        )
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} must lie in [0, 1], but not in {_rows_text(rows)} (row {int(rows[0])} has "
            f"{float(arr[rows[0]])!r}); pass the probability of the point mass, e.g. "
            "P(metal) for a band gap of exactly 0."
        )
    return arr


class BoundedPredictive(Predictive):
    """A mixture of individually truncated Gaussians on ``[lower, upper]`` plus point masses.

    For point ``i`` with continuous mass ``c_i = 1 - p_lower_i - p_upper_i``::

        P(Y = lower)  = p_lower
        P(Y = upper)  = p_upper
        density on (lower, upper) = c * sum_k w_k TN(y; loc_k, scale_k, lower, upper)

    where ``TN`` is ``N(loc_k, scale_k^2)`` truncated to ``[lower, upper]`` (renormalised on
    it; each component on its own, so the weights are the shares of the continuous part).
    Example: a band gap with ``P(metal) = p_lower`` at 0 eV and a gap distribution on
    ``(0, inf)``: ``BoundedPredictive(w, locs, scales, lower=0.0, p_lower=p_metal)``.

    Everything is exact: the moments are the closed forms of truncated normals [6]_ plus the
    atoms; ``log_prob`` is the log-density of the mixed measure (at ``y == lower`` with
    ``p_lower > 0`` it is ``log p_lower``, the log-probability of the atom; inside it is
    ``log c + log`` of the continuous density; ``-inf`` outside ``[lower, upper]``); ``cdf``,
    ``sf`` and their logs include the atoms and keep tail precision; ``quantile`` inverts the
    cdf respecting the atoms (levels ``q <= p_lower`` give ``lower`` exactly, ``q >= 1 -
    p_upper`` give ``upper``) and never leaves ``[lower, upper]``; ``sample`` draws exactly
    (atoms, then component, then inverse-cdf of the truncated normal).

    There is no Gaussian-mixture form: :meth:`as_mixture` and :meth:`to_tfp` raise
    :class:`~bdl.errors.UnsupportedOperationError`. The metrics of :mod:`bdl.calibration` and
    the acquisition functions of :mod:`discovery_loop.acquisition` use exact paths instead.

    Parameters
    ----------
    weights : array_like of shape (n, K)
        Non-negative shares of the truncated components; every row sums to one within 1e-6.
    locs : array_like of shape (n, K)
        Means of the components *before* truncation.
    scales : array_like of shape (n, K)
        Standard deviations before truncation, strictly positive.
    lower, upper : float, array_like of shape (n,) or None
        Bounds of the support (None: unbounded on that side); ``lower < upper`` in every row.
    p_lower, p_upper : float, array_like of shape (n,) or None
        Point masses at ``lower`` / ``upper`` (None: 0); need a finite bound on their side,
        and ``p_lower + p_upper <= 1``.
    epistemic_variance : array_like of shape (n,), optional
        Epistemic part of the total variance (e.g. from an ensemble), in ``[0, variance]``.

    Raises
    ------
    InputError
        For shape mismatches, wrong ndim, empty or non-finite input, non-positive scales,
        negative weights or rows that do not sum to one, ``lower >= upper``, a point mass
        without a finite bound, masses outside [0, 1] or summing above 1, a component with no
        mass inside the bounds, or a bad epistemic variance; the message names the argument
        and the rows.

    Notes
    -----
    The component variance ``s^2 (1 + a phi(a)/Z - b phi(b)/Z - ((phi(a) - phi(b))/Z)^2)``
    loses relative precision to cancellation when a bound lies many scales beyond a
    component's mean (about ``1e-16 a^4`` for ``a = (lower - loc)/scale >> 1``).

    References
    ----------
    .. [6] N. L. Johnson, S. Kotz and N. Balakrishnan, "Continuous Univariate Distributions",
       vol. 1, 2nd ed., Wiley, 1994, sec. 10.1 (moments of the truncated normal).
    """

    kind: ClassVar[str] = "bounded"

    def __init__(
        self,
        weights: ArrayLike,
        locs: ArrayLike,
        scales: ArrayLike,
        lower: ArrayLike | None = None,
        upper: ArrayLike | None = None,
        p_lower: ArrayLike | None = None,
        p_upper: ArrayLike | None = None,
        epistemic_variance: ArrayLike | None = None,
    ) -> None:
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
                f"weights must be non-negative, but has negative values in {_rows_text(rows)} "
                f"(row {int(rows[0])} has {float(w[rows[0]].min())!r}); pass the shares of the "
                "truncated components (probabilities within the continuous part)."
            )
        sums = w.sum(axis=1)
        off = np.abs(sums - 1.0) > _WEIGHT_ATOL
        if off.any():
            rows = np.flatnonzero(off)
            raise InputError(
                f"weights must sum to 1 in every row (within {_WEIGHT_ATOL:g}), but not in "
                f"{_rows_text(rows)} (row {int(rows[0])} sums to {float(sums[rows[0]])!r}); "
                "they are the shares of the continuous part: normalise them, and give the "
                "point masses through p_lower / p_upper."
            )
        n = w.shape[0]
        lo = _optional_bound("lower", lower, n, -np.inf)
        hi = _optional_bound("upper", upper, n, np.inf)
        crossed = ~(lo < hi)
        if crossed.any():
            rows = np.flatnonzero(crossed)
            r = int(rows[0])
            raise InputError(
                f"lower must be below upper, but not in {_rows_text(rows)} (row {r} has lower "
                f"{float(lo[r])!r} and upper {float(hi[r])!r}); swap them or widen the support."
            )
        pl = _optional_mass("p_lower", p_lower, n)
        pu = _optional_mass("p_upper", p_upper, n)
        for name, mass, bound, side in (("p_lower", pl, lo, "lower"), ("p_upper", pu, hi, "upper")):
            orphan = (mass > 0.0) & ~np.isfinite(bound)
            if orphan.any():
                rows = np.flatnonzero(orphan)
                raise InputError(
                    f"{name} puts a point mass at {side}, but {side} is unbounded in "
                    f"{_rows_text(rows)} (row {int(rows[0])} has {name} {float(mass[rows[0]])!r}); "
                    f"pass a finite {side}=... (e.g. lower=0.0 for a band gap) or {name}=0."
                )
        total = pl + pu
        over = total > 1.0 + 1e-12
        if over.any():
            rows = np.flatnonzero(over)
            r = int(rows[0])
            raise InputError(
                f"p_lower + p_upper must not exceed 1, but does in {_rows_text(rows)} (row {r} "
                f"has {float(pl[r])!r} + {float(pu[r])!r}); the continuous part holds "
                "1 - p_lower - p_upper."
            )
        self._weights = _frozen(w / sums[:, None])
        self._locs = _frozen(loc)
        self._scales = _frozen(scale)
        self._lower = _frozen(lo)
        self._upper = _frozen(hi)
        self._p_lower = _frozen(pl)
        self._p_upper = _frozen(pu)
        self._cont = _frozen(np.maximum(1.0 - pl - pu, 0.0))

        with np.errstate(over="ignore", invalid="ignore"):
            alpha = (lo[:, None] - loc) / scale
            beta = (hi[:, None] - loc) / scale
        log_z = _log_ndtr_diff(alpha, beta)
        empty = (self._weights > 0.0) & ~np.isfinite(log_z)
        if empty.any():
            rows = _bad_rows(empty)
            r = int(rows[0])
            k = int(np.flatnonzero(empty[r])[0])
            raise InputError(
                f"a component has no probability inside [lower, upper] in {_rows_text(rows)} "
                f"(row {r}, component {k}: loc {float(loc[r, k])!r}, scale "
                f"{float(scale[r, k])!r}, bounds [{float(lo[r])!r}, {float(hi[r])!r}]); move "
                "its loc toward the support, widen its scale or give it weight 0."
            )
        self._alpha = _frozen(alpha)
        self._beta = _frozen(beta)
        self._log_z = _frozen(log_z)

        # component moments of the truncated normals (Johnson, Kotz & Balakrishnan 10.1)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            lam_a = np.where(np.isfinite(alpha), np.exp(_log_normal_pdf(alpha) - log_z), 0.0)
            lam_b = np.where(np.isfinite(beta), np.exp(_log_normal_pdf(beta) - log_z), 0.0)
            a_term = np.where(np.isfinite(alpha), alpha * lam_a, 0.0)
            b_term = np.where(np.isfinite(beta), beta * lam_b, 0.0)
        lam_a = np.where(np.isfinite(log_z), lam_a, 0.0)
        lam_b = np.where(np.isfinite(log_z), lam_b, 0.0)
        comp_mean = np.clip(loc + scale * (lam_a - lam_b), lo[:, None], hi[:, None])
        comp_var = scale * scale * np.maximum(1.0 + a_term - b_term - (lam_a - lam_b) ** 2, 0.0)
        comp_var = np.where(np.isfinite(comp_var), comp_var, 0.0)
        self._comp_mean = _frozen(comp_mean)
        self._comp_var = _frozen(comp_var)

        wt = self._weights
        cont_mean = np.sum(wt * comp_mean, axis=1)
        a0 = np.where(pl > 0.0, lo, 0.0)
        b0 = np.where(pu > 0.0, hi, 0.0)
        mean = pl * a0 + pu * b0 + self._cont * cont_mean
        var = (
            pl * (a0 - mean) ** 2
            + pu * (b0 - mean) ** 2
            + self._cont * np.sum(wt * (comp_var + (comp_mean - mean[:, None]) ** 2), axis=1)
        )
        self._mean = _frozen(mean)
        self._variance = _frozen(var)
        self._epistemic = None
        self._aleatoric = None
        if epistemic_variance is not None:
            epi, alea = _check_split(self.kind, epistemic_variance, self._variance)
            self._epistemic = _frozen(epi)
            self._aleatoric = _frozen(alea)

    # -- structure -----------------------------------------------------------------------

    @property
    def n_components(self) -> int:
        """Number of truncated components, ``K``."""
        return int(self._weights.shape[1])

    @property
    def weights(self) -> FloatArray:
        """Shares of the truncated components within the continuous part, shape (n, K)."""
        return self._weights

    @property
    def locs(self) -> FloatArray:
        """Component means before truncation, ndarray of shape (n, K)."""
        return self._locs

    @property
    def scales(self) -> FloatArray:
        """Component standard deviations before truncation, ndarray of shape (n, K)."""
        return self._scales

    @property
    def lower(self) -> FloatArray:
        """Lower bound per point (``-inf`` where unbounded), ndarray of shape (n,)."""
        return self._lower

    @property
    def upper(self) -> FloatArray:
        """Upper bound per point (``inf`` where unbounded), ndarray of shape (n,)."""
        return self._upper

    @property
    def p_lower(self) -> FloatArray:
        """Point mass at :attr:`lower`, ndarray of shape (n,)."""
        return self._p_lower

    @property
    def p_upper(self) -> FloatArray:
        """Point mass at :attr:`upper`, ndarray of shape (n,)."""
        return self._p_upper

    @property
    def continuous_mass(self) -> FloatArray:
        """``1 - p_lower - p_upper``, the mass of the continuous part, shape (n,)."""
        return self._cont

    @property
    def component_means(self) -> FloatArray:
        """Means of the truncated components (after truncation), shape (n, K)."""
        return self._comp_mean

    @property
    def component_variances(self) -> FloatArray:
        """Variances of the truncated components (after truncation), shape (n, K)."""
        return self._comp_var

    @property
    def log_normalisers(self) -> FloatArray:
        """``log(Phi(beta) - Phi(alpha))`` per component, the log-mass kept by truncation, (n, K)."""
        return self._log_z

    def as_mixture(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        raise UnsupportedOperationError(
            "a bounded predictive (truncated components plus point masses) is not a Gaussian "
            "mixture, so as_mixture() is not available; use cdf / sf / quantile / log_prob / "
            "sample, or read weights, locs, scales, lower, upper, p_lower and p_upper."
        )

    def to_tfp(self) -> Any:
        raise UnsupportedOperationError(
            "a bounded predictive (truncated components plus point masses) has no "
            "TensorFlow Probability equivalent in this toolkit; use its own cdf / log_prob / "
            "sample."
        )

    def _take(self, positions: NDArray[np.intp]) -> BoundedPredictive:
        epi = None if self._epistemic is None else self._epistemic[positions]
        return BoundedPredictive(
            self._weights[positions],
            self._locs[positions],
            self._scales[positions],
            self._lower[positions],
            self._upper[positions],
            self._p_lower[positions],
            self._p_upper[positions],
            epi,
        )

    def _records(self) -> list[dict[str, Any]]:
        """``{"kind": "bounded", "w", "loc", "scale", "lower", "upper", "p_lower", "p_upper"}``.

        Infinite bounds are written as ``null``; ``"epistemic_variance"`` when present.
        """
        out: list[dict[str, Any]] = []
        for i in range(self.n_points):
            rec: dict[str, Any] = {
                "kind": self.kind,
                "w": self._weights[i].tolist(),
                "loc": self._locs[i].tolist(),
                "scale": self._scales[i].tolist(),
                "lower": float(self._lower[i]) if np.isfinite(self._lower[i]) else None,
                "upper": float(self._upper[i]) if np.isfinite(self._upper[i]) else None,
                "p_lower": float(self._p_lower[i]),
                "p_upper": float(self._p_upper[i]),
            }
            if self._epistemic is not None:
                rec["epistemic_variance"] = float(self._epistemic[i])
            out.append(rec)
        return out

    def __repr__(self) -> str:
        return f"<BoundedPredictive n={self.n_points} K={self.n_components}>"

    # -- the continuous part -------------------------------------------------------------

    def _cont_log_cdf(self, y: FloatArray) -> FloatArray:
        """``log F_c(y)`` of the continuous part (a distribution on [lower, upper]), y (..., n)."""
        yc = np.clip(y, self._lower, self._upper)
        with np.errstate(invalid="ignore", over="ignore"):
            z = _standardise(yc, self._locs, self._scales)
        terms = _log_weights(self._weights) + _log_ndtr_diff(self._alpha, z) - self._log_z
        terms = np.where(self._weights > 0.0, terms, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.minimum(np.asarray(logsumexp(terms, axis=-1)), 0.0)

    def _cont_log_sf(self, y: FloatArray) -> FloatArray:
        """``log(1 - F_c(y))`` of the continuous part, y of shape (..., n)."""
        yc = np.clip(y, self._lower, self._upper)
        with np.errstate(invalid="ignore", over="ignore"):
            z = _standardise(yc, self._locs, self._scales)
        terms = _log_weights(self._weights) + _log_ndtr_diff(z, self._beta) - self._log_z
        terms = np.where(self._weights > 0.0, terms, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.minimum(np.asarray(logsumexp(terms, axis=-1)), 0.0)

    def _with_atom(self, log_atom: FloatArray, log_cont: FloatArray) -> FloatArray:
        """``log(atom + c * exp(log_cont))`` elementwise (atom and c of shape (n,))."""
        with np.errstate(divide="ignore"):
            return np.minimum(np.logaddexp(log_atom, np.log(self._cont) + log_cont), 0.0)

    # -- densities and probabilities -----------------------------------------------------

    def log_prob(self, y: ArrayLike) -> FloatArray:
        """Log of the mixed measure at ``y``; shapes as in :meth:`Predictive.log_prob`.

        ``log p_lower`` at ``y == lower`` when ``p_lower > 0`` (the log-probability of the
        atom, not a density), likewise at ``upper``; ``log(c) + log`` of the continuous
        density inside; ``-inf`` outside ``[lower, upper]``.
        """
        yy = _check_y(y, self.n_points)
        with np.errstate(invalid="ignore", over="ignore"):
            z = _standardise(yy, self._locs, self._scales)
        terms = (
            _log_weights(self._weights) + _log_normal_pdf(z) - np.log(self._scales) - self._log_z
        )
        terms = np.where(self._weights > 0.0, terms, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = np.log(self._cont) + np.asarray(logsumexp(terms, axis=-1))
            out = np.where((yy >= self._lower) & (yy <= self._upper), dens, -np.inf)
            out = np.where((yy == self._lower) & (self._p_lower > 0.0), np.log(self._p_lower), out)
            out = np.where((yy == self._upper) & (self._p_upper > 0.0), np.log(self._p_upper), out)
        return out

    def cdf(self, y: ArrayLike) -> FloatArray:
        """``P(Y <= y)``, the atoms included; shapes as in :meth:`Predictive.log_prob`."""
        yy = _check_y(y, self.n_points)
        inside = self._p_lower + self._cont * np.exp(self._cont_log_cdf(yy))
        out = np.where(yy < self._lower, 0.0, np.where(yy >= self._upper, 1.0, inside))
        return np.clip(out, 0.0, 1.0)

    def _cdf_left(self, y: ArrayLike) -> FloatArray:
        """``P(Y < y)``: :meth:`cdf` without the atom at ``y``."""
        yy = _check_y(y, self.n_points)
        inside = self._p_lower + self._cont * np.exp(self._cont_log_cdf(yy))
        out = np.where(yy <= self._lower, 0.0, np.where(yy > self._upper, 1.0, inside))
        return np.clip(out, 0.0, 1.0)

    def sf(self, y: ArrayLike) -> FloatArray:
        """``P(Y > y)``, accurate in the upper tail; the atom at ``upper`` included below it."""
        yy = _check_y(y, self.n_points)
        inside = self._p_upper + self._cont * np.exp(self._cont_log_sf(yy))
        out = np.where(yy < self._lower, 1.0, np.where(yy >= self._upper, 0.0, inside))
        return np.clip(out, 0.0, 1.0)

    def log_cdf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y <= y)``, finite far into the lower tail of the continuous part."""
        yy = _check_y(y, self.n_points)
        with np.errstate(divide="ignore"):
            inside = self._with_atom(np.log(self._p_lower), self._cont_log_cdf(yy))
        return np.where(yy < self._lower, -np.inf, np.where(yy >= self._upper, 0.0, inside))

    def _log_cdf_left(self, y: ArrayLike) -> FloatArray:
        """``log P(Y < y)``."""
        yy = _check_y(y, self.n_points)
        with np.errstate(divide="ignore"):
            inside = self._with_atom(np.log(self._p_lower), self._cont_log_cdf(yy))
        return np.where(yy <= self._lower, -np.inf, np.where(yy > self._upper, 0.0, inside))

    def log_sf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y > y)``, finite far into the upper tail of the continuous part."""
        yy = _check_y(y, self.n_points)
        with np.errstate(divide="ignore"):
            inside = self._with_atom(np.log(self._p_upper), self._cont_log_sf(yy))
        return np.where(yy < self._lower, 0.0, np.where(yy >= self._upper, -np.inf, inside))

    def _log_interval_mass(self, low: float, high: float) -> FloatArray:
        """``log P(low <= Y <= high)`` for a closed window (the atoms counted when inside).

        Parameters
        ----------
        low, high : float
            ``low < high``; either may be infinite.

        Returns
        -------
        ndarray of shape (n,)
        """
        lo = np.maximum(low, self._lower)[:, None]
        hi = np.minimum(high, self._upper)[:, None]
        with np.errstate(invalid="ignore", over="ignore"):
            za = np.maximum((lo - self._locs) / self._scales, self._alpha)
            zb = np.minimum((hi - self._locs) / self._scales, self._beta)
        terms = _log_weights(self._weights) + _log_ndtr_diff(za, zb) - self._log_z
        terms = np.where(self._weights > 0.0, terms, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            cont = np.log(self._cont) + np.asarray(logsumexp(terms, axis=-1))
            atom_lo = np.where(
                (low <= self._lower) & (self._lower <= high), np.log(self._p_lower), -np.inf
            )
            atom_hi = np.where(
                (low <= self._upper) & (self._upper <= high), np.log(self._p_upper), -np.inf
            )
            out = logsumexp(np.stack([atom_lo, atom_hi, cont]), axis=0)
        return np.minimum(np.asarray(out, dtype=np.float64), 0.0)

    # -- quantiles and sampling ----------------------------------------------------------

    def _quantile(self, levels: FloatArray) -> FloatArray:
        """Quantiles at ``levels`` (m,), shape (m, n); atoms respected, bounds never crossed."""
        q = levels[:, None]
        pl, pu, c = self._p_lower, self._p_upper, self._cont
        at_lo = q <= pl
        at_hi = ~at_lo & (q >= 1.0 - pu) & (pu > 0.0)
        solve = ~(at_lo | at_hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.clip((q - pl) / c, np.finfo(np.float64).tiny, 1.0)
            rc = np.clip(((1.0 - pu) - q) / c, np.finfo(np.float64).tiny, 1.0)
        r = np.where(solve, r, 0.5)
        rc = np.where(solve, rc, 0.5)
        out = self._cont_quantile(r, rc)
        out = np.where(at_lo, self._lower, np.where(at_hi, self._upper, out))
        return np.clip(out, self._lower, self._upper)

    def _cont_quantile(self, r: FloatArray, rc: FloatArray) -> FloatArray:
        """Quantiles of the continuous part at levels ``r`` (``rc = 1 - r``), shape (m, n).

        One component: the closed-form inverse of the truncated normal. Several: a vectorised
        safeguarded Newton / bisection (``rtsafe``) on ``F_c(x) - r`` (on ``rc - S_c(x)`` for
        ``r > 0.5``), bracketed by the support of the components (each reaches 40 of its own
        truncated standard deviations beyond its truncated mean), stopping at ``1e-12`` of the
        bracket or a few ulps.
        """
        m, n = r.shape
        if self.n_components == 1:
            return _truncnorm_ppf(
                self._locs[:, 0], self._scales[:, 0], self._alpha[:, 0], self._beta[:, 0], r, rc
            )
        w, loc, scale = self._weights, self._locs, self._scales
        sd = np.sqrt(self._comp_var)
        sd = np.where(sd > 0.0, sd, scale * 1e-8)
        used = w > 0.0
        lo_b, hi_b = self._lower[:, None], self._upper[:, None]
        lo_k = np.where(used, np.clip(self._comp_mean - _BRACKET_SCALES * sd, lo_b, hi_b), np.inf)
        hi_k = np.where(used, np.clip(self._comp_mean + _BRACKET_SCALES * sd, lo_b, hi_b), -np.inf)
        row_lo, row_hi = lo_k.min(axis=1), hi_k.max(axis=1)

        rows = np.tile(np.arange(n), m)
        rr, rrc = r.reshape(-1), rc.reshape(-1)
        lower_tail = rr <= 0.5
        lo, hi = row_lo[rows].copy(), row_hi[rows].copy()
        x = np.clip(self._cont_start(rows, rr, rrc), lo, hi)
        result = np.empty(m * n)
        active = np.arange(m * n)
        dx_old = hi - lo
        dx = dx_old.copy()
        log_w = _log_weights(w)
        for _ in range(_QUANTILE_MAX_ITER):
            rw = rows[active]
            xa = x[active]
            z = (xa[:, None] - loc[rw]) / scale[rw]
            lt = lower_tail[active]
            fc = np.where(
                lt[:, None],
                _log_ndtr_diff(self._alpha[rw], z),
                _log_ndtr_diff(z, self._beta[rw]),
            )
            terms = np.where(w[rw] > 0.0, log_w[rw] + fc - self._log_z[rw], -np.inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                tail = np.exp(logsumexp(terms, axis=1))
            f_val = np.where(lt, tail - rr[active], rrc[active] - tail)
            dterms = np.where(
                w[rw] > 0.0,
                log_w[rw] + _log_normal_pdf(z) - np.log(scale[rw]) - self._log_z[rw],
                -np.inf,
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                dens = np.exp(logsumexp(dterms, axis=1))
            lo_a = np.where(f_val < 0.0, xa, lo[active])
            hi_a = np.where(f_val > 0.0, xa, hi[active])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                newton = xa - f_val / dens
                use_newton = (
                    (dens > 0.0)
                    & np.isfinite(newton)
                    & (newton >= lo_a)
                    & (newton <= hi_a)
                    & (np.abs(2.0 * f_val) <= np.abs(dx_old[active] * dens))
                )
            x_new = np.where(use_newton, newton, 0.5 * (lo_a + hi_a))
            x_new = np.where(f_val == 0.0, xa, x_new)
            step = x_new - xa
            tol = np.maximum(
                1e-12 * (row_hi[rw] - row_lo[rw]),
                4.0 * _EPS * np.maximum(np.abs(lo_a), np.abs(hi_a)),
            )
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
        return result.reshape(m, n)

    def _cont_start(self, rows: NDArray[np.intp], r: FloatArray, rc: FloatArray) -> FloatArray:
        """Starting points of the quantile solver: a normal with the continuous part's moments."""
        w = self._weights
        mu = np.sum(w * self._comp_mean, axis=1)
        var = np.sum(w * (self._comp_var + (self._comp_mean - mu[:, None]) ** 2), axis=1)
        z = np.where(r <= 0.5, ndtri(r), -ndtri(rc))
        return mu[rows] + np.sqrt(var[rows]) * z

    def sample(self, n_samples: int, seed: Seed = None) -> FloatArray:
        """Exact draws, ndarray of shape (n_samples, n), never outside ``[lower, upper]``.

        A uniform picks the atom at ``lower`` (probability ``p_lower``), at ``upper``
        (``p_upper``) or the continuous part (drawn only when some point has an atom); a
        second picks a component by its weight (only when ``K > 1``, as
        :class:`MixturePredictive` does); a standard normal ``z`` then gives
        ``loc + scale z`` for an untruncated component and the truncated normal's inverse cdf
        at ``Phi(z)`` (tails kept through ``Phi(-z)``) otherwise. So with no bounds and no
        atoms the draws are those of :class:`GaussianPredictive` (``K = 1``) or
        :class:`MixturePredictive` (``K > 1``) for the same seed.
        """
        n_samples = _check_n_samples(n_samples)
        rng = make_rng(seed)
        n, k = self._locs.shape
        has_atoms = bool(np.any(self._p_lower > 0.0) or np.any(self._p_upper > 0.0))
        v = rng.random((n_samples, n)) if has_atoms else None
        comp = np.zeros((n_samples, n), dtype=np.intp)
        if k > 1:
            u_comp = rng.random((n_samples, n))
            cw = np.cumsum(self._weights, axis=1)
            cw = cw / cw[:, -1:]
            for j in range(k - 1):  # a loop over components, not rows; K is small
                comp += u_comp >= cw[:, j]
            cols = np.arange(n)[None, :]
            comp = np.where(self._weights[cols, comp] > 0.0, comp, np.argmax(self._weights, axis=1))
        z = rng.standard_normal((n_samples, n))
        cols = np.arange(n)[None, :]
        loc = self._locs[cols, comp]
        scale = self._scales[cols, comp]
        alpha = self._alpha[cols, comp]
        beta = self._beta[cols, comp]
        free = np.isneginf(alpha) & np.isposinf(beta)
        draw = loc + scale * z
        if not free.all():
            cut = ~free
            draw[cut] = _truncnorm_ppf(
                loc[cut], scale[cut], alpha[cut], beta[cut], ndtr(z[cut]), ndtr(-z[cut])
            )
        if v is not None:
            draw = np.where(
                v < self._p_lower, self._lower, np.where(v >= 1.0 - self._p_upper, self._upper, draw)
            )
        return np.clip(draw, self._lower, self._upper)

    # -- export --------------------------------------------------------------------------

    def to_frame(self, level: float = 0.9) -> pd.DataFrame:
        """Summary table as :meth:`Predictive.to_frame`, plus ``p_lower`` and ``p_upper``."""
        frame = super().to_frame(level)
        frame["p_lower"] = np.array(self._p_lower)
        frame["p_upper"] = np.array(self._p_upper)
        return frame

    # -- CRPS ------------------------------------------------------------------------------

    def _crps(self, y: FloatArray) -> FloatArray:
        """``int (F(x) - 1{x >= y})^2 dx`` by composite Gauss-Legendre quadrature, shape (n,).

        The support of the continuous part is cut at every component's truncated mean
        +- (0 .. 40) truncated standard deviations, at the bounds and at ``y``; on each piece
        the integrand is smooth (the atoms make ``F`` jump only at the bounds, which are cut
        points) and 24 Gauss-Legendre nodes integrate it to ~1e-12. Outside the pieces ``F``
        is constant (0, ``p_lower``, ``1 - p_upper`` or 1) and the integral is exact.
        Rows are processed in chunks of about ``_CRPS_BUDGET`` integrand evaluations.
        """
        per_row = (2 * len(_CRPS_BREAKS) * self.n_components + 4) * _CRPS_GL_NODES * self.n_components
        chunk = max(1, _CRPS_BUDGET // per_row)
        if self.n_points <= chunk:
            return self._crps_block(y)
        parts = [
            self[start : start + chunk]._crps_block(y[start : start + chunk])
            for start in range(0, self.n_points, chunk)
        ]
        return np.concatenate(parts)

    def _crps_block(self, y: FloatArray) -> FloatArray:
        """:meth:`_crps` for all rows at once (memory ~ rows x breaks x nodes x K)."""
        n = self.n_points
        lo_b, hi_b = self._lower, self._upper
        sd = np.sqrt(self._comp_var)
        sd = np.where(sd > 0.0, sd, self._scales * 1e-8)
        used = self._weights > 0.0
        offs = np.array(_CRPS_BREAKS)
        offs = np.concatenate([-offs[:0:-1], offs])  # symmetric, 0 once
        pts = self._comp_mean[:, :, None] + offs * sd[:, :, None]  # (n, K, P)
        pts = np.where(used[:, :, None], pts, np.nan)
        pts = pts.reshape(n, -1)
        pts = np.clip(pts, lo_b[:, None], hi_b[:, None])
        d_lo = np.fmin(np.nanmin(pts, axis=1), y)
        d_hi = np.fmax(np.nanmax(pts, axis=1), y)
        extra = np.stack(
            [y, np.clip(lo_b, d_lo, d_hi), np.clip(hi_b, d_lo, d_hi), d_lo, d_hi], axis=1
        )
        pts = np.concatenate([np.where(np.isnan(pts), d_lo[:, None], pts), extra], axis=1)
        pts = np.sort(pts, axis=1)
        left, right = pts[:, :-1], pts[:, 1:]  # (n, J)
        nodes, gw = np.polynomial.legendre.leggauss(_CRPS_GL_NODES)
        half = 0.5 * (right - left)
        mid = 0.5 * (right + left)
        x = mid[:, :, None] + half[:, :, None] * nodes  # (n, J, G)
        xt = np.moveaxis(x, 0, -1)  # (J, G, n)
        f = self.cdf(xt.reshape(-1, n)).reshape(xt.shape)
        ind = (xt >= y).astype(np.float64)
        integrand = np.moveaxis((f - ind) ** 2, -1, 0)  # (n, J, G)
        inner = np.sum(half * np.sum(integrand * gw, axis=-1), axis=1)
        # constant pieces outside [d_lo, d_hi] but inside the support: F = p_lower / 1 - p_upper
        lo_f = np.where(np.isfinite(lo_b), lo_b, d_lo)
        hi_f = np.where(np.isfinite(hi_b), hi_b, d_hi)
        below = np.maximum(d_lo - lo_f, 0.0) * self._p_lower**2
        above = np.maximum(hi_f - d_hi, 0.0) * self._p_upper**2
        return np.maximum(inner + below + above, 0.0)


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


def truncate(pred: Predictive, lower: float | None = None, upper: float | None = None) -> Predictive:
    """A predictive restricted to the physical range [lower, upper].

    The density of ``pred`` (its :meth:`~Predictive.as_mixture` form) is cut to the range and
    renormalised as a whole: component k keeps the weight ``w_k Z_k / sum_j w_j Z_j``, where
    ``Z_k`` is its probability inside the range, so no quantile, interval end or sample crosses
    a bound. A row with (numerically) no probability inside the range becomes one component at
    the nearer bound with the row's standard deviation. A :class:`BoundedPredictive` keeps its
    atoms. The epistemic share of the variance is kept.

    Parameters
    ----------
    pred : Predictive
        A Gaussian, mixture, sample or bounded predictive.
    lower, upper : float or None
        The bounds; None for no bound. With neither, ``pred`` is returned unchanged.

    Returns
    -------
    Predictive
        ``pred`` itself when both bounds are None, else a :class:`BoundedPredictive`.

    Raises
    ------
    InputError
        If a bound is not finite, ``lower >= upper``, or the range would cut off an atom.
    UnsupportedOperationError
        For a kind with no Gaussian-mixture form (e.g. a recalibrated one).
    """
    if lower is None and upper is None:
        return pred
    for name, value in (("lower", lower), ("upper", upper)):
        if value is not None and not np.isfinite(value):
            raise InputError(f"{name} must be a finite number or None, got {value!r}.")
    if lower is not None and upper is not None and not lower < upper:
        raise InputError(f"lower ({lower}) must be below upper ({upper}).")
    n = pred.n_points
    lo = np.full(n, -np.inf if lower is None else float(lower))
    hi = np.full(n, np.inf if upper is None else float(upper))
    p_lower = p_upper = None
    if isinstance(pred, BoundedPredictive):
        if np.any((pred.p_lower > 0) & (lo > pred.lower)) or np.any((pred.p_upper > 0) & (hi < pred.upper)):
            raise InputError("the range would cut off a point mass of the predictive; widen the bounds.")
        lo, hi = np.maximum(lo, pred.lower), np.minimum(hi, pred.upper)
        w, loc, scale = pred.weights, pred.locs, pred.scales
        p_lower, p_upper = pred.p_lower, pred.p_upper
    else:
        w, loc, scale = pred.as_mixture()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        inside = np.exp(_log_ndtr_diff((lo[:, None] - loc) / scale, (hi[:, None] - loc) / scale))
    inside = np.where(np.isfinite(inside), inside, 0.0)
    mass = w * inside
    total = mass.sum(axis=1)
    empty = total < 1e-300
    weights = np.divide(mass, total[:, None], out=np.zeros_like(mass), where=~empty[:, None])
    locs, scales = loc.copy(), scale.copy()
    if empty.any():  # nothing inside: one component at the nearer bound
        sd = np.sqrt(pred.variance[empty])
        near = np.where(np.abs(pred.mean[empty] - lo[empty]) <= np.abs(pred.mean[empty] - hi[empty]), lo[empty], hi[empty])
        weights[empty] = 0.0
        weights[empty, 0] = 1.0
        locs[empty, 0] = near
        scales[empty, 0] = np.where(sd > 0, sd, 1.0)
    out = BoundedPredictive(weights, locs, scales, lower=lo, upper=hi, p_lower=p_lower, p_upper=p_upper)
    if not pred.has_split:
        return out
    share = np.divide(pred.epistemic_variance, pred.variance, out=np.zeros(n), where=pred.variance > 0)
    return BoundedPredictive(weights, locs, scales, lower=lo, upper=hi, p_lower=p_lower, p_upper=p_upper,
                             epistemic_variance=np.clip(share, 0.0, 1.0) * out.variance)


def concat(predictives: Sequence[P]) -> P:
    """Join predictives of the same kind along the points axis.

    Parameters
    ----------
    predictives : sequence of Predictive
        All of one class, with the same number of components ``K`` (mixtures) or draws ``S``
        (samples), all with or all without an epistemic split, and (samples) all plain or all
        with scales.

    Returns
    -------
    Predictive of the same kind with ``sum(len(p) for p in predictives)`` points.

    Raises
    ------
    InputError
        For an empty sequence or parts that do not match.
    """
    parts = list(predictives)
    if not parts:
        raise InputError("concat needs at least one predictive; got an empty sequence.")
    cls = type(parts[0])
    for i, p in enumerate(parts):
        if not isinstance(p, Predictive):
            raise InputError(
                f"predictives[{i}] is a {type(p).__name__}, not a Predictive; pass "
                "predictive objects."
            )
        if type(p) is not cls:
            raise InputError(
                f"predictives[{i}] is a {p.kind} predictive but predictives[0] is a "
                f"{parts[0].kind} predictive; concat joins one kind only."
            )
    splits = {p.has_split for p in parts}
    if isinstance(parts[0], (GaussianPredictive, MixturePredictive, BoundedPredictive)):
        if len(splits) > 1:
            raise InputError(
                "some predictives carry epistemic_variance and some do not; concat needs all "
                "or none of them to have the split."
            )
    epi = np.concatenate([p.epistemic_variance for p in parts]) if splits == {True} else None

    if isinstance(parts[0], GaussianPredictive):
        gs: list[GaussianPredictive] = parts  # type: ignore[assignment]
        out: Predictive = GaussianPredictive(
            np.concatenate([p.mean for p in gs]), np.concatenate([p.stddev for p in gs]), epi
        )
    elif isinstance(parts[0], MixturePredictive):
        ms: list[MixturePredictive] = parts  # type: ignore[assignment]
        ks = sorted({p.n_components for p in ms})
        if len(ks) > 1:
            raise InputError(
                f"mixture predictives have different numbers of components {ks}; concat needs "
                "the same K for all (pad with zero-weight components if needed)."
            )
        out = MixturePredictive(
            np.concatenate([p.weights for p in ms]),
            np.concatenate([p.locs for p in ms]),
            np.concatenate([p.scales for p in ms]),
            epi,
        )
    elif isinstance(parts[0], SamplePredictive):
        ss: list[SamplePredictive] = parts  # type: ignore[assignment]
        draws = sorted({p.n_draws for p in ss})
        if len(draws) > 1:
            raise InputError(
                f"samples predictives have different numbers of draws {draws}; concat needs "
                "the same S for all."
            )
        plain = {p.is_plain for p in ss}
        if len(plain) > 1:
            raise InputError(
                "some samples predictives are plain samples and some have per-pass scales; "
                "concat needs all of one sort."
            )
        scales = None
        if plain == {False}:
            scales = np.concatenate([p.scales for p in ss if p.scales is not None])
        out = SamplePredictive(np.concatenate([p.locs for p in ss]), scales)
    elif isinstance(parts[0], BoundedPredictive):
        bs: list[BoundedPredictive] = parts  # type: ignore[assignment]
        ks = sorted({p.n_components for p in bs})
        if len(ks) > 1:
            raise InputError(
                f"bounded predictives have different numbers of components {ks}; concat needs "
                "the same K for all (pad with zero-weight components if needed)."
            )
        out = BoundedPredictive(
            np.concatenate([p.weights for p in bs]),
            np.concatenate([p.locs for p in bs]),
            np.concatenate([p.scales for p in bs]),
            np.concatenate([p.lower for p in bs]),
            np.concatenate([p.upper for p in bs]),
            np.concatenate([p.p_lower for p in bs]),
            np.concatenate([p.p_upper for p in bs]),
            epi,
        )
    else:  # pragma: no cover - a subclass from outside this module
        raise UnsupportedOperationError(f"concat does not know how to join {cls.__name__} objects.")
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# ledger records
# --------------------------------------------------------------------------------------------


def _record_field(rec: dict[str, Any], key: str, i: int, kind: str) -> Any:
    if key not in rec:
        raise InputError(
            f"records[{i}] ({kind}) has no {key!r} field (it has {sorted(rec)}); pass records "
            "written by Predictive.to_records."
        )
    return rec[key]


def _padded(rows: list[list[float]], fill: float, width: int) -> FloatArray:
    return np.array([list(r) + [fill] * (width - len(r)) for r in rows], dtype=np.float64)


def predictive_from_records(records: Sequence[str]) -> Predictive:
    """Rebuild a predictive from the JSON strings of :meth:`Predictive.to_records`.

    Parameters
    ----------
    records : sequence of str
        One JSON object per point, all of one kind. An object without a ``"kind"`` key in the
        older ledger format ``{"w": [...], "loc": [...], "scale": [...]}`` (written for
        mixtures and samples alike) is read as a :class:`MixturePredictive`; rows with fewer
        components are padded with zero-weight components.

    Returns
    -------
    Predictive
        Of the recorded kind, one point per record, in order.

    Raises
    ------
    InputError
        For an empty list, a string that is not a JSON object, mixed kinds, an unknown kind,
        a missing field, or values the kind's constructor rejects.

    Examples
    --------
    >>> p = GaussianPredictive([0.0, 1.0], [1.0, 2.0])
    >>> predictive_from_records(p.to_records([1])).mean
    array([1.])
    """
    recs: list[dict[str, Any]] = []
    if isinstance(records, str):
        raise InputError(
            "records must be a list of JSON strings, not one string; wrap it in a list."
        )
    for i, text in enumerate(records):
        try:
            rec = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"records[{i}] is not valid JSON ({exc}); pass the strings of to_records."
            ) from None
        if not isinstance(rec, dict):
            raise InputError(f"records[{i}] is a JSON {type(rec).__name__}, not an object.")
        recs.append(rec)
    if not recs:
        raise InputError("records is empty; a predictive needs at least one point.")
    kinds = [rec.get("kind", "mixture") for rec in recs]
    if len(set(kinds)) > 1:
        first = next(i for i, k in enumerate(kinds) if k != kinds[0])
        raise InputError(
            f"records hold more than one kind: records[0] is {kinds[0]!r} but records[{first}] "
            f"is {kinds[first]!r}; rebuild each kind with its own call."
        )
    kind = kinds[0]
    epi = None
    if all("epistemic_variance" in r for r in recs):
        epi = [r["epistemic_variance"] for r in recs]
    if kind == "gaussian":
        return GaussianPredictive(
            [_record_field(r, "mean", i, kind) for i, r in enumerate(recs)],
            [_record_field(r, "std", i, kind) for i, r in enumerate(recs)],
            epi,
        )
    if kind == "samples":
        locs = [_record_field(r, "loc", i, kind) for i, r in enumerate(recs)]
        scales = [r.get("scale") for r in recs]
        plain = {s is None for s in scales}
        if len(plain) > 1:
            raise InputError("samples records mix plain samples (scale null) and per-pass scales.")
        return SamplePredictive(locs, None if plain == {True} else scales)
    if kind in ("mixture", "bounded"):
        w = [_record_field(r, "w", i, kind) for i, r in enumerate(recs)]
        loc = [_record_field(r, "loc", i, kind) for i, r in enumerate(recs)]
        scale = [_record_field(r, "scale", i, kind) for i, r in enumerate(recs)]
        for i, (a, b, c) in enumerate(zip(w, loc, scale)):
            if not (isinstance(a, list) and isinstance(b, list) and isinstance(c, list)) or not (
                len(a) == len(b) == len(c) >= 1
            ):
                raise InputError(
                    f"records[{i}] ({kind}) needs lists w, loc and scale of one equal, non-zero "
                    "length."
                )
        width = max(len(a) for a in w)
        weights, locs, scales = _padded(w, 0.0, width), _padded(loc, 0.0, width), _padded(scale, 1.0, width)
        if kind == "mixture":
            return MixturePredictive(weights, locs, scales, epi)
        def bound(key: str, default: float) -> FloatArray:
            return np.array([default if r.get(key) is None else r[key] for r in recs], dtype=np.float64)
        return BoundedPredictive(
            weights,
            locs,
            scales,
            bound("lower", -np.inf),
            bound("upper", np.inf),
            [r.get("p_lower", 0.0) for r in recs],
            [r.get("p_upper", 0.0) for r in recs],
            epi,
        )
    if kind == "recalibrated":
        from bdl.calibration.recalibration import MonotoneMap, RecalibratedPredictive

        maps = [_record_field(r, "map", i, kind) for i, r in enumerate(recs)]
        if any(m != maps[0] for m in maps):
            raise InputError(
                "recalibrated records carry different recalibration maps; rebuild the points of "
                "each map with their own call."
            )
        try:
            mapping = MonotoneMap(maps[0]["knots_x"], maps[0]["knots_y"], maps[0]["slope_floor"])
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"records[0] (recalibrated) has a map without knots_x, knots_y and slope_floor ({exc})."
            ) from None
        bases = [json.dumps(_record_field(r, "base", i, kind)) for i, r in enumerate(recs)]
        return RecalibratedPredictive(predictive_from_records(bases), mapping)
    raise InputError(
        f"records are of unknown kind {kind!r}; known kinds: bounded, gaussian, mixture, "
        "recalibrated, samples."
    )
