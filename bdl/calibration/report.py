"""A calibration report a person can read: a plain-words verdict first, then the numbers and plots.

:func:`calibration_report` scores any predictive against observed values (every metric of
:mod:`bdl.calibration.metrics`), says whether the uncertainty is over- or under-confident, by
how much (the factor the spread would need) and where (the group of points whose intervals
fail most), and draws the calibration plots. With a recalibrated predictive it shows both,
side by side. The result renders inline in Jupyter and saves as ``metrics.json`` plus a
self-contained ``report.html`` (images embedded, readable offline).

:func:`report_from_model` does the same from a fitted model and data, and
:func:`read_predictions` reads the ``PRED.csv`` format of ``bdl report``.
"""

from __future__ import annotations

import base64
import html
import json
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bdl._io import atomic_write_text, read_csv
from bdl._validation import format_rows
from bdl.calibration import metrics as M
from bdl.errors import InputError
from bdl.predictive import (
    BoundedPredictive,
    GaussianPredictive,
    MixturePredictive,
    Predictive,
    SamplePredictive,
)

#: Extra columns of the bounded layout (``w_k, mu_k, sigma_k`` plus these).
_BOUND_COLUMNS = ("lower", "upper", "p_lower", "p_upper")

__all__ = [
    "CalibrationReport",
    "calibration_report",
    "prediction_frame",
    "read_predictions",
    "report_from_model",
    "verdict",
]


def _where(y: np.ndarray, predictive: Predictive, level: float = 0.9) -> str | None:
    """Name the tercile (by predicted mean and by predicted std) whose coverage is furthest off."""
    lo, hi = predictive.interval(level)
    inside = (y >= lo) & (y <= hi)
    worst = None
    for label, values in (("predicted value", predictive.mean), ("predicted uncertainty", predictive.stddev)):
        edges = np.quantile(values, [1 / 3, 2 / 3])
        groups = np.digitize(values, edges)
        for g, name in enumerate(("lowest", "middle", "highest")):
            sel = groups == g
            if sel.sum() < 10:
                continue
            cov = float(inside[sel].mean())
            gap = abs(cov - level)
            rng = f"{values[sel].min():.3g} to {values[sel].max():.3g}"
            if worst is None or gap > worst[0]:
                worst = (gap, f"the {name} third by {label} ({rng}): {cov:.0%} inside the {level:.0%} intervals")
    if worst is None or worst[0] < 0.05:
        return None
    return worst[1]


def verdict(y_true: Any, predictive: Predictive, level: float = 0.9) -> list[str]:
    """Plain-words sentences on how far the predictive's uncertainty can be trusted.

    Returns
    -------
    list of str
        The first sentence is the headline (over-confident / under-confident / calibrated, with
        the coverage and the factor the spread would need); the others say where and what the
        PIT and z-scores add.
    """
    from scipy.special import ndtri

    y = np.asarray(y_true, dtype=float)
    expected, observed = M.calibration_curve(y, predictive)
    signed = float(np.mean(observed - expected))  # < 0: intervals hold too few points
    area = M.miscalibration_area(y, predictive)
    c50, cov = M.interval_coverage(y, predictive, 0.5), M.interval_coverage(y, predictive, level)
    abs_z = np.abs(M.z_scores(y, predictive))
    # the factor on the spread that would make the central intervals hold their share, judged at
    # the level that is further off (robust to a few huge errors, unlike the RMS z-score)
    at = level if abs(cov - level) >= abs(c50 - 0.5) else 0.5
    factor = float(np.quantile(abs_z, at) / ndtri(0.5 + at / 2))
    coverages = f"{c50:.0%} of the observed values fall inside the 50% intervals and {cov:.0%} inside the {level:.0%} intervals"
    if area < 0.03:
        head = f"Calibrated: {coverages} (miscalibration area {area:.3f}; 0 is perfect)."
    elif signed < 0:
        head = (
            f"Over-confident: only {coverages}; the uncertainty is too small (miscalibration area {area:.3f}). "
            f"At the {at:.0%} level the spread would need to be about {factor:.2g} times wider."
        )
    else:
        head = (
            f"Under-confident: {coverages}; the uncertainty is larger than the errors warrant (miscalibration area "
            f"{area:.3f}). At the {at:.0%} level the spread is about {1 / max(factor, 1e-12):.2g} times too wide."
        )
    out = [head]
    where = _where(y, predictive, level)
    if where:
        out.append(f"Worst calibrated: {where}.")
    pit = M.pit_uniformity(y, predictive)
    if pit["p_value"] < 0.01:
        out.append(
            f"The PIT values are not uniform (KS p = {pit['p_value']:.1g}), so the shape of the predictive "
            "distribution is off, not only its width; look at the PIT histogram."
        )
    z = M.z_score_stats(y, predictive)
    if z["variance"] > 3 and abs(cov - level) < 0.05:
        out.append(
            f"A few errors lie far outside the intervals (z-score variance {z['variance']:.2g}; 1 is ideal): rare "
            "large misses that the stated uncertainty does not anticipate."
        )
    if abs(z["mean"]) > 0.25:
        out.append(
            f"The errors are biased: the mean z-score is {z['mean']:+.2f} (predictions are "
            f"{'too high' if z['mean'] < 0 else 'too low'} on average)."
        )
    return out


