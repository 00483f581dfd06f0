"""Diagnostics on synthetic truth at campaign scale: false alarms and detection on fresh draws.

Data with a known answer, x ~ U(-1, 1)^4, f(x) = sin(2 x_0) + 0.5 x_1, noise width sigma = 0.3:

``clean``       f(x) + sigma noise: every flag is a false alarm
``two_regime``  where x_0 > 0 the target is f(x) +- s sigma / 2, the sign a hidden coin (two phases
                from one recipe), s = 3, 4.5 or 6.5 noise widths; where x_0 <= 0 it is clean

For every data set of n training rows (n = 30, 60, 150, 500: what a campaign has) the benchmark
fits what a campaign fits each round: the diagnostics MDN (the registry entry ``mdn``'s defaults)
and MC dropout as the Gaussian BNN (``mc_dropout``'s defaults), runs the held-out tests of
:func:`bdl.diagnostics.heldout_evidence` (5 folds; the MDN against the same net with one
component: the kurtosis of the one-Gaussian residuals on the half of each fold's held-out rows
where it predicts the widest spread, at alpha / 10, backs "bimodal"; a t-test of the mean
held-out log-score gain, capped at 3 nats per row, beyond 0.1 nats per row, at alpha / 2,
backs "misspecified") and triages 300 fresh in-range candidates twice: with the evidence (the
verdict of issue 13) and without it (the per-candidate MDN reading alone, the old verdict).

Protocol (issue 13): nothing is tuned on the draws that are scored. Every setting of the test
(5 folds, the widest-spread half, the levels alpha / 10 and alpha / 2, the 0.1-nat margin and the
3-nat cap, ``min_n = 100``) and the triage thresholds (:class:`bdl.diagnostics.TriageThresholds`
defaults) were fixed on tuning draws from generator seeds 1000-1011 (fold fits cached and
re-read for every candidate setting); the scoring draws use generator seeds 3000 + k, never used
for anything else, and are scored once. (Seeds 2000-2003 scored an earlier version of the test,
the sign test plus an all-rows kurtosis test at 3 folds; having been looked at, they are not
reused.)

Run: ``nice -n 10 python -m benchmarks.diagnostics_synthetic [--seeds 3] [--phase score|tune]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import write_result

SIGMA = 0.3
N_CAND = 300
SIZES = (30, 60, 150, 500)
SEPARATIONS = (3.0, 4.5, 6.5)
#: First generator seed of each phase: tuning draws A, scoring draws B.
PHASE_SEED = {"tune": 1000, "score": 3000}
#: Folds of the held-out test (the campaign's ``EVIDENCE_FOLDS`` should match).
N_FOLDS = 5


def _f(X: np.ndarray) -> np.ndarray:
    return np.sin(2 * X[:, 0]) + 0.5 * X[:, 1]


def make_data(sep: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, 4), y (n,), and the mask of rows in the two-phase region (all False when sep = 0)."""
    X = rng.uniform(-1, 1, size=(n, 4))
    y = _f(X) + rng.normal(size=n) * SIGMA
    region = X[:, 0] > 0 if sep > 0 else np.zeros(n, dtype=bool)
    coin = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return X, y + region * coin * sep * SIGMA / 2, region


def _settings() -> tuple[dict[str, Any], dict[str, Any]]:
    """The campaign's diagnostics MDN and ``mc_dropout`` settings (their entries in :mod:`bdl.registry`)."""
    from bdl import registry

    mdn, bnn = dict(registry.get("model", "mdn").defaults), dict(registry.get("model", "mc_dropout").defaults)
    fix = {"hidden_units": tuple}
    return ({k: fix.get(k, lambda v: v)(v) for k, v in mdn.items()},
            {k: fix.get(k, lambda v: v)(v) for k, v in bnn.items()})


