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
    "FIGURES", "CampaignReportView", "CampaignView", "campaign_figures", "campaign_html", "campaign_report", "campaign_summary",
    "comparison_report", "csv_safe", "proposal_predictive", "proposal_scores", "round_calibration", "verdict",
]


def proposal_predictive(proposals: pd.DataFrame) -> Predictive:
    """Rebuild the recorded predictive of proposals (their ``predictive`` JSON records).

    Records of one kind give that kind (:func:`bdl.predictive.predictive_from_records`):
    Gaussian, mixture, samples or bounded. A ledger resumed across versions can hold Gaussian,
    mixture (older format) and per-pass sample records side by side; those are all Gaussian
    mixtures and are joined, from their records, as one :class:`MixturePredictive`. Other
    mixes (a bounded record, plain samples) have no joint form: score them one kind at a time
    (:func:`proposal_scores` does).

    Raises
    ------
    InputError
        For a mix of kinds that has no joint form.
    """
    from bdl.errors import InputError

    records = list(proposals["predictive"])
    parsed = [json.loads(r) for r in records]
    kinds = {d.get("kind", "mixture") for d in parsed}
    if len(kinds) == 1:
        return predictive_from_records(records)
    rows: list[tuple[list[float], list[float], list[float]]] = []
    for i, d in enumerate(parsed):
        kind = d.get("kind", "mixture")
        if kind == "gaussian":
            rows.append(([1.0], [float(d["mean"])], [float(d["std"])]))
        elif kind == "mixture":
            rows.append((list(d["w"]), list(d["loc"]), list(d["scale"])))
        elif kind == "samples" and d.get("scale") is not None:
            n = len(d["loc"])
            rows.append(([1.0 / n] * n, list(d["loc"]), list(d["scale"])))
        else:
            raise InputError(
                f"proposal {i} holds a {kind!r} predictive record next to records of kinds {sorted(kinds - {kind})}; "
                "these have no joint form: rebuild each kind on its own, or use discovery_loop.report.proposal_scores."
            )
    k = max(len(r[0]) for r in rows)
    w, loc, scale = np.zeros((len(rows), k)), np.zeros((len(rows), k)), np.ones((len(rows), k))
    for i, (pw, pl, ps) in enumerate(rows):
        w[i, : len(pw)], loc[i, : len(pl)], scale[i, : len(ps)] = pw, pl, ps
    return MixturePredictive(w, loc, scale)


def round_calibration(ledger: Ledger) -> pd.DataFrame:
    """Each model round's calibration on what it proposed and was then measured.

    Returns
    -------
    DataFrame
        One row per model round with ``n``, ``nll``, ``coverage_50``, ``coverage_90``,
        ``mean_abs_z``, ``pit`` (list of PIT values) and ``mae``.
    """
    return _round_calibration(_measured_proposals(ledger.table("proposals"), ledger.measured()))


