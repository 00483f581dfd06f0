"""File helpers shared by the command line, the reports and the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bdl.errors import InputError

__all__ = ["atomic_write_text", "read_csv"]


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
