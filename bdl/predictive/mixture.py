"""The Gaussian-mixture kind (mixture density networks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import softmax

from bdl.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass

from bdl.predictive._numerics import (
    _check_mixture_arrays,
    FloatArray,
    _as_float_array,
    _frozen,
    _mixture_moments,
)
from bdl.predictive.base import Predictive, _joined_split


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
        w, loc, scale, sums = _check_mixture_arrays(
            weights, locs, scales,
            "pass probabilities, or raw network outputs to MixturePredictive.from_logits.",
            "normalise them or use MixturePredictive.from_logits.",
        )
        self._weights = _frozen(w / sums[:, None])
        self._locs = _frozen(loc)
        self._scales = _frozen(scale)
        mean, var = _mixture_moments(self._weights, loc, scale)
        self._mean = _frozen(mean)
        self._variance = _frozen(var)
        self._set_split(epistemic_variance)

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

    def _spread_scaled(self, s: float) -> MixturePredictive:
        m = self.mean[:, None]
        epi = self.epistemic_variance * s * s if self.has_split else None
        return MixturePredictive(self.weights, m + s * (self.locs - m), self.scales * s, epi)

    @classmethod
    def _concat(cls, parts: list[MixturePredictive]) -> MixturePredictive:  # type: ignore[override]
        epi = _joined_split(parts)
        ks = sorted({p.n_components for p in parts})
        if len(ks) > 1:
            raise InputError(
                f"mixture predictives have different numbers of components {ks}; concat needs "
                "the same K for all (pad with zero-weight components if needed)."
            )
        return MixturePredictive(
            np.concatenate([p.weights for p in parts]),
            np.concatenate([p.locs for p in parts]),
            np.concatenate([p.scales for p in parts]),
            epi,
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

