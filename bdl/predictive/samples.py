"""The samples kind (MC dropout, ensembles, plain samples)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bdl.errors import InputError, UnsupportedOperationError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass

from bdl.predictive._numerics import (
    FloatArray,
    _as_float_array,
    _check_positive,
    _check_same_shape,
    _frozen,
    _mixture_sample,
    _silverman_bandwidth,
)
from bdl.predictive._crps import _crps_ensemble
from bdl.predictive.base import Predictive


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

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        """Draw from the mixture (for plain samples: the kernel density estimate)."""
        return _mixture_sample(None, self._locs, self._mix_scales, n_samples, rng)

    def _crps(self, y: FloatArray) -> FloatArray:
        """Plain samples: the empirical distribution (properscoring's ``crps_ensemble``), not
        the kernel density estimate; per-pass Gaussians: the mixture closed form."""
        if self.is_plain:
            return _crps_ensemble(np.asarray(self._locs), y)
        return super()._crps(y)

    def _function_draw(self, rng: np.random.Generator) -> FloatArray:
        """One pass / member ``s`` for all points, each drawing from ``N(locs[:, s], scales[:, s]**2)``."""
        locs, scales = self._locs, self._mix_scales
        s = int(rng.integers(0, locs.shape[1]))
        return locs[:, s] + scales[:, s] * rng.standard_normal(locs.shape[0])

    def _spread_scaled(self, s: float) -> SamplePredictive:
        m = self.mean[:, None]
        scales = None if self.scales is None else self.scales * s
        return SamplePredictive(m + s * (self.locs - m), scales)

    def _prediction_columns(self) -> dict[str, FloatArray]:
        if self.is_plain:
            return {f"s_{k}": self.locs[:, k] for k in range(self.locs.shape[1])}
        return super()._prediction_columns()

    @classmethod
    def _concat(cls, parts: list[SamplePredictive]) -> SamplePredictive:  # type: ignore[override]
        draws = sorted({p.n_draws for p in parts})
        if len(draws) > 1:
            raise InputError(
                f"samples predictives have different numbers of draws {draws}; concat needs "
                "the same S for all."
            )
        plain = {p.is_plain for p in parts}
        if len(plain) > 1:
            raise InputError(
                "some samples predictives are plain samples and some have per-pass scales; "
                "concat needs all of one sort."
            )
        scales = None
        if plain == {False}:
            scales = np.concatenate([p.scales for p in parts if p.scales is not None])
        return SamplePredictive(np.concatenate([p.locs for p in parts]), scales)

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
