# %% [markdown]
# # 05 · Variational inference, made visible
#
# Every network in this toolkit trains with one engine, `bdl.models.svi.fit_svi`, which
# maximises the **evidence lower bound** (ELBO). This notebook opens it up on real data:
#
# 1. the ELBO is an **expected log-likelihood minus a KL divergence**, and the trace of a fit
#    shows both halves;
# 2. leaving the KL **unscaled** makes the net collapse towards its prior (variational
#    underfitting), and the toolkit says so;
# 3. on linear regression, where the exact posterior is known, **mean-field** VI keeps the
#    posterior means but loses the correlation and shrinks the variances;
# 4. minimising the **reverse KL**, as VI does, seeks one mode of a bimodal target, while the
#    forward KL averages the modes;
# 5. **MC dropout** is approximate VI too, with a posterior whose width is fixed by the dropout
#    rate.
#
# The data: experimental band gaps (`matbench_expt_gap`) described by six composition
# descriptors (small networks on few inputs keep every effect quick to see), and the PBE gaps
# of carbon's structures (`matbench_mp_gap`) for the bimodal target.
#
# **Size switch.** `BDL_NOTEBOOK_SIZE=small` uses 800 compositions and few epochs; `full` (the
# default, and `make notebooks`) uses all 4604 and trains longer. A few minutes on a laptop.

# %%
%matplotlib inline
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

SIZE = os.environ.get("BDL_NOTEBOOK_SIZE", "full")
if SIZE not in ("small", "full"):
    raise ValueError(f"BDL_NOTEBOOK_SIZE must be 'small' or 'full', got {SIZE!r}")
SMALL = SIZE == "small"
OUT = Path(os.environ.get("BDL_NOTEBOOK_OUTPUT") or tempfile.mkdtemp(prefix="bdl-notebook-"))
SEED = 0
print(f"size: {SIZE}")

# %%
from bdl.data import load_matbench_expt_gap
from bdl.features import featurize

df = load_matbench_expt_gap()
COLUMNS = [f"MagpieData mean {p}" for p in
           ("MendeleevNumber", "Column", "NpValence", "MeltingT", "Electronegativity", "SpaceGroupNumber")]
X_all = featurize(df["composition"])[COLUMNS]
y_all = df["gap_expt_eV"].to_numpy()
order = np.random.default_rng(SEED).permutation(len(df))
n_train = 800 if SMALL else 3600
train, test = order[:n_train], order[n_train:n_train + (300 if SMALL else 1000)]
X, y, X_test, y_test = X_all.iloc[train], y_all[train], X_all.iloc[test], y_all[test]
EPOCHS = 60 if SMALL else 300
print(f"{len(train)} training, {len(test)} test compositions, {len(COLUMNS)} descriptors")

# %% [markdown]
# ## 1. ELBO = expected log-likelihood − KL
#
# A variational net keeps a Gaussian `q(w) = N(mu, sigma²)` for every weight and maximises
#
# $$\mathrm{ELBO}(q) = \mathbb{E}_{q(w)}\left[\log p(y \mid X, w)\right] - \mathrm{KL}\left(q(w)\,\|\,p(w)\right) \le \log p(y \mid X).$$
#
# The first term rewards fitting the data, the second keeps `q` close to the prior. The engine
# works per training point: it maximises the mean log-likelihood of a minibatch minus
# **KL / N**, N the number of training points, which is the ELBO divided by N. The fit's
# `trace_` has one row per epoch with both halves (`expected_loglik` per point, `kl` in nats for
# the whole net, standardised units).

# %%
from bdl.models import VariationalBNN, VariationalUnderfittingWarning

net = dict(hidden_units=(32, 32), epochs=EPOCHS, n_samples=30, random_state=SEED, progress=False)
good = VariationalBNN(**net).fit(X, y)
trace = good.trace_  # elbo = expected_loglik - KL / N, so KL / N is their difference
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
axes[0].plot(trace["epoch"], trace["expected_loglik"])
axes[0].set_title("expected log-likelihood per point")
axes[1].plot(trace["epoch"], trace["expected_loglik"] - trace["elbo"], color="C1")
axes[1].set_title("KL / N")
axes[2].plot(trace["epoch"], trace["elbo"], color="C2")
axes[2].set_title("ELBO / N = the two combined")
for ax in axes:
    ax.set_xlabel("epoch")
trace.tail(3)

# %% [markdown]
# What to look for: the likelihood climbs fast, then slowly. The KL starts high, because every
# weight starts with a posterior std of 0.01, far more certain than its N(0, 1) prior, and falls
# steadily as the fit lets the stds grow wherever the data do not need a weight to be precise.
# Both halves raise the ELBO. The ELBO never sees the test set: early stopping on a validation
# share of the training data picks the epoch whose weights are kept.

# %% [markdown]
# ## 2. Unscaled KL: variational underfitting
#
# A classic mistake is to add the **whole** KL to a **per-point** (or per-minibatch) likelihood.
# The prior then weighs N times too much: the net gives up on the data, shrinks every weight
# towards its prior, and predicts nearly the same value everywhere with a wide spread. It can
# look like "healthy uncertainty". `kl_scale=1.0` makes that mistake on purpose; the fit
# diagnoses it and raises a `VariationalUnderfittingWarning`.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", VariationalUnderfittingWarning)
    bad = VariationalBNN(**net, kl_scale=1.0).fit(X, y)
