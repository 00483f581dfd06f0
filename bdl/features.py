"""Vectorised composition descriptors: the 132 Magpie element-property statistics.

:func:`featurize` turns chemical formulas (strings or pymatgen ``Composition`` objects) into
the same 132 numbers, with the same names, as matminer's
``ElementProperty.from_preset("magpie")`` (Ward et al., npj Comput. Mater. 2, 16028 (2016)),
so a user can swap one for the other. It is written for whole columns at once: each distinct
formula is parsed once by a small formula parser that follows pymatgen's grammar, and the
statistics are computed with numpy over all rows together.

This module imports neither TensorFlow nor pymatgen: a pymatgen ``Composition`` (or any
object with an ``element_composition`` mapping, or a plain ``{symbol: amount}`` dict) is read
through that mapping alone, so pymatgen is needed only by whoever builds the objects.

Statistics (weights are the element amounts of the formula, as in matminer):

``minimum``, ``maximum``, ``range``
    of the property over the elements present;
``mean``
    amount-weighted mean;
``avg_dev``
    amount-weighted mean absolute deviation from that mean;
``mode``
    property of the most abundant element (ties, decided with ``numpy.isclose`` on the
    amounts, go to the smallest property value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

from bdl.errors import FormulaError, InputError

__all__ = [
    "MAGPIE_PROPERTIES",
    "MAX_AMOUNT",
    "MAX_FORMULA_LENGTH",
    "MAGPIE_STATS",
    "feature_names",
    "featurize",
    "featurize_dataframe",
    "find_formula_problems",
    "parse_formula",
]

#: The 22 element properties of matminer's "magpie" preset, in matminer's order.
MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)

#: The six statistics of the "magpie" preset, in matminer's order.
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")

# Isotope symbols pymatgen accepts and files under hydrogen.
_ISOTOPES = {"D": "H", "T": "H"}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# One token of a formula: an element symbol with an optional amount, an opening bracket, or a
# closing bracket with an optional multiplier. Whitespace may surround tokens (as in pymatgen).
_TOKEN_RE = re.compile(
    rf"\s*(?:(?P<el>[A-Z][a-z]*)\s*(?P<amt>{_NUMBER})?|(?P<open>\()|(?P<close>\))\s*(?P<mult>{_NUMBER})?)\s*"
)
# Over many formulas joined by newlines: element tokens, separators, and any other character
# (which sends its formula to the general parser).
_BATCH_TOKEN_RE = re.compile(rf"[A-Z][a-z]?(?:{_NUMBER})?|\n|.")
#: Longest formula accepted, in characters. The longest formula among the 106 113 of
#: ``matbench_mp_gap`` has well under 100; a 10 000-character "formula" is a pasted cell, not a
#: composition, and is rejected with this reason instead of being parsed for seconds.
MAX_FORMULA_LENGTH = 1000
#: Largest amount of one element (after bracket multipliers). Amounts are relative, so any real
#: composition can be written with amounts far below this; ``Fe1e30O`` is a typo or a unit
#: mistake, and would make every other element's weight vanish below float64 resolution.
MAX_AMOUNT = 1e6
_SEPARATOR = -2
_DEFER = -1
_KEY_STRIDE = 1024
_BLOCK = 2048


def feature_names() -> list[str]:
    """Return the 132 feature names, identical to matminer's ``feature_labels()``.

    Returns
    -------
    list of str
        ``"MagpieData {stat} {property}"`` for each property, then each statistic.
    """
    return [f"MagpieData {stat} {prop}" for prop in MAGPIE_PROPERTIES for stat in MAGPIE_STATS]


@lru_cache(maxsize=2)
def _element_table(impute_nan: bool) -> tuple[dict[str, int], np.ndarray]:
    """Load the shipped Magpie table: symbol -> row index, and values of shape (118, 22).

    With ``impute_nan`` a missing value is replaced by the property's mean over all elements
    that have it, exactly as matminer's ``MagpieData(impute_nan=True)`` (its default) does.
    """
    path = resources.files("bdl.data") / "magpie" / "magpie_elements.csv"
    with resources.as_file(path) as p:
        frame = pd.read_csv(p, keep_default_na=False, na_values=["nan"])
    values = frame.loc[:, list(MAGPIE_PROPERTIES)].to_numpy(dtype=np.float64)
    if impute_nan:
        means = np.nanmean(values, axis=0)
        values = np.where(np.isnan(values), means[None, :], values)
    index = {sym: i for i, sym in enumerate(frame["symbol"])}
    for iso, el in _ISOTOPES.items():
        index[iso] = index[el]
    values.setflags(write=False)
    return index, values


def _check_amount(text: str, value: float) -> str | None:
    if math.isnan(value):
        return "an amount is NaN"
    if math.isinf(value):
        return "an amount is infinite (too large for a float64 number)"
    if value < 0:
        return f"negative amount {value:g}"
    if value > MAX_AMOUNT:
        return f"amount {value:g} is larger than {MAX_AMOUNT:g}; write the composition with relative amounts"
    return None


def _parse_general(formula: str, index: dict[str, int]) -> dict[int, float] | str:
    """Parse any formula with brackets; return {element row: amount} or a reason string."""
    text = formula.replace("@", "").translate(str.maketrans("[]{}", "()()"))
    stack: list[dict[int, float]] = [{}]
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            ch = text[pos]
            if ch == "-" and pos + 1 < n and (text[pos + 1].isdigit() or text[pos + 1] == "."):
                return f"negative amount at position {pos}"
            if ch.islower():
                return f"unexpected lower-case {ch!r} at position {pos} (element symbols start with a capital letter)"
            return f"unexpected character {ch!r} at position {pos}"
        pos = m.end()
        if m["el"] is not None:
            sym = m["el"]
            row = index.get(sym)
            if row is None:
                return f"unknown element {sym!r}"
            amount = float(m["amt"]) if m["amt"] else 1.0
            bad = _check_amount(formula, amount)
            if bad:
                return bad
            top = stack[-1]
            top[row] = top.get(row, 0.0) + amount
        elif m["open"] is not None:
            stack.append({})
        else:  # closing bracket
            if len(stack) == 1:
                return f"unmatched closing bracket at position {m.start('close')}"
            group = stack.pop()
            if not group:
                return "empty brackets"
            mult = float(m["mult"]) if m["mult"] else 1.0
            top = stack[-1]
            for row, amount in group.items():
                top[row] = top.get(row, 0.0) + amount * mult
    if len(stack) != 1:
        return "unclosed bracket"
    return stack[0]


def parse_formula(formula: str) -> dict[str, float]:
    """Parse one chemical formula into ``{element symbol: amount}``.

    Follows pymatgen's grammar (nested ``()``, ``[]``, ``{}`` groups with multipliers,
    fractional amounts, ``@`` ignored, ``D``/``T`` filed under hydrogen, amounts below 1e-8
    dropped) but is strict: unknown element symbols, lower-case letters, stray characters and
    negative amounts are errors.

    Parameters
    ----------
    formula : str
        A formula such as ``"Fe2O3"``, ``"Ca3(PO4)2"`` or ``"GaAs0.1P0.9"``.

    Returns
    -------
    dict of str to float

    Raises
    ------
    FormulaError
        If the formula cannot be parsed; the message gives the reason.
    """
    index, _ = _element_table(True)
    symbols = {row: sym for sym, row in index.items() if sym not in _ISOTOPES}
    result = _parse_one(formula, index)
    if isinstance(result, str):
        raise FormulaError([(0, formula, result)])
    rows, amounts = result
    return {symbols[int(r)]: float(a) for r, a in zip(rows, amounts)}


def _parse_one(formula: str, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray] | str:
    """Parse a formula string into (element rows, amounts) or return the reason it is bad."""
    if not formula.strip():
        return "empty formula"
    if len(formula) > MAX_FORMULA_LENGTH:
        return f"{len(formula)} characters long; a formula may have at most {MAX_FORMULA_LENGTH}"
    parsed = _parse_general(formula, index)
    if isinstance(parsed, str):
        return parsed
    return _finish(parsed)


def _finish(parsed: dict[int, float]) -> tuple[np.ndarray, np.ndarray] | str:
    items = [(r, a) for r, a in parsed.items() if abs(a) >= 1e-8]
    if not items:
        return "no element with a non-zero amount"
    rows = np.fromiter((r for r, _ in items), dtype=np.int64, count=len(items))
    amounts = np.fromiter((a for _, a in items), dtype=np.float64, count=len(items))
    if not np.all(np.isfinite(amounts)):
        return "an amount is not finite (too large for a float64 number after the bracket multipliers)"
    if amounts.max() > MAX_AMOUNT:
        return f"amount {amounts.max():g} is larger than {MAX_AMOUNT:g}; write the composition with relative amounts"
    return rows, amounts


def _parse_composition(comp: Any, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray] | str:
    """Turn a pymatgen Composition (or mapping) into (element rows, amounts)."""
    try:
        items = comp.element_composition.items()
    except AttributeError:
        items = comp.items()
    parsed: dict[int, float] = {}
    for el, amt in items:
        sym = getattr(el, "symbol", str(el))
        row = index.get(sym)
        if row is None:
            return f"unknown element {sym!r}"
        value = float(amt)
        bad = _check_amount(sym, value)
        if bad:
            return bad
        parsed[row] = parsed.get(row, 0.0) + value
    return _finish(parsed)


def _describe(item: Any) -> str:
    if isinstance(item, str):
        return item
    return str(item)


def _parse_batch(
    texts: list[str], index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse many formulas at once: one regex pass, then numpy on the distinct tokens.

    Formulas made only of ``Symbol[amount]`` tokens with known symbols are parsed here;
    everything else (brackets, spaces, stray characters, unknown symbols, empty text) is
    returned in ``deferred`` for the general parser, which also explains failures.

    Returns
    -------
    owner, elem, amount : ndarray of shape (n_entries,)
        Position of the text, element row and summed amount of each (text, element) pair.
    deferred : ndarray of int
        Positions of the texts left to the general parser.
    """
    n = len(texts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), empty
    joined = "\n".join(texts) + "\n"
    if joined.count("\n") != n:  # a text holds a newline: send it to the general parser
        joined = "\n".join("\x00" if "\n" in t else t for t in texts) + "\n"
    tokens = _BATCH_TOKEN_RE.findall(joined)
    codes, distinct = pd.factorize(np.asarray(tokens, dtype=object))
    tok_elem = np.empty(len(distinct), dtype=np.int64)
    tok_amount = np.ones(len(distinct), dtype=np.float64)
    for i, tok in enumerate(distinct):
        if tok == "\n":
            tok_elem[i] = _SEPARATOR
            continue
        if not tok[0].isupper():
            tok_elem[i] = _DEFER
            continue
        cut = 2 if len(tok) > 1 and tok[1].islower() else 1
        tok_elem[i] = index.get(tok[:cut], _DEFER)
        if len(tok) > cut:
            tok_amount[i] = float(tok[cut:])
    elem = tok_elem[codes]
    amount = tok_amount[codes]
    is_sep = elem == _SEPARATOR
    owner = np.cumsum(is_sep) - is_sep  # position of the text each token belongs to
    keep = ~is_sep
    owner, elem, amount = owner[keep], elem[keep], amount[keep]
    defer = np.zeros(n, dtype=bool)
    defer[owner[elem == _DEFER]] = True
    # sum repeated elements within a formula ("FeOFe"), then drop amounts below 1e-8 as pymatgen
    ok = ~defer[owner]
    key = owner[ok] * _KEY_STRIDE + elem[ok]
    uniq, inverse = np.unique(key, return_inverse=True)
    with np.errstate(invalid="ignore", over="ignore"):
        summed = np.bincount(inverse, weights=amount[ok])
    nonzero = np.abs(summed) >= 1e-8
    u_owner = uniq // _KEY_STRIDE
    # overflowing or absurd amounts: the general parser says why
    defer[u_owner[~(np.isfinite(summed) & (summed <= MAX_AMOUNT))]] = True
    has_any = np.zeros(n, dtype=bool)
    has_any[u_owner[nonzero]] = True
    defer |= ~has_any  # empty texts and all-zero amounts: let the general parser say why
    sel = nonzero & ~defer[u_owner]
    return u_owner[sel], (uniq % _KEY_STRIDE)[sel], summed[sel], np.flatnonzero(defer)


