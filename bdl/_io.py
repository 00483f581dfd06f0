"""File helpers shared by the command line, the reports and the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bdl.errors import InputError

__all__ = ["atomic_write_text", "error_sentence", "read_csv"]


def read_csv(path: str | Path, what: str = "input file") -> pd.DataFrame:
    """Read a user's CSV (BOM tolerated); only empty cells are missing values.

    Raises
    ------
    InputError
        If the file does not exist or is not a readable CSV file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {path} does not exist; check the path.")
    try:
        return pd.read_csv(p, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV file ({exc}).") from exc


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, so a crash never leaves half a file.

    Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _from_plotting(exc: BaseException) -> bool:
    """True if ``exc`` was raised inside matplotlib (a plot could not be drawn)."""
    tb = exc.__traceback__
    while tb is not None:
        if "matplotlib" in tb.tb_frame.f_code.co_filename.replace("\\", "/").split("/"):
            return True
        tb = tb.tb_next
    return False


def error_sentence(exc: BaseException, *, hint_path: str | None = None, resume: str | None = None) -> str | None:
    """One sentence for an operating-system, SQLite or plotting error met by a command line.

    Parameters
    ----------
    exc : BaseException
    hint_path : str, optional
        The path the command was working on, named when the error does not carry one.
    resume : str, optional
        The command that continues the work once the cause is fixed (e.g. ``discovery-loop
        resume --ledger L``).

    Returns
    -------
    str or None
        The sentence, or None when ``exc`` is none of those kinds (a programming error: let
        its traceback show).
    """
    import errno
    import sqlite3

    after = f" Then run '{resume}'." if resume else ""
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else hint_path
        fixes = {
            errno.ENOENT: "check the path",
            errno.EEXIST: "a file is in the way where a folder is needed; choose another path or move the file",
            errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
            errno.EISDIR: "that is a folder; give a file path",
            errno.EACCES: "you may not read or write there; choose another path or fix its permissions",
            errno.EPERM: "you may not read or write there; choose another path or fix its permissions",
            errno.EROFS: "the file system is read-only; choose another path",
            errno.ENOSPC: "the disk is full; free some space and try again",
            errno.EDQUOT: "your disk quota is used up; free some space and try again",
        }
        fix = fixes.get(exc.errno or -1, "check the path, the disk and the permissions")
        where = f" {path}" if path is not None else ""
        return f"cannot use{where} ({exc.strerror or exc}); {fix}.{after}"
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        where = f" {hint_path}" if hint_path else ""
        if "full" in text:
            return (f"the disk holding the ledger{where} is full (SQLite: {text}); the step that was being written "
                    f"was rolled back, nothing else is lost. Free some space.{after}")
        if "locked" in text or "busy" in text:
            return f"the ledger{where} is busy in another process (SQLite: {text}); wait for it to finish.{after}"
        if "readonly" in text or "read-only" in text:
            return f"the ledger{where} cannot be written (SQLite: {text}); check its permissions and the disk.{after}"
        return (f"the ledger{where} could not be read or written (SQLite: {text}); check the file, the disk and "
                f"its permissions.{after}")
    if _from_plotting(exc):
        return (f"a plot could not be drawn ({type(exc).__name__}: {exc}); the data behind it are probably "
                "extreme (infinite or huge values). Check the input, or rerun with --debug for the traceback.")
    return None
