"""Modes of one-dimensional Gaussian-mixture predictives, vectorised over candidates.

Counting the components of a mixture density network says little: two components with close
means make one mode, and a component with a tiny weight is noise. :func:`find_modes` finds the
modes of the *density* instead. For every candidate the log-density is evaluated on a grid
(``grid_size`` uniform points over the support of the components that carry weight, plus the
component means themselves, so a narrow spike such as a point mass of metals at 0 eV is never
stepped over); the local maxima on the grid are the modes and the local minima between them
split the real line into basins of attraction. Each basin's probability mass, mean and
variance come in closed form from the mixture's cdf and the truncated moments of its
Gaussian components, so they partition the distribution exactly::

    total variance = sum_j m_j v_j  +  sum_j m_j (mu_j - mu)^2
                     (within modes)    (between modes)

The separation of the two heaviest modes is measured with Ashman's D [1]_,
``D = sqrt(2) |mu_1 - mu_2| / sqrt(v_1 + v_2)``; a 50/50 mixture of two equal Gaussians is
bimodal exactly when D > 2, and D > 2 is the usual reading of "clean separation". The depth of
the valley between them is ``1 - f(valley) / min(f(peak_1), f(peak_2))``.

The work is chunked over candidates so that no intermediate holds more than about
``_MAX_CELLS`` floats: 100 000 candidates of a 10-component MDN take a few seconds and well
under a gigabyte.

References
----------
.. [1] K. M. Ashman, C. M. Bird and S. E. Zepf, "Detecting bimodality in astronomical
   datasets", Astronomical Journal 108 (1994) 2348-2361.
.. [2] M. A. Carreira-Perpinan, "Mode-finding for mixtures of Gaussian distributions", IEEE
   Trans. Pattern Analysis and Machine Intelligence 22 (2000) 1318-1323 (modes of Gaussian
   mixtures; at most K modes in one dimension for K equal-variance components).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtr

from bdl.errors import InputError

__all__ = ["Modes", "find_modes", "mixture_arrays", "mixture_log_density", "mixture_or_none"]

FloatArray = NDArray[np.float64]

#: Largest number of (candidate x grid point x component) cells one chunk evaluates.
_MAX_CELLS = 4_000_000
#: Components below this weight do not stretch the grid (they still count in the density).
_RANGE_WEIGHT = 1e-3
#: The grid reaches this many component scales beyond the outermost weighted components.
_RANGE_SCALES = 5.0
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Modes:
    """The modes of ``n`` one-dimensional predictive densities.

    Modes are listed heaviest first; ``locations`` and ``masses`` are padded (NaN and 0) to the
    largest number of weighted modes found, at least 2 columns.

    Attributes
    ----------
    n_modes : ndarray of int of shape (n,)
        Number of modes whose basin holds at least ``min_mass`` of the probability.
    locations : ndarray of shape (n, m)
        Positions of those modes (grid resolution; exact for modes at a component mean).
    masses : ndarray of shape (n, m)
        Probability mass of each mode's basin of attraction.
    means, variances : ndarray of shape (n, m)
        Mean and variance of the distribution restricted to each basin.
    ashman_d : ndarray of shape (n,)
        Ashman's D [1]_ of the two heaviest basins; 0 when the density has one mode.
    valley_depth : ndarray of shape (n,)
        ``1 - f(valley) / min(f(peak_1), f(peak_2))`` between the two heaviest basins, in
        [0, 1]; 0 for one mode.
    second_mass : ndarray of shape (n,)
        Mass of the second-heaviest basin (0 for one mode), whether or not it reaches
        ``min_mass``.
    between_variance : ndarray of shape (n,)
        ``sum_j m_j (mu_j - mu)^2`` over all basins: the variance that the spread between modes
        explains (law of total variance over basins).
    variance : ndarray of shape (n,)
        Total variance of the mixture.
    peak_log_density : ndarray of shape (n, 2)
        Log-density at the two heaviest modes (NaN where absent).
    min_mass : float
        The threshold used for ``n_modes``.
    """

    n_modes: NDArray[np.int64]
    locations: FloatArray
    masses: FloatArray
    means: FloatArray
    variances: FloatArray
    ashman_d: FloatArray
    valley_depth: FloatArray
    second_mass: FloatArray
    between_variance: FloatArray
    variance: FloatArray
    peak_log_density: FloatArray
    min_mass: float

    def __len__(self) -> int:
        return int(self.n_modes.shape[0])

    @property
    def between_share(self) -> FloatArray:
        """Share of the mixture's own variance explained by the spread between its modes."""
        return np.divide(self.between_variance, self.variance, out=np.zeros_like(self.variance),
                         where=self.variance > 0)

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate: counts, the two heaviest modes and the separation numbers."""
        return pd.DataFrame(
            {
                "n_modes": self.n_modes,
                "mode_1": self.locations[:, 0],
                "mode_2": self.locations[:, 1],
                "mass_1": self.masses[:, 0],
                "mass_2": self.masses[:, 1],
                "second_mass": self.second_mass,
                "ashman_d": self.ashman_d,
                "valley_depth": self.valley_depth,
                "between_mode_std": np.sqrt(self.between_variance),
            }
        )


def mixture_or_none(pred: Any, name: str = "pred") -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """``(weights, locs, scales)`` of shape (n, K) when ``pred`` has a Gaussian-mixture form
    (Gaussian, mixture and sample kinds), else None (the bounded kind); built once."""
    from bdl.errors import UnsupportedOperationError

    try:
        return mixture_arrays(pred, name)
    except UnsupportedOperationError:
        return None


def mixture_arrays(pred: Any, name: str = "pred") -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(weights, locs, scales)`` of shape (n, K) from any predictive, with a clear error.

    Parameters
    ----------
    pred : bdl.predictive.Predictive
        Anything with ``as_mixture()`` (every kind of :mod:`bdl.predictive`).
    name : str
        Argument name for the error message.
    """
    if not hasattr(pred, "as_mixture"):
        raise InputError(
            f"{name} must be a bdl predictive (GaussianPredictive, MixturePredictive or "
            f"SamplePredictive, e.g. model.predict_dist(X)), got {type(pred).__name__}."
        )
    w, loc, scale = (np.asarray(a, dtype=np.float64) for a in pred.as_mixture())
    return w, loc, scale


