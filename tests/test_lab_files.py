"""Property-based tests of strict lab files (issue 14).

A measured file with arbitrary bytes, encodings, headers and values is either accepted with
exactly the values an independent reference reader takes, or rejected whole: every table of
the ledger stays byte-identical, except one ``events`` row saying what was rejected.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import sqlite3
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bdl.errors import OracleError
from discovery_loop.campaign import Campaign, CampaignConfig, Goal, pool_from_source
from discovery_loop.ledger import Ledger
from discovery_loop.oracles import MAX_ABS_VALUE, FileOracle, MeasurementPending

from campaign_helpers import TINY, TINY_MDN, pool_csv, source

VALUE_RANGE = (-100.0, 100.0)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BAD = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def reference_reader(data: bytes, proposed: list[str]) -> dict[str, float] | None:
    """What a careful person takes from a lab file, written down independently: None = reject."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) in _BAD and c not in "\t\r\n" for c in text):
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if any(line.count('"') % 2 for line in lines):
        return None
    try:
        rows = [next(csv.reader([line], strict=True), []) for line in lines]
    except csv.Error:
        return None
    header = [h.strip(" \t").lower() for h in rows[0]]
    if header.count("id") != 1 or header.count("value") != 1:
        return None
    i, j = header.index("id"), header.index("value")
    out: dict[str, float] = {}
    for row in rows[1:]:
        if all(not c.strip(" \t") for c in row):
            continue
        if len(row) > len(header) or len(row) <= max(i, j):
            return None
        key, text_value = row[i].strip(), row[j].strip(" \t")
        if not key or key in out or key not in proposed or not _NUMBER.fullmatch(text_value):
            return None
        value = float(text_value)
        if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE or not VALUE_RANGE[0] <= value <= VALUE_RANGE[1]:
            return None
        out[key] = value
    return out if set(out) == set(proposed) else None


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, exactly (bytes of blobs included); sqlite_sequence is SQLite's own."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: conn.execute(f"SELECT * FROM {n}").fetchall() for n in names if n != "sqlite_sequence"}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def pending_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, list[str]]:
    """A lab campaign whose round 0 is proposed and waits for the lab's file."""
    tmp = tmp_path_factory.mktemp("lab")
    src = dict(source(pool_csv(tmp, n=30)), oracle="file", lab_dir=str(tmp / "lab"))
    cfg = CampaignConfig(target="y", goal=Goal("maximize"), budget=8, batch_size=4, seed=1, model="mc_dropout", model_params=TINY,
                         mdn_params=TINY_MDN, value_range=VALUE_RANGE)
    pool, _ = pool_from_source(src)
    ledger = Ledger(tmp / "ledger.sqlite", create=True)
    campaign = Campaign(pool, FileOracle(tmp / "lab", settle=0.0, wait=False, value_range=VALUE_RANGE), ledger, cfg,
                        source=src)
    with pytest.raises(MeasurementPending):
        next(campaign.rounds())
    proposed = ledger.pending()["id"].tolist()
    ledger.close()
    return tmp / "ledger.sqlite", tmp / "lab", src, proposed


def _value_text() -> st.SearchStrategy[str]:
    good = st.floats(-100, 100, allow_nan=False).map(repr)
    tricky = st.sampled_from([
        "TRUE", "FALSE", "1,5", "0x1A", "1e308", "1e400", "-1e400", "nan", "NaN", "", "-", "inf", "1_000", "\u0661",
        "1\x00", " 2.5 ", "-0", "+.5", "1e-3", "5.", ".", "1e", "\u00a01", "1\u200b", '"3"', "1.5e+1", "101", "-100",
        "\t7\t", "\ufeff1", "2\u2028",
    ])
    return st.one_of(good, good, tricky, st.text(max_size=6))


@st.composite
def lab_files(draw: st.DrawFn, proposed: list[str]) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))  # anything at all
    clean = draw(st.integers(0, 2)) == 0  # a file a careful lab writes, in any of its forms
    good_headers = [["id", "value"], ["ID ", " Value"], ["value", "id"], ["id", "value", "note"]]
    header = draw(st.sampled_from(good_headers)) if clean else draw(st.sampled_from([
        ["id", "value"], ["ID ", " Value"], ["value", "id"], ["id", "value", "note"], ["id", "value", "value"],
        ["id", "gap"], ["id;value"], ["Id", "VALUE", "id"], ["", "id", "value"],
    ]))
    ids = list(proposed)
    draw(st.randoms(use_true_random=False)).shuffle(ids)
    edit = 0 if clean else draw(st.integers(0, 6))
    if edit == 1:
        ids = ids[1:]
    elif edit == 2:
        ids = ids + ids[:1]
    elif edit == 3:
        ids[0] = draw(st.text(max_size=5))
    elif edit == 4:
        ids[0] = " " + ids[0] + "  "
    rows = []
    for key in ids:
        cells = {h.strip().lower(): "x" for h in header}
        cells["id"] = key
        plain = clean or draw(st.booleans())
        cells["value"] = draw(_value_text()) if not plain else draw(st.sampled_from(["{!r}", "{:.3f}", " {:g} ", "{:e}"])).format(
            draw(st.floats(-100, 100)))
        row = [cells.get(h.strip().lower(), "n") for h in header]
        if not clean and draw(st.integers(0, 15)) == 0:
            row = row + ["extra"]
        rows.append(row)
    if draw(st.integers(0, 5)) == 0:
        rows.insert(draw(st.integers(0, len(rows))), [""] * len(header))  # a blank line
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    text = buf.getvalue()
    if draw(st.booleans()):
        text = text.replace('"', "")  # hand-written files rarely quote
    text = text.replace("\n", draw(st.sampled_from(["\n", "\r\n", "\r"])))
    if draw(st.booleans()):
        text = "\ufeff" + text
    encoding = "utf-8" if clean else draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_lab_file_is_taken_as_the_reference_reader_takes_it_or_rejected_leaving_the_ledger(
    pending_ledger: tuple[Path, Path, dict, list[str]], data: st.DataObject
) -> None:
    template, lab_template, src, proposed = pending_ledger
    content = data.draw(lab_files(proposed))
    expected = reference_reader(content, proposed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        shutil.copy(template, path)
        lab = Path(tmp) / "lab"
        shutil.copytree(lab_template, lab)
        (lab / "measured_round_0.csv").write_bytes(content)
        before = dump(path)
        pool, _ = pool_from_source(src)
        ledger = Ledger(path)
        try:
            campaign = Campaign(pool, FileOracle(lab, settle=0.0, wait=False, value_range=VALUE_RANGE), ledger,
                                source=src)
            try:
                record = next(campaign.rounds())
            except OracleError as exc:
                accepted, message = False, str(exc)
            else:
                accepted, message = True, ""
        finally:
            ledger.close()
        after = dump(path)
    event("accepted" if accepted else "rejected")
    if not accepted:
        assert expected is None, f"rejected a file the reference reader takes: {content!r}\n{message}"
        assert message.count("\n") >= 2 and "nothing was recorded" in message
        new_events = after.pop("events")[len(before["events"]):]
        before.pop("events")
        assert after == before  # every other table byte-identical
        assert len(new_events) == 1 and new_events[0][3] == "rejected"
        return
    assert expected is not None, f"accepted a file the reference reader rejects: {content!r}"
    got = {r[1]: r[2] for r in after["measurements"]}
    assert got == expected
    assert record.round == 0 and len(record.measured) == len(proposed)
