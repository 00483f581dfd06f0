"""Warm start: the networks continue from their fitted weights (scikit-learn's ``warm_start``),
the ledger keeps every round's networks, and a warm-started campaign resumes exactly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.errors import InputError, LedgerError
from bdl.models import MCDropoutRegressor, MixtureDensityRegressor, VariationalBNN, load_model
from discovery_loop.campaign import CampaignConfig, Goal, open_campaign
from discovery_loop.ledger import Ledger

from campaign_helpers import TINY, TINY_MDN, assert_same_ledger, ledger_contents, pool_csv, source

NET = dict(hidden_units=(32, 32), batch_size=64, epochs=400, patience=15, progress=False)
FACTORIES = {
    "mc_dropout": lambda seed, **kw: MCDropoutRegressor(n_passes=20, random_state=seed, **{**NET, **kw}),
    "mdn": lambda seed, **kw: MixtureDensityRegressor(n_components=3, random_state=seed, **{**NET, **kw}),
    "variational": lambda seed, **kw: VariationalBNN(n_passes=20, random_state=seed, **{**NET, **kw}),
}
SEED = 5  # seed of the second fit (cold and warm), hence of its validation split


def _data(n: int, seed: int = 0, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2] + 0.1 * rng.normal(size=n)
    return X, y


def _first_fit_rows(n: int, n_first: int) -> np.ndarray:
    """Rows of the first fit, none of them in the validation split the second fit (seed SEED)
    will hold out, so the two fits are compared on validation data neither has trained on."""
    n_val = int(round(0.1 * n))
    val = np.random.default_rng(SEED).permutation(n)[:n_val]
    return np.setdiff1d(np.arange(n), val)[:n_first]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_warm_start_starts_lower_and_reaches_the_cold_fit_in_fewer_epochs(name: str) -> None:
    # a campaign's situation: a fitted network, then a little more data (800 -> 900 rows)
    X, y = _data(900)
    first = _first_fit_rows(900, 800)
    warm = FACTORIES[name](1).fit(X[first], y[first])
    x_mean = warm.x_mean_.copy()
    warm.set_params(warm_start=True, random_state=SEED).fit(X, y)
    cold = FACTORIES[name](SEED).fit(X, y)
    np.testing.assert_array_equal(warm.x_mean_, x_mean)  # the first fit's scaling is kept
    # training loss after the first epoch: the warm fit starts far ahead (higher ELBO per point)
    assert warm.trace_["elbo"].iloc[0] > cold.trace_["elbo"].iloc[0] + 1.0
    # validation NLL on the same rows (same seed, same split), which neither fit trained on:
    # the warm fit gets within 0.1 nats of the cold fit's best in fewer epochs, and stops sooner
    cold_nll, warm_nll = cold.trace_["val_nll"].to_numpy(), warm.trace_["val_nll"].to_numpy()
    target = cold_nll.min() + 0.1
    assert (warm_nll <= target).any(), (warm_nll.min(), cold_nll.min())
    assert np.argmax(warm_nll <= target) < np.argmax(cold_nll <= target)
    assert len(warm_nll) < len(cold_nll)


def test_warm_start_keeps_working_after_save_and_load(tmp_path: Path) -> None:
    X, y = _data(500)
    model = FACTORIES["mc_dropout"](1, epochs=30).fit(X[:300], y[:300])
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.warm_start is False
    a = model.set_params(warm_start=True, random_state=2, epochs=10).fit(X, y)
    b = loaded.set_params(warm_start=True, random_state=2, epochs=10).fit(X, y)
    np.testing.assert_array_equal(a.predict_dist(X[:20]).locs, b.predict_dist(X[:20]).locs)
    np.testing.assert_array_equal(a.trace_["elbo"].to_numpy(), b.trace_["elbo"].to_numpy())
    b.save(tmp_path / "again")
    assert load_model(tmp_path / "again").get_params()["warm_start"] is True


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_warm_start_refuses_another_feature_count_or_architecture(name: str) -> None:
    X, y = _data(200)
    model = FACTORIES[name](0, epochs=2).fit(X, y)
    model.set_params(warm_start=True)
    with pytest.raises(InputError, match=r"warm_start: X has 3 features but the model was fitted on 4"):
        model.fit(X[:, :3], y)
    with pytest.raises(InputError, match="architecture changed"):
        model.set_params(hidden_units=(8,)).fit(X, y)
    # an unfitted model with warm_start on simply trains from scratch
    fresh = FACTORIES[name](0, epochs=2, warm_start=True).fit(X, y)
    cold = FACTORIES[name](0, epochs=2).fit(X, y)
    np.testing.assert_array_equal(fresh.predict(X[:5]), cold.predict(X[:5]))


def test_warm_start_refuses_other_dataframe_columns() -> None:
    X, y = _data(200)
    frame = pd.DataFrame(X, columns=list("abcd"))
    model = FACTORIES["mdn"](0, epochs=2, warm_start=True).fit(frame, y)
    with pytest.raises(InputError, match="feature columns differ"):
        model.fit(frame.rename(columns={"d": "e"}), y)
    model.fit(frame[list("dcba")], y)  # the same columns in another order are fine


# ---------------------------------------------------------------------------------------- ledger
def test_ledger_keeps_auxiliary_models(tmp_path: Path) -> None:
    X, y = _data(100)
    mdn = FACTORIES["mdn"](0, epochs=2).fit(X, y)
    mdn.save(tmp_path / "mdn")
    model = FACTORIES["mc_dropout"](0, epochs=2).fit(X, y)
    model.save(tmp_path / "model")
    props = pd.DataFrame({"rank": [0], "idx": [1], "id": ["c1"], "score": [1.0], "mean": [0.0], "std": [1.0],
                          "epistemic_std": [0.5], "status": ["ok"], "reasons": [""], "predictive": [None]})
    with Ledger(tmp_path / "l.sqlite", create=True) as ledger:
        ledger.initialise({"a": 1}, [f"c{i}" for i in range(5)], "fp")
        ledger.record_round({"round": 0, "kind": "model", "n_train": 0, "n_candidates": 5, "strategy": "ei"}, props,
                            model_dir=tmp_path / "model", aux_model_dirs={"mdn": tmp_path / "mdn"})
        with pytest.raises(LedgerError, match="kind 'model'"):
            ledger.record_round({"round": 1, "kind": "model", "n_train": 0, "n_candidates": 5, "strategy": "ei"},
                                props.assign(idx=[2]), aux_model_dirs={"model": tmp_path / "model"})
    with Ledger(tmp_path / "l.sqlite", lock=False) as ledger:
        assert ledger.table("aux_models")["kind"].tolist() == ["mdn"]
        np.testing.assert_array_equal(ledger.load_model(0, "mdn").predict(X[:5]), mdn.predict(X[:5]))
        np.testing.assert_array_equal(ledger.load_model(0).predict_dist(X[:5]).locs, model.predict_dist(X[:5]).locs)
        with pytest.raises(LedgerError, match="no saved 'ensemble' model"):
            ledger.load_model(0, "ensemble")


def test_a_ledger_from_before_aux_models_opens_and_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Ledger(path, create=True) as ledger:
        ledger.initialise({"a": 1}, ["c0", "c1"], "fp")
        ledger._conn.execute("DROP TABLE aux_models")
    with Ledger(path, lock=False) as reader:  # a reader changes nothing
        with pytest.raises(LedgerError, match="no saved 'mdn' model"):
            reader.model_blob(0, "mdn")
        assert not reader._has_table("aux_models")
    with Ledger(path) as writer:
        assert writer._has_table("aux_models")


# ---------------------------------------------------------------------------------------- campaign
def _config(**kw) -> CampaignConfig:
    base = dict(target="y", goal=Goal("maximize"), budget=24, batch_size=4, seed=3, n_initial=8, model="mc_dropout", model_params=TINY,
                mdn_params=TINY_MDN, warm_start=True, warm_start_epochs=10)
    return CampaignConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def warm_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("warm")
    pool = pool_csv(tmp)
    campaign = open_campaign(tmp / "ref.sqlite", config=_config(), source=source(pool), progress=False)
    try:
        campaign.run()
    finally:
        campaign.ledger.close()
    return pool, tmp / "ref.sqlite"


def test_warm_campaign_continues_the_previous_round_and_refits_when_the_data_doubles(warm_reference) -> None:
    _, path = warm_reference
    with Ledger(path, lock=False) as ledger:
        rounds = ledger.table("rounds")
        model_rounds = rounds[rounds["kind"] == "model"]
        sources = [json.loads(p)["warm_start_from"] for p in model_rounds["model_params"]]
        # n_train 8 (cold), 12, 16 (warm from the round before), 20 > 2 x 8 (cold again)
        assert model_rounds["n_train"].tolist() == [8, 12, 16, 20]
        assert sources == [None, 1, 2, None]
        timings = [json.loads(t) for t in model_rounds["timings"]]
        assert ["load_previous" in t for t in timings] == [False, True, True, False]
        assert sorted(ledger.table("aux_models")["round"]) == model_rounds["round"].tolist()
        warm = ledger.load_model(2)
        assert warm.warm_start is True and warm.epochs == 10
        # a warm-started round keeps the scaling of the cold round it descends from
        np.testing.assert_array_equal(warm.x_mean_, ledger.load_model(1).x_mean_)
        np.testing.assert_array_equal(ledger.load_model(2, "mdn").x_mean_, ledger.load_model(1, "mdn").x_mean_)


def test_warm_campaign_stopped_and_reopened_gives_the_uninterrupted_ledger(warm_reference, tmp_path: Path) -> None:
    pool, path = warm_reference
    ledger_path = tmp_path / "stopped.sqlite"
    campaign = open_campaign(ledger_path, config=_config(), source=source(pool), progress=False)
    try:
        steps = campaign.rounds()
        for _ in range(3):  # initial design and two model rounds, then the process "stops"
            next(steps)
        steps.close()
    finally:
        campaign.ledger.close()
    again = open_campaign(ledger_path, progress=False)
    try:
        again.run()
    finally:
        again.ledger.close()
    assert_same_ledger(ledger_contents(path), ledger_contents(ledger_path))


def test_warm_campaign_killed_then_resumed_from_the_command_line(warm_reference, tmp_path: Path) -> None:
    pool, path = warm_reference
    ledger = tmp_path / "killed.sqlite"
    args = ["run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c", "--id-column", "name",
            "--maximize", "--budget", "24", "--batch-size", "4", "--n-initial", "8", "--seed", "3", "--ledger", str(ledger),
            "--model", "mc_dropout", "--model-params", json.dumps(TINY), "--mdn-params", json.dumps(TINY_MDN), "--warm-start",
            "--warm-start-epochs", "10", "--no-progress", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "discovery_loop.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # kill once the warm rounds have begun (the second model round is recorded), then resume
    import time

    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        if ledger.exists():
            try:
                with Ledger(ledger, lock=False) as reader:
                    if reader.n_rounds() >= 3:
                        break
            except LedgerError:
                pass
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    res = subprocess.run([sys.executable, "-m", "discovery_loop.cli", "resume", "--ledger", str(ledger), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert killed, "the campaign finished before the kill; the test did not test resuming"
    assert_same_ledger(ledger_contents(path), ledger_contents(ledger))
