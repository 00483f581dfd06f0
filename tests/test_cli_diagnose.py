"""``bdl diagnose``: fits both nets, triages candidates, writes the table; clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "bdl.cli", *args], capture_output=True, text=True, env=env)


def test_diagnose_with_feature_columns_flags_the_two_phase_region(tmp_path):
    rng = np.random.default_rng(0)
    n = 1200
    a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    y = b + 0.15 * rng.normal(size=n) + (a > 0) * rng.choice([-1.0, 1.0], n)
    pd.DataFrame({"a": a, "b": b, "y": y}).to_csv(tmp_path / "train.csv", index=False)
    cand = pd.DataFrame({"id": [f"c{i}" for i in range(40)], "a": np.r_[np.full(20, 0.6), np.full(20, -0.6)],
                         "b": np.tile(np.linspace(-0.5, 0.5, 20), 2)})
    cand.to_csv(tmp_path / "cand.csv", index=False)
    out = tmp_path / "triage.csv"
    res = _run("diagnose", "--train", str(tmp_path / "train.csv"), "--candidates", str(tmp_path / "cand.csv"),
               "--target", "y", "--feature-columns", "a,b", "-o", str(out), "--epochs", "60", "--n-components", "3")
    assert res.returncode == 0, res.stderr
    assert "fitting the BNN" in res.stderr and "statuses:" in res.stderr
    tri = pd.read_csv(out)
    assert len(tri) == 40 and tri["id"].tolist() == cand["id"].tolist()
    assert {"status", "reasons", "n_modes", "ashman_d", "epistemic_share", "ood_score"} <= set(tri.columns)
    assert (tri["status"].iloc[:20] == "bimodal").mean() >= 0.8
    assert (tri["status"].iloc[20:] == "bimodal").mean() <= 0.1
    assert not (tmp_path / "triage.csv.tmp").exists()


def test_diagnose_fits_a_replicate_model_when_inputs_repeat(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(300, 2))
    X = np.repeat(x, 3, axis=0)  # every input measured three times
    two_phase = X[:, 0] > 0
    y = X[:, 1] + 0.05 * rng.normal(size=len(X)) + two_phase * rng.choice([-1.0, 1.0], len(X))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(tmp_path / "train.csv", index=False)
    cand = pd.DataFrame({"a": np.r_[np.full(20, 0.6), np.full(20, -0.6)], "b": np.tile(np.linspace(-0.5, 0.5, 20), 2)})
    cand.to_csv(tmp_path / "cand.csv", index=False)
    out = tmp_path / "triage.csv"
    common = ["diagnose", "--train", str(tmp_path / "train.csv"), "--candidates", str(tmp_path / "cand.csv"),
              "--target", "y", "--feature-columns", "a,b", "--epochs", "30", "--n-components", "3"]
    res = _run(*common, "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "replicate model: 300 inputs occur more than once" in res.stderr
    tri = pd.read_csv(out)
    assert (tri["replicate_spread"].iloc[:20] > 1.0).all() and (tri["replicate_spread"].iloc[20:] < 0.4).all()
    assert (tri["status"].iloc[:20] == "bimodal").all() and (tri["status"].iloc[20:] != "bimodal").all()
    res = _run(*common, "-o", str(tmp_path / "plain.csv"), "--no-replicates")
    assert res.returncode == 0 and "replicate model" not in res.stderr
    assert pd.read_csv(tmp_path / "plain.csv")["replicate_spread"].isna().all()


def test_diagnose_errors_are_one_clear_sentence(tmp_path):
    pd.DataFrame({"a": np.arange(20.0), "y": np.arange(20.0)}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"a": [1.0, "x"]}).to_csv(tmp_path / "c.csv", index=False)
    out = tmp_path / "o.csv"
    base = ["diagnose", "--train", str(tmp_path / "t.csv"), "--candidates", str(tmp_path / "c.csv"), "-o", str(out)]
    r = _run(*base, "--target", "gap", "--feature-columns", "a")
    assert r.returncode == 2 and "no target column 'gap'" in r.stderr
    r = _run(*base, "--target", "y", "--feature-columns", "a,b")
    assert r.returncode == 2 and "lacks feature column(s) ['b']" in r.stderr
    r = _run(*base, "--target", "y", "--feature-columns", "a")
    assert r.returncode == 2 and "non-numeric value in feature column 'a' at row 1" in r.stderr
    r = _run(*base, "--target", "y")
    assert r.returncode == 2 and "exactly one of --formula-column" in r.stderr
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "c2.csv", index=False)
    r = _run("diagnose", "--train", str(tmp_path / "t.csv"), "--candidates", str(tmp_path / "c2.csv"), "-o", str(out),
             "--target", "y", "--feature-columns", "a", "--replicates")
    assert r.returncode == 2 and "--replicates needs at least 30 inputs that occur more than once" in r.stderr
    assert "t.csv has 0" in r.stderr
    r = _run("diagnose", "--train", str(tmp_path / "nope.csv"), "--candidates", str(tmp_path / "c.csv"),
             "--target", "y", "--feature-columns", "a", "-o", str(out))
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert not out.exists()
    assert all(line.count("Traceback") == 0 for line in r.stderr.splitlines())
