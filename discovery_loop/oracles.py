"""Oracles: whatever measures the proposed candidates and returns one value per candidate.

An oracle has one method, ``measure(proposals, *, round_index=None) -> DataFrame``. The
proposals are a DataFrame with an ``id`` column (unique) plus any descriptive columns
(formula, predicted mean and standard deviation, ...); the result has the columns ``id`` and
``value``, one row per proposal, in the order of the proposals, with finite float values.

:class:`LookupOracle`
    A simulated campaign on a data set that is already measured: looks the values up, with
    optional Gaussian measurement noise that is seeded per ID, so measuring an ID again (say
    after a crash) gives the same number.
:class:`FileOracle`
    A real lab: writes ``proposals_round_<r>.csv`` into a folder, waits for the lab to put
    ``measured_round_<r>.csv`` next to it, and reads it back. ``wait=False`` returns at once by
    raising :class:`MeasurementPending`, so a person can run the campaign again when the
    measurements are in.
:class:`CallableOracle`
    A Python function ``f(proposals) -> values`` (a simulator, a DFT workflow).

Every result passes :func:`validate_measurements` before it is returned, so a campaign never
records half a file: missing rows, unknown or duplicate IDs, empty, non-numeric or infinite
values and missing columns all raise :class:`~bdl.errors.OracleError`, whose message names the
rows and IDs and says how to fix the file.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from bdl._io import atomic_write_text, read_csv
from bdl.errors import BDLError, InputError, OracleError

__all__ = [
    "CallableOracle",
    "FileOracle",
    "LookupOracle",
    "MeasurementPending",
    "MAX_ABS_VALUE",
    "LabFile",
    "MeasurementTimeout",
    "Oracle",
    "check_value_range",
    "parse_number",
    "read_lab_file",
    "validate_measurements",
]

#: At most this many IDs / rows are quoted per problem in an error message.
_MAX_SHOWN = 10
_PROPOSALS_RE = re.compile(r"^proposals_round_(\d+)\.csv$")
#: Texts a lab may type for "no value"; reported as empty, not as non-numeric.
_NAN_TEXT = {"", "nan", "na", "n/a", "none", "null", "-"}
#: What a careful reader takes as a number: optional sign, decimal digits with at most one '.'
#: decimal point, optional exponent. No thousands separators, decimal commas, hex, underscores,
#: non-ASCII digits, 'inf' or booleans (Python's float() takes several of those).
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Largest magnitude a measured value may have. A round standardises the values, but the
#: predictive variances and mixture scales are float32 numbers in the target's units; a value
#: of 1e15 has a square of 1e30, a thousand-fold spread of that still fits float32 (3.4e38).
MAX_ABS_VALUE = 1e15
_BOOL_TEXT = {"true", "false", "yes", "no", "wahr", "falsch", "vrai", "faux"}


@runtime_checkable
class Oracle(Protocol):
    """What a campaign needs from an oracle."""

    def measure(self, proposals: pd.DataFrame, *, round_index: int | None = None) -> pd.DataFrame:
        """Measure the proposed candidates.

        Parameters
        ----------
        proposals : DataFrame
            One row per candidate, with a unique ``id`` column.
        round_index : int, optional
            The campaign round (a :class:`FileOracle` names its files after it).

        Returns
        -------
        DataFrame with columns ``id`` and ``value``
            One row per proposal, in the order of the proposals; values are finite floats.

        Raises
        ------
        OracleError
            If the measurements are unusable; nothing of them should be recorded.
        MeasurementPending
            If the measurements are not there yet (non-blocking oracles).
        """
        ...


class MeasurementPending(BDLError):
    """The proposals are out, the measurements are not in yet; run the campaign again later.

    Not an error of the data: nothing is wrong and nothing was recorded. A campaign runner
    catches it, saves its state and stops; the next run finds the measured file and goes on.

    Attributes
    ----------
    round_index : int
    proposals_path, measured_path : pathlib.Path
        The file written for the lab, and the one awaited from it.
    """

    def __init__(self, message: str, round_index: int, proposals_path: Path, measured_path: Path) -> None:
        super().__init__(message)
        self.round_index = round_index
        self.proposals_path = proposals_path
        self.measured_path = measured_path


class MeasurementTimeout(MeasurementPending):
    """A :class:`FileOracle` waited ``timeout`` seconds and the measured file did not come."""


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _id_key(value: Any) -> str | None:
    """A canonical text form of an ID, so 17, 17.0 and "17" from a CSV file all match."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value).strip()
    return text or None


