# %% [markdown]
# # 02 · Bimodality: when a large variance is not ignorance
#
# A model that sees only the chemical formula cannot tell polymorphs apart. Carbon is diamond
# (PBE gap about 4.5 eV) *and* graphite (a metal); CdSe and HgS each have a metallic and a
# semiconducting structure in the Materials Project. For such a composition the honest answer
# to "what is the band gap?" is **one of two values**, not a value in between.
#
# A Bayesian net with a Gaussian predictive answers with the **average** of the two, a gap no
# polymorph has, and a **large variance**. Read as "the model is unsure, measure it", that
# variance sends an automated lab after a phantom. This notebook shows it on real data
# (`matbench_mp_gap`, 106 113 PBE band gaps), shows that a **mixture density network** (MDN)
# sees the two modes, how the **diagnostics** flag such candidates, and what an
# **acquisition function** does with and without the diagnostics **gate**.
#
# **Size switch.** `BDL_NOTEBOOK_SIZE=small` trains on about 1500 compositions, most of them
# with several structures, for a few epochs (enough to see the effect on the four examples,
# not enough for good numbers on held-out compositions); `full` (the
# default, and `make notebooks`) trains on all training compositions, about 85 000 structures,
# and takes several minutes.

# %%
%matplotlib inline
import os
import tempfile
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

# %% [markdown]
# ## 1. Polymorphs in the data
#
# `polymorph_table` groups the structures by reduced composition and gives, for each, how many
# structures it has and how far their gaps spread. Thousands of compositions have several
# structures; hundreds of them span more than 1.5 eV.

# %%
from bdl.data import load_matbench_mp_gap
from bdl.data.polymorphs import composition_keys, composition_split, polymorph_table

df = load_matbench_mp_gap()
y_all = df["gap_pbe_eV"].to_numpy()
table = polymorph_table(df, "gap_pbe_eV")
multi = table[table["n"] >= 2]
print(f"{len(df)} structures, {len(table)} compositions; {len(multi)} with two or more structures, "
      f"{int((multi['spread'] > 1.5).sum())} of them spanning more than 1.5 eV")
multi.drop(columns="rows").head(10).round(2)

# %% [markdown]
# Four well-known cases: every structure of carbon, boron nitride, cadmium selenide and
# mercury sulfide in the data, with its crystal system and PBE gap.

# %%
SHOW = ["C", "BN", "CdSe", "HgS"]
fig, ax = plt.subplots(figsize=(7, 2.8))
for i, name in enumerate(SHOW):
    gaps = y_all[table.loc[name, "rows"]]
    ax.scatter(gaps, np.full(len(gaps), i), marker="|", s=400, color=f"C{i}")
ax.set_yticks(range(len(SHOW)), SHOW)
ax.set_xlabel("PBE band gap of each structure (eV)")
ax.set_title("One composition, several structures, very different gaps");

# %%
rows = [r for name in SHOW for r in table.loc[name, "rows"]]
df.iloc[rows].assign(formula=composition_keys(df["composition"].iloc[rows]).to_numpy()).sort_values(
    ["formula", "gap_pbe_eV"])[["formula", "composition", "crys_sys", "spg_num", "gap_pbe_eV"]].head(20)

# %% [markdown]
# ## 2. Two models of the same data
#
# The compositions are split into training and test sets so that all structures of a
# composition land on the same side (`composition_split`); the four examples are kept in
# training, so every one of their structures is in the training data. The input is the Magpie
# composition descriptors, so all structures of one composition have the same input and
# different targets.
#
# * the **Gaussian BNN**: MC dropout with a heteroscedastic Gaussian head,
# * the **MDN**: a mixture of Gaussians per input (Bishop 1994), which can put its mass on two
#   values at once.

# %%
from bdl.features import featurize

train, test = composition_split(df["composition"], test_fraction=0.2, seed=SEED, keep_in_train=SHOW)
keys = composition_keys(df["composition"]).to_numpy()
if SMALL:  # a subset rich in polymorphs: 1000 compositions with several structures, 500 others
    rng = np.random.default_rng(SEED)
    in_train = pd.Index(np.unique(keys[train]))
    several = in_train[table.loc[in_train, "n"].to_numpy() >= 2]
    kept = set(rng.choice(several, 1000, replace=False)) | set(rng.choice(in_train, 500, replace=False)) | set(SHOW)
    train = train[pd.Series(keys[train]).isin(kept).to_numpy()]
X_train = featurize(df["composition"].iloc[train])
y_train = y_all[train]
print(f"{len(train)} training structures of {len(np.unique(keys[train]))} compositions")

# %%
from bdl.models import MCDropoutRegressor, MixtureDensityRegressor

if SMALL:
    settings = dict(hidden_units=(64, 32), epochs=15, batch_size=128, patience=10)
