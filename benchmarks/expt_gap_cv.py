"""MC-dropout on Matbench's 5-fold split of matbench_expt_gap (KFold(5, shuffle, 18012019))."""

from __future__ import annotations

import time

import numpy as np

from benchmarks._common import write_result


def run(quick: bool = False) -> dict:
    from bdl.data import load_matbench_expt_gap
    from bdl.features import featurize
    from bdl.models import MCDropoutRegressor
    from bdl.report import holdout_metrics
    from bdl.splits import kfold_indices

    df = load_matbench_expt_gap()
    X = featurize(df["composition"]).to_numpy()
    y = df["gap_expt_eV"].to_numpy()
    folds = []
    for k, (train, test) in enumerate(kfold_indices(len(y))):
        model = MCDropoutRegressor(epochs=20 if quick else 300, random_state=k, progress=False)
        t0 = time.perf_counter()
        model.fit(X[train], y[train])
        fit_s = time.perf_counter() - t0
        m = holdout_metrics(y[test], model.predict_dist(X[test]))
        m.update(fold=k, fit_seconds=fit_s, best_epoch=model.best_epoch_)
        folds.append(m)
        print(f"fold {k}: MAE {m['mae']:.3f}  RMSE {m['rmse']:.3f}  NLL {m['nll']:.3f}  cov90 {m['coverage_90']:.3f}")
    keys = ["mae", "rmse", "nll", "coverage_90", "fit_seconds"]
    mean = {k: float(np.mean([f[k] for f in folds])) for k in keys}
    rows = "\n".join(
        f"| {f['fold']} | {f['mae']:.3f} | {f['rmse']:.3f} | {f['nll']:.3f} | {f['coverage_90']:.3f} | {f['fit_seconds']:.0f} |"
        for f in folds
    )
    md = f"""# MC dropout on matbench_expt_gap (Matbench 5-fold)

{{{{STAMP}}}}`python -m benchmarks.run expt_gap` — `MCDropoutRegressor()` defaults (256-128 ReLU, dropout 0.1,
heteroscedastic head, early stopping on a 10 % validation split of each training fold, T = 100
passes) on the 132 Magpie features; folds `KFold(5, shuffle=True, random_state=18012019)`.

| fold | MAE (eV) | RMSE (eV) | NLL (nats) | 90 % coverage | fit (s) |
|---|---:|---:|---:|---:|---:|
{rows}
| **mean** | **{mean['mae']:.3f}** | **{mean['rmse']:.3f}** | **{mean['nll']:.3f}** | **{mean['coverage_90']:.3f}** | {mean['fit_seconds']:.0f} |

Reference (Matbench leaderboard, MAE): RF-SCM/Magpie 0.446 eV, MODNet 0.333 eV.
"""
    result = {"folds": folds, "mean": mean}
    write_result("expt_gap_mc_dropout", result, md)
    return result


if __name__ == "__main__":
    run()
