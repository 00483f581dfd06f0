"""The cautionary tale, end to end: simulated campaigns with and without the diagnostics gate.

``python -m benchmarks.gate_campaigns [--quick] [--table-only] [--arms A;B] [--workers N] [--trace SEED]``

The pool (known truth, built here): 1500 candidates with 3 descriptors in the unit cube and a
smooth property with one peak (the top 1 % sits there). Two balls of the descriptor space are
*two-phase regions*: every candidate there crystallises into one of two polymorphs, with a
value ``0.9 - 1.2`` or ``0.9 + 1.2`` (a seeded coin per candidate), so the property there is
bimodal and both modes are below the top 1 %. A Gaussian BNN trained on a few of them
predicts the average of the two modes, a value no polymorph has, with a standard deviation of
about 1.2: read as uncertainty, expected improvement sends experiments there. Those
experiments are the *phantom* ones: they cannot find the top 1 %.

Each seed runs the same campaign (EI, MC dropout, batches of 10 after a random initial design
of 20, budget 150) under each arm: no gate (the triage is recorded but not used), gates that
skip flagged candidates or score them under the MDN mixture, for every flagged candidate or only
for those whose BNN std is at least a quantile of the pool's, with or without the ``unsure``
status. Protocol (issue 13): all arms run on the tuning seeds 0-4, all on the pool of seed 0,
and the default gate (``GatePolicy()``) is chosen there; no gate and the default gate then run on
held-out seeds, each on a fresh pool of its own (``pool_seed``: 1000 + seed) that nothing was
tuned on, each once, and the floor is judged on all held-out seeds of a triage version together
(phantom cut >= 50 %; the one-sided 90 % lower bound of the paired difference in found fraction
above -0.05). Triage v1 was scored on seeds 5-24 (48.3 %, kept in ``gate/triage_v1/`` and
tabulated as the record). The trace of its held-out seed 15 (``--trace``) showed the leak that
triage v2 closes (MDN modes backed only by the shape test were called ok), so v2, with the same
default gate, re-ran the tuning seeds and is scored on seeds 25-44, which no campaign had used.
Reported over seeds: phantom experiments after the initial design, experiments to find the first
and all of the top 1 %, the fraction of the top 1 % found averaged over the campaign (the area
under the found curve: discovery speed in one number) and at the end, best value found, and
paired per-seed differences.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import RESULTS, run_in_fresh_processes, write_result

CACHE = RESULTS / "gate"
#: Campaigns of the gated arms run with triage v1 (until 2026-12-01), when MDN modes that only the
#: held-out shape test backed were held and called ok; since v2 they count as misspecified. The
#: arm without a gate does not read the triage (the same seed makes the same picks under both), so
#: its campaigns stay in ``CACHE`` for both versions; only the statuses it records are v1's there.
V1_CACHE = CACHE / "triage_v1"
#: The triage version the campaigns run now (``--trace`` names its output after it).
TRIAGE_VERSION = 2
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
    "gate: skip if std >= median, unsure too": (
        "skip", {"min_std_quantile": 0.5, "statuses": ["bimodal", "misspecified", "unsure"]}),
    "gate: skip if std >= lower quartile, unsure too": (
        "skip", {"min_std_quantile": 0.25, "statuses": ["bimodal", "misspecified", "unsure"]}),
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


#: random measurements before the model picks
N_INITIAL = 20


def pool_seed(seed: int) -> int:
    """The pool a campaign seed runs on: the tuning pool (seed 0) for the tuning seeds, a fresh
    pool of its own (1000 + seed) for every held-out seed, so the floor is judged on pools that
    nothing was tuned on (issue 13: the held-out seeds used to reuse the tuning pool)."""
    return 0 if seed in TUNING_SEEDS else 1000 + int(seed)


def _cache_path(arm: str, budget: int, seed: int, v1: bool = False) -> Any:
    slug = "".join(ch if ch.isalnum() else "_" for ch in arm)
    ps = pool_seed(seed)
    folder = V1_CACHE if v1 and arm != "no gate" else CACHE
    return folder / (f"{slug}_n{budget}_s{seed}.json" if ps == 0 else f"{slug}_n{budget}_s{seed}_pool{ps}.json")


def _v1_results(seeds: list[int], budget: int) -> list[dict[str, Any]]:
    """The cached campaigns of triage v1 on ``seeds``, every arm that has them (never run again)."""
    out = []
    for arm in ARMS:
        for seed in seeds:
            path = _cache_path(arm, budget, seed, v1=True)
            if path.exists():
                out.append(dict(json.loads(path.read_text())))
    return out


def run_one(arm: str, seed: int, budget: int, quick: bool, ledger_path: Any = None) -> dict[str, Any]:
    """One campaign (cached as JSON; with ``ledger_path`` it is run again and its ledger kept there)."""
    path = _cache_path(arm, budget, seed)
    if path.exists() and ledger_path is None:
        return dict(json.loads(path.read_text()))
    from discovery_loop.campaign import CampaignConfig, Goal
    from discovery_loop.simulate import simulate

    pool = make_pool(seed=pool_seed(seed))
    config = CampaignConfig(
        # MC dropout, as documented and as the tuning seeds ran (the campaign default is now prior_gp)
        target="y", goal=Goal("maximize"), budget=budget, batch_size=10, n_initial=N_INITIAL, seed=seed, strategy="ei",
        model="mc_dropout",
        model_params={"epochs": 200} if quick else {}, mdn_params={"epochs": 200} if quick else {},
        gate=ARMS[arm][0], gate_params=ARMS[arm][1],
    )
    result = simulate(pool, config, feature_columns=["x0", "x1", "x2"], id_column="id", stop_when_all_found=False,
                      ledger_path=ledger_path)
    order = np.asarray(result["order"])
    after_initial = order[N_INITIAL:]
    result.update(
        arm=arm,
        seed=seed,
        pool_seed=pool_seed(seed),
        phantom=int(pool["two_phase"].to_numpy()[after_initial].sum()),
        phantom_fraction_pool=float(pool["two_phase"].mean()),
        best=float(max(result["values"])),
        pool_best=float(pool["y"].max()),
    )
    if ledger_path is None:
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, default=float))
    return result


def trace(seed: int, budget: int = 150) -> str:
    """Round by round, one campaign of the default gate: what the triage and its held-out test said
    about the pool, and what the round proposed in the two-phase regions (markdown)."""
    import sqlite3
    import tempfile
    from pathlib import Path

    two_phase = make_pool(seed=pool_seed(seed))["two_phase"].to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.sqlite"
        result = run_one(DEFAULT_ARM, seed, budget, False, ledger_path=ledger)
        with sqlite3.connect(ledger) as con:
            props = con.execute("SELECT round, idx, status FROM proposals WHERE round > 0").fetchall()
            rounds = con.execute("SELECT round, triage_summary FROM rounds WHERE round > 0 ORDER BY round").fetchall()
    lines = ["| round | rows measured | held-out test supports | pool: bimodal / misspecified / unsure / ok | "
             "proposed in two-phase regions (their status) |", "|---:|---:|---|---|---|"]
    for r, text in rounds:
        summary = json.loads(text) if text else {}
        counts, ev = summary.get("counts", {}), summary.get("evidence") or {}
        supports = [w for w, k in (("bimodal", "supports_bimodal"), ("misspecified", "supports_misspecified")) if ev.get(k)]
        phantom = [st for rr, i, st in props if rr == r and two_phase[i]]
        by = ", ".join(f"{phantom.count(st)} {st}" for st in sorted(set(phantom)))
        lines.append(f"| {r} | {ev.get('n', '')} | {' and '.join(supports) or ev.get('decision', 'no test')} | "
                     f"{counts.get('bimodal', 0)} / {counts.get('misspecified', 0)} / {counts.get('unsure', 0)} / "
                     f"{counts.get('ok', 0)} | {len(phantom)}{f' ({by})' if by else ''} |")
    return (f"# One gated campaign round by round (held-out seed {seed}, pool seed {pool_seed(seed)})\n\n{{{{STAMP}}}}"
            f"`python -m benchmarks.gate_campaigns --trace {seed}`: the default gate (`{DEFAULT_ARM}`), re-run with its "
            f"ledger kept, with triage v{TRIAGE_VERSION}; {result['phantom']} phantom experiments after the initial "
            "design. "
            "Rows measured: the rows the round's held-out test used.\n\n" + "\n".join(lines) + "\n")


def _fmt(values: list[float], budget: int) -> str:
    arr = np.where(np.isfinite(np.asarray(values, dtype=float)), values, np.inf)
    med = float(np.median(arr))
    return f">{budget}" if not np.isfinite(med) else f"{med:.0f}"


#: seeds on which the arms are compared and the default gate is chosen (all on the pool of seed 0)
TUNING_SEEDS = list(range(5))
#: the default gate (``GatePolicy()``) as an arm
DEFAULT_ARM = "gate: skip if std >= median"
#: held-out seeds of the current triage (v2), each on a fresh pool: run only after the triage and the
#: default gate were fixed, and the floor is judged on all of them together. The round-by-round trace
#: of held-out seed 15 (triage v1) is what led to v2, so v2 is scored on seeds no campaign had used.
HELD_OUT_SEEDS = list(range(25, 45))
#: the held-out seeds in the order they run (reported separately as well as pooled)
HELD_OUT_BATCHES = [list(range(25, 35)), list(range(35, 45))]
#: held-out seeds of triage v1 (kept as the record): 5-14 ran first, 15-24 after a re-run of the
#: tuning seeds kept the same default
V1_HELD_OUT_SEEDS = list(range(5, 25))
V1_HELD_OUT_BATCHES = [list(range(5, 15)), list(range(15, 25))]
#: what the tuning table of triage v2 says (written after it ran)
TUNING_READING = (
    "Reading: only the default gate was re-run with triage v2 (2026-12-01); the arm without a gate is the same "
    "campaign under both versions, and the other arms stay in the v1 table below, where the default was chosen. "
    "Under v2 the default cut the phantom experiments a little more than under v1 on the same seeds (31.2 against "
    "32.8 of 130 per campaign; seed 0: 41 -> 35, seed 2: 46 -> 44, seeds 1, 3 and 4 unchanged) and found as much of "
    "the top 1 % (22.7 % over the campaign against 22.8 %; seed 0 found more, seed 2 less; first of the top 1 % after 56 experiments, median, against 71). A small gain on the "
    "tuning pool, where the held-out shape test rarely rejects alone; the rule was kept because it removes a "
    "contradiction (a test says the data are not one Gaussian, and the candidates the MDN reads as two modes were "
    "called ok), and the held-out seeds below score it.")
#: what the held-out triage table of v2 says
HELD_OUT_READING = (
    "Reading: with triage v2 the default gate cut the phantom experiments by 57 % on these 20 fresh pools, alike in "
    "both batches of 10 (56.7 % and 57.0 %), against 48.3 % for v1 on seeds 5-24. The phantom experiments it let "
    "through were called ok (399) or unsure (311); v1 let through 601 ok and 273 unsure on its seeds. Discovery: the "
    "mean found fraction over the campaign was 0.015 lower than without the gate (s.e. 0.019; 7 seeds better, 11 "
    "worse), inside the floor's margin but not the +0.020 of v1 on its seeds: skipping the high-spread half of a "
    "pool that is mostly flagged misspecified also turns some exploration away. The best value found was higher "
    "(+0.069, s.e. 0.048). Where it still leaks, traced with v2 on seed 15 (`gate_campaigns_trace_seed15_triage_v2"
    ".md`; 39 phantom experiments there against 31 with v1, the campaign took another path after round 3): rounds "
    "whose held-out test does not reject (unsure at 60 rows; not supported at 110 rows, after three rounds that "
    "rejected) hold every MDN flag, and a round whose test backs two outcomes sent 10 proposals to two-phase "
    "candidates the MDN did not read as two modes. The test's verdict goes back and forth from round to round "
    "while the measurements only grow; carrying a rejection forward is the next thing to try, with its "
    "campaign-wide false-alarm rate measured.")
#: what the tuning table of triage v1 says (written after it ran)
V1_TUNING_READING = (
    "Reading: every arm ran with triage v1 (its held-out evidence test and the `unsure` status; re-run on "
    "2026-11-30 and 2026-12-01, replacing campaigns of 2026-11-21 that had the MDN's word alone). Skipping the "
    "flagged candidates whose BNN std is at least the pool's median (`GatePolicy()`, the default) cut the phantom "
    "experiments by 58 % and found the most of the top 1 % (22.8 % over the campaign against 12.4 % without a "
    "gate). Gating every flagged candidate cut less (skip 41 %, mixture 31 %): with 40-150 measurements the "
    "verdicts fall on clean candidates too, and the gate turns good ones away. Scoring the high-spread flagged "
    "candidates under the MDN mixture cut only 17 %: EI of a spiky small-data MDN is itself unreliable. Also "
    "skipping the `unsure` candidates (the MDN's shape flags them, but the held-out test has too few rows to "
    "confirm it) cut a little more, 62 %, but found half as much of the top 1 % (11.1 %): before the test has "
    "power it turns good candidates away too. Lowering the std threshold to the lower quartile with `unsure` did "
    "no better on either count (57 %, 18.1 %). So the default stayed as it was, and the held-out seeds 15-24 "
    "below score it.")
#: what the held-out triage table of v1 says
V1_HELD_OUT_READING = (
    "Reading: without the gate the triage flags most phantom experiments bimodal; with it, the phantom experiments "
    "that remain were called ok or unsure (two thirds ok, one third unsure on seeds 5-24), while the bimodal and "
    "misspecified flags fell on clean picks. Gating `unsure` as well would not help: on the tuning seeds it cut a "
    "little more and found half as much of the top 1 %. In the gated campaign of seed 15, traced round by round "
    "(`gate_campaigns_trace_seed15_triage_v1.md`), the held-out test backs \"misspecified\" from 40 measured rows "
    "on, 1192 of 1460 candidates are flagged misspecified, the gate skips the high-spread half of them, and all 20 "
    "proposals of rounds 3 and 4 land in the two-phase regions on candidates called ok; from round 5 on bimodal "
    "flags appear and the phantom proposals stop. Re-run with the triage's columns kept (a scratch run, budget "
    "60), those 20 proposals were all candidates the MDN reads as two modes (`mdn_bimodal`), held because only the "
    "shape test had rejected one Gaussian (`held_by_evidence`) and so called ok, with BNN stds of 0.85-1.24, the "
    "highest of the pool. Triage v2 counts such candidates as misspecified.")


def _held_out_plan(arms: list[str]) -> list[tuple[str, int]]:
    """(arm, seed) of the held-out campaigns among ``arms``, seeds outermost so that an
    interrupted run leaves paired results."""
    return [(arm, s) for s in HELD_OUT_SEEDS for arm in ("no gate", DEFAULT_ARM) if arm in arms]


def _table(results: list[dict[str, Any]], budget: int) -> tuple[list[str], dict[str, Any]]:
    lines = [
        "| arm | seeds | phantom experiments after the initial design (mean; per seed) | exp. to first top-1 % (median) | "
        "exp. to all top-1 % (median) | top-1 % found, mean over the campaign | top-1 % found at the end (mean) | "
        "best found (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for arm in ARMS:
        rs = [r for r in results if r["arm"] == arm]
        if not rs:
            continue
        ph = [r["phantom"] for r in rs]
        lines.append(
            f"| {arm} | {len(rs)} | {np.mean(ph):.1f}; {ph} | {_fmt([r['experiments_to_first'] for r in rs], budget)} | "
            f"{_fmt([r['experiments_to_all'] for r in rs], budget)} | "
            f"{np.mean([np.mean(r['found_curve']) for r in rs]):.1%} | {np.mean([r['found_curve'][-1] for r in rs]):.0%} | "
            f"{np.mean([r['best'] for r in rs]):.3f} |"
        )
        summary[arm] = {
            "seeds": [r["seed"] for r in rs],
            "phantom_mean": float(np.mean(ph)), "phantom": ph,
            "experiments_to_first": [r["experiments_to_first"] for r in rs],
            "experiments_to_all": [r["experiments_to_all"] for r in rs],
            "found_mean_over_campaign": [float(np.mean(r["found_curve"])) for r in rs],
            "found_at_end": [r["found_curve"][-1] for r in rs], "best": [r["best"] for r in rs],
        }
    if "no gate" in summary:
        base = summary["no gate"]["phantom_mean"]
        lines.append("")
        for arm in [a for a in ARMS if a != "no gate"]:
            if arm in summary and base > 0:
                cut = 1 - summary[arm]["phantom_mean"] / base
                lines.append(f"{arm}: phantom experiments cut by {cut:.1%} against no gate.")
                summary[arm]["phantom_cut"] = cut
    return lines, summary


def _status_table(results: list[dict[str, Any]], n_initial: int) -> list[str]:
    """Proposals after the initial design by triage status and by whether they were phantom."""
    rows = []
    pools: dict[tuple[int, int], np.ndarray] = {}  # (size, pool seed) -> two_phase
    for arm in ARMS:
        rs = [r for r in results if r["arm"] == arm and any(t is not None for t in r.get("triage", []))]
        if not rs:
            continue
        counts: dict[tuple[str, bool], int] = {}
        for r in rs:
            key_pool = (int(r["n_pool"]), int(r.get("pool_seed", 0)))
            if key_pool not in pools:
                pools[key_pool] = make_pool(key_pool[0], seed=key_pool[1])["two_phase"].to_numpy()
            two_phase = pools[key_pool]
            for i, status in zip(r["order"][n_initial:], r["triage"][n_initial:]):
                key = (str(status), bool(two_phase[i]))
                counts[key] = counts.get(key, 0) + 1
        for status in sorted({k[0] for k in counts}):
            rows.append(f"| {arm} | {status} | {counts.get((status, True), 0)} | {counts.get((status, False), 0)} |")
    if not rows:
        return []
    return ["| arm | triage status of the proposal | phantom (two-phase) | not phantom |", "|---|---|---:|---:|", *rows]


def _paired(summary: dict[str, Any], arm: str) -> list[str]:
    """Per-seed differences gate minus no gate (same seeds, same initial design)."""
    if arm not in summary or "no gate" not in summary:
        return []
    a, b = summary[arm], summary["no gate"]
    common = sorted(set(a["seeds"]) & set(b["seeds"]))
    pick = lambda s, key: np.array([s[key][s["seeds"].index(k)] for k in common], dtype=float)  # noqa: E731
    out = []
    for key, label in (("found_mean_over_campaign", "top-1 % found, mean over the campaign"),
                       ("found_at_end", "top-1 % found at the end"), ("best", "best found")):
        d = pick(a, key) - pick(b, key)
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        wins = int(np.sum(d > 0)), int(np.sum(d < 0))
        out.append(f"| {label} | {d.mean():+.3f} | {se:.3f} | {lower_bound_90(d):+.3f} | {wins[0]} / {wins[1]} |")
    return [f"| paired difference (`{arm}` − no gate) over the same seeds | mean | s.e. | one-sided 90 % lower bound | "
            "gate better / worse |",
            "|---|---:|---:|---:|---|", *out]


def lower_bound_90(d: np.ndarray) -> float:
    """One-sided 90 % lower confidence bound of the mean of paired differences (Student t)."""
    from scipy.stats import t

    d = np.asarray(d, dtype=float)
    if len(d) < 2:
        return float("nan")
    return float(d.mean() - t.ppf(0.9, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 60, short training")
    parser.add_argument("--table-only", action="store_true", help="only campaigns already cached")
    parser.add_argument("--arms", default=";".join(ARMS), help="semicolon-separated subset of the arms to run")
    parser.add_argument("--workers", type=int, default=1,
                        help="campaigns run at once, each in a fresh process (default 1)")
    parser.add_argument("--trace", type=int, metavar="SEED", default=None,
                        help="re-run the default gate's campaign of SEED and tabulate it round by round")
    args = parser.parse_args()
    if args.trace is not None:
        text = trace(args.trace)
        write_result(f"gate_campaigns_trace_seed{args.trace}_triage_v{TRIAGE_VERSION}",
                     {"seed": args.trace, "triage_version": TRIAGE_VERSION}, text)
        print(text)
        return
    arms = [a.strip() for a in args.arms.split(";") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; choose from {list(ARMS)}")
    budget = 60 if args.quick else 150

    def _span(rs: list[dict[str, Any]]) -> str:
        """The seeds of these campaigns as a range (--quick runs 0-1 of the tuning seeds)."""
        seeds = sorted({int(r["seed"]) for r in rs}) or list(TUNING_SEEDS)
        return f"{seeds[0]}-{seeds[-1]}"

    plan = ([(arm, s) for arm in arms for s in range(2)] if args.quick else
            [(arm, s) for arm in arms for s in TUNING_SEEDS] + _held_out_plan(arms))
    if not args.table_only:
        run_in_fresh_processes(run_one, [(arm, seed, budget, args.quick) for arm, seed in plan
                                         if not _cache_path(arm, budget, seed).exists()], args.workers)
    results = [run_one(arm, seed, budget, args.quick) for arm, seed in plan if _cache_path(arm, budget, seed).exists()]
    pool = make_pool()
    n_after = budget - 20
    tuning = [r for r in results if r["seed"] in TUNING_SEEDS]
    t_lines, t_summary = _table(tuning, budget)
    text = (
        "# The diagnostics gate in a simulated campaign (the cautionary tale)\n\n{{STAMP}}"
        f"Pool: {len(pool)} candidates, {pool['two_phase'].mean():.0%} of them in two-phase regions (modes "
        f"{PLATEAU} ± {DELTA}, both below the top 1 %; pool best {pool['y'].max():.2f}). EI with MC dropout, batches of 10 "
        f"after 20 random, budget {budget}: {n_after} experiments chosen by the model per campaign; random picking "
        f"would spend {pool['two_phase'].mean() * n_after:.0f} of them in the two-phase regions. The same seed gives "
        "every arm the same initial design.\n\n"
        "Protocol: the arms are compared and the default gate chosen on the tuning seeds (pool of seed 0); each "
        "held-out seed runs on a fresh pool of its own (pool seed 1000 + seed) once, after the triage and the default "
        "gate it scores were fixed; the floor is judged on all held-out seeds of that triage together. Triage v2 "
        "(the current one) differs from v1 in one rule: MDN modes that only the held-out shape test backs count as "
        "misspecified instead of ok. The trace of held-out seed 15 under v1 led to it, so v2 is scored on seeds "
        f"{HELD_OUT_SEEDS[0]}-{HELD_OUT_SEEDS[-1]}, which no campaign had used; v1's figures stay below as the record. "
        "The arm without a gate does not read the triage: its campaigns are the same under both.\n\n"
        f"## Seeds {_span(tuning)}: tuning, triage v2\n\n"
        + "\n".join(t_lines) + "\n\n" + TUNING_READING + "\n"
    )
    held = [r for r in results if r["seed"] in HELD_OUT_SEEDS]
    held_text, held_summary = _held_out_section(held, budget, HELD_OUT_BATCHES, "triage v2", HELD_OUT_READING)
    text += held_text
    if args.quick:
        print(text)
        return
    v1_tuning = _v1_results(TUNING_SEEDS, budget)
    v1_t_lines, v1_t_summary = _table(v1_tuning, budget)
    text += (f"\n## Triage v1 (until 2026-12-01; the record)\n\n### Seeds {TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}: "
             "tuning, the arms compared and the default chosen here\n\n" + "\n".join(v1_t_lines) + "\n\n"
             + V1_TUNING_READING + "\n")
    v1_held_text, v1_held_summary = _held_out_section(_v1_results(V1_HELD_OUT_SEEDS, budget), budget,
                                                      V1_HELD_OUT_BATCHES, "triage v1", V1_HELD_OUT_READING, level=3)
    text += v1_held_text
    write_result("gate_campaigns", {"budget": budget, "tuning_seeds": TUNING_SEEDS, "held_out_seeds": HELD_OUT_SEEDS,
                                    "default_arm": DEFAULT_ARM, "tuning": t_summary, "held_out": held_summary,
                                    "triage_v1": {"held_out_seeds": V1_HELD_OUT_SEEDS, "tuning": v1_t_summary,
                                                  "held_out": v1_held_summary}}, text)
    print(text)


def _held_out_section(results: list[dict[str, Any]], budget: int, batches: list[list[int]], label: str,
                      reading: str, level: int = 2) -> tuple[str, dict[str, Any]]:
    """The markdown of held-out seeds (the default gate against no gate, per batch of seeds and
    pooled, with the issue-13 floor judged on all of them together) and their summary."""
    if not results:
        return "", {}
    seeds = sorted({r["seed"] for r in results})
    lines, summary = _table(results, budget)
    text = (f"\n{'#' * level} Seeds {seeds[0]}-{seeds[-1]}: held out, the default gate, {label} (each seed run once, "
            "after the default was fixed)\n\n" + "\n".join(lines) + "\n")
    for batch in batches:
        part = [r for r in results if r["seed"] in batch]
        sub = _table(part, budget)[1]
        if DEFAULT_ARM in sub and "no gate" in sub:
            text += (f"\nSeeds {batch[0]}-{batch[-1]} alone ({len(sub[DEFAULT_ARM]['seeds'])} gated, "
                     f"{len(sub['no gate']['seeds'])} ungated): phantom experiments {sub['no gate']['phantom_mean']:.1f} -> "
                     f"{sub[DEFAULT_ARM]['phantom_mean']:.1f}, cut {sub[DEFAULT_ARM].get('phantom_cut', 0):.1%}.\n")
    text += "\n" + "\n".join(_paired(summary, DEFAULT_ARM)) + "\n"
    status_lines = _status_table(results, N_INITIAL)
    if status_lines:
        text += ("\nWhat the triage said about the experiments each arm made after the initial design, summed over "
                 "these seeds (the gate can only turn away what the triage flags):\n\n" + "\n".join(status_lines)
                 + "\n\n" + reading + "\n")
    gate, base = summary.get(DEFAULT_ARM), summary.get("no gate")
    if not gate or not base:
        return text, summary
    common = sorted(set(gate["seeds"]) & set(base["seeds"]))
    d = np.array([gate["found_mean_over_campaign"][gate["seeds"].index(k)]
                  - base["found_mean_over_campaign"][base["seeds"].index(k)] for k in common])
    bound = lower_bound_90(d)
    verdict = bool(gate.get("phantom_cut", 0) >= 0.5 and bound > -0.05)
    text += (f"\nFloor (issue 13: phantom experiments cut by at least half; discovery no slower: the one-sided "
             f"90 % lower bound of the paired difference in mean found fraction above -0.05) for the default gate, "
             f"{label}, on all its held-out seeds ({len(common)} paired, each on a fresh pool, pool seed 1000 + seed): "
             f"**{'met' if verdict else 'NOT met'}** (cut {gate.get('phantom_cut', 0):.1%}, mean difference "
             f"{d.mean():+.3f}, lower bound {bound:+.3f}).\n")
    return text, summary


if __name__ == "__main__":
    main()
