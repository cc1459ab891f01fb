"""Scenarios: loading, ``extends``, overrides, ``replace``, canonical TOML and digest."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import shutil

import pytest
from conftest import BASELINE, SCENARIOS, create_test_scenario
from countysim import ScenarioError, load_scenario
from countysim.core.parameters import PARAMETERS, SOURCE_ID, defaults
from countysim.core.scenario import Scenario, default_scenario, month_index
from hypothesis import given, settings
from hypothesis import strategies as st


def test_baseline_loads_and_matches_the_registry():
    s = load_scenario(BASELINE)
    assert s.name == "baseline_2025"
    assert s.start == "2025-01"
    # The baseline's district and levers are the registry defaults, but for the district
    # values it holds as an ensemble member's draws; its behavioural values may differ
    # once calibrated. Either way the source then says so.
    defaults = default_scenario()
    for name, p in PARAMETERS.items():
        drawn = "the medoid: ensemble member" in s.sources[name]
        if p.section != "behaviour" and not drawn:
            assert s[name] == defaults[name], name
        elif s[name] != defaults[name]:
            assert s.sources[name].startswith("calibration"), name
    assert s.path == BASELINE.resolve()


def test_every_baseline_value_carries_its_source():
    s = load_scenario(BASELINE)
    for name, source in s.sources.items():
        # A figure ID, an assumption or a calibration, never just the file it came from.
        assert source != BASELINE.name and source.strip(), name
        assert source.startswith(("assumption", "calibration")) or SOURCE_ID.match(source), (
            f"{name}: {source!r}")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path):
    s = load_scenario(path)
    assert set(s.values) == set(PARAMETERS)
    assert Scenario.from_toml(s.to_toml()) == s


def test_parameters_are_attributes_and_items():
    s = default_scenario()
    for name, value in defaults().items():
        assert getattr(s, name) == value == s[name]
    with pytest.raises(AttributeError, match="no_such_parameter"):
        _ = s.no_such_parameter


def test_scenario_is_frozen():
    s = default_scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.pilot_villages = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "other"


def test_scenario_values_cannot_be_mutated_behind_validation():
    # load_scenario promises a *frozen, validated* scenario: changing a value in place
    # would bypass validation and change the digest (and hash) of a hashable object.
    s = default_scenario()
    with pytest.raises(TypeError):
        s.values["villages"] = -5
    assert s.villages == s.values["villages"] == PARAMETERS["villages"].default


def test_extends_with_overrides(scenario_file):
    scenario_file('name = "parent"\ndescription = "the parent"\nuntil = "2026-06"\n'
                  '[levers]\npilot_villages = { value = 20, source = "A13" }\n', "parent.toml")
    child = scenario_file('extends = "parent.toml"\n[levers]\nalliances = false\n'
                          '[behaviour]\nseparation_rate = 0.01\n', "child.toml")
    s = load_scenario(child)
    assert s.name == "child"  # the file's own name, not the parent's
    assert s.description == "the parent (extended by child)"  # inherited, marked
    assert s.until == "2026-06"  # inherited
    assert s.pilot_villages == 20 and s.sources["pilot_villages"] == "A13"  # from parent
    assert s.alliances is False and s.sources["alliances"] == "child.toml"
    assert s.separation_rate == 0.01
    untouched = {k for k in PARAMETERS} - {"pilot_villages", "alliances", "separation_rate"}
    assert all(s[k] == PARAMETERS[k].default for k in untouched)


def test_extends_chain_of_three(scenario_file):
    scenario_file('[district]\nvillages = 60\n', "a.toml")
    scenario_file('extends = "a.toml"\n[levers]\npilot_villages = 30\n', "b.toml")
    c = scenario_file('extends = "b.toml"\n[levers]\npilot_villages = 35\n', "c.toml")
    s = load_scenario(c)
    assert (s.villages, s.pilot_villages) == (60, 35)
    # No description anywhere: the chain is named; an own description wins.
    assert s.description == "a extended by b (extended by c)"
    own = scenario_file('extends = "b.toml"\ndescription = "mine"\n', "d.toml")
    assert load_scenario(own).description == "mine"


def test_extends_resolves_relative_to_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(BASELINE, tmp_path / "baseline_2025.toml")
    child = tmp_path / "sub" / "counterfactual.toml"
    child.write_text('extends = "../baseline_2025.toml"\n[levers]\npilot_villages = 0\n')
    s = load_scenario(child)
    assert s.pilot_villages == 0
    assert s.villages == load_scenario(BASELINE).villages


def test_load_scenario_keyword_overrides():
    s = load_scenario(BASELINE, pilot_villages=7, until="2027-12")
    assert s.pilot_villages == 7 and s.until == "2027-12"
    assert s.sources["pilot_villages"] == "override"


def test_int_is_accepted_for_a_float_parameter(scenario_file):
    s = load_scenario(scenario_file("[levers]\nfrontline_share = 1\n"))
    assert s.frontline_share == 1.0 and isinstance(s.frontline_share, float)


def test_replace_returns_a_new_validated_scenario():
    s = default_scenario()
    t = s.replace(pilot_villages=10, source="unit test")
    assert t.pilot_villages == 10 and t.sources["pilot_villages"] == "unit test"
    assert s.pilot_villages == PARAMETERS["pilot_villages"].default  # unchanged
    assert t != s
    with pytest.raises(ScenarioError, match="pilot_vilages"):
        s.replace(pilot_vilages=10)
    with pytest.raises(ScenarioError, match="pilot_villages"):
        s.replace(pilot_villages=10_000)  # more than villages
    with pytest.raises(ScenarioError, match="frontline_share"):
        s.replace(frontline_share="a lot")
    with pytest.raises(ScenarioError, match="until"):
        s.replace(until="2024-12")


def test_replace_validates_related_values_together():
    # Reducing villages and pilot villages at once is fine even though either alone fails.
    s = default_scenario().replace(villages=5, townships=2, pilot_villages=3)
    assert (s.villages, s.pilot_villages) == (5, 3)
    with pytest.raises(ScenarioError, match="pilot_villages"):
        default_scenario().replace(villages=5, townships=2)


def test_replace_start_and_until():
    s = default_scenario().replace(start="2026-01", until="2030-12")
    assert (s.start, s.until) == ("2026-01", "2030-12")
    with pytest.raises(ScenarioError, match="until"):
        default_scenario().replace(start="2026-01", until="2025-12")
    with pytest.raises(ScenarioError, match="start"):
        default_scenario().replace(start="2026-13")


def test_to_toml_round_trip():
    for s in (default_scenario(), load_scenario(BASELINE), create_test_scenario(),
              create_test_scenario(pilot_rule="random", alliances=False, until="2026-03")):
        again = Scenario.from_toml(s.to_toml())
        assert again == s
        assert again.values == s.values and again.sources == s.sources
        assert again.digest == s.digest


def test_to_toml_round_trip_keeps_unusual_text():
    s = default_scenario().replace(source='quote " backslash \\ 中文 newline\n',
                                   frontline_share=0.25)
    assert Scenario.from_toml(s.to_toml()) == s


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_to_toml_round_trip_for_any_valid_values(data):
    # The cooperative shares are related (their sum <= 1); leave them at their defaults.
    pool = [n for n, p in PARAMETERS.items()
            if p.section == "behaviour" and not n.startswith("coop_")]
    names = data.draw(st.lists(st.sampled_from(pool), max_size=6, unique=True))
    overrides = {}
    for name in names:
        p = PARAMETERS[name]
        if p.kind is float:
            overrides[name] = data.draw(st.floats(*p.bounds, allow_nan=False), label=name)
        else:
            overrides[name] = data.draw(st.integers(*p.bounds), label=name)
    s = default_scenario().replace(**overrides)
    again = Scenario.from_toml(s.to_toml())
    assert again == s and again.values == s.values


def test_from_toml_rejects_extends_and_bad_syntax():
    with pytest.raises(ScenarioError, match="extends"):
        Scenario.from_toml('extends = "baseline_2025.toml"\n')
    with pytest.raises(ScenarioError, match="not valid TOML"):
        Scenario.from_toml("[levers\n")


def test_digest_is_stable_and_identifies_the_parameter_set(tmp_path):
    a = load_scenario(BASELINE)
    b = load_scenario(BASELINE)
    assert a.digest == b.digest == hashlib.sha256(a.to_toml().encode()).hexdigest()
    assert hash(a) == hash(b) and a == b
    # The same file elsewhere on disk is the same scenario.
    copy = tmp_path / BASELINE.name
    shutil.copy(BASELINE, copy)
    assert load_scenario(copy).digest == a.digest
    # Any changed value changes the digest.
    assert a.replace(frontline_share=0.41).digest != a.digest
    assert len({a.digest, a.replace(pilot_villages=49).digest}) == 2


def test_scenario_pickles():
    s = load_scenario(BASELINE)
    again = pickle.loads(pickle.dumps(s))
    assert again == s and again.pilot_villages == s.pilot_villages


def test_month_index():
    assert month_index("2025-01") == 0
    assert month_index("2025-12") == 11
    assert month_index("2030-12") == 71
    for bad in ("2025-1", "2025-13", "25-01", "2025/01"):
        with pytest.raises(ValueError):
            month_index(bad)


def test_district_data_folder_resolves_relative_to_the_file(tmp_path, scenario_file):
    (tmp_path / "district").mkdir()
    s = load_scenario(scenario_file('district_data = "district"\n'))
    assert s.district_data == (tmp_path / "district").resolve()
    assert Scenario.from_toml(s.to_toml()).district_data == s.district_data