def run_one(sep: float, n: int, seed: int) -> dict[str, Any]:
    from bdl.diagnostics import heldout_evidence, triage
    from bdl.models import MCDropoutRegressor, MixtureDensityRegressor

    rng = np.random.default_rng([seed, int(10 * sep), n])
    X, y, _ = make_data(sep, n, rng)
    Xc, _, region = make_data(sep, N_CAND, rng)
    t0 = time.perf_counter()
    mdn_settings, bnn_settings = _settings()
    mdn = MixtureDensityRegressor(**mdn_settings, random_state=seed, progress=False)
    ev = heldout_evidence(X, y, mdn, n_folds=N_FOLDS, seed=seed)
    mdn.fit(X, y)
    bnn = MCDropoutRegressor(**bnn_settings, random_state=seed, progress=False).fit(X, y)
    bp, mp = bnn.predict_dist(Xc), mdn.predict_dist(Xc)
    with_ev = triage(bp, mp, evidence=ev)["status"].astype(str).to_numpy()
    without = triage(bp, mp)["status"].astype(str).to_numpy()
    flagged = np.isin(with_ev, ["bimodal", "misspecified"])
    flagged_old = np.isin(without, ["bimodal", "misspecified"])
    clean_rows = ~region
    return dict(
        sep=sep, n=n, seed=seed, seconds=time.perf_counter() - t0,
        decision=ev.decision, gain=ev.gain, win_share=ev.win_share, p_value=ev.p_value, kurtosis=ev.kurtosis,
        kurtosis_p=ev.kurtosis_p, spread_kurtosis=ev.spread_kurtosis, spread_kurtosis_p=ev.spread_kurtosis_p,
        two_outcomes=ev.supports_bimodal, shape=ev.supports_misspecified,
        flag_clean=float(flagged[clean_rows].mean()),
        unsure_clean=float((with_ev[clean_rows] == "unsure").mean()),
        flag_clean_old=float(flagged_old[clean_rows].mean()),
        bimodal_two=float((with_ev[region] == "bimodal").mean()) if region.any() else np.nan,
        bimodal_two_old=float((without[region] == "bimodal").mean()) if region.any() else np.nan,
    )


# ------------------------------------------------------------------ tuning: the variants compared
#: Tuning cells (separation, n) -> generator seeds, for ``--variants``.
TUNE_CELLS: dict[tuple[float, int], range] = {
    (0.0, 30): range(1000, 1005), (0.0, 60): range(1000, 1005), (0.0, 150): range(1000, 1011),
    (0.0, 500): range(1000, 1012), (6.5, 150): range(1000, 1005), (6.5, 500): range(1000, 1005)}


def fold_fits(sep: float, n: int, seed: int, n_folds: int, cache: Any = None) -> dict[str, np.ndarray]:
    """The held-out predictions :func:`bdl.diagnostics.heldout_evidence` makes (same data, folds and
    seeds as :func:`run_one`), as arrays; read from / written to ``cache`` (a folder of .npz)."""
    from pathlib import Path

    path = None if cache is None else Path(cache) / f"{sep}_{n}_{seed}_{n_folds}.npz"
    if path is not None and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    from bdl.diagnostics.modes import mixture_arrays
    from bdl.models import MixtureDensityRegressor

    rng = np.random.default_rng([seed, int(10 * sep), n])
    X, y, _ = make_data(sep, n, rng)
    mdn_settings, _ = _settings()
    fold = np.random.default_rng(seed).permutation(np.arange(n) % n_folds)
    seeds = np.random.SeedSequence(int(seed)).generate_state(2 * n_folds)
    out = {"y": y, "fold": fold, "w": np.empty((n, mdn_settings["n_components"])), "loc": None, "scale": None,
           "ref_mean": np.empty(n), "ref_sd": np.empty(n)}
    out["loc"], out["scale"] = np.empty_like(out["w"]), np.empty_like(out["w"])
    for k in range(n_folds):
        te = fold == k
        mix = MixtureDensityRegressor(**mdn_settings, random_state=int(seeds[2 * k] % 2**31), progress=False)
        ref = MixtureDensityRegressor(**{**mdn_settings, "n_components": 1}, random_state=int(seeds[2 * k + 1] % 2**31),
                                      progress=False)
        out["w"][te], out["loc"][te], out["scale"][te] = mixture_arrays(mix.fit(X[~te], y[~te]).predict_dist(X[te]))
        rp = ref.fit(X[~te], y[~te]).predict_dist(X[te])
        out["ref_mean"][te], out["ref_sd"][te] = np.asarray(rp.mean), np.asarray(rp.stddev)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    return out


