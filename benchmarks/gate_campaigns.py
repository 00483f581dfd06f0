"""The cautionary tale, end to end: simulated campaigns with and without the diagnostics gate.

``python -m benchmarks.gate_campaigns [--quick] [--seeds 5] [--table-only]``

The pool (known truth, built here): 1500 candidates with 3 descriptors in the unit cube and a
smooth property with one peak (the top 1 % sits there). Two balls of the descriptor space are
*two-phase regions*: every candidate there crystallises into one of two polymorphs, with a
value ``0.9 - 1.2`` or ``0.9 + 1.2`` (a seeded coin per candidate), so the property there is
bimodal and both modes are below the top 1 %. A Gaussian BNN trained on a few of them
predicts the average of the two modes, a value no polymorph has, with a standard deviation of
about 1.2: read as uncertainty, expected improvement sends experiments there. Those
experiments are the *phantom* ones: they cannot find the top 1 %.

Each seed runs the same campaign (EI, MC dropout, batches of 10 after a random initial design
of 20, budget 150) three times: no gate (the triage is recorded but not used), the gate that
skips flagged candidates, and the gate that scores them under the MDN mixture. Reported over
seeds: phantom experiments after the initial design, experiments to find the first and all of
the top 1 %, best value found. The floor (issue 5): the gate cuts phantom experiments by at
least half without slowing discovery.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import RESULTS, write_result

CACHE = RESULTS / "gate"
PEAK = np.array([0.85, 0.85, 0.5])
REGIONS = [(np.array([0.2, 0.5, 0.5]), 0.3), (np.array([0.45, 0.15, 0.8]), 0.3)]
PLATEAU = 0.9
DELTA = 1.2
NOISE = 0.05
#: arm -> (gate action, GatePolicy fields)
ARMS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "no gate": (None, {}),
    "gate: skip": ("skip", {"min_std_quantile": None}),
    "gate: mixture": ("mixture", {"min_std_quantile": None}),
    "gate: skip if std >= median": ("skip", {"min_std_quantile": 0.5}),
    "gate: mixture if std >= median": ("mixture", {"min_std_quantile": 0.5}),
}


def make_pool(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """The synthetic pool with its truth: columns id, x0..x2, y, two_phase (bool).

    Outside the two-phase balls: a smooth surface with one peak (about 2.9). Inside: a plateau at
    ``PLATEAU`` where each candidate takes the value ``PLATEAU - DELTA`` or ``PLATEAU + DELTA``
    (a seeded coin), so the upper polymorph (about 2.1) stays below the top 1 % (2.37 and up).
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    f = 2.2 * np.exp(-np.sum((X - PEAK) ** 2, axis=1) / (2 * 0.12**2)) + 0.8 * X[:, 0]
    two_phase = np.zeros(n, dtype=bool)
    for centre, radius in REGIONS:
        two_phase |= np.linalg.norm(X - centre, axis=1) < radius
    coin = rng.integers(0, 2, size=n) * 2 - 1
    y = np.where(two_phase, PLATEAU + coin * DELTA, f) + NOISE * rng.normal(size=n)
    return pd.DataFrame({"id": [f"c{i:04d}" for i in range(n)], "x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "y": y, "two_phase": two_phase})


def _cache_path(arm: str, budget: int, seed: int) -> Any:
    slug = "".join(ch if ch.isalnum() else "_" for ch in arm)
    return CACHE / f"{slug}_n{budget}_s{seed}.json"


def run_one(arm: str, seed: int, budget: int, quick: bool) -> dict[str, Any]:
    """One campaign (cached as JSON)."""
    path = _cache_path(arm, budget, seed)
    if path.exists():
        return dict(json.loads(path.read_text()))
    from discovery_loop.campaign import CampaignConfig, Goal
    from discovery_loop.simulate import simulate

    pool = make_pool()
    config = CampaignConfig(
        target="y", goal=Goal("maximize"), budget=budget, batch_size=10, n_initial=20, seed=seed, strategy="ei",
        model_params={"epochs": 200} if quick else {}, mdn_params={"epochs": 200} if quick else {},
        gate=ARMS[arm][0], gate_params=ARMS[arm][1],
    )
    result = simulate(pool, config, feature_columns=["x0", "x1", "x2"], id_column="id", stop_when_all_found=False)
    order = np.asarray(result["order"])
    after_initial = order[20:]
    result.update(
        arm=arm,
        seed=seed,
        phantom=int(pool["two_phase"].to_numpy()[after_initial].sum()),
        phantom_fraction_pool=float(pool["two_phase"].mean()),
        best=float(max(result["values"])),
        pool_best=float(pool["y"].max()),
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, default=float))
    return result


def _fmt(values: list[float], budget: int) -> str:
    arr = np.where(np.isfinite(np.asarray(values, dtype=float)), values, np.inf)
    med = float(np.median(arr))
    return f">{budget}" if not np.isfinite(med) else f"{med:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 60, short training")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--arms", default=";".join(ARMS), help="semicolon-separated subset of the arms to run")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(";") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; choose from {list(ARMS)}")
    seeds = list(range(2 if args.quick else args.seeds))
    budget = 60 if args.quick else 150
    results = []
    for arm in arms:
        for seed in seeds:
            path = _cache_path(arm, budget, seed)
            if args.table_only and not path.exists():
                continue
            r = run_one(arm, seed, budget, args.quick)
            results.append(r)
            print(f"{arm:14s} seed {seed}: phantom {r['phantom']}, first top-1% {r['experiments_to_first']}, "
                  f"all {r['experiments_to_all']}, best {r['best']:.3f} ({r['seconds']:.0f} s)", flush=True)
    pool = make_pool()
    lines = [
        "| arm | seeds | phantom experiments after the initial design (mean; per seed) | exp. to first top-1 % (median) | "
        "exp. to all top-1 % (median) | top-1 % found at the end (mean) | best found (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for arm in ARMS:
        rs = [r for r in results if r["arm"] == arm]
        if not rs:
            continue
        ph = [r["phantom"] for r in rs]
        lines.append(
            f"| {arm} | {len(rs)} | {np.mean(ph):.1f}; {ph} | {_fmt([r['experiments_to_first'] for r in rs], budget)} | "
            f"{_fmt([r['experiments_to_all'] for r in rs], budget)} | {np.mean([r['found_curve'][-1] for r in rs]):.0%} | "
            f"{np.mean([r['best'] for r in rs]):.3f} |"
        )
        summary[arm] = {
            "phantom_mean": float(np.mean(ph)), "phantom": ph,
            "experiments_to_first": [r["experiments_to_first"] for r in rs],
            "experiments_to_all": [r["experiments_to_all"] for r in rs],
            "found_at_end": [r["found_curve"][-1] for r in rs], "best": [r["best"] for r in rs],
        }
    n_after = budget - 20
    text = (
        "# The diagnostics gate in a simulated campaign (the cautionary tale)\n\n{{STAMP}}"
        f"Pool: {len(pool)} candidates, {pool['two_phase'].mean():.0%} of them in two-phase regions (modes "
        f"{PLATEAU} ± {DELTA}, both below the top 1 %; pool best {pool['y'].max():.2f}). EI with MC dropout, batches of 10 "
        f"after 20 random, budget {budget}: {n_after} experiments chosen by the model per campaign; random picking "
        f"would spend {pool['two_phase'].mean() * n_after:.0f} of them in the two-phase regions.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    if "no gate" in summary:
        base = summary["no gate"]["phantom_mean"]
        for arm in [a for a in ARMS if a != "no gate"]:
            if arm in summary and base > 0:
                cut = 1 - summary[arm]["phantom_mean"] / base
                text += f"\n{arm}: phantom experiments cut by {cut:.0%} against no gate."
                summary[arm]["phantom_cut"] = cut
        text += "\n"
    text += (
        "\nReading: gating every flagged candidate (the first two gate arms) cuts the phantom experiments by less "
        "than half and finds less of the top 1 %: with 20-150 measurements the MDN invents modes in clean regions "
        "too, so the gate also turns away good candidates. Gating only the flagged candidates whose BNN std is at "
        "least the pool's median (`GatePolicy(min_std_quantile=0.5)`, now the default) acts where a two-mode "
        "variance would actually lure EI: skipping those cuts the phantom experiments by about three quarters, "
        "finds the first top-1 % candidate much sooner (median over seeds) and a better best value, while the "
        "fraction of the top 1 % found by the end is within seed noise of no gate (two no-gate seeds that reached "
        "the peak early exploited it). Scoring them under the mixture instead helps less here: EI of a spiky "
        "small-data MDN is itself unreliable.\n"
    )
    if args.quick:
        print(text)
        return
    write_result("gate_campaigns", {"summary": summary, "budget": budget}, text)
    print(text)


if __name__ == "__main__":
    main()
