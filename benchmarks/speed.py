"""Speed suite: ``python -m benchmarks.speed [--quick]`` -> ``results/speed.md`` and ``.json``.

Every figure is given as a ratio to a reference measured in the same run, so the numbers can be
compared across machines and under load:

- predictive passes (MC dropout, T = 100; variational net, S = 100) on 100 000 candidates:
  achieved FLOP/s over the machine's numpy float32 GEMM rate, measured alternately with the
  model (one GEMM measurement right before each model run; the ratio is the median over runs);
  and speed-up over the naive loop that runs one stochastic pass at a time;
- featurisation: ``bdl.features.featurize`` against matminer's Magpie featuriser;
- replicates: independent campaign replicates in one process against a local Dask cluster of
  worker processes (:func:`replicates` takes any replicate callable; the one here,
  :func:`rohr_replicate`, is a whole small simulated campaign on one Rohr et al. catalyst plate
  through :func:`discovery_loop.simulate.simulate`).

FLOPs are counted as 2 x the multiply-adds of the dense layers as computed: for MC dropout
without input dropout, 2 n (d H1 + T (H1 H2 + H2 n_out)) (the first layer is computed once per
candidate, not T times, and is counted once); for the variational net, 2 n S (d H1 + H1 H2 +
H2 n_out). Bias additions, activations, the output head, random numbers and data movement are
not counted (they are part of the time). Dropped units are multiplied by zero inside the dense
products and are counted, as in any dense dropout implementation.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks._common import write_result

N_CANDIDATES = 100_000
N_FEATURES = 132  # Magpie
MC_HIDDEN = (256, 128)  # MCDropoutRegressor's default (the expt_gap set-up)
VI_HIDDEN = (128, 64)  # VariationalBNN's default
N_PASSES = 100


# ---------------------------------------------------------------------- references
def gemm_rate(m: int, k: int, n: int, repeats: int = 3) -> float:
    """numpy float32 ``(m, k) @ (k, n)`` rate in FLOP/s (median of ``repeats`` calls)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2.0 * m * k * n / statistics.median(times)


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _interleaved(call: Callable[[], Any], flops: float, gemm_shape: tuple[int, int, int], reps: int) -> dict:
    """Alternate a GEMM measurement and one model call ``reps`` times (after one warm-up)."""
    call()
    gemms, rates, secs = [], [], []
    for _ in range(reps):
        gemms.append(gemm_rate(*gemm_shape))
        dt = _timed(call)
        secs.append(dt)
        rates.append(flops / dt)
    ratios = [r / g for r, g in zip(rates, gemms)]
    return {
        "seconds": secs,
        "seconds_median": statistics.median(secs),
        "flops": flops,
        "flop_per_s_median": statistics.median(rates),
        "gemm_flop_per_s": gemms,
        "gemm_flop_per_s_median": statistics.median(gemms),
        "gemm_shape": list(gemm_shape),
        "fraction_of_gemm": ratios,
        "fraction_of_gemm_median": statistics.median(ratios),
    }


