"""``bdl fit`` / ``bdl predict``: round trips from a CSV to a saved model to predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.cli import main


def _table(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    y = np.maximum(np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.3 + 0.1 * rng.normal(size=n), 0.0)
    pd.DataFrame({"name": [f"c{i}" for i in range(n)], "a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(path, index=False)
    return path


def test_fit_then_predict_writes_bounded_intervals_and_the_report_layout(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    train, cand = _table(tmp_path / "train.csv", 80, 0), _table(tmp_path / "cand.csv", 40, 1)
    assert main(["fit", "--data", str(train), "--target", "y", "--feature-columns", "a,b", "--lower-bound", "0",
                 "-o", str(tmp_path / "model")]) == 0
    info = json.loads((tmp_path / "model" / "bdl_fit.json").read_text())
    assert info["class"] == "PriorGPRegressor" and info["lower_bound"] == 0.0
    assert main(["predict", str(tmp_path / "model"), "--data", str(cand), "-o", str(tmp_path / "pred.csv")]) == 0
    out = pd.read_csv(tmp_path / "pred.csv")
    for col in ("name", "a", "b", "y", "y_true", "mean", "median", "std", "lower_90", "upper_90", "p_lower"):
        assert col in out.columns
    assert len(out) == 40 and (out["lower_90"] >= 0).all() and (out["median"] >= 0).all()
    assert (out["lower_90"] <= out["median"]).all() and (out["median"] <= out["upper_90"]).all()
    covered = np.mean((out["y"] >= out["lower_90"]) & (out["y"] <= out["upper_90"]))
    assert covered >= 0.75
    assert "reach the lower bound" in capsys.readouterr().out
    # the predictions file is what 'bdl report' reads: the distribution's columns are the layout
    assert main(["report", "--predictions", str(tmp_path / "pred.csv"), "-o", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").exists()


def test_fit_a_named_network_and_predictions_are_truncated(tmp_path: Path) -> None:
    train = _table(tmp_path / "train.csv", 40, 2)
    assert main(["fit", "--data", str(train), "--target", "y", "--feature-columns", "a,b", "--model", "mc_dropout",
                 "--model-params", json.dumps({"hidden_units": [8], "epochs": 3, "n_passes": 10, "progress": False}),
                 "--lower-bound", "0", "-o", str(tmp_path / "m")]) == 0
    assert main(["predict", str(tmp_path / "m"), "--data", str(train), "-o", str(tmp_path / "p.csv")]) == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert (out["lower_90"] >= 0).all()


def test_fit_and_predict_errors_are_one_sentence(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    train = _table(tmp_path / "train.csv", 30, 3)
    assert main(["fit", "--data", str(train), "--target", "nope", "--feature-columns", "a,b", "-o", str(tmp_path / "m")]) == 2
    assert "no target column 'nope' (--target)" in capsys.readouterr().err
    assert main(["fit", "--data", str(train), "--target", "y", "--feature-columns", "a,b", "--model", "forest",
                 "-o", str(tmp_path / "m")]) == 2
    assert "unknown model 'forest'" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--data", str(train), "-o", str(tmp_path / "p.csv")]) == 2
    assert "not a folder written by 'bdl fit'" in capsys.readouterr().err
    bad = pd.read_csv(train).astype({"y": object})
    bad.loc[4, "y"] = "n/a"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "bad.csv"), "--target", "y", "--feature-columns", "a,b",
                 "-o", str(tmp_path / "m")]) == 2
    assert "line(s) 6" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_fit_on_formulas_uses_the_dft_prior(tmp_path: Path) -> None:
    df = pd.DataFrame({"formula": ["NaCl", "KCl", "MgO", "CaO", "Cu", "Fe", "GaAs", "Si", "ZnO", "TiO2", "Al", "CdS"],
                       "gap": [8.5, 8.4, 7.8, 7.0, 0.0, 0.0, 1.4, 1.1, 3.4, 3.0, 0.0, 2.4]})
    df.to_csv(tmp_path / "t.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "t.csv"), "--target", "gap", "--formula-column", "formula",
                 "--lower-bound", "0", "-o", str(tmp_path / "m")]) == 0
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["extra"]["uses_prior"] is True
    pd.DataFrame({"formula": ["LiF", "Ag"]}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "c.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert out.loc[0, "median"] > 3.0 and out.loc[1, "p_lower"] > 0.5  # an insulator and a metal
