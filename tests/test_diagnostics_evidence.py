"""Diagnostics at campaign scale (issue 13): every predictive kind, the held-out evidence test,
its false-alarm rate at small n, the verdict's words and the per-round summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bdl.diagnostics import (
    STATUSES,
    GatePolicy,
    MixtureEvidence,
    evidence_from_gains,
    find_modes,
    gate_mask,
    heldout_evidence,
    round_summary,
    triage,
)
from bdl.errors import InputError
from bdl.predictive import BoundedPredictive, GaussianPredictive, MixturePredictive


# ------------------------------------------------------------------ every predictive kind
def _bounded() -> BoundedPredictive:
    # row 0: two truncated modes at 1 and 4; row 1: 40 % metal (atom at 0) + a gap near 2;
    # row 2: one mode
    return BoundedPredictive(
        [[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]],
        [[1.0, 4.0], [2.0, 2.0], [1.0, 1.2]],
        [[0.3, 0.3], [0.5, 0.5], [0.4, 0.4]],
        lower=0.0,
        p_lower=[0.0, 0.4, 0.0],
    )


def test_find_modes_reads_a_bounded_predictive_through_its_density_and_atoms() -> None:
    m = find_modes(_bounded())
    assert m.n_modes.tolist() == [2, 2, 1]
    # the two truncated modes: masses 1/2 each, at 1 and 4
    assert sorted(m.locations[0, :2]) == pytest.approx([1.0, 4.0], abs=0.05)
    assert m.masses[0, :2] == pytest.approx([0.5, 0.5], abs=1e-3)
    # the atom at the lower bound is a mode of its own with its exact mass and no spread
    assert m.masses[1, :2] == pytest.approx([0.6, 0.4], abs=1e-6)
    assert m.locations[1, 1] == 0.0 and m.variances[1, 1] == 0.0
    assert m.means[1, 0] == pytest.approx(_bounded().component_means[1, 0], abs=1e-3)
    # the basins partition the distribution: total variance = within + between
    b = _bounded()
    within = np.nansum(m.masses * np.nan_to_num(m.variances), axis=1)
    assert within + m.between_variance == pytest.approx(b.variance, rel=2e-3)


def test_bounded_modes_match_the_mixture_path_when_the_bound_is_far() -> None:
    w, loc, sc = [[0.3, 0.7]], [[2.0, 6.0]], [[0.4, 0.6]]
    far = BoundedPredictive(w, loc, sc, lower=-50.0)
    plain = MixturePredictive(w, loc, sc)
    a, b = find_modes(far), find_modes(plain)
    assert a.n_modes.tolist() == b.n_modes.tolist() == [2]
    assert a.masses[0, :2] == pytest.approx(b.masses[0, :2], abs=1e-4)
    assert a.means[0, :2] == pytest.approx(b.means[0, :2], abs=1e-3)
    assert a.ashman_d[0] == pytest.approx(b.ashman_d[0], rel=1e-2)


@pytest.mark.parametrize("side", ["bnn", "mdn", "both"])
def test_triage_accepts_bounded_predictives_on_either_side(side: str) -> None:
    b = _bounded()
    g = GaussianPredictive(b.mean, b.stddev)
    bnn, mdn = {"bnn": (b, g), "mdn": (g, b), "both": (b, b)}[side]
    df = triage(bnn, mdn, lower_bound=0.0)
    assert set(df["status"].astype(str)) <= set(STATUSES)
    assert np.isfinite(df["tail_ratio"]).all() and np.isfinite(df["mdn_excess_kurtosis"]).all()
    if side == "mdn":
        assert df["status"].astype(str).tolist()[:2] == ["bimodal", "bimodal"]
        assert "Ashman" in df["reasons"].iloc[0]
        assert df["mdn_mass_below_bound"].to_numpy() == pytest.approx(0.0)  # the atom is at, not below, 0


# ------------------------------------------------------------------ the evidence test
class _LinearGaussian:
    """Ordinary least squares with a Gaussian residual: a correct model for linear data."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _LinearGaussian:
        A = np.c_[np.ones(len(X)), X]
        self.coef_ = np.linalg.lstsq(A, y, rcond=None)[0]
        r = y - A @ self.coef_
        self.sigma_ = float(np.sqrt(np.sum(r**2) / max(len(y) - A.shape[1], 1)))
        return self

    def predict_dist(self, X: np.ndarray) -> GaussianPredictive:
        mu = np.c_[np.ones(len(X)), X] @ self.coef_
        return GaussianPredictive(mu, np.full(len(X), self.sigma_))


