"""The Gaussian kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, ndtr, ndtri


if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass

from bdl.predictive._numerics import (
    FloatArray,
    _LOG_SQRT_2PI,
    _as_float_array,
    _check_positive,
    _check_same_shape,
    _frozen,
    _import_tfd,
)
from bdl.predictive._crps import _crps_gaussian
from bdl.predictive.base import Predictive, _joined_split


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
        self._set_split(epistemic_variance)

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

    def _z(self, y: FloatArray) -> FloatArray:
        return (y - self._mean) / self._stddev

    def _log_prob(self, y: FloatArray) -> FloatArray:
        z = self._z(y)
        return -0.5 * z * z - np.log(self._stddev) - _LOG_SQRT_2PI

    def _cdf(self, y: FloatArray) -> FloatArray:
        return ndtr(self._z(y))

    def _sf(self, y: FloatArray) -> FloatArray:
        return ndtr(-self._z(y))

    def _log_cdf(self, y: FloatArray) -> FloatArray:
        return log_ndtr(self._z(y))

    def _log_sf(self, y: FloatArray) -> FloatArray:
        return log_ndtr(-self._z(y))

    def _quantile(self, levels: FloatArray) -> FloatArray:
        return self._mean + self._stddev * ndtri(levels)[:, None]

    def _sample(self, n_samples: int, rng: np.random.Generator) -> FloatArray:
        return self._mean + self._stddev * rng.standard_normal((n_samples, self.n_points))

    def _crps(self, y: FloatArray) -> FloatArray:
        """Closed form of Gneiting & Raftery (2007), equal to properscoring's ``crps_gaussian``."""
        return _crps_gaussian(y, self._mean, self._stddev)

    def _spread_scaled(self, s: float) -> GaussianPredictive:
        epi = self.epistemic_variance * s * s if self.has_split else None
        return GaussianPredictive(self.mean, self.stddev * s, epi)

    def _prediction_columns(self) -> dict[str, FloatArray]:
        return {"mean": self.mean, "std": self.stddev}

    @classmethod
    def _concat(cls, parts: list[GaussianPredictive]) -> GaussianPredictive:  # type: ignore[override]
        epi = _joined_split(parts)
        return GaussianPredictive(
            np.concatenate([p.mean for p in parts]), np.concatenate([p.stddev for p in parts]), epi
        )

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

