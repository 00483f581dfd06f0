"""The bounded kind: truncated Gaussian mixtures with point masses at the bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp, ndtr, ndtri

from bdl._validation import rows_text
from bdl.errors import InputError, UnsupportedOperationError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    import pandas as pd

from bdl.predictive._numerics import (
    _check_mixture_arrays,
    FloatArray,
    _BRACKET_SCALES,
    _CRPS_BREAKS,
    _CRPS_BUDGET,
    _CRPS_GL_NODES,
    _bad_rows,
    _frozen,
    _log_ndtr_diff,
    _log_normal_pdf,
    _log_weights,
    _optional_bound,
    _optional_mass,
    _rtsafe,
    _standardise,
    _truncnorm_ppf,
)
from bdl.predictive._improvement import _bounded_log_ei
from bdl.predictive.base import Predictive, _joined_split


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
        w, loc, scale, sums = _check_mixture_arrays(
            weights, locs, scales,
            "pass the shares of the truncated components (probabilities within the continuous part).",
            "they are the shares of the continuous part: normalise them, and give the point masses "
            "through p_lower / p_upper.",
        )
        n = w.shape[0]
        lo = _optional_bound("lower", lower, n, -np.inf)
        hi = _optional_bound("upper", upper, n, np.inf)
        crossed = ~(lo < hi)
        if crossed.any():
            rows = np.flatnonzero(crossed)
            r = int(rows[0])
            raise InputError(
                f"lower must be below upper, but not in {rows_text(rows)} (row {r} has lower "
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
                    f"{rows_text(rows)} (row {int(rows[0])} has {name} {float(mass[rows[0]])!r}); "
                    f"pass a finite {side}=... (e.g. lower=0.0 for a band gap) or {name}=0."
                )
        total = pl + pu
        over = total > 1.0 + 1e-12
        if over.any():
            rows = np.flatnonzero(over)
            r = int(rows[0])
            raise InputError(
                f"p_lower + p_upper must not exceed 1, but does in {rows_text(rows)} (row {r} "
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
                f"a component has no probability inside [lower, upper] in {rows_text(rows)} "
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
        self._set_split(epistemic_variance)

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

    def _log_prob(self, yy: FloatArray) -> FloatArray:
        """Log of the mixed measure at ``y``; shapes as in :meth:`Predictive.log_prob`.

        ``log p_lower`` at ``y == lower`` when ``p_lower > 0`` (the log-probability of the
        atom, not a density), likewise at ``upper``; ``log(c) + log`` of the continuous
        density inside; ``-inf`` outside ``[lower, upper]``.
        """
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

    def _cdf(self, yy: FloatArray) -> FloatArray:
        """``P(Y <= y)``, the atoms included; shapes as in :meth:`Predictive.log_prob`."""
        inside = self._p_lower + self._cont * np.exp(self._cont_log_cdf(yy))
        out = np.where(yy < self._lower, 0.0, np.where(yy >= self._upper, 1.0, inside))
        return np.clip(out, 0.0, 1.0)

    def _left_cdf(self, yy: FloatArray) -> FloatArray:
        """``P(Y < y)``: :meth:`cdf` without the atom at ``y``."""
        inside = self._p_lower + self._cont * np.exp(self._cont_log_cdf(yy))
        out = np.where(yy <= self._lower, 0.0, np.where(yy > self._upper, 1.0, inside))
        return np.clip(out, 0.0, 1.0)

    def _sf(self, yy: FloatArray) -> FloatArray:
        """``P(Y > y)``, accurate in the upper tail; the atom at ``upper`` included below it."""
        inside = self._p_upper + self._cont * np.exp(self._cont_log_sf(yy))
        out = np.where(yy < self._lower, 1.0, np.where(yy >= self._upper, 0.0, inside))
        return np.clip(out, 0.0, 1.0)

    def _log_cdf(self, yy: FloatArray) -> FloatArray:
        """``log P(Y <= y)``, finite far into the lower tail of the continuous part."""
        with np.errstate(divide="ignore"):
            inside = self._with_atom(np.log(self._p_lower), self._cont_log_cdf(yy))
        return np.where(yy < self._lower, -np.inf, np.where(yy >= self._upper, 0.0, inside))

    def _log_left_cdf(self, yy: FloatArray) -> FloatArray:
        """``log P(Y < y)``."""
        with np.errstate(divide="ignore"):
            inside = self._with_atom(np.log(self._p_lower), self._cont_log_cdf(yy))
        return np.where(yy <= self._lower, -np.inf, np.where(yy > self._upper, 0.0, inside))

    def _log_sf(self, yy: FloatArray) -> FloatArray:
        """``log P(Y > y)``, finite far into the upper tail of the continuous part."""
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
        log_w = _log_weights(w)

        def f_and_density(active: NDArray[np.intp], xa: FloatArray) -> tuple[FloatArray, FloatArray]:
            rw = rows[active]
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
            return f_val, dens

        result = _rtsafe(f_and_density, x, lo, hi, (1e-12 * (row_hi - row_lo))[rows])
        return result.reshape(m, n)

    def _cont_start(self, rows: NDArray[np.intp], r: FloatArray, rc: FloatArray) -> FloatArray:
        """Starting points of the quantile solver: a normal with the continuous part's moments."""
        w = self._weights
        mu = np.sum(w * self._comp_mean, axis=1)
        var = np.sum(w * (self._comp_var + (self._comp_mean - mu[:, None]) ** 2), axis=1)
        z = np.where(r <= 0.5, ndtri(r), -ndtri(rc))
        return mu[rows] + np.sqrt(var[rows]) * z

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
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

    @property
    def _has_atoms(self) -> bool:
        return True

    # -- acquisition hooks (exact) -------------------------------------------------------

    def _expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        return np.exp(self._log_expected_improvement(best, xi, maximize))

    def _log_expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """Exact: truncated components plus atoms (:func:`_bounded_log_ei`)."""
        return _bounded_log_ei(self, best + xi if maximize else best - xi, maximize)

    def _window_probability(self, low: float, high: float) -> FloatArray:
        """The atoms inside the closed window count."""
        return np.clip(np.exp(self._log_interval_mass(low, high)), 0.0, 1.0)

    def _log_window_probability(self, low: float, high: float) -> FloatArray:
        return np.asarray(self._log_interval_mass(low, high), dtype=np.float64)

    # -- other hooks ---------------------------------------------------------------------

    def _spread_scaled(self, s: float) -> BoundedPredictive:
        """The untruncated components spread about their own mixture mean; the bounds and the
        point masses stay (a metal stays a metal): only the continuous part widens."""
        m = np.sum(self.weights * self.locs, axis=1)[:, None]
        scaled = BoundedPredictive(
            self.weights, m + s * (self.locs - m), self.scales * s,
            self.lower, self.upper, self.p_lower, self.p_upper,
        )
        if not self.has_split:
            return scaled
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.variance > 0.0, scaled.variance / self.variance, s * s)
        return BoundedPredictive(
            scaled.weights, scaled.locs, scaled.scales, self.lower, self.upper,
            self.p_lower, self.p_upper, np.minimum(self.epistemic_variance * ratio, scaled.variance),
        )

    def _prediction_columns(self) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        for k in range(self.n_components):
            out.update({f"w_{k}": self.weights[:, k], f"mu_{k}": self.locs[:, k],
                        f"sigma_{k}": self.scales[:, k]})
        out.update(lower=self.lower, upper=self.upper, p_lower=self.p_lower, p_upper=self.p_upper)
        return out

    @classmethod
    def _concat(cls, parts: list[BoundedPredictive]) -> BoundedPredictive:  # type: ignore[override]
        epi = _joined_split(parts)
        ks = sorted({p.n_components for p in parts})
        if len(ks) > 1:
            raise InputError(
                f"bounded predictives have different numbers of components {ks}; concat needs "
                "the same K for all (pad with zero-weight components if needed)."
            )
        return BoundedPredictive(
            np.concatenate([p.weights for p in parts]),
            np.concatenate([p.locs for p in parts]),
            np.concatenate([p.scales for p in parts]),
            np.concatenate([p.lower for p in parts]),
            np.concatenate([p.upper for p in parts]),
            np.concatenate([p.p_lower for p in parts]),
            np.concatenate([p.p_upper for p in parts]),
            epi,
        )

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

