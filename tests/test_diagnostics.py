"""Diagnostics: modes of mixtures, triage, global checks, the acquisition gate, report section."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bdl.diagnostics import (
    GatePolicy,
    KNNDistance,
    TriageThresholds,
    find_modes,
    gated_scores,
    global_checks,
    mixture_excess_kurtosis,
    triage,
)
from bdl.errors import InputError
from bdl.predictive import GaussianPredictive, MixturePredictive, SamplePredictive


# ------------------------------------------------------------------------------ modes
def test_two_separated_components_make_two_modes_with_exact_masses():
    p = MixturePredictive([[0.3, 0.7]], [[-4.0, 4.0]], [[1.0, 1.0]])
    m = find_modes(p)
    assert m.n_modes[0] == 2
    # heaviest first, masses partition the line (tails beyond the valley are negligible)
    np.testing.assert_allclose(m.masses[0], [0.7, 0.3], atol=1e-4)
    np.testing.assert_allclose(m.locations[0], [4.0, -4.0], atol=0.05)
    np.testing.assert_allclose(m.masses.sum(axis=1), 1.0, atol=1e-9)


def test_close_components_make_one_mode():
    # a 50/50 mixture of two unit Gaussians is unimodal for a separation below 2
    p = MixturePredictive([[0.5, 0.5], [0.5, 0.5]], [[-0.9, 0.9], [-1.5, 1.5]], [[1.0, 1.0], [1.0, 1.0]])
    m = find_modes(p)
    assert m.n_modes.tolist() == [1, 2]
    assert m.ashman_d[0] == 0.0 and m.valley_depth[0] == 0.0


def test_ashman_d_matches_closed_form_for_well_separated_modes():
    # D = sqrt(2) |mu1 - mu2| / sqrt(s1^2 + s2^2) (Ashman et al. 1994) when the basins hold
    # the whole components
    mu1, mu2, s1, s2 = 0.0, 10.0, 0.5, 1.0
    p = MixturePredictive([[0.4, 0.6]], [[mu1, mu2]], [[s1, s2]])
    expected = np.sqrt(2) * abs(mu1 - mu2) / np.sqrt(s1**2 + s2**2)
    np.testing.assert_allclose(find_modes(p).ashman_d[0], expected, rtol=1e-3)


def test_valley_depth_closed_form():
    # 50/50 at +-3 (unit scales): the valley at 0 and the peaks near +-3
    p = MixturePredictive([[0.5, 0.5]], [[-3.0, 3.0]], [[1.0, 1.0]])
    m = find_modes(p)
    f0 = stats.norm.pdf(3.0)
    x = np.linspace(2.5, 3.5, 100001)
    peak = (0.5 * stats.norm.pdf(x, -3) + 0.5 * stats.norm.pdf(x, 3)).max()
    np.testing.assert_allclose(m.valley_depth[0], 1 - f0 / peak, atol=2e-3)


def test_between_variance_is_the_law_of_total_variance():
    p = MixturePredictive([[0.25, 0.75]], [[-5.0, 5.0]], [[1.0, 1.0]])
    m = find_modes(p)
    between = 0.25 * 0.75 * 10.0**2
    np.testing.assert_allclose(m.between_variance[0], between, rtol=1e-3)
    np.testing.assert_allclose(m.variance[0], between + 1.0, rtol=1e-9)


def test_point_mass_spike_is_found_between_grid_points():
    # metals at exactly 0 eV: a component 1000x narrower than the grid spacing
    p = MixturePredictive([[0.4, 0.6]], [[0.0, 2.5]], [[1e-3, 0.6]])
    m = find_modes(p, grid_size=64)
    assert m.n_modes[0] == 2
    np.testing.assert_allclose(sorted(m.locations[0]), [0.0, 2.5], atol=0.1)
    np.testing.assert_allclose(sorted(m.masses[0]), [0.4, 0.6], atol=0.01)


def test_min_mass_drops_light_modes_and_chunking_is_exact():
    rng = np.random.default_rng(0)
    n, k = 3000, 6
    w = rng.dirichlet(np.ones(k), n)
    loc, sc = rng.normal(size=(n, k)) * 3, rng.uniform(0.2, 1.0, (n, k))
    p = MixturePredictive(w, loc, sc)
    a = find_modes(p, min_mass=0.0)
    b = find_modes(p, min_mass=0.2)
    assert (b.n_modes <= a.n_modes).all() and (b.n_modes < a.n_modes).any()
    assert (a.n_modes <= k).all()
    # the same rows alone give the same answer (chunking does not change results)
    one = find_modes(p[[5, 17]], min_mass=0.2)
    np.testing.assert_array_equal(one.n_modes, b.n_modes[[5, 17]])
    np.testing.assert_allclose(one.ashman_d, b.ashman_d[[5, 17]])


def test_find_modes_on_every_kind():
    g = GaussianPredictive([0.0, 1.0], [1.0, 2.0])
    assert find_modes(g).n_modes.tolist() == [1, 1]
    s = SamplePredictive([[-3.0, -3.1, 3.0, 3.1]], [[0.3, 0.3, 0.3, 0.3]])
    assert find_modes(s).n_modes[0] == 2


def test_find_modes_rejects_bad_settings():
    p = GaussianPredictive([0.0], [1.0])
    with pytest.raises(InputError, match="min_mass"):
        find_modes(p, min_mass=0.7)
    with pytest.raises(InputError, match="grid_size"):
        find_modes(p, grid_size=3)
    with pytest.raises(InputError, match="predictive"):
        find_modes(np.zeros(3))


def test_excess_kurtosis_closed_form():
    w = np.array([[1.0, 0.0], [0.5, 0.5]])
    loc = np.zeros((2, 2))
    sc = np.array([[1.0, 1.0], [1.0, 3.0]])
    # scale mixture: E z^4 = 3 (0.5 + 0.5 * 81) / (0.5 + 0.5 * 9)^2
    expected = 3 * (0.5 + 40.5) / 25.0 - 3
    np.testing.assert_allclose(mixture_excess_kurtosis(w, loc, sc), [0.0, expected], rtol=1e-12)


# ------------------------------------------------------------------------------ OOD
def test_knn_ood_scores_far_points_high_and_near_points_low():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 6))
    ood = KNNDistance(random_state=0).fit(X)
    inside = ood.score(rng.normal(size=(2000, 6)))
    outside = ood.score(rng.normal(size=(200, 6)) + 6.0)
    assert np.mean(inside > 1.0) < 0.03  # about 1 % by construction
    assert np.all(outside > 1.5)


# ------------------------------------------------------------------------------ triage
def _pair(n_bimodal: int = 50, n_clean: int = 50) -> tuple[GaussianPredictive, MixturePredictive]:
    """Half the candidates: a 50/50 mix of two phases 4 apart; the BNN predicts their average."""
    n = n_bimodal + n_clean
    w = np.tile([0.5, 0.5], (n, 1))
    loc = np.zeros((n, 2))
    loc[:n_bimodal] = [-2.0, 2.0]
    loc[n_bimodal:] = [0.0, 0.05]
    sc = np.full((n, 2), 0.5)
    mdn = MixturePredictive(w, loc, sc)
    bnn = GaussianPredictive(mdn.mean, mdn.stddev, epistemic_variance=0.1 * mdn.variance)
    return bnn, mdn


def test_triage_flags_bimodal_candidates_and_their_valley():
    bnn, mdn = _pair()
    tri = triage(bnn, mdn, index=[f"c{i}" for i in range(100)])
    assert list(tri.index[:2]) == ["c0", "c1"]
    assert (tri["status"].iloc[:50] == "bimodal").all()
    assert (tri["status"].iloc[50:] == "ok").all()
    assert tri["in_valley"].iloc[:50].all()
    np.testing.assert_allclose(tri["epistemic_share"], 0.1, rtol=1e-9)
    # between-mode variance 4 of the BNN's 4.25
    np.testing.assert_allclose(tri["between_mode_share"].iloc[:50], 4.0 / 4.25, rtol=0.01)
    assert tri["reasons"].iloc[0].startswith("the MDN has 2 modes")
    assert "valley" in tri["reasons"].iloc[0]
    assert (tri["reasons"].iloc[50:] == "").all()


def test_triage_misspecified_heavy_tail_and_bound():
    # heavy tails: same centre, narrow + wide component
    mdn = MixturePredictive([[0.8, 0.2]], [[1.0, 1.0]], [[0.2, 2.0]])
    bnn = GaussianPredictive(mdn.mean, mdn.stddev)
    tri = triage(bnn, mdn)
    assert tri["status"].iloc[0] == "misspecified" and tri["heavy_tails"].iloc[0]
    # a Gaussian across a lower bound of 0, the MDN all above it
    mdn = MixturePredictive([[1.0]], [[0.4]], [[0.1]])
    bnn = GaussianPredictive([0.4], [0.4])
    tri = triage(bnn, mdn, lower_bound=0.0, thresholds=TriageThresholds(max_noise_ratio=100.0))
    assert tri["bound_violation"].iloc[0] and tri["status"].iloc[0] == "misspecified"
    assert "lower bound 0" in tri["reasons"].iloc[0]


def test_triage_out_of_distribution_takes_precedence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    Xc = np.vstack([rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 8])
    bnn, mdn = _pair(100, 100)
    tri = triage(bnn, mdn, X_train=X, X_candidates=Xc)
    assert (tri["status"].iloc[100:] == "out_of_distribution").all()
    assert tri["is_bimodal"].iloc[:100].all()
    assert (tri["ood_score"].iloc[100:] > 1.5).all()


def test_triage_input_errors():
    bnn, mdn = _pair()
    with pytest.raises(InputError, match="same candidate"):
        triage(bnn, mdn[:10])
    with pytest.raises(InputError, match="index"):
        triage(bnn, mdn, index=[1, 2])
    with pytest.raises(InputError, match="X_train needs X_candidates"):
        triage(bnn, mdn, X_train=np.zeros((5, 2)))
    with pytest.raises(InputError, match="X_candidates is used only with"):
        triage(bnn, mdn, X_candidates=np.zeros((len(bnn), 2)))
    with pytest.raises(InputError, match="min_mass"):
        TriageThresholds(min_mass=0.9)


# ------------------------------------------------------------------------------ checks
def test_global_checks_on_well_specified_and_bimodal_data():
    rng = np.random.default_rng(0)
    n = 3000
    mu = rng.normal(size=n)
    y = mu + rng.normal(size=n)
    good = global_checks(y, GaussianPredictive(mu, np.ones(n)), lower_bound=None).set_index("check")
    assert not good.loc["pit_uniformity", "flagged"]
    assert abs(good.loc["coverage_error", "value"]) < 0.03
    assert not good.loc["heavy_tails", "flagged"] and not good.loc["point_mass", "flagged"]
    # two phases +-2, the BNN predicts the average with the right total variance
    yb = mu + rng.choice([-2.0, 2.0], n) + 0.3 * rng.normal(size=n)
    mdn = MixturePredictive(np.full((n, 2), 0.5), np.stack([mu - 2, mu + 2], 1), np.full((n, 2), 0.3))
    bnn = GaussianPredictive(mdn.mean, mdn.stddev)
    bad = global_checks(yb, bnn, mdn).set_index("check")
    assert bad.loc["nll_gap", "flagged"] and bad.loc["nll_gap", "value"] > 0.5
    assert bad.loc["pit_uniformity", "flagged"]


def test_global_checks_zero_inflated_and_heavy_tails():
    rng = np.random.default_rng(1)
    n = 4000
    y = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2.0, 1.0, n))
    pred = GaussianPredictive(np.full(n, y.mean()), np.full(n, y.std()))
    c = global_checks(y, pred, lower_bound=0.0).set_index("check")
    assert c.loc["point_mass", "flagged"] and c.loc["point_mass", "value"] == pytest.approx(0.5, abs=0.03)
    assert c.loc["bound_violation", "flagged"]
    t = rng.standard_t(2.5, n)
    c = global_checks(t, GaussianPredictive(np.zeros(n), np.full(n, t.std()))).set_index("check")
    assert c.loc["heavy_tails", "flagged"]


def test_global_checks_reports_variational_underfitting():
    class Fake:
        underfitting_ = {"underfitting": True, "mean_spread": 0.05, "reason": "KL-driven"}

    n = 100
    c = global_checks(np.zeros(n), GaussianPredictive(np.zeros(n), np.ones(n)), model=Fake()).set_index("check")
    assert c.loc["variational_underfitting", "flagged"]


# ------------------------------------------------------------------------------ gate
def test_gate_skip_gives_minus_inf_exactly_where_flagged():
    bnn, mdn = _pair(30, 70)
    tri = triage(bnn, mdn)

    def score(p):
        return p.stddev

    s = gated_scores(score, bnn, mdn, tri, GatePolicy("skip", min_std_quantile=None))
    flagged = tri["status"].isin(["bimodal", "misspecified"]).to_numpy()
    assert np.isneginf(s[flagged]).all() and flagged.sum() == 30
    np.testing.assert_array_equal(s[~flagged], bnn.stddev[~flagged])


def test_gate_downweight_is_rank_safe_for_negative_and_log_scores():
    bnn, mdn = _pair(30, 70)
    tri = triage(bnn, mdn)
    flagged = (tri["status"] == "bimodal").to_numpy()
    rng = np.random.default_rng(0)
    raw = rng.normal(size=100) - 5.0  # negative, like log-EI

    def score(p):
        return raw[: len(p)]

    s0 = gated_scores(score, bnn, mdn, tri, GatePolicy("downweight", weight=0.0, min_std_quantile=None))
    assert s0[flagged].max() <= raw[~flagged].min()
    # affine invariance: the same ranking for a shifted, rescaled score
    s1 = gated_scores(lambda p: 3 * score(p) + 100, bnn, mdn, tri, GatePolicy("downweight", weight=0.3, min_std_quantile=None))
    s2 = gated_scores(score, bnn, mdn, tri, GatePolicy("downweight", weight=0.3, min_std_quantile=None))
    np.testing.assert_array_equal(np.argsort(s1), np.argsort(s2))
    s3 = gated_scores(score, bnn, mdn, tri, GatePolicy("downweight", weight=0.5, downweight_mode="log", min_std_quantile=None))
    np.testing.assert_allclose(s3[flagged], raw[flagged] + np.log(0.5))
    with pytest.raises(InputError, match="multiply"):
        gated_scores(score, bnn, mdn, tri, GatePolicy("downweight", downweight_mode="multiply", min_std_quantile=None))


def test_gate_mixture_scores_flagged_rows_under_the_mdn():
    bnn, mdn = _pair(30, 70)
    tri = triage(bnn, mdn)

    def prob_above(p):  # probability of exceeding 1.0
        return p.sf(np.full(len(p), 1.0))

    s = gated_scores(prob_above, bnn, mdn, tri, GatePolicy("mixture", min_std_quantile=None))
    np.testing.assert_allclose(s[:30], mdn.sf(np.full(100, 1.0))[:30])
    np.testing.assert_allclose(s[30:], bnn.sf(np.full(100, 1.0))[30:])
    with pytest.raises(InputError, match="action"):
        GatePolicy("explode")
    with pytest.raises(InputError, match="status"):
        GatePolicy(statuses=("weird",))


# ------------------------------------------------------------------------------ report, imports
def test_diagnostics_section_plugs_into_the_calibration_report(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from bdl.calibration.report import calibration_report
    from bdl.diagnostics import diagnostics_section, plot_candidate, plot_triage_counts

    bnn, mdn = _pair(20, 40)
    y = mdn.sample(1, seed=0)[0]
    tri = triage(bnn, mdn)
    checks = global_checks(y, bnn, mdn)
    heading, body = diagnostics_section(tri, bnn, mdn, checks)
    assert "Diagnostics" in heading and body.count("data:image/png;base64") >= 2
    assert "20 bimodal" in body and "nll_gap" in body
    rep = calibration_report(y, bnn)
    rep.add_section(heading, body)
    out = rep.save(tmp_path)
    assert "is the uncertainty what it seems" in (out / "report.html").read_text()
    ax = plot_candidate(bnn, mdn, 0, triage_df=tri)
    assert len(ax.lines) >= 3 and "bimodal" in ax.get_title()
    ax = plot_triage_counts(tri)
    assert [round(p.get_height()) for p in ax.patches] == [0, 20, 0, 0, 40]


def test_import_does_not_start_tensorflow_or_matplotlib():
    code = ("import sys, bdl.diagnostics as d; d.triage; d.ReplicateSpread; "
            "print('tensorflow' in sys.modules, 'matplotlib.pyplot' in sys.modules, 'matplotlib' in sys.modules, "
            "'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False", "False"]


# ------------------------------------------------------------------------------ end to end (small nets)
def test_detection_on_a_small_synthetic_two_regime_set():
    from bdl.models import MCDropoutRegressor, MixtureDensityRegressor

    rng = np.random.default_rng(0)
    n = 1500
    X = rng.uniform(-1, 1, size=(n, 2))
    region = X[:, 0] > 0
    y = X[:, 1] + 0.2 * rng.normal(size=n) + region * rng.choice([-1.0, 1.0], n) * 1.2  # 12 noise widths apart
    bnn = MCDropoutRegressor(hidden_units=(32, 32), epochs=60, batch_size=128, learning_rate=3e-3, n_passes=20,
                             random_state=0, progress=False).fit(X, y)
    mdn = MixtureDensityRegressor(n_components=3, hidden_units=(32, 32), epochs=60, batch_size=128,
                                  learning_rate=3e-3, random_state=0, progress=False).fit(X, y)
    Xc = np.column_stack([np.r_[np.full(50, 0.6), np.full(50, -0.6)], np.linspace(-0.8, 0.8, 100)])
    tri = triage(bnn.predict_dist(Xc), mdn.predict_dist(Xc), X_train=X, X_candidates=Xc)
    assert (tri["status"].iloc[:50] == "bimodal").mean() >= 0.9
    assert (tri["status"].iloc[50:] != "ok").mean() <= 0.1
    assert isinstance(tri, pd.DataFrame) and len(tri) == 100


def test_bimodal_flag_rethresholds_exactly_like_triage():
    rng = np.random.default_rng(3)
    n, k = 400, 4
    w = rng.dirichlet(np.ones(k), n)
    mdn = MixturePredictive(w, rng.normal(size=(n, k)) * 2, rng.uniform(0.2, 1.0, (n, k)))
    bnn = GaussianPredictive(mdn.mean, mdn.stddev)
    base = triage(bnn, mdn)
    for th in (TriageThresholds(min_mass=0.2, min_ashman_d=2.0, min_valley_depth=0.1), TriageThresholds(min_mass=0.05)):
        from bdl.diagnostics import bimodal_flag

        np.testing.assert_array_equal(bimodal_flag(base, th), triage(bnn, mdn, thresholds=th)["is_bimodal"].to_numpy())


def test_tail_ratio_separates_student_t_from_a_stray_component():
    # a Student-t(3)-like scale mixture vs a Gaussian with a 1 % component twice as wide
    heavy = MixturePredictive([[0.6, 0.3, 0.1]], [[0.0, 0.0, 0.0]], [[0.7, 1.3, 4.0]])
    stray = MixturePredictive([[0.99, 0.01]], [[0.0, 0.0]], [[1.0, 2.0]])
    for mdn, expect in ((heavy, True), (stray, False)):
        tri = triage(GaussianPredictive(mdn.mean, mdn.stddev), mdn)
        assert bool(tri["heavy_tails"].iloc[0]) is expect
    assert triage(GaussianPredictive(stray.mean, stray.stddev), stray)["tail_ratio"].iloc[0] < 2.0


def test_gate_min_std_quantile_leaves_small_variance_flags_alone() -> None:
    from bdl.diagnostics import GatePolicy, gated_scores
    from bdl.errors import InputError
    from bdl.predictive import GaussianPredictive

    pred = GaussianPredictive(np.zeros(6), np.array([0.1, 0.2, 0.3, 1.0, 2.0, 3.0]))
    tri = pd.DataFrame({"status": ["bimodal", "ok", "bimodal", "bimodal", "ok", "bimodal"]})
    s = gated_scores(lambda p: p.stddev.copy(), pred, None, tri, GatePolicy("skip", min_std_quantile=0.5))
    # the median std is 0.65: only the flagged rows 3 and 5 are above it and skipped
    np.testing.assert_array_equal(np.isinf(s), [False, False, False, True, False, True])
    np.testing.assert_allclose(s[:3], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="min_std_quantile"):
        GatePolicy(min_std_quantile=1.5)
