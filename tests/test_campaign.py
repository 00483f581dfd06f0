"""The campaign runner: determinism, resume after SIGKILL, one writer, lab hand-off, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.errors import InputError, LedgerError
from discovery_loop.campaign import CampaignConfig, Goal, Pool, initial_design, open_campaign
from discovery_loop.ledger import Ledger

from campaign_helpers import TINY, TINY_MDN, assert_same_ledger, ledger_contents, pool_csv, source


def _cli_args(pool: Path, ledger: Path, *extra: str, budget: int = 20) -> list[str]:
    return [
        "run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c", "--id-column", "name",
        "--maximize", "--budget", str(budget), "--batch-size", "4", "--seed", "3", "--ledger", str(ledger),
        "--model", "mc_dropout", "--model-params", json.dumps(TINY), "--mdn-params", json.dumps(TINY_MDN), "--no-progress", *extra,
    ]


def _run_cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "discovery_loop.cli", *args], capture_output=True, text=True, timeout=timeout)


def _config(**kw) -> CampaignConfig:
    base = dict(target="y", goal=Goal("maximize"), budget=20, batch_size=4, seed=3, model="mc_dropout", model_params=TINY, mdn_params=TINY_MDN)
    base.update(kw)
    return CampaignConfig(**base)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One uninterrupted campaign run in this process."""
    tmp = tmp_path_factory.mktemp("ref")
    pool = pool_csv(tmp)
    campaign = open_campaign(tmp / "ref.sqlite", config=_config(), source=source(pool), progress=False)
    try:
        campaign.run()
    finally:
        campaign.ledger.close()
    return pool, tmp / "ref.sqlite"


def test_campaign_spends_its_budget_once_per_candidate(reference: tuple[Path, Path]) -> None:
    pool, path = reference
    c = ledger_contents(path)
    m = c["measurements"]
    assert len(m) == 20 and m["idx"].is_unique
    assert c["rounds"]["kind"].tolist() == ["initial"] + ["model"] * 4
    truth = pd.read_csv(pool).set_index("name")["y"]
    np.testing.assert_allclose(m["value"].to_numpy(), truth.loc[m["id"]].to_numpy())  # the lookup oracle's values
    props = c["proposals"]
    model_props = props[props["round"] > 0]
    assert model_props["predictive"].notna().all() and set(model_props["status"]) <= {"ok", "unsure", "bimodal", "misspecified", "out_of_distribution"}
    # each batch is in descending order of acquisition score (top-k)
    for _, grp in model_props.groupby("round"):
        assert np.all(np.diff(grp["score"].to_numpy()) <= 1e-12)
    # the model of a round can be loaded back and reproduces the recorded predictive mean
    with Ledger(path, lock=False) as ledger:
        model = ledger.load_model(2)
        X = pd.read_csv(pool).set_index("name").loc[model_props[model_props["round"] == 2]["id"], ["a", "b", "c"]].to_numpy()
        np.testing.assert_allclose(model.predict_dist(X).mean, model_props[model_props["round"] == 2]["mean"], rtol=1e-5, atol=1e-6)


def test_same_seed_same_ledger_in_a_fresh_process(reference: tuple[Path, Path], tmp_path: Path) -> None:
    pool, path = reference
    res = _run_cli(_cli_args(pool, tmp_path / "again.sqlite"))
    assert res.returncode == 0, res.stderr
    assert_same_ledger(ledger_contents(path), ledger_contents(tmp_path / "again.sqlite"))


