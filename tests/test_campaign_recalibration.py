"""Recalibration inside the loop (issue 15): a recalibrator refitted each round on cross-fitted
predictions of the measured points drives the acquisition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bdl.calibration import IsotonicRecalibration
from bdl.errors import InputError
from bdl.registry import register
from discovery_loop.campaign import MIN_RECALIBRATION, CampaignConfig, Goal, open_campaign
from discovery_loop.ledger import Ledger
from discovery_loop.report import CampaignReportView
from tests.campaign_helpers import pool_csv, source

FITS: list[tuple[np.ndarray, np.ndarray]] = []


class SpyIsotonic(IsotonicRecalibration):
    """Isotonic recalibration that remembers what it was fitted on."""

    def fit(self, y_val: Any, pred_val: Any) -> SpyIsotonic:
        FITS.append((np.asarray(y_val, dtype=np.float64).copy(), np.asarray(pred_val.mean).copy()))
        return super().fit(y_val, pred_val)


register("recalibrator", "spy_isotonic", SpyIsotonic, replace=True)


def _run(tmp_path: Path, recalibrate: str, model: str = "toy_knn", **kw: Any) -> Path:
    import tests.toy_plugin  # noqa: F401  (registers toy_knn)

    cfg = CampaignConfig(target="y", goal=Goal("maximize"), budget=28, batch_size=6, seed=2, model=model,
                         model_params={"k": 1} if model == "toy_knn" else {}, diagnose=False,
                         recalibrate=recalibrate, plugins=("tests.toy_plugin",), **kw)
    path = tmp_path / f"{recalibrate}.sqlite"
    campaign = open_campaign(path, config=cfg, source=source(pool_csv(tmp_path, n=50)), progress=False)
    campaign.run()
    campaign.ledger.close()
    return path


def test_recalibrator_is_fitted_on_cross_fitted_predictions_only(tmp_path: Path) -> None:
    FITS.clear()
    path = _run(tmp_path, "spy_isotonic")
    # a 1-nearest-neighbour model predicts each training point exactly; cross-fitted, it never does
    assert len(FITS) == 3  # model rounds with 12, 18 and 24 measurements (the first, with 6, is too small)
    for y, mean in FITS:
        assert y.size >= MIN_RECALIBRATION
        assert not np.any(np.isclose(mean, y, rtol=0, atol=1e-9)), "a point calibrated its own prediction"
    with Ledger(path, lock=False) as ledger:
        props = ledger.table("proposals")
        rounds = ledger.table("rounds")
        events = ledger.table("events")
    kinds = {int(r): {json.loads(p)["kind"] for p in grp["predictive"]} for r, grp in props.dropna(subset=["predictive"]).groupby("round")}
    assert kinds[1] == {"gaussian"} and all(kinds[r] == {"recalibrated"} for r in (2, 3, 4))
    notes = events[events["kind"] == "recalibrate"]["message"].tolist()
    assert any("too few to recalibrate" in m for m in notes)
    assert sum("cross-fitted predictions (5 folds)" in m for m in notes) == 3
    assert all("recalibrate" in json.loads(t) for t in rounds[rounds["kind"] == "model"]["timings"].iloc[1:])


def test_conformal_recalibration_drives_expected_improvement_and_the_report_reads_it(tmp_path: Path) -> None:
    path = _run(tmp_path, "conformal", model="prior_gp")
    with Ledger(path, lock=False) as ledger:
        props = ledger.table("proposals").dropna(subset=["predictive"])
    last = props[props["round"] == props["round"].max()]
    assert {json.loads(p)["kind"] for p in last["predictive"]} == {"conformal"}
    assert np.all(np.isfinite(last["score"].to_numpy()))
    out = tmp_path / "report"
    with Ledger(path, lock=False) as ledger:
        CampaignReportView(ledger).save(out)
    assert (out / "report.html").exists()


def test_recalibrate_settings_are_checked_before_a_ledger_exists(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown recalibration 'platt'"):
        CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, recalibrate="platt")
    with pytest.raises(InputError, match="not cut to --lower-bound"):
        CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, recalibrate="conformal",
                       lower_bound=0.0)
    assert CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0,
                          recalibrate="none").recalibrate is None