def _fitted(cls: Any, hidden: tuple[int, ...], **kw: Any) -> Any:
    """A model of the benchmark's sizes, briefly fitted on random data (timing does not depend
    on the weights' values)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, N_FEATURES))
    y = X[:, :5].sum(axis=1) + rng.normal(size=2000)
    return cls(hidden_units=hidden, epochs=1, progress=False, random_state=0, **kw).fit(X, y)


# ---------------------------------------------------------------------- predictive passes
def _naive_mc(model: Any, Xs: np.ndarray, T: int) -> Callable[[], Any]:
    """One stochastic pass at a time (the usual ``[model(X, training=True) for _ in range(T)]``):
    a compiled single pass with its own dropout masks, called T times from Python."""
    from bdl.models._tf import tf

    one = tf.function(lambda x, s: model._head(model._forward_train(x, s)))
    x = tf.constant(Xs)

    def run() -> Any:
        out = [one(x, tf.constant([7, t], tf.int64)) for t in range(T)]
        return np.stack([m.numpy() for m, _ in out], axis=1), np.stack([s.numpy() for _, s in out], axis=1)

    return run


def _previous_mc(model: Any, Xs: np.ndarray, T: int) -> Callable[[], Any]:
    """The implementation before this suite (v0.1): all T passes in one batched call, but a
    separate dropout mask per candidate and pass, so the first layer is tiled T times and every
    later layer is a (T n) x H product with a mask of the same size, in chunks of 32 M floats."""
    from bdl.models._tf import tf

    p = float(model.dropout_rate)
    v = model._vars

    @tf.function(input_signature=[tf.TensorSpec([None, Xs.shape[1]], tf.float32), tf.TensorSpec([2], tf.int64)])
    def chunk_fn(x: Any, seed: Any) -> Any:
        m = tf.shape(x)[0]
        h1 = tf.nn.relu(tf.matmul(x, v[0]) + v[1])
        h = tf.reshape(tf.tile(h1[None], [T, 1, 1]), [T * m, -1])
        for layer in range(1, len(v) // 2):
            keep = tf.random.stateless_uniform(tf.shape(h), seed=seed + [0, 1 + layer]) >= p
            h = tf.matmul(tf.where(keep, h / (1.0 - p), 0.0), v[2 * layer]) + v[2 * layer + 1]
            if layer < len(v) // 2 - 1:
                h = tf.nn.relu(h)
        return model._head(tf.reshape(h, [T, m, -1]))

    chunk = max(1, 32_000_000 // (T * max(Xs.shape[1], *MC_HIDDEN)))

    def run() -> Any:
        return [
            [t.numpy().T for t in chunk_fn(tf.constant(Xs[i : i + chunk]), tf.constant([1, i], tf.int64))]
            for i in range(0, len(Xs), chunk)
        ]

    return run


def _naive_vi(model: Any, Xs: np.ndarray, S: int) -> Callable[[], Any]:
    """One weight sample at a time: sample the weights, run the network, S times from Python."""
    from bdl.models._tf import stacked_forward, tf

    @tf.function
    def one(x: Any, seed: Any) -> Any:
        layers = [(w[0], b[0]) for w, b in model._pass_layers(seed, tf.constant(1))]
        return model._head(stacked_forward(x, layers))

    x = tf.constant(Xs)

    def run() -> Any:
        out = [one(x, tf.constant([7, s], tf.int64)) for s in range(S)]
        return np.stack([m.numpy() for m, _ in out], axis=1)

    return run


def predictive_passes(n: int, T: int, reps: int, naive_n: int) -> dict:
    """MC dropout and variational predictive passes on ``n`` random candidates."""
    from bdl.models import MCDropoutRegressor, VariationalBNN

    X = np.random.default_rng(1).normal(size=(n, N_FEATURES))
    out: dict[str, Any] = {}

    mc = _fitted(MCDropoutRegressor, MC_HIDDEN, n_passes=T)
    h1, h2 = MC_HIDDEN
    mc_flops = 2.0 * n * (N_FEATURES * h1 + T * (h1 * h2 + h2 * 2))
    out["mc_dropout"] = _interleaved(lambda: mc.predict_dist(X), mc_flops, (4096, h1, T * h2), reps)
    Xs = mc._scale_X(X[:naive_n])
    naive = _naive_mc(mc, Xs, T)
    naive()
    out["mc_dropout"]["naive_seconds_measured"] = t_naive = min(_timed(naive) for _ in range(2))
    out["mc_dropout"]["naive_rows_measured"] = naive_n
    out["mc_dropout"]["naive_seconds_scaled"] = t_naive * n / naive_n
    out["mc_dropout"]["speedup_over_naive"] = t_naive * n / naive_n / out["mc_dropout"]["seconds_median"]
    prev = _previous_mc(mc, Xs, T)
    prev()
    out["mc_dropout"]["previous_seconds_scaled"] = t_prev = min(_timed(prev) for _ in range(2)) * n / naive_n
    out["mc_dropout"]["speedup_over_previous"] = t_prev / out["mc_dropout"]["seconds_median"]

    vi = _fitted(VariationalBNN, VI_HIDDEN, n_passes=T)
    g1, g2 = VI_HIDDEN
    vi_flops = 2.0 * n * T * (N_FEATURES * g1 + g1 * g2 + g2 * 2)
    out["variational"] = _interleaved(lambda: vi.predict_dist(X), vi_flops, (4096, N_FEATURES, T * g1), reps)
    naive = _naive_vi(vi, vi._scale_X(X[:naive_n]), T)
    naive()
    out["variational"]["naive_seconds_measured"] = t_naive = min(_timed(naive) for _ in range(2))
    out["variational"]["naive_rows_measured"] = naive_n
    out["variational"]["naive_seconds_scaled"] = t_naive * n / naive_n
    out["variational"]["speedup_over_naive"] = t_naive * n / naive_n / out["variational"]["seconds_median"]
    out["n_candidates"], out["n_passes"] = n, T
    return out


# ---------------------------------------------------------------------- featurisation
def featurisation(n: int) -> dict:
    """``bdl.features.featurize`` vs matminer (single process) on ``n`` formulas of matbench_mp_gap."""
    import warnings

    import pandas as pd
    from matminer.featurizers.composition import ElementProperty
    from matminer.featurizers.conversions import StrToComposition

    from benchmarks.featurize_speed import _best_of
    from bdl.data import load_matbench_mp_gap
    from bdl.features import featurize

    formulas = load_matbench_mp_gap(check_formulas=False)["composition"].astype(str).tolist()[:n]
    ours, _ = _best_of(lambda: featurize(formulas), repeats=3)

    def matminer() -> None:
        df = pd.DataFrame({"formula": formulas})
        s2c = StrToComposition(target_col_id="composition")
        ep = ElementProperty.from_preset("magpie")
        s2c.set_n_jobs(1)
        ep.set_n_jobs(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = s2c.featurize_dataframe(df, "formula", pbar=False)
            ep.featurize_dataframe(df, "composition", pbar=False)

    theirs = _timed(matminer)
    return {
        "n_compositions": len(formulas),
        "ours_seconds": ours,
        "ours_per_second": len(formulas) / ours,
        "matminer_single_process_seconds": theirs,
        "matminer_per_second": len(formulas) / theirs,
        "speedup_over_matminer": theirs / ours,
    }


# ---------------------------------------------------------------------- replicates
ROHR_PLATE = 3496
ROHR_BUDGET = 30
ROHR_BATCH = 5
ROHR_MODEL = {"hidden_units": [32, 32], "epochs": 100, "batch_size": 32, "patience": 20, "n_passes": 30}


def rohr_replicate(seed: int, budget: int = ROHR_BUDGET) -> dict[str, Any]:
    """One campaign replicate: a simulated campaign on Rohr et al.'s plate 3496 (2 120 catalysts,
    the 11 element fractions as descriptors) looking for the lowest OER overpotential: 10 random
    measurements, then expected improvement with a small MC-dropout net in batches of 5, to a
    budget of ``budget`` measurements. Returns :func:`discovery_loop.simulate.simulate`'s result
    without its wall-clock ``seconds`` (so two runs of a seed compare equal)."""
    from bdl.data import ROHR_ELEMENTS, load_rohr2020
    from discovery_loop.campaign import CampaignConfig, Goal
    from discovery_loop.simulate import simulate

    frame = load_rohr2020(ROHR_PLATE, check_formulas=False)
    config = CampaignConfig(
        target="overpotential_V", goal=Goal("minimize"), budget=budget, batch_size=ROHR_BATCH, seed=int(seed),
        n_initial=10, strategy="ei", diagnose=False, model_params=ROHR_MODEL,
    )
    result = simulate(frame, config, feature_columns=list(ROHR_ELEMENTS), stop_when_all_found=False)
    result.pop("seconds")
    return result


def replicates(fn: Callable[[int], Any], seeds: Sequence[int], n_workers: int = 2) -> dict:
    """Time ``fn`` over ``seeds`` in this process and on a local cluster of ``n_workers`` processes.

    Each worker first runs one warm-up call (imports, TensorFlow start-up), timed apart, so the
    figure compares steady-state throughput; the cluster's start-up is reported too. The results
    of both paths should be equal (the replicate seeds itself); ``results_equal`` says whether
    they were.
    """
    from bdl.parallel import local_cluster, map_replicates

    seeds = list(seeds)
    fn(seeds[0])  # warm-up in this process too
    t_single = time.perf_counter()
    single = map_replicates(fn, seeds)
    t_single = time.perf_counter() - t_single
    t0 = time.perf_counter()
    with local_cluster(n_workers) as client:
        t_start = time.perf_counter() - t0
        client.run(lambda: __import__("bdl.models._tf"))
        warm = _timed(lambda: map_replicates(fn, seeds[:n_workers], client=client))
        t_cluster = time.perf_counter()
        clustered = map_replicates(fn, seeds, client=client)
        t_cluster = time.perf_counter() - t_cluster
    return {
        "n_replicates": len(seeds),
        "n_workers": n_workers,
        "single_process_seconds": t_single,
        "cluster_seconds": t_cluster,
        "cluster_start_seconds": t_start,
        "cluster_warmup_seconds": warm,
        "speedup_over_single_process": t_single / t_cluster,
        # through JSON, so NaN (a target never found) compares equal to NaN
        "results_equal": json.dumps(clustered, sort_keys=True, default=float)
        == json.dumps(single, sort_keys=True, default=float),
    }


# ---------------------------------------------------------------------- report
def _device() -> str:
    from bdl.models._tf import tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU: {', '.join(g.name for g in gpus)}" if gpus else "CPU only (TensorFlow sees no GPU)"


def run(quick: bool = False) -> dict:
    load_before = _loadavg()
    n = 10_000 if quick else N_CANDIDATES
    result: dict[str, Any] = {"quick": quick, "load_before": load_before, "device": _device()}
    result["passes"] = passes = predictive_passes(n, N_PASSES, reps=1 if quick else 3, naive_n=2_000 if quick else 10_000)
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result["features"] = feats = featurisation(1_000 if quick else 5_000)
    n_workers = max(2, min(4, os.cpu_count() or 2))
    budget = 20 if quick else ROHR_BUDGET
    result["replicates"] = reps = replicates(
        functools.partial(rohr_replicate, budget=budget), range(4 if quick else 8), n_workers
    )
    reps["budget"] = budget
    result["load_after"] = _loadavg()

    mc, vi = passes["mc_dropout"], passes["variational"]

    def gf(x: float) -> str:
        return f"{x / 1e9:,.1f}"

    md = f"""# Speed suite

