"""Every registry-valid scenario runs: floats drawn over their whole registry range.

``countysim.testing.scenarios(full_range=True)`` draws each lever and behavioural rate
anywhere inside its bounds (zero rates, zero wages, subsidies of millions per visit), on
the small district. The model must run such a scenario without an exception and without
non-finite values; the CI-sized variant draws 25, ``make test-slow`` 300.
"""

from __future__ import annotations

import numpy as np
import pytest
from countysim.core.county import run
from countysim.testing import scenarios
from hypothesis import HealthCheck, given, settings


def _runs_cleanly(scenario) -> None:
    ds = run(scenario, seed=0, until="2025-03")
    for name, var in ds.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if name == "collective_income_growth_pilot":
            continue  # NaN by definition in a month without pilot villages
        assert np.isfinite(values).all(), f"{name} is not finite"


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(scenario=scenarios(full_range=True))
def test_any_registry_valid_scenario_runs(scenario):
    _runs_cleanly(scenario)


@pytest.mark.stress
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(scenario=scenarios(full_range=True))
def test_any_registry_valid_scenario_runs_stress(scenario):
    _runs_cleanly(scenario)
