"""The calibration report: verdict, files, Jupyter rendering, PRED.csv reading, CLI, real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.calibration.recalibration import IsotonicRecalibration
from bdl.calibration.report import calibration_report, prediction_frame, read_predictions, verdict
from bdl.errors import InputError
from bdl.predictive import BoundedPredictive, GaussianPredictive, MixturePredictive, SamplePredictive

ROOT = Path(__file__).resolve().parents[1]


def _gauss(n=600, true_scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    return mu + rng.normal(size=n) * true_scale, GaussianPredictive(mu, np.ones(n))


@pytest.mark.parametrize(("scale", "word"), [(2.0, "Over-confident"), (0.4, "Under-confident"), (1.0, "Calibrated")])
def test_verdict_says_which_way_and_by_how_much(scale, word):
    y, pred = _gauss(n=3000, true_scale=scale)
    head = verdict(y, pred)[0]
    assert head.startswith(word)
    if word != "Calibrated":
        import re

        factor = float(re.search(r"about ([0-9.]+) times", head).group(1))
        assert factor == pytest.approx(scale if scale > 1 else 1 / scale, rel=0.1)


def test_verdict_names_where_calibration_fails():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=900)
    y = mu + rng.normal(size=900) * np.where(mu > np.quantile(mu, 2 / 3), 3.0, 1.0)
    lines = verdict(y, GaussianPredictive(mu, np.ones(900)))
    assert any("highest third by predicted value" in s for s in lines)


def test_report_files_html_and_jupyter(tmp_path):
    y, pred = _gauss(true_scale=2.0)
    recal = IsotonicRecalibration().fit(y[:300], pred[np.arange(300)])
    test = np.arange(300, 600)
    rep = calibration_report(y[test], pred[test], recalibrated=recal.transform(pred[test]), recalibration=recal,
                             info={"data": "synthetic"})
    out = rep.save(tmp_path / "r")
    record = json.loads((out / "metrics.json").read_text())
    assert record["metrics"]["model"]["coverage_90"] < 0.75 < record["metrics"]["recalibrated"]["coverage_90"]
    assert record["verdict"][0].startswith("Over-confident")
    html = (out / "report.html").read_text()
    assert html.index("Verdict") < html.index("Metrics") < html.index("Plots")  # verdict before the numbers
    assert html.count("data:image/png;base64,") == 3 and "http" not in html.split("</style>", 1)[1]
    inline = rep._repr_html_()
    assert "<html" not in inline and "Verdict" in inline
    assert {"miscalibration_area", "crps", "ence", "pit_ks_pvalue", "check_score"} <= set(record["metrics"]["model"])


@pytest.mark.parametrize("kind", ["gaussian", "mixture", "samples", "plain", "bounded"])
def test_prediction_csv_round_trip(tmp_path, kind):
    rng = np.random.default_rng(2)
    n = 50
    if kind == "gaussian":
        pred = GaussianPredictive(rng.normal(size=n), np.full(n, 0.5))
    elif kind == "mixture":
        pred = MixturePredictive(np.full((n, 2), 0.5), rng.normal(size=(n, 2)), np.full((n, 2), 0.3))
    elif kind == "samples":
        pred = SamplePredictive(rng.normal(size=(n, 5)), np.full((n, 5), 0.2))
    elif kind == "bounded":
        pred = BoundedPredictive(np.full((n, 2), 0.5), rng.normal(size=(n, 2)), np.full((n, 2), 0.3),
                                 lower=0.0, p_lower=rng.uniform(0, 0.5, n))
    else:
        pred = SamplePredictive(rng.normal(size=(n, 7)))
    y = rng.normal(size=n)
    prediction_frame(y, pred).to_csv(tmp_path / "p.csv", index=False)
    y2, back = read_predictions(tmp_path / "p.csv")
    np.testing.assert_allclose(y2, y)
    np.testing.assert_allclose(back.cdf(y), pred.cdf(y), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"mean": [1.0], "std": [1.0]}, "no 'y_true'"),
        ({"y_true": [1.0, 2.0], "mean": [1.0, 2.0], "std": [1.0, 0.0]}, "'std' must be positive; row"),
        ({"y_true": [1.0, "x"], "mean": [1.0, 2.0], "std": [1.0, 1.0]}, "'y_true' has missing or non-numeric values in row"),
        ({"y_true": [1.0], "w_0": [0.5], "mu_0": [0.0], "sigma_0": [1.0], "w_1": [0.4], "mu_1": [1.0], "sigma_1": [1.0]},
         "sum to one"),
        ({"y_true": [1.0], "w_0": [1.0], "mu_0": [0.0]}, "sigma_0"),
        ({"y_true": [1.0], "s_0": [1.0]}, "at least two"),
        ({"y_true": [1.0], "w_0": [1.0], "mu_0": [0.0], "sigma_0": [1.0], "s_0": [1.0], "s_1": [2.0]}, "exactly one"),
    ],
)
def test_bad_prediction_files_give_one_clear_error(tmp_path, frame, message):
    pd.DataFrame(frame).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=message):
        read_predictions(tmp_path / "bad.csv")


def test_cli_report(tmp_path):
    y, pred = _gauss(true_scale=2.0)
    prediction_frame(y, pred).to_csv(tmp_path / "PRED.csv", index=False)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    res = subprocess.run([sys.executable, "-m", "bdl.cli", "report", "--predictions", str(tmp_path / "PRED.csv"),
                          "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Over-confident")
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "metrics.json").exists()
    bad = subprocess.run([sys.executable, "-m", "bdl.cli", "report", "--predictions", str(tmp_path / "none.csv"),
                          "-o", str(tmp_path / "o2")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_report_renders_in_a_real_headless_browser(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from check_report_in_browser import check

    y, pred = _gauss(true_scale=2.0)
    calibration_report(y, pred).save(tmp_path)
    info = check(tmp_path / "report.html", screenshot=tmp_path / "shot.png")
    assert info["ok"], info
    assert info["images"] == info["decoded"] == 1
    assert (tmp_path / "shot.png").stat().st_size > 50_000
