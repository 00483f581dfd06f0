"""Diagnostics on real polymorphs: does the bimodal flag find compositions whose polymorphs differ?

``matbench_mp_gap`` holds several structures (polymorphs) for many compositions, and a
composition-only model cannot tell them apart: its target is genuinely multimodal where the
polymorphs' PBE gaps differ (most often a metal at exactly 0 eV next to an insulator).

Protocol (no peeking at the test split):

1. reduce every formula to its composition (element fractions); split the compositions at
   random (seeded) into train 64 %, validation 16 % and test 20 %, so no composition is in two
   parts; every polymorph row of a composition goes with it;
2. fit MC dropout (the BNN) and a mixture density network on the training rows (132 Magpie
   descriptors, one row per structure, duplicates kept: that is where the MDN sees two gaps
   for one input), and :class:`bdl.diagnostics.ReplicateSpread` on the same rows (it learns
   from the training compositions with several structures how far their gaps spread);
3. triage one row per held-out composition with :func:`bdl.diagnostics.triage`
   (``lower_bound=0``, ``replicates=`` the replicate model); the MDN-only verdict
   (``mdn_bimodal``, what triage gives without replicates) is scored too;
4. truth: the spread (max - min) of the composition's polymorph gaps; > 1.5 eV positive,
   < 0.3 eV negative, compositions with one structure or a spread in between left out;
5. scores: ROC AUC of continuous scores; balanced accuracy of the flag (status ``bimodal``)
   with the default thresholds and with thresholds tuned on the validation compositions only;
   the test numbers are computed once, at the end. The default ``min_replicate_spread``
   (0.4 eV) was chosen on the validation compositions of seed 0.

Run: ``nice -n 10 python -m benchmarks.diagnostics_polymorphs [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import write_result

POS, NEG = 1.5, 0.3
NOTE_MDN = (
    "Why the MDN alone falls short here: the descriptors are composition-only, so for a held-out composition the MDN "
    "learns p(gap | compositions like this one), and 'similar compositions are sometimes metals, sometimes "
    "insulators' looks exactly like 'this composition has a metallic and an insulating polymorph'. The MDN "
    "calls about a third of all held-out compositions bimodal (mostly metal point mass + insulator mode), and no "
    "score available to the diagnostics ranks the positives well: on the validation compositions the best "
    "(MDN total std) reaches an AUC of about 0.72, which bounds the balanced accuracy of any threshold on it "
    "near 0.67. Only 41 % of the positives contain a metal polymorph at all (the rest are insulator/insulator "
    "splits), and their BNN epistemic share is higher, not lower, than the negatives'. Reaching 0.75 needs "
    "more information than composition (structure descriptors), or a model of the polymorph spread itself: "
    "the replicate-spread model above is that model, learned from the training compositions' own polymorphs."
)


def reduced_key(formula: str) -> str:
    """Composition key: elements with their fractions rounded to 1e-6, sorted."""
    from bdl.features import parse_formula

    amounts = parse_formula(formula)
    total = sum(amounts.values())
    return " ".join(f"{el}{v / total:.6f}" for el, v in sorted(amounts.items()) if v > 0)


def composition_split(keys: pd.Series, seed: int, train_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The split of step 1: each row's part (0 train, 1 validation, 2 test) and the training rows.

    ``keys`` holds each row's :func:`reduced_key`; with ``train_rows`` the training rows are a
    seeded random subsample of that many (the same generator draws the parts, then the subsample).
    """
    comps = keys.unique()
    rng = np.random.default_rng(seed)
    part = rng.choice(3, size=len(comps), p=[0.64, 0.16, 0.20])
    row_part = keys.map(dict(zip(comps, part))).to_numpy()
    train = np.flatnonzero(row_part == 0)
    if train_rows is not None:
        train = np.sort(rng.choice(train, min(train_rows, len(train)), replace=False))
    return row_part, train


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn's, ties counted as half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(label, score))


