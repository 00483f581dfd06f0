"""The notebooks: committed without outputs, in step with their sources, and executed top to bottom.

Each notebook runs in a fresh kernel started with this interpreter (``notebooks/nbtools.py``
writes a temporary kernel spec, so whatever ``python3`` kernels the machine has registered do
not matter) with ``BDL_NOTEBOOK_SIZE=small``; a failing cell fails the test with the cell's
traceback. Full size: ``make notebooks``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def _nbtools():
    spec = importlib.util.spec_from_file_location("bdl_nbtools", NOTEBOOKS / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bdl_nbtools", module)
    spec.loader.exec_module(module)
    return module


nbtools = _nbtools()
NAMES = nbtools.names()


def test_there_are_five_notebooks():
    assert NAMES == [
        "01_quickstart",
        "02_bimodality",
        "03_campaign",
        "04_calibration",
        "05_variational_inference",
    ]


def test_committed_notebooks_are_stripped_and_up_to_date():
    problems = nbtools.problems()
    assert not problems, "\n".join(problems)


def test_stripping_check_catches_outputs(tmp_path, monkeypatch):
    """The check itself works: outputs and an edit made only in the .ipynb are both reported."""
    import nbformat

    nb = nbtools.build_notebook(NAMES[0])
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    nb.cells[0].source += "\nedited in Jupyter, not in the source"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{NAMES[0]}.py").write_text((nbtools.SRC / f"{NAMES[0]}.py").read_text())
    (tmp_path / f"{NAMES[0]}.ipynb").write_text(nbformat.writes(nb))
    monkeypatch.setattr(nbtools, "HERE", tmp_path)
    monkeypatch.setattr(nbtools, "SRC", tmp_path / "src")
    found = nbtools.problems()
    assert any("outputs or an execution count" in p for p in found)
    assert any("differs from src" in p for p in found)


def test_percent_format_round_trip():
    for name in NAMES:
        text = (nbtools.SRC / f"{name}.py").read_text(encoding="utf-8")
        nb = nbtools.build_notebook(name)
        assert nbtools.parse_percent(nbtools.to_percent(nb)) == nbtools.parse_percent(text)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_the_size_switch_first(name):
    # machine paths in the notebook sources are checked with the package code (test_data.py)
    text = (nbtools.SRC / f"{name}.py").read_text(encoding="utf-8")
    first_code = next(src for kind, src in nbtools.parse_percent(text) if kind == "code")
    assert 'os.environ.get("BDL_NOTEBOOK_SIZE", "full")' in first_code
    assert "BDL_NOTEBOOK_OUTPUT" in first_code


@pytest.mark.parametrize("name", NAMES)
def test_readmes_link_every_notebook(name):
    assert f"{name}.ipynb" in (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert f"notebooks/{name}.ipynb" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path):
    seconds = nbtools.execute(name, tmp_path, size="small", timeout=900)
    executed = tmp_path / f"{name}.ipynb"
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    codes = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in codes), "every code cell ran"
    errors = [o for c in codes for o in c.outputs if o.output_type == "error"]
    assert not errors
    first = "".join(o.get("text", "") for o in codes[0].outputs)
    assert "size: small" in first
    print(f"{name}: {seconds:.1f} s")
