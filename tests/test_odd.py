"""docs/odd.md must be true to the code: its generated tables match the registry."""

from __future__ import annotations

import re

from countysim import odd
from countysim.core import tables as T
from countysim.core.parameters import PARAMETERS, by_section
from countysim.core.scenario import load_scenario

# Parameters and tables the issue-7 redesign removed (see git history of parameters.py).
REMOVED = ("rural_share_farming", "rural_share_local_wage", "rural_share_urban_job",
           "rural_share_migrant", "cooperative_support", "closed_loop_boost", "promotion_rate",
           "vacancy_rate", "subsidy_vacancy_effect", "technician_effect",
           "collective_trend_growth", "VACANCY_SEASON", "CADRE_TENURE_MAX_YEARS")


def test_odd_tables_are_up_to_date():
    text = odd.ODD.read_text(encoding="utf-8")
    expected = odd.render(text, load_scenario(odd.BASELINE))
    assert text == expected, "docs/odd.md is out of date: run `make docs`"


def test_guide_tables_are_up_to_date():
    text = odd.GUIDE.read_text(encoding="utf-8")
    expected = odd.render_guide(text, load_scenario(odd.BASELINE))
    assert text == expected, "docs/guide.md is out of date: run `make docs`"
    missing = [name for name in PARAMETERS if f"| `{name}` |" not in text]
    assert not missing, f"parameters missing from docs/guide.md: {missing}"


def test_odd_lists_every_parameter():
    text = odd.ODD.read_text(encoding="utf-8")
    missing = [name for name in PARAMETERS if f"| `{name}` |" not in text]
    assert not missing, f"parameters missing from docs/odd.md: {missing}"


def test_levers_table_gives_the_2024_regime():
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ")
            for line in odd.parameter_table(load_scenario(odd.BASELINE), "levers").splitlines()[2:]}
    assert set(rows) == {p.name for p in by_section("levers")}
    for p in by_section("levers"):
        # Columns: parameter, unit, baseline, 2024, default, ...
        assert rows[p.name][3] == ("=" if p.before is None else odd._fmt(p.before)), p.name
    assert rows["pilot_villages"][2:4] == ["50", "0"]  # 50 pilots in 2025, none in 2024


def test_every_month_table_is_rendered():
    """Each 12-month tuple of tables.py has its row, and no other row is rendered."""
    seasons = [name for name, value in vars(T).items() if name.isupper()
               and isinstance(value, tuple) and len(value) == 12
               and all(isinstance(x, int | float) for x in value)]
    assert seasons == ["FARM_SEASON"]
    block = odd.tables_section()
    month_rows = [line for line in block.splitlines()
                  if line.count(" | ") == 12 and not line.startswith("| month ")]
    assert len(month_rows) == len(seasons)
    for name in seasons:
        assert " | ".join(str(x) for x in getattr(T, name)) in block, name


def test_odd_prose_names_no_removed_parameter_or_table():
    text = odd.ODD.read_text(encoding="utf-8")
    stale = sorted({n for n in REMOVED if re.search(rf"`{n}`", text)})
    assert not stale, f"docs/odd.md still names removed {stale}"