def _png_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


@dataclass
class CalibrationReport:
    """Scores, verdict and plots of one or two predictives on the same observations.

    Attributes
    ----------
    title : str
    metrics : dict
        ``{"model": {...}, "recalibrated": {...}}`` (the second only when given), metric -> value.
    table : DataFrame
        One row per metric with ``ideal`` and ``meaning`` and one value column per predictive.
    verdict : list of str
    figures : dict of str to bytes
        PNG images.
    sections : list of (str, str)
        Extra (heading, HTML) sections, e.g. the diagnostics triage; appended by other modules.
    info : dict
    """

    title: str
    metrics: dict[str, dict[str, float]]
    table: pd.DataFrame
    verdict: list[str]
    figures: dict[str, bytes]
    sections: list[tuple[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def add_section(self, heading: str, body_html: str) -> None:
        """Append a section (heading and trusted HTML) after the calibration plots."""
        self.sections.append((heading, body_html))

    def to_html(self, standalone: bool = True) -> str:
        """The report as HTML; ``standalone`` wraps it in a full page with its own style."""
        verdict_html = "".join(f"<p{' class=headline' if i == 0 else ''}>{html.escape(s)}</p>" for i, s in enumerate(self.verdict))
        value_cols = [c for c in self.table.columns if c not in ("metric", "ideal", "meaning")]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ["metric", *value_cols, "ideal", "meaning"])
        rows = []
        for _, r in self.table.iterrows():
            vals = "".join(f"<td class=num>{_fmt(r[c])}</td>" for c in value_cols)
            rows.append(
                f"<tr><td>{html.escape(str(r['metric']))}</td>{vals}<td class=num>{html.escape(str(r['ideal']))}</td>"
                f"<td>{html.escape(str(r['meaning']))}</td></tr>"
            )
        figs = "".join(f"<h3>{html.escape(name)}</h3>{_png_tag(png, name)}" for name, png in self.figures.items())
        extra = "".join(f"<h2>{html.escape(h)}</h2>{body}" for h, body in self.sections)
        info = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in {**self.info, "created": self.created}.items()
        )
        body = (
            f"<div class=bdl-report><h1>{html.escape(self.title)}</h1>"
            f"<section class=verdict><h2>Verdict</h2>{verdict_html}</section>"
            f"<h2>Metrics</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<h2>Plots</h2>{figs}{extra}<h2>Run</h2><table>{info}</table></div>"
        )
        if not standalone:
            return body
        return (
            "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:  # Jupyter renders the report inline
        return f"<style>{_CSS}</style>" + self.to_html(standalone=False)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``metrics.json`` and ``report.html`` into ``out_dir`` (created if needed)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "title": self.title,
            "created": self.created,
            "machine": f"{platform.machine()}, Python {platform.python_version()}",
            "verdict": self.verdict,
            "metrics": self.metrics,
            "info": self.info,
        }
        atomic_write_text(out / "metrics.json", json.dumps(record, indent=2, default=_json_default))
        atomic_write_text(out / "report.html", self.to_html())
        return out


_CSS = (
    ".bdl-report{font-family:system-ui,sans-serif;max-width:70em;margin:1.5em auto;color:#222}"
    ".bdl-report table{border-collapse:collapse;font-size:.9em}"
    ".bdl-report td,.bdl-report th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    ".bdl-report td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".bdl-report .verdict{background:#f6f6f0;border-left:4px solid #a60;padding:.3em 1em}"
    ".bdl-report .headline{font-size:1.15em;font-weight:600}"
)


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if not np.isfinite(v) else f"{float(v):.4g}"
    return html.escape(str(v))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _metric_dict(table: pd.DataFrame) -> dict[str, float]:
    return {str(r["metric"]): float(r["value"]) for _, r in table.iterrows()}


