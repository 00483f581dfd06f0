"""The campaign report, goal by goal: verdict first, goal-aware figures, summary.json (issue 16)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.predictive import BoundedPredictive, GaussianPredictive, SamplePredictive
from discovery_loop.campaign import CampaignConfig, Goal, open_campaign
from discovery_loop.ledger import Ledger
from discovery_loop.report import (
    campaign_report,
    campaign_summary,
    proposal_predictive,
    proposal_scores,
    verdict,
)

from campaign_helpers import TINY, TINY_MDN, pool_csv, source


def _campaign(tmp: Path, goal: Goal, name: str, **kw) -> Path:
    pool = pool_csv(tmp, n=60)
    cfg = CampaignConfig(target="y", goal=goal, budget=16, batch_size=4, seed=1, model="mc_dropout", model_params=TINY,
                         mdn_params=TINY_MDN, **kw)
    path = tmp / f"{name}.sqlite"
    c = open_campaign(path, config=cfg, source=source(pool), progress=False)
    try:
        c.run()
    finally:
        c.ledger.close()
    return path


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("goals")
    return {
        "window": _campaign(tmp, Goal("window", 0.0, 0.8), "window", gate="skip"),
        "maximize": _campaign(tmp, Goal("maximize"), "maximize"),
        "minimize": _campaign(tmp, Goal("minimize"), "minimize", diagnose=False),
    }


def _report(path: Path, out: Path) -> tuple[str, dict]:
    with Ledger(path, lock=False) as ledger:
        campaign_report(ledger, out)
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"summary.json holds {c}, not JSON"))
    return (out / "report.html").read_text(), summary


def test_window_summary_counts_hits_and_closest_misses_not_a_best(campaigns: dict[str, Path], tmp_path: Path) -> None:
    page, s = _report(campaigns["window"], tmp_path / "w")
    with Ledger(campaigns["window"], lock=False) as ledger:
        values = ledger.measured()["value"].to_numpy()
    inside = (values >= 0.0) & (values <= 0.8)
    assert s["goal_kind"] == "window" and s["best"] is None and s["best_id"] is None
    assert s["n_hits"] == int(inside.sum()) and s["hit_rate"] == pytest.approx(inside.mean())
    distances = [c["distance"] for c in s["closest_misses"]]
    assert distances == sorted(distances) and all(d > 0 for d in distances)
    nearest = np.min(np.maximum(np.maximum(0.0 - values, values - 0.8), 0.0)[~inside])
    assert distances[0] == pytest.approx(nearest)
    # verdict first, in words, with the window's figures and no "best"
    first = page.index("<section class=verdict>")
    assert first < page.index("<img") and "fell in the window" in page[first:]
    assert "Closest misses" in page and "Hits: measured values in the window" in page and "Best value so far" not in page
    # random picking's band and the proposals' coverage under stable names
    assert s["random_found_low"] <= s["random_expected_found"] <= s["random_found_high"]
    for key in ("proposal_coverage_50", "proposal_coverage_90"):
        assert 0.0 <= s[key] <= 1.0
    assert s["n_proposals_scored"] == 12  # three model rounds of four
    assert s["triage_last_round"] and all(isinstance(v, int) for v in s["triage_last_round"].values())
    # the recorded per-round triage summary, when the ledger has one, is shown in words
    if "triage_summary_last_round" in s:
        assert "triage summary" not in page and ("Most common reasons" in page or "gate" in page)


def test_status_of_a_window_campaign_prints_hits_not_best(campaigns: dict[str, Path]) -> None:
    res = subprocess.run([sys.executable, "-m", "discovery_loop.cli", "status", "--ledger", str(campaigns["window"])],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "best" not in res.stdout and "measured values in [0, 0.8]" in res.stdout


@pytest.mark.parametrize("kind", ["maximize", "minimize"])
def test_extreme_goal_summary_has_the_best_and_a_best_so_far_plot(campaigns: dict[str, Path], tmp_path: Path, kind: str) -> None:
    page, s = _report(campaigns[kind], tmp_path / kind)
    with Ledger(campaigns[kind], lock=False) as ledger:
        m = ledger.measured()
    i = int(np.argmax(m["value"])) if kind == "maximize" else int(np.argmin(m["value"]))
    assert s["best"] == pytest.approx(float(m["value"].iloc[i])) and s["best_id"] == m["id"].iloc[i]
    assert s["best_round"] == int(m["round"].iloc[i]) and "n_hits" not in s
    assert ("largest" if kind == "maximize" else "smallest") in verdict(s)[0]
    assert "Best value so far" in page and "Best measured candidates" in page
    # the best-candidates table is sorted best first
    table = page[page.index("Best measured candidates"):]
    shown = pd.read_html(__import__("io").StringIO(table))[0]
    expected = sorted(m["value"], reverse=kind == "maximize")[: len(shown)]
    np.testing.assert_allclose(shown["value"].to_numpy(), expected, rtol=1e-3)
    assert "bimodal" not in s.get("triage_last_round", {}) or kind == "maximize"


def test_rounds_are_readable_columns_not_json(campaigns: dict[str, Path], tmp_path: Path) -> None:
    page, _ = _report(campaigns["maximize"], tmp_path / "r")
    rounds = page[page.index("<h2>Rounds</h2>"):page.index("<h2>Configuration</h2>")]
    assert "{" not in rounds and "seconds" in rounds and "<td>model</td>" in rounds


def test_verdict_explains_an_acceleration_below_one_and_overconfidence() -> None:
    s = {"target": "y", "goal_kind": "window", "window_low": 1.1, "window_high": 1.7, "n_measured": 200, "budget": 200,
         "n_rounds": 10, "n_initial": 20, "n_pending": 0, "n_hits": 48, "hit_rate": 0.24, "closest_misses": [],
         "n_targets": 361, "n_found": 48, "found_fraction": 48 / 361, "random_expected_found": 15.7, "random_found_low": 10,
         "random_found_high": 22, "experiments_to_first": 40.0, "acceleration_first": 0.32, "n_proposals_scored": 180,
         "proposal_coverage_50": 0.3, "proposal_coverage_90": 0.6, "gate": "skip", "triage_round": 9,
         "triage_last_round": {"ok": 10, "bimodal": 30}, "triage_flagged_share": 0.75, "proposals_flagged": 3,
         "proposals_triaged": 180, "triage_summary_last_round": {
             "counts": {"ok": 10, "bimodal": 30}, "top_reasons": [{"reason": "two modes", "count": 25}],
             "gate": {"action": "skip", "n_gated": 12, "n_flagged_not_gated": 18, "n_proposed": 20, "n_proposed_flagged": 2,
                      "why_flagged_proposed": "their spread was small"}, "new_field": 3}}
    text = " ".join(verdict(s))
    assert "below 1" in text and "more experiments than random picking" in text
    assert "clearly better than random picking" in text
    assert "over-confident" in text and "selected" in text
    assert "gate (skip) acted on 12 candidates" in text and "two modes (25)" in text and "new field: 3" in text
    partial = {**s, "triage_summary_last_round": {"gate": None, "odd": [1, 2]}}
    assert "gate (skip)" in " ".join(verdict(partial))  # a partial record does not fail
    calibrated = {**s, "proposal_coverage_50": 0.5, "proposal_coverage_90": 0.9}
    assert "can be read as stated" in " ".join(verdict(calibrated))


def test_proposal_scores_read_every_predictive_kind_without_a_mixture_form() -> None:
    """Bounded records next to Gaussian and sample records: scored one kind at a time."""
    bounded = BoundedPredictive([[0.6, 0.4]], [[1.0, 2.0]], [[0.5, 0.5]], lower=0.0, p_lower=0.3)
    gauss = GaussianPredictive([1.0], [0.5])
    samples = SamplePredictive([[0.5, 1.0, 1.5]], [[0.2, 0.2, 0.2]])
    records = [*bounded.to_records([0]), *gauss.to_records([0]), *samples.to_records([0]), *bounded.to_records([0])]
    frame = pd.DataFrame({"round": [1, 1, 2, 2], "idx": [0, 1, 2, 3], "predictive": records, "value": [0.0, 1.2, 9.0, 1.0]})
    scored = proposal_scores(frame)
    assert scored["pit"].between(0, 1).all() and scored["pred_std"].gt(0).all()
    assert list(scored["in_90"]) == [True, True, False, True]
    assert scored["pred_mean"].iloc[0] == pytest.approx(float(bounded.mean[0]))
    with pytest.raises(ValueError, match="no joint form"):
        proposal_predictive(frame)
    # Gaussian and per-pass samples do join (the older ledgers' case)
    joined = proposal_predictive(frame.iloc[1:3])
    np.testing.assert_allclose(joined.mean, [1.0, 1.0])


def test_campaign_shows_itself_in_jupyter(campaigns: dict[str, Path]) -> None:
    c = open_campaign(campaigns["window"])
    try:
        shown = c._repr_html_()
        assert "<img" in shown and "measured values in [0, 0.8]" in shown and "triage, round" in shown
        report = c.report()
        html = report._repr_html_()
        assert "<style>" in html and "class=verdict" in html and html.count("<img") >= 3
    finally:
        c.ledger.close()


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="a web browser is needed to check the report as a person sees it, and Debian's chromium "
                           "is not installed (apt-get install chromium)")
@pytest.mark.parametrize("kind", ["window", "maximize"])
def test_campaign_report_fits_a_real_browser_window(campaigns: dict[str, Path], tmp_path: Path, kind: str) -> None:
    """Every image decodes and nothing is wider than the window, at 1400 and 800 px."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from check_report_in_browser import check

    _report(campaigns[kind], tmp_path)
    info = check(tmp_path / "report.html", widths=(1400, 800))
    assert info["ok"], json.dumps(info, indent=1)
    for width in ("1400", "800"):
        got = info["widths"][width]
        assert got["images"] == got["decoded"] >= 4 and got["scroll_width"] <= got["viewport"]


