"""Mixture density network: bimodal targets, no NaN on the real band-gap data, component count."""

from __future__ import annotations

import numpy as np
import pytest

from bdl.data import load_matbench_expt_gap, load_matbench_mp_gap
from bdl.features import featurize
from bdl.models import MixtureDensityRegressor, effective_components


def test_effective_components_counts_weight():
    w = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(effective_components(w), [1.0, 2.0, 3.0], rtol=1e-9)


def test_mdn_finds_two_modes_where_a_gaussian_would_average():
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.uniform(-1, 1, size=(n, 1))
    branch = rng.random(n) < 0.5
    y = np.where(branch, 3.0, -3.0) + X[:, 0] + rng.normal(size=n) * 0.3
    m = MixtureDensityRegressor(n_components=3, hidden_units=(32, 32), epochs=150, random_state=0, progress=False)
    dist = m.fit(X, y).predict_dist(np.zeros((1, 1)))
    # density at the two branches far above the density at their average
    assert dist.log_prob(np.array([3.0]))[0] > dist.log_prob(np.array([0.0]))[0] + 5
    assert dist.log_prob(np.array([-3.0]))[0] > dist.log_prob(np.array([0.0]))[0] + 5
    assert m.effective_components_ >= 1.8


@pytest.mark.parametrize("which", ["expt", "mp"])
def test_no_nan_on_real_band_gaps(which):
    if which == "expt":
        df = load_matbench_expt_gap()
        formulas, y = df["composition"], df["gap_expt_eV"].to_numpy()
    else:
        df = load_matbench_mp_gap(check_formulas=False).sample(6000, random_state=0)
        formulas, y = df["composition"], df["gap_pbe_eV"].to_numpy()
    X = featurize(formulas)
    m = MixtureDensityRegressor(epochs=15, random_state=0, progress=False).fit(X, y)
    assert np.isfinite(m.trace_[["elbo", "val_nll"]].to_numpy()).all()
    dist = m.predict_dist(X.iloc[:500])
    w, locs, scales = dist.as_mixture()
    assert np.isfinite(w).all() and np.isfinite(locs).all() and (scales > 0).all()
    assert np.isfinite(dist.log_prob(y[:500])).all()
    assert 1.0 <= m.effective_components_ <= 5.0
