"""Campaign round latency on all of matbench_mp_gap:
``python -m benchmarks.round_latency [--quick] [--no-dask]`` -> ``results/round_latency.md`` / ``.json``.

The pool is the 106 113 compositions of ``matbench_mp_gap`` (target ``gap_pbe_eV``). The
descriptors are computed once (timed), then a campaign looking for band gaps in the
photovoltaic window 1.1-1.7 eV runs with its defaults where it has them: the campaign's MC
dropout model (64-64, T = 100 passes), the diagnostics on (an MDN each round and the triage of
every candidate) with the ``downweight`` gate, the ``log_window`` acquisition and top-k batches
of 20. The initial design is 1000 random measurements (a realistic first training set), then

- round 1 trains the model and the MDN from scratch (cold), and
- round 2 continues both from round 1's networks, loaded from the ledger (``warm_start``).

Each round's seconds per stage come from the ledger's ``rounds.timings`` (what
:class:`discovery_loop.campaign.Campaign` measures itself); the benchmark adds ``record``
(building the proposals, saving the networks, the ledger transaction: the part of ``_propose``
outside the timed stages), ``measure`` (the oracle and the measurements' transaction) and
``bookkeeping`` (the generator's reads of the ledger between rounds); every stage also in CPU
seconds (all threads), which do not depend on the machine's load. Memory: the process's
peak resident set size (``VmHWM``), reset before each round where Linux allows it
(``/proc/self/clear_refs``), so each round's own peak is reported, and ``ru_maxrss`` over the
whole run. Unless ``--quick`` or ``--no-dask`` (and when ``distributed`` is installed), it also
times the scoring of the round-2 model on the pool through :func:`bdl.parallel.score_pool` on a
local Dask cluster against the in-process call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import write_result

N_INITIAL = 1000
BATCH = 20
FLOOR_SECONDS = 60.0
FLOOR_GIB = 6.0
STAGES = ("load_previous", "fit_model", "fit_mdn", "predict", "diagnose", "acquire", "select", "record", "measure", "bookkeeping")


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _status_gib(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmRSS``, ``VmHWM``) in GiB, None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _Timed:
    """Wrap a bound method and keep the wall and CPU seconds of its last call."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.seconds, self.cpu = fn, 0.0, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds, self.cpu = time.perf_counter() - t0, time.process_time() - c0


def _cpu_stage_timer() -> type:
    """A :class:`discovery_loop.campaign._StageTimer` that also keeps each stage's CPU seconds
    (all threads of the process), remembered on the class for the benchmark to read."""
    from contextlib import contextmanager

    from discovery_loop import campaign

    class CPUStageTimer(campaign._StageTimer):  # type: ignore[name-defined]
        last: Any = None

        def __init__(self) -> None:
            super().__init__()
            self.cpu: dict[str, float] = {}
            type(self).last = self

        @contextmanager
        def __call__(self, stage: str) -> Any:
            c0 = time.process_time()
            try:
                with super().__call__(stage):
                    yield
            finally:
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - c0

    return CPUStageTimer