def parse_number(text: str) -> float | None:
    """A cell's text as a float, or None unless it is a plain decimal number.

    Surrounding spaces are ignored; ``1.5``, ``-2``, ``3e-4`` and ``.5`` are numbers;
    ``1,5``, ``0x1A``, ``1_000``, ``TRUE``, ``inf``, ``nan`` and non-ASCII digits are not.
    A number too large for float64 gives ``inf`` (the caller reports it as overflowing).
    """
    t = text.strip(" \t")
    if not _NUMBER_RE.fullmatch(t):
        return None
    return float(t)


def _value_problem(value: float, value_range: tuple[float, float] | None) -> str | None:
    """Why a parsed, finite-or-not value cannot be recorded, or None."""
    if math.isnan(value):
        return "is NaN"
    if math.isinf(value):
        return "is infinite or overflows (beyond 1.8e308)"
    if abs(value) > MAX_ABS_VALUE:
        return f"has magnitude above {MAX_ABS_VALUE:g}, which the model cannot hold in float32"
    if value_range is not None and not (value_range[0] <= value <= value_range[1]):
        return f"is outside the campaign's plausible range [{value_range[0]:g}, {value_range[1]:g}] (--value-range)"
    return None


def check_value_range(value_range: Any) -> tuple[float, float] | None:
    """Validate a ``(low, high)`` plausible-range pair (or None); returns floats."""
    if value_range is None:
        return None
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InputError(f"value_range must be two numbers (low, high), got {value_range!r}; e.g. --value-range 0 10.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InputError(f"value_range needs finite low < high, got {value_range!r}; e.g. --value-range 0 10.")
    return (low, high)


def _shown(items: list[Any]) -> str:
    text = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:_MAX_SHOWN])
    more = len(items) - _MAX_SHOWN
    return text + (f" (and {more} more)" if more > 0 else "")


def _proposal_keys(proposals: Any, id_column: str) -> list[str]:
    if not isinstance(proposals, pd.DataFrame):
        raise InputError(
            f"proposals must be a pandas DataFrame with an {id_column!r} column, got "
            f"{type(proposals).__name__}."
        )
    if id_column not in proposals.columns:
        raise InputError(
            f"proposals have no {id_column!r} column (columns: {list(proposals.columns)}); "
            "every proposal needs an ID."
        )
    if len(proposals) == 0:
        raise InputError("proposals is empty; propose at least one candidate.")
    keys = [_id_key(v) for v in proposals[id_column]]
    missing = [i for i, key in enumerate(keys) if key is None]
    if missing:
        raise InputError(f"proposals have empty IDs in row(s) {_shown(missing)}; give every proposal an ID.")
    seen: dict[str, int] = {}
    dups: list[str] = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            dups.append(key)
    if dups:
        raise InputError(f"proposals have duplicate IDs {_shown(dups)}; propose each candidate once.")
    return keys


def _rejected(source: str, problems: list[str]) -> OracleError:
    err = OracleError(
        f"{source} cannot be used, nothing was recorded:\n"
        + "\n".join(f"  - {p}" for p in problems)
        + "\nFix these and try again."
    )
    err.problems = list(problems)  # type: ignore[attr-defined]
    return err