{{{{STAMP}}}}`python -m benchmarks.speed{' --quick' if quick else ''}` — {result['device']}. Load average
(1, 5, 15 min) before: {load_before}, after: {result['load_after']} (the machine was shared; the
ratios, each taken against a reference measured in the same run, are the figures to compare).
Peak memory of the whole process: {result['peak_rss_gib']:.2f} GiB.

## Predictive passes on {n:,} candidates ({N_FEATURES} features)

FLOPs = 2 × the dense layers' multiply-adds as computed (MC dropout: first layer once per
candidate, later layers T times; variational: every layer S times); GEMM = numpy float32
`(4096, k) @ (k, n)` of the model's widest product, measured right before each model run;
fraction = median over {len(mc['seconds'])} alternating runs of (model FLOP/s) / (GEMM FLOP/s).
Times are end to end: `model.predict_dist(X)` from a float64 array to the returned
`SamplePredictive` (standardisation, chunking, transfers included).

| model | passes | seconds | GFLOP | GFLOP/s | GEMM GFLOP/s | fraction of GEMM | naive loop, s (scaled) | speed-up over naive |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| MC dropout {MC_HIDDEN} | T = {N_PASSES} | {mc['seconds_median']:.2f} | {mc['flops'] / 1e9:,.0f} | {gf(mc['flop_per_s_median'])} | {gf(mc['gemm_flop_per_s_median'])} | **{mc['fraction_of_gemm_median']:.0%}** | {mc['naive_seconds_scaled']:.1f} | **{mc['speedup_over_naive']:.1f}×** |
| variational {VI_HIDDEN} | S = {N_PASSES} | {vi['seconds_median']:.2f} | {vi['flops'] / 1e9:,.0f} | {gf(vi['flop_per_s_median'])} | {gf(vi['gemm_flop_per_s_median'])} | **{vi['fraction_of_gemm_median']:.0%}** | {vi['naive_seconds_scaled']:.1f} | **{vi['speedup_over_naive']:.1f}×** |