class _LinearMixture(_LinearGaussian):
    """OLS mean plus a two-component Gaussian mixture of the residuals (EM, variance floor)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _LinearMixture:
        super().fit(X, y)
        r = y - np.c_[np.ones(len(X)), X] @ self.coef_
        s2 = float(np.var(r))
        mu = np.array([-0.5, 0.5]) * np.sqrt(s2)
        var = np.full(2, s2)
        w = np.full(2, 0.5)
        for _ in range(40):
            logp = np.log(w) - 0.5 * np.log(var) - 0.5 * (r[:, None] - mu) ** 2 / var
            resp = np.exp(logp - logp.max(axis=1, keepdims=True))
            resp /= resp.sum(axis=1, keepdims=True)
            nk = resp.sum(axis=0) + 1e-9
            w = nk / nk.sum()
            mu_old = mu
            mu = (resp * r[:, None]).sum(axis=0) / nk
            var = np.maximum((resp * (r[:, None] - mu) ** 2).sum(axis=0) / nk, 0.05 * s2)
            if np.max(np.abs(mu - mu_old)) < 1e-4 * np.sqrt(s2):
                break
        self.w_, self.mu_, self.sd_ = w, mu, np.sqrt(var)
        return self

    def predict_dist(self, X: np.ndarray) -> MixturePredictive:
        m = np.c_[np.ones(len(X)), X] @ self.coef_
        n = len(X)
        return MixturePredictive(np.tile(self.w_, (n, 1)), m[:, None] + self.mu_, np.tile(self.sd_, (n, 1)))


class _LinearHetero(_LinearGaussian):
    """OLS mean and a log-linear scale in ``|x|`` (fitted to the log squared residuals): a
    one-Gaussian reference whose predicted spread follows where the outcomes spread."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _LinearHetero:
        super().fit(X, y)
        r = y - np.c_[np.ones(len(X)), X] @ self.coef_
        B = np.c_[np.ones(len(X)), np.abs(X), X]
        # E log chi2_1 = -1.27: the offset turns mean log r^2 into log sigma^2
        self.scale_coef_ = np.linalg.lstsq(B, np.log(r**2 + 1e-12) + 1.27, rcond=None)[0]
        return self

    def predict_dist(self, X: np.ndarray) -> GaussianPredictive:
        mu = np.c_[np.ones(len(X)), X] @ self.coef_
        log_var = np.c_[np.ones(len(X)), np.abs(X), X] @ self.scale_coef_
        return GaussianPredictive(mu, np.exp(0.5 * np.clip(log_var, -20, 20)))


