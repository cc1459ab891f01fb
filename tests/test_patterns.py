"""The article's micro patterns, reproduced (or missed) by the mechanisms sized on them.

Each mechanism that carries a lever to incomes or jobs was sized by a figure (A18, A22,
A26, R12/R13, A3); these tests check, on the full baseline district over two seeds, that
the mechanism reproduces the pattern it was sized on, at the scale the article reports.
A pattern the model misses is marked ``xfail(strict=True)`` with the size of the miss, so
that it is reported, not hidden, and the test fails once the model meets it.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS
from countysim.core.county import CountyModel
from countysim.core.scenario import load_scenario
from countysim.core.villages import MENTEES_PER_EXPERT

SEEDS = (300, 301)
FACILITY_VEGETABLES = 2  # index in tables.PRODUCT_LINES


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(SCENARIOS / "baseline_2025.toml")


@pytest.fixture(scope="module")
def runs(baseline):
    models = []
    for seed in SEEDS:
        model = CountyModel(baseline, rng=seed)
        model.run_until("2027-12")
        models.append((model, model.dataset()))
    return models


@pytest.mark.slow
def test_cooperative_members_gain_as_in_a26(runs):
    # A26: "30+ households, +20,000 yuan a household a year" for one cooperative in full
    # operation; the model's cooperatives start in 2025, so their second year (2026) is
    # compared. One cooperative's anecdote bounds the mean loosely: half to twice.
    gains = [float(ds["cooperative_member_income"].sel(time="2026").mean()) for _, ds in runs]
    assert all(10_000 <= g <= 40_000 for g in gains), gains


@pytest.mark.slow
def test_collective_dividends_are_hundreds_of_yuan_a_household(runs):
    # R12: 2.2 M yuan over 7,659 households (~290 yuan each); R13: 300 yuan a person
    # (~840 a household of 2.79, B13). Village-wide dividends are hundreds of yuan.
    per_household = [float(ds["dividends_per_household"].sel(time="2025").mean())
                     for _, ds in runs]
    assert all(100 <= d <= 1_000 for d in per_household), per_household


@pytest.mark.slow
def test_experts_train_ten_technicians_each(baseline):
    # A18: 25 experts mentor 250 technicians (1 : 10); trained after a season.
    for experts in (5, 25):
        model = CountyModel(baseline.replace(expert_mentors=experts), rng=SEEDS[0])
        model.run_until("2025-12")
        expected = min(baseline.technicians, MENTEES_PER_EXPERT * experts)
        assert int(model.dataset()["technicians_trained"][-1]) == expected


@pytest.mark.slow
def test_trained_technicians_raise_the_yields_of_fifty_households(runs):
    # A22: 50 neighbouring households followed one trained grower; each village's
    # productivity is 1 + gain x (households advised / households), at most all of them.
    for model, _ in runs:
        p = model.p
        for v in model.village_list:
            advised = min(v.trained * p.households_per_technician / v.households, 1.0)
            assert v.productivity == pytest.approx(1.0 + p.technician_yield_gain * advised)
        assert any(v.productivity > 1.0 for v in model.village_list)


@pytest.mark.slow
def test_firm_visits_subsidise_labour_demand(runs):
    # A3: a visit's subsidies lower the firm's labour cost for a year; demand rises by the
    # labour-demand elasticity times the subsidy's share of the wage bill.
    for model, _ in runs:
        table = model.firm_table
        subsidised = table.subsidy_months > 0
        assert subsidised.any()
        assert (table.subsidy_rate[subsidised] > 0).all()
        assert table.on_platform.sum() >= table.visited.sum() > 0


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="A20 missed: villages that took up facility vegetables "
                   "by 2027 hold ~8 trained technicians, not 20+ (know-how spreads by "
                   "village imitation, not by an expert's own mentees)")
def test_an_experts_mentees_take_up_facility_vegetables_as_in_a20(runs):
    # A20: one expert brought 20+ technicians into facility vegetables.
    for model, ds in runs:
        first, last = ds["product_line"].values[0], ds["product_line"].values[-1]
        switched = (last == FACILITY_VEGETABLES) & (first != FACILITY_VEGETABLES)
        trained = np.array([v.trained for v in model.village_list])
        assert trained[switched].sum() >= 20