def run(quick: bool = False, dask: bool | None = None, n_workers: int = 2) -> dict[str, Any]:
    """Run the benchmark and write its results; ``dask`` (default: on unless ``quick``, and only
    when ``distributed`` is installed) adds the pool-scoring comparison."""
    if dask is None:
        import importlib.util

        dask = not quick and importlib.util.find_spec("distributed") is not None
    from bdl.data import load_matbench_mp_gap
    from discovery_loop.campaign import Campaign, CampaignConfig, Goal, Pool
    from discovery_loop.ledger import Ledger
    from discovery_loop.oracles import LookupOracle

    load_before = _loadavg()
    t0 = time.perf_counter()
    df = load_matbench_mp_gap(check_formulas=False)
    t_load = time.perf_counter() - t0
    if quick:
        df = df.iloc[:20_000].reset_index(drop=True)
    t0 = time.perf_counter()
    pool = Pool.from_frame(df, id_column="mbid", formula_column="composition")
    t_featurise = time.perf_counter() - t0
    rss_pool = _status_gib("VmRSS")
    oracle = LookupOracle(df[["mbid", "gap_pbe_eV"]].rename(columns={"mbid": "id"}), "id", "gap_pbe_eV")
    config = CampaignConfig(
        target="gap_pbe_eV",
        goal=Goal("window", 1.1, 1.7),
        budget=N_INITIAL + 2 * BATCH,
        batch_size=BATCH,
        seed=0,
        strategy="log_window",
        n_initial=N_INITIAL,
        model="mc_dropout",
        diagnose=True,
        gate="downweight",
        warm_start=True,
    )
    rounds: list[dict[str, Any]] = []
    can_reset = _reset_peak()
    import discovery_loop.campaign as campaign_module

    timer_cls = _cpu_stage_timer()
    original_timer = campaign_module._StageTimer
    campaign_module._StageTimer = timer_cls  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as tmp:
        with Ledger(Path(tmp) / "ledger.sqlite", create=True) as ledger:
            campaign = Campaign(pool, oracle, ledger, config, progress=False)
            campaign._propose = propose = _Timed(campaign._propose)  # type: ignore[method-assign]
            campaign._measure = measure = _Timed(campaign._measure)  # type: ignore[method-assign]
            steps = campaign.rounds()
            while True:
                _reset_peak()
                timer_cls.last = None
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    record = next(steps)
                except StopIteration:
                    break
                total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
                row = ledger.table("rounds").iloc[-1]
                stages = json.loads(row["timings"]) if isinstance(row["timings"], str) else {}
                stages["record"] = propose.seconds - sum(stages.values())
                stages["measure"] = measure.seconds
                stages["bookkeeping"] = total - propose.seconds - measure.seconds
                cpu = dict(timer_cls.last.cpu) if timer_cls.last is not None else {}
                cpu["record"] = propose.cpu - sum(cpu.values())
                cpu["measure"] = measure.cpu
                cpu["bookkeeping"] = total_cpu - propose.cpu - measure.cpu
                params = json.loads(row["model_params"]) if isinstance(row["model_params"], str) else {}
                rounds.append({
                    "round": int(record.round),
                    "kind": str(row["kind"]),
                    "warm_start_from": params.get("warm_start_from"),
                    "n_train": int(row["n_train"]),
                    "n_candidates": int(row["n_candidates"]),
                    "stages": {k: float(v) for k, v in stages.items()},
                    "cpu_stages": {k: float(v) for k, v in cpu.items()},
                    "total_seconds": total,
                    "total_cpu_seconds": total_cpu,
                    "peak_rss_gib": _status_gib("VmHWM") if can_reset else None,
                })
                print(f"round {record.round} ({row['kind']}): {total:.1f} s", {k: round(v, 2) for k, v in stages.items()})
            model = ledger.load_model(rounds[-1]["round"]) if dask else None
    campaign_module._StageTimer = original_timer  # type: ignore[misc]
    result: dict[str, Any] = {
        "quick": quick,
        "n_pool": len(pool),
        "n_features": int(pool.X.shape[1]),
        "load_seconds": t_load,
        "featurise_seconds": t_featurise,
        "featurise_per_second": len(pool) / t_featurise,
        "rss_after_pool_gib": rss_pool,
        "config": config.to_dict(),
        "rounds": rounds,
        # the kernel's peak counters restart at each reset, so the run's peak is the largest of them
        "peak_rss_gib": max(
            [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, rss_pool or 0.0]
            + [r["peak_rss_gib"] or 0.0 for r in rounds]
        ),
        "per_round_peak_measured": can_reset,
        "load_before": load_before,
        "cores": os.cpu_count(),
        "device": _device(),
    }
    if dask:
        result["dask"] = _dask_scoring(model, pool.X, n_workers)
    result["load_after"] = _loadavg()
    write_result("round_latency_quick" if quick else "round_latency", result, _markdown(result))
    return result


def _device() -> str:
    from bdl.models._tf import tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU: {', '.join(g.name for g in gpus)}" if gpus else "CPU only (TensorFlow sees no GPU)"


