"""A policy package is the baseline until its first scheduled change (issue 16, item 6).

Every scenario shipped in ``scenarios/`` extends ``baseline_2025.toml`` and changes only
levers. Run with the same seed as the baseline, a package must give the baseline's
Dataset, value for value, in every month before the first month in which one of its
levers differs from the baseline's (:func:`~countysim.forecasting.compare.first_difference`,
by year through ``Scenario.in_year``; schedules are by year, so a change starts in a
January). ``countysim compare`` and the forecast rely on it: paired differences before
that month are zero by construction (common random numbers), not by chance.

A lever read when the district is built, before the first month, would break this: its
later value would shape the start. Such levers are either scheduled like the others
(``technicians``: more are placed, or some retire, in the January a new value takes
effect, from a stream of their own) or refuse a schedule (:data:`READ_AT_BUILD`), so that
a package can change them only from the start month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import BASELINE, SCENARIOS
from countysim import ScenarioError, load_scenario
from countysim.core.county import run
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import FIRST_YEAR, LAST_YEAR, STATIC_LEVERS, month_index
from countysim.forecasting.compare import first_difference

# Two seeds: the identity must hold draw for draw, not on average; a second seed guards
# against a difference that one seed's draws happen to hide.
SEEDS = (0, 1)
PACKAGES = sorted(p for p in SCENARIOS.glob("*.toml") if p.resolve() != BASELINE.resolve())

#: Levers read once, when the district is built, that cannot be scheduled, and why. A
#: package that sets one changes the district from the start month (docs/scenarios.md).
READ_AT_BUILD = {
    # The order in which villages become pilots is fixed with the district, so that a
    # growing programme adds villages and a shrinking one drops the last added; a new
    # rule in a later year would swap pilot villages rather than change their number.
    "pilot_rule": "the order in which villages join the pilot programme",
    # The evaluated pool is generated (or read from cadres.csv) as a settled stock of
    # people with qualities and years in rank; its size changes only through the pool's
    # own turnover, and a package cannot hire or dismiss part of it in a January.
    "evaluated_cadres": "the size of the evaluated cadre pool (the district's cadres)",
}


def _month_before(month: str) -> str:
    """The calendar month before ``month`` (``"2026-01"`` -> ``"2025-12"``)."""
    i = month_index(month) - 1
    return f"{2025 + i // 12}-{i % 12 + 1:02d}"


def _without_run_attrs(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset without its global attributes, which name the scenario and its digest."""
    out = ds.copy()
    out.attrs = {}
    return out


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(BASELINE)


@pytest.fixture(scope="module")
def baseline_runs() -> dict[tuple[int, str], xr.Dataset]:
    """The baseline's runs by (seed, last month), computed once for all packages."""
    return {}


def _baseline_run(cache: dict, seed: int, until: str) -> xr.Dataset:
    if (seed, until) not in cache:
        cache[(seed, until)] = run(BASELINE, seed=seed, until=until)
    return cache[(seed, until)]


@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_a_package_of_the_baseline(path: Path, baseline):
    """A package changes levers only: the same district, behaviour, months and data."""
    package = load_scenario(path)
    assert (package.start, package.district_data) == (baseline.start, baseline.district_data)
    not_levers = [n for n, p in PARAMETERS.items()
                  if p.section != "levers" and package.values[n] != baseline.values[n]]
    assert not not_levers, (f"{path.name} is not a policy package: it changes "
                            f"{not_levers}, which are not levers")


@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: p.stem)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_package_is_the_baseline_before_its_first_change(path: Path, seed: int, baseline,
                                                           baseline_runs):
    package = load_scenario(path)
    first = first_difference(baseline, package)
    if first is None:
        pytest.skip(f"{path.stem} has the baseline's levers in every year")
    if first == package.start:
        # Trivially true: no month before the change (a 2025 counterfactual, or a change
        # in the spin-up years, which shapes the start).
        pytest.skip(f"{path.stem} changes from the start month {first}")
    until = _month_before(first)
    expected = _baseline_run(baseline_runs, seed, until)
    got = run(package, seed=seed, until=until)
    assert got.sizes["time"] == expected.sizes["time"] == month_index(first) - month_index(
        package.start)
    # NaN-aware and exact: identical values, dtypes, coordinates and variable attributes.
    xr.testing.assert_identical(_without_run_attrs(got), _without_run_attrs(expected))


def test_the_comparison_sees_a_package_that_differs():
    """A control: a package changed from the start differs in its first month, so the
    identity above is not an artefact of comparing the baseline with itself."""
    expected = run(BASELINE, seed=SEEDS[0], until="2025-01")
    got = run(SCENARIOS / "mentoring_frontline_doubled.toml", seed=SEEDS[0], until="2025-01")
    differ = [n for n in expected.data_vars
              if not np.array_equal(got[n].values, expected[n].values, equal_nan=True)]
    assert differ


def test_the_forecast_packages_change_from_2026(baseline):
    """The forecast's packages keep 2025 as the article reports it (docs/forecast.md):
    each one's first change is January 2026, none is trivially skipped above."""
    names = ("programme_expanded", "programme_withdrawn", "mentoring_frontline_doubled_2026",
             "jobs_and_returnees_2026")
    for name in names:
        package = load_scenario(SCENARIOS / f"{name}.toml")
        assert first_difference(baseline, package) == "2026-01", name


def test_levers_read_at_build_are_documented_and_refuse_schedules(baseline):
    assert set(READ_AT_BUILD) == STATIC_LEVERS
    for lever in READ_AT_BUILD:
        assert PARAMETERS[lever].section == "levers"
        value = baseline.values[lever]
        with pytest.raises(ScenarioError, match="cannot change by year"):
            baseline.replace(**{lever: {2025: value, 2026: value}})
    docs = (SCENARIOS.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert all(f"`{lever}`" in docs for lever in READ_AT_BUILD)


def test_every_other_lever_can_be_scheduled(baseline):
    """The rest are read in force each January (``technicians`` among them)."""
    for lever in (n for n, p in PARAMETERS.items() if p.section == "levers"):
        if lever in READ_AT_BUILD:
            continue
        value = baseline.values[lever]
        s = baseline.replace(**{lever: {FIRST_YEAR: value, LAST_YEAR: value}})
        assert s.value_in(lever, 2026) == value
