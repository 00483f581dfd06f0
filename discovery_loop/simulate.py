"""Simulated campaigns on a table of known values: one call per replicate, for benchmarks.

:func:`simulate` runs a whole campaign with a :class:`~discovery_loop.oracles.LookupOracle` on
a DataFrame and returns the numbers a benchmark compares (the order of the experiments, the
fraction of the targets found, best-so-far, acceleration over random picking). It is a plain
top-level function of picklable arguments, so replicates over seeds and strategies fan out with
:func:`bdl.parallel.map_replicates` (Dask) unchanged.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate"]


def simulate(
    frame: pd.DataFrame,
    config: Any,
    *,
    formula_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    id_column: str | None = None,
    stop_when_all_found: bool = True,
    ledger_path: str | Path | None = None,
) -> dict[str, Any]:
    """Run one simulated campaign on ``frame`` (which holds ``config.target`` for every row).

    Parameters
    ----------
    frame : DataFrame
        The pool with its true values.
    config : CampaignConfig
    formula_column, feature_columns, id_column
        As for :meth:`discovery_loop.campaign.Pool.from_frame`.
    stop_when_all_found : bool, default True
        Stop as soon as every target is measured (benchmarks count experiments to the last
        target; the rest of the budget would change nothing).
    ledger_path : path, optional
        Keep the ledger there; by default it lives in a temporary folder and is deleted.

    Returns
    -------
    dict
        ``order`` (pool positions in measurement order), ``values``, ``found_curve``,
        ``best_so_far``, ``n_pool``, ``n_targets``, ``experiments_to_first`` / ``_half`` /
        ``_all`` and the matching ``acceleration_*`` (NaN when not reached within the budget),
        ``seconds``, ``triage`` (status of every proposal, None for the initial design), and
        ``proposal_coverage_50`` / ``proposal_coverage_90``: the share of the measured model-round
        proposals inside the 50 % / 90 % intervals they were proposed with (NaN without any).
    """
    from discovery_loop.campaign import Campaign, Pool
    from discovery_loop.ledger import Ledger
    from discovery_loop.metrics import acceleration_factor, best_so_far, experiments_to_find, found_curve
    from discovery_loop.oracles import LookupOracle
    from discovery_loop.report import _measured_proposals, proposal_scores

    pool = Pool.from_frame(frame, id_column=id_column, formula_column=formula_column, feature_columns=feature_columns)
    y = pd.to_numeric(frame[config.target]).to_numpy(dtype=np.float64)
    targets = config.goal.target_set(y)
    oracle = LookupOracle(pd.DataFrame({"id": pool.ids.astype(str), "value": y}), "id", "value")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(ledger_path) if ledger_path is not None else Path(tmp) / "ledger.sqlite"
        with Ledger(path, create=True) as ledger:
            campaign = Campaign(pool, oracle, ledger, config, targets=targets, progress=False)
            for _ in campaign.rounds():
                if stop_when_all_found and np.isin(targets, campaign.measured()["idx"].to_numpy()).all():
                    break
            measured = campaign.measured()
            props = ledger.table("proposals")
            scored = proposal_scores(_measured_proposals(props, measured))
    order = measured["idx"].to_numpy(dtype=np.int64)
    values = measured["value"].to_numpy(dtype=np.float64)
    curve = found_curve(order, targets)
    out: dict[str, Any] = {
        "order": order.tolist(),
        "values": values.tolist(),
        "found_curve": curve.tolist(),
        "best_so_far": best_so_far(values, config.goal.utility(values)).tolist(),
        "n_pool": len(pool),
        "n_targets": int(targets.size),
        "seconds": time.perf_counter() - t0,
        "triage": props.set_index("idx").loc[order, "status"].tolist(),
        "proposal_coverage_50": float(scored["in_50"].mean()) if len(scored) else float("nan"),
        "proposal_coverage_90": float(scored["in_90"].mean()) if len(scored) else float("nan"),
    }
    for label, frac in (("first", 1.0 / targets.size), ("half", 0.5), ("all", 1.0)):
        n = experiments_to_find(curve, frac)
        out[f"experiments_to_{label}"] = n
        out[f"acceleration_{label}"] = acceleration_factor(n, len(pool), int(targets.size), frac)
    return out
