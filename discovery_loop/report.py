"""The campaign report: what was found, how fast, and whether each round's model was honest.

:func:`campaign_summary` reads a ledger into numbers; :func:`round_calibration` scores each
round's model on the measurements of its own proposals (the calibration a lab actually saw);
:func:`campaign_report` writes ``report.html`` with the plots, plus ``rounds.csv`` and
``measurements.csv``, into a folder.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bdl._io import atomic_write_text
from bdl.predictive import MixturePredictive, Predictive, predictive_from_records
from discovery_loop.ledger import Ledger

__all__ = [
    "campaign_report", "campaign_summary", "comparison_report", "csv_safe", "proposal_predictive", "round_calibration",
]


def proposal_predictive(proposals: pd.DataFrame) -> Predictive:
    """Rebuild the recorded predictive of proposals (their ``predictive`` JSON records).

    Records of one kind give that kind (:func:`bdl.predictive.predictive_from_records`). A ledger
    resumed across versions can hold mixture records (older format) next to sample records;
    those are both Gaussian mixtures and are joined as one :class:`MixturePredictive`.
    """
    records = list(proposals["predictive"])
    kinds = {json.loads(r).get("kind", "mixture") for r in records}
    if len(kinds) == 1:
        return predictive_from_records(records)
    parts = [predictive_from_records([r]).as_mixture() for r in records]
    k = max(p[0].shape[1] for p in parts)
    w, loc, scale = np.zeros((len(parts), k)), np.zeros((len(parts), k)), np.ones((len(parts), k))
    for i, (pw, pl, ps) in enumerate(parts):
        n = pw.shape[1]
        w[i, :n], loc[i, :n], scale[i, :n] = pw[0], pl[0], ps[0]
    return MixturePredictive(w, loc, scale)


def round_calibration(ledger: Ledger) -> pd.DataFrame:
    """Each model round's calibration on what it proposed and was then measured.

    Returns
    -------
    DataFrame
        One row per model round with ``n``, ``nll``, ``coverage_90``, ``mean_abs_z``, ``pit``
        (list of PIT values) and ``mae``.
    """
    return _round_calibration(_measured_proposals(ledger.table("proposals"), ledger.measured()))


def _measured_proposals(proposals: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """Proposals with a recorded predictive and a measured value (column ``value``), in one frame."""
    return proposals.dropna(subset=["predictive"]).merge(measurements[["idx", "value"]], on="idx")


def _round_calibration(measured: pd.DataFrame) -> pd.DataFrame:
    """:func:`round_calibration` of the frame of :func:`_measured_proposals`."""
    from bdl.calibration import metrics as M

    rows = []
    for r, grp in measured.groupby("round"):
        p = proposal_predictive(grp)
        y = grp["value"].to_numpy(dtype=np.float64)
        rows.append({
            "round": int(r),
            "n": len(grp),
            "nll": M.nll(y, p),
            "coverage_90": M.interval_coverage(y, p, 0.9),
            "mean_abs_z": float(np.mean(np.abs((y - p.mean) / p.stddev))),
            "mae": float(np.mean(np.abs(y - p.mean))),
            "pit": M.pit(y, p).tolist(),
        })
    return pd.DataFrame(rows, columns=["round", "n", "nll", "coverage_90", "mean_abs_z", "mae", "pit"])


def campaign_summary(ledger: Ledger) -> dict[str, Any]:
    """The campaign in numbers: progress, best value, and (simulated) discovery metrics."""
    from discovery_loop.campaign import CampaignConfig
    from discovery_loop.metrics import (
        acceleration_factor,
        best_so_far,
        enhancement_factor,
        experiments_to_find,
        found_curve,
    )

    cfg = CampaignConfig.from_dict(ledger.config)
    m = ledger.measured()
    values = m["value"].to_numpy(dtype=np.float64)
    n_pool = len(ledger.pool_ids())
    out: dict[str, Any] = {
        "target": cfg.target,
        "goal": cfg.goal.describe(),
        "strategy": cfg.strategy + ("" if cfg.gate is None else f" with the diagnostics gate ({cfg.gate})"),
        "model": cfg.model,
        "seed": cfg.seed,
        "budget": cfg.budget,
        "batch_size": cfg.batch_size,
        "n_pool": n_pool,
        "n_measured": int(values.size),
        "n_rounds": ledger.n_rounds(),
        "n_pending": len(ledger.pending()),
        "best": cfg.goal.best(values),
        "best_id": None if values.size == 0 else str(m["id"].iloc[int(np.argmax(cfg.goal.utility(values)))]),
        "best_so_far": best_so_far(values, cfg.goal.utility(values)).tolist(),
    }
    targets = ledger.targets()
    if targets.size and values.size:
        curve = found_curve(m["idx"].to_numpy(), targets)
        out["n_targets"] = int(targets.size)
        out["found_curve"] = curve.tolist()
        out["found_fraction"] = float(curve[-1])
        for label, frac in (("first", 1.0 / targets.size), ("half", 0.5), ("all", 1.0)):
            n = experiments_to_find(curve, frac)
            out[f"experiments_to_{label}"] = n
            out[f"acceleration_{label}"] = acceleration_factor(n, n_pool, int(targets.size), frac)
        out["enhancement_at_end"] = float(enhancement_factor(curve, n_pool)[-1])
    return out


def _png(fig: Any) -> str:
    import base64

    import matplotlib.pyplot as plt

    from bdl.calibration.plots import figure_to_png

    data = base64.b64encode(figure_to_png(fig)).decode()
    plt.close(fig)
    return f'<img style="max-width:100%" alt="plot" src="data:image/png;base64,{data}">'


def _page(title: str, parts: list[str]) -> str:
    """A standalone HTML page in the calibration report's style."""
    from bdl.calibration.report import _CSS

    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><div class=bdl-report>"
        + "".join(parts)
        + "</div></body></html>\n"
    )