Naive loop: one stochastic pass at a time from Python (a compiled single pass with its own
masks / weight sample, called T times), timed on the first {mc['naive_rows_measured']:,} candidates
and scaled linearly to {n:,}. The MC-dropout implementation before this suite (all passes batched,
but a separate mask per candidate, first layer tiled T times) takes {mc['previous_seconds_scaled']:.1f} s
on the same work (scaled the same way): the present one is {mc['speedup_over_previous']:.1f}× faster.

## Featurisation ({feats['n_compositions']:,} formulas of matbench_mp_gap, parsing included)

| featuriser | seconds | compositions / s | ratio |
|---|---:|---:|---:|
| bdl.features.featurize | {feats['ours_seconds']:.3f} | {feats['ours_per_second']:,.0f} | **{feats['speedup_over_matminer']:.0f}× faster** |
| matminer (StrToComposition + ElementProperty magpie, n_jobs=1) | {feats['matminer_single_process_seconds']:.1f} | {feats['matminer_per_second']:,.0f} | reference |

(`benchmarks/featurize_speed.py` has the full 106 113-formula comparison, matminer on all cores too.)

## Independent replicates ({reps['n_replicates']} simulated campaigns, one per seed)

One replicate (`rohr_replicate`): a whole campaign through `discovery_loop.simulate.simulate` on
Rohr et al.'s catalyst plate {ROHR_PLATE} (2 120 compositions, the 11 element fractions as
descriptors), lowest OER overpotential, 10 random measurements then expected improvement with an
MC-dropout net (32, 32) in batches of {ROHR_BATCH}, {reps['budget']} measurements in all (a new
network per round, its ledger in a temporary folder).

