"""Tests of :mod:`discovery_loop.oracles`: validation of bad lab files (each problem named),
the seeded lookup oracle, the file exchange with a simulated lab thread, and timeouts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdl.errors import InputError, OracleError
from discovery_loop.oracles import (
    CallableOracle,
    FileOracle,
    LookupOracle,
    MeasurementPending,
    MeasurementTimeout,
    Oracle,
    validate_measurements,
)

PROPOSALS = pd.DataFrame(
    {"id": ["mp-1", "mp-2", "mp-3", "mp-4"], "formula": ["Si", "GaAs", "CdTe", "ZnO"], "pred_mean": [1.1, 1.4, 1.5, 3.3]}
)


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# validate_measurements
# ------------------------------------------------------------------------------------------


def test_good_measurements_come_back_in_proposal_order() -> None:
    measured = pd.DataFrame({"id": ["mp-3", "mp-1", "mp-4", "mp-2"], "value": [1.5, 1.12, "3.4", 1.42], "note": list("abcd")})
    out = validate_measurements(PROPOSALS, measured)
    assert list(out.columns) == ["id", "value"]
    assert out["id"].tolist() == PROPOSALS["id"].tolist()
    np.testing.assert_array_equal(out["value"], [1.12, 1.42, 1.5, 3.4])
    assert out["value"].dtype == np.float64


@pytest.mark.parametrize(
    ("csv", "fragments"),
    [
        ("id,value\nmp-1,1.0\nmp-2,2.0\nmp-3,3.0\n", ["1 of 4 proposed ID(s) have no row", "'mp-4'", "add a row"]),
        ("id,value\nmp-1,1.0\nmp-2,2.0\nmp-3,3.0\nmp-5,4.0\n", ["'mp-5' were not proposed", "typos", "'mp-4'"]),
        ("id,value\nmp-1,1.0\nmp-2,\nmp-3,3.0\nmp-4,4.0\n", ["empty or NaN value at line 3 (id 'mp-2')"]),
        ("id,value\nmp-1,1.0\nmp-2,NaN\nmp-3,3.0\nmp-4,4.0\n", ["empty or NaN value at line 3 (id 'mp-2')"]),
        ("id,value\nmp-1,1.0\nmp-2,1,5\nmp-3,3.0\nmp-4,4.0\n", ["line(s) 3 have more cells", "decimal comma"]),
        ("id,value\nmp-1,1.0\nmp-2,2.0\nmp-2,2.1\nmp-3,3.0\nmp-4,4.0\n", ["'mp-2' on lines 3, 4", "exactly one row per ID"]),
        ("id,value\nmp-1,1.0\nmp-2,high\nmp-3,3.0\nmp-4,4.0\n", ["non-numeric value at line 3 (id 'mp-2'): 'high'"]),
        ("id,value\nmp-1,1.0\nmp-2,inf\nmp-3,3.0\nmp-4,4.0\n", ["infinite value at line 3"]),
        ("id,gap\nmp-1,1.0\nmp-2,2.0\nmp-3,3.0\nmp-4,4.0\n", ["has no column 'value'", "header must name"]),
        ("id,value\nmp-1,1.0\n,2.0\nmp-3,3.0\nmp-4,4.0\n", ["line(s) 3 have no id", "'mp-2'"]),
        ("", ["line 1 must be the header", "is empty"]),
        # issue 14: what a lenient reader took and a careful one does not
        ("id,value,value\nmp-1,1\nmp-2,2\nmp-3,3\nmp-4,4\n", ["names the column 'value' 2 times", "ambiguous"]),
        ("id,value,Value \nmp-1,1,1\nmp-2,2,2\nmp-3,3,3\nmp-4,4,4\n", ["names the column 'value' 2 times"]),
        ("id,ID,value\nmp-1,a,1\nmp-2,b,2\nmp-3,c,3\nmp-4,d,4\n", ["names the column 'id' 2 times"]),
        ("id,value\nmp-1,TRUE\nmp-2,FALSE\nmp-3,3\nmp-4,4\n", ["non-numeric value at line 2 (id 'mp-1'): 'TRUE'", "line 3"]),
        ("id,value\nmp-1,0x1A\nmp-2,2\nmp-3,3\nmp-4,4\n", ["non-numeric value at line 2", "'0x1A'", "hex"]),
        ("id,value\nmp-1,1_000\nmp-2,2\nmp-3,3\nmp-4,4\n", ["non-numeric value at line 2"]),
        ("id,value\nmp-1,1e308\nmp-2,2\nmp-3,3\nmp-4,4\n", ["unusable value at line 2", "float32"]),
        ("id,value\nmp-1,1e400\nmp-2,2\nmp-3,3\nmp-4,4\n", ["infinite value at line 2", "overflows"]),
        ("id,value\nmp-1,1\x00\nmp-2,2\nmp-3,3\nmp-4,4\n", ["control or invisible characters on line 2 (U+0000 (NUL))"]),
        ("id,value\nmp-1,1\u200b\nmp-2,2\nmp-3,3\nmp-4,4\n", ["control or invisible characters on line 2"]),
        ("id,value\nmp-1,1\nmp-2,\"2\nmp-3,3\nmp-4,4\n", ["unbalanced quotes", "line(s) 3"]),
        ("\nid,value\nmp-1,1\nmp-2,2\nmp-3,3\nmp-4,4\n", ["starts with an empty line"]),
        ("id,value\nmp-1,1\nmp-2\nmp-3,3\nmp-4,4\n", ["line(s) 3 lack the 'value' cell"]),
        ("id,value\n", ["header but no data rows"]),
        # every problem of a file at once, named by file line (blank line 3 skipped but counted)
        ("id,value\nmp-1,1\n\nmp-2,x\nmp-3,1,5\nmp-4,nan\n", ["line 4 (id 'mp-2')", "line(s) 5 have more", "line 6 (id 'mp-4')", "'mp-3'"]),

    ],
)
def test_a_bad_lab_file_is_rejected_with_a_message_naming_the_problem(
    tmp_path: Path, csv: str, fragments: list[str]
) -> None:
    oracle = FileOracle(tmp_path, poll_interval=0.01, settle=0.0, wait=False)
    write(tmp_path / "measured_round_0.csv", csv)
    with pytest.raises(OracleError) as info:
        oracle.measure(PROPOSALS, round_index=0)
    message = str(info.value)
    assert "measured_round_0.csv" in message
    for fragment in fragments:
        assert fragment in message


def test_utf16_and_latin1_files_are_rejected_with_the_fix(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path, settle=0.0, wait=False)
    text = "id,value\nmp-1,1\nmp-2,2\nmp-3,3\nmp-4,4\n"
    (tmp_path / "measured_round_0.csv").write_bytes(text.encode("utf-16"))
    with pytest.raises(OracleError, match="UTF-16"):
        oracle.measure(PROPOSALS, round_index=0)
    (tmp_path / "measured_round_0.csv").write_bytes(text.replace("mp-3,3", "mp-3,3\xb0").encode("latin-1"))
    with pytest.raises(OracleError, match="line 4 holds bytes that are not UTF-8"):
        oracle.measure(PROPOSALS, round_index=0)


def test_bom_crlf_quotes_spaces_and_extra_columns_are_read_as_a_person_would(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path, settle=0.0, wait=False)
    text = '\ufeffID , Value ,note\r\nmp-1, 1.5 ,ok\r\n"mp-2","2e-1","a, b"\r\n\r\n,,\r\nmp-3,-.5,\r\nmp-4,+4.,x\r\n'
    (tmp_path / "measured_round_0.csv").write_bytes(text.encode("utf-8"))
    out = oracle.measure(PROPOSALS, round_index=0)
    assert out["value"].tolist() == [1.5, 0.2, -0.5, 4.0]
    # old Mac line ends too
    (tmp_path / "measured_round_0.csv").write_bytes(text.replace("\r\n", "\r").encode("utf-8"))
    assert oracle.measure(PROPOSALS, round_index=0)["value"].tolist() == [1.5, 0.2, -0.5, 4.0]


def test_value_range_rejects_implausible_values(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path, settle=0.0, wait=False, value_range=(0.0, 10.0))
    write(tmp_path / "measured_round_0.csv", "id,value\nmp-1,1\nmp-2,-0.1\nmp-3,3\nmp-4,11\n")
    with pytest.raises(OracleError) as info:
        oracle.measure(PROPOSALS, round_index=0)
    assert "line 3 (id 'mp-2')" in str(info.value) and "line 5 (id 'mp-4')" in str(info.value)
    assert "outside the campaign's plausible range [0, 10]" in str(info.value)
    with pytest.raises(InputError, match="low < high"):
        FileOracle(tmp_path, value_range=(1.0, 1.0))


def test_booleans_from_a_function_are_not_numbers() -> None:
    with pytest.raises(OracleError, match="non-numeric"):
        validate_measurements(pd.DataFrame({"id": ["a", "b"]}), pd.DataFrame({"id": ["a", "b"], "value": [True, 1.0]}))


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    measured = pd.DataFrame({"id": ["mp-1", "mp-1", "mp-9", "mp-3"], "value": [1.0, 2.0, np.nan, "x"]})
    with pytest.raises(OracleError) as info:
        validate_measurements(PROPOSALS, measured, source="lab.csv")
    text = str(info.value)
    for fragment in ("more than once", "'mp-9' were not proposed", "'mp-2', 'mp-4'", "empty or NaN", "non-numeric", "nothing was recorded"):
        assert fragment in text


def test_integer_ids_read_back_from_csv_match(tmp_path: Path) -> None:
    proposals = pd.DataFrame({"id": np.array([10, 20, 30], dtype=np.int64)})
    write(tmp_path / "measured_round_2.csv", "id,value\n30,3.0\n10,1.0\n20.0,2.0\n")
    out = FileOracle(tmp_path, settle=0.0, wait=False).measure(proposals, round_index=2)
    assert out["id"].tolist() == [10, 20, 30] and out["id"].dtype == np.int64
    assert out["value"].tolist() == [1.0, 2.0, 3.0]


def test_malformed_proposals_are_input_errors() -> None:
    good = pd.DataFrame({"id": ["a"], "value": [1.0]})
    with pytest.raises(InputError, match="no 'id' column"):
        validate_measurements(pd.DataFrame({"name": ["a"]}), good)
    with pytest.raises(InputError, match="duplicate IDs 'a'"):
        validate_measurements(pd.DataFrame({"id": ["a", "a"]}), good)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), seed=st.integers(0, 1000))
def test_any_permutation_of_a_complete_answer_is_accepted(values: list[float], seed: int) -> None:
    ids = [f"c{i}" for i in range(len(values))]
    order = np.random.default_rng(seed).permutation(len(values))
    measured = pd.DataFrame({"id": [ids[i] for i in order], "value": [values[i] for i in order]})
    out = validate_measurements(pd.DataFrame({"id": ids}), measured)
    assert out["id"].tolist() == ids
    assert out["value"].tolist() == values


# ------------------------------------------------------------------------------------------
# LookupOracle
# ------------------------------------------------------------------------------------------

TABLE = pd.DataFrame({"material_id": [f"m{i}" for i in range(2000)], "gap": np.linspace(0.0, 4.0, 2000)})


def test_lookup_without_noise_returns_the_table_values() -> None:
    oracle = LookupOracle(TABLE, "material_id", "gap")
    out = oracle.measure(pd.DataFrame({"id": ["m10", "m0", "m1999"]}))
    np.testing.assert_array_equal(out["value"], TABLE["gap"].to_numpy()[[10, 0, 1999]])
    assert isinstance(oracle, Oracle)


def test_lookup_noise_is_seeded_per_id() -> None:
    a = LookupOracle(TABLE, "material_id", "gap", noise_std=0.1, seed=7)
    b = LookupOracle(TABLE, "material_id", "gap", noise_std=0.1, seed=7)
    first = a.measure(pd.DataFrame({"id": ["m1", "m2", "m3"]}))
    # another order, another batch, another object: the same value per ID (crash-safe)
    again = b.measure(pd.DataFrame({"id": ["m3", "m500", "m1"]})).set_index("id")["value"]
    assert again["m1"] == first["value"][0] and again["m3"] == first["value"][2]
    other = LookupOracle(TABLE, "material_id", "gap", noise_std=0.1, seed=8).measure(pd.DataFrame({"id": ["m1"]}))
    assert other["value"][0] != first["value"][0]
    # the noise has the requested spread and no bias
    everything = a.measure(pd.DataFrame({"id": TABLE["material_id"]}))
    noise = everything["value"].to_numpy() - TABLE["gap"].to_numpy()
    assert abs(noise.mean()) < 4 * 0.1 / np.sqrt(2000)
    assert np.std(noise) == pytest.approx(0.1, rel=0.08)


def test_lookup_errors() -> None:
    oracle = LookupOracle(pd.DataFrame({"k": ["a", "b"], "y": [1.0, np.nan]}), "k", "y")
    with pytest.raises(OracleError, match="'zz'"):
        oracle.measure(pd.DataFrame({"id": ["a", "zz"]}))
    with pytest.raises(OracleError, match="no 'y' value for ID.*'b'"):
        oracle.measure(pd.DataFrame({"id": ["b"]}))
    with pytest.raises(InputError, match="duplicate IDs 'a'"):
        LookupOracle(pd.DataFrame({"k": ["a", "a"], "y": [1.0, 2.0]}), "k", "y")
    with pytest.raises(InputError, match="target_column='gap'"):
        LookupOracle(pd.DataFrame({"k": ["a"], "y": [1.0]}), "k", "gap")
    with pytest.raises(InputError, match="noise_std"):
        LookupOracle(pd.DataFrame({"k": ["a"], "y": [1.0]}), "k", "y", noise_std=-1.0)


# ------------------------------------------------------------------------------------------
# FileOracle
# ------------------------------------------------------------------------------------------


def lab(directory: Path, delay: float, text: str, name: str = "measured_round_0.csv") -> threading.Thread:
    """A lab that answers after ``delay`` seconds, copying the file in two halves."""

    def run() -> None:
        time.sleep(delay)
        path = directory / name
        half = len(text) // 2
        with path.open("w", encoding="utf-8") as f:  # a slow, non-atomic copy
            f.write(text[:half])
            f.flush()
            time.sleep(0.15)
            f.write(text[half:])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_file_oracle_round_trip_with_a_lab_thread(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path / "exchange", poll_interval=0.02, settle=0.3, timeout=20.0)
    answer = "id,value,operator\nmp-4,3.31,ana\nmp-2,1.43,ana\nmp-1,1.12,bo\nmp-3,1.49,bo\n"
    thread = lab(tmp_path / "exchange", 0.2, answer)
    out = oracle.measure(PROPOSALS)
    thread.join()
    written = pd.read_csv(tmp_path / "exchange" / "proposals_round_0.csv")
    pd.testing.assert_frame_equal(written, PROPOSALS)
    assert out["id"].tolist() == PROPOSALS["id"].tolist()
    np.testing.assert_array_equal(out["value"], [1.12, 1.43, 1.49, 3.31])
    assert not list((tmp_path / "exchange").glob("*.tmp"))


def test_file_oracle_times_out_with_a_clear_message(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path, poll_interval=0.02, timeout=0.1, settle=0.0)
    t0 = time.monotonic()
    with pytest.raises(MeasurementTimeout) as info:
        oracle.measure(PROPOSALS, round_index=3)
    assert time.monotonic() - t0 < 5.0
    err = info.value
    assert err.round_index == 3 and err.measured_path == tmp_path / "measured_round_3.csv"
    assert "no measured_round_3.csv after 0.1 s" in str(err)
    assert (tmp_path / "proposals_round_3.csv").exists()


def test_non_blocking_mode_signals_pending_then_resumes(tmp_path: Path) -> None:
    oracle = FileOracle(tmp_path, settle=0.0, wait=False)
    with pytest.raises(MeasurementPending, match="run the campaign again"):
        oracle.measure(PROPOSALS)
    proposals_file = tmp_path / "proposals_round_0.csv"
    stamp = proposals_file.stat().st_mtime_ns
    # a human fills in a bad file first: rejected, left in place, nothing returned
    write(tmp_path / "measured_round_0.csv", "id,value\nmp-1,1.1\nmp-2,1.4\nmp-3,1.5\n")
    with pytest.raises(OracleError, match="'mp-4'"):
        FileOracle(tmp_path, settle=0.0, wait=False).measure(PROPOSALS)
    # then fixes it; a new oracle (a new process) finds the same round by its IDs
    write(tmp_path / "measured_round_0.csv", "id,value\nmp-1,1.1\nmp-2,1.4\nmp-3,1.5\nmp-4,3.3\n")
    out = FileOracle(tmp_path, settle=0.0, wait=False).measure(PROPOSALS)
    assert out["value"].tolist() == [1.1, 1.4, 1.5, 3.3]
    assert proposals_file.stat().st_mtime_ns == stamp  # the lab's copy was not rewritten
    # the next batch goes to the next round
    with pytest.raises(MeasurementPending) as info:
        oracle.measure(pd.DataFrame({"id": ["mp-7"]}))
    assert info.value.round_index == 1


def test_file_oracle_refuses_to_overwrite_another_rounds_proposals(tmp_path: Path) -> None:
    write(tmp_path / "proposals_round_0.csv", "id\nx\ny\n")
    with pytest.raises(OracleError, match="already exists with other IDs"):
        FileOracle(tmp_path, settle=0.0, wait=False).measure(PROPOSALS, round_index=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"poll_interval": 0}, "poll_interval"), ({"timeout": -1}, "timeout"), ({"wait": "no"}, "wait")],
)
def test_file_oracle_settings_are_checked(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        FileOracle(tmp_path, **kwargs)


# ------------------------------------------------------------------------------------------
# CallableOracle
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda p: p["pred_mean"].to_numpy() + 1.0,
        lambda p: list(p["pred_mean"] + 1.0),
        lambda p: dict(zip(p["id"], p["pred_mean"] + 1.0)),
        lambda p: pd.Series((p["pred_mean"] + 1.0).to_numpy(), index=p["id"]),
        lambda p: pd.DataFrame({"id": p["id"][::-1], "value": (p["pred_mean"] + 1.0)[::-1]}),
    ],
)
def test_callable_oracle_accepts_every_documented_answer(fn) -> None:
    out = CallableOracle(fn).measure(PROPOSALS)
    np.testing.assert_allclose(out["value"], PROPOSALS["pred_mean"] + 1.0)
    assert out["id"].tolist() == PROPOSALS["id"].tolist()


def test_callable_oracle_validates_like_a_lab_file() -> None:
    def simulator(p: pd.DataFrame) -> np.ndarray:
        return np.array([1.0, np.nan, 2.0, 3.0])

    with pytest.raises(OracleError, match=r"(?s)returned by simulator.*empty or NaN value at row 1 \(id 'mp-2'\)"):
        CallableOracle(simulator).measure(PROPOSALS)
    with pytest.raises(OracleError, match="4 proposals"):
        CallableOracle(lambda p: [1.0, 2.0]).measure(PROPOSALS)
    with pytest.raises(OracleError, match="float"):
        CallableOracle(lambda p: 1.0).measure(PROPOSALS)
    with pytest.raises(InputError, match="callable"):
        CallableOracle(3)  # type: ignore[arg-type]


def test_callable_oracle_does_not_let_fn_change_the_proposals() -> None:
    proposals = PROPOSALS.copy()

    def rude(p: pd.DataFrame) -> list[float]:
        p["id"] = "x"
        return [1.0, 2.0, 3.0, 4.0]

    out = CallableOracle(rude).measure(proposals)
    assert out["id"].tolist() == PROPOSALS["id"].tolist()
    pd.testing.assert_frame_equal(proposals, PROPOSALS)
