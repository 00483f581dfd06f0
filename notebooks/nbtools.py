"""Build, check and execute the notebooks.

The notebooks are written as plain Python files in the "percent" format (``src/NAME.py``:
``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines start with ``#``),
which diff and review like code; ``NAME.ipynb`` next to this file is generated from them,
without outputs. Commands (run from the repository root)::

    python notebooks/nbtools.py build            # src/*.py -> *.ipynb (stripped)
    python notebooks/nbtools.py check            # fail if an .ipynb has outputs or differs from its source
    python notebooks/nbtools.py pull NAME        # an .ipynb edited in Jupyter -> src/NAME.py
    python notebooks/nbtools.py run [--size small|full] [--out runs/notebooks] [NAME ...]

``run`` executes copies of the notebooks (never the committed files) with
``BDL_NOTEBOOK_SIZE`` set, in a kernel started with this Python interpreter, and writes the
executed notebooks, whatever they save (``BDL_NOTEBOOK_OUTPUT``) and ``timings.json`` to the
output folder. The test suite (``tests/test_notebooks.py``) uses the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
SIZES = ("small", "full")
_MARKDOWN = "# %% [markdown]"
_CODE = "# %%"


def names() -> list[str]:
    """Notebook names (``01_quickstart``, ...), from the sources, in order."""
    return sorted(p.stem for p in SRC.glob("[0-9][0-9]_*.py"))


# ------------------------------------------------------------------------------ percent format
def parse_percent(text: str) -> list[tuple[str, str]]:
    """Cells ``(kind, source)`` of a percent-format file; kind is ``"code"`` or ``"markdown"``."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped == _MARKDOWN:
            cells.append(("markdown", []))
        elif stripped == _CODE:
            cells.append(("code", []))
        elif not cells:
            if stripped:
                raise ValueError(f"text before the first cell marker: {line!r}; start the file with '# %%'.")
        else:
            kind, lines = cells[-1]
            if kind == "markdown":
                if stripped and not stripped.startswith("#"):
                    raise ValueError(f"markdown line without '#': {line!r}")
                line = stripped[2:] if stripped.startswith("# ") else stripped[1:]
            lines.append(line)
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        out.append((kind, "\n".join(lines)))
    return out


def to_percent(nb: Any) -> str:
    """The percent-format text of a notebook (outputs dropped)."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            body = "\n".join(("# " + ln) if ln else "#" for ln in cell.source.splitlines())
            parts.append(f"{_MARKDOWN}\n{body}\n")
        elif cell.cell_type == "code":
            parts.append(f"{_CODE}\n{cell.source}\n")
    return "\n".join(parts)


def build_notebook(name: str) -> Any:
    """The stripped notebook generated from ``src/NAME.py``."""
    import nbformat
    from nbformat import v4

    cells = []
    for i, (kind, source) in enumerate(parse_percent((SRC / f"{name}.py").read_text(encoding="utf-8"))):
        cell = v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source)
        cell["id"] = f"{name[:2]}-{i:03d}"  # stable ids, so a rebuild changes nothing
        cells.append(cell)
    nb = v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def notebook_text(nb: Any) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def build(which: list[str] | None = None) -> list[Path]:
    """Write ``NAME.ipynb`` from ``src/NAME.py``; returns the files written."""
    written = []
    for name in which or names():
        path = HERE / f"{name}.ipynb"
        path.write_text(notebook_text(build_notebook(name)), encoding="utf-8")
        written.append(path)
    return written


def _cells(nb: Any) -> list[tuple[str, str]]:
    """What a notebook says, cell by cell (compared, rather than the JSON text, so that another
    nbformat version writing the same cells differently is not a difference)."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def problems() -> list[str]:
    """What is wrong with the committed notebooks: outputs, execution counts, out of date, missing."""
    import nbformat

    found = []
    expected = set(names())
    for path in sorted(HERE.glob("*.ipynb")):
        if path.stem not in expected:
            found.append(f"{path.name} has no source src/{path.stem}.py")
            continue
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                found.append(f"{path.name} cell {i} has outputs or an execution count (the policy is: stripped)")
        if _cells(nb) != _cells(build_notebook(path.stem)):
            found.append(f"{path.name} differs from src/{path.stem}.py; run: python notebooks/nbtools.py build")
    for name in expected:
        if not (HERE / f"{name}.ipynb").exists():
            found.append(f"{name}.ipynb is missing; run: python notebooks/nbtools.py build")
    return found


