"""Simulated campaigns on the four Rohr et al. (2020) OER catalyst plates.

``python -m benchmarks.rohr_campaigns [--quick] [--seeds 5] [--strategies random,greedy,ei,ucb]
[--plates 3496,3851] [--table-only]``

For every plate (about 2120 compositions, minimise the overpotential), strategy and seed, a
campaign starts from a random initial design of one batch, proposes batches of 20 with an
MC-dropout net retrained every round, and stops when it has measured every one of the plate's
top 1 % (22 compositions) or spent its budget of 600 experiments. Reported per plate and
strategy, median over seeds: experiments to find the first and all of the top 1 %, and the
acceleration factor against random picking's closed-form expectation (Rohr et al., Chem. Sci.
11, 2696 (2020)). Random picking itself also runs over the same seeds as a check of the
closed form. Each campaign's result is cached in ``results/rohr/`` so an interrupted run goes
on where it stopped; the table and plots are in ``results/rohr_campaigns.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import RESULTS, run_in_fresh_processes, write_result

ELEMENTS = ["Ca", "Ce", "Co", "Cu", "Fe", "La", "Mn", "Ni", "Sb", "Sn", "Ta"]
MODEL = {"hidden_units": [64, 64], "epochs": 150, "batch_size": 64, "patience": 20, "n_passes": 50}
STRATEGIES = ["random", "greedy", "ei", "ucb", "thompson", "max_variance"]
CACHE = RESULTS / "rohr"


def run_one(plate: int, strategy: str, seed: int, budget: int, batch: int) -> dict[str, Any]:
    """One campaign (cached as JSON)."""
    path = CACHE / f"{plate}_{strategy}_b{batch}_n{budget}_s{seed}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    from bdl.data import load_rohr2020
    from discovery_loop.campaign import CampaignConfig, Goal
    from discovery_loop.simulate import simulate

    frame = load_rohr2020(plate).reset_index(drop=True)
    config = CampaignConfig(
        target="overpotential_V", goal=Goal("minimize"), budget=budget, batch_size=batch, seed=seed,
        strategy=strategy, diagnose=False, model="mc_dropout", model_params=MODEL,  # as tabulated (the campaign
        # default became prior_gp after these campaigns ran; without the name MODEL's settings were refused)
    )
    result = simulate(frame, config, feature_columns=ELEMENTS, id_column="composition_metal_fraction")
    result.update(plate=plate, strategy=strategy, seed=seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, default=float))
    return result


def _median(values: list[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.median(arr)) if arr.size else float("nan")


def _fmt_n(values: list[float], budget: int) -> str:
    """Median experiments; a campaign that never got there counts as 'more than the budget'."""
    arr = np.asarray(values, dtype=float)
    censored = np.where(np.isfinite(arr), arr, np.inf)
    med = float(np.median(censored))
    return f">{budget}" if not np.isfinite(med) else f"{med:.0f}"


def table(results: list[dict[str, Any]], budget: int) -> tuple[str, dict[str, Any]]:
    """Markdown table and summary numbers."""
    from discovery_loop.metrics import random_experiments_to_find

    plates = sorted({r["plate"] for r in results})
    strategies = [s for s in STRATEGIES if any(r["strategy"] == s for r in results)]
    lines = [
        "| plate | strategy | seeds | exp. to first (median) | exp. to all top 1 % (median) | AF first | AF all (median [min, max]) | found at end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for plate in plates:
        n_pool = next(r["n_pool"] for r in results if r["plate"] == plate)
        n_t = next(r["n_targets"] for r in results if r["plate"] == plate)
        ref_first = random_experiments_to_find(n_pool, n_t, 1 / n_t)
        ref_all = random_experiments_to_find(n_pool, n_t, 1.0)
        lines.append(f"| {plate} | random (closed form) | — | {ref_first:.0f} | {ref_all:.0f} | 1 | 1 | — |")
        for s in strategies:
            rs = [r for r in results if r["plate"] == plate and r["strategy"] == s]
            if not rs:
                continue
            first = [r["experiments_to_first"] for r in rs]
            alln = [r["experiments_to_all"] for r in rs]
            # a campaign that never found all gets AF <= ref_all / budget: count it as that bound
            af_all = [ref_all / (n if np.isfinite(n) else budget) for n in alln]
            af_first = [ref_first / n for n in first if np.isfinite(n)]
            found = [r["found_curve"][-1] for r in rs]
            never = sum(not np.isfinite(n) for n in alln)
            note = f" ({never} never found all: AF counted as ≤{ref_all / budget:.1f})" if never else ""
            med_all = f"{np.median(af_all):.1f}" if 2 * never < len(rs) else f"≤{ref_all / budget:.1f}"
            lines.append(
                f"| {plate} | {s} | {len(rs)} | {_fmt_n(first, budget)} | {_fmt_n(alln, budget)} | "
                f"{_median(af_first):.1f} | {med_all} [{min(af_all):.1f}, {max(af_all):.1f}]{note} | "
                f"{np.median(found):.0%} |"
            )
            summary.setdefault(s, {})[str(plate)] = {
                "af_all_median": float(np.median(af_all)), "af_first_median": _median(af_first),
                "experiments_to_all": alln, "experiments_to_first": first, "never_found_all": never,
            }
    overall = [
        "",
        "A campaign that never found all within the budget counts with the bound budget → AF ≤ ref/budget; a median "
        "is shown as a bound (≤) when more than half of its campaigns are censored.",
        "",
        "| strategy | median AF (all top 1 %) over plates × seeds | median AF (first) |",
        "|---|---|---|",
    ]
    for s in strategies:
        rs = [r for r in results if r["strategy"] == s]
        afs, af1 = [], []
        for r in rs:
            ref_all = random_experiments_to_find(r["n_pool"], r["n_targets"], 1.0)
            ref_first = random_experiments_to_find(r["n_pool"], r["n_targets"], 1 / r["n_targets"])
            n = r["experiments_to_all"]
            afs.append(ref_all / (n if np.isfinite(n) else budget))
            if np.isfinite(r["experiments_to_first"]):
                af1.append(ref_first / r["experiments_to_first"])
        censored = sum(not np.isfinite(r["experiments_to_all"]) for r in rs)
        med = f"{np.median(afs):.1f}" if 2 * censored < len(rs) else f"≤{np.median(afs):.1f}"
        overall.append(f"| {s} | {med} ({len(rs) - censored} of {len(rs)} campaigns found all) | {_median(af1):.1f} |")
        summary.setdefault(s, {})["overall_af_all_median"] = float(np.median(afs))
    return "\n".join(lines + overall), summary


def plots(results: list[dict[str, Any]], out: Path) -> None:
    """Found-fraction bands per strategy, one panel per plate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from discovery_loop.plots import plot_found_fraction

    plates = sorted({r["plate"] for r in results})
    fig, axes = plt.subplots(1, len(plates), figsize=(4.5 * len(plates), 4), squeeze=False)
    for ax, plate in zip(axes[0], plates):
        rs = [r for r in results if r["plate"] == plate]
        curves: dict[str, list[np.ndarray]] = {}
        for r in rs:
            curves.setdefault(r["strategy"], []).append(np.asarray(r["found_curve"]))
        plot_found_fraction(curves, rs[0]["n_pool"], rs[0]["n_targets"], ax=ax)
        ax.set_title(f"plate {plate}")
        ax.set_xlim(0, max(len(c) for cs in curves.values() for c in cs))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one plate, 2 seeds, small budget")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--plates", default=None, help="comma-separated plate IDs (default: all four)")
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from cached runs")
    parser.add_argument("--workers", type=int, default=1, help="campaigns run at once, each in a fresh process")
    args = parser.parse_args()
    from bdl.data import load_rohr2020

    plates = sorted(int(p) for p in load_rohr2020()["plate_id"].unique())
    if args.plates:
        plates = [int(p) for p in args.plates.split(",")]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = list(range(args.seeds))
    budget, batch = args.budget, args.batch_size
    if args.quick:
        plates, seeds, budget = plates[:1], seeds[:2], 120
    jobs = [(p, s, seed) for p in plates for s in strategies for seed in seeds]
    cached = lambda p, s, seed: (CACHE / f"{p}_{s}_b{batch}_n{budget}_s{seed}.json").exists()  # noqa: E731
    if not args.table_only:
        run_in_fresh_processes(run_one, [(p, s, seed, budget, batch) for p, s, seed in jobs if not cached(p, s, seed)],
                               args.workers)
    results = []
    for i, (p, s, seed) in enumerate(jobs):
        if not cached(p, s, seed):
            continue
        r = run_one(p, s, seed, budget, batch)
        results.append(r)
        print(f"[{i + 1}/{len(jobs)}] plate {p} {s:13s} seed {seed}: first {r['experiments_to_first']}, "
              f"all {r['experiments_to_all']} ({r['seconds']:.0f} s)", flush=True)
    md, summary = table(results, budget)
    plots(results, RESULTS / "rohr" / "found_fraction.png")
    seconds = sum(r["seconds"] for r in results)
    text = (
        "# Simulated campaigns on the Rohr 2020 OER plates\n\n{{STAMP}}"
        f"Minimise the overpotential; batches of {batch}, a random initial design of one batch, MC dropout "
        f"{MODEL['hidden_units']} retrained every round ({MODEL['epochs']} epochs max, early stopping), budget {budget}; "
        "a campaign stops once every top-1 % composition is measured. AF = random picking's expected experiments "
        "(closed form m(N+1)/(M+1)) over the strategy's. Medians over seeds; "
        f"{len(results)} campaigns, {seconds / 60:.0f} CPU-minutes of campaign time.\n\n"
        + md
        + "\n\nReading: exploiting strategies (greedy, UCB) find the whole top 1 % fastest on these smooth "
        "composition landscapes; EI is slower on plates 3851 and 3860, where it keeps spending experiments on "
        "uncertain compositions; pure exploration (max variance) slows discovery down: it never finds the whole "
        "top 1 % within the budget and finds the first top composition later than random picking on plates 3851 "
        "and 3860. Acceleration to the first target mostly reflects the shared random initial design of 20.\n"
        + "\n![found fraction](rohr/found_fraction.png)\n"
    )
    if args.quick:
        print(text)
        return
    write_result("rohr_campaigns", {"summary": summary, "budget": budget, "batch_size": batch, "model": MODEL}, text)
    print(text)


if __name__ == "__main__":
    main()
