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


# ---------------------------------------------------------------------------------------------
# issue 14: one writer whatever the path; a ledger exists whole or not at all
# ---------------------------------------------------------------------------------------------

from discovery_loop.ledger import lock_holder  # noqa: E402


def test_symlinks_hard_links_and_relative_paths_cannot_open_a_second_writer(tmp_path: Path, monkeypatch) -> None:
    first = _new(tmp_path)
    real = tmp_path / "l.sqlite"
    (tmp_path / "sym.sqlite").symlink_to(real)
    (tmp_path / "dirlink").symlink_to(tmp_path)
    os.link(real, tmp_path / "hard.sqlite")
    monkeypatch.chdir(tmp_path / "dirlink")
    for other in (tmp_path / "sym.sqlite", tmp_path / "hard.sqlite", Path("l.sqlite"), Path("./dirlink/l.sqlite"), Path("../" + tmp_path.name + "/l.sqlite"),
                  tmp_path / "dirlink" / "l.sqlite", Path("sym.sqlite")):
        with pytest.raises(LedgerLockedError, match="another process"):
            Ledger(other)
        assert lock_holder(other) is not None, other
    # the lock files are named after the real path only: no second lock file appeared
    assert sorted(p.name for p in tmp_path.glob("*.lock")) == ["l.sqlite.lock"]
    first.close()
    assert lock_holder(tmp_path / "hard.sqlite") is None
    with Ledger(tmp_path / "hard.sqlite"):  # any path works once the writer is gone
        with pytest.raises(LedgerLockedError):
            Ledger(real)


def test_a_second_process_through_a_hard_link_is_refused(tmp_path: Path) -> None:
    _new(tmp_path).close()
    os.link(tmp_path / "l.sqlite", tmp_path / "hard.sqlite")
    code = (
        "import time; from discovery_loop.ledger import Ledger; "
        f"l = Ledger({str(tmp_path / 'hard.sqlite')!r}); print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerLockedError, match="another process"):
            Ledger(tmp_path / "l.sqlite")
        assert lock_holder(tmp_path / "l.sqlite") is not None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_a_ledger_exists_only_once_initialised(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "l.sqlite"
    ledger = Ledger(path, create=True)
    assert not path.exists()  # built aside, renamed into place by initialise
    ledger.close()  # never initialised: nothing is left, not even the folders it made
    assert not (tmp_path / "new").exists()
    ledger = Ledger(path, create=True)
    ledger.initialise({"a": 1}, ["c0"], "fp")
    assert path.exists() and not Path(str(path) + ".init").exists()
    ledger.record_round(_info(0), _proposals([0]))
    ledger.close()
    assert Ledger(path, lock=False).n_rounds() == 1


@pytest.mark.parametrize("where", ["initialise", "rename"])
def test_a_kill_before_the_ledger_is_initialised_leaves_no_ledger(tmp_path: Path, where: str) -> None:
    path = tmp_path / "l.sqlite"
    hook = {
        "initialise": "ledger.Ledger.initialise = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)",
        "rename": "ledger.os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)",
    }[where]
    code = (
        "import os, signal; from discovery_loop import ledger\n"
        f"{hook}\n"
        f"l = ledger.Ledger({str(path)!r}, create=True)\n"
        "l.initialise({'a': 1}, ['c0', 'c1'], 'fp')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not path.exists()
    with pytest.raises(LedgerError, match="no campaign ledger"):
        Ledger(path)
    ledger = Ledger(path, create=True)  # a new start clears the half-built file
    ledger.initialise({"a": 1}, ["c0", "c1"], "fp")
    ledger.close()
    assert not Path(str(path) + ".init").exists()
    with Ledger(path, lock=False) as again:
        assert again.pool_ids() == ["c0", "c1"]


def test_opening_errors_are_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LedgerError, match="a part of the path is a file|a file is in the way"):
        Ledger(tmp_path / "afile" / "l.sqlite", create=True)
    with pytest.raises(LedgerError, match="is a folder"):
        Ledger(tmp_path)
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all")
    with pytest.raises(LedgerError, match="not a campaign ledger.*choose a new ledger path"):
        Ledger(junk, create=True)
    assert junk.read_text() == "not a database at all"
