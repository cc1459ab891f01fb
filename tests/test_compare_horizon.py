"""``countysim compare`` on scenario files: the horizon is the longer of the two, the
output says when the horizons differ, and years before the first scheduled change read
"identical before ..." instead of a table of zeros (issue 17, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from countysim.cli import main
from countysim.core.scenario import load_scenario
from countysim.forecasting.compare import first_difference, horizon
from countysim.testing import small_scenario


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small base (until 2025-12) and packages changing pilots from 2026 or 2027."""
    path = tmp_path_factory.mktemp("horizon")
    scenario = small_scenario(until="2025-12")
    pilots = scenario.values["pilot_villages"]
    (path / "base.toml").write_text(scenario.to_toml().replace(
        'name = "defaults"', 'name = "base"'), encoding="utf-8")
    for year, until in ((2026, "2026-12"), (2027, None)):
        horizon_line = f'until = "{until}"\n' if until else ""
        (path / f"from_{year}.toml").write_text(
            f'extends = "base.toml"\nname = "from_{year}"\n{horizon_line}[levers]\n'
            f'pilot_villages = {{ value = {{ 2025 = {pilots}, {year} = 0 }}, '
            'source = "test" }\n', encoding="utf-8")
    return path


def test_first_difference_is_the_first_scheduled_change(folder: Path) -> None:
    base = load_scenario(folder / "base.toml")
    assert first_difference(base, load_scenario(folder / "from_2027.toml")) == "2027-01"
    assert first_difference(base, load_scenario(folder / "from_2026.toml")) == "2026-01"
    assert first_difference(base, base) is None
    other_start = base.replace(pilot_villages=0)
    assert first_difference(base, other_start) == base.start


def test_horizon_is_the_longer_and_says_so(folder: Path) -> None:
    until, notes = horizon(folder / "base.toml", folder / "from_2026.toml")
    assert until == "2026-12"
    assert any("horizons differ" in n and "base until 2025-12" in n for n in notes)
    until, notes = horizon(folder / "from_2026.toml", folder / "base.toml", "2027-06")
    assert until == "2027-06" and not any("horizons differ" in n for n in notes)


def test_compare_defaults_to_the_longer_horizon(folder: Path, capsys) -> None:
    status = main(["compare", str(folder / "base.toml"), str(folder / "from_2026.toml"),
                   "--ensemble", "none", "--seeds", "2", "--workers", "1", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "NOTE: the scenarios' horizons differ" in out
    assert "paired differences from_2026 - base in 2026" in out
    assert "identical before 2026-01" in out  # a note above the 2026 table
    status = main(["compare", str(folder / "base.toml"), str(folder / "from_2026.toml"),
                   "--ensemble", "none", "--seeds", "2", "--workers", "1", "--quiet",
                   "--year", "2025"])
    out = capsys.readouterr().out
    assert status == 0 and "paired differences" not in out
    assert "identical before 2026-01" in out and "in 2025 is zero" in out


def test_compare_before_the_first_change_prints_no_table_of_zeros(folder: Path,
                                                                  capsys) -> None:
    status = main(["compare", str(folder / "base.toml"), str(folder / "from_2027.toml"),
                   "--ensemble", "none", "--seeds", "2", "--workers", "1", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "paired differences" not in out
    assert "from_2027 and base are identical before 2027-01" in out
    assert "--year 2027" in out and "nothing was run" in out


def test_compare_python_api_table_says_identical(folder: Path) -> None:
    import countysim
    from countysim.forecasting.compare import comparison_table

    ds = countysim.compare(folder / "base.toml", folder / "from_2026.toml", replicates=2,
                           workers=1, progress=False)
    assert ds.attrs["until"] == "2026-12" and ds.attrs["first_difference"] == "2026-01"
    assert "identical before 2026-01" in comparison_table(ds, year=2025)
    assert "paired differences from_2026 - base in 2026" in comparison_table(ds)


def test_compare_year_alone_runs_far_enough(folder: Path, capsys) -> None:
    status = main(["compare", str(folder / "base.toml"), str(folder / "from_2027.toml"),
                   "--ensemble", "none", "--seeds", "2", "--workers", "1", "--quiet",
                   "--year", "2027"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "NOTE: --year 2027: comparing to 2027-12" in out
    assert "paired differences from_2027 - base in 2027" in out
    assert main(["compare", str(folder / "base.toml"), str(folder / "from_2027.toml"),
                 "--year", "2031"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