def variant_pvalues(f: dict[str, np.ndarray]) -> dict[str, float]:
    """p-values of the candidate statistics on one data set's held-out predictions."""
    from scipy.special import logsumexp
    from scipy.stats import binomtest
    from scipy.stats import t as student_t

    from bdl.diagnostics.evidence import _kurtosis_test, widest_spread_rows

    y, w, loc, sc = f["y"], f["w"], f["loc"], f["scale"]
    lp_mix = logsumexp(np.log(np.maximum(w, 1e-300)) - 0.5 * np.log(2 * np.pi * sc**2)
                       - 0.5 * ((y[:, None] - loc) / sc) ** 2, axis=1)
    lp_ref = -0.5 * np.log(2 * np.pi * f["ref_sd"] ** 2) - 0.5 * ((y - f["ref_mean"]) / f["ref_sd"]) ** 2
    g = np.maximum(lp_mix, -50.0) - np.maximum(lp_ref, -50.0)
    r = y - f["ref_mean"]

    def t_p(d: np.ndarray, margin: float) -> float:
        return float(student_t.sf((d.mean() - margin) / (d.std(ddof=1) / np.sqrt(d.size)), d.size - 1))

    return {
        "kurt_all": _kurtosis_test(r)[1],
        "kurt_wide_half": _kurtosis_test(r[widest_spread_rows(f["ref_sd"], f["fold"], 0.5)])[1],
        "kurt_wide_quarter": _kurtosis_test(r[widest_spread_rows(f["ref_sd"], f["fold"], 0.25)])[1],
        "sign": float(binomtest(int(np.sum(g > 0)), g.size, 0.5, alternative="greater").pvalue),
        "t_0": t_p(g, 0.0), "t_0.1": t_p(g, 0.1), "t_0.1_cap3": t_p(np.clip(g, -3, 3), 0.1),
        "gain": float(g.mean()),
    }