def balanced_accuracy(flag: np.ndarray, label: np.ndarray) -> float:
    return float(0.5 * (flag[label].mean() + (~flag[~label]).mean()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from bdl.data import load_matbench_mp_gap
    from bdl.diagnostics import KNNDistance, TriageThresholds, bimodal_flag, polymorph_spread_model, triage
    from bdl.features import featurize
    from bdl.models import MCDropoutRegressor, MixtureDensityRegressor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 000 training rows, few epochs: pipeline check only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-rows", type=int, default=None,
                    help="random subsample of this many training rows (seeded), e.g. 40000")
    ap.add_argument("--dump", default=None, help="also write the validation and test triage tables here (.pkl, not committed)")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()

    df = load_matbench_mp_gap(check_formulas=False)
    keys = df["composition"].map(reduced_key)
    row_part, train_rows = composition_split(keys, args.seed, 20000 if args.quick else args.train_rows)
    X_all = featurize(df["composition"])
    y_all = df["gap_pbe_eV"].to_numpy()
    epochs = 8 if args.quick else 60
    X_tr, y_tr = X_all.iloc[train_rows], y_all[train_rows]

    t0 = time.perf_counter()
    bnn = MCDropoutRegressor(hidden_units=(256, 128), epochs=epochs, batch_size=256, learning_rate=1e-3, patience=10,
                             n_passes=50, random_state=args.seed, progress=False).fit(X_tr, y_tr)
    t_bnn = time.perf_counter() - t0
    t0 = time.perf_counter()
    mdn = MixtureDensityRegressor(n_components=8, hidden_units=(256, 128), epochs=epochs, batch_size=256,
                                  learning_rate=1e-3, patience=10, random_state=args.seed, progress=False).fit(X_tr, y_tr)
    t_mdn = time.perf_counter() - t0
    print(f"fit: MC dropout {t_bnn:.0f} s (best epoch {bnn.best_epoch_}), MDN {t_mdn:.0f} s "
          f"(best epoch {mdn.best_epoch_}, {mdn.effective_components_:.2f} effective components)", flush=True)
    ood = KNNDistance(random_state=args.seed).fit(X_tr)
    t0 = time.perf_counter()
    # the shipped polymorph prior's recipe, fitted here on this split's training rows only (the shipped
    # model has seen every composition, so it is never scored here)
    reps = polymorph_spread_model(random_state=args.seed).fit(X_tr, y_tr)
    t_rep = time.perf_counter() - t0
    print(f"replicate model: {reps.n_groups_} training compositions with >= 2 structures, {t_rep:.0f} s", flush=True)

    def held_out(which: int) -> dict[str, Any]:
        rows = np.flatnonzero(row_part == which)
        g = pd.DataFrame({"key": keys.to_numpy()[rows], "y": y_all[rows], "row": rows})
        agg = g.groupby("key", sort=True).agg(n=("y", "size"), spread=("y", lambda v: float(v.max() - v.min())),
                                              row=("row", "first"))
        Xc = X_all.iloc[agg["row"].to_numpy()]
        t1 = time.perf_counter()
        bp, mp = bnn.predict_dist(Xc), mdn.predict_dist(Xc)
        t_pred = time.perf_counter() - t1
        t1 = time.perf_counter()
        tri = triage(bp, mp, ood=ood, X_candidates=Xc, lower_bound=0.0, index=agg.index, replicates=reps)
        t_tri = time.perf_counter() - t1
        multi = agg["n"].to_numpy() >= 2
        spread = agg["spread"].to_numpy()
        pos, neg = multi & (spread > POS), multi & (spread < NEG)
        return dict(agg=agg, bnn=bp, mdn=mp, Xc=Xc, triage=tri, pos=pos, neg=neg, t_pred=t_pred, t_tri=t_tri)

    val = held_out(1)
    if args.dump:
        pd.to_pickle({"val": {k: val[k] for k in ("agg", "triage", "pos", "neg")}}, args.dump + ".val.pkl")

    def scores(tri: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            "replicate spread (ReplicateSpread, eV)": tri["replicate_spread"].to_numpy(),
            "bimodality_score (MDN between-mode std, separated modes)": tri["bimodality_score"].to_numpy(),
            "MDN between-mode std": tri["between_mode_std"].to_numpy(),
            "MDN second-mode mass": tri["second_mass"].to_numpy(),
            "MDN valley depth": tri["valley_depth"].to_numpy(),
            "MDN total std": tri["mdn_std"].to_numpy(),
            "BNN total std": tri["bnn_std"].to_numpy(),
            "BNN aleatoric std": tri["bnn_std"].to_numpy() * np.sqrt(1 - tri["epistemic_share"].to_numpy()),
            "between-mode share of the BNN variance": tri["between_mode_share"].to_numpy(),
        }

    def evaluate(d: dict[str, Any], th: TriageThresholds | None, mdn_only: bool = False) -> dict[str, Any]:
        tri = d["triage"]
        sel = d["pos"] | d["neg"]
        lab = d["pos"][sel]
        flag = bimodal_flag(tri.drop(columns="replicate_spread") if mdn_only else tri, th)[sel]
        return dict(balanced_accuracy=balanced_accuracy(flag, lab), tpr=float(flag[lab].mean()),
                    tnr=float((~flag[~lab]).mean()),
                    auc={k: roc_auc(v[sel], lab) for k, v in scores(tri).items()})

    # tune on validation compositions only: the replicate threshold (what decides with a replicate
    # model), and the MDN's mode thresholds for the MDN-only verdict
    base = TriageThresholds()
    rep_grid = []
    for spread in np.round(np.arange(0.1, 1.0001, 0.025), 3).tolist():
        ev = evaluate(val, replace(base, min_replicate_spread=spread))
        rep_grid.append(dict(min_replicate_spread=spread, val_balanced_accuracy=ev["balanced_accuracy"],
                             val_tpr=ev["tpr"], val_tnr=ev["tnr"]))
    rep_df = pd.DataFrame(rep_grid).sort_values("val_balanced_accuracy", ascending=False, kind="stable")
    tuned = replace(base, min_replicate_spread=float(rep_df.iloc[0].min_replicate_spread))
    grid = []
    for mm in (0.05, 0.1, 0.15, 0.2, 0.25):
        for depth in (0.05, 0.1, 0.2, 0.3, 0.5):
            for dmin in (2.0, 3.0, 4.0):
                th = replace(base, min_mass=mm, min_valley_depth=depth, min_ashman_d=dmin)
                ev = evaluate(val, th, mdn_only=True)
                grid.append(dict(min_mass=mm, min_valley_depth=depth, min_ashman_d=dmin,
                                 val_balanced_accuracy=ev["balanced_accuracy"], val_tpr=ev["tpr"], val_tnr=ev["tnr"]))
    grid_df = pd.DataFrame(grid).sort_values("val_balanced_accuracy", ascending=False, kind="stable")
    best = grid_df.iloc[0]
    tuned_mdn = replace(base, min_mass=float(best.min_mass), min_valley_depth=float(best.min_valley_depth),
                        min_ashman_d=float(best.min_ashman_d))
    val_default = evaluate(val, None)
    val_mdn_default = evaluate(val, None, mdn_only=True)

    # the test split, once
    test = held_out(2)
    if args.dump:
        pd.to_pickle({"test": {k: test[k] for k in ("agg", "triage", "pos", "neg")}}, args.dump + ".test.pkl")
    test_default = evaluate(test, None)
    test_tuned = evaluate(test, tuned)
    test_mdn_default = evaluate(test, None, mdn_only=True)
    test_mdn_tuned = evaluate(test, tuned_mdn, mdn_only=True)
    tri = test["triage"]
    n_pos, n_neg = int(test["pos"].sum()), int(test["neg"].sum())
    per_status = tri["status"].astype(str).value_counts().to_dict()
    total_s = time.perf_counter() - t_all

    lines = ["# Diagnostics on real polymorphs (matbench_mp_gap)", "", "{{STAMP}}",
             f"{'QUICK run (20 000 training rows, 8 epochs): pipeline check only. ' if args.quick else ''}"
             f"{len(df)} structures, {keys.nunique()} distinct compositions; split by composition (seed {args.seed}): "
             f"{len(train_rows)} training rows, {len(val['agg'])} validation and {len(tri)} test compositions. "
             f"Test truth among compositions with >= 2 structures: {n_pos} positives (gap spread > {POS} eV), "
             f"{n_neg} negatives (< {NEG} eV).", "",
             f"Models: MC dropout (256, 128), 50 passes, {t_bnn:.0f} s; MDN with 8 components (256, 128), "
             f"{t_mdn:.0f} s, {mdn.effective_components_:.2f} effective components; up to {epochs} epochs, early "
             "stopping on a validation share of the training rows. Replicate-spread model: the recipe of the shipped "
             "polymorph prior (`bdl.diagnostics.polymorph_spread_model`: log(1 + spread) target, 5 bagged boosted "
             f"ensembles) fitted on the {reps.n_groups_} training compositions with >= 2 structures of this split only, "
             f"{t_rep:.0f} s; the shipped prior itself has seen every composition and is not scored here. The "
             "default `min_replicate_spread` (0.4 eV) belongs to the plain spread target; the tuned row is the verdict.",
             "",
             "## Flag (status bimodal) on the test compositions", "",
             "| verdict | thresholds | balanced accuracy | TPR (spread > 1.5 eV flagged) | TNR (spread < 0.3 eV not flagged) |",
             "|---|---|---:|---:|---:|",
             f"| triage with the replicate model | default `min_replicate_spread={base.min_replicate_spread}` | "
             f"{test_default['balanced_accuracy']:.3f} | {test_default['tpr']:.3f} | {test_default['tnr']:.3f} |",
             f"| triage with the replicate model | tuned on validation `min_replicate_spread={tuned.min_replicate_spread}` | "
             f"{test_tuned['balanced_accuracy']:.3f} | {test_tuned['tpr']:.3f} | {test_tuned['tnr']:.3f} |",
             f"| MDN modes only (no replicate model) | defaults (synthetic benchmark) `{ {k: v for k, v in base.to_dict().items() if k in ('min_mass', 'min_valley_depth', 'min_ashman_d')} }` | "
             f"{test_mdn_default['balanced_accuracy']:.3f} | {test_mdn_default['tpr']:.3f} | {test_mdn_default['tnr']:.3f} |",
             f"| MDN modes only (no replicate model) | tuned on validation `min_mass={tuned_mdn.min_mass}, "
             f"min_valley_depth={tuned_mdn.min_valley_depth}, min_ashman_d={tuned_mdn.min_ashman_d}` | "
             f"{test_mdn_tuned['balanced_accuracy']:.3f} | {test_mdn_tuned['tpr']:.3f} | {test_mdn_tuned['tnr']:.3f} |", "",
             f"Validation balanced accuracy: with the replicate model default {val_default['balanced_accuracy']:.3f}, tuned "
             f"{float(rep_df.iloc[0].val_balanced_accuracy):.3f}; MDN only default "
             f"{val_mdn_default['balanced_accuracy']:.3f}, tuned {float(best.val_balanced_accuracy):.3f}.", "",
             "## Ranking (ROC AUC on the test compositions)", "", "| score | AUC |", "|---|---:|"]
    for k, v in test_default["auc"].items():
        lines.append(f"| {k} | {v:.3f} |")
    rep_auc = test_default["auc"]["replicate spread (ReplicateSpread, eV)"]
    floor = bool(test_tuned["balanced_accuracy"] >= 0.80 and rep_auc >= 0.88)
    lines += ["", f"Floors (issue 13: balanced accuracy of the validation-tuned flag >= 0.80, ROC AUC of the "
              f"replicate spread >= 0.88): BA {test_tuned['balanced_accuracy']:.3f}, AUC {rep_auc:.3f}: "
              f"**{'met' if floor else 'NOT met'}**; aim 0.85.", "", NOTE_MDN, "",
              f"Test triage statuses: {per_status}.", "",
              f"Timing: prediction of {len(tri)} compositions {test['t_pred']:.1f} s; triage (modes, OOD, reasons) "
              f"{test['t_tri']:.1f} s; whole benchmark {total_s / 60:.1f} min.", "",
              "## Validation grid: replicate threshold", "",
              "| min_replicate_spread (eV) | balanced accuracy | TPR | TNR |", "|---:|---:|---:|---:|"]
    for _, r in rep_df.sort_values("min_replicate_spread").iterrows():
        lines.append(f"| {r.min_replicate_spread} | {r.val_balanced_accuracy:.3f} | {r.val_tpr:.3f} | {r.val_tnr:.3f} |")
    lines += ["", "## Validation grid: MDN modes only (top 10 by balanced accuracy)", "",
              "| min_mass | min_valley_depth | min_ashman_d | balanced accuracy | TPR | TNR |", "|---:|---:|---:|---:|---:|---:|"]
    for _, r in grid_df.head(10).iterrows():
        lines.append(f"| {r.min_mass} | {r.min_valley_depth} | {r.min_ashman_d} | {r.val_balanced_accuracy:.3f} | "
                     f"{r.val_tpr:.3f} | {r.val_tnr:.3f} |")
    lines.append("")
    payload = {"quick": args.quick, "seed": args.seed, "train_rows_option": args.train_rows, "n_train_rows": int(len(train_rows)),
               "n_test_compositions": int(len(tri)), "n_pos": n_pos, "n_neg": n_neg,
               "default_thresholds": base.to_dict(), "tuned_thresholds": tuned.to_dict(),
               "test_default": test_default, "test_tuned": test_tuned, "val_default": val_default,
               "test_mdn_only_default": test_mdn_default, "test_mdn_only_tuned": test_mdn_tuned,
               "tuned_mdn_thresholds": tuned_mdn.to_dict(), "val_mdn_only_default": val_mdn_default,
               "replicate_grid": rep_df.to_dict(orient="records"), "n_replicate_groups": reps.n_groups_,
               "validation_grid": grid_df.to_dict(orient="records"), "status_counts": per_status,
               "fit_seconds": {"mc_dropout": t_bnn, "mdn": t_mdn, "replicates": t_rep}, "triage_seconds": test["t_tri"],
               "total_seconds": total_s, "floor_met": bool(floor)}
    suffix = (("_quick" if args.quick else "") + (f"_seed{args.seed}" if args.seed != 0 else "")
              + (f"_rows{args.train_rows}" if args.train_rows and not args.quick else ""))
    path = write_result("diagnostics_polymorphs" + suffix, payload, "\n".join(lines))
    print("\n".join(lines[3:]))
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