def validate_measurements(
    proposals: pd.DataFrame,
    measured: Any,
    *,
    id_column: str = "id",
    value_column: str = "value",
    source: str = "the measurements",
    first_line: int | None = None,
    value_range: tuple[float, float] | None = None,
    lines: Any = None,
) -> pd.DataFrame:
    """Check measurements against their proposals and return them in a clean form.

    All problems are collected and reported together, so a lab can fix a file in one pass.
    Nothing is returned unless everything is right: a bad file is never partially accepted.

    Parameters
    ----------
    proposals : DataFrame
        What was proposed; ``id_column`` holds unique IDs.
    measured : DataFrame
        What came back: ``id_column`` and ``value_column`` (other columns are ignored).
    id_column, value_column : str
        Column names, ``"id"`` and ``"value"`` by default.
    source : str
        How to name the measurements in messages, e.g. the file name.
    first_line : int, optional
        When the rows come from a CSV file, the file line of the first data row (2 with one
        header line); rows are then quoted as file lines, otherwise as 0-based row numbers.
    value_range : (float, float), optional
        The campaign's plausible range; values outside it are rejected.
    lines : sequence of int, optional
        The file line of every row (when blank lines were skipped); overrides ``first_line``.

    Returns
    -------
    DataFrame with columns ``id`` and ``value``
        One row per proposal in proposal order; ``id`` holds the proposals' own ID objects,
        ``value`` float64, all finite; a fresh RangeIndex.

    Raises
    ------
    OracleError
        For missing columns, rows without an ID, duplicate IDs, IDs that were not proposed,
        proposals without a row, and empty, non-numeric (booleans, text that is not a plain
        decimal number), non-finite, too large (above :data:`MAX_ABS_VALUE`) or out-of-range
        values.
    InputError
        If the proposals themselves are malformed (no ID column, empty or duplicate IDs).
    """
    keys = _proposal_keys(proposals, id_column)
    where = "line" if (first_line is not None or lines is not None) else "row"
    offset = first_line if first_line is not None else 0
    line_of = (lambda i: int(lines[i])) if lines is not None else (lambda i: i + offset)
    if not isinstance(measured, pd.DataFrame):
        raise OracleError(
            f"{source} must be a table (pandas DataFrame) with columns {id_column!r} and "
            f"{value_column!r}, got {type(measured).__name__}."
        )
    absent = [c for c in (id_column, value_column) if c not in measured.columns]
    if absent:
        raise OracleError(
            f"{source} lacks the column(s) {_shown(absent)} (it has {list(map(str, measured.columns))}); "
            f"the file needs a header line with {id_column!r} and {value_column!r} and one row "
            "per proposal."
        )
    problems: list[str] = []
    mkeys = [_id_key(v) for v in measured[id_column]]
    no_id = [line_of(i) for i, key in enumerate(mkeys) if key is None]
    if no_id:
        problems.append(f"{where}(s) {_shown(no_id)} have no {id_column}; fill it in or delete the row")
    first_row: dict[str, int] = {}
    dup_lines: dict[str, list[int]] = {}
    for i, key in enumerate(mkeys):
        if key is None:
            continue
        if key in first_row:
            dup_lines.setdefault(key, [line_of(first_row[key])]).append(line_of(i))
        else:
            first_row[key] = i
    if dup_lines:
        detail = "; ".join(
            f"{key!r} on {where}s {', '.join(map(str, rows))}"
            for key, rows in list(dup_lines.items())[:_MAX_SHOWN]
        )
        problems.append(
            f"{len(dup_lines)} ID(s) appear more than once ({detail}); keep exactly one row per ID "
            "(average repeats yourself if that is what you want)"
        )
    proposed = set(keys)
    unknown = [key for key in first_row if key not in proposed]
    if unknown:
        problems.append(
            f"ID(s) {_shown(unknown)} were not proposed in this round; check them for typos, or "
            "for rows copied from another round's file"
        )
    missing = [key for key in keys if key not in first_row]
    if missing:
        problems.append(
            f"{len(missing)} of {len(keys)} proposed ID(s) have no row: {_shown(missing)}; add a "
            "row with a value for each"
        )
    raw = measured[value_column]
    vr = check_value_range(value_range)
    values = np.full(len(raw), np.nan)
    empty_rows: list[int] = []
    text_bad: list[int] = []
    bad_value: dict[str, list[int]] = {}
    for i, v in enumerate(raw.tolist()):
        if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or v is pd.NA:
            empty_rows.append(i)
            continue
        if isinstance(v, (bool, np.bool_)):
            text_bad.append(i)
            continue
        if isinstance(v, str):
            if v.strip(" \t").lower() in _NAN_TEXT:
                empty_rows.append(i)
                continue
            parsed = parse_number(v)
            if parsed is None and v.strip(" \t").lower().lstrip("+-") in ("inf", "infinity"):
                parsed = math.inf
            if parsed is None:
                text_bad.append(i)
                continue
            x = parsed
        elif isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
        else:
            text_bad.append(i)
            continue
        why = _value_problem(x, vr)
        if why is not None:
            bad_value.setdefault(why, []).append(i)
            continue
        values[i] = x
    if text_bad:
        examples = ", ".join(f"{where} {line_of(i)} (id {mkeys[i]!r}): {raw.iloc[i]!r}" for i in text_bad[:_MAX_SHOWN])
        problems.append(
            f"non-numeric {value_column} at {examples}; write plain numbers with a '.' decimal point "
            "(no booleans, decimal commas, hex or thousands separators)"
        )
    if empty_rows:
        examples = ", ".join(f"{where} {line_of(i)} (id {mkeys[i]!r})" for i in empty_rows[:_MAX_SHOWN])
        more = len(empty_rows) - _MAX_SHOWN
        problems.append(
            f"empty or NaN {value_column} at {examples}{f' and {more} more' if more > 0 else ''}; "
            "enter the measured value (a campaign needs a number for every proposal)"
        )
    for why, rows in bad_value.items():
        examples = ", ".join(f"{where} {line_of(i)} (id {mkeys[i]!r}): {raw.iloc[i]!r}" for i in rows[:_MAX_SHOWN])
        word = "infinite" if why.startswith("is infinite") else "unusable"
        problems.append(f"{word} {value_column} at {examples}: the value {why}; enter the measured, finite number")
    if problems:
        raise _rejected(source, problems)
    by_key = {key: values[row] for key, row in first_row.items()}
    return pd.DataFrame(
        {
            "id": proposals[id_column].to_numpy(copy=True),
            "value": np.array([by_key[key] for key in keys], dtype=np.float64),
        }
    )