def _parse_all(
    formulas: Sequence[Any] | pd.Series | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, str, str]]]:
    """Parse every input once per distinct value.

    Returns
    -------
    codes : ndarray of shape (n_inputs,)
        Row of each input in the table of distinct parsed compositions (-1 for bad inputs).
    rows, amounts : ndarray of shape (n_distinct, k)
        Padded element rows (padding points one past the last element) and amounts (0 pad).
    problems : list of (position, text, reason), sorted by position
    """
    index, values = _element_table(True)
    items = formulas.tolist() if isinstance(formulas, (pd.Series, np.ndarray)) else list(formulas)
    n_items = len(items)
    codes = np.full(n_items, -1, dtype=np.int64)
    problems: list[tuple[int, str, str]] = []

    is_str = np.fromiter((type(x) is str for x in items), dtype=bool, count=n_items)
    str_pos = np.flatnonzero(is_str)
    str_codes, uniq = pd.factorize(np.asarray([items[i] for i in str_pos], dtype=object))
    uniq_list: list[str] = list(uniq)

    # table entries (distinct id, element row, amount); distinct ids: strings first
    uniq_reason: dict[int, str] = {}
    # over-long texts go straight to the general parser, which rejects them by their length
    batch_texts = [t if len(t) <= MAX_FORMULA_LENGTH else "\x00" for t in uniq_list]
    o, e, a, deferred = _parse_batch(batch_texts, index)
    owners: list[np.ndarray] = [o]
    elems: list[np.ndarray] = [e]
    amounts_l: list[np.ndarray] = [a]
    for uid in deferred:
        result = _parse_one(uniq_list[uid], index)
        if isinstance(result, str):
            uniq_reason[int(uid)] = result
        else:
            owners.append(np.full(len(result[0]), uid, dtype=np.int64))
            elems.append(result[0])
            amounts_l.append(result[1])
    next_id = len(uniq_list)
    for pos in np.flatnonzero(~is_str):
        item = items[pos]
        if item is None or (isinstance(item, float) and math.isnan(item)):
            problems.append((int(pos), _describe(item), "missing value (None or NaN) instead of a formula"))
        elif hasattr(item, "element_composition") or isinstance(item, dict):
            result = _parse_composition(item, index)
            if isinstance(result, str):
                problems.append((int(pos), _describe(item), result))
            else:
                owners.append(np.full(len(result[0]), next_id, dtype=np.int64))
                elems.append(result[0])
                amounts_l.append(result[1])
                codes[pos] = next_id
                next_id += 1
        else:
            problems.append(
                (int(pos), _describe(item), f"expected a formula string or pymatgen Composition, got {type(item).__name__}")
            )
    str_item_codes = str_codes.astype(np.int64)
    if uniq_reason:
        bad_ids = np.fromiter(uniq_reason, dtype=np.int64)
        is_bad = np.isin(str_item_codes, bad_ids)
        for pos, uid in zip(str_pos[is_bad], str_item_codes[is_bad]):
            text = items[pos]
            if len(text) > MAX_FORMULA_LENGTH:  # quote the start of a pasted cell, not all of it
                text = text[:40] + "..."
            problems.append((int(pos), text, uniq_reason[int(uid)]))
        str_item_codes = np.where(is_bad, -1, str_item_codes)
    codes[str_pos] = str_item_codes
    problems.sort(key=lambda p: p[0])

    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    elem = np.concatenate(elems) if elems else np.zeros(0, dtype=np.int64)
    amount = np.concatenate(amounts_l) if amounts_l else np.zeros(0)
    order = np.argsort(owner, kind="stable")
    owner, elem, amount = owner[order], elem[order], amount[order]
    counts = np.bincount(owner, minlength=next_id)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(owner)) - starts[owner]
    rows = np.full((next_id, width), len(values), dtype=np.int64)
    amounts = np.zeros((next_id, width), dtype=np.float64)
    rows[owner, slot] = elem
    amounts[owner, slot] = amount
    return codes, rows, amounts, problems


