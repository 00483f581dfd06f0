"""The campaign ledger: a SQLite database written in transactions.

Everything a campaign decides or learns goes here, so a campaign killed at any moment (even by
``SIGKILL``) resumes with nothing lost and nothing measured twice:

``meta``
    key/value rows: schema version, the campaign configuration (JSON), the pool's fingerprint,
    creation time, the package version.
``pool``
    one row per candidate: position ``idx`` in the pool and its ``id``.
``targets``
    simulated campaigns only: the candidates that count as "found" for the campaign metrics
    (top 1 % of the pool, or the pool's members inside the target window). Read by the report,
    never by the strategy.
``rounds``
    one row per round: kind (``initial`` or ``model``), the model's name, hyper-parameters and
    weight fingerprint, training-set size, best value before the round, triage counts over the
    candidates it scored, timings.
``models``
    the trained model of every round (its :meth:`~bdl.models.BayesianRegressor.save` folder as a
    zip blob), so any round's model can be loaded and inspected later.
``aux_models``
    other models a round trained, keyed by round and ``kind`` (``mdn``: the diagnostics'
    mixture density network), stored the same way; a warm-started campaign continues them.
``proposals``
    every proposed experiment: round, rank in the batch, candidate, acquisition score, the
    model's predictive for it (mean, std, epistemic std, and the full mixture as JSON), the
    triage verdict and its reasons.
``measurements``
    one row per measured candidate (``idx`` is the primary key: nothing is measured twice).
``events``
    a log of things worth knowing that are not results: resumes, rejected lab files, stops.
``corrections``
    append-only corrections of recorded measurements (``amend``: a new value, ``retract``: the
    measurement no longer counts), each with its time, reason and the value it replaced. A
    ``measurements`` row is never rewritten; the current value of a candidate is its latest
    correction's, and later rounds train on current values only.

A proposal batch is written in one transaction and its measurements in another. A new ledger is
built in ``<ledger>.init`` and renamed into place once its configuration and pool are written, so
a ledger file either holds a whole campaign start or does not exist (a kill, or an error, before
that leaves no ledger behind).

One process at a time may write to a ledger, whatever path it uses: :class:`Ledger` takes an
exclusive ``flock`` on ``<real path>.lock`` (symlinks and relative paths resolved, so every path
to the file names the same lock file; the file holds who has the lock) and another on the
database file itself (which follows the inode, so a hard link cannot open a second writer
either). The kernel releases both when the process dies, however it dies.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bdl.errors import LedgerError, LedgerLockedError

__all__ = ["SCHEMA_VERSION", "Ledger", "TIME_COLUMNS", "lock_holder", "real_path"]

SCHEMA_VERSION = 1

#: Columns that hold wall-clock times or durations: they differ between an interrupted and an
#: uninterrupted run and are left out when two ledgers are compared.
TIME_COLUMNS = ("started_at", "proposed_at", "measured_at", "timings", "created_at", "at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pool (idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS targets (idx INTEGER PRIMARY KEY REFERENCES pool(idx));
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    n_train INTEGER NOT NULL,
    n_candidates INTEGER NOT NULL,
    best_before REAL,
    model TEXT,
    model_params TEXT,
    model_fingerprint TEXT,
    strategy TEXT NOT NULL,
    triage_counts TEXT,
    triage_summary TEXT,
    timings TEXT,
    started_at TEXT,
    proposed_at TEXT
);
CREATE TABLE IF NOT EXISTS models (round INTEGER PRIMARY KEY REFERENCES rounds(round), blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS aux_models (
    round INTEGER NOT NULL REFERENCES rounds(round),
    kind TEXT NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (round, kind)
);
CREATE TABLE IF NOT EXISTS proposals (
    round INTEGER NOT NULL REFERENCES rounds(round),
    rank INTEGER NOT NULL,
    idx INTEGER NOT NULL UNIQUE REFERENCES pool(idx),
    id TEXT NOT NULL,
    score REAL,
    mean REAL,
    std REAL,
    epistemic_std REAL,
    status TEXT,
    reasons TEXT,
    predictive TEXT,
    PRIMARY KEY (round, rank)
);
CREATE TABLE IF NOT EXISTS measurements (
    idx INTEGER PRIMARY KEY REFERENCES proposals(idx),
    id TEXT NOT NULL,
    value REAL NOT NULL,
    round INTEGER NOT NULL,
    measured_at TEXT
);
CREATE TABLE IF NOT EXISTS corrections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    idx INTEGER NOT NULL REFERENCES measurements(idx),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('amend', 'retract')),
    previous_value REAL,
    value REAL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    round INTEGER,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


_AUX_MODELS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS aux_models") :].split(";")[0]
_CORRECTIONS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS corrections") :].split(";")[0]
#: The latest correction of every corrected candidate.
_LATEST = "SELECT c.idx, c.kind, c.value FROM corrections c WHERE c.seq IN (SELECT MAX(seq) FROM corrections GROUP BY idx)"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def real_path(path: str | Path) -> Path:
    """The ledger's real file: symlinks and relative paths resolved (what the lock follows)."""
    return Path(os.path.realpath(os.fspath(path)))


