"""Input checks shared by models and metrics (numpy only; no TensorFlow)."""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from bdl.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from bdl.predictive import Predictive

__all__ = ["check_X", "check_bool", "check_int", "check_predictive", "check_real", "check_row_index", "check_y", "format_rows", "rows_text"]


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; anything but True / False (numpy's included) is an InputError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (anything ``operator.index`` accepts, not a bool).

    The one integer check of the package (it replaces the per-module ``_check_int`` helpers,
    two of which took their arguments in opposite orders). Raises :class:`InputError` naming
    ``name`` and the value.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}.")
    try:
        out = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}.") from None
    if out < minimum:
        raise InputError(f"{name} must be an int >= {minimum}, got {out}.")
    return int(out)


def check_row_index(index: Any, n: int, rows: str) -> int:
    """One row number of n (negative counts from the end) as an int in [0, n).

    ``rows`` names the rows in the error, e.g. "40 candidates".
    """
    try:
        i = operator.index(index)
    except TypeError:
        raise InputError(f"index must be an int row number, got {index!r}.") from None
    if not -n <= i < n:
        raise InputError(f"index {i} is out of range for {rows}.")
    return i % n


def _shown_rows(rows: Any, limit: int) -> tuple[np.ndarray, str, int]:
    """The rows as a flat array, the first ``limit`` of them joined by commas, and how many more."""
    rows = np.asarray(rows).ravel()
    return rows, ", ".join(str(int(r)) for r in rows[:limit]), len(rows) - limit


def rows_text(rows: Any, noun: str | None = "row", limit: int = 10) -> str:
    """Row numbers for a message: ``"rows [3, 17] and 5 more"`` (``"row [3]"`` for one).

    With ``noun=None`` only ``"[3, 17] and 5 more"``. The row formatter of the predictive
    kinds and the calibration plots; :func:`format_rows` is the bare list of the data checks
    (both share one core, :func:`_shown_rows`; the two layouts stay because messages and tests
    quote them).
    """
    rows, shown, more = _shown_rows(rows, limit)
    text = f"[{shown}]" + (f" and {more} more" if more > 0 else "")
    if noun is None:
        return text
    return f"{noun}{'' if len(rows) == 1 else 's'} {text}"


def format_rows(rows: np.ndarray, limit: int = 10) -> str:
    """Render row numbers as '3, 17, 42 (and 5 more)'."""
    _, shown, more = _shown_rows(rows, limit)
    return shown + (f" (and {more} more)" if more > 0 else "")


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    above: float | None = None,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float (not a bool, not NaN; finite unless ``allow_inf``).

    ``minimum`` is an inclusive lower bound, ``above`` an exclusive one (``above=0.0``: strictly
    positive). The one scalar-number check of the acquisition functions and batch selectors
    (it replaces their ``_check_real`` and ``_check_positive_float``). Raises
    :class:`InputError` naming ``name`` and the value.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be a number, got the bool {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r} ({type(value).__name__}).") from None
    if math.isnan(out) or (not allow_inf and math.isinf(out)):
        raise InputError(f"{name} must be a finite number, got {out!r}.")
    if minimum is not None and out < minimum:
        raise InputError(f"{name} must be >= {minimum:g}, got {out!r}.")
    if above is not None and not out > above:
        raise InputError(f"{name} must be > {above:g}, got {out!r}.")
    return out


def check_predictive(value: Any, name: str = "predictive", hint: str = "") -> Predictive:
    """``value`` if it is a :class:`bdl.predictive.Predictive`, else an InputError naming ``name``.

    The one predictive check of the metrics, plots and acquisition functions; ``hint`` (a
    sentence with its leading space) ends the message, e.g. when arguments look swapped.
    """
    from bdl.predictive import Predictive  # here: bdl.predictive itself imports this module

    if isinstance(value, Predictive):
        return value
    raise InputError(
        f"{name} must be a bdl.predictive.Predictive object (from model.predict_dist, or "
        f"GaussianPredictive / MixturePredictive / SamplePredictive / BoundedPredictive), got "
        f"{type(value).__name__}.{hint}"
    )


def check_X(X: Any, name: str = "X", feature_names: list[str] | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Validate a feature matrix.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    name : str
        Argument name used in error messages.
    feature_names : list of str, optional
        Column names seen in ``fit``; a DataFrame must have them (in any order; it is reordered).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    names : list of str or None
        The DataFrame's column names, if X was a DataFrame.
    """
    import pandas as pd  # imported here: the predictive kinds use this module without pandas

    names: list[str] | None = None
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if feature_names is not None:
            missing = [c for c in feature_names if c not in names]
            if missing:
                raise InputError(
                    f"{name} lacks {len(missing)} feature column(s) the model was fitted on, e.g. "
                    f"{missing[:3]}; pass the same columns as in fit."
                )
            X = X.loc[:, feature_names]
            names = list(feature_names)
        non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if non_numeric:
            raise InputError(
                f"{name} has non-numeric column(s) {non_numeric[:5]}; featurise formulas first "
                "(bdl.features.featurize) or drop text columns."
            )
        X = X.to_numpy(dtype=np.float64)
    else:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must be a numeric array or DataFrame ({exc}).") from exc
    if X.ndim == 1:
        raise InputError(
            f"{name} must be 2-D of shape (n_samples, n_features), got 1-D of length {len(X)}; "
            "use X.reshape(-1, 1) for a single feature."
        )
    if X.ndim != 2:
        raise InputError(f"{name} must be 2-D of shape (n_samples, n_features), got shape {X.shape}.")
    if X.shape[0] == 0:
        raise InputError(f"{name} has no rows.")
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(
            f"{name} has NaN or infinite values in row(s) {format_rows(rows)}; drop or impute them first."
        )
    return X, names


def check_y(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """Validate a target vector of length ``n_samples``; returns float64 of shape (n_samples,)."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric ({exc}).") from exc
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}.")
    if len(y) != n_samples:
        raise InputError(f"{name} has {len(y)} values but X has {n_samples} rows; they must match.")
    bad = ~np.isfinite(y)
    if bad.any():
        raise InputError(f"{name} has NaN or infinite values at row(s) {format_rows(np.flatnonzero(bad))}.")
    return y
