"""The console scripts, run as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd


def _run(*args, cwd=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_featurize_keeps_columns_and_reports_bad_rows(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "formula": ["NaCl", "In1p1", "Fe2O3"], "y": [1.0, 2.0, 3.0]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    bad = _run("bdl.cli", "featurize", str(src), "--formula-column", "formula", "-o", str(out))
    assert bad.returncode == 2 and "line 3: 'In1p1'" in bad.stderr and not out.exists()  # file line (header = 1)
    ok = _run("bdl.cli", "featurize", str(src), "--formula-column", "formula", "-o", str(out), "--errors", "coerce")
    assert ok.returncode == 0, ok.stderr
    df = pd.read_csv(out)
    assert list(df.columns[:3]) == ["id", "formula", "y"] and df.shape == (3, 3 + 132 + 1)
    assert df["featurized_ok"].tolist() == [True, False, True]
    missing = _run("bdl.cli", "featurize", str(tmp_path / "nope.csv"), "--formula-column", "f", "-o", str(out))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_bandgap_main_job_writes_report(tmp_path):
    res = _run("bdl.cli", "bandgap", "-o", str(tmp_path / "bg"), "--epochs", "4", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "held-out MAE" in res.stdout and "90 % interval coverage" in res.stdout
    record = json.loads((tmp_path / "bg" / "metrics.json").read_text())
    assert 0 < record["metrics"]["model"]["mae"] < 2.0 and record["verdict"]
    html = (tmp_path / "bg" / "report.html").read_text()
    assert "data:image/png;base64," in html and "Verdict" in html
    assert (tmp_path / "bg" / "model" / "arrays.npz").exists()
    preds = pd.read_csv(tmp_path / "bg" / "predictions.csv")
    assert len(preds) == 921 and {"composition", "y_true", "w_0", "mu_0", "sigma_0"} <= set(preds.columns)


def test_discovery_loop_pools_lists_shipped_pools():
    res = _run("discovery_loop.cli", "pools")
    assert res.returncode == 0, res.stderr
    assert "matbench_expt_gap" in res.stdout and "rohr2020" in res.stdout