def calibration_report(
    y_true: Any,
    predictive: Predictive,
    title: str = "Calibration report",
    recalibrated: Predictive | None = None,
    recalibration: Any = None,
    info: dict[str, Any] | None = None,
) -> CalibrationReport:
    """Build the report for ``predictive`` (and optionally its recalibrated version).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    predictive : Predictive of length n
    title : str
    recalibrated : Predictive of length n, optional
        The same predictions after recalibration (fitted on *other* data); scored side by side.
    recalibration : fitted recalibrator, optional
        Its map is drawn (``mapping``) when given.
    info : dict, optional
        Facts about the run to print at the end (data, model, seeds).

    Returns
    -------
    CalibrationReport
    """
    from bdl.calibration import plots as P

    table = M.summary(y_true, predictive)
    metrics = {"model": _metric_dict(table)}
    table = table.rename(columns={"value": "model"})
    figures = {"Calibration at a glance": P.figure_to_png(P.calibration_figure(y_true, predictive))}
    sentences = verdict(y_true, predictive)
    if recalibrated is not None:
        after = M.summary(y_true, recalibrated)
        metrics["recalibrated"] = _metric_dict(after)
        table.insert(2, "recalibrated", after["value"].to_numpy())
        figures["After recalibration"] = P.figure_to_png(P.calibration_figure(y_true, recalibrated))
        after_v = verdict(y_true, recalibrated)[0]
        sentences.append(f"After recalibration: {after_v[0].lower()}{after_v[1:]}")
        if recalibration is not None and hasattr(recalibration, "mapping"):
            ax = P.plot_recalibration_map(recalibration.mapping, pit_values=M.pit(y_true, predictive))
            figures["Recalibration map"] = P.figure_to_png(ax.figure)
    return CalibrationReport(title, metrics, table, sentences, figures, info=dict(info or {}))


def report_from_model(
    model: Any,
    X: Any,
    y: Any,
    X_cal: Any = None,
    y_cal: Any = None,
    method: str = "isotonic",
    title: str | None = None,
    out_dir: str | Path | None = None,
) -> CalibrationReport:
    """Predict with a fitted model on (X, y) and report; recalibrate on (X_cal, y_cal) if given.

    Parameters
    ----------
    model : fitted bdl model (anything with ``predict_dist``)
    X, y : evaluation data
    X_cal, y_cal : held-out calibration data, optional (never the evaluation data)
    method : {"isotonic", "std"}
        Recalibration method (Kuleshov et al. 2018 isotonic, or std scaling).
    out_dir : optional folder to save the report into.
    """
    from bdl.calibration.recalibration import IsotonicRecalibration, StdScaling

    pred = model.predict_dist(X)
    recal = recal_pred = None
    if X_cal is not None:
        if method not in ("isotonic", "std"):
            raise InputError(f"method must be 'isotonic' or 'std', got {method!r}.")
        recal = (IsotonicRecalibration() if method == "isotonic" else StdScaling()).fit(y_cal, model.predict_dist(X_cal))
        recal_pred = recal.transform(pred)
    report = calibration_report(
        y,
        pred,
        title=title or f"Calibration of {type(model).__name__}",
        recalibrated=recal_pred,
        recalibration=recal,
        info={"model": repr(model), "n_evaluated": len(pred), "recalibration": method if recal else "none"},
    )
    if out_dir is not None:
        report.save(out_dir)
    return report


_MIX_RE = re.compile(r"^(w|mu|sigma)_(\d+)$")
_SAMPLE_RE = re.compile(r"^s_(\d+)$")


