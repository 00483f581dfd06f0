"""Exceptions raised by :mod:`bdl` and :mod:`discovery_loop` for user mistakes.

Every exception here subclasses a builtin (``ValueError`` / ``TypeError``) so generic
``except ValueError`` code keeps working, and every message says what was wrong and how to
fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BDLError",
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
    """Base class of every error this toolkit raises on purpose."""


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

    Attributes
    ----------
    problems : list of tuple (row, text, reason)
        Every bad input row: its 0-based position, the text as given, and why it failed.
    """

    def __init__(self, problems: Sequence[tuple[int, str, str]], max_shown: int = 20) -> None:
        self.problems = list(problems)
        lines = [f"  row {row}: {text!r}: {reason}" for row, text, reason in self.problems[:max_shown]]
        more = len(self.problems) - max_shown
        if more > 0:
            lines.append(f"  ... and {more} more (see the .problems attribute)")
        super().__init__(
            f"{len(self.problems)} formula(s) could not be featurised:\n"
            + "\n".join(lines)
            + "\nFix or remove these rows, or pass errors='coerce' to get NaN rows and a mask."
        )


class OracleError(InputError):
    """An oracle's measurements are unusable: missing or unknown IDs, duplicates, NaN, bad file.

    Raised before anything is written to a campaign ledger, so a bad lab file loses nothing.
    """


class LedgerError(BDLError, ValueError):
    """A campaign ledger is missing, of another campaign, or inconsistent with the request."""


class LedgerLockedError(LedgerError):
    """Another process is running a campaign on this ledger; only one may write to it."""
