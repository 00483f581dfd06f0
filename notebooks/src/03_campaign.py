# %% [markdown]
# # 03 · A simulated discovery campaign
#
# Rohr et al. (2020) printed thousands of metal-oxide catalysts on plates and measured the
# overpotential of the oxygen evolution reaction (OER) for every one of them; **lower is
# better**. Because every candidate has already been measured, a campaign can be *simulated*:
# the model proposes experiments, a lookup table plays the lab, and we can count how quickly
# each strategy finds the best catalysts compared with picking at random.
#
# A campaign in `discovery_loop` is **pool + model + acquisition + batch selector + oracle +
# ledger**. Each round trains the model on everything measured so far, scores the unmeasured
# candidates, picks a batch, and writes everything to a SQLite ledger in transactions (so a
# campaign killed at any moment resumes where it stopped).
#
# **Size switch.** `BDL_NOTEBOOK_SIZE=small` uses 300 candidates of one plate, 24 experiments
# and one seed (a pipeline check; with three targets the curves mean little); `full` (the
# default, and `make notebooks`) uses the whole plate of 2121 candidates, 80 experiments, two
# seeds, and the diagnostics every round.

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
# ## 1. The pool: one plate
#
# Plate 3496 spans the six metals Ni, Fe, Co, Mn, Ce and La. The descriptors of a candidate are
# simply its six metal fractions.

# %%
from bdl.data import load_rohr2020

plate = load_rohr2020(plate=3496)
elements = plate["element_system"].iloc[0].split("-")
if SMALL:
    plate = plate.sample(300, random_state=SEED).reset_index(drop=True)
print(f"{len(plate)} candidates over {', '.join(elements)}")
plate[["composition_metal_fraction", *elements, "overpotential_V"]].head()

# %%
from discovery_loop.campaign import Campaign, CampaignConfig, Goal, Pool
from discovery_loop.oracles import LookupOracle

pool = Pool.from_frame(plate, id_column="composition_metal_fraction", feature_columns=elements)
oracle = LookupOracle(plate, "composition_metal_fraction", "overpotential_V")
goal = Goal("minimize")
targets = goal.target_set(plate["overpotential_V"].to_numpy())  # the best 1 %: what "found" means
print(f"{len(targets)} targets: overpotential at most {plate['overpotential_V'].iloc[targets].max():.3f} V "
      f"(median of the plate {plate['overpotential_V'].median():.3f} V)")

# %% [markdown]
# ## 2. One campaign, round by round
#
# `CampaignConfig` holds every setting and goes into the ledger, so a campaign can be resumed
# or audited later. Round 0 is a random initial design; every later round fits an MC-dropout
# net and proposes the batch with the highest **expected improvement** (EI) below the best
# overpotential so far. `Campaign.rounds()` is a generator: one round per step.

# %%
from discovery_loop.ledger import Ledger

if SMALL:
    BUDGET, BATCH, SEEDS = 24, 6, [0]
    MODEL = {"hidden_units": [32, 32], "epochs": 60, "patience": 60, "n_passes": 30}
else:
    BUDGET, BATCH, SEEDS = 80, 10, [0, 1]
    MODEL = {}  # the campaign defaults (bdl.registry.get("model", "mc_dropout").defaults)
LEDGERS = OUT / "ledgers"
LEDGERS.mkdir(parents=True, exist_ok=True)


def config(strategy, seed):
    return CampaignConfig(target="overpotential_V", goal=goal, budget=BUDGET, batch_size=BATCH, seed=seed,
                          strategy=strategy, model="mc_dropout", model_params=MODEL, diagnose=not SMALL)


def new_ledger(name):
    path = LEDGERS / f"{name}.sqlite"
    path.unlink(missing_ok=True)  # a ledger refuses to start a second campaign
    return Ledger(path, create=True)


with new_ledger("ei_seed0") as ledger:
    campaign = Campaign(pool, oracle, ledger, config("ei", SEED), targets=targets, progress=False)
    for record in campaign.rounds():
        print(f"round {record.round} ({record.kind}): {len(record.proposals)} proposed, "
              f"{record.n_measured} measured, best so far {record.best:.3f} V")
    proposals = ledger.table("proposals")
proposals[["round", "rank", "id", "score", "mean", "std", "epistemic_std"]].tail(BATCH).round(4)

# %% [markdown]
# Every proposal is stored with the model's predictive for it (mean, std, epistemic std and the
# full mixture), so later you can ask whether the model that proposed it was honest.

# %% [markdown]
# ## 3. Strategies compared
#
# The same campaign with other acquisition functions: **UCB** (mean plus a multiple of the
# standard deviation, more exploratory), **Thompson sampling** (full size only; one draw from each
# predictive), and **random** picking, the baseline every campaign has to beat. Each campaign
# gets its own ledger.

# %%
from discovery_loop.report import campaign_summary

STRATEGIES = ["ei", "ucb", "random"] if SMALL else ["ei", "ucb", "thompson", "random"]
summaries = {}
for strategy in STRATEGIES:
    for seed in SEEDS:
        name = f"{strategy}_seed{seed}"
        if name != "ei_seed0":  # that one ran above, round by round
            with new_ledger(name) as ledger:
                Campaign(pool, oracle, ledger, config(strategy, seed), targets=targets, progress=False).run()
        with Ledger(LEDGERS / f"{name}.sqlite", lock=False) as ledger:
            summaries[name] = campaign_summary(ledger)
pd.DataFrame(summaries).T[["strategy", "n_measured", "best", "found_fraction", "experiments_to_first",
                           "acceleration_first"]]

# %% [markdown]
# Two views of the same runs. Left: the best overpotential measured so far (lower is better).
# Right: the fraction of the targets (the plate's best 1 %) found, against random picking's
# expected curve and its 90 % band. A strategy is worth its model only where its curve leaves
# the grey band.

# %%
from discovery_loop.plots import plot_best_so_far, plot_found_fraction

best = {s: [np.asarray(summaries[f"{s}_seed{k}"]["best_so_far"]) for k in SEEDS] for s in STRATEGIES}
found = {s: [np.asarray(summaries[f"{s}_seed{k}"]["found_curve"]) for k in SEEDS] for s in STRATEGIES}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
plot_best_so_far(best, ax=axes[0], target_label="overpotential (V)",
                 reference=float(plate["overpotential_V"].min()))
plot_found_fraction(found, len(pool), len(targets), ax=axes[1]);

# %% [markdown]
# ## 4. The campaign report
#
# `campaign_report` reads a ledger and writes a self-contained HTML page (plus CSV files of the
# rounds and measurements): what was found and how fast, each round's model scored on the
# proposals it made once they were measured (the calibration the lab actually relied on), and,
# when the diagnostics ran, how many candidates each round flagged.

# %%
from IPython.display import HTML
from discovery_loop.report import campaign_report

with Ledger(LEDGERS / "ei_seed0.sqlite", lock=False) as ledger:
    report_file = campaign_report(ledger, OUT / "campaign_report_ei")
print(f"written: {report_file.name} and {', '.join(p.name for p in report_file.parent.glob('*.csv'))}")
HTML(report_file.read_text(encoding="utf-8"))

# %% [markdown]
# **Things to try.** Change `goal` to `Goal("window", low=0.36, high=0.38)` with `strategy="window"`;
# switch `model="ensemble"`; add `gate="skip"` to the configuration so that candidates the
# diagnostics flag are not proposed (notebook 02 shows why); or add `noise_std=0.01` to the
# `LookupOracle` to simulate an imperfect instrument. From the command line the same campaign
# is `discovery-loop run ... --ledger PATH`, and `discovery-loop resume` continues a stopped one.
