"""Does the DFT band-gap prior help targets other than band gaps? Learning curves on the Rohr OER
plates and the perovskite-stability set (issue 12: the pretrained weights "must also help
targets other than band gaps").

``python -m benchmarks.prior_transfer [--sets rohr3496,...,perovskite] [--n 20,50,100,200] [--subsets 5]``

Every arm is the toolkit's ``PriorGPRegressor`` (exact GP, evidence-maximised kernel) on other
inputs, plus scikit-learn's random forest as the peer, all on the same training subsets and
test rows:

- ``gp_fractions``: the set's own composition fractions (the 11 metal fractions of a Rohr
  plate; the Cs / FA / MA fractions of the perovskites): what a campaign on these pools fits
  today (an ARD GP);
- ``gp_magpie``: the 132 Magpie descriptors of the composition (``prior=None``);
- ``gp_magpie+prior``: Magpie plus the DFT band-gap prior's outputs and embedding
  (``prior="dft_gap"``, the recommended surrogate's inputs);
- ``rf_fractions``: random forest (500 trees, median of trees, 5/95 % tree quantiles) on the
  fractions (the peer a user would reach for).

Compositions: a Rohr plate's ``composition_metal_fraction`` (e.g. ``Ni0.1Fe0.2Co0.6Mn0.1``,
the metals of the oxide catalyst); a perovskite ``Cs_x FA_y MA_z PbI3`` written out in elements
(FA = CH5N2, MA = CH6N). Test rows: 500 per Rohr plate and 39 of the 139 perovskites, drawn with
seed 2026; training subsets ``SeedSequence([2026, n, subset])`` of the rest. Nothing is tuned
here (the GP's settings are evidence-maximised per fit; no threshold or setting was chosen on
these data), so there is no tuning split. Metrics as ``small_data``: MAE of the median, CRPS,
90 % interval score and coverage.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from benchmarks._common import RESULTS, write_result

OUT = RESULTS / "prior_transfer"
SEED = 2026
ROHR_ELEMENTS = ["Ca", "Ce", "Co", "Cu", "Fe", "La", "Mn", "Ni", "Sb", "Sn", "Ta"]
ARMS = ("gp_fractions", "gp_magpie", "gp_magpie+prior", "rf_fractions")


def _perovskite_formula(cs: float, fa: float, ma: float) -> str:
    parts = [("Cs", cs), ("C", fa + ma), ("H", 5 * fa + 6 * ma), ("N", 2 * fa + ma), ("Pb", 1.0), ("I", 3.0)]
    return "".join(f"{el}{amount:g}" for el, amount in parts if amount > 0)


def _set(name: str) -> dict[str, Any]:
    from bdl.data import load_liang2021, load_rohr2020
    from bdl.features import featurize

    if name.startswith("rohr"):
        df = load_rohr2020(int(name[4:])).reset_index(drop=True)
        fractions = df[ROHR_ELEMENTS].to_numpy(np.float64)
        formulas = df["composition_metal_fraction"].tolist()
        y, n_test = df["overpotential_V"].to_numpy(np.float64), 500
    else:
        df = load_liang2021().reset_index(drop=True)
        fractions = df[["CsPbI", "FAPbI", "MAPbI"]].to_numpy(np.float64)
        formulas = [_perovskite_formula(*row) for row in fractions]
        y, n_test = df["instability_index"].to_numpy(np.float64), 39
    order = np.random.default_rng(SEED).permutation(len(y))
    return {"fractions": fractions, "magpie": np.asarray(featurize(formulas), dtype=np.float64), "y": y, "test": order[:n_test], "rest": order[n_test:]}


def _fit_predict(arm: str, data: dict[str, Any], train: np.ndarray, test: np.ndarray, seed: int) -> Any:
    from bdl.models import PriorGPRegressor

    y = data["y"]
    if arm == "rf_fractions":
        from benchmarks.small_data import _RandomForestPeer

        return _RandomForestPeer(False, seed).fit(data["fractions"][train], y[train]).predict_all(data["fractions"][test])
    X = data["fractions"] if arm == "gp_fractions" else data["magpie"]
    model = PriorGPRegressor(prior="dft_gap" if arm == "gp_magpie+prior" else None, random_state=seed, progress=False)
    return model.fit(X[train], y[train]).predict_dist(X[test])


def run(sets: list[str], sizes: list[int], subsets: int, table_only: bool) -> list[dict[str, Any]]:
    from benchmarks.small_data import _score, _subset

    cells = []
    for name in sets:
        data = None
        for n in sizes:
            for s in range(subsets):
                for arm in ARMS:
                    path = OUT / f"{name}_{arm}_n{n}_s{s}.json"
                    if path.exists():
                        cells.append(json.loads(path.read_text()))
                        continue
                    if table_only:
                        continue
                    data = data or _set(name)
                    if n >= data["rest"].size:
                        continue
                    train = _subset(data["rest"], n, s)  # SeedSequence([2026, n, s]), as small_data
                    out = _fit_predict(arm, data, train, data["test"], s)
                    cell = {"set": name, "arm": arm, "n": n, "subset": s, **_score(out, data["y"][data["test"]])}
                    OUT.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(cell))
                    cells.append(cell)
                    print(f"{name} n={n} s={s} {arm}: MAE {cell['mae']:.4g}, IS {cell['interval_score']:.4g}, "
                          f"cov {cell['coverage']:.2f}", flush=True)
    return cells


def _markdown(cells: list[dict[str, Any]], sets: list[str], sizes: list[int]) -> tuple[str, dict[str, Any]]:
    lines = ["# The DFT band-gap prior on targets other than band gaps", "", "{{STAMP}}",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "Median over subsets; in brackets, the MAE relative to `gp_fractions` (below 1: better).", "",
             "| set | n | arm | subsets | MAE | CRPS | 90 % interval score | coverage |", "|---|---|---|---|---|---|---|---|"]
    summary: dict[str, Any] = {}
    for name in sets:
        for n in sizes:
            base = [c["mae"] for c in cells if c["set"] == name and c["n"] == n and c["arm"] == "gp_fractions"]
            for arm in ARMS:
                cs = [c for c in cells if c["set"] == name and c["n"] == n and c["arm"] == arm]
                if not cs:
                    continue
                med = {k: float(np.median([c[k] for c in cs])) for k in ("mae", "crps", "interval_score", "coverage")}
                rel = med["mae"] / float(np.median(base)) if base else float("nan")
                summary.setdefault(name, {}).setdefault(str(n), {})[arm] = {**med, "mae_vs_fractions": rel, "subsets": len(cs)}
                lines.append(f"| {name} | {n} | {arm} | {len(cs)} | {med['mae']:.4g} ({rel:.2f}) | {med['crps']:.4g} | "
                             f"{med['interval_score']:.4g} | {med['coverage']:.2f} |")
    pairs = [(v["gp_magpie+prior"]["mae"], v["gp_magpie"]["mae"], v["gp_fractions"]["mae"])
             for by_n in summary.values() for v in by_n.values() if {"gp_magpie+prior", "gp_magpie", "gp_fractions"} <= set(v)]
    if pairs:
        p, m, f = (np.array(x) for x in zip(*pairs))
        lines += ["", f"Over the {len(pairs)} (set, n) cells: the prior's features lower the median MAE against Magpie alone "
                  f"in {int(np.sum(p < m))} (median ratio {np.median(p / m):.3f}) and against the fractions in "
                  f"{int(np.sum(p < f))} (median ratio {np.median(p / f):.3f}); Magpie alone beats the fractions in "
                  f"{int(np.sum(m < f))} (median ratio {np.median(m / f):.3f})."]
    return "\n".join(lines) + "\n", summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="rohr3496,rohr3851,rohr3860,rohr4098,perovskite")
    parser.add_argument("--n", default="20,50,100,200")
    parser.add_argument("--subsets", type=int, default=5)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    sets, sizes = args.sets.split(","), [int(v) for v in args.n.split(",")]
    cells = run(sets, sizes, args.subsets, args.table_only)
    md, summary = _markdown(cells, sets, sizes)
    path = write_result("prior_transfer", {"summary": summary, "cells": cells}, md)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