def _measured_proposals(proposals: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """Proposals with a recorded predictive and a measured value (column ``value``), in one frame."""
    return proposals.dropna(subset=["predictive"]).merge(measurements[["idx", "value"]], on="idx")


def proposal_scores(measured: pd.DataFrame) -> pd.DataFrame:
    """Per measured proposal: the recorded predictive scored at the measured value.

    Reads the predictives only through :func:`proposal_predictive` and the generic predictive
    API (``cdf``, ``interval``, ``mean``, ``stddev``, ``log_prob``), one kind at a time, so any
    kind (Gaussian, mixture, samples, bounded) and ledgers that mix kinds work alike.

    Parameters
    ----------
    measured : DataFrame
        Proposals with ``predictive`` records and a measured ``value`` (one row per proposal).

    Returns
    -------
    DataFrame
        The rows of ``measured`` (same order) with ``pred_mean``, ``pred_std``, ``pit``,
        ``in_50``, ``in_90`` (bool), ``z`` and ``nll_point``.
    """
    from bdl.calibration import metrics as M

    out = measured.reset_index(drop=True).copy()
    cols = {c: np.full(len(out), np.nan) for c in ("pred_mean", "pred_std", "pit", "z", "nll_point", "in_50", "in_90")}
    if len(out):
        kinds = out["predictive"].map(lambda r: json.loads(r).get("kind", "mixture"))
        # one group per kind and round: a round's recalibrated or conformal predictives share
        # that round's calibration, and records of different calibrations do not join
        rounds = out["round"] if "round" in out.columns else pd.Series(0, index=out.index)
        for _, pos in out.groupby([kinds, rounds]).indices.items():
            grp = out.iloc[pos]
            p = proposal_predictive(grp)
            y = grp["value"].to_numpy(dtype=np.float64)
            cols["pred_mean"][pos] = p.mean
            cols["pred_std"][pos] = p.stddev
            cols["pit"][pos] = M.pit(y, p)
            cols["z"][pos] = (y - p.mean) / p.stddev
            cols["nll_point"][pos] = -np.asarray(p.log_prob(y), dtype=np.float64)
            for level in (0.5, 0.9):
                lo, hi = p.interval(level)
                cols[f"in_{int(level * 100)}"][pos] = (y >= lo) & (y <= hi)
    for k, v in cols.items():
        out[k] = v.astype(bool) if k.startswith("in_") else v
    return out


def _round_calibration(measured: pd.DataFrame) -> pd.DataFrame:
    """:func:`round_calibration` of the frame of :func:`_measured_proposals`."""
    scored = proposal_scores(measured)
    rows = []
    for r, grp in scored.groupby("round"):
        y = grp["value"].to_numpy(dtype=np.float64)
        rows.append({
            "round": int(r),
            "n": len(grp),
            "nll": float(np.mean(grp["nll_point"])),
            "coverage_50": float(np.mean(grp["in_50"])),
            "coverage_90": float(np.mean(grp["in_90"])),
            "mean_abs_z": float(np.mean(np.abs(grp["z"]))),
            "mae": float(np.mean(np.abs(y - grp["pred_mean"].to_numpy()))),
            "pit": grp["pit"].tolist(),
        })
    return pd.DataFrame(rows, columns=["round", "n", "nll", "coverage_50", "coverage_90", "mean_abs_z", "mae", "pit"])


def _finite(v: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars Python numbers."""
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _json_cell(text: Any) -> dict[str, Any]:
    """A JSON-object column's cell as a dict ({} for empty or unreadable cells)."""
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def campaign_summary(ledger: Ledger) -> dict[str, Any]:
    """The campaign in numbers: progress, what was found, against random picking, and trust.

    Stable names (also written to ``summary.json``):

    - every goal: ``target``, ``goal``, ``goal_kind``, ``n_measured``, ``n_rounds``, ...;
    - ``maximize`` / ``minimize``: ``best``, ``best_id``, ``best_round``, ``best_so_far``;
    - ``window``: ``window_low``, ``window_high``, ``n_hits``, ``hit_rate``, ``closest_misses``
      (the measured values nearest the window, with their distance); ``best`` and ``best_id``
      are None (a window has no "best");
    - simulated pools: ``n_targets``, ``n_found``, ``found_fraction``, ``random_expected_found``,
      ``random_found_low`` / ``random_found_high`` (random picking's 90 % band at the same
      number of experiments), ``experiments_to_*``, ``acceleration_*``, ``enhancement_at_end``;
    - the proposals' own uncertainty: ``n_proposals_scored``, ``proposal_coverage_50``,
      ``proposal_coverage_90``, ``proposal_mean_abs_z``, ``proposal_pit_ks_pvalue``;
    - the diagnostics: ``triage_last_round`` (counts by status), ``triage_flagged_share``,
      ``proposals_flagged``, ``triage_summary_last_round`` (when the ledger records it).
    """
    from scipy import stats

    from discovery_loop.campaign import CampaignConfig
    from discovery_loop.metrics import (
        acceleration_factor,
        best_so_far,
        enhancement_factor,
        experiments_to_find,
        found_curve,
    )

    cfg = CampaignConfig.from_dict(ledger.config)
    goal = cfg.goal
    m = ledger.measured()
    values = m["value"].to_numpy(dtype=np.float64)
    utility = goal.utility(values)
    n_pool = len(ledger.pool_ids())
    out: dict[str, Any] = {
        "target": cfg.target,
        "goal": goal.describe(),
        "goal_kind": goal.kind,
        "strategy": cfg.strategy + ("" if cfg.gate is None else f" with the diagnostics gate ({cfg.gate})")
        + ("" if cfg.recalibrate is None else f" on the predictive recalibrated each round ({cfg.recalibrate}, cross-fitted)"),
        "gate": cfg.gate,
        "recalibrate": cfg.recalibrate,
        "model": cfg.model,
        "seed": cfg.seed,
        "budget": cfg.budget,
        "batch_size": cfg.batch_size,
        "n_initial": cfg.initial_size,
        "n_pool": n_pool,
        "n_measured": int(values.size),
        "n_rounds": ledger.n_rounds(),
        "n_pending": len(ledger.pending()),
        "best": None,
        "best_id": None,
        "best_so_far": best_so_far(values, utility).tolist(),
    }
    if goal.kind == "window":
        inside = utility == 0.0
        distance = -utility
        misses = m.assign(distance=distance)[~inside].sort_values(["distance", "round"], kind="stable").head(5)
        out.update(
            window_low=float(goal.low),  # type: ignore[arg-type]
            window_high=float(goal.high),  # type: ignore[arg-type]
            n_hits=int(inside.sum()),
            hit_rate=float(inside.mean()) if values.size else None,
            closest_misses=[{"id": str(r.id), "value": float(r.value), "distance": float(r.distance), "round": int(r.round)}
                            for r in misses.itertuples()],
        )
    elif values.size:
        i = int(np.argmax(utility))
        out.update(best=float(values[i]), best_id=str(m["id"].iloc[i]), best_round=int(m["round"].iloc[i]))
    targets = ledger.targets()
    if targets.size and values.size:
        curve = found_curve(m["idx"].to_numpy(), targets)
        n_found = int(round(float(curve[-1]) * targets.size))
        dist = stats.hypergeom(n_pool, int(targets.size), int(values.size))
        out["n_targets"] = int(targets.size)
        out["found_curve"] = curve.tolist()
        out["n_found"] = n_found
        out["found_fraction"] = float(curve[-1])
        out["random_expected_found"] = float(values.size * targets.size / n_pool)
        out["random_found_low"] = int(dist.ppf(0.05))
        out["random_found_high"] = int(dist.ppf(0.95))
        out["random_p_at_least"] = float(dist.sf(n_found - 1))  # chance random picking finds as many or more
        for label, frac in (("first", 1.0 / targets.size), ("half", 0.5), ("all", 1.0)):
            n = experiments_to_find(curve, frac)
            out[f"experiments_to_{label}"] = n
            out[f"acceleration_{label}"] = acceleration_factor(n, n_pool, int(targets.size), frac)
        out["enhancement_at_end"] = float(enhancement_factor(curve, n_pool)[-1])
    # the model's uncertainty about its own proposals, once measured
    props = ledger.table("proposals")
    scored = proposal_scores(_measured_proposals(props, m))
    out["n_proposals_scored"] = len(scored)
    if len(scored):
        out["proposal_coverage_50"] = float(np.mean(scored["in_50"]))
        out["proposal_coverage_90"] = float(np.mean(scored["in_90"]))
        out["proposal_mean_abs_z"] = float(np.mean(np.abs(scored["z"])))
        out["proposal_pit_ks_pvalue"] = float(stats.kstest(scored["pit"], "uniform").pvalue) if len(scored) > 1 else None
    # what the diagnostics flagged
    rounds = ledger.table("rounds")
    model_rounds = rounds[rounds["triage_counts"].map(lambda t: bool(_json_cell(t)))]
    if len(model_rounds):
        last = model_rounds.iloc[-1]
        counts = {k: int(v) for k, v in _json_cell(last["triage_counts"]).items()}
        total = sum(counts.values())
        out["triage_round"] = int(last["round"])
        out["triage_last_round"] = counts
        out["triage_flagged_share"] = (total - counts.get("ok", 0)) / total if total else None
        if "triage_summary" in rounds.columns:
            summ = _json_cell(last.get("triage_summary"))
            if summ:
                out["triage_summary_last_round"] = summ
    statuses = props.dropna(subset=["status"])
    if len(statuses):
        out["proposals_flagged"] = int((statuses["status"] != "ok").sum())
        out["proposals_triaged"] = len(statuses)
    return out


def _png(fig: Any, alt: str = "plot") -> str:
    import base64

    import matplotlib.pyplot as plt

    from bdl.calibration.plots import figure_to_png

    data = base64.b64encode(figure_to_png(fig)).decode()
    plt.close(fig)
    return f'<img style="max-width:100%;height:auto" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


#: Layout on top of the calibration report's style: wide tables scroll inside their own box,
#: long configuration text wraps, figures sit side by side when the window is wide enough.
_EXTRA_CSS = (
    ".bdl-report{padding:0 1em;box-sizing:border-box}"
    ".bdl-report .scroll{max-width:100%;overflow-x:auto}"
    ".bdl-report pre{white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}"
    ".bdl-report .figs{display:flex;flex-wrap:wrap;gap:1em}"
    ".bdl-report figure{margin:0;flex:1 1 30em;max-width:100%}"
    ".bdl-report figcaption{font-weight:600;margin:.5em 0}"
)


def _page(title: str, parts: list[str]) -> str:
    """A standalone HTML page in the calibration report's style."""
    from bdl.calibration.report import _CSS

    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}{_EXTRA_CSS}</style></head><body><div class=bdl-report>"
        + "".join(parts)
        + "</div></body></html>\n"
    )