def _lock_error(ledger: Path, holder: str) -> LedgerLockedError:
    return LedgerLockedError(
        f"another process ({holder}) is running a campaign on this ledger ({ledger}); "
        "only one process may write to a ledger. Wait for it to finish, or stop it, then run "
        "'discovery-loop resume'."
    )


def _lock(path: Path, ledger: Path) -> Any:
    """Take an exclusive, non-blocking lock on ``path``; the open file object holds it."""
    import fcntl

    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise _lock_error(ledger, holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {_now()}")
    handle.flush()
    return handle


def _lock_file_itself(path: Path, ledger: Path) -> Any:
    """Exclusive ``flock`` on the database file's inode (hard links share it); None if absent."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise _lock_error(ledger, "through another path to the same file, e.g. a hard link") from None
    return fd


def lock_holder(ledger_path: str | Path) -> str | None:
    """Who holds a ledger's single-writer lock now ("pid N since T"), or None.

    Probes with non-blocking shared ``flock``s (on the lock file of the real path, then on the
    database file itself), so it never blocks or takes the lock.
    """
    import fcntl

    real = real_path(ledger_path)
    lock = Path(str(real) + ".lock")
    if lock.exists():
        with open(lock, encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return fh.read().strip() or "another process"
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    try:
        fd = os.open(real, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return "another process, through another path to the same file"
    finally:
        os.close(fd)
    return None


def _os_problem(exc: OSError, what: str, path: Path) -> LedgerError:
    """One sentence for an OSError met while opening or creating a ledger."""
    import errno

    fixes = {
        errno.EEXIST: "a file is in the way of a folder on that path; choose another --ledger path",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another --ledger path",
        errno.EACCES: "you may not write there; choose a folder you can write to",
        errno.EPERM: "you may not write there; choose a folder you can write to",
        errno.EROFS: "the file system is read-only; choose another --ledger path",
        errno.ENOSPC: "the disk is full; free some space and try again",
        errno.EISDIR: "that path is a folder; give the path of a ledger file inside it",
    }
    fix = fixes.get(exc.errno or 0, "check the path and its permissions")
    return LedgerError(f"cannot {what} {path} ({exc.strerror or exc}); {fix}.")


class Ledger:
    """A campaign's SQLite ledger.

    Parameters
    ----------
    path : str or Path
        The database file.
    create : bool, default False
        Create a new ledger; refuses if ``path`` already holds a campaign.
    lock : bool, default True
        Take the single-writer lock (readers such as ``status`` and ``report`` pass False).

    Raises
    ------
    LedgerError
        If ``create`` is False and there is no ledger at ``path``, or it is not a ledger of this
        toolkit, or ``create`` is True and one exists already.
    LedgerLockedError
        If another process holds the ledger's lock.
    """

    def __init__(self, path: str | Path, *, create: bool = False, lock: bool = True) -> None:
        self.path = Path(path)
        self._lock_handle: Any = None
        self._file_lock: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._building: Path | None = None  # the .init file of a ledger not yet initialised
        self._made: list[Path] = []  # what this object created and removes if never initialised
        real = real_path(self.path)
        self._real = real
        if real.is_dir():
            raise LedgerError(f"{self.path} is a folder, not a ledger file; give the path of the ledger file (e.g. {self.path / 'ledger.sqlite'}).")
        exists = real.exists() and real.stat().st_size > 0
        if not create and not exists:
            raise LedgerError(
                f"there is no campaign ledger at {self.path}; check the path, or start a campaign "
                "with 'discovery-loop run ... --ledger PATH'."
            )
        try:
            if create:
                missing = [p for p in [real.parent, *real.parent.parents] if not p.exists()]
                try:
                    real.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _os_problem(exc, "create the folder of the ledger", real.parent) from None
                self._made.extend(sorted(missing, key=lambda p: len(p.parts), reverse=True))
            if lock:
                lock_path = Path(str(real) + ".lock")
                had_lock_file = lock_path.exists()
                try:
                    self._lock_handle = _lock(lock_path, self.path)
                except OSError as exc:
                    raise _os_problem(exc, "create the lock file", lock_path) from None
                if create and not had_lock_file:
                    self._made.insert(0, lock_path)
                try:
                    self._file_lock = _lock_file_itself(real, self.path)
                except LedgerLockedError:
                    if not had_lock_file:  # a hard link's own lock file: leave nothing behind
                        self._lock_handle.close()
                        self._lock_handle = None
                        lock_path.unlink(missing_ok=True)
                    raise
            if create:
                if exists:
                    self._conn = self._connect(real)
                    try:
                        holds = self._has_table("meta") and self._meta_value("config") is not None
                    except sqlite3.DatabaseError:
                        raise LedgerError(
                            f"{self.path} exists and is not a campaign ledger; choose a new ledger path, or move "
                            "that file away."
                        ) from None
                    if holds:
                        raise LedgerError(
                            f"{self.path} already holds a campaign; continue it with 'discovery-loop "
                            "resume --ledger PATH', or choose a new ledger path."
                        )
                    self._conn.close()
                    self._conn = None
                # built aside and renamed into place by initialise(): no half-made ledger is ever seen
                building = Path(str(real) + ".init")
                for leftover in (building, Path(str(building) + "-journal")):
                    if leftover.exists():
                        leftover.unlink()  # a start killed before its ledger was written; we hold the lock
                self._building = building
                self._conn = self._connect(building)
                self._conn.executescript(_SCHEMA)
            else:
                self._conn = self._connect(real)
                self._check_schema()
                if lock:
                    # ledgers written before these tables existed: the tables are additions only
                    for name, ddl in (("aux_models", _AUX_MODELS_TABLE), ("corrections", _CORRECTIONS_TABLE)):
                        if not self._has_table(name):
                            self._conn.execute(ddl)
                    # ledgers written before the triage summary existed: one nullable column added
                    if not self._has_column("rounds", "triage_summary"):
                        self._conn.execute("ALTER TABLE rounds ADD COLUMN triage_summary TEXT")
        except BaseException:
            self.close()
            raise

    def _connect(self, path: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open {self.path} as a ledger (SQLite says: {exc}); check the path and its permissions.") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(
                f"{self.path} is not a campaign ledger (SQLite says: {exc}); check the path, or choose a new ledger path."
            ) from exc
        return conn

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the database and release the lock.

        A new ledger that was never initialised leaves nothing behind: its ``.init`` file, the
        lock file and any folders this object created are removed.
        """
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            self._conn = None
        building = getattr(self, "_building", None)
        if building is not None:
            for p in (building, Path(str(building) + "-journal")):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
            self._building = None
            for p in getattr(self, "_made", []):
                try:
                    p.unlink() if p.suffix == ".lock" else p.rmdir()
                except OSError:
                    pass
        self._made = []
        if getattr(self, "_file_lock", None) is not None:
            os.close(self._file_lock)  # type: ignore[arg-type]
            self._file_lock = None
        if getattr(self, "_lock_handle", None) is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk: SQLITE_FULL); a
            # second ROLLBACK would raise and hide the real error
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def _has_table(self, name: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        return row is not None

    def _has_column(self, table: str, column: str) -> bool:
        return any(row[1] == column for row in self._conn.execute(f"PRAGMA table_info({table})").fetchall())

    def _meta_value(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _check_schema(self) -> None:
        try:
            version = self._meta_value("schema_version") if self._has_table("meta") else None
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            raise LedgerError(f"{self.path} is not a campaign ledger (SQLite says: {exc}).") from exc
        if version is None:
            raise LedgerError(f"{self.path} is not a campaign ledger of this toolkit (no schema version).")
        if int(version) != SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path} has ledger schema version {version}; this toolkit reads version "
                f"{SCHEMA_VERSION}. Use the toolkit version that wrote it."
            )

    # ------------------------------------------------------------------ creation
    def initialise(
        self,
        config: dict[str, Any],
        pool_ids: Sequence[str],
        pool_fingerprint: str,
        targets: Sequence[int] | None = None,
        extra_meta: dict[str, str] | None = None,
    ) -> None:
        """Write the campaign's configuration, pool and (simulated campaigns) target set at once."""
        from bdl import __version__

        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "config": json.dumps(config, sort_keys=True),
            "pool_fingerprint": pool_fingerprint,
            "created_at": _now(),
            "bdl_version": __version__,
            **(extra_meta or {}),
        }
        with self.transaction() as c:
            c.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
            c.executemany("INSERT INTO pool VALUES (?, ?)", [(i, str(v)) for i, v in enumerate(pool_ids)])
            if targets is not None:
                c.executemany("INSERT INTO targets VALUES (?)", [(int(i),) for i in targets])
        if self._building is not None:
            # the start is complete: put the ledger in place in one rename, then reopen it there
            if self._conn is None:
                raise LedgerError(f"{self._real}: the ledger's connection closed before its start was complete; run again.")
            self._conn.close()
            self._conn = None
            os.replace(self._building, self._real)
            self._building = None
            self._made = []
            _fsync_dir(self._real.parent)
            self._conn = self._connect(self._real)
            if self._lock_handle is not None:  # the lock on the file follows the new inode
                if self._file_lock is not None:
                    os.close(self._file_lock)
                self._file_lock = _lock_file_itself(self._real, self.path)

    # ------------------------------------------------------------------ reads
    @property
    def config(self) -> dict[str, Any]:
        """The campaign configuration as written at creation."""
        text = self._meta_value("config")
        if text is None:
            raise LedgerError(f"{self.path} has no campaign configuration; it was never initialised.")
        return dict(json.loads(text))

    def meta(self) -> dict[str, str]:
        """All meta rows."""
        return {k: v for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def pool_ids(self) -> list[str]:
        """Candidate IDs in pool order."""
        return [r[0] for r in self._conn.execute("SELECT id FROM pool ORDER BY idx")]

    def targets(self) -> np.ndarray:
        """Pool positions of the simulated campaign's targets (empty for a real lab)."""
        return np.array([r[0] for r in self._conn.execute("SELECT idx FROM targets ORDER BY idx")], dtype=np.int64)

    def table(self, name: str) -> pd.DataFrame:
        """A whole table as a DataFrame, in its natural order."""
        order = {
            "meta": "key",
            "pool": "idx",
            "targets": "idx",
            "rounds": "round",
            "models": "round",
            "aux_models": "round, kind",
            "proposals": "round, rank",
            "measurements": "round, idx",
            "events": "seq",
            "corrections": "seq",
        }
        if name not in order:
            raise LedgerError(f"the ledger has no table {name!r}; tables: {', '.join(order)}.")
        return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY {order[name]}", self._conn)

    def measured(self) -> pd.DataFrame:
        """Current measurements in the order they were proposed (round, rank): idx, id, value, round.

        A corrected measurement has its latest value; a retracted one is left out. This is what a
        round trains on.
        """
        if not self._has_table("corrections"):
            return pd.read_sql_query(
                "SELECT m.idx, m.id, m.value, m.round FROM measurements m JOIN proposals p ON p.idx = m.idx "
                "ORDER BY p.round, p.rank",
                self._conn,
            )
        return pd.read_sql_query(
            "SELECT m.idx, m.id, CASE WHEN c.kind = 'amend' THEN c.value ELSE m.value END AS value, m.round "
            f"FROM measurements m JOIN proposals p ON p.idx = m.idx LEFT JOIN ({_LATEST}) c ON c.idx = m.idx "
            "WHERE c.kind IS NULL OR c.kind != 'retract' ORDER BY p.round, p.rank",
            self._conn,
        )

    def measured_positions(self) -> np.ndarray:
        """Pool positions of every measured candidate, retracted ones included (never proposed again)."""
        return np.array([r[0] for r in self._conn.execute("SELECT idx FROM measurements ORDER BY idx")], dtype=np.int64)

    def n_measurements(self) -> int:
        """Number of measurements recorded (experiments done), retracted ones included."""
        return int(self._conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])

    def corrections(self) -> pd.DataFrame:
        """The correction log: seq, at, idx, id, kind (amend / retract), previous_value, value, reason."""
        if not self._has_table("corrections"):
            return pd.DataFrame(columns=["seq", "at", "idx", "id", "kind", "previous_value", "value", "reason"])
        return self.table("corrections")

    def measurement_history(self) -> pd.DataFrame:
        """Every measurement with its current value and its history, in proposal order.

        Columns: idx, id, round, value (current; NaN when retracted), status (``measured``,
        ``amended`` or ``retracted``), original_value, measured_at, corrections (the history in
        words: one "time kind previous -> value (reason)" entry per correction, "; "-separated).
        """
        m = pd.read_sql_query(
            "SELECT m.idx, m.id, m.round, m.value AS original_value, m.measured_at FROM measurements m "
            "JOIN proposals p ON p.idx = m.idx ORDER BY p.round, p.rank",
            self._conn,
        )
        corr = self.corrections()
        value, status, history = [], [], []
        by_idx = {int(k): g for k, g in corr.groupby("idx")} if len(corr) else {}
        for idx, original in zip(m["idx"], m["original_value"]):
            g = by_idx.get(int(idx))
            if g is None:
                value.append(float(original))
                status.append("measured")
                history.append("")
                continue
            last = g.iloc[-1]
            value.append(float("nan") if last["kind"] == "retract" else float(last["value"]))
            status.append("retracted" if last["kind"] == "retract" else "amended")
            history.append("; ".join(
                f"{r.at} {r.kind} {_fmt(r.previous_value)} -> {_fmt(r.value) if r.kind == 'amend' else 'retracted'} ({r.reason})"
                for r in g.itertuples()
            ))
        out = m[["idx", "id", "round"]].copy()
        out["value"] = value
        out["status"] = status
        out["original_value"] = m["original_value"]
        out["measured_at"] = m["measured_at"]
        out["corrections"] = history
        return out

    def n_rounds(self) -> int:
        """Number of rounds whose proposals were recorded."""
        return int(self._conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0])

    def pending(self) -> pd.DataFrame:
        """Proposals not yet measured (at most one round's batch): round, rank, idx, id."""
        return pd.read_sql_query(
            "SELECT p.round, p.rank, p.idx, p.id FROM proposals p LEFT JOIN measurements m ON m.idx = p.idx "
            "WHERE m.idx IS NULL ORDER BY p.round, p.rank",
            self._conn,
        )

    def model_blob(self, round_: int, kind: str = "model") -> bytes:
        """The zipped model folder of a round.

        Parameters
        ----------
        round_ : int
        kind : str, default "model"
            ``"model"``: the campaign's model; another kind (``"mdn"``) reads ``aux_models``.

        Raises
        ------
        LedgerError
            If the round saved no model of that kind.
        """
        if kind == "model":
            row = self._conn.execute("SELECT blob FROM models WHERE round=?", (round_,)).fetchone()
        elif self._has_table("aux_models"):
            row = self._conn.execute("SELECT blob FROM aux_models WHERE round=? AND kind=?", (round_, kind)).fetchone()
        else:
            row = None
        if row is None:
            what = "model" if kind == "model" else f"{kind!r} model"
            raise LedgerError(
                f"round {round_} has no saved {what} (initial-design rounds have none; a {kind!r} model is saved "
                "only by rounds that trained one, e.g. the MDN with diagnostics on)."
            )
        return bytes(row[0])

    def load_model(self, round_: int, kind: str = "model") -> Any:
        """The model of kind ``kind`` trained in ``round_``, loaded with :func:`bdl.models.load_model`."""
        import tempfile

        from bdl.models import load_model

        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(io.BytesIO(self.model_blob(round_, kind))) as zf:
                zf.extractall(tmp)
            return load_model(tmp)

    def events(self) -> pd.DataFrame:
        """The event log."""
        return self.table("events")

    # ------------------------------------------------------------------ writes
    def log(self, kind: str, message: str, round_: int | None = None) -> None:
        """Append one event (its own transaction)."""
        with self.transaction() as c:
            c.execute("INSERT INTO events (at, round, kind, message) VALUES (?, ?, ?, ?)", (_now(), round_, kind, message))

    def record_round(
        self,
        round_info: dict[str, Any],
        proposals: pd.DataFrame,
        model_dir: Path | None = None,
        aux_model_dirs: dict[str, Path] | None = None,
    ) -> None:
        """Write one round and its proposals in a single transaction.

        ``round_info`` holds the ``rounds`` columns; ``proposals`` has columns rank, idx, id, score,
        mean, std, epistemic_std, status, reasons, predictive. ``model_dir`` is the campaign
        model's ``save`` folder, ``aux_model_dirs`` maps a kind (``"mdn"``) to another model's.
        """
        info = dict(round_info)
        info.setdefault("proposed_at", _now())
        cols = list(info)
        blob = _zip_dir(model_dir) if model_dir is not None else None
        aux = [(int(info["round"]), str(k), _zip_dir(d)) for k, d in sorted((aux_model_dirs or {}).items())]
        if any(k == "model" for _, k, _ in aux):
            raise LedgerError("aux_model_dirs cannot use the kind 'model'; that is the campaign model (model_dir).")
        rows = [
            (
                int(info["round"]),
                int(r.rank),
                int(r.idx),
                str(r.id),
                _float_or_none(r.score),
                _float_or_none(r.mean),
                _float_or_none(r.std),
                _float_or_none(r.epistemic_std),
                r.status,
                r.reasons,
                r.predictive,
            )
            for r in proposals.itertuples(index=False)
        ]
        with self.transaction() as c:
            c.execute(
                f"INSERT INTO rounds ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [info[k] for k in cols],
            )
            if blob is not None:
                c.execute("INSERT INTO models VALUES (?, ?)", (int(info["round"]), blob))
            if aux:
                c.executemany("INSERT INTO aux_models VALUES (?, ?, ?)", aux)
            c.executemany("INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _correction_target(self, id_: Any) -> tuple[int, str, float | None]:
        key = str(id_).strip()
        row = self._conn.execute("SELECT idx, id, value FROM measurements WHERE id = ?", (key,)).fetchone()
        if row is None:
            some = [r[0] for r in self._conn.execute("SELECT id FROM measurements ORDER BY round, idx LIMIT 5")]
            pending = self._conn.execute("SELECT 1 FROM proposals p LEFT JOIN measurements m ON m.idx = p.idx "
                                         "WHERE p.id = ? AND m.idx IS NULL", (key,)).fetchone()
            why = ("it is proposed but not measured yet; put its value into the lab file instead" if pending else
                   f"measured IDs are e.g. {', '.join(map(repr, some)) or 'none yet'}")
            raise LedgerError(f"the ledger {self.path} has no measurement of ID {key!r}; {why}.")
        idx = int(row[0])
        last = self._conn.execute("SELECT kind, value FROM corrections WHERE idx = ? ORDER BY seq DESC LIMIT 1", (idx,)).fetchone()
        current = float(row[2]) if last is None else (None if last[0] == "retract" else float(last[1]))
        return idx, str(row[1]), current

    @staticmethod
    def _check_reason(reason: Any) -> str:
        if not isinstance(reason, str) or not reason.strip():
            raise LedgerError("a correction needs a reason (--reason TEXT), e.g. 'sample mislabelled; remeasured 2026-03-02'.")
        return reason.strip()

    def amend(self, id_: Any, value: float, reason: str, *, value_range: tuple[float, float] | None = None) -> dict[str, Any]:
        """Correct the recorded value of a measured candidate (append-only; the history is kept).

        Parameters
        ----------
        id_ : str
            The candidate's ID as in the ledger.
        value : float
            The corrected value: a finite number, within ``value_range`` if given.
        reason : str
            Why, in words (required).
        value_range : (float, float), optional
            The campaign's plausible range (``--value-range``).

        Returns
        -------
        dict
            The correction written: idx, id, kind, previous_value (None if it was retracted), value, reason, at.

        Raises
        ------
        LedgerError
            For an unknown or unmeasured ID, an empty reason, or a value a round cannot use.
        """
        from discovery_loop.oracles import _value_problem, parse_number

        x = parse_number(value) if isinstance(value, str) else value
        if x is None or isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise LedgerError(f"the corrected value must be a plain number, got {value!r}.")
        x = float(x)
        why = _value_problem(x, value_range)
        if why is not None:
            raise LedgerError(f"the corrected value {value!r} {why}; give the measured, finite number.")
        return self._correct("amend", id_, x, self._check_reason(reason))

    def retract(self, id_: Any, reason: str) -> dict[str, Any]:
        """Withdraw a recorded measurement: later rounds do not train on it and it is not proposed
        again (it still counts as an experiment done). Append-only; :meth:`amend` can restore it."""
        return self._correct("retract", id_, None, self._check_reason(reason))

    def _correct(self, kind: str, id_: Any, value: float | None, reason: str) -> dict[str, Any]:
        if self._lock_handle is None:
            raise LedgerError("corrections need the writer's lock; open the ledger with lock=True.")
        idx, key, previous = self._correction_target(id_)
        if kind == "retract" and previous is None:
            raise LedgerError(f"the measurement of {key!r} is already retracted; 'amend' gives it a value again.")
        at = _now()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO corrections (at, idx, id, kind, previous_value, value, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, idx, key, kind, previous, value, reason),
            )
            c.execute(
                "INSERT INTO events (at, round, kind, message) VALUES (?, NULL, ?, ?)",
                (at, kind, f"{kind} {key!r}: {_fmt(previous)} -> {_fmt(value) if kind == 'amend' else 'retracted'} ({reason})"),
            )
        return {"idx": idx, "id": key, "kind": kind, "previous_value": previous, "value": value, "reason": reason, "at": at}

    def record_measurements(self, round_: int, measured: pd.DataFrame, id_to_idx: dict[str, int]) -> None:
        """Write a round's validated measurements (columns id, value) in one transaction."""
        at = _now()
        rows = [(int(id_to_idx[str(i)]), str(i), float(v), int(round_), at) for i, v in zip(measured["id"], measured["value"])]
        try:
            with self.transaction() as c:
                c.executemany("INSERT INTO measurements VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.IntegrityError as exc:
            raise LedgerError(
                f"round {round_}: a measurement for one of these candidates is already in the ledger "
                f"({exc}); nothing was written. Each candidate is measured once."
            ) from exc


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "none"
    return f"{float(value):.6g}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if np.isfinite(v) else None


def _zip_dir(path: Path) -> bytes:
    """Zip a folder's files (sorted, fixed timestamps, so equal folders give equal bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(f.relative_to(path)), date_time=(2000, 1, 1, 0, 0, 0))
            zf.writestr(info, f.read_bytes())
    return buf.getvalue()
