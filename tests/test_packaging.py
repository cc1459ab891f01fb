"""pyproject.toml builds without setuptools' warnings (issue 17, item 10): the license is
an SPDX string, not the deprecated table, and every importable folder is listed."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_an_spdx_string() -> None:
    assert isinstance(PYPROJECT["project"]["license"], str)
    # SPDX license strings need setuptools >= 77 to build.
    requires = PYPROJECT["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=") and
               tuple(int(x) for x in r.split(">=")[1].split(".")) >= (77,) for r in requires)


def test_every_folder_of_the_package_is_listed() -> None:
    """setuptools warns about a folder Python can import that ``packages`` omits."""
    root = REPO / "model"
    folders = {"countysim." + ".".join(p.relative_to(root).parts) if p != root else "countysim"
               for p in [root, *root.rglob("*")] if p.is_dir() and p.name != "__pycache__"
               and any(f.is_file() for f in p.iterdir())}  # data/ holds only folders
    assert folders == set(PYPROJECT["tool"]["setuptools"]["packages"])
