"""Benchmarks of one full-district baseline run: 12 and 72 months, spin-up included.

Run with ``make bench``; pytest-benchmark reports the median over rounds. Targets (issue
7): <= 0.25 s for 12 months (2025) and <= 1.2 s for 72 months (to 2030-12) on one core,
each including the 24-month spin-up under the 2024 levers and the district's creation.
"""

from __future__ import annotations

from pathlib import Path

import countysim
import pytest

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline_2025.toml"


@pytest.fixture(scope="module")
def baseline() -> countysim.Scenario:
    return countysim.load_scenario(BASELINE)


@pytest.mark.parametrize("until", ["2025-12", "2030-12"], ids=["12_months", "72_months"])
def test_baseline_run(benchmark, baseline, until):
    ds = benchmark.pedantic(countysim.run, args=(baseline,), kwargs={"seed": 1, "until": until},
                            rounds=7, warmup_rounds=1)
    assert ds.sizes["time"] == (12 if until == "2025-12" else 72)


def test_model_creation_with_spinup(benchmark, baseline):
    """The district's creation, derived stationary stocks and the spin-up."""
    benchmark.pedantic(countysim.CountyModel, args=(baseline,), kwargs={"rng": 1},
                       rounds=7, warmup_rounds=1)


def test_model_step(benchmark, baseline):
    """One month of the full district, after a year of warm-up (the hot path)."""
    model = countysim.CountyModel(baseline, rng=1)
    model.run_until("2025-12")
    benchmark.pedantic(model.step, rounds=12, iterations=1)