def _table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if v is None or v is pd.NA:
            return "<td class=num>—</td>"
        if isinstance(v, (float, np.floating)):
            return "<td class=num>—</td>" if not np.isfinite(v) else f"<td class=num>{float(v):.4g}</td>"
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"<td class=num>{int(v)}</td>"
        return f"<td>{html.escape('' if v is None else str(v))}</td>"

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _fig(size: tuple[float, float] = (6.0, 3.8)) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size, layout="constrained")


def _pct(x: float) -> str:
    """A share in percent; one decimal near 0 % and 100 % so 99.6 % is not shown as 100 %."""
    p = 100 * float(x)
    return f"{p:.1f} %" if (0 < p < 1 or 99 < p < 100) else f"{p:.0f} %"


def _coverage_words(coverage: float, level: float, n: int) -> tuple[str, float]:
    """Whether a measured coverage is below, above or within sampling noise of ``level``:
    ('below' | 'above' | 'near', two-sided binomial p-value)."""
    from scipy import stats

    k = int(round(coverage * n))
    p = float(stats.binomtest(k, n, level).pvalue) if n else 1.0
    if p >= 0.05:
        return "near", p
    return ("below" if coverage < level else "above"), p


def verdict(summary: dict[str, Any]) -> list[str]:
    """The campaign's verdict in plain words, most important first (one string per paragraph).

    What was found (hits or the best value), what that means against random picking (with its
    90 % band; an acceleration below 1 explained), whether the model's uncertainty about its
    own proposals can be trusted, and what the diagnostics flagged and the gate did.
    """
    s = summary
    target = s["target"]
    lines: list[str] = []
    if s["n_measured"] == 0:
        return ["No measurements yet."]
    head = f"{s['n_measured']} of {s['budget']} experiments in {s['n_rounds']} rounds"
    if s["goal_kind"] == "window":
        lo, hi = s["window_low"], s["window_high"]
        lines.append(f"{head}: {s['n_hits']} measured {target} values fell in the window [{lo:g}, {hi:g}] "
                     f"({_pct(s['hit_rate'])} of the experiments).")
        if s.get("closest_misses"):
            near = ", ".join(f"{c['id']} ({c['value']:.3g}, {c['distance']:.2g} outside)" for c in s["closest_misses"][:3])
            lines.append(f"Closest misses: {near}.")
    else:
        word = "largest" if s["goal_kind"] == "maximize" else "smallest"
        lines.append(f"{head}: best {target} {s['best']:.4g} ({s['best_id']}, measured in round {s['best_round']}), "
                     f"the {word} value measured.")
    if "n_targets" in s:
        what = "window members" if s["goal_kind"] == "window" else "top 1 % candidates"
        lo, hi = s["random_found_low"], s["random_found_high"]
        found = (f"The campaign found {s['n_found']} of the pool's {s['n_targets']} {what} ({_pct(s['found_fraction'])}); "
                 f"random picking of the same {s['n_measured']} candidates would find {s['random_expected_found']:.1f} "
                 f"on average, and between {lo} and {hi} in 90 % of tries.")
        if s["n_found"] > hi:
            ratio = s["n_found"] / s["random_expected_found"]
            found += f" That is clearly better than random picking ({ratio:.2g} times as many)."
        elif s["n_found"] < lo:
            found += " That is worse than random picking: the model led the search away from the targets."
        else:
            found += " That is within random picking's range: no evidence that the model helped."
        lines.append(found)
        af = s.get("acceleration_first")
        n_first = s.get("experiments_to_first")
        if af is not None and np.isfinite(af) and n_first is not None:
            words = (f"The first target came after {n_first:.0f} experiments"
                     + (" (still in the random initial design)" if n_first <= s["n_initial"] else "")
                     + f"; random picking needs {af * n_first:.1f} on average, an acceleration of {af:.2g}x")
            if af < 1:
                words += (" (below 1: this campaign needed more experiments than random picking would on average;"
                          " with few targets the first one is largely luck, for the campaign and for random picking alike)")
            lines.append(words + ".")
    if s.get("n_proposals_scored"):
        c50, c90 = s["proposal_coverage_50"], s["proposal_coverage_90"]
        n = int(s["n_proposals_scored"])
        trust = (f"Uncertainty about its own proposals: of {n} measured proposals, "
                 f"{_pct(c50)} fell inside the model's 50 % intervals and {_pct(c90)} inside its 90 % intervals. ")
        side50, _ = _coverage_words(c50, 0.5, n)
        side90, _ = _coverage_words(c90, 0.9, n)
        if "below" in (side50, side90):
            trust += ("That is fewer than the stated levels allow by chance: the model was over-confident about what it "
                      "proposed (its intervals were too narrow), so widen them in your head before relying on one. ")
        elif "above" in (side50, side90):
            trust += ("That is more than the stated levels: the intervals were wider than needed (under-confident), "
                      "safe but less sharp than they could be. ")
        else:
            trust += "That is within what chance allows around the stated levels: the intervals can be read as stated. "
        trust += ("Proposals are selected for looking good, so some optimism is expected here even from a calibrated "
                  "model (the winner's curse); a calibration report on held-out data tells the model's general calibration.")
        lines.append(trust)
    if "triage_last_round" in s:
        counts = s["triage_last_round"]
        flagged = {k: v for k, v in counts.items() if k != "ok" and v}
        total = sum(counts.values())
        if flagged:
            parts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(flagged.items(), key=lambda kv: -kv[1]))
            diag = (f"Diagnostics: in round {s['triage_round']} they marked {_pct(s['triage_flagged_share'])} of the "
                    f"{total} scored candidates as other than ok ({parts}).")
            if s["triage_flagged_share"] > 0.5:
                diag += (" Flags on most of the pool say more about how little the mixture-density net has seen than about"
                         " the candidates; read them as 'unsure'.")
        else:
            diag = f"Diagnostics: in round {s['triage_round']} every scored candidate was ok."
        if s.get("gate") and not (s.get("triage_summary_last_round") or {}).get("gate"):
            gate_words = {"skip": "skipped flagged candidates whose predictive spread would otherwise lure the search",
                          "downweight": "down-weighted the scores of flagged candidates",
                          "mixture": "re-scored flagged candidates under the mixture-density net's predictive"}
            diag += f" The gate ({s['gate']}) {gate_words.get(s['gate'], 'acted on flagged candidates')}"
            if "proposals_flagged" in s:
                diag += (f"; {s['proposals_flagged']} of the {s['proposals_triaged']} proposals it let through were other"
                         " than ok")
            diag += "."
        elif not s.get("gate") and "proposals_flagged" in s:
            diag += (f" No gate was used: {s['proposals_flagged']} of the {s['proposals_triaged']} proposals were other"
                     " than ok.")
        summ = s.get("triage_summary_last_round")
        if summ:
            diag += " " + triage_summary_words(summ)
        lines.append(diag)
    if s["n_pending"]:
        lines.append(f"{s['n_pending']} proposals are waiting for measurements.")
    return lines


