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
