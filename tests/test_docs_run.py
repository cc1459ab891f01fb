"""The documentation's Python examples run (issue 17, "docs that run").

Every fenced ``python`` block of ``README.md`` and ``docs/*.md`` is executed, page by page
in one namespace (as a reader pastes them in order into one session), in a fresh working
folder holding links to the repository's ``scenarios``, ``experiments``, ``tests`` and
``docs`` and an empty ``runs``. A block written as a session (``>>>`` prompts) runs as a
doctest: its shown output must match what it prints (``...`` matches anything, spaces
are normalised). Other blocks run as scripts. The namespace starts with ``countysim``
imported, the package every page is about; anything else a block uses it must import or
an earlier block must have made.

An HTML comment on the line before a block changes what is done with it:

* ``<!-- skip-run: REASON -->``: not run; the reason (required) says why, e.g. a sweep of
  a hundred Litong runs. Later blocks that need its results are skipped the same way.
* ``<!-- run-first: COMMAND -->``: the ``countysim`` command is run first (in-process),
  e.g. to write the run file the block opens.
* ``<!-- run-file: NAME -->``: the block (TOML, say) is written to ``NAME`` in the working
  folder, for a later block to read.

The doctests in the package's own docstrings (``>>>`` examples) run here too, from the
same kind of working folder. The whole module takes about a minute on 2 cores.
"""

from __future__ import annotations

import doctest
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINKED = ("scenarios", "experiments", "tests", "docs")

_FENCE = re.compile(r"^(?P<fence>```+)(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.S | re.M)
_MARK = re.compile(r"<!--\s*(?P<kind>skip-run|run-first|run-file)\s*:\s*(?P<arg>.*?)\s*-->"
                   r"\s*\Z", re.S)
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    """A fenced block of a page and the marker before it, if any."""

    page: Path
    line: int
    lang: str
    body: str
    mark: str | None = None
    arg: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def is_session(self) -> bool:
        return self.body.lstrip().startswith(">>>")


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks, each with the marker on the line before it."""
    text = page.read_text(encoding="utf-8")
    out, end = [], 0
    for m in _FENCE.finditer(text):
        before = text[end:m.start()]
        mark = _MARK.search(before)
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(page, line, m.group("lang"), m.group("body"),
                         mark.group("kind") if mark else None,
                         mark.group("arg") if mark else ""))
        end = m.end()
    return out


def workdir(tmp_path: Path) -> Path:
    """A working folder like the repository's root, with an empty ``runs``."""
    for name in LINKED:
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    # Scenarios a page writes (run-file) go beside the shipped ones, not into the repo.
    (tmp_path / "scenarios").unlink()
    (tmp_path / "scenarios").mkdir()
    for entry in (REPO / "scenarios").iterdir():
        (tmp_path / "scenarios" / entry.name).symlink_to(entry)
    (tmp_path / "runs").mkdir()
    return tmp_path


def run_block(block: Block, namespace: dict) -> str | None:
    """Run one block; return a failure report, or ``None``."""
    if block.is_session:
        test = doctest.DocTestParser().get_doctest(block.body, namespace, block.where,
                                                   str(block.page), block.line)
        report = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=_FLAGS)
        result = runner.run(test, out=report.write, clear_globs=False)
        namespace.update(test.globs)  # a DocTest runs on a copy: keep what it defined
        return report.getvalue() if result.failed else None
    try:
        exec(compile(block.body, block.where, "exec"), namespace)
    except Exception as exc:  # the report names the block and the error
        return f"{block.where}: {type(exc).__name__}: {exc}"
    return None


def run_page(page: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run a page's Python blocks in ``folder``; return the failures."""
    import countysim
    import matplotlib
    from countysim.cli import main

    matplotlib.use("Agg")
    monkeypatch.chdir(folder)
    namespace: dict = {"countysim": countysim, "__name__": "__docs__"}
    failures = []
    for block in blocks(page):
        if block.mark == "skip-run":
            assert block.arg, f"{block.where}: skip-run needs a reason"
            continue
        if block.mark == "run-file":
            (folder / block.arg).write_text(block.body, encoding="utf-8")
            continue
        if block.mark == "run-first":
            command = shlex.split(block.arg)
            assert command[0] == "countysim", f"{block.where}: run-first runs countysim"
            assert main(command[1:]) == 0, f"{block.where}: {block.arg} failed"
        if block.lang != "python":
            continue
        failure = run_block(block, namespace)
        if failure:
            failures.append(failure)
    return failures


def _has_python(page: Path) -> bool:
    return any(b.lang == "python" for b in blocks(page))


@pytest.mark.parametrize("page", [p for p in PAGES if _has_python(p)],
                         ids=lambda p: p.name)
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    failures = run_page(page, workdir(tmp_path), monkeypatch)
    capsys.readouterr()  # the blocks' own printing is not the test's output
    assert not failures, "\n".join(failures)


def test_markers_are_understood() -> None:
    """A misspelt marker would silently run (or skip) a block: refuse unknown ones."""
    known = re.compile(r"<!--\s*(skip-run|run-first|run-file)\s*:")
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"<!--\s*(skip|run)[\w-]*", text):
            assert known.match(text, m.start()), (
                f"{page.name}: {text[m.start():m.start() + 40]!r} is not a marker this "
                "test knows (skip-run:, run-first:, run-file:)")


def _docstring_tests() -> list[doctest.DocTest]:
    import importlib
    import pkgutil

    import countysim

    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for info in pkgutil.walk_packages(countysim.__path__, "countysim."):
        if info.name in ("countysim.explorer",):  # a Solara page: imports the viz extra
            continue
        module = importlib.import_module(info.name)
        tests += [t for t in finder.find(module) if t.examples]
    return tests


def test_docstring_doctests_run(tmp_path: Path, monkeypatch) -> None:
    folder = workdir(tmp_path)
    monkeypatch.chdir(folder)
    tests = _docstring_tests()
    assert tests, "no doctest found: the collection is broken"
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