def find_formula_problems(formulas: Sequence[Any] | pd.Series) -> list[tuple[int, str, str]]:
    """List every input that cannot be featurised.

    Parameters
    ----------
    formulas : sequence of str or pymatgen Composition

    Returns
    -------
    list of tuple (row, text, reason)
        0-based position, the input as text, and why it fails; empty when all are fine.
    """
    return _parse_all(formulas)[3]


def _magpie_stats(rows: np.ndarray, amounts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Compute the 132 statistics for padded element rows and amounts of shape (n, k).

    Loops over the k element slots only; every operation works on all rows and all 22
    properties at once. Padding slots point one past the last element.
    """
    n, k = rows.shape
    n_prop = values.shape[1]
    pad_row = np.ones((1, n_prop))
    table_lo = np.vstack([values, np.inf * pad_row])  # padding never wins a minimum
    table_hi = np.vstack([values, -np.inf * pad_row])  # ... nor a maximum
    table0 = np.vstack([values, 0.0 * pad_row])  # ... and weighs nothing in a mean
    has_nan = bool(np.isnan(values).any())
    out = np.empty((n, n_prop, len(MAGPIE_STATS)), dtype=np.float64)
    # work in blocks of rows small enough to stay in the CPU cache
    for s in range(0, n, _BLOCK):
        r = rows[s : s + _BLOCK]
        a = amounts[s : s + _BLOCK]
        m = len(r)
        with np.errstate(invalid="ignore", divide="ignore"):  # rows of bad inputs are all zero
            frac = a / a.sum(axis=1, keepdims=True)
        wmax = a.max(axis=1, keepdims=True)
        # numpy.isclose(weights, weights.max()) exactly as matminer's PropertyStats.mode
        is_mode = (a > 0) & (np.abs(a - wmax) <= 1e-8 + 1e-5 * np.abs(wmax))
        v0 = table0[r]  # (m, k, n_prop)
        block = out[s : s + m]
        # min/max propagate NaN element values (impute_nan=False), as matminer's do
        block[:, :, 0] = table_lo[r].min(axis=1)
        block[:, :, 1] = table_hi[r].max(axis=1)
        block[:, :, 2] = block[:, :, 1] - block[:, :, 0]
        mean = np.einsum("mk,mkp->mp", frac, v0)
        block[:, :, 3] = mean
        block[:, :, 4] = np.einsum("mk,mkp->mp", frac, np.abs(v0 - mean[:, None, :]))
        block[:, :, 5] = np.where(is_mode[:, :, None], v0, np.inf).min(axis=1)
        if has_nan:
            present = (a > 0)[:, :, None]
            nan_any = (present & np.isnan(v0)).any(axis=1)
            block[:, :, 3][nan_any] = np.nan
            block[:, :, 4][nan_any] = np.nan
    return out.reshape(n, n_prop * len(MAGPIE_STATS))


def featurize(
    formulas: Sequence[Any] | pd.Series | np.ndarray,
    errors: Literal["raise", "coerce"] = "raise",
    impute_nan: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Compute the 132 Magpie element-property statistics for many compositions at once.

    Parameters
    ----------
    formulas : sequence of str or pymatgen Composition, of length n
        Formula strings (``"Fe2O3"``, ``"Ca3(PO4)2"``) and/or ``Composition`` objects. A pandas
        Series keeps its index in the result.
    errors : {"raise", "coerce"}, default "raise"
        ``"raise"``: if any input is bad, raise one :class:`~bdl.errors.FormulaError` listing
        every bad row with its text and reason. ``"coerce"``: bad rows become NaN and the
        function returns ``(features, valid)``.
    impute_nan : bool, default True
        Replace element properties Magpie lacks (e.g. the melting point of He) by the mean of
        that property over all elements, as matminer's ``from_preset("magpie")`` does by
        default. With ``False`` such features are NaN.

    Returns
    -------
    features : DataFrame of shape (n, 132)
        Columns named as matminer's (:func:`feature_names`), one row per input, in order.
    valid : ndarray of bool of shape (n,)
        Only with ``errors="coerce"``: False where the input was bad.

    Raises
    ------
    FormulaError
        With ``errors="raise"``, if any formula is bad (empty, unknown element, malformed
        such as ``"In1p1"``, negative or NaN amounts, missing values), or absurd: an amount that
        overflows float64 (``Fe1e400O``), an amount above :data:`MAX_AMOUNT` (``Fe1e30O``), a
        text longer than :data:`MAX_FORMULA_LENGTH` characters, or any non-finite descriptor.
        Under ``"coerce"`` the same rows are NaN and marked False in ``valid``.

    Notes
    -----
    Zero amounts follow pymatgen: an element with amount 0 (below 1e-8) is dropped, so
    ``Fe0O`` is featurised as ``O``; a formula whose amounts are all zero (``Fe0``) is an error
    ("no element with a non-zero amount").
    InputError
        If ``errors`` is not one of the two options.
    """
    if errors not in ("raise", "coerce"):
        raise InputError(f"errors must be 'raise' or 'coerce', got {errors!r}.")
    if isinstance(formulas, (str, bytes)) or not isinstance(formulas, Iterable):
        raise InputError(
            "formulas must be a sequence of formula strings or Compositions (for one formula, "
            f"pass a list: featurize([{formulas!r}])), got {type(formulas).__name__}."
        )
    codes, rows, amounts, problems = _parse_all(formulas)
    _, values = _element_table(bool(impute_nan))
    unique_feats = _magpie_stats(rows, amounts, values)
    # a descriptor that is not finite (NaN with imputation on, or infinite) is a bad row too; a
    # model would otherwise fail far from here with the wrong row number
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(unique_feats) if impute_nan else ~np.isinf(unique_feats)
    bad_unique = np.flatnonzero(~finite.all(axis=1))
    if bad_unique.size:
        names = feature_names()
        items = formulas.tolist() if isinstance(formulas, (pd.Series, np.ndarray)) else list(formulas)
        for pos in np.flatnonzero(np.isin(codes, bad_unique)):
            col = int(np.flatnonzero(~finite[codes[pos]])[0])
            problems.append((int(pos), _describe(items[pos]), f"descriptor {names[col]!r} is not finite"))
        codes = np.where(np.isin(codes, bad_unique), -1, codes)
        problems.sort(key=lambda p: p[0])
    if problems and errors == "raise":
        raise FormulaError(problems)
    feats = np.full((len(codes), unique_feats.shape[1]), np.nan)
    valid = codes >= 0
    feats[valid] = unique_feats[codes[valid]]
    index = formulas.index if isinstance(formulas, pd.Series) else None
    frame = pd.DataFrame(feats, columns=feature_names(), index=index, copy=False)
    if errors == "coerce":
        return frame, valid
    return frame


def featurize_dataframe(
    df: pd.DataFrame,
    formula_column: str,
    errors: Literal["raise", "coerce"] = "raise",
    impute_nan: bool = True,
) -> pd.DataFrame:
    """Append the 132 Magpie features to a DataFrame, keeping all its columns.

    Parameters
    ----------
    df : DataFrame
        Holds a column of formula strings or Compositions.
    formula_column : str
        Name of that column.
    errors : {"raise", "coerce"}
        As in :func:`featurize`; with ``"coerce"`` bad rows get NaN features and a boolean
        column ``featurized_ok`` says which rows are valid.
    impute_nan : bool
        As in :func:`featurize`.

    Returns
    -------
    DataFrame
        ``df``'s columns followed by the feature columns (same index, same row order).
    """
    if formula_column not in df.columns:
        raise InputError(
            f"formula_column {formula_column!r} is not a column of the table; its columns are "
            f"{list(map(str, df.columns))}."
        )
    clash = [c for c in feature_names() if c in df.columns]
    if clash:
        raise InputError(
            f"the table already has feature columns such as {clash[0]!r}; drop them before featurising."
        )
    if errors == "coerce":
        feats, valid = featurize(df[formula_column], errors="coerce", impute_nan=impute_nan)
        out = pd.concat([df, feats], axis=1)
        out["featurized_ok"] = valid
        return out
    feats = featurize(df[formula_column], errors=errors, impute_nan=impute_nan)
    return pd.concat([df, feats], axis=1)
