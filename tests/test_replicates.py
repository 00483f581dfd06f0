"""Replicate spread: a model of how far apart repeated inputs' outcomes fall, and its triage verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bdl.diagnostics import ReplicateSpread, TriageThresholds, bimodal_flag, replicate_groups, triage
from bdl.errors import InputError, NotFittedError
from bdl.predictive import GaussianPredictive, MixturePredictive

DELTA = 1.5  # half the gap between the two phases


def two_phase(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x - 0.3, axis=1) < 0.25


def replicate_data(n_inputs: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs in the unit square, each measured 1-3 times; in a disc every replicate is one of two phases."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n_inputs, 2))
    reps = rng.integers(1, 4, size=n_inputs)
    X = np.repeat(x, reps, axis=0)
    base = np.sin(3 * X[:, 0]) + X[:, 1]
    coin = rng.integers(0, 2, size=len(X)) * 2 - 1
    y = base + np.where(two_phase(X), DELTA * coin, 0.0) + 0.05 * rng.normal(size=len(X))
    return pd.DataFrame(X, columns=["a", "b"]), y


def test_groups_are_identical_rows_with_their_target_spread():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0], [0.0, 1.0 + 1e-12], [5.0, 5.0]])
    y = np.array([1.0, 4.0, 7.0, 2.0, 9.0])
    g = replicate_groups(X, y)
    assert len(g) == 1  # [2, 3] and [5, 5] occur once; the 1e-12 difference is rounded away
    row = g.iloc[0]
    assert row["n"] == 3 and row["first_row"] == 0
    assert row["spread"] == pytest.approx(3.0)
    assert row["std"] == pytest.approx(np.std([1.0, 4.0, 2.0]))
    assert len(replicate_groups(X, y, decimals=14)) == 1 and replicate_groups(X, y, decimals=14)["n"].iloc[0] == 2


def test_predicted_spread_separates_two_phase_inputs_from_clean_ones():
    X, y = replicate_data(1500, seed=0)
    model = ReplicateSpread(random_state=0).fit(X, y)
    assert model.n_groups_ > 500
    rng = np.random.default_rng(1)
    cand = pd.DataFrame(rng.uniform(size=(2000, 2)), columns=["a", "b"])
    s = model.predict(cand)
    inside = two_phase(cand.to_numpy())
    # a two-phase pair differs by 2 * DELTA half the time: expected spread about DELTA; clean ~0.06
    assert np.median(s[inside]) > 1.0
    assert np.median(s[~inside]) < 0.2
    th = TriageThresholds().min_replicate_spread
    deep_inside = np.linalg.norm(cand.to_numpy() - 0.3, axis=1) < 0.18
    far_outside = np.linalg.norm(cand.to_numpy() - 0.3, axis=1) > 0.35
    assert (s[deep_inside] >= th).mean() >= 0.9
    assert (s[far_outside] >= th).mean() <= 0.05
    assert (s >= 0).all()


def test_triage_with_replicates_uses_their_verdict_and_keeps_the_mdns():
    X, y = replicate_data(1500, seed=2)
    model = ReplicateSpread().fit(X, y)
    rng = np.random.default_rng(3)
    cand = pd.DataFrame(rng.uniform(size=(300, 2)), columns=["a", "b"])
    n = len(cand)
    # an MDN that (wrongly) calls every candidate bimodal, and a BNN with its moments
    mdn = MixturePredictive(np.full((n, 2), 0.5), np.tile([-3.0, 3.0], (n, 1)), np.ones((n, 2)))
    bnn = GaussianPredictive(mdn.mean, mdn.stddev)
    plain = triage(bnn, mdn)
    assert plain["is_bimodal"].all() and plain["replicate_spread"].isna().all()
    tri = triage(bnn, mdn, X_candidates=cand, replicates=model)
    spread = model.predict(cand)
    np.testing.assert_allclose(tri["replicate_spread"], spread)
    np.testing.assert_array_equal(tri["is_bimodal"], spread >= 0.4)
    assert tri["mdn_bimodal"].all()
    assert 0.05 < tri["is_bimodal"].mean() < 0.6
    flagged = tri[tri["status"] == "bimodal"]
    assert flagged["reasons"].str.contains("replicates of inputs like this one").all()
    # bimodal_flag re-thresholds exactly like triage, with and without replicates
    for th in (TriageThresholds(min_replicate_spread=1.0), TriageThresholds(min_replicate_spread=0.1, min_mass=0.3)):
        again = triage(bnn, mdn, X_candidates=cand, replicates=model, thresholds=th)["is_bimodal"].to_numpy()
        np.testing.assert_array_equal(bimodal_flag(tri, th), again)
    assert (bimodal_flag(tri, TriageThresholds(min_replicate_spread=1.0)) <= tri["is_bimodal"].to_numpy()).all()
    # the report section lists the replicate spread of flagged candidates
    import matplotlib

    matplotlib.use("Agg")
    from bdl.diagnostics import diagnostics_section

    _, body = diagnostics_section(tri, bnn, mdn)
    assert "<th>replicate_spread</th>" in body
    assert "<th>replicate_spread</th>" not in diagnostics_section(plain, bnn, mdn)[1]


def test_clear_errors():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20.0)
    with pytest.raises(InputError, match="only 0 input"):
        ReplicateSpread().fit(X, y)
    Xr = np.repeat(X, 2, axis=0)
    with pytest.raises(InputError, match="at least 30 repeated inputs"):
        ReplicateSpread().fit(Xr, np.arange(40.0))
    model = ReplicateSpread(min_groups=5).fit(Xr, np.arange(40.0))
    with pytest.raises(InputError, match="features"):
        model.predict(np.zeros((3, 3)))
    with pytest.raises(NotFittedError, match="fit"):
        ReplicateSpread().predict(X)
    with pytest.raises(InputError, match="not finite"):
        replicate_groups(X, np.r_[np.nan, y[1:]])
    with pytest.raises(InputError, match="one target per row"):
        replicate_groups(X, y[:5])
    with pytest.raises(InputError, match="min_groups"):
        ReplicateSpread(min_groups=0).fit(Xr, np.arange(40.0))
    with pytest.raises(InputError, match="min_replicate_spread"):
        TriageThresholds(min_replicate_spread=0.0)
    p = GaussianPredictive(np.zeros(3), np.ones(3))
    with pytest.raises(InputError, match="X_candidates"):
        triage(p, p, replicates=model)


# --- the polymorph recipe and its pickle-free tree export ---------------------------------------------------------


def test_polymorph_recipe_ranks_two_phase_inputs_first_on_synthetic_replicates():
    from bdl.diagnostics import polymorph_spread_model

    X, y = replicate_data(600, seed=3)
    model = polymorph_spread_model(random_state=0, max_iter=60).fit(X, y)
    assert model.n_groups_ >= 30 and len(model.models_) == 5
    rng = np.random.default_rng(4)
    cand = rng.uniform(size=(400, 2))
    pred = model.predict(pd.DataFrame(cand, columns=["a", "b"]))
    inside = two_phase(cand)
    assert pred.min() >= 0.0
    # two phases 2 * DELTA apart inside the disc, noise 0.05 outside
    assert np.median(pred[inside]) > 1.0 > 0.3 > np.median(pred[~inside])
    again = polymorph_spread_model(random_state=0, max_iter=60).fit(X, y).predict(cand)
    np.testing.assert_array_equal(pred, again)


@pytest.mark.parametrize("kw", [{}, {"target": "log1p", "n_models": 3, "max_features": 0.5}])
def test_tree_arrays_equal_the_fitted_trees_after_a_save(tmp_path, kw):
    from bdl.diagnostics.replicates import TreeArrays

    X, y = replicate_data(300, seed=5)
    model = ReplicateSpread(max_iter=40, **kw).fit(X, y)
    path = tmp_path / "trees.npz"
    np.savez_compressed(path, **model.to_arrays())
    with np.load(path, allow_pickle=False) as data:
        trees = TreeArrays({k: data[k] for k in data.files})
    cand = np.random.default_rng(6).uniform(-0.2, 1.2, size=(500, 2))
    np.testing.assert_allclose(trees.predict(cand), model.predict(cand), rtol=0, atol=1e-12)


def test_replicate_spread_rejects_a_bad_target():
    X, y = replicate_data(200, seed=1)
    with pytest.raises(InputError, match="target"):
        ReplicateSpread(target="median").fit(X, y)
    with pytest.raises(InputError, match="max_features"):
        ReplicateSpread(max_features=0.0).fit(X, y)


def test_choose_spread_threshold_separates_and_ignores_the_middle():
    from bdl.diagnostics import choose_spread_threshold

    score = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 5.0])
    spread = np.array([0.0, 0.1, 0.2, 2.0, 3.0, 1.0])  # the last is between 0.3 and 1.5: ignored
    th, ba = choose_spread_threshold(score, spread)
    assert 0.3 < th <= 0.9 and ba == pytest.approx(1.0)
    with pytest.raises(InputError, match="positives"):
        choose_spread_threshold([0.1, 0.2], [0.0, 0.1])
