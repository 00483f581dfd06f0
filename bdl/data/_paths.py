"""Where the data shipped with :mod:`bdl` lives inside the installed package."""

from __future__ import annotations

from pathlib import Path

from bdl.errors import DataFileError

__all__ = ["files_dir", "shipped_file"]


def files_dir() -> Path:
    """Return the folder ``bdl/data/files`` of the installed package.

    Returns
    -------
    pathlib.Path
        The folder holding the shipped data files (located relative to this module, never
        through an absolute path or the source tree's ``shared`` folder).
    """
    return Path(__file__).resolve().parent / "files"


def shipped_file(*parts: str) -> Path:
    """Return the path of one shipped data file, checking that it exists.

    Parameters
    ----------
    *parts : str
        Path components below ``bdl/data/files``, e.g. ``("matbench_expt_gap.csv",)``.

    Returns
    -------
    pathlib.Path
        The file's path.

    Raises
    ------
    DataFileError
        If the file is not there (a broken or partial installation).
    """
    path = files_dir().joinpath(*parts)
    if not path.is_file():
        rel = "/".join(("bdl", "data", "files", *parts))
        raise DataFileError(
            f"The shipped data file {rel} is missing from the installed package (looked at {path}); "
            "reinstall bdl-discovery, and check that the package data was included in the build."
        )
    return path