| path | seconds | speed-up over one process |
|---|---:|---:|
| one process, a loop (`map_replicates(fn, seeds)`) | {reps['single_process_seconds']:.1f} | reference |
| local Dask cluster, {reps['n_workers']} worker processes (`client=`) | {reps['cluster_seconds']:.1f} | **{reps['speedup_over_single_process']:.2f}×** |

Cluster start-up {reps['cluster_start_seconds']:.1f} s and one warm-up replicate per worker
{reps['cluster_warmup_seconds']:.1f} s (imports, TensorFlow start-up), both outside the timed run;
results identical to the loop (every measurement in the same order): {reps['results_equal']}. The single process already uses every core inside TensorFlow, so
any gain comes from running the many small, latency-bound ops of separate fits side by side; on
a machine whose cores are already busy with other work there is nothing to gain (below 1×).
"""
    write_result("speed", result, md)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (10 000 candidates), to check the script runs")
    args = parser.parse_args()
    res = run(quick=args.quick)
    p = res["passes"]
    print(
        f"MC dropout: {p['mc_dropout']['fraction_of_gemm_median']:.0%} of GEMM, "
        f"{p['mc_dropout']['speedup_over_naive']:.1f}x naive; variational: "
        f"{p['variational']['fraction_of_gemm_median']:.0%} of GEMM, {p['variational']['speedup_over_naive']:.1f}x naive; "
        f"features {res['features']['speedup_over_matminer']:.0f}x matminer; replicates "
        f"{res['replicates']['speedup_over_single_process']:.2f}x on {res['replicates']['n_workers']} workers"
    )


if __name__ == "__main__":
    main()
