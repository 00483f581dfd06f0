"""Polymorphs: several structures of one composition, seen by a composition-only model.

A model whose input is the chemical formula alone cannot tell the polymorphs of a composition
apart, so where their properties differ (diamond and graphite, zinc-blende and rock-salt
CdSe, a metallic and an insulating phase) its target is genuinely multimodal. These helpers
find such compositions in a data set and split data by composition, so that no composition
is on both sides of a train/test split.

:func:`composition_keys`   the reduced formula of every row (``K4Mn4O8`` -> ``KMnO2``)
:func:`polymorph_table`    per reduced composition: number of rows, min / max / spread of the target
:func:`composition_split`  train / test positions with every row of a composition on one side

numpy / pandas only; formulas are parsed with the featuriser's vectorised parser.

Examples
--------
>>> from bdl.data import load_matbench_mp_gap
>>> from bdl.data.polymorphs import polymorph_table
>>> df = load_matbench_mp_gap()                                    # doctest: +SKIP
>>> table = polymorph_table(df, "gap_pbe_eV")                      # doctest: +SKIP
>>> table.loc[["C", "BN", "CdSe", "HgS"], ["n", "min", "max", "spread"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bdl.errors import FormulaError, InputError

__all__ = ["composition_keys", "composition_split", "polymorph_table"]

#: Tolerance for "this amount is a whole number" and for the rational search of fractional amounts.
_INT_TOL = 1e-6
#: Largest whole-number total tried when turning fractional amounts into a reduced formula.
_MAX_TOTAL = 240


def _format_amount(value: float) -> str:
    if abs(value - 1.0) < _INT_TOL:
        return ""
    if abs(value - round(value)) < _INT_TOL:
        return str(int(round(value)))
    return f"{value:.6g}"


def _join_tokens(rows: np.ndarray, amounts: np.ndarray, symbols: dict[int, str]) -> np.ndarray:
    """Formula strings from element rows and reduced amounts of shape (n, k) (amount 0 = padding)."""
    sym = np.full(max(int(rows.max(initial=0)), max(symbols)) + 1, "", dtype=object)
    for row, name in symbols.items():
        sym[row] = name
    whole = np.abs(amounts - np.round(amounts)) < _INT_TOL
    ints = np.where(whole, np.round(amounts), 0).astype(np.int64)
    lookup = np.array(["", ""] + [str(i) for i in range(2, int(ints.max(initial=1)) + 1)], dtype=object)
    text = lookup[ints]
    for i, j in zip(*np.nonzero(~whole)):
        text[i, j] = _format_amount(float(amounts[i, j]))
    tokens = np.where(amounts > 0, sym[rows] + text, "")
    out = tokens[:, 0].copy()
    for j in range(1, tokens.shape[1]):
        out = out + tokens[:, j]
    return out


def _reduce(amounts: np.ndarray) -> np.ndarray:
    """Reduced amounts of padded rows of shape (n, k) (0 = padding): whole numbers where possible.

    Rows of whole numbers are divided by their greatest common divisor. Other rows are turned
    into fractions of their total and multiplied by the smallest total (up to ``_MAX_TOTAL``)
    that makes every amount a whole number (``Fe0.5O0.5`` -> ``FeO``); rows that never become
    whole numbers keep their fractions (amounts summing to 1).
    """
    out = np.zeros_like(amounts)
    rounded = np.round(amounts)
    is_int = np.all(np.abs(amounts - rounded) < _INT_TOL * np.maximum(1.0, amounts), axis=1)
    if is_int.any():
        ints = rounded[is_int].astype(np.int64)
        g = np.gcd.reduce(ints, axis=1)
        out[is_int] = ints / np.maximum(g, 1)[:, None]
    rest = np.flatnonzero(~is_int)
    if rest.size:
        frac = amounts[rest] / amounts[rest].sum(axis=1, keepdims=True)
        todo = np.ones(rest.size, dtype=bool)
        for total in range(1, _MAX_TOTAL + 1):
            scaled = frac[todo] * total
            ok = np.all(np.abs(scaled - np.round(scaled)) < 1e-4, axis=1)
            if ok.any():
                where = np.flatnonzero(todo)[ok]
                out[rest[where]] = np.round(frac[where] * total)
                todo[where] = False
            if not todo.any():
                break
        out[rest[todo]] = frac[todo]
    return out


def composition_keys(formulas: Sequence[Any] | pd.Series) -> pd.Series:
    """The reduced formula of every input, a key shared by all polymorphs of a composition.

    Elements are written in order of increasing electronegativity (as pymatgen's
    ``Composition.reduced_formula`` does: ``NaCl``, ``CdSe``, ``BN``; elements without a value,
    the noble gases, last; ties by symbol), with whole-number amounts divided by their greatest
    common divisor (``K4Mn4O8`` -> ``KMnO2``, ``C8`` -> ``C``). Fractional formulas become whole
    numbers where a small total allows it (``Fe0.5O0.5`` -> ``FeO``), else they keep their
    fractions of the total.

    Parameters
    ----------
    formulas : sequence of str (or pandas Series) of length n
        Chemical formulas in the featuriser's grammar (:func:`bdl.features.parse_formula`).

    Returns
    -------
    pandas.Series of str, length n
        Keeps the index of a Series input.

    Raises
    ------
    FormulaError
        If any formula cannot be parsed (every bad row listed).
    """
    from bdl.features import _element_table, _parse_all

    index_in = formulas.index if isinstance(formulas, pd.Series) else None
    codes, rows, amounts, problems = _parse_all(formulas)
    if problems:
        raise FormulaError(problems)
    _, values_raw = _element_table(False)
    symbols = {row: sym for sym, row in _element_table(True)[0].items() if sym not in ("D", "T")}
    x_col = list(_property_names()).index("Electronegativity")
    electroneg = np.append(values_raw[:, x_col], np.nan)  # padding row -> NaN
    order_key = np.where(np.isnan(electroneg), np.inf, electroneg)
    reduced = _reduce(amounts)
    # sort the elements of every distinct composition by (electronegativity, symbol)
    sym_rank = np.full(len(electroneg), len(symbols) + 1, dtype=np.int64)
    for rank, (row, _) in enumerate(sorted(symbols.items(), key=lambda kv: kv[1])):
        sym_rank[row] = rank
    pad = amounts <= 0
    sort_x = np.where(pad, np.inf, order_key[rows])
    sort_s = np.where(pad, len(symbols) + 2, sym_rank[rows])
    order = np.lexsort((sort_s, sort_x), axis=1)
    rows_sorted = np.take_along_axis(rows, order, axis=1)
    red_sorted = np.take_along_axis(reduced, order, axis=1)
    distinct = _join_tokens(rows_sorted, red_sorted, symbols)
    return pd.Series(distinct[codes], index=index_in, dtype=object, name="formula")


def _property_names() -> tuple[str, ...]:
    from bdl.features import MAGPIE_PROPERTIES

    return MAGPIE_PROPERTIES


def polymorph_table(
    df: pd.DataFrame,
    target_column: str,
    formula_column: str = "composition",
    min_count: int = 1,
) -> pd.DataFrame:
    """Per reduced composition: how many rows (polymorphs) it has and how far their values spread.

    Parameters
    ----------
    df : DataFrame
        One row per structure / measurement.
    target_column : str
        The numeric property, e.g. ``"gap_pbe_eV"``.
    formula_column : str, default "composition"
    min_count : int, default 1
        Keep compositions with at least this many rows (2: only those with polymorphs).

    Returns
    -------
    DataFrame indexed by reduced formula (``formula``), sorted by ``spread`` (largest first,
    then by formula), with columns

    ``n`` : int
        Rows of that composition (polymorphs, for a structure data set such as
        ``matbench_mp_gap``).
    ``min``, ``max``, ``mean`` : float
        Of the target over those rows.
    ``spread`` : float
        ``max - min``; 0 for a composition with one row.
    ``rows`` : list of int
        Positions (0-based, in ``df``) of the composition's rows.

    Raises
    ------
    InputError
        For a missing column, a non-numeric target, or ``min_count`` < 1.
    FormulaError
        If a formula cannot be parsed.

    Notes
    -----
    On ``matbench_mp_gap`` (``target_column="gap_pbe_eV"``) 11788 compositions have two or
    more structures, and 455 of them span more than 1.5 eV.
    """
    for what, col in (("target_column", target_column), ("formula_column", formula_column)):
        if col not in df.columns:
            raise InputError(f"{what}={col!r} is not a column of df; its columns are {list(df.columns)}.")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise InputError(f"min_count must be a positive integer, got {min_count!r}.")
    if not pd.api.types.is_numeric_dtype(df[target_column]):
        raise InputError(f"target_column {target_column!r} must be numeric, it has dtype {df[target_column].dtype}.")
    keys = composition_keys(df[formula_column].reset_index(drop=True)).to_numpy()
    y = df[target_column].to_numpy(dtype=float)
    codes, names = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(names))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    y_sorted = y[order]
    table = pd.DataFrame(
        {
            "formula": np.asarray(names, dtype=object),
            "n": counts,
            "min": np.minimum.reduceat(y_sorted, starts) if len(y) else np.zeros(0),
            "max": np.maximum.reduceat(y_sorted, starts) if len(y) else np.zeros(0),
            "mean": np.add.reduceat(y_sorted, starts) / np.maximum(counts, 1) if len(y) else np.zeros(0),
        }
    )
    table["spread"] = table["max"] - table["min"]
    table["rows"] = [part.tolist() for part in np.split(order, starts[1:])] if len(y) else []
    table = table[table["n"] >= int(min_count)]
    table = table.sort_values(["spread", "formula"], ascending=[False, True], kind="mergesort")
    return table.set_index("formula")


def composition_split(
    formulas: Sequence[Any] | pd.Series,
    test_fraction: float = 0.2,
    seed: int | None = 0,
    keep_in_train: Iterable[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into train and test so that all rows of a composition fall on one side.

    The distinct reduced compositions are shuffled with ``seed`` and the first
    ``test_fraction`` of them (rounded) go to the test side.

    Parameters
    ----------
    formulas : sequence of str of length n
    test_fraction : float, default 0.2
        Share of the distinct compositions (not rows) in the test part; in (0, 1).
    seed : int or None, default 0
    keep_in_train : iterable of str
        Formulas whose compositions must be on the training side (reduced like the rest, so
        ``"C2"`` keeps all carbon rows), e.g. examples a notebook wants to show in-sample.

    Returns
    -------
    train, test : ndarray of int
        Sorted row positions.

    Raises
    ------
    InputError
        For a ``test_fraction`` outside (0, 1).
    FormulaError
        If a formula cannot be parsed.
    """
    try:
        frac = float(test_fraction)
    except (TypeError, ValueError):
        raise InputError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}.") from None
    if not 0.0 < frac < 1.0:
        raise InputError(f"test_fraction must lie in (0, 1), got {test_fraction!r}.")
    keys = composition_keys(pd.Series(list(formulas), dtype=object)).to_numpy()
    kept = list(keep_in_train)
    kept_keys = set(composition_keys(kept).tolist()) if kept else set()
    distinct = np.array(sorted(set(keys.tolist())), dtype=object)
    rng = np.random.default_rng(seed)
    shuffled = distinct[rng.permutation(len(distinct))]
    candidates = np.array([k for k in shuffled if k not in kept_keys], dtype=object)
    n_test = int(round(frac * len(distinct)))
    test_keys = set(candidates[:n_test].tolist())
    is_test = np.fromiter((k in test_keys for k in keys), dtype=bool, count=len(keys))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