def test_sigkill_at_any_moment_then_resume_gives_the_uninterrupted_ledger(reference: tuple[Path, Path], tmp_path: Path) -> None:
    pool, path = reference
    ledger = tmp_path / "killed.sqlite"
    rng = np.random.default_rng(7)
    args = _cli_args(pool, ledger)
    kills = 0
    # three kills at random moments (process start, training, writing, measuring), then run to the end
    for delay in [*rng.uniform(2.0, 9.0, size=3), None]:
        proc = subprocess.Popen([sys.executable, "-m", "discovery_loop.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(timeout=delay if delay is not None else 600)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            # killed before its ledger was initialised there is no ledger (nothing half-made to
            # resume): the same 'run' starts again; otherwise 'resume' continues it
            args = ["resume", "--ledger", str(ledger), "--no-progress"] if ledger.exists() else _cli_args(pool, ledger)
            continue
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        break
    assert kills >= 1, "the campaign finished before any kill; the test did not test resuming"
    assert_same_ledger(ledger_contents(path), ledger_contents(ledger))


def test_a_kill_before_the_ledger_is_initialised_leaves_nothing_to_resume(reference: tuple[Path, Path], tmp_path: Path) -> None:
    pool, _ = reference
    ledger = tmp_path / "early.sqlite"
    code = (
        "import os, signal, sys; from discovery_loop import ledger, cli\n"
        "ledger.Ledger.initialise = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *_cli_args(pool, ledger)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not ledger.exists()
    res = _run_cli(["resume", "--ledger", str(ledger)])
    assert res.returncode == 2 and "no campaign ledger" in res.stderr  # nothing to resume: start it again
    # starting again is a fresh start (test_same_seed_same_ledger_in_a_fresh_process); that a new start
    # clears the half-built file is tests/test_ledger.py::test_a_kill_before_the_ledger_is_initialised_leaves_no_ledger


def test_second_process_on_a_ledger_is_refused(reference: tuple[Path, Path]) -> None:
    _, path = reference
    with Ledger(path):
        res = _run_cli(["resume", "--ledger", str(path)])
    assert res.returncode == 2
    assert "another process" in res.stderr and f"pid {os.getpid()}" in res.stderr


def test_lab_hand_off_rejects_a_bad_file_and_keeps_the_ledger(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    lab = tmp_path / "lab"
    ledger = tmp_path / "lab.sqlite"
    res = _run_cli(_cli_args(pool, ledger, "--oracle", "file", "--lab-dir", str(lab)))
    assert res.returncode == 3, res.stderr
    proposals = sorted(lab.glob("proposals_round_0*.csv"))
    assert proposals, list(lab.iterdir())
    asked = pd.read_csv(proposals[0])
    truth = pd.read_csv(pool).set_index("name")["y"]
    before = ledger_contents(ledger)
    bad_files = {
        "missing": asked.iloc[1:][["id"]].assign(value=truth.loc[asked["id"].iloc[1:]].to_numpy()),
        "nan": asked[["id"]].assign(value=[np.nan] + truth.loc[asked["id"].iloc[1:]].tolist()),
        "unknown": asked[["id"]].assign(value=truth.loc[asked["id"]].to_numpy()).replace({asked["id"].iloc[0]: "nonexistent"}),
        "duplicate": pd.concat([asked[["id"]], asked[["id"]].iloc[:1]]).assign(value=1.0),
    }
    for what, frame in bad_files.items():
        frame.to_csv(lab / "measured_round_0.csv", index=False)
        res = _run_cli(["resume", "--ledger", str(ledger), "--no-progress"])
        assert res.returncode == 2, (what, res.stdout, res.stderr)
        assert "error" in res.stderr and len(res.stderr.strip().splitlines()) <= 12, (what, res.stderr)
        assert_same_ledger(before, ledger_contents(ledger))
    asked[["id"]].assign(value=truth.loc[asked["id"]].to_numpy()).to_csv(lab / "measured_round_0.csv", index=False)
    res = _run_cli(["resume", "--ledger", str(ledger), "--no-progress"])
    assert res.returncode == 3, res.stderr  # measured round 0, proposed round 1, now waits again
    after = ledger_contents(ledger)
    assert len(after["measurements"]) == 4 and after["proposals"]["round"].max() == 1
    status = _run_cli(["status", "--ledger", str(ledger)])
    assert status.returncode == 0 and "await measurement" in status.stdout


def test_config_and_pool_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="window"):
        _config(goal=Goal("window", 1.0, 2.0), strategy="ei")
    with pytest.raises(InputError, match="low < high"):
        Goal("window", 2.0, 1.0)
    with pytest.raises(InputError, match="unknown model"):
        _config(model="forest")
    with pytest.raises(InputError, match="diagnose"):
        _config(diagnose=False, gate="skip")
    df = pd.DataFrame({"a": [1.0, 2.0, np.nan], "id": ["x", "y", "x"]})
    with pytest.raises(InputError, match="rows 2"):
        Pool.from_frame(df, feature_columns=["a"])
    with pytest.raises(InputError, match="unique"):
        Pool.from_frame(df.fillna(0.0), feature_columns=["a"], id_column="id")
    with pytest.raises(InputError, match="no column"):
        Pool.from_frame(df, feature_columns=["b"])
    pool = pool_csv(tmp_path)
    open_campaign(tmp_path / "a.sqlite", config=_config(), source=source(pool)).ledger.close()
    with pytest.raises(LedgerError, match="already holds a campaign"):
        open_campaign(tmp_path / "a.sqlite", config=_config(), source=source(pool))
    changed = pd.read_csv(pool)
    changed.loc[0, "a"] += 1.0
    changed.to_csv(pool, index=False)
    with pytest.raises(LedgerError, match="pool differs"):
        open_campaign(tmp_path / "a.sqlite")


def test_space_filling_design_spreads_out() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))

    def min_dist(idx: np.ndarray) -> float:
        d = np.linalg.norm(X[idx][:, None] - X[idx][None], axis=-1)
        return float(d[np.triu_indices(len(idx), 1)].min())

    sf = initial_design(X, 10, "space_filling", seed=1)
    rand = [min_dist(initial_design(X, 10, "random", seed=s)) for s in range(20)]
    assert len(set(sf.tolist())) == 10
    assert min_dist(sf) > np.percentile(rand, 95)
    np.testing.assert_array_equal(sf, initial_design(X, 10, "space_filling", seed=1))


def test_comparison_report_over_seeds_and_strategies(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    paths = []
    for strategy, seed in [("ei", 1), ("ei", 2), ("random", 1), ("random", 2)]:
        path = tmp_path / f"{strategy}{seed}.sqlite"
        cfg = _config(strategy=strategy, seed=seed, budget=12, diagnose=strategy != "random")
        c = open_campaign(path, config=cfg, source=source(pool))
        try:
            c.run()
        finally:
            c.ledger.close()
        paths.append(str(path))
    res = _run_cli(["report", "--ledger", *paths, "-o", str(tmp_path / "cmp")])
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert len(table) == 4 and table["group"].nunique() == 2
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert page.count("<img") == 3 and "Per strategy" in page
    # random rounds train no model and record no predictive
    with Ledger(paths[2], lock=False) as ledger:
        assert set(ledger.table("rounds")["kind"]) == {"initial", "random"}
        assert ledger.table("models").empty
    c = open_campaign(tmp_path / "other.sqlite", config=_config(budget=8, diagnose=False, goal=Goal("minimize")), source=source(pool))
    c.run()
    c.ledger.close()
    res = _run_cli(["report", "--ledger", paths[0], str(tmp_path / "other.sqlite"), "-o", str(tmp_path / "bad")])
    assert res.returncode == 2 and "different pools, targets or goals" in res.stderr


def test_single_campaign_report(reference: tuple[Path, Path], tmp_path: Path) -> None:
    _, path = reference
    res = _run_cli(["report", "--ledger", str(path), "-o", str(tmp_path / "rep")])
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "rep" / "report.html").read_text()
    # best so far, found vs random, per-round calibration, PIT, triage counts
    assert page.count("<img") == 5 and "Calibration per round" in page and "best y" in page
    text = (tmp_path / "rep" / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"summary.json holds {c}, not JSON"))
    assert summary["n_measured"] == 20 and summary["n_targets"] == 1
    rounds = pd.read_csv(tmp_path / "rep" / "rounds.csv")
    assert len(rounds) == 5 and json.loads(rounds["timings"].iloc[-1])["fit_model"] > 0
