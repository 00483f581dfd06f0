"""Rebuild the shipped polymorph prior (``bdl/data/prior/polymorph_prior.npz``), deterministically.

Recipe (:func:`bdl.diagnostics.polymorph_spread_model`): a replicate-spread model on the 132
Magpie descriptors of every ``matbench_mp_gap`` structure; compositions with two or more
structures (identical descriptors) are its examples, log(1 + PBE gap spread) its target; five
boosted tree ensembles (scikit-learn ``HistGradientBoostingRegressor``, half the descriptors per
split) averaged. The flag threshold on the predicted spread is chosen by 5-fold cross-validation
grouped by composition (maximal balanced accuracy of spread > 1.5 eV against < 0.3 eV on the
out-of-fold predictions); the final model is then fitted on all compositions. The trees are
stored as plain arrays (:func:`bdl.diagnostics.replicates.export_trees`), no pickle.

Run from the repository root::

    python scripts/build_polymorph_prior.py            # writes bdl/data/prior/polymorph_prior.npz
    python scripts/build_polymorph_prior.py --check    # rebuilds in memory, compares with the shipped file

Determinism: fixed seeds; the same scikit-learn version gives the same trees.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shipped_arrays import rebuild_main  # noqa: E402  (the scripts folder is not a package)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bdl" / "data" / "prior" / "polymorph_prior.npz"
SEED = 20261130
FOLDS = 5


def build(progress: bool = True) -> dict[str, np.ndarray]:
    import sklearn

    from bdl.data import load_matbench_mp_gap
    from bdl.diagnostics.polymorph_prior import POLYMORPH_RECIPE, choose_spread_threshold, polymorph_spread_model
    from bdl.diagnostics.replicates import replicate_groups
    from bdl.features import featurize

    t0 = time.perf_counter()
    frame = load_matbench_mp_gap(check_formulas=False)
    Xdf = featurize(frame["composition"])
    X = Xdf.to_numpy(np.float64)
    gap = frame["gap_pbe_eV"].to_numpy(np.float64)
    groups = replicate_groups(X, gap)
    n_groups = len(groups)
    if progress:
        print(f"{len(X)} structures, {n_groups} compositions with >= 2 structures ({time.perf_counter() - t0:.0f} s)",
              flush=True)

    # out-of-fold predictions, folds of whole compositions: the threshold and the honest CV figures
    rows = groups["first_row"].to_numpy()
    spread = groups["spread"].to_numpy()
    fold = np.random.default_rng(SEED).permutation(n_groups) % FOLDS
    _, inverse = np.unique(np.round(X, 9) + 0.0, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    fold_of_comp = dict(zip(inverse[rows].tolist(), fold.tolist()))
    member = np.array([fold_of_comp.get(c, -1) for c in inverse.tolist()])
    oof = np.empty(n_groups)
    for k in range(FOLDS):
        train_rows = np.flatnonzero(member != k)  # every structure not in fold k (single-structure ones too)
        m = polymorph_spread_model(random_state=SEED + k).fit(X[train_rows], gap[train_rows])
        oof[fold == k] = m.predict(X[rows[fold == k]])
        if progress:
            print(f"fold {k + 1}/{FOLDS} ({time.perf_counter() - t0:.0f} s)", flush=True)
    threshold, cv_ba = choose_spread_threshold(oof, spread)
    sel = (spread > 1.5) | (spread < 0.3)
    lab = spread[sel] > 1.5
    from sklearn.metrics import roc_auc_score

    cv_auc = float(roc_auc_score(lab, oof[sel]))
    flag = oof[sel] >= threshold
    cv_tpr, cv_tnr = float(flag[lab].mean()), float((~flag[~lab]).mean())

    model = polymorph_spread_model(random_state=SEED).fit(X, gap)
    arrays = model.to_arrays()
    meta = {
        "name": "polymorph_prior",
        "version": 1,
        "trained_on": f"matbench_mp_gap (Materials Project PBE band gaps, {len(X)} structures): the {n_groups} "
                      "compositions with >= 2 structures",
        "licence": "CC-BY-4.0 (derived from Materials Project data); see bdl/data/prior/LICENSE.md",
        "inputs": "132 Magpie descriptors (bdl.features.featurize)",
        "output": "expected spread (max - min, eV) of the PBE gaps of a composition's structures",
        "recipe": POLYMORPH_RECIPE,
        "seed": SEED,
        "n_groups": int(n_groups),
        "min_replicate_spread": round(threshold, 6),
        "threshold_rule": f"max balanced accuracy (spread > 1.5 vs < 0.3 eV) on {FOLDS}-fold composition-grouped "
                          "out-of-fold predictions",
        "cv_auc": round(cv_auc, 4),
        "cv_balanced_accuracy": round(cv_ba, 4),
        "cv_tpr": round(cv_tpr, 4),
        "cv_tnr": round(cv_tnr, 4),
        "cv_n_pos": int(lab.sum()),
        "cv_n_neg": int((~lab).sum()),
        "feature_names": [str(c) for c in Xdf.columns],
        "sklearn": sklearn.__version__,
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    if progress:
        print(f"done ({time.perf_counter() - t0:.0f} s): threshold {threshold:.3f} eV, CV AUC {cv_auc:.3f}, "
              f"BA {cv_ba:.3f} (TPR {cv_tpr:.3f}, TNR {cv_tnr:.3f})", flush=True)
    return arrays


def main() -> int:
    return rebuild_main(__doc__.split("\n")[0], build, OUT, "file", ignore=())


if __name__ == "__main__":
    raise SystemExit(main())
