"""Operations on predictives: truncate, concat and ledger records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bdl.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass

from bdl.predictive._numerics import (
    FloatArray,
    P,
    _log_ndtr_diff,
)
from bdl.predictive.base import Predictive
from bdl.predictive.bounded import BoundedPredictive
from bdl.predictive.gaussian import GaussianPredictive
from bdl.predictive.mixture import MixturePredictive
from bdl.predictive.samples import SamplePredictive


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
    return cls._concat(parts)  # type: ignore[no-any-return]


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


def _shared_field(recs: list[dict[str, Any]], key: str, kind: str, what: str, unit: str) -> Any:
    """The ``key`` field every record of ``kind`` must share (a recalibration map, conformal
    scores); ``what`` and ``unit`` word the error when they differ."""
    values = [_record_field(r, key, i, kind) for i, r in enumerate(recs)]
    if any(v != values[0] for v in values):
        raise InputError(
            f"{kind} records carry different {what}; rebuild the points of each {unit} with "
            "their own call."
        )
    return values[0]


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

        map_ = _shared_field(recs, "map", kind, "recalibration maps", "map")
        try:
            mapping = MonotoneMap(map_["knots_x"], map_["knots_y"], map_["slope_floor"])
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"records[0] (recalibrated) has a map without knots_x, knots_y and slope_floor ({exc})."
            ) from None
        bases = [json.dumps(_record_field(r, "base", i, kind)) for i, r in enumerate(recs)]
        return RecalibratedPredictive(predictive_from_records(bases), mapping)
    if kind == "conformal":
        from bdl.calibration.conformal import ConformalPredictive

        scores = _shared_field(recs, "scores", kind, "calibration scores", "calibration")
        return ConformalPredictive(
            [_record_field(r, "mean", i, kind) for i, r in enumerate(recs)],
            [_record_field(r, "scale", i, kind) for i, r in enumerate(recs)],
            scores,
        )
    if kind == "warped":
        from bdl.calibration.conformal import WarpedPredictive

        bases = [json.dumps(_record_field(r, "base", i, kind)) for i, r in enumerate(recs)]
        ends = {key: [_record_field(r, key, i, kind) for i, r in enumerate(recs)]
                for key in ("lower_in", "upper_in", "lower_out", "upper_out")}
        return WarpedPredictive(predictive_from_records(bases), **ends)
    raise InputError(
        f"records are of unknown kind {kind!r}; known kinds: bounded, conformal, gaussian, "
        "mixture, recalibrated, samples, warped."
    )