def read_predictions(path: str | Path) -> tuple[np.ndarray, Predictive]:
    """Read ``PRED.csv``: ``y_true`` plus ``mean,std``, or ``w_k,mu_k,sigma_k``, or ``s_0..s_{n-1}``.

    Returns
    -------
    y_true : ndarray of shape (n,)
    predictive : GaussianPredictive, MixturePredictive, SamplePredictive or BoundedPredictive
        Mixture columns with any of ``lower``, ``upper``, ``p_lower``, ``p_upper`` give a
        :class:`~bdl.predictive.BoundedPredictive`.

    Raises
    ------
    InputError
        Naming the column and rows for: a missing ``y_true``, none or several of the three
        layouts, incomplete mixture columns, non-numeric or missing values, non-positive std,
        mixture weights not summing to one, fewer than two sample columns.
    """
    df = read_csv(path, what="predictions file")
    cols = [str(c).strip() for c in df.columns]
    df.columns = cols
    if "y_true" not in cols:
        raise InputError(f"{path} has no 'y_true' column; its columns are {cols[:10]}.")
    mix = {m.group(1): [] for c in cols if (m := _MIX_RE.match(c))}
    for c in cols:
        if m := _MIX_RE.match(c):
            mix[m.group(1)].append(int(m.group(2)))
    samples = sorted(int(m.group(1)) for c in cols if (m := _SAMPLE_RE.match(c)))
    layouts = [name for name, present in (
        ("mean,std", "mean" in cols and "std" in cols), ("mixture", bool(mix)), ("samples", bool(samples))) if present]
    if len(layouts) == 2 and "mean,std" in layouts:
        # 'bdl predict' writes summary columns (mean, median, std, lower_90, upper_90) beside the
        # distribution's own columns: the distribution is the layout, the summaries are extra
        layouts.remove("mean,std")
    if len(layouts) != 1:
        raise InputError(
            f"{path} must hold exactly one predictive layout besides y_true: 'mean,std', or mixture columns "
            f"w_k,mu_k,sigma_k, or sample columns s_0..s_(n-1); found {layouts or 'none'}."
        )

    def numeric(names: list[str]) -> np.ndarray:
        block = df[names].apply(pd.to_numeric, errors="coerce")
        bad = block.isna()
        if bad.to_numpy().any():
            col = block.columns[bad.any().to_numpy()][0]
            rows = np.flatnonzero(bad[col].to_numpy())
            raise InputError(
                f"column {col!r} has missing or non-numeric values in row(s) {format_rows(rows)} of {path}; fix or drop them."
            )
        return block.to_numpy(dtype=float)

    y = numeric(["y_true"])[:, 0]
    if layouts[0] == "mean,std":
        mean, std = numeric(["mean", "std"]).T
        bad = np.flatnonzero(std <= 0)
        if len(bad):
            raise InputError(f"column 'std' must be positive; row(s) {format_rows(bad)} are not (first value {std[bad[0]]!r}).")
        return y, GaussianPredictive(mean, std)
    if layouts[0] == "mixture":
        ks = sorted(set(mix["w"]) | set(mix.get("mu", [])) | set(mix.get("sigma", [])))
        for part in ("w", "mu", "sigma"):
            missing = sorted(set(ks) - set(mix.get(part, [])))
            if missing:
                raise InputError(f"mixture column(s) {[f'{part}_{k}' for k in missing]} missing in {path}.")
        w = numeric([f"w_{k}" for k in ks])
        mu = numeric([f"mu_{k}" for k in ks])
        sigma = numeric([f"sigma_{k}" for k in ks])
        bad = np.flatnonzero(np.abs(w.sum(axis=1) - 1) > 1e-6)
        if len(bad):
            raise InputError(
                f"mixture weights w_0..w_{ks[-1]} must sum to one in every row; row(s) {format_rows(bad)} sum to "
                f"{w[bad[0]].sum():.6g} (first)."
            )
        bad_r, bad_c = np.nonzero(sigma <= 0)
        if len(bad_r):
            raise InputError(f"column 'sigma_{ks[bad_c[0]]}' must be positive; row(s) {format_rows(np.unique(bad_r))} are not.")
        present = [c for c in _BOUND_COLUMNS if c in cols]
        if present:  # the bounded layout: truncated components plus point masses
            lower = numeric(["lower"])[:, 0] if "lower" in cols else None
            upper = numeric(["upper"])[:, 0] if "upper" in cols else None
            p_lower = numeric(["p_lower"])[:, 0] if "p_lower" in cols else None
            p_upper = numeric(["p_upper"])[:, 0] if "p_upper" in cols else None
            return y, BoundedPredictive(w, mu, sigma, lower, upper, p_lower, p_upper)
        return y, MixturePredictive(w, mu, sigma)
    if len(samples) < 2:
        raise InputError(f"{path} has {len(samples)} sample column; a sample predictive needs at least two (s_0, s_1, ...).")
    return y, SamplePredictive(numeric([f"s_{k}" for k in samples]))


def prediction_frame(y_true: Any, predictive: Predictive) -> pd.DataFrame:
    """The ``PRED.csv`` layout of a predictive (what :func:`read_predictions` reads back).

    Gaussian: ``y_true, mean, std``; mixtures and per-pass mixtures (MC dropout, ensembles):
    ``y_true, w_k, mu_k, sigma_k``; plain samples: ``y_true, s_k``; bounded (truncated
    components plus point masses): ``y_true, w_k, mu_k, sigma_k, lower, upper, p_lower,
    p_upper`` (an absent bound is written as ``-inf`` / ``inf``).
    """
    y = np.asarray(y_true, dtype=float)
    frame: dict[str, Any] = {"y_true": y}
    frame.update(predictive._prediction_columns())
    return pd.DataFrame(frame)