for w in caught:
    if issubclass(w.category, VariationalUnderfittingWarning):
        print("warning:", w.message)
pd.DataFrame({"correct (KL / N)": good.underfitting_, "unscaled KL": bad.underfitting_}).drop("reason")

# %%
from bdl.calibration.plots import plot_parity

fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True, layout="constrained")
for ax, (name, model) in zip(axes, (("KL / N (correct)", good), ("unscaled KL", bad))):
    plot_parity(y_test, model.predict_dist(X_test), ax=ax)
    ax.set_title(name)

# %% [markdown]
# Right: the collapsed net. Its predicted means barely vary (a horizontal band) and its
# intervals are wide everywhere. The diagnosis needs two signs at once: the last epochs' ELBO
# gain came from the falling KL rather than from the data (`kl_driven`; a correctly scaled net
# that is still shedding its initial KL can show this too), **and** the predictive means vary
# far less than the targets (`mean_spread` below 0.3: `collapsed`).

# %% [markdown]
# ## 3. Mean-field versus the exact posterior
#
# With no hidden layer and a known noise level, the net is Bayesian linear regression, whose
# posterior is Gaussian and known exactly (`BayesianLinearRegression`). Take two descriptors that
# are strongly correlated (the mean Mendeleev number and the mean group of the elements), and
# 100 compositions so that the posterior is broad enough to see.

# %%
from bdl.models import BayesianLinearRegression

pair = ["MagpieData mean MendeleevNumber", "MagpieData mean Column"]
few = train[:100]
X2, y2 = X_all.iloc[few][pair], y_all[few]
print(f"correlation of the two descriptors: {np.corrcoef(X2.to_numpy().T)[0, 1]:.2f}")
exact = BayesianLinearRegression().fit(X2, y2)  # noise level by type-II maximum likelihood
mean_field = VariationalBNN(hidden_units=(), noise="fixed", noise_std=exact.noise_std_,
                            estimator="reparameterization", batch_size=len(few), validation_fraction=0.0,
                            learning_rate=0.02, epochs=500 if SMALL else 3000, random_state=SEED,
                            progress=False).fit(X2, y2)

# %% [markdown]
# Both use the same prior N(0, 1) on standardised inputs and targets, so their posteriors over
# the two weights can be compared directly. Theory (Bishop, PRML §10.1.2): for a Gaussian
# posterior with precision matrix Λ, the mean-field optimum has the **exact means** and
# variances **1 / Λᵢᵢ**, which are smaller than the true marginal variances (Λ⁻¹)ᵢᵢ whenever
# the weights are correlated.

# %%
loc, scale = mean_field.posterior()["l0_w"]
cov = exact.coef_cov_[:2, :2]
precision = np.linalg.inv(exact.coef_cov_)
pd.DataFrame(
    {
        "exact mean": exact.coef_mean_[:2],
        "mean-field mean": loc.ravel(),
        "exact std": np.sqrt(np.diag(cov)),
        "mean-field std": scale.ravel(),
        "theory: 1/sqrt(precision_ii)": 1 / np.sqrt(np.diag(precision)[:2]),
    },
    index=["w (Mendeleev number)", "w (column)"],
).round(3)

# %%
rng = np.random.default_rng(SEED)
exact_draws = rng.multivariate_normal(exact.coef_mean_[:2], cov, size=2000)
mf_draws = loc.ravel() + scale.ravel() * rng.standard_normal((2000, 2))
fig, ax = plt.subplots(figsize=(5.5, 5))
rho = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
ax.scatter(*exact_draws.T, s=3, alpha=0.3, label=f"exact posterior (correlation {rho:.2f})")
ax.scatter(*mf_draws.T, s=3, alpha=0.3, label="mean-field q (correlation 0 by construction)")
ax.set_xlabel("weight of mean Mendeleev number")
ax.set_ylabel("weight of mean column")
ax.set_aspect("equal", adjustable="datalim")
ax.legend(fontsize="small", markerscale=4);

# %% [markdown]
# The exact posterior is a long thin ellipse: the data pin down a *combination* of the two
# weights, not each one. The mean-field Gaussian cannot tilt, so it sits inside the ellipse,
# as wide as the ellipse is *thin*. Its predictive variance for inputs along the ellipse's long
# axis is therefore too small: mean-field VI is over-confident where inputs are correlated.

# %% [markdown]
# ## 4. Reverse KL seeks a mode
#
# VI minimises **KL(q‖p)**, the *reverse* KL: `q` pays heavily for putting mass where `p` has
# none, so a single Gaussian fitted to a bimodal `p` settles on **one** mode. The *forward*
# KL(p‖q) is minimised by matching the mean and variance of `p`, a broad Gaussian centred
# **between** the modes: exactly what a Gaussian BNN trained by maximum likelihood predicts for
# a composition with two polymorphs (notebook 02).
#
# The bimodal target here is real: the PBE gaps of carbon's 20 structures in `matbench_mp_gap`,
# smoothed with 0.25 eV Gaussians (`SamplePredictive` builds that mixture).

