"""The SQLite campaign ledger: round trips, transactions, one writer at a time."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.errors import LedgerError, LedgerLockedError
from discovery_loop.ledger import Ledger


def _proposals(idx: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "rank": np.arange(len(idx)), "idx": idx, "id": [f"c{i}" for i in idx], "score": np.linspace(1, 0, len(idx)),
        "mean": 0.5, "std": 0.1, "epistemic_std": 0.05, "status": "ok", "reasons": "", "predictive": None,
    })


def _new(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "l.sqlite", create=True)
    ledger.initialise({"a": 1}, [f"c{i}" for i in range(10)], "fp", targets=[3, 4])
    return ledger


def _info(r: int) -> dict:
    return {"round": r, "kind": "initial", "n_train": 0, "n_candidates": 10, "strategy": "random"}


def test_round_trip(tmp_path: Path) -> None:
    with _new(tmp_path) as ledger:
        ledger.record_round(_info(0), _proposals([1, 3, 5]))
        assert ledger.pending()["idx"].tolist() == [1, 3, 5]
        ledger.record_measurements(0, pd.DataFrame({"id": ["c3", "c1", "c5"], "value": [2.0, 1.0, 3.0]}), {f"c{i}": i for i in range(10)})
        assert ledger.pending().empty
        # measured() is in proposal order, not in the order the lab returned them
        assert ledger.measured()["idx"].tolist() == [1, 3, 5]
    with Ledger(tmp_path / "l.sqlite", lock=False) as again:
        assert again.config == {"a": 1}
        assert again.pool_ids()[:3] == ["c0", "c1", "c2"]
        assert again.targets().tolist() == [3, 4]
        assert again.n_rounds() == 1


def test_a_failed_round_writes_nothing(tmp_path: Path) -> None:
    with _new(tmp_path) as ledger:
        with pytest.raises(sqlite3.IntegrityError):
            ledger.record_round(_info(0), _proposals([1, 1]))  # the same candidate twice
        assert ledger.n_rounds() == 0 and ledger.table("proposals").empty


def test_nothing_is_measured_twice(tmp_path: Path) -> None:
    ids = {f"c{i}": i for i in range(10)}
    with _new(tmp_path) as ledger:
        ledger.record_round(_info(0), _proposals([1, 2]))
        ledger.record_measurements(0, pd.DataFrame({"id": ["c1", "c2"], "value": [1.0, 2.0]}), ids)
        with pytest.raises(LedgerError, match="already in the ledger"):
            ledger.record_measurements(0, pd.DataFrame({"id": ["c2"], "value": [5.0]}), ids)
        assert ledger.measured()["value"].tolist() == [1.0, 2.0]


def test_creation_and_opening_errors(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no campaign ledger"):
        Ledger(tmp_path / "missing.sqlite")
    _new(tmp_path).close()
    with pytest.raises(LedgerError, match="already holds a campaign"):
        Ledger(tmp_path / "l.sqlite", create=True)
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all")
    with pytest.raises(LedgerError, match="not a campaign ledger"):
        Ledger(junk, lock=False)


def test_second_writer_is_refused_and_lock_dies_with_its_process(tmp_path: Path) -> None:
    first = _new(tmp_path)
    with pytest.raises(LedgerLockedError, match=f"pid {os.getpid()}"):
        Ledger(tmp_path / "l.sqlite")
    first.close()
    Ledger(tmp_path / "l.sqlite").close()  # released on close
    code = (
        "import sys, time; from discovery_loop.ledger import Ledger; "
        f"l = Ledger({str(tmp_path / 'l.sqlite')!r}); print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerLockedError, match="another process"):
            Ledger(tmp_path / "l.sqlite")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.1)
    Ledger(tmp_path / "l.sqlite").close()  # the kernel released the killed process's lock
