# %% [markdown]
# # 01 · Quickstart: band gaps with honest uncertainty
#
# This notebook walks through the whole toolkit once, on real data shipped with it:
#
# 1. load 4604 **experimental band gaps** (Matbench `matbench_expt_gap`),
# 2. turn each chemical formula into 132 **Magpie descriptors**,
# 3. fit two Bayesian neural networks, **MC dropout** and a **mean-field variational net**,
# 4. look at their **predictions with intervals**, and at the split of the uncertainty into
#    **epistemic** (the model does not know) and **aleatoric** (the data are noisy) parts,
# 5. check at a glance whether the uncertainty is **calibrated**.
#
# **Size switch.** `BDL_NOTEBOOK_SIZE=small` (what the test suite uses) trains on a few
# hundred compositions for a few epochs, so the numbers are rough; `full` (the default, and
# `make notebooks`) uses Matbench's first fold, 3683 training and 921 test compositions, and
# takes a few minutes on a laptop.

# %%
%matplotlib inline
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

SIZE = os.environ.get("BDL_NOTEBOOK_SIZE", "full")
if SIZE not in ("small", "full"):
    raise ValueError(f"BDL_NOTEBOOK_SIZE must be 'small' or 'full', got {SIZE!r}")
SMALL = SIZE == "small"
OUT = Path(os.environ.get("BDL_NOTEBOOK_OUTPUT") or tempfile.mkdtemp(prefix="bdl-notebook-"))
SEED = 0
print(f"size: {SIZE}")

# %% [markdown]
# ## 1. The data
#
# Each row is one composition and its measured band gap in eV. Note how many are exactly 0:
# more than half are metals, so the target is **zero-inflated**; keep that in mind when you look
# at the intervals below.

# %%
from bdl.data import load_matbench_expt_gap

df = load_matbench_expt_gap()
y_all = df["gap_expt_eV"].to_numpy()
print(f"{len(df)} compositions, {np.mean(y_all == 0):.0%} metals (gap = 0 eV)")
df.head()

# %% [markdown]
# ## 2. Descriptors
#
# `featurize` computes the 132 Magpie statistics (mean, range, ... of element properties
# weighted by the composition), the same numbers as matminer's `ElementProperty` preset,
# from nothing but the formula. No structure is used: two polymorphs get the same descriptors
# (notebook 02 is about what that does to a model).

# %%
from bdl.features import featurize

X_all = featurize(df["composition"])
X_all.iloc[:3, :6]

# %% [markdown]
# ## 3. Train / test split
#
# Full size: the first of Matbench's five folds (`bdl.splits.kfold_indices`, identical to
# Matbench v0.1). Small size: a random subset of that fold.

# %%
from bdl.splits import kfold_indices

train, test = kfold_indices(len(df))[0]
if SMALL:
    rng = np.random.default_rng(SEED)
    train = np.sort(rng.choice(train, 600, replace=False))
    test = np.sort(rng.choice(test, 300, replace=False))
X_train, y_train = X_all.iloc[train], y_all[train]
X_test, y_test = X_all.iloc[test], y_all[test]
print(f"{len(train)} training and {len(test)} test compositions")

# %% [markdown]
# ## 4. Two Bayesian neural networks
#
# * `MCDropoutRegressor` (Gal & Ghahramani 2016) keeps dropout on at prediction time; each of
#   T stochastic passes gives a Gaussian, and the predictive is their mixture.
# * `VariationalBNN` (Blundell et al. 2015, "Bayes by Backprop") learns a Gaussian posterior
#   for every weight by maximising the evidence lower bound (notebook 05 takes it apart).
#
# Both predict a mean **and** a noise level per composition (a heteroscedastic head), and both
# stop early on the likelihood of a 10 % validation share of the training data.

# %%
from bdl.models import MCDropoutRegressor, VariationalBNN

if SMALL:
    settings = dict(hidden_units=(64, 32), epochs=25, batch_size=32)
else:
    settings = dict(hidden_units=(256, 128), epochs=300)

mc = MCDropoutRegressor(**settings, random_state=SEED, progress=False).fit(X_train, y_train)
vi = VariationalBNN(**settings, random_state=SEED, progress=False).fit(X_train, y_train)
print(f"MC dropout: best epoch {mc.best_epoch_}; variational: best epoch {vi.best_epoch_}")

# %% [markdown]
# ## 5. Predictions with intervals
#
# `predict_dist` returns one predictive-distribution object for all test compositions. It has
# a mean, a standard deviation, quantiles and central intervals, and `to_frame()` shows them as
# a table. `epistemic_std` and `aleatoric_std` are the two parts of the spread (law of total
# variance: the variance of the per-pass means, and the mean of the per-pass noise variances).