def _table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "—" if not np.isfinite(v) else f"{float(v):.4g}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def campaign_report(ledger: Ledger, out_dir: str | Path, title: str | None = None) -> Path:
    """Write ``report.html``, ``summary.json``, ``rounds.csv`` and ``measurements.csv`` to ``out_dir``.

    Returns
    -------
    Path
        The report file.
    """
    import matplotlib.pyplot as plt

    from discovery_loop.campaign import CampaignConfig
    from discovery_loop.plots import (
        escape_mathtext,
        plot_best_so_far,
        plot_found_fraction,
        plot_round_calibration,
        plot_triage_counts,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = CampaignConfig.from_dict(ledger.config)
    s = campaign_summary(ledger)
    rounds = ledger.table("rounds")
    m = ledger.measured()
    props = ledger.table("proposals")
    measured = _measured_proposals(props, ledger.measured())  # current values: corrections applied
    cal = _round_calibration(measured)
    title = title or f"Campaign: {cfg.target}, {cfg.goal.describe()}"

    parts = [f"<h1>{html.escape(title)}</h1>"]
    if s["best"] is None:
        headline = "No measurements yet."
    elif cfg.goal.kind == "window":
        hits = int(np.sum(cfg.goal.utility(m["value"].to_numpy()) == 0.0))
        headline = (f"{s['n_measured']} of {s['budget']} experiments in {s['n_rounds']} rounds; {hits} measured "
                    f"{html.escape(cfg.target)} values in the window.")
    else:
        headline = (f"{s['n_measured']} of {s['budget']} experiments in {s['n_rounds']} rounds; best {html.escape(cfg.target)} "
                    f"{s['best']:.4g} ({html.escape(str(s['best_id']))}).")
    parts.append(f"<section class=verdict><p class=headline>{headline}</p>")
    if "n_targets" in s:
        what = "window members" if cfg.goal.kind == "window" else "top 1 % candidates"
        def reached(label: str, words: str) -> str:
            n, af = s[f"experiments_to_{label}"], s[f"acceleration_{label}"]
            if not np.isfinite(n):
                return f"{words}: not reached"
            return f"{words} after {n:.0f} experiments (acceleration {af:.2g}x over random)"

        parts.append(
            f"<p>Found {s['found_fraction']:.0%} of the {s['n_targets']} {what}; "
            f"{reached('first', 'the first')}; {reached('half', 'half')}; {reached('all', 'all')}. "
            f"Enhancement factor at the end (found fraction over random picking's): {s['enhancement_at_end']:.2g}.</p>"
        )
    if s["n_pending"]:
        parts.append(f"<p>{s['n_pending']} proposals are waiting for measurements.</p>")
    parts.append("</section>")

    figs = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if cfg.goal.kind == "window":  # best-so-far means nothing for a window: show every measurement
        values = m["value"].to_numpy()
        inside = cfg.goal.utility(values) == 0.0
        x = np.arange(1, values.size + 1)
        ax.axhspan(float(cfg.goal.low), float(cfg.goal.high), color="C2", alpha=0.15, label="target window")  # type: ignore[arg-type]
        ax.scatter(x[~inside], values[~inside], s=10, color="grey", label="outside")
        ax.scatter(x[inside], values[inside], s=14, color="C2", label="inside")
        ax.set_xlabel("experiment")
        ax.set_ylabel(escape_mathtext(cfg.target))
        ax.legend(fontsize=8)
        title_best = "Every measured value (dotted: end of the initial design)"
    else:
        plot_best_so_far({s["strategy"]: [np.asarray(s["best_so_far"])]}, ax=ax, target_label=cfg.target)
        title_best = "Best value so far (dotted: end of the initial design)"
    ax.axvline(cfg.initial_size + 0.5, color="grey", linewidth=0.8, linestyle=":")
    figs.append((title_best, _png(fig)))
    if "n_targets" in s:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        what = "window members" if cfg.goal.kind == "window" else "top 1 %"
        plot_found_fraction({s["strategy"]: [np.asarray(s["found_curve"])]}, s["n_pool"], s["n_targets"], ax=ax, what=what)
        figs.append(("Targets found against random picking", _png(fig)))
    if len(cal):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_round_calibration(cal, ax=ax)
        figs.append(("Each round's model on its own measured proposals", _png(fig)))
        fig, ax = plt.subplots(figsize=(5, 3.5))
        from bdl.calibration.plots import plot_pit_histogram

        plot_pit_histogram(measured["value"].to_numpy(), proposal_predictive(measured), ax=ax, n_bins=10)
        figs.append(("PIT of all measured proposals (uniform if the models were calibrated)", _png(fig)))
    counts = {int(r.round): json.loads(r.triage_counts) for r in rounds.itertuples() if isinstance(r.triage_counts, str)}
    counts = {k: v for k, v in counts.items() if v}
    if counts:
        table = pd.DataFrame.from_dict(counts, orient="index").fillna(0).sort_index()
        fig, ax = plt.subplots(figsize=(6.5, 3.5))
        plot_triage_counts(table, ax=ax)
        figs.append(("Diagnostics triage of the scored candidates per round", _png(fig)))
    parts.append("<h2>Plots</h2>" + "".join(f"<h3>{html.escape(h)}</h3>{img}" for h, img in figs))

    if len(cal):
        parts.append("<h2>Calibration per round</h2><p>Each round's model scored on the candidates it proposed, "
                     "once measured: a biased sample (the acquisition chose them), but the one the lab relied on.</p>")
        parts.append(_table(cal.drop(columns=["pit"])))
    chosen_status = props.dropna(subset=["status"]).groupby(["round", "status"]).size().unstack(fill_value=0)
    if len(chosen_status):
        parts.append("<h2>Triage of the proposals</h2>")
        parts.append(_table(chosen_status.reset_index()))
    show_rounds = rounds.drop(columns=[c for c in ("model_params",) if c in rounds.columns])
    parts.append("<h2>Rounds</h2>" + _table(show_rounds))
    top = m.assign(utility=cfg.goal.utility(m["value"].to_numpy())).sort_values("utility", ascending=False).head(15)
    parts.append(f"<h2>Best measured candidates</h2>{_table(top.drop(columns=['utility']))}")
    params = rounds["model_params"].dropna()
    settings = {k: v for k, v in cfg.to_dict().items() if k != "pool"}
    parts.append("<h2>Configuration</h2><pre>" + html.escape(json.dumps(settings, indent=1, sort_keys=True)) + "</pre>")
    if len(params):
        parts.append("<h3>Model hyper-parameters</h3><pre>" + html.escape(params.iloc[-1]) + "</pre>")
    history = ledger.measurement_history()
    corrected = history[history["status"] != "measured"]
    if len(corrected):
        parts.append("<h2>Corrections</h2><p>Measurements corrected after they were recorded (append-only: the "
                     "original value and every correction are kept). Rounds after a correction train on the current "
                     "value; rounds before it stay as they were proposed.</p>")
        parts.append(_table(corrected[["id", "round", "status", "value", "original_value", "corrections"]]))
    events = ledger.events()
    if len(events):
        parts.append("<h2>Events</h2>" + _table(events))

    page = _page(title, parts)
    report = out / "report.html"
    atomic_write_text(report, page)
    atomic_write_text(out / "rounds.csv", csv_safe(rounds).to_csv(index=False))
    # current value, status and the history of every measurement (retracted: value empty)
    atomic_write_text(out / "measurements.csv", csv_safe(history).to_csv(index=False))
    summary = {k: v for k, v in s.items() if k not in ("best_so_far", "found_curve")}
    summary = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in summary.items()}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=float))
    return report


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas, numbers unchanged.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    ``'`` (OWASP's advice against CSV injection: ``=cmd|' /C calc'!A0`` in an ID would run when
    the file is opened). Numeric columns are left alone, and so is a text cell that is a plain
    number (``-1.5``), so values read back the same.
    """
    from discovery_loop.oracles import parse_number

    out = df.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue

        def guard(v: Any) -> Any:
            if isinstance(v, str) and v.startswith(_FORMULA_START) and parse_number(v) is None:
                return "'" + v
            return v

        out[col] = out[col].map(guard)
    return out


def _label(summary: dict[str, Any]) -> str:
    return f"{summary['strategy']} ({summary['model']})"


def comparison_report(ledgers: list[Ledger], out_dir: str | Path, title: str | None = None) -> Path:
    """Compare campaigns on the same pool: bands over seeds per strategy, factors against random.

    Campaigns are grouped by strategy (gate included) and model; each group's curves are drawn
    as a median line and a 10-90 % band over its seeds. Writes ``comparison.html`` and
    ``comparison.csv`` (one row per ledger) into ``out_dir``.

    Raises
    ------
    LedgerError
        If the ledgers are of different pools or targets (nothing to compare).
    """
    import matplotlib.pyplot as plt

    from bdl.errors import LedgerError
    from discovery_loop.campaign import CampaignConfig
    from discovery_loop.metrics import enhancement_factor
    from discovery_loop.plots import plot_best_so_far, plot_found_fraction

    if not ledgers:
        raise LedgerError("comparison_report needs at least one ledger.")
    summaries = [campaign_summary(lg) for lg in ledgers]
    fingerprints = {lg.meta().get("pool_fingerprint") for lg in ledgers}
    targets = {(s["target"], s["goal"]) for s in summaries}
    if len(fingerprints) > 1 or len(targets) > 1:
        raise LedgerError(
            "these ledgers are campaigns on different pools, targets or goals; compare campaigns on the same "
            "pool, target and goal (e.g. several seeds and strategies of one simulated campaign)."
        )
    cfg = CampaignConfig.from_dict(ledgers[0].config)
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
        groups.setdefault(_label(s), []).append(s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = title or f"Campaign comparison: {cfg.target}, {cfg.goal.describe()}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    rows = []
    for s, lg in zip(summaries, ledgers):
        rows.append({
            "ledger": lg.path.name, "group": _label(s), "seed": s["seed"], "measured": s["n_measured"], "best": s["best"],
            **{k: s.get(k, float("nan")) for k in (
                "found_fraction", "experiments_to_first", "experiments_to_all", "acceleration_first",
                "acceleration_half", "acceleration_all", "enhancement_at_end")},
        })
    table = pd.DataFrame(rows)
    agg = table.groupby("group").agg(
        campaigns=("seed", "size"),
        best_median=("best", "median"),
        found_median=("found_fraction", "median"),
        af_first_median=("acceleration_first", "median"),
        af_half_median=("acceleration_half", "median"),
        af_all_median=("acceleration_all", "median"),
        ef_end_median=("enhancement_at_end", "median"),
    ).reset_index()
    parts.append("<p>Acceleration factor (AF): random picking's expected experiments to find the first, half or all "
                 "targets (closed form m(N+1)/(M+1)) over the campaign's; enhancement factor (EF): fraction found "
                 "over random picking's expected n/N at the end (Rohr et al. 2020). NaN: never reached.</p>")
    parts.append("<h2>Per strategy (medians over seeds)</h2>" + _table(agg))
    figs = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_best_so_far({g: [np.asarray(s["best_so_far"]) for s in ss] for g, ss in groups.items()}, ax=ax, target_label=cfg.target)
    figs.append(("Best value so far", _png(fig)))
    if all("found_curve" in s for s in summaries):
        n_pool, n_t = summaries[0]["n_pool"], summaries[0]["n_targets"]
        fig, ax = plt.subplots(figsize=(6.5, 4))
        what = "window members" if cfg.goal.kind == "window" else "top 1 %"
        plot_found_fraction({g: [np.asarray(s["found_curve"]) for s in ss] for g, ss in groups.items()}, n_pool, n_t, ax=ax, what=what)
        figs.append(("Targets found against random picking", _png(fig)))
        fig, ax = plt.subplots(figsize=(6.5, 4))
        from discovery_loop.plots import _band

        for g, ss in groups.items():
            _band(ax, [enhancement_factor(np.asarray(s["found_curve"]), n_pool) for s in ss], g, None)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("experiments")
        ax.set_ylabel("enhancement factor over random")
        ax.legend(fontsize=8)
        figs.append(("Enhancement factor", _png(fig)))
    parts.append("<h2>Plots</h2>" + "".join(f"<h3>{html.escape(h)}</h3>{img}" for h, img in figs))
    parts.append("<h2>Every campaign</h2>" + _table(table))
    page = _page(title, parts)
    path = out / "comparison.html"
    atomic_write_text(path, page)
    atomic_write_text(out / "comparison.csv", csv_safe(table).to_csv(index=False))
    return path