def pull(name: str) -> Path:
    """Write ``src/NAME.py`` from ``NAME.ipynb`` (after editing it in Jupyter)."""
    import nbformat

    nb = nbformat.read(HERE / f"{name}.ipynb", as_version=4)
    path = SRC / f"{name}.py"
    path.write_text(to_percent(nb), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ execution
def _kernel_manager(spec_dir: Path) -> Any:
    """A kernel manager whose kernel is ``sys.executable -m ipykernel_launcher``.

    The kernel spec is written to ``spec_dir``, so whichever ``python3`` kernels a machine has
    registered elsewhere, the notebooks run in the interpreter that runs this (the project's
    virtual environment).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kdir = spec_dir / "kernels" / "bdl-notebooks"
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bdl notebooks", "language": "python",
    }))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_spec_manager=ksm, kernel_name="bdl-notebooks")


def execute(name: str, out_dir: str | Path, size: str = "small", timeout: int = 1800) -> float:
    """Execute notebook ``name`` (the generated one, from its source) and save it executed.

    Parameters
    ----------
    name : str
        e.g. ``"01_quickstart"``.
    out_dir : path
        The executed notebook goes to ``out_dir/NAME.ipynb``; the kernel runs in
        ``out_dir/NAME/`` with ``BDL_NOTEBOOK_OUTPUT`` pointing there (reports, ledgers).
    size : {"small", "full"}
        ``BDL_NOTEBOOK_SIZE`` for the kernel.
    timeout : int
        Seconds one cell may take.

    Returns
    -------
    float
        Wall-clock seconds, kernel start-up included.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell fails; the executed notebook is saved all the same.
    """
    import nbformat
    from nbclient import NotebookClient

    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    out = Path(out_dir)
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    nb = build_notebook(name)
    env = {**os.environ, "BDL_NOTEBOOK_SIZE": size, "BDL_NOTEBOOK_OUTPUT": str(work.resolve()),
           "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bdl-kernel-") as spec_dir:
        km = _kernel_manager(Path(spec_dir))
        client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(work)}})
        try:
            client.execute(env=env)
        finally:
            nbformat.write(nb, out / f"{name}.ipynb")
            if km.has_kernel:  # a client given a kernel manager leaves the kernel running
                km.shutdown_kernel(now=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="generate NAME.ipynb from src/NAME.py")
    sub.add_parser("check", help="fail if a committed notebook has outputs or is out of date")
    p_pull = sub.add_parser("pull", help="write src/NAME.py from an edited NAME.ipynb")
    p_pull.add_argument("name")
    p_run = sub.add_parser("run", help="execute notebooks into an output folder")
    p_run.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    p_run.add_argument("--size", choices=SIZES, default="full")
    p_run.add_argument("--out", default="runs/notebooks")
    p_run.add_argument("--timeout", type=int, default=3600, help="seconds one cell may take")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        for path in build():
            print(f"wrote {path.relative_to(HERE.parent)}")
        return 0
    if args.cmd == "check":
        found = problems()
        print("\n".join(found) if found else "notebooks: stripped and up to date")
        return 1 if found else 0
    if args.cmd == "pull":
        print(f"wrote {pull(args.name).relative_to(HERE.parent)}")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    failed = []
    for name in args.names or names():
        try:
            timings[name] = execute(name, out, args.size, args.timeout)
            print(f"{name}: {timings[name]:.1f} s ({args.size})", flush=True)
        except Exception as exc:  # keep going; report at the end
            failed.append(name)
            print(f"{name}: FAILED ({type(exc).__name__}); see {out / (name + '.ipynb')}", flush=True)
            print(str(exc)[-3000:], file=sys.stderr)
    (out / "timings.json").write_text(json.dumps({"size": args.size, "seconds": timings, "failed": failed}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
