"""Exceptions raised by :mod:`bdl` and :mod:`discovery_loop` for user mistakes.

Every exception here subclasses a builtin (``ValueError`` / ``TypeError``) so generic
``except ValueError`` code keeps working, and every message says what was wrong and how to
fix it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "BDLError",
    "cli_text",
    "csv_record_lines",
    "InputError",
    "FormulaError",
    "DataFileError",
    "NotFittedError",
    "UnsupportedOperationError",
    "OracleError",
    "LedgerError",
    "LedgerLockedError",
]


class BDLError(Exception):
    """Base class of every error this toolkit raises on purpose.

    Attributes
    ----------
    cli_message : str or None
        The same message in a command line's words (its ``--flags`` instead of Python
        arguments, file line numbers instead of 0-based rows), set by the command that met the
        error; the command lines print it instead of ``str(exc)``. None: ``str(exc)`` reads
        the same in both interfaces.
    """

    cli_message: str | None = None


def cli_text(exc: BaseException) -> str:
    """What a command line prints for ``exc``: its :attr:`BDLError.cli_message` if set, else ``str(exc)``."""
    return getattr(exc, "cli_message", None) or str(exc)


def csv_record_lines(path: str | Path) -> list[int] | None:
    """File line number (header = line 1) where each data row of a CSV starts, in the order pandas
    reads them (wholly empty lines skipped, quoted cells spanning lines counted), or None if the
    file cannot be read; for messages that name file lines."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header_seen = False
            starts: list[int] = []
            line = 1
            for record in reader:
                first, line = line, reader.line_num + 1
                if not record or all(c == "" for c in record) and len(record) <= 1:
                    continue  # a blank line: pandas skips it too
                if not header_seen:
                    header_seen = True
                    continue
                starts.append(first)
            return starts
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


class InputError(BDLError, ValueError):
    """An argument or a data value is wrong; the message names it and says how to fix it."""


class DataFileError(InputError):
    """A data file or folder is missing or not in the expected layout."""


class NotFittedError(BDLError, ValueError, AttributeError):
    """A model method that needs a fitted model was called before ``fit``."""


class UnsupportedOperationError(BDLError, TypeError):
    """A predictive distribution (or model) of some kind cannot do what was asked."""


class FormulaError(InputError):
    """One or more chemical formulas could not be parsed or featurised.

    The message names Python's 0-based row positions and the ``errors="coerce"`` argument; a
    command line rewords it with :meth:`for_command_line` (file line numbers, its own flags).

    Attributes
    ----------
    problems : list of tuple (row, text, reason)
        Every bad input row: its 0-based position, the text as given, and why it failed.
    """

    #: The advice of the Python interface.
    PYTHON_ADVICE = "Fix or remove these rows, or pass errors='coerce' to get NaN rows and a mask."

    def __init__(self, problems: Sequence[tuple[int, str, str]], max_shown: int = 20) -> None:
        self.problems = list(problems)
        self.max_shown = max_shown
        super().__init__(self._text(lambda row: f"row {row}", self.PYTHON_ADVICE, "the .problems attribute"))

    def _text(self, where: Callable[[int], str], advice: str, more_in: str) -> str:
        lines = [f"  {where(row)}: {text!r}: {reason}" for row, text, reason in self.problems[: self.max_shown]]
        more = len(self.problems) - self.max_shown
        if more > 0:
            lines.append(f"  ... and {more} more ({more_in})")
        return f"{len(self.problems)} formula(s) could not be featurised:\n" + "\n".join(lines) + "\n" + advice

    def for_command_line(self, advice: str, lines: Sequence[int] | None = None, more_in: str = "fix these first") -> FormulaError:
        """Set :attr:`cli_message`: rows as file line numbers and ``advice`` in the command's words.

        Parameters
        ----------
        advice : str
            What to do, naming the command's flags (e.g. ``--errors coerce``).
        lines : sequence of int, optional
            File line of each data row (:func:`csv_record_lines`); default: row + 2 (the header
            is line 1, no blank lines).

        Returns
        -------
        FormulaError
            ``self``, to re-raise.
        """
        def where(row: int) -> str:
            n = lines[row] if lines is not None and 0 <= row < len(lines) else row + 2
            return f"line {n}"

        self.cli_message = self._text(where, advice, more_in)
        return self


class OracleError(InputError):
    """An oracle's measurements are unusable: missing or unknown IDs, duplicates, NaN, bad file.

    Raised before anything is written to a campaign ledger, so a bad lab file loses nothing.
    """


class LedgerError(BDLError, ValueError):
    """A campaign ledger is missing, of another campaign, or inconsistent with the request."""


class LedgerLockedError(LedgerError):
    """Another process is running a campaign on this ledger; only one may write to it."""
