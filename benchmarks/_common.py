"""Helpers shared by the benchmarks: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Describe the machine the benchmark ran on (no host names or paths)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def write_result(name: str, payload: dict[str, Any], markdown: str) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md`` stamped with date and machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps({**stamp, **payload}, indent=2, default=float))
    m = stamp["machine"]
    header = (
        f"Run on {stamp['date']} — {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}, {m['os']}.\n\n"
    )
    path = RESULTS / f"{name}.md"
    path.write_text(markdown.replace("{{STAMP}}", header))
    return path


def run_in_fresh_processes(fn: Any, tasks: list[tuple[Any, ...]], workers: int = 1) -> None:
    """``fn(*task)`` for every task, each call in a fresh process, ``workers`` at a time.

    For the campaign benchmarks, whose ``run_one`` caches its result: ``workers`` campaigns run side
    by side, and a process's memory goes back to the system when its campaign ends. (Until the
    optimiser fix in :func:`bdl.models._tf.make_optimizer` every network fit kept about 4 MB, and
    one process running campaign after campaign grew by about 1 GB per campaign; see
    ``results/fit_memory.md`` for what is still kept.) ``fn`` is looked up by its module's import
    name, so that it also works when that module runs as ``python -m``. Prints one line per
    finished call; the callers read the results from their caches afterwards.
    """
    import importlib
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor, as_completed

    module = fn.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is None:
            raise RuntimeError("run the benchmark as `python -m benchmarks.NAME`, so its workers can import it.")
        module = spec.name
    target = getattr(importlib.import_module(module), fn.__name__)
    if not tasks:
        return
    print(f"{len(tasks)} campaigns to run, {max(1, workers)} at a time, each in a fresh process", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, int(workers)), mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as ex:
        futures = {ex.submit(target, *task): tuple(task) for task in tasks}
        for done, fut in enumerate(as_completed(futures), 1):
            fut.result()  # raises a failed campaign's error here
            print(f"[{done}/{len(tasks)}] {' '.join(map(str, futures[fut]))} done", flush=True)