else:
    settings = dict(hidden_units=(256, 128), epochs=40, batch_size=256, patience=8)
bnn = MCDropoutRegressor(**settings, n_passes=50, random_state=SEED, progress=False).fit(X_train, y_train)
mdn = MixtureDensityRegressor(**settings, n_components=5, random_state=SEED, progress=False).fit(X_train, y_train)
print(f"MDN uses {mdn.effective_components_:.1f} of its 5 components on average")

# %% [markdown]
# ## 3. The cautionary tale
#
# Both models predict the four examples. `triage` compares the two predictives per candidate:
# it finds the modes of the MDN's density, their masses, Ashman's D (separation) and the depth
# of the valley between them, and whether the BNN's mean falls **in the valley**.

# %%
from bdl.diagnostics import triage

X_show = featurize(SHOW)
bnn_show, mdn_show = bnn.predict_dist(X_show), mdn.predict_dist(X_show)
tri_show = triage(bnn_show, mdn_show, index=SHOW, lower_bound=0.0)
cols = ["status", "bnn_mean", "bnn_std", "n_modes", "mode_1", "mass_1", "mode_2", "mass_2", "ashman_d", "in_valley"]
tri_show[cols].round(2)

# %% [markdown]
# Each panel: the BNN's predictive read as a Gaussian (blue, what an acquisition function reading
# `mean` and `stddev` sees), the MDN's mixture (orange), and the gaps of the real structures
# (black ticks at the bottom). Where the blue mean sits between two clusters of ticks, the BNN
# predicts a material that does not exist, and its large standard deviation is the distance
# between the clusters, not a lack of data.
#
# Whether the MDN resolves every family depends on the training run: a family is a handful of
# rows among tens of thousands, and early stopping on the validation likelihood of all
# compositions does not wait for it. Where the MDN stays unimodal the triage may still flag the
# candidate as `misspecified` (for instance when the BNN's Gaussian puts a fifth of its mass
# below 0 eV); where it finds no problem the status is `ok`. The reasons are printed under
# the plots.

# %%
from bdl.diagnostics import plot_candidate

fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), layout="constrained")
for i, (name, ax) in enumerate(zip(SHOW, axes.ravel())):
    plot_candidate(bnn_show, mdn_show, i, ax=ax, triage_df=tri_show)
    gaps = y_all[table.loc[name, "rows"]]
    ax.plot(gaps, np.zeros_like(gaps), "|", color="k", markersize=18, label="structures in the data")
    ax.set_xlabel(f"{name}: band gap (eV)")
    ax.legend(loc="upper right", fontsize="small")
for name, line in tri_show["reasons"].items():
    print(f"{name}: {line or 'no flag'}")

# %% [markdown]
# ## 4. The diagnostics on held-out compositions
#
# Now the compositions the models never saw: one row per test composition. `triage` also takes
# the training descriptors to score how far each candidate lies from them (out of distribution
# takes precedence: far from the data both nets extrapolate, and a large epistemic variance is
# honest there).

# %%
test_keys, first = np.unique(keys[test], return_index=True)
cand = test[first]
if SMALL:
    cand = np.sort(np.random.default_rng(SEED).choice(cand, 400, replace=False))
X_cand = featurize(df["composition"].iloc[cand])
bnn_pred, mdn_pred = bnn.predict_dist(X_cand), mdn.predict_dist(X_cand)
cand_keys = keys[cand]
tri = triage(bnn_pred, mdn_pred, X_train=X_train, X_candidates=X_cand, lower_bound=0.0, index=cand_keys)
tri["status"].value_counts()

# %% [markdown]
# Does the flag find the compositions whose structures really differ? The truth here is the
# spread of each test composition's polymorph gaps, which the models never saw. Read each row
# as "of the test compositions in this class, which share got which status". A useful flag is
# more frequent in the `spread > 1.5 eV` row than in the `one structure` and `spread < 0.3 eV`
# rows. Expect many flags everywhere: on a band-gap target "metal or semiconductor?" is a real
# bimodality of a composition-only model even for compositions with one known structure. With a
# small run the MDN has not learned much; read the full-size numbers, and the benchmark
# `benchmarks/diagnostics_polymorphs.py` (results in `benchmarks/results/diagnostics_polymorphs.md`)
# for a tuned and properly held-out evaluation.

# %%
spread = table.loc[cand_keys, "spread"].to_numpy()
n_struct = table.loc[cand_keys, "n"].to_numpy()
truth = np.where(n_struct == 1, "one structure",
                 np.where(spread > 1.5, "spread > 1.5 eV", np.where(spread < 0.3, "spread < 0.3 eV", "0.3 to 1.5 eV")))
pd.crosstab(pd.Series(truth, name="polymorph gaps"), tri["status"].astype(str).to_numpy(), normalize="index").round(2)

