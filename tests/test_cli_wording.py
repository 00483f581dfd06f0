"""Advice in the interface's words: flags on the command line, arguments in Python (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bdl.errors import FormulaError, cli_text, csv_record_lines
from bdl.features import featurize

BAD = "formula,y\nFe2O3,1\nNaCl,2\n\nFe1e400O,3\nGaAs,4\nXy2,5\n"  # a blank line 4: bad rows on lines 5 and 7


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300)


def test_python_message_names_the_argument_and_positions() -> None:
    with pytest.raises(FormulaError) as info:
        featurize(["Fe2O3", "NaCl", "Fe1e400O", "GaAs", "Xy2"])
    msg = str(info.value)
    assert "errors='coerce'" in msg and "row 2: 'Fe1e400O'" in msg and "row 4: 'Xy2'" in msg
    assert "--errors" not in msg and cli_text(info.value) == msg  # no command-line form until a command sets one


def test_bdl_featurize_names_the_flag_and_file_lines(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(BAD)
    res = _cli("bdl.cli", "featurize", str(data), "--formula-column", "formula", "-o", str(tmp_path / "out.csv"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "line 5: 'Fe1e400O'" in res.stderr and "line 7: 'Xy2'" in res.stderr
    assert "--errors coerce" in res.stderr and "errors='coerce'" not in res.stderr and "row " not in res.stderr
    assert not (tmp_path / "out.csv").exists()
    # the advice works as written
    ok = _cli("bdl.cli", "featurize", str(data), "--formula-column", "formula", "-o", str(tmp_path / "out.csv"), "--errors", "coerce")
    assert ok.returncode == 0, ok.stderr


def test_discovery_loop_run_says_what_to_do_without_an_errors_option(tmp_path: Path) -> None:
    data = tmp_path / "pool.csv"
    data.write_text(BAD)
    res = _cli("discovery_loop.cli", "run", "--data", str(data), "--target", "y", "--formula-column", "formula", "--maximize",
               "--budget", "4", "--batch-size", "2", "--seed", "0", "--ledger", str(tmp_path / "l.sqlite"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "line 5: 'Fe1e400O'" in res.stderr and "line 7: 'Xy2'" in res.stderr
    assert "errors='coerce'" not in res.stderr and "has no option to skip bad formulas" in res.stderr
    assert "bdl featurize" in res.stderr and "--errors coerce" in res.stderr
    assert not (tmp_path / "l.sqlite").exists()


def test_file_lines_follow_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('f,y\r\nFe2O3,1\r\n\r\n"Na\r\nCl",2\r\nGaAs,3\r\n')
    assert csv_record_lines(path) == [2, 4, 6]
    assert csv_record_lines(tmp_path / "missing.csv") is None
    err = FormulaError([(1, "Na\nCl", "bad")]).for_command_line("Fix it.", csv_record_lines(path))
    assert "line 4" in err.cli_message and "row 1" in str(err)