# --------------------------------------------------------------------------------------------
# strict lab files
# --------------------------------------------------------------------------------------------

#: Characters a lab file may not hold: control characters other than tab and line ends, format
#: characters (zero-width spaces, a BOM inside the text), line/paragraph separators. A NUL byte
#: after a value is the classic case: a lenient reader silently drops it.
_BAD_CHAR_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def _bad_chars(line: str) -> list[str]:
    import unicodedata

    out = []
    for ch in line:
        if ch == "\t":
            continue
        if unicodedata.category(ch) in _BAD_CHAR_CATEGORIES:
            out.append(f"U+{ord(ch):04X}" + (" (NUL)" if ch == "\x00" else ""))
    return out


class LabFile:
    """A lab file read strictly: its data rows with their line numbers, or every problem.

    Attributes
    ----------
    ids, values : list of str
        The text of the ID and value cell of every data row (spaces around them stripped).
    lines : list of int
        The line of the file each data row is on, counted as a person does: the header is
        line 1.
    problems : list of str
        Everything wrong with the file's form; empty if the rows can be checked further.
    """

    def __init__(self, ids: list[str], values: list[str], lines: list[int], problems: list[str]) -> None:
        self.ids, self.values, self.lines, self.problems = ids, values, lines, problems


def read_lab_file(data: bytes, *, id_column: str = "id", value_column: str = "value") -> LabFile:
    """Parse the bytes of a measured file the way a careful person reads it.

    The rules, each a reason to reject the whole file:

    - text in UTF-8 (a byte-order mark is allowed and dropped; ``\\r\\n``, ``\\n`` and
      ``\\r`` line ends are all fine);
    - no control characters (NUL, ...), format characters or line separators anywhere;
    - line 1 is the header; it names the ID column and the value column exactly once each
      (names compared without surrounding spaces and without case, so ``id,value,Value`` is
      ambiguous);
    - no quoted cell spanning lines, no unbalanced quotes;
    - a data row has no more cells than the header (``x1,1,5`` is a decimal comma, not two
      values), and has the ID and value cells;
    - lines that are empty or hold only commas and spaces are skipped.

    Values are left as text here; :func:`validate_measurements` decides what is a number.
    """
    import csv
    import io as _io

    problems: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return LabFile([], [], [], ["the file is UTF-16 text; save it as 'CSV UTF-8 (comma delimited)'"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return LabFile([], [], [], [
            f"line {line} holds bytes that are not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as "
            "'CSV UTF-8 (comma delimited)'"
        ])
    # physical lines as an editor shows them: \r\n, \n and \r each end one
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    if not raw_lines or not raw_lines[0].strip(" \t,"):
        return LabFile([], [], [], [
            f"line 1 must be the header naming the columns {id_column!r} and {value_column!r}; the file "
            + ("is empty" if not raw_lines else "starts with an empty line")
        ])
    bad_lines = []
    for n, line in enumerate(raw_lines, start=1):
        chars = _bad_chars(line)
        if chars:
            bad_lines.append(f"line {n} ({', '.join(sorted(set(chars))[:3])})")
    if bad_lines:
        problems.append(
            f"control or invisible characters on {', '.join(bad_lines[:_MAX_SHOWN])}; they hide what a value really is. "
            "Retype those lines, or save the sheet again as CSV"
        )
    cells: list[tuple[int, list[str]]] = []
    quote_lines = []
    for n, line in enumerate(raw_lines, start=1):
        if not line.strip(" \t"):
            cells.append((n, []))
            continue
        if _bad_chars(line):
            line = "".join(ch for ch in line if not _bad_chars(ch))  # reported above; read the rest
        if line.count('"') % 2:
            quote_lines.append(n)
            continue
        try:
            row = next(csv.reader(_io.StringIO(line), strict=True))
        except (csv.Error, StopIteration):
            quote_lines.append(n)
            continue
        cells.append((n, row))
    if quote_lines:
        problems.append(f"unbalanced quotes or a cell spanning lines at line(s) {_shown(quote_lines)}; remove the stray quote")
    if not cells or cells[0][0] != 1:
        return LabFile([], [], [], problems)
    header = [h.strip(" \t").lower() for h in cells[0][1]]
    positions = {}
    for want in (id_column, value_column):
        at = [i for i, h in enumerate(header) if h == want.lower()]
        if not at:
            problems.append(
                f"line 1 (the header) has no column {want!r} (it has {[h.strip() for h in cells[0][1]]}); the "
                f"header must name the columns {id_column!r} and {value_column!r}"
            )
        elif len(at) > 1:
            problems.append(
                f"line 1 (the header) names the column {want!r} {len(at)} times (columns "
                f"{', '.join(str(i + 1) for i in at)}); which one holds the measurement is ambiguous. "
                "Keep one and rename or delete the others"
            )
        else:
            positions[want] = at[0]
    if len(positions) < 2:
        return LabFile([], [], [], problems)
    ids: list[str] = []
    values: list[str] = []
    lines: list[int] = []
    too_many: list[int] = []
    too_few: list[int] = []
    for n, row in cells[1:]:
        if all(not c.strip(" \t") for c in row):
            continue  # blank line, or one holding only commas
        if len(row) > len(header):
            too_many.append(n)
            continue
        need = max(positions.values()) + 1
        if len(row) < need:
            too_few.append(n)
            continue
        ids.append(row[positions[id_column]].strip(" \t"))
        values.append(row[positions[value_column]])
        lines.append(n)
    if too_many:
        problems.append(
            f"line(s) {_shown(too_many)} have more cells than the header ({len(header)}); a decimal comma "
            "('1,5') splits a number in two. Write 1.5, or quote the cell"
        )
    if too_few:
        problems.append(f"line(s) {_shown(too_few)} lack the {value_column!r} cell; add the value")
    if not ids and not problems:
        problems.append("the file has a header but no data rows; add one row per proposal")
    return LabFile(ids, values, lines, problems)


# --------------------------------------------------------------------------------------------
# oracles
# --------------------------------------------------------------------------------------------


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative int or None, got {seed!r}.")
    return int(seed)


class LookupOracle:
    """Measures by looking values up in a table that is already measured (simulated campaigns).

    Parameters
    ----------
    table : DataFrame
        The whole pool with its measured values.
    id_column : str
        Column of ``table`` holding the IDs the proposals use (unique).
    target_column : str
        Column of ``table`` holding the values.
    noise_std : float, default 0
        Standard deviation of Gaussian noise added to every measurement, to simulate an
        imperfect instrument.
    seed : int, optional
        Seeds the noise. The noise of one ID depends only on ``seed`` and the ID (a SHA-256
        of both), so measuring an ID again -- after a crash, or in a repeated campaign --
        gives the same value. Without a seed one is drawn when the oracle is built: the same
        within this object, different across runs.

    Raises
    ------
    InputError
        For a missing column, duplicate or empty IDs, a non-numeric target or negative noise.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        id_column: str,
        target_column: str,
        noise_std: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"table must be a pandas DataFrame, got {type(table).__name__}.")
        for what, col in (("id_column", id_column), ("target_column", target_column)):
            if col not in table.columns:
                raise InputError(
                    f"{what}={col!r} is not a column of the table (columns: {list(table.columns)[:20]})."
                )
        try:
            noise = float(noise_std)
        except (TypeError, ValueError):
            raise InputError(f"noise_std must be a non-negative number, got {noise_std!r}.") from None
        if not math.isfinite(noise) or noise < 0.0:
            raise InputError(f"noise_std must be a non-negative finite number, got {noise_std!r}.")
        values = pd.to_numeric(table[target_column], errors="coerce").to_numpy(dtype=np.float64)
        bad_text = np.isnan(values) & table[target_column].notna().to_numpy()
        if bad_text.any():
            rows = np.flatnonzero(bad_text)
            raise InputError(
                f"target_column {target_column!r} has non-numeric values in row(s) "
                f"{_shown(rows.tolist())}; clean the table first."
            )
        keys = [_id_key(v) for v in table[id_column]]
        empty = [i for i, key in enumerate(keys) if key is None]
        if empty:
            raise InputError(f"the table has empty IDs in row(s) {_shown(empty)}; every row needs an ID.")
        lookup: dict[str, float] = {}
        dups: list[str] = []
        for key, value in zip(keys, values):
            if key in lookup:
                dups.append(key)
            lookup[key] = float(value)
        if dups:
            raise InputError(
                f"id_column {id_column!r} has duplicate IDs {_shown(sorted(set(dups)))}; a lookup "
                "needs one row per ID (aggregate repeated measurements first)."
            )
        self.id_column = id_column
        self.target_column = target_column
        self.noise_std = noise
        seed_ = _check_seed(seed)
        self.seed = seed_ if seed_ is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self._lookup = lookup

    def _noise(self, key: str) -> float:
        digest = hashlib.sha256(f"{self.seed}\x00{key}".encode()).digest()
        words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
        return float(np.random.default_rng(words).standard_normal())

    def measure(self, proposals: pd.DataFrame, *, round_index: int | None = None) -> pd.DataFrame:
        """Look up (and perturb) the values of the proposed IDs.

        Returns
        -------
        DataFrame with columns ``id`` and ``value``, in proposal order.

        Raises
        ------
        OracleError
            If a proposed ID is not in the table, or the table has no value for it.
        """
        keys = _proposal_keys(proposals, "id")
        unknown = [key for key in keys if key not in self._lookup]
        if unknown:
            raise OracleError(
                f"{len(unknown)} proposed ID(s) are not in the lookup table's {self.id_column!r} "
                f"column: {_shown(unknown)}; propose candidates from the same table."
            )
        novalue = [key for key in keys if math.isnan(self._lookup[key])]
        if novalue:
            raise OracleError(
                f"the lookup table has no {self.target_column!r} value for ID(s) {_shown(novalue)}; "
                "drop unmeasured rows from the pool before the campaign."
            )
        values = [self._lookup[key] for key in keys]
        if self.noise_std > 0.0:
            values = [v + self.noise_std * self._noise(key) for v, key in zip(values, keys)]
        measured = pd.DataFrame({"id": proposals["id"].to_numpy(copy=True), "value": values})
        return validate_measurements(proposals, measured, source="the lookup oracle")

    def __repr__(self) -> str:
        return (
            f"LookupOracle(id_column={self.id_column!r}, target_column={self.target_column!r}, "
            f"noise_std={self.noise_std!r}, seed={self.seed!r}, n={len(self._lookup)})"
        )


class FileOracle:
    """A lab that exchanges CSV files through a folder.

    For round ``r`` it writes ``proposals_round_<r>.csv`` (atomically: the lab never sees half
    a file) and waits for ``measured_round_<r>.csv``, a CSV file with a header line holding
    ``id`` and ``value`` columns (other columns, e.g. notes, are ignored) and one row per
    proposal. Once the file exists and has not changed for ``settle`` seconds (so a file still
    being copied is not read), it is read and checked with :func:`validate_measurements`;
    a bad file raises :class:`~bdl.errors.OracleError` and is left as it is, to be fixed and
    read again on the next call.

    Parameters
    ----------
    directory : str or Path
        The exchange folder; created if missing.
    poll_interval : float, default 10.0
        Seconds between looks for the measured file.
    timeout : float, optional
        Seconds to wait before raising :class:`MeasurementTimeout`; None waits for ever.
    wait : bool, default True
        False: never wait; if the measured file is not there, raise
        :class:`MeasurementPending` at once (the proposals file is written first).
    settle : float, default 1.0
        Seconds the measured file must stay unchanged before it is read.
    value_column : str, default "value"
        Name of the value column in the measured file.
    value_range : (float, float), optional
        Plausible range of a measured value; a file with a value outside it is rejected.

    The measured file is read strictly by :func:`read_lab_file` (UTF-8 with or without a BOM,
    any line ends; no control characters, no duplicated or ambiguous columns, no decimal commas,
    booleans or hex) and its rows checked by :func:`validate_measurements`. Problems are named by
    the line of the file as a person counts it (the header is line 1).

    Notes
    -----
    Calling :meth:`measure` again for a round whose proposals file exists is safe: a file
    with the same IDs is kept as it is (the lab may already be working from it), one with
    other IDs raises :class:`~bdl.errors.OracleError` rather than being overwritten.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        wait: bool = True,
        settle: float = 1.0,
        value_column: str = "value",
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.value_range = check_value_range(value_range)
        self.poll_interval = _positive("poll_interval", poll_interval)
        self.timeout = None if timeout is None else _positive("timeout", timeout, allow_zero=True)
        if not isinstance(wait, (bool, np.bool_)):
            raise InputError(f"wait must be True or False, got {wait!r}.")
        self.wait = bool(wait)
        self.settle = _positive("settle", settle, allow_zero=True)
        if not isinstance(value_column, str) or not value_column:
            raise InputError(f"value_column must be a non-empty string, got {value_column!r}.")
        self.value_column = value_column

    def paths(self, round_index: int) -> tuple[Path, Path]:
        """The proposals file and the measured file of round ``round_index``."""
        r = _check_round(round_index)
        return (
            self.directory / f"proposals_round_{r}.csv",
            self.directory / f"measured_round_{r}.csv",
        )

    def latest_round(self) -> int | None:
        """The highest round with a proposals file in the folder, or None."""
        if not self.directory.is_dir():
            return None
        rounds = [int(m.group(1)) for p in self.directory.iterdir() if (m := _PROPOSALS_RE.match(p.name))]
        return max(rounds) if rounds else None

    def _infer_round(self, keys: list[str]) -> int:
        latest = self.latest_round()
        if latest is None:
            return 0
        prop_path, _ = self.paths(latest)
        try:
            old = read_csv(prop_path, "proposals file")
            same = "id" in old.columns and sorted(_id_key(v) or "" for v in old["id"]) == sorted(keys)
        except InputError:
            same = False
        return latest if same else latest + 1

    def _write_proposals(self, proposals: pd.DataFrame, keys: list[str], path: Path) -> None:
        if path.exists():
            old = read_csv(path, "proposals file")
            old_keys = sorted(_id_key(v) or "" for v in old["id"]) if "id" in old.columns else []
            if old_keys != sorted(keys):
                raise OracleError(
                    f"{path} already exists with other IDs than this round's proposals; the folder "
                    "holds files of another campaign or round. Use a fresh folder, or move the old "
                    "files away if they are stale."
                )
            return
        atomic_write_text(path, proposals.to_csv(index=False))

    def _wait_for(self, path: Path, round_index: int, prop_path: Path) -> None:
        start = time.monotonic()
        while True:
            if path.exists() and self._settled(path):
                return
            if not self.wait:
                raise MeasurementPending(
                    f"round {round_index}: waiting for the lab. The proposals are in {prop_path}; "
                    f"put the results into {path} (columns id,{self.value_column}; one row per "
                    "proposal) and run the campaign again.",
                    round_index, prop_path, path,
                )
            elapsed = time.monotonic() - start
            if self.timeout is not None and elapsed >= self.timeout:
                raise MeasurementTimeout(
                    f"round {round_index}: no {path.name} after {self.timeout:g} s. The proposals "
                    f"are in {prop_path}; put the results into {path} (columns "
                    f"id,{self.value_column}) and run the campaign again, or raise the timeout.",
                    round_index, prop_path, path,
                )
            pause = self.poll_interval
            if self.timeout is not None:
                pause = min(pause, max(self.timeout - elapsed, 0.0))
            time.sleep(pause)

    def _settled(self, path: Path) -> bool:
        """True once ``path`` is unchanged in size and mtime over ``settle`` seconds."""
        if self.settle <= 0.0:
            return True
        try:
            before = path.stat()
            time.sleep(self.settle)
            after = path.stat()
        except FileNotFoundError:
            return False
        return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)

    def measure(self, proposals: pd.DataFrame, *, round_index: int | None = None) -> pd.DataFrame:
        """Write the proposals, wait for the measured file, validate and return it.

        Parameters
        ----------
        proposals : DataFrame
            With a unique ``id`` column; every column is written to the proposals file.
        round_index : int, optional
            The round; if None, the latest round in the folder when its proposals have the
            same IDs (a resumed round), else the next one (0 in an empty folder).

        Returns
        -------
        DataFrame with columns ``id`` and ``value``, in proposal order.

        Raises
        ------
        MeasurementPending
            ``wait=False`` and the measured file is not there yet.
        MeasurementTimeout
            The measured file did not come within ``timeout`` seconds.
        OracleError
            The measured file is unreadable or fails :func:`validate_measurements`; nothing
            of it is returned.
        """
        keys = _proposal_keys(proposals, "id")
        r = self._infer_round(keys) if round_index is None else _check_round(round_index)
        prop_path, meas_path = self.paths(r)
        self._write_proposals(proposals, keys, prop_path)
        self._wait_for(meas_path, r, prop_path)
        return self.read_measured(proposals, meas_path)

    def read_measured(self, proposals: pd.DataFrame, path: str | Path) -> pd.DataFrame:
        """Read and check a measured file strictly (:func:`read_lab_file` +
        :func:`validate_measurements`); every problem of the file is listed in one error.

        Raises
        ------
        OracleError
            If anything in the file is wrong; nothing of it is returned.
        """
        _proposal_keys(proposals, "id")  # malformed proposals are the caller's InputError
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise OracleError(f"{path} cannot be read ({exc.strerror}); check that the file exists and is readable.") from exc
        lab = read_lab_file(data, value_column=self.value_column)
        problems = list(lab.problems)
        # integer proposal IDs match "20" and "20.0" (a spreadsheet may write either)
        numeric_ids = all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in proposals["id"])
        ids: list[str] = []
        for text in lab.ids:
            x = parse_number(text) if numeric_ids else None
            ids.append(str(int(x)) if x is not None and math.isfinite(x) and x.is_integer() else text)
        if lab.ids or not problems:
            # the rows are checked too, so the lab sees every problem of the file at once
            measured = pd.DataFrame({"id": ids, self.value_column: lab.values}, dtype=object)
            try:
                out = validate_measurements(
                    proposals, measured, value_column=self.value_column, source=str(path), lines=lab.lines,
                    value_range=self.value_range,
                )
            except OracleError as exc:
                problems += [p for p in getattr(exc, "problems", [str(exc)]) if p not in problems]
            else:
                if not problems:
                    return out
        raise _rejected(str(path), problems)

    def __repr__(self) -> str:
        return (
            f"FileOracle({str(self.directory)!r}, poll_interval={self.poll_interval!r}, "
            f"timeout={self.timeout!r}, wait={self.wait!r})"
        )