def triage_summary_words(summary: dict[str, Any]) -> str:
    """A round's recorded ``triage_summary`` (see :func:`bdl.diagnostics.round_summary`) in words.

    Known fields (top reasons, the evidence behind the mixture verdicts, what the gate did) are
    written as sentences; anything else as ``key: value``. Never fails on a partial record.
    """
    known = {"n_candidates", "counts", "n_flagged", "top_reasons", "evidence", "gate"}
    out: list[str] = []
    reasons = summary.get("top_reasons") or []
    if isinstance(reasons, list) and reasons:
        out.append("Most common reasons: " + "; ".join(
            f"{r.get('reason', '?')} ({r.get('count', '?')})" for r in reasons if isinstance(r, dict)) + ".")
    evidence = summary.get("evidence")
    if isinstance(evidence, dict) and evidence.get("text"):
        out.append(f"Evidence: {evidence['text']}".rstrip(".") + ".")
    gate = summary.get("gate")
    if isinstance(gate, dict):
        if gate.get("action"):
            words = (f"The gate ({gate['action']}) acted on {gate.get('n_gated', '?')} candidates and left "
                     f"{gate.get('n_flagged_not_gated', '?')} flagged ones alone")
            if gate.get("n_proposed") is not None:
                words += f"; {gate.get('n_proposed_flagged', 0)} of the {gate['n_proposed']} proposals were flagged"
            if gate.get("why_flagged_proposed"):
                words += f" ({gate['why_flagged_proposed']})"
            if gate.get("fallback"):
                words += "; too few unflagged candidates were left, so flagged ones were ranked after the others"
            out.append(words + ".")
        elif gate.get("why_flagged_proposed"):
            out.append(f"No gate: {gate['why_flagged_proposed']}".rstrip(".") + ".")
    rest = {k: v for k, v in summary.items() if k not in known}
    if rest:
        out.append(_words(rest) + ".")
    return " ".join(out)


