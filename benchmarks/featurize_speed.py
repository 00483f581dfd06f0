"""Featuriser throughput: bdl.features.featurize vs matminer on all of matbench_mp_gap.

Both sides start from formula strings already in memory (file I/O excluded) and include
parsing. matminer is timed as users run it: ``StrToComposition`` then
``ElementProperty.from_preset("magpie")`` through ``featurize_dataframe`` with its default
multiprocessing over all cores, and also single-process (``n_jobs=1``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks._common import write_result


def _best_of(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times


def run(quick: bool = False) -> dict:
    import pandas as pd
    from matminer.featurizers.composition import ElementProperty
    from matminer.featurizers.conversions import StrToComposition

    from bdl.data import load_matbench_mp_gap
    from bdl.features import featurize

    formulas = load_matbench_mp_gap(check_formulas=False)["composition"].astype(str).tolist()
    if quick:
        formulas = formulas[:5000]
    n = len(formulas)
    ours_median, ours_times = _best_of(lambda: featurize(formulas), repeats=5)

    def matminer_run(n_jobs: int | None) -> float:
        df = pd.DataFrame({"formula": formulas})
        t0 = time.perf_counter()
        s2c = StrToComposition(target_col_id="composition")
        ep = ElementProperty.from_preset("magpie")
        if n_jobs is not None:
            s2c.set_n_jobs(n_jobs)
            ep.set_n_jobs(n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = s2c.featurize_dataframe(df, "formula", pbar=False)
            ep.featurize_dataframe(df, "composition", pbar=False)
        return time.perf_counter() - t0

    mm_default = matminer_run(None)
    mm_single = matminer_run(1)
    result = {
        "n_compositions": n,
        "ours_seconds_median_of_5": ours_median,
        "ours_seconds_all": ours_times,
        "ours_per_second": n / ours_median,
        "matminer_default_jobs_seconds": mm_default,
        "matminer_default_jobs_per_second": n / mm_default,
        "matminer_single_process_seconds": mm_single,
        "matminer_single_process_per_second": n / mm_single,
        "speedup_vs_matminer_default": mm_default / ours_median,
        "speedup_vs_matminer_single_process": mm_single / ours_median,
    }
    md = f"""# Featuriser throughput

{{{{STAMP}}}}`python -m benchmarks.run featurize` — all {n} compositions of matbench_mp_gap, parsing
included, file I/O excluded. Ours: median of 5 runs ({', '.join(f'{t:.2f}' for t in ours_times)} s).
matminer: `StrToComposition` + `ElementProperty.from_preset("magpie")` via `featurize_dataframe`.

| featuriser | seconds | compositions / s | ours is faster by |
|---|---:|---:|---:|
| bdl.features.featurize | {ours_median:.2f} | {n / ours_median:,.0f} | — |
| matminer, default n_jobs (all cores) | {mm_default:.1f} | {n / mm_default:,.0f} | {mm_default / ours_median:.0f}× |
| matminer, n_jobs=1 | {mm_single:.1f} | {n / mm_single:,.0f} | {mm_single / ours_median:.0f}× |
"""
    write_result("featurize_speed", result, md)
    return result


if __name__ == "__main__":
    print(run())
