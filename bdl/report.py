"""Held-out evaluation of a model with a small, self-contained report.

:func:`holdout_report` scores a predictive on held-out data and writes ``metrics.json``,
``predictions.csv``, ``parity.png`` and ``report.html`` (the plot embedded, readable offline).
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bdl.calibration.metrics import interval_coverage, mae, miscalibration_area, nll, rmse
from bdl.predictive import Predictive

__all__ = ["holdout_metrics", "holdout_report"]


def holdout_metrics(y_true: Any, predictive: Predictive) -> dict[str, float]:
    """MAE (of the mean and of the median), RMSE, NLL, 90 % / 68 % central-interval coverage and
    miscalibration area of a predictive."""
    metrics = {
        "n": int(len(predictive)),
        "mae": mae(y_true, predictive),
        "mae_median": mae(y_true, predictive, point="median"),
        "rmse": rmse(y_true, predictive),
        "nll": nll(y_true, predictive),
        "coverage_90": interval_coverage(y_true, predictive, 0.9),
        "coverage_68": interval_coverage(y_true, predictive, 0.6827),
        "miscalibration_area": miscalibration_area(y_true, predictive),
        "mean_std": float(np.mean(predictive.stddev)),
    }
    try:
        metrics["mean_epistemic_std"] = float(np.mean(np.sqrt(predictive.epistemic_variance)))
        metrics["mean_aleatoric_std"] = float(np.mean(np.sqrt(predictive.aleatoric_variance)))
    except Exception:  # kinds without a split simply omit these two numbers
        pass
    return metrics


def _parity_png(y: np.ndarray, predictive: Predictive, title: str) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(5.2, 5.0), dpi=110)
    ax = fig.subplots()
    lo, hi = predictive.interval(0.9)
    mean = predictive.mean
    inside = (y >= lo) & (y <= hi)
    ax.errorbar(y, mean, yerr=[mean - lo, hi - mean], fmt="none", ecolor="0.75", lw=0.6, zorder=1)
    ax.scatter(y[inside], mean[inside], s=6, c="tab:blue", label="truth inside 90 % interval", zorder=2)
    ax.scatter(y[~inside], mean[~inside], s=8, c="tab:red", label="truth outside", zorder=3)
    lims = [min(y.min(), lo.min()), max(y.max(), hi.max())]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted mean (bars: 90 % interval)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _verdict(m: dict[str, float]) -> str:
    cov = m["coverage_90"]
    if cov < 0.85:
        return (
            f"Over-confident: only {cov:.0%} of held-out values fall inside the 90 % intervals; "
            "the stated uncertainty is too small."
        )
    if cov > 0.95:
        return (
            f"Under-confident: {cov:.0%} of held-out values fall inside the 90 % intervals; "
            "the stated uncertainty is larger than the errors warrant."
        )
    return f"Calibrated at the 90 % level: {cov:.0%} of held-out values fall inside the 90 % intervals."


def holdout_report(
    y_true: Any,
    predictive: Predictive,
    out_dir: str | Path,
    title: str = "Held-out evaluation",
    info: dict[str, Any] | None = None,
    ids: Any = None,
) -> dict[str, float]:
    """Score ``predictive`` on ``y_true`` and write a small report to ``out_dir``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    predictive : Predictive of length n
    out_dir : str or Path
        Created if needed; receives ``metrics.json``, ``predictions.csv``, ``parity.png`` and
        ``report.html``.
    title : str
    info : dict, optional
        Extra facts to record (data set, model settings, timings).
    ids : array-like of shape (n,), optional
        Row identifiers for ``predictions.csv`` (e.g. formulas).

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    y = np.asarray(y_true, dtype=float)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = holdout_metrics(y, predictive)
    record = {
        "title": title,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})",
        "metrics": metrics,
        "info": info or {},
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2, default=str))
    frame = predictive.to_frame()
    frame.insert(0, "y_true", y)
    if ids is not None:
        frame.insert(0, "id", np.asarray(ids))
    frame.to_csv(out / "predictions.csv", index=False)
    png = _parity_png(y, predictive, title)
    (out / "parity.png").write_bytes(png)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float) else
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>"
        for k, v in metrics.items()
    )
    info_rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in (info or {}).items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;}}
table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:2px 8px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p><strong>{html.escape(_verdict(metrics))}</strong> Mean absolute error {metrics['mae']:.3f},
mean predictive standard deviation {metrics['mean_std']:.3f} (same units as the target).</p>
<h2>Metrics</h2><table>{rows}</table>
<h2>Parity plot</h2><img alt="parity plot" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Run</h2><table>{info_rows}<tr><td>created</td><td>{record['created']}</td></tr>
<tr><td>machine</td><td>{html.escape(record['machine'])}</td></tr></table>
</body></html>
"""
    (out / "report.html").write_text(page, encoding="utf-8")
    return metrics
