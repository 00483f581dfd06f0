"""`bdl bench uci` on a folder it has never seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bdl.bench import parse_splits, run_uci
from bdl.errors import InputError


def _write_uci(folder, n=120, n_splits=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=n) * 0.3
    folder.mkdir()
    np.savetxt(folder / "data.txt", np.column_stack([X, y]))
    (folder / "index_features.txt").write_text("0\n1\n2\n")
    (folder / "index_target.txt").write_text("3\n")
    (folder / "n_splits.txt").write_text(f"{n_splits}\n")
    for k in range(n_splits):
        perm = rng.permutation(n)
        (folder / f"index_train_{k}.txt").write_text("\n".join(map(str, perm[: int(0.9 * n)])))
        (folder / f"index_test_{k}.txt").write_text("\n".join(map(str, perm[int(0.9 * n):])))
    return folder


def test_parse_splits():
    assert parse_splits("0-2,5", 20) == [0, 1, 2, 5]
    assert parse_splits(None, 3) == [0, 1, 2]
    with pytest.raises(InputError, match="do not exist"):
        parse_splits("0-25", 20)
    with pytest.raises(InputError, match="look like"):
        parse_splits("a-b", 20)


def test_cli_runs_an_unseen_folder_and_writes_json(tmp_path):
    folder = _write_uci(tmp_path / "mydata")
    out = tmp_path / "res.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    res = subprocess.run(
        [sys.executable, "-m", "bdl.cli", "bench", "uci", "--data", str(folder), "--method", "mc_dropout", "mdn",
         "--splits", "0-1", "--quick", "--epochs", "5", "--passes", "20", "--json", str(out), "--no-progress"],
        capture_output=True, text=True, env=env,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["dataset"] == "mydata" and data["splits"] == [0, 1]
    for method in ("mc_dropout", "mdn"):
        r = data["methods"][method]
        assert {"rmse_mean", "rmse_se", "ll_mean", "ll_se", "wall_seconds"} <= set(r)
        assert len(r["per_split"]) == 2 and np.isfinite(r["rmse_mean"]) and r["rmse_se"] >= 0
        rmses = [e["rmse"] for e in r["per_split"]]
        assert r["rmse_se"] == pytest.approx(np.std(rmses, ddof=1) / np.sqrt(2))


def test_grid_choice_uses_only_the_training_split(tmp_path, monkeypatch):
    """MC dropout's grid is trained on the first 80 % and scored on the last 20 % of the training
    rows; test rows reach only the final scoring. With every test target NaN, the choice is made
    on finite validation scores and only the test log-likelihood becomes NaN."""
    import bdl.bench as bench
    from bdl.data import load_uci
    from bdl.data._uci import UCIDataset

    folder = _write_uci(tmp_path / "d2", n_splits=1)
    X_tr, y_tr, X_te, _ = load_uci(folder).train_test(0)
    cut = int(0.8 * len(X_tr))
    real_tt = UCIDataset.train_test

    def nan_test(self, k):
        a, b, c, d = real_tt(self, k)
        return a, b, c, np.full_like(d, np.nan)

    monkeypatch.setattr(UCIDataset, "train_test", nan_test)
    trained, scored = [], []
    real_train, real_score = bench._train_members, bench._score_members

    def spy_train(sets, *args, **kw):
        trained.append(sets)
        return real_train(sets, *args, **kw)

    def spy_score(weights, stats, tau, sets, *args, **kw):
        scored.append(sets)
        return real_score(weights, stats, tau, sets, *args, **kw)

    real_models = bench._score_as_models

    def spy_models(weights, stats, settings, data, *args, **kw):  # the test scoring, through the class
        scored.append([d[2:] for d in data])
        return real_models(weights, stats, settings, data, *args, **kw)

    monkeypatch.setattr(bench, "_train_members", spy_train)
    monkeypatch.setattr(bench, "_score_members", spy_score)
    monkeypatch.setattr(bench, "_score_as_models", spy_models)
    res = run_uci(folder, ["mc_dropout"], quick=True, progress=False, log=None, epochs=5, n_passes=20)
    (grid_fit, refit), (grid_val, test) = trained, scored
    grid = bench.mc_dropout_grid(load_uci(folder), y_tr[:cut], quick=True)
    assert len(grid_fit) == len({s["dropout_rate"] for s in grid}) and len(grid) >= 2
    for (X, y), (Xv, yv) in zip(grid_fit, grid_val):
        np.testing.assert_array_equal(X, X_tr[:cut])
        np.testing.assert_array_equal(Xv, X_tr[cut:])
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(yv))
    np.testing.assert_array_equal(refit[0][0], X_tr)
    np.testing.assert_array_equal(test[0][0], X_te)
    entry = res["methods"]["mc_dropout"]["per_split"][0]
    assert np.isfinite(entry["chosen"]["val_ll"]) and np.isnan(entry["ll"])


def test_bad_protocol_settings(tmp_path):
    folder = _write_uci(tmp_path / "d3", n_splits=1)
    with pytest.raises(InputError, match="epochs"):
        run_uci(folder, ["mc_dropout"], epochs=0, log=None)
    with pytest.raises(InputError, match="learning_rates"):
        run_uci(folder, ["mc_dropout"], learning_rates=[], log=None)
