"""The DFT band-gap prior, the recommended surrogate (PriorGPRegressor), the registry and truncate()."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bdl.errors import InputError
from bdl.features import feature_names, featurize
from bdl.models import PriorGPRegressor, WithDFTPrior, load_model, make_model, recommended
from bdl.predictive import BoundedPredictive, GaussianPredictive, SamplePredictive, truncate
from bdl.prior import LOOKUP_NAMES, N_MAGPIE, DFTGapPrior, descriptor_keys, load_dft_gap_lookup, load_dft_gap_prior


# ---------------------------------------------------------------------------------------- prior
def test_prior_loads_fast_and_predicts_physical_gaps() -> None:
    load_dft_gap_prior.cache_clear()
    t0 = time.perf_counter()
    prior = load_dft_gap_prior()
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(prior, DFTGapPrior) and prior.meta["licence"].startswith("CC-BY-4.0")
    X = featurize(["Cu", "Al", "NaCl", "MgO", "Si", "GaAs"])
    out = prior.transform(X)
    assert list(out.columns) == prior.feature_names and out.shape == (6, 2 + len(LOOKUP_NAMES) + prior.n_embedding)
    assert prior.transform(X, lookup=False).shape == (6, 2 + prior.n_embedding)
    gap = out["dft_gap"].to_numpy()
    assert np.all(gap >= 0)
    # metals have a small predicted DFT gap and a high metal log-odds; wide-gap insulators the opposite
    assert gap[:2].max() < 0.5 and gap[2:4].min() > 3.0
    assert out["dft_metal_logit"].iloc[:2].min() > 0 > out["dft_metal_logit"].iloc[2:4].max()
    np.testing.assert_array_equal(prior.transform(X).to_numpy(), out.to_numpy())  # deterministic


def test_lookup_gives_the_computed_gaps_of_known_compositions() -> None:
    """The lookup returns the lowest and highest PBE gap of a composition's structures in the shipped
    data, whatever the formula's spelling; a composition nobody computed gets the network's gap."""
    from bdl.data import load_matbench_mp_gap
    from bdl.data.polymorphs import composition_keys

    load_dft_gap_lookup.cache_clear()
    t0 = time.perf_counter()
    lookup = load_dft_gap_lookup()
    assert time.perf_counter() - t0 < 2.0 and lookup.meta["licence"].startswith("CC-BY-4.0")
    mp = load_matbench_mp_gap(check_formulas=False)
    mp = mp.assign(key=composition_keys(mp["composition"]).to_numpy())
    counts = mp["key"].value_counts()
    several = mp[mp["key"].isin(counts[counts >= 3].index[:5])]  # five compositions with 3+ structures
    single = mp[mp["key"].isin(counts[counts == 1].index[:5])]
    stranger = "Cs0.31Au0.27Nb0.42"  # not in the data
    assert not composition_keys([stranger]).isin(mp["key"]).any()
    formulas = [*several.groupby("key")["composition"].first(), *single["composition"], stranger]
    # the same compositions written another way: amounts doubled, elements in reverse order
    from bdl.features import parse_formula

    respelt = ["".join(f"{el}{2 * amt:g}" for el, amt in reversed(parse_formula(f).items())) for f in formulas]
    prior = load_dft_gap_prior()
    for spelling in (formulas, respelt):
        out = prior.transform(featurize(spelling))
        np.testing.assert_array_equal(out["dft_known"].to_numpy(), [1.0] * 10 + [0.0])
        expect = mp.groupby("key")["gap_pbe_eV"].agg(["min", "max"]).loc[composition_keys(formulas[:10])]
        np.testing.assert_allclose(out["dft_gap_known_min"].to_numpy()[:10], expect["min"], atol=1e-6)
        np.testing.assert_allclose(out["dft_gap_known_max"].to_numpy()[:10], expect["max"], atol=1e-6)
        assert (expect["max"] > expect["min"]).sum() >= 3  # the polymorphs' spread is kept
        assert out["dft_gap_known_min"].iloc[10] == out["dft_gap_known_max"].iloc[10] == out["dft_gap"].iloc[10]


def test_descriptor_keys_survive_a_standardise_and_back_round_trip() -> None:
    """Models standardise their inputs and undo it before the prior: last-bit changes, exact zeros turned
    into 1e-17, values just below a power of two, none of them may change a key."""
    X = featurize(["NaCl", "Fe2O3", "GaAs", "Cu", "Li0.5CoO2", "SrTiO3"]).to_numpy()
    keys = descriptor_keys(X)
    assert len(set(keys.tolist())) == len(X)
    for scale in (1e-3, 1.0, 1e3):
        mean, std = X.mean(axis=0) * scale, X.std(axis=0) * scale + 1.0
        np.testing.assert_array_equal(descriptor_keys((X - mean) / std * std + mean), keys)
    np.testing.assert_array_equal(descriptor_keys(np.nextafter(X, np.inf)), keys)
    assert descriptor_keys(X * 1.01)[0] != keys[0]  # a 1 % change is another composition


def test_prior_refuses_other_descriptors() -> None:
    with pytest.raises(InputError, match="132 Magpie descriptors"):
        load_dft_gap_prior().transform(np.zeros((3, 5)))
    X = featurize(["NaCl"]).to_numpy()
    X[0, 3] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        load_dft_gap_prior().transform(X)


# ---------------------------------------------------------------------------------------- GP
def _hurdle_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """y = max(0, f(x) + noise): about 40 % exactly 0, like metals among band gaps."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    f = 1.2 * np.sin(1.5 * X[:, 0]) + 0.6 * X[:, 1] + 0.4
    return X, np.maximum(f + 0.2 * rng.normal(size=n), 0.0)


