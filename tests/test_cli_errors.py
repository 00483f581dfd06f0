"""Every command line error is one sentence and exit status 2; nothing is left behind (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from discovery_loop.campaign import CampaignConfig, Goal, Pool, open_campaign
from bdl.errors import FormulaError, InputError

from campaign_helpers import TINY, TINY_MDN, pool_csv, source


def _cli(prog: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    module = {"discovery-loop": "discovery_loop.cli", "bdl": "bdl.cli"}[prog]
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def _run_args(pool: Path, ledger: Path, *extra: str) -> list[str]:
    return ["run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c", "--id-column", "name",
            "--maximize", "--budget", "8", "--batch-size", "4", "--seed", "0", "--ledger", str(ledger),
            "--model", "mc_dropout", "--model-params", json.dumps(TINY), "--mdn-params", json.dumps(TINY_MDN), "--no-progress", *extra]


def _one_sentence(res: subprocess.CompletedProcess, *fragments: str) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--selector", "nope"], "unknown batch method 'nope'"),
        (["--selector", "topk", "--selector-params", '{"radius": 1}'], "takes no parameter(s) radius"),
        (["--strategy-params", '{"beta": -1}'], "beta"),
        (["--gate", "skip", "--gate-params", '{"wieght": 0.1}'], "wieght"),
        (["--gate-params", '{"weight": 0.1}'], "without a gate"),
        (["--model-params", '{"epochs": 0}'], "--model-params"),
        (["--mdn-params", '{"n_components": 0}'], "--mdn-params"),
        (["--model-params", '{"layers": 3}'], "layers"),
        (["--value-range", "5", "1"], "low < high"),
        (["--oracle", "file", "--lab-dir", "{pool}"], "is a file, not a folder"),
        (["--gate", "nope"], "unknown gate 'nope'"),
        (["--strategy", "nope"], "unknown acquisition 'nope'"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--recalibrate", "platt"], "unknown recalibration 'platt'"),
        (["--recalibrate", "conformal", "--lower-bound", "0"], "--recalibrate isotonic"),
        (["--plugin", "no_such_module_here"], "cannot be imported"),
    ],
)
def test_a_bad_configuration_fails_before_any_file_is_written(tmp_path: Path, extra: list[str], fragment: str) -> None:
    pool = pool_csv(tmp_path)
    ledger = tmp_path / "sub" / "l.sqlite"
    extra = [e.replace("{pool}", str(pool)) for e in extra]
    res = _cli("discovery-loop", *_run_args(pool, ledger, *extra))
    _one_sentence(res, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.csv"]  # no ledger, no .lock, no folder


def test_a_missing_pool_or_an_unusable_ledger_path_leaves_nothing(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    _one_sentence(_cli("discovery-loop", *_run_args(tmp_path / "missing.csv", tmp_path / "l.sqlite")), "does not exist")
    (tmp_path / "afile").write_text("x")
    _one_sentence(_cli("discovery-loop", *_run_args(pool, tmp_path / "afile" / "l.sqlite")), "afile", "choose another")
    _one_sentence(_cli("discovery-loop", *_run_args(pool, tmp_path)), "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "pool.csv"]
    _one_sentence(_cli("discovery-loop", "status", "--ledger", str(tmp_path)), "is a folder")
    _one_sentence(_cli("discovery-loop", "status", "--ledger", str(tmp_path / "none.sqlite")), "no campaign ledger")
    _one_sentence(_cli("discovery-loop", "resume", "--ledger", str(tmp_path / "none.sqlite")), "no campaign ledger")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_folder_is_one_sentence(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _one_sentence(_cli("discovery-loop", *_run_args(pool, locked / "l.sqlite")), "ro", "choose a folder you can write to")
    finally:
        locked.chmod(0o700)


def test_a_window_goal_without_strategy_uses_the_window_strategy(tmp_path: Path) -> None:
    cfg = CampaignConfig(target="y", goal=Goal("window", 0.0, 1.0), budget=4, batch_size=2, seed=0)
    assert cfg.strategy == "window"
    pool = pool_csv(tmp_path)
    args = _run_args(pool, tmp_path / "w.sqlite", "--no-diagnostics")
    args[args.index("--maximize")] = "--window"
    args.insert(args.index("--window") + 1, "0")
    args.insert(args.index("--window") + 2, "1")
    args[args.index("--budget") + 1] = "4"
    res = _cli("discovery-loop", *args)
    assert res.returncode == 0 and "(strategy window)" in res.stdout, res.stderr


def test_pool_ids_are_normalised_once_and_duplicates_refused(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "id": ["x1", "x1 ", "x2"]})
    with pytest.raises(InputError, match=r"rows 0, 1 repeat an ID \(e.g. 'x1', written 'x1', 'x1 '\)"):
        Pool.from_frame(df, feature_columns=["a"], id_column="id")
    ok = Pool.from_frame(df.assign(id=[" x1", "x3\t", "x2"]), feature_columns=["a"], id_column="id")
    assert ok.ids.tolist() == ["x1", "x3", "x2"]
    assert Pool.from_frame(df.assign(id=[1.0, 2.0, 3.0]), feature_columns=["a"], id_column="id").ids.tolist() == ["1", "2", "3"]
    with pytest.raises(InputError, match="empty in rows 1"):
        Pool.from_frame(df.assign(id=["a", "  ", "b"]), feature_columns=["a"], id_column="id")
    with pytest.raises(InputError, match="not finite in float32.*rows 1"):
        Pool.from_frame(df.assign(a=[1.0, 1e39, 2.0]), feature_columns=["a"])
    with pytest.raises(FormulaError, match="Fe1e400O"):
        Pool.from_frame(pd.DataFrame({"f": ["Fe2O3", "Fe1e400O"]}), formula_column="f")


def test_a_pool_with_an_overflowing_formula_fails_before_a_ledger_exists(tmp_path: Path) -> None:
    pool = tmp_path / "pool.csv"
    pd.DataFrame({"f": ["Fe2O3", "NaCl", "Fe1e400O", "GaAs"], "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(pool, index=False)
    res = _cli("discovery-loop", "run", "--data", str(pool), "--target", "y", "--formula-column", "f", "--maximize",
               "--budget", "4", "--batch-size", "2", "--seed", "0", "--ledger", str(tmp_path / "l.sqlite"))
    assert res.returncode == 2 and "line 4: 'Fe1e400O'" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "l.sqlite").exists() and not (tmp_path / "l.sqlite.lock").exists()


def test_report_errors_and_hostile_strings(tmp_path: Path) -> None:
    # a target named like mathtext and IDs that a spreadsheet would run as formulas
    rng = np.random.default_rng(0)
    n = 30
    X = rng.uniform(-2, 2, size=(n, 3))
    target = r"$\foo{x}$"
    ids = [f"=cmd|' /C calc'!A{i}" if i % 3 == 0 else (f"-{i}" if i % 3 == 1 else f"@m{i}") for i in range(n)]
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(**{target: X[:, 0] - 1.0, "name": ids})
    frame.to_csv(tmp_path / "pool.csv", index=False)
    src = dict(source(tmp_path / "pool.csv"))
    cfg = CampaignConfig(target=target, goal=Goal("maximize"), budget=8, batch_size=4, seed=0, model="mc_dropout", model_params=TINY,
                         mdn_params=TINY_MDN, diagnose=False)
    campaign = open_campaign(tmp_path / "h.sqlite", config=cfg, source=src, progress=False)
    campaign.run()
    campaign.ledger.close()
    res = _cli("discovery-loop", "report", "--ledger", str(tmp_path / "h.sqlite"), "-o", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "rep" / "measurements.csv").read_text()
    for line in text.splitlines()[1:]:
        cell = line.split(",")[1]
        assert not cell.lstrip('"').startswith(("=", "+", "@")) and not cell.lstrip('"').startswith("-m"), line
    table = pd.read_csv(tmp_path / "rep" / "measurements.csv", keep_default_na=False)
    truth = frame.set_index("name")[target]
    for raw, value in zip(table["id"], table["value"]):
        original = raw[1:] if raw.startswith("'") else raw
        assert float(value) == pytest.approx(truth[original])  # numbers unchanged
    assert any(str(v).startswith("'=cmd") for v in table["id"]) and any(str(v).startswith("-") for v in table["id"])
    # report -o an existing file: one sentence
    (tmp_path / "taken").write_text("x")
    _one_sentence(_cli("discovery-loop", "report", "--ledger", str(tmp_path / "h.sqlite"), "-o", str(tmp_path / "taken")),
                  "taken")


def test_bdl_report_with_huge_std_and_bdl_os_errors(tmp_path: Path) -> None:
    pred = tmp_path / "p.csv"
    pred.write_text("y_true,mean,std\n1,1,1e308\n2,2,1\n0,0.5,0.2\n")
    _one_sentence(_cli("bdl", "report", "--predictions", str(pred), "-o", str(tmp_path / "out")), "std", "line(s) 2")
    (tmp_path / "afile").write_text("x")
    formulas = tmp_path / "f.csv"
    formulas.write_text("f\nFe2O3\n")
    _one_sentence(_cli("bdl", "featurize", str(formulas), "--formula-column", "f", "-o", str(tmp_path / "afile" / "x.csv")),
                  "afile")
    res = _cli("bdl", "featurize", str(formulas), "--formula-column", "f", "-o", str(tmp_path / "afile" / "x.csv"), "--debug")
    assert res.returncode == 2 and "Traceback" in res.stderr


def test_plotting_errors_become_one_sentence() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bdl._io import error_sentence

    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError) as info:
            ax.set_xlim(0.0, np.inf)
    finally:
        plt.close(fig)
    sentence = error_sentence(info.value)
    assert sentence is not None and "a plot could not be drawn" in sentence and "--debug" in sentence
    assert error_sentence(KeyError("x")) is None  # a programming error keeps its traceback


def test_a_simulated_pool_outside_the_value_range_fails_before_a_ledger(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path)
    res = _cli("discovery-loop", *_run_args(pool, tmp_path / "l.sqlite", "--value-range", "0", "1"))
    _one_sentence(res, "cannot all be measured", "--value-range")
    assert not (tmp_path / "l.sqlite").exists() and not (tmp_path / "l.sqlite.lock").exists()