# %%
pred_mc = mc.predict_dist(X_test)
pred_vi = vi.predict_dist(X_test)
table = pred_mc.to_frame(level=0.9)
table.insert(0, "composition", df["composition"].iloc[test].to_numpy())
table.insert(1, "measured", y_test)
table.head(8).round(3)

# %% [markdown]
# The parity plot puts each prediction against its measurement with its 90 % interval. Points
# whose interval misses the diagonal are drawn in red: with calibrated uncertainty about one in
# ten should be red.

# %%
import matplotlib.pyplot as plt
from bdl.calibration.plots import plot_parity

fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharex=True, sharey=True)
plot_parity(y_test, pred_mc, ax=axes[0])
plot_parity(y_test, pred_vi, ax=axes[1])
axes[0].set_title("MC dropout")
axes[1].set_title("Variational (mean-field)");

# %% [markdown]
# ## 6. Epistemic vs aleatoric
#
# **Epistemic** uncertainty is what more data would remove: it should be large far from the
# training compositions. **Aleatoric** uncertainty is the noise the model believes is in the
# measurements themselves (here: band gaps of one composition measured differently, or
# metals next to small-gap semiconductors). Compare a few familiar compositions with one
# made-up extrapolation, a plutonium-neptunium compound unlike anything in the training set. The
# last column is a distance in descriptor space (`bdl.diagnostics.KNNDistance`: the distance to
# the nearest training compositions, relative to how far training compositions lie from each
# other; above 1 means "farther than 99 % of the training set").

# %%
from bdl.diagnostics import KNNDistance

probe = ["Si", "GaAs", "NaCl", "ZnO", "Cu", "Pu3Ga2Np"]
X_probe = featurize(probe)
p = mc.predict_dist(X_probe)
pd.DataFrame(
    {
        "mean (eV)": p.mean,
        "epistemic std": np.sqrt(p.epistemic_variance),
        "aleatoric std": np.sqrt(p.aleatoric_variance),
        "distance to training set": KNNDistance().fit(X_train).score(X_probe),
    },
    index=pd.Index(probe, name="composition"),
).round(3)

# %% [markdown]
# Look at the last row. The distance score puts the made-up compound at the edge of the
# training data or beyond, but the network's epistemic std need not be larger there than for
# silicon (at full size it calls the compound a metal with an epistemic std near zero):
# MC dropout's spread comes from a fixed dropout rate and says little about extrapolation
# (inputs are also clipped at 10 training standard deviations inside every model). Treat the
# epistemic part as a relative signal among candidates like the training data, and check
# distance separately: the diagnostics of notebook 02 do both.

# %%
fig, ax = plt.subplots(figsize=(5.5, 4.6))
for name, p in (("MC dropout", pred_mc), ("variational", pred_vi)):
    ax.scatter(np.sqrt(p.aleatoric_variance), np.sqrt(p.epistemic_variance), s=8, alpha=0.5, label=name)
ax.axline((0, 0), slope=1, color="0.5", lw=1, ls="--", label="equal parts")
ax.set_xlabel("aleatoric std (eV)")
ax.set_ylabel("epistemic std (eV)")
ax.set_title("The two parts of the uncertainty, per test composition")
ax.legend();

# %% [markdown]
# What to look for: the two parts grow together (a composition that is hard to predict is hard
# in both senses), and for the most uncertain compositions the aleatoric part dominates (points
# right of the dashed line). There, more data of the same kind would not make the intervals
# much narrower; better descriptors (the structure, not only the composition) would.

# %% [markdown]
# ## 7. Calibration at a glance
#
# Are the intervals honest? `calibration_figure` draws six views on one page (notebook 04
# explains each); `summary` lists every metric with its ideal value. The two numbers to read
# first: the **90 % interval coverage** (should be close to 0.9) and the **miscalibration
# area** (0 is perfect).

# %%
from bdl.calibration import metrics
from bdl.calibration.plots import calibration_figure

calibration_figure(y_test, pred_mc, title="MC dropout on held-out band gaps")

# %%
both = metrics.summary(y_test, pred_mc)[["metric", "value", "ideal"]].rename(columns={"value": "MC dropout"})
both.insert(2, "variational", metrics.summary(y_test, pred_vi)["value"].to_numpy())
keep = ["mae", "rmse", "nll", "crps", "coverage_90", "miscalibration_area", "sharpness"]
both[both["metric"].isin(keep)].set_index("metric").round(3)

# %% [markdown]
# ## 8. Save and reload
#
# Models save to a folder of JSON and numpy arrays (no pickle) and load back with the same
# predictions.

# %%
from bdl.models import load_model

path = mc.save(OUT / "mc_dropout_model")
again = load_model(path)
print(np.allclose(again.predict_dist(X_test).mean, pred_mc.mean))

# %% [markdown]
# **Next:** notebook 02 shows where a large predictive variance is *not* ignorance, notebook 03
# runs a discovery campaign, notebook 04 reads the calibration report in detail, and notebook
# 05 opens up variational inference.
