"""Corrections of recorded measurements (amend / retract) and a full disk (issue 14)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.errors import LedgerError, LedgerLockedError
from discovery_loop.campaign import CampaignConfig, Goal, open_campaign
from discovery_loop.ledger import Ledger

from campaign_helpers import TINY, TINY_MDN, assert_same_ledger, ledger_contents, pool_csv, source


def _config(**kw) -> CampaignConfig:
    base = dict(target="y", goal=Goal("maximize"), budget=12, batch_size=4, seed=5, model="mc_dropout", model_params=TINY,
                mdn_params=TINY_MDN, diagnose=False, value_range=(-50.0, 50.0))
    base.update(kw)
    return CampaignConfig(**base)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "discovery_loop.cli", *args], capture_output=True, text=True, timeout=300)


def test_amend_and_retract_are_append_only_and_later_rounds_use_the_corrected_data(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    path = tmp_path / "c.sqlite"
    campaign = open_campaign(path, config=_config(), source=source(pool), progress=False)
    steps = campaign.rounds()
    first = next(steps)  # round 0: the initial design, measured
    ids = first.measured["id"].tolist()
    original = dict(zip(first.measured["id"], first.measured["value"]))
    proposals_before = campaign.ledger.table("proposals")
    done = campaign.amend(ids[0], 42.0, "transcription error: 4.2 typed as 0.42")
    assert done["previous_value"] == pytest.approx(original[ids[0]]) and done["value"] == 42.0
    campaign.retract(ids[1], "sample contaminated")
    with pytest.raises(LedgerError, match="already retracted"):
        campaign.retract(ids[1], "again")
    with pytest.raises(LedgerError, match="outside the campaign's plausible range"):
        campaign.amend(ids[2], 1e3, "typo")
    with pytest.raises(LedgerError, match="no measurement of ID 'nope'"):
        campaign.amend("nope", 1.0, "x")
    with pytest.raises(LedgerError, match="needs a reason"):
        campaign.amend(ids[2], 1.0, "  ")
    # nothing rewritten in place: the measurements table still holds what the lab first said
    raw = campaign.ledger.table("measurements").set_index("id")["value"]
    assert raw[ids[0]] == pytest.approx(original[ids[0]]) and raw[ids[1]] == pytest.approx(original[ids[1]])
    # the current data: amended value, retracted one left out
    current = campaign.measured().set_index("id")["value"]
    assert current[ids[0]] == 42.0 and ids[1] not in current.index and len(current) == 3
    second = next(steps)  # round 1 trains on the corrected data
    rounds = campaign.ledger.table("rounds").set_index("round")
    assert rounds.loc[1, "n_train"] == 3 and rounds.loc[1, "best_before"] == 42.0
    # past rounds stay as they were proposed; the retracted candidate is not proposed again
    def same(df: pd.DataFrame) -> pd.DataFrame:  # all-NULL columns read back as None or NaN
        return df.astype(object).where(df.notna(), None)

    pd.testing.assert_frame_equal(same(campaign.ledger.table("proposals").iloc[: len(proposals_before)]), same(proposals_before))
    assert ids[1] not in second.proposals["id"].tolist()
    history = campaign.ledger.measurement_history().set_index("id")
    assert history.loc[ids[0], "status"] == "amended" and history.loc[ids[1], "status"] == "retracted"
    assert "transcription error" in history.loc[ids[0], "corrections"] and np.isnan(history.loc[ids[1], "value"])
    corr = campaign.ledger.corrections()
    assert corr["kind"].tolist() == ["amend", "retract"] and corr["previous_value"].notna().all()
    # amend restores a retracted measurement, with the history kept
    campaign.amend(ids[1], 1.5, "re-measured")
    assert campaign.ledger.corrections()["previous_value"].isna().tolist() == [False, False, True]
    campaign.ledger.close()


def test_cli_amend_retract_status_report_and_the_lock(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    path = tmp_path / "c.sqlite"
    campaign = open_campaign(path, config=_config(budget=8), source=source(pool), progress=False)
    campaign.run()
    campaign.ledger.close()
    with Ledger(path, lock=False) as ledger:
        first, second = ledger.measured()["id"].tolist()[:2]
    res = _cli("amend", "--ledger", str(path), "--id", first, "--value", "7.5", "--reason", "wrong sample")
    assert res.returncode == 0 and f"amended '{first}'" in res.stdout, res.stderr
    res = _cli("retract", "--ledger", str(path), "--id", second, "--reason", "furnace failed")
    assert res.returncode == 0 and "retracted" in res.stdout, res.stderr
    for bad in (["--value", "1,5"], ["--value", "TRUE"], ["--value", "nan"], ["--value", "99"]):
        res = _cli("amend", "--ledger", str(path), "--id", first, *bad, "--reason", "x")
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, (bad, res.stderr)
    status = _cli("status", "--ledger", str(path))
    assert status.returncode == 0 and "corrections 2" in status.stdout and "wrong sample" in status.stdout
    res = _cli("report", "--ledger", str(path), "-o", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "rep" / "measurements.csv").set_index("id")
    assert table.loc[first, "value"] == 7.5 and table.loc[first, "status"] == "amended"
    assert np.isnan(table.loc[second, "value"]) and "furnace failed" in table.loc[second, "corrections"]
    assert "<h2>Corrections</h2>" in (tmp_path / "rep" / "report.html").read_text()
    with Ledger(path):  # a running campaign holds the lock: corrections wait for it
        res = _cli("amend", "--ledger", str(path), "--id", first, "--value", "1", "--reason", "x")
    assert res.returncode == 2 and "another process" in res.stderr


def test_a_full_disk_leaves_the_ledger_intact_and_it_resumes(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    cfg = _config(model_params={**TINY, "hidden_units": [64, 64]})  # a model blob of several pages
    ref = open_campaign(tmp_path / "ref.sqlite", config=cfg, source=source(pool), progress=False)
    ref.run()
    ref.ledger.close()
    path = tmp_path / "full.sqlite"
    campaign = open_campaign(path, config=cfg, source=source(pool), progress=False)
    steps = campaign.rounds()
    next(steps)
    # the disk fills up: SQLite may not grow the file by one more page
    campaign.ledger._conn.execute("VACUUM")  # no free pages left inside the file either
    pages = campaign.ledger._conn.execute("PRAGMA page_count").fetchone()[0]
    campaign.ledger._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        next(steps)  # the round's model blob does not fit: its transaction rolls back
    campaign.ledger.close()
    assert Ledger(path, lock=False).n_rounds() == 1
    resumed = open_campaign(path, progress=False)
    resumed.run()
    resumed.ledger.close()
    assert_same_ledger(ledger_contents(tmp_path / "ref.sqlite"), ledger_contents(path))


def test_the_cli_turns_a_full_disk_into_one_sentence(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    path = tmp_path / "c.sqlite"
    campaign = open_campaign(path, config=_config(), source=source(pool), progress=False)
    next(campaign.rounds())
    campaign.ledger.close()
    code = (
        "import sqlite3, sys; from discovery_loop import ledger, cli\n"
        "def full(*a, **k): raise sqlite3.OperationalError('database or disk is full')\n"
        "ledger.Ledger.record_round = full\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    for extra in ([], ["--debug"]):
        res = subprocess.run([sys.executable, "-c", code, "resume", "--ledger", str(path), "--no-progress", "--quiet", *extra],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 2
        last = res.stderr.strip().splitlines()[-1]
        assert "disk holding the ledger" in last and "is full" in last and f"resume --ledger {path}" in last
        assert ("Traceback" in res.stderr) == bool(extra)
    assert Ledger(path, lock=False).n_rounds() == 1