def _draw(n: int, sep: float, rng: np.random.Generator, half: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Linear data with noise width 0.3; a second phase ``sep`` widths away (a hidden coin),
    everywhere or, with ``half``, only where x_0 > 0."""
    X = rng.uniform(-1, 1, size=(n, 2))
    y = 1.0 + X @ np.array([0.8, -0.5]) + 0.3 * rng.normal(size=n)
    where = X[:, 0] > 0 if half else np.ones(n, dtype=bool)
    y += where * np.where(rng.random(n) < 0.5, 1.0, -1.0) * sep * 0.3 / 2
    return X, y


def _evidence(n: int, sep: float, seed: int, half: bool = False, hetero: bool = False,
              n_folds: int = 5) -> MixtureEvidence:
    X, y = _draw(n, sep, np.random.default_rng(seed), half)
    ref = _LinearHetero if hetero else _LinearGaussian
    return heldout_evidence(X, y, lambda s: _LinearMixture(), lambda s: ref(), n_folds=n_folds, seed=seed)


@pytest.mark.parametrize(("n", "hetero"), [(30, False), (150, False), (150, True)])
def test_false_alarm_rate_stays_near_the_nominal_level(n: int, hetero: bool) -> None:
    """Data from a correct Gaussian model: the tests reject in about their nominal share of fits.

    240 independent data sets; the nominal rate is 0.5 % (two outcomes) + 2.5 % (shape) = 3 %
    at most, so the count of rejections is at most Binomial(240, 0.03) (mean 7.2, sd 2.6);
    more than 16 (mean + 3.4 sd) fails the test. Each test alone is held to its own level too.
    With a heteroscedastic reference (its spread picks the rows of the two-outcomes test) only
    that test is held: a homoscedastic mixture against a noisier reference is a different
    pair of models, whose gain the shape test rightly sees.
    """
    evs = [_evidence(n, 0.0, 10_000 + s, hetero=hetero) for s in range(240)]
    # two outcomes at 0.5 %: Binomial(240, 0.005) has mean 1.2 and sd 1.1
    assert sum(e.supports_bimodal for e in evs) <= 5, sum(e.supports_bimodal for e in evs)
    if not hetero:
        assert sum(e.rejects for e in evs) <= 16, f"{sum(e.rejects for e in evs)} of 240 clean data sets rejected"
        assert sum(e.supports_misspecified for e in evs) <= 14  # 2.5 %: mean 6, sd 2.4


def test_two_phase_data_are_detected_when_there_is_enough_data() -> None:
    hits = sum(_evidence(150, 6.5, 20_000 + s).supports_bimodal for s in range(40))
    assert hits >= 36, f"only {hits} of 40 two-phase data sets rejected one Gaussian"


def test_widest_spread_rows_find_a_second_phase_in_half_the_inputs() -> None:
    """A second phase where x_0 > 0 only: reading the rows where the reference predicts the widest
    spread tests far more sharply than reading all rows, and the chosen rows are in the phase."""
    from bdl.diagnostics.evidence import widest_spread_rows

    evs = [_evidence(150, 4.5, 30_000 + s, half=True, hetero=True) for s in range(30)]
    spread_hits = sum(e.supports_bimodal for e in evs)
    all_rows_hits = sum(e.kurtosis_p < e.two_outcomes_level for e in evs)
    assert spread_hits >= 24 and spread_hits >= all_rows_hits + 8, (spread_hits, all_rows_hits)
    assert all(e.spread_rows == 75 for e in evs)
    # the mask: half of each fold, the widest first
    spread = np.r_[np.arange(10.0), np.arange(10.0)]
    mask = widest_spread_rows(spread, np.r_[np.zeros(10, int), np.ones(10, int)], 0.3)
    assert mask.sum() == 6 and set(spread[mask]) == {7.0, 8.0, 9.0}


def test_decision_is_unsure_below_min_n_and_not_supported_above() -> None:
    null = evidence_from_gains(np.r_[np.full(20, -0.1), np.full(20, 0.05)], n_folds=3)
    assert not null.rejects and null.decision == "unsure"
    big = evidence_from_gains(np.tile([-0.1, 0.05], 100), n_folds=3)
    assert big.decision == "not_supported"
    yes = evidence_from_gains(np.tile([0.9, 0.1, 0.5], 50), n_folds=3)
    assert yes.rejects and yes.decision == "supported" and yes.p_value < 1e-6
    # the gain must exceed min_gain, not just zero
    assert not evidence_from_gains(np.tile([0.9, 0.1, 0.5], 50), n_folds=3, min_gain=0.6).supports_misspecified


def _two_outcome_residuals(n: int = 150) -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.where(rng.random(n) < 0.5, -1.0, 1.0) + 0.2 * rng.normal(size=n)


def test_evidence_text_carries_the_numbers() -> None:
    ev = evidence_from_gains(np.tile([0.7, 0.1], 75), n_folds=3)
    text = ev.text()
    assert ("the mixture model predicts held-out rows +0.40 nats per row better than one Gaussian "
            "(better on 100% of them)") in text
    assert ("were it no more than 0.1 nats better (what a mixture gains on Gaussian data), a gain this high would "
            "happen in under 0.1 % of fits") in text
    assert "(3-fold cross-validation over 150 rows)" in text and "the shape is real" in text
    assert ev.supports_misspecified and not ev.supports_bimodal  # a gain backs the shape, not two modes
    two = evidence_from_gains(np.tile([-0.1, 0.05], 75), n_folds=5, residuals=_two_outcome_residuals(),
                              spread=np.ones(150), folds=np.arange(150) % 5)
    assert two.supports_bimodal and not two.supports_misspecified and two.spread_kurtosis < 1.5
    assert two.spread_rows == 75
    assert "where one Gaussian predicts the widest spread (75 held-out rows) its residuals have kurtosis 1." in two.text()
    assert "a value this low happens in under 0.1 % of fits" in two.text() and "two outcomes are real" in two.text()
    assert "below the 0.5% level" in two.text()
    weak = evidence_from_gains(np.r_[np.full(10, -0.2), np.full(10, 0.1)], n_folds=3).text()
    assert "better on 50% of them" in weak and "no evidence yet" in weak
    assert ev.to_dict()["decision"] == "supported" and ev.to_dict()["text"] == text
    assert two.to_dict()["spread_kurtosis_p"] == two.spread_kurtosis_p
    assert two.to_dict()["two_outcomes_level"] == pytest.approx(0.005)


def test_kurtosis_null_is_the_small_sample_distribution_of_normal_draws() -> None:
    from bdl.diagnostics.evidence import kurtosis_null

    null = kurtosis_null(30)
    # the sample kurtosis of 30 normal draws is biased low (E b2 = 3 (n - 1) / (n + 1) = 2.806)
    assert null.mean() == pytest.approx(3 * 29 / 31, abs=0.03)
    # the p-value of a Gaussian sample is uniform: 2.5 % of fresh samples fall below the 2.5 % quantile
    rng = np.random.default_rng(1)
    ps = [evidence_from_gains(np.ones(30) * 0.0 + 1e-3, n_folds=3, residuals=rng.normal(size=30)).kurtosis_p
          for _ in range(2000)]
    assert np.mean(np.asarray(ps) < 0.025) == pytest.approx(0.025, abs=0.011)


def test_gain_test_is_a_t_test_against_min_gain() -> None:
    """Gains drawn around min_gain: the p-value is uniform, 2.5 % of them below 0.025."""
    rng = np.random.default_rng(3)
    ps = np.array([evidence_from_gains(0.1 + rng.standard_t(5, size=150), n_folds=5).p_value for _ in range(2000)])
    # Binomial(2000, 0.025): sd 0.0035; a t-test on t_5 gains is close to exact at n = 150
    assert np.mean(ps < 0.025) == pytest.approx(0.025, abs=0.011)
    assert np.mean(ps < 0.5) == pytest.approx(0.5, abs=0.04)


def test_heldout_evidence_rejects_bad_input() -> None:
    X, y = _draw(10, 0.0, np.random.default_rng(0))
    with pytest.raises(InputError, match="n_folds"):
        heldout_evidence(X, y, lambda s: _LinearMixture(), lambda s: _LinearGaussian(), n_folds=1)
    with pytest.raises(InputError, match="at least 12 rows"):
        heldout_evidence(X[:5], y[:5], lambda s: _LinearMixture(), lambda s: _LinearGaussian(), n_folds=6)
    with pytest.raises(InputError, match="shape"):
        heldout_evidence(X[:5], y, lambda s: _LinearMixture(), lambda s: _LinearGaussian())
    with pytest.raises(InputError, match="spread_share"):
        heldout_evidence(X, y, lambda s: _LinearMixture(), lambda s: _LinearGaussian(), n_folds=2, spread_share=0.0)


# ------------------------------------------------------------------ triage with evidence
def _pair() -> tuple[GaussianPredictive, MixturePredictive]:
    mdn = MixturePredictive([[0.5, 0.5], [1.0, 0.0]], [[-3.0, 3.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]])
    return GaussianPredictive(mdn.mean, mdn.stddev), mdn


def test_triage_holds_mdn_verdicts_without_evidence() -> None:
    bnn, mdn = _pair()
    assert triage(bnn, mdn)["status"].astype(str).tolist() == ["bimodal", "ok"]
    small = evidence_from_gains(np.r_[np.full(20, -0.1), np.full(20, 0.05)], n_folds=3)
    df = triage(bnn, mdn, evidence=small)
    assert df["status"].astype(str).tolist() == ["unsure", "ok"]
    assert df["held_by_evidence"].tolist() == [True, False]
    assert df["reasons"].iloc[0].startswith("the MDN's shape would flag it, but the mixture model predicts")
    assert df.attrs["evidence"]["decision"] == "unsure"
    none = evidence_from_gains(np.tile([-0.1, 0.05], 100), n_folds=3)
    assert triage(bnn, mdn, evidence=none)["status"].astype(str).tolist() == ["ok", "ok"]


def two_only_backs_bimodal(ev: MixtureEvidence) -> bool:
    return ev.supports_bimodal and not ev.supports_misspecified


def test_triage_with_supporting_evidence_keeps_the_verdict_and_says_why() -> None:
    bnn, mdn = _pair()
    yes = evidence_from_gains(np.tile([-0.1, 0.05], 75), n_folds=3, residuals=_two_outcome_residuals())
    df = triage(bnn, mdn, evidence=yes)
    assert df["status"].astype(str).tolist() == ["bimodal", "ok"]
    assert "Ashman's D" in df["reasons"].iloc[0] and "kurtosis" in df["reasons"].iloc[0]
    # a low residual kurtosis alone backs two modes, not a wrong noise model
    assert two_only_backs_bimodal(yes)
    # a held-out gain alone backs a wrong shape, not two outcomes: the MDN's modes count as a wrong shape
    # (before, they were held and called ok, and expected improvement spent rounds on them)
    shape = evidence_from_gains(np.tile([0.9, 0.1, 0.5], 50), n_folds=3)
    assert shape.supports_misspecified and not shape.supports_bimodal
    wrong = triage(bnn, mdn, evidence=shape)
    assert wrong["status"].astype(str).tolist() == ["misspecified", "ok"]
    assert wrong["unconfirmed_modes"].tolist() == [True, False] and not wrong["held_by_evidence"].any()
    assert not wrong["is_bimodal"].any() and wrong["mdn_bimodal"].tolist() == [True, False]
    assert "not yet two outcomes" in wrong["reasons"].iloc[0] and "nats per row better" in wrong["reasons"].iloc[0]
    # with no test rejecting, the modes are held, never counted as a wrong shape
    none = evidence_from_gains(np.tile([-0.1, 0.05], 100), n_folds=3)
    assert not triage(bnn, mdn, evidence=none)["unconfirmed_modes"].any()
    with pytest.raises(InputError, match="MixtureEvidence"):
        triage(bnn, mdn, evidence="yes")


# ------------------------------------------------------------------ the round's summary
def test_round_summary_counts_reasons_and_explains_a_flagged_proposal() -> None:
    rng = np.random.default_rng(0)
    n = 40
    loc = np.c_[rng.normal(size=n) - 2.0, rng.normal(size=n) + 2.0]
    loc[20:, 1] = loc[20:, 0]  # the second half has one mode
    mdn = MixturePredictive(np.full((n, 2), 0.5), loc, np.full((n, 2), 0.5))
    std = np.r_[np.linspace(1.0, 3.0, 20), np.linspace(0.45, 0.6, 20)]
    bnn = GaussianPredictive(mdn.mean, std)
    df = triage(bnn, mdn)
    assert (df["status"].astype(str).to_numpy()[:20] == "bimodal").all()
    policy = GatePolicy(action="skip", min_std_quantile=0.75)
    gated = gate_mask(bnn, df, policy)
    # propose one bimodal candidate with a small std (not gated) and two ok ones
    small_flagged = int(np.flatnonzero((df["status"].astype(str) == "bimodal").to_numpy() & ~gated)[0])
    s = round_summary(df, chosen=[small_flagged, 25, 30], gated=gated, policy=policy)
    assert s["n_candidates"] == n and s["n_flagged"] == 20 and s["counts"]["bimodal"] == 20
    assert sum(s["counts"].values()) == n
    assert s["top_reasons"][0] == {"reason": "two separated modes in the MDN's predictive", "count": 20}
    g = s["gate"]
    assert g["action"] == "skip" and g["n_gated"] == int(gated.sum()) and g["n_proposed_flagged"] == 1
    assert "BNN std is at or above the 75% quantile" in g["why_flagged_proposed"]
    import json

    assert json.loads(json.dumps(s)) == s  # plain JSON
    nogate = round_summary(df, chosen=[0])
    assert nogate["gate"]["action"] is None and "no gate was set" in nogate["gate"]["why_flagged_proposed"]
    with pytest.raises(InputError):
        round_summary(pd.DataFrame({"x": [1]}))


# ------------------------------------------------------------------ ledger column and status lines
def test_ledger_migrates_an_old_rounds_table_and_status_shows_the_summary(tmp_path) -> None:
    import json
    import sqlite3

    from discovery_loop.cli import _triage_lines
    from discovery_loop.ledger import Ledger

    path = tmp_path / "l.sqlite"
    ledger = Ledger(path, create=True)
    ledger.initialise({"a": 1}, [f"c{i}" for i in range(10)], "fp")
    ledger.close()
    with sqlite3.connect(path) as conn:  # a ledger written before the column existed
        conn.execute("ALTER TABLE rounds DROP COLUMN triage_summary")
    with Ledger(path) as again:  # opening it for writing adds the column
        bnn, mdn = _pair()
        df = triage(bnn, mdn)
        summary = round_summary(df, chosen=[0], gated=np.zeros(2, bool), policy=GatePolicy())
        props = pd.DataFrame({"rank": [0], "idx": [0], "id": ["c0"], "score": [1.0], "mean": [0.0], "std": [1.0],
                              "epistemic_std": [np.nan], "status": ["bimodal"], "reasons": ["r"], "predictive": [None]})
        again.record_round({"round": 1, "kind": "model", "n_train": 5, "n_candidates": 2, "strategy": "ei",
                            "triage_counts": json.dumps({"bimodal": 1, "ok": 1}),
                            "triage_summary": json.dumps(summary)}, props)
        rounds = again.table("rounds")
    assert json.loads(rounds["triage_summary"].iloc[0]) == summary
    lines = _triage_lines(rounds)
    assert lines[0] == "triage      round 1: 1 of 2 candidates flagged bimodal or misspecified (bimodal 1, ok 1)"
    assert "two separated modes in the MDN's predictive" in lines[1]
    assert lines[-1].startswith("gate        skip: acted on 0 candidates") and "quantile of the pool" in lines[-1]
    # an old row without a summary still shows its counts
    old = rounds.assign(triage_summary=None)
    assert _triage_lines(old) == ["triage      round 1: bimodal 1, ok 1"]