def mixture_log_density(w: FloatArray, loc: FloatArray, scale: FloatArray, x: FloatArray) -> FloatArray:
    """Log-density of n mixtures at m points each.

    Parameters
    ----------
    w, loc, scale : ndarray of shape (n, K)
    x : ndarray of shape (n, m)

    Returns
    -------
    ndarray of shape (n, m)
    """
    with np.errstate(divide="ignore"):
        logw = np.log(w) - np.log(scale) - _LOG_SQRT_2PI
    t = x[:, :, None] - loc[:, None, :]
    t /= scale[:, None, :]
    np.square(t, out=t)
    t *= -0.5
    t += logw[:, None, :]
    top = t.max(axis=2, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    t -= top
    np.exp(t, out=t)
    with np.errstate(divide="ignore"):
        return np.log(t.sum(axis=2)) + top[:, :, 0]


def _partial_moments(
    w: FloatArray, loc: FloatArray, scale: FloatArray, a: FloatArray, b: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Zeroth, first and second partial moments of n mixtures over [a, b], a/b of shape (n, m).

    For one component N(mu, s^2), with alpha = (a - mu)/s, beta = (b - mu)/s,
    Z = Phi(beta) - Phi(alpha):
    ``int x f = mu Z + s (phi(alpha) - phi(beta))`` and
    ``int x^2 f = mu^2 Z + 2 mu s (phi(alpha) - phi(beta)) + s^2 (Z - (beta phi(beta) - alpha phi(alpha)))``.
    """
    al = (a[:, :, None] - loc[:, None, :]) / scale[:, None, :]
    be = (b[:, :, None] - loc[:, None, :]) / scale[:, None, :]
    z0 = ndtr(be) - ndtr(al)
    with np.errstate(over="ignore", invalid="ignore"):
        pa = np.exp(-0.5 * al * al) * _INV_SQRT_2PI
        pb = np.exp(-0.5 * be * be) * _INV_SQRT_2PI
        apa = np.where(np.isfinite(al), al * pa, 0.0)
        bpb = np.where(np.isfinite(be), be * pb, 0.0)
    mu, s = loc[:, None, :], scale[:, None, :]
    ww = w[:, None, :]
    m0 = np.sum(ww * z0, axis=2)
    m1 = np.sum(ww * (mu * z0 + s * (pa - pb)), axis=2)
    m2 = np.sum(ww * (mu * mu * z0 + 2 * mu * s * (pa - pb) + s * s * (z0 - (bpb - apa))), axis=2)
    return m0, m1, m2


def _check_settings(min_mass: Any, grid_size: Any) -> tuple[float, int]:
    try:
        mm = float(min_mass)
    except (TypeError, ValueError):
        raise InputError(f"min_mass must be a number in [0, 0.5), got {min_mass!r}.") from None
    if not 0.0 <= mm < 0.5:
        raise InputError(
            f"min_mass must lie in [0, 0.5) (the smallest probability a mode's basin must hold "
            f"to count), got {mm!r}; e.g. min_mass=0.1."
        )
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 16:
        raise InputError(f"grid_size must be an int >= 16 (points per candidate), got {grid_size!r}.")
    return mm, int(grid_size)


def _modes_chunk(
    w: FloatArray, loc: FloatArray, scale: FloatArray, grid_size: int, min_mass: float
) -> dict[str, Any]:
    n, k = w.shape
    weighted = w >= _RANGE_WEIGHT
    lo = np.min(np.where(weighted, loc - _RANGE_SCALES * scale, np.inf), axis=1)
    hi = np.max(np.where(weighted, loc + _RANGE_SCALES * scale, -np.inf), axis=1)
    t = np.linspace(0.0, 1.0, grid_size)
    grid = np.concatenate([lo[:, None] + (hi - lo)[:, None] * t, np.clip(loc, lo[:, None], hi[:, None])], axis=1)
    grid.sort(axis=1)
    logf = mixture_log_density(w, loc, scale, grid)
    m = grid.shape[1]

    inner = logf[:, 1:-1]
    is_max = np.zeros((n, m), dtype=bool)
    is_min = np.zeros((n, m), dtype=bool)
    is_max[:, 1:-1] = (inner > logf[:, :-2]) & (inner >= logf[:, 2:])
    is_min[:, 1:-1] = (inner < logf[:, :-2]) & (inner <= logf[:, 2:])
    # a maximum at the grid's edge (only for a degenerate grid) still makes one basin
    basin = np.cumsum(is_min, axis=1)  # basin label of every grid point
    n_basins = basin[:, -1] + 1
    nb = int(n_basins.max())

    # basin boundaries: -inf, the minima in order, +inf
    min_pos = np.full((n, nb + 1), np.inf)
    min_pos[:, 0] = -np.inf
    r, c = np.nonzero(is_min)
    min_pos[r, basin[r, c]] = grid[r, c]
    a, b = min_pos[:, :-1], min_pos[:, 1:]
    valid = np.arange(nb)[None, :] < n_basins[:, None]
    a = np.where(valid, a, 0.0)
    b = np.where(valid, b, 0.0)
    m0, m1, m2 = _partial_moments(w, loc, scale, a, b)
    m0 = np.where(valid, np.maximum(m0, 0.0), 0.0)
    safe = np.maximum(m0, 1e-300)
    bmean = np.where(valid, m1 / safe, np.nan)
    bvar = np.where(valid, np.maximum(m2 / safe - bmean**2, 0.0), np.nan)

    # peak of every basin: the highest grid point carrying its label
    peak_logf = np.full((n, nb), -np.inf)
    peak_x = np.full((n, nb), np.nan)
    peak_col = np.zeros((n, nb), dtype=np.int64)
    for j in range(nb):
        masked = np.where(basin == j, logf, -np.inf)
        col = np.argmax(masked, axis=1)
        peak_col[:, j] = col
        peak_logf[:, j] = masked[np.arange(n), col]
        peak_x[:, j] = grid[np.arange(n), col]
    peak_x = np.where(valid, peak_x, np.nan)

    mean = np.sum(w * loc, axis=1)
    variance = np.sum(w * (scale**2 + (loc - mean[:, None]) ** 2), axis=1)
    between = np.nansum(m0 * (np.nan_to_num(bmean) - mean[:, None]) ** 2, axis=1)

    order = np.argsort(-m0, axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    masses = m0[rows, order]
    counts = (masses >= min_mass).sum(axis=1)
    counts = np.maximum(counts, 1)

    # separation of the two heaviest basins
    i1, i2 = order[:, 0], order[:, 1] if nb > 1 else order[:, 0]
    ar = np.arange(n)
    two = n_basins >= 2
    mu1, mu2 = bmean[ar, i1], bmean[ar, i2]
    v1, v2 = bvar[ar, i1], bvar[ar, i2]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.sqrt(2.0) * np.abs(mu1 - mu2) / np.sqrt(v1 + v2)
    d = np.where(two & np.isfinite(d), d, np.where(two, np.inf, 0.0))
    c1, c2 = peak_col[ar, i1], peak_col[ar, i2]
    left, right = np.minimum(c1, c2), np.maximum(c1, c2)
    cols = np.arange(m)[None, :]
    between_cols = (cols >= left[:, None]) & (cols <= right[:, None])
    valley = np.min(np.where(between_cols, logf, np.inf), axis=1)
    lower_peak = np.minimum(peak_logf[ar, i1], peak_logf[ar, i2])
    depth = np.where(two, 1.0 - np.exp(np.minimum(valley - lower_peak, 0.0)), 0.0)
    second = np.where(two, masses[:, 1] if nb > 1 else 0.0, 0.0)
    pk = np.stack([peak_logf[ar, i1], np.where(two, peak_logf[ar, i2], np.nan)], axis=1)
    return {
        "n_modes": counts,
        "locations": peak_x[rows, order],
        "masses": masses,
        "means": bmean[rows, order],
        "variances": bvar[rows, order],
        "ashman_d": d,
        "valley_depth": depth,
        "second_mass": second,
        "between_variance": between,
        "variance": variance,
        "peak_log_density": pk,
    }


def find_modes(pred: Any, min_mass: float = 0.1, grid_size: int = 256) -> Modes:
    """Find the modes of every candidate's predictive density.

    Parameters
    ----------
    pred : bdl.predictive.Predictive
        Any kind. Kinds with a Gaussian-mixture form are read through ``as_mixture()``
        (closed forms; for the sample kind with many draws the cost grows with K); the others
        (the bounded kind: truncated components plus point masses) through ``log_prob`` on a
        grid and ``cdf`` at the valleys, each point mass a mode of its own.
    min_mass : float, default 0.1
        A mode counts in ``n_modes`` when its basin of attraction holds at least this much
        probability. 0.1 ignores ripples and stray components yet keeps a 80/20 split of two
        phases (see :class:`bdl.diagnostics.TriageThresholds` for how it was chosen).
    grid_size : int, default 256
        Uniform grid points per candidate over ``[min(loc - 5 scale), max(loc + 5 scale)]`` of
        the components with weight >= 1e-3; the K component means are added to the grid.

    Returns
    -------
    Modes
        Per-candidate mode count, locations and masses (heaviest first, padded), Ashman's D and
        the valley depth of the two heaviest modes, and the between-mode variance.

    Raises
    ------
    InputError
        If ``pred`` is not a predictive, or for a bad ``min_mass`` / ``grid_size``.

    Examples
    --------
    >>> from bdl.predictive import MixturePredictive
    >>> p = MixturePredictive([[0.5, 0.5]], [[-3.0, 3.0]], [[1.0, 1.0]])
    >>> int(find_modes(p).n_modes[0])
    2
    """
    mm, g = _check_settings(min_mass, grid_size)
    if not hasattr(pred, "log_prob") or not hasattr(pred, "cdf"):
        raise InputError(
            f"pred must be a bdl predictive (e.g. model.predict_dist(X)), got {type(pred).__name__}."
        )
    mixture = mixture_or_none(pred)
    if mixture is None:
        return _find_modes_generic(pred, mm, g)
    w, loc, scale = mixture
    n, k = w.shape
    step = max(1, _MAX_CELLS // ((g + k) * k))
    parts = [_modes_chunk(w[i : i + step], loc[i : i + step], scale[i : i + step], g, mm) for i in range(0, n, step)]
    width = max(2, max(int(p["n_modes"].max()) for p in parts))

    def pad(key: str, fill: float) -> FloatArray:
        out = np.full((n, width), fill)
        i = 0
        for p in parts:
            arr = p[key][:, :width]
            out[i : i + len(arr), : arr.shape[1]] = arr
            i += len(arr)
        return out

    def cat(key: str) -> Any:
        return np.concatenate([p[key] for p in parts])

    masses = pad("masses", 0.0)
    keep = np.arange(width)[None, :] < cat("n_modes")[:, None]
    return Modes(
        n_modes=cat("n_modes").astype(np.int64),
        locations=np.where(keep, pad("locations", np.nan), np.nan),
        masses=np.where(keep, masses, 0.0),
        means=np.where(keep, pad("means", np.nan), np.nan),
        variances=np.where(keep, pad("variances", np.nan), np.nan),
        ashman_d=cat("ashman_d"),
        valley_depth=cat("valley_depth"),
        second_mass=cat("second_mass"),
        between_variance=cat("between_variance"),
        variance=cat("variance"),
        peak_log_density=cat("peak_log_density"),
        min_mass=mm,
    )


# ------------------------------------------------------------------ any kind, through log_prob / cdf
def _atoms(pred: Any, n: int) -> list[tuple[FloatArray, FloatArray]]:
    """``[(position, mass), ...]`` of the point masses a predictive declares (bounded kind)."""
    out: list[tuple[FloatArray, FloatArray]] = []
    for pos, mass in (("lower", "p_lower"), ("upper", "p_upper")):
        if hasattr(pred, mass) and hasattr(pred, pos):
            m = np.asarray(getattr(pred, mass), dtype=float).reshape(-1)
            x = np.asarray(getattr(pred, pos), dtype=float).reshape(-1)
            if m.shape == (n,) and np.any(m > 0):
                out.append((x, np.where(np.isfinite(x), m, 0.0)))
    return out


def _continuous_grid(pred: Any, n: int, grid_size: int) -> tuple[FloatArray, FloatArray]:
    """Grid (n, m) over the continuous part and its density there (atoms excluded), (n, m)."""
    q = np.asarray(pred.quantile(np.array([1e-4, 0.5, 1 - 1e-4])), dtype=float)  # (3, n)
    lo, hi = q[0], q[2]
    lower = np.asarray(getattr(pred, "lower", np.full(n, -np.inf)), dtype=float).reshape(-1)
    upper = np.asarray(getattr(pred, "upper", np.full(n, np.inf)), dtype=float).reshape(-1)
    # quantiles stick to an atom; widen to the component spread so the continuous part is seen
    if hasattr(pred, "locs") and hasattr(pred, "scales"):
        locs = np.asarray(pred.locs, dtype=float)
        scales = np.asarray(pred.scales, dtype=float)
        lo = np.minimum(lo, np.min(locs - _RANGE_SCALES * scales, axis=1))
        hi = np.maximum(hi, np.max(locs + _RANGE_SCALES * scales, axis=1))
    lo = np.maximum(lo, lower)
    hi = np.minimum(hi, upper)
    width = np.maximum(hi - lo, 1e-9 * np.maximum(1.0, np.abs(q[1])))
    hi = lo + width
    t = np.linspace(0.0, 1.0, grid_size)
    grid = lo[:, None] + width[:, None] * t
    # stay strictly inside the bounds: log_prob at a bound with an atom is the atom's mass
    eps = 1e-9 * width[:, None]
    grid = np.clip(grid, np.where(np.isfinite(lower), lower, -np.inf)[:, None] + eps,
                   np.where(np.isfinite(upper), upper, np.inf)[:, None] - eps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logf = np.asarray(pred.log_prob(grid.T), dtype=float).T
    logf = np.where(np.isfinite(logf), logf, -np.inf)
    return grid, logf


def _find_modes_generic(pred: Any, min_mass: float, grid_size: int) -> Modes:
    """:func:`find_modes` for a kind without a Gaussian-mixture form (e.g. "bounded").

    The continuous part is read on a grid through ``log_prob``; its basins' masses come from
    ``cdf`` at the valley points (exact), their means and variances from the trapezoid rule on
    the grid. Each point mass (``p_lower`` at ``lower``, ``p_upper`` at ``upper``) is a mode
    of its own with zero variance; between an atom and the nearest continuous peak the valley
    is the lowest continuous density on the way.
    """
    n = len(pred)
    grid, logf = _continuous_grid(pred, n, grid_size)
    atoms = _atoms(pred, n)
    # valley points per row (a Python loop over rows: slower than the mixture path, fine for the
    # few thousand candidates of a campaign round)
    f = np.exp(logf)
    valley_x: list[FloatArray] = []
    for i in range(n):
        li = logf[i]
        inner = li[1:-1]
        is_min = np.zeros(grid_size, dtype=bool)
        is_min[1:-1] = (inner < li[:-2]) & (inner <= li[2:])
        valley_x.append(grid[i, is_min])
    nv = max(len(v) for v in valley_x) if n else 0
    pts = np.full((max(nv, 1), n), np.inf)
    for i, v in enumerate(valley_x):
        pts[: len(v), i] = v
    cdf_v = np.asarray(pred.cdf(np.where(np.isfinite(pts), pts, 0.0)), dtype=float).reshape(max(nv, 1), n)
    atom_lo = np.zeros(n)
    atom_hi = np.zeros(n)
    lower = np.asarray(getattr(pred, "lower", np.full(n, -np.inf)), dtype=float).reshape(-1)
    for x, m in atoms:
        is_lo = np.isclose(x, lower)
        atom_lo = atom_lo + np.where(is_lo, m, 0.0)
        atom_hi = atom_hi + np.where(is_lo, 0.0, m)
    out_n, out_loc, out_mass, out_mean, out_var = [], [], [], [], []
    d_all, depth_all, second_all, between_all, var_all, pk_all = [], [], [], [], [], []
    mean_all = np.asarray(pred.mean, dtype=float)
    var_total = np.asarray(pred.variance, dtype=float)
    for i in range(n):
        g, fi, li = grid[i], f[i], logf[i]
        v = valley_x[i]
        edges = np.concatenate([[-np.inf], v, [np.inf]])
        # basin masses of the continuous part: cdf differences minus the atoms at the ends
        cum = np.concatenate([[atom_lo[i]], cdf_v[: len(v), i], [1.0 - atom_hi[i]]])
        masses = np.maximum(np.diff(cum), 0.0)
        means, varis, peaks_x, peaks_lf = [], [], [], []
        for j in range(len(edges) - 1):
            sel = (g >= edges[j]) & (g <= edges[j + 1])
            gj, fj = g[sel], fi[sel]
            z = np.trapezoid(fj, gj) if gj.size > 1 else 0.0
            if z > 0:
                mu = float(np.trapezoid(fj * gj, gj) / z)
                vv = float(max(np.trapezoid(fj * (gj - mu) ** 2, gj) / z, 0.0))
            else:
                mu, vv = float(gj.mean()) if gj.size else np.nan, 0.0
            k = int(np.argmax(li[sel])) if gj.size else 0
            means.append(mu)
            varis.append(vv)
            peaks_x.append(float(gj[k]) if gj.size else np.nan)
            peaks_lf.append(float(li[sel][k]) if gj.size else -np.inf)
        # atoms as modes of their own (infinite density: peak log density +inf)
        if atom_lo[i] > 0:
            pos = float(lower[i])
            masses = np.concatenate([[atom_lo[i]], masses])
            means, varis = [pos, *means], [0.0, *varis]
            peaks_x, peaks_lf = [pos, *peaks_x], [np.inf, *peaks_lf]
        if atom_hi[i] > 0:
            pos = float(np.asarray(pred.upper, dtype=float).reshape(-1)[i])
            masses = np.concatenate([masses, [atom_hi[i]]])
            means, varis = [*means, pos], [*varis, 0.0]
            peaks_x, peaks_lf = [*peaks_x, pos], [*peaks_lf, np.inf]
        masses = np.asarray(masses)
        means_a, vars_a = np.asarray(means), np.asarray(varis)
        px, plf = np.asarray(peaks_x), np.asarray(peaks_lf)
        order = np.argsort(-masses, kind="stable")
        m_sorted = masses[order]
        cnt = max(int((m_sorted >= min_mass).sum()), 1)
        out_n.append(cnt)
        out_loc.append(px[order])
        out_mass.append(m_sorted)
        out_mean.append(means_a[order])
        out_var.append(vars_a[order])
        mu_tot = mean_all[i]
        between_all.append(float(np.nansum(masses * (np.nan_to_num(means_a) - mu_tot) ** 2)))
        var_all.append(float(var_total[i]))
        if len(masses) >= 2:
            i1, i2 = int(order[0]), int(order[1])
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.sqrt(2.0) * abs(means_a[i1] - means_a[i2]) / np.sqrt(vars_a[i1] + vars_a[i2])
            d_all.append(float(d) if np.isfinite(d) else np.inf)
            a_, b_ = sorted((px[i1], px[i2]))
            between = (g >= a_) & (g <= b_)
            valley = float(np.min(li[between])) if between.any() else -np.inf
            finite_peaks = [p for p in (plf[i1], plf[i2]) if np.isfinite(p)]
            lowp = min(finite_peaks) if finite_peaks else valley
            depth = 1.0 - float(np.exp(min(valley - lowp, 0.0))) if np.isfinite(lowp) else 0.0
            depth_all.append(depth)
            second_all.append(float(m_sorted[1]))
            pk_all.append([plf[i1], plf[i2]])
        else:
            d_all.append(0.0)
            depth_all.append(0.0)
            second_all.append(0.0)
            pk_all.append([plf[order[0]], np.nan])
    width = max(2, max(out_n) if out_n else 2)

    def pad(vals: list[FloatArray], fill: float) -> FloatArray:
        arr = np.full((n, width), fill)
        for i, v in enumerate(vals):
            k = min(out_n[i], width)
            arr[i, :k] = v[:k]
        return arr

    pk = np.asarray(pk_all, dtype=float).reshape(n, 2)
    # an atom's "peak density" is infinite; keep the finite peak for valley comparisons
    pk = np.where(np.isposinf(pk), np.nan, pk)
    pk[:, 0] = np.where(np.isnan(pk[:, 0]), pk[:, 1], pk[:, 0])
    return Modes(
        n_modes=np.asarray(out_n, dtype=np.int64),
        locations=pad(out_loc, np.nan),
        masses=pad(out_mass, 0.0),
        means=pad(out_mean, np.nan),
        variances=pad(out_var, np.nan),
        ashman_d=np.asarray(d_all, dtype=float),
        valley_depth=np.asarray(depth_all, dtype=float),
        second_mass=np.asarray(second_all, dtype=float),
        between_variance=np.asarray(between_all, dtype=float),
        variance=np.asarray(var_all, dtype=float),
        peak_log_density=pk,
        min_mass=min_mass,
    )
