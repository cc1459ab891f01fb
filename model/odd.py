"""Keep ``docs/odd.md`` and ``docs/guide.md`` true to the code: their parameter (and
table) sections are generated.

``python -m countysim.odd`` (or ``make docs``) rewrites the parts of those pages between
``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers; a test fails when a page is
out of date. ``docs/odd.md`` has every block; ``docs/guide.md`` has the parameter tables.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .core import tables as T
from .core.parameters import PARAMETERS, SECTIONS
from .core.programmes import programme_table
from .core.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "odd.md"
GUIDE = ROOT / "docs" / "guide.md"
BASELINE = ROOT / "scenarios" / "baseline_2025.toml"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f") if abs(value) >= 10_000 else str(value)
    return f"`{value}`"


def parameter_table(scenario: Scenario, section: str) -> str:
    """Markdown table of one section: unit, baseline value, default, bounds, source.

    The levers' table also has the value in force before the scenario's start (the
    registry's ``before``, the 2024 regime the spin-up runs under); "=" where it is the
    lever's value.
    """
    levers = section == "levers"
    lines = ["| parameter | unit | baseline | " + ("2024 | " if levers else "")
             + "default | allowed | source | meaning |",
             "|---" * (8 if levers else 7) + "|"]
    for p in (p for p in PARAMETERS.values() if p.section == section):
        if p.kind is bool:
            allowed = "true, false"
        elif p.choices:
            allowed = ", ".join(f"`{c}`" for c in p.choices)
        else:
            allowed = f"[{_fmt(p.bounds[0])}, {_fmt(p.bounds[1])}]"
        source = scenario.sources[p.name].replace("|", "/")
        before = ("=" if p.before is None else _fmt(p.before)) + " | " if levers else ""
        lines.append(f"| `{p.name}` | {p.unit} | {_fmt(scenario[p.name])} | {before}"
                     f"{_fmt(p.default)} | {allowed} | {source} | {p.doc} |")
    return "\n".join(lines)


def tables_section() -> str:
    """Markdown of the fixed tables in :mod:`countysim.core.tables`."""
    lines = ["| product line | share of villages | farm income multiplier | source |",
             "|---|---|---|---|"]
    for name, row in T.PRODUCT_LINES.items():
        lines.append(f"| `{name}` | {row['share']} | {row['income_multiplier']} | "
                     f"{row['source']} |")
    lines += ["", "| firm sector | share of firms | source |", "|---|---|---|"]
    for name, row in T.FIRM_SECTORS.items():
        lines.append(f"| `{name}` | {row['share']} | {row['source']} |")
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    lines += ["", "| month | " + " | ".join(months) + " |", "|---" * 13 + "|",
              "| farm season (B10) | " + " | ".join(str(x) for x in T.FARM_SEASON) + " |"]
    return "\n".join(lines)


def programmes_section() -> str:
    """Markdown table of the programmes (:mod:`countysim.core.programmes`), in hook order."""
    lines = ["| programme | what | figures | levers | links (strength parameters) |",
             "|---|---|---|---|---|"]
    for name, title, figures, levers, links in programme_table():
        levers = ", ".join(f"`{x}`" for x in levers.split(", ")) if levers else "-"
        lines.append(f"| `{name}` | {title} | {figures} | {levers} | {links} |")
    return "\n".join(lines)


def sections(scenario: Scenario) -> dict[str, str]:
    """Generated blocks keyed by marker name."""
    blocks = {f"parameters-{s}": parameter_table(scenario, s) for s in SECTIONS}
    blocks["tables"] = tables_section()
    blocks["programmes"] = programmes_section()
    return blocks


def render(text: str, scenario: Scenario, blocks: tuple[str, ...] | None = None,
           page: str = "docs/odd.md") -> str:
    """Replace the marked blocks of ``text`` with their generated content.

    Args:
        text: The page's Markdown.
        scenario: The scenario whose values and sources the tables show.
        blocks: Names of the blocks the page must have (default: every block).
        page: The page's name, for the error message.
    """
    for name, body in sections(scenario).items():
        if blocks is not None and name not in blocks:
            continue
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{page} lacks the markers for block {name!r}")
        text = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), text)
    return text


GUIDE_BLOCKS = tuple(f"parameters-{s}" for s in SECTIONS)


def render_guide(text: str, scenario: Scenario) -> str:
    """``docs/guide.md`` with its parameter tables (one per section) regenerated."""
    return render(text, scenario, GUIDE_BLOCKS, "docs/guide.md")


def main() -> int:
    """Rewrite docs/odd.md and docs/guide.md in place from the registry and the baseline."""
    scenario = load_scenario(BASELINE)
    for path, fill in ((ODD, render), (GUIDE, render_guide)):
        text = path.read_text(encoding="utf-8")
        new = fill(text, scenario)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