def _words(d: Any) -> str:
    """A small JSON value as readable text: ``key: value; ...`` (nested objects in brackets)."""
    if isinstance(d, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {_words(v)}" for k, v in d.items())
    if isinstance(d, list):
        return ", ".join(_words(v) for v in d)
    if isinstance(d, float):
        return f"{d:.3g}"
    return str(d)


def _rounds_table(rounds: pd.DataFrame) -> pd.DataFrame:
    """The rounds as readable columns: triage counts one column per status, time in seconds."""
    rows = []
    for r in rounds.itertuples(index=False):
        row: dict[str, Any] = {"round": int(r.round), "kind": r.kind, "trained on": int(r.n_train),
                               "candidates": int(r.n_candidates), "model": r.model or "", "strategy": r.strategy}
        for k, v in sorted(_json_cell(getattr(r, "triage_counts", None)).items()):
            row[k.replace("_", " ")] = int(v)
        summ = _json_cell(getattr(r, "triage_summary", None))
        gate = summ.get("gate") if isinstance(summ.get("gate"), dict) else {}
        if gate.get("action"):
            row["gated"] = gate.get("n_gated")
        if "n_proposed_flagged" in gate:
            row["flagged proposals"] = gate.get("n_proposed_flagged")
        timings = _json_cell(getattr(r, "timings", None))
        if timings:
            row["seconds"] = float(sum(v for v in timings.values() if isinstance(v, (int, float))))
        rows.append(row)
    table = pd.DataFrame(rows)
    # a column that is the same in every model round says nothing per round (it is in the configuration)
    model_rows = table[table["kind"] != "initial"] if len(table) else table
    for col in ("model", "strategy"):
        if len(model_rows) and model_rows[col].nunique() <= 1:
            table = table.drop(columns=[col])
    for col in ("ok", "bimodal", "misspecified", "out of distribution", "unsure", "gated", "flagged proposals"):
        if col in table.columns:
            table[col] = table[col].astype("Int64")
    return table


def _candidates_tables(m: pd.DataFrame, cfg: Any, n_show: int = 20) -> list[str]:
    """The measured candidates that matter: hits and closest misses (window), or the best by value."""
    goal = cfg.goal
    cols = ["id", "value", "round"]
    show = m[cols].copy()
    if goal.kind == "window":
        centre = 0.5 * (float(goal.low) + float(goal.high))
        show["distance to window"] = -goal.utility(show["value"].to_numpy())
        hits = show[show["distance to window"] == 0].assign(**{"distance to centre": lambda d: (d["value"] - centre).abs()})
        hits = hits.sort_values(["distance to centre", "round"], kind="stable")
        misses = show[show["distance to window"] > 0].sort_values(["distance to window", "round"], kind="stable")
        shown = f"the {min(n_show, len(hits))} nearest the window's centre" if len(hits) > n_show else "all"
        out = [f"<h2>Hits: measured values in the window</h2><p>{len(hits)} hits; {shown} shown, sorted by distance to the "
               f"window's centre ({centre:g}); every measurement is in measurements.csv.</p>"]
        if len(hits):
            out.append(_table(hits.drop(columns=["distance to window"]).head(n_show)))
        out.append("<h2>Closest misses</h2><p>Measured values outside the window, nearest first.</p>")
        out.append(_table(misses.head(10)) if len(misses) else "<p>None.</p>")
        return out
    ascending = goal.kind == "minimize"
    top = show.sort_values(["value", "round"], ascending=[ascending, True], kind="stable").head(n_show)
    word = "smallest" if ascending else "largest"
    return [f"<h2>Best measured candidates</h2><p>The {len(top)} {word} measured values, best first.</p>", _table(top)]


FIGURES = ("found", "progress", "calibration", "pit", "triage")


def campaign_figures(
    ledger: Ledger, summary: dict[str, Any] | None = None, which: tuple[str, ...] = FIGURES,
) -> list[tuple[str, str]]:
    """The report's figures as (caption, ``<img>`` HTML) pairs, most important first.

    ``which`` picks among ``found`` (targets found against random picking; simulated pools),
    ``progress`` (best so far, or every measured value against a window), ``calibration``
    (interval coverage per round), ``pit`` and ``triage``.
    """
    from discovery_loop.campaign import CampaignConfig
    from discovery_loop.plots import (
        plot_best_so_far,
        plot_found_fraction,
        plot_measured_values,
        plot_pit_values,
        plot_round_calibration,
        plot_triage_counts,
    )

    cfg = CampaignConfig.from_dict(ledger.config)
    s = summary if summary is not None else campaign_summary(ledger)
    m = ledger.measured()
    figs: list[tuple[str, str]] = []
    if "n_targets" in s and "found" in which:
        fig, ax = _fig()
        what = "window members" if cfg.goal.kind == "window" else "top 1 %"
        plot_found_fraction({"this campaign": [np.asarray(s["found_curve"])]}, s["n_pool"], s["n_targets"], ax=ax, what=what)
        ax.axvline(cfg.initial_size + 0.5, color="grey", linewidth=0.8, linestyle=":")
        figs.append(("Targets found against random picking (dotted: end of the initial design)", _png(fig, "found fraction")))
    if len(m) and "progress" in which:
        if cfg.goal.kind == "window":
            fig, ax = _fig()
            plot_measured_values(m["value"].to_numpy(), (float(cfg.goal.low), float(cfg.goal.high)), ax=ax,  # type: ignore[arg-type]
                                 target_label=cfg.target, initial_size=cfg.initial_size)
            figs.append(("Every measured value and the target window", _png(fig, "measured values")))
        else:
            fig, ax = _fig()
            plot_best_so_far({"this campaign": [np.asarray(s["best_so_far"])]}, ax=ax, target_label=cfg.target)
            ax.axvline(cfg.initial_size + 0.5, color="grey", linewidth=0.8, linestyle=":")
            figs.append(("Best value so far (dotted: end of the initial design)", _png(fig, "best so far")))
    cal = pd.DataFrame()
    if {"calibration", "pit"} & set(which):
        cal = _round_calibration(_measured_proposals(ledger.table("proposals"), m))
    if len(cal) and "calibration" in which:
        fig, ax = _fig()
        plot_round_calibration(cal, ax=ax)
        figs.append(("Each round's intervals on its own measured proposals", _png(fig, "coverage per round")))
    if len(cal) and "pit" in which:
        fig, ax = _fig((5.5, 3.6))
        plot_pit_values(np.concatenate([np.asarray(p) for p in cal["pit"]]), ax=ax, n_bins=10)
        figs.append(("PIT of all measured proposals (flat if the intervals were honest)", _png(fig, "PIT histogram")))
    rounds = ledger.table("rounds")
    counts = {int(r.round): _json_cell(r.triage_counts) for r in rounds.itertuples()}
    counts = {k: v for k, v in counts.items() if v}
    if counts and "triage" in which:
        table = pd.DataFrame.from_dict(counts, orient="index").fillna(0).sort_index()
        fig, ax = _fig()
        plot_triage_counts(table, ax=ax)
        figs.append(("Diagnostics triage of the scored candidates per round", _png(fig, "triage counts")))
    return figs


def campaign_html(ledger: Ledger, title: str | None = None, standalone: bool = True,
                  summary: dict[str, Any] | None = None) -> str:
    """The campaign report as HTML (a full page, or a fragment with its own style for Jupyter).

    ``summary`` is :func:`campaign_summary` of the same ledger when the caller has it already.
    """
    from discovery_loop.campaign import CampaignConfig

    cfg = CampaignConfig.from_dict(ledger.config)
    s = summary if summary is not None else campaign_summary(ledger)
    rounds = ledger.table("rounds")
    m = ledger.measured()
    props = ledger.table("proposals")
    measured = _measured_proposals(props, m)  # current values: corrections applied
    cal = _round_calibration(measured)
    title = title or f"Campaign: {cfg.target}, {cfg.goal.describe()}"

    parts = [f"<h1>{html.escape(title)}</h1>"]
    words = verdict(s)
    parts.append("<section class=verdict>" + "".join(
        f"<p{' class=headline' if i == 0 else ''}>{html.escape(w)}</p>" for i, w in enumerate(words)) + "</section>")
    figs = campaign_figures(ledger, s)
    parts.append("<h2>Plots</h2><div class=figs>" + "".join(
        f"<figure><figcaption>{html.escape(h)}</figcaption>{img}</figure>" for h, img in figs) + "</div>")
    parts.extend(_candidates_tables(m, cfg))
    if len(cal):
        parts.append("<h2>Calibration per round</h2><p>Each round's model scored on the candidates it proposed, "
                     "once measured: a biased sample (the acquisition chose them), but the one the lab relied on. "
                     "Coverage: share inside the 50 % / 90 % interval; mean |z| of a calibrated Gaussian: 0.80.</p>")
        parts.append(_table(cal.drop(columns=["pit"]).rename(columns={
            "n": "proposals measured", "coverage_50": "50 % coverage", "coverage_90": "90 % coverage",
            "mean_abs_z": "mean |z|", "nll": "NLL", "mae": "MAE"})))
    chosen_status = props.dropna(subset=["status"]).groupby(["round", "status"]).size().unstack(fill_value=0)
    if len(chosen_status):
        parts.append("<h2>Triage of the proposals</h2><p>The diagnostics' verdict on the candidates each round proposed.</p>")
        parts.append(_table(chosen_status.reset_index().rename(columns=lambda c: str(c).replace("_", " "))))
    parts.append("<h2>Rounds</h2><p>Per round: the training-set size, the candidates scored, the diagnostics' triage of "
                 "them and the round's time in seconds; rounds.csv holds every recorded field (the time of each step too).</p>" + _table(_rounds_table(rounds)))
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
    if standalone:
        return _page(title, parts)
    from bdl.calibration.report import _CSS

    return f"<style>{_CSS}{_EXTRA_CSS}</style><div class=bdl-report>" + "".join(parts) + "</div>"


def _clean(v: Any) -> Any:
    """Recursively JSON-safe: NaN and infinities as None, numpy scalars as Python numbers."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return _finite(v)


def summary_json(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary.json``'s content: the summary without the long curves, NaN as null."""
    return _clean({k: v for k, v in summary.items() if k not in ("best_so_far", "found_curve")})


def campaign_report(ledger: Ledger, out_dir: str | Path, title: str | None = None) -> Path:
    """Write ``report.html``, ``summary.json``, ``rounds.csv`` and ``measurements.csv`` to ``out_dir``.

    Returns
    -------
    Path
        The report file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = campaign_summary(ledger)  # once: the page and summary.json show the same figures
    page = campaign_html(ledger, title, summary=summary)
    report = out / "report.html"
    atomic_write_text(report, page)
    atomic_write_text(out / "rounds.csv", csv_safe(ledger.table("rounds")).to_csv(index=False))
    # current value, status and the history of every measurement (retracted: value empty)
    atomic_write_text(out / "measurements.csv", csv_safe(ledger.measurement_history()).to_csv(index=False))
    atomic_write_text(out / "summary.json", json.dumps(summary_json(summary), indent=2))
    return report


class CampaignView:
    """A campaign shown inline in Jupyter: status, the found-fraction plot, last round's triage.

    Returned by :func:`campaign_view` (``Campaign._repr_html_`` uses it).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.summary = campaign_summary(ledger)
        which = ("found",) if "n_targets" in self.summary else ("progress",)
        self._figs = campaign_figures(ledger, self.summary, which)

    def _repr_html_(self) -> str:
        from bdl.calibration.report import _CSS

        s = self.summary
        rows = [("campaign", f"{s['target']}: {s['goal']}; strategy {s['strategy']}; model {s['model']}"),
                ("progress", f"{s['n_measured']}/{s['budget']} measurements in {s['n_rounds']} rounds"
                 + (f"; {s['n_pending']} proposals pending" if s["n_pending"] else ""))]
        if s["goal_kind"] == "window":
            rows.append(("hits", f"{s.get('n_hits', 0)} measured values in [{s['window_low']:g}, {s['window_high']:g}]"))
        elif s["best"] is not None:
            rows.append(("best", f"{s['best']:.4g} ({s['best_id']})"))
        if "triage_last_round" in s:
            rows.append((f"triage, round {s['triage_round']}",
                         ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(s["triage_last_round"].items()))))
        table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        figs = "".join(f"<figure><figcaption>{html.escape(h)}</figcaption>{img}</figure>" for h, img in self._figs[:1])
        return f"<style>{_CSS}{_EXTRA_CSS}</style><div class=bdl-report><table>{table}</table>{figs}</div>"