# %%
from bdl.data import load_matbench_mp_gap
from bdl.data.polymorphs import polymorph_table
from bdl.predictive import GaussianPredictive, SamplePredictive

mp = load_matbench_mp_gap(check_formulas=False)
carbon = mp["gap_pbe_eV"].to_numpy()[polymorph_table(mp, "gap_pbe_eV").loc["C", "rows"]]
p = SamplePredictive(carbon[None, :], np.full((1, len(carbon)), 0.25))
forward = GaussianPredictive(p.mean, p.stddev)  # argmin over Gaussians of KL(p || q)

# reverse KL(q || p) = E_q[log q] - E_q[log p] on a grid of Gaussians q = N(m, s^2), with
# E_q[log p] by Gauss-Hermite quadrature
nodes, weights = np.polynomial.hermite_e.hermegauss(40)
weights = weights / weights.sum()
m_grid, s_grid = np.linspace(-1.0, 6.0, 141), np.geomspace(0.05, 3.0, 40)
M, S = np.meshgrid(m_grid, s_grid, indexing="ij")
points = (M[..., None] + S[..., None] * nodes).reshape(-1, 1)
e_log_p = (p.log_prob(points).reshape(*M.shape, len(nodes)) * weights).sum(axis=-1)
reverse_kl = -0.5 * np.log(2 * np.pi * np.e * S**2) - e_log_p
i, j = np.unravel_index(np.argmin(reverse_kl), reverse_kl.shape)
reverse = GaussianPredictive([m_grid[i]], [s_grid[j]])
print(f"forward KL fit: N({forward.mean[0]:.2f}, {forward.stddev[0]:.2f}^2); "
      f"reverse KL fit: N({reverse.mean[0]:.2f}, {reverse.stddev[0]:.2f}^2)")

# %%
grid = np.linspace(-1.5, 6.5, 600)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
axes[0].fill_between(grid[:, 0], np.exp(p.log_prob(grid)[:, 0]), color="0.8", label="carbon's structures (smoothed)")
axes[0].plot(grid[:, 0], np.exp(forward.log_prob(grid)[:, 0]), label="argmin KL(p||q): moment matching")
axes[0].plot(grid[:, 0], np.exp(reverse.log_prob(grid)[:, 0]), label="argmin KL(q||p): mode seeking")
axes[0].plot(carbon, np.zeros_like(carbon), "|k", markersize=14)
axes[0].set_xlabel("band gap (eV)")
axes[0].legend(fontsize="small")
axes[1].plot(m_grid, reverse_kl.min(axis=1), color="C1")
axes[1].set_xlabel("mean m of the Gaussian q")
axes[1].set_ylabel("min over s of KL(q || p)")
axes[1].set_title("two valleys: one per mode");

# %% [markdown]
# The reverse-KL landscape has a valley at each mode; which one an optimiser finds depends on
# where it starts. The same happens to the weights of a mean-field net when the posterior over
# weights has several modes (it always does: permuting hidden units gives the same function):
# VI explores one, which is one reason why ensembles of independently trained nets, each in its
# own mode, often give better uncertainty than a single variational net.

# %% [markdown]
# ## 5. MC dropout as approximate variational inference
#
# Gal & Ghahramani (2016) read dropout training as VI: `q(w)` is the weights with each unit
# dropped with probability p, and the L2 penalty plays the KL term. In this toolkit MC dropout
# trains through the same engine, and its trace has the same columns (`kl` holds the
# weight-decay term times N). The difference from a variational net: the width of `q` is set by
# the dropout rate, **not learned**. Change p, and the epistemic uncertainty changes with it.

# %%
from bdl.calibration import metrics
from bdl.models import MCDropoutRegressor

rows = {}
for rate in (0.05, 0.3):
    mc = MCDropoutRegressor(hidden_units=(32, 32), dropout_rate=rate, epochs=30 if SMALL else EPOCHS, n_passes=50,
                            random_state=SEED, progress=False).fit(X, y)
    rows[f"MC dropout, p = {rate}"] = mc.predict_dist(X_test)
rows["variational (learned q)"] = good.predict_dist(X_test)
pd.DataFrame({name: {"mean epistemic std (eV)": np.sqrt(pr.epistemic_variance).mean(),
                     "mean aleatoric std (eV)": np.sqrt(pr.aleatoric_variance).mean(),
                     "test NLL": metrics.nll(y_test, pr),
                     "90 % coverage": metrics.interval_coverage(y_test, pr, 0.9)}
              for name, pr in rows.items()}).T.round(3)

# %% [markdown]
# Read the first column: six times the dropout rate gives a clearly larger epistemic spread,
# while the heteroscedastic head absorbs much of the difference in the aleatoric part, so the
# total may change less. Dropout rate is a prior choice (Gal & Ghahramani tune it on validation
# likelihood; the UCI benchmark in `benchmarks/` does so); the variational net learns its
# `sigma`s from the data, at the price of the mean-field restrictions of sections 3 and 4.