def _dask_scoring(model: Any, X: np.ndarray, n_workers: int) -> dict[str, Any]:
    """In-process ``predict_dist`` on the pool against :func:`bdl.parallel.score_pool` on a
    local cluster (start-up and the first, warm-up call timed apart)."""
    from bdl.parallel import local_cluster, score_pool

    model.predict_dist(X[:1000])
    t0 = time.perf_counter()
    here = model.predict_dist(X)
    t_here = time.perf_counter() - t0
    t0 = time.perf_counter()
    with local_cluster(n_workers) as client:
        t_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_pool(model, X[:1000], client=client)
        t_warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        there = score_pool(model, X, client=client, chunk_size=max(1000, len(X) // (4 * n_workers) + 1))
        t_there = time.perf_counter() - t0
    return {
        "n_workers": n_workers,
        "in_process_seconds": t_here,
        "cluster_seconds": t_there,
        "cluster_start_seconds": t_start,
        "cluster_warmup_seconds": t_warm,
        "speedup_over_in_process": t_here / t_there,
        "equal": bool(np.array_equal(here.locs, there.locs)),
    }


def _markdown(res: dict[str, Any]) -> str:
    cols = [r for r in res["rounds"] if r["kind"] == "model"]
    head = " | ".join(
        f"round {r['round']} ({'warm' if r['warm_start_from'] is not None else 'cold'}): wall | CPU" for r in cols
    )
    lines = [f"| stage | {head} |", "|---|" + "---:|---:|" * len(cols)]
    for stage in STAGES:
        if not any(stage in r["stages"] for r in cols):
            continue
        vals = " | ".join(f"{r['stages'].get(stage, 0.0):.2f} | {r['cpu_stages'].get(stage, 0.0):.2f}" for r in cols)
        lines.append(f"| {stage} | {vals} |")
    lines.append("| **total** | " + " | ".join(f"**{r['total_seconds']:.1f}** | **{r['total_cpu_seconds']:.1f}**" for r in cols) + " |")
    if res["per_round_peak_measured"]:
        lines.append("| peak RSS in the round, GiB | " + " | ".join(f"{r['peak_rss_gib']:.2f} | " for r in cols) + " |")
    table = "\n".join(lines)
    worst = max(r["total_seconds"] for r in cols)
    worst_cpu = max(r["total_cpu_seconds"] for r in cols)
    ok_time = worst < FLOOR_SECONDS
    ok_mem = res["peak_rss_gib"] < FLOOR_GIB
    dask = ""
    if "dask" in res:
        d = res["dask"]
        dask = f"""
## Pool scoring in process vs a local Dask cluster

`model.predict_dist(pool)` in this process: {d['in_process_seconds']:.1f} s;
`bdl.parallel.score_pool(model, pool, client=...)` on {d['n_workers']} worker processes:
{d['cluster_seconds']:.1f} s (**{d['speedup_over_in_process']:.2f}×**; cluster start-up
{d['cluster_start_seconds']:.1f} s and a warm-up call {d['cluster_warmup_seconds']:.1f} s not included;
identical numbers: {d['equal']}). TensorFlow already spreads one call's matrix products over all
cores, so on one machine the fan-out only adds the transfers; it is for pools that outgrow one
machine, not for the round latency here.
"""
    return f"""# Campaign round latency on matbench_mp_gap

{{{{STAMP}}}}`python -m benchmarks.round_latency{' --quick' if res['quick'] else ''}` — {res['device']}, {res['cores']} cores.
Load average (1, 5, 15 min) before: {res['load_before']}, after: {res['load_after']} (other jobs
shared the machine; with a load above the core count every figure here is slower than on an
idle machine).

Pool: {res['n_pool']:,} compositions of `matbench_mp_gap`, {res['n_features']} Magpie descriptors,
computed once in **{res['featurise_seconds']:.2f} s** ({res['featurise_per_second']:,.0f} compositions/s,
parsing included; loading the table {res['load_seconds']:.2f} s). Campaign: band gap in [1.1, 1.7] eV,
`log_window` acquisition, top-k batches of {BATCH}, MC dropout (64, 64) with T = 100 passes,
diagnostics on (MDN with 5 components, triage of every candidate) with the `downweight` gate,
`warm_start=True`. Initial design: {N_INITIAL:,} random measurements.

## Seconds per stage of one round ({cols[0]['n_candidates']:,} candidates)

{table}

Wall: seconds on the clock, as the campaign records them in `rounds.timings`. CPU: CPU seconds
of all the process's threads in the stage, the figure that does not depend on what else runs on
the machine; a compute-bound stage on an idle machine takes between CPU / {res['cores']} and CPU
seconds of wall time (it uses between all cores and one), so the CPU column bounds the idle-machine
latency from above.

Round 1 trains both networks from scratch; round 2 continues round 1's networks loaded from the
ledger (`load_previous`), early stopping ending the fits sooner. `fit_model` / `fit_mdn`: training
(300 epochs at most, patience 40, minibatches of 32); `predict`: both predictives on every
candidate; `diagnose`: the triage (modes of the MDN mixture, OOD distance, checks); `acquire`:
gated acquisition scores; `select`: top-k; `record`: proposals, model and MDN saved, the ledger
transaction; `measure`: the lookup oracle and its transaction; `bookkeeping`: the generator's
ledger reads between rounds.

**Slowest round {worst:.1f} s wall, {worst_cpu:.1f} CPU seconds ({'under' if ok_time else 'OVER'} the {FLOOR_SECONDS:.0f} s floor on the clock
under this load; {'under' if worst_cpu < FLOOR_SECONDS else 'OVER'} it for the idle-machine bound); peak memory of the
whole process {res['peak_rss_gib']:.2f} GiB ({'under' if ok_mem else 'OVER'} the {FLOOR_GIB:.0f} GiB floor)**, TensorFlow,
the {res['n_pool']:,}-row table and the pool's descriptors (resident after featurising:
{res['rss_after_pool_gib']:.2f} GiB) included.
{dask}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 000 candidates, to check the script runs")
    parser.add_argument("--no-dask", action="store_true", help="skip the pool-scoring comparison on a local Dask cluster")
    args = parser.parse_args()
    res = run(quick=args.quick, dask=False if args.no_dask else None)
    for r in res["rounds"]:
        print(f"round {r['round']} {r['kind']}: {r['total_seconds']:.1f} s")
    print(f"peak RSS {res['peak_rss_gib']:.2f} GiB; featurise {res['featurise_seconds']:.2f} s")


if __name__ == "__main__":
    main()
