"""Benchmarks of one full-district baseline run (issue 2): 12 and 60 months.

Run with ``make bench``; pytest-benchmark reports the median over rounds. Targets from
the issue: < 0.5 s (12 months) and < 2 s (60 months) on one core.
"""

from __future__ import annotations

from pathlib import Path

import countysim
import pytest

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline_2025.toml"


@pytest.fixture(scope="module")
def baseline() -> countysim.Scenario:
    return countysim.load_scenario(BASELINE)


@pytest.mark.parametrize("until", ["2025-12", "2029-12"], ids=["12_months", "60_months"])
def test_baseline_run(benchmark, baseline, until):
    ds = benchmark.pedantic(countysim.run, args=(baseline,), kwargs={"seed": 1, "until": until},
                            rounds=5, warmup_rounds=1)
    assert ds.sizes["time"] == (12 if until == "2025-12" else 60)


def test_model_step(benchmark, baseline):
    """One month of the full district, after a year of warm-up (the hot path)."""
    model = countysim.CountyModel(baseline, rng=1)
    model.run_until("2025-12")
    benchmark.pedantic(model.step, rounds=12, iterations=1)