class CallableOracle:
    """Wraps a Python function ``fn(proposals) -> values`` (a simulator, a DFT workflow).

    ``fn`` receives the proposals DataFrame and returns one of

    - a DataFrame with ``id`` and ``value`` columns;
    - a mapping ``{id: value}``, or a pandas Series indexed by ID;
    - a 1-D sequence or ndarray of values in the order of the proposals.

    The result is checked with :func:`validate_measurements` exactly like a lab file.
    Exceptions raised by ``fn`` itself propagate unchanged.

    Parameters
    ----------
    fn : callable
    name : str, optional
        How to call it in messages (default: the function's ``__name__``).
    """

    def __init__(self, fn: Callable[[pd.DataFrame], Any], name: str | None = None) -> None:
        if not callable(fn):
            raise InputError(f"fn must be callable, got {type(fn).__name__}.")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def measure(self, proposals: pd.DataFrame, *, round_index: int | None = None) -> pd.DataFrame:
        """Call ``fn`` on the proposals and validate its answer.

        Raises
        ------
        OracleError
            For an answer of the wrong type or length, or one that fails
            :func:`validate_measurements`.
        """
        keys = _proposal_keys(proposals, "id")
        source = f"the values returned by {self.name}"
        out = self.fn(proposals.copy())
        if isinstance(out, pd.DataFrame):
            measured = out
        elif isinstance(out, (pd.Series, Mapping)):
            items = out.items()
            measured = pd.DataFrame(list(items), columns=["id", "value"])
        else:
            if isinstance(out, (str, bytes)) or not hasattr(out, "__len__"):
                raise OracleError(
                    f"{source} is a {type(out).__name__}; return a DataFrame with id and value "
                    "columns, a mapping id -> value, or one value per proposal in order."
                )
            arr = np.asarray(out, dtype=object)
            if arr.ndim != 1 or len(arr) != len(keys):
                raise OracleError(
                    f"{source} has shape {arr.shape} but there are {len(keys)} proposals; return "
                    "one value per proposal, in the order of the proposals."
                )
            measured = pd.DataFrame({"id": proposals["id"].to_numpy(copy=True), "value": arr})
        return validate_measurements(proposals, measured, source=source)

    def __repr__(self) -> str:
        return f"CallableOracle({self.name})"


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of seconds, got {value!r}.") from None
    if not math.isfinite(out) or out < 0.0 or (out == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be a finite number {bound} (seconds), got {value!r}.")
    return out


def _check_round(round_index: Any) -> int:
    if isinstance(round_index, (bool, np.bool_)) or not isinstance(round_index, (int, np.integer)) or round_index < 0:
        raise InputError(f"round_index must be a non-negative int, got {round_index!r}.")
    return int(round_index)