# %% [markdown]
# ### Replicates decide better than the MDN's modes
#
# The MDN cannot tell "this composition has two polymorphs" from "neighbouring compositions
# differ": both make its density multimodal. The training data hold the direct evidence:
# compositions with several structures, whose gaps spread or agree. `ReplicateSpread` learns
# from them (identical descriptor rows form a group; gradient-boosted trees map the
# descriptors to the spread of the group's gaps) and, passed to `triage`, decides the
# `bimodal` status; the MDN's own verdict stays in the column `mdn_bimodal`.

# %%
from bdl.diagnostics import ReplicateSpread

reps = ReplicateSpread(random_state=SEED).fit(X_train, y_train)
print(f"{reps.n_groups_} training compositions with two or more structures")
tri_rep = triage(bnn_pred, mdn_pred, X_train=X_train, X_candidates=X_cand, lower_bound=0.0, index=cand_keys,
                 replicates=reps)
pd.crosstab(pd.Series(truth, name="polymorph gaps"), tri_rep["status"].astype(str).to_numpy(), normalize="index").round(2)

# %%
from bdl.diagnostics import plot_triage_counts

plot_triage_counts(tri_rep).figure

# %% [markdown]
# Global checks on the held-out structures (every structure, not one per composition): does the
# BNN's Gaussian describe what was observed? `nll_gap` compares the two models' likelihoods of the
# real gaps; `bound_violation` counts Gaussian mass below 0 eV.

# %%
from bdl.diagnostics import global_checks

rows_test = test if not SMALL else test[pd.Series(keys[test]).isin(set(cand_keys)).to_numpy()]
X_test = featurize(df["composition"].iloc[rows_test])
checks = global_checks(y_all[rows_test], bnn.predict_dist(X_test), mdn.predict_dist(X_test), lower_bound=0.0, model=bnn)
checks[["check", "value", "threshold", "flagged"]]

# %% [markdown]
# ## 5. What an acquisition function does with it
#
# Say the lab looks for a photovoltaic absorber, a band gap in **1.1-1.7 eV**. The acquisition
# function `window` scores each candidate by the probability that its gap lies in the window.
# Under the BNN's broad predictive a composition whose structures are a metal and a 3 eV
# insulator gets a fair probability; under the MDN it gets almost none, because neither
# structure is in the window.
#
# `gated_scores` applies a `GatePolicy` to candidates the triage flags:
# `skip` drops them, `downweight` pushes them down the ranking, `mixture` re-scores them under
# the MDN's mixture.

# %%
from bdl.diagnostics import GatePolicy, gated_scores
from discovery_loop.acquisition import get_acquisition

window = get_acquisition("window", low=1.1, high=1.7)
scores = {"no gate": window(bnn_pred)}
for action in ("skip", "downweight", "mixture"):
    scores[f"gate: {action}"] = gated_scores(window, bnn_pred, mdn_pred, tri, GatePolicy(action=action))
K = 10
summary = []
for label, s in scores.items():
    top = np.argsort(-s, kind="stable")[:K]
    summary.append({"policy": label,
                    f"flagged in top {K}": int(tri["status"].iloc[top].isin(["bimodal", "misspecified"]).sum()),
                    f"true gap spread > 1.5 eV in top {K}": int((spread[top] > 1.5).sum())})
pd.DataFrame(summary).set_index("policy")

# %% [markdown]
# The top of the ranking without the gate, with each candidate's triage verdict:

# %%
top = np.argsort(-scores["no gate"], kind="stable")[:K]
pd.DataFrame({"window score (no gate)": scores["no gate"][top],
              "under the MDN (gate: mixture)": scores["gate: mixture"][top],
              "status": tri["status"].astype(str).to_numpy()[top],
              "bnn mean": bnn_pred.mean[top], "bnn std": bnn_pred.stddev[top],
              "polymorph gap spread": spread[top]}, index=pd.Index(cand_keys[top], name="composition")).round(3)

# %% [markdown]
# ## 6. Into the calibration report
#
# `diagnostics_section` turns the triage into a section of the calibration report (notebook 04),
# so whoever reads the report sees which candidates' uncertainty is not what it seems.

# %%
from IPython.display import HTML
from bdl.calibration.report import calibration_report
from bdl.diagnostics import diagnostics_section

report = calibration_report(y_all[cand], bnn_pred, title="MC dropout on held-out compositions (one structure each)")
heading, body = diagnostics_section(tri, bnn_pred, mdn_pred, checks)
report.add_section(heading, body)
report.save(OUT / "report")
HTML(f"<h2>{heading}</h2>{body}")

# %% [markdown]
# **The lesson.** A predictive variance is a number about a distribution; before an
# acquisition function spends an experiment on it, ask *which* distribution. Where a second model
# that can represent several outcomes (the MDN) sees separated modes, the variance is the gap
# between outcomes, and the right action is to measure the structure (or to score with the
# mixture), not to explore the composition.
