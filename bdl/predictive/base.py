"""The abstract predictive: one contract, validation in the base, private hooks in the kinds."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bdl._random import Seed, make_rng
from bdl.errors import InputError, UnsupportedOperationError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    import pandas as pd

from bdl.predictive._crps import _crps_mixture
from bdl.predictive._generic import _generic_log_ei, _generic_log_window
from bdl.predictive._improvement import _h, _ndtr_diff, log_h
from bdl.predictive._improvement import _log_ndtr_diff as _log_ndtr_diff_window
from bdl.predictive._numerics import (
    FloatArray,
    P,
    _check_level,
    _check_n_samples,
    _check_q,
    _check_split,
    _check_y,
    _frozen,
    _import_tfd,
    _mixture_cdf,
    _mixture_log_cdf,
    _mixture_log_prob,
    _mixture_log_sf,
    _mixture_quantile,
    _mixture_sample,
    _mixture_sf,
    _normalise_index,
)


class Predictive(ABC):
    """Abstract base: ``n`` independent 1-D predictive distributions, one per point.

    Subclasses set the class attribute :attr:`kind` and the private arrays ``_mean``,
    ``_variance`` (shape ``(n,)``) and ``_epistemic`` / ``_aleatoric`` (shape ``(n,)`` or
    ``None`` when the kind carries no split), and implement :meth:`as_mixture`. The public
    methods (``cdf``, ``log_prob``, ``quantile``, ``sample``, ...) validate their input here
    and are never overridden; they call private hooks (``_cdf``, ``_log_prob``,
    ``_quantile``, ``_sample``, ``_crps``, ``_expected_improvement``, ...) that have a
    Gaussian-mixture default here and that a kind overrides with its own closed form (the
    pattern of TensorFlow Probability's ``Distribution``).

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

    def _set_split(self, epistemic_variance: ArrayLike | None) -> None:
        """Store the epistemic / aleatoric split of ``self._variance`` (none for None).

        For the constructors of the kinds, after ``self._variance`` is set.
        """
        self._epistemic = None
        self._aleatoric = None
        if epistemic_variance is not None:
            epi, alea = _check_split(self.kind, epistemic_variance, self._variance)
            self._epistemic = _frozen(epi)
            self._aleatoric = _frozen(alea)

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

    # -- densities and probabilities (validated here; kinds implement the _hooks) ---------

    def log_prob(self, y: ArrayLike) -> FloatArray:
        """Log predictive density at ``y``.

        Parameters
        ----------
        y : float or array_like of shape (n,) or (m, n)

        Returns
        -------
        ndarray of shape (n,) or (m, n)
        """
        return self._log_prob(_check_y(y, self.n_points))

    def cdf(self, y: ArrayLike) -> FloatArray:
        """Predictive probability ``P(Y <= y)``; shapes as in :meth:`log_prob`."""
        return self._cdf(_check_y(y, self.n_points))

    def sf(self, y: ArrayLike) -> FloatArray:
        """``P(Y > y)``, accurate in the upper tail; shapes as in :meth:`log_prob`."""
        return self._sf(_check_y(y, self.n_points))

    def log_cdf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y <= y)``, finite far into the lower tail; shapes as in :meth:`log_prob`."""
        return self._log_cdf(_check_y(y, self.n_points))

    def log_sf(self, y: ArrayLike) -> FloatArray:
        """``log P(Y > y)``, finite far into the upper tail (log-space acquisition)."""
        return self._log_sf(_check_y(y, self.n_points))

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

    def interval(self, level: float = 0.9) -> tuple[FloatArray, FloatArray]:
        """Central predictive interval holding probability ``level``.

        Parameters
        ----------
        level : float in (0, 1), default 0.9

        Returns
        -------
        lower, upper : ndarray of shape (n,)
            The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. With a point mass (the
            bounded kind) the interval can hold more than ``level``; it is still the one the
            interval score rewards (Gneiting & Raftery 2007: the central quantiles minimise it).
        """
        return self._interval(_check_level(level))

    def _interval(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Hook: the central interval (levels already checked)."""
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
        return self._sample(n_samples, make_rng(seed))

    # -- left limits (validated; kinds with point masses implement the hooks) -------------

    def _cdf_left(self, y: ArrayLike) -> FloatArray:
        """``P(Y < y)``, the left limit of :meth:`cdf`; equal to ``cdf`` for kinds with no atoms.

        Shapes as in :meth:`log_prob` (randomised PIT, strict probability of improvement when
        minimising). Kinds with point masses implement :meth:`_left_cdf`.
        """
        return self._left_cdf(_check_y(y, self.n_points))

    def _log_cdf_left(self, y: ArrayLike) -> FloatArray:
        """``log P(Y < y)``; equal to :meth:`log_cdf` for kinds with no atoms."""
        return self._log_left_cdf(_check_y(y, self.n_points))

    @property
    def _has_atoms(self) -> bool:
        """Whether the kind can put probability on single values (its cdf can jump)."""
        return False

    # -- the hooks: validated input, Gaussian-mixture defaults ---------------------------
    #
    # Every hook below receives validated arrays (``y`` broadcast to (n,) or (m, n), levels
    # of shape (m,), a positive int and a Generator). The defaults use :meth:`as_mixture`;
    # a kind with no mixture form implements them all (the ``_generic_*`` helpers below do
    # the acquisition hooks for any kind from its cdf, log-sf and quantiles).

    def _log_prob(self, y: FloatArray) -> FloatArray:
        return _mixture_log_prob(*self.as_mixture(), y)

    def _cdf(self, y: FloatArray) -> FloatArray:
        return _mixture_cdf(*self.as_mixture(), y)

    def _sf(self, y: FloatArray) -> FloatArray:
        return _mixture_sf(*self.as_mixture(), y)

    def _log_cdf(self, y: FloatArray) -> FloatArray:
        return _mixture_log_cdf(*self.as_mixture(), y)

    def _log_sf(self, y: FloatArray) -> FloatArray:
        return _mixture_log_sf(*self.as_mixture(), y)

    def _left_cdf(self, y: FloatArray) -> FloatArray:
        return self._cdf(y)

    def _log_left_cdf(self, y: FloatArray) -> FloatArray:
        return self._log_cdf(y)

    def _quantile(self, levels: FloatArray) -> FloatArray:
        return _mixture_quantile(*self.as_mixture(), levels)

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        weights, locs, scales = self.as_mixture()
        return _mixture_sample(weights, locs, scales, n_samples, rng)

    def _crps(self, y: FloatArray) -> FloatArray:
        """CRPS per point, shape (n,), for validated finite ``y`` of shape (n,).

        Default: the closed form of Gaussian mixtures (Grimit et al. 2006).
        """
        return _crps_mixture(*self.as_mixture(), y)

    def _expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """``E[max(Y - best - xi, 0)]`` (``E[max(best - xi - Y, 0)]`` when minimising), (n,).

        Default: exact for Gaussian mixtures, ``sum_k w_k s_k h(z_k)`` (Jones et al. 1998).
        """
        w, loc, scale = self.as_mixture()
        threshold = (best if maximize else -best) + xi
        z = ((loc if maximize else -loc) - threshold) / scale
        return np.sum(w * scale * _h(z), axis=1)

    def _log_expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """``log`` of :meth:`_expected_improvement`, finite where it underflows (LogEI)."""
        w, loc, scale = self.as_mixture()
        threshold = (best if maximize else -best) + xi
        z = ((loc if maximize else -loc) - threshold) / scale
        with np.errstate(divide="ignore"):
            terms = np.log(w) + np.log(scale) + log_h(z)
        return np.asarray(logsumexp(terms, axis=1), dtype=np.float64)

    def _window_bounds(self, low: float, high: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        w, loc, scale = self.as_mixture()
        with np.errstate(over="ignore"):
            a = (low - loc) / scale
            b = (high - loc) / scale
        return w, a, b

    def _window_probability(self, low: float, high: float) -> FloatArray:
        """``P(low <= Y <= high)`` (a closed window), shape (n,), in [0, 1]."""
        w, a, b = self._window_bounds(low, high)
        diff, _, _ = _ndtr_diff(a, b)
        return np.clip(np.sum(w * diff, axis=1), 0.0, 1.0)

    def _log_window_probability(self, low: float, high: float) -> FloatArray:
        """``log P(low <= Y <= high)``, shape (n,), finite far outside the window."""
        w, a, b = self._window_bounds(low, high)
        with np.errstate(divide="ignore"):
            terms = np.log(w) + _log_ndtr_diff_window(a, b)
            out = np.asarray(logsumexp(terms, axis=1), dtype=np.float64)
        return np.minimum(out, 0.0)

    def _function_draw(self, rng: np.random.Generator) -> FloatArray | None:
        """One coherent draw over all points (an ensemble member / dropout pass), or None.

        None for kinds whose components are not the same function across points.
        """
        return None

    def _spread_scaled(self, s: float) -> Predictive:
        """The same kind with every deviation from the mean multiplied by ``s`` (StdScaling)."""
        raise UnsupportedOperationError(
            f"StdScaling can scale gaussian, mixture, samples and bounded predictives, not a {self.kind} "
            "predictive; scale the base predictive before recalibrating it."
        )

    def _prediction_columns(self) -> dict[str, FloatArray]:
        """Columns of the ``PRED.csv`` layout (:func:`bdl.calibration.report.prediction_frame`)."""
        w, mu, sigma = self.as_mixture()
        out: dict[str, FloatArray] = {}
        for k in range(w.shape[1]):
            out.update({f"w_{k}": w[:, k], f"mu_{k}": mu[:, k], f"sigma_{k}": sigma[:, k]})
        return out

    @classmethod
    def _concat(cls: type[P], parts: list[P]) -> P:
        """Join validated parts, all of this class, along the points axis."""
        raise UnsupportedOperationError(f"concat does not know how to join {cls.__name__} objects.")

    # -- generic acquisition maths for kinds with no closed form --------------------------

    def _generic_log_expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        """``log E[(Y - t)^+]`` as ``log int_t^inf S(y) dy`` by composite Gauss-Legendre.

        Minimising uses ``int_-inf^t F(y) dy``. The range is cut at ``t``, at ``t`` plus and
        minus (0 .. 64) standard deviations and at the quantiles ``Q(Phi(u))``, ``u`` in
        -8 .. 8, so every jump of a cdf with atoms is a cut point; on each piece 24 nodes are
        used and the integrand is summed in log space, so the result stays finite and
        monotone far beyond the support's bulk. What lies beyond 64 standard deviations of
        ``t`` and the outermost quantile is dropped.
        """
        return _generic_log_ei(self, best, xi, maximize)

    def _generic_log_window_probability(self, low: float, high: float) -> FloatArray:
        """``log P(low <= Y <= high) = log(F(high) - F(low-))`` without cancellation."""
        return _generic_log_window(self, low, high)

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



def _joined_split(parts: Sequence[Predictive]) -> FloatArray | None:
    """The concatenated epistemic variances of ``parts``, or None; all or none must have one."""
    splits = {p.has_split for p in parts}
    if len(splits) > 1:
        raise InputError(
            "some predictives carry epistemic_variance and some do not; concat needs all "
            "or none of them to have the split."
        )
    return np.concatenate([p.epistemic_variance for p in parts]) if splits == {True} else None


class QuadratureScores:
    """Mixin for kinds with no closed forms (recalibrated, warped): CRPS by quantile quadrature,
    expected improvement and window probability by the generic one-dimensional quadrature of
    :meth:`Predictive._generic_log_expected_improvement` / ``_generic_log_window_probability``.
    List it before :class:`Predictive` in the bases."""

    def _crps(self, y: FloatArray) -> FloatArray:
        """Quantile quadrature ``2 int_0^1 rho_q(y - Q(q)) dq`` on 512 midpoints."""
        from bdl.predictive._crps import _crps_quantile_quadrature

        return _crps_quantile_quadrature(self, y)

    def _expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        return np.exp(self._generic_log_expected_improvement(best, xi, maximize))  # type: ignore[attr-defined]

    def _log_expected_improvement(self, best: float, xi: float, maximize: bool) -> FloatArray:
        return self._generic_log_expected_improvement(best, xi, maximize)  # type: ignore[attr-defined]

    def _window_probability(self, low: float, high: float) -> FloatArray:
        return np.clip(np.exp(self._generic_log_window_probability(low, high)), 0.0, 1.0)  # type: ignore[attr-defined]

    def _log_window_probability(self, low: float, high: float) -> FloatArray:
        return self._generic_log_window_probability(low, high)  # type: ignore[attr-defined]
