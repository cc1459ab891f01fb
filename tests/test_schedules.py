"""Levers scheduled by year: loading, ``value_in``, ``in_year``, extends, replace, TOML."""

from __future__ import annotations

import dataclasses
import pickle
import re

import pytest
from conftest import BASELINE
from countysim import ScenarioError, load_scenario
from countysim.cli import main
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import Scenario, default_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

DEFAULT_PILOTS = PARAMETERS["pilot_villages"].default
# The registry's 2024 regime (`before`), in force in the spin-up years before the start.
BEFORE_PILOTS = PARAMETERS["pilot_villages"].before
SPIN_UP_YEARS = 5  # 2020..2024 before a 2025 start


def test_the_registry_sets_a_2024_regime_for_pilot_villages():
    # The tests below rely on it: no pilot villages before the programme (A13).
    assert BEFORE_PILOTS == 0 != DEFAULT_PILOTS
    assert PARAMETERS["technicians"].before is None  # a lever without a 2024 value


def pilots_over_years(s: Scenario) -> list[int]:
    return [s.value_in("pilot_villages", y) for y in range(2020, 2031)]


# ----------------------------------------------------------------------------- loading


def test_both_table_forms_load(scenario_file):
    # Years out of order in the file: the schedule comes back sorted.
    s = load_scenario(scenario_file(
        'until = "2028-12"\n[levers]\npilot_villages = { 2027 = 90, 2025 = 40 }\n'
        'subsidy_per_visit = { value = { 2026 = 90000 }, source = "plan" }\n'))
    assert s.schedules == {"pilot_villages": {2025: 40, 2027: 90},
                           "subsidy_per_visit": {2025: 60_000.0, 2026: 90_000.0}}
    assert list(s.schedules["pilot_villages"]) == [2025, 2027]
    assert s.pilot_villages == s.values["pilot_villages"] == 40  # in force at the start
    assert s.sources["pilot_villages"] == "s.toml"
    assert s.sources["subsidy_per_visit"] == "plan"
    # An int for a float lever becomes a float in every year, as for a plain value.
    assert all(isinstance(v, float) for v in s.schedules["subsidy_per_visit"].values())


def test_unscheduled_levers_and_plain_scenarios_have_no_schedules():
    assert default_scenario().schedules == {}
    assert load_scenario(BASELINE).schedules == {}


def test_schedules_are_read_only():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90})
    with pytest.raises(TypeError):
        s.schedules["pilot_villages"] = {2025: 1}
    with pytest.raises(TypeError):
        s.schedules["pilot_villages"][2029] = 100


# ----------------------------------------------------------------------------- value_in


def test_value_in_is_the_latest_scheduled_year_at_or_before():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90, 2029: 120},
                                   until="2030-12")
    # The spin-up years before the first scheduled year take the 2024 value.
    assert pilots_over_years(s) == [BEFORE_PILOTS] * SPIN_UP_YEARS + [50] * 2 + [90, 90, 120, 120]
    assert s.value_in("alliances", 2028) is s.alliances  # unscheduled: the value
    assert s.value_in("alliances", 2024) is PARAMETERS["alliances"].before is False


def test_first_year_after_start_keeps_the_inherited_value_until_then():
    s = default_scenario().replace(pilot_villages={2027: 90}, until="2030-12")
    assert s.pilot_villages == DEFAULT_PILOTS
    assert pilots_over_years(s) == ([BEFORE_PILOTS] * SPIN_UP_YEARS + [DEFAULT_PILOTS] * 2
                                    + [90] * 4)
    # The resolved schedule states the inherited value at the start year.
    assert s.schedules["pilot_villages"] == {2025: DEFAULT_PILOTS, 2027: 90}


def test_start_after_first_scheduled_year():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, start="2028-01",
                                   until="2030-12")
    assert s.pilot_villages == 90


