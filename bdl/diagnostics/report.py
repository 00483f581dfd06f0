"""The diagnostics section of the calibration report.

``report.add_section(*diagnostics_section(triage_df, bnn_pred, mdn_pred, checks))`` appends
the triage counts, the global checks, the most strongly flagged candidates and a plot of the
two predictives over the clearest bimodal one to a
:class:`bdl.calibration.report.CalibrationReport`.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np
import pandas as pd

from bdl.diagnostics.triage import STATUSES
from bdl.errors import InputError

__all__ = ["diagnostics_section"]

_TOP_COLUMNS = ["status", "bnn_mean", "bnn_std", "n_modes", "mode_1", "mode_2", "mass_2", "ashman_d",
                "between_mode_share", "epistemic_share", "ood_score", "reasons"]


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" style="max-width:100%" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')


def _cell(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if not np.isfinite(v) else f"{float(v):.3g}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, index_name: str | None = None) -> str:
    cols = list(df.columns)
    head = (f"<th>{html.escape(index_name)}</th>" if index_name else "") + "".join(
        f"<th>{html.escape(str(c))}</th>" for c in cols)
    rows = []
    for idx, r in df.iterrows():
        first = f"<td>{html.escape(str(idx))}</td>" if index_name else ""
        rows.append("<tr>" + first + "".join(
            f"<td class=num>{_cell(r[c])}</td>" if isinstance(r[c], (float, int, np.number)) and not isinstance(r[c], bool)
            else f"<td>{_cell(r[c])}</td>" for c in cols) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def diagnostics_section(
    triage_df: pd.DataFrame,
    bnn_pred: Any,
    mdn_pred: Any,
    checks: pd.DataFrame | None = None,
    max_rows: int = 15,
) -> tuple[str, str]:
    """Heading and HTML of the diagnostics section, plots embedded as PNG.

    Parameters
    ----------
    triage_df : DataFrame from :func:`bdl.diagnostics.triage`
    bnn_pred, mdn_pred : Predictive of the same length
    checks : DataFrame from :func:`bdl.diagnostics.global_checks`, optional
    max_rows : int, default 15
        Most flagged candidates listed.

    Returns
    -------
    (str, str)
        For ``CalibrationReport.add_section(heading, html)``.
    """
    from bdl.calibration.plots import figure_to_png
    from bdl.diagnostics.plots import plot_candidate, plot_triage_counts

    if not isinstance(triage_df, pd.DataFrame) or "status" not in triage_df.columns:
        raise InputError("triage_df must be the DataFrame returned by bdl.diagnostics.triage.")
    if len(triage_df) != len(bnn_pred) or len(triage_df) != len(mdn_pred):
        raise InputError(
            f"triage_df has {len(triage_df)} rows, bnn_pred {len(bnn_pred)} and mdn_pred {len(mdn_pred)}; they must match."
        )
    status = triage_df["status"].astype(str)
    counts = status.value_counts().reindex(list(STATUSES), fill_value=0)
    n = len(triage_df)
    parts = []
    flagged = n - int(counts["ok"])
    parts.append(
        f"<p class=headline>{flagged} of {n} candidates ({flagged / max(n, 1):.0%}) have an uncertainty that is not what "
        f"it seems: {counts['bimodal']} bimodal, {counts['misspecified']} misspecified, "
        f"{counts['out_of_distribution']} out of distribution.</p>"
        "<p>Bimodal: the mixture density network sees two separated outcomes, so the BNN's variance is the distance "
        "between them, not ignorance, and its mean may be a value that does not occur. Misspecified: one outcome, but "
        "not Gaussian (heavy tails, a bound, a wrong noise level). Out of distribution: far from the training data, "
        "where a large epistemic variance is honest.</p>"
    )
    parts.append(_img(figure_to_png(plot_triage_counts(triage_df).figure), "triage counts"))
    if checks is not None and len(checks):
        shown = checks.copy()
        shown["flagged"] = np.where(shown["flagged"].to_numpy(dtype=bool), "yes", "no")
        parts.append("<h3>Global checks on held-out data</h3>" + _table(shown.set_index("check"), "check"))
    bim = np.flatnonzero(status.to_numpy() == "bimodal")
    if len(bim):
        score = triage_df["between_mode_share"].to_numpy()[bim]
        best = int(bim[np.argmax(np.nan_to_num(score))])
        ax = plot_candidate(bnn_pred, mdn_pred, best, triage_df=triage_df)
        parts.append("<h3>The clearest bimodal candidate</h3>" + _img(figure_to_png(ax.figure), "bimodal candidate"))
    other = np.flatnonzero(status.isin(["misspecified"]).to_numpy())
    if len(other):
        score = np.abs(np.log(np.maximum(triage_df["noise_ratio"].to_numpy()[other], 1e-12)))
        pick = int(other[np.argmax(score)])
        ax = plot_candidate(bnn_pred, mdn_pred, pick, triage_df=triage_df)
        parts.append("<h3>A misspecified candidate</h3>" + _img(figure_to_png(ax.figure), "misspecified candidate"))
    if flagged:
        order = triage_df[status != "ok"].sort_values("between_mode_share", ascending=False).head(int(max_rows))
        cols = [c for c in _TOP_COLUMNS if c in order.columns]
        if "replicate_spread" in order.columns and order["replicate_spread"].notna().any():
            cols.insert(cols.index("reasons") if "reasons" in cols else len(cols), "replicate_spread")
        parts.append(f"<h3>Flagged candidates (up to {int(max_rows)}, by between-mode share)</h3>"
                     + _table(order[cols], "candidate"))
    return "Diagnostics: is the uncertainty what it seems?", "".join(parts)