def tune_variants(cache: Any = None) -> dict[str, Any]:
    """Compare the candidate statistics on the tuning draws (3 and 5 folds); writes ``diagnostics_synthetic_tune``."""
    rows = []
    for (sep, n), seeds in TUNE_CELLS.items():
        for seed in seeds:
            for nf in (3, 5):
                if nf == 3 and seed > 1004:
                    continue
                pv = variant_pvalues(fold_fits(sep, n, seed, nf, cache))
                rows.append({"sep": sep, "n": n, "seed": seed, "folds": nf, **pv})
    df = pd.DataFrame(rows)
    stats = ["kurt_all", "kurt_wide_half", "kurt_wide_quarter", "sign", "t_0", "t_0.1", "t_0.1_cap3"]
    levels = {"kurt_all": 0.025, "kurt_wide_half": 0.005, "kurt_wide_quarter": 0.005, "sign": 0.025, "t_0": 0.025,
              "t_0.1": 0.025, "t_0.1_cap3": 0.025}
    lines = ["# Diagnostics on synthetic truth: tuning draws (the variants compared)", "", "{{STAMP}}",
             "Tuning draws only (generator seeds 1000-1011; never scored). Each cell: the number of data sets whose "
             "statistic rejected one Gaussian at the level in brackets, of all data sets, and the smallest p-value "
             "(for two-phase data: the largest, i.e. the weakest detection). The statistics, on the held-out rows of "
             "a k-fold split (the MDN and its one-component copy refitted per fold): `kurt_all` = low kurtosis of the "
             "one-Gaussian residuals on all rows (the previous test); `kurt_wide_half` / `kurt_wide_quarter` = the "
             "same on the half / quarter of each fold's rows where the one-Gaussian fit predicts the widest spread "
             "(chosen); `sign` = sign test of the per-row log-score gains (previous); `t_0` / `t_0.1` = t-test of "
             "the mean gain beyond 0 / 0.1 nats per row; `t_0.1_cap3` = the same with every row's gain capped at "
             "3 nats (chosen). The choice was made on these numbers before any scoring draw (seeds 3000+) was "
             "generated; the date above is when this table was last written from the cached fold fits.", ""]
    for nf in (3, 5):
        sub = df[df.folds == nf]
        lines += [f"**{nf} folds**", "", "| separation | n | data sets | " + " | ".join(
            f"{s} ({levels[s]:g})" for s in stats) + " | mean gain (max) |",
                  "|---:|---:|---:|" + "---:|" * (len(stats) + 1)]
        for (sep, n), cell in sub.groupby(["sep", "n"]):
            cells = []
            for s in stats:
                k = int((cell[s] < levels[s]).sum())
                extreme = cell[s].max() if sep > 0 else cell[s].min()
                cells.append(f"{k} / {len(cell)} ({'max' if sep > 0 else 'min'} {extreme:.4f})")
            lines.append(f"| {sep:g} | {n} | {len(cell)} | " + " | ".join(cells)
                         + f" | {cell.gain.mean():+.3f} ({cell.gain.max():+.3f}) |")
        lines.append("")
    lines += ["Choice: 5 folds; bimodal backed by `kurt_wide_half` at 0.5 % (alpha / 10), misspecified by "
              "`t_0.1_cap3` at 2.5 % (alpha / 2). Fold fits: `python -m benchmarks.diagnostics_synthetic --variants "
              "[--cache DIR]`.", ""]
    payload = {"rows": df.to_dict(orient="records"), "levels": levels,
               "cells": {f"{k[0]}_{k[1]}": list(v) for k, v in TUNE_CELLS.items()}}
    path = write_result("diagnostics_synthetic_tune", payload, "\n".join(lines))
    print("\n".join(lines[3:]))
    print(f"wrote {path}")
    return payload


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="data sets per (scenario, n)")
    ap.add_argument("--phase", choices=sorted(PHASE_SEED), default="score")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--first", type=int, default=0, help="first data-set index (to split a run over processes)")
    ap.add_argument("--name", default=None, help="results file name (default diagnostics_synthetic[_tune])")
    ap.add_argument("--variants", action="store_true",
                    help="compare the candidate statistics on the tuning draws (writes diagnostics_synthetic_tune)")
    ap.add_argument("--cache", default=None, help="folder for the fold fits of --variants (.npz, reused)")
    ap.add_argument("--merge", default=None,
                    help="comma-separated results names of partial runs (--first/--name) to combine; fits nothing")
    args = ap.parse_args(argv)
    if args.variants:
        return tune_variants(args.cache)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = PHASE_SEED[args.phase]
    configs = [(0.0, n) for n in sizes] + [(s, n) for s in SEPARATIONS for n in sizes if n >= 150]
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    merged_seconds = 0.0
    if args.merge:
        import json

        from benchmarks._common import RESULTS

        for part in args.merge.split(","):
            data = json.loads((RESULTS / f"{part}.json").read_text())
            rows += data["rows"]
            merged_seconds += float(data["total_seconds"])
        seeds_used = sorted({int(r["seed"]) for r in rows})
        args.first, args.seeds = seeds_used[0] - base, len(seeds_used)
    for k in ([] if args.merge else range(args.first, args.first + args.seeds)):
        for sep, n in configs:
            r = run_one(sep, n, base + k)
            rows.append(r)
            print(f"seed {base + k} sep {sep} n {n}: {r['decision']:13s} gain {r['gain']:+.3f} (p {r['p_value']:.3f}), "
                  f"widest-spread kurtosis {r['spread_kurtosis']:.2f} (p {r['spread_kurtosis_p']:.4f}); "
                  f"clean flagged {r['flag_clean']:.1%} (old {r['flag_clean_old']:.1%}); two-phase bimodal "
                  f"{r['bimodal_two']:.1%} (old {r['bimodal_two_old']:.1%}) [{r['seconds']:.0f} s]", flush=True)
    df = pd.DataFrame(rows)
    agg = df.groupby(["sep", "n"]).agg(
        fits=("seed", "size"), rejected=("decision", lambda d: float(np.mean(d == "supported"))),
        unsure_fits=("decision", lambda d: float(np.mean(d == "unsure"))),
        two_outcomes=("two_outcomes", "mean"),
        flag_clean=("flag_clean", "mean"), flag_clean_max=("flag_clean", "max"), unsure_clean=("unsure_clean", "mean"),
        flag_clean_old=("flag_clean_old", "mean"), bimodal_two=("bimodal_two", "mean"),
        bimodal_two_old=("bimodal_two_old", "mean"), gain=("gain", "mean")).reset_index()
    clean = agg[agg.sep == 0].set_index("n")
    two = agg[agg.sep > 0].set_index(["sep", "n"])
    floors = {
        "clean_le_5pct_every_n": bool((clean["flag_clean"] <= 0.05).all()),
        "sep6.5_n150_ge_70pct": bool(two["bimodal_two"].get((6.5, 150), np.nan) >= 0.70),
        "sep6.5_n500_ge_90pct": bool(two["bimodal_two"].get((6.5, 500), np.nan) >= 0.90),
    }
    total = time.perf_counter() - t_start + merged_seconds

    def pct(v: float) -> str:
        return "—" if not np.isfinite(v) else f"{v:.1%}"

    lines = ["# Diagnostics on synthetic truth at campaign scale", "", "{{STAMP}}",
             f"Phase **{args.phase}** (generator seeds {base + args.first}-{base + args.first + args.seeds - 1}); {args.seeds} data sets per "
             f"(scenario, n); {N_CAND} fresh in-range candidates each; noise width sigma = {SIGMA}.", "",
             "**Protocol.** Tuning draws A (generator seeds 1000-1011) and scoring draws B (seeds 3000+) never "
             "overlap. Everything the verdict depends on (held-out tests, 5 folds: the kurtosis of the one-Gaussian "
             "residuals on the half of each fold's rows where it predicts the widest spread, at alpha / 10 = 0.5 %, "
             "backs bimodal; a t-test of the mean held-out log-score gain (capped at 3 nats per row) beyond 0.1 nats "
             "per row, at alpha / 2 = 2.5 %, backs misspecified; min_n 100; the `TriageThresholds` defaults) was "
             "fixed on the tuning draws before the scoring draws were generated; a score-phase run is scored once "
             "and not used to change anything. Seeds 2000-2003 scored the previous version of the test (a sign "
             "test and an all-rows kurtosis test, 3 folds: clean data 5.6 % flagged at n = 500, two-phase "
             "detection 49.5 % at n = 150); having been looked at, they are not reused.", "",
             "Models: the campaign's diagnostics MDN (5 components, (64, 64), 300 epochs, batch 32, "
             "patience 40) and its `mc_dropout` BNN; the held-out test refits the MDN and a one-component copy on 5 "
             "folds (10 fits).", "",
             "Columns: `rejected` = share of data sets whose held-out test rejected one Gaussian (either test; "
             "`two outcomes` = the bimodal test alone); `clean flagged` = "
             "share of clean candidates (clean data, or the clean half x_0 <= 0 of two-phase data) with status "
             "bimodal or misspecified, mean and worst data set; `unsure` = share of clean candidates called unsure; "
             "`two-phase bimodal` = share of two-phase candidates (x_0 > 0) called bimodal; `old` = the same "
             "triage without the held-out evidence (the per-candidate MDN reading alone).", "",
             "| separation (noise widths) | n | data sets | rejected | two outcomes | clean flagged (mean / worst) | unsure | "
             "clean flagged, old | two-phase bimodal | two-phase bimodal, old |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for _, r in agg.iterrows():
        lines.append(f"| {r.sep:g} | {int(r.n)} | {int(r.fits)} | {pct(r.rejected)} | {pct(r.two_outcomes)} | {pct(r.flag_clean)} / "
                     f"{pct(r.flag_clean_max)} | {pct(r.unsure_clean)} | {pct(r.flag_clean_old)} | "
                     f"{pct(r.bimodal_two)} | {pct(r.bimodal_two_old)} |")
    lines += ["", "Floors (issue 13), on these scoring draws: clean data <= 5 % flagged at every n: "
              f"**{'met' if floors['clean_le_5pct_every_n'] else 'NOT met'}**; 6.5 widths, n = 150, >= 70 % "
              f"bimodal: **{'met' if floors['sep6.5_n150_ge_70pct'] else 'NOT met'}**; 6.5 widths, n = 500, "
              f">= 90 %: **{'met' if floors['sep6.5_n500_ge_90pct'] else 'NOT met'}**.",
              f"With {args.seeds} data sets per cell the share of fits the test rejects on clean data is measured "
              f"coarsely (one rejection in {args.seeds} is {1 / args.seeds:.0%}); the false-alarm rate of the test itself is tested on 240 "
              "clean data sets per case (n = 30 and 150, homo- and heteroscedastic references) in "
              "`tests/test_diagnostics_evidence.py` with fast linear models.",
              "The floors concern clean data sets (separation 0). In two-phase data the `clean flagged` column is the "
              "clean half x_0 <= 0: once a test rejects, every candidate the MDN reads as bimodal counts, in the clean "
              "half too (the verdict is per data set; the MDN's per-candidate modes are not localised well enough at "
              "n <= 500 to tell the halves apart, and cutting candidates by predicted spread cost detection on the "
              "tuning draws). That is a known weakness, not a false alarm on clean data.",
              "The variants compared on the tuning draws, with the figures that chose this test: "
              "`diagnostics_synthetic_tune.md` (`--variants`).",
              "", f"Whole benchmark {total / 60:.1f} min of process time on 2 cores shared with other jobs (nice 10)"
              + (f"; merged from the partial runs {args.merge} (same code, disjoint seeds)." if args.merge else "."),
              "Sizes reduced to fit the machine: 4 data sets per cell (issue 13 asks for fresh draws, not a count).",
              ""]
    payload = {"phase": args.phase, "merged_from": args.merge, "seeds": list(range(base + args.first, base + args.first + args.seeds)), "sizes": sizes,
               "separations": list(SEPARATIONS), "n_candidates": N_CAND, "rows": df.to_dict(orient="records"),
               "table": agg.to_dict(orient="records"), "floors": floors, "total_seconds": total,
               "protocol": "tuning draws seeds 1000-1011, scoring draws seeds 3000+ (2000-2003 scored the previous test, not reused), settings fixed before scoring"}
    name = args.name or ("diagnostics_synthetic" + ("" if args.phase == "score" else "_tune"))
    path = write_result(name, payload, "\n".join(lines))
    print("\n".join(lines[3:]))
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