def test_spin_up_years_use_the_schedule_then_before_then_the_value(monkeypatch):
    s = default_scenario().replace(pilot_villages={2023: 10, 2026: 70}, until="2030-12")
    assert s.pilot_villages == 10
    # Before the first scheduled year: the registry's `before`; from 2023 the schedule.
    assert pilots_over_years(s) == [BEFORE_PILOTS] * 3 + [10, 10, 10, 70, 70, 70, 70, 70]
    # Unscheduled: `before` in the spin-up, the value from the start year on...
    assert PARAMETERS["returnees"].before == 0
    assert [s.value_in("returnees", y) for y in (2023, 2024, 2025, 2030)] == [0, 0, 77, 77]
    # ...and the value in every year for a lever without `before`.
    assert {s.value_in("technicians", y) for y in range(2020, 2031)} == {s.technicians}
    # A scheduled lever without `before`: years before the schedule take the value in
    # force at the start.
    monkeypatch.setitem(PARAMETERS, "pilot_villages",
                        dataclasses.replace(PARAMETERS["pilot_villages"], before=None))
    assert pilots_over_years(s) == [10, 10, 10, 10, 10, 10, 70, 70, 70, 70, 70]


def test_value_in_unknown_parameter():
    with pytest.raises(KeyError):
        default_scenario().value_in("no_such_lever", 2025)


# ----------------------------------------------------------------------------- in_year


def test_in_year_values_are_value_in_of_every_parameter():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90},
                                   subsidy_per_visit={2026: 90_000.0}, until="2030-12")
    for year in range(2020, 2031):
        t = s.in_year(year)
        assert dict(t.values) == {n: s.value_in(n, year) for n in PARAMETERS}
        assert t.pilot_villages == s.value_in("pilot_villages", year)  # attributes too
        assert t.schedules == {}
        assert (t.name, t.description, t.start, t.until, t.district_data, t.path) == (
            s.name, s.description, s.start, s.until, s.district_data, s.path)
        assert t.sources == s.sources
    assert s.in_year(2027).pilot_villages == 90 and s.in_year(2026).pilot_villages == 50


def test_in_year_is_cached():
    # The model calls in_year every January: a cache hit returns the same object, so the
    # cost is a dict look-up (speed itself belongs in benchmarks, not in tests).
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, until="2030-12")
    first = s.in_year(2027)
    assert s.in_year(2027) is first
    assert s.in_year(2026) is not first and s.in_year(2026).pilot_villages == 50
    assert s.in_year(2027) is first and first.pilot_villages == 90  # unaffected by others


def test_in_year_of_a_plain_scenario_has_its_values():
    s = load_scenario(BASELINE)
    assert s.in_year(2026) == s and s.in_year(2026).values == s.values


# ----------------------------------------------------------------------------- extends


@pytest.fixture
def parent(scenario_file):
    return scenario_file('until = "2030-12"\n[district]\nvillages = 100\n[levers]\n'
                         'pilot_villages = { value = { 2025 = 30, 2028 = 60 }, source = "P" }\n'
                         'returnees = 40\n', "parent.toml")


def test_child_inherits_the_parents_schedule(parent, scenario_file):
    s = load_scenario(scenario_file('extends = "parent.toml"\nstart = "2029-01"\n',
                                    "child.toml"))
    assert s.schedules["pilot_villages"] == {2025: 30, 2028: 60}
    assert s.pilot_villages == 60  # re-resolved for the child's start year
    assert s.sources["pilot_villages"] == "P"


def test_child_scalar_replaces_the_parents_schedule(parent, scenario_file):
    s = load_scenario(scenario_file('extends = "parent.toml"\n[levers]\npilot_villages = 45\n',
                                    "child.toml"))
    assert "pilot_villages" not in s.schedules
    # The parent's 2028 entry is gone: the child's value from the start, 2024's before it.
    assert pilots_over_years(s) == [BEFORE_PILOTS] * SPIN_UP_YEARS + [45] * 6


def test_child_schedule_replaces_the_parents_and_inherits_its_value(parent, scenario_file):
    s = load_scenario(scenario_file(
        'extends = "parent.toml"\n[levers]\npilot_villages = { 2027 = 80 }\n'
        'returnees = { 2026 = 90 }\n', "child.toml"))
    # Before the child's first year: the parent's value in force at the start (30), not
    # the parent's 2028 entry, nor the registry default.
    assert s.schedules["pilot_villages"] == {2025: 30, 2027: 80}
    assert pilots_over_years(s)[5:] == [30, 30, 80, 80, 80, 80]
    assert [s.value_in("returnees", y) for y in (2025, 2026)] == [40, 90]


