"""A floor under the recommended surrogate's fitted noise: tuning evidence for ``noise_floor``.

``python -m benchmarks.noise_floor_tuning``. :class:`bdl.models.PriorGPRegressor` with its
default settings and ``noise_floor`` None (the noise standard deviation may fall to 0.001 of the
targets'), 0.05 or 0.1, on data used only to choose the setting, never to report a result:

* ``matbench_expt_gap``, the development draws of ``benchmarks/small_data.py`` (test permutation
  seed 0, subsets 100-102, 1000 test compositions) at every size of that benchmark;
* the four Rohr 2020 catalyst plates (11 composition columns, overpotential), 100 and 1000 random
  training rows, the rest of the plate as test set, seeds 0 and 1.

Why: evidence maximisation on a few hundred rows sometimes drives the regression GP's noise to
almost nothing (0.002 to 0.34 eV across the development draws); the GP then interpolates and the
rows it misses cost tens of nats each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks._common import RESULTS, write_result
from benchmarks.tree_features_tuning import _cell, _fit_score, tuning_splits

OUT = RESULTS / "noise_floor_tuning"
FLOORS = (None, 0.05, 0.1)
ROHR_ROWS = (100, 1000)
ROHR_SEEDS = (0, 1)


def _tag(floor: float | None) -> str:
    return "none" if floor is None else f"{floor:g}"


def run() -> list[dict[str, Any]]:
    from benchmarks.small_data import SIZES

    cells = []
    for name, n, draw, X, y, train, test, seed, kw in tuning_splits(SIZES, ROHR_ROWS, ROHR_SEEDS):
        key = f"expt_gap_n{n}_s{draw}" if name.startswith("expt_gap") else f"{name.replace(' ', '')}_n{n}_s{draw}"
        for floor in FLOORS:
            cell = _cell(f"{key}_floor{_tag(floor)}",
                         lambda: _fit_score(X, y, train, test, "auto", seed, noise_floor=floor, **kw), OUT)
            cells.append({"set": name, "n": n, "draw": draw, "floor": floor, **cell})
            print(f"{name} n={n} draw={draw} floor={floor}: MAE {cell['mae']:.4f} IS {cell['interval_score']:.4f} "
                  f"NLL {cell['nll']:.3f}", flush=True)
    return cells


def _markdown(cells: list[dict[str, Any]]) -> str:
    groups = list(dict.fromkeys((c["set"], c["n"]) for c in cells))
    arrow = " -> ".join(_tag(f) for f in FLOORS)
    lines = [f"| data | n | draws | MAE ({arrow}) | 90 % interval score | NLL | 90 % coverage | "
             "NLL worst draw | fitted noise sd, smallest over draws (target units) |",
             "|---|---:|---:|---|---|---|---|---|---|"]
    for name, n in groups:
        sub = [c for c in cells if (c["set"], c["n"]) == (name, n)]
        by = {f: {c["draw"]: c for c in sub if c["floor"] == f} for f in FLOORS}
        draws = sorted(set.intersection(*(set(v) for v in by.values())))
        if not draws:
            continue

        def row(key: str, fmt: str, agg: Any = np.mean) -> str:
            return " -> ".join(f"{agg([by[f][d][key] for d in draws]):{fmt}}" for f in FLOORS)

        lines.append(f"| {name} | {n} | {len(draws)} | {row('mae', '.4f')} | {row('interval_score', '.3f')} | "
                     f"{row('nll', '.3f')} | {row('coverage', '.3f')} | {row('nll', '.2f', np.max)} | "
                     f"{row('noise_sd', '.3f', np.min)} |")
    table = "\n".join(lines)
    return f"""# A noise floor for the recommended surrogate: tuning evidence

{{{{STAMP}}}}`python -m benchmarks.noise_floor_tuning` — `PriorGPRegressor` with its default settings and
`noise_floor` {", ".join(_tag(f) for f in FLOORS)} (the smallest noise standard deviation of the regression GP as a
fraction of its training targets'; "none" is today's default, 0.001). Means over the draws unless
said otherwise. **Tuning data only**: the development draws of `small_data.py` (test permutation
seed 0, subsets 100-102; 1000 test compositions) and random splits of the Rohr plates (the rest of
each plate is the test set). Nothing here is a reported result, and the default is not changed
by it: a default change re-runs every scored benchmark of the recommended surrogate.

{table}

Reading: on the band-gap draws a floor of 0.1 is as good or better at every n: it matters where
evidence maximisation let the noise collapse (fitted noise sd 0.001-0.002 eV on at least one draw
at every n up to 500), where the worst draw's NLL falls from 3.81 to 1.33 nats at n = 50 and from
1.27 to 0.80 at n = 200, and the mean MAE and interval score are no worse at any n (n = 100:
MAE 0.482 -> 0.470, interval score 3.30 -> 3.12; single draws move by 0.001 either way). On the Rohr plates the fitted noise (0.011-0.019 V) sits
far above either floor (a tenth of a plate's spread is 0.003-0.006 V) and nothing changes. So 0.1 is
the candidate default; adopting it means re-running the scored `small_data` splits, Matbench and the
campaign benchmarks once with it.
"""


def main() -> None:
    cells = run()
    path = write_result("noise_floor_tuning", {"protocol": {"floors": list(FLOORS), "rohr_rows": list(ROHR_ROWS),
                                                            "rohr_seeds": list(ROHR_SEEDS)}, "cells": cells},
                        _markdown(cells))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