def test_plots_fit_their_data_without_twin_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from discovery_loop.plots import plot_found_fraction, plot_round_calibration

    curve = np.minimum(np.arange(1, 201) * 0.13 / 200, 0.13)
    ax = plot_found_fraction({"campaign": [curve]}, 4604, 361)
    lo, hi = ax.get_ylim()
    assert lo == 0.0 and 0.13 < hi < 0.25  # the curve and random picking's band fill the plot
    assert ax.get_legend() is not None
    plt.close(ax.figure)
    table = pd.DataFrame({"round": [1, 2], "coverage_50": [0.3, 0.5], "coverage_90": [0.6, 0.9], "mean_abs_z": [1.2, 0.8]})
    ax = plot_round_calibration(table)
    assert len(ax.figure.axes) == 1  # one axis, one unit: no twin axes
    plt.close(ax.figure)


def test_comparison_report_of_window_campaigns_has_no_best(campaigns: dict[str, Path], tmp_path: Path) -> None:
    from discovery_loop.report import comparison_report

    with Ledger(campaigns["window"], lock=False) as ledger:
        path = comparison_report([ledger], tmp_path)
    page = path.read_text()
    assert "Best value so far" not in page and page.count("<img") == 2
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["best"].isna().all() and table["hits"].iloc[0] >= 0
