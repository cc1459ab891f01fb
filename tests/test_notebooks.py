"""The notebooks of docs/notebooks run from top to bottom on a real Jupyter kernel.

The ``.py`` files (jupytext percent format) are the notebooks' source: each is converted
with jupytext and executed by nbclient on the ``python3`` kernel of this interpreter's
environment (ipykernel installed by the dev extras), with the notebook's folder as the
working directory, as JupyterLab would. A cell that raises fails the test with the cell's
traceback. The kernel's own backend (matplotlib-inline) draws the figures, so the
package's plots are exercised as a notebook user sees them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="needs the dev extras (make venv)")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))
# Each notebook must show at least this many figures (inline PNGs).
MIN_FIGURES = {"researcher_walkthrough": 4, "compare_two_scenarios": 2, "analyst_packages": 2}


def execute(path: Path) -> nbformat.NotebookNode:
    """Convert ``path`` with jupytext and run it on the venv's kernel; return it run."""
    nb = jupytext.read(path)
    # Last cell: report the kernel's interpreter, to check it is this environment's.
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def test_there_are_notebooks_and_each_is_paired():
    assert {p.stem for p in SOURCES} == set(MIN_FIGURES)
    for path in SOURCES:
        nb = jupytext.read(path)
        assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent", path.name
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs_on_the_venv_kernel(path: Path, monkeypatch, tmp_path):
    # The kernel inherits the environment: a MPLBACKEND set for scripts (e.g. Agg) would
    # replace the kernel's inline backend and hide the figures.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # Notebooks that forecast to 2030 run on the small district in CI (their switch).
    monkeypatch.setenv("COUNTYSIM_NOTEBOOK_SMALL", "1")
    # The kernel's temporary folders go here (tempfile reads TMPDIR): a notebook must
    # leave none behind (docs/notebooks/README.md says so).
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    nb = execute(path)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    prefix = nb.cells[-1].outputs[0]["text"].strip()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the notebook ran on {prefix}, not on this environment {sys.prefix}")
    figures = sum("image/png" in out.get("data", {}) for out in outputs)
    assert figures >= MIN_FIGURES[path.stem], f"{path.name} showed {figures} figures"
    left = sorted(p.name for p in scratch.iterdir() if p.name.startswith("countysim"))
    assert not left, f"{path.name} left {left} in the temporary folder"
