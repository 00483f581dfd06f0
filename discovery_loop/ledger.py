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

A proposal batch is written in one transaction and its measurements in another. One process at
a time may run a campaign on a ledger: :class:`Ledger` takes an exclusive ``flock`` on
``<ledger>.lock`` (released by the kernel when the process dies, however it dies).
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

__all__ = ["SCHEMA_VERSION", "Ledger", "TIME_COLUMNS", "lock_holder"]

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
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    round INTEGER,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


_AUX_MODELS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS aux_models") :].split(";")[0]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _lock(path: Path) -> Any:
    """Take an exclusive, non-blocking lock on ``path``; the open file object holds it."""
    import fcntl

    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise LedgerLockedError(
            f"another process ({holder}) is running a campaign on this ledger ({path.with_suffix('')}); "
            "only one process may write to a ledger. Wait for it to finish, or stop it, then run "
            "'discovery-loop resume'."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {_now()}")
    handle.flush()
    return handle


def lock_holder(ledger_path: str | Path) -> str | None:
    """Who holds a ledger's single-writer lock now ("pid N since T"), or None.

    Probes with a non-blocking shared ``flock``, so it never blocks or takes the lock.
    """
    import fcntl

    lock = Path(str(ledger_path) + ".lock")
    if not lock.exists():
        return None
    with open(lock, encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return fh.read().strip() or "another process"
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


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
        exists = self.path.exists() and self.path.stat().st_size > 0
        if not create and not exists:
            raise LedgerError(
                f"there is no campaign ledger at {self.path}; check the path, or start a campaign "
                "with 'discovery-loop run ... --ledger PATH'."
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_handle = _lock(self.path.with_name(self.path.name + ".lock")) if lock else None
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            try:
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{self.path} is not a campaign ledger (SQLite says: {exc}).") from exc
            if create:
                if exists and self._has_table("meta") and self._meta_value("config") is not None:
                    raise LedgerError(
                        f"{self.path} already holds a campaign; continue it with 'discovery-loop "
                        "resume --ledger PATH', or choose a new ledger path."
                    )
                self._conn.executescript(_SCHEMA)
            else:
                self._check_schema()
                if lock and not self._has_table("aux_models"):
                    # ledgers written before aux_models existed: the table is an addition only
                    self._conn.execute(_AUX_MODELS_TABLE)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the database and release the lock."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            self._conn = None  # type: ignore[assignment]
        if self._lock_handle is not None:
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
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _has_table(self, name: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        return row is not None

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
        }
        if name not in order:
            raise LedgerError(f"the ledger has no table {name!r}; tables: {', '.join(order)}.")
        return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY {order[name]}", self._conn)

    def measured(self) -> pd.DataFrame:
        """Measurements in the order they were proposed (round, rank): idx, id, value, round."""
        return pd.read_sql_query(
            "SELECT m.idx, m.id, m.value, m.round FROM measurements m JOIN proposals p ON p.idx = m.idx "
            "ORDER BY p.round, p.rank",
            self._conn,
        )

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
