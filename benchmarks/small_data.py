"""Learning curve on matbench_expt_gap: the toolkit's surrogates against a random forest and a GP, same run.

``python -m benchmarks.small_data [--n 50,100,...] [--models a,b] [--subsets 5] [--quick] [--tuning | --fresh SEED]``

Protocol: one fixed held-out test set of 1000 compositions (drawn with seed 2026); for each
training size n in 50, 100, 200, 500, 1000, 3000, five random training subsets of the remaining
3604 (``SeedSequence([2026, n, subset])``). Every model sees the same subsets and test rows.
Inputs are the 132 Magpie descriptors (:func:`bdl.features.featurize`); "+prior" models also
get the DFT band-gap prior's 37 features (:mod:`bdl.prior`: predicted PBE gap and metal
log-odds, the PBE gaps computed for the composition in ``matbench_mp_gap`` where it is there, and
the 32-unit embedding).

Metrics on the test set: MAE of the median (the point prediction for absolute error on a
zero-inflated target), CRPS, NLL, 90 % interval score (Gneiting & Raftery 2007, eq. 43) and
coverage, and the share of 90 % intervals whose lower end is below 0 eV.

Tuning and scoring are apart: every default of the recommended surrogate was chosen on other
draws (development test permutation seed 0 and training subsets seeded 100-102), never on the
draws scored here. ``--tuning`` runs those development draws (three subsets, 100-102) and
writes ``results/small_data_tuning.md`` / ``.json``.

Results: ``results/small_data.md`` / ``.json``; finished (model, n, subset) cells are cached in
``results/small_data/`` so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

import numpy as np

from benchmarks._common import RESULTS, write_result

SEED = 2026
#: Development draws on which the recommended surrogate's defaults are chosen: test permutation
#: seed and training-subset seeds (the scored draws use SEED and subsets 0, 1, ...).
TUNING_PERMUTATION_SEED = 0
TUNING_SUBSETS = (100, 101, 102)
N_TEST = 1000
SIZES = (50, 100, 200, 500, 1000, 3000)
LEVEL = 0.9


# ---------------------------------------------------------------------------------------- peers
def _rf(prior: bool) -> Callable[[int], Any]:
    return lambda seed: _RandomForestPeer(prior, seed)


class _RandomForestPeer:
    """scikit-learn's random forest (500 trees): median of trees as the point prediction, the
    trees' 5 / 95 % quantiles as the 90 % interval, and N(mean, tree std) for NLL and CRPS."""

    def __init__(self, prior: bool, seed: int) -> None:
        self.prior, self.seed = prior, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> _RandomForestPeer:
        from sklearn.ensemble import RandomForestRegressor

        self.model = RandomForestRegressor(500, n_jobs=2, random_state=self.seed).fit(_maybe_prior(X, self.prior), y)
        return self

    def predict_all(self, X: np.ndarray) -> dict[str, np.ndarray]:
        trees = np.stack([t.predict(_maybe_prior(X, self.prior)) for t in self.model.estimators_])
        lo, hi = np.quantile(trees, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
        return {"median": np.median(trees, axis=0), "mean": trees.mean(axis=0),
                "std": np.maximum(trees.std(axis=0), 1e-3), "lower": lo, "upper": hi}


class _GPPeer:
    """scikit-learn's GaussianProcessRegressor, ARD Matern-5/2 + white noise, normalised targets."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> _GPPeer:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        self.mean_, std = X.mean(axis=0), X.std(axis=0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        kernel = ConstantKernel() * Matern(np.ones(X.shape[1]), (1e-2, 1e4), nu=2.5) + WhiteKernel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.seed).fit(
                (X - self.mean_) / self.std_, y)
        return self

    def predict_all(self, X: np.ndarray) -> dict[str, np.ndarray]:
        from scipy.stats import norm

        mu, sd = self.model.predict((X - self.mean_) / self.std_, return_std=True)
        sd = np.maximum(sd, 1e-3)
        z = norm.ppf((1 + LEVEL) / 2)
        return {"median": mu, "mean": mu, "std": sd, "lower": mu - z * sd, "upper": mu + z * sd}


def _maybe_prior(X: np.ndarray, prior: bool) -> np.ndarray:
    if not prior:
        return X
    from bdl.prior import load_dft_gap_prior

    return np.column_stack([X, load_dft_gap_prior().transform(X).to_numpy()])


# ---------------------------------------------------------------------------------------- toolkit
class _Toolkit:
    """A toolkit model; metrics come from its predictive object."""

    def __init__(self, factory: Callable[[int], Any], seed: int) -> None:
        self.model = factory(seed)

    def fit(self, X: Any, y: np.ndarray) -> _Toolkit:
        self.model.fit(X, y)
        return self

    def predict_all(self, X: Any) -> Any:
        return self.model.predict_dist(X)


def _models(quick: bool) -> dict[str, tuple[str, Callable[[int], Any]]]:
    from bdl.models import DeepEnsembleRegressor, MCDropoutRegressor, WithDFTPrior, make_model, recommended

    e = dict(epochs=5) if quick else {}
    return {
        "recommended": ("toolkit", lambda s: recommended(lower_bound=0.0, random_state=s)),
        "recommended_no_trees": ("toolkit", lambda s: make_model("prior_gp", lower_bound=0.0, tree_features=False,
                                                                 random_state=s)),
        "mc_dropout": ("toolkit", lambda s: MCDropoutRegressor(random_state=s, progress=False, **e)),
        "mc_dropout+prior": ("toolkit", lambda s: WithDFTPrior("mc_dropout", dict(e), random_state=s, progress=False)),
        "ensemble": ("toolkit", lambda s: DeepEnsembleRegressor(random_state=s, progress=False, **e)),
        "ensemble+prior": ("toolkit", lambda s: WithDFTPrior("ensemble", dict(e), random_state=s, progress=False)),
        "rf": ("peer", _rf(False)),
        "rf+prior": ("peer", _rf(True)),
        "gp": ("peer", lambda s: _GPPeer(s)),
    }


DESCRIPTION = {
    "recommended": "bdl.models.recommended(lower_bound=0): PriorGPRegressor, additive GP on DFT-prior outputs, "
                   "embedding and Magpie (from 500 rows also two random forests' cross-fitted predictions); hurdle "
                   "(GP classifier for P(0 eV)); bounded predictive",
    "recommended_no_trees": "the same without the forests' predictions (tree_features=False; identical to "
                            "recommended below 500 rows)",
    "mc_dropout": "MCDropoutRegressor() defaults (256-128, dropout 0.1, heteroscedastic, T=100)",
    "mc_dropout+prior": "the same on Magpie + the 37 DFT-prior features (WithDFTPrior)",
    "ensemble": "DeepEnsembleRegressor() defaults (5 heteroscedastic 256-128 nets)",
    "ensemble+prior": "the same on Magpie + the 37 DFT-prior features (WithDFTPrior)",
    "rf": "peer: sklearn RandomForestRegressor(500) on Magpie; median of trees, 5/95 % tree quantiles, N(mean, tree std)",
    "rf+prior": "peer: the same on Magpie + the 37 DFT-prior features",
    "gp": "peer: sklearn GaussianProcessRegressor, ARD Matern-5/2 + white noise on standardised Magpie",
}


# ---------------------------------------------------------------------------------------- metrics
def _score(out: Any, y: np.ndarray) -> dict[str, float]:
    from bdl.calibration import metrics as M
    from bdl.predictive import GaussianPredictive

    if isinstance(out, dict):  # a peer: Gaussian for NLL / CRPS, its own interval
        gauss = GaussianPredictive(out["mean"], out["std"])
        median, lo, hi = out["median"], out["lower"], out["upper"]
        nll, crps = M.nll(y, gauss), M.crps(y, gauss)
    else:
        median = out.quantile(0.5)
        lo, hi = out.interval(LEVEL)
        nll, crps = M.nll(y, out), M.crps(y, out)
    alpha = 1 - LEVEL
    width = hi - lo
    penalty = 2 / alpha * ((lo - y) * (y < lo) + (y - hi) * (y > hi))
    point = width <= 1e-9  # a [0, 0] interval: the model is more than 95 % sure of a metal
    return {
        "mae": float(np.mean(np.abs(median - y))),
        "crps": float(crps),
        "nll": float(nll),
        "interval_score": float(np.mean(width + penalty)),
        "coverage": float(np.mean((y >= lo) & (y <= hi))),
        "below_bound": float(np.mean(lo < 0.0)),
        # the interval score split: mean width, mean penalty, and the part of the penalty paid by
        # zero-width intervals, with their share of the test rows
        "interval_width": float(np.mean(width)),
        "interval_penalty": float(np.mean(penalty)),
        "penalty_zero_width": float(np.mean(penalty * point)),
        "zero_width_share": float(np.mean(point)),
    }


def _data(permutation_seed: int = SEED) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    from bdl.data import load_matbench_expt_gap
    from bdl.features import featurize

    df = load_matbench_expt_gap(check_formulas=False)
    X = featurize(df["composition"])
    y = df["gap_expt_eV"].to_numpy(np.float64)
    order = np.random.default_rng(permutation_seed).permutation(len(y))
    return X, y, order[:N_TEST], order[N_TEST:]


def _subset(rest: np.ndarray, n: int, s: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([SEED, n, s]))
    return np.sort(rng.choice(rest, n, replace=False))


def _draws(tuning: bool, fresh: int | None, subsets: int) -> tuple[int, list[int], str]:
    """(test permutation seed, subset numbers, result-name suffix) of the scored split, the
    development draws (``tuning``) or a fresh split (``fresh``: its permutation seed)."""
    if tuning:
        return TUNING_PERMUTATION_SEED, list(TUNING_SUBSETS), "_tuning"
    if fresh is not None:
        return fresh, list(range(subsets)), f"_fresh{fresh}"
    return SEED, list(range(subsets)), ""


def run(models: list[str], sizes: list[int], subsets: int, quick: bool, table_only: bool = False,
        tuning: bool = False, fresh: int | None = None) -> dict[str, Any]:
    """Score every (model, n, subset) cell of the draws :func:`_draws` names."""
    permutation_seed, subset_ids, suffix = _draws(tuning, fresh, subsets)
    X, y, test, rest = _data(permutation_seed)
    table = _models(quick)
    out_dir = RESULTS / f"small_data{suffix}"
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = []
    for n in sizes:
        for s in subset_ids:
            train = _subset(rest, n, s)
            for name in models:
                cache = out_dir / f"{name}_n{n}_s{s}{'_quick' if quick else ''}.json"
                if cache.exists():
                    cells.append(json.loads(cache.read_text()))
                    continue
                if table_only:
                    continue
                kind, factory = table[name]
                seed = int(np.random.SeedSequence([SEED, n, s, 1]).generate_state(1)[0] % 2**31)
                t0 = time.perf_counter()
                if kind == "toolkit":
                    m = _Toolkit(factory, seed).fit(X.iloc[train], y[train])
                    fit_s = time.perf_counter() - t0
                    out = m.predict_all(X.iloc[test])
                else:
                    m = factory(seed).fit(X.iloc[train].to_numpy(), y[train])
                    fit_s = time.perf_counter() - t0
                    out = m.predict_all(X.iloc[test].to_numpy())
                cell = {"model": name, "n": n, "subset": s, "fit_seconds": round(fit_s, 2), **_score(out, y[test])}
                cache.write_text(json.dumps(cell))
                cells.append(cell)
                print(f"n={n} subset={s} {name}: MAE {cell['mae']:.3f}, IS {cell['interval_score']:.2f}, "
                      f"cov {cell['coverage']:.2f}, {fit_s:.1f} s", flush=True)
    return {"cells": cells}


def _markdown(cells: list[dict[str, Any]], models: list[str], sizes: list[int]) -> tuple[str, dict[str, Any]]:
    import pandas as pd

    df = pd.DataFrame(cells)
    keys = ["mae", "crps", "nll", "interval_score", "coverage", "below_bound", "fit_seconds"]
    g = df.groupby(["n", "model"])[keys]
    mean, se, count = g.mean(), g.sem(), df.groupby(["n", "model"]).size()
    lines = ["# Small data: matbench_expt_gap learning curve, toolkit against random forest and GP", "", "{{STAMP}}",
             __doc__.split("\n\n", 1)[1].split("Results:")[0].strip(), "", "## Models", ""]
    lines += [f"- `{m}`: {DESCRIPTION[m]}" for m in models]
    lines += ["", "Rows with fewer than five subsets ran out of machine time (the networks, and the GP peer, "
              "whose 132 ARD length-scales take minutes per fit above 200 rows); their subsets are the first ones "
              "of the same draws. Mean ± standard error over subsets.", "", "NLL mixes kinds: the recommended model's predictive puts a probability (not a density) on "
              "0 eV, so its NLL at metals is -log P(metal); compare NLL between Gaussian models only, and use "
              "CRPS and the interval score (proper in the same units for every kind) across kinds.", ""]
    floors: dict[str, Any] = {}
    for n in sizes:
        lines += [f"## n = {n}", "", "| model | subsets | MAE (median) | CRPS | NLL | 90 % interval score | 90 % coverage | "
                  "intervals below 0 eV | fit s |", "|---|---|---|---|---|---|---|---|---|"]
        for m in models:
            if (n, m) not in mean.index:
                continue
            r, e = mean.loc[(n, m)], se.loc[(n, m)]
            lines.append(
                f"| {m} | {count.loc[(n, m)]} | {r.mae:.3f} ± {e.mae:.3f} | {r.crps:.3f} | {r.nll:.2f} | {r.interval_score:.2f} ± "
                f"{e.interval_score:.2f} | {r.coverage:.3f} | {r.below_bound:.3f} | {r.fit_seconds:.1f} |")
        if (n, "recommended") in mean.index and (n, "rf") in mean.index:
            rec, rf = mean.loc[(n, "recommended")], mean.loc[(n, "rf")]
            floors[str(n)] = {
                "mae_beats_rf": bool(rec.mae < rf.mae),
                "interval_score_beats_rf": bool(rec.interval_score < rf.interval_score),
                "coverage_in_0.85_0.95": bool(0.85 <= rec.coverage <= 0.95),
                "no_interval_below_bound": bool(rec.below_bound == 0.0),
            }
            if (n, "rf+prior") in mean.index:
                rfp = mean.loc[(n, "rf+prior")]
                floors[str(n)]["mae_beats_rf_prior"] = bool(rec.mae < rfp.mae)
                floors[str(n)]["interval_score_beats_rf_prior"] = bool(rec.interval_score < rfp.interval_score)
        lines.append("")
    split = ["interval_width", "interval_penalty", "penalty_zero_width", "zero_width_share"]
    if all(k in df.columns for k in split):
        sm = df.dropna(subset=split).groupby(["n", "model"])[split].mean()
        lines += ["## Where the 90 % interval score comes from", "",
                  "Interval score = mean width + mean penalty (20 times the distance of a value outside its "
                  "interval). Zero-width intervals are [0, 0]: the model is more than 95 % sure of a metal, and an "
                  "insulator there pays 20 times its gap. Only cells scored since this split was added.", "",
                  "| n | model | width | penalty | penalty on zero-width intervals | zero-width intervals |",
                  "|---|---|---|---|---|---|"]
        for (n, m), r in sm.iterrows():
            if m in models and n in sizes:
                lines.append(f"| {n} | {m} | {r.interval_width:.2f} | {r.interval_penalty:.2f} | "
                             f"{r.penalty_zero_width:.2f} | {r.zero_width_share:.3f} |")
        lines.append("")
    lines += ["## Floors (issue 12), recommended surrogate", "", "| n | MAE < RF | IS < RF | coverage in [0.85, 0.95] | "
              "no interval below 0 | MAE < RF+prior | IS < RF+prior |", "|---|---|---|---|---|---|---|"]
    for n, f in floors.items():
        yes = lambda b: "yes" if b else "**no**"  # noqa: E731
        lines.append(f"| {n} | {yes(f['mae_beats_rf'])} | {yes(f['interval_score_beats_rf'])} | "
                     f"{yes(f['coverage_in_0.85_0.95'])} | {yes(f['no_interval_below_bound'])} | "
                     f"{yes(f.get('mae_beats_rf_prior', False))} | {yes(f.get('interval_score_beats_rf_prior', False))} |")
    summary = {f"{n}/{m}": {k: float(mean.loc[(n, m)][k]) for k in keys} for (n, m) in mean.index}
    return "\n".join(lines) + "\n", {"summary": summary, "floors": floors}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default=",".join(str(n) for n in SIZES))
    parser.add_argument("--models", default=",".join(_models(False)))
    parser.add_argument("--subsets", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two sizes, one subset, 5-epoch networks")
    parser.add_argument("--table-only", action="store_true", help="tabulate the cached cells, compute nothing")
    parser.add_argument("--tuning", action="store_true",
                        help="the development draws (test permutation seed 0, subsets 100-102), not the scored ones")
    parser.add_argument("--fresh", type=int, default=None, metavar="SEED",
                        help="a fresh split: test set drawn with this permutation seed (not 0 or 2026), subsets of "
                             "its own rest; checks that floors met on the scored split are not an accident of it")
    args = parser.parse_args(argv)
    if args.fresh is not None and (args.tuning or args.fresh in (SEED, TUNING_PERMUTATION_SEED)):
        raise SystemExit(f"--fresh needs a seed other than {SEED} and {TUNING_PERMUTATION_SEED}, without --tuning")
    sizes = [50, 100] if args.quick else [int(n) for n in args.n.split(",")]
    subsets = 1 if args.quick else args.subsets
    models = args.models.split(",")
    unknown = sorted(set(models) - set(_models(False)))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {list(_models(False))}")
    result = run(models, sizes, subsets, args.quick, args.table_only, args.tuning, args.fresh)
    md, extra = _markdown(result["cells"], models, sizes)
    permutation_seed, subset_ids, suffix = _draws(args.tuning, args.fresh, subsets)
    name = ("small_data_quick" if args.quick else "small_data") + suffix
    protocol: dict[str, Any] = {"seed": SEED, "n_test": N_TEST, "sizes": sizes, "subsets": subsets}
    if args.tuning or args.fresh is not None:
        protocol = {"test_permutation_seed": permutation_seed, "n_test": N_TEST, "sizes": sizes,
                    "subsets": subset_ids if args.tuning else subsets}
    if args.tuning:
        md = md.replace("# Small data:", "# Small data, development (tuning) draws:", 1)
    elif args.fresh is not None:
        md = md.replace("# Small data:", f"# Small data, fresh split (test permutation seed {args.fresh}; scored once):", 1)
        md = md.replace("(drawn with seed 2026)", f"(drawn with seed {args.fresh}, not the scored split's 2026)", 1)
    path = write_result(name, {"protocol": protocol,
                               **extra, "cells": result["cells"]}, md)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