def test_child_values_are_checked_against_the_parents_schedule(parent, scenario_file):
    child = scenario_file('extends = "parent.toml"\n[district]\nvillages = 50\n', "child.toml")
    with pytest.raises(ScenarioError, match=r"in 2028: 60 pilot villages but only 50") as e:
        load_scenario(child)
    assert e.value.file.endswith("child.toml") and e.value.key == "levers.pilot_villages"


# ----------------------------------------------------------------------------- replace


def test_replace_accepts_int_or_string_years():
    s = default_scenario().replace(pilot_villages={"2027": 90, 2025: 50}, source="plan")
    assert s.schedules["pilot_villages"] == {2025: 50, 2027: 90}
    assert s.sources["pilot_villages"] == "plan"
    assert s == default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, source="plan")


def test_replace_with_a_value_drops_the_schedule():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, until="2030-12")
    t = s.replace(pilot_villages=20)
    assert t.schedules == {}
    assert pilots_over_years(t) == [BEFORE_PILOTS] * SPIN_UP_YEARS + [20] * 6
    assert s.schedules != {}  # the original is unchanged


def test_replace_start_re_resolves_the_values():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, until="2030-12")
    assert s.replace(start="2027-06").pilot_villages == 90
    assert s.replace(start="2026-01").pilot_villages == 50


@pytest.mark.parametrize(("schedule", "key", "fragment"), [
    ({2031: 1}, "pilot_villages.2031", "year 2031 is outside 2020..2030"),
    ({2019: 1}, "pilot_villages.2019", "year 2019 is outside 2020..2030"),
    ({"twenty": 1}, "pilot_villages.twenty", "expected a whole year 2020..2030 as key"),
    ({2025.0: 1}, "pilot_villages.2025.0", "got 2025.0"),
    ({True: 1}, "pilot_villages.True", "got True"),
    ({2025: 1, "2025": 2}, "pilot_villages.2025", "year given twice"),
    ({2025: 50, 2027: 2_001}, "pilot_villages.2027", "2001 is out of range"),
    ({2025: 50, 2027: "90"}, "pilot_villages.2027", "got '90' (str)"),
    ({}, "pilot_villages", "empty schedule"),
])
def test_replace_validates_schedules(schedule, key, fragment):
    with pytest.raises(ScenarioError) as info:
        default_scenario().replace(pilot_villages=schedule)
    assert info.value.key == key and fragment in info.value.problem


def test_replace_refuses_schedules_of_district_and_behaviour_parameters():
    for name in ("villages", "separation_rate"):
        with pytest.raises(ScenarioError, match="only levers can be scheduled by year"):
            default_scenario().replace(**{name: {2025: PARAMETERS[name].default}})


def test_consistency_is_checked_in_every_scheduled_year():
    s = default_scenario()
    with pytest.raises(ScenarioError, match=r"^<overrides>: levers.pilot_villages: in 2027: "
                                            r"140 pilot villages but only 130 villages"):
        s.replace(pilot_villages={2025: 50, 2027: 140}, until="2030-12")
    # Also a year after `until`: a run may go on with --until.
    with pytest.raises(ScenarioError, match="in 2029"):
        s.replace(pilot_villages={2025: 50, 2029: 140}, until="2025-12")
    # And in the spin-up, before the start year.
    with pytest.raises(ScenarioError, match="in 2022"):
        s.replace(pilot_villages={2022: 140, 2025: 50})
    # Enough villages for the 2027 value: valid.
    ok = s.replace(villages=200, pilot_villages={2025: 50, 2027: 140}, until="2030-12")
    assert ok.value_in("pilot_villages", 2027) == 140
    with pytest.raises(ScenarioError, match=r"levers.mentor_pairs: in 2026: .* only 479"):
        s.replace(mentor_pairs={2026: 300})


# ----------------------------------------------------------------------------- TOML


