"""docs/odd.md must be true to the code: its generated tables match the registry."""

from __future__ import annotations

from countysim import odd
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import load_scenario


def test_odd_tables_are_up_to_date():
    text = odd.ODD.read_text(encoding="utf-8")
    expected = odd.render(text, load_scenario(odd.BASELINE))
    assert text == expected, "docs/odd.md is out of date: run `make docs`"


def test_odd_lists_every_parameter():
    text = odd.ODD.read_text(encoding="utf-8")
    missing = [name for name in PARAMETERS if f"| `{name}` |" not in text]
    assert not missing, f"parameters missing from docs/odd.md: {missing}"