def test_zero_inflated_gp_is_bounded_calibrated_and_knows_where_the_zeros_are() -> None:
    X, y = _hurdle_data(150, 0)
    Xt, yt = _hurdle_data(2000, 1)
    m = PriorGPRegressor(lower_bound=0.0, random_state=0).fit(X, y)
    assert m.atom_ and not m.uses_prior_
    pred = m.predict_dist(Xt)
    assert isinstance(pred, BoundedPredictive)
    lo, hi = pred.interval(0.9)
    assert lo.min() >= 0.0 and pred.quantile(0.01).min() >= 0.0
    # calibrated: the randomised PIT (the atom at 0 spread over [0, P(0)]) is uniform
    from bdl.calibration.metrics import pit

    assert stats.kstest(pit(yt, pred, seed=0), "uniform").statistic < 0.06
    assert np.mean((yt >= lo) & (yt <= hi)) >= 0.85
    zero = yt == 0
    assert pred.p_lower[zero].mean() > 0.6 > 0.2 > pred.p_lower[~zero].mean()
    # the median is a good point prediction for a zero-inflated target
    assert np.mean(np.abs(pred.quantile(0.5) - yt)) < 0.2
    assert np.all(pred.epistemic_variance <= pred.variance + 1e-12)


def test_classifier_temperature_sharpens_laplace_and_lowers_held_out_log_loss() -> None:
    import copy

    X, y = _hurdle_data(300, 6)
    Xt, yt = _hurdle_data(3000, 7)
    m = PriorGPRegressor(lower_bound=0.0, random_state=0).fit(X, y)
    # Laplace's latent means are too small (Kuss & Rasmussen 2005): cross-validation sharpens them
    assert 1.05 < m.cls_temperature_ <= 3.0
    untempered = copy.deepcopy(m)
    untempered.cls_temperature_ = 1.0

    def log_loss(model: PriorGPRegressor) -> float:
        p = np.clip(model.predict_dist(Xt).p_lower, 1e-9, 1 - 1e-9)
        return float(-np.mean(np.where(yt == 0, np.log(p), np.log1p(-p))))

    assert log_loss(m) < log_loss(untempered) - 0.005
    # too few rows on the bound to cross-validate: no temperature
    few = np.where(np.arange(len(y)) < 4, 0.0, np.maximum(y, 0.05))
    assert PriorGPRegressor(lower_bound=0.0, random_state=0).fit(X, few).cls_temperature_ == 1.0