def test_to_toml_writes_schedules_and_round_trips():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, source="plan",
                                   until="2030-12")
    text = s.to_toml()
    assert 'pilot_villages = { value = { 2025 = 50, 2027 = 90 }, source = "plan" }\n' in text
    again = Scenario.from_toml(text)
    assert again == s and again.schedules == s.schedules and again.values == s.values
    assert again.digest == s.digest
    assert s.digest != s.replace(pilot_villages={2025: 50, 2028: 90}).digest
    assert s.digest != s.replace(pilot_villages=50, source="plan").digest


def test_unscheduled_output_is_unchanged():
    # Every line keeps the form `name = { value = <scalar>, source = "..." }`, and a
    # schedule that is dropped again leaves the text it started from.
    s = default_scenario()
    for line in s.to_toml().splitlines():
        if " = { " in line:
            assert re.fullmatch(r'\w+ = \{ value = [^{}]+, source = ".*" \}', line), line
    t = s.replace(pilot_villages={2025: 50, 2027: 90}, source="x").replace(
        pilot_villages=DEFAULT_PILOTS, source=s.sources["pilot_villages"])
    assert t.to_toml() == s.to_toml()


def test_scenario_with_schedules_pickles():
    s = default_scenario().replace(pilot_villages={2025: 50, 2027: 90}, until="2030-12")
    size = len(pickle.dumps(s))
    s.in_year(2027), s.in_year(2028)
    assert len(pickle.dumps(s)) == size  # the in_year cache stays behind
    again = pickle.loads(pickle.dumps(s))
    assert again == s and again.schedules == s.schedules
    assert again.in_year(2027).pilot_villages == 90 and again.in_year(2027) is again.in_year(2027)
    with pytest.raises(TypeError):
        again.schedules["pilot_villages"][2029] = 1


def test_check_command_prints_schedules(scenario_file, capsys):
    path = scenario_file('until = "2028-12"\n[levers]\n'
                         'pilot_villages = { value = { 2025 = 50, 2027 = 90 }, source = "plan" }\n')
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'pilot_villages = { value = { 2025 = 50, 2027 = 90 }, source = "plan" }' in out
    assert Scenario.from_toml(out) == load_scenario(path)


# ----------------------------------------------------------------------------- properties

# Levers in no rule between parameters, so any in-bounds schedule is valid ("listed"
# needs district data).
_FREE_LEVERS = ("alliances", "frontline_share", "firm_visits_per_year", "returnees",
                "evaluation_interval", "subsidy_per_visit", "results_weight")


def _lever_value(name: str) -> st.SearchStrategy:
    p = PARAMETERS[name]
    if p.choices is not None:
        return st.sampled_from([c for c in p.choices if c != "listed"])
    if p.kind is bool:
        return st.booleans()
    if p.kind is float:
        return st.floats(*p.bounds, allow_nan=False)
    return st.integers(int(p.bounds[0]), int(p.bounds[1]))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_value_in_is_a_step_function_of_the_schedule(data):
    start = data.draw(st.integers(2025, 2030), label="start")
    names = data.draw(st.lists(st.sampled_from(_FREE_LEVERS), min_size=1, max_size=3,
                               unique=True))
    schedules = {}
    for name in names:
        schedules[name] = data.draw(st.dictionaries(
            st.integers(2020, 2030), _lever_value(name), min_size=1, max_size=6), label=name)
    # Years as TOML gives them (strings) or as Python code would (ints).
    as_given = {n: {data.draw(st.sampled_from([y, str(y)])): v for y, v in s.items()}
                for n, s in schedules.items()}
    s = default_scenario().replace(start=f"{start}-01", until="2030-12", **as_given)
    for name, schedule in schedules.items():
        def last_at_or_before(year, otherwise, schedule=schedule):
            years = [y for y in schedule if y <= year]
            return schedule[max(years)] if years else otherwise

        at_start = last_at_or_before(start, PARAMETERS[name].default)
        before = PARAMETERS[name].before
        for year in range(2020, 2031):
            # The spin-up falls back to the 2024 regime (`before`), if any.
            fallback = before if year < start and before is not None else at_start
            expected = last_at_or_before(year, fallback)
            assert s.value_in(name, year) == expected, (name, year)
            assert s.in_year(year)[name] == expected
        assert s.values[name] == s.value_in(name, start)
    again = Scenario.from_toml(s.to_toml())
    assert again == s and again.schedules == s.schedules and again.values == s.values
