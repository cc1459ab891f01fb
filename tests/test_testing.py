"""countysim.testing: the strategies draw valid scenarios that run; the helpers are shared."""

from __future__ import annotations

import conftest
import countysim
import pytest
from countysim import testing
from countysim.core.parameters import PARAMETERS
from countysim.core.scenario import CONSISTENCY_RULES, ScenarioError, check_consistency
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_every_consistency_rule_is_respected_by_the_strategy():
    assert testing.rules_covered() == {rule.key for rule in CONSISTENCY_RULES}


def test_rules_are_public_and_name_their_key():
    values = {**testing.small_scenario().values, "pilot_villages": 30}
    with pytest.raises(ScenarioError, match=r"levers\.pilot_villages") as info:
        check_consistency(values, "2025-01", "2025-06", "mine.toml")
    assert str(info.value).startswith("mine.toml: levers.pilot_villages: ")
    assert all(rule.text and rule.key.count(".") == 1 for rule in CONSISTENCY_RULES)


def test_conftest_uses_the_public_definitions():
    """One definition of the small district and of each invariant check."""
    assert conftest.SMALL_DISTRICT is testing.SMALL_DISTRICT
    assert conftest.create_test_scenario is testing.small_scenario
    for name in testing.__all__:
        if name.startswith("assert_") and hasattr(conftest, name):
            assert getattr(conftest, name) is getattr(testing, name), name


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(testing.scenarios())
def test_drawn_scenarios_load_and_run_two_months(scenario):
    check_consistency(scenario.values, scenario.start, scenario.until)
    # The TOML round trip: every drawn scenario is one a user could write and load.
    assert countysim.Scenario.from_toml(scenario.to_toml()) == scenario
    ds = countysim.run(scenario, seed=0, until="2025-02")
    assert ds.sizes["time"] == 2
    testing.assert_invariants(ds, scenario)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_strategy_values_stay_in_the_registry_domain(data):
    names = data.draw(st.lists(st.sampled_from(testing.DEFAULT_VARIED), max_size=6))
    scenario = data.draw(testing.scenarios(vary=names))
    for name in names:
        p = PARAMETERS[name]
        value = scenario[name]
        if p.choices is not None:
            assert value in p.choices
        else:
            assert p.bounds[0] <= value <= p.bounds[1]


def test_strategy_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown parameter"):
        testing.scenarios(vary=["villagez"])
