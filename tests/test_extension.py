"""Extending the toolkit from outside the package (issue 15): a toy model and a toy acquisition
function registered by a test module are used by name, from the command line and from Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bdl.errors import InputError
from discovery_loop.campaign import CampaignConfig, Goal
from discovery_loop.ledger import Ledger
from tests.campaign_helpers import pool_csv

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "discovery_loop.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=cwd)


def test_plugin_model_and_acquisition_run_a_campaign_from_the_cli_and_resume(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path, n=40)
    ledger = tmp_path / "l.sqlite"
    res = _cli(["run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c", "--id-column", "name",
                "--maximize", "--budget", "16", "--batch-size", "4", "--seed", "1", "--no-diagnostics",
                "--plugin", "tests.toy_plugin", "--model", "toy_knn", "--model-params", '{"k": 2}',
                "--strategy", "toy_lcb", "--strategy-params", '{"kappa": 0.5}', "--ledger", str(ledger),
                "--no-progress"], tmp_path)
    assert res.returncode == 0, res.stderr
    with Ledger(ledger, lock=False) as led:
        rounds = led.table("rounds")
        config = led.config
        n_measured = len(led.measured())
    assert config["plugins"] == ["tests.toy_plugin"]
    model_rounds = rounds[rounds["kind"] == "model"]
    assert len(model_rounds) == 3 and set(model_rounds["model"]) == {"toy_knn"}
    assert set(model_rounds["strategy"]) == {"toy_lcb"}
    assert json.loads(model_rounds["model_params"].iloc[0]) == {"k": 2}
    assert n_measured == 16
    # the ledger remembers the plugin: status (a new process) reads it without --plugin
    res = _cli(["status", "--ledger", str(ledger)], tmp_path)
    assert res.returncode == 0, res.stderr


def test_plugin_parts_are_checked_before_a_ledger_exists(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path, n=30)
    ledger = tmp_path / "l.sqlite"
    base = ["run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c", "--id-column", "name",
            "--maximize", "--budget", "10", "--batch-size", "4", "--seed", "1", "--no-diagnostics", "--ledger",
            str(ledger), "--no-progress"]
    res = _cli(base + ["--model", "toy_knn"], tmp_path)  # no --plugin: the name is unknown
    assert res.returncode == 2 and "unknown model 'toy_knn'" in res.stderr and "--plugin" in res.stderr
    res = _cli(base + ["--plugin", "tests.no_such_plugin"], tmp_path)
    assert res.returncode == 2 and "cannot be imported" in res.stderr
    res = _cli(base + ["--plugin", "tests.toy_plugin", "--strategy", "toy_lcb", "--strategy-params", '{"beta": 1}'], tmp_path)
    assert res.returncode == 2 and "takes no parameter(s) beta" in res.stderr
    assert not ledger.exists()


def test_plugin_parts_in_python_and_window_goals() -> None:
    import tests.toy_plugin as toy

    cfg = CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, model="toy_knn",
                         strategy="toy_lcb", diagnose=False)
    parts = cfg.parts()
    assert parts.model.obj is toy.NearestNeighbourMean and not parts.model.warm_start
    assert parts.acquisition.name == "toy_lcb" and dict(parts.acquisition.params) == {"kappa": 1.0}
    # the toy acquisition does not declare that it serves a window goal
    with pytest.raises(InputError, match="with a window goal use one of"):
        CampaignConfig(target="y", goal=Goal("window", 0.0, 1.0), budget=10, batch_size=2, seed=0,
                       strategy="toy_lcb", diagnose=False)
    # warm start is a property of the model class, not a list
    with pytest.raises(InputError, match="warm_start"):
        CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, model="toy_knn",
                       warm_start=True, diagnose=False)