class CampaignReportView:
    """The campaign report rendered inline in Jupyter (``campaign.report()``); ``save(dir)`` writes it."""

    def __init__(self, ledger: Ledger, title: str | None = None) -> None:
        self._ledger = ledger
        self.summary = campaign_summary(ledger)
        self.verdict = verdict(self.summary)
        self._html = campaign_html(ledger, title, standalone=False)
        self._title = title

    def _repr_html_(self) -> str:
        return self._html

    def save(self, out_dir: str | Path) -> Path:
        """Write the report folder (see :func:`campaign_report`); returns ``report.html``."""
        return campaign_report(self._ledger, out_dir, self._title)


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
            "ledger": lg.path.name, "group": _label(s), "seed": s["seed"], "measured": s["n_measured"],
            "best": float("nan") if s["best"] is None else s["best"], "hits": s.get("n_hits", float("nan")),
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
    if cfg.goal.kind != "window":  # a window has no "best": the found fraction below says it all
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
        plot_best_so_far({g: [np.asarray(s["best_so_far"]) for s in ss] for g, ss in groups.items()}, ax=ax, target_label=cfg.target)
        figs.append(("Best value so far", _png(fig)))
    if all("found_curve" in s for s in summaries):
        n_pool, n_t = summaries[0]["n_pool"], summaries[0]["n_targets"]
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
        what = "window members" if cfg.goal.kind == "window" else "top 1 %"
        plot_found_fraction({g: [np.asarray(s["found_curve"]) for s in ss] for g, ss in groups.items()}, n_pool, n_t, ax=ax, what=what)
        figs.append(("Targets found against random picking", _png(fig)))
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
        from discovery_loop.plots import _band, _legend_outside

        for g, ss in groups.items():
            _band(ax, [enhancement_factor(np.asarray(s["found_curve"]), n_pool) for s in ss], g, None)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("experiments")
        ax.set_ylabel("enhancement factor over random")
        _legend_outside(ax)
        figs.append(("Enhancement factor", _png(fig)))
    parts.append("<h2>Plots</h2>" + "".join(f"<h3>{html.escape(h)}</h3>{img}" for h, img in figs))
    parts.append("<h2>Every campaign</h2>" + _table(table))
    page = _page(title, parts)
    path = out / "comparison.html"
    atomic_write_text(path, page)
    atomic_write_text(out / "comparison.csv", csv_safe(table).to_csv(index=False))
    return path
