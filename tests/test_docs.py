"""The documentation agrees with the code: the README's command list, the home page's
links, the API reference's modules and the notebooks README's claims (issue 17, item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from countysim.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return list(action.choices)


def test_readme_command_list_names_every_subcommand() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("## Command line"):]
    block = block[:block.index("```", block.index("```") + 3)]
    listed = set(re.findall(r"^countysim (\w+)", block, flags=re.MULTILINE))
    assert set(_subcommands()) - listed == set()


def _nav_pages() -> list[str]:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    return [next(iter(entry.values())) for entry in config["nav"]]


def test_home_page_links_every_page_of_the_site() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#]+)", index))
    missing = [p for p in _nav_pages() if p != "index.md" and p not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_api_reference_covers_the_public_modules() -> None:
    import countysim

    api = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: ([\w.]+)", api, flags=re.MULTILINE))
    public = {f"countysim.{m}" for m in countysim._LAZY_MODULES}
    public |= {f"countysim.forecasting.{p.stem}"
               for p in (REPO / "model" / "forecasting").glob("*.py")
               if p.stem not in ("__init__", "synthetic")}  # synthetic: test data only
    assert public - documented == set()


def test_notebooks_readme_names_only_what_the_notebooks_have() -> None:
    """A helper the README describes (e.g. a workaround) must exist in a notebook."""
    readme = (DOCS / "notebooks" / "README.md").read_text(encoding="utf-8")
    sources = "\n".join(p.read_text(encoding="utf-8")
                        for p in (DOCS / "notebooks").glob("*.py"))
    names = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", readme))
    stems = {p.stem for p in (DOCS / "notebooks").glob("*.py")}
    assert {n for n in names - stems if n not in sources} == set()


def test_documented_ema_run_used_the_packaged_ensemble() -> None:
    """docs/forecasting_statistics.md shows the EMA script's output: with the packaged
    ensemble installed, that output must come from its members, not the priors."""
    import countysim

    countysim.load_ensemble("litong_2025")  # installed: the script's default uses it
    text = (DOCS / "forecasting_statistics.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("Target: every village's 2027"))
    assert "uncertainty: ensemble litong_2025 members" in line
    assert "no ensemble was installed" not in text
