"""Real data sets shipped with :mod:`bdl`, loaded on request.

Nothing is read at import time; every loader reads its file when called and returns a new
object. The files live in ``bdl/data/files`` (see ``DATA_LICENSES.md`` there for the origin,
citation and licence of each).

Materials data (pandas DataFrames)
----------------------------------
========================  ==============================  =========================================
name in :data:`DATASETS`  loader                          what it is
========================  ==============================  =========================================
``matbench_expt_gap``     :func:`load_matbench_expt_gap`  4604 experimental band gaps (Matbench)
``matbench_mp_gap``       :func:`load_matbench_mp_gap`    106113 PBE band gaps (Materials Project)
``strehlow_cook``         :func:`load_strehlow_cook`      1459 band gaps with conditions (1973)
``rohr2020``              :func:`load_rohr2020`           8481 OER catalysts on 4 plates
``liang2021``             :func:`load_liang2021`          139 perovskite instability values
========================  ==============================  =========================================

Text columns have the pandas ``string`` dtype (missing values are ``pd.NA``); the strings
are read exactly as written (``"NA"`` or ``"None"`` stay text, only empty cells are missing).

Formula checks
--------------
Loaders whose frames carry formulas check them with
:func:`bdl.features.find_formula_problems` (``check_formulas=True``, the default). Every row
is kept; the problems are stored in ``df.attrs["formula_problems"]`` (a
:class:`FormulaProblems` frame with columns ``row, text, reason``; empty when all parse,
``None`` when the check was switched off) and a :class:`FormulaWarning` names the first few.

UCI regression benchmarks
-------------------------
:func:`load_uci` reads a shipped set (:func:`list_uci`) or any folder in the layout of
Hernández-Lobato & Adams (2015) into a :class:`UCIDataset` with its fixed train/test splits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bdl.data._paths import files_dir, shipped_file
from bdl.data._uci import UCIDataset, list_uci, load_uci
from bdl.errors import DataFileError, InputError

__all__ = [
    "DATASETS",
    "ROHR_ELEMENTS",
    "ROHR_PLATES",
    "FormulaProblems",
    "FormulaWarning",
    "UCIDataset",
    "files_dir",
    "list_datasets",
    "list_uci",
    "load_dataset",
    "load_liang2021",
    "load_matbench_expt_gap",
    "load_matbench_mp_gap",
    "load_rohr2020",
    "load_strehlow_cook",
    "load_uci",
]

#: The four Rohr et al. (2020) plates (chemical spaces) in ``rohr2020_oer_plates.csv``.
ROHR_PLATES: tuple[int, ...] = (3496, 3851, 3860, 4098)
#: The metals whose fractions are columns of :func:`load_rohr2020`, in column order.
ROHR_ELEMENTS: tuple[str, ...] = ("Ca", "Ce", "Co", "Cu", "Fe", "La", "Mn", "Ni", "Sb", "Sn", "Ta")

#: How many problems a FormulaWarning names before it gives only the count.
_MAX_SHOWN = 5
#: Texts that are missing values written out, not formulas ("NaN" would parse as Na1N1).
_MISSING_MARKERS = frozenset({"nan", "na", "n/a", "none", "null", "-", "?"})


class FormulaWarning(UserWarning):
    """Some formulas of a loaded data set could not be parsed; the rows were kept.

    The full list is in ``df.attrs["formula_problems"]``; pass ``check_formulas=False`` to
    the loader to skip the check.
    """


class FormulaProblems(pd.DataFrame):
    """The formula problems of a loaded frame: columns ``row``, ``text``, ``reason``.

    ``row`` (int64) is the 0-based position of the row in the frame as the loader returned
    it (whose index is ``0 .. n-1``, so after filtering select the rows with
    ``df.index.isin(problems["row"])``), ``text`` (string) the formula as written (empty for
    an empty cell), ``reason`` (string) why it failed. Besides what the featuriser rejects,
    texts such as ``NaN`` or ``None`` are reported as missing-value markers (``NaN`` would
    otherwise parse as sodium nitride).

    Notes
    -----
    A plain DataFrame subclass with one difference: ``a == b`` between two
    ``FormulaProblems`` frames returns a single bool (``a.equals(b)``) instead of an
    element-wise frame. pandas compares ``attrs`` with ``==`` when it concatenates or merges
    frames, and a plain DataFrame there raises "The truth value of a DataFrame is
    ambiguous" (pandas-dev/pandas#60455); with this class ``pd.concat`` of pieces of a
    loaded frame works and keeps the problems.
    """

    @property
    def _constructor(self) -> Callable[..., FormulaProblems]:
        return FormulaProblems

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        if isinstance(other, FormulaProblems):
            return bool(self.equals(other))
        return super().__eq__(other)

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        if isinstance(other, FormulaProblems):
            return not self.equals(other)
        return super().__ne__(other)

    __hash__ = None  # type: ignore[assignment]


def _empty_problems() -> FormulaProblems:
    return FormulaProblems(
        {
            "row": pd.Series([], dtype="int64"),
            "text": pd.Series([], dtype="string"),
            "reason": pd.Series([], dtype="string"),
        }
    )


def _formula_checker() -> Callable[[Sequence[Any]], list[tuple[int, str, str]]]:
    """Import :func:`bdl.features.find_formula_problems` on first use."""
    try:
        from bdl.features import find_formula_problems
    except ImportError as exc:
        raise ImportError(
            "Checking formulas needs bdl.features.find_formula_problems, which could not be "
            f"imported ({exc}); pass check_formulas=False to load without the check."
        ) from exc
    return find_formula_problems


def _attach_formula_problems(frame: pd.DataFrame, column: str, dataset: str, check: bool) -> None:
    """Check ``frame[column]``, store the problems in ``frame.attrs`` and warn about them.

    Missing cells are reported here (reason "missing formula"); the other texts are checked
    once per distinct value and every row with a bad text is reported.
    """
    if not check:
        frame.attrs["formula_problems"] = None
        return
    checker = _formula_checker()
    values = frame[column]
    missing = values.isna().to_numpy()
    texts = values.to_numpy(dtype=object)
    distinct = list(pd.unique(texts[~missing]))
    reasons: dict[str, str] = {}
    for position, _, reason in checker(distinct):
        reasons[distinct[int(position)]] = str(reason)
    for text in distinct:
        if str(text).strip().lower() in _MISSING_MARKERS:
            reasons[text] = "a missing value written out as text, not a formula"
    is_bad = missing.copy()
    if reasons:
        is_bad[~missing] = np.isin(texts[~missing], list(reasons))
    bad_rows = np.flatnonzero(is_bad)
    problems = _empty_problems()
    if bad_rows.size:
        problems = FormulaProblems(
            {
                "row": pd.Series(bad_rows, dtype="int64"),
                "text": pd.Series(["" if missing[r] else texts[r] for r in bad_rows], dtype="string"),
                "reason": pd.Series(
                    [
                        "missing formula (empty cell in the file)" if missing[r] else reasons[texts[r]]
                        for r in bad_rows
                    ],
                    dtype="string",
                ),
            }
        )
    frame.attrs["formula_problems"] = problems
    if len(problems):
        shown = "; ".join(
            f"row {row}: {text!r} ({reason})"
            for row, text, reason in problems.head(_MAX_SHOWN).itertuples(index=False)
        )
        more = f"; and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
        warnings.warn(
            FormulaWarning(
                f"{dataset}: {len(problems)} of {len(frame)} entries in column {column!r} are not "
                f"usable formulas (the rows are kept): {shown}{more}. "
                f"See df.attrs['formula_problems'] for all of them, or pass check_formulas=False to skip the check."
            ),
            stacklevel=3,
        )


def _read_csv(file_name: str, dtypes: dict[str, str], encoding: str = "utf-8") -> pd.DataFrame:
    """Read a shipped CSV, check its header and give each column its dtype."""
    path = shipped_file(file_name)
    where = f"bdl/data/files/{file_name}"
    try:
        frame = pd.read_csv(path, encoding=encoding, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise DataFileError(
            f"The shipped data file {where} could not be parsed as CSV ({exc}); reinstall bdl-discovery."
        ) from None
    if list(frame.columns) != list(dtypes):
        raise DataFileError(
            f"The shipped data file {where} has the columns {list(frame.columns)} but "
            f"{list(dtypes)} were expected; reinstall bdl-discovery or restore the original file."
        )
    try:
        return frame.astype(dtypes)
    except (ValueError, TypeError) as exc:
        raise DataFileError(
            f"The shipped data file {where} has a value of the wrong type ({exc}); "
            "reinstall bdl-discovery or restore the original file."
        ) from None


# ----------------------------------------------------------------------------------------
# materials loaders
# ----------------------------------------------------------------------------------------


def load_matbench_expt_gap(*, check_formulas: bool = True) -> pd.DataFrame:
    """Experimental band gaps by composition (Matbench ``matbench_expt_gap``).

    Parameters
    ----------
    check_formulas : bool, default True
        Check every composition with :func:`bdl.features.find_formula_problems`; problems
        go to ``df.attrs["formula_problems"]`` and a :class:`FormulaWarning`.

    Returns
    -------
    pandas.DataFrame
        4604 rows, columns:

        ``mbid`` : string
            Matbench identifier, ``mb-expt-gap-0001`` ... ``mb-expt-gap-4604``.
        ``composition`` : string
            Chemical formula (e.g. ``Ag(AuS)2``); no structure is given.
        ``gap_expt_eV`` : float64
            Measured band gap in eV; exactly 0 for metals (53 % of rows), so the target is
            zero-inflated.

    References
    ----------
    Zhuo, Y., Mansouri Tehrani, A. & Brgoch, J. Predicting the band gaps of inorganic solids
    by machine learning. J. Phys. Chem. Lett. 9, 1668 (2018). Dunn, A. et al. Benchmarking
    materials property prediction methods: the Matbench test set. npj Comput. Mater. 6, 138
    (2020).
    """
    frame = _read_csv(
        "matbench_expt_gap.csv", {"mbid": "string", "composition": "string", "gap expt": "float64"}
    ).rename(columns={"gap expt": "gap_expt_eV"})
    _attach_formula_problems(frame, "composition", "matbench_expt_gap", check_formulas)
    return frame


def load_matbench_mp_gap(*, check_formulas: bool = True) -> pd.DataFrame:
    """DFT (PBE) band gaps of Materials Project structures (Matbench ``matbench_mp_gap``).

    Parameters
    ----------
    check_formulas : bool, default True
        Check every composition with :func:`bdl.features.find_formula_problems`; problems
        go to ``df.attrs["formula_problems"]`` and a :class:`FormulaWarning`.

    Returns
    -------
    pandas.DataFrame
        106113 rows, columns:

        ``mbid`` : string
            Matbench identifier, ``mb-mp-gap-000001`` ...
        ``composition`` : string
            Unit-cell formula of the structure (e.g. ``K4Mn4O8``, not reduced).
        ``spg_num`` : int64
            International space-group number, 1 to 230.
        ``crys_sys`` : string
            Crystal system (``cubic``, ``hexagonal``, ``monoclinic``, ``orthorhombic``,
            ``tetragonal``, ``triclinic``, ``trigonal``).
        ``gap_pbe_eV`` : float64
            PBE band gap in eV (0 for metals).

    Notes
    -----
    11788 reduced compositions occur more than once (polymorphs) and 455 of them span more
    than 1.5 eV: a composition-only target that is genuinely multimodal.

    References
    ----------
    Jain, A. et al. The Materials Project. APL Mater. 1, 011002 (2013). Dunn, A. et al.
    npj Comput. Mater. 6, 138 (2020).
    """
    frame = _read_csv(
        "matbench_mp_gap_spacegroup.csv.gz",
        {
            "mbid": "string",
            "composition": "string",
            "spg_num": "int64",
            "crys_sys": "string",
            "gap_pbe_eV": "float64",
        },
    )
    _attach_formula_problems(frame, "composition", "matbench_mp_gap", check_formulas)
    return frame


def load_strehlow_cook(*, check_formulas: bool = True) -> pd.DataFrame:
    """Experimental band gaps with their measurement conditions (Strehlow & Cook, 1973).

    Parameters
    ----------
    check_formulas : bool, default True
        Check every formula with :func:`bdl.features.find_formula_problems`; problems (the
        oddly written ``In1p1`` and the ``NaN`` of entry 62) go to
        ``df.attrs["formula_problems"]`` and a :class:`FormulaWarning`.

    Returns
    -------
    pandas.DataFrame
        1459 rows, columns (text columns are ``string``, missing = ``pd.NA``):

        ``entry`` : int64
            Row number of the compilation (0-based).
        ``formula`` : string
            Formula as written in the source, e.g. ``Li1F1``. Entry 62 holds the text
            ``NaN`` and no other value (a missing value written out); it is reported in
            ``formula_problems`` together with the five ``In1p1`` rows.
        ``band_gap_eV`` : float64
            Band gap in eV (NaN where not given).
        ``temperature_K`` : float64
            Measurement temperature in K (NaN where not given).
        ``transition`` : string
            ``Direct``, ``Indirect``, ``Excitonic``, ...
        ``polarization`` : string
            Light polarisation relative to the crystal axes, e.g. ``Parallel to C axis``.
        ``method`` : string
            Measurement method: ``Absorption``, ``Thermal activation``, ``Reflection``, ...
        ``crystallinity`` : string
            ``Single crystalline``, ``Polycrystalline`` or ``Amorphous``.
        ``phase`` : string
            Polymorph label where given (``Hexagonal``, ``Cubic``, ...).
        ``morphology`` : string
            ``Thin film`` where given.
        ``doi`` : string
            DOI of the compilation (``10.1063/1.3253115``).

    References
    ----------
    Strehlow, W. H. & Cook, E. L. Compilation of energy band gaps in elemental and binary
    compound semiconductors and insulators. J. Phys. Chem. Ref. Data 2, 163 (1973).
    """
    text = "string"
    frame = _read_csv(
        "strehlow_cook_1973_band_gaps.csv",
        {
            "entry": "int64",
            "formula": text,
            "band_gap_eV": "float64",
            "temperature_K": "float64",
            "transition": text,
            "polarization": text,
            "method": text,
            "crystallinity": text,
            "phase": text,
            "morphology": text,
            "doi": text,
        },
    )
    _attach_formula_problems(frame, "formula", "strehlow_cook", check_formulas)
    return frame


def _normalise_plates(plate: int | Iterable[int] | None) -> list[int] | None:
    """Turn the ``plate`` argument into a list of valid plate ids (None = all)."""
    if plate is None:
        return None
    valid = ", ".join(str(p) for p in ROHR_PLATES)
    if isinstance(plate, (str, bytes)) or not isinstance(plate, (int, np.integer, Iterable)):
        raise InputError(
            f"plate must be one of the plates {valid}, a list of them, or None for all; got {plate!r}."
        )
    items = [plate] if isinstance(plate, (int, np.integer)) else list(plate)
    if not items:
        raise InputError(f"plate is an empty list; name at least one of the plates {valid}, or pass None for all.")
    plates: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)) or int(item) not in ROHR_PLATES:
            raise InputError(
                f"plate {item!r} is not one of the Rohr et al. (2020) plates; valid plates are {valid} "
                "(or a list of them, or None for all)."
            )
        plates.append(int(item))
    return plates


def load_rohr2020(plate: int | Iterable[int] | None = None, *, check_formulas: bool = True) -> pd.DataFrame:
    """High-throughput metal-oxide OER catalysts on four plates (Rohr et al., 2020).

    Parameters
    ----------
    plate : int or iterable of int or None, default None
        Keep only these plates (see :data:`ROHR_PLATES`: 3496, 3851, 3860, 4098); None keeps
        all four. Rows keep the file's order; the index is reset to 0..n-1.
    check_formulas : bool, default True
        Check ``composition_metal_fraction`` with :func:`bdl.features.find_formula_problems`;
        problems go to ``df.attrs["formula_problems"]`` (row positions in the returned
        frame) and a :class:`FormulaWarning`.

    Returns
    -------
    pandas.DataFrame
        8481 rows for all plates (2119 to 2121 per plate), columns:

        ``plate_id`` : int64
            The plate (one chemical space of 6 metals) the sample was printed on.
        ``element_system`` : string
            The plate's metals joined by ``-``, e.g. ``Ni-Fe-Co-Mn-Ce-La``.
        ``composition_metal_fraction`` : string
            Formula of the metal fractions, e.g. ``Ni0.1Fe0.2Co0.6Mn0.1`` (oxygen not written).
        ``Ca``, ``Ce``, ``Co``, ``Cu``, ``Fe``, ``La``, ``Mn``, ``Ni``, ``Sb``, ``Sn``, ``Ta`` : float64
            Metal fraction of each element (0 to 1; the fractions of a row sum to 1).
            See :data:`ROHR_ELEMENTS`.
        ``overpotential_V`` : float64
            OER overpotential in V; lower is better.

    Raises
    ------
    InputError
        If ``plate`` names anything but the four plates.

    References
    ----------
    Rohr, B. et al. Benchmarking the acceleration of materials discovery by sequential
    learning. Chem. Sci. 11, 2696 (2020).
    """
    plates = _normalise_plates(plate)
    dtypes = {"plate_id": "int64", "element_system": "string", "composition_metal_fraction": "string"}
    dtypes.update({element: "float64" for element in ROHR_ELEMENTS})
    dtypes["overpotential_V"] = "float64"
    frame = _read_csv("rohr2020_oer_plates.csv", dtypes)
    if plates is not None:
        frame = frame.loc[frame["plate_id"].isin(plates)].reset_index(drop=True)
    _attach_formula_problems(frame, "composition_metal_fraction", "rohr2020", check_formulas)
    return frame


def load_liang2021(*, check_formulas: bool = True) -> pd.DataFrame:
    """Instability of mixed-cation lead-iodide perovskite films (Liang et al., 2021).

    Parameters
    ----------
    check_formulas : bool, default True
        Accepted so every loader takes the same keyword; this data set has no formula column
        and nothing is checked (``df.attrs`` holds no ``formula_problems``).

    Returns
    -------
    pandas.DataFrame
        139 rows, columns:

        ``CsPbI``, ``FAPbI``, ``MAPbI`` : float64
            Fractions (0 to 1) of CsPbI3, FAPbI3 and MAPbI3 in the film.
        ``instability_index`` : int64
            Degradation measure of the film under ageing as reported in the source
            (``Instability index``; arbitrary units); lower is more stable.

    Notes
    -----
    The file starts with a UTF-8 byte-order mark; it is read with ``utf-8-sig``.

    References
    ----------
    Liang, Q. et al. Benchmarking the performance of Bayesian optimization across multiple
    experimental materials science domains. npj Comput. Mater. 7, 188 (2021).
    """
    del check_formulas  # no formulas in this data set
    return _read_csv(
        "liang2021_perovskite_instability.csv",
        {"CsPbI": "float64", "FAPbI": "float64", "MAPbI": "float64", "Instability index": "int64"},
        encoding="utf-8-sig",
    ).rename(columns={"Instability index": "instability_index"})


# ----------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------

#: Name -> loader of every materials data set.
DATASETS: dict[str, Callable[..., pd.DataFrame]] = {
    "matbench_expt_gap": load_matbench_expt_gap,
    "matbench_mp_gap": load_matbench_mp_gap,
    "strehlow_cook": load_strehlow_cook,
    "rohr2020": load_rohr2020,
    "liang2021": load_liang2021,
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`.

    Returns
    -------
    list of str
        The keys of :data:`DATASETS`.
    """
    return list(DATASETS)


def load_dataset(name: str, **kwargs: Any) -> pd.DataFrame:
    """Load a materials data set by name.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (``matbench_expt_gap``, ``matbench_mp_gap``,
        ``strehlow_cook``, ``rohr2020``, ``liang2021``).
    **kwargs
        Passed to the loader (e.g. ``check_formulas=False``, ``plate=3496``).

    Returns
    -------
    pandas.DataFrame
        What the loader returns; see its docstring for the columns.

    Raises
    ------
    InputError
        If ``name`` is not a known data set.
    """
    loader = DATASETS.get(name) if isinstance(name, str) else None
    if loader is None:
        raise InputError(f"Unknown data set {name!r}; valid names are {', '.join(DATASETS)}.")
    return loader(**kwargs)
