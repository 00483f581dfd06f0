"""Shared by the campaign tests: a tiny pool, tiny nets, and a ledger compared table by table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from discovery_loop.ledger import TIME_COLUMNS, Ledger

TINY = {"hidden_units": [16], "epochs": 25, "patience": 25, "n_passes": 20, "batch_size": 16}
TINY_MDN = {"hidden_units": [16], "epochs": 25, "patience": 25, "n_components": 3, "batch_size": 16}


def pool_csv(tmp_path: Path, n: int = 90) -> Path:
    """A pool of n candidates with 3 descriptors (a, b, c), target y and IDs in column name."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(n, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - 0.3 * X[:, 2] + 0.05 * rng.normal(size=n)
    path = tmp_path / "pool.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y, name=[f"m{i:03d}" for i in range(n)]).to_csv(path, index=False)
    return path


def source(pool: Path) -> dict:
    """The ``source`` of :func:`discovery_loop.campaign.open_campaign` for :func:`pool_csv`."""
    return {"data": str(pool), "dataset": None, "id_column": "name", "formula_column": None,
            "feature_columns": ["a", "b", "c"], "oracle": "lookup", "lab_dir": None, "noise_std": 0.0, "wait": False}


def ledger_contents(path: Path) -> dict[str, pd.DataFrame]:
    """Every table, without wall-clock columns, the event log or the zip bytes of the models."""
    with Ledger(path, lock=False) as ledger:
        out = {}
        for name in ("meta", "pool", "targets", "rounds", "proposals", "measurements"):
            t = ledger.table(name)
            t = t.drop(columns=[c for c in TIME_COLUMNS if c in t.columns])
            if name == "meta":
                t = t[~t["key"].isin(["created_at"])].reset_index(drop=True)
            out[name] = t
        return out


def assert_same_ledger(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