def test_gp_without_bounds_is_gaussian_with_nominal_coverage() -> None:
    rng = np.random.default_rng(3)
    X = rng.uniform(-3, 3, size=(120, 3))
    f = lambda A: np.sin(A[:, 0]) + 0.3 * A[:, 1] ** 2 - 0.5 * A[:, 2]  # noqa: E731
    y = f(X) + 0.1 * rng.normal(size=120)
    Xt = rng.uniform(-3, 3, size=(2000, 3))
    yt = f(Xt) + 0.1 * rng.normal(size=2000)
    pred = PriorGPRegressor(random_state=0).fit(X, y).predict_dist(Xt)
    assert isinstance(pred, GaussianPredictive)
    lo, hi = pred.interval(0.9)
    # evidence-maximised hyper-parameters are point estimates: with 120 rows in 3-D the 90 %
    # intervals cover about 0.82 (scikit-learn's GaussianProcessRegressor gives 0.83 on these data)
    assert 0.78 <= np.mean((yt >= lo) & (yt <= hi)) <= 0.97
    assert np.sqrt(np.mean((pred.mean - yt) ** 2)) < 0.25


def test_noise_floor_bounds_the_fitted_noise_from_below() -> None:
    rng = np.random.default_rng(11)
    X = rng.uniform(-2, 2, size=(80, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] - 0.3 * X[:, 2] ** 2  # noise-free: evidence drives the noise towards 0
    Xt = rng.uniform(-2, 2, size=(50, 3))
    free_model = PriorGPRegressor(random_state=0).fit(X, y)
    floored_model = PriorGPRegressor(noise_floor=0.1, random_state=0).fit(X, y)
    free, floored = free_model.predict_dist(Xt), floored_model.predict_dist(Xt)
    assert floored_model.noise_std_ >= 0.1 * y.std() * (1 - 1e-6) > 10 * free_model.noise_std_
    noise_free = np.sqrt(free.aleatoric_variance) / y.std()
    noise_floored = np.sqrt(floored.aleatoric_variance) / y.std()
    assert np.all(noise_free < 0.02)  # unfloored, the fitted noise all but vanishes
    assert np.all(noise_floored >= 0.1 * (1 - 1e-6)) and np.all(noise_floored < 0.3)
    # the floor costs little accuracy on a smooth function
    yt = np.sin(Xt[:, 0]) + 0.5 * Xt[:, 1] - 0.3 * Xt[:, 2] ** 2
    assert np.sqrt(np.mean((floored.mean - yt) ** 2)) < 0.1 * y.std() + np.sqrt(np.mean((free.mean - yt) ** 2))


def test_gp_save_load_round_trip(tmp_path) -> None:  # noqa: ANN001
    X, y = _hurdle_data(60, 4)
    m = PriorGPRegressor(lower_bound=0.0, random_state=1).fit(X, y)
    back = load_model(m.save(tmp_path / "gp"))
    a, b = m.predict_dist(X[:20]), back.predict_dist(X[:20])
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    np.testing.assert_allclose(a.p_lower, b.p_lower, rtol=1e-10)
    np.testing.assert_allclose(a.epistemic_variance, b.epistemic_variance, rtol=1e-8, atol=1e-14)


def test_gp_same_seed_same_numbers() -> None:
    X, y = _hurdle_data(80, 5)
    a = PriorGPRegressor(lower_bound=0.0, random_state=2).fit(X, y).predict_dist(X[:10])
    b = PriorGPRegressor(lower_bound=0.0, random_state=2).fit(X, y).predict_dist(X[:10])
    np.testing.assert_array_equal(a.mean, b.mean)


def test_gp_uses_the_prior_on_compositions() -> None:
    from bdl.data import load_matbench_expt_gap

    df = load_matbench_expt_gap(check_formulas=False).sample(160, random_state=0)
    X = featurize(df["composition"])
    y = df["gap_expt_eV"].to_numpy()
    m = recommended(lower_bound=0.0, random_state=0).fit(X.iloc[:100], y[:100])
    assert m.uses_prior_ and m.atom_
    pred = m.predict_dist(X.iloc[100:])
    assert pred.interval(0.9)[0].min() >= 0.0
    # far better than predicting the training median for everything
    base = np.mean(np.abs(np.median(y[:100]) - y[100:]))
    assert np.mean(np.abs(pred.quantile(0.5) - y[100:])) < 0.8 * base


def test_gp_reads_the_lookup_for_experimental_gaps_but_not_when_the_target_is_the_dft_gap(tmp_path) -> None:  # noqa: ANN001
    """On experimental gaps the lookup's columns are kernel inputs; on PBE gaps of the looked-up data
    itself ("auto") they are left out, since they would be the answer; a save keeps the choice."""
    from bdl.data import load_matbench_expt_gap, load_matbench_mp_gap

    expt = load_matbench_expt_gap(check_formulas=False).sample(120, random_state=1)
    dft = load_matbench_mp_gap(check_formulas=False).sample(120, random_state=1)
    width = {}
    for name, df, target in (("expt", expt, "gap_expt_eV"), ("dft", dft, "gap_pbe_eV")):
        X = featurize(df["composition"])
        m = recommended(lower_bound=0.0, random_state=0).fit(X, df[target].to_numpy())
        width[name] = m.reg_X_.shape[1]
        assert m.prior_lookup_ == (name == "expt")
        if name == "dft":
            forced = PriorGPRegressor(lower_bound=0.0, prior_lookup=True, random_state=0).fit(X, df[target].to_numpy())
            assert forced.prior_lookup_
            back = load_model(m.save(tmp_path / "gp"))
            assert not back.prior_lookup_
            np.testing.assert_allclose(back.predict_dist(X[:10]).mean, m.predict_dist(X[:10]).mean, rtol=1e-10)
    assert width["expt"] == width["dft"] + 3


def test_gp_errors_name_the_fix() -> None:
    X, y = _hurdle_data(30, 6)
    with pytest.raises(InputError, match="outside the declared bounds"):
        PriorGPRegressor(lower_bound=0.5).fit(X, y)
    with pytest.raises(InputError, match="Magpie descriptors"):
        PriorGPRegressor(prior="dft_gap").fit(X, y)
    with pytest.raises(InputError, match="lower_bound"):
        PriorGPRegressor(lower_bound=2.0, upper_bound=1.0).fit(X, y)
    with pytest.raises(InputError, match="at least 2"):
        PriorGPRegressor(lower_bound=0.0, zero_inflated=True).fit(X[:4], np.array([0.0, 0.0, 0.0, 1.0]))
    with pytest.raises(InputError, match="max_hyper_rows"):
        PriorGPRegressor(max_hyper_rows=5).fit(X, y)
    with pytest.raises(InputError, match="tree_features"):
        PriorGPRegressor(tree_features="yes").fit(X, y)
    with pytest.raises(InputError, match="prior_lookup"):
        PriorGPRegressor(prior_lookup="yes").fit(X, y)
    for bad in (0.0, 1.5, True, "0.1"):
        with pytest.raises(InputError, match="noise_floor"):
            PriorGPRegressor(noise_floor=bad).fit(X, y)


def _step_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A hurdle target with a jump along one input: easy for trees, hard for a smooth kernel."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 5))
    f = np.where(X[:, 0] > 0.5, 2.0, 0.0) + X[:, 1] - 0.8
    return X, np.maximum(f + 0.1 * rng.normal(size=n), 0.0)


def test_tree_features_are_cross_fitted_help_on_a_jump_and_survive_a_save(tmp_path) -> None:  # noqa: ANN001
    X, y = _step_data(300, 0)
    Xt, _ = _step_data(1000, 1)
    median = np.maximum(np.where(Xt[:, 0] > 0.5, 2.0, 0.0) + Xt[:, 1] - 0.8, 0.0)  # of y given x
    smooth = PriorGPRegressor(lower_bound=0.0, tree_features=False, random_state=0).fit(X, y)
    stacked = PriorGPRegressor(lower_bound=0.0, tree_features=True, random_state=0).fit(X, y)
    assert smooth.n_tree_columns_ == 0 and stacked.n_tree_columns_ == 2  # regression mean and metal log-odds

    def mae(model: PriorGPRegressor) -> float:
        return float(np.mean(np.abs(model.predict_dist(Xt).quantile(0.5) - median)))

    # the jump is where a smooth kernel blurs (ratio 0.40-0.66 over four seeds of these data)
    assert mae(stacked) < 0.75 * mae(smooth)
    # the training rows carry the forests' out-of-fold predictions, not the in-sample ones
    in_sample = stacked._tree_predict(X)[:, 0]
    out_of_fold = stacked.reg_X_[:, 2] / stacked.f_weight_[2] * stacked.f_scale_[2] + stacked.f_mean_[2]
    above = y > 0
    assert np.mean(np.abs(in_sample[above] - y[above])) < 0.8 * np.mean(np.abs(out_of_fold - y[above]))
    back = load_model(stacked.save(tmp_path / "gp"))
    a, b = stacked.predict_dist(Xt[:50]), back.predict_dist(Xt[:50])
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    np.testing.assert_allclose(a.p_lower, b.p_lower, rtol=1e-10)


def test_tree_features_switch_on_with_enough_rows_of_compositions(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    """'auto' adds them for Magpie descriptors with the prior from _TREE_MIN_ROWS rows, never for others."""
    import bdl.models.gp as gp
    from bdl.data import load_matbench_expt_gap

    df = load_matbench_expt_gap(check_formulas=False).sample(200, random_state=1)
    X, y = featurize(df["composition"]), df["gap_expt_eV"].to_numpy()
    assert recommended(lower_bound=0.0, random_state=0).fit(X.iloc[:150], y[:150]).n_tree_columns_ == 0
    monkeypatch.setattr(gp, "_TREE_MIN_ROWS", 150)
    m = recommended(lower_bound=0.0, random_state=0).fit(X.iloc[:150], y[:150])
    assert m.uses_prior_ and m.n_tree_columns_ == 2
    pred = m.predict_dist(X.iloc[150:])
    assert pred.interval(0.9)[0].min() >= 0.0
    assert np.mean(np.abs(pred.quantile(0.5) - y[150:])) < 0.8 * np.mean(np.abs(np.median(y[:150]) - y[150:]))
    back = load_model(m.save(tmp_path / "gp")).predict_dist(X.iloc[150:])
    np.testing.assert_allclose(back.p_lower, pred.p_lower, rtol=1e-10)
    # other descriptors: a smooth low-dimensional landscape, where trees did not help (Rohr plates)
    Xs, ys = _step_data(150, 2)
    assert PriorGPRegressor(random_state=0).fit(Xs, ys).n_tree_columns_ == 0


def test_hyper_parameter_subset_leaves_the_posterior_on_every_row() -> None:
    """max_hyper_rows caps the rows of the evidence maximisation, not those of the posterior."""
    X, y = _hurdle_data(200, 7)
    Xt, yt = _hurdle_data(1000, 8)
    small = PriorGPRegressor(lower_bound=0.0, max_hyper_rows=40, random_state=0).fit(X, y)
    full = PriorGPRegressor(lower_bound=0.0, random_state=0).fit(X, y)
    assert small.reg_X_.shape[0] == full.reg_X_.shape[0] == int(np.sum(y > 0))
    assert not np.allclose(small.reg_theta_, full.reg_theta_)  # 40 rows give other hyper-parameters
    # and the prediction stays as good as the full fit's
    mae = {k: np.mean(np.abs(m.predict_dist(Xt).quantile(0.5) - yt)) for k, m in (("small", small), ("full", full))}
    assert mae["full"] < 0.15 and mae["small"] < 0.17  # both about 0.115; the training median gives 0.65


# ---------------------------------------------------------------------------------------- registry
def test_registry_builds_by_name_and_names_bad_settings() -> None:
    assert isinstance(recommended(lower_bound=0.0), PriorGPRegressor)
    assert make_model("mc_dropout", epochs=3).epochs == 3
    with pytest.raises(InputError, match="unknown model 'forest'"):
        make_model("forest")
    with pytest.raises(InputError, match="does not take the setting"):
        make_model("prior_gp", hidden_units=(8,))


def test_with_dft_prior_wraps_a_network(tmp_path) -> None:  # noqa: ANN001
    X = featurize(["NaCl", "KCl", "MgO", "CaO", "Cu", "Fe", "GaAs", "Si", "ZnO", "TiO2"])
    y = np.array([8.5, 8.4, 7.8, 7.0, 0.0, 0.0, 1.4, 1.1, 3.4, 3.0])
    m = WithDFTPrior("mc_dropout", {"hidden_units": [8], "epochs": 3, "n_passes": 5}, random_state=0, progress=False)
    m.fit(X, y)
    assert m.inner_.n_features_in_ == N_MAGPIE + len(load_dft_gap_prior().feature_names)
    back = load_model(m.save(tmp_path / "wrapped"))
    np.testing.assert_allclose(back.predict(X), m.predict(X), rtol=1e-5)
    with pytest.raises(InputError, match="Magpie descriptors"):
        WithDFTPrior().fit(np.zeros((5, 3)), np.zeros(5))


# ---------------------------------------------------------------------------------------- truncate
def test_truncate_keeps_every_quantile_inside_and_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    locs = rng.normal(0.3, 1.0, size=(50, 8))
    pred = SamplePredictive(locs, np.full((50, 8), 0.5))
    cut = truncate(pred, 0.0, 2.5)
    q = cut.quantile(np.array([0.0001, 0.05, 0.5, 0.95, 0.9999]))
    assert q.min() >= 0.0 and q.max() <= 2.5
    draws = pred.sample(200_000, seed=1)  # rejection sampling of the untruncated predictive
    row = draws[:, 0] if draws.shape[0] == 200_000 else draws[0]
    kept = row[(row >= 0.0) & (row <= 2.5)]
    assert stats.ks_2samp(kept[:20000], cut[[0]].sample(20000, seed=2).ravel()).pvalue > 1e-3
    assert truncate(pred) is pred
    with pytest.raises(InputError, match="below"):
        truncate(pred, 1.0, 0.5)


def test_truncate_row_with_no_mass_inside_sits_at_the_bound() -> None:
    pred = GaussianPredictive(np.array([-60.0, 1.0]), np.array([0.1, 1.0]))
    cut = truncate(pred, lower=0.0)
    assert cut.quantile(0.5)[0] >= 0.0 and np.isfinite(cut.mean).all()


def test_feature_names_are_checked_in_auto_mode() -> None:
    X = featurize(["NaCl", "KCl", "MgO", "CaO", "Cu", "Fe"])
    renamed = X.rename(columns={X.columns[0]: "something else"})
    y = np.array([8.5, 8.4, 7.8, 7.0, 0.1, 0.2])
    assert PriorGPRegressor(random_state=0).fit(X, y).uses_prior_
    assert not PriorGPRegressor(random_state=0).fit(renamed, y).uses_prior_
    assert list(X.columns) == feature_names() and isinstance(X, pd.DataFrame)
